"""The QUBO problems :class:`~quarch.search._models.Surrogates` builds, against
independent truth: brute force over every architecture of a small space for the
budgets on known metrics, the weighted cost as ``sum_i w_i sd_i m_i`` of each metric's
own posterior mean (the module docstring's formula, assembled here), the
epsilon-constraint bounds read back from the exact values of a known metric (its
mean and spread over every architecture by numpy), and numpy's least squares.
"""

from __future__ import annotations

import inspect
import itertools
import pickle
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution, CategoricalDistribution

from quarch.objectives import Objective
from quarch.search import QUBOSampler
from quarch.search._common import History
from quarch.search._models import Surrogates, hamming_constraint, screen
from quarch.search._surrogate import QuadraticModel, features, fit_quadratic, rank_scores

SIZES = [3, 4, 3, 2]  # 72 architectures


def _archs(sizes: list[int] = SIZES) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


def _dists(sizes: list[int] = SIZES) -> dict[str, BaseDistribution]:
    return {f"c{j}": CategoricalDistribution(list(range(k))) for j, k in enumerate(sizes)}


def _history(
    rows: np.ndarray,
    values: Callable[[np.ndarray], list[float]],
    *,
    sizes: list[int] = SIZES,
    metrics: Callable[[np.ndarray], dict[str, float]] | None = None,
    directions: int = 1,
) -> History:
    """The history a sampler sees for completed trials at ``rows``."""
    study = optuna.create_study(directions=["minimize"] * directions)
    dists = _dists(sizes)
    for x in rows:
        study.add_trial(
            optuna.trial.create_trial(
                values=values(x),
                params=dict(zip(dists, (int(v) for v in x), strict=True)),
                distributions=dists,
                user_attrs={} if metrics is None else {"metrics": metrics(x)},
            )
        )
    number = study.ask(dists).number
    trial = study.get_trials(deepcopy=False)[number]
    return QUBOSampler(seed=0)._history(study, trial, dists)


def _size(arch: Mapping[str, Any]) -> dict[str, float]:
    x = [int(arch[f"c{j}"]) for j in range(len(arch))]
    return {"size": float(sum(x)), "width": float(max(x))}


class TestKnownBudgets:
    def test_without_an_objective_every_architecture_is_feasible(self) -> None:
        hist = _history(_archs()[:3], lambda x: [float(x.sum())])
        ok = Surrogates(cheap_metrics=_size).feasible_known(hist, _archs())
        assert ok.shape == (72,) and ok.all()

    def test_feasible_meets_every_budget_with_the_limit_included(self) -> None:
        """Two budgets on known metrics, brute force: ``size <= 3`` (limit reached by
        many architectures) and ``width >= 2``."""
        obj = Objective(["val_error"], budgets=["size<=3", "width>=2"],
                        directions={"size": "minimize", "width": "minimize"})  # fmt: skip
        hist = _history(_archs()[:3], lambda x: [float(x.sum())])
        X = _archs()
        ok = Surrogates(objective=obj, cheap_metrics=_size).feasible_known(hist, X)
        truth = (X.sum(1) <= 3) & (X.max(1) >= 2)
        assert (X.sum(1) == 3).any() and truth.any() and not truth.all()
        np.testing.assert_array_equal(ok, truth)
        one = Surrogates(objective=obj, cheap_metrics=_size).feasible_known(hist, X[5])
        np.testing.assert_array_equal(one, truth[5:6])


def _table(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(SIZES)


class TestWeightedCost:
    OBJ = Objective(["val_error", "params"], weights=[1.0, 3.0])

    def _hist(self, metrics: bool = True) -> tuple[History, np.ndarray, np.ndarray]:
        ta, tb = _table(1), 5.0 + 2.0 * _table(2)
        rows = _archs()[np.random.default_rng(0).permutation(72)[:30]]
        a = np.array([ta[tuple(x)] for x in rows])
        b = np.array([tb[tuple(x)] for x in rows])
        hist = _history(
            rows,
            lambda x: [float(ta[tuple(x)] + 3 * tb[tuple(x)])],
            metrics=(lambda x: {"val_error": float(ta[tuple(x)]), "params": float(tb[tuple(x)])})
            if metrics
            else None,
        )
        return hist, a, b

    def test_objective_is_the_weighted_sum_of_each_metrics_posterior(self) -> None:
        """``w = sum_i w_i sd_i mean_i / max|.|``, each metric's mean fitted to its own
        standardised values."""
        hist, a, b = self._hist()
        (p,) = Surrogates(objective=self.OBJ, exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        w = np.zeros_like(p.model.w)
        for weight, y in ((1.0, a), (3.0, b)):
            post = fit_quadratic(hist.X, (y - y.mean()) / y.std(), SIZES)
            w += weight * y.std() * post.mean
        np.testing.assert_allclose(p.model.w, w / np.abs(w).max(), rtol=0, atol=1e-10)

    def test_a_known_metric_enters_on_its_own_scale(self) -> None:
        """``params`` known without training (spread 10x the error's): its term is
        ``3 * (least-squares fit of params - mean)`` over every architecture, not its
        standardised fit (which weighted it by 3 / sd and ranked the cells wrongly)."""
        hist, a, _ = self._hist()
        X = _archs()

        def params(arch: Mapping[str, Any]) -> dict[str, float]:
            x = [int(arch[f"c{j}"]) for j in range(4)]
            return {"params": 10.0 * sum(x) + 2.0 * x[0] * x[1] * x[2]}

        (p,) = Surrogates(objective=self.OBJ, cheap_metrics=params, exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        v = np.array([params(_arch(x))["params"] for x in X])
        Phi = features(X, SIZES)
        w = 3.0 * np.linalg.lstsq(Phi, v - v.mean(), rcond=None)[0]
        w += a.std() * fit_quadratic(hist.X, (a - a.mean()) / a.std(), SIZES).mean
        np.testing.assert_allclose(p.model.energy(X), Phi @ w / np.abs(w).max(), atol=1e-6)

    def test_without_per_metric_values_the_trials_values_are_fitted(self) -> None:
        hist, a, b = self._hist(metrics=False)
        (p,) = Surrogates(objective=self.OBJ, exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        post = fit_quadratic(hist.X, rank_scores(a + 3 * b), SIZES)
        np.testing.assert_allclose(p.model.w, post.mean, rtol=0, atol=1e-10)

    def test_one_trial_without_a_metric_falls_back_to_the_values(self) -> None:
        hist, a, b = self._hist()
        attrs = hist.trials[4].user_attrs["metrics"]
        del attrs["params"]
        (p,) = Surrogates(objective=self.OBJ, exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        post = fit_quadratic(hist.X, rank_scores(a + 3 * b), SIZES)
        np.testing.assert_allclose(p.model.w, post.mean, rtol=0, atol=1e-10)


def _cubic(arch: Mapping[str, Any]) -> dict[str, float]:
    """A known metric that no quadratic model fits exactly."""
    x = [int(arch[f"c{j}"]) for j in range(len(arch))]
    return {"size": float(sum(x) + 0.7 * x[0] * x[1] * x[2] + (x[3] == 1))}


class TestEpsilonConstraints:
    """Two objectives, ``val_error`` (learnt) and ``size`` (known, cubic)."""

    OBJ = Objective(["val_error", "size"], directions={"size": "minimize"})

    def _problems(self, n: int) -> tuple[History, list[Any], np.ndarray]:
        table = _table(3)
        rows = _archs()[np.random.default_rng(4).permutation(72)[:18]]
        hist = _history(
            rows,
            lambda x: [float(table[tuple(x)]), _cubic(_arch(x))["size"]],
            metrics=lambda x: {"val_error": float(table[tuple(x)]), **_cubic(_arch(x))},
            directions=2,
        )
        probs = Surrogates(objective=self.OBJ, cheap_metrics=_cubic, exploration=0.0).problems(
            hist, np.random.default_rng(5), n
        )
        err = np.array([table[tuple(x)] for x in hist.X])
        return hist, probs, err

    def test_the_other_objective_is_bounded_between_its_trials_extremes(self) -> None:
        hist, probs, err = self._problems(120)
        X = _archs()
        size = np.array([_cubic(_arch(x))["size"] for x in X])
        mu, sd = size.mean(), size.std()  # over every architecture: the fit's design
        z = (size - mu) / sd
        lstsq = features(X, SIZES) @ np.linalg.lstsq(features(X, SIZES), z, rcond=None)[0]
        z_trials = (np.array([_cubic(_arch(x))["size"] for x in hist.X]) - mu) / sd
        err_mean = QuadraticModel(SIZES, fit_quadratic(hist.X, rank_scores(err), SIZES).mean)
        r = rank_scores(err)
        bounds: dict[str, list[float]] = {"size<=eps": [], "val_error<=eps": []}
        for p in probs:
            (c,) = p.constraints  # one bound: the objective not minimised
            if c.name == "size<=eps":
                # minimises val_error (its posterior mean), bounds the exact size
                np.testing.assert_allclose(p.model.energy(X), err_mean.energy(X), atol=1e-9)
                eps = z - c.values(X)
                assert np.ptp(eps) < 1e-9  # exact: the known values, shifted
                np.testing.assert_allclose(lstsq - c.model.energy(X), eps, atol=1e-6)
                assert z_trials.min() - 1e-9 <= eps[0] <= z_trials.max() + 1e-9
            else:
                assert c.name == "val_error<=eps"
                np.testing.assert_allclose(p.model.energy(X), lstsq, atol=1e-6)
                eps = err_mean.energy(X) - c.values(X)
                assert np.ptp(eps) < 1e-9
                assert r.min() - 1e-9 <= eps[0] <= r.max() + 1e-9
            bounds[c.name].append(float(eps[0]))
        # uniform between the extremes: both ends are approached
        for name, lo, hi in (("size<=eps", z_trials.min(), z_trials.max()),
                             ("val_error<=eps", r.min(), r.max())):  # fmt: skip
            got = np.array(bounds[name])
            assert len(got) > 30
            assert got.min() < lo + 0.1 * (hi - lo) and got.max() > hi - 0.1 * (hi - lo)

    def test_exact_bound_of_a_space_larger_than_the_design(self) -> None:
        """1280 architectures: the known metric is fitted on a design of 1024 and the
        exact bound must compute the others from the study's space."""
        sizes = [4, 4, 4, 4, 5]
        rng = np.random.default_rng(6)
        rows = rng.integers(0, sizes, size=(15, 5))
        err = rng.standard_normal(15)

        def known(arch: Mapping[str, Any]) -> dict[str, float]:
            return {"size": float(sum(int(v) for v in arch.values()))}

        lut = {tuple(int(v) for v in x): float(e) for x, e in zip(rows, err, strict=True)}
        hist = _history(
            rows,
            lambda x: [lut[tuple(int(v) for v in x)], float(x.sum())],
            sizes=sizes,
            directions=2,
        )
        models = Surrogates(objective=self.OBJ, cheap_metrics=known, exploration=0.0)
        X = _archs(sizes)
        checked = 0
        for p in models.problems(hist, np.random.default_rng(0), 12):
            for c in p.constraints:
                if c.name == "size<=eps":
                    assert np.corrcoef(c.values(X), X.sum(1))[0, 1] > 1 - 1e-9
                    checked += 1
        assert checked >= 3


def _arch(x: np.ndarray) -> dict[str, int]:
    return {f"c{j}": int(v) for j, v in enumerate(x)}


class TestState:
    def test_a_pickled_copy_drops_the_caches(self) -> None:
        obj = Objective(["val_error"], budgets=["size<=3"], directions={"size": "minimize"})
        hist = _history(_archs()[:5], lambda x: [float(x.sum())])
        models = Surrogates(objective=obj, cheap_metrics=_size)
        models.problems(hist, np.random.default_rng(0), 1)
        assert models._known_cache and models._fits and models._known_names
        copy = pickle.loads(pickle.dumps(models))
        assert copy._known_cache == {} and copy._fits == {} and copy._known_names is None
        assert models._known_cache  # the original keeps its own
        np.testing.assert_array_equal(copy.feasible_known(hist, _archs()), _archs().sum(1) <= 3)


class TestHammingConstraint:
    def test_name_and_a_centre_given_as_one_row(self) -> None:
        X = _archs()
        c = hamming_constraint(SIZES, np.array([[1, 0, 2, 1]]), 2)
        assert c.name == "hamming<=2"
        truth = (X != [1, 0, 2, 1]).sum(1) - 2.0
        np.testing.assert_array_equal(c.values(X), truth)
        np.testing.assert_allclose(c.model.energy(X), truth, atol=1e-12)


def _slow_size(arch: Mapping[str, Any]) -> dict[str, float]:
    """A known metric of spread below 1 that no quadratic model fits exactly, and a
    constant one."""
    x = [int(v) for v in arch.values()]
    return {"size": 0.1 * sum(x) + 0.05 * x[0] * x[1] * x[2], "const": 0.5}


SIZES5 = [4, 4, 4, 4, 4]  # 1024 architectures: as many as the design holds


class TestKnownBudgetConstraints:
    def _g(self, op: str, v: np.ndarray, limit: float) -> np.ndarray:
        return v - limit if op in ("<=", "<") else limit - v

    def test_constraints_are_the_violations_in_units_of_the_spread(self) -> None:
        """``g = value - limit`` (``<=``, ``<``) or ``limit - value`` (``>=``), divided
        by the metric's standard deviation over every architecture (numpy); the
        model is the least-squares fit of that over every architecture; a constant
        metric keeps its own units."""
        sizes = SIZES5
        parts = [
            ("size", "<=", 0.83),
            ("size", ">=", 0.31),
            ("size", "<", 0.77),
            ("const", "<=", 1.0),
        ]
        budgets = ["size<=0.83", "size>=0.31", "size<0.77", "const<=1"]
        obj = Objective(["val_error"], budgets=budgets,
                        directions={"size": "minimize", "const": "minimize"})  # fmt: skip
        rng = np.random.default_rng(0)
        rows = rng.integers(0, sizes, size=(10, 5))
        hist = _history(rows, lambda x: [float(np.sin(x.sum()))], sizes=sizes)
        (p,) = Surrogates(objective=obj, cheap_metrics=_slow_size, exploration=0.0).problems(
            hist, np.random.default_rng(1), 1
        )
        X = _archs(sizes)
        v = np.array([_slow_size(_arch(x))["size"] for x in X])
        assert 0 < v.std() < 1
        Phi = features(X, sizes)
        assert [c.name for c in p.constraints] == budgets
        for c, (metric, op, limit) in zip(p.constraints, parts, strict=True):
            vals = v if metric == "size" else np.full(len(X), 0.5)
            sd = vals.std() if vals.std() > 0 else 1.0
            g = self._g(op, vals, limit) / sd
            np.testing.assert_allclose(c.values(X), g, rtol=0, atol=1e-12)
            fit = Phi @ np.linalg.lstsq(Phi, g, rcond=None)[0]
            np.testing.assert_allclose(c.model.energy(X), fit, rtol=0, atol=1e-5)

    def test_a_space_larger_than_the_design(self) -> None:
        """1280 architectures, a linear known metric: the fit on the fixed design is
        exact on every architecture, and a fresh set of surrogates fits the same."""
        sizes = [4, 4, 4, 4, 5]
        obj = Objective(["val_error"], budgets=["lin<=6"], directions={"lin": "minimize"})

        def lin(arch: Mapping[str, Any]) -> dict[str, float]:
            x = [int(v) for v in arch.values()]
            return {"lin": float(x[0] + 2 * x[1] - x[2] + 0.5 * x[4])}

        rows = np.random.default_rng(2).integers(0, sizes, size=(8, 5))
        hist = _history(rows, lambda x: [float(x.sum())], sizes=sizes)
        X = _archs(sizes)
        models = []
        for _ in range(2):
            (p,) = Surrogates(objective=obj, cheap_metrics=lin, exploration=0.0).problems(
                hist, np.random.default_rng(1), 1
            )
            (c,) = p.constraints
            g = c.values(X)
            truth = np.array([lin(_arch(x))["lin"] for x in X]) - 6.0
            assert np.corrcoef(g, truth)[0, 1] > 1 - 1e-12 and (np.sign(g) == np.sign(truth)).all()
            np.testing.assert_allclose(c.model.energy(X), g, rtol=0, atol=1e-6)
            models.append(c.model.w)
        np.testing.assert_array_equal(models[0], models[1])


class TestLearntBudget:
    def test_constraint_is_the_posterior_mean_in_rms_units(self) -> None:
        """A budget no metric knows: fitted to every trial's constraint value,
        skipped trials included, divided by their root mean square."""
        study = optuna.create_study()
        dists = _dists()
        X = _archs()
        rows = X[np.random.default_rng(3).permutation(72)[:30]]
        g_all = np.array([0.5 * x[0] - 0.4 * x[1] + 0.3 * (x[2] == x[3]) - 0.2 for x in rows])
        for x, g in zip(rows, g_all, strict=True):
            kw: dict[str, Any] = {"value": float(x.sum())} if g <= 0.5 else {
                "state": optuna.trial.TrialState.PRUNED}  # fmt: skip
            study.add_trial(
                optuna.trial.create_trial(
                    params=dict(zip(dists, (int(v) for v in x), strict=True)),
                    distributions=dists,
                    constraints={"g": float(g)},
                    **kw,
                )
            )
        number = study.ask(dists).number
        hist = QUBOSampler(seed=0)._history(study, study.get_trials(deepcopy=False)[number], dists)
        assert hist.skipped and hist.X_skipped is not None
        (p,) = Surrogates(exploration=0.0).problems(hist, np.random.default_rng(0), 1)
        (c,) = p.constraints
        assert c.name == "g" and c.exact is None
        Xall = np.concatenate([hist.X, hist.X_skipped])
        y = np.array([t.constraints["g"] for t in [*hist.trials, *hist.skipped]])
        post = fit_quadratic(Xall, y / np.sqrt(np.mean(y**2)), SIZES)
        np.testing.assert_allclose(c.model.w, post.mean, rtol=0, atol=1e-10)


class TestDirections:
    def test_a_maximised_value_is_fitted_to_the_ranks_of_its_negative(self) -> None:
        """No objective given: the study's direction decides (maximise: higher first)."""
        X = _archs()
        rows = X[np.random.default_rng(7).permutation(72)[:20]]
        table = _table(8)
        study = optuna.create_study(direction="maximize")
        dists = _dists()
        for x in rows:
            study.add_trial(optuna.trial.create_trial(
                value=float(table[tuple(x)]),
                params=dict(zip(dists, (int(v) for v in x), strict=True)),
                distributions=dists))  # fmt: skip
        number = study.ask(dists).number
        hist = QUBOSampler(seed=0)._history(study, study.get_trials(deepcopy=False)[number], dists)
        (p,) = Surrogates(exploration=0.0).problems(hist, np.random.default_rng(0), 1)
        v = np.array([table[tuple(x)] for x in hist.X])
        post = fit_quadratic(hist.X, rank_scores(-v), SIZES)
        np.testing.assert_allclose(p.model.w, post.mean, rtol=0, atol=1e-10)

    def test_a_maximised_metric_of_several_objectives(self) -> None:
        """``val_accuracy`` (maximised) with ``val_error``: whichever is minimised or
        bounded, its model is the posterior mean of the ranks of ``-accuracy``."""
        X = _archs()
        rows = X[np.random.default_rng(9).permutation(72)[:20]]
        te, ta = _table(10), _table(11)
        hist = _history(rows, lambda x: [float(te[tuple(x)]), float(ta[tuple(x)])],
                        metrics=lambda x: {"val_error": float(te[tuple(x)]),
                                           "val_accuracy": float(ta[tuple(x)])},
                        directions=2)  # fmt: skip
        obj = Objective(["val_error", "val_accuracy"])
        acc = np.array([ta[tuple(x)] for x in hist.X])
        err = np.array([te[tuple(x)] for x in hist.X])
        m_acc = QuadraticModel(SIZES, fit_quadratic(hist.X, rank_scores(-acc), SIZES).mean)
        m_err = QuadraticModel(SIZES, fit_quadratic(hist.X, rank_scores(err), SIZES).mean)
        names = set()
        for p in Surrogates(objective=obj, exploration=0.0).problems(
            hist, np.random.default_rng(0), 12
        ):
            (c,) = p.constraints
            names.add(c.name)
            bounded, minimised = (m_acc, m_err) if c.name == "val_accuracy<=eps" else (m_err, m_acc)
            np.testing.assert_allclose(p.model.energy(X), minimised.energy(X), atol=1e-9)
            assert np.ptp(bounded.energy(X) - c.model.energy(X)) < 1e-9
        assert names == {"val_accuracy<=eps", "val_error<=eps"}


class TestSurrogateKinds:
    def test_fm_samples_are_members_of_its_ensemble(self) -> None:
        """``surrogate="fm"``: every Thompson sample is one of the ensemble's 8
        machines, so 24 samples repeat; BOCS's Gaussian samples never do."""
        rows = _archs()[np.random.default_rng(0).permutation(72)[:15]]
        table = _table(1)
        hist = _history(rows, lambda x: [float(table[tuple(x)])])
        rng = np.random.default_rng(0)
        fm = {
            tuple(p.model.w.round(12)) for p in Surrogates(surrogate="fm").problems(hist, rng, 24)
        }
        bocs = {tuple(p.model.w.round(12)) for p in Surrogates().problems(hist, rng, 24)}
        assert len(fm) <= 8 and len(bocs) == 24

    def test_bocs_plus_gp_is_the_average_of_the_two_means(self) -> None:
        from quarch.search._gp import fit_gp_quadratic

        rows = _archs()[np.random.default_rng(2).permutation(72)[:15]]
        table = _table(2)
        hist = _history(rows, lambda x: [float(table[tuple(x)])])
        (p,) = Surrogates(surrogate="bocs+gp", exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        y = rank_scores(np.array([table[tuple(x)] for x in hist.X]))
        gp = fit_gp_quadratic(hist.X, y, SIZES, np.random.default_rng(0))  # all 72: no draws
        bocs = fit_quadratic(hist.X, y, SIZES)
        np.testing.assert_allclose(p.model.w, 0.5 * (bocs.mean + gp.mean), atol=1e-9)

    def test_gp_on_a_space_larger_than_its_design(self) -> None:
        """1280 architectures: the process's design draws from the run's generator;
        with ``exploration=0`` the sample is the projected mean, whose values on the
        trials follow the trials' ranks."""
        sizes = [4, 4, 4, 4, 5]
        rng = np.random.default_rng(3)
        rows = rng.integers(0, sizes, size=(20, 5))
        hist = _history(rows, lambda x: [float(x[0] - x[1] + 0.5 * x[4])], sizes=sizes)
        (p,) = Surrogates(surrogate="gp", exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        truth = hist.X[:, 0] - hist.X[:, 1] + 0.5 * hist.X[:, 4]
        assert np.corrcoef(p.model.energy(hist.X), truth)[0, 1] > 0.9


def test_a_known_objective_listed_first() -> None:
    """``size`` (known) before ``val_error`` (learnt): both objectives are modelled."""
    table = _table(3)
    rows = _archs()[np.random.default_rng(4).permutation(72)[:18]]
    hist = _history(
        rows,
        lambda x: [_cubic(_arch(x))["size"], float(table[tuple(x)])],
        directions=2,
    )
    obj = Objective(["size", "val_error"], directions={"size": "minimize"})
    probs = Surrogates(objective=obj, cheap_metrics=_cubic, exploration=0.0).problems(
        hist, np.random.default_rng(5), 12
    )
    assert {c.name for p in probs for c in p.constraints} == {"size<=eps", "val_error<=eps"}


class TestProblemAssembly:
    def test_cheap_metrics_must_be_callable(self) -> None:
        with pytest.raises(
            ValueError, match=r"cheap_metrics must be callable\(arch\) -> metrics; got 3"
        ):
            Surrogates(cheap_metrics=3)  # type: ignore[arg-type]

    def test_one_trial_and_the_strength(self) -> None:
        hist = _history(_archs()[5:6], lambda x: [1.0])
        (p,) = Surrogates(strength=7.5).problems(hist, np.random.default_rng(0), 1)
        assert p.strength == 7.5
        np.testing.assert_array_equal(p.incumbent, _archs()[5])

    def test_one_weighted_metric(self) -> None:
        """A weighted cost of one metric: ``w * sd * mean``, scaled to a largest
        coefficient of 1."""
        rows = _archs()[np.random.default_rng(1).permutation(72)[:20]]
        table = _table(4)
        hist = _history(rows, lambda x: [2.0 * float(table[tuple(x)])],
                        metrics=lambda x: {"val_error": float(table[tuple(x)])})  # fmt: skip
        obj = Objective(["val_error"], weights=[2.0])
        (p,) = Surrogates(objective=obj, exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        y = np.array([table[tuple(x)] for x in hist.X])
        w = fit_quadratic(hist.X, (y - y.mean()) / y.std(), SIZES).mean
        np.testing.assert_allclose(p.model.w, w / np.abs(w).max(), atol=1e-10)

    def test_budgets_of_several_objectives_and_budgets_without_values(self) -> None:
        """Two objectives and two budgets, one never recorded (nothing to fit: left
        out), one learnt from the trials; each problem keeps the learnt budget and
        adds its epsilon bound, also with the factorisation machine."""
        study = optuna.create_study(directions=["minimize"] * 2)
        dists = _dists()
        table = _table(5)
        for x in _archs()[np.random.default_rng(2).permutation(72)[:16]]:
            study.add_trial(optuna.trial.create_trial(
                values=[float(table[tuple(x)]), float(x.sum())],
                params=dict(zip(dists, (int(v) for v in x), strict=True)),
                distributions=dists, constraints={"latency_ms<=3": float(x[0] - 1.5)}))  # fmt: skip
        number = study.ask(dists).number
        hist = QUBOSampler(seed=0)._history(study, study.get_trials(deepcopy=False)[number], dists)
        obj = Objective(["val_error", "params"], budgets=["memory_kb<=1", "latency_ms<=3"])
        for surrogate in ("bocs", "fm"):
            probs = Surrogates(objective=obj, surrogate=surrogate).problems(
                hist, np.random.default_rng(0), 3
            )
            for p in probs:
                names = [c.name for c in p.constraints]
                assert names[0] == "latency_ms<=3" and len(names) == 2
                assert names[1] in ("val_error<=eps", "params<=eps")


class TestDefaultsAndScreening:
    def test_defaults_are_the_qubo_strategy_s(self) -> None:
        """QIEA and QPSO pass neither exploration nor strength: their screening problems
        are those of a default QUBOSampler (same draws from the same generator), and a
        different spread gives other problems."""
        defaults = inspect.signature(QUBOSampler).parameters
        spread, strength = defaults["exploration"].default, defaults["strength"].default
        obj = Objective(["val_error"], budgets=["size<=4"], directions={"size": "minimize"})
        hist = _history(_archs()[::7], lambda x: [float(np.cos(x).sum())])

        def draw(models: Surrogates) -> Any:
            (p,) = models.problems(hist, np.random.default_rng(3), 1)
            return p

        plain = draw(Surrogates(objective=obj, cheap_metrics=_size))
        named = draw(
            Surrogates(objective=obj, cheap_metrics=_size, exploration=spread, strength=strength)
        )
        wider = draw(
            Surrogates(
                objective=obj, cheap_metrics=_size, exploration=2 * spread, strength=strength
            )
        )
        assert plain.strength == strength == named.strength
        np.testing.assert_array_equal(plain.model.w, named.model.w)
        assert not np.allclose(plain.model.w, wider.model.w)

    def test_screen_before_two_trials_takes_the_first_known_to_meet_the_budgets(self) -> None:
        """Brute force over the candidates: the first with ``size <= 1``, else the first."""
        obj = Objective(["val_error"], budgets=["size<=1"], directions={"size": "minimize"})
        hist = _history(_archs()[:1], lambda x: [0.5])
        models = Surrogates(objective=obj, cheap_metrics=_size)
        rng = np.random.default_rng(0)
        for cands in ([[1, 1, 0, 0], [2, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]],
                      [[2, 2, 0, 0], [1, 1, 1, 0], [0, 3, 0, 0]]):  # fmt: skip
            sizes = [sum(c) for c in cands]
            ok = [s <= 1 for s in sizes]
            want = ok.index(True) if any(ok) else 0
            assert screen(models, hist, rng, cands) == want


def _score(arch: Mapping[str, Any]) -> dict[str, float]:
    """A known metric to maximise, skewed (its negative has another range) and cubic."""
    x = [int(arch[f"c{j}"]) for j in range(len(arch))]
    return {"score": float(x[0] ** 2 + 0.5 * x[1] + 0.7 * x[0] * x[1] * x[2] + (x[3] == 1))}


class TestKnownMaximisedObjective:
    """``val_error`` (learnt) and ``score`` (known, maximised): the model minimises
    ``-score`` in units of its spread, whichever objective a problem minimises."""

    OBJ = Objective(["val_error", "score"], directions={"score": "maximize"})

    def test_the_known_metric_enters_as_its_negative(self) -> None:
        table = _table(12)
        rows = _archs()[np.random.default_rng(13).permutation(72)[:18]]
        hist = _history(
            rows,
            lambda x: [float(table[tuple(x)]), _score(_arch(x))["score"]],
            directions=2,
        )
        probs = Surrogates(objective=self.OBJ, cheap_metrics=_score, exploration=0.0).problems(
            hist, np.random.default_rng(14), 40
        )
        X = _archs()
        v = np.array([_score(_arch(x))["score"] for x in X])
        z = (v - v.mean()) / v.std()  # over every architecture: the fit's design
        Phi = features(X, SIZES)
        fit = Phi @ np.linalg.lstsq(Phi, z, rcond=None)[0]
        neg_trials = -(np.array([_score(_arch(x))["score"] for x in hist.X]) - v.mean()) / v.std()
        assert -neg_trials.min() != neg_trials.max()  # the sign shows in the bounds' range
        names = set()
        for p in probs:
            (c,) = p.constraints
            names.add(c.name)
            if c.name == "val_error<=eps":  # minimises -score
                np.testing.assert_allclose(p.model.energy(X), -fit, atol=1e-6)
            else:
                assert c.name == "score<=eps"
                eps = -z - c.values(X)
                assert np.ptp(eps) < 1e-9  # exact: -score in units of its spread, shifted
                assert neg_trials.min() - 1e-9 <= eps[0] <= neg_trials.max() + 1e-9
                np.testing.assert_allclose(c.model.energy(X), -fit - eps[0], atol=1e-6)
        assert names == {"val_error<=eps", "score<=eps"}


class TestIncumbent:
    def test_the_incumbent_is_the_cheapest_trial_as_option_indices(self) -> None:
        """Brute force over the trials: the one of least cost under the sample, as
        integer option indices (what the docstring of ``QUBOProblem.incumbent`` says)."""
        obj = Objective(["val_error"], budgets=["size<=3"], directions={"size": "minimize"})
        rows = _archs()[np.random.default_rng(15).permutation(72)[:12]]
        table = _table(16)
        hist = _history(rows, lambda x: [float(table[tuple(x)])])
        for p in Surrogates(objective=obj, cheap_metrics=_size).problems(
            hist, np.random.default_rng(17), 4
        ):
            cost = p.cost(hist.X)
            assert np.issubdtype(p.incumbent.dtype, np.integer)
            np.testing.assert_array_equal(p.incumbent, hist.X[int(np.argmin(cost))])


class TestConstantWeightedMetric:
    def test_a_metric_that_never_varied_enters_in_its_own_units(self) -> None:
        """``params`` equal on every trial: its standardised target is 0 and its draw
        enters ``sum_i w_i sd_i draw_i`` with ``sd = 1`` (its own units, as a known
        metric without spread), the draws taken from the run's generator after the
        fitting seed (the order ``problems`` documents: every draw from ``rng``)."""
        rows = _archs()[np.random.default_rng(18).permutation(72)[:20]]
        table = _table(19)
        hist = _history(rows, lambda x: [float(table[tuple(x)] + 3 * 7.0)],
                        metrics=lambda x: {"val_error": float(table[tuple(x)]),
                                           "params": 7.0})  # fmt: skip
        obj = Objective(["val_error", "params"], weights=[1.0, 3.0])
        (p,) = Surrogates(objective=obj).problems(hist, np.random.default_rng(20), 1)
        a = np.array([table[tuple(x)] for x in hist.X])
        rng = np.random.default_rng(20)
        rng.integers(2**63 - 1)  # the fitting generator's seed
        d_err = fit_quadratic(hist.X, (a - a.mean()) / a.std(), SIZES).draw(rng)
        d_params = fit_quadratic(hist.X, np.zeros(len(a)), SIZES).draw(rng)
        w = 1.0 * a.std() * d_err + 3.0 * 1.0 * d_params
        np.testing.assert_allclose(p.model.w, w / np.abs(w).max(), rtol=0, atol=1e-10)


class TestKnownDesign:
    def test_a_large_space_is_fitted_on_the_documented_design(self) -> None:
        """1280 architectures, a cubic known metric (no quadratic fits it exactly): the
        budget's model is numpy's least-squares fit of ``(size - limit) / sd`` over the
        1024 uniform draws of ``numpy.random.default_rng(0)`` the module docstring
        names, with ``sd`` the metric's spread over those draws."""
        sizes = [4, 4, 4, 4, 5]
        obj = Objective(["val_error"], budgets=["size<=2"], directions={"size": "minimize"})
        rows = np.random.default_rng(21).integers(0, sizes, size=(8, 5))
        hist = _history(rows, lambda x: [float(x.sum())], sizes=sizes)
        (p,) = Surrogates(objective=obj, cheap_metrics=_slow_size, exploration=0.0).problems(
            hist, np.random.default_rng(22), 1
        )
        (c,) = p.constraints
        design = np.random.default_rng(0).integers(0, sizes, size=(1024, 5))
        v = np.array([_slow_size(_arch(x))["size"] for x in design])
        Phi = features(design, sizes)
        coef = np.linalg.lstsq(Phi, (v - 2.0) / v.std(), rcond=None)[0]
        X = _archs(sizes)
        np.testing.assert_allclose(c.model.energy(X), features(X, sizes) @ coef, atol=1e-6)


class TestFittingStream:
    @pytest.mark.parametrize("seed", [0, 1])
    def test_fits_that_draw_use_the_documented_generator(self, seed: int) -> None:
        """``surrogate="fm"`` without spread: the sample is the mean of ``fit_fm`` on
        the rank scores with ``default_rng(rng.integers(2**63 - 1))`` (the docstring's
        generator), so the same run seed gives the same fit and another seed another."""
        from quarch.search._fm import fit_fm

        rows = _archs()[np.random.default_rng(23).permutation(72)[:12]]
        table = _table(24)
        hist = _history(rows, lambda x: [float(table[tuple(x)])])
        (p,) = Surrogates(surrogate="fm", exploration=0.0).problems(
            hist, np.random.default_rng(seed), 1
        )
        y = rank_scores(np.array([table[tuple(x)] for x in hist.X]))
        fit_rng = np.random.default_rng(np.random.default_rng(seed).integers(2**63 - 1))
        np.testing.assert_allclose(
            p.model.w, fit_fm(hist.X, y, SIZES, rng=fit_rng).mean, rtol=0, atol=1e-12
        )
