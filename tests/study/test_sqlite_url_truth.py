"""``--storage sqlite:///FILE``: checked before the data without creating FILE.

The README: ``--dry-run`` writes nothing, and nothing is written before a run can
start. Other databases are checked by opening them; a SQLite file opened so was created
with Optuna's schema (114688 bytes), which a dry run and a start refused later (its data
missing) left behind (found by session 33's user-path audit). The truth for a file that
is or is not a database is SQLite itself (``sqlite3``), and the run's study is read back
with Optuna.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import optuna
import pytest

from quarch._errors import QuarchError, RunError
from quarch.config import SearchConfig
from quarch.study import check_search, run_search
from quarch.study._storage import check_sqlite_url


def _config(tmp_path: Path, db: Path, **kw: object) -> SearchConfig:
    base: dict[str, object] = {"space": "mlp", "dataset": "iris", "trials": 1, "epochs": 1,
                               "storage": f"sqlite:///{db}", "out": str(tmp_path / "run")}  # fmt: skip
    return SearchConfig.from_dict({**base, **kw})


def test_a_dry_run_with_a_sqlite_url_writes_no_database(tmp_path: Path) -> None:
    check_search(_config(tmp_path, tmp_path / "study.sqlite"))
    assert list(tmp_path.iterdir()) == []


def test_a_refused_start_with_a_sqlite_url_leaves_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUARCH_OFFLINE", "1")
    empty = tmp_path / "empty"
    empty.mkdir()
    config = _config(tmp_path, tmp_path / "study.sqlite", dataset="mnist", data_dir=str(empty))
    with pytest.raises(QuarchError, match="mnist: missing"):
        run_search(config, progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["empty"]


def test_what_sqlite_could_not_open_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "text.db").write_text("not a database\n" * 10)
    cases = {
        tmp_path / "no-dir" / "s.db": f"its folder {str(tmp_path / 'no-dir')!r} does not "
        "exist (SQLite makes no folders)",
        tmp_path: "it is a folder",
        tmp_path / "text.db": "the file is not a SQLite database",
    }
    for db, why in cases.items():
        with pytest.raises(sqlite3.DatabaseError):  # SQLite itself cannot read it
            sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True).execute("PRAGMA schema_version")
        with pytest.raises(RunError) as e:
            check_search(_config(tmp_path, db))
        assert str(e.value) == f"cannot open storage 'sqlite:///{db}': {why}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["text.db"]


def test_the_start_creates_the_file_and_a_second_run_shares_it(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    sqlite3.connect(db).close()  # an empty file: SQLite's empty database
    res = run_search(_config(tmp_path, db), progress=False)
    assert len(res.complete) == 1
    studies = optuna.get_all_study_names(f"sqlite:///{db}")
    assert studies == ["quarch"]
    check_search(_config(tmp_path, db, out=str(tmp_path / "other"), study_name="second"))
    assert optuna.get_all_study_names(f"sqlite:///{db}") == ["quarch"]  # checked, not written


def test_the_check_reads_the_file_not_the_query_and_leaves_uris_to_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = tmp_path / "text.db"
    text.write_text("not a database\n")
    for query in ("?timeout=5", "?x=a://b"):  # a query, one holding "://" too
        with pytest.raises(RunError, match="the file is not a SQLite database"):
            check_sqlite_url(f"sqlite:///{text}{query}")
    good = tmp_path / "good.db"
    sqlite3.connect(good).close()
    check_sqlite_url(f"sqlite:///{good}?timeout=5")  # SQLite's own empty database
    # a URI filename (SQLite reads it itself at the start): not checked as a path
    check_sqlite_url(f"sqlite:///file:{tmp_path / 'no-dir' / 'x.db'}?mode=rwc&uri=true")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.db", "text.db"]


def test_write_permission_is_asked_of_the_file_or_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``os.access`` stands in for permissions (root may write anywhere)."""
    import quarch.study._storage as storage

    good = tmp_path / "good.db"
    sqlite3.connect(good).close()
    asked: list[tuple[Path, int]] = []

    def access(path: str | Path, mode: int) -> bool:
        asked.append((Path(path), mode))
        return False

    monkeypatch.setattr(storage.os, "access", access)
    with pytest.raises(RunError) as e:
        check_sqlite_url(f"sqlite:///{good}")
    assert str(e.value) == f"cannot open storage 'sqlite:///{good}': the file is not writable"
    assert asked == [(good, os.W_OK)]
    asked.clear()
    with pytest.raises(RunError) as e:
        check_sqlite_url(f"sqlite:///{tmp_path / 'new.db'}")
    assert str(e.value) == (
        f"cannot open storage 'sqlite:///{tmp_path / 'new.db'}': its folder "
        f"{str(tmp_path)!r} is not writable"
    )
    assert asked == [(tmp_path, os.W_OK | os.X_OK)]
    asked.clear()
    bad = tmp_path / "bad.db"
    bad.write_text("not a database\n")
    with pytest.raises(RunError) as e:  # what it is comes first; permissions are not asked
        check_sqlite_url(f"sqlite:///{bad}")
    assert str(e.value).endswith(": the file is not a SQLite database") and asked == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.db", "good.db"]
