"""One surrogate per metric, and the QUBO problems a surrogate strategy builds from them.

The QUBO strategies (:class:`~quarch.search.QUBOSampler` and the circuits that share
it) and the surrogate-guided QIEA and QPSO all read the study through
:class:`Surrogates`, which turns what the study knows into
:class:`~quarch.search._problem.QUBOProblem` objects, one Thompson sample each:

* **Objectives.** Every objective metric has its own model. One objective is fitted to
  the normal scores of its ranks (scale-free; an untrainable cell at 90 % error does
  not drag the fit). A weighted cost ``C = sum_i w_i m_i`` fits each metric on its own
  scale (standardised) and the QUBO objective is ``sum_i w_i m_i`` of the samples.
  Several objectives are scalarised per problem by a random **epsilon-constraint**: one
  objective drawn at random is minimised while each other one must stay below a bound
  drawn uniformly between its best and worst values over the trials so far. Unlike a weighted sum (ParEGO's linear variant), this reaches Pareto points in
  concave parts of the front, and the bound is one more budget in the QUBO, so the
  subproblem stays quadratic.
* **Budgets.** Every budget ``metric <= limit`` has a model of its constraint value
  ``g``, fitted to every trial that recorded it, skipped trials included (they carry
  the metrics known before training), and enters the QUBO as a linear inequality with
  slack variables (:class:`~quarch.search._problem.Constraint`). Candidates are checked
  against the sampled ``g`` (Thompson sampling of the constraint, as in SCBO,
  Eriksson and Poloczek 2021).
* **Metrics known without training** (``cheap_metrics``: NB201's params, FLOPs and
  latency tables, a CNN's memory) are not learnt from trials: their model is a
  least-squares fit over a design of many architectures (exact for metrics that are
  quadratic in the one-hot bits, such as NB201's params and FLOPs, which are linear),
  and candidates are checked against their exact values, so an architecture known to
  break a budget is never proposed. The design is every architecture of a space of
  at most :data:`DESIGN`, else :data:`DESIGN` uniform draws of
  ``numpy.random.default_rng(0)``: the same in every run and study (a known function
  needs no run seed).

Every model is fitted with the surrogate named by ``surrogate``: ``"bocs"`` (the
Bayesian quadratic model of :mod:`quarch.search._surrogate`, the default), ``"fm"``
(:mod:`quarch.search._fm`), ``"gp"`` (a Gaussian process with a Hamming kernel,
projected onto a quadratic model: :mod:`quarch.search._gp`) or ``"bocs+gp"`` (the
average of BOCS and that process). Which to default to was measured on CIFAR-10's 12-epoch
validation signal (the tuning data). The factorisation machine ranks held-out cells a
little better (``benchmarks/surrogate_rank.py``: Kendall tau 0.283 against 0.218 after
25 cells, 0.468 against 0.464 after 100), but a search with it picked worse cells:
``qubo-sqa`` over tuning seeds 1000-1029, validation accuracy of the pick 84.526 with
the machine against 84.719 with BOCS; why was not investigated), and the machine's
ensemble is 50-200x slower to fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._common import History
from quarch.search._problem import Constraint, QUBOProblem
from quarch.search._surrogate import (
    QuadraticModel,
    fit_known,
    fit_quadratic,
    n_features,
    rank_scores,
)

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from quarch.objectives import Objective

__all__ = ["CheapMetrics", "Surrogates", "hamming_constraint", "screen"]

#: ``cheap_metrics(arch) -> {metric: value}``: metrics known without training.
CheapMetrics = Callable[[Mapping[str, Any]], Mapping[str, float]]
_SURROGATES = ("bocs", "fm", "gp", "bocs+gp")
#: Architectures the model of a known metric is fitted on (all of a smaller space).
DESIGN = 1024


@dataclass(frozen=True)
class _Term:
    """One modelled quantity: an objective metric or a budget's constraint value."""

    name: str  # metric name, or the constraint's key
    sign: float = 1.0  # +1 minimised, -1 maximised (objectives)
    weight: float | None = None  # weighted cost
    metric: str | None = None  # the metric a budget limits
    index: int | None = None  # position in trial.values (objectives)


class Surrogates:
    """Builds Thompson-sampled QUBO problems from a study (see the module docstring).

    Args:
        objective (Objective | None): what the study optimises (metric names, weights,
            budgets); ``None`` reads the study's values and constraints as they are.
        cheap_metrics (CheapMetrics | None): metrics known without training, for any
            architecture (the evaluator's ``cheap_metrics``).
        surrogate (str): ``"bocs"``, ``"fm"``, ``"gp"`` or ``"bocs+gp"``.
        exploration (float): spread of the Thompson samples around the posterior mean
            (default 1.0: the posterior's own).
        strength (float): weight of a budget's squared violation in the QUBO.

    The defaults of ``exploration`` and ``strength`` are :class:`QUBOSampler`'s, so
    the surrogate-guided QIEA and QPSO, which take neither, screen their offspring
    with the problems a default QUBO strategy solves.
    """

    def __init__(
        self,
        *,
        objective: Objective | None = None,
        cheap_metrics: CheapMetrics | None = None,
        surrogate: str = "bocs",
        exploration: float = 1.0,
        strength: float = 4.0,
    ) -> None:
        if surrogate not in _SURROGATES:
            raise ValueError(f"surrogate must be one of {list(_SURROGATES)}; got {surrogate!r}")
        if cheap_metrics is not None and not callable(cheap_metrics):
            raise ValueError(
                f"cheap_metrics must be callable(arch) -> metrics; got {cheap_metrics!r}"
            )
        self.objective = objective
        self.cheap_metrics = cheap_metrics
        self.surrogate = surrogate
        self.exploration = float(exploration)
        self.strength = float(strength)
        self._known_cache: dict[tuple[int, ...], Mapping[str, float]] = {}
        self._fits: dict[str, tuple[QuadraticModel, float, float]] = {}
        self._known_names: frozenset[str] | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_known_cache"], state["_fits"], state["_known_names"] = {}, {}, None
        return state

    # -- what is modelled ----------------------------------------------------------
    def _objectives(self, hist: History) -> list[_Term]:
        obj = self.objective
        if obj is None or len(obj.directions) != len(hist.directions):
            return [
                _Term(f"value{i}", 1.0 if d.name == "MINIMIZE" else -1.0, index=i)
                for i, d in enumerate(hist.directions)
            ]
        if obj.weights is not None:
            terms = [_Term(m, 1.0, weight=w) for m, w in zip(obj.metrics, obj.weights, strict=True)]
            if all(self._has(t, m) for t in hist.trials for m in obj.metrics):
                return terms
            return [_Term("weighted_cost", 1.0, index=0)]  # a study without per-metric values
        return [
            _Term(m, 1.0 if obj.direction_of(m) == "minimize" else -1.0, index=i)
            for i, m in enumerate(obj.metrics)
        ]

    def _budgets(self, hist: History) -> list[_Term]:
        if self.objective is not None and self.objective.budgets:
            return [_Term(str(b), metric=b.metric) for b in self.objective.budgets]
        keys = sorted({k for t in [*hist.trials, *hist.skipped] for k in t.constraints})
        return [_Term(k) for k in keys]

    @staticmethod
    def _has(t: FrozenTrial, metric: str) -> bool:
        m = t.user_attrs.get("metrics")
        return isinstance(m, Mapping) and metric in m

    # -- known metrics ---------------------------------------------------------------
    def known_names(self, hist: History) -> frozenset[str]:
        """The metrics ``cheap_metrics`` gives (empty without it)."""
        if self.cheap_metrics is None:
            return frozenset()
        if self._known_names is None:
            self._known_names = frozenset(self._known(hist, np.zeros((1, len(hist.sizes)), int))[0])
        return self._known_names

    def _known(self, hist: History, X: np.ndarray) -> list[Mapping[str, float]]:
        assert self.cheap_metrics is not None
        out = []
        for x in np.asarray(X, dtype=np.int64):
            key = tuple(int(v) for v in x)
            if key not in self._known_cache:
                self._known_cache[key] = dict(self.cheap_metrics(hist.arch(key)))
            out.append(self._known_cache[key])
        return out

    def known_values(self, hist: History, metric: str, X: np.ndarray) -> np.ndarray:
        """Exact values of a known metric for architectures ``(m, n_choices)``."""
        return np.array([float(m[metric]) for m in self._known(hist, X)])

    def _known_fit(self, hist: History, metric: str) -> tuple[QuadraticModel, float, float]:
        """(model of the standardised metric, mean, std) over the design (every
        architecture, or ``DESIGN`` draws of ``default_rng(0)``: module docstring)."""
        if metric not in self._fits:
            total = math.prod(hist.sizes)
            if total <= DESIGN:
                import itertools

                X = np.array(list(itertools.product(*(range(k) for k in hist.sizes))))
            else:  # a fixed design: the fit of a known function needs no run seed
                X = np.random.default_rng(0).integers(0, hist.sizes, size=(DESIGN, len(hist.sizes)))
            y = self.known_values(hist, metric, X)
            mu, sd = float(y.mean()), float(y.std())
            sd = sd if sd > 0 else 1.0
            self._fits[metric] = (fit_known(X, (y - mu) / sd, hist.sizes), mu, sd)
        return self._fits[metric]

    def feasible_known(self, hist: History, X: np.ndarray) -> np.ndarray:
        """Whether each architecture meets every budget on a known metric."""
        X = np.asarray(X, dtype=np.int64).reshape(-1, len(hist.sizes))
        ok = np.ones(X.shape[0], dtype=bool)
        known = self.known_names(hist)
        if self.objective is None or not known:
            return ok
        for b in self.objective.budgets:
            if b.metric in known:
                v = self.known_values(hist, b.metric, X)
                ok &= np.array([b.violation(float(x)) <= 0 for x in v])
        return ok

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray, sizes: list[int], rng: np.random.Generator) -> Any:
        if self.surrogate == "fm":
            from quarch.search._fm import fit_fm

            return fit_fm(X, y, sizes, rng=rng)
        if self.surrogate in ("gp", "bocs+gp"):
            from quarch.search._gp import Blend, fit_gp_quadratic

            gp = fit_gp_quadratic(X, y, sizes, rng)
            return gp if self.surrogate == "gp" else Blend(fit_quadratic(X, y, sizes), gp)
        return fit_quadratic(X, y, sizes)

    def _value(self, t: FrozenTrial, term: _Term) -> float | None:
        if term.index is not None and t.values is not None:
            return float(t.values[term.index])
        m = t.user_attrs.get("metrics")
        if isinstance(m, Mapping) and term.name in m:
            return float(m[term.name])
        return None

    def problems(
        self,
        hist: History,
        rng: np.random.Generator,
        n: int,
        *,
        radius: int | None = None,
        exploration: float | None = None,
    ) -> list[QUBOProblem]:
        """``n`` Thompson samples of the models fitted to ``hist``, as solver problems.

        Every draw comes from ``rng``, before any solver's, so the samples do not
        depend on the solver; fits that draw (the machine's resamples, the process's
        design) use ``numpy.random.default_rng(rng.integers(2**63 - 1))``, drawn
        first. ``radius`` adds a trust region: at most ``radius`` choices may differ
        from the best trial so far (:func:`hamming_constraint`); ``exploration``
        overrides the spread of the samples for this call.
        """
        spread = self.exploration if exploration is None else float(exploration)
        known = self.known_names(hist)
        objs = self._objectives(hist)
        buds = self._budgets(hist)
        fit_rng = np.random.default_rng(rng.integers(2**63 - 1))
        obj_models: list[tuple[_Term, Any, float, float]] = []  # term, posterior|None, mu, sd
        obj_rows: list[np.ndarray] = []  # each term's values on the trials (model units)
        single = len(objs) == 1 and objs[0].weight is None
        for term in objs:
            if term.name in known:
                _, mu, sd = self._known_fit(hist, term.name)
                obj_models.append((term, None, mu, sd))  # a weighted cost needs its scale
                obj_rows.append(term.sign * (self.known_values(hist, term.name, hist.X) - mu) / sd)
                continue
            vals = [self._value(t, term) for t in hist.trials]
            keep = [i for i, v in enumerate(vals) if v is not None]
            y = term.sign * np.array([vals[i] for i in keep], dtype=float)
            if term.weight is not None:  # a weighted cost needs each metric on its scale
                mu, sd = float(y.mean()), float(y.std()) or 1.0
                target = (y - mu) / sd
            else:
                mu, sd = 0.0, 1.0
                target = rank_scores(y)
            post = self._fit(hist.X[keep], target, hist.sizes, fit_rng)
            obj_models.append((term, post, mu, sd))
            row = np.full(len(hist.trials), np.nan)
            row[keep] = target
            obj_rows.append(row)
        bud_models: list[tuple[_Term, Any, float]] = []  # term, posterior|None, scale
        for term in buds:
            if term.metric is not None and term.metric in known:
                _, _, sd = self._known_fit(hist, term.metric)
                bud_models.append((term, None, sd))
                continue
            rows = [*hist.trials, *hist.skipped]
            Xall = np.concatenate([hist.X, hist.X_skipped]) if hist.skipped else hist.X
            g = [t.constraints.get(term.name) for t in rows]
            keep = [i for i, v in enumerate(g) if v is not None]
            if not keep:
                continue
            y = np.array([g[i] for i in keep], dtype=float)
            scale = float(np.sqrt(np.mean(y**2))) or 1.0  # not centred: 0 is the boundary
            bud_models.append((term, self._fit(Xall[keep], y / scale, hist.sizes, fit_rng), scale))

        out = []
        for _ in range(n):
            samples = [
                self._known_fit(hist, t.name)[0].scaled(t.sign)
                if post is None
                else QuadraticModel(hist.sizes, post.draw(rng, spread))
                for t, post, _, _ in obj_models
            ]
            constraints = [
                self._budget(hist, term, post, scale, rng, spread)
                for term, post, scale in bud_models
            ]
            best = hist.best()
            if radius is not None and best is not None:
                constraints.append(hamming_constraint(hist.sizes, hist.X[best], radius))
            if single:
                f = samples[0]
            elif objs[0].weight is not None:
                f = _weighted(hist.sizes, objs, samples, obj_models)
            else:
                f, extra = self._epsilon(hist, objs, samples, obj_rows, rng)
                constraints += extra
            prob = QUBOProblem(f, hist.X[0], tuple(constraints), self.strength)
            if len(hist.X):
                cost = prob.cost(hist.X)
                inc = hist.X[int(np.argmin(cost))].astype(np.int64)
                prob = QUBOProblem(f, inc, tuple(constraints), self.strength)
            out.append(prob)
        return out

    def _budget(
        self,
        hist: History,
        term: _Term,
        post: Any,
        scale: float,
        rng: np.random.Generator,
        spread: float,
    ) -> Constraint:
        if post is not None:
            return Constraint(term.name, QuadraticModel(hist.sizes, post.draw(rng, spread)))
        assert self.objective is not None and term.metric is not None
        budget = next(b for b in self.objective.budgets if str(b) == term.name)
        model, mu, sd = self._known_fit(hist, term.metric)
        # g = value - limit (<=) or limit - value (>=), in units of the metric's spread
        up = budget.op in ("<=", "<")
        sign = 1.0 if up else -1.0
        g_model = model.scaled(sign).shifted(sign * (mu - budget.limit) / sd)
        metric = term.metric

        def exact(X: np.ndarray) -> np.ndarray:
            v = self.known_values(hist, metric, X)
            return np.array([budget.violation(float(x)) for x in v]) / sd

        return Constraint(term.name, g_model, exact)

    def _epsilon(
        self,
        hist: History,
        objs: list[_Term],
        samples: list[QuadraticModel],
        rows: list[np.ndarray],
        rng: np.random.Generator,
    ) -> tuple[QuadraticModel, list[Constraint]]:
        """A random epsilon-constraint scalarisation (see the module docstring)."""
        k = int(rng.integers(len(objs)))
        extra = []
        for j, term in enumerate(objs):
            if j == k:
                continue
            vals = rows[j][~np.isnan(rows[j])]
            # Up to the worst value of any trial, not of the front: a bound at most the
            # front's worst keeps every proposal inside the front's current extent, so
            # a front that starts without the costly, accurate cells never reaches them.
            lo = float(vals.min()) if vals.size else 0.0
            hi = float(vals.max()) if vals.size else lo
            eps = float(rng.uniform(lo, max(hi, lo)))
            g = samples[j].shifted(-eps)
            exact = None
            if term.name in self.known_names(hist):
                _, mu, sd = self._known_fit(hist, term.name)
                name, sign = term.name, term.sign

                def exact(
                    X: np.ndarray,
                    name: str = name,
                    mu: float = mu,
                    sd: float = sd,
                    sign: float = sign,
                    eps: float = eps,
                ) -> np.ndarray:
                    return sign * (self.known_values(hist, name, X) - mu) / sd - eps

            extra.append(Constraint(f"{term.name}<=eps", g, exact))
        return samples[k], extra


def hamming_constraint(sizes: Sequence[int], centre: np.ndarray, radius: int) -> Constraint:
    """The trust region ``hamming(x, centre) <= radius`` as a budget of a QUBO problem.

    The number of choices that differ from ``centre`` is linear in the one-hot bits
    (``n_choices - sum_j bit[j, centre_j]``), so the region is one more linear
    inequality with slack variables, exact in the QUBO and in the candidates' check
    (TuRBO's trust region, Eriksson et al. 2019, in the Hamming metric as in
    Wan et al. 2021's CASMOPOLITAN for categorical spaces).
    """
    sizes = [int(k) for k in sizes]
    centre = np.asarray(centre, dtype=np.int64).reshape(len(sizes))
    w = np.zeros(n_features(sizes))
    start = 0
    for j, k in enumerate(sizes):
        w[start : start + k] = 1.0
        w[start + int(centre[j])] = 0.0
        start += k
    model = QuadraticModel(sizes, w).shifted(-float(radius))

    def exact(X: np.ndarray) -> np.ndarray:
        differ = np.not_equal(np.asarray(X, dtype=np.int64).reshape(-1, len(sizes)), centre)
        return differ.sum(1).astype(float) - float(radius)

    return Constraint(f"hamming<={radius}", model, exact)


def _weighted(
    sizes: list[int],
    objs: list[_Term],
    samples: list[QuadraticModel],
    models: list[tuple[_Term, Any, float, float]],
) -> QuadraticModel:
    """``sum_i w_i m_i`` of the sampled metrics, divided by its largest coefficient
    scale so that the budgets' strength means the same in every study."""
    w = np.zeros_like(samples[0].w)
    for term, s, (_, _, _, sd) in zip(objs, samples, models, strict=True):
        assert term.weight is not None
        w += term.weight * sd * s.w
    norm = float(np.abs(w).max()) or 1.0
    return QuadraticModel(sizes, w / norm)


def screen(
    models: Surrogates, hist: History, rng: np.random.Generator, candidates: Sequence[Sequence[int]]
) -> int:
    """Index of the candidate a Thompson sample of ``models`` ranks best (budgets
    checked as in the QUBO problems): how the surrogate-guided QIEA and QPSO spend a
    query on the most promising of their offspring. With fewer than two trials there
    is nothing to fit, and the first candidate known to meet the budgets wins (the first
    candidate when none is)."""
    from quarch.search._surrogate import single_thread

    X = np.asarray(candidates, dtype=np.int64).reshape(len(candidates), len(hist.sizes))
    if len(hist.trials) < 2:
        ok = models.feasible_known(hist, X)
        return int(np.argmax(ok))  # all False: 0, the first candidate
    with single_thread():
        (problem,) = models.problems(hist, rng, 1)
        return int(np.argmin(problem.cost(X)))
