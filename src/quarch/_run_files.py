"""The two files that make a folder a quarch run, read without the search loop.

:class:`quarch.study.Run` lays a run folder out and reads it. Whether a folder is a run
at all is decided here instead, below every layer that imports torch, Optuna or a
database driver, so that ``quarch report``, ``quarch trials`` and ``quarch search
--resume`` refuse a mistyped folder before they import the search loop (about 2 s on a
laptop, most of it torch) rather than after. ``Run.open`` asks the same function, so
the line is the same wherever the folder is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from quarch._errors import RunError

__all__ = ["CONFIG_FILE", "META_FILE", "check_run_folder", "saved_space", "trial_numbers"]

#: The config the run was started with (defaults resolved).
CONFIG_FILE = "config.json"
#: The run's metadata: quarch version, seed, data fingerprint, storage, objective, time.
META_FILE = "run.json"


def check_run_folder(path: str | Path) -> Path:
    """``Path(path)``, or :class:`~quarch._errors.RunError` when either file is missing.

    A path that is no folder at all is said as such: a mistyped path and a file given
    for its folder (``study.db``, ``results.csv``) both read "not a quarch run folder
    (config.json or run.json missing)", which sent the user looking for two files in a
    folder that was never there.

    Example:
        >>> check_run_folder("no/such/run")
        Traceback (most recent call last):
        ...
        quarch._errors.RunError: 'no/such/run': no such folder; pass the run folder (a search's out, --out)
    """
    if not isinstance(path, (str, os.PathLike)):  # Path(5) would fail deep in pathlib
        raise RunError(f"a run folder is a path (str or pathlib.Path); got {path!r}")
    d = Path(path)
    if not d.exists():
        raise RunError(f"{str(d)!r}: no such folder; pass the run folder (a search's out, --out)")
    if not d.is_dir():
        raise RunError(
            f"{str(d)!r} is a file, not a run folder; pass the run folder (a search's out, --out)"
        )
    if not (d / CONFIG_FILE).is_file() or not (d / META_FILE).is_file():
        raise RunError(
            f"{str(d)!r} is not a quarch run folder ({CONFIG_FILE} or {META_FILE} missing)"
        )
    return d


def saved_space(path: str | Path) -> str | None:
    """The space a run folder's ``config.json`` names, read with ``json`` alone; ``None``
    when the file cannot be read or names none (``Run.open`` then says what is wrong)."""
    try:
        space = json.loads((Path(path) / CONFIG_FILE).read_text())["space"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return space if isinstance(space, str) else None


def trial_numbers(path: str | Path) -> list[int] | None:
    """The numbers of a run's trials, read from its own SQLite study (``study.db``) with
    ``sqlite3`` alone, so ``quarch train``/``export --trial 99`` is refused before the
    study is opened through Optuna (torch, SQLAlchemy: seconds).

    ``None`` when the files cannot tell: a journal or database storage, a study being
    written (its ``study.db-wal``: the trials there are not in ``study.db`` yet), or
    anything unreadable (``Run.open`` then says what is wrong, or finds the trial).
    """
    import sqlite3

    d = Path(path)
    try:
        meta = json.loads((d / META_FILE).read_text())
        name = json.loads((d / CONFIG_FILE).read_text()).get("study_name", "quarch")
    except (OSError, ValueError, AttributeError):
        return None
    db = d / "study.db"
    if meta.get("storage", "sqlite") != "sqlite" or not isinstance(name, str):
        return None
    if not db.is_file() or (d / "study.db-wal").exists():
        return None
    try:  # read-only: a reader creates nothing in the folder
        con = sqlite3.connect(f"{db.absolute().as_uri()}?mode=ro", uri=True)
        try:
            rows = con.execute(
                "SELECT t.number FROM trials t JOIN studies s ON t.study_id = s.study_id "
                "WHERE s.study_name = ? ORDER BY t.number",
                (name,),
            ).fetchall()
        finally:
            con.close()
    except (sqlite3.Error, ValueError):  # ValueError: a path no URI can hold
        return None
    return [int(r[0]) for r in rows]
