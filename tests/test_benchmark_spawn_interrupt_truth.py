"""Ctrl-C while ``quarch benchmark --workers N`` spawns its workers (session 37).

Under the spawn start method (macOS's and Windows' default) a worker is a fresh
interpreter that imports the main script, then quarch, before the pool's initializer
ignores Ctrl-C; a terminal's Ctrl-C in those seconds reached every worker and each
printed its own ``KeyboardInterrupt`` traceback under the command's one line (and the
pool started a new worker for each that died). The workers now start with Ctrl-C
ignored, as the search's spawned workers do (``_SpawnedIgnoringCtrlC``), and the parent
ends them.

The command runs in a session of its own, from a script that sets the spawn start
method (the platform default elsewhere) and whose workers, importing it again, mark
their start and sleep: the signal lands while both are still starting.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

_SCRIPT = """
import multiprocessing, os, sys, time
from pathlib import Path

if multiprocessing.current_process().name != "MainProcess":  # a worker importing this
    Path(os.environ["STARTED"], str(os.getpid())).touch()
    time.sleep(float(os.environ["SLEEP"]))

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    from quarch.cli import main

    sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(sys.platform == "win32", reason="process groups are POSIX")
@pytest.mark.skipif("spawn" not in multiprocessing.get_all_start_methods(), reason="no spawn")
def test_ctrl_c_while_spawned_workers_start_says_one_line(tmp_path: Path) -> None:
    (tmp_path / "bench_spawn.py").write_text(_SCRIPT)
    started = tmp_path / "started"
    started.mkdir()
    env = {**os.environ, "STARTED": str(started), "SLEEP": "4"}
    out = tmp_path / "out"
    argv = [sys.executable, "bench_spawn.py", "benchmark", "--task", "synthetic-qubo",
            "--strategies", "random,local", "--seeds", "2", "--trials", "3",
            "--workers", "2", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
        # Ctrl-C as a terminal's: a test run started in the background (`&`) ignores it,
        # and a child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(list(started.iterdir())) < 2:  # both workers are importing the script
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers never started"
            time.sleep(0.05)
        # the terminal's Ctrl-C reaches every process of the group; here the workers
        # act on it first, as they may (the parent, ending them at once, often won the
        # race and hid their tracebacks): then the parent
        pids = [int(p.name) for p in started.iterdir()]
        for pid in pids:
            os.kill(pid, signal.SIGINT)
        time.sleep(1.5)
        os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 130, stderr
    assert stdout == ""
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.rstrip().splitlines()[-1] == "error: interrupted"
    assert not out.exists()
    # none was started in place of one that died, and none outlives the command
    assert sorted(int(p.name) for p in started.iterdir()) == sorted(pids)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.fixture
def ctrl_c_handled() -> Iterator[None]:
    """Python's own SIGINT handler in this process, put back after: a test run started
    in the background (``&``; mutmut's runs) ignores Ctrl-C, and a pool made with it
    ignored would prove nothing."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.mark.skipif("spawn" not in multiprocessing.get_all_start_methods(), reason="no spawn")
@pytest.mark.usefixtures("ctrl_c_handled")
def test_the_pool_spawns_its_workers_with_ctrl_c_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, where mutation testing sees it: each fork and exec of the pool's
    start (``multiprocessing.util.spawnv_passfds``, what a spawned interpreter inherits
    its SIGINT disposition from) runs with Ctrl-C ignored, this process has its handler
    back after, and the pool is the harness's (its size, its initializer) and works."""
    from quarch.benchmark._harness import _init_worker, _pool

    real = multiprocessing.util.spawnv_passfds
    at_exec: list[object] = []

    def spawnv_passfds(*args: object) -> int:
        at_exec.append(signal.getsignal(signal.SIGINT))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", spawnv_passfds)
    before = signal.getsignal(signal.SIGINT)
    pool = _pool(multiprocessing.get_context("spawn"), 2)
    try:
        assert signal.getsignal(signal.SIGINT) is before
        assert multiprocessing.util.spawnv_passfds is spawnv_passfds  # put back
        assert len(at_exec) >= 2 and all(s is signal.SIG_IGN for s in at_exec), at_exec
        assert pool._processes == 2  # type: ignore[attr-defined]
        assert pool._initializer is _init_worker  # type: ignore[attr-defined]
        assert pool.map(abs, [-1, -2, 3]) == [1, 2, 3]
    finally:
        pool.terminate()
        pool.join()


@pytest.mark.usefixtures("ctrl_c_handled")
def test_the_pool_is_made_while_the_fork_and_exec_ignores_ctrl_c(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same, with a stand-in for the start method's pool that forks and execs
    nothing (so it runs under mutmut, whose spawned workers cannot start): each of its
    workers' fork and exec ignores Ctrl-C, the pool gets the size and the initializer,
    and the fork and exec and this process's handler are put back after."""
    from quarch.benchmark._harness import _init_worker, _pool

    at_exec: list[object] = []

    def spawnv_passfds(*args: object) -> int:
        at_exec.append(signal.getsignal(signal.SIGINT))
        return 0

    class _Context:
        def Pool(self, processes: int, *, initializer: object) -> tuple[int, object]:
            for _ in range(processes):  # each worker as spawn starts it
                multiprocessing.util.spawnv_passfds(os.fsencode(sys.executable), [], [])
            return processes, initializer

    monkeypatch.setattr(multiprocessing.util, "spawnv_passfds", spawnv_passfds)
    before = signal.getsignal(signal.SIGINT)
    assert before is signal.default_int_handler
    assert _pool(_Context(), 3) == (3, _init_worker)
    assert at_exec == [signal.SIG_IGN] * 3
    assert signal.getsignal(signal.SIGINT) is before
    assert multiprocessing.util.spawnv_passfds is spawnv_passfds
