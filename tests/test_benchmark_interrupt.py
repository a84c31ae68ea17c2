"""Stopping ``quarch benchmark --workers N``: one line, the exit code of the signal, no
worker's traceback, no results folder; and what each forked worker inherits.

The benchmark runs in a child process of its own session, so the test can send Ctrl-C
to its whole process group as a terminal does. The task's evaluator writes a file when
a worker starts a trial, so the signal arrives while both workers are busy.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from quarch.benchmark._harness import _init_worker, _signals_held

SLOW_TASK = """
import os, time
from pathlib import Path

from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

SPACE = Space([Choice("a", list(range(4))), Choice("b", list(range(4)))], name="slow")


class Slow:
    def evaluate(self, arch, *, seed):
        Path(os.environ["STARTED"], str(os.getpid())).touch()
        time.sleep(0.3)
        return {"val_error": float(arch["a"] + arch["b"])}


def slow(*, seed=0):
    return Task(
        name="slow", space=SPACE, evaluator=Slow(),
        objective=task_objective([], {"val_error": 0.0}), judge=lambda a: -(a["a"] + a["b"]),
        maximize=True, optimum=0.0, target=0.0, score_name="s",
    )
"""


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGTERM are POSIX")
@pytest.mark.parametrize(
    ("sig", "group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143), (signal.SIGTERM, True, 143)],
    ids=["ctrl-c to the group", "sigterm to the parent", "sigterm to the group"],
)
def test_a_stopped_benchmark_with_workers_says_one_line(
    tmp_path: Path, sig: signal.Signals, group: bool, code: int
) -> None:
    (tmp_path / "slow_task.py").write_text(SLOW_TASK)
    started = tmp_path / "started"
    started.mkdir()
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "STARTED": str(started)}
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "quarch.cli", "benchmark", "--task", "slow_task:slow",
            "--strategies", "random,local", "--seeds", "4", "--trials", "30",
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
        while len(list(started.iterdir())) < 2:  # both workers are in a trial
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the workers never started a trial"
            time.sleep(0.05)
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == code, stderr
    assert stdout == "", "a stopped benchmark printed results"
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr, stderr
    assert stderr.rstrip().splitlines()[-1] == "error: interrupted"
    assert not out.exists(), "a stopped benchmark left a results folder"
    # every worker is gone with the parent: none of the pids that ran a trial lives on
    for pid in (int(p.name) for p in started.iterdir()):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


@pytest.fixture
def qiskit_parallel(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Qiskit's ``should_run_in_parallel`` with parallel runs switched on by the user's
    environment, its per-process cache emptied before and after. It is asked for 2
    processes: ``default_num_processes`` is cached too, and an earlier transpile in the
    same test process may have found one core per pair there."""
    parallel = pytest.importorskip("qiskit.utils.parallel")
    monkeypatch.setenv("QISKIT_PARALLEL", "TRUE")
    monkeypatch.setenv("QISKIT_NUM_PROCS", "2")
    monkeypatch.delenv("QISKIT_IN_PARALLEL", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "4")  # restored after, as the two above
    parallel.should_run_in_parallel.cache_clear()
    yield parallel.should_run_in_parallel
    parallel.should_run_in_parallel.cache_clear()


def _as_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _asked_in_worker(_: int) -> tuple[bool, object, object]:
    from qiskit.utils.parallel import should_run_in_parallel

    return (
        should_run_in_parallel(2),
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
    )


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="workers are forked")
def test_a_forked_worker_asks_qiskit_again(qiskit_parallel: object) -> None:
    ask = qiskit_parallel
    assert ask(2) is True  # type: ignore[operator]  # the parent's answer, now cached
    handler = signal.signal(signal.SIGTERM, _as_interrupt)  # as the command line's
    pool = mp.get_context("fork").Pool(2, initializer=_init_worker)
    try:
        answers = pool.map(_asked_in_worker, range(2))
        pool.close()  # the workers end on the pool's sentinel, not on a signal
        pool.join()
    finally:
        pool.terminate()
        signal.signal(signal.SIGTERM, handler)
    # Qiskit itself says serial in each worker: QISKIT_IN_PARALLEL is read afresh
    assert [a[0] for a in answers] == [False, False]
    # Ctrl-C is the parent's; the pool's SIGTERM ends a worker without a handler
    assert all(a[1] is signal.SIG_IGN and a[2] is signal.SIG_DFL for a in answers)


def test_a_worker_set_up_in_this_process(qiskit_parallel: object) -> None:
    """What ``_init_worker`` gives a worker, checked where mutation testing sees it:
    one thread (torch and OpenMP), Qiskit's own answer serial, Ctrl-C ignored and
    SIGTERM back to the default; and the pool forks with both signals held, which the
    worker takes again once they are set."""
    import torch

    ask = qiskit_parallel
    threads = torch.get_num_threads()
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGTERM, _as_interrupt)
    torch.set_num_threads(2)
    held = {signal.SIGINT, signal.SIGTERM}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, set())
    try:
        assert ask(2) is True  # type: ignore[operator]
        with _signals_held():  # as the pool forks: both held, then as they were
            assert held <= signal.pthread_sigmask(signal.SIG_BLOCK, set())
        assert signal.pthread_sigmask(signal.SIG_BLOCK, set()) == mask
        signal.pthread_sigmask(signal.SIG_BLOCK, held)  # what a forked worker starts with
        _init_worker()
        assert not held & signal.pthread_sigmask(signal.SIG_BLOCK, set())  # taken again
        assert os.environ["OMP_NUM_THREADS"] == "1"
        assert ask(2) is False  # type: ignore[operator]
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
        assert torch.get_num_threads() == 1
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in old.items():
            signal.signal(s, handler)
        torch.set_num_threads(threads)
