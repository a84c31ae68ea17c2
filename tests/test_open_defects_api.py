"""Defects found by the session-34 Python-API and plug-in audit (H4).

Each test marked ``xfail(strict=True)`` states what a user of the Python API (or of
a plug-in of their own) may expect and fails on the current code, so the suite stays
green until the defect is fixed; the fix then makes the test pass, strict xfail turns
that into a failure, and whoever fixed it removes the mark (the test stays, as the
regression test of the fix). The truth in each test is a
reading of the docs: "errors a user can cause are ``QuarchError`` subclasses with one
line saying what to change" (docs/ARCHITECTURE.md, Conventions), and the contracts
that ``quarch.testing`` states in its docstrings.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest

from quarch import QuarchError
from quarch.config import SearchConfig
from quarch.study import run_search

FIXTURES = Path(__file__).parent / "fixtures" / "runs-0.1.0"
TOY = "h4-open-toy"


class _ToyEvaluator:
    fingerprint = "h4-toy-v1"

    def __init__(self, space: Any) -> None:
        self.space = space

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        arch = self.space.validate(arch)
        return {"val_error": 1 / (arch["depth"] * arch["width"]), "params": float(arch["depth"])}


class _MissingParams(_ToyEvaluator):
    """Declares ``params`` (the spec's ``metrics``) and never returns it."""

    calls = 0

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        type(self).calls += 1
        return {"val_error": super().evaluate(arch, seed=seed)["val_error"]}


class _ReseedsGlobalNumpy(_ToyEvaluator):
    """Deterministic by seed, but reseeds the caller's global numpy generator."""

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        np.random.seed(seed)
        return {**super().evaluate(arch, seed=seed), "val_error": float(np.random.rand())}


class _Unseeded(_ToyEvaluator):
    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        return {**super().evaluate(arch, seed=seed), "val_error": float(np.random.rand())}


def _register(name: str, evaluator: type) -> str:
    from quarch.space import Choice, Space
    from quarch.spaces import SpaceSpec, register_space

    class _Spec(SpaceSpec):
        description = "toy"
        needs_dataset = False

        def space(self, **options: Any) -> Space:
            return Space([Choice("depth", [1, 2, 3, 4]), Choice("width", [16, 32, 64])], name=name)

        def make_evaluator(
            self, space: Space, config: SearchConfig, *, weights_dir: Any = None
        ) -> Any:
            return evaluator(space)

        def metrics(self, config: SearchConfig) -> frozenset[str]:
            return frozenset({"val_error", "params"})

    _Spec.name = name
    register_space(_Spec(), replace=True)
    return name


def _unregister(name: str) -> None:
    from quarch.spaces import _CACHE, SPACES

    if name in SPACES:
        SPACES.remove(name)
    _CACHE.pop(name, None)


@pytest.fixture
def toy_run(tmp_path: Path) -> Iterator[Path]:
    """A two-trial run of a registered toy space (instant), the space removed after."""
    _register(TOY, _ToyEvaluator)
    out = tmp_path / "toy"
    run_search(SearchConfig(space=TOY, trials=2, out=str(out)), progress=False)
    yield out
    _unregister(TOY)


@pytest.fixture
def broken_space() -> Iterator[Any]:
    """Registers a toy space with a given (broken) evaluator; removes it afterwards."""
    names: list[str] = []

    def make(evaluator: type) -> str:
        names.append(_register(f"h4-open-{evaluator.__name__.strip('_').lower()}", evaluator))
        return names[-1]

    yield make
    for name in names:
        _unregister(name)


def _copy_fixture(name: str, tmp_path: Path) -> Path:
    run = tmp_path / name
    shutil.copytree(FIXTURES / name, run)
    return run


# -- the Python API: wrong types give a QuarchError, not a deep TypeError -------------


@pytest.mark.xfail(
    strict=True,
    reason="run_search({...}) and check_search({...}) (a dict, as a TOML config reads) fail "
    "with AttributeError: 'dict' object has no attribute 'storage' (study/_loop.py, `_prepare`)",
)
def test_run_search_refuses_a_dict_in_one_line() -> None:
    from quarch.study import check_search

    with pytest.raises(QuarchError, match="SearchConfig"):
        check_search({"space": "mlp", "trials": 2})  # type: ignore[arg-type]


@pytest.mark.xfail(
    strict=True,
    reason="resume_search(run, overrides=['x']) fails with ValueError: dictionary update "
    "sequence element #0 has length 1; 2 is required (study/_loop.py, `resume_search`)",
)
def test_resume_overrides_must_be_a_table(toy_run: Path) -> None:
    from quarch.study import resume_search

    with pytest.raises(QuarchError, match="overrides"):
        resume_search(toy_run, trials=3, overrides=["trials"], progress=False)  # type: ignore[arg-type]


@pytest.mark.xfail(
    strict=True,
    reason="run_search(space={...}) fails with AttributeError: 'dict' object has no attribute "
    "'name'; evaluator=<a function>, or an object with `evaluate` and no `fingerprint` (the "
    "Evaluator protocol's attribute), with AttributeError: ... no attribute 'fingerprint'",
)
def test_run_search_refuses_a_space_or_evaluator_of_the_wrong_kind(tmp_path: Path) -> None:
    from quarch.space import Choice, Space

    space = Space([Choice("a", [1, 2])], name="h4-objects")
    with pytest.raises(QuarchError, match="space"):
        run_search(
            SearchConfig(space="h4-objects", trials=1, out=str(tmp_path / "a")),
            space={"a": [1, 2]},  # type: ignore[arg-type]
            evaluator=_ToyEvaluator(space),
            progress=False,
        )
    with pytest.raises(QuarchError, match="evaluat"):
        run_search(
            SearchConfig(space="h4-objects", trials=1, out=str(tmp_path / "b")),
            space=space,
            evaluator=lambda arch, seed: {"val_error": 1.0},  # type: ignore[arg-type]
            progress=False,
        )

    class _NoFingerprint:
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            return {"val_error": 1.0, "params": 1.0}

    with pytest.raises(QuarchError, match="fingerprint"):
        run_search(
            SearchConfig(space="h4-objects", trials=1, out=str(tmp_path / "c")),
            space=space,
            evaluator=_NoFingerprint(),  # type: ignore[arg-type]
            progress=False,
        )


# -- quarch.cost and quarch.quantum ----------------------------------------------------


# -- plug-ins: the CLI and the contract kit --------------------------------------------


def _repeat_factory(*, seed: int, space: Any, objective: Any, **options: Any) -> Any:
    return _RepeatSampler(seed)


class _RepeatSampler(optuna.samplers.RandomSampler):
    """Proposes one seeded architecture again and again."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self._seed = seed

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        return dist.choices[(self._seed + len(name)) % len(dist.choices)]


@pytest.fixture
def repeat_strategy() -> Iterator[str]:
    from quarch.search import STRATEGIES

    STRATEGIES.add("h4-open-repeat", _repeat_factory, "proposes one architecture forever")
    yield "h4-open-repeat"
    STRATEGIES.remove("h4-open-repeat")


def test_strategy_contract_catches_a_strategy_that_repeats(repeat_strategy: str) -> None:
    from quarch.testing import StrategyTestCase

    case = StrategyTestCase()
    fast = [
        case.test_valid_architectures,
        case.test_deterministic_in_process,
        case.test_seed_matters,
        case.test_pickles,
        case.test_weighted_cost,
    ]
    failed = 0
    for check in fast:
        try:
            check(repeat_strategy)
        except AssertionError:
            failed += 1
    assert failed, "no contract check failed for a strategy that never explores"


def test_evaluator_contract_catches_a_reseeded_global_generator(broken_space: Any) -> None:
    from quarch.testing import EvaluatorCase, EvaluatorTestCase

    case = EvaluatorCase(SearchConfig(space=broken_space(_ReseedsGlobalNumpy), trials=1))
    kit = EvaluatorTestCase()
    failed = 0
    for check in (
        kit.test_declared_metrics_returned,
        kit.test_deterministic_by_seed,
        kit.test_cheap_metrics_agree_with_evaluate,
        kit.test_bad_architecture_raises_clear_error,
    ):
        try:
            check(case)
        except AssertionError:
            failed += 1
    assert failed


def test_evaluator_contract_says_what_differed(broken_space: Any) -> None:
    from quarch.testing import EvaluatorCase, EvaluatorTestCase

    case = EvaluatorCase(SearchConfig(space=broken_space(_Unseeded), trials=1))
    with pytest.raises(AssertionError) as info:
        EvaluatorTestCase().test_deterministic_by_seed(case)
    assert "val_error" in str(info.value)


@pytest.mark.xfail(
    strict=True,
    reason="an evaluator that never returns a metric its spec declares (and the run's "
    "objective needs) is evaluated 25 times before the run gives up (`RunError: gave up: "
    "25 trials in a row failed ... KeyError: \"evaluator returned no ['params']\"`): each "
    "is a training for a real evaluator; the first such trial already breaks the contract",
)
def test_an_evaluator_missing_a_declared_metric_stops_the_run_at_once(
    broken_space: Any, tmp_path: Path
) -> None:
    name = broken_space(_MissingParams)
    _MissingParams.calls = 0
    with pytest.raises(QuarchError, match="params"):
        run_search(
            SearchConfig(
                space=name, trials=2, objectives=["val_error", "params"], out=str(tmp_path / "r")
            ),
            progress=False,
        )
    assert _MissingParams.calls == 1
