"""One surrogate per metric, budgets inside the QUBO, metrics known without training,
skipped trials, multi-objective scalarisation and the factorisation machine: checked
against brute force over small spaces and closed forms."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

from quarch.objectives import Objective, hypervolume, pareto_mask
from quarch.search import QUBOSampler
from quarch.search._fm import _coefficients, fit_fm
from quarch.search._models import Surrogates
from quarch.search._problem import Constraint, QUBOProblem
from quarch.search._surrogate import (
    QuadraticModel,
    features,
    fit_known,
    n_features,
    rank_scores,
)
from quarch.space import Choice, Space

SIZES = [3, 4, 3, 2]  # 72 architectures


def _space(sizes: list[int] = SIZES) -> Space:
    return Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(sizes)], name="t")


def _archs(sizes: list[int] = SIZES) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


def _model(seed: int, sizes: list[int] = SIZES, scale: float = 1.0) -> QuadraticModel:
    w = np.random.default_rng(seed).standard_normal(n_features(sizes)) * scale
    return QuadraticModel(sizes, w)


def _onehot(X: np.ndarray, sizes: list[int] = SIZES) -> np.ndarray:
    space = _space(sizes)
    return np.stack([space.to_bits(space.from_indices(list(x))) for x in X]).astype(float)


class TestModelAlgebra:
    def test_main_effects_are_the_least_squares_linear_fit(self) -> None:
        """Over every architecture (the uniform distribution), the main effects are
        the best linear function of the one-hot bits (numpy's least squares)."""
        m = _model(0)
        X = _archs()
        B = _onehot(X)
        coef, *_ = np.linalg.lstsq(B, m.energy(X), rcond=None)
        np.testing.assert_allclose(B @ m.main_effects(), B @ coef, rtol=0, atol=1e-10)

    def test_shift_scale_plus(self) -> None:
        a, b = _model(1), _model(2)
        X = _archs()
        np.testing.assert_allclose(a.shifted(2.5).energy(X), a.energy(X) + 2.5)
        np.testing.assert_allclose(a.scaled(-3).energy(X), -3 * a.energy(X))
        np.testing.assert_allclose(a.plus(b).energy(X), a.energy(X) + b.energy(X))

    def test_fit_known_recovers_a_quadratic_metric_exactly(self) -> None:
        truth = _model(3)
        X = _archs()
        fit = fit_known(X, truth.energy(X), SIZES)
        np.testing.assert_allclose(fit.energy(X), truth.energy(X), atol=1e-6)

    def test_rank_scores_are_standard_normal_scores_in_order(self) -> None:
        loss = np.array([5.0, -1e6, 3.0, 2.0, 90.0])  # an outlier counts as a rank
        r = rank_scores(loss)
        assert r.mean() == pytest.approx(0.0, abs=1e-12) and r.std() == pytest.approx(1.0)
        assert list(np.argsort(r)) == list(np.argsort(loss))
        np.testing.assert_allclose(np.sort(r), np.sort(rank_scores(np.arange(5.0))))


class TestBudgetInTheQUBO:
    def _problem(self, seed: int) -> QUBOProblem:
        rng = np.random.default_rng(seed)
        f = _model(seed, [3, 2, 3])
        g = QuadraticModel([3, 2, 3], rng.standard_normal(n_features([3, 2, 3])) * 0.7)
        h = QuadraticModel([3, 2, 3], rng.standard_normal(n_features([3, 2, 3])) * 0.7)
        cons = (Constraint("g", g.shifted(0.3)), Constraint("h", h.shifted(-1.0)))
        return QUBOProblem(f, np.zeros(3, dtype=np.int64), cons, strength=3.0)

    @pytest.mark.parametrize("seed", range(2))
    def test_slack_qubo_minimised_over_slack_is_the_energy(self, seed: int) -> None:
        """Brute force over every bit vector (one-hot and slack bits): for each valid
        code the smallest QUBO value over the slack bits plus ``offset`` is the
        problem's energy, and the ground state is a valid code."""
        p = self._problem(seed)
        sizes, n = [3, 2, 3], 8
        assert p.n_slack > 0 and p.Q.shape == (n + p.n_slack,) * 2
        N = n + p.n_slack
        bits = ((np.arange(2**N)[:, None] >> np.arange(N - 1, -1, -1)) & 1).astype(float)
        E = ((bits @ p.Q) * bits).sum(1)
        key = bits[:, :n] @ (2.0 ** np.arange(n))  # the one-hot part of each vector
        best = np.full(2**n, np.inf)
        np.minimum.at(best, key.astype(int), E)
        archs = _archs(sizes)
        onehot = _onehot(archs, sizes)
        np.testing.assert_allclose(
            best[(onehot @ (2.0 ** np.arange(n))).astype(int)] + p.offset, p.energy(archs)
        )
        ground = bits[int(np.argmin(E))][:n]
        assert tuple(ground) in {tuple(o) for o in onehot}

    def test_linear_form_is_the_main_effects_rounded(self) -> None:
        """The QUBO's integer form of a budget is its main effects (numpy's least-squares
        linear fit over every architecture) to within the rounding of each choice's
        coefficient and of the constant to 1/UNITS."""
        from quarch.search._problem import UNITS

        p = self._problem(0)
        X = _archs([3, 2, 3])
        B = _onehot(X, [3, 2, 3])
        for c in p.constraints:
            coef, *_ = np.linalg.lstsq(B, c.model.energy(X), rcond=None)
            err = np.abs(c.linear_units(X) / UNITS - B @ coef)
            assert err.max() <= (3 + 1) * 0.5 / UNITS + 1e-9

    def test_cost_ranks_feasible_first(self) -> None:
        p = self._problem(1)
        X = _archs([3, 2, 3])
        ok = p.feasible(X)
        assert ok.any() and (~ok).any()
        cost = p.cost(X)
        assert cost[ok].max() < cost[~ok].min()


def _table(seed: int, sizes: list[int] = SIZES) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(sizes)


def _study(sampler: Any, n: int, *, budget: float | None = None) -> optuna.Study:
    """A study on a random table; the budget limits ``size`` = sum of option indices
    (a metric known without training)."""
    space = _space()
    table = _table(0)
    study = optuna.create_study(sampler=sampler)

    def objective(t: optuna.Trial) -> float:
        x = space.to_indices(space.suggest(t))
        size = float(sum(x))
        t.set_user_attr("metrics", {"val_error": float(table[tuple(x)]), "size": size})
        if budget is not None:
            t.set_constraint(f"size<={budget:g}", size - budget)
        return float(table[tuple(x)])

    study.optimize(objective, n_trials=n)
    return study


def _value(t: FrozenTrial) -> float:
    """The objective value of a completed trial."""
    assert t.value is not None
    return t.value


def _asked(study: optuna.Study, dists: dict[str, BaseDistribution]) -> FrozenTrial:
    """A new trial asked of ``study``, frozen as Optuna hands it to a sampler."""
    number = study.ask(dists).number
    frozen = study.get_trials(deepcopy=False)[number]
    assert frozen.number == number
    return frozen


def _size(arch: Mapping[str, Any]) -> Mapping[str, float]:
    return {"size": float(sum(_space().to_indices(arch)))}


class TestKnownMetrics:
    OBJ = Objective(["val_error"], budgets=["size<=3"], directions={"size": "minimize"})

    def test_a_known_budget_is_never_broken(self) -> None:
        """With the metric known, no proposal breaks the budget (startup included);
        without it, the same sampler proposes some over-budget architectures."""
        kw: dict[str, Any] = {
            "solver": "sa",
            "num_reads": 4,
            "num_sweeps": 100,
            "n_startup": 5,
            "batch_size": 2,
            "seed": 0,
            "search_space": _dists(),
        }
        known = QUBOSampler(**kw, objective=self.OBJ, cheap_metrics=_size)
        study = _study(known, 24, budget=3)  # 28 of the 72 architectures are feasible
        assert all(t.constraints["size<=3"] <= 0 for t in study.trials)
        blind = QUBOSampler(**kw, objective=self.OBJ)
        assert any(t.constraints["size<=3"] > 0 for t in _study(blind, 24, budget=3).trials)

    def test_the_feasible_optimum_is_found(self) -> None:
        table = _table(0)
        X = _archs()
        feasible = X.sum(1) <= 3
        best = table[tuple(X[feasible][np.argmin(table[tuple(X[feasible].T)])])]
        hits = 0
        for seed in range(3):
            s = QUBOSampler(
                solver="sa",
                num_reads=4,
                num_sweeps=100,
                n_startup=5,
                batch_size=2,
                seed=seed,
                objective=self.OBJ,
                cheap_metrics=_size,
                search_space=_dists(),
            )
            study = _study(s, 20, budget=3)
            hits += min(_value(t) for t in study.trials) == pytest.approx(best)
        assert hits >= 2

    def test_skipped_trials_teach_the_budget_model(self) -> None:
        """Pruned trials with constraints (what the search loop records for an
        architecture skipped before training) are the only source of the infeasible
        side of the budget here: the budget is broken exactly where the last choice is
        1, which no completed trial has, so a model fitted to the completed trials
        alone cannot tell (its prior puts that choice's effect at 0, i.e. feasible);
        the fitted model separates feasible from infeasible."""
        study = optuna.create_study()
        dists: dict[str, BaseDistribution] = dict(_dists())  # the type Optuna's calls take
        X = _archs()

        def g_of(x: np.ndarray) -> np.ndarray:
            return 2.0 * x[..., 3] - 1.0 + 0.1 * (x[..., 0] - 1)  # no architecture on 0

        for i in np.random.default_rng(0).permutation(len(X))[:50]:
            x = X[i]
            g = float(g_of(x))
            params = dict(zip(dists, (int(v) for v in x), strict=True))
            if g > 0:  # skipped before training: constraints, no value
                t = optuna.trial.create_trial(
                    state=optuna.trial.TrialState.PRUNED,
                    params=params,
                    distributions=dists,
                    constraints={"c3": g},
                )
            else:
                t = optuna.trial.create_trial(
                    value=float(_table(0)[tuple(x)]),
                    params=params,
                    distributions=dists,
                    constraints={"c3": g},
                )
            study.add_trial(t)
        hist = QUBOSampler(seed=0)._history(study, _asked(study, dists), dists)
        assert len(hist.skipped) == sum(t.state.name == "PRUNED" for t in study.trials) > 0
        assert len(hist.trials) + len(hist.skipped) == 50
        (p,) = Surrogates(exploration=0.0).problems(hist, np.random.default_rng(0), 1)
        (c,) = p.constraints
        truth = g_of(X) <= 0
        assert np.mean((c.values(X) <= 0) == truth) > 0.95


def _dists() -> dict[str, optuna.distributions.CategoricalDistribution]:
    return {
        n: optuna.distributions.CategoricalDistribution(list(range(k)))
        for n, k in zip(_space().names, SIZES, strict=True)
    }


class TestObjectives:
    def test_weighted_cost_is_the_sum_of_per_metric_models(self) -> None:
        """Two metrics, each a quadratic function, weighted 1 and 3: the posterior mean
        of the QUBO objective orders architectures as the true weighted cost does."""
        a, b = _model(5), _model(6)
        X = _archs()
        study = optuna.create_study()
        dists: dict[str, BaseDistribution] = dict(_dists())  # the type Optuna's calls take
        for x in X:
            ma, mb = float(a.energy(x[None])[0]), float(b.energy(x[None])[0])
            study.add_trial(
                optuna.trial.create_trial(
                    value=ma + 3 * mb,
                    params=dict(zip(dists, (int(v) for v in x), strict=True)),
                    distributions=dists,
                    user_attrs={"metrics": {"val_error": ma, "params": mb}},
                )
            )
        obj = Objective(["val_error", "params"], weights=[1, 3])
        hist = QUBOSampler(seed=0)._history(study, _asked(study, dists), dists)
        (p,) = Surrogates(objective=obj, exploration=0.0).problems(
            hist, np.random.default_rng(0), 1
        )
        truth = a.energy(X) + 3 * b.energy(X)
        assert np.corrcoef(p.model.energy(X), truth)[0, 1] > 0.99

    def test_multi_objective_front(self) -> None:
        """Two conflicting quadratic objectives on 72 architectures (11 on the true
        front): in 30 queries the sampler's Pareto sets cover 90 % of the true
        hypervolume on average, more than random search's."""
        X = _archs()
        A, B = _model(11).energy(X), _model(12).energy(X)
        F = np.stack([A, -A + 0.6 * B], 1)
        lut = {tuple(x): f for x, f in zip(X.tolist(), F, strict=True)}
        ref = F.max(0) + 0.1
        true_hv = hypervolume(F[pareto_mask(F, ["minimize"] * 2)], ["minimize"] * 2, ref)
        space = _space()

        def run(sampler: Any) -> float:
            study = optuna.create_study(directions=["minimize"] * 2, sampler=sampler)

            def objective(t: optuna.Trial) -> tuple[float, float]:
                f = lut[tuple(space.to_indices(space.suggest(t)))]
                return float(f[0]), float(f[1])

            study.optimize(objective, n_trials=30)
            V = np.array([t.values for t in study.trials])
            hv = hypervolume(V[pareto_mask(V, ["minimize"] * 2)], ["minimize"] * 2, ref)
            return hv / true_hv

        ours = [
            run(
                QUBOSampler(
                    solver="sa",
                    num_reads=4,
                    num_sweeps=100,
                    batch_size=2,
                    seed=s,
                    search_space=_dists(),
                )
            )
            for s in range(4)
        ]
        rand = [run(optuna.samplers.RandomSampler(seed=s)) for s in range(8)]
        assert np.mean(ours) >= 0.9
        assert np.mean(ours) > np.mean(rand)

    def test_epsilon_bounds_reach_past_the_front(self) -> None:
        """A front that lacks the costly end (its largest ``size`` is below that of a
        dominated trial) must still be extended: some proposals bound ``size`` above
        the front's largest value, so the costly, accurate architectures stay in reach.
        Each bound is read from its constraint's exact values over every architecture."""
        X = _archs()
        table = _table(0)
        study = optuna.create_study(directions=["minimize"] * 2)
        dists: dict[str, BaseDistribution] = dict(_dists())  # the type Optuna's calls take
        for i in np.random.default_rng(1).permutation(len(X))[:20]:
            x = X[i]
            err, size = float(table[tuple(x)]), float(x.sum())
            study.add_trial(
                optuna.trial.create_trial(
                    values=[err, size],
                    params=dict(zip(dists, (int(v) for v in x), strict=True)),
                    distributions=dists,
                    user_attrs={"metrics": {"val_error": err, "size": size}},
                )
            )
        V = np.array([t.values for t in study.trials])
        front_max = V[pareto_mask(V, ["minimize"] * 2), 1].max()
        assert front_max < V[:, 1].max()  # a dominated trial is costlier than the front
        obj = Objective(["val_error", "size"], directions={"size": "minimize"})
        hist = QUBOSampler(seed=0)._history(study, _asked(study, dists), dists)
        problems = Surrogates(objective=obj, cheap_metrics=_size, exploration=0.0).problems(
            hist, np.random.default_rng(0), 200
        )
        allowed = [
            X[c.values(X) <= 0].sum(1).max()
            for p in problems
            for c in p.constraints
            if c.name == "size<=eps" and (c.values(X) <= 0).any()
        ]
        assert len(allowed) > 20 and max(allowed) > front_max


class TestFactorisationMachine:
    def test_coefficients_are_the_machines_predictions(self) -> None:
        """The QUBO coefficients of a machine give, on every architecture, what the
        machine's own formula w0 + w.x + sum_{i<j} <v_i, v_j> x_i x_j gives."""
        rng = np.random.default_rng(0)
        d = sum(SIZES)
        w0, w, V = 0.7, rng.standard_normal(d), rng.standard_normal((d, 3))
        X = _archs()
        B = _onehot(X)
        direct = np.array(
            [
                w0
                + b @ w
                + sum(V[i] @ V[j] * b[i] * b[j] for i in range(d) for j in range(i + 1, d))
                for b in B
            ]
        )
        m = QuadraticModel(SIZES, _coefficients(w0, w, V, SIZES))
        np.testing.assert_allclose(m.energy(X), direct, rtol=0, atol=1e-10)

    def test_fit_ranks_a_low_rank_quadratic(self) -> None:
        rng = np.random.default_rng(1)
        d = sum(SIZES)
        truth = QuadraticModel(
            SIZES, _coefficients(0.0, rng.standard_normal(d), rng.standard_normal((d, 2)), SIZES)
        )
        X = _archs()
        y = truth.energy(X)
        train = rng.choice(len(X), 50, replace=False)
        ens = fit_fm(X[train], (y[train] - y.mean()) / y.std(), SIZES, rng=rng)
        pred = QuadraticModel(SIZES, ens.mean).energy(X)
        assert np.corrcoef(pred, y)[0, 1] > 0.9
        assert ens.members.shape == (8, n_features(SIZES))
        assert not np.allclose(ens.draw(np.random.default_rng(0)), ens.mean)

    def test_fm_surrogate_drives_the_sampler(self) -> None:
        study = _study(
            QUBOSampler(
                solver="sa",
                num_reads=2,
                num_sweeps=50,
                surrogate="fm",
                n_startup=5,
                batch_size=2,
                seed=0,
            ),
            15,
        )
        assert len({tuple(t.params.values()) for t in study.trials}) == 15


def test_features_layout_matches_the_model() -> None:
    """Sanity of the shared layout the two surrogates fill in."""
    m = _model(7)
    X = _archs()
    np.testing.assert_allclose(features(X, SIZES) @ m.w, m.energy(X))


def test_surrogate_name_is_checked() -> None:
    with pytest.raises(
        ValueError, match=r"surrogate must be one of \['bocs', 'fm', 'gp', 'bocs\+gp'\]; got 'rf'"
    ):
        QUBOSampler(surrogate="rf")
