"""Every registered strategy meets the shared contract and solves a small QUBO."""

from __future__ import annotations

import optuna
import pytest

import quarch.search as search
from quarch.benchmark import synthetic_qubo
from quarch.objectives import Objective
from quarch.search import STRATEGIES, make_sampler
from quarch.testing import StrategyTestCase


@pytest.fixture(params=STRATEGIES.names())
def strategy(request: pytest.FixtureRequest) -> str:
    return request.param


class TestStrategies(StrategyTestCase):
    """The contract of :mod:`quarch.testing.strategies`, over every registered name."""


class TestRegistry:
    def test_all_names_exist(self) -> None:
        for name in search.__all__:
            assert hasattr(search, name)

    def test_every_sampler_class_exported(self) -> None:
        from optuna.samplers import BaseSampler

        space, _, _ = synthetic_qubo(0, n_choices=2, n_options=2)
        for name in STRATEGIES.names():
            s = make_sampler(name, seed=0, space=space, objective=Objective(["val_error"]))
            assert isinstance(s, BaseSampler)
            if type(s).__module__.startswith("quarch."):
                assert type(s).__name__ in search.__all__

    def test_at_most_two_classes_between_base_sampler_and_a_strategy(self) -> None:
        """Strategies plug behaviour in (solvers, helpers) rather than inherit it."""
        from optuna.samplers import BaseSampler

        space, _, _ = synthetic_qubo(0, n_choices=2, n_options=2)
        for name in STRATEGIES.names():
            s = make_sampler(name, seed=0, space=space, objective=Objective(["val_error"]))
            mro = type(s).__mro__
            assert mro.index(BaseSampler) <= 3, f"{name}: {[c.__name__ for c in mro]}"

    def test_descriptions(self) -> None:
        for e in STRATEGIES.entries():
            assert e.description and "\n" not in e.description

    def test_unknown_strategy(self) -> None:
        space, _, _ = synthetic_qubo(0, n_choices=2, n_options=2)
        with pytest.raises(Exception, match=r"unknown strategy 'nope'; choose from: .*qiea"):
            make_sampler("nope", seed=0, space=space, objective=Objective(["val_error"]))


#: Seeds of the QUBO check; "most" means at least 3 of them.
QUBO_SEEDS = range(5)
#: Well under the space's 81 architectures (at 100 every strategy enumerated it and the
#: test could not fail). Random search without repeats still passes 3 of 5 with
#: probability 0.26 here; the contract against random search is test_search_quality.py.
QUBO_BUDGET = 30
#: Below "most seeds" at that budget (measured hits of 5), for the strategies engineer.
SHORT_OF_MOST = {"nsga2": "2/5"}
#: Strategies that make no claim to find an optimum early: ``grid`` enumerates the space
#: in a seeded order (``tests/search/test_grid.py`` checks that it visits every cell once).
ENUMERATES = {"grid"}


def _solves(name: str, seed: int) -> bool:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, ev, optimum = synthetic_qubo(seed, n_choices=4, n_options=3)  # 81 architectures
    sampler = make_sampler(name, seed=seed, space=space, objective=Objective(["val_error"]))
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: ev.evaluate(space.suggest(t))["val_error"], n_trials=QUBO_BUDGET)
    return study.best_value <= optimum + 1e-9


def test_finds_brute_force_optimum_in_most_seeds(
    strategy: str, request: pytest.FixtureRequest
) -> None:
    if strategy in ENUMERATES:
        pytest.skip(f"{strategy} enumerates the space; it is not a search for the optimum")
    if strategy in SHORT_OF_MOST:
        reason = f"found the optimum in {SHORT_OF_MOST[strategy]} seeds with {QUBO_BUDGET} queries"
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
    hits = sum(_solves(strategy, s) for s in QUBO_SEEDS)
    assert hits >= 3, f"{strategy} found the optimum in {hits}/{len(QUBO_SEEDS)} seeds"
