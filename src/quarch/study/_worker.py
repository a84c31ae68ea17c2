"""The worker loop: ask a trial, evaluate it, tell the study; survive what goes wrong.

Any number of workers (processes on one machine, or on several sharing a database)
run this same loop on one study. Everything they share is in the study, so:

* the budget is counted in the study: a worker asks only while complete + running
  trials fall short of it, and a trial asked in a race past it is failed unevaluated
  as surplus, so a run ends with exactly its budget of complete trials;
* each running trial records its owner (host and PID); a worker that finds a trial
  whose owner process on this host is gone fails it, so a worker killed with SIGKILL
  costs that one trial and the others complete the budget (on a database, Optuna's
  heartbeat does the same across machines);
* a trial that raises, returns non-finite metrics, or exceeds ``trial_timeout`` is
  failed with its reason; the run goes on (until too many fail in a row); one whose
  evaluator returned no metric the objective needs, or no dict, is failed with the
  reason and the run stops at once (:class:`BrokenContract`): every trial would fail
  alike; a trial the study refuses at ``tell`` counts as failed;
* with a pruner on the study, every epoch of training reports the trial's objective
  value so far (:func:`pruning_hook`) and a trial the pruner stops is PRUNED with the
  epoch it reached; like a complete trial it counts towards the budget (Optuna's
  ``n_trials`` counts it too), while an architecture skipped before training does not.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import socket
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from quarch._errors import RunError
from quarch.evaluate import cheap_metrics, check_metrics, epoch_hook
from quarch.study._signals import held_signals
from quarch.study._skips import SkipStreak

if TYPE_CHECKING:
    from optuna.storages._heartbeat import BaseHeartbeatThread

    from quarch.evaluate import EpochHook, Evaluator
    from quarch.objectives import Budget, Objective
    from quarch.space import Space

__all__ = [
    "FAIL_REASON",
    "INTERRUPTED",
    "METRICS",
    "OWNER",
    "PRUNE_REASON",
    "SEED",
    "SKIP_REASON",
    "BrokenContract",
    "TrialTimeout",
    "claim",
    "counts_toward_budget",
    "evaluate_trial",
    "fail_dead_trials",
    "finish",
    "gave_up_failing",
    "pruning_hook",
    "record_metrics",
    "skip",
    "time_limit",
    "trial_seed",
    "work",
]

FAIL_REASON = "fail_reason"
SKIP_REASON = "skip_reason"
PRUNE_REASON = "prune_reason"
METRICS = "metrics"
SEED = "seed"
OWNER = "quarch:owner"
#: Stop a worker whose trials keep failing instead of spinning through the budget.
MAX_CONSECUTIVE_FAILURES = 25
#: Stop a worker whose strategy keeps proposing architectures over a budget.
MAX_CONSECUTIVE_SKIPS = 500
_POLL_SECONDS = 0.5
#: The reason of a trial stopped by Ctrl-C or by SIGTERM (which the command line takes
#: as Ctrl-C); a worker cannot tell which reached the search, so it names both.
INTERRUPTED = "interrupted: the search was stopped (Ctrl-C or SIGTERM)"


def counts_toward_budget(t: optuna.trial.FrozenTrial) -> bool:
    """Whether a finished trial counts towards the run's budget of trials: complete, or
    trained and then stopped by the pruner; never one skipped before training."""
    if t.state == TrialState.COMPLETE:
        return True
    return t.state == TrialState.PRUNED and SKIP_REASON not in t.user_attrs


def trial_seed(run_seed: int, number: int) -> int:
    """Seed of trial ``number`` in a run seeded ``run_seed`` (stable across versions)."""
    import numpy as np

    return int(np.random.SeedSequence([run_seed, number]).generate_state(1)[0])


class TrialTimeout(Exception):
    """A trial ran past ``trial_timeout``."""


#: Seconds between alarms once a trial's time is up, until its evaluation gives way.
_REPEAT_SECONDS = 0.5


def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`TrialTimeout` in this thread after ``seconds`` (POSIX main thread);
    :func:`time_limit` is this generator as a context manager (a plain function, so
    that mutation testing reaches its body: mutmut 3 skips decorated functions).

    Uses ``SIGALRM``, which interrupts Python code and sleeping system calls; a C
    extension that never returns to the interpreter is not interrupted (the worker's
    liveness check still covers a process that has to be killed). Off the main thread
    or without ``seconds`` it does nothing.

    Code that catches every ``Exception`` can swallow the alarm's exception (torch's
    own imports log and drop it: a trial recorded complete after 600 times its limit),
    so the alarm is re-armed every :data:`_REPEAT_SECONDS` until the block ends, and
    a block that ends past its limit all the same raises :class:`TrialTimeout` then.
    """
    usable = (
        seconds is not None
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return
    message = f"the trial ran longer than its time limit of {seconds:g} s"

    def _raise(signum: int, frame: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, _REPEAT_SECONDS)
        raise TrialTimeout(message)

    old = signal.signal(signal.SIGALRM, _raise)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, float(seconds))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _disarm(old)
    if time.monotonic() - start > float(seconds):  # type: ignore[arg-type]
        raise TrialTimeout(message)


def _disarm(old: Any) -> None:
    """Stop the alarm and put ``old`` back as the SIGALRM handler, even when the alarm
    fires while this runs.

    The alarm's handler re-arms the timer before it raises, so an alarm that lands
    between the block's end and ``setitimer(0)`` would leave the timer armed and the
    handler installed: a :class:`TrialTimeout` 0.5 s later, outside the trial. Such an
    alarm is caught here and the restore done again (the caller raises the timeout
    itself when the block ended past its limit; an exception of the block's own goes
    on unchanged).
    """
    while True:
        try:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            return
        except TrialTimeout:
            continue


time_limit = contextlib.contextmanager(_time_limit)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed child its parent has not reaped yet is a zombie: dead for us
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _fail(storage: BaseStorage, trial_id: int, reason: str) -> bool:
    try:
        storage.set_trial_user_attr(trial_id, FAIL_REASON, reason)
        return storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:  # another worker got there first
        return False


#: The reason of a RUNNING trial that never got its owner recorded (its worker was
#: killed between asking for it and recording itself).
UNOWNED = "interrupted: its worker stopped before recording itself as the trial's owner"
#: A trial's owner is recorded milliseconds after it is asked for; one without an owner
#: for this long has none (a margin for clocks of machines sharing a database).
UNOWNED_SECONDS = 60.0


def _unowned_too_long(t: optuna.trial.FrozenTrial) -> bool:
    """Whether trial ``t`` started more than :data:`UNOWNED_SECONDS` ago. Optuna records
    ``datetime_start`` as a naive local time (``datetime.now()``) in every storage."""
    import datetime as dt

    start = t.datetime_start
    if start is None:
        return False
    return (dt.datetime.now() - start).total_seconds() > UNOWNED_SECONDS


def fail_dead_trials(study: optuna.Study) -> int:
    """Fail running trials whose worker is gone; return how many.

    A trial owned by a process on this host that no longer runs is failed at once, and
    one that has had no owner for :data:`UNOWNED_SECONDS` (its worker was killed before
    recording itself: without this a resumed run counted it as running and waited for
    it forever); on a storage with a heartbeat, trials whose heartbeat stopped are
    failed too.
    """
    storage = study._storage
    host = socket.gethostname()
    n = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = t.system_attrs.get(OWNER)
        if not owner:
            if _unowned_too_long(t):
                n += _fail(storage, t._trial_id, UNOWNED)
            continue
        if owner.rsplit(":", 1)[0] != host:
            continue
        pid = int(owner.rsplit(":", 1)[1])
        if pid != os.getpid() and not _pid_alive(pid):
            n += _fail(
                storage, t._trial_id, f"interrupted: worker process {pid} died during this trial"
            )
    from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

    if isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage):
        for tid in storage._get_stale_trial_ids(study._study_id):
            n += _fail(storage, tid, "interrupted: its worker stopped sending heartbeats")
    return n


class BrokenContract(Exception):
    """An evaluator's output breaks its contract in a way every trial repeats: it is not
    a mapping of metrics, or it lacks a metric the objective (or a budget) needs. The
    search fails that trial with :attr:`reason` and stops (:meth:`error`), where it
    failed every trial alike until it gave up (25 trainings, each wasted)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def error(self, evaluator: object, number: int) -> RunError:
        """The one line the search stops with (trial ``number`` failed with the reason)."""
        kind = type(evaluator)
        name = f"{kind.__module__}.{kind.__qualname__}"
        return RunError(
            f"evaluator {name} broke its contract at trial {number}: {self.reason}; every "
            "trial would fail alike, so the search stopped there (the trial is recorded as "
            "failed; resume the run once evaluate() keeps the contract)"
        )


def _broken_contract(raw: Any, objective: Objective) -> BrokenContract | None:
    """Why ``raw`` (what ``evaluate`` returned) breaks the contract for ``objective``, or
    ``None``. A value that is not a finite number is not one: a training can diverge
    for one architecture (a failed trial)."""
    if not isinstance(raw, Mapping):
        return BrokenContract(f"evaluate() returned a {type(raw).__name__}, not a dict of metrics")
    needed = [*objective.metrics, *(b.metric for b in objective.budgets)]
    missing = [m for m in dict.fromkeys(needed) if m not in raw]
    if not missing:
        return None
    returned = ", ".join(sorted(map(str, raw))) or "none"
    return BrokenContract(
        f"evaluate() returned no {', '.join(map(repr, missing))}, which the objective needs "
        f"(it returned {returned})"
    )


def record_metrics(
    trial: optuna.Trial, raw: Any, objective: Objective
) -> tuple[list[float] | None, str | None]:
    """Check an evaluator's output and store it on ``trial``; return (values, reason).

    Raises:
        BrokenContract: ``raw`` is not a mapping, or lacks a metric ``objective`` needs
            (nothing is recorded; the caller fails the trial and stops).
    """
    broken = _broken_contract(raw, objective)
    if broken is not None:
        raise broken
    try:
        metrics = check_metrics(raw)
        values = objective.values(metrics)
        constraints = objective.constraints(metrics)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"objective values are not finite: {values}")
    except Exception as e:
        return None, f"{type(e).__name__}: {e}"
    trial.set_user_attr(METRICS, metrics)
    for key, g in constraints.items():
        trial.set_constraint(key, g)
    return values, None


class OverBudget(Exception):
    """An architecture breaks a hard budget on a metric known before training;
    :attr:`checked` holds each budget checked before training with the architecture's
    value (what a streak of skips reports as the nearest: :mod:`._skips`)."""

    def __init__(self, reason: str, checked: tuple[tuple[Budget, float], ...] = ()) -> None:
        super().__init__(reason)
        self.checked = checked


def check_before_training(
    trial: optuna.Trial,
    arch: Mapping[str, Any],
    evaluator: Evaluator,
    objective: Objective,
    known: Mapping[str, float] | None = None,
) -> None:
    """Compute the evaluator's cheap metrics (those that need no training) when a budget
    names one of them; an architecture over such a budget is recorded with those
    metrics and its constraints, and never trained.

    Args:
        known: the cheap metrics when the caller computed them already.

    Raises:
        OverBudget: with the broken budgets, after recording them on ``trial``.
    """
    if not objective.budgets:
        return
    known = cheap_metrics(evaluator, arch) if known is None else known
    checked = [b for b in objective.budgets if b.metric in known]
    broken = [b for b in checked if b.violation(known[b.metric]) > 0]
    if not broken:
        return
    trial.set_user_attr(METRICS, dict(known))
    for b in checked:
        trial.set_constraint(str(b), b.violation(known[b.metric]))
    raise OverBudget(
        "over budget before training: "
        + ", ".join(f"{b.metric}={known[b.metric]:.6g} breaks {b}" for b in broken),
        tuple((b, known[b.metric]) for b in checked),
    )


def prunes(study: optuna.Study) -> bool:
    """Whether ``study`` has a pruner that can stop trials (anything but Optuna's
    ``NopPruner``)."""
    return not isinstance(study.pruner, optuna.pruners.NopPruner)


def intermediate_value(objective: Objective, known: Mapping[str, float], val_error: float) -> float:
    """The study's objective value of a trial stopped now, for the pruner: its
    validation error so far, and for a weighted cost the weighted sum of it and of the
    metrics known before training (``known``). A weighted metric known only after
    training (a measured latency) is left out: the pruner compares trials at one
    epoch, and it cannot see that term for any of them.

    Example:
        >>> from quarch.objectives import Objective
        >>> obj = Objective(["val_error", "params"], weights=[1.0, 0.001])
        >>> intermediate_value(obj, {"params": 100.0}, 0.25)
        0.35
    """
    now = {**known, "val_error": val_error, "val_accuracy": 1.0 - val_error}
    if objective.weights is None:
        return float(now[objective.metrics[0]])
    return float(
        sum(w * now[m] for w, m in zip(objective.weights, objective.metrics, strict=True)
            if m in now)
    )  # fmt: skip


def pruning_hook(
    trial: optuna.Trial, objective: Objective, known: Mapping[str, float]
) -> EpochHook:
    """An epoch hook that reports the trial's objective value so far and raises
    ``optuna.TrialPruned`` when the study's pruner says stop."""

    def hook(epoch: int, val_error: float) -> None:
        value = intermediate_value(objective, known, val_error)
        trial.report(value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(
                f"pruned by the {type(trial.study.pruner).__name__} after epoch {epoch + 1}: "
                f"{objective.names[0]} so far {value:.4g}"
            )

    return hook


def evaluate_trial(
    trial: optuna.Trial,
    space: Space,
    evaluator: Evaluator,
    objective: Objective,
    run_seed: int,
    trial_timeout: float | None = None,
) -> tuple[list[float] | None, str | None]:
    """Suggest, evaluate and record one trial; return (values, failure reason).

    Raises:
        OverBudget: the architecture breaks a budget before training (recorded).
        optuna.TrialPruned: the study's pruner stopped the trial during training.
        BrokenContract: the evaluator returned what no trial can be scored by (see
            :func:`record_metrics`); an evaluator that raises fails its trial only.
    """
    seed = trial_seed(run_seed, trial.number)
    trial.set_user_attr(SEED, seed)
    try:
        arch = space.suggest(trial)
        with time_limit(trial_timeout):
            pruning = prunes(trial.study)
            known = cheap_metrics(evaluator, arch) if objective.budgets or pruning else {}
            check_before_training(trial, arch, evaluator, objective, known)
            hook = pruning_hook(trial, objective, known) if pruning else None
            with epoch_hook(hook):
                raw = evaluator.evaluate(arch, seed=seed)
    except optuna.TrialPruned:
        if known:  # what is known without training stays readable (params, costs)
            trial.set_user_attr(METRICS, dict(known))
        raise
    except (KeyboardInterrupt, SystemExit, OverBudget):
        raise
    except Exception as e:  # a trial's failure must never end the run
        return None, f"{type(e).__name__}: {e}"
    return record_metrics(trial, raw, objective)


def finish(
    study: optuna.Study, trial: optuna.Trial, values: list[float] | None, reason: str | None
) -> str | None:
    """Tell the study a trial's outcome (failed with ``reason`` when it has one).

    Returns:
        Why the trial failed: ``reason``, or why the study refused ``values`` (Optuna
        fails a trial told values it cannot take, with a warning, and does not raise);
        ``None`` for a complete trial.
    """
    if reason is None:
        n = len(study.directions)
        if values is None or len(values) != n:
            reason = (
                f"the study takes {n} objective value(s); the objective gave "
                f"{'none' if values is None else len(values)}"
            )
    if reason is not None:
        trial.set_user_attr(FAIL_REASON, reason)
        study.tell(trial, state=TrialState.FAIL)
        return reason
    told = study.tell(trial, values)
    if told.state != TrialState.COMPLETE:
        return f"the study recorded it {told.state.name} when told its values {values}"
    return None


def prune(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Close a trial the pruner stopped: PRUNED with its reason (its last reported
    value is Optuna's record of it). It counts towards the budget."""
    trial.set_user_attr(PRUNE_REASON, reason)
    study.tell(trial, state=TrialState.PRUNED)


def skip(study: optuna.Study, trial: optuna.Trial, reason: str) -> None:
    """Close a trial that was never trained because it breaks a budget known before
    training: Optuna's PRUNED state, its cheap metrics and constraints recorded. It does
    not count towards the budget of complete trials; strategies see it as tried."""
    trial.set_user_attr(SKIP_REASON, reason)
    study.tell(trial, state=TrialState.PRUNED)


def gave_up_failing(study: optuna.Study, trials: int, failures: int, reason: str) -> RunError:
    """The error a search gives up with after ``failures`` trials in a row failed
    (``reason``: the last one's), worded alike by every loop."""
    return RunError(
        f"gave up: {failures} trials in a row failed, with {n_done(study)} of {trials} "
        f"trials done; the last failed with: {reason}"
    )


def claim(study: optuna.Study) -> optuna.Trial:
    """Ask a new trial and record this process as its owner. A Ctrl-C or SIGTERM that
    arrives meanwhile is delivered once the owner is recorded (:func:`held_signals`)."""
    with held_signals():
        return _claim(study)


def _claim(study: optuna.Study) -> optuna.Trial:
    with warnings.catch_warnings():
        # quarch runs the heartbeat itself (see heartbeat()); Optuna's hint that it
        # belongs to Study.optimize does not apply
        warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
        trial = study.ask()
    study._storage.set_trial_system_attr(trial._trial_id, OWNER, _owner())
    return trial


def _counts(study: optuna.Study) -> tuple[int, list[int]]:
    """(trials counting towards the budget, numbers of the running ones)."""
    states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    trials = study.get_trials(deepcopy=False, states=states)
    done = sum(counts_toward_budget(t) for t in trials)
    running = sorted(t.number for t in trials if t.state == TrialState.RUNNING)
    return done, running


def n_done(study: optuna.Study) -> int:
    """Trials of ``study`` that count towards its budget (complete or pruned)."""
    return _counts(study)[0]


def _heartbeat(study: optuna.Study, trial: optuna.Trial) -> BaseHeartbeatThread:
    from optuna.storages._heartbeat import get_heartbeat_thread

    return get_heartbeat_thread(trial._trial_id, study._storage)


OnTrial = Callable[[optuna.trial.FrozenTrial], None]


def work(
    study: optuna.Study,
    *,
    space: Space,
    evaluator: Evaluator,
    objective: Objective,
    trials: int,
    run_seed: int,
    timeout: float | None = None,
    trial_timeout: float | None = None,
    on_trial: OnTrial | None = None,
) -> str:
    """Run trials on ``study`` until it holds ``trials`` complete (or pruned) ones, or
    ``timeout`` seconds have passed.

    Returns:
        Why it stopped: ``"budget"`` (the budget is reached) or ``"timeout"``.

    Raises:
        RunError: it gave up: too many trials in a row failed, or were over budget
            before training (the message says how far the run got); or the evaluator
            broke its contract (:class:`BrokenContract`): the trial is failed with the
            reason and the search stops at once.
    """
    t_start = time.monotonic()
    failures = 0
    skips = SkipStreak()  # warns once after 50 in a row; says how near the space came
    while True:
        if timeout is not None and time.monotonic() - t_start >= timeout:
            return "timeout"
        fail_dead_trials(study)
        complete, running = _counts(study)
        if complete >= trials:
            return "budget"
        if complete + len(running) >= trials:
            time.sleep(_POLL_SECONDS)  # others' trials may still fail and need redoing
            continue
        pending: optuna.Trial | None = None  # the trial a Ctrl-C fails as interrupted
        try:
            with held_signals():  # delivered once the trial is ours to fail (nested in
                trial = pending = claim(study)  # claim's own, they pass out to this one)
            complete, running = _counts(study)
            ahead = sum(n < trial.number for n in running)
            if complete + ahead >= trials:
                with held_signals():
                    finish(study, trial, None, "surplus: other workers reached the budget first")
                    pending = None  # told: a Ctrl-C delivered now has no trial to fail
                continue
            with _heartbeat(study, trial):
                values, reason = evaluate_trial(
                    trial, space, evaluator, objective, run_seed, trial_timeout
                )
        except BrokenContract as e:  # every trial would fail alike: stop at the first
            with held_signals():
                finish(study, trial, None, e.reason)
            raise e.error(evaluator, trial.number) from None
        except KeyboardInterrupt:
            if pending is not None:
                with held_signals():  # a second Ctrl-C does not leave it RUNNING
                    finish(study, pending, None, INTERRUPTED)
            raise
        except optuna.TrialPruned as e:
            with held_signals():
                prune(study, trial, str(e))
            failures = 0
            skips.reset()
            if on_trial is not None:
                on_trial(study._storage.get_trial(trial._trial_id))
            continue
        except OverBudget as e:
            with held_signals():
                skip(study, trial, str(e))
            skips.add(e.checked, MAX_CONSECUTIVE_SKIPS)
            if skips.count >= MAX_CONSECUTIVE_SKIPS:
                raise skips.give_up(n_done(study), trials) from None
            if on_trial is not None:
                on_trial(study._storage.get_trial(trial._trial_id))
            continue
        skips.reset()
        with held_signals():  # told whole: a Ctrl-C now stops the run after this trial
            reason = finish(study, trial, values, reason)
        if reason is not None:
            failures += 1
            if failures >= MAX_CONSECUTIVE_FAILURES:
                raise gave_up_failing(study, trials, failures, reason)
        else:
            failures = 0
        if on_trial is not None:
            on_trial(study._storage.get_trial(trial._trial_id))
