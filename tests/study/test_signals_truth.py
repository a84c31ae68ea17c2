"""`SignalHold` and `held_signals`: Ctrl-C and SIGTERM held, then delivered.

The truth is the process itself: real signals sent to this process (or to a child
Python, where the default action ends it) and the handlers Python reports afterwards.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from quarch.study._signals import SignalHold, held_signals


@pytest.fixture(autouse=True)
def _own_handlers() -> Iterator[None]:
    """Python's Ctrl-C handler and a default SIGTERM, put back afterwards."""
    old = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGINT, old[0])
    signal.signal(signal.SIGTERM, old[1])


def _send(signum: int) -> None:
    """Send ``signum`` to this process: a Ctrl-C that is not held fails the test here
    (rather than stopping pytest itself)."""
    try:
        signal.raise_signal(signum)
    except KeyboardInterrupt:
        raise AssertionError(f"signal {signum} was not held") from None


def test_ctrl_c_is_held_then_raised_once_with_the_handler_put_back() -> None:
    done = []
    hold = SignalHold()
    _send(signal.SIGINT)
    _send(signal.SIGINT)  # twice: delivered once
    done.append("work")  # reached: nothing was raised while held
    assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        hold.release()
    assert done == ["work"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    hold.release()  # a second release delivers nothing again


def test_each_signal_reaches_its_own_handler_in_the_order_it_came() -> None:
    calls: list[int] = []

    def record(signum: int, frame: Any) -> None:
        calls.append(signum)

    signal.signal(signal.SIGINT, record)
    signal.signal(signal.SIGTERM, record)
    with held_signals():
        _send(signal.SIGTERM)
        _send(signal.SIGINT)
        _send(signal.SIGTERM)
        assert calls == []
    assert calls == [signal.SIGTERM, signal.SIGINT]
    assert signal.getsignal(signal.SIGINT) is record
    assert signal.getsignal(signal.SIGTERM) is record
    with held_signals():  # nothing came: nothing delivered
        pass
    assert calls == [signal.SIGTERM, signal.SIGINT]


def test_an_ignored_signal_stays_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with held_signals():
        _send(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_a_hold_inside_another_passes_what_it_held_to_the_outer_one() -> None:
    calls: list[str] = []

    def record(signum: int, frame: Any) -> None:
        calls.append(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, record)
    with held_signals():
        with held_signals():
            _send(signal.SIGTERM)
        calls.append("inner released")
    assert calls == ["inner released", "SIGTERM"]


def test_outside_the_main_thread_a_hold_changes_nothing() -> None:
    seen: list[Any] = []

    def in_thread() -> None:
        hold = SignalHold()
        seen.append(signal.getsignal(signal.SIGINT))
        hold.release()

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]


def test_sigterm_with_the_default_action_ends_the_process_after_the_release() -> None:
    """Held, the default action (end the process) waits for the release; the process
    then ends by the signal (exit status -15), as it would have."""
    code = (
        "import signal, sys\n"
        "from quarch.study._signals import held_signals\n"
        "signal.signal(signal.SIGTERM, signal.SIG_DFL)\n"
        "with held_signals():\n"
        "    signal.raise_signal(signal.SIGTERM)\n"
        "    print('still here', flush=True)\n"
        "print('after the release', flush=True)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (-signal.SIGTERM, "still here\n")


def test_a_default_action_is_raised_again_and_an_ignored_signal_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In this process: the signal is raised again for a default action (what ends the
    process in the child above), never for an ignored one."""
    raised: list[int] = []
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with held_signals():
        _send(signal.SIGTERM)
        _send(signal.SIGINT)
        monkeypatch.setattr(signal, "raise_signal", raised.append)
    monkeypatch.undo()
    assert raised == [signal.SIGTERM]


class _HostSignals:
    """The ``signal`` module as an embedding host leaves it: SIGTERM's handler was
    installed from C before Python started, so Python reads it as ``None`` and cannot
    install ``None`` back (``signal.signal`` raises ``TypeError``, as Python's does)."""

    SIGINT, SIGTERM, Signals = signal.SIGINT, signal.SIGTERM, signal.Signals
    SIG_DFL, SIG_IGN = signal.SIG_DFL, signal.SIG_IGN

    def __init__(self) -> None:
        self.table: dict[int, Any] = {
            signal.SIGINT: signal.default_int_handler,
            signal.SIGTERM: None,
        }
        self.raised: list[int] = []

    def getsignal(self, signum: int) -> Any:
        return self.table[signum]

    def signal(self, signum: int, handler: Any) -> Any:
        if handler is None:
            raise TypeError("signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable")
        old, self.table[signum] = self.table[signum], handler
        return old

    def raise_signal(self, signum: int) -> None:
        self.raised.append(signum)


def test_a_handler_installed_from_c_is_left_alone_and_ctrl_c_still_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Holding SIGTERM would replace the host's handler with one Python cannot put back:
    the release raised ``TypeError`` instead of delivering the Ctrl-C it held."""
    import quarch.study._signals as signals

    host = _HostSignals()
    monkeypatch.setattr(signals, "signal", host)
    hold = SignalHold()
    assert host.table[signal.SIGTERM] is None  # the host's handler, untouched
    assert host.table[signal.SIGINT] is not signal.default_int_handler  # held
    host.table[signal.SIGINT](signal.SIGINT, None)  # a Ctrl-C while held
    with pytest.raises(KeyboardInterrupt):
        hold.release()
    assert host.table == {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: None}
    assert host.raised == []
