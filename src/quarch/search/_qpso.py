"""Quantum-behaved particle swarm optimisation (Sun, Feng and Xu, CEC 2004) over a
relaxation of the one-hot choices.

A particle's position is a real vector with one coordinate per option of every choice
(the one-hot code relaxed to ``[0, 1]``); the architecture it stands for takes, for
each choice, the option with the largest coordinate. Instead of a velocity, QPSO draws
each coordinate of the next position from the quantum "delta potential well" around a
local attractor:

``P = phi * pbest + (1 - phi) * gbest``,
``x' = P +/- beta * |mbest - x| * ln(1 / u)``, with ``phi, u ~ U(0, 1)``,

where ``pbest`` is the particle's best position, ``gbest`` the swarm's, ``mbest`` the
mean of the particles' best positions and ``beta`` the contraction-expansion
coefficient (< 1.78 for convergence). Positions are clipped to ``[0, 1]``. The defaults
(10 particles, ``beta=0.5``) were chosen on NAS-Bench-201's 12-epoch CIFAR-10
validation accuracy (what a search sees), never on its 200-epoch test accuracy.

Trial ``n`` moves particle ``n mod swarm_size`` in iteration ``n // swarm_size``; its
position is stored in the trial's system attrs (``"QPSOSampler:x"``), so the next move
of the particle reads it from the study.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quarch.search._common import History, PopulationSampler, Proposal, check_float, check_int
from quarch.search._models import CheapMetrics, Surrogates, screen

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial

    from quarch.objectives import Objective

__all__ = ["QPSOSampler"]

_X = "QPSOSampler:x"


class QPSOSampler(PopulationSampler):
    """Quantum-behaved PSO on the relaxed one-hot code, decoded by argmax.

    Args:
        swarm_size (int): particles, >= 1.
        beta (float): contraction-expansion coefficient, in ``(0, 1.78]``.
        screen (int): moves drawn per query; with more than 1, a Thompson sample of the
            surrogates of the QUBO strategies (:mod:`quarch.search._models`) picks the
            one that is evaluated (surrogate-guided QPSO, ``qpso-sg``). 1 (the
            default) is plain QPSO.
        objective, cheap_metrics, surrogate: what the screening models, as in
            :class:`~quarch.search.QUBOSampler` (only used when ``screen > 1``).
        seed (int | None): run seed.
        search_space (dict[str, CategoricalDistribution] | None): the space; ``None``
            infers it from the completed trials.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=QPSOSampler(swarm_size=3, seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=6)
    """

    def __init__(
        self,
        *,
        swarm_size: int = 10,
        beta: float = 0.5,
        screen: int = 1,
        objective: Objective | None = None,
        cheap_metrics: CheapMetrics | None = None,
        surrogate: str = "bocs",
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(seed=seed, search_space=search_space)
        self._swarm_size = check_int("swarm_size", swarm_size, 1)
        self._beta = check_float("beta", beta, 0.0, 1.78, low_open=True)
        self._screen = check_int("screen", screen, 1)
        self._models = Surrogates(
            objective=objective, cheap_metrics=cheap_metrics, surrogate=surrogate
        )

    @staticmethod
    def _decode(x: np.ndarray, hist: History) -> Proposal:
        out, start = [], 0
        for k in hist.sizes:
            out.append(int(np.argmax(x[start : start + k])))
            start += k
        return out

    @staticmethod
    def _encode_into(x: np.ndarray, prop: Proposal, hist: History) -> np.ndarray:
        """Raise the chosen coordinates just above their group's maximum (argmax = prop)."""
        y = x.copy()
        start = 0
        for k, o in zip(hist.sizes, prop, strict=True):
            g = y[start : start + k]
            if int(np.argmax(g)) != o:
                g[o] = min(1.0, float(g.max()) + 1e-3)
                if int(np.argmax(g)) != o:  # the max was already 1.0
                    g[g >= g[o]] = max(0.0, g[o] - 1e-3)
                    g[o] = 1.0
            start += k
        return y

    def _position(self, t: FrozenTrial, dim: int) -> np.ndarray | None:
        x = t.system_attrs.get(_X)
        if x is None or len(x) != dim:
            return None
        return np.asarray(x, dtype=float)

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        S = self._swarm_size
        dim = int(sum(hist.sizes))
        it, particle = divmod(trial.number, S)
        rng = self._rng(trial.number)
        x_prev = None
        if it > 0:
            prev = [t for t in study.get_trials(deepcopy=False) if t.number == trial.number - S]
            x_prev = self._position(prev[0], dim) if prev else None
        # Personal bests of every particle, the global best, and their mean.
        pbest: dict[int, int] = {}
        for p in range(S):
            mine = [i for i, t in enumerate(hist.trials) if t.number % S == p]
            if mine:
                b = hist.best(mine)
                assert b is not None
                if self._position(hist.trials[b], dim) is not None:
                    pbest[p] = b
        if x_prev is None or not pbest:
            x = rng.random(dim)
        else:
            g = hist.best(list(pbest.values()))
            assert g is not None
            P: dict[int, np.ndarray] = {}
            for p, b in pbest.items():
                pos = self._position(hist.trials[b], dim)
                assert pos is not None
                P[p] = pos
            mbest = np.mean(list(P.values()), axis=0)
            gbest = P[next(p for p, b in pbest.items() if b == g)]
            xp: np.ndarray = x_prev
            own = P.get(particle, xp)

            def move() -> np.ndarray:
                phi = rng.random(dim)
                u = 1.0 - rng.random(dim)  # (0, 1]
                attractor = phi * own + (1.0 - phi) * gbest
                sign = np.where(rng.random(dim) < 0.5, -1.0, 1.0)
                step = self._beta * np.abs(mbest - xp) * np.log(1.0 / u)
                return np.clip(attractor + sign * step, 0.0, 1.0)

            x = move()
            for _ in range(10):
                if tuple(self._decode(x, hist)) not in hist.seen:
                    break
                x = move()
            if self._screen > 1:
                moves = [x]
                while len(moves) < self._screen:
                    moves.append(move())
                fresh = [m for m in moves if tuple(self._decode(m, hist)) not in hist.seen]
                moves = fresh or moves
                pick = screen(self._models, hist, rng, [self._decode(m, hist) for m in moves])
                x = moves[pick]
        prop = self._decode(x, hist)
        if tuple(prop) in hist.seen:
            # The swarm has collapsed onto evaluated cells: nudge to an unseen neighbour.
            prop = self._unique(lambda _: self._mutate(prop, hist, rng), hist.seen)
            x = self._encode_into(x, prop, hist)
        study._storage.set_trial_system_attr(trial._trial_id, _X, [float(v) for v in x])
        return prop
