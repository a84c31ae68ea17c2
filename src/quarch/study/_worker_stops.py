"""Spawned workers that stop before the run's end for a reason only they see.

A worker of ``run_workers`` (:mod:`quarch.study._parallel`) can fail at its start: a
plug-in it cannot import, a space or strategy it cannot find, a data set or storage it
cannot open. It swallowed the error (its parent reports a run that gives up and
Ctrl-C, the only stops it knew) and the run, asked for N workers, went on with fewer,
all alone at worst, N times slower, with nothing said. Here the worker leaves its
reason (:func:`_leave_reason`) and the parent says, once per worker, which stopped,
why and what the run does without it (:class:`_Watch`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quarch._warnings import warn

__all__ = ["STOPPED_AT_START"]


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
                warn(_stopped_line(p.name, pid, why, left, self.workers, ended))

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
