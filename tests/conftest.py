"""The whole suite writes only to temporary folders (issue 20, bug 7).

* Every test runs with a temporary working folder, so a run folder named by default
  (``runs/SPACE-DATASET-STRATEGY-sSEED``) or any other relative path lands there.
* Hypothesis keeps no example database (it would write ``.hypothesis/`` here).
* At the end of the session the checkout is compared with its state at the start
  (every file git sees, ignored ones included, caches aside): a file a test wrote
  into it fails the session, naming the file.
* Under mutmut (``benchmarks/mutation.py``) quarch's memoised tables are emptied at the
  start of each session (see :func:`_mutants_see_no_cached_results`).
* What a test changes of the process's signal state (the SIGINT and SIGTERM handlers,
  ``sys.unraisablehook``) is put back after it (see :func:`_signal_state_is_the_tests_own`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

from ._scope import per_module

ROOT = Path(__file__).resolve().parents[1]
# written by Python, the tools and pytest itself, not by tests
_CACHES = ("__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".grimp_cache",
           ".import_linter_cache", ".hypothesis", ".benchmarks", ".egg-info")  # fmt: skip

settings.register_profile("quarch", database=None)
settings.load_profile("quarch")


def pytest_configure(config: pytest.Config) -> None:
    """Under ``pytest -n N``, each worker's torch runs on its share of the cores.

    By default torch gives every process one intra-op thread per core: ``-n 2`` on two
    cores ran four threads on two cores, whose OpenMP threads spin waiting for each
    other (session 40, 2-core machine otherwise idle, ``pytest -n 2`` over
    test_replay, test_small_dense, test_noise_broadcast_truth and tests/spaces: 128 s
    and 245 CPU-s with two threads per worker, 64 s and 118 CPU-s with one). Only the
    worker itself: the environment the tests' own processes inherit is left as a
    user's (``tests/study/test_parallel_truth.py`` checks that a fresh interpreter
    takes its thread count from it). A test that checks code sets one thread must
    first set another count, as ``test_training_truth.py`` does.
    """
    del config
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if workers:
        import torch

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        torch.set_num_threads(max(1, (cores or 1) // int(workers)))


def _checkout_files() -> set[str] | None:
    """Untracked and ignored paths in the checkout (``None`` outside a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--ignored", "--untracked-files=all"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    paths = {line[3:] for line in out.splitlines() if line[:2] in ("??", "!!")}
    return {p for p in paths if not any(c in p for c in _CACHES)}


#: quarch's memoised tables that are plain dicts (the ``functools`` caches are found by
#: their ``cache_clear``)
_DICT_CACHES = {
    "quarch.search._surrogate": "_DECODE_CACHE",
    "quarch.quantum._apply": "_REAL_IDX",
    "quarch.spaces.hqnn.bench": "_CACHE",  # built tasks: a mutant's builder must run
    "quarch.spaces.nb201.tasks": "_CACHE",
}


@pytest.fixture(scope="session", autouse=True)
def _mutants_see_no_cached_results() -> None:
    """Empty quarch's caches when mutmut runs this session (``MUTANT_UNDER_TEST`` set).

    mutmut forks each mutant's tests from a process whose first run filled the caches
    with the original code's results; a test that hits one sees the original answer,
    and the mutant survives untested. Outside mutmut the caches start empty anyway.
    """
    if not os.environ.get("MUTANT_UNDER_TEST"):
        return
    for name, module in list(sys.modules.items()):
        if not name.startswith("quarch"):
            continue
        for obj in list(vars(module).values()):
            clear = getattr(obj, "cache_clear", None)
            if callable(clear):
                clear()
        if name in _DICT_CACHES:
            getattr(module, _DICT_CACHES[name]).clear()


@pytest.fixture(autouse=True)
def _signal_state_is_the_tests_own() -> Iterator[None]:
    """Put back the SIGINT and SIGTERM handlers and ``sys.unraisablehook`` after each test.

    ``quarch.cli.main`` run in this process installs a hook that turns a Ctrl-C Python
    had to drop into ``_thread.interrupt_main()`` 20 ms later
    (:func:`quarch._errors.quiet_interrupted_imports`), and some tests leave SIGINT
    ignored, as a spawned worker does. Left installed, a later test's deliberate SIGINT
    that lands in a weakref callback comes back 20 ms later, possibly inside pytest
    itself after the test. (One fresh-machine suite ended in an xdist INTERNALERROR
    after a failure and an error that no report named; this is the one path found by
    which a test's Ctrl-C could reach another test or pytest.)
    """
    hook = sys.unraisablehook
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    sys.unraisablehook = hook
    for s, h in handlers.items():
        if h is not None and signal.getsignal(s) is not h:
            signal.signal(s, h)


@pytest.fixture(scope="session", autouse=True)
def _tests_write_only_to_temporary_folders(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    before = _checkout_files()
    old = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    try:
        yield
    finally:
        os.chdir(old)
    after = _checkout_files()
    if before is not None and after is not None:
        new = sorted(after - before)
        assert not new, f"tests wrote into the checkout: {new[:10]}"


@pytest.fixture(scope=per_module)
def tiny_hqnn_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-trial hybrid run (2 qubits, one layer, one epoch: seconds), for the
    commands that read a run (resume, report, train, export); one per test module, so a
    module that resumes it changes no other module's."""
    from quarch.config import SearchConfig
    from quarch.study import run_search

    out = tmp_path_factory.mktemp("tiny") / "hqnn"
    cfg = SearchConfig(
        space="hqnn", dataset="iris", trials=2, epochs=1, out=str(out),
        space_options={"max_qubits": 2, "max_layers": 1, "frontends": ["linear"]},
    )  # fmt: skip
    run_search(cfg, progress=False)
    return out
