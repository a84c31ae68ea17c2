"""Where a run's Optuna study lives, and how to open it again.

* one process: SQLite in the run folder (``study.db``);
* several local workers: Optuna's JournalStorage file backend (``journal.log``), which
  is safe for concurrent writers on one machine without a database server;
* several machines: any SQLAlchemy URL Optuna accepts (``postgresql://...``), with
  Optuna's heartbeat so trials of a machine that dies are failed by the others.

The choice is recorded in ``run.json`` so every later command opens the same study. A
database URL is recorded without its password (:func:`quarch.config.strip_password`):
later commands read it from ``PGPASSWORD`` or ``~/.pgpass`` (libpq's own places, which
psycopg reads), and every message shows the URL masked.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalStorage

from quarch._errors import ConfigError, RunError
from quarch.config import mask_secrets

__all__ = [
    "HEARTBEAT_SECONDS",
    "delete_study",
    "load_study",
    "make_pruner",
    "make_storage",
    "storage_spec",
]

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
            f"postgresql+psycopg://user@host/db; got {mask_secrets(storage)!r}"
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
        raise RunError(_storage_error(spec, e)) from None


def _storage_error(spec: str, e: BaseException) -> str:
    """One line on a storage that cannot be opened, the URL's password masked."""
    detail = " ".join(str(e).split("(Background on this error")[0].split())
    hint = ""
    if "password" in detail.lower() and "://" in spec:
        hint = " (quarch does not store a database password: set PGPASSWORD or ~/.pgpass)"
    return mask_secrets(f"cannot open storage {spec!r}: {type(e).__name__}: {detail}{hint}")


def make_pruner(name: str, options: dict[str, object] | None = None) -> optuna.pruners.BasePruner:
    """The Optuna pruner ``--pruner`` names: ``median`` (``MedianPruner``),
    ``hyperband`` (``HyperbandPruner``) or ``none`` (``NopPruner``).

    Always explicit: Optuna's default for a study without one is a ``MedianPruner``,
    and quarch reports epochs only when the run asked for pruning.
    """
    opts = dict(options or {})
    classes: dict[str, type[optuna.pruners.BasePruner]] = {
        "none": optuna.pruners.NopPruner,
        "median": optuna.pruners.MedianPruner,
        "hyperband": optuna.pruners.HyperbandPruner,
    }
    if name not in classes:
        raise ConfigError(f"unknown pruner {name!r}; choose from: {', '.join(classes)}")
    try:
        return classes[name](**opts)  # type: ignore[arg-type]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"--pruner {name}: bad pruner_options {opts}: {e}") from None


def load_study(spec: str, run_dir: Path, study_name: str) -> optuna.Study:
    """Load an existing study; a missing or unreadable one is a :class:`RunError`."""
    if spec in ("sqlite", "journal"):
        name = "study.db" if spec == "sqlite" else "journal.log"
        if not (run_dir / name).is_file():  # opening it would create an empty one
            raise RunError(f"run folder {str(run_dir)!r} has no {name}: its study is missing")
    try:
        storage = make_storage(spec, run_dir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.load_study(
                study_name=study_name, storage=storage, pruner=optuna.pruners.NopPruner()
            )
    except KeyError:
        raise RunError(f"no study named {study_name!r} in storage {mask_secrets(spec)!r}") from None
    except Exception as e:  # a damaged study.db or journal.log, a database gone
        raise RunError(_storage_error(spec, e)) from None


def delete_study(spec: str, run_dir: Path, study_name: str) -> None:
    """Delete the study ``study_name`` (``overwrite=True``); nothing when there is none."""
    if spec == "sqlite":
        (run_dir / "study.db").unlink(missing_ok=True)
        return
    if spec == "journal":
        (run_dir / "journal.log").unlink(missing_ok=True)
        return
    try:
        optuna.delete_study(study_name=study_name, storage=make_storage(spec, run_dir))
    except KeyError:
        return
