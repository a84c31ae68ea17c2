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
def toy_space() -> Iterator[str]:
    """The toy space registered (instant to evaluate), removed after."""
    yield _register(TOY, _ToyEvaluator)
    _unregister(TOY)


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


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text and isinstance(error, QuarchError), repr(error)
    return text


@pytest.mark.parametrize("call", ["run_search", "check_search"])
@pytest.mark.parametrize("given", [{"space": TOY, "trials": 2}, "search.toml", None])
def test_run_search_refuses_a_dict_in_one_line(
    call: str, given: Any, toy_space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """run_search({...}) and check_search({...}) (a dict, as a TOML file reads) failed
    with ``AttributeError: 'dict' object has no attribute 'storage'``; now one line
    naming SearchConfig and the public way to build one, and nothing written. The way
    it names works: ``SearchConfig.from_dict`` of the same dict is accepted."""
    import quarch.study

    monkeypatch.chdir(tmp_path)
    with pytest.raises(QuarchError) as info:
        getattr(quarch.study, call)(given)
    line = _one_line(info.value)
    got = {dict: "a dict", str: "a str", type(None): "a NoneType"}[type(given)]
    if isinstance(given, dict):
        assert line == (
            f"{call}() takes a quarch.config.SearchConfig; got a dict: build one with "
            "SearchConfig.from_dict(d), which checks the keys and their types, or "
            "SearchConfig.from_file(path) for a .toml, .json or .yaml file"
        )
        assert quarch.study.check_search(SearchConfig.from_dict(given)).trials == 2
    else:
        assert line == (
            f"{call}() takes a quarch.config.SearchConfig; got {got}: build one with "
            "SearchConfig(space=..., ...)"
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("overrides", [["trials"], "workers", 3])
def test_resume_overrides_must_be_a_table(toy_run: Path, overrides: Any) -> None:
    """resume_search(run, overrides=['x']) failed with ``ValueError: dictionary update
    sequence element #0 ...``; now one line saying what overrides is, and the run is
    as it was; a mapping is still taken."""
    from quarch.study import Run, resume_config, resume_search

    before = sorted((p.name, p.stat().st_mtime_ns) for p in toy_run.iterdir())
    for call in (resume_search, resume_config):
        with pytest.raises(QuarchError) as info:
            call(toy_run, trials=3, overrides=overrides)  # type: ignore[operator]
        got = {list: "a list", str: "a str", int: "an int"}[type(overrides)]
        assert _one_line(info.value) == (
            "overrides must be a mapping of config field to its new value (such as "
            f"{{'workers': 2}}); got {got}"
        )
    assert sorted((p.name, p.stat().st_mtime_ns) for p in toy_run.iterdir()) == before
    assert Run.open(toy_run).result().done == 2
    assert resume_config(toy_run, overrides={"workers": 2}).workers == 2


class _NoFingerprint:
    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        return {"val_error": 1.0, "params": 1.0}


class _NumberFingerprint(_NoFingerprint):
    fingerprint = 7


@pytest.mark.parametrize(
    ("space", "evaluator", "says"),
    [
        (
            {"a": [1, 2]},
            None,
            "run_search(space=...) takes a quarch.space.Space; got a dict: build one with "
            "Space([Choice(name, options), ...], name=...)",
        ),
        (None, lambda arch, seed: {"val_error": 1.0}, "it is a function with no evaluate()"),
        (None, object(), "it is an object with no evaluate() method"),
        (None, print, "it is a builtin_function_or_method with no evaluate() method"),
        (None, _ToyEvaluator, "it is the class _ToyEvaluator, not an instance"),
        (None, _NoFingerprint(), "_NoFingerprint has no fingerprint attribute"),
        (None, _NumberFingerprint(), "_NumberFingerprint.fingerprint is an int, not a str"),
    ],
)
def test_run_search_refuses_a_space_or_evaluator_of_the_wrong_kind(
    tmp_path: Path, space: Any, evaluator: Any, says: str
) -> None:
    """run_search(space={...}) failed with ``AttributeError: 'dict' object has no
    attribute 'name'``; evaluator=<a function>, or an object with ``evaluate`` and no
    ``fingerprint`` (the Evaluator protocol's attribute), with ``AttributeError: ... no
    attribute 'fingerprint'`` after the run folder was written. Now one line naming the
    protocol and what is wrong, before anything is written."""
    from quarch.space import Choice, Space

    good = Space([Choice("a", [1, 2])], name="h4-objects")
    out = tmp_path / "runs" / "a"
    with pytest.raises(QuarchError) as info:
        run_search(
            SearchConfig(space="h4-objects", trials=1, out=str(out)),
            space=good if space is None else space,
            evaluator=_ToyEvaluator(good) if evaluator is None else evaluator,
            progress=False,
        )
    line = _one_line(info.value)
    assert says in line
    if evaluator is not None:
        assert line.startswith(
            "run_search(evaluator=...) takes an object of the quarch.evaluate.Evaluator "
            "protocol: a method evaluate(arch, *, seed) returning a dict of metrics and a "
            "fingerprint attribute"
        )
    assert list(tmp_path.iterdir()) == []  # no run folder, nor its parent


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


def test_an_evaluator_missing_a_declared_metric_stops_the_run_at_once(
    broken_space: Any, tmp_path: Path
) -> None:
    """An evaluator that never returns a metric its spec declares (and the run's
    objective needs) was evaluated 25 times before the run gave up (``RunError: gave
    up: 25 trials in a row failed ... KeyError: "evaluator returned no ['params']"``):
    each a training for a real evaluator, when the first already broke the contract.
    Now the first such trial stops the run in one line naming the metric and the
    evaluator; the trial is failed with that reason, the run folder reads back, and
    once the evaluator returns the metric the run resumes to its budget."""
    from optuna.trial import TrialState

    from quarch.study import Run, resume_search
    from quarch.study._worker import FAIL_REASON

    name = broken_space(_MissingParams)
    _MissingParams.calls = 0
    out = tmp_path / "r"
    config = SearchConfig(space=name, trials=2, objectives=["val_error", "params"], out=str(out))
    with pytest.raises(QuarchError) as info:
        run_search(config, progress=False)
    line = _one_line(info.value)
    assert line.startswith(
        f"evaluator {__name__}._MissingParams broke its contract at trial 0: evaluate() "
        "returned no 'params', which the objective needs (it returned val_error); every "
        "trial would fail alike, so the search stopped there"
    )
    assert _MissingParams.calls == 1
    run = Run.open(out)
    [trial] = run.study().trials
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs[FAIL_REASON] == (
        "evaluate() returned no 'params', which the objective needs (it returned val_error)"
    )
    _register(name, _ToyEvaluator)  # fixed: the same fingerprint, now with params
    result = resume_search(out, progress=False)
    assert result.done == 2 and result.stopped == "budget"
    assert [t.state for t in result.trials] == ["FAIL", "COMPLETE", "COMPLETE"]


class _TooWide(_ToyEvaluator):
    """A genuine failed trial: the widest choice does not fit the device (it raises);
    the next-widest diverges (a NaN error, as a training can)."""

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        out = super().evaluate(arch, seed=seed)
        if arch["width"] == 64:
            raise ValueError("a circuit of 64 qubits is wider than the device's 27")
        if arch["width"] == 32:
            out["val_error"] = float("nan")
        return out


def test_an_evaluator_failing_some_architectures_fails_only_those_trials(
    broken_space: Any, tmp_path: Path
) -> None:
    """What is not a broken contract stays a failed trial, and the run goes on to its
    budget: an evaluator that raises for one architecture, or returns a NaN metric."""
    from optuna.trial import TrialState

    from quarch.study import Run
    from quarch.study._worker import FAIL_REASON

    name = broken_space(_TooWide)
    result = run_search(
        SearchConfig(space=name, trials=4, objectives=["val_error", "params"],
                     strategy="grid", out=str(tmp_path / "r")),
        progress=False,
    )  # fmt: skip
    assert result.stopped == "budget" and result.done == 4
    trials = Run.open(tmp_path / "r").study().trials
    assert {t.params["width"] for t in trials if t.state == TrialState.FAIL} == {32, 64}
    for t in trials:
        if t.params["width"] == 64:
            assert t.user_attrs[FAIL_REASON] == (
                "ValueError: a circuit of 64 qubits is wider than the device's 27"
            )
        elif t.params["width"] == 32:
            assert t.user_attrs[FAIL_REASON] == "ValueError: metric 'val_error' is not finite: nan"
        else:
            assert t.state == TrialState.COMPLETE
