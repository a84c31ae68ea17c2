"""Where quarch writes what a user named: refused before the work, one line at the write.

A user names output paths (``--out`` of ``search``, ``benchmark``, ``report`` and
``export``). A typo there (a file where a folder is meant, a folder under a file, a
folder without write permission) must cost one line before the data is loaded or a
benchmark has run, not a traceback after it. What cannot be seen beforehand (``/proc``,
a full disk, a file system mounted read-only as root) is reported as one line at the
write: :func:`writing` turns the ``OSError`` into an :class:`~quarch._errors.OutputError`.

An empty path (``--out ''``, ``--out "$DIR"`` with ``DIR`` unset) is ``Path('')``, which
is ``.``: it was refused as "'.' is a folder" for a file, and taken as the working
folder for a folder (a report written among the user's files). A blank path is refused
as such, by the option's name on the command line (:func:`check_named`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from quarch._errors import ConfigError, OutputError

__all__ = [
    "check_file",
    "check_folder",
    "check_named",
    "file_problem",
    "folder_problem",
    "writing",
]


def check_named(value: str | None, option: str, what: str) -> None:
    """Refuse a command-line path ``option`` whose ``value`` names nothing (blank), in
    the option's words: ``--out must name the file to write; got ''``. Call it with the
    text the user gave, before it is a ``Path`` (``Path('')`` is ``.``).

    Raises:
        ConfigError: ``value`` is empty or only blanks.
    """
    if value is not None and not value.strip():
        raise ConfigError(f"{option} must name the {what}; got {value!r}")


def _refuse_blank(path: str | Path, what: str, kind: str) -> None:
    """Refuse an empty or blank ``path`` given as text (``Path('')`` is ``.``, so only
    the text can tell that nothing was named)."""
    if isinstance(path, str) and not path.strip():
        raise OutputError(f"the {what} path is empty ({path!r}); name a {kind}")


def _nearest_existing(path: Path) -> Path:
    base = path
    while not base.exists() and base != base.parent:
        base = base.parent
    return base


def folder_problem(path: Path, what: str = "folder") -> str | None:
    """Why the folder ``path`` cannot be made or written, or ``None`` when it can.

    ``what`` names the folder in the line (``"run folder"``).
    """
    if path.exists() and not path.is_dir():
        return f"{what} {str(path)!r} is a file, not a folder"
    base = _nearest_existing(path)
    if not base.is_dir():
        return f"cannot make the {what} {str(path)!r}: {str(base)!r} is a file"
    if not os.access(base, os.W_OK | os.X_OK):
        return f"cannot write the {what} {str(path)!r}: {str(base)!r} is not writable"
    return None


def check_folder(path: str | Path, what: str = "folder") -> Path:
    """``Path(path)``, or :class:`OutputError` when :func:`folder_problem` finds one or
    ``path`` is empty text."""
    _refuse_blank(path, what, "folder (the working folder is '.')")
    p = Path(path)
    _refuse(folder_problem(p, what))
    return p


def file_problem(path: Path, what: str = "file") -> str | None:
    """Why a file cannot be written at ``path`` (an existing one is replaced), or
    ``None`` when it can: it is a folder, is read-only, or its folder cannot be made."""
    if path.is_dir():
        return f"{what} {str(path)!r} is a folder; name a file to write"
    if path.exists() and not os.access(path, os.W_OK):
        return f"cannot write the {what} {str(path)!r}: it is not writable"
    problem = folder_problem(path.parent)
    return None if problem is None else f"cannot write the {what} {str(path)!r}: {problem}"


def check_file(path: str | Path, what: str = "file") -> Path:
    """``Path(path)``, or :class:`OutputError` when :func:`file_problem` finds one or
    ``path`` is empty text."""
    _refuse_blank(path, what, "file to write")
    p = Path(path)
    _refuse(file_problem(p, what))
    return p


def _refuse(problem: str | None) -> None:
    if problem is not None:
        raise OutputError(problem)


@contextlib.contextmanager
def writing(path: str | Path, what: str = "file") -> Iterator[None]:
    """Turn an ``OSError`` of writing ``path`` in the block into one line naming it.

    Only errors about the output: one without a file name (a full disk at ``write``),
    or one naming ``path``, a folder above it, or a file beside or below it (a sidecar,
    a report's plots). An ``OSError`` about any other file (a model or data file read
    while converting) is not the user's output and passes unchanged.
    """
    try:
        yield
    except OSError as e:
        if not _about(e, Path(path)):
            raise
        reason = e.strerror or str(e)
        raise OutputError(f"cannot write the {what} {str(path)!r}: {reason}") from None


def _about(error: OSError, path: Path) -> bool:
    names = [n for n in (error.filename, error.filename2) if n is not None]
    if not names:
        return True
    out = Path(os.path.abspath(path))
    for name in names:
        f = Path(os.path.abspath(os.fsdecode(name)))
        if f == out or f in out.parents or out.parent in f.parents:
            return True
    return False
