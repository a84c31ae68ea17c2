"""Spawned workers that stop before the run's end for a reason only they see.

A worker of ``run_workers`` (:mod:`quarch.study._parallel`) can fail at its start: a
plug-in it cannot import, a space or strategy it cannot find, a data set or storage it
cannot open. It swallowed the error (its parent reports a run that gives up and
Ctrl-C, the only stops it knew) and the run, asked for N workers, went on with fewer,
all alone at worst, N times slower, with nothing said. Here the worker leaves its
reason (:func:`_leave_reason`) and the parent says, once per worker, which stopped,
why and what the run does without it (:class:`_Watch`).

A worker can also hang at its start (a storage lock another process holds, a data set
on a stalled network folder, an import that blocks): the parent's last wait for it
never returned, and the search with it. Now one that has not started a trial is
ended once the run's work is done (:func:`join_workers`), in one line too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quarch._warnings import warn
from quarch.study._worker import OWNER, fail_dead_trials

if TYPE_CHECKING:
    import optuna

__all__ = ["STOPPED_AT_START", "Stopped", "join_workers"]


#: The exit status of a spawned worker that stopped before its first trial (it left
#: its reason in :func:`_reason_file`).
STOPPED_AT_START = 3


def _reason_file(run_dir: str | Path, pid: int) -> Path:
    """Where spawned worker ``pid`` leaves why it stopped at its start, for its parent.

    A file in the run folder, not a pipe: the worker's arguments stay what they were
    (a pipe's end would be one more, in every caller and stand-in of
    ``multiprocessing.Process``), the parent reads it only once the worker has ended
    (no partial reads, nothing to drain while it runs), and a worker that ends any
    other way writes none, so the exit status alone speaks for it. The name holds the
    worker's process id, unique on this host while the parent has not reaped it; the
    parent removes the file when it reports it (or when the run stops)."""
    return Path(run_dir) / f".worker-{pid}.stopped"


def _leave_reason(run_dir: str, error: BaseException) -> int:
    """Write why this spawned worker stopped at its start (the error's class and
    message, one line) for its parent; return its exit status. Where the file cannot
    be written, the reason goes to standard error instead (the parent then reports the
    exit status alone)."""
    text = " ".join(f"{type(error).__name__}: {error}".split())[:_REASON_CHARS]
    try:
        _reason_file(run_dir, os.getpid()).write_text(text + "\n", encoding="utf-8")
    except OSError:
        sys.stderr.write(f"quarch worker {os.getpid()} stopped at its start: {text}\n")
    return STOPPED_AT_START


#: At most this many characters of a worker's error reach its parent's line.
_REASON_CHARS = 500


def _why_stopped(code: int, pid: int, run_dir: str | Path) -> str | None:
    """Why spawned worker ``pid``, ended with exit status ``code``, stopped where its
    parent does not say so itself; ``None`` for one that ended as it should, with 0
    (the budget done, the deadline passed, a run that gave up or Ctrl-C: the parent
    reports the last two in its own line). Reads and removes its reason file
    (:func:`_leave_reason`); a worker killed by a signal, or one that failed before it
    could write one (multiprocessing's start: the main script's import, the arguments'
    unpickling, with Python's traceback on stderr), is told by its exit status."""
    path = _reason_file(run_dir, pid)
    try:
        reason = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:  # none: it ended some other way
        reason = ""
    with contextlib.suppress(OSError):  # FileNotFoundError: none was left
        path.unlink()
    if reason:
        return f"stopped before its first trial: {reason}"
    if code < 0:
        return f"was killed by {_signal_name(-code)}"
    if code > 0:
        return f"stopped with exit status {code} (its error, if it printed one, is above)"
    return None


def _signal_name(number: int) -> str:
    """``SIGKILL`` for 9; ``signal 64`` for a number with no name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _stopped_line(name: str, pid: int, why: str, left: int, workers: int, ended: bool) -> str:
    """The warning for a spawned worker that stopped early: which, why, and what the
    run does without it (``left`` of ``workers`` go on; this process alone at 1)."""
    if left > 1:
        rest = f"the run {'went' if ended else 'goes'} on with {left} of {workers} workers"
    else:
        rest = f"this process {'ran' if ended else 'runs'} the remaining trials alone"
    return f"worker process {name} (pid {pid}) {why}; {rest}"


class _Watch:
    """Reports, in one line each and once, the spawned workers that stopped before the
    run's end for a reason only they saw (:func:`_why_stopped`): before, a worker that
    could not start ended without a word and the run, asked for N workers, ran on
    fewer (all alone, N times slower) with nothing said. Called after each of this
    process's trials, and once the workers are joined (``ended``)."""

    def __init__(self, procs: Sequence[Any], run_dir: str | Path, workers: int) -> None:
        self.procs, self.run_dir, self.workers = procs, run_dir, workers
        self.seen: set[int] = set()  # the pids of the ended workers already looked at
        self.gone = 0
        #: Each worker reported, ``NAME (pid N) WHY``: the run's ``workers_stopped``.
        self.stopped: list[str] = []

    def __call__(self, ended: bool = False) -> None:
        for p in self.procs:
            code, pid = getattr(p, "exitcode", None), _pid(p)
            if code is None or pid is None or pid in self.seen:
                continue
            self.seen.add(pid)
            why = _why_stopped(code, pid, self.run_dir)
            if why is not None:
                self.gone += 1
                left = self.workers - self.gone
                self.stopped.append(f"{p.name} (pid {pid}) {why}")
                warn(_stopped_line(p.name, pid, why, left, self.workers, ended))

    def ended_idle(self, proc: Any, when: str) -> None:
        """Report worker ``proc``, ended by this process (:func:`join_workers`) before
        it started a trial, ``when`` the run's work was done; the watch then passes it
        over (its exit status is this process's doing) and drops any reason it left."""
        pid = _pid(proc)
        if pid is None:
            return
        self.seen.add(pid)
        with contextlib.suppress(OSError):  # FileNotFoundError: none was left
            _reason_file(self.run_dir, pid).unlink()
        self.stopped.append(f"{proc.name} (pid {pid}) had not started a trial when {when}, "
                            "and was ended")  # fmt: skip
        warn(f"worker process {proc.name} (pid {pid}) had not started a trial when {when}; "
             "ended it")  # fmt: skip

    def forget(self) -> None:
        """Remove the reason files left (the run stopped: Ctrl-C, or this process gave
        up, and says so itself)."""
        for p in self.procs:
            pid = _pid(p)
            if pid is not None:
                with contextlib.suppress(OSError):  # FileNotFoundError: none was left
                    _reason_file(self.run_dir, pid).unlink()


def _pid(proc: Any) -> int | None:
    """A worker's process id; ``None`` before it started, and for a stand-in of
    ``multiprocessing.Process`` without one (as ``exitcode``, read with ``getattr``:
    the tests' recorded workers that never start have neither)."""
    return getattr(proc, "pid", None)


class Stopped(str):
    """Why this process stopped (``"budget"``, ``"timeout"``), carrying the workers that
    stopped early (:attr:`_Watch.stopped`) to the run's
    :attr:`~quarch.study.SearchResult.workers_stopped`.

    A ``str``, so that ``run_workers`` returns what it returned (its callers and tests
    compare it with ``"budget"``); the search loop hands the list to the result."""

    workers_stopped: tuple[str, ...]

    def __new__(cls, why: str, workers: Sequence[str] = ()) -> Stopped:
        self = super().__new__(cls, why)
        self.workers_stopped = tuple(workers)
        return self


#: A spawned worker's start, measured (interpreter, torch, Optuna and quarch imports):
#: 6-7 s on a loaded 2-core machine, up to about 10 s on a cold disk. One that has not
#: started a trial this long after it was spawned is taken as stuck; one still starting
#: sooner (a run shorter than a start) is given the rest of this time, so that a
#: healthy worker ends by itself, quietly, as before.
START_SECONDS = 30.0
#: And at least this long after this process's work is done: enough for a worker that
#: has just built its study to see the budget complete and end by itself (one poll of
#: the study, well under a second), short enough that the user waits little.
AFTER_BUDGET_SECONDS = 5.0
#: How long an idle worker is sent Ctrl-C again (which ends one stuck in Python code
#: cleanly: its ``finally`` blocks release what it holds) before SIGTERM.
_INTERRUPT_SECONDS = 1.0
#: How long a worker that outlived SIGTERM is waited for after SIGKILL.
_KILL_WAIT_SECONDS = 5.0
#: How often the study is read while an idle worker is waited for.
_POLL_SECONDS = 0.2


def _ending_time(spawned_at: float, done_at: float) -> float:
    """When (``time.monotonic``) a worker that has started no trial is ended: 30 s after
    the workers were spawned, and at least 5 s after this process's work was done
    (:data:`START_SECONDS`, :data:`AFTER_BUDGET_SECONDS`)."""
    return max(spawned_at + START_SECONDS, done_at + AFTER_BUDGET_SECONDS)


def _idle(procs: Sequence[Any], study: optuna.Study, first_trial: int = 0) -> list[Any]:
    """The workers still alive that own no trial of ``study`` numbered ``first_trial``
    or later (the trials this run made after it spawned them).

    A trial's owner is the ``host:pid`` each worker records on every trial it claims,
    milliseconds after asking for it, while Ctrl-C and SIGTERM are held (``claim`` in
    :mod:`quarch.study._worker`): the study's own record, which every storage keeps and
    ``fail_dead_trials`` already reads, so a worker needs no marker file or pipe of its
    own. Once this process's work is done no worker claims a trial (the budget is
    complete, or the shared deadline has passed), so one owning none never will.

    A resumed run's trials from before were owned by processes that have ended; a
    spawned worker whose pid the system gave again (pids wrap) would look as if it owned
    one of them, and hung at its start it would be waited for without end."""
    alive = [p for p in procs if p.is_alive()]
    if not alive:
        return []  # no read of the study
    trials = study.get_trials(deepcopy=False)
    owners = {t.system_attrs.get(OWNER) for t in trials if t.number >= first_trial}
    host = socket.gethostname()
    return [p for p in alive if f"{host}:{_pid(p)}" not in owners]


def _end(procs: Sequence[Any], stop: Callable[[list[Any], float], None]) -> None:
    """End idle workers: Ctrl-C again for :data:`_INTERRUPT_SECONDS`, then SIGTERM
    (``stop``: ``_stop`` of :mod:`quarch.study._parallel`), then SIGKILL for one that
    outlived both (a plug-in that handles SIGTERM), each waited for with a bound: one
    stuck in the kernel is left, and the search returns without it."""
    stop(list(procs), _INTERRUPT_SECONDS)
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(timeout=_KILL_WAIT_SECONDS)


def join_workers(
    procs: Sequence[Any],
    study: optuna.Study,
    watch: _Watch,
    *,
    spawned_at: float,
    stop: Callable[[list[Any], float], None],
    stopped: str,
    first_trial: int = 0,
) -> None:
    """Wait for the spawned workers once this process's work is done (``stopped``);
    ``first_trial``: the number the study's next trial had when they were spawned.

    A worker running a trial is waited for as long as it takes (its trial counts; the
    trial's own time limit bounds it). One that has started no trial (:func:`_idle`)
    has no more to do, but one hung at its start (a storage lock held elsewhere, a data
    set on a stalled network folder, an import that blocks) never ends, and waiting for
    it, as before, never returned: the search with its complete budget never came
    back. It is given until :func:`_ending_time`, then ended (:func:`_end`), in one line
    each (:meth:`_Watch.ended_idle`). Ctrl-C here goes on up to ``run_workers``, which
    stops every worker as in the run."""
    done_at = time.monotonic()
    idle = _idle(procs, study, first_trial)
    while idle and time.monotonic() < _ending_time(spawned_at, done_at):
        time.sleep(_POLL_SECONDS)
        idle = _idle(procs, study, first_trial)
    if idle:
        _end(idle, stop)
        fail_dead_trials(study)  # one that claimed a trial as it was ended
        when = "the run's time was up" if stopped == "timeout" else "the budget was complete"
        for p in idle:
            watch.ended_idle(p, when)
    for p in procs:
        if p not in idle:
            p.join()
