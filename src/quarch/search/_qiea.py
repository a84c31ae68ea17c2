"""Quantum-inspired evolutionary algorithm after Q-NAS (Szwarcman, Civitarese and
Vellasco, "Quantum-inspired evolutionary algorithm applied to neural architecture
search", Applied Soft Computing 2022; IJCNN 2019).

A *quantum individual* is a probability vector over the options of every choice (a
classical stand-in for a register of qubits in superposition). Each generation:

1. every one of the ``n_quantum`` quantum individuals is *observed* ``observations``
   times: each choice is drawn from its probability vector, and then, with probability
   ``crossover`` per choice, replaced by that choice of the quantum individual's paired
   classical individual (uniform crossover, as in Q-NAS);
2. the classical population is the best ``n_quantum`` of the previous classical
   population and the new observations (elitism);
3. every ``update_every`` generations, quantum individual ``i`` moves toward classical
   individual ``i`` (the ``i``-th best) with a bounded step:
   ``p <- (1 - step) * p + step * onehot(choice)``, so no option's probability ever
   jumps by more than ``step`` and none reaches 0 in finitely many updates.

Q-NAS ran 5 quantum individuals observed 4 times each over hundreds of generations and
updated every 5 generations. At the 100-1000 queries of a tabular or short-training
budget, 4 observations leave only 5-50 generations, so quarch keeps the paper's 5
quantum individuals but observes each once per generation and updates every
generation (20 generations in 100 queries); ``observations=4, update_every=5`` restores
the paper's pace for long runs. ``step=0.2`` and ``crossover=0.5`` were chosen on the
12-epoch CIFAR-10 validation accuracy of NAS-Bench-201 (what a search sees; seeds
1000-1039, not the benchmark's), never on the 200-epoch test accuracy.

Generation ``g`` is the block of trial numbers ``[g*G, (g+1)*G)`` with
``G = n_quantum * observations``. The quantum individuals and the classical population
of every generation are a pure function of the seed and the completed trials; they are
cached in the study's system attrs under ``"QIEASampler:generation:<g>"`` so that
several workers sharing a study agree on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._common import History, PopulationSampler, Proposal, check_float, check_int
from quarch.search._models import CheapMetrics, Surrogates, screen

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial

    from quarch.objectives import Objective

__all__ = ["QIEASampler"]

_GEN_KEY = "QIEASampler:generation:"


class QIEASampler(PopulationSampler):
    """Q-NAS-style quantum-inspired evolution over categorical choices.

    Args:
        n_quantum (int): quantum individuals (and classical population size), >= 1.
        observations (int): observations of each quantum individual per generation, >= 1.
        step (float): update step toward the classical individual, in ``(0, 1]``.
        crossover (float): per-choice probability of taking the paired classical
            individual's option in an observation, in ``[0, 1]``.
        update_every (int): generations between quantum updates, >= 1.
        screen (int): offspring observed per query; with more than 1, a Thompson
            sample of the surrogates of the QUBO strategies (one per metric, budgets
            included, :mod:`quarch.search._models`) picks the one that is evaluated
            (surrogate-guided QIEA, ``qiea-sg``). 1 (the default) is plain Q-NAS.
        objective, cheap_metrics, surrogate: what the screening models, as in
            :class:`~quarch.search.QUBOSampler` (only used when ``screen > 1``).
        seed (int | None): run seed.
        search_space (dict[str, CategoricalDistribution] | None): the space; ``None``
            infers it from the completed trials.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=QIEASampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=5)
    """

    def __init__(
        self,
        *,
        n_quantum: int = 5,
        observations: int = 1,
        step: float = 0.2,
        crossover: float = 0.5,
        update_every: int = 1,
        screen: int = 1,
        objective: Objective | None = None,
        cheap_metrics: CheapMetrics | None = None,
        surrogate: str = "bocs",
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(seed=seed, search_space=search_space)
        self._n_quantum = check_int("n_quantum", n_quantum, 1)
        self._observations = check_int("observations", observations, 1)
        self._step = check_float("step", step, 0.0, 1.0, low_open=True)
        self._crossover = check_float("crossover", crossover, 0.0, 1.0)
        self._update_every = check_int("update_every", update_every, 1)
        self._screen = check_int("screen", screen, 1)
        self._models = Surrogates(
            objective=objective, cheap_metrics=cheap_metrics, surrogate=surrogate
        )

    @property
    def generation_size(self) -> int:
        """Trials per generation: ``n_quantum * observations``."""
        return self._n_quantum * self._observations

    # -- state of a generation -------------------------------------------------------
    def _state(self, study: Study, hist: History, gen: int) -> dict[str, Any]:
        """Quantum probabilities ``q`` and classical population ``elite`` (trial numbers)
        at the start of generation ``gen``."""
        prefix = self._state_key(_GEN_KEY, hist)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        if f"{prefix}{gen}" in attrs:
            return attrs[f"{prefix}{gen}"]
        # Walk back to the newest cached generation, then forward.
        start = gen
        while start > 0 and f"{prefix}{start}" not in attrs:
            start -= 1
        if f"{prefix}{start}" in attrs:
            state = attrs[f"{prefix}{start}"]
        else:
            uniform = [[1.0 / k] * k for k in hist.sizes]
            state = {"q": [uniform] * self._n_quantum, "elite": []}
            study._storage.set_study_system_attr(study._study_id, f"{prefix}0", state)
        by_number = {t.number: i for i, t in enumerate(hist.trials)}
        G = self.generation_size
        for g in range(start + 1, gen + 1):
            prev = g - 1
            pool = [by_number[n] for n in state["elite"] if n in by_number]
            pool += [i for i, t in enumerate(hist.trials) if prev * G <= t.number < g * G]
            elite = hist.sorted(sorted(set(pool)))[: self._n_quantum] if pool else []
            q = [[np.asarray(p, dtype=float) for p in qi] for qi in state["q"]]
            if g % self._update_every == 0:
                for i, e in enumerate(elite):
                    for j, o in enumerate(hist.X[e]):
                        p = q[i][j] * (1.0 - self._step)
                        p[int(o)] += self._step
                        q[i][j] = p / p.sum()
            state = {
                "q": [[p.tolist() for p in qi] for qi in q],
                "elite": [hist.trials[e].number for e in elite],
            }
            study._storage.set_study_system_attr(study._study_id, f"{prefix}{g}", state)
        return state

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        G = self.generation_size
        gen, pos = divmod(trial.number, G)
        i = pos // self._observations
        state = self._state(study, hist, gen)
        q = state["q"][i]
        by_number = {t.number: k for k, t in enumerate(hist.trials)}
        elite = [by_number[n] for n in state["elite"] if n in by_number]
        partner = hist.X[elite[i]] if i < len(elite) else None
        rng = self._rng(trial.number)

        def observe(_: int) -> Proposal:
            out = []
            for j, p in enumerate(q):
                o = int(rng.choice(len(p), p=np.asarray(p) / np.sum(p)))
                if partner is not None and rng.random() < self._crossover:
                    o = int(partner[j])
                out.append(o)
            return out

        if self._screen == 1:
            return self._unique(observe, hist.seen)
        offspring: list[Proposal] = []
        taken = set(hist.seen)
        for _ in range(self._screen):
            child = self._unique(observe, taken)
            if tuple(child) not in taken:
                offspring.append(child)
                taken.add(tuple(child))
        if not offspring:
            return self._unique(observe, hist.seen)
        return offspring[screen(self._models, hist, rng, offspring)]
