"""A spawned worker that stops before its first trial, or is killed, is reported
(``quarch.study._parallel``: ``_worker_main``, ``_leave_reason``, ``_why_stopped``,
``_Watch``).

``--workers N`` starts N-1 spawned workers beside this process. One that failed at its
start (a plug-in that fails to import there, a space unknown there, a data set it
cannot open) ended without a word (``_worker_main`` swallowed a QuarchError; any other
error was a traceback from multiprocessing), and this process ran every trial alone:
N times slower, nothing said. Now each such worker is one ``QuarchWarning`` line
naming it, its process id, the error's class and message, and how many workers the run
goes on with; the run still completes its budget. A worker that ends as it should (the
budget, the deadline, a run that gives up or Ctrl-C: the parent reports those itself)
is not reported.

The truth: the process ids that evaluated trials and the one that failed, written by
the user's code itself into a file (not quarch's record); the error each raised, as
the test wrote it; the signal the test sent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quarch import RunError
from quarch._warnings import QuarchWarning
from quarch.config import SearchConfig
from quarch.spaces import _CACHE, SPACES, register_space
from quarch.study import _parallel as par
from quarch.study import _worker_stops as stops
from quarch.study import run_search

from .test_parallel_truth import _alive  # a process that runs (no zombie)

#: The user's module: a plug-in that fails only in a spawned worker, an evaluator that
#: records each evaluating process (and holds its first trial until a spawned one has
#: started one, at most 60 s, or kills the spawned one where asked), and a space spec.
LIB = """
import os, signal, time
from pathlib import Path

from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec

PIDS = Path(os.environ["HC_PIDS"])
WAITED = []


def spawned():  # a worker of the search's process (HC_PARENT), also while
    # multiprocessing imports the main script in it (before its parent_process is set)
    return os.environ.get("HC_PARENT", str(os.getpid())) != str(os.getpid())


def note(kind):
    with PIDS.open("a") as f:
        f.write(f"{kind} {os.getpid()}\\n")


def noted(kind):
    return any(line.split()[0] == kind for line in PIDS.read_text().splitlines())


def evaluating():
    return {line.split()[1] for line in PIDS.read_text().splitlines() if line.startswith("eval")}


class Ev:
    fingerprint = "hc-lib"

    def __init__(self, wait=True, kill=False, fail=False, until=None, slow=0.0):
        self.wait, self.kill, self.fail = wait, kill, fail
        self.until, self.slow = until, slow

    def evaluate(self, arch, *, seed):
        note("eval")
        if self.fail:
            raise RuntimeError("every trial fails")
        if self.kill and spawned():
            os.kill(os.getpid(), signal.SIGKILL)
        if spawned():
            time.sleep(self.slow)
        end = time.monotonic() + 60
        while self.until and not noted(self.until) and time.monotonic() < end:
            time.sleep(0.05)
        while self.wait and not WAITED and len(evaluating()) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        WAITED.append(1)
        return {"val_error": 1 / arch["depth"], "params": float(arch["depth"])}


class LibSpec(SpaceSpec):
    name = "hc-lib"
    description = "toy"
    needs_dataset = False

    def __init__(self, hold=None, fail_in_worker=False):
        self.hold, self.fail_in_worker = hold, fail_in_worker

    def space(self, **options):
        return Space([Choice("depth", [1, 2, 3, 4, 5, 6])], name="hc-lib")

    def make_evaluator(self, space, config, *, weights_dir=None):
        if self.fail_in_worker and spawned():
            note("failed")
            raise FileNotFoundError("no such data set: /data/hc.npz")
        return Ev(wait=False)
"""

#: A plug-in that raises at its import in a spawned worker only.
PLUGIN = """
import hc_lib
if hc_lib.spawned():
    hc_lib.note("failed")
    raise RuntimeError("boom: the GPU driver is missing here")
"""

#: A plug-in whose import never returns in a spawned worker (a storage lock held by
#: another process, a data set on a stalled network folder); with HC_DEAF set it also
#: ignores Ctrl-C, as a worker does until ``_worker_main`` takes Ctrl-C back.
HANG = """
import os, signal, time
import hc_lib
if hc_lib.spawned():
    if os.environ.get("HC_DEAF"):
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    hc_lib.note("hung")
    time.sleep(600)
"""


@pytest.fixture
def lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The module above on the path (the spawned workers get this process's path and
    environment); spaces registered by a test are forgotten after it."""
    (tmp_path / "hc_lib.py").write_text(LIB)
    (tmp_path / "hc_boom.py").write_text(PLUGIN)
    (tmp_path / "hc_hang.py").write_text(HANG)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("HC_PIDS", str(tmp_path / "pids.txt"))
    monkeypatch.setenv("HC_PARENT", str(os.getpid()))
    monkeypatch.delenv("QUARCH_PLUGINS", raising=False)
    (tmp_path / "pids.txt").write_text("")
    main = sys.modules["__main__"]  # as test_parallel_truth's `spawnable`: under mutmut
    if getattr(main, "__spec__", None) is None and hasattr(main, "__file__"):
        monkeypatch.delattr(main, "__file__")  # its script fails outside mutmut's folder
    if "MUTANT_UNDER_TEST" in os.environ:
        import quarch

        monkeypatch.chdir(Path(quarch.__file__).parents[2])
    spaces = set(SPACES.names())
    yield importlib.import_module("hc_lib")
    for name in set(SPACES.names()) - spaces:
        SPACES.remove(name)
        _CACHE.pop(name, None)
    for name in ("hc_lib", "hc_boom", "hc_hang"):
        sys.modules.pop(name, None)
    for pid in _pids(tmp_path, "hung"):  # whatever the test did: none outlives it
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pids(tmp_path: Path, kind: str) -> list[int]:
    lines = (tmp_path / "pids.txt").read_text().splitlines()
    return [int(line.split()[1]) for line in lines if line.split()[0] == kind]


def _search(tmp_path: Path, **kw: Any) -> tuple[Any, list[str]]:
    """``run_search`` with two workers; the result and the QuarchWarnings' lines."""
    base: dict[str, Any] = {"space": "hc-lib", "strategy": "random", "trials": 4,
                            "workers": 2, "out": str(tmp_path / "run")}  # fmt: skip
    evaluator = kw.pop("evaluator", None)
    base.update(kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_search(SearchConfig(**base), evaluator=evaluator, progress=False)
    lines = [str(w.message) for w in caught if issubclass(w.category, QuarchWarning)]
    return result, [x for x in lines if "cores" not in x]  # a 1-core machine's own


def _alone(line: str, pid: int) -> None:
    assert line.startswith(f"worker process quarch-worker-1 (pid {pid}) ")
    assert "; this process r" in line and line.endswith(" the remaining trials alone")


def test_a_plugin_that_fails_to_import_in_the_worker_is_one_line_and_the_run_completes(
    lib: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QUARCH_PLUGINS", "hc_boom")  # this process never imports it
    register_space(lib.LibSpec())
    result, lines = _search(tmp_path, evaluator=lib.Ev(wait=False))
    assert result.done == 4
    (failed,) = _pids(tmp_path, "failed")
    assert set(_pids(tmp_path, "eval")) == {os.getpid()}  # this process ran them all
    (line,) = lines
    _alone(line, failed)
    assert (
        "stopped before its first trial: ConfigError: importing module (from "
        "QUARCH_PLUGINS) 'hc_boom' failed: RuntimeError: boom: the GPU driver is missing here"
    ) in line
    assert "Traceback" not in capfd.readouterr().err
    assert not list((tmp_path / "run").glob(".worker-*"))  # its reason file is removed
    (gone,) = result.workers_stopped
    assert gone.startswith(f"quarch-worker-1 (pid {failed}) stopped before its first trial: ")
    assert line.startswith(f"worker process {gone}; ")


def test_a_space_the_worker_cannot_find_is_reported(lib: Any, tmp_path: Path) -> None:
    """Registered in this process only, with what cannot be pickled (a lambda), so it
    is not sent: the worker imports the spec's module, which does not register it."""
    register_space(lib.LibSpec(hold=lambda: None))
    result, lines = _search(tmp_path)
    assert result.done == 4
    assert set(_pids(tmp_path, "eval")) == {os.getpid()}
    (line,) = lines
    assert "quarch-worker-1 (pid " in line
    assert "stopped before its first trial: ConfigError: " in line and "'hc-lib'" in line
    assert line.endswith("alone")


def test_any_error_at_the_start_is_one_line_without_a_traceback(
    lib: Any, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Not a quarch error (it was multiprocessing's traceback and nothing else): the
    spec's evaluator cannot open its data set in the worker."""
    register_space(lib.LibSpec(fail_in_worker=True))
    result, lines = _search(tmp_path, trials=3)
    assert result.done == 3
    (failed,) = _pids(tmp_path, "failed")
    (line,) = lines
    _alone(line, failed)
    assert (
        "stopped before its first trial: FileNotFoundError: no such data set: /data/hc.npz;" in line
    )
    assert "Traceback" not in capfd.readouterr().err


def test_three_workers_one_fails_the_run_goes_on_with_two(
    lib: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both spawned workers fail (each imports the plug-in): two lines, the second one
    saying this process is left alone, the first that two of three went on."""
    monkeypatch.setenv("QUARCH_PLUGINS", "hc_boom")
    register_space(lib.LibSpec())
    result, lines = _search(tmp_path, evaluator=lib.Ev(wait=False), workers=3, trials=6)
    assert result.done == 6
    failed = _pids(tmp_path, "failed")
    assert len(failed) == 2 and len(lines) == 2
    said = sorted((int(x.split("(pid ")[1].split(")")[0]), x) for x in lines)
    assert [pid for pid, _ in said] == sorted(failed)
    first, second = lines
    assert " on with 2 of 3 workers" in first and "alone" not in first
    assert second.endswith("the remaining trials alone")


def test_a_worker_killed_by_a_signal_is_named_with_it(lib: Any, tmp_path: Path) -> None:
    """It dies in its first trial (SIGKILL, as the kernel's out-of-memory killer): its
    trial is failed as dead and redone, and the line names the signal."""
    register_space(lib.LibSpec())
    result, lines = _search(tmp_path, evaluator=lib.Ev(kill=True))
    assert result.done == 4
    evaluating = set(_pids(tmp_path, "eval"))
    assert len(evaluating) == 2 and os.getpid() in evaluating
    (killed,) = evaluating - {os.getpid()}
    (line,) = lines
    _alone(line, killed)
    assert " was killed by SIGKILL; " in line


def test_workers_that_end_as_they_should_are_not_reported(lib: Any, tmp_path: Path) -> None:
    """Both processes evaluate trials, the budget is done: no line about a worker."""
    register_space(lib.LibSpec())
    result, lines = _search(tmp_path, evaluator=lib.Ev())
    assert result.done == 4
    assert len(set(_pids(tmp_path, "eval"))) == 2
    assert lines == [] and result.workers_stopped == []


def test_a_run_that_gives_up_is_not_reported_again_per_worker(lib: Any, tmp_path: Path) -> None:
    """Every trial fails: the run gives up (RunError, the parent's own line); the
    spawned worker that gave up too, or was stopped, is not reported."""
    register_space(lib.LibSpec())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(RunError, match="in a row"):
            _search(tmp_path, evaluator=lib.Ev(fail=True), trials=40)
    assert not [w for w in caught if "worker process" in str(w.message)]
    assert not list((tmp_path / "run").glob(".worker-*"))


# ------------------------------------------- a worker that hangs at its start (HANG)


@contextlib.contextmanager
def _within(seconds: int) -> Iterator[None]:
    """Fail, instead of hanging, a search that does not return in ``seconds`` (the old
    final wait for a hung worker never returned)."""

    def late(signum: int, frame: Any) -> None:
        raise AssertionError(f"the search did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, late)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _short_grace(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker is ended 1 s after the budget, not 30 s after its start (the numbers
    themselves: ``test_a_worker_is_ended_30_s_after_its_start_or_5_s_after_the_budget``)."""
    monkeypatch.setattr(stops, "START_SECONDS", 0.0)
    monkeypatch.setattr(stops, "AFTER_BUDGET_SECONDS", 1.0)


def test_a_worker_that_hangs_at_its_start_is_ended_and_the_search_returns(
    lib: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker hangs in its plug-in's import, deaf to Ctrl-C (so SIGTERM ends it);
    this process runs the budget (its first trial waits until the worker hangs), then
    ends the worker, says so in one line, and returns its results."""
    monkeypatch.setenv("QUARCH_PLUGINS", "hc_hang")
    monkeypatch.setenv("HC_DEAF", "1")
    _short_grace(monkeypatch)
    register_space(lib.LibSpec())
    with _within(90):
        result, lines = _search(tmp_path, evaluator=lib.Ev(wait=False, until="hung"))
    (hung,) = _pids(tmp_path, "hung")
    assert not _alive(hung)
    assert result.done == 4 and result.stopped == "budget"
    assert set(_pids(tmp_path, "eval")) == {os.getpid()}
    assert lines == [
        f"worker process quarch-worker-1 (pid {hung}) had not started a trial when the budget "
        "was complete; ended it"
    ]
    assert result.workers_stopped == [
        f"quarch-worker-1 (pid {hung}) had not started a trial when the budget was complete, "
        "and was ended"
    ]
    assert not list((tmp_path / "run").glob(".worker-*"))


def test_a_worker_running_a_trial_is_waited_for_and_its_trial_counts(
    lib: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """This process stops at its time limit (1 s here, its deadline faked; the worker's
    is the run's 120 s) after its first trial, which waits until the worker is in its
    own 3 s trial: the worker is waited for, not ended, and its trial counts."""
    _short_grace(monkeypatch)
    monkeypatch.setattr(par, "_left", lambda timeout, deadline: 1.0)  # this process's only
    register_space(lib.LibSpec())
    with _within(90):
        result, lines = _search(tmp_path, evaluator=lib.Ev(slow=3.0), trials=2, timeout=120)
    assert result.stopped == "timeout" and lines == []
    assert len(set(_pids(tmp_path, "eval"))) == 2
    assert result.done == 2 and not result.failed
    assert result.workers_stopped == []


def test_ctrl_c_while_waiting_for_a_hung_worker_ends_it_and_goes_on_up(
    lib: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C after the budget, while this process waits out the hung worker's grace
    (60 s here): the worker, hung where Ctrl-C reaches it, ends by it at once."""
    monkeypatch.setenv("QUARCH_PLUGINS", "hc_hang")
    monkeypatch.setattr(stops, "START_SECONDS", 0.0)
    monkeypatch.setattr(stops, "AFTER_BUDGET_SECONDS", 60.0)
    register_space(lib.LibSpec())

    real_idle, polls = stops._idle, []

    def idle_then_ctrl_c(procs: Any, study: Any, first_trial: int) -> Any:
        """The user's Ctrl-C at the second look at the idle workers: while this process
        waits out the hung worker's grace."""
        polls.append(1)
        if len(polls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return real_idle(procs, study, first_trial)

    monkeypatch.setattr(stops, "_idle", idle_then_ctrl_c)
    # Python's own Ctrl-C handler: pytest-xdist's workers start with SIGINT ignored (a
    # SIGINT sent here then reached nothing in whole-suite runs, and the search returned
    # after the grace); a terminal's Ctrl-C reaches `quarch search` through this one
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    t0 = time.monotonic()
    try:
        with _within(90), pytest.raises(KeyboardInterrupt):
            _search(tmp_path, evaluator=lib.Ev(wait=False, until="hung"))
    finally:
        signal.signal(signal.SIGINT, old)
    (hung,) = _pids(tmp_path, "hung")
    assert not _alive(hung) and len(polls) == 2  # interrupted in the final wait, not after
    assert time.monotonic() - t0 < 60


# ------------------------------------------------------ the parts, in this process


def test_why_stopped_reads_the_reason_once_then_the_exit_status(tmp_path: Path) -> None:
    stops._reason_file(tmp_path, 41).write_text("ValueError: bad\n")
    assert stops._why_stopped(3, 41, tmp_path) == "stopped before its first trial: ValueError: bad"
    assert not stops._reason_file(tmp_path, 41).exists()
    stops._reason_file(tmp_path, 42).write_text("OSError: x\n")  # whatever its exit status
    assert stops._why_stopped(0, 42, tmp_path) == "stopped before its first trial: OSError: x"
    assert stops._why_stopped(0, 41, tmp_path) is None  # ended as it should
    assert stops._why_stopped(-signal.SIGKILL, 41, tmp_path) == "was killed by SIGKILL"
    assert stops._why_stopped(-signal.SIGTERM, 41, tmp_path) == "was killed by SIGTERM"
    assert stops._why_stopped(-100, 41, tmp_path) == "was killed by signal 100"
    assert stops._why_stopped(1, 41, tmp_path) == (
        "stopped with exit status 1 (its error, if it printed one, is above)"
    )
    assert list(tmp_path.iterdir()) == []
    stops._reason_file(tmp_path, 43).write_bytes(b"OSError: \xff\n")  # not UTF-8: no crash
    assert stops._why_stopped(3, 43, tmp_path) == "stopped before its first trial: OSError: \ufffd"
    stops._reason_file(tmp_path, 44).mkdir()  # unreadable, and it cannot be removed
    assert stops._why_stopped(2, 44, tmp_path) == (
        "stopped with exit status 2 (its error, if it printed one, is above)"
    )


def test_the_line_says_how_many_workers_go_on() -> None:
    assert stops._stopped_line("quarch-worker-2", 7, "was killed by SIGKILL", 3, 4, False) == (
        "worker process quarch-worker-2 (pid 7) was killed by SIGKILL; the run goes on "
        "with 3 of 4 workers"
    )
    assert stops._stopped_line("w", 7, "why", 2, 4, True).endswith(
        "; the run went on with 2 of 4 workers"
    )
    assert stops._stopped_line("w", 7, "why", 1, 2, False).endswith(
        "; this process runs the remaining trials alone"
    )
    assert stops._stopped_line("w", 7, "why", 1, 4, True).endswith(
        "; this process ran the remaining trials alone"
    )


@dataclasses.dataclass
class _Ended:
    name: str
    pid: int | None
    exitcode: int | None


def test_the_watch_reports_each_ended_worker_once_and_counts_those_left(tmp_path: Path) -> None:
    """A stand-in of ``multiprocessing.Process`` without ``exitcode`` or ``pid`` (the
    other tests' recorded workers, never started) is passed over."""
    procs: list[Any] = [
        _Ended("w1", 11, None),
        _Ended("w2", 12, 0),
        _Ended("w3", 13, -9),
        _Ended("w4", None, None),
        _Ended("w5", 15, None),
        object(),
    ]
    stops._reason_file(tmp_path, 11).write_text("ImportError: no torch\n")
    watch = stops._Watch(procs, tmp_path, 5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watch()
        procs[0].exitcode = 3
        watch()
        procs[4].exitcode = 1
        watch(ended=True)
        watch(ended=True)
    assert [str(w.message) for w in caught] == [
        "worker process w3 (pid 13) was killed by SIGKILL; the run goes on with 4 of 5 workers",
        "worker process w1 (pid 11) stopped before its first trial: ImportError: no torch; "
        "the run goes on with 3 of 5 workers",
        "worker process w5 (pid 15) stopped with exit status 1 (its error, if it printed one, "
        "is above); the run went on with 2 of 5 workers",
    ]
    assert all(w.category is QuarchWarning for w in caught)
    assert watch.stopped == [  # the run's workers_stopped: each line's worker and why
        "w3 (pid 13) was killed by SIGKILL",
        "w1 (pid 11) stopped before its first trial: ImportError: no torch",
        "w5 (pid 15) stopped with exit status 1 (its error, if it printed one, is above)",
    ]


def test_the_watch_forgets_the_reasons_of_a_run_that_stopped(tmp_path: Path) -> None:
    for pid in (21, 22):
        stops._reason_file(tmp_path, pid).write_text("x\n")
    (tmp_path / "keep").write_text("")
    stops._reason_file(tmp_path, 24).mkdir()  # one it cannot remove: the others still go
    procs = [_Ended("d", 24, 3), _Ended("a", 21, 3), _Ended("b", None, None),
             _Ended("c", 23, None), object()]  # fmt: skip
    stops._Watch(procs, tmp_path, 3).forget()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".worker-22.stopped", ".worker-24.stopped", "keep",
    ]  # fmt: skip


def test_leave_reason_writes_one_line_for_the_parent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = ValueError("first line\n  second\tline " + "x" * 600)
    assert stops._leave_reason(str(tmp_path), error) == stops.STOPPED_AT_START == 3
    text = stops._reason_file(tmp_path, os.getpid()).read_text()
    assert text == ("ValueError: first line second line " + "x" * 600)[:500] + "\n"
    assert capsys.readouterr().err == ""
    gone = tmp_path / "gone"  # no run folder: the reason goes to stderr instead
    assert stops._leave_reason(str(gone), KeyError("k")) == 3
    assert (
        capsys.readouterr().err
        == f"quarch worker {os.getpid()} stopped at its start: KeyError: 'k'\n"
    )


def test_worker_main_leaves_its_start_error_and_exits_and_is_quiet_on_ctrl_c(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (mutmut sees it): a start that raises exits with
    ``STOPPED_AT_START`` and leaves the reason; Ctrl-C at the start returns quietly
    with none (the parent reports Ctrl-C); a start that succeeds runs its work with the
    deadline, and a run that gives up there (a quarch error) returns quietly."""
    from quarch import RunError

    started: list[tuple[Any, ...]] = []
    worked: list[Any] = []
    raised: list[BaseException | None] = [SystemExit(0)]  # a plug-in's sys.exit()
    sigint = signal.getsignal(signal.SIGINT)

    def work(deadline: float | None) -> str:
        worked.append(deadline)
        raise RunError("gave up: 25 trials in a row failed")

    def start(*args: Any) -> Any:
        started.append(args)
        if raised[0] is not None:
            raise raised[0]
        return work

    monkeypatch.setattr(par, "_start_here", start)
    config = SearchConfig(space="mlp", dataset="iris")
    args: tuple[Any, ...] = ("journal", str(tmp_path), config, "SPACE", "EV", 2)

    def main(**kw: Any) -> None:
        par._worker_main("journal", str(tmp_path), config, "SPACE", "EV", 2, **kw)  # type: ignore[arg-type]

    try:
        with pytest.raises(SystemExit) as ended:
            main(deadline=12.5, sent=[b"x"])
        assert ended.value.code == 3
        assert stops._reason_file(tmp_path, os.getpid()).read_text() == "SystemExit: 0\n"
        stops._reason_file(tmp_path, os.getpid()).unlink()
        raised[0] = KeyboardInterrupt()
        main(deadline=12.5)
        assert list(tmp_path.iterdir()) == [] and worked == []
        raised[0] = None
        main(deadline=12.5, sent=[b"y"])
        assert worked == [12.5] and list(tmp_path.iterdir()) == []
        assert started == [(*args, [b"x"]), (*args, ()), (*args, [b"y"])]
    finally:
        signal.signal(signal.SIGINT, sigint)


def test_start_here_imports_the_plugins_before_it_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plug-ins come first: one that cannot be imported stops the start (as a
    ConfigError naming it) before anything is built (``space`` is None here)."""
    monkeypatch.setenv("QUARCH_PLUGINS", "hc_gone_module")
    from quarch import ConfigError

    with pytest.raises(ConfigError, match="hc_gone_module"):
        par._start_here("journal", str(tmp_path), SearchConfig(space="mlp", dataset="iris"),
                        None, None, 1)  # type: ignore[arg-type]  # fmt: skip


_SCRIPT = """
import hc_lib, hc_boom  # the main script: a spawned worker imports it again, and fails
from quarch.config import SearchConfig
from quarch.spaces import register_space
from quarch.study import run_search

if __name__ == "__main__":
    import os

    os.environ["HC_PARENT"] = str(os.getpid())
    register_space(hc_lib.LibSpec())
    r = run_search(SearchConfig(space="hc-lib", trials=4, workers=2, out="run"),
                   evaluator=hc_lib.Ev(wait=False), progress=False)
    print("done", r.done)
"""


@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ,
    reason="a script of its own: mutmut's trampoline there reads mutmut's config from the "
    "script's folder; test_why_stopped_... covers the exit status in this process",
)
def test_a_worker_that_fails_in_multiprocessing_s_start_is_told_by_its_exit_status(
    tmp_path: Path,
) -> None:
    """Before ``_worker_main`` runs (the main script's import fails in the worker): no
    reason file, Python's traceback on stderr, and the parent's line with the status."""
    import quarch

    (tmp_path / "hc_lib.py").write_text(LIB)
    (tmp_path / "hc_boom.py").write_text(PLUGIN)
    (tmp_path / "script.py").write_text(_SCRIPT)
    src = str(Path(quarch.__file__).parents[1])
    env = {**os.environ, "HC_PIDS": str(tmp_path / "pids.txt"),
           "PYTHONPATH": os.pathsep.join([src, str(tmp_path), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    env.pop("QUARCH_PLUGINS", None)
    (tmp_path / "pids.txt").write_text("")
    done = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=240, env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "done 4" in done.stdout
    (failed,) = _pids(tmp_path, "failed")
    assert set(_pids(tmp_path, "eval")) - {failed}  # the parent ran them
    assert "RuntimeError: boom: the GPU driver is missing here" in done.stderr  # Python's
    warned = [x for x in done.stderr.splitlines() if "QuarchWarning" in x]
    (line,) = warned
    assert (
        f"QuarchWarning: worker process quarch-worker-1 (pid {failed}) stopped with exit status 1 "
        in line
    )
    assert line.endswith("the remaining trials alone")


def test_work_here_counts_the_time_left_from_the_deadline(tmp_path: Path) -> None:
    """``_work_here`` (a worker's work started by hand, in this process) with a
    deadline already past claims no trial, though the run's timeout is a minute."""
    from quarch.study import Run
    from quarch.testing.evaluators import ArithmeticEvaluator

    cfg = SearchConfig(space="mlp", dataset="iris", strategy="random", trials=1, workers=2,
                       objectives=["val_error", "params"], out=str(tmp_path / "run"))  # fmt: skip
    run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)
    run = Run.open(tmp_path / "run")
    config = dataclasses.replace(run.config, trials=3, timeout=60.0)
    par._work_here(run.storage, str(run.dir), config, run.space, ArithmeticEvaluator(), 1,
                   deadline=time.time() - 1)  # fmt: skip
    assert len(run.study().get_trials(deepcopy=False)) == 1
    par._work_here(run.storage, str(run.dir), config, run.space, ArithmeticEvaluator(), 1,
                   deadline=time.time() + 60)  # fmt: skip
    assert len(run.study().get_trials(deepcopy=False)) == 3
