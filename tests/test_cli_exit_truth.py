"""How the command ends, against ``quarch.cli``'s docstrings: an interrupted command
leaves no child process running (and only an interrupted one: a caller's own processes
are left alone), while it ends them one more Ctrl-C or SIGTERM cannot cut the ending
short, and the handlers are the caller's again after; a Ctrl-C that Python had to drop
is delivered again by a timer that never holds up the exit.

Real forked processes are the children where the outcome is the point (alive or not,
read from the operating system); a stand-in child records what it was asked where the
order of the asking is the claim (a child that ignores SIGTERM is killed after a
bounded wait, not waited for forever).
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import quarch.cli
import quarch.search
from quarch.cli import _end_children, main

from ._dropped_ctrl_c import ctrl_c_inside_a_weakref_callback

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="fork and SIGTERM are POSIX")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, ended but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def child() -> Iterator[Any]:
    """A forked child that sleeps for a minute (killed after the test in any case)."""
    p = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    p.start()
    yield p
    if p.is_alive():
        p.kill()
    p.join(5)


@pytest.fixture
def own_handlers() -> Iterator[tuple[Any, Any]]:
    """A caller's own SIGINT and SIGTERM handlers (restored after the test)."""

    def on_int(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(143)

    old = signal.signal(signal.SIGINT, on_int), signal.signal(signal.SIGTERM, on_term)
    yield on_int, on_term
    signal.signal(signal.SIGINT, old[0])
    signal.signal(signal.SIGTERM, old[1])


class _Child:
    """Stands in for a child process; records each call with the handlers in force."""

    def __init__(self, calls: list[Any], ignores_sigterm: bool = False) -> None:
        self.calls, self.ignores_sigterm, self.alive = calls, ignores_sigterm, True

    def terminate(self) -> None:
        handlers = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))
        self.calls.append(("terminate", handlers))
        if not self.ignores_sigterm:
            self.alive = False

    def join(self, timeout: float | None = None) -> None:
        self.calls.append(("join", timeout))
        assert timeout is not None or not self.alive, "waits forever for a live child"

    def is_alive(self) -> bool:
        return self.alive

    def kill(self) -> None:
        self.calls.append(("kill", None))
        self.alive = False


@POSIX
def test_every_child_is_ended_and_the_handlers_restored(
    child: Any, own_handlers: tuple[Any, Any]
) -> None:
    second = multiprocessing.get_context("fork").Process(target=time.sleep, args=(60,))
    second.start()
    try:
        assert _alive(child.pid) and _alive(second.pid)  # type: ignore[arg-type]
        _end_children()
        assert not _alive(child.pid) and not _alive(second.pid)  # type: ignore[arg-type]
        assert multiprocessing.active_children() == []
        assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == own_handlers
    finally:
        if second.is_alive():
            second.kill()
        second.join(5)
    _end_children()  # none left: nothing to do, nothing changed
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == own_handlers


def test_ctrl_c_and_sigterm_are_ignored_while_children_end(
    monkeypatch: pytest.MonkeyPatch, own_handlers: tuple[Any, Any]
) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(multiprocessing, "active_children", lambda: [_Child(calls)])
    _end_children()
    assert calls[0] == ("terminate", (signal.SIG_IGN, signal.SIG_IGN))
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == own_handlers


def test_a_child_ignoring_sigterm_is_killed_after_a_bounded_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[Any] = []
    deaf, willing = _Child(calls, ignores_sigterm=True), _Child(calls)
    monkeypatch.setattr(multiprocessing, "active_children", lambda: [deaf, willing])
    _end_children()
    assert not deaf.alive and not willing.alive
    names = [c[0] for c in calls]
    # both asked to end before any wait; the deaf one killed after its wait, then reaped
    assert names == ["terminate", "terminate", "join", "kill", "join", "join"]
    waits = [c[1] for c in calls if c[0] == "join"]
    assert all(w is not None and 0 < w <= 10 for w in waits), waits


def test_outside_the_main_thread_children_end_and_no_handler_is_touched(
    monkeypatch: pytest.MonkeyPatch, own_handlers: tuple[Any, Any]
) -> None:
    """Only the main thread may set a signal handler (Python raises ValueError
    elsewhere): there the children are ended all the same."""
    calls: list[Any] = []
    kid = _Child(calls)
    monkeypatch.setattr(multiprocessing, "active_children", lambda: [kid])
    errors: list[BaseException] = []

    def run() -> None:
        try:
            _end_children()
        except BaseException as e:  # the thread's error is the finding
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    t.join(10)
    assert errors == [] and not kid.alive
    assert calls[0] == ("terminate", own_handlers)  # left as they were
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == own_handlers


@POSIX
def test_main_ends_children_only_when_the_command_was_interrupted(
    child: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """A caller's own process survives a command that ran to its end (or failed), and
    is ended by one that was interrupted (it cannot tell whose the children are)."""
    assert main(["tasks", "--json"]) == 0
    assert main(["trials", "no-such-run"]) == 2
    assert _alive(child.pid)  # type: ignore[arg-type]

    def interrupted(name: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(quarch.search, "strategy_kind", interrupted)
    assert main(["strategies"]) == 130
    assert not _alive(child.pid)  # type: ignore[arg-type]
    assert capsys.readouterr().err.splitlines()[-1] == "error: interrupted"


# -- a Ctrl-C that Python had to drop ----------------------------------------------------


def test_a_dropped_ctrl_c_is_delivered_again_at_once_by_a_daemon_timer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Delivered within a fraction of a second (the command stops at once, not after
    more of its work), by a timer that never holds up the exit (a daemon thread)."""
    from quarch._errors import quiet_interrupted_imports

    timers: list[threading.Timer] = []

    class Recorded(threading.Timer):
        def start(self) -> None:
            timers.append(self)
            super().start()

    monkeypatch.setattr(threading, "Timer", Recorded)
    monkeypatch.setattr(sys, "unraisablehook", lambda info: None)
    quiet_interrupted_imports()
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            ctrl_c_inside_a_weakref_callback()
            while time.monotonic() < t0 + 5:  # the rest of the command's work
                time.sleep(0.01)
    finally:
        signal.signal(signal.SIGINT, old)
    assert time.monotonic() - t0 < 0.9  # the delay is 0.02 s; a loaded machine adds some
    assert len(timers) == 1 and timers[0].daemon is True


# -- the line read and the status returned -----------------------------------------------


def test_without_arguments_main_reads_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``main()`` (the console script) reads ``sys.argv`` after the program's name."""
    import quarch

    monkeypatch.setattr(sys, "argv", ["quarch", "--version"])
    assert main() == 0
    assert capsys.readouterr() == (f"quarch {quarch.__version__}\n", "")


def test_debug_is_read_only_before_the_first_double_dash(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything after the first ``--`` is an argument, ``--debug`` and ``--``
    included: a usage error's one line, no traceback."""
    monkeypatch.chdir(tmp_path)
    code = main(["search", "--space", "mlp", "--", "--debug", "--", "x"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == "error: Got unexpected extra argument(s) (--debug -- x)\n"


def test_an_exit_status_a_command_asks_for_is_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    for status in (1, 2, 5):

        def leave(name: str, status: int = status) -> str:
            raise typer.Exit(status)

        monkeypatch.setattr(quarch.search, "strategy_kind", leave)
        assert main(["strategies"]) == status
        assert capsys.readouterr() == ("", "")


def test_a_file_cut_short_with_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def cut_short(name: str) -> str:
        raise EOFError("ran out of input")

    monkeypatch.setattr(quarch.search, "strategy_kind", cut_short)
    assert main(["strategies", "--debug"]) == 1
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and lines[0] == "Traceback (most recent call last):"
    assert lines[-1] == "error: internal error (EOFError): ran out of input (rerun with --debug)"
    assert "EOFError: ran out of input" in lines
    assert main(["strategies"]) == 1  # without --debug: the line alone
    assert capsys.readouterr().err == (
        "error: internal error (EOFError): ran out of input (rerun with --debug)\n"
    )


def test_another_exception_python_drops_is_reported_not_taken_for_a_ctrl_c(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a KeyboardInterrupt is delivered again: any other exception a weakref
    callback raises is Python's report as before, and the command goes on."""
    from quarch._errors import quiet_interrupted_imports

    seen: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: seen.append(info.exc_type))
    quiet_interrupted_imports()

    class Obj:
        pass

    def callback(_: object) -> None:
        raise ValueError("in a callback")

    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    interrupted = False
    try:
        obj = Obj()
        ref = weakref.ref(obj, callback)
        del obj
        assert ref() is None
        t0 = time.monotonic()
        while time.monotonic() < t0 + 0.3:  # longer than the redelivery's 0.02 s
            time.sleep(0.01)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        signal.signal(signal.SIGINT, old)
    assert (interrupted, seen) == (False, [ValueError])


_EXIT_PROBE = """
import atexit, gc, sys
from quarch.cli import command
atexit.register(lambda: print("frozen", gc.get_freeze_count(), flush=True))
sys.argv = ["quarch", *sys.argv[1:]]
command()
"""


@pytest.mark.parametrize(("args", "code"), [(["--version"], 0), (["search", "--space", "nope"], 2)])
def test_the_executable_exits_with_mains_code_and_the_heap_frozen(
    tmp_path: Path, args: list[str], code: int
) -> None:
    """``command`` (the ``quarch`` executable) is ``main`` plus a frozen heap at exit,
    whose last collections Python's shutdown then skips; ``atexit`` still runs."""
    import subprocess

    probe = tmp_path / "probe.py"
    probe.write_text(_EXIT_PROBE)
    out = subprocess.run(
        [sys.executable, str(probe), *args], capture_output=True, text=True, timeout=120,
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == code, out.stderr
    frozen = [line for line in out.stdout.splitlines() if line.startswith("frozen ")]
    assert len(frozen) == 1 and int(frozen[0].split()[1]) > 10_000, out.stdout


def test_the_installed_command_and_python_m_quarch_are_that_executable() -> None:
    from importlib.metadata import entry_points

    import quarch.__main__ as module_main

    (script,) = entry_points(group="console_scripts", name="quarch")
    assert script.value == "quarch.cli:command"
    assert module_main.command is quarch.cli.command
