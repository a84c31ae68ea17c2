"""Ranking and history shared by the population strategies, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import create_trial

import quarch.search
from quarch.objectives import pareto_mask
from quarch.search import QIEASampler, RandomSampler
from quarch.search._common import check_float, check_int, order_trials, violation

MIN, MAX = StudyDirection.MINIMIZE, StudyDirection.MAXIMIZE


def _trial(
    number: int, values: list[float], cons: list[float] | None = None
) -> optuna.trial.FrozenTrial:
    t = create_trial(
        values=values,
        system_attrs={"constraints": cons} if cons is not None else {},
    )
    t.number = number
    return t


class TestOrder:
    def test_single_objective_with_constraints(self) -> None:
        rng = np.random.default_rng(0)
        trials = []
        for i in range(40):
            cons = [float(rng.normal()), float(rng.normal())] if i % 3 else None
            v = float(rng.integers(5))  # many ties: broken by trial number
            trials.append(_trial(i, [v], cons))
        for d, sgn in ((MIN, 1), (MAX, -1)):
            rank = order_trials(trials, [d])

            def key(t: optuna.trial.FrozenTrial, sgn: int = sgn) -> tuple:
                viol = sum(max(0.0, g) for g in (t.system_attrs.get("constraints") or []))
                return (viol > 0, viol, sgn * t.values[0] if viol == 0 else 0, t.number)

            expected = sorted(range(len(trials)), key=lambda i: key(trials[i]))
            assert [int(i) for i in np.argsort(rank)] == expected

    def test_violation(self) -> None:
        assert violation(_trial(0, [1.0], [0.5, -2.0, 1.5])) == pytest.approx(2.0)
        assert violation(_trial(0, [1.0])) == 0.0

    def test_multi_objective_first_front_is_pareto(self) -> None:
        rng = np.random.default_rng(1)
        vals = rng.integers(0, 6, size=(30, 2)).astype(float)
        trials = [_trial(i, list(v)) for i, v in enumerate(vals)]
        rank = order_trials(trials, [MIN, MAX])
        front = pareto_mask(vals, ["minimize", "maximize"])
        # Every Pareto trial comes before every dominated one.
        assert rank[front].max() < rank[~front].min()
        # Brute-force dominance: a dominated trial never precedes its dominator.
        for i, j in itertools.permutations(range(30), 2):
            a, b = vals[i] * [1, -1], vals[j] * [1, -1]
            if np.all(a <= b) and np.any(a < b):
                assert rank[i] < rank[j]

    def test_infeasible_last_in_multi(self) -> None:
        trials = [_trial(0, [0.0, 0.0], [1.0]), _trial(1, [5.0, 5.0]), _trial(2, [1.0, 1.0], [0.5])]
        assert list(np.argsort(order_trials(trials, [MIN, MIN]))) == [1, 2, 0]


class TestChecks:
    def test_check_int(self) -> None:
        with pytest.raises(ValueError, match=r"n must be an integer \[1, 3\]; got 4"):
            check_int("n", 4, 1, 3)
        with pytest.raises(ValueError, match=r"n must be an integer >= 1; got True"):
            check_int("n", True, 1)

    def test_check_float(self) -> None:
        with pytest.raises(ValueError, match=r"x must be in \(0.0, 1.0\]; got 0"):
            check_float("x", 0, 0.0, 1.0, low_open=True)
        with pytest.raises(ValueError, match=r"x must be in \[0.0, 1.0\]; got 'a'"):
            check_float("x", "a", 0.0, 1.0)  # type: ignore[arg-type]

    def test_seed_and_space_checked(self) -> None:
        with pytest.raises(ValueError, match=r"seed must be an integer >= 0; got -1"):
            QIEASampler(seed=-1)
        with pytest.raises(ValueError, match=r"CategoricalDistribution; \['x'\] are not"):
            QIEASampler(search_space={"x": FloatDistribution(0, 1)})  # type: ignore[dict-item]


class TestFallbacks:
    def test_inferred_space_and_non_categorical(self) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=QIEASampler(seed=0, n_quantum=2, observations=2))

        def f(t: optuna.Trial) -> float:
            k = t.suggest_categorical("k", [1, 2, 3])
            x = t.suggest_float("x", -1.0, 1.0)
            return k + x

        study.optimize(f, n_trials=12)
        assert len(study.trials) == 12
        assert all(-1 <= t.params["x"] <= 1 and t.params["k"] in (1, 2, 3) for t in study.trials)
        # After the first trial the categorical is proposed relatively (QIEA state exists,
        # under a key that names the inferred space).
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert "QIEASampler:generation:[k/3]:0" in attrs
        assert isinstance(
            study.sampler.infer_relative_search_space(study, study.trials[-1])["k"],
            CategoricalDistribution,
        )


# Every sampler class quarch exports, as a user of a plain Optuna study would take it
# (the grid enumerates a quarch Space it is built with: not for an Optuna objective).
_SAMPLERS = [
    getattr(quarch.search, name)
    for name in quarch.search.__all__
    if name.endswith("Sampler") and name != "GridSampler"
]


class TestPlainOptunaStudies:
    """What an Optuna user's own objective may do: conditional parameters, ints, floats."""

    def test_every_sampler_is_here(self) -> None:
        assert len(_SAMPLERS) == 12 and QIEASampler in _SAMPLERS

    @pytest.mark.parametrize("cls", _SAMPLERS, ids=lambda c: c.__name__)
    def test_a_space_that_changes_after_the_startup(self, cls: type) -> None:
        # "d" is set by the first 14 trials only: the inferred space (the intersection of
        # the completed trials) loses it once trial 14 completes, after every strategy's
        # startup, so state made for {k, w, d} must not be read for {k, w}.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=cls(seed=0))

        def f(t: optuna.Trial) -> float:
            k = t.suggest_categorical("k", [1, 2, 3])
            w = t.suggest_categorical("w", [1, 2, 4, 8])
            if t.number < 14:
                t.suggest_categorical("d", ["a", "b"])
            return abs(k - 2) + abs(w - 4)

        study.optimize(f, n_trials=30)
        assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 30
        assert set(study.sampler.infer_relative_search_space(study, study.trials[-1])) <= {
            "k",
            "w",
        }

    @pytest.mark.parametrize("cls", [RandomSampler, QIEASampler], ids=lambda c: c.__name__)
    def test_ints_and_floats_drawn_as_optuna_draws_them(self, cls: type) -> None:
        # Before: uniform(low, high) cast to int never gave an int's upper bound, and a
        # log or stepped float was drawn on the linear scale.
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=cls(seed=0))

        def f(t: optuna.Trial) -> float:
            t.suggest_categorical("k", [1, 2])
            t.suggest_int("n", 1, 4)
            t.suggest_int("m", 2, 10, step=4)
            t.suggest_float("lr", 1e-4, 1e-1, log=True)
            t.suggest_float("s", 0.0, 1.0, step=0.25)
            return 0.0

        study.optimize(f, n_trials=200)
        params = [t.params for t in study.trials]
        assert {p["n"] for p in params} == {1, 2, 3, 4}
        assert {p["m"] for p in params} == {2, 6, 10}
        assert {p["s"] for p in params} == {0.0, 0.25, 0.5, 0.75, 1.0}
        assert all(1e-4 <= p["lr"] <= 1e-1 for p in params)
        # log-uniform: half the draws below 10^-2.5 (a linear draw puts 2.2 % there);
        # 200 draws keep the fraction within 0.35-0.65 with probability > 0.9999
        below = np.mean([p["lr"] < 10**-2.5 for p in params])
        assert 0.35 < below < 0.65
        # the same seed, the same draws (the fallback is seeded per trial and name)
        again = optuna.create_study(sampler=cls(seed=0))
        again.optimize(f, n_trials=20)
        assert [t.params for t in again.trials] == params[:20]
