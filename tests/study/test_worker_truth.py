"""The worker loop's claims, each against a study read back with Optuna, the process
table in ``/proc`` or the module docstring's rules (``quarch.study._worker``).

Every study here is Optuna's in-memory one (or a SQLite file where a heartbeat is
needed), and every evaluator is an arithmetic one: the loop's rules, not training, are
under test, so each test takes well under a second or two.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from quarch import RunError
from quarch._warnings import QuarchWarning
from quarch.evaluate.training import _EPOCH_HOOK
from quarch.objectives import Objective
from quarch.space import Choice, Space
from quarch.study import _worker
from quarch.study._worker import (
    FAIL_REASON,
    INTERRUPTED,
    METRICS,
    OWNER,
    PRUNE_REASON,
    SEED,
    SKIP_REASON,
    OverBudget,
    TrialTimeout,
    check_before_training,
    claim,
    counts_toward_budget,
    evaluate_trial,
    fail_dead_trials,
    intermediate_value,
    pruning_hook,
    record_metrics,
    time_limit,
    trial_seed,
    work,
)
from quarch.testing.evaluators import ArithmeticEvaluator

SPACE = Space([Choice("n_layers", [1, 2, 3]), Choice("width_0", [8, 16, 32])], name="t")


def _study(pruner: optuna.pruners.BasePruner | None = None, n: int = 1) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler = optuna.samplers.RandomSampler(seed=0)
    pruner = pruner or optuna.pruners.NopPruner()  # Optuna's default is a MedianPruner
    return optuna.create_study(sampler=sampler, pruner=pruner, directions=["minimize"] * n)


def _truth(arch: Mapping[str, Any]) -> list[float]:
    """ArithmeticEvaluator's closed form (its docstring): val_error, params."""
    return [
        0.1 * arch["n_layers"] + 0.001 * arch["width_0"],
        float(arch["width_0"] * arch["n_layers"]),
    ]


class _Scripted:
    """An evaluator that plays a script, one entry per call: "ok", "fail", "prune",
    "over" (over budget before training: its cheap params are 100)."""

    fingerprint = "scripted"

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.calls: list[str] = []
        self._next = ""
        self._fresh = False  # cheap_metrics read this trial's entry (budgets are set)

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        self._next, self._fresh = self.script.pop(0), True
        return {"params": 100.0 if self._next == "over" else 1.0}

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        if not self._fresh:
            self._next = self.script.pop(0)
        self._fresh = False
        self.calls.append(self._next)
        if self._next == "fail":
            raise RuntimeError("scripted failure")
        if self._next == "prune":
            raise optuna.TrialPruned("scripted prune")
        return {"val_error": 0.5, "params": 1.0}


def _dists() -> dict[str, optuna.distributions.BaseDistribution]:
    """SPACE's distributions, for a trial told by hand (another worker's)."""
    return {c.name: optuna.distributions.CategoricalDistribution(c.options) for c in SPACE.choices}


def _states(study: optuna.Study) -> list[str]:
    out = []
    for t in study.trials:
        if t.state == TrialState.PRUNED:
            out.append("skip" if SKIP_REASON in t.user_attrs else "prune")
        else:
            out.append({TrialState.COMPLETE: "ok", TrialState.FAIL: "fail"}[t.state])
    return out


# -- counts_toward_budget and trial_seed ---------------------------------------------------
def test_only_complete_and_trained_pruned_trials_count_towards_the_budget() -> None:
    make = optuna.trial.create_trial
    assert counts_toward_budget(make(state=TrialState.COMPLETE, value=1.0))
    assert counts_toward_budget(make(state=TrialState.PRUNED))
    assert not counts_toward_budget(make(state=TrialState.PRUNED, user_attrs={SKIP_REASON: "x"}))
    assert not counts_toward_budget(make(state=TrialState.FAIL))
    assert not counts_toward_budget(make(state=TrialState.RUNNING))
    # a pruned trial's own reason is not a skip
    assert counts_toward_budget(make(state=TrialState.PRUNED, user_attrs={PRUNE_REASON: "x"}))


def test_a_trials_seed_is_numpys_seed_sequence_of_the_run_seed_and_its_number() -> None:
    for run_seed, number in [(0, 0), (0, 1), (7, 0), (7, 123), (2**31, 5)]:
        want = np.random.SeedSequence([run_seed, number]).generate_state(1, dtype=np.uint32)[0]
        got = trial_seed(run_seed, number)
        assert type(got) is int and got == int(want)
    assert len({trial_seed(3, n) for n in range(200)}) == 200
    assert trial_seed(0, 1) != trial_seed(1, 0)


# -- time_limit ----------------------------------------------------------------------------
@pytest.fixture
def sentinel_alarm() -> Iterator[Any]:
    """A handler of our own on SIGALRM, to see that time_limit puts it back."""

    def handler(signum: int, frame: Any) -> None:
        raise AssertionError("the sentinel alarm fired")

    old = signal.signal(signal.SIGALRM, handler)
    try:
        yield handler
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_a_time_limit_interrupts_a_sleep_and_restores_the_old_handler(sentinel_alarm: Any) -> None:
    t0 = time.monotonic()
    with pytest.raises(TrialTimeout) as e, time_limit(0.2):
        time.sleep(10)
    assert time.monotonic() - t0 < 5
    assert str(e.value) == "the trial ran longer than its time limit of 0.2 s"
    assert signal.getsignal(signal.SIGALRM) is sentinel_alarm
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_a_block_that_ends_in_time_leaves_no_alarm_behind(sentinel_alarm: Any) -> None:
    with time_limit(0.15):
        pass
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    time.sleep(0.3)  # the sentinel would raise here if the timer were still set
    assert signal.getsignal(signal.SIGALRM) is sentinel_alarm


def test_no_limit_and_other_threads_install_nothing(sentinel_alarm: Any) -> None:
    with time_limit(None):
        assert signal.getsignal(signal.SIGALRM) is sentinel_alarm
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    seen: list[Any] = []

    def in_thread() -> None:
        with time_limit(0.01):
            time.sleep(0.1)
            seen.append(signal.getitimer(signal.ITIMER_REAL))

    th = threading.Thread(target=in_thread)
    th.start()
    th.join()
    assert seen == [(0.0, 0.0)]


def _swallowing(seconds: float, caught: list[str]) -> None:
    """``seconds`` of work in code that catches every ``Exception`` (as torch's own
    imports do, logging what they caught)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        try:
            time.sleep(0.05)
        except Exception as e:  # the point of the test
            caught.append(type(e).__name__)


def test_an_alarm_swallowed_by_the_evaluation_comes_again_and_fails_it_at_the_end(
    sentinel_alarm: Any,
) -> None:
    """Found by session 37's user-path audit: one alarm, swallowed, and a trial ran on to
    completion past its limit and was recorded complete."""
    caught: list[str] = []
    t0 = time.monotonic()
    with pytest.raises(TrialTimeout) as e, time_limit(0.2):
        _swallowing(1.4, caught)
    assert 1.4 <= time.monotonic() - t0 < 5
    assert str(e.value) == "the trial ran longer than its time limit of 0.2 s"
    # at 0.2 s, then every 0.5 s until the work ends at 1.4 s: 0.2, 0.7, 1.2
    assert caught == ["TrialTimeout"] * 3
    assert signal.getsignal(signal.SIGALRM) is sentinel_alarm
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


@pytest.mark.parametrize("body_error", [None, ValueError])
def test_an_alarm_that_lands_while_the_limit_is_lifted_leaves_no_alarm_behind(
    sentinel_alarm: Any, monkeypatch: pytest.MonkeyPatch, body_error: type | None
) -> None:
    """An alarm whose handler runs just as the block has ended (at the call that stops
    the timer; simulated by running the installed handler there): the timer must be
    stopped and the old handler back all the same, and an error of the block's own
    must not be replaced by the timeout."""
    real = signal.setitimer
    landed: list[float] = []

    def setitimer(which: int, seconds: float, interval: float = 0.0) -> Any:
        if seconds == 0 and not landed:
            landed.append(time.monotonic())
            handler = signal.getsignal(signal.SIGALRM)
            assert callable(handler)
            handler(signal.SIGALRM, None)
        return real(which, seconds, interval)

    monkeypatch.setattr(signal, "setitimer", setitimer)
    expected = body_error or TrialTimeout
    with pytest.raises(expected), time_limit(0.05):
        _swallowing(0.2, [])
        if body_error is not None:
            raise body_error("the block's own error")
    monkeypatch.undo()
    assert len(landed) == 1
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is sentinel_alarm
    time.sleep(0.7)  # a timer left armed (0.5 s) would fire the sentinel here


def test_a_search_fails_a_trial_whose_evaluation_swallowed_its_alarm(tmp_path: Path) -> None:
    from quarch.config import SearchConfig
    from quarch.study import run_search
    from quarch.testing.evaluators import ArithmeticEvaluator

    class Swallowing(ArithmeticEvaluator):
        """The first trial's evaluation swallows its alarms for 0.8 s; the rest are quick."""

        calls = 0

        def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
            Swallowing.calls += 1
            if Swallowing.calls == 1:
                _swallowing(0.8, [])
            return super().evaluate(arch, seed=seed)

    cfg = SearchConfig(space="mlp", dataset=None, strategy="random", trials=1,
                       trial_timeout=0.2, out=str(tmp_path / "run"))  # fmt: skip
    result = run_search(cfg, progress=False, evaluator=Swallowing())
    assert [(t.state, t.fail_reason) for t in result.trials] == [
        ("FAIL", "TrialTimeout: the trial ran longer than its time limit of 0.2 s"),
        ("COMPLETE", None),
    ]


# -- liveness and dead trials ----------------------------------------------------------------
def _reaped_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def _state_letter(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_a_process_is_alive_until_it_exits_and_a_zombie_is_dead(tmp_path: Path) -> None:
    assert _worker._pid_alive(os.getpid())
    assert not _worker._pid_alive(_reaped_pid())
    quiet = subprocess.Popen(["sleep", "5"])
    try:
        time.sleep(0.1)
        assert _worker._pid_alive(quiet.pid)
        time.sleep(0.2)
        assert quiet.poll() is None  # asked, not signalled (signal 0)
    finally:
        quiet.kill()
        quiet.wait()
    # a program whose name holds ") Z (" must not be read as a zombie
    odd = tmp_path / "a) Z (b"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", odd)
    p = subprocess.Popen([str(odd), "5"])
    try:
        time.sleep(0.1)
        assert _state_letter(p.pid) in "SR"
        assert _worker._pid_alive(p.pid)
        p.kill()
        for _ in range(100):  # killed, not reaped: a zombie
            if _state_letter(p.pid) == "Z":
                break
            time.sleep(0.02)
        assert _state_letter(p.pid) == "Z"
        assert not _worker._pid_alive(p.pid)
    finally:
        p.kill()
        p.wait()


def test_a_process_it_may_not_signal_or_read_is_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = _reaped_pid()

    def no_permission(pid: int, sig: int) -> None:
        raise PermissionError("another user's process")

    def unreadable(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no /proc here")

    with monkeypatch.context() as m:
        m.setattr(_worker.os, "kill", no_permission)
        assert _worker._pid_alive(dead)
    monkeypatch.setattr(_worker, "open", unreadable, raising=False)
    assert _worker._pid_alive(os.getpid())  # signalled fine, its state unknown: alive
    assert not _worker._pid_alive(dead)  # no such process: dead without reading /proc


def test_only_running_trials_of_dead_processes_on_this_host_are_failed() -> None:
    study = _study()
    host, dead = socket.gethostname(), _reaped_pid()
    # the dead owner comes after ones to pass over, and twice: each is failed and counted
    owners = [f"other-{host}:{dead}", None, f"{host}:{dead}", f"{host}:{os.getpid()}",
              f"{host}:1", f"{host}:{dead}"]  # fmt: skip
    trials = [study.ask() for _ in owners]
    for t, owner in zip(trials, owners, strict=True):
        if owner is not None:
            study._storage.set_trial_system_attr(t._trial_id, OWNER, owner)
    done = study.ask()
    study._storage.set_trial_system_attr(done._trial_id, OWNER, f"{host}:{dead}")
    study.tell(done, 1.0)
    assert fail_dead_trials(study) == 2
    got = study.get_trials()
    reason = {FAIL_REASON: f"interrupted: worker process {dead} died during this trial"}
    for i in (2, 5):
        assert got[i].state == TrialState.FAIL and got[i].user_attrs == reason
    assert [got[i].state for i in (0, 1, 3, 4)] == [TrialState.RUNNING] * 4
    assert got[6].state == TrialState.COMPLETE and FAIL_REASON not in got[6].user_attrs
    assert fail_dead_trials(study) == 0


def test_a_database_without_a_heartbeat_has_no_stale_trials(tmp_path: Path) -> None:
    study = optuna.create_study(storage=RDBStorage(f"sqlite:///{tmp_path / 's.db'}"))
    claim(study)
    assert fail_dead_trials(study) == 0
    assert study.get_trials()[0].state == TrialState.RUNNING


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_trial_whose_heartbeat_stopped_is_failed(tmp_path: Path) -> None:
    storage = RDBStorage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=1, grace_period=1)
    study = optuna.create_study(storage=storage)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ts = [claim(study), claim(study)]
    for t in ts:
        storage.record_heartbeat(t._trial_id)
    assert fail_dead_trials(study) == 0  # just beaten; their owner (this process) is alive
    time.sleep(2.2)
    assert fail_dead_trials(study) == 2  # both counted
    for got in study.get_trials():
        assert got.state == TrialState.FAIL
        assert got.user_attrs[FAIL_REASON] == "interrupted: its worker stopped sending heartbeats"


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_training_trial_keeps_beating_on_a_database(tmp_path: Path) -> None:
    """While a worker trains, its trial's heartbeat runs (the row Optuna's heartbeat
    thread writes, read with sqlite3), so another worker looking for stale trials after
    the grace period finds none; a trial that never beat could never be found stale."""
    db = tmp_path / "s.db"
    storage = RDBStorage(f"sqlite:///{db}", heartbeat_interval=1, grace_period=2)
    study = optuna.create_study(storage=storage, pruner=optuna.pruners.NopPruner())
    stale_seen: list[int] = []
    beats: list[tuple[int, str]] = []

    class _Slow:
        fingerprint = "slow"

        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            time.sleep(3.5)
            stale_seen.append(len(storage._get_stale_trial_ids(study._study_id)))
            with contextlib.closing(sqlite3.connect(db)) as con:
                beats.extend(con.execute("SELECT trial_id, heartbeat FROM trial_heartbeats"))
            return {"val_error": 0.5}

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert work(study, space=SPACE, evaluator=_Slow(), objective=Objective(["val_error"]),
                    trials=1, run_seed=0) == "budget"  # fmt: skip
    assert stale_seen == [0]
    (t,) = study.get_trials()
    assert t.state == TrialState.COMPLETE
    assert [trial_id for trial_id, _ in beats] == [t._trial_id]


def test_failing_a_trial_another_worker_finished_changes_nothing() -> None:
    study = _study()
    t = study.ask()
    study.tell(t, 0.5)
    assert _worker._fail(study._storage, t._trial_id, "late") is False
    (got,) = study.get_trials()
    assert got.state == TrialState.COMPLETE and got.user_attrs == {}


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_claimed_trial_names_this_host_and_process_without_a_warning(tmp_path: Path) -> None:
    storage = RDBStorage(f"sqlite:///{tmp_path / 's.db'}", heartbeat_interval=60)
    study = optuna.create_study(storage=storage)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study.ask()  # Optuna's own hint, which does not apply to quarch's loop
        t = claim(study)
    assert [str(w.message)[:21] for w in caught] == ["Heartbeat of storage "]
    assert study.get_trials()[1].system_attrs[OWNER] == f"{socket.gethostname()}:{os.getpid()}"
    assert OWNER not in study.get_trials()[0].system_attrs and t.number == 1


# -- record_metrics and check_before_training --------------------------------------------
def test_metrics_are_recorded_as_floats_with_every_budgets_constraint() -> None:
    study = _study(n=2)
    obj = Objective(["val_error", "params"], budgets=["params<=10", "val_error<0.5"])
    trial = study.ask()
    values, reason = record_metrics(trial, {"val_error": 0.25, "params": 20, "x": 3}, obj)
    assert (values, reason) == ([0.25, 20.0], None)
    study.tell(trial, values)
    (t,) = study.trials
    assert t.user_attrs[METRICS] == {"val_error": 0.25, "params": 20.0, "x": 3.0}
    assert all(type(v) is float for v in t.user_attrs[METRICS].values())
    # Optuna's constraint convention: > 0 infeasible; params 20 is 10 over, val_error 0.25 under
    assert t.constraints == {"params<=10": 10.0, "val_error<0.5": -0.25}


@pytest.mark.parametrize(
    ("raw", "weights", "reason"),
    [
        ({"val_error": math.nan}, None, "ValueError: metric 'val_error' is not finite: nan"),
        ({"val_error": "high"}, None, "ValueError: metric 'val_error' is not a number: 'high'"),
        ({"val_error": 10.0}, [1e308], "ValueError: objective values are not finite: [inf]"),
    ],
)
def test_bad_metrics_are_a_reason_and_nothing_is_recorded(
    raw: dict[str, Any], weights: list[float] | None, reason: str
) -> None:
    study = _study()
    trial = study.ask()
    obj = Objective(["val_error"], weights=weights, budgets=["val_error<=1"])
    assert record_metrics(trial, raw, obj) == (None, reason)
    t = study.get_trials()[0]
    assert t.user_attrs == {} and t.constraints == {}


@pytest.mark.parametrize(
    ("raw", "objective", "reason"),
    [
        ({"params": 1.0}, Objective(["val_error"]),
         "evaluate() returned no 'val_error', which the objective needs (it returned params)"),
        ({"params": 1.0, "flops": 2.0}, Objective(["val_error"]),
         "evaluate() returned no 'val_error', which the objective needs (it returned flops, "
         "params)"),
        ({"val_error": 0.1}, Objective(["val_error"], budgets=["params<=10", "flops<=5"]),
         "evaluate() returned no 'params', 'flops', which the objective needs (it returned "
         "val_error)"),
        ({}, Objective(["val_error", "params"], budgets=["params<=10"]),
         "evaluate() returned no 'val_error', 'params', which the objective needs (it "
         "returned none)"),
        (None, Objective(["val_error"]), "evaluate() returned a NoneType, not a dict of metrics"),
        (0.25, Objective(["val_error"]), "evaluate() returned a float, not a dict of metrics"),
    ],
)  # fmt: skip
def test_a_missing_objective_metric_breaks_the_contract(
    raw: Any, objective: Objective, reason: str
) -> None:
    """A metric the objective or a budget needs, missing from what ``evaluate`` returned
    (or no mapping at all), is no failed trial but a broken contract, which every trial
    would repeat: :class:`BrokenContract` with the reason (each metric named once, in
    the objective's order), and nothing recorded on the trial."""
    study = _study()
    with pytest.raises(_worker.BrokenContract) as info:
        record_metrics(study.ask(), raw, objective)
    assert info.value.reason == str(info.value) == reason
    t = study.get_trials()[0]
    assert t.user_attrs == {} and t.constraints == {}


class _Returns:
    """An evaluator that returns what it is given; it refuses to run past ``limit``
    calls by raising what no loop catches (so a loop that never gives up fails the test
    instead of hanging)."""

    fingerprint = "returns"

    def __init__(self, raw: Any, limit: int = 10) -> None:
        self.raw, self.limit, self.calls = raw, limit, 0

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Any:
        self.calls += 1
        if self.calls > self.limit:
            raise _Runaway(f"evaluated {self.calls} times")
        return self.raw


class _Runaway(BaseException):
    pass


def test_a_broken_contract_stops_work_at_its_first_trial_which_fails() -> None:
    """The worker loop fails the trial with the contract's reason, stops in one line
    naming the evaluator and the trial, and evaluates nothing more (it failed 25 trials
    in a row before it gave up)."""
    study = _study()
    ev = _Returns({"params": 3.0})
    with pytest.raises(RunError) as info:
        work(study, space=SPACE, evaluator=ev, objective=Objective(["val_error"]), trials=3,
             run_seed=0)  # fmt: skip
    assert str(info.value) == (
        f"evaluator {__name__}._Returns broke its contract at trial 0: evaluate() returned "
        "no 'val_error', which the objective needs (it returned params); every trial would "
        "fail alike, so the search stopped there (the trial is recorded as failed; resume "
        "the run once evaluate() keeps the contract)"
    )
    assert ev.calls == 1
    [t] = study.trials
    assert t.state == TrialState.FAIL
    assert t.user_attrs[FAIL_REASON] == (
        "evaluate() returned no 'val_error', which the objective needs (it returned params)"
    )


def test_a_trial_optuna_fails_at_tell_counts_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A trial the study refuses at ``tell`` (values it cannot take: Optuna fails the
    trial with a warning and does not raise) was counted as a success, so the loop
    never gave up and asked trials forever. Here the study optimises two values and
    the objective gives one: each trial is failed with the reason and the loop gives
    up at its limit of failures in a row."""
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 3)
    study = _study(n=2)
    ev = _Returns({"val_error": 0.5})
    with pytest.raises(RunError) as info:
        work(study, space=SPACE, evaluator=ev, objective=Objective(["val_error"]), trials=2,
             run_seed=0)  # fmt: skip
    reason = "the study takes 2 objective value(s); the objective gave 1"
    assert str(info.value) == (
        f"gave up: 3 trials in a row failed, with 0 of 2 trials done; the last failed with: "
        f"{reason}"
    )
    assert ev.calls == 3
    assert [(t.state, t.user_attrs[FAIL_REASON]) for t in study.trials] == [
        (TrialState.FAIL, reason)
    ] * 3


def test_a_tell_that_fails_the_trial_anyway_counts_as_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """However the study comes to fail a trial told complete values (faked here: its
    ``tell`` records FAIL), the loop counts a failure, not a success."""
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 2)
    study = _study()
    real = study.tell
    monkeypatch.setattr(
        study, "tell", lambda trial, values=None, state=None: real(trial, state=TrialState.FAIL)
    )
    ev = _Returns({"val_error": 0.5})
    with pytest.raises(RunError) as info:
        work(study, space=SPACE, evaluator=ev, objective=Objective(["val_error"]), trials=1,
             run_seed=0)  # fmt: skip
    assert str(info.value).endswith(
        "the last failed with: the study recorded it FAIL when told its values [0.5]"
    )
    assert ev.calls == 2 and [t.state for t in study.trials] == [TrialState.FAIL] * 2


def test_finish_says_why_a_trial_failed_and_none_for_a_complete_one() -> None:
    study = _study()
    assert _worker.finish(study, study.ask(), [0.5], None) is None
    assert _worker.finish(study, study.ask(), None, "RuntimeError: x") == "RuntimeError: x"
    assert _worker.finish(study, study.ask(), None, None) == (
        "the study takes 1 objective value(s); the objective gave none"
    )
    assert [(t.state, t.values, t.user_attrs.get(FAIL_REASON)) for t in study.trials] == [
        (TrialState.COMPLETE, [0.5], None),
        (TrialState.FAIL, None, "RuntimeError: x"),
        (TrialState.FAIL, None, "the study takes 1 objective value(s); the objective gave none"),
    ]


class _Cheap:
    fingerprint = "cheap"

    def __init__(self, params: float, fail: bool = False) -> None:
        self.params, self.fail, self.calls = params, fail, 0

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        self.calls += 1
        if self.fail:
            raise AssertionError("cheap_metrics should not be called")
        params = self.params * arch.get("scale", 1)  # read from the architecture given
        return {"params": params, "flops": 2 * params}

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        return {"val_error": 0.5, **self.cheap_metrics(arch)}


def test_without_budgets_nothing_is_computed_before_training() -> None:
    study = _study()
    check_before_training(study.ask(), {}, _Cheap(5, fail=True), Objective(["val_error"]))
    ev = _Cheap(5, fail=True)  # known metrics given: the evaluator is not asked again
    check_before_training(
        study.ask(), {}, ev, Objective(["val_error"], budgets=["params<=10"]), {"params": 5.0}
    )
    assert ev.calls == 0 and study.get_trials()[1].user_attrs == {}


def test_an_architecture_over_a_known_budget_is_recorded_and_never_trained() -> None:
    study = _study()
    obj = Objective(["val_error"], budgets=["params<=10", "flops<=1000", "latency_ms<=1"])
    trial = study.ask()
    with pytest.raises(OverBudget) as e:
        check_before_training(trial, {}, _Cheap(20.0), obj)
    assert str(e.value) == "over budget before training: params=20 breaks params<=10"
    study.tell(trial, state=TrialState.PRUNED)
    (t,) = study.trials
    assert t.user_attrs[METRICS] == {"params": 20.0, "flops": 40.0}
    # one constraint per budget on a known metric (latency_ms is known only after training)
    assert t.constraints == {"params<=10": 10.0, "flops<=1000": -960.0}
    within = study.ask()
    check_before_training(within, {}, _Cheap(10.0), obj)  # exactly at the budget: fine
    assert study.get_trials()[1].user_attrs == {}
    with pytest.raises(OverBudget, match=r"params=10\.5 breaks params<=10$"):  # 0.5 over
        check_before_training(study.ask(), {"scale": 1.05}, _Cheap(10.0), obj)
    two = study.ask()
    with pytest.raises(OverBudget) as e:
        check_before_training(two, {"scale": 2}, _Cheap(300.0), obj)
    assert str(e.value) == (
        "over budget before training: params=600 breaks params<=10, flops=1200 breaks flops<=1000"
    )


# -- intermediate values and the pruning hook --------------------------------------------
def test_an_intermediate_value_is_the_first_objective_or_the_weighted_known_part() -> None:
    assert intermediate_value(Objective(["val_error", "params"]), {"params": 9.0}, 0.3) == 0.3
    assert intermediate_value(Objective(["val_accuracy"]), {}, 0.3) == pytest.approx(0.7)
    obj = Objective(["val_error", "params", "latency_ms"], weights=[2.0, 0.01, 5.0])
    # latency_ms is measured after training: left out, not counted as 0 by accident
    assert intermediate_value(obj, {"params": 100.0}, 0.25) == pytest.approx(2 * 0.25 + 1.0)


class _PruneFrom(optuna.pruners.BasePruner):
    """Prunes from a given step on."""

    def __init__(self, step: int) -> None:
        self.step = step

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return max(trial.intermediate_values, default=-1) >= self.step


def test_the_hook_reports_each_epoch_and_prunes_when_the_pruner_says() -> None:
    study = _study(_PruneFrom(1))
    trial = study.ask()
    hook = pruning_hook(
        trial, Objective(["val_error", "params"], weights=[1.0, 0.5]), {"params": 2.0}
    )
    hook(0, 0.5)
    with pytest.raises(optuna.TrialPruned) as e:
        hook(1, 0.25)
    assert str(e.value) == "pruned by the _PruneFrom after epoch 2: weighted_cost so far 1.25"
    assert study.get_trials()[0].intermediate_values == {0: 1.5, 1: 1.25}


# -- evaluate_trial ------------------------------------------------------------------------
class _Raises:
    fingerprint = "raises"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        raise self.exc


class _Sleeps:
    fingerprint = "sleeps"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        time.sleep(10)
        return {"val_error": 0.0}


def test_a_trial_records_its_seed_and_its_evaluators_failure_as_a_reason() -> None:
    study = _study()
    trial = study.ask()
    got = evaluate_trial(trial, SPACE, _Raises(RuntimeError("boom")), Objective(["val_error"]), 5)
    assert got == (None, "RuntimeError: boom")
    assert study.get_trials()[0].user_attrs == {SEED: trial_seed(5, 0)}
    trial = study.ask()
    values, reason = evaluate_trial(
        trial, SPACE, ArithmeticEvaluator(), Objective(["val_error", "params"]), 5
    )
    assert reason is None and values == _truth(trial.params)
    assert study.get_trials()[1].user_attrs[SEED] == trial_seed(5, 1)


def test_a_slow_trial_fails_with_the_time_limit_as_its_reason() -> None:
    t0 = time.monotonic()
    got = evaluate_trial(_study().ask(), SPACE, _Sleeps(), Objective(["val_error"]), 0, 0.2)
    assert got == (None, "TrialTimeout: the trial ran longer than its time limit of 0.2 s")
    assert time.monotonic() - t0 < 5


def test_ctrl_c_and_exit_are_not_a_trials_failure() -> None:
    for exc in (KeyboardInterrupt(), SystemExit(3)):
        with pytest.raises(type(exc)):
            evaluate_trial(_study().ask(), SPACE, _Raises(exc), Objective(["val_error"]), 0)


def test_a_pruned_trial_keeps_what_was_known_before_training() -> None:
    study = _study(_PruneFrom(0))

    class _Trains(_Cheap):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            hook = _EPOCH_HOOK.get()
            assert hook is not None  # the loop reaches the training through the context
            hook(0, 0.4)
            raise AssertionError("the pruner should have stopped the trial")

    trial = study.ask()
    space = Space([Choice("scale", [2])], name="s")
    with pytest.raises(optuna.TrialPruned):
        evaluate_trial(trial, space, _Trains(3.0), Objective(["val_error"]), 0)
    t = study.get_trials()[0]
    assert t.user_attrs[METRICS] == {"params": 6.0, "flops": 12.0}
    assert t.intermediate_values == {0: 0.4}
    assert _EPOCH_HOOK.get() is None  # the hook is gone after the trial


def test_without_a_pruner_or_budgets_no_hook_and_no_cheap_metrics() -> None:
    class _Checks(_Cheap):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            assert _EPOCH_HOOK.get() is None
            return {"val_error": 0.5}

    ev = _Checks(1.0, fail=True)
    assert evaluate_trial(_study().ask(), SPACE, ev, Objective(["val_error"]), 0) == ([0.5], None)


# -- work ----------------------------------------------------------------------------------
def test_work_runs_exactly_the_budget_and_tells_every_trial() -> None:
    study = _study(n=2)
    seen: list[optuna.trial.FrozenTrial] = []
    obj = Objective(["val_error", "params"])
    got = work(study, space=SPACE, evaluator=ArithmeticEvaluator(), objective=obj, trials=6,
               run_seed=1, on_trial=seen.append)  # fmt: skip
    assert got == "budget"
    assert [t.number for t in seen] == list(range(6))
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    for t in study.trials:
        assert t.values == _truth(t.params)
        assert t.user_attrs[SEED] == trial_seed(1, t.number)
    # a second call on a full study asks nothing
    assert work(study, space=SPACE, evaluator=ArithmeticEvaluator(), objective=obj, trials=6,
                run_seed=1) == "budget"  # fmt: skip
    assert len(study.trials) == 6


def test_skipped_and_failed_trials_do_not_count_pruned_ones_do() -> None:
    ev = _Scripted(["over", "fail", "prune", "ok", "over", "ok"])
    study = _study()
    seen: list[str] = []
    got = work(study, space=SPACE, evaluator=ev, trials=3, run_seed=0,
               objective=Objective(["val_error"], budgets=["params<=10"]),
               on_trial=lambda t: seen.append(t.state.name))  # fmt: skip
    assert got == "budget"
    assert _states(study) == ["skip", "fail", "prune", "ok", "skip", "ok"]
    assert seen == ["PRUNED", "FAIL", "PRUNED", "COMPLETE", "PRUNED", "COMPLETE"]
    assert ev.calls == ["fail", "prune", "ok", "ok"]  # the skipped ones never trained
    t = study.trials
    assert (
        t[0].user_attrs[SKIP_REASON] == "over budget before training: params=100 breaks params<=10"
    )
    assert t[1].user_attrs[FAIL_REASON] == "RuntimeError: scripted failure"
    assert t[2].user_attrs[PRUNE_REASON] == "scripted prune"


def test_work_gives_up_after_25_failures_in_a_row_naming_the_last() -> None:
    assert _worker.MAX_CONSECUTIVE_FAILURES == 25  # the README's figure
    study = _study()
    ev = _Scripted(["ok"] + ["fail"] * 25)
    with pytest.raises(RunError) as e:
        work(study, space=SPACE, evaluator=ev, objective=Objective(["val_error"]), trials=30,
             run_seed=0)  # fmt: skip
    assert str(e.value) == (
        "gave up: 25 trials in a row failed, with 1 of 30 trials done; the last failed with: "
        "RuntimeError: scripted failure"
    )
    assert _states(study) == ["ok"] + ["fail"] * 25


def test_work_gives_up_after_500_skips_in_a_row() -> None:
    assert _worker.MAX_CONSECUTIVE_SKIPS == 500
    study = _study()
    ev = _Scripted(["ok", "ok"] + ["over"] * 500)
    with pytest.raises(RunError) as e, pytest.warns(QuarchWarning, match=r"^50 architectures"):
        work(study, space=SPACE, evaluator=ev, trials=5, run_seed=0,
             objective=Objective(["val_error"], budgets=["params<=10"]))  # fmt: skip
    assert str(e.value) == (
        "gave up: 500 architectures in a row were over budget before training, with 2 of 5 "
        "trials done; the nearest had params=100 against params<=10: loosen the budget to "
        "params<=100 or looser, or narrow the space"
    )
    assert len(study.trials) == 502


@pytest.mark.parametrize(
    ("script", "gives_up"),
    [
        (["fail", "fail", "ok", "fail", "fail", "ok", "ok"], False),  # a success resets
        (["fail", "fail", "prune", "fail", "fail", "ok", "ok"], False),  # so does a prune
        (["fail", "over", "fail", "over", "fail"], True),  # a skip does not
        (
            ["over", "over", "fail", "over", "over", "ok", "ok", "ok"],
            False,
        ),  # a failure resets skips
        (["over", "over", "prune", "over", "over", "ok", "ok"], False),  # a prune too
        (["over", "over", "over"], True),
        (["fail", "fail", "fail"], True),
    ],
)
def test_the_give_up_counters_reset_as_the_loop_says(
    script: list[str], gives_up: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 3)
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_SKIPS", 3)
    study = _study()
    obj = Objective(["val_error"], budgets=["params<=10"])
    if gives_up:
        with pytest.raises(RunError, match=r"^gave up: 3 "):
            work(study, space=SPACE, evaluator=_Scripted(script), objective=obj, trials=3,
                 run_seed=0)  # fmt: skip
    else:
        got = work(study, space=SPACE, evaluator=_Scripted(script), objective=obj, trials=3,
                   run_seed=0)  # fmt: skip
        assert got == "budget"
    assert _states(study) == ["skip" if s == "over" else s for s in script]


def test_a_timeout_stops_between_trials() -> None:
    study = _study()
    obj = Objective(["val_error"])
    assert work(study, space=SPACE, evaluator=ArithmeticEvaluator(), objective=obj, trials=5,
                run_seed=0, timeout=0) == "timeout"  # fmt: skip
    assert study.trials == []
    t0 = time.monotonic()
    got = work(study, space=SPACE, evaluator=ArithmeticEvaluator(delay=0.3), objective=obj,
               trials=50, run_seed=0, timeout=0.5)  # fmt: skip
    assert got == "timeout" and 1 <= len(study.trials) <= 3
    assert all(t.state == TrialState.COMPLETE for t in study.trials)  # none cut short
    assert time.monotonic() - t0 < 5


def test_ctrl_c_fails_the_running_trial_as_interrupted() -> None:
    study = _study()
    with pytest.raises(KeyboardInterrupt):
        work(study, space=SPACE, evaluator=_Raises(KeyboardInterrupt()), trials=3, run_seed=0,
             objective=Objective(["val_error"]))  # fmt: skip
    (t,) = study.trials
    assert t.state == TrialState.FAIL and t.user_attrs[FAIL_REASON] == INTERRUPTED


def test_ctrl_c_before_a_trial_is_claimed_goes_on_up_with_nothing_to_fail(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Ctrl-C that ends the claim itself (no trial handed back) is the Ctrl-C the
    caller sees: no trial of this worker is there to fail."""
    study = _study()

    def interrupted(study: optuna.Study) -> optuna.Trial:
        raise KeyboardInterrupt

    monkeypatch.setattr(_worker, "claim", interrupted)
    with pytest.raises(KeyboardInterrupt):
        work(study, space=SPACE, evaluator=ArithmeticEvaluator(), trials=3, run_seed=0,
             objective=Objective(["val_error"]))  # fmt: skip
    assert study.trials == []


@pytest.mark.parametrize("outcome", [TrialState.COMPLETE, TrialState.FAIL])
def test_a_worker_waits_for_others_running_trials_and_redoes_failed_ones(
    outcome: TrialState,
) -> None:
    """Budget 2, one trial complete and one running in another (live) process: the
    worker polls; if that trial completes it is done, if it fails it runs one itself."""
    study = _study()
    study.tell(study.ask(_dists()), 0.5)
    other = study.ask()
    study._storage.set_trial_system_attr(other._trial_id, OWNER, f"{socket.gethostname()}:1")

    def settle() -> None:
        time.sleep(0.8)
        if outcome == TrialState.COMPLETE:
            study.tell(other, 0.5)
        else:
            study.tell(other, state=TrialState.FAIL)

    ev = _Scripted(["ok"] * 3)
    th = threading.Thread(target=settle)
    th.start()
    got = work(study, space=SPACE, evaluator=ev, objective=Objective(["val_error"]), trials=2,
               run_seed=0)  # fmt: skip
    th.join()
    assert got == "budget"
    assert ev.calls == ([] if outcome == TrialState.COMPLETE else ["ok"])
    want = [TrialState.COMPLETE, outcome] + (
        [TrialState.COMPLETE] if outcome != TrialState.COMPLETE else []
    )
    assert [t.state for t in study.trials] == want  # no surplus trial was asked while waiting


def test_a_failed_trial_is_told_without_optunas_warning() -> None:
    study = _study()
    trial = study.ask()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _worker.finish(study, trial, None, "RuntimeError: x")
    (t,) = study.trials
    assert t.state == TrialState.FAIL and t.user_attrs == {FAIL_REASON: "RuntimeError: x"}


def test_a_trial_asked_in_a_race_past_the_budget_is_failed_as_surplus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Budget 2, one complete: while this worker asks, another worker asks too (a lower
    number, still running). This worker's trial would make 3: it is failed, never
    evaluated; the worker then waits for the other one to finish."""
    study = _study()
    study.tell(study.ask(_dists()), 0.5)
    real_claim = _worker.claim
    others: list[optuna.Trial] = []

    def racing_claim(s: optuna.Study) -> optuna.Trial:
        if not others:
            other = s.ask()
            s._storage.set_trial_system_attr(other._trial_id, OWNER, f"{socket.gethostname()}:1")
            others.append(other)
            threading.Timer(0.8, lambda: s.tell(other, 0.25)).start()
        return real_claim(s)

    monkeypatch.setattr(_worker, "claim", racing_claim)
    ev = _Scripted(["ok"] * 3)
    got = work(study, space=SPACE, evaluator=ev, objective=Objective(["val_error"]), trials=2,
               run_seed=0)  # fmt: skip
    assert got == "budget" and ev.calls == []
    t = study.trials
    assert [x.state for x in t] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]
    assert t[2].user_attrs == {FAIL_REASON: "surplus: other workers reached the budget first"}


def test_ctrl_c_while_a_surplus_trial_is_told_stops_with_that_trial_told_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As above, with a Ctrl-C arriving while the surplus trial is told: it is held
    until the trial is told, then stops the worker; the told trial is not failed again."""
    study = _study()
    real_claim, real_finish = _worker.claim, _worker.finish

    def racing_claim(s: optuna.Study) -> optuna.Trial:
        other = s.ask()  # another worker's, a lower number, running in a live process
        s._storage.set_trial_system_attr(other._trial_id, OWNER, f"{socket.gethostname()}:1")
        return real_claim(s)

    def finish_then_ctrl_c(s: optuna.Study, trial: Any, *args: Any) -> None:
        if args[-1].startswith("surplus"):
            signal.raise_signal(signal.SIGINT)  # the terminal's Ctrl-C, held meanwhile
        real_finish(s, trial, *args)

    monkeypatch.setattr(_worker, "claim", racing_claim)
    monkeypatch.setattr(_worker, "finish", finish_then_ctrl_c)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            work(study, space=SPACE, evaluator=ArithmeticEvaluator(), trials=1, run_seed=0,
                 objective=Objective(["val_error"]))  # fmt: skip
    finally:
        signal.signal(signal.SIGINT, old)
    other, mine = study.trials
    assert other.state == TrialState.RUNNING
    assert mine.state == TrialState.FAIL
    assert mine.user_attrs == {FAIL_REASON: "surplus: other workers reached the budget first"}


def test_the_trial_time_limit_reaches_each_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 1)
    with pytest.raises(RunError) as e:
        work(_study(), space=SPACE, evaluator=_Sleeps(), objective=Objective(["val_error"]),
             trials=1, run_seed=0, trial_timeout=0.2)  # fmt: skip
    assert str(e.value).endswith("TrialTimeout: the trial ran longer than its time limit of 0.2 s")
