"""Where a run's study lives (``quarch/study/_storage.py``), each claim of its docstrings
checked against SQLite, Optuna and the file system themselves.

The truth here is not quarch's own output: SQLite's ``PRAGMA`` answers, the files on
disk, Optuna's pruner classes and the messages the docstrings promise.
"""

from __future__ import annotations

import contextlib
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy.exc
from optuna.storages import RDBStorage
from optuna.storages.journal import JournalStorage

from quarch import ConfigError, RunError
from quarch.study import _storage
from quarch.study._storage import (
    HEARTBEAT_SECONDS,
    SQLITE_FILES,
    close_storage,
    delete_study,
    load_study,
    make_pruner,
    make_storage,
    storage_spec,
    study_exists,
)


def _pragma(db: Path, name: str) -> str:
    with contextlib.closing(sqlite3.connect(db)) as con:
        return str(con.execute(f"PRAGMA {name}").fetchone()[0])


def _make_study(storage: Any, name: str = "quarch") -> optuna.Study:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = optuna.create_study(storage=storage, study_name=name)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    return study


# -- storage_spec ------------------------------------------------------------------------
@pytest.mark.parametrize("given", [None, ""])
def test_the_run_folders_own_file_by_workers(given: str | None, tmp_path: Path) -> None:
    """No storage given: SQLite for one process, the journal file for several local
    workers; one named is used for any number of workers (``"sqlite"`` was the journal
    file with several, while config.json said ``sqlite``)."""
    assert storage_spec(given, 1) == "sqlite"
    assert storage_spec(given, 2) == "journal"
    for workers in (1, 2, 3):
        assert storage_spec("sqlite", workers) == "sqlite"
        assert storage_spec("journal", workers) == "journal"


def test_a_database_url_is_kept_and_a_word_is_refused(tmp_path: Path) -> None:
    url = "postgresql+psycopg://ann@db.example:5432/q"
    assert storage_spec(url, 1) == url
    assert storage_spec(url, 4) == url
    with pytest.raises(ConfigError) as e:
        storage_spec("postgres", 1)
    assert str(e.value) == (
        "storage must be 'sqlite', 'journal' or a database URL such as "
        "postgresql+psycopg://user@host/db; got 'postgres'"
    )


def test_a_relative_sqlite_file_is_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert storage_spec("sqlite:///rel/s.db", 1) == f"sqlite:///{tmp_path}/rel/s.db"
    # the driver and the query survive
    assert (
        storage_spec("sqlite+pysqlite:///s.db?timeout=5", 1)
        == f"sqlite+pysqlite:///{tmp_path}/s.db?timeout=5"
    )
    # absolute paths and SQLite URIs are left as given
    assert storage_spec("sqlite:////abs/s.db", 1) == "sqlite:////abs/s.db"
    uri = "sqlite:///file:s.db?uri=true"
    assert storage_spec(uri, 1) == uri
    # "://" again inside the query: the scheme is what comes before the first one
    assert storage_spec("sqlite:///s.db?note=a://b", 1) == f"sqlite:///{tmp_path}/s.db?note=a://b"
    # not SQLite: untouched even when relative-looking
    assert storage_spec("mysql://u@h/rel", 1) == "mysql://u@h/rel"


def test_a_scheme_in_capitals_is_recorded_as_sqlalchemy_can_open_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RFC 3986: a scheme is case-insensitive; SQLAlchemy loads its dialect as written
    with pytest.raises(sqlalchemy.exc.NoSuchModuleError):
        sqlalchemy.create_engine(f"SQLite:///{tmp_path}/a.db")
    monkeypatch.chdir(tmp_path)
    assert storage_spec("SQLite:///s.db", 1) == f"sqlite:///{tmp_path}/s.db"
    assert storage_spec("SQLITE+PySQLite:///s.db", 1) == f"sqlite+pysqlite:///{tmp_path}/s.db"
    # the rest of the URL is the user's: a user name or a database name may have capitals
    assert storage_spec("PostgreSQL+psycopg://Ann@Db/Q", 1) == "postgresql+psycopg://Ann@Db/Q"
    # and what is recorded opens: a study is created and read back through it
    spec = storage_spec("SQLite:///s.db", 1)
    optuna.create_study(study_name="s", storage=make_storage(spec, tmp_path)).optimize(
        lambda t: t.suggest_float("x", 0, 1), n_trials=1
    )
    assert len(load_study(spec, tmp_path, "s").trials) == 1
    # the host check and the in-memory refusal read the scheme whatever its case
    with pytest.raises(ConfigError) as e:
        storage_spec("SQLite://x.db", 1)
    assert str(e.value).startswith(
        "storage 'SQLite://x.db' names a host, and SQLite has none: a file is sqlite:///NAME"
    )
    with pytest.raises(ConfigError, match="keeps the study in memory"):
        storage_spec("SQLite:///:memory:", 1)


@pytest.mark.parametrize(
    "url",
    ["sqlite://", "sqlite:///", "sqlite:///:memory:", "sqlite+pysqlite:///:memory:",
     "sqlite:///file:mem?mode=memory&cache=shared&uri=true",
     # no host and no file, only a query: SQLAlchemy opens an in-memory database
     "sqlite://?timeout=5"],
)  # fmt: skip
def test_an_in_memory_sqlite_study_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        storage_spec(url, 1)
    assert str(e.value) == (
        f"storage {url!r} keeps the study in memory: it would be gone when the search "
        "ends and the run could not be read again; use --storage sqlite (study.db in "
        "the run folder) or name a file, sqlite:////abs/path/study.db"
    )


@pytest.mark.parametrize(
    "url", ["sqlite://x.db", "sqlite+pysqlite://h/x.db", "sqlite://x.db?timeout=5"]
)
def test_a_sqlite_url_with_a_host_is_refused_as_sqlalchemy_refuses_it(
    url: str, tmp_path: Path
) -> None:
    with pytest.raises(sqlalchemy.exc.ArgumentError, match="Invalid SQLite URL"):
        sqlalchemy.create_engine(url).connect()
    with pytest.raises(ConfigError) as e:
        storage_spec(url, 1)
    scheme = url.partition("://")[0]
    assert str(e.value) == (
        f"storage {url!r} names a host, and SQLite has none: a file is {scheme}:///NAME "
        f"(relative to this folder) or {scheme}:////abs/path/NAME, with three or four '/'"
    )


# -- study_exists ------------------------------------------------------------------------
def test_study_exists_looks_for_the_specs_own_file(tmp_path: Path) -> None:
    for spec in ("sqlite", "journal", "postgresql://u@h/db"):
        assert not study_exists(spec, tmp_path)
    (tmp_path / "study.db").write_text("")
    assert study_exists("sqlite", tmp_path)
    assert not study_exists("journal", tmp_path)
    assert not study_exists("postgresql://u@h/db", tmp_path)
    (tmp_path / "journal.log").write_text("")
    assert study_exists("journal", tmp_path)
    assert not study_exists("postgresql://u@h/db", tmp_path)
    (tmp_path / "run.json").write_text("{}")
    assert study_exists("postgresql://u@h/db", tmp_path)


# -- make_storage / close_storage ---------------------------------------------------------
def test_a_reader_gets_the_url_of_the_folders_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r").mkdir()
    assert make_storage("sqlite", Path("r")) == f"sqlite:///{tmp_path}/r/study.db"
    assert not (tmp_path / "r" / "study.db").exists()  # a reader creates nothing
    journal = make_storage("journal", Path("r"))
    assert isinstance(journal, JournalStorage)
    _make_study(journal)
    assert (tmp_path / "r" / "journal.log").is_file()


def test_a_writer_commits_in_wal_mode_with_synchronous_normal(tmp_path: Path) -> None:
    storage = make_storage("sqlite", tmp_path, writer=True)
    assert isinstance(storage, RDBStorage)
    db = tmp_path / "study.db"
    assert _pragma(db, "journal_mode") == "wal"  # a property of the file
    with storage.engine.connect() as con:  # a per-connection setting: 1 is NORMAL
        assert con.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    _make_study(storage)
    assert (tmp_path / "study.db-wal").exists()
    with storage.engine.connect() as con:  # a new connection after the trials
        assert con.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    close_storage(storage)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
    assert _pragma(db, "journal_mode") == "delete"
    # the hook is gone: a connection opened now has SQLite's default (FULL, 2)
    with storage.engine.connect() as con:
        assert con.exec_driver_sql("PRAGMA synchronous").scalar() == 2
    assert len(optuna.load_study(study_name="quarch", storage=f"sqlite:///{db}").trials) == 2


def test_closing_a_reader_or_a_journal_changes_nothing(tmp_path: Path) -> None:
    writer = make_storage("sqlite", tmp_path, writer=True)
    _make_study(writer)
    close_storage(writer)
    reader = RDBStorage(f"sqlite:///{tmp_path / 'study.db'}")
    close_storage(reader)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.db"]
    close_storage(make_storage("journal", tmp_path))
    close_storage(f"sqlite:///{tmp_path / 'study.db'}")  # a URL string: nothing to close


def test_opening_is_retried_while_a_reader_creates_the_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Optuna creates its tables by "check, then create": a reader in between makes the
    first attempts fail, the next one finds the tables; one that never works raises."""
    calls: list[int] = []

    class Flaky(RDBStorage):
        def __init__(self, url: str, **kw: Any) -> None:
            calls.append(1)
            if len(calls) <= 3:
                raise sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("version row"))
            super().__init__(url, **kw)

    monkeypatch.setattr(_storage, "RDBStorage", Flaky)
    monkeypatch.setattr(_storage.time, "sleep", lambda s: None)
    storage = make_storage("sqlite", tmp_path, writer=True)
    assert len(calls) == 4 and _pragma(tmp_path / "study.db", "journal_mode") == "wal"
    close_storage(storage)

    def never(url: str, **kw: Any) -> RDBStorage:
        calls.append(1)
        raise sqlalchemy.exc.OperationalError("CREATE", {}, Exception("database is locked"))

    calls.clear()
    monkeypatch.setattr(_storage, "RDBStorage", never)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
        make_storage("sqlite", tmp_path / "other", writer=True)
    assert 2 < len(calls) < 100  # retried, and not forever


def test_a_database_gets_the_heartbeat_a_sqlite_url_does_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trial silent for 6 heartbeat intervals is failed by the others."""
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(url: str, **kw: Any) -> str:
        seen.append((url, kw))
        if "heartbeat_interval" in kw:  # as Optuna 4-5 do
            warnings.warn("heartbeat", optuna.exceptions.ExperimentalWarning, stacklevel=2)
        return "opened"

    monkeypatch.setattr(_storage, "RDBStorage", record)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_storage("postgresql://u@h/db", tmp_path) == "opened"
    assert seen == [("postgresql://u@h/db", {"heartbeat_interval": HEARTBEAT_SECONDS,
                                             "grace_period": 6 * HEARTBEAT_SECONDS})]  # fmt: skip
    assert HEARTBEAT_SECONDS == 5
    seen.clear()
    assert make_storage(f"sqlite:///{tmp_path}/x.db", tmp_path) == "opened"
    assert seen == [(f"sqlite:///{tmp_path}/x.db", {})]


def test_a_storage_that_cannot_open_is_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(url: str, **kw: Any) -> None:
        raise RuntimeError(
            'password authentication failed\n  for user "ann"\n'
            "(Background on this error at: https://sqlalche.me/e/20/e3q8)"
        )

    monkeypatch.setattr(_storage, "RDBStorage", refuse)
    with pytest.raises(RunError) as e:
        make_storage("postgresql+psycopg://ann:s3cret@db/q", tmp_path)
    assert str(e.value) == (
        "cannot open storage 'postgresql+psycopg://ann:***@db/q': RuntimeError: "
        'password authentication failed for user "ann" '
        "(quarch does not store a database password: set PGPASSWORD or ~/.pgpass)"
    )
    assert e.value.__cause__ is None and e.value.__suppress_context__

    def other(url: str, **kw: Any) -> None:
        raise ValueError("no route to host")

    monkeypatch.setattr(_storage, "RDBStorage", other)
    with pytest.raises(RunError) as e:
        make_storage("postgresql://ann@db/q", tmp_path)
    assert (
        str(e.value) == "cannot open storage 'postgresql://ann@db/q': ValueError: no route to host"
    )


def test_an_unknown_scheme_is_refused_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(RunError, match=r"^cannot open storage 'foo://bar': \w+: "):
        make_storage("foo://bar", tmp_path)
    assert list(tmp_path.iterdir()) == []


# -- pruners -----------------------------------------------------------------------------
def test_each_pruner_name_is_optunas_class_with_its_options() -> None:
    assert type(make_pruner("none")) is optuna.pruners.NopPruner
    assert type(make_pruner("median")) is optuna.pruners.MedianPruner
    assert type(make_pruner("hyperband")) is optuna.pruners.HyperbandPruner
    median = make_pruner("median", {"n_startup_trials": 3, "n_warmup_steps": 2})
    assert median._n_startup_trials == 3 and median._n_warmup_steps == 2  # type: ignore[attr-defined]
    hb = make_pruner("hyperband", {"min_resource": 2, "max_resource": 9, "reduction_factor": 2})
    assert hb._min_resource == 2 and hb._max_resource == 9  # type: ignore[attr-defined]
    assert hb._reduction_factor == 2  # type: ignore[attr-defined]
    opts: dict[str, object] = {"n_startup_trials": 1}
    make_pruner("median", opts)
    assert opts == {"n_startup_trials": 1}  # the caller's dict is not consumed


def test_an_unknown_pruner_or_option_is_one_config_error() -> None:
    with pytest.raises(ConfigError) as e:
        make_pruner("Median")
    assert str(e.value) == "unknown pruner 'Median'; choose from: none, median, hyperband"
    with pytest.raises(ConfigError) as e:
        make_pruner("median", {"patience": 3})
    assert str(e.value).startswith("--pruner median: bad pruner_options {'patience': 3}: ")
    assert "patience" in str(e.value).split(": ", 2)[2]
    with pytest.raises(ConfigError, match=r"^--pruner none: bad pruner_options \{'x': 1\}: "):
        make_pruner("none", {"x": 1})


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"min_resource": 1.5}, "min_resource must be an integer; got 1.5"),
        ({"min_resource": True}, "min_resource must be an integer; got True"),
        ({"reduction_factor": "3"}, "reduction_factor must be an integer; got '3'"),
        ({"bootstrap_count": 0.0}, "bootstrap_count must be an integer; got 0.0"),
        ({"max_resource": 1, "min_resource": 2},
         "max_resource must be 'auto' or an integer >= min_resource (2); got 1"),
        ({"max_resource": 0}, "max_resource must be 'auto' or an integer >= min_resource (1); got 0"),
        ({"max_resource": True},
         "max_resource must be 'auto' or an integer >= min_resource (1); got True"),
    ],
)  # fmt: skip
def test_hyperband_options_optuna_checks_only_at_the_first_epoch(
    options: dict[str, Any], reason: str
) -> None:
    """Each would have failed every trial (ZeroDivisionError, math domain error)."""
    with pytest.raises(ConfigError) as e:
        make_pruner("hyperband", options)
    assert str(e.value) == f"--pruner hyperband: bad pruner_options {options}: {reason}"


@pytest.mark.parametrize(
    "options",
    [{}, {"max_resource": "auto"}, {"min_resource": 3, "max_resource": 3},
     {"min_resource": 1, "max_resource": 2, "reduction_factor": 2, "bootstrap_count": 0}],
)  # fmt: skip
def test_hyperband_options_that_work_are_accepted(options: dict[str, Any]) -> None:
    assert type(make_pruner("hyperband", options)) is optuna.pruners.HyperbandPruner


def test_hyperband_refuses_what_successive_halving_refuses() -> None:
    bads: list[dict[str, object]] = [
        {"reduction_factor": 1},
        {"min_resource": 0},
        {"bootstrap_count": -1},
    ]
    for bad in bads:
        with pytest.raises(ConfigError, match=r"^--pruner hyperband: bad pruner_options"):
            make_pruner("hyperband", bad)
        # Optuna's own SuccessiveHalvingPruner refuses each (its HyperbandPruner only later)
        opts: dict[str, Any] = {"min_resource": 1, "reduction_factor": 3, "bootstrap_count": 0}
        with pytest.raises(ValueError):
            optuna.pruners.SuccessiveHalvingPruner(**{**opts, **bad})


# -- load_study / delete_study -----------------------------------------------------------
def test_loading_a_missing_study_creates_no_file(tmp_path: Path) -> None:
    for spec, name in (("sqlite", "study.db"), ("journal", "journal.log")):
        with pytest.raises(RunError) as e:
            load_study(spec, tmp_path, "quarch")
        assert str(e.value) == (f"run folder {str(tmp_path)!r} has no {name}: its study is missing")
    url = f"sqlite:///{tmp_path}/nowhere.db?timeout=3"
    with pytest.raises(RunError) as e:
        load_study(url, tmp_path, "quarch")
    assert str(e.value) == f"no study database at '{tmp_path}/nowhere.db' (storage {url!r})"
    assert list(tmp_path.iterdir()) == []


def test_load_study_reads_by_name_without_a_pruner(tmp_path: Path) -> None:
    _make_study(f"sqlite:///{tmp_path / 'study.db'}", name="mine")
    study = load_study("sqlite", tmp_path, "mine")
    assert len(study.trials) == 2 and type(study.pruner) is optuna.pruners.NopPruner
    with pytest.raises(RunError) as e:
        load_study("sqlite", tmp_path, "quarch")
    assert str(e.value) == "no study named 'quarch' in storage 'sqlite'"
    url = f"sqlite:///{tmp_path / 'study.db'}?timeout=3"  # a query after the file
    assert len(load_study(url, tmp_path, "mine").trials) == 2
    with pytest.raises(RunError) as e:  # in memory: no file to look for, and no study
        load_study("sqlite:///:memory:", tmp_path, "quarch")
    assert str(e.value) == "no study named 'quarch' in storage 'sqlite:///:memory:'"


def test_a_damaged_study_file_is_a_run_error(tmp_path: Path) -> None:
    (tmp_path / "study.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(RunError, match=r"^cannot open storage 'sqlite': DatabaseError: "):
        load_study("sqlite", tmp_path, "quarch")


def test_delete_study_removes_the_study_and_only_it(tmp_path: Path) -> None:
    writer = make_storage("sqlite", tmp_path, writer=True)
    _make_study(writer)
    for name in SQLITE_FILES:
        assert (tmp_path / name).exists()  # still writing: WAL files beside it
    (tmp_path / "notes.txt").write_text("mine")
    delete_study("sqlite", tmp_path, "quarch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    close_storage(writer)
    for p in tmp_path.glob("study.db*"):
        p.unlink()
    _make_study(make_storage("journal", tmp_path))
    delete_study("journal", tmp_path, "quarch")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    delete_study("journal", tmp_path, "quarch")  # nothing there: nothing happens
    delete_study("sqlite", tmp_path, "quarch")
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    _make_study(url, name="a")
    _make_study(url, name="b")
    delete_study(url, tmp_path, "a")
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["b"]
    delete_study(url, tmp_path, "a")  # already gone: nothing happens
    assert [s.study_name for s in optuna.get_all_study_summaries(url)] == ["b"]
