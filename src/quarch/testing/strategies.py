"""The contract every search strategy meets, as reusable pytest checks.

A strategy is an ``optuna.samplers.BaseSampler`` built by ``quarch.search.make_sampler``.
The checks run it on a small seeded QUBO over a mixed categorical space (choices of
3, 4 and 2 options) and assert that

* every trial's parameters form a valid architecture of the space;
* the same seed gives the same sequence of parameters in this process, after a pickle
  round trip, and in a fresh Python process;
* a study stopped half-way and continued with a new sampler instance (SQLite and
  JournalStorage file storage) reaches its trial count with valid parameters, and for
  quarch's own stateless strategies proposes exactly what an uninterrupted run does
  (Optuna's own samplers keep an RNG stream on the instance and are exempt from that);
* studies with two objectives, constraints, a weighted cost and ``n_jobs=2`` work.
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from quarch.objectives import Objective
from quarch.space import Choice, Space

__all__ = [
    "StrategyTestCase",
    "contract_objective",
    "contract_space",
    "param_sequence",
    "run_contract_study",
]

_N_TRIALS = 24


def contract_space() -> Space:
    """Three choices of 3, 4 and 2 options (24 architectures), mixed value types."""
    return Space(
        [
            Choice("op", ["conv", "pool", "skip"]),
            Choice("width", [8, 16, 32, 64]),
            Choice("act", [True, False]),
        ],
        name="contract",
    )


def contract_objective(arch: dict[str, Any]) -> tuple[float, float]:
    """Two seeded QUBO-like values of ``arch`` (both minimised)."""
    space = contract_space()
    bits = space.to_bits(arch).astype(float)
    Q = np.triu(np.random.default_rng(7).standard_normal((bits.size, bits.size)))
    energy = float(bits @ Q @ bits)
    size = float(space.to_indices(arch)[1] + space.to_indices(arch)[0])
    return energy, size


def run_contract_study(
    sampler: Any,
    n_trials: int = _N_TRIALS,
    *,
    storage: Any = None,
    study_name: str = "contract",
    multi: bool = False,
    constrained: bool = False,
    n_jobs: int = 1,
) -> Any:
    """Run (or continue) a study on the contract space until it has ``n_trials`` trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = contract_space()
    study = optuna.create_study(
        storage=storage,
        study_name=study_name,
        sampler=sampler,
        directions=["minimize", "minimize"] if multi else ["minimize"],
        load_if_exists=True,
    )

    def objective(trial: optuna.Trial) -> float | tuple[float, float]:
        arch = space.suggest(trial)
        energy, size = contract_objective(arch)
        if constrained:
            trial.set_constraint("size<=3", size - 3.0)
        return (energy, size) if multi else energy

    left = n_trials - len(study.trials)
    if left > 0:
        study.optimize(objective, n_trials=left, n_jobs=n_jobs)
    return study


def param_sequence(study: Any) -> list[dict[str, Any]]:
    """The parameters of the study's trials, in trial order."""
    return [dict(t.params) for t in sorted(study.trials, key=lambda t: t.number)]


def _make(name: str, seed: int = 0, weighted: bool = False) -> Any:
    from quarch.search import make_sampler

    obj = (
        Objective(["val_error", "params"], weights=[1.0, 0.01])
        if weighted
        else Objective(["val_error"])
    )
    return make_sampler(name, seed=seed, space=contract_space(), objective=obj)


def _sequence_json(name: str, seed: int, where: tuple[str, str, str] | None = None) -> str:
    """Entry point of the subprocess check: the parameter sequence as JSON.

    ``where`` (module, file, qualified name) locates the strategy's factory when the
    fresh process has not registered ``name`` (a plug-in registered by a test module or
    by a package that ``quarch`` does not import); it is loaded and registered first.
    """
    from quarch.search import STRATEGIES

    if where is not None and name not in STRATEGIES:
        factory = _load_factory(*where)  # importing its module may register it
        if name not in STRATEGIES:
            STRATEGIES.add(name, factory, "the strategy under test")
    return json.dumps(param_sequence(run_contract_study(_make(name, seed))))


def _factory_location(name: str) -> tuple[str, str, str] | None:
    """Where strategy ``name``'s factory is defined: its module, the module's file and
    its qualified name (``None`` for one without a file or a name, or in ``__main__``)."""
    from quarch.search import STRATEGIES

    factory = STRATEGIES.get(name)
    module = sys.modules.get(getattr(factory, "__module__", None) or "")
    file = getattr(module, "__file__", None)
    qualname = getattr(factory, "__qualname__", None)  # a partial has none
    if module is None or file is None or qualname is None or module.__name__ == "__main__":
        return None
    return module.__name__, file, qualname


def _load_factory(module: str, file: str, qualname: str) -> Any:
    """The object ``qualname`` of ``module``, imported, or read from ``file`` when the
    module cannot be imported by name (pytest imports test modules by path)."""
    import importlib
    import importlib.util

    try:
        mod = importlib.import_module(module)
    except ImportError:
        spec = importlib.util.spec_from_file_location(module, file)
        assert spec is not None and spec.loader is not None, f"cannot load {file}"
        mod = importlib.util.module_from_spec(spec)
        sys.modules[module] = mod
        spec.loader.exec_module(mod)
    obj: Any = mod
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise LookupError(
                f"strategy factory {qualname} is not a module-level name of {module}: a fresh "
                "process cannot find it (define the factory at the top of its module)"
            )
    return obj


_RDB: list[Any] = []


def _shared_rdb(which: int) -> Any:
    """One of two connections to one SQLite file, made once per process.

    Creating an ``RDBStorage`` costs seconds (schema set-up), so every resume check
    shares the file (each with its own study name); writing through one connection and
    resuming through the other reads the study back from disk.
    """
    if not _RDB:
        from optuna.storages import RDBStorage

        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None  # no fsync cost on tmpfs
        folder = tempfile.mkdtemp(prefix="quarch-contract-", dir=shm)
        atexit.register(shutil.rmtree, folder, True)
        url = f"sqlite:///{Path(folder) / 'studies.db'}"
        _RDB.extend([RDBStorage(url), RDBStorage(url)])
    return _RDB[which]


def _is_stateless(sampler: Any) -> bool:
    """Whether the sampler keeps all its state in storage (quarch's own samplers do;
    Optuna's, and quarch's thin subclasses of them, keep a random state in the object)."""
    mro = type(sampler).__mro__
    if optuna.samplers.BaseSampler not in mro:
        return False
    below = mro[: mro.index(optuna.samplers.BaseSampler)]
    return all(cls.__module__.startswith("quarch.") for cls in below)


class StrategyTestCase:
    """Contract tests for one registered strategy.

    Subclass it in a test module and provide a ``strategy`` fixture returning the name
    (parametrize it over ``STRATEGIES.names()`` to check every strategy)::

        @pytest.fixture(params=STRATEGIES.names())
        def strategy(request):
            return request.param

        class TestStrategies(StrategyTestCase):
            pass

    A plug-in registered by the test module itself (or by a package quarch does not
    import) is found by the fresh process of the subprocess check through its factory,
    which must then be a module-level name of a module with a file.
    """

    def _assert_valid(self, study: Any, n: int) -> None:
        from optuna.trial import TrialState

        space = contract_space()
        complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
        assert len(complete) == n, f"expected {n} complete trials; got {len(complete)}"
        for t in study.trials:
            space.validate(t.params)

    def test_valid_architectures(self, strategy: str) -> None:
        study = run_contract_study(_make(strategy))
        self._assert_valid(study, _N_TRIALS)
        # a search explores: one architecture proposed in every trial is a strategy that
        # spends the whole budget on one evaluation (each of its runs would be "valid",
        # deterministic and seed-dependent)
        seen = {tuple(sorted(p.items())) for p in param_sequence(study)}
        assert len(seen) >= 2, (
            f"{strategy!r} proposed one architecture in all {_N_TRIALS} trials of a space of "
            f"{contract_space().size}: {param_sequence(study)[0]}"
        )

    def test_deterministic_in_process(self, strategy: str) -> None:
        a = param_sequence(run_contract_study(_make(strategy, seed=3)))
        b = param_sequence(run_contract_study(_make(strategy, seed=3)))
        assert a == b

    def test_seed_matters(self, strategy: str) -> None:
        a = param_sequence(run_contract_study(_make(strategy, seed=1)))
        b = param_sequence(run_contract_study(_make(strategy, seed=2)))
        assert a != b

    def test_deterministic_in_subprocess(self, strategy: str) -> None:
        here = param_sequence(run_contract_study(_make(strategy, seed=5)))
        code = (
            # this process's import path after the fresh one's own (where a test module's
            # helpers may be found), so that the installed quarch is the one imported
            f"import sys; sys.path.extend(p for p in {sys.path!r} if p not in sys.path); "
            "from quarch.testing.strategies import _sequence_json; "
            f"print(_sequence_json({strategy!r}, 5, {_factory_location(strategy)!r}))"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"the fresh process failed:\n{proc.stderr[-3000:]}"
        there = json.loads(proc.stdout.strip().splitlines()[-1])
        assert there == json.loads(json.dumps(here))

    def test_pickles(self, strategy: str) -> None:
        sampler = _make(strategy, seed=4)
        clone = pickle.loads(pickle.dumps(sampler))
        assert param_sequence(run_contract_study(clone)) == param_sequence(
            run_contract_study(sampler)
        )

    def test_unpickled_sampler_resumes(self, strategy: str) -> None:
        """A sampler that ran half a stored study, pickled and unpickled (as it travels
        to another process), finishes that study; a stateless one as if never paused."""
        straight = param_sequence(run_contract_study(_make(strategy, seed=7), _N_TRIALS))
        name = f"unpickled-{strategy}-{uuid.uuid4().hex}"
        used = _make(strategy, seed=7)
        run_contract_study(used, _N_TRIALS // 2, storage=_shared_rdb(0), study_name=name)
        clone = pickle.loads(pickle.dumps(used))
        assert type(clone) is type(used)
        study = run_contract_study(clone, _N_TRIALS, storage=_shared_rdb(1), study_name=name)
        self._assert_valid(study, _N_TRIALS)
        if _is_stateless(clone):
            assert param_sequence(study) == straight

    def _check_resume(self, strategy: str, first: Any, second: Any, n: int = _N_TRIALS) -> None:
        straight = param_sequence(run_contract_study(_make(strategy, seed=6), n))
        name = f"resume-{strategy}-{uuid.uuid4().hex}"
        run_contract_study(_make(strategy, seed=6), n // 2, storage=first, study_name=name)
        fresh = _make(strategy, seed=6)
        study = run_contract_study(fresh, n, storage=second, study_name=name)
        self._assert_valid(study, n)
        if _is_stateless(fresh):
            assert param_sequence(study) == straight

    def test_resume_sqlite(self, strategy: str) -> None:
        # 16 trials: SQLAlchemy costs ~50 ms a trial; past QIEA's and QPSO's first
        # generations all the same.
        self._check_resume(strategy, _shared_rdb(0), _shared_rdb(1), n=16)

    def test_resume_journal(self, strategy: str, tmp_path: Path) -> None:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        path = str(tmp_path / "journal.log")
        self._check_resume(
            strategy,
            JournalStorage(JournalFileBackend(path)),
            JournalStorage(JournalFileBackend(path)),
        )

    def test_multi_objective_with_constraints(self, strategy: str) -> None:
        study = run_contract_study(_make(strategy), multi=True, constrained=True)
        self._assert_valid(study, _N_TRIALS)

    def test_weighted_cost(self, strategy: str) -> None:
        study = run_contract_study(_make(strategy, weighted=True), constrained=True)
        self._assert_valid(study, _N_TRIALS)

    def test_parallel_jobs(self, strategy: str) -> None:
        study = run_contract_study(_make(strategy), n_jobs=2)
        self._assert_valid(study, _N_TRIALS)
