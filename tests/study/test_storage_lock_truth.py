"""Ctrl-C and Optuna's journal file lock (``--workers N`` runs write ``journal.log``).

Optuna's symbolic-link lock is taken before the ``try`` that releases it, and its
``acquire`` releases "the lock" on any exception while it waits. The truth here is the
file system: after a Ctrl-C at either moment, the lock file is where a correct lock
leaves it, and the write that was under way is in the journal (read back by a fresh
Optuna storage).
"""

from __future__ import annotations

import inspect
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages.journal import JournalFileSymlinkLock

from quarch.study import _storage
from quarch.study._storage import HeldSignalsLock, make_storage


@pytest.fixture(autouse=True)
def _ctrl_c_raises() -> Iterator[None]:
    """Python's own Ctrl-C handler (a test runner's worker may have another)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _studies(run_dir: Path) -> list[str]:
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(run_dir / "journal.log"))
    )
    return [s.study_name for s in storage.get_all_studies()]


def test_a_ctrl_c_just_after_the_lock_is_taken_leaves_no_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: the lock file stayed, and the next process waited 30 s to break it."""
    storage = make_storage("journal", tmp_path)
    assert isinstance(storage, optuna.storages.JournalStorage)
    lock_type = type(storage._backend._lock)  # type: ignore[attr-defined]
    take = lock_type.acquire

    def taken_then_ctrl_c(self: JournalFileSymlinkLock) -> bool:
        got = take(self)
        signal.raise_signal(signal.SIGINT)  # lands before Optuna's try
        return got

    monkeypatch.setattr(lock_type, "acquire", taken_then_ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        optuna.create_study(storage=storage, study_name="s")
    monkeypatch.undo()
    assert not os.path.lexists(tmp_path / "journal.log.lock")
    assert _studies(tmp_path) == ["s"]  # the write under the lock was finished


class _Clock:
    """A fake ``time`` for ``quarch.study._storage``: sleeping advances it, and
    ``on_sleep`` runs what another process would do at that moment."""

    def __init__(self) -> None:
        self.now = 1000.0  # a monotonic clock starts anywhere
        self.on_sleep: Callable[[float], None] = lambda now: None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds == HeldSignalsLock.POLL_SECONDS
        self.now += seconds
        self.on_sleep(self.now)


def test_a_ctrl_c_while_another_process_holds_the_lock_stops_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waiting holds no signal: the Ctrl-C stops the wait, before the grace period
    (30 s) after which the other process's lock would be broken and the write made."""
    storage = make_storage("journal", tmp_path)
    lock = tmp_path / "journal.log.lock"
    os.symlink(tmp_path / "journal.log", lock)  # held by another process
    clock = _Clock()
    clock.on_sleep = lambda now: signal.raise_signal(signal.SIGINT)  # Ctrl-C as it waits
    monkeypatch.setattr(_storage, "time", clock)
    with pytest.raises(KeyboardInterrupt):
        optuna.create_study(storage=storage, study_name="s")
    assert clock.now == 1000.0 + HeldSignalsLock.POLL_SECONDS  # the first wait
    assert os.path.lexists(lock)  # still the other process's
    assert _studies(tmp_path) == []


def _waiting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[HeldSignalsLock, Path, _Clock, list[float]]:
    """A lock whose file another process holds, a fake clock, and the moments of the
    warnings the wait gives."""
    log = tmp_path / "journal.log"
    log.touch()
    link = tmp_path / "journal.log.lock"
    os.symlink(log, link)
    clock, warned = _Clock(), []

    def warn(message: str) -> None:
        assert message == (
            f"waiting for {link}: another process of this run holds it (a lock left by a "
            "killed process is broken after 30 s)"
        )
        warned.append(clock.now)

    monkeypatch.setattr(_storage, "time", clock)
    monkeypatch.setattr(_storage, "warn", warn)
    return HeldSignalsLock(str(log)), link, clock, warned


def test_a_lock_left_by_a_killed_process_is_broken_after_the_grace_period(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Optuna's own lock (the same default grace period): a lock whose file has not
    changed for 30 s is taken over, with a warning every 10 s of the wait."""
    default = inspect.signature(JournalFileSymlinkLock).parameters["grace_period"].default
    lock, link, clock, warned = _waiting(tmp_path, monkeypatch)
    assert lock.grace_period == default == 30
    assert lock.acquire() is True
    assert 1030 < clock.now <= 1030 + 2 * HeldSignalsLock.POLL_SECONDS
    assert len(warned) == 2  # after 10 and 20 s (broken before a third)
    assert all(10 < b - a <= 10 + 2 * HeldSignalsLock.POLL_SECONDS
               for a, b in zip([1000.0, *warned], warned, strict=False))  # fmt: skip
    assert os.path.islink(link)  # now ours
    lock.release()
    assert not os.path.lexists(link)
    with pytest.raises(ValueError, match="positive"):
        HeldSignalsLock(str(link), grace_period=0)


def test_a_new_holder_starts_the_grace_period_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lock file that changed (another process released it and a third one took it)
    is a live lock: it is broken only 30 s after its last change."""
    lock, link, clock, _ = _waiting(tmp_path, monkeypatch)
    changed = [False]

    def retaken(now: float) -> None:
        if now >= 1020 and not changed[0]:
            os.unlink(link)
            os.symlink(tmp_path / "journal.log", link)
            os.utime(link, (1.0, 1.0), follow_symlinks=False)  # a new file's time
            changed[0] = True

    clock.on_sleep = retaken
    assert lock.acquire() is True
    assert 1050 < clock.now <= 1050 + 2 * HeldSignalsLock.POLL_SECONDS
    lock.release()


def test_a_lock_released_while_looked_at_is_taken_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The holder may release between the failed link and the look at its time."""
    lock, link, clock, _ = _waiting(tmp_path, monkeypatch)
    real = os.lstat
    looks: list[Any] = []

    def released_first(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if Path(path) == link and not looks:
            looks.append(path)
            os.unlink(link)  # the other process lets go just now
        return real(path, *args, **kwargs)

    monkeypatch.setattr(_storage.os, "lstat", released_first)
    assert lock.acquire() is True
    monkeypatch.undo()
    assert clock.now == 1000.0  # no wait
    assert os.path.islink(link)
    lock.release()


def test_a_stale_lock_another_waiter_broke_first_is_taken_in_turn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two waiters break a stale lock at once: the one whose rename loses gets
    Optuna's RuntimeError, and takes the lock in turn instead of failing."""
    lock, link, _, _ = _waiting(tmp_path, monkeypatch)
    breaks: list[str] = []
    real = JournalFileSymlinkLock.release

    def other_waiter_first(self: JournalFileSymlinkLock) -> None:
        breaks.append("break")
        if len(breaks) == 1:
            os.unlink(link)  # the other waiter's rename won
        real(self)  # the lock file is gone: Optuna's RuntimeError

    monkeypatch.setattr(JournalFileSymlinkLock, "release", other_waiter_first)
    assert lock.acquire() is True
    assert breaks == ["break"]
    monkeypatch.undo()
    assert os.path.islink(link)
    lock.release()
    with pytest.raises(RuntimeError, match="did not possess lock"):
        HeldSignalsLock(str(tmp_path / "journal.log")).release()  # never taken


def test_a_held_signal_is_delivered_once_the_lock_is_released(tmp_path: Path) -> None:
    """Taken, the lock holds Ctrl-C until it is released, even when the release itself
    fails (another process broke the lock)."""
    log = tmp_path / "journal.log"
    lock = HeldSignalsLock(str(log))
    assert lock.acquire() is True
    try:
        signal.raise_signal(signal.SIGINT)
    except KeyboardInterrupt:
        raise AssertionError("Ctrl-C was not held while the lock was") from None
    assert os.path.islink(tmp_path / "journal.log.lock")
    os.unlink(tmp_path / "journal.log.lock")  # broken by another process
    with pytest.raises(KeyboardInterrupt):
        lock.release()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_the_lock_outside_the_main_thread_and_without_signals(tmp_path: Path) -> None:
    """Signals reach only the main thread: elsewhere the lock is Optuna's as it is, and
    a search's ordinary writes leave no lock and the handlers as they were."""
    storage = make_storage("journal", tmp_path)
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            study = optuna.create_study(storage=storage, study_name="t")
            study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    assert errors == []
    study = optuna.create_study(storage=storage, study_name="m")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert not os.path.lexists(tmp_path / "journal.log.lock")
    assert sorted(_studies(tmp_path)) == ["m", "t"]
    assert len(optuna.load_study(study_name="t", storage=storage).trials) == 3
