"""Errors a user can cause.

Every error that the user can fix derives from :class:`QuarchError`; the CLI prints
its message as one line (``error: ...``) and exits with code 2. Messages say what was
given and what is allowed, so the user knows what to change.
"""

from __future__ import annotations

import sys
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
]


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
    """Base class of every error a user of quarch can cause and fix."""


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
