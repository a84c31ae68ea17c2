"""How a search's SQLite study gets WAL mode and gives it back
(``quarch/study/_storage.py``: ``_wal_storage`` and ``close_storage``), with real locks.

The truth is SQLite's: a second ``sqlite3`` connection that holds a read transaction
keeps the file from changing its journal mode (WAL needs the file to itself for a
moment, and so does leaving it), and ``PRAGMA journal_mode`` read back afterwards says
which mode the file is in. The URLs carry ``?timeout=0`` (pysqlite's busy timeout, 5 s
by default) so a refused switch is answered at once; the waits between tries are
recorded instead of slept.
"""

from __future__ import annotations

import contextlib
import sqlite3
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy.exc
from optuna.storages import RDBStorage

from quarch.study import _storage
from quarch.study._storage import close_storage, make_storage


def _pragma(db: Path, name: str) -> str:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return str(con.execute(f"PRAGMA {name}").fetchone()[0])


def _waits(
    monkeypatch: pytest.MonkeyPatch, then: Callable[[int], None] | None = None
) -> list[float]:
    """Record ``_storage``'s waits instead of sleeping; ``then(n)`` runs after the n-th."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        assert seconds >= 0  # time.sleep refuses a negative wait
        waits.append(seconds)
        if then is not None:
            then(len(waits))

    monkeypatch.setattr(_storage.time, "sleep", sleep)
    return waits


@contextlib.contextmanager
def _reader(db: Path) -> Iterator[sqlite3.Connection]:
    """Another process's reader in the middle of a read transaction (a shared lock)."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("BEGIN")
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        yield con
    finally:
        if con.in_transaction:
            con.execute("COMMIT")
        con.close()


def _two_trials(storage: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(storage=storage, study_name="quarch")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)


def _new_db(tmp_path: Path) -> Path:
    """A study database with Optuna's tables, in SQLite's default (rollback) mode."""
    db = tmp_path / "study.db"
    RDBStorage(f"sqlite:///{db}").engine.dispose()
    assert _pragma(db, "journal_mode") == "delete"
    return db


def _synchronous(storage: RDBStorage) -> int:
    with storage.engine.connect() as con:
        value = con.exec_driver_sql("PRAGMA synchronous").scalar()
    assert isinstance(value, int)
    return value


def test_a_free_file_switches_to_wal_at_once_and_waits_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits = _waits(monkeypatch)
    storage = make_storage("sqlite", tmp_path, writer=True)
    assert isinstance(storage, RDBStorage)
    assert waits == []  # opened and switched at the first try
    assert _pragma(tmp_path / "study.db", "journal_mode") == "wal"
    assert _synchronous(storage) == 1  # NORMAL
    close_storage(storage)


def test_wal_waits_for_a_reader_then_switches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader holding the file: each try is refused by SQLite itself, and the waits
    grow by 50 ms; once the reader ends its transaction the next try switches."""
    db = _new_db(tmp_path)
    with _reader(db) as reader:

        def end_reader(n: int) -> None:
            if n == 3:
                reader.execute("COMMIT")

        waits = _waits(monkeypatch, end_reader)
        storage = _storage._wal_storage(f"sqlite:///{db}?timeout=0")
    assert waits == pytest.approx([0.05, 0.10, 0.15])
    assert _pragma(db, "journal_mode") == "wal"
    assert _synchronous(storage) == 1
    _two_trials(storage)
    close_storage(storage)
    assert _pragma(db, "journal_mode") == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]


def test_a_file_never_free_is_written_in_rollback_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20 tries over 10.5 s, then the run writes in SQLite's default mode, correct and
    slower, and its connections still commit with synchronous=NORMAL."""
    db = _new_db(tmp_path)
    waits = _waits(monkeypatch)
    with _reader(db):
        storage = _storage._wal_storage(f"sqlite:///{db}?timeout=0")
    assert waits == pytest.approx([0.05 * k for k in range(1, 21)])
    assert sum(waits) == pytest.approx(10.5)
    assert _pragma(db, "journal_mode") == "delete"
    assert _synchronous(storage) == 1
    _two_trials(storage)  # it writes
    assert not (tmp_path / "study.db-wal").exists()
    close_storage(storage)
    assert _pragma(db, "journal_mode") == "delete"
    assert _synchronous(storage) == 2  # the hook is gone: SQLite's default, FULL
    loaded = optuna.load_study(study_name="quarch", storage=f"sqlite:///{db}")
    assert len(loaded.trials) == 2


def test_opening_gives_up_after_ten_tries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Optuna's "check, then create" losing to a reader every time: 10 tries, 9 waits
    growing by 50 ms (2.25 s), then SQLite's error itself."""
    calls: list[str] = []

    def never(url: str, **kw: Any) -> RDBStorage:
        calls.append(url)
        raise sqlalchemy.exc.OperationalError("CREATE", {}, Exception("database is locked"))

    monkeypatch.setattr(_storage, "RDBStorage", never)
    waits = _waits(monkeypatch)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
        make_storage("sqlite", tmp_path, writer=True)
    assert calls == [f"sqlite:///{tmp_path.resolve() / 'study.db'}"] * 10
    assert waits == pytest.approx([0.05 * k for k in range(1, 10)])
    assert sum(waits) == pytest.approx(2.25)


def test_opening_retried_once_waits_50_ms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    class Once(RDBStorage):
        def __init__(self, url: str, **kw: Any) -> None:
            calls.append(url)
            if len(calls) == 1:
                raise sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("version row"))
            super().__init__(url, **kw)

    monkeypatch.setattr(_storage, "RDBStorage", Once)
    waits = _waits(monkeypatch)
    storage = make_storage("sqlite", tmp_path, writer=True)
    assert len(calls) == 2 and waits == pytest.approx([0.05])
    assert _pragma(tmp_path / "study.db", "journal_mode") == "wal"
    close_storage(storage)


def test_a_run_ending_while_a_reader_holds_the_file_keeps_its_wal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaving WAL needs the file to itself too: with a reader in a transaction the
    file stays in WAL mode, as after a kill, closing raises nothing and nothing is
    lost; the next writer folds it back in."""
    db = _new_db(tmp_path)
    storage = _storage._wal_storage(f"sqlite:///{db}?timeout=0")
    _two_trials(storage)
    with _reader(db):
        close_storage(storage)  # SQLite refuses the switch: suppressed
        assert (tmp_path / "study.db-wal").exists()
    assert _pragma(db, "journal_mode") == "wal"
    assert _synchronous(storage) == 2  # the hook was removed all the same
    storage.engine.dispose()  # that connection, pooled, would hold the file too
    again = _storage._wal_storage(f"sqlite:///{db}?timeout=0")
    assert len(optuna.load_study(study_name="quarch", storage=again).trials) == 2
    close_storage(again)
    assert _pragma(db, "journal_mode") == "delete"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
