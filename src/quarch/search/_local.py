"""Local search (White, Nolen, Savani and Zela, "Local search is state of the art for
neural architecture search benchmarks", 2021).

A walk starts at a uniformly drawn architecture and evaluates neighbours (architectures
that differ in one choice) of its best architecture so far in random order, which is
first-improvement hill climbing. When every neighbour of the walk's best has been
evaluated, the walk is at a local optimum and a new walk starts at a fresh random
architecture.

Which walk a trial belongs to is kept in its system attrs under
``"LocalSearchSampler:walk"``; everything else is read from the study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quarch.search._common import History, PopulationSampler, Proposal

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial

__all__ = ["LocalSearchSampler"]

_WALK = "LocalSearchSampler:walk"


class LocalSearchSampler(PopulationSampler):
    """First-improvement local search with random restarts.

    Args:
        seed (int | None): run seed.
        search_space (dict[str, CategoricalDistribution] | None): the space; ``None``
            infers it from the completed trials.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=LocalSearchSampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=4)
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(seed=seed, search_space=search_space)

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        rng = self._rng(trial.number)
        walks = [int(t.system_attrs.get(_WALK, 0)) for t in hist.trials]
        walk = max(walks, default=0)
        members = [i for i, w in enumerate(walks) if w == walk]
        best = hist.best(members)
        prop: Proposal | None = None
        if best is not None:
            x = [int(v) for v in hist.X[best]]
            nbrs = []
            for j, k in enumerate(hist.sizes):
                for o in range(k):
                    if o != x[j]:
                        y = list(x)
                        y[j] = o
                        if tuple(y) not in hist.seen:
                            nbrs.append(y)
            if nbrs:
                prop = nbrs[int(rng.integers(len(nbrs)))]
            else:
                walk += 1
        if prop is None:
            prop = self._uniform(hist, rng)
        study._storage.set_trial_system_attr(trial._trial_id, _WALK, walk)
        return prop
