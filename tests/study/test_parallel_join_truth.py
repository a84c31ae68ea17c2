"""The last wait for the spawned workers ends one hung at its start, and the run says
which workers did not run to its end (``quarch.study._worker_stops``: ``join_workers``,
``_idle``, ``_end``, ``_Watch.ended_idle``, ``Stopped``; ``SearchResult.workers_stopped``;
the CLI's line).

A worker that hung before its first trial (a storage lock held elsewhere, a data set on
a stalled network folder) made ``run_workers``' last ``join()`` wait forever: the
search, its budget complete, never returned. The real processes are in
``test_parallel_start_failure_truth.py``; here the parts, in this process, on a fake
clock and stand-ins of ``multiprocessing.Process`` (what mutation testing sees).

The truth: the trials' owners the test writes itself, the clock the test moves, the
calls each stand-in records.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
import signal
import socket
import subprocess
import sys
import time
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import optuna
import pytest

from quarch._warnings import QuarchWarning
from quarch.config import SearchConfig
from quarch.study import Run, run_search
from quarch.study import _parallel as par
from quarch.study import _worker_stops as stops
from quarch.study._result import SearchResult
from quarch.study._run import objective_of
from quarch.study._worker import OWNER
from quarch.testing.evaluators import ArithmeticEvaluator

HOST = socket.gethostname()


class _Clock:
    """``time`` for ``_worker_stops``: ``sleep`` moves ``monotonic`` on, and runs
    what the test planned for that moment (a worker that ends, one that claims)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []
        self.plan: dict[int, Any] = {}  # after the Nth sleep: call this

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept.append(seconds)
        step = self.plan.pop(len(self.slept), None)
        if step is not None:
            step()


class _Proc:
    """A spawned worker: alive until ``ends`` is called, joined, or killed (as asked)."""

    def __init__(self, name: str, pid: int | None, *, dies_on_stop: bool = True) -> None:
        self.name, self.pid = name, pid
        self.alive, self.dies_on_stop = pid is not None, dies_on_stop
        self.calls: list[Any] = []
        self.exitcode: int | None = None

    def is_alive(self) -> bool:
        return self.alive

    def ends(self, code: int = 0) -> None:
        self.alive, self.exitcode = False, code

    def join(self, timeout: float | None = None) -> None:
        self.calls.append(("join", timeout))
        if timeout is None:
            self.ends()

    def kill(self) -> None:
        self.calls.append("kill")
        self.ends(-9)


def _study(*owners: str | None) -> optuna.Study:
    """A study with one running trial per owner (``None``: none recorded)."""
    study = optuna.create_study()
    for owner in owners:
        trial = study.ask()
        if owner is not None:
            study._storage.set_trial_system_attr(trial._trial_id, OWNER, owner)
    return study


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    c = _Clock()
    monkeypatch.setattr(stops, "time", types.SimpleNamespace(monotonic=c.monotonic, sleep=c.sleep))
    return c


def _stopper(log: list[Any]) -> Any:
    def stop(procs: list[Any], grace: float) -> None:
        log.append(([p.name for p in procs], grace))
        for p in procs:
            if p.dies_on_stop:
                p.ends(-15)

    return stop


def _lines(caught: list[warnings.WarningMessage]) -> list[str]:
    assert all(w.category is QuarchWarning for w in caught)
    return [str(w.message) for w in caught]


# ------------------------------------------------------------------- the numbers


def test_a_worker_is_ended_30_s_after_its_start_or_5_s_after_the_budget() -> None:
    assert stops._ending_time(100.0, 101.0) == 130.0  # a short run: the start's 30 s
    assert stops._ending_time(100.0, 125.0) == 130.0
    assert stops._ending_time(100.0, 126.0) == 131.0  # a long run: 5 s after its work
    assert stops._ending_time(100.0, 500.0) == 505.0


# ----------------------------------------------------------- who has started a trial


def test_idle_are_the_live_workers_that_own_no_trial_on_this_host() -> None:
    study = _study(f"{HOST}:11", "elsewhere:12", None, f"{HOST}:99")
    procs = [_Proc("a", 11), _Proc("b", 12), _Proc("c", 13), _Proc("d", 14)]
    procs[3].ends()
    assert [p.name for p in stops._idle(procs, study)] == ["b", "c"]


def test_idle_counts_only_the_trials_made_since_the_workers_were_spawned() -> None:
    """A resumed run's trial 0 was owned by a process that ended; a worker given the
    same pid again owns none of trial 1 on."""
    study = _study(f"{HOST}:11", f"{HOST}:12")
    procs = [_Proc("a", 11), _Proc("b", 12)]
    assert stops._idle(procs, study) == []
    assert [p.name for p in stops._idle(procs, study, 1)] == ["a"]
    assert [p.name for p in stops._idle(procs, study, 2)] == ["a", "b"]


def test_a_hung_worker_with_an_old_trials_pid_is_still_ended(tmp_path: Path, clock: _Clock) -> None:
    hung = _Proc("w1", 21)
    log: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stops.join_workers([hung], _study(f"{HOST}:21"), stops._Watch([hung], tmp_path, 2),
                           spawned_at=clock.now, stop=_stopper(log), stopped="budget",
                           first_trial=1)  # fmt: skip
    assert log == [(["w1"], stops._INTERRUPT_SECONDS)]
    assert _lines(caught) == [
        "worker process w1 (pid 21) had not started a trial when the budget was complete; ended it"
    ]


def test_idle_reads_no_study_when_every_worker_has_ended() -> None:
    class _Unread:
        def get_trials(self, **kw: Any) -> Any:
            raise AssertionError("read the study")

    ended = _Proc("a", 11)
    ended.ends()
    assert stops._idle([ended, _Proc("b", None)], _Unread()) == []  # type: ignore[arg-type]


# ------------------------------------------------------------------- the last wait


def test_a_hung_worker_is_ended_at_its_time_in_one_line_and_the_others_are_joined(
    tmp_path: Path, clock: _Clock
) -> None:
    """``busy`` owns a trial: joined without a bound. ``slow`` starts late and ends by
    itself: joined, not reported. ``hung`` never starts: Ctrl-C again for 1 s then
    SIGTERM (the stop), 30 s after the workers were spawned (the run took 2 s)."""
    busy, slow, hung = _Proc("w1", 11), _Proc("w2", 12), _Proc("w3", 13)
    clock.plan[3] = slow.ends
    study = _study(f"{HOST}:11")
    watch = stops._Watch([busy, slow, hung], tmp_path, 4)
    stops._reason_file(tmp_path, 13).write_text("left by a worker ended at its start\n")
    log: list[Any] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stops.join_workers([busy, slow, hung], study, watch, spawned_at=clock.now - 2.0,
                           stop=_stopper(log), stopped="budget")  # fmt: skip
        watch(ended=True)  # as run_workers then does: the ended one is not told again
    assert log == [(["w3"], 1.0)]
    assert clock.now == pytest.approx(1028.0) and set(clock.slept) == {0.2}
    assert busy.calls == [("join", None)] and slow.calls == [("join", None)]
    assert hung.calls == []  # not joined without a bound, not killed: SIGTERM ended it
    assert _lines(caught) == [
        "worker process w3 (pid 13) had not started a trial when the budget was complete; ended it"
    ]
    assert watch.stopped == [
        "w3 (pid 13) had not started a trial when the budget was complete, and was ended"
    ]
    assert list(tmp_path.iterdir()) == []


def test_after_a_long_run_the_hung_worker_gets_5_s_and_after_a_timeout_it_says_so(
    tmp_path: Path, clock: _Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    hung = _Proc("w1", 21)
    watch = stops._Watch([hung], tmp_path, 2)
    monkeypatch.setattr(stops, "_POLL_SECONDS", 0.25)  # exact in binary: 20 reach 5.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stops.join_workers([hung], _study(), watch, spawned_at=clock.now - 600.0,
                           stop=_stopper([]), stopped="timeout")  # fmt: skip
    assert clock.now == 1005.0 and len(clock.slept) == 20  # ended at, not after, its time
    assert _lines(caught) == [
        "worker process w1 (pid 21) had not started a trial when the run's time was up; ended it"
    ]


def test_no_wait_at_all_when_every_worker_owns_a_trial_or_has_ended(
    tmp_path: Path, clock: _Clock
) -> None:
    busy, ended = _Proc("w1", 31), _Proc("w2", 32)
    ended.ends()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stops.join_workers([busy, ended], _study(f"{HOST}:31"), stops._Watch([], tmp_path, 3),
                           spawned_at=clock.now, stop=_stopper([]), stopped="budget")  # fmt: skip
    assert clock.slept == [] and caught == []
    assert busy.calls == ended.calls == [("join", None)]


def test_a_worker_that_claims_a_trial_while_waited_for_is_not_ended(
    tmp_path: Path, clock: _Clock
) -> None:
    late = _Proc("w1", 41)
    study = _study()
    clock.plan[2] = lambda: study._storage.set_trial_system_attr(
        study.ask()._trial_id, OWNER, f"{HOST}:41"
    )
    log: list[Any] = []
    stops.join_workers([late], study, stops._Watch([late], tmp_path, 2),
                       spawned_at=clock.now, stop=_stopper(log), stopped="budget")  # fmt: skip
    assert log == [] and late.calls == [("join", None)] and len(clock.slept) == 2


def test_end_kills_what_outlives_sigterm_and_waits_for_it_with_a_bound() -> None:
    deaf, soft = _Proc("w1", 51, dies_on_stop=False), _Proc("w2", 52)
    log: list[Any] = []
    stops._end([deaf, soft], _stopper(log))
    assert log == [(["w1", "w2"], 1.0)]
    assert deaf.calls == ["kill", ("join", 5.0)] and soft.calls == []


def test_a_worker_stuck_past_sigkill_is_left_and_never_joined_without_a_bound(
    tmp_path: Path, clock: _Clock
) -> None:
    class _Unkillable(_Proc):
        def kill(self) -> None:
            self.calls.append("kill")  # stuck in the kernel: it stays

        def join(self, timeout: float | None = None) -> None:
            assert timeout is not None, "joined a worker that never ends without a bound"
            self.calls.append(("join", timeout))

    stuck = _Unkillable("w1", 61, dies_on_stop=False)
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        stops.join_workers([stuck], _study(), stops._Watch([stuck], tmp_path, 2),
                           spawned_at=clock.now, stop=_stopper([]), stopped="budget")  # fmt: skip
    assert stuck.calls == ["kill", ("join", 5.0)]


def test_ended_idle_passes_over_a_stand_in_without_a_pid(tmp_path: Path) -> None:
    watch = stops._Watch([], tmp_path, 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        watch.ended_idle(_Proc("w1", None), "the budget was complete")
    assert caught == [] and watch.stopped == [] and watch.seen == set()


# ------------------------------------------------- run_workers, with a real process


class _Sleeper:
    """``multiprocessing.Process``'s interface over a real ``python -c`` that never
    starts a trial (it sleeps; Ctrl-C ends it at once, quietly): a hung worker that
    costs no torch import."""

    made: ClassVar[list[_Sleeper]] = []

    def __init__(self, *, target: Any, args: Any, name: str, **kw: Any) -> None:
        self.name = name
        self.popen: subprocess.Popen[bytes] | None = None
        _Sleeper.made.append(self)

    def start(self) -> None:
        code = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_DFL); time.sleep(120)"
        self.popen = subprocess.Popen([sys.executable, "-c", code])

    @property
    def pid(self) -> int | None:
        return None if self.popen is None else self.popen.pid

    @property
    def exitcode(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def is_alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        assert self.popen is not None and timeout is not None, "an unbounded wait"
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)

    def terminate(self) -> None:
        assert self.popen is not None
        self.popen.terminate()

    def kill(self) -> None:
        assert self.popen is not None
        self.popen.kill()


@pytest.fixture
def sleepers(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[_Sleeper]]:
    _Sleeper.made = []
    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", _Sleeper)
    yield _Sleeper.made
    for s in _Sleeper.made:
        if s.is_alive():
            s.kill()


@pytest.mark.filterwarnings("ignore:.* workers on .* core")  # this machine's cores
def test_run_workers_ends_a_worker_that_never_starts_and_hands_it_to_the_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleepers: list[_Sleeper]
) -> None:
    """This process stops at its 0.5 s time limit; the stand-in worker, which never
    claims a trial, is ended 0.3 s later (by Ctrl-C) and named in the answer."""
    cfg = SearchConfig(space="mlp", dataset="iris", strategy="random", trials=1, workers=2,
                       objectives=["val_error", "params"], out=str(tmp_path / "run"))  # fmt: skip
    run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)
    run = Run.open(tmp_path / "run")
    monkeypatch.setattr(stops, "START_SECONDS", 0.0)
    monkeypatch.setattr(stops, "AFTER_BUDGET_SECONDS", 0.3)
    config = dataclasses.replace(run.config, trials=500, timeout=0.5)
    t0 = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stopped = par.run_workers(run.study(), space=run.space,
                                  evaluator=ArithmeticEvaluator(0.05), objective=run.objective,
                                  config=config, poll=lambda: None)  # fmt: skip
    assert time.monotonic() - t0 < 10
    (child,) = sleepers
    assert child.popen is not None and child.popen.returncode == -signal.SIGINT
    assert stopped == "timeout" and isinstance(stopped, stops.Stopped)
    why = "had not started a trial when the run's time was up"
    assert stopped.workers_stopped == (f"quarch-worker-1 (pid {child.pid}) {why}, and was ended",)
    lines = [str(w.message) for w in caught if "worker process" in str(w.message)]
    assert lines == [f"worker process quarch-worker-1 (pid {child.pid}) {why}; ended it"]


@pytest.mark.filterwarnings("ignore:.* workers on .* core")  # this machine's cores
def test_run_workers_on_a_resumed_run_counts_only_the_trials_from_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleepers: list[_Sleeper]
) -> None:
    """The resumed run's 2 trials from before are no worker's of this start (their
    owners ended; a pid can be given again): the final wait is told so."""
    cfg = SearchConfig(space="mlp", dataset="iris", strategy="random", trials=2,
                       objectives=["val_error", "params"], out=str(tmp_path / "run"))  # fmt: skip
    run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)
    run = Run.open(tmp_path / "run")
    told: list[int] = []
    real = stops.join_workers

    def join(*args: Any, first_trial: int = 0, **kw: Any) -> None:
        told.append(first_trial)
        real(*args, first_trial=first_trial, **kw)

    monkeypatch.setattr(par, "join_workers", join)
    monkeypatch.setattr(stops, "START_SECONDS", 0.0)
    monkeypatch.setattr(stops, "AFTER_BUDGET_SECONDS", 0.3)
    study = run.study()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        par.run_workers(study, space=run.space, evaluator=ArithmeticEvaluator(),
                        objective=run.objective,
                        config=dataclasses.replace(run.config, trials=4, workers=2),
                        poll=lambda: None)  # fmt: skip
    assert told == [2] and len(study.get_trials()) == 4
    (child,) = sleepers
    assert child.popen is not None and child.popen.returncode == -signal.SIGINT
    lines = [str(w.message) for w in caught if "worker process" in str(w.message)]
    assert lines == [
        f"worker process quarch-worker-1 (pid {child.pid}) had not started a trial when the "
        "budget was complete; ended it"
    ]


# ------------------------------------------------------------ what the run tells


def _result(**kw: Any) -> SearchResult:
    config = SearchConfig(space="mlp", dataset="iris", workers=3, trials=10)
    return SearchResult(Path("run"), config, objective_of(config), [], **kw)


def test_run_workers_answer_carries_the_stopped_workers_to_the_results_json() -> None:
    handed = stops.Stopped("budget", ["w1 (pid 7) was killed by SIGKILL"])
    assert handed == "budget" and handed.workers_stopped == ("w1 (pid 7) was killed by SIGKILL",)
    result = _result(stopped="budget", workers_stopped=list(handed.workers_stopped))
    assert result.to_json()["workers_stopped"] == ["w1 (pid 7) was killed by SIGKILL"]
    assert stops.Stopped("timeout").workers_stopped == ()


def test_a_result_without_them_has_none() -> None:
    """A serial run's ``stopped`` (a plain ``str``) and one read back (``None``)."""
    for stopped in ("budget", None):
        result = _result(stopped=stopped)
        assert result.workers_stopped == [] and result.stopped == stopped
        assert result.to_json()["workers_stopped"] == []


def test_the_cli_says_how_many_workers_finished_only_when_some_did_not(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from quarch._cli_app import _print_result

    gone = ["w1 (pid 7) stopped before its first trial: ConfigError: no such space [x]",
            "w2 (pid 8) was killed by SIGKILL"]  # fmt: skip
    _print_result(_result(stopped="budget", workers_stopped=gone))
    last = capsys.readouterr().out.splitlines()[-1]
    assert last == (
        "finished on 1 of 3 workers: w1 (pid 7) stopped before its first trial: ConfigError: "
        "no such space [x]; w2 (pid 8) was killed by SIGKILL"
    )
    _print_result(_result(stopped="budget"))
    assert "workers" not in capsys.readouterr().out


def test_the_cli_counts_only_the_workers_the_budget_had_room_for(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``workers=3, trials=2``: run_workers starts 2 in all (one spawned)."""
    from quarch._cli_app import _print_workers_stopped

    config = SearchConfig(space="mlp", dataset="iris", workers=3, trials=2)
    result = SearchResult(Path("run"), config, objective_of(config), [],
                          stopped="budget", workers_stopped=["w1 (pid 7) why"])  # fmt: skip
    _print_workers_stopped(result)
    assert capsys.readouterr().out == "finished on 1 of 2 workers: w1 (pid 7) why\n"
