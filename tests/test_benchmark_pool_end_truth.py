"""The benchmark's pool ends even when a worker does not take SIGTERM
(``quarch.benchmark._harness._ended``).

``with pool`` ends a pool by ``Pool.terminate``: SIGTERM to each worker, then a join.
A worker that does not end on SIGTERM (one blocked before its initializer set the
default action, in the harness's case) made that join wait forever. ``_ended`` kills
(SIGKILL) what SIGTERM left after :data:`_END_GRACE_SECONDS`.

Truth: real forked workers that ignore SIGTERM (what such a worker amounts to), the
wall clock, and each worker's exit code as ``multiprocessing`` reports it (``-9``:
killed by SIGKILL; ``-15``: ended by SIGTERM).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import pytest

from quarch.benchmark import _harness


def _deaf_to_sigterm() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _pid() -> int:
    return os.getpid()


def _stuck(seconds: float) -> None:
    """A worker that neither finishes its task nor reads the pool's end of work."""
    time.sleep(seconds)


def _ended_within(pool: object, seconds: float) -> float:
    """Leave ``_ended(pool)`` in a thread; the seconds it took (fails past ``seconds``,
    leaving the thread: a daemon)."""
    took: list[float] = []

    def end() -> None:
        t0 = time.monotonic()
        with _harness._ended(pool):
            pass
        took.append(time.monotonic() - t0)

    thread = threading.Thread(target=end, daemon=True)
    thread.start()
    thread.join(seconds)
    assert took, f"the pool did not end within {seconds} s"
    return took[0]


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_workers_deaf_to_sigterm_are_killed_after_the_grace() -> None:
    pool = multiprocessing.get_context("fork").Pool(2, initializer=_deaf_to_sigterm)
    pids = {pool.apply(_pid) for _ in range(4)}  # the workers are up, the initializer ran
    workers = list(pool._pool)  # type: ignore[attr-defined]
    for _ in workers:
        pool.apply_async(_stuck, (600.0,))
    time.sleep(0.5)  # each has taken its task
    took = _ended_within(pool, 30.0)
    assert _harness._END_GRACE_SECONDS <= took < _harness._END_GRACE_SECONDS + 5.0
    assert {w.exitcode for w in workers} == {-signal.SIGKILL}
    assert pids <= {w.pid for w in workers}


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
def test_workers_that_take_sigterm_end_by_it_without_waiting_for_the_grace() -> None:
    pool = multiprocessing.get_context("fork").Pool(2)
    pool.apply(_pid)
    workers = list(pool._pool)  # type: ignore[attr-defined]
    for _ in workers:
        pool.apply_async(_stuck, (600.0,))
    time.sleep(0.5)
    took = _ended_within(pool, 30.0)
    assert took < _harness._END_GRACE_SECONDS
    assert {w.exitcode for w in workers} == {-signal.SIGTERM}


def test_the_pool_is_ended_from_a_named_daemon_thread() -> None:
    """``terminate`` runs in a daemon thread (one stuck for good must not keep Python
    from exiting) named for what it does, as a thread dump of a hung benchmark shows it."""
    seen: list[tuple[str, bool]] = []

    class _Pool:
        _pool: tuple[object, ...] = ()  # no workers left once terminate returns

        def terminate(self) -> None:
            me = threading.current_thread()
            seen.append((me.name, me.daemon))

    assert not threading.current_thread().daemon  # as a program's main thread: a new
    with _harness._ended(_Pool()):  # thread would be no daemon unless asked to be
        pass
    assert seen == [("quarch-pool-end", True)]
