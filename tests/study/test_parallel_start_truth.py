"""Ctrl-C while ``--workers N`` starts its worker processes.

The parent used to ignore SIGINT while it spawned the workers (so that a worker still
importing torch printed no traceback); a Ctrl-C pressed then was lost, and the run went
on to its budget. The truth here is the process: a real SIGINT sent to this process
while a real worker is started, and the run folder read back by a resume.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import threading
from collections.abc import Iterator
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any, ClassVar

import pytest

from quarch.config import SearchConfig
from quarch.study import resume_config, run_search

spawnv_passfds = multiprocessing.util.spawnv_passfds


@pytest.fixture(autouse=True)
def _ctrl_c_raises() -> Iterator[None]:
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def test_a_ctrl_c_while_the_workers_start_stops_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = SearchConfig(space="mlp", dataset="iris", trials=4, epochs=1, workers=2, seed=0,
                       out=str(tmp_path / "run"))  # fmt: skip
    real = SpawnProcess.start
    ignored: list[bool] = []

    def start_then_ctrl_c(self: SpawnProcess) -> None:
        real(self)
        assert self.pid is not None
        with open(f"/proc/{self.pid}/status") as f:  # the child's ignored signals
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigIgn"))
        ignored.append(bool(mask & (1 << (signal.SIGINT - 1))))
        os.kill(os.getpid(), signal.SIGINT)  # the terminal's Ctrl-C, to the process

    monkeypatch.setattr(SpawnProcess, "start", start_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, progress=False)
    monkeypatch.undo()
    assert ignored == [True]  # the worker started ignoring Ctrl-C; this process took it
    assert multiprocessing.active_children() == []  # stopped with the run
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert multiprocessing.util.spawnv_passfds is spawnv_passfds  # put back
    res = run_search(resume_config(cfg.run_dir), resume=True, progress=False)
    assert res.done == 4


def test_workers_started_from_a_thread_that_is_not_the_main_one(tmp_path: Path) -> None:
    """A notebook's or a server's thread: signals reach only the main thread, so none is
    held or ignored there (before, the search failed with "signal only works in main
    thread")."""
    cfg = SearchConfig(space="mlp", dataset="iris", trials=2, epochs=1, workers=2, seed=0,
                       out=str(tmp_path / "run"))  # fmt: skip
    got: list[object] = []

    def search() -> None:
        try:
            got.append(run_search(cfg, progress=False).done)
        except BaseException as e:  # reported by the assertion below
            got.append(e)

    thread = threading.Thread(target=search)
    thread.start()
    thread.join()
    assert got == [2]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class _Failing:
    """A worker process stand-in: the ``fail``-th one made raises, either when it is
    made or when it is started; the others record whether they were joined."""

    made: ClassVar[list[_Failing]] = []
    fail: ClassVar[tuple[int, str]] = (2, "start")

    def __init__(self, *, target: Any, args: Any, name: str) -> None:
        _Failing.made.append(self)
        self.index, self.joined = len(_Failing.made), False
        self.pid: int | None = None
        if _Failing.fail == (self.index, "make"):
            raise OSError("cannot make it")

    def start(self) -> None:
        if _Failing.fail == (self.index, "start"):
            raise OSError("cannot start it")
        self.pid = 40000 + self.index  # never signalled: is_alive says it has ended

    def is_alive(self) -> bool:
        return False

    def join(self, timeout: float | None = None) -> None:
        self.joined = True


@pytest.mark.filterwarnings("ignore:3 workers on")  # more workers than cores: elsewhere
@pytest.mark.parametrize("when", ["make", "start"])
def test_a_worker_that_cannot_start_stops_the_ones_started_and_lets_go_of_signals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str
) -> None:
    """The error goes on up as it is, the workers already started are stopped (joined),
    one never started is not, and Ctrl-C is this process's own again."""
    from quarch.study import Run
    from quarch.study import _parallel as par
    from quarch.testing.evaluators import ArithmeticEvaluator

    cfg = SearchConfig(space="mlp", dataset="iris", trials=4, workers=1, seed=0,
                       out=str(tmp_path / "run"))  # fmt: skip
    run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)
    run = Run.open(cfg.run_dir)
    _Failing.made, _Failing.fail = [], (2, when)
    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", _Failing)
    with pytest.raises(OSError, match=f"cannot {when} it"):
        par.run_workers(run.study(), space=run.space, evaluator=ArithmeticEvaluator(),
                        objective=run.objective, config=SearchConfig(**{**cfg.to_dict(),
                        "workers": 3, "trials": 8}), poll=lambda: None)  # fmt: skip
    first, second = _Failing.made[:2]
    assert (first.joined, second.joined) == (when == "start", False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
