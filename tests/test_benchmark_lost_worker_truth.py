"""A worker process of ``quarch benchmark --workers N`` killed during a run (the OOM
killer, a user's ``kill``, a crash in native code): the benchmark ends with one line
naming the lost run and its process, keeps the runs that finished, and the same
command finishes it (session 39).

Before, ``multiprocessing.Pool`` started a worker in place of the dead one and
``imap_unordered`` waited for the lost run forever: only Ctrl-C ended the benchmark.
Here the task's evaluator kills its own process (SIGKILL, which nothing can catch) on
one seed, after writing its process id where the test reads it: the truth of the line.
The truth of the runs is the same benchmark run whole, in this process.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import quarch.benchmark._harness as harness
from quarch._errors import RunError
from quarch.benchmark import run_benchmark
from quarch.benchmark._harness import RUNS_FILE
from quarch.cli import main

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and SIGALRM are POSIX")

KILLER_TASK = """
import os, signal
from pathlib import Path

from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

SPACE = Space([Choice("a", list(range(4))), Choice("b", list(range(4)))], name="killer")


class Killer:
    def __init__(self, seed):
        self.seed = seed

    def evaluate(self, arch, *, seed):
        kill = os.environ.get("KILL_SEEDS", "")
        if str(self.seed) in kill.split(","):  # this run's worker dies, as OOM kills it
            Path(os.environ["KILLED"], str(self.seed)).write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return {"val_error": float((arch["a"] - self.seed % 4) ** 2 + arch["b"])}


def killer(*, seed=0):
    return Task(
        name="killer", space=SPACE, evaluator=Killer(seed),
        objective=task_objective([], {"val_error": 0.0}),
        judge=lambda a: float((a["a"] - seed % 4) ** 2 + a["b"]),
        maximize=False, optimum=0.0, target=0.0, score_name="e",
    )
"""

_SAME = ("strategy", "seed", "score", "regret", "queries_to_target", "queries", "picked")
_ARGS: dict[str, Any] = {"task": "killer_task:killer", "strategies": ["random"], "seeds": 3,
                         "trials": 5, "progress": False}  # fmt: skip


def _same(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(r[k] for k in _SAME) for r in rows]


def _hung(signum: int, frame: object) -> None:
    # not TimeoutError: an OSError raised in ``Pool.terminate``'s join is swallowed by
    # multiprocessing's ``waitpid`` (``popen_fork.poll``), and a hang there passed
    raise AssertionError("the benchmark hung (waited 60 s for a lost run or a worker's end)")


@pytest.fixture
def killer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The killing task importable here and in the workers (forked, or started with
    this path); the folder its dying workers write their process ids to. A benchmark
    that hangs fails after 60 s (SIGALRM) rather than holding the test run."""
    (tmp_path / "killer_task.py").write_text(KILLER_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "killer_task", raising=False)
    killed = tmp_path / "killed"
    killed.mkdir()
    monkeypatch.setenv("KILLED", str(killed))
    # looked for every 10 ms: the run of seed 1 in the rerun outlasts a look, which then
    # must wait on (and the test is quicker)
    monkeypatch.setattr(harness, "_WATCH_SECONDS", 0.01)
    old = signal.signal(signal.SIGALRM, _hung)
    signal.alarm(60)
    try:
        yield killed
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        sys.modules.pop("killer_task", None)


def test_a_killed_worker_ends_the_benchmark_keeping_the_other_runs(
    killer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run_benchmark(**_ARGS, out=str(tmp_path / "whole"))  # the truth, in this process
    out = tmp_path / "b"
    monkeypatch.setenv("KILL_SEEDS", "1")
    with pytest.raises(RunError) as e:
        run_benchmark(**_ARGS, out=str(out), workers=2)
    pid = int((killer / "1").read_text())
    assert sorted(p.name for p in killer.iterdir()) == ["1"]
    assert str(e.value) == (
        f"benchmark killer: the worker process running random seed 1 (process {pid}) died "
        "(killed: out of memory, or by a user; or crashed), and that run was lost; 2 of 3 "
        f"runs finished and are kept in {str(out / RUNS_FILE)!r}; run the same command "
        "again to finish it"
    )
    lines = [json.loads(line) for line in (out / RUNS_FILE).read_text().splitlines()[1:]]
    assert sorted((r["strategy"], r["seed"]) for r in lines) == [("random", 0), ("random", 2)]
    assert sorted(p.name for p in out.iterdir()) == [RUNS_FILE]  # no results yet
    monkeypatch.delenv("KILL_SEEDS")
    result = run_benchmark(**_ARGS, out=str(out), workers=2)
    assert _same(result.rows) == _same(whole.rows)
    assert "2 runs of a stopped benchmark" in result.energy_method
    assert not (out / RUNS_FILE).exists()


def test_the_command_names_every_lost_run_in_one_line(
    killer: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Two runs lost, one of them the first run of the pool: each is named with its
    process; none finished, so nothing is kept and no folder is left."""
    out = tmp_path / "b"
    monkeypatch.setenv("KILL_SEEDS", "0,1")
    argv = ["benchmark", "--task", "killer_task:killer", "--strategies", "random",
            "--seeds", "2", "--trials", "5", "--workers", "2", "--out", str(out), "--json"]  # fmt: skip
    assert main(argv) == 2
    captured = capsys.readouterr()
    pids = [int((killer / s).read_text()) for s in ("0", "1")]
    assert captured.out == ""
    assert captured.err == (
        f"error: benchmark killer: the worker processes running random seed 0 (process "
        f"{pids[0]}), random seed 1 (process {pids[1]}) died (killed: out of memory, or by a "
        "user; or crashed), and those runs were lost; no run finished; the same command "
        "runs them all again\n"
    )
    assert not out.exists()


def test_a_worker_notes_the_run_it_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a worker does before a run, called in this process where mutation testing
    sees it: its process id in a file named by the job's index, then the run itself;
    nothing written elsewhere (the working folder)."""
    import os

    cwd = tmp_path / "cwd"
    (cwd / ".7").mkdir(parents=True)  # where a note made in the working folder would fail
    monkeypatch.chdir(cwd)
    notes = tmp_path / "notes"
    notes.mkdir()
    seen: list[object] = []

    def run_job(job: Any) -> dict[str, Any]:
        seen.append(job)
        assert (notes / "7").read_text(encoding="ascii") == str(os.getpid())  # before it
        return {"row": job[2]}

    monkeypatch.setattr(harness, "_run_job", run_job)
    job = ("t", "random", 3, 5, None, ())
    assert harness._run_noted((str(notes), 7, job)) == {"row": 3}
    assert seen == [job]
    assert sorted(p.name for p in notes.iterdir()) == ["7"]  # nothing half-written left
    assert [p.name for p in cwd.iterdir()] == [".7"]


def test_the_runs_lost_are_those_of_workers_gone_from_the_pool(tmp_path: Path) -> None:
    """A running job is lost when its noted process is no longer alive in the pool: one
    that has exited but is still listed, or one the pool has dropped already."""
    import types

    from quarch.benchmark._harness import _lost

    pool = types.SimpleNamespace(
        _pool=[
            types.SimpleNamespace(pid=10, exitcode=None),
            types.SimpleNamespace(pid=11, exitcode=-9),
            types.SimpleNamespace(pid=13, exitcode=None),
        ]
    )
    for index, pid in ((0, 10), (1, 11), (2, 12), (4, 13)):
        (tmp_path / str(index)).write_text(str(pid), encoding="ascii")
    (tmp_path / ".3").write_text("1", encoding="ascii")  # a note still being written
    assert _lost(pool, tmp_path) == {1: 11, 2: 12}
