"""What every population strategy shares: the study's history and how to rank it.

The strategies keep no state on the sampler object. At every trial they rebuild what
they need from the study: the completed trials, their architectures as option
indices, and their order from best to worst. The order is the same for every strategy:

* trials that violate a constraint come after the feasible ones, ordered by the total
  violation (the sum of positive constraint values);
* one objective (a single metric or a weighted cost): by the value, in the study's
  direction;
* several objectives: by Pareto rank (non-dominated sorting), then by crowding distance
  (larger first), as in NSGA-II;
* ties: the earlier trial first, so the order is a pure function of the trials.

Random draws depend only on ``(seed, trial number, tag)``, so a resumed study, several
workers and a re-run all see the same trial -> proposal map.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.samplers import BaseSampler
from optuna.samplers import RandomSampler as OptunaRandomSampler
from optuna.search_space import intersection_search_space
from optuna.study import StudyDirection
from optuna.trial import TrialState

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import FrozenTrial

__all__ = [
    "History",
    "PopulationSampler",
    "check_float",
    "check_int",
    "order_trials",
    "violation",
]

Proposal = list[int]


def check_int(name: str, value: int, low: int, high: int | None = None) -> int:
    """Validate an integer constructor argument; the error names range and value."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an integer {rng}; got {value!r}")
    return value


def check_float(
    name: str, value: float, low: float, high: float, *, low_open: bool = False
) -> float:
    """Validate a real constructor argument in ``[low, high]`` (or ``(low, high]``)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    f = float(value) if ok else float("nan")
    if not ok or not (low < f if low_open else low <= f) or not f <= high:
        br = "(" if low_open else "["
        raise ValueError(f"{name} must be in {br}{low}, {high}]; got {value!r}")
    return f


def violation(trial: FrozenTrial) -> float:
    """Total constraint violation: the sum of positive constraint values (0 if feasible)."""
    return float(sum(max(0.0, float(g)) for g in trial.constraints.values()))


def _crowding(losses: np.ndarray) -> np.ndarray:
    n, m = losses.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for k in range(m):
        order = np.argsort(losses[:, k], kind="stable")
        span = losses[order[-1], k] - losses[order[0], k]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (losses[order[2:], k] - losses[order[:-2], k]) / span
    return dist


def order_trials(trials: Sequence[FrozenTrial], directions: Sequence[StudyDirection]) -> np.ndarray:
    """Positions ``0..n-1`` of ``trials`` from best to worst (see the module docstring).

    Returns:
        ``rank`` of shape ``(n,)``: ``rank[i]`` is trial ``i``'s place, 0 being the best.
    """
    n = len(trials)
    if n == 0:
        return np.zeros(0, dtype=int)
    sign = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in directions])
    losses = np.array([t.values for t in trials], dtype=float) * sign
    viol = np.array([violation(t) for t in trials])
    numbers = np.array([t.number for t in trials])
    feasible = viol <= 0
    if losses.shape[1] == 1:
        primary = losses[:, 0]
        secondary = np.zeros(n)
    else:
        from optuna.study._multi_objective import _fast_non_domination_rank

        primary = np.zeros(n)
        secondary = np.zeros(n)
        if feasible.any():
            idx = np.flatnonzero(feasible)
            fronts = _fast_non_domination_rank(losses[idx])
            primary[idx] = fronts
            for f in np.unique(fronts):
                members = idx[fronts == f]
                secondary[members] = -_crowding(losses[members])
    # np.lexsort sorts by the last key first.
    order = np.lexsort((numbers, secondary, np.where(feasible, primary, 0.0), viol, ~feasible))
    rank = np.empty(n, dtype=int)
    rank[order] = np.arange(n)
    return rank


@dataclass
class History:
    """The study as a population strategy sees it when proposing ``trial``.

    Attributes:
        names (list[str]): parameter names, in the search space's order.
        sizes (list[int]): number of options of each parameter.
        trials (list[FrozenTrial]): completed trials that set every parameter, by number.
        X (np.ndarray): their option indices, shape ``(len(trials), len(names))``.
        rank (np.ndarray): their places from best (0) to worst, shape ``(len(trials),)``.
        seen (set[tuple[int, ...]]): index vectors of every other trial of the study
            (running and failed ones too), to avoid proposing a repeat.
        directions (list[StudyDirection]): the study's directions.
        skipped (list[FrozenTrial]): pruned trials that recorded constraints: the
            architectures the study skipped before training because they broke a
            budget on a metric known without training (their ``metrics`` user attr
            holds those metrics). They tell a surrogate about the budgets, not the
            objective.
        X_skipped (np.ndarray): their option indices, ``(len(skipped), len(names))``.
        choices (list[tuple]): the options of each parameter (architectures as dicts
            for a strategy that computes metrics of its own candidates).
    """

    names: list[str]
    sizes: list[int]
    trials: list[FrozenTrial]
    X: np.ndarray
    rank: np.ndarray
    seen: set[tuple[int, ...]]
    directions: list[StudyDirection]
    skipped: list[FrozenTrial] = field(default_factory=list)
    X_skipped: np.ndarray | None = None
    choices: list[tuple[Any, ...]] = field(default_factory=list)

    def arch(self, x: Sequence[int]) -> dict[str, Any]:
        """The architecture (parameter -> option) of option indices ``x``."""
        return {n: c[int(i)] for n, c, i in zip(self.names, self.choices, x, strict=True)}

    def best(self, subset: Sequence[int] | None = None) -> int | None:
        """Index (into ``trials``) of the best trial, among ``subset`` if given.

        For several objectives a subset is ranked on its own (its Pareto fronts).
        """
        if not self.trials:
            return None
        if subset is None:
            return int(np.argmin(self.rank))
        sub = list(subset)
        if not sub:
            return None
        r = order_trials([self.trials[i] for i in sub], self.directions)
        return sub[int(np.argmin(r))]

    def sorted(self, subset: Sequence[int]) -> list[int]:
        """``subset`` (indices into ``trials``) from best to worst, ranked on its own."""
        sub = list(subset)
        r = order_trials([self.trials[i] for i in sub], self.directions)
        return [sub[i] for i in np.argsort(r, kind="stable")]


def draw_independent(
    study: Study,
    trial: FrozenTrial,
    name: str,
    distribution: BaseDistribution,
    rng: np.random.Generator,
) -> Any:
    """A uniform draw of one parameter outside the strategy's space, seeded by ``rng``.

    A choice is drawn here; an int or float goes to Optuna's :class:`RandomSampler`
    (seeded from ``rng``), which honours ``log`` and ``step`` and reaches both bounds
    of an int, as an Optuna user expects of any sampler's fallback.
    """
    if isinstance(distribution, CategoricalDistribution):
        return distribution.choices[int(rng.integers(len(distribution.choices)))]
    fallback = OptunaRandomSampler(seed=int(rng.integers(2**32 - 1)))
    return fallback.sample_independent(study, trial, name, distribution)


def _indices(
    trial: FrozenTrial, names: Sequence[str], dists: Sequence[CategoricalDistribution]
) -> tuple[int, ...] | None:
    out = []
    for n, d in zip(names, dists, strict=True):
        if n not in trial.params:
            return None
        try:
            out.append(int(d.to_internal_repr(trial.params[n])))
        except ValueError:
            return None
    return tuple(out)


class PopulationSampler(BaseSampler):
    """Base of quarch's population strategies: whole-architecture proposals.

    Subclasses implement :meth:`_propose`, which returns the option index of every
    parameter for ``trial``; this class turns the study into a :class:`History`,
    proposes through ``sample_relative`` and falls back to a uniform draw (seeded by
    the trial number) for parameters outside the search space.

    Args:
        seed (int | None): run seed; ``None`` draws fresh entropy each time.
        search_space (dict[str, CategoricalDistribution] | None): the space, e.g.
            ``Space.distributions()``; ``None`` infers the intersection of the completed
            trials' categorical parameters, as NSGA-II does.
    """

    def __init__(
        self,
        *,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        if seed is not None:
            check_int("seed", seed, 0)
        if search_space is not None:
            bad = [k for k, v in search_space.items() if not isinstance(v, CategoricalDistribution)]
            if bad:
                raise ValueError(
                    f"search_space must map names to CategoricalDistribution; {bad} are not"
                )
            search_space = dict(search_space)
        self._seed = seed
        self._search_space = search_space

    # -- random draws ----------------------------------------------------------------
    def _rng(self, number: int, *tag: int) -> np.random.Generator:
        if self._seed is None:
            return np.random.default_rng()
        return np.random.default_rng([self._seed, number, *tag])

    def _state_key(self, prefix: str, hist: History) -> str:
        """The study system attr prefix under which this sampler caches its state.

        With an inferred space (a plain Optuna study, conditional parameters) the space
        can change between trials, and state made for one space does not fit another:
        the key then names the space (parameter names and option counts), so a new
        space starts a new state, as Optuna's CMA-ES restarts its optimizer. A given
        ``search_space`` (every quarch run) keeps the plain prefix.
        """
        if self._search_space is not None:
            return prefix
        names = ",".join(f"{n}/{k}" for n, k in zip(hist.names, hist.sizes, strict=True))
        return f"{prefix}[{names}]:"

    # -- study -> history ---------------------------------------------------------------
    def _history(
        self, study: Study, trial: FrozenTrial, space: dict[str, BaseDistribution]
    ) -> History:
        names = list(space)
        dists = [space[n] for n in names]
        assert all(isinstance(d, CategoricalDistribution) for d in dists)
        cdists: list[CategoricalDistribution] = dists  # type: ignore[assignment]
        trials, rows, seen = [], [], set()
        skipped, skipped_rows = [], []
        for t in study.get_trials(deepcopy=False):
            if t.number == trial.number:
                continue
            idx = _indices(t, names, cdists)
            if idx is None:
                continue
            seen.add(idx)
            if t.state == TrialState.COMPLETE and t.values is not None:
                trials.append(t)
                rows.append(idx)
            elif t.state == TrialState.PRUNED and t.constraints:
                skipped.append(t)
                skipped_rows.append(idx)
        X = np.array(rows, dtype=int).reshape(len(rows), len(names))
        return History(
            names=names,
            sizes=[len(d.choices) for d in cdists],
            trials=trials,
            X=X,
            rank=order_trials(trials, study.directions),
            seen=seen,
            directions=list(study.directions),
            skipped=skipped,
            X_skipped=np.array(skipped_rows, dtype=int).reshape(len(skipped_rows), len(names)),
            choices=[tuple(d.choices) for d in cdists],
        )

    def _unique(
        self, draw: Callable[[int], Proposal], seen: set[tuple[int, ...]], tries: int = 25
    ) -> Proposal:
        """Call ``draw(attempt)`` until it gives an unseen architecture (or give up)."""
        prop = draw(0)
        for k in range(1, tries):
            if tuple(prop) not in seen:
                return prop
            prop = draw(k)
        return prop

    def _uniform(self, hist: History, rng: np.random.Generator) -> Proposal:
        """A uniform architecture, unseen if possible.

        After 25 rejected draws, a space of at most 200 000 architectures is enumerated
        and one of its unseen architectures drawn, so a nearly exhausted small space
        still yields new ones.
        """
        prop = self._unique(lambda _: [int(rng.integers(k)) for k in hist.sizes], hist.seen)
        size = int(np.prod(hist.sizes))
        if tuple(prop) in hist.seen and len(hist.seen) < size <= 200_000:
            unseen = [
                x for x in itertools.product(*(range(k) for k in hist.sizes)) if x not in hist.seen
            ]
            prop = list(unseen[int(rng.integers(len(unseen)))])
        return prop

    def _mutate(self, x: Sequence[int], hist: History, rng: np.random.Generator) -> Proposal:
        """Change one parameter (that has more than one option) to another option."""
        out = [int(v) for v in x]
        free = [j for j, k in enumerate(hist.sizes) if k > 1]
        if not free:
            return out
        j = free[int(rng.integers(len(free)))]
        new = int(rng.integers(hist.sizes[j] - 1))
        out[j] = new + (new >= out[j])
        return out

    # -- BaseSampler -----------------------------------------------------------------
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        if self._search_space is not None:
            return dict(self._search_space)
        done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        inferred = intersection_search_space(done)
        return {k: v for k, v in inferred.items() if isinstance(v, CategoricalDistribution)}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        hist = self._history(study, trial, search_space)
        prop = self._propose(study, trial, hist)
        return {
            n: search_space[n].choices[i]  # type: ignore[attr-defined]
            for n, i in zip(hist.names, prop, strict=True)
        }

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        rng = self._rng(trial.number, 7, *param_name.encode())
        return draw_independent(study, trial, param_name, param_distribution, rng)

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        """Option indices of every parameter of ``hist.names`` for ``trial``."""
        raise NotImplementedError
