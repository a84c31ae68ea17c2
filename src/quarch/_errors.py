"""Errors a user can cause.

Every error that the user can fix derives from :class:`QuarchError`; the CLI prints
its message as one line (``error: ...``) and exits with code 2. Messages say what was
given and what is allowed, so the user knows what to change.
"""

from __future__ import annotations

import os
import sys
import types
from pathlib import Path
from typing import Any

__all__ = [
    "CircuitError",
    "ConfigError",
    "DataError",
    "OutputError",
    "QuarchError",
    "RunError",
    "RunExistsError",
    "SimulationError",
    "SpaceError",
    "did_you_mean",
    "quiet_interrupted_imports",
    "render_traceback",
]

#: Set to anything but ``""`` or ``"0"``, every display of a :class:`QuarchError` in
#: IPython is its whole traceback (quarch's own frames too), as for any other error.
DEBUG_VARIABLE = "QUARCH_DEBUG"

#: The line under a short traceback that says where the whole one is.
HIDDEN_HINT = "(quarch's own frames are hidden: %tb shows the whole traceback)"


def did_you_mean(unknown: Any, names: Any) -> str:
    """`` ('trails': did you mean 'trials'?)`` for each of ``unknown`` that is close to
    one of ``names`` (a typo), to add to the line that refuses them; ``""`` for none.

    Close is difflib's ratio of at least 0.75, compared in lower case: difflib alone is
    case-sensitive, so ``BATCH_SIZE`` shares one character in ten with ``batch_size``
    and no name would be offered for the commonest slip of all."""
    import difflib

    pool: dict[str, str] = {}  # lower case -> the name as it is spelt
    for n in names:
        pool.setdefault(str(n).lower(), str(n))
    meant = []
    for k in unknown:
        close = difflib.get_close_matches(str(k).lower(), list(pool), n=1, cutoff=0.75)
        if close:
            meant.append(f"{str(k)!r}: did you mean {pool[close[0]]!r}?")
    return f" ({', '.join(meant)})" if meant else ""


class QuarchError(Exception):
    """Base class of every error a user of quarch can cause and fix.

    In IPython and Jupyter a cell that raises one shows what the command line's one
    line shows, the class and the message, under the frames of the user's own code
    only (the cell's line that called quarch, a function of theirs that quarch called
    back), not the dozens of quarch's and libraries' frames between: IPython shows the
    lines an exception's ``_render_traceback_`` returns instead of its traceback. A
    plain Python traceback (a script, pytest) is unchanged: only IPython asks for them.
    The whole traceback is kept: ``%tb`` shows it (an error displayed once already is
    displayed in full), every display does with ``QUARCH_DEBUG=1`` in the environment
    (``%env QUARCH_DEBUG=1``), and ``%debug`` and ``sys.last_traceback`` reach quarch's
    frames as before. An error that is not a QuarchError (a bug) is shown in full.
    """

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows for this error (:func:`render_traceback`)."""
        return render_traceback(self)


class SpaceError(QuarchError, ValueError):
    """An architecture or a search-space definition is invalid."""


class CircuitError(QuarchError, ValueError):
    """A circuit is malformed: bad wire, bad angle, unknown gate, bad QASM (here, not in
    :mod:`quarch.quantum.circuit`, which re-exports it: the gate table raises it too,
    and ``circuit`` imports the gate table)."""


class SimulationError(QuarchError, ValueError):
    """Inputs, weights or a state given to the simulator do not fit the circuit, or it
    is asked for what it does not compute (here, not in :mod:`quarch.quantum.simulator`,
    which re-exports it: the engine's backwards raise it too, and ``simulator`` imports
    the engine)."""


class ConfigError(QuarchError, ValueError):
    """A search configuration (CLI flag, config file, argument) is invalid."""


class DataError(QuarchError):
    """A data set is unknown, missing, corrupt or cannot be downloaded."""


class RunError(QuarchError):
    """A run folder is missing, incompatible or cannot be resumed."""


class OutputError(QuarchError):
    """A path given for output cannot be written (a file where a folder is meant, a
    folder without permission, a file system that refuses)."""


class RunExistsError(RunError):
    """A new run was asked for in a folder that already holds one.

    Attributes:
        run_dir (str): the folder, so the command line can word its own advice.
    """

    def __init__(self, message: str, run_dir: str) -> None:
        super().__init__(message)
        self.run_dir = run_dir


def quiet_interrupted_imports() -> None:
    """Deliver again, without Python's report, a Ctrl-C that Python had to drop.

    A KeyboardInterrupt raised in a weakref callback (an import's lock callback,
    ``importlib._bootstrap._get_module_lock.<locals>.cb``; a ``WeakKeyDictionary``
    tidying up) cannot propagate: Python prints "Exception ignored in ..." with a
    traceback beside the one line the CLI prints for Ctrl-C, and goes on, so the Ctrl-C
    was lost (``quarch train`` stopped at the wrong moment trained to the end and
    exited 0). The report is dropped and the interrupt raised again in the main thread
    at its next chance (raised in the hook, it would be dropped in turn), where the
    command's handlers make it the one line and exit code 130; where SIGINT is ignored
    (a spawned worker still starting, or one that took its Ctrl-C) nothing happens.
    Every other unraisable exception is reported as before."""
    default = sys.unraisablehook
    if getattr(default, "quarch_quiet", False):  # installed already (main() run again)
        return

    def hook(info: Any) -> None:
        if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
            import _thread
            import threading

            again = threading.Timer(0.02, _thread.interrupt_main)
            again.daemon = True  # never holds up the exit
            again.start()
            return
        default(info)

    hook.quarch_quiet = True  # type: ignore[attr-defined]
    sys.unraisablehook = hook


def render_traceback(error: BaseException) -> list[str]:
    """The lines IPython shows for a :class:`QuarchError` raised to a cell.

    Its first display: the user's frames only (:func:`_user_frames`) and
    ``Class: message``, in IPython's own format (its colours and ``Cell In[5], line 1``)
    where an IPython shell runs, Python's format elsewhere; a user's mistake needs no
    quarch internals, and no chained error (``%tb`` shows those). A display after the
    first (IPython's ``%tb`` displays the last error again), or any display with
    :data:`DEBUG_VARIABLE` set, is the whole traceback, as IPython shows any error."""
    whole = getattr(error, "_quarch_shown", False) or _debugging()
    error._quarch_shown = True  # type: ignore[attr-defined]
    tb = error.__traceback__ if whole else _user_frames(error.__traceback__)
    shell = _ipython()
    lines: list[str] | None = None
    if shell is not None:
        lines = _ipython_lines(shell, error, tb, whole=whole)
    if lines is None:  # no IPython shell, or it could not format this traceback
        lines = _python_lines(error, tb, whole=whole)
    minimal = getattr(getattr(shell, "InteractiveTB", None), "mode", "") == "Minimal"
    if not whole and not minimal and _frames(tb) < _frames(error.__traceback__):
        lines.append(HIDDEN_HINT)  # (``%xmode Minimal`` asked for the error line alone)
    return lines


def _debugging() -> bool:
    """Whether :data:`DEBUG_VARIABLE` asks for whole tracebacks."""
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")


def _frames(tb: types.TracebackType | None) -> int:
    n = 0
    while tb is not None:
        n, tb = n + 1, tb.tb_next
    return n


def _library_folders() -> tuple[str, ...]:
    """Folders whose files are no user's code: quarch's package, the standard library
    and the installed packages (IPython's own frame that ran the cell among them)."""
    import site
    import sysconfig

    paths = sysconfig.get_paths()
    folders = [str(Path(__file__).resolve().parent)]
    folders += [paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths]
    folders += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    return tuple(os.path.join(os.path.realpath(f), "") for f in folders)


def _users(filename: str, library: tuple[str, ...] | None = None) -> bool:
    """Whether a frame's file is the user's code: a cell, a script, a module of theirs
    (``<frozen importlib...>`` is Python's; ``<string>``, ``exec``'d code, the user's).
    ``library``: :func:`_library_folders`, when the caller has it already (it costs a
    third of a millisecond: ``sysconfig`` and a ``realpath`` per folder)."""
    if filename.startswith("<frozen "):
        return False
    if filename.startswith("<"):
        return True
    if library is None:
        library = _library_folders()
    return not os.path.realpath(filename).startswith(library)


def _user_frames(tb: types.TracebackType | None) -> types.TracebackType | None:
    """A new traceback of ``tb``'s frames that are the user's code (:func:`_users`), in
    order; ``tb`` itself is left as it was (``%debug`` walks it). The library's folders
    are read once a display, not once a frame: a display is a user's error, rare enough
    to read them afresh (a cache kept between displays would hide
    :func:`_library_folders`' mutants from mutmut, whose forked runs inherit it)."""
    library = _library_folders()
    kept: list[types.TracebackType] = []
    while tb is not None:
        if _users(tb.tb_frame.f_code.co_filename, library):
            kept.append(tb)
        tb = tb.tb_next
    out: types.TracebackType | None = None
    for t in reversed(kept):
        out = types.TracebackType(out, t.tb_frame, t.tb_lasti, t.tb_lineno)
    return out


def _ipython() -> Any:
    """The running IPython shell, ``None`` where there is none (IPython not imported:
    this never imports it)."""
    module = sys.modules.get("IPython")
    get = getattr(module, "get_ipython", None)
    return get() if get is not None else None


def _ipython_lines(
    shell: Any, error: BaseException, tb: types.TracebackType | None, *, whole: bool
) -> list[str] | None:
    """``tb`` in IPython's format (its mode, ``%xmode``, honoured); ``None`` where
    IPython fails on it (then Python's format serves, not IPython's "Unexpected
    exception formatting exception")."""
    formatter = shell.InteractiveTB
    try:
        if whole:  # as IPython shows any error: its own frame that ran the cell skipped
            return list(formatter.structured_traceback(type(error), error, tb))
        if tb is None:
            return list(formatter.get_exception_only(type(error), error))
        with _Unchained(error):
            lines = list(formatter.structured_traceback(type(error), error, tb, tb_offset=0))
        # the formatter keeps the traceback it formatted for %debug: the whole one, as
        # it keeps for any error (given the user's frames alone, %debug stopped in the cell)
        formatter.tb = error.__traceback__
        return lines
    except Exception:
        return None


class _Unchained:
    """``with _Unchained(error):`` the error without its cause and context, put back
    after: a short display shows neither (the cause's own traceback is quarch's)."""

    def __init__(self, error: BaseException) -> None:
        self.error = error
        self.saved = (error.__cause__, error.__context__, error.__suppress_context__)

    def __enter__(self) -> None:
        self.error.__cause__ = None
        self.error.__context__ = None

    def __exit__(self, *exc: object) -> None:
        cause, context, suppress = self.saved
        self.error.__cause__, self.error.__context__ = cause, context
        self.error.__suppress_context__ = suppress


def _python_lines(
    error: BaseException, tb: types.TracebackType | None, *, whole: bool
) -> list[str]:
    """``tb`` and the error in Python's format, one string a line."""
    import traceback

    if whole:
        text = traceback.format_exception(type(error), error, tb)
    else:
        text = ["Traceback (most recent call last):\n"] if tb is not None else []
        text += traceback.format_list(traceback.extract_tb(tb))
        text.append(f"{type(error).__name__}: {error}")  # as IPython names it
    return "".join(text).rstrip("\n").split("\n")
