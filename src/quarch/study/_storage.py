"""Where a run's Optuna study lives, and how to open it again.

* one process: SQLite in the run folder (``study.db``);
* several local workers: Optuna's JournalStorage file backend (``journal.log``), which
  is safe for concurrent writers on one machine without a database server;
* several machines: any SQLAlchemy URL Optuna accepts (``postgresql://...``), with
  Optuna's heartbeat so trials of a machine that dies are failed by the others.

The choice is recorded in ``run.json`` so every later command opens the same study.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage

from quarch._errors import ConfigError, RunError

__all__ = ["HEARTBEAT_SECONDS", "make_storage", "storage_spec"]

#: Interval of the RDB heartbeat; a trial silent for 6 intervals is failed by the others.
HEARTBEAT_SECONDS = 5


def storage_spec(storage: str | None, workers: int, run_dir: Path) -> str:
    """The storage a run uses, as recorded in ``run.json``.

    ``"sqlite"`` and ``"journal"`` are files in the run folder; anything else is a URL.
    """
    if storage is None or storage in ("", "sqlite"):
        return "journal" if workers > 1 else "sqlite"
    if storage == "journal":
        return "journal"
    if "://" not in storage:
        raise ConfigError(
            f"storage must be 'sqlite', 'journal' or a database URL such as "
            f"postgresql://user@host/db; got {storage!r}"
        )
    return storage


def study_exists(spec: str, run_dir: Path) -> bool:
    """Whether the run folder already holds a study file for ``spec``."""
    if spec == "sqlite":
        return (run_dir / "study.db").exists()
    if spec == "journal":
        return (run_dir / "journal.log").exists()
    return (run_dir / "run.json").exists()


def make_storage(spec: str, run_dir: Path) -> BaseStorage | str:
    """Open the storage described by ``spec`` (see :func:`storage_spec`)."""
    if spec == "sqlite":
        return f"sqlite:///{(run_dir / 'study.db').resolve()}"
    if spec == "journal":
        return JournalStorage(JournalFileBackend(str((run_dir / "journal.log").resolve())))
    try:
        if spec.startswith("sqlite"):
            return RDBStorage(spec)
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                spec, heartbeat_interval=HEARTBEAT_SECONDS, grace_period=6 * HEARTBEAT_SECONDS
            )
    except Exception as e:  # bad URL, missing driver, unreachable server
        raise RunError(f"cannot open storage {spec!r}: {type(e).__name__}: {e}") from None


def load_study(spec: str, run_dir: Path, study_name: str) -> optuna.Study:
    """Load an existing study; a missing one is a :class:`RunError`."""
    try:
        return optuna.load_study(study_name=study_name, storage=make_storage(spec, run_dir))
    except KeyError:
        raise RunError(f"no study named {study_name!r} in storage {spec!r}") from None
