"""Every registered strategy meets the shared contract and solves a small QUBO."""

from __future__ import annotations

import functools
import json
import subprocess
import sys

import optuna
import pytest

import quarch.search as search
from quarch.benchmark import synthetic_qubo
from quarch.objectives import Objective
from quarch.search import STRATEGIES, make_sampler
from quarch.testing import StrategyTestCase
from quarch.testing.strategies import _factory_location, _make, param_sequence, run_contract_study


@pytest.fixture(params=STRATEGIES.names())
def strategy(request: pytest.FixtureRequest) -> str:
    return request.param


@functools.cache
def _fresh_sequences() -> dict[str, object]:
    """Every registered strategy's parameter sequence of seed 5 from one fresh Python
    process (a JSON list, or the text of what went wrong for that strategy).

    The contract's own ``test_deterministic_in_subprocess`` starts a process per
    strategy, which imports torch and quarch each time (about 2.5 s of CPU, 18 times).
    Each strategy's first run in this process is still its first run there, and the
    process's hash seed and object ids are not this one's, which is what a fresh
    process tests. (A cache, not a module-scoped fixture: under mutmut the fresh process
    runs the unmutated quarch anyway, so nothing is credited to the wrong test.)
    """
    where = {name: _factory_location(name) for name in STRATEGIES.names()}
    code = (
        # this process's import path after the fresh one's own, as in the contract's check
        f"import sys; sys.path.extend(p for p in {sys.path!r} if p not in sys.path)\n"
        "import json, traceback\n"
        "from quarch.testing.strategies import _sequence_json\n"
        "out = {}\n"
        f"for name, where in {where!r}.items():\n"
        "    try:\n"
        "        out[name] = json.loads(_sequence_json(name, 5, where))\n"
        "    except Exception:\n"
        "        out[name] = traceback.format_exc()\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the fresh process failed:\n{proc.stderr[-3000:]}"
    found: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


class TestStrategies(StrategyTestCase):
    """The contract of :mod:`quarch.testing.strategies`, over every registered name."""

    def test_deterministic_in_subprocess(self, strategy: str) -> None:
        """The contract's check, with every strategy's fresh run in one process
        (:func:`_fresh_sequences`); a strategy registered since runs the contract's own."""
        there = _fresh_sequences().get(strategy)
        if there is None:
            super().test_deterministic_in_subprocess(strategy)
            return
        assert isinstance(there, list), f"the fresh process failed for {strategy}:\n{there}"
        here = param_sequence(run_contract_study(_make(strategy, seed=5)))
        assert there == json.loads(json.dumps(here))


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
    # seeds in order until the verdict is settled: 3 hits pass, 3 misses fail (the
    # same verdict as all 5 seeds' count, in fewer runs)
    hits = misses = 0
    for s in QUBO_SEEDS:
        if hits >= 3 or misses > len(QUBO_SEEDS) - 3:
            break
        solved = _solves(strategy, s)
        hits, misses = hits + solved, misses + (not solved)
    assert hits >= 3, f"{strategy} missed the optimum in {misses} of {len(QUBO_SEEDS)} seeds"
