"""Holding Ctrl-C and SIGTERM over work that must not be cut in two.

The storage writes that create, claim and tell a trial (:mod:`quarch.study._worker`) and
Optuna's journal file lock (:mod:`quarch.study._storage`) hold the two signals and
deliver them when the work is done, to the handlers they would have reached, so the
exit statuses (130 and 143) and the one-line messages are unchanged.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["SignalHold", "held_signals"]


class SignalHold:
    """Ctrl-C and SIGTERM held from creation until :meth:`release`, which delivers
    what arrived meanwhile, each signal once, to the handlers it would have reached.

    The signals are held by Python handlers, so only in the main thread, where handlers
    run (elsewhere a hold does nothing: no signal is raised there); that works with other
    threads (torch's, the heartbeat's) running. A hold inside another one passes what it
    held to the outer one, which delivers it when it is released. A signal whose handler
    was installed from C is not held (see ``__init__``).
    """

    def __init__(self) -> None:
        self._got: list[int] = []
        self._old: dict[signal.Signals, Any] = {}
        if threading.current_thread() is not threading.main_thread():
            return
        for s in (signal.SIGINT, signal.SIGTERM):
            # A handler installed from C (an embedding host's) reads as None: Python
            # could not put it back after the hold, so that signal is left to it.
            if signal.getsignal(s) is not None:
                self._old[s] = signal.signal(s, self._hold)

    def _hold(self, signum: int, frame: Any) -> None:
        self._got.append(signum)

    def release(self) -> None:
        """Put the handlers back and deliver the signals held (once: a second call
        does nothing)."""
        old, self._old = self._old, {}
        for s, handler in old.items():
            signal.signal(s, handler)
        # taken once the handlers are back: a signal that came before is in the list
        got, self._got = self._got, []
        for signum in dict.fromkeys(got):  # each signal once, in the order they came
            handler = old[signal.Signals(signum)]
            if callable(handler):
                handler(signum, None)  # Ctrl-C's KeyboardInterrupt, the CLI's SIGTERM
            elif handler == signal.SIG_DFL:
                signal.raise_signal(signum)  # what it would have done: end the process


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM over a few storage writes that must not be cut in two,
    then deliver what arrived meanwhile (:class:`SignalHold`).

    A Ctrl-C that landed between Optuna creating a trial and
    :func:`quarch.study._worker.claim` recording its owner left a RUNNING trial that
    nothing could fail (its owner unknown): the resumed run then counted it as running
    forever and waited for it without end.
    """
    hold = SignalHold()
    try:
        yield
    finally:
        hold.release()
