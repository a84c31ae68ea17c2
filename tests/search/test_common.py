"""Ranking and history shared by the population strategies, against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import TrialState, create_trial

import quarch.search
from quarch.objectives import pareto_mask
from quarch.search import QIEASampler, RandomSampler
from quarch.search._common import (
    History,
    PopulationSampler,
    _crowding,
    check_float,
    check_int,
    order_trials,
    violation,
)

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
        # every trial's fallback is seeded apart: 200 distinct real draws
        assert len({p["lr"] for p in params}) == 200
        # log-uniform: half the draws below 10^-2.5 (a linear draw puts 2.2 % there);
        # 200 draws keep the fraction within 0.35-0.65 with probability > 0.9999
        below = np.mean([p["lr"] < 10**-2.5 for p in params])
        assert 0.35 < below < 0.65
        # the same seed, the same draws (the fallback is seeded per trial and name)
        again = optuna.create_study(sampler=cls(seed=0))
        again.optimize(f, n_trials=20)
        assert [t.params for t in again.trials] == params[:20]


# -- crowding distance and the order inside a Pareto front ---------------------------------
def _optuna_crowding(column: np.ndarray) -> np.ndarray:
    """Optuna's NSGA-II crowding distance of one objective (trials in number order)."""
    from optuna.samplers.nsgaii._elite_population_selection_strategy import (
        _calc_crowding_distance,
    )

    population = [_trial(i, [float(v)]) for i, v in enumerate(column)]
    dist = _calc_crowding_distance(list(population))
    return np.array([dist[i] for i in range(len(column))])


def _reference_crowding(losses: np.ndarray) -> np.ndarray:
    """The NSGA-II distance: the sum over objectives of Optuna's per-objective distance."""
    return sum(
        (_optuna_crowding(losses[:, k]) for k in range(losses.shape[1])), np.zeros(len(losses))
    )


def _fronts(losses: np.ndarray) -> np.ndarray:
    """Pareto ranks by brute force: peel off the non-dominated points again and again."""
    rank = np.full(len(losses), -1)
    f = 0
    while (rank < 0).any():
        left = np.flatnonzero(rank < 0)
        for i in left:
            others = losses[left]
            dominated = np.any(np.all(others <= losses[i], 1) & np.any(others < losses[i], 1))
            if not dominated:
                rank[i] = f
        f += 1
    return rank


class TestCrowding:
    """``_crowding`` against Optuna's NSGA-II crowding distance (objectives with a spread)."""

    @pytest.mark.parametrize("seed", range(6))
    def test_crowding_is_optunas_with_ties(self, seed: int) -> None:
        # integer tenths: ties in every objective, spans below and above 1; more than 16
        # points, where an unstable sort breaks the ties of the boundary differently
        rng = np.random.default_rng(seed)
        n, m = int(rng.integers(3, 26)), int(rng.integers(2, 4))
        losses = rng.integers(-6, 7, size=(n, m)) / (10.0 if seed % 2 else 1.0)
        losses[0] = losses[:, :].min(0) - 1  # a spread in every objective
        np.testing.assert_array_equal(_crowding(losses), _reference_crowding(losses))

    def test_three_points_have_one_finite_distance(self) -> None:
        losses = np.array([[0.0, 0.5], [0.25, 0.2], [1.0, 0.0]])
        # the middle point: its neighbours' gaps over each span, (1 - 0) / 1 + (0.5 - 0) / 0.5
        np.testing.assert_array_equal(_crowding(losses), [np.inf, 2.0, np.inf])

    def test_one_or_two_points_are_boundary_points(self) -> None:
        assert list(_crowding(np.array([[1.0, 2.0]]))) == [np.inf]
        assert list(_crowding(np.array([[1.0, 2.0], [2.0, 1.0]]))) == [np.inf, np.inf]

    def test_an_objective_without_spread_adds_nothing_in_between(self) -> None:
        # three objectives, the first the same for every point: the points inside get
        # Optuna's distance over the others (Optuna ignores an objective without spread)
        losses = np.array([[1.0, 0.0, 4.0], [1.0, 1.0, 3.0], [1.0, 2.0, 1.0], [1.0, 4.0, 0.0]])
        dist = _crowding(losses)
        ref = _reference_crowding(losses)
        np.testing.assert_array_equal(dist[1:3], ref[1:3])
        assert np.isfinite(dist[1:3]).all()


class TestOrderAgainstNSGAII:
    @pytest.mark.parametrize("seed", range(4))
    def test_fronts_then_crowding_larger_first_then_number(self, seed: int) -> None:
        """Brute-force fronts, Optuna's crowding inside each front, ties by trial number;
        infeasible trials after, by violation then number."""
        rng = np.random.default_rng(seed)
        vals = rng.integers(0, 10, size=(60, 2)).astype(float)
        vals = np.unique(vals, axis=0)[rng.permutation(len(np.unique(vals, axis=0)))]
        n = len(vals)
        cons = [[0.5 * int(rng.integers(3))] if i % 4 == 0 else [-1.0] for i in range(n)]
        trials = [_trial(i, list(v), c) for i, (v, c) in enumerate(zip(vals, cons, strict=True))]
        losses = vals * [1.0, -1.0]  # (MIN, MAX)
        viol = np.array([max(0.0, c[0]) for c in cons])
        ok = viol == 0
        fronts = np.zeros(n, dtype=int)
        crowd = np.zeros(n)
        idx = np.flatnonzero(ok)
        fronts[idx] = _fronts(losses[idx])
        for f in np.unique(fronts[idx]):
            members = idx[fronts[idx] == f]
            crowd[members] = _reference_crowding(losses[members]) if len(members) > 2 else np.inf
        key = [
            (0, 0.0, int(fronts[i]), -crowd[i], i) if ok[i] else (1, viol[i], 0, 0.0, i)
            for i in range(n)
        ]
        expected = sorted(range(n), key=lambda i: key[i])
        assert max(np.bincount(fronts[idx])) >= 4  # fronts where crowding decides
        rank = order_trials(trials, [MIN, MAX])
        assert [int(i) for i in np.argsort(rank)] == expected

    def test_values_at_the_edge_of_the_float_range(self) -> None:
        # any finite float is a valid objective value: 1e308 before 1.7e308 (minimise)
        trials = [_trial(0, [1.7e308]), _trial(1, [1e308]), _trial(2, [-1.7e308])]
        assert list(np.argsort(order_trials(trials, [MIN]))) == [2, 1, 0]
        assert list(np.argsort(order_trials(trials, [MAX]))) == [0, 1, 2]
        up = [_trial(0, [1e308]), _trial(1, [1.7e308])]  # the later trial the larger
        assert list(np.argsort(order_trials(up, [MAX]))) == [1, 0]
        assert list(np.argsort(order_trials(up, [MIN]))) == [0, 1]
        two = [_trial(0, [1.7e308, 0.0]), _trial(1, [1e308, 0.0])]
        assert list(np.argsort(order_trials(two, [MIN, MIN]))) == [1, 0]
        assert list(np.argsort(order_trials(two, [MAX, MIN]))) == [0, 1]
        # an int value too large for int64 (create_trial keeps ints) is a number like any
        big = [_trial(0, [10**30, 0]), _trial(1, [1, 0]), _trial(2, [0, 1])]
        assert list(np.argsort(order_trials(big, [MIN, MIN]))) == [1, 2, 0]
        assert list(np.argsort(order_trials(big[:2], [MIN]))) == [1, 0]

    def test_equal_violations_keep_the_trial_order(self) -> None:
        # violations 0.5 (below 1) tie: the earlier trial first, whatever the values
        trials = [_trial(0, [5.0], [0.5]), _trial(1, [1.0], [0.5]), _trial(2, [9.0], [-1.0])]
        assert list(np.argsort(order_trials(trials, [MIN]))) == [2, 0, 1]
        assert list(np.argsort(order_trials(trials, [MAX]))) == [2, 0, 1]

    def test_places_are_integer_positions(self) -> None:
        trials = [_trial(i, [float(v)]) for i, v in enumerate([3, 1, 2, 0])]
        rank = order_trials(trials, [MIN])
        inverse = np.empty(4, dtype=int)
        inverse[rank] = np.arange(4)  # a place indexes the trials in their order
        assert list(inverse) == [3, 1, 2, 0]
        empty = order_trials([], [MIN])
        assert empty.shape == (0,)
        assert np.arange(3)[empty].shape == (0,)  # indexes like the places of n > 0


# -- the study as a strategy sees it ----------------------------------------------------------
_SPACE = {"a": CategoricalDistribution([0, 1, 2]), "b": CategoricalDistribution(["x", "y"])}


def _frozen(
    state: TrialState,
    params: dict[str, object],
    value: float | None = None,
    cons: list[float] | None = None,
) -> optuna.trial.FrozenTrial:
    return create_trial(
        state=state,
        value=value,
        params=params,
        distributions={k: _SPACE[k] for k in params},
        system_attrs={"constraints": cons} if cons is not None else {},
    )


class TestHistory:
    def _study(self) -> optuna.Study:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study()
        C, P, F = TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL
        study.add_trial(_frozen(C, {"a": 1, "b": "y"}, 1.0))  # 0
        study.add_trial(_frozen(C, {"a": 2}, 0.0))  # 1: "b" unset, not this space's
        study.add_trial(_frozen(C, {"a": 0, "b": "x"}, 3.0))  # 2: the trial proposed for
        study.add_trial(_frozen(P, {"a": 2, "b": "x"}, cons=[1.0]))  # 3: skipped
        study.add_trial(_frozen(F, {"a": 1, "b": "x"}, cons=[2.0]))  # 4: failed
        study.add_trial(_frozen(P, {"a": 0, "b": "y"}))  # 5: pruned, no constraints
        t = study.ask({"a": _SPACE["a"], "b": _SPACE["b"]})  # 6: pruned with a value
        t.report(0.5, 0)
        study.tell(t, state=TrialState.PRUNED)
        study.add_trial(_frozen(C, {"a": 2, "b": "y"}, 2.0))  # 7
        study.add_trial(_frozen(P, {"a": 1, "b": "y"}, cons=[0.5, -1.0]))  # 8: skipped
        return study

    def test_trials_seen_and_skipped_as_documented(self) -> None:
        study = self._study()
        assert study.trials[6].state == TrialState.PRUNED and study.trials[6].values == [0.5]
        hist = _Fixed()._history(study, study.trials[2], dict(_SPACE))
        # brute force over the study: the documented classes of trials
        both = [t for t in study.trials if t.number != 2 and set(t.params) == {"a", "b"}]
        done = [t.number for t in both if t.state == TrialState.COMPLETE]
        skipped = [t.number for t in both if t.state == TrialState.PRUNED and t.constraints]
        assert [t.number for t in hist.trials] == done == [0, 7]
        assert [t.number for t in hist.skipped] == skipped == [3, 8]

        def idx(t: optuna.trial.FrozenTrial) -> tuple[int, ...]:
            return (
                _SPACE["a"].choices.index(t.params["a"]),
                _SPACE["b"].choices.index(t.params["b"]),
            )

        assert hist.seen == {idx(t) for t in both}
        assert hist.X.tolist() == [list(idx(t)) for t in hist.trials]
        assert hist.X_skipped is not None
        assert hist.X_skipped.tolist() == [list(idx(t)) for t in hist.skipped]
        # option indices index the options
        for j, name in enumerate(hist.names):
            opts = np.array(hist.choices[j], dtype=object)
            assert list(opts[hist.X[:, j]]) == [t.params[name] for t in hist.trials]
            assert list(opts[hist.X_skipped[:, j]]) == [t.params[name] for t in hist.skipped]
        assert hist.arch(hist.X[1]) == study.trials[7].params

    def test_an_empty_history_has_index_arrays_of_the_space_width(self) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study()
        study.add_trial(_frozen(TrialState.FAIL, {"a": 1, "b": "x"}))
        study.add_trial(_frozen(TrialState.PRUNED, {"a": 2, "b": "x"}, cons=[1.0]))
        hist = _Fixed()._history(study, study.trials[1], dict(_SPACE))
        assert hist.trials == [] and hist.skipped == []
        assert hist.X.shape == (0, 2)
        assert hist.X_skipped is not None and hist.X_skipped.shape == (0, 2)
        # a (possibly empty) block of indices concatenates and indexes as indices
        both = np.concatenate([hist.X, hist.X_skipped])
        assert np.array(hist.choices[0], dtype=object)[both[:, 0]].shape == (0,)
        # the skipped trial before (trial 1 is the one proposed for) is its only row
        only = _Fixed()._history(study, study.trials[0], dict(_SPACE))
        assert only.X.shape == (0, 2) and only.X_skipped is not None
        assert np.concatenate([only.X, only.X_skipped]).tolist() == [[2, 0]]
        assert np.arange(3)[np.concatenate([only.X, only.X_skipped])[:, 0]].tolist() == [2]

    def test_an_architecture_needs_one_index_per_parameter(self) -> None:
        hist = _Fixed()._history(self._study(), self._study().trials[2], dict(_SPACE))
        assert hist.arch([2, 1]) == {"a": 2, "b": "y"}
        with pytest.raises(ValueError):
            hist.arch([2])
        with pytest.raises(ValueError):
            hist.arch([2, 1, 0])

    def test_a_proposal_needs_one_index_per_parameter(self) -> None:
        study = self._study()
        for prop in ([1], [1, 0, 0]):
            sampler = _Fixed(prop)
            with pytest.raises(ValueError):
                sampler.sample_relative(study, study.trials[2], dict(_SPACE))
        assert _Fixed([1, 0]).sample_relative(study, study.trials[2], dict(_SPACE)) == {
            "a": 1,
            "b": "x",
        }

    def test_an_inferred_space_names_every_parameter_in_the_state_key(self) -> None:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(sampler=QIEASampler(seed=0, n_quantum=2, observations=2))

        def f(t: optuna.Trial) -> float:
            return float(
                t.suggest_categorical("k", [1, 2, 3]) + t.suggest_categorical("w", [1, 2, 4, 8])
            )

        study.optimize(f, n_trials=6)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert "QIEASampler:generation:[k/3,w/4]:0" in attrs


class _Fixed(PopulationSampler):
    """A strategy that proposes a fixed proposal (or a uniform one)."""

    def __init__(self, prop: list[int] | None = None) -> None:
        super().__init__(seed=0)
        self._prop = prop

    def _propose(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial, hist: History
    ) -> list[int]:
        return list(self._prop) if self._prop is not None else self._uniform(hist, self._rng(0))


def _bare(sizes: list[int], seen: set[tuple[int, ...]]) -> History:
    return History(
        names=[f"c{j}" for j in range(len(sizes))],
        sizes=sizes,
        trials=[],
        X=np.zeros((0, len(sizes)), dtype=int),
        rank=np.zeros(0, dtype=int),
        seen=seen,
        directions=[MIN],
    )


class TestProposals:
    def test_a_mutation_changes_one_parameter_with_options_to_spare(self) -> None:
        sampler = _Fixed()
        hist = _bare([1, 3, 1, 2], set())
        reached = set()
        for s in range(60):
            out = sampler._mutate([0, 1, 0, 1], hist, np.random.default_rng(s))
            diff = [j for j in range(4) if out[j] != [0, 1, 0, 1][j]]
            assert len(diff) == 1 and diff[0] in (1, 3)
            reached.add(tuple(out))
        # brute force: every neighbour through a parameter with more than one option
        assert reached == {(0, 0, 0, 1), (0, 2, 0, 1), (0, 1, 0, 0)}

    def test_unique_draws_attempts_in_order_until_an_unseen_one(self) -> None:
        sampler = _Fixed()
        calls: list[int] = []

        def draw(attempt: int) -> list[int]:
            calls.append(attempt)
            return [attempt]

        assert sampler._unique(draw, {(0,), (1,), (2,)}) == [3]
        assert calls == [0, 1, 2, 3]
        calls.clear()
        assert sampler._unique(draw, {(k,) for k in range(10)}, tries=5) == [4]  # gives up
        assert calls == [0, 1, 2, 3, 4]

    @pytest.mark.parametrize("sizes", [[400, 500], [3, 66667]])
    def test_a_nearly_exhausted_space_is_enumerated_up_to_200000(self, sizes: list[int]) -> None:
        """At most 200 000 architectures: the one unseen is found; above, 25 seen draws
        give up (the documented bound on the enumeration)."""
        last = (sizes[0] - 1, sizes[1] - 2)
        seen: set[tuple[int, ...]] = set(itertools.product(range(sizes[0]), range(sizes[1])))
        seen.discard(last)
        prop = _Fixed()._uniform(_bare(sizes, seen), np.random.default_rng(0))
        if sizes[0] * sizes[1] <= 200_000:
            assert tuple(prop) == last
        else:
            assert tuple(prop) in seen

    def test_fallback_draws_are_independent_of_each_other_and_of_the_proposal(self) -> None:
        """One stream per (trial, parameter), apart from the strategy's own: a relative
        choice and three fallback choices of 1000 options rarely agree."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        big = CategoricalDistribution(list(range(1000)))
        sampler = quarch.search.RegEvoSampler(population_size=50, seed=0, search_space={"k": big})
        study = optuna.create_study(sampler=sampler)

        def f(t: optuna.Trial) -> float:
            return float(
                sum(t.suggest_categorical(n, list(range(1000))) for n in ("k", "", "a", "b"))
            )

        study.optimize(f, n_trials=30)
        params = [t.params for t in study.trials]
        for u, v in itertools.combinations(("k", "", "a", "b"), 2):
            assert sum(p[u] == p[v] for p in params) <= 2, (u, v)
