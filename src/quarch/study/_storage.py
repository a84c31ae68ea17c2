"""Where a run's Optuna study lives, and how to open it again.

* one process: SQLite in the run folder (``study.db``), written in WAL mode with
  ``synchronous=NORMAL`` (:func:`make_storage` with ``writer=True``);
* several local workers: Optuna's JournalStorage file backend (``journal.log``), which
  is safe for concurrent writers on one machine without a database server (the
  default; ``--storage sqlite`` keeps ``study.db``, which each worker opens);
* several machines: any SQLAlchemy URL Optuna accepts (``postgresql://...``), with
  Optuna's heartbeat so trials of a machine that dies are failed by the others.

Why WAL: Optuna commits once per suggested choice and once per trial state, about 770
commits in the README's 20-trial search. In SQLite's default rollback mode each commit
waits for ``fsync``; measured on this project's 2-core machine, 20 trials of 21 choices
took 1.5 s on a quiet disk and 10.6 s while other jobs wrote to it, against 0.83 s in
WAL mode either way. WAL with ``synchronous=NORMAL`` stays consistent after a killed
process or a power loss (a power loss may drop the last trials, which resume takes
again), unlike ``synchronous=OFF`` in rollback mode, which may corrupt the file. While
a run writes, the folder holds ``study.db-wal`` and ``study.db-shm`` beside
``study.db``; :func:`close_storage` folds them back in when the run ends, and
puts the file back in rollback mode, so reading a finished run writes nothing. WAL needs
the run folder on a local file system (not NFS); use ``--storage journal`` there.

The choice is recorded in ``run.json`` so every later command opens the same study. A
database URL is recorded without its password (:func:`quarch.config.strip_password`):
later commands read it from ``PGPASSWORD`` or ``~/.pgpass`` (libpq's own places, which
psycopg reads), and every message shows the URL masked.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
from pathlib import Path
from typing import Any

import optuna
import sqlalchemy.exc
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage
from sqlalchemy import event

from quarch._errors import ConfigError, RunError
from quarch._pruner_options import PRUNER_CLASSES, bad_pruner_options, option_problems
from quarch._warnings import warn
from quarch.config import mask_secrets
from quarch.study._signals import SignalHold

__all__ = [
    "HEARTBEAT_SECONDS",
    "SQLITE_FILES",
    "HeldSignalsLock",
    "check_sqlite_url",
    "close_storage",
    "database_holds",
    "delete_study",
    "load_study",
    "make_pruner",
    "make_storage",
    "storage_spec",
]

#: The files of a run folder's SQLite study (the database, and its WAL while written).
SQLITE_FILES = ("study.db", "study.db-wal", "study.db-shm")

#: Interval of the RDB heartbeat; a trial silent for 6 intervals is failed by the others.
HEARTBEAT_SECONDS = 5


def storage_spec(storage: str | None, workers: int) -> str:
    """The storage a run uses, as recorded in ``run.json``.

    ``"sqlite"`` and ``"journal"`` are files in the run folder; anything else is a URL,
    recorded with its scheme in lower case: a scheme is case-insensitive (RFC 3986,
    section 3.1), but SQLAlchemy looks its dialect up as written and cannot load
    ``SQLite`` or ``PostgreSQL``. No storage given (``None`` or ``""``) is SQLite for one
    process and the journal file for several local workers; ``"sqlite"`` given is SQLite
    for any number of workers, as the run's ``config.json`` records it (each worker
    opens ``study.db``, which the run writes in WAL mode).
    """
    if not storage:
        return "journal" if workers > 1 else "sqlite"
    if storage in ("sqlite", "journal"):
        return storage
    if "://" not in storage:
        raise ConfigError(
            f"storage must be 'sqlite', 'journal' or a database URL such as "
            f"postgresql+psycopg://user@host/db; got {mask_secrets(storage)!r}"
        )
    return _sqlite_file(storage)


def _sqlite_file(url: str) -> str:
    """A SQLite URL with its file as an absolute path, as the run records it (a relative
    one opened only from the folder the search ran in); an in-memory one is refused,
    since the study would be gone when the search ends, and so is one with a host
    (``sqlite://x.db``), which SQLAlchemy cannot open. Every URL's scheme is lower-cased
    (see :func:`storage_spec`); the rest of a URL that is not SQLite's is unchanged."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if scheme.split("+")[0] != "sqlite":
        return scheme + sep + rest
    if rest[:1] not in ("", "/", "?"):  # SQLAlchemy refuses it too, with a long message
        raise ConfigError(
            f"storage {url!r} names a host, and SQLite has none: a file is {scheme}:///NAME "
            f"(relative to this folder) or {scheme}:////abs/path/NAME, with three or four '/'"
        )
    path = rest[1:] if rest.startswith("/") else rest  # sqlite:///PATH: PATH after the 3rd /
    path, query, params = path.partition("?")
    if path in ("", ":memory:") or "mode=memory" in params:
        raise ConfigError(
            f"storage {url!r} keeps the study in memory: it would be gone when the search "
            "ends and the run could not be read again; use --storage sqlite (study.db in "
            "the run folder) or name a file, sqlite:////abs/path/study.db"
        )
    if path.startswith("file:") or Path(path).is_absolute():
        return scheme + sep + rest
    return f"{scheme}{sep}/{Path(path).absolute()}{query}{params}"


def check_sqlite_url(url: str) -> None:
    """Refuse, without creating anything, a SQLite file (``sqlite:////abs/NAME``, as
    :func:`storage_spec` records it) that the run could not open: a folder, a file that
    is not a SQLite database, or one in a folder that is missing or not writable.

    Other databases are checked by opening them; for SQLite that would create the file
    and Optuna's tables, which a dry run, or a start refused later (its data missing),
    left behind. A ``file:`` URI filename is left to SQLite at the start.
    """
    import sqlite3

    path = Path(url.partition("://")[2][1:].partition("?")[0])
    if str(path).startswith("file:"):
        return
    problem = None
    if path.is_dir():
        problem = "it is a folder"
    elif path.exists():
        try:
            with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
                db.execute("PRAGMA schema_version")
        except sqlite3.DatabaseError:
            problem = "the file is not a SQLite database"
        if problem is None and not os.access(path, os.W_OK):
            problem = "the file is not writable"
    elif not path.parent.is_dir():
        problem = f"its folder {str(path.parent)!r} does not exist (SQLite makes no folders)"
    elif not os.access(path.parent, os.W_OK | os.X_OK):
        problem = f"its folder {str(path.parent)!r} is not writable"
    if problem is not None:
        raise RunError(f"cannot open storage {url!r}: {problem}")


def study_exists(spec: str, run_dir: Path) -> bool:
    """Whether the run folder already holds a study file for ``spec``."""
    if spec == "sqlite":
        return (run_dir / "study.db").exists()
    if spec == "journal":
        return (run_dir / "journal.log").exists()
    return (run_dir / "run.json").exists()


def database_holds(spec: str, study_name: str) -> bool:
    """Whether the database ``spec`` (a URL, as :func:`storage_spec` records it) holds
    a study named ``study_name``. A SQLite file is read, never created or changed (a
    missing file or one without Optuna's tables holds none; so does a ``file:`` URI
    filename, left to SQLite at the start, as :func:`check_sqlite_url` leaves it)."""
    import sqlite3

    if spec.startswith("sqlite"):
        path = Path(spec.partition("://")[2][1:].partition("?")[0])
        if not path.is_file():
            return False
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            try:
                row = db.execute("SELECT 1 FROM studies WHERE study_name = ?", (study_name,))
                return row.fetchone() is not None
            except sqlite3.OperationalError:  # no table of studies: not Optuna's yet
                return False
    storage = make_storage(spec, Path("."))
    assert isinstance(storage, RDBStorage)
    try:
        storage.get_study_id_from_name(study_name)
    except KeyError:
        return False
    except Exception as e:  # the database went away since it was opened
        raise RunError(_storage_error(spec, e)) from None
    finally:
        storage.engine.dispose()
    return True


class HeldSignalsLock(JournalFileSymlinkLock):
    """Optuna's journal file lock (its default: a symbolic link beside ``journal.log``),
    with Ctrl-C and SIGTERM held from the moment it is taken until it is released.

    Why not Optuna's own: it is taken before the ``try`` that releases it, so a Ctrl-C
    landing between the two left ``journal.log.lock`` behind, and every process of the
    run then waited Optuna's 30 s grace period, warning every 10 s, before breaking it
    (seen with ``--workers 2``). Held (:class:`SignalHold`), a signal is delivered when
    the lock is released, milliseconds later, once the write under it is whole. Waiting
    for the lock holds nothing, so Ctrl-C still stops a process that waits for another
    one's lock at once. A lock left by a process that was killed is broken after the
    grace period, as Optuna does, by :meth:`release`'s rename, which only one waiting
    process wins.
    """

    #: Seconds between two looks at a lock another process holds (Optuna backs off from
    #: 1 ms to 1 s; a lock is held for milliseconds, so a fixed short poll is simpler).
    POLL_SECONDS = 0.01

    def __init__(self, filepath: str, grace_period: int | None = 30) -> None:
        super().__init__(filepath, grace_period)
        self._target, self._link = filepath, filepath + ".lock"
        self._held: SignalHold | None = None

    def acquire(self) -> bool:
        since = warned = time.monotonic()
        mtime: float | None = None
        while True:
            held = SignalHold()
            try:
                os.symlink(self._target, self._link)
            except FileExistsError:
                held.release()  # not ours: a signal that came meanwhile is delivered here
            except BaseException:
                held.release()
                raise
            else:
                self._held = held
                return True
            now = time.monotonic()
            try:
                seen = os.lstat(self._link).st_mtime
            except FileNotFoundError:
                continue  # released meanwhile: try again at once
            if seen != mtime:  # a new holder: its grace period starts now
                since, mtime = now, seen
            if now - warned > 10.0:
                warn(
                    f"waiting for {self._link}: another process of this run holds it (a "
                    f"lock left by a killed process is broken after {self.grace_period} s)"
                )
                warned = now
            if self.grace_period is not None and now - since > self.grace_period:
                with contextlib.suppress(RuntimeError):  # another waiter broke it first
                    super().release()
                continue
            time.sleep(self.POLL_SECONDS)

    def release(self) -> None:
        held, self._held = self._held, None
        try:
            super().release()
        finally:
            if held is not None:
                held.release()


def make_storage(spec: str, run_dir: Path, *, writer: bool = False) -> BaseStorage | str:
    """Open the storage described by ``spec`` (see :func:`storage_spec`).

    ``writer``: the run folder's SQLite study is opened for a search, in WAL mode with
    ``synchronous=NORMAL`` (see the module docstring); readers (``report``, ``trials``,
    ``export``) open it as it is, so reading a run never changes its file.
    """
    if spec == "sqlite":
        url = f"sqlite:///{(run_dir / 'study.db').resolve()}"
        return _wal_storage(url) if writer else url
    if spec == "journal":
        log = str((run_dir / "journal.log").resolve())
        return JournalStorage(JournalFileBackend(log, lock_obj=HeldSignalsLock(log)))
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


def _wal_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """SQLAlchemy ``connect`` hook: commits without ``fsync`` (a per-connection setting
    that takes no lock; the WAL mode itself is a property of the file)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _wal_storage(url: str) -> RDBStorage:
    """An Optuna ``RDBStorage`` on the SQLite file ``url`` in WAL mode whose every
    connection commits with ``synchronous=NORMAL``, until :func:`close_storage`.

    Switching the file to WAL needs it to itself for a moment, so it is done once here,
    retried while another process reads it (a dashboard opened on the run, a polling
    script): 20 tries, each wait 50 ms longer than the last (10.5 s in all); if it never
    gets the file, the run writes in rollback mode, correct and slower. Opening the
    storage is retried too (10 tries, 2.25 s of waits, then its error): Optuna creates
    the tables and its version row by "check, then create", so a reader that opens the
    new file at the same moment can create them in between (CI saw both), and the next
    attempt finds them."""
    for attempt in range(10):
        try:
            storage = RDBStorage(url)
            break
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.IntegrityError):
            # a reader created the tables or Optuna's version row in between (Optuna
            # checks, then creates); the next attempt finds them
            if attempt == 9:
                raise
            time.sleep(0.05 * (attempt + 1))
    for attempt in range(20):
        try:
            with storage.engine.connect() as con:
                mode = con.exec_driver_sql("PRAGMA journal_mode=WAL").scalar()
            if str(mode).lower() == "wal":
                break
        except sqlalchemy.exc.OperationalError:  # busy: another process has it open
            pass
        time.sleep(0.05 * (attempt + 1))
    event.listen(storage.engine, "connect", _wal_pragmas)
    storage.engine.dispose()  # the connections opened so far predate the hook
    return storage


def close_storage(storage: BaseStorage | str) -> None:
    """End a search's writing: a WAL-mode SQLite study goes back to SQLite's default
    (rollback) mode, which folds the WAL into ``study.db`` and removes
    ``study.db-wal``/``-shm``, so the finished run folder is one file again and readers
    open it without creating any; then the connections are closed (a later read, such
    as the report, opens new ones). A killed run keeps its WAL: the next writer or
    reader recovers it."""
    if not isinstance(storage, RDBStorage):
        return
    engine = storage.engine
    if event.contains(engine, "connect", _wal_pragmas):
        event.remove(engine, "connect", _wal_pragmas)
        storage.remove_session()
        engine.dispose()
        # a connection still held (a trial interrupted inside a transaction) locks the
        # file: then it stays in WAL mode, as after a kill, and nothing is lost
        with contextlib.suppress(sqlalchemy.exc.OperationalError), engine.connect() as con:
            con.exec_driver_sql("PRAGMA journal_mode=DELETE")
    engine.dispose()


def _storage_error(spec: str, e: BaseException) -> str:
    """One line on a storage that cannot be opened, the URL's password masked."""
    detail = " ".join(str(e).split("(Background on this error")[0].split())
    hint = ""
    if "password" in detail.lower() and "://" in spec:
        hint = " (quarch does not store a database password: set PGPASSWORD or ~/.pgpass)"
    return mask_secrets(f"cannot open storage {spec!r}: {type(e).__name__}: {detail}{hint}")


#: Optuna's pruner class for each ``--pruner`` name.
_PRUNERS: dict[str, type[optuna.pruners.BasePruner]] = {
    name: getattr(optuna.pruners, cls) for name, cls in PRUNER_CLASSES.items()
}


def make_pruner(name: str, options: dict[str, object] | None = None) -> optuna.pruners.BasePruner:
    """The Optuna pruner ``--pruner`` names: ``median`` (``MedianPruner``),
    ``hyperband`` (``HyperbandPruner``) or ``none`` (``NopPruner``).

    Always explicit: Optuna's default for a study without one is a ``MedianPruner``,
    and quarch reports epochs only when the run asked for pruning. Every option is
    checked here, where a new run, a resumed one (whose ``--pruner-option`` replaces
    the saved ones) and the API all pass, so each is refused in the same line.
    """
    opts = dict(options or {})
    if name not in _PRUNERS:
        raise ConfigError(f"unknown pruner {name!r}; choose from: {', '.join(_PRUNERS)}")
    try:
        option_problems(name, opts)  # the command line's early check too, in its words
        pruner = _PRUNERS[name](**opts)  # type: ignore[arg-type]
        if name == "hyperband":
            _check_hyperband(**opts)
    except (TypeError, ValueError) as e:
        raise bad_pruner_options(name, opts, e) from None
    return pruner


def _check_hyperband(
    min_resource: Any = 1, max_resource: Any = "auto", reduction_factor: Any = 3,
    bootstrap_count: Any = 0,
) -> None:  # fmt: skip
    """What Optuna's ``HyperbandPruner`` checks only at the first epoch of the first
    trial (each trial then failed with ``ZeroDivisionError`` or ``math domain error``
    until the search gave up): its brackets' ``SuccessiveHalvingPruner`` checks, made
    now, and a ``max_resource`` of at least ``min_resource`` (the integers are
    :func:`~quarch._pruner_options.option_problems`')."""
    optuna.pruners.SuccessiveHalvingPruner(
        min_resource=min_resource, reduction_factor=reduction_factor,
        bootstrap_count=bootstrap_count,
    )  # fmt: skip
    if max_resource != "auto" and (isinstance(max_resource, bool) or max_resource < min_resource):
        raise ValueError(
            f"max_resource must be 'auto' or an integer >= min_resource ({min_resource}); "
            f"got {max_resource!r}"
        )


def load_study(
    spec: str, run_dir: Path, study_name: str, *, storage: BaseStorage | str | None = None
) -> optuna.Study:
    """Load an existing study; a missing or unreadable one is a :class:`RunError`.
    ``storage``: the storage ``spec`` names, opened already (a writer's, see
    :func:`make_storage`), to load the study through."""
    if spec in ("sqlite", "journal"):
        name = "study.db" if spec == "sqlite" else "journal.log"
        if not (run_dir / name).is_file():  # opening it would create an empty one
            raise RunError(f"run folder {str(run_dir)!r} has no {name}: its study is missing")
    elif spec.startswith("sqlite:///"):  # the same for a SQLite file named by URL
        path = spec[len("sqlite:///") :].split("?", 1)[0]
        if path != ":memory:" and not Path(path).is_file():
            raise RunError(f"no study database at {path!r} (storage {mask_secrets(spec)!r})")
    try:
        opened = make_storage(spec, run_dir) if storage is None else storage
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.load_study(
                study_name=study_name, storage=opened, pruner=optuna.pruners.NopPruner()
            )
    except KeyError:
        raise RunError(f"no study named {study_name!r} in storage {mask_secrets(spec)!r}") from None
    except Exception as e:  # a damaged study.db or journal.log, a database gone
        raise RunError(_storage_error(spec, e)) from None


def delete_study(spec: str, run_dir: Path, study_name: str) -> None:
    """Delete the study ``study_name`` (``overwrite=True``); nothing when there is none."""
    if spec == "sqlite":
        for name in SQLITE_FILES:
            (run_dir / name).unlink(missing_ok=True)
        return
    if spec == "journal":
        (run_dir / "journal.log").unlink(missing_ok=True)
        return
    try:
        optuna.delete_study(study_name=study_name, storage=make_storage(spec, run_dir))
    except KeyError:
        return
