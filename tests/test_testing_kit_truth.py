"""The plug-in test kit (:mod:`quarch.testing`) passes good plug-ins and fails broken ones.

The kit's claim is twofold: a plug-in that keeps the contract passes every check, and
one that breaks a contract fails the check of that contract. So each check runs here
against quarch's own strategies and a correct plug-in written here, and against small
plug-ins written to break exactly one contract each (a sampler that ignores its seed,
one that cannot be pickled, one whose resumed run differs, an evaluator that omits a
declared metric, ...). ``quarch.testing.aer`` is checked against Aer's own sampled
measurements.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import FloatDistribution
from optuna.samplers import BaseSampler, RandomSampler

from quarch._errors import ConfigError, SpaceError
from quarch.config import SearchConfig
from quarch.search import STRATEGIES
from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec, register_space
from quarch.testing import (
    EvaluatorCase,
    EvaluatorTestCase,
    StrategyTestCase,
    contract_objective,
    contract_space,
    param_sequence,
    run_contract_study,
)
from quarch.testing import strategies as kit

optuna.logging.set_verbosity(optuna.logging.WARNING)

KIT = StrategyTestCase()
EKIT = EvaluatorTestCase()


class _Skipped(Exception):
    """A check skipped where it must run (pytest would count a skip as a pass)."""


def _run(check: Callable[..., None], *args: Any) -> None:
    """Run an evaluator check; a skip is an error here (neither a pass nor a failure)."""
    try:
        check(*args)
    except pytest.skip.Exception as e:
        raise _Skipped(e.msg) from None


def _first_line(e: pytest.ExceptionInfo[BaseException]) -> str:
    """The kit's own message (pytest may add its assertion explanation below it)."""
    return str(e.value).splitlines()[0]


# -- strategy plug-ins ---------------------------------------------------------------------


def _seeded(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    """A correct plug-in: Optuna's random sampler with the run's seed."""
    return RandomSampler(seed=seed)


def _unseeded(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return RandomSampler()  # fresh entropy every time: not deterministic


def _seed_ignored(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return RandomSampler(seed=0)


def _seed_as_flag(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return RandomSampler(seed=int(bool(seed)))  # seeds 1, 2, 3, ... are all one seed


def _pid_seeded(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return RandomSampler(seed=seed + os.getpid())  # the same in one process only


class _Locked(RandomSampler):
    """Holds a lock, which cannot be pickled."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.lock = threading.Lock()


def _locked(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _Locked(seed)


class _ForgetsSeed(RandomSampler):
    """Its pickled copy is seeded differently."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.seed = seed

    def __reduce__(self) -> Any:
        return (_ForgetsSeed, (self.seed + 1,))


def _forgets_seed(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _ForgetsSeed(seed)


class _BecomesOptunas(RandomSampler):
    """Its pickled copy is Optuna's plain ``RandomSampler`` (same seed, another class)."""

    def __init__(self, seed: int) -> None:
        super().__init__(seed=seed)
        self.seed = seed

    def __reduce__(self) -> Any:
        return (RandomSampler, (self.seed,))


def _becomes_optunas(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _BecomesOptunas(seed)


class _Counting(BaseSampler):
    """Proposes an option drawn from ``(seed, calls)`` at its ``calls``-th proposal,
    counted on the instance: deterministic, but a fresh instance on a half-run study
    starts over."""

    def __init__(self, seed: int, calls: int = 0) -> None:
        self.seed = seed
        self.calls = calls

    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
        return {}

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        self.calls += 1
        rng = np.random.default_rng([self.seed, self.calls])
        return dist.choices[int(rng.integers(len(dist.choices)))]

    def __reduce__(self) -> Any:
        return (_Counting, (self.seed, self.calls))


class _CountingForgets(_Counting):
    """A :class:`_Counting` whose pickled copy forgets its count."""

    def __reduce__(self) -> Any:
        return (_CountingForgets, (self.seed, 0))


class _ByTrial(_Counting):
    """Stateless: the proposal is a function of the trial number and the seed alone."""

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        k = {"op": 0, "width": 1, "act": 2}[name]
        return dist.choices[(trial.number * 5 + k + self.seed) % len(dist.choices)]

    def __reduce__(self) -> Any:
        return (_ByTrial, (self.seed,))


# quarch's own samplers are held to an exact resume (``_is_stateless``): these three claim
# to be quarch's (a module of that name, so that they pickle), so the kit treats them as
# it treats quarch's own strategies
_CLAIMED = types.ModuleType("quarch.plugin_under_test")
sys.modules.setdefault(_CLAIMED.__name__, _CLAIMED)
for _cls in (_Counting, _CountingForgets, _ByTrial):
    _cls.__module__ = _CLAIMED.__name__
    setattr(sys.modules[_CLAIMED.__name__], _cls.__name__, _cls)


def _in_a_module_without_a_file(
    *, seed: int, space: Space, objective: Any, **options: Any
) -> BaseSampler:
    return RandomSampler(seed=seed)


_in_a_module_without_a_file.__module__ = _CLAIMED.__name__  # a module object, no file


def _counting(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _Counting(seed)


def _counting_forgets(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _CountingForgets(seed)


def _by_trial(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _ByTrial(seed)


class _SingleObjective(RandomSampler):
    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        if len(study.directions) > 1:
            raise RuntimeError("this sampler handles one objective")
        return super().sample_independent(study, trial, name, dist)


def _single_objective(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _SingleObjective(seed=seed)


class _Unconstrained(RandomSampler):
    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        for t in study.get_trials(deepcopy=False):
            if any(k.startswith("constraints:") for k in t.system_attrs):
                raise RuntimeError("this sampler cannot read constraints")
        return super().sample_independent(study, trial, name, dist)


def _unconstrained(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _Unconstrained(seed=seed)


def _unweighted(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    if objective.weights is not None:
        raise ValueError("this strategy takes no weighted cost")
    return RandomSampler(seed=seed)


class _MainThreadOnly(RandomSampler):
    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("this sampler runs in the main thread only")
        return super().sample_independent(study, trial, name, dist)


def _main_thread_only(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _MainThreadOnly(seed=seed)


class _Prunes(RandomSampler):
    """Gives up every fifth trial (it is pruned, never completes)."""

    def sample_independent(self, study: Any, trial: Any, name: str, dist: Any) -> Any:
        if trial.number % 5 == 4:
            raise optuna.TrialPruned()
        return super().sample_independent(study, trial, name, dist)


def _prunes(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _Prunes(seed=seed)


class _AddsParam(RandomSampler):
    """Adds a parameter the contract space does not have to every trial."""

    def before_trial(self, study: Any, trial: Any) -> None:
        study._storage.set_trial_param(trial._trial_id, "extra", 0.5, FloatDistribution(0, 1))


def _adds_param(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
    return _AddsParam(seed=seed)


@pytest.fixture
def plugin() -> Iterator[Callable[[Callable[..., Any]], str]]:
    """Register a factory of this module as a strategy for one test (a plug-in)."""
    added: list[str] = []

    def add(factory: Callable[..., Any]) -> str:
        name = "kit" + factory.__name__.replace("_", "-")
        STRATEGIES.add(name, factory, "a plug-in under test")
        added.append(name)
        return name

    yield add
    for name in added:
        STRATEGIES.remove(name)


def _all_checks(name: str, tmp_path: Path) -> None:
    KIT.test_valid_architectures(name)
    KIT.test_deterministic_in_process(name)
    KIT.test_seed_matters(name)
    KIT.test_deterministic_in_subprocess(name)
    KIT.test_pickles(name)
    KIT.test_unpickled_sampler_resumes(name)
    KIT.test_resume_sqlite(name)
    KIT.test_resume_journal(name, tmp_path)
    KIT.test_multi_objective_with_constraints(name)
    KIT.test_weighted_cost(name)
    KIT.test_parallel_jobs(name)


class TestGoodStrategiesPass:
    def test_a_plug_in_registered_by_a_test_module_passes_every_check(
        self, plugin: Callable[..., str], tmp_path: Path
    ) -> None:
        """Before session 30 the fresh process of the subprocess check knew only quarch's
        built-in strategies: every plug-in failed it with ``CalledProcessError``."""
        _all_checks(plugin(_seeded), tmp_path)

    def test_a_stateless_plug_in_passes_the_exact_resume_checks(
        self, plugin: Callable[..., str], tmp_path: Path
    ) -> None:
        name = plugin(_by_trial)
        assert kit._is_stateless(_ByTrial(0))
        KIT.test_unpickled_sampler_resumes(name)
        KIT.test_resume_sqlite(name)
        KIT.test_resume_journal(name, tmp_path)


class TestBrokenStrategiesFail:
    def test_unseeded_fails_in_process_determinism(self, plugin: Callable[..., str]) -> None:
        with pytest.raises(AssertionError):
            KIT.test_deterministic_in_process(plugin(_unseeded))

    def test_seed_ignored_fails_seed_matters(self, plugin: Callable[..., str]) -> None:
        name = plugin(_seed_ignored)
        KIT.test_deterministic_in_process(name)  # deterministic it is
        with pytest.raises(AssertionError):
            KIT.test_seed_matters(name)

    def test_seed_as_a_flag_fails_seed_matters(self, plugin: Callable[..., str]) -> None:
        """Seeds 0 (or none) and 1 differ, 1 and 2 do not: two given seeds are compared."""
        name = plugin(_seed_as_flag)
        a, b = (param_sequence(run_contract_study(kit._make(name, seed=s))) for s in (0, 1))
        assert a != b
        with pytest.raises(AssertionError):
            KIT.test_seed_matters(name)

    def test_process_dependent_fails_the_subprocess_check(self, plugin: Callable[..., str]) -> None:
        name = plugin(_pid_seeded)
        KIT.test_deterministic_in_process(name)
        with pytest.raises(AssertionError):
            KIT.test_deterministic_in_subprocess(name)

    def test_a_fresh_process_that_fails_says_why(self, plugin: Callable[..., str]) -> None:
        name = plugin(_seeded)
        STRATEGIES.remove(name)  # the fresh process cannot find it: its error is shown
        STRATEGIES.add(name, lambda **kw: RandomSampler(seed=kw["seed"]), "a lambda")
        with pytest.raises(
            AssertionError, match=r"(?s)the fresh process failed:.*not a module-level name"
        ):
            KIT.test_deterministic_in_subprocess(name)

    def test_unpicklable_fails_the_pickle_checks(self, plugin: Callable[..., str]) -> None:
        name = plugin(_locked)
        with pytest.raises(TypeError, match="pickle"):
            KIT.test_pickles(name)
        with pytest.raises(TypeError, match="pickle"):
            KIT.test_unpickled_sampler_resumes(name)

    def test_a_copy_seeded_otherwise_fails_test_pickles(self, plugin: Callable[..., str]) -> None:
        with pytest.raises(AssertionError):
            KIT.test_pickles(plugin(_forgets_seed))

    def test_a_copy_of_another_class_fails_the_unpickled_resume(
        self, plugin: Callable[..., str]
    ) -> None:
        name = plugin(_becomes_optunas)
        KIT.test_pickles(name)  # it proposes the same; only its class changed
        with pytest.raises(AssertionError):
            KIT.test_unpickled_sampler_resumes(name)

    def test_a_stateless_claim_with_instance_state_fails_resume(
        self, plugin: Callable[..., str], tmp_path: Path
    ) -> None:
        name = plugin(_counting)
        assert kit._is_stateless(_Counting(0))
        KIT.test_deterministic_in_process(name)
        KIT.test_unpickled_sampler_resumes(name)  # its copy carries the count
        with pytest.raises(AssertionError):
            KIT.test_resume_sqlite(name)
        with pytest.raises(AssertionError):
            KIT.test_resume_journal(name, tmp_path)

    def test_a_stateless_claim_whose_copy_forgets_fails_the_unpickled_resume(
        self, plugin: Callable[..., str]
    ) -> None:
        with pytest.raises(AssertionError):
            KIT.test_unpickled_sampler_resumes(plugin(_counting_forgets))

    def test_single_objective_fails_the_multi_objective_check(
        self, plugin: Callable[..., str]
    ) -> None:
        name = plugin(_single_objective)
        KIT.test_weighted_cost(name)
        with pytest.raises(RuntimeError, match="one objective"):
            KIT.test_multi_objective_with_constraints(name)

    def test_no_constraints_fails_both_constrained_checks(self, plugin: Callable[..., str]) -> None:
        name = plugin(_unconstrained)
        KIT.test_parallel_jobs(name)  # unconstrained studies are fine
        with pytest.raises(RuntimeError, match="constraints"):
            KIT.test_multi_objective_with_constraints(name)
        with pytest.raises(RuntimeError, match="constraints"):
            KIT.test_weighted_cost(name)

    def test_no_weighted_cost_fails_the_weighted_check(self, plugin: Callable[..., str]) -> None:
        name = plugin(_unweighted)
        KIT.test_multi_objective_with_constraints(name)
        with pytest.raises(ConfigError, match="weighted cost"):
            KIT.test_weighted_cost(name)

    def test_main_thread_only_fails_the_parallel_check(self, plugin: Callable[..., str]) -> None:
        name = plugin(_main_thread_only)
        KIT.test_valid_architectures(name)
        with pytest.raises(RuntimeError, match="main thread"):
            KIT.test_parallel_jobs(name)

    def test_pruned_trials_fail_every_count(self, plugin: Callable[..., str]) -> None:
        name = plugin(_prunes)
        for check in (
            KIT.test_valid_architectures,
            KIT.test_multi_objective_with_constraints,
            KIT.test_weighted_cost,
            KIT.test_parallel_jobs,
        ):
            with pytest.raises(AssertionError) as e:
                check(name)
            assert _first_line(e) in {f"expected 24 complete trials; got {k}" for k in (20, 21)}

    def test_a_parameter_outside_the_space_fails_validity(self, plugin: Callable[..., str]) -> None:
        with pytest.raises(SpaceError, match=r"unknown choice\(s\) \['extra'\]"):
            KIT.test_valid_architectures(plugin(_adds_param))


# -- the strategy kit's helpers ------------------------------------------------------------


def test_contract_space_is_three_mixed_choices_of_3_4_and_2() -> None:
    space = contract_space()
    assert space.size == 24
    assert [len(c.options) for c in space.choices] == [3, 4, 2]
    types = [{type(o) for o in c.options} for c in space.choices]
    assert types == [{str}, {int}, {bool}]


def test_contract_objective_is_a_seeded_quadratic_form_and_a_size() -> None:
    space = contract_space()
    Q = np.random.default_rng(7).standard_normal((9, 9))
    seen = set()
    for values in itertools.product(*(c.options for c in space.choices)):
        arch = dict(zip(space.names, values, strict=True))
        # the one-hot bits of each choice, in order
        bits = [
            float(o == v) for c, v in zip(space.choices, values, strict=True) for o in c.options
        ]
        want = sum(Q[i, j] * bits[i] * bits[j] for i in range(9) for j in range(i, 9))
        energy, size = contract_objective(arch)
        assert energy == pytest.approx(want, abs=1e-12)
        ops = [c.options.index(v) for c, v in zip(space.choices, values, strict=True)]
        assert size == ops[0] + ops[1]
        seen.add(size)
    assert seen == {0, 1, 2, 3, 4, 5}  # the budget size <= 3 splits the space


def test_run_contract_study_runs_and_continues_to_its_count() -> None:
    study = run_contract_study(RandomSampler(seed=0), n_trials=1)
    assert len(study.trials) == 1 and study.directions == [optuna.study.StudyDirection.MINIMIZE]
    (t,) = study.trials
    assert t.value == pytest.approx(contract_objective(t.params)[0])
    assert t.system_attrs == {}  # not constrained
    storage = optuna.storages.InMemoryStorage()
    run_contract_study(RandomSampler(seed=0), 3, storage=storage, study_name="a")
    again = run_contract_study(RandomSampler(seed=1), 5, storage=storage, study_name="a")
    assert len(again.trials) == 5 and again.study_name == "a"
    same = run_contract_study(RandomSampler(seed=1), 2, storage=storage, study_name="a")
    assert len(same.trials) == 5  # already past its count: nothing run


def test_run_contract_study_multi_and_constrained() -> None:
    study = run_contract_study(RandomSampler(seed=0), 6, multi=True, constrained=True, n_jobs=2)
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE] * 2
    assert len(study.trials) == 6
    for t in study.trials:
        energy, size = contract_objective(t.params)
        assert t.values == pytest.approx([energy, size])
        assert t.system_attrs == {"constraints:size<=3": size - 3.0}


def test_param_sequence_is_in_trial_order() -> None:
    t0, t1 = (SimpleNamespace(number=n, params={"op": n}) for n in (0, 1))
    assert param_sequence(SimpleNamespace(trials=[t1, t0])) == [{"op": 0}, {"op": 1}]
    copy = param_sequence(SimpleNamespace(trials=[t0]))[0]
    copy["op"] = 9
    assert t0.params == {"op": 0}


def test_make_hands_the_run_seed_and_a_weighted_objective(plugin: Callable[..., str]) -> None:
    seen: list[tuple[int, Any]] = []

    def recording(*, seed: int, space: Space, objective: Any, **options: Any) -> BaseSampler:
        seen.append((seed, objective))
        assert space.size == 24
        return RandomSampler(seed=seed)

    STRATEGIES.add("kit-recording", recording, "records")
    try:
        kit._make("kit-recording", seed=11)
        kit._make("kit-recording", seed=12, weighted=True)
        kit._make("kit-recording")
    finally:
        STRATEGIES.remove("kit-recording")
    (s1, plain), (s2, weighted), (s3, _) = seen
    assert (s1, s2, s3) == (11, 12, 0)
    assert plain.weights is None and list(plain.metrics) == ["val_error"]
    assert len(weighted.metrics) == len(weighted.weights) == 2
    assert all(w > 0 for w in weighted.weights)


def test_shared_rdb_is_two_connections_to_one_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kit, "_RDB", [])  # made afresh here (the process may hold them)
    a, b = kit._shared_rdb(0), kit._shared_rdb(1)
    assert a is not b and kit._shared_rdb(0) is a
    assert str(a.engine.url) == str(b.engine.url)
    url = str(a.engine.url)
    assert url.startswith("sqlite:///") and url.endswith(".db")
    if os.path.isdir("/dev/shm"):  # on tmpfs when there is one (no fsync cost)
        assert url.startswith("sqlite:////dev/shm/")
    name = f"shared-{time.time_ns()}"
    optuna.create_study(storage=a, study_name=name)
    assert name in optuna.get_all_study_names(storage=b)


def test_is_stateless() -> None:
    from quarch.search import QIEASampler
    from quarch.search import RandomSampler as QuarchRandom

    assert kit._is_stateless(QIEASampler(seed=0))
    assert kit._is_stateless(QuarchRandom(seed=0))
    assert not kit._is_stateless(optuna.samplers.TPESampler(seed=0))
    assert not kit._is_stateless(RandomSampler(seed=0))

    class Thin(RandomSampler):  # quarch's thin subclass of Optuna's: state on the instance
        pass

    Thin.__module__ = "quarch.search.thin"
    assert not kit._is_stateless(Thin(seed=0))
    assert not kit._is_stateless(_seeded(seed=0, space=contract_space(), objective=None))

    class Own(_ByTrial):  # a user's class below a quarch-claimed one
        pass

    assert not kit._is_stateless(Own(0))

    class NotASampler:  # nothing of Optuna's: no contract to keep
        pass

    NotASampler.__module__ = "quarch.plugin_under_test"
    assert not kit._is_stateless(NotASampler())


# -- evaluator plug-ins --------------------------------------------------------------------


class _Good:
    """A correct evaluator: metrics in closed form, a seed-dependent error, a measured
    (unreproducible) wall time, cheap metrics that agree, one clear error."""

    fingerprint = "kit-good"

    def __init__(self, space: Space, weights_dir: Path | None = None) -> None:
        self.space = space
        self.weights_dir = weights_dir

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        seed = int(seed)  # seeds first (a seed must be an integer), then checks the arch
        arch = self.space.validate(arch)
        return {
            "val_error": 1 / (arch["depth"] * arch["width"]) + seed / 1000,
            "params": float(arch["depth"] * arch["width"]),
            "wall_s": time.perf_counter(),
        }

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        arch = self.space.validate(arch)
        return {"params": float(arch["depth"] * arch["width"]), "wall_s": -1.0}


class _KitSpec(SpaceSpec):
    """A space whose defaults are filled in by ``resolve``: unresolved, it declares no
    metrics and builds no evaluator."""

    name = "kit-space"
    description = "a space of the kit's tests"
    needs_dataset = False
    unreproducible = frozenset({"wall_s"})
    declares: frozenset[str] | None = frozenset({"val_error", "params", "wall_s"})
    evaluator: Any = _Good

    def resolve(self, config: SearchConfig) -> SearchConfig:
        if "n_depths" in config.space_options:
            return config
        return dataclasses.replace(config, space_options={"n_depths": 3})

    def space(self, **options: Any) -> Space:
        depths = list(range(1, options.get("n_depths", 1) + 1))
        return Space([Choice("depth", depths), Choice("width", [4, 8])], name=self.name)

    def metrics(self, config: SearchConfig) -> frozenset[str] | None:
        return self.declares if "n_depths" in config.space_options else None

    def make_evaluator(self, space: Space, config: SearchConfig, *, weights_dir: Any = None) -> Any:
        if space.size != 2 * config.space_options.get("n_depths", 0):
            raise ValueError("config not resolved, or another space")
        return self.evaluator(space, weights_dir)


@pytest.fixture
def case() -> Iterator[Callable[..., EvaluatorCase]]:
    """An :class:`EvaluatorCase` of a space registered for one test with ``evaluator``."""
    from quarch.spaces import _CACHE, SPACES

    def make(evaluator: Any = _Good, declares: Any = _KitSpec.declares, **kw: Any) -> EvaluatorCase:
        spec = _KitSpec()
        spec.evaluator, spec.declares = evaluator, declares
        register_space(spec, replace=True)
        return EvaluatorCase(SearchConfig(space="kit-space", dataset=None), **kw)

    yield make
    if "kit-space" in SPACES:
        SPACES.remove("kit-space")
    _CACHE.pop("kit-space", None)


class _Omits(_Good):
    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        out = super().evaluate(arch, seed=seed)
        del out["params"]
        return out


class _NaN(_Good):
    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        return {**super().evaluate(arch, seed=seed), "val_error": float("nan")}


_CALLS = itertools.count()


class _Drifts(_Good):
    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        out = super().evaluate(arch, seed=seed)
        return {**out, "val_error": out["val_error"] + next(_CALLS)}


class _CheapOff(_Good):
    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {**super().cheap_metrics(arch), "params": 1e6}


class _NoValidation(_Good):
    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        depth, width = arch.get("depth", 1), arch.get("width", 4)
        return {"val_error": 1 / (depth * width), "params": float(depth * width), "wall_s": 0.0}


class _KeyErrors(_Good):
    """Refuses unknown keys clearly, but a missing one with a ``KeyError``."""

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        if set(arch) - set(self.space.names):
            self.space.validate(arch)
        depth, width = arch["depth"], arch["width"]
        return {"val_error": 1 / (depth * width), "params": float(depth * width), "wall_s": 0.0}


class _VagueUnknown(_Good):
    """A clear error for a missing key, a vague one for an unknown key."""

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        if set(arch) - set(self.space.names):
            raise SpaceError("bad architecture")
        return super().evaluate(arch, seed=seed)


class _VagueMissing(_Good):
    """A clear error for an unknown key, a vague one for a missing key."""

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        if set(self.space.names) - set(arch):
            raise SpaceError("bad architecture")
        return super().evaluate(arch, seed=seed)


class _WrongType(_Good):
    """The right words, but not a :class:`quarch.SpaceError`."""

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        try:
            return super().evaluate(arch, seed=seed)
        except SpaceError as e:
            raise ValueError(str(e)) from None


class TestGoodEvaluatorsPass:
    def test_a_correct_evaluator_passes_every_check(
        self, case: Callable[..., EvaluatorCase], tmp_path: Path
    ) -> None:
        c = case()
        _run(EKIT.test_declared_metrics_returned, c)
        _run(EKIT.test_deterministic_by_seed, c)
        _run(EKIT.test_cheap_metrics_agree_with_evaluate, c)
        _run(EKIT.test_bad_architecture_raises_clear_error, c)
        with pytest.raises(pytest.skip.Exception) as e:
            EKIT.test_saved_weights_round_trip(c, tmp_path)
        assert e.value.msg == "this evaluator trains nothing (a look-up); no weights to save"

    def test_one_architecture_is_enough(
        self, case: Callable[..., EvaluatorCase], tmp_path: Path
    ) -> None:
        c = case(_Trains, n_archs=1)
        _run(EKIT.test_declared_metrics_returned, c)
        _run(EKIT.test_deterministic_by_seed, c)
        _run(EKIT.test_cheap_metrics_agree_with_evaluate, c)
        _run(EKIT.test_bad_architecture_raises_clear_error, c)
        _run(EKIT.test_saved_weights_round_trip, c, tmp_path)

    def test_an_unreproducible_metric_declared_and_not_returned(
        self, case: Callable[..., EvaluatorCase]
    ) -> None:
        class NoWallTime(_Good):
            def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
                out = super().evaluate(arch, seed=seed)
                del out["wall_s"]
                return out

        _run(EKIT.test_deterministic_by_seed, case(NoWallTime, frozenset({"val_error", "params"})))

    def test_a_builtin_space_passes(self, tmp_path: Path) -> None:
        c = EvaluatorCase(SearchConfig(space="mlp", dataset="iris", epochs=1), n_archs=1)
        _run(EKIT.test_declared_metrics_returned, c)
        _run(EKIT.test_saved_weights_round_trip, c, tmp_path)
        _run(EKIT.test_bad_architecture_raises_clear_error, c)


class TestBrokenEvaluatorsFail:
    def test_an_omitted_metric(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(AssertionError) as e:
            _run(EKIT.test_declared_metrics_returned, case(_Omits))
        assert _first_line(e) == "declared metrics not returned: ['params']"

    def test_no_metrics_declared(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(AssertionError) as e:
            _run(EKIT.test_declared_metrics_returned, case(declares=None))
        assert _first_line(e) == "the spec declares no metrics (SpaceSpec.metrics)"

    def test_a_nan_metric(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(ValueError, match="'val_error' is not finite"):
            _run(EKIT.test_declared_metrics_returned, case(_NaN))

    def test_nondeterministic_by_seed(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(AssertionError):
            _run(EKIT.test_deterministic_by_seed, case(_Drifts))

    def test_cheap_metrics_that_disagree(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(AssertionError) as e:
            _run(EKIT.test_cheap_metrics_agree_with_evaluate, case(_CheapOff))
        assert _first_line(e).startswith("params: 1000000.0 before training, ")

    def test_no_validation_raises_nothing(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
            _run(EKIT.test_bad_architecture_raises_clear_error, case(_NoValidation))

    def test_a_key_error_from_inside(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(KeyError):
            _run(EKIT.test_bad_architecture_raises_clear_error, case(_KeyErrors))

    def test_the_right_words_in_another_error(self, case: Callable[..., EvaluatorCase]) -> None:
        with pytest.raises(ValueError, match="unknown choice"):
            _run(EKIT.test_bad_architecture_raises_clear_error, case(_WrongType))

    @pytest.mark.parametrize("evaluator", [_VagueUnknown, _VagueMissing])
    def test_an_error_that_names_no_key(
        self, case: Callable[..., EvaluatorCase], evaluator: Any
    ) -> None:
        with pytest.raises(AssertionError, match="Regex pattern did not match"):
            _run(EKIT.test_bad_architecture_raises_clear_error, case(evaluator))

    def test_a_skipped_case_skips_every_check(
        self, case: Callable[..., EvaluatorCase], tmp_path: Path
    ) -> None:
        c = case(_Omits, declares=None, skip="data absent")
        for check in (
            EKIT.test_declared_metrics_returned,
            EKIT.test_deterministic_by_seed,
            EKIT.test_cheap_metrics_agree_with_evaluate,
            EKIT.test_bad_architecture_raises_clear_error,
        ):
            with pytest.raises(pytest.skip.Exception) as e:
                check(c)
            assert e.value.msg == "data absent"
        with pytest.raises(pytest.skip.Exception) as e:
            EKIT.test_saved_weights_round_trip(c, tmp_path)
        assert e.value.msg == "data absent"


# -- trainable evaluators and their saved weights ------------------------------------------


class _Trains(_Good):
    """Trains a small network on fixed data; saves its weights where the run says."""

    name = "seed_{seed}.pt"

    def __init__(self, space: Space, weights_dir: Path | None = None) -> None:
        super().__init__(space, weights_dir)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((60, 4))  # float64, as numpy makes it
        y = ((X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)).astype(np.int64)
        self.data = SimpleNamespace(X_val=X, y_val=y)

    def build(self, arch: Mapping[str, Any], *, seed: int) -> Any:
        import torch

        w = arch["width"]
        with torch.random.fork_rng():  # the caller's generator as it was (the contract)
            torch.manual_seed(seed)
            return torch.nn.Sequential(
                torch.nn.Linear(4, w), torch.nn.Tanh(), torch.nn.Linear(w, 3)
            )

    def trained(self, arch: Mapping[str, Any], seed: int) -> tuple[Any, Any]:
        import torch

        model = self.build(arch, seed=seed)
        init = {k: v.clone() for k, v in model.state_dict().items()}
        X, y = torch.as_tensor(self.data.X_val).float(), torch.as_tensor(self.data.y_val)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        for _ in range(30):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X), y).backward()
            opt.step()
        return model, init

    def save(self, model: Any, init: Any, seed: int) -> None:
        import torch

        if self.weights_dir is not None:
            torch.save(model.state_dict(), self.weights_dir / self.name.format(seed=seed))

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        import torch

        from quarch.evaluate import classification_error

        arch = self.space.validate(arch)
        model, init = self.trained(arch, seed)
        self.save(model, init, seed)
        X, y = torch.as_tensor(self.data.X_val).float(), torch.as_tensor(self.data.y_val)
        return {**super().evaluate(arch, seed=seed), "val_error": classification_error(model, X, y)}


class _SavesNothing(_Trains):
    def save(self, model: Any, init: Any, seed: int) -> None:
        pass


class _SavesElsewhere(_Trains):
    name = "weights_{seed}.pt"


class _SavesInit(_Trains):
    def save(self, model: Any, init: Any, seed: int) -> None:
        model.load_state_dict(init)  # scored after training, saved as initialised
        super().save(model, init, seed)
        model.load_state_dict(self.trained_state)

    def trained(self, arch: Mapping[str, Any], seed: int) -> tuple[Any, Any]:
        model, init = super().trained(arch, seed)
        self.trained_state = {k: v.clone() for k, v in model.state_dict().items()}
        return model, init


class TestSavedWeights:
    def test_weights_saved_where_the_run_said_pass(
        self, case: Callable[..., EvaluatorCase], tmp_path: Path
    ) -> None:
        c = case(_Trains)
        _run(EKIT.test_saved_weights_round_trip, c, tmp_path)
        assert [p.name for p in tmp_path.iterdir()] == ["seed_3.pt"]

    def test_weights_not_saved(self, case: Callable[..., EvaluatorCase], tmp_path: Path) -> None:
        with pytest.raises(AssertionError) as e:
            _run(EKIT.test_saved_weights_round_trip, case(_SavesNothing), tmp_path)
        assert _first_line(e) == "the trained weights were not saved where the run said"

    def test_weights_saved_elsewhere(
        self, case: Callable[..., EvaluatorCase], tmp_path: Path
    ) -> None:
        with pytest.raises(AssertionError, match="not saved"):
            _run(EKIT.test_saved_weights_round_trip, case(_SavesElsewhere), tmp_path)

    def test_weights_that_do_not_score_the_trial(
        self, case: Callable[..., EvaluatorCase], tmp_path: Path
    ) -> None:
        import torch

        from quarch.evaluate import classification_error

        c = case(_SavesInit)
        ev: Any = c.evaluator()
        arch = c.archs()[0]
        trained, _ = ev.trained(ev.space.validate(arch), 3)
        untrained = ev.build(arch, seed=3)
        X, y = torch.as_tensor(ev.data.X_val).float(), torch.as_tensor(ev.data.y_val)
        assert classification_error(trained, X, y) != classification_error(untrained, X, y)
        with pytest.raises(AssertionError):
            _run(EKIT.test_saved_weights_round_trip, c, tmp_path)


def test_evaluator_case_builds_what_its_spec_resolves(
    case: Callable[..., EvaluatorCase], tmp_path: Path
) -> None:
    c = case(n_archs=5)
    space = c.space()
    assert c.space() is space and space.size == 6  # resolved: three depths
    assert c.declared() == (_KitSpec.declares, frozenset({"wall_s"}))
    archs = c.archs()
    assert len(archs) == 5 and archs == c.archs()  # fixed seeds (6**5 ways to differ)
    for a in archs:
        space.validate(a)
    ev: Any = c.evaluator(weights_dir=tmp_path)
    assert ev.weights_dir == tmp_path and ev.space is space
    assert getattr(c.evaluator(), "weights_dir", 0) is None


# -- quarch.testing.aer --------------------------------------------------------------------


def _on_quito(embedding: str) -> tuple[Any, Any]:
    """A 3-qubit hybrid circuit with ``embedding`` and its routing onto ibm-quito's
    qubits 1, 3 and 4."""
    from quarch.cost.routing import route
    from quarch.spaces.hqnn.model import build_circuit

    arch = {
        "embedding": embedding, "qubits": 3, "layers": 1, "rotation_0": "rot",
        "entanglement_0": "ring", "entangler": "crz", "reupload": False, "measurement": "zz",
        "frontend": "linear", "head": "linear", "lr": 0.01,
    }  # fmt: skip
    circ = build_circuit(arch)
    return circ, route(circ, "ibm-quito", region=(1, 3, 4))


def test_aer_expvals_refuses_a_method_that_samples_the_noise() -> None:
    """Found by session 37's listing audit: with ``method="statevector"`` and one shot,
    Aer saved the probabilities of one noise trajectory, not the noisy expectation."""
    from quarch.testing.aer import aer_expvals

    with pytest.raises(ValueError) as e:
        aer_expvals(None, [], np.zeros((1, 0)), [], method="statevector")
    assert str(e.value) == (
        "aer_expvals is exact with method='density_matrix' only; got 'statevector' (Aer's "
        "other methods sample the noise: one trajectory per shot)"
    )


def test_aer_expvals_are_aers_sampled_parities() -> None:
    """The exact expectations with readout error equal Aer's own sampled measurements
    (readout errors applied by Aer to each shot) within 5 standard errors."""
    pytest.importorskip("qiskit_aer")
    pytest.importorskip("qiskit_ibm_runtime")
    from qiskit import ClassicalRegister
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel
    from qiskit_aer.noise.device.models import basic_device_readout_errors

    from quarch.cost.devices import get_calibration
    from quarch.testing.aer import aer_expvals, aer_noise_model, bound_device_circuits

    circ, routed = _on_quito("angle-y")
    assert routed.region == (1, 3, 4)  # local wire i is device qubit region[i]
    rng = np.random.default_rng(1)
    w = rng.uniform(-3, 3, circ.n_weights)
    x = rng.uniform(-1, 1, (2, circ.n_inputs))
    n = len(routed.region)
    words = [{0: "Z"}, {n - 1: "Z"}, {0: "Z", 1: "Z"}, dict.fromkeys(range(n), "Z")]
    got = aer_expvals(routed, w, x, words)
    assert got.shape == (2, len(words))

    cal = get_calibration("ibm-quito")
    assert cal is not None
    noise = NoiseModel.from_backend(cal.backend)
    assert aer_noise_model("ibm-quito") == noise
    circuits = bound_device_circuits(routed, w, x)
    assert len(circuits) == 2 and all(not qc.parameters and not qc.num_clbits for qc in circuits)
    # exact: Aer's noisy probabilities of the device's qubits, each outcome x read as y
    # with the product of Aer's readout matrices R_q[x_q, y_q], then the words' parities
    readout = {q[0]: np.asarray(e.probabilities) for q, e in basic_device_readout_errors(
        target=cal.backend.target)}  # fmt: skip
    outcomes = list(itertools.product((0, 1), repeat=n))  # bits of region[0], region[1], ...
    for k, qc in enumerate(circuits):
        qc = qc.copy()
        qc.save_probabilities_dict(list(range(qc.num_qubits)))
        probs = AerSimulator(method="density_matrix", noise_model=noise).run(qc).result()
        full = probs.data(0)["probabilities"]
        p = dict.fromkeys(outcomes, 0.0)
        for key, value in full.items():  # marginal on the region (index bit q: qubit q)
            index = int(key, 0) if isinstance(key, str) else int(key)
            p[tuple((index >> q) & 1 for q in routed.region)] += value
        for j, word in enumerate(words):
            exact = raw = 0.0
            for xs in outcomes:
                raw += p[xs] * (-1) ** sum(xs[i] for i in word)
                for ys in outcomes:
                    r = np.prod([readout[q][xs[i], ys[i]] for i, q in enumerate(routed.region)])
                    exact += p[xs] * r * (-1) ** sum(ys[i] for i in word)
            assert got[k, j] == pytest.approx(exact, abs=1e-9)
            if j == 0:
                assert abs(raw - exact) > 1e-3  # the readout errors are there
    # sampled: Aer's own shots, readout errors applied by Aer
    shots = 100_000
    for k, qc in enumerate(circuits):
        qc = qc.copy()
        creg = ClassicalRegister(n, "m")
        qc.add_register(creg)
        for i, q in enumerate(routed.region):
            qc.measure(q, creg[i])
        counts = AerSimulator(noise_model=noise, seed_simulator=k).run(qc, shots=shots).result()
        counts = counts.get_counts()
        for j, word in enumerate(words):
            # the bitstring's rightmost character is bit 0 (region[0])
            mean = (
                sum(c * (-1) ** sum(int(b[::-1][i]) for i in word) for b, c in counts.items())
                / shots
            )
            se = np.sqrt(max(1 - mean**2, 1e-4) / shots)
            assert abs(got[k, j] - mean) < 5 * se, (k, word, got[k, j], mean)
    with pytest.raises(ValueError, match="not a calibrated target"):
        aer_noise_model("ibm-heron")  # a hand profile, no calibration


# -- quarch.testing.evaluators -------------------------------------------------------------


def test_arithmetic_evaluator_closed_forms() -> None:
    from quarch.testing.evaluators import ArithmeticEvaluator

    ev = ArithmeticEvaluator()
    assert ev.fingerprint == "arithmetic" and ev.delay == 0.0 and not ev.busy
    for n, w, seed in [(1, 16, 0), (3, 64, 5), (2, 8, 997 + 10)]:
        m = ev.evaluate({"n_layers": n, "width_0": w}, seed=seed)
        assert m == {
            "val_error": pytest.approx(0.1 * n + 0.001 * w),
            "params": float(w * n),
            "noise": pytest.approx((seed % 997) / 997),
        }
    a, b = (ev.evaluate({"n_layers": 1, "width_0": 8}, seed=s)["noise"] for s in (1, 2))
    assert a != b  # another seed, another value


@pytest.mark.parametrize("busy", [False, True])
def test_arithmetic_evaluator_takes_its_delay(busy: bool) -> None:
    from quarch.testing.evaluators import ArithmeticEvaluator

    ev = ArithmeticEvaluator(0.2, busy=busy)
    assert ev.delay == 0.2 and ev.busy is busy
    wall, cpu = time.perf_counter(), time.thread_time()
    ev.evaluate({"n_layers": 1, "width_0": 8}, seed=0)
    wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
    assert wall >= 0.2
    # busy: the time is burnt on the CPU, as training does (a share of it on a loaded
    # machine); asleep: next to none
    assert cpu > 0.01 if busy else cpu < 0.01


def test_faulty_evaluator_fails_by_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    import math

    from quarch.testing import evaluators
    from quarch.testing.evaluators import ArithmeticEvaluator, FaultyEvaluator

    ev = FaultyEvaluator()
    arch = {"n_layers": 1, "width_0": 8}
    assert ev.evaluate(arch, seed=3) == ArithmeticEvaluator().evaluate(arch, seed=3)
    bad = ev.evaluate({"n_layers": 2, "width_0": 8}, seed=0)
    assert math.isnan(bad["val_error"]) and bad["params"] == 1.0
    with pytest.raises(RuntimeError) as e:
        ev.evaluate({"n_layers": 3, "width_0": 8}, seed=0)
    assert str(e.value) == "evaluator exploded on purpose"
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        raise TimeoutError  # a hang, cut short

    monkeypatch.setattr(evaluators.time, "sleep", sleep)
    for n in (4, 5):
        with pytest.raises(TimeoutError):
            ev.evaluate({"n_layers": n, "width_0": 8}, seed=0)
    assert slept == [3600, 3600]


def test_shared_rdb_elsewhere_without_dev_shm_and_removed_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil
    import tempfile

    real_isdir = os.path.isdir
    monkeypatch.setattr(kit.os.path, "isdir", lambda p: p != "/dev/shm" and real_isdir(p))
    registered: list[tuple[Any, ...]] = []
    monkeypatch.setattr(kit.atexit, "register", lambda *a: registered.append(a))
    monkeypatch.setattr(kit, "_RDB", [])
    db = Path(kit._shared_rdb(0).engine.url.database)
    folder = db.parent
    assert folder.parent == Path(tempfile.gettempdir())
    assert folder.name.startswith("quarch-contract-") and folder.is_dir()
    ((fn, *args),) = registered
    assert fn is shutil.rmtree and args[0] == str(folder)
    fn(*args)  # what the interpreter does at exit
    assert not folder.exists()


def test_shared_rdb_folder_is_removed_at_exit() -> None:
    import subprocess
    import sys

    code = (
        "from quarch.testing.strategies import _shared_rdb; "
        "print(_shared_rdb(0).engine.url.database)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    db = Path(out.stdout.strip())
    assert db.name.endswith(".db") and not db.parent.exists()


def test_bound_device_circuits_take_integer_features() -> None:
    """Features are read as floats, so integer features (counts, pixels) bind as their
    float values, also through an amplitude embedding's angle map."""
    pytest.importorskip("qiskit_ibm_runtime")
    from quarch.testing.aer import bound_device_circuits

    circ, routed = _on_quito("amplitude")
    w = np.random.default_rng(0).uniform(-3, 3, circ.n_weights)
    counts = np.array([[1, 2, 0, 1, 3, 0, 1, 1], [0, 0, 4, 1, 0, 2, 2, 1]])
    ints = bound_device_circuits(routed, w, counts)
    floats = bound_device_circuits(routed, w, counts.astype(np.float64))
    assert len(ints) == 2 and ints == floats and ints[0] != ints[1]


def test_load_factory_imports_or_reads_the_file(tmp_path: Path) -> None:
    from quarch.testing.evaluators import ArithmeticEvaluator

    assert kit._load_factory("quarch.testing.evaluators", "", "ArithmeticEvaluator") is (
        ArithmeticEvaluator
    )
    # a module that cannot be imported by name (as pytest imports test modules): its file
    name = f"kit_plugin_{time.time_ns()}"
    (tmp_path / "plug.py").write_text(
        "class Outer:\n    @staticmethod\n    def make():\n        return 42\n"
    )
    try:
        make = kit._load_factory(name, str(tmp_path / "plug.py"), "Outer.make")
        assert make() == 42 and sys.modules[name].Outer.make is make
        with pytest.raises(LookupError) as e:
            kit._load_factory(name, str(tmp_path / "plug.py"), "Outer.missing")
        assert str(e.value) == (
            f"strategy factory Outer.missing is not a module-level name of {name}: a fresh "
            "process cannot find it (define the factory at the top of its module)"
        )
        (tmp_path / "plug.txt").write_text("")
        with pytest.raises(AssertionError, match=r"cannot load .*plug\.txt"):
            kit._load_factory(name + "_txt", str(tmp_path / "plug.txt"), "f")
    finally:
        sys.modules.pop(name, None)


def test_factory_location_and_sequence_json(plugin: Callable[..., str]) -> None:
    import json

    name = plugin(_seeded)
    module, file, qualname = kit._factory_location(name) or ("", "", "")
    assert sys.modules[module] is sys.modules[_seeded.__module__]
    assert Path(file).resolve() == Path(__file__).resolve() and qualname == "_seeded"
    want = param_sequence(run_contract_study(kit._make(name, seed=5)))
    assert json.loads(kit._sequence_json(name, 5)) == json.loads(json.dumps(want))
    # not registered here: ``where`` finds and registers it (as in a fresh process)
    STRATEGIES.remove(name)
    assert json.loads(kit._sequence_json(name, 5, (module, file, qualname))) == json.loads(
        json.dumps(want)
    )
    assert STRATEGIES.get(name) is _seeded
    entry = next(e for e in STRATEGIES.entries() if e.name == name)
    assert entry.description == "the strategy under test"
    # registered already: ``where`` is not even read (a built-in's factory may be a local
    # function, which no fresh process could look up by name)
    assert "<locals>" in (kit._factory_location("qubo-sa") or ("", "", ""))[2]
    nowhere_file = ("no_such_module", "/no/such/file.py", "f")
    assert json.loads(kit._sequence_json(name, 5, nowhere_file)) == json.loads(json.dumps(want))
    # factories whose module has no file, or that name no module: nowhere to point to
    wrapper = functools.partial(_seeded).__call__  # a C slot's method-wrapper: no __module__
    assert not hasattr(wrapper, "__module__")
    for factory in (functools.partial(_seeded), _in_a_module_without_a_file, wrapper):
        STRATEGIES.remove(name)
        STRATEGIES.add(name, factory, "no file")
        assert kit._factory_location(name) is None
    # unknown, and nowhere to look: the registry's own refusal
    with pytest.raises(ConfigError, match="unknown strategy 'kit-not-registered'"):
        kit._sequence_json("kit-not-registered", 5)
    # a factory in no module of a file: the fresh process cannot be told where it is
    STRATEGIES.remove(name)
    nowhere = lambda **kw: RandomSampler(seed=kw["seed"])  # noqa: E731
    nowhere.__module__ = "__main__"
    STRATEGIES.add(name, nowhere, "in __main__")
    assert kit._factory_location(name) is None
    STRATEGIES.remove(name)
    nowhere.__module__ = "no.such.module"
    STRATEGIES.add(name, nowhere, "in a module never imported")
    assert kit._factory_location(name) is None


def test_sequence_json_when_importing_the_module_registers_the_strategy(
    tmp_path: Path,
) -> None:
    import json

    module = f"kit_registers_{time.time_ns()}"
    name = module.replace("_", "-")
    (tmp_path / "reg.py").write_text(
        "from optuna.samplers import RandomSampler\n"
        "from quarch.search import STRATEGIES\n"
        "def factory(*, seed, space, objective, **options):\n"
        "    return RandomSampler(seed=seed)\n"
        f"STRATEGIES.add({name!r}, factory, 'registered on import')\n"
    )
    try:
        got = json.loads(kit._sequence_json(name, 5, (module, str(tmp_path / "reg.py"), "factory")))
        want = param_sequence(run_contract_study(RandomSampler(seed=5)))
        assert got == json.loads(json.dumps(want))
        entry = next(e for e in STRATEGIES.entries() if e.name == name)
        assert entry.description == "registered on import"
    finally:
        sys.modules.pop(module, None)
        if name in STRATEGIES:
            STRATEGIES.remove(name)
