"""A new run on a database that already holds a study of its name
(``quarch/study/_loop.py``'s ``_prepare``, ``_storage.database_holds``).

Before, a second run on the same database URL (``--storage``) with the default study
name silently joined the first run's study: with the same objectives it took the first
run's trials as its own ("already complete" with trials it never ran), with others
every trial it told failed ("The number of the values 1 did not match the number of
the objectives 2") and the search never ended (412 failed trials in 40 s, found while
checking the mutant that drops ``create_study``'s directions); either way it rewrote
the first run's stored config, which ``quarch worker`` reads. Now the start is refused
in one line, before the data and with nothing written. The truth is the database read
back with SQLite and Optuna; PostgreSQL is a SQLite file standing in for the server,
as in ``test_loop_workers_truth.py``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import RDBStorage

from quarch._errors import RunError
from quarch.config import SearchConfig
from quarch.study import _storage, check_search, run_search
from quarch.testing.evaluators import ArithmeticEvaluator

from ._server import URL, file_as_server


def _cfg(out: Path, url: str, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {"space": "mlp", "dataset": "iris", "trials": 3,
                            "strategy": "random", "out": str(out), "storage": url}  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def _run(cfg: SearchConfig) -> Any:
    return run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)


def _studies(db: Path) -> dict[str, tuple[int, str]]:
    """Each study's trial count and the run folder its stored config names."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        rows = con.execute(
            "SELECT s.study_name, (SELECT COUNT(*) FROM trials t WHERE t.study_id = s.study_id),"
            " a.value_json FROM studies s JOIN study_user_attributes a"
            " ON a.study_id = s.study_id AND a.key = 'quarch:config'"
        ).fetchall()
    return {name: (n, json.loads(raw)["out"]) for name, n, raw in rows}


def _refusal(name: str, url: str) -> str:
    return (
        f"storage {url!r} already holds a study named {name!r}, and it is not this run "
        "folder's (another run's, or another program's); name this run's study with "
        "--study-name NAME, or continue that run with --resume ITS_FOLDER"
    )


@pytest.mark.parametrize("objectives", [["val_error", "params"], ["val_error"]])
def test_a_second_run_on_a_database_url_is_refused_and_the_first_kept(
    tmp_path: Path, objectives: list[str]
) -> None:
    db = tmp_path / "shared.db"
    url = f"sqlite:///{db}"
    first, second = tmp_path / "first", tmp_path / "second"
    _run(_cfg(first, url))
    before = _studies(db)
    assert before == {"quarch": (3, str(first))}
    cfg = _cfg(second, url, trials=6, objectives=objectives, seed=5)
    for start in (
        lambda: _run(cfg),
        lambda: check_search(cfg),
        lambda: check_search(cfg, overwrite=True),
    ):
        with pytest.raises(RunError) as e:
            start()
        assert str(e.value) == _refusal("quarch", url)
        assert not second.exists()
        assert _studies(db) == before
    # its own study name: both runs in the database, each with its own trials
    res = _run(_cfg(second, url, trials=4, study_name="second", objectives=objectives))
    assert (res.stopped, res.done) == ("budget", 4)
    assert _studies(db) == {"quarch": (3, str(first)), "second": (4, str(second))}
    assert optuna.get_all_study_names(url) == ["quarch", "second"]


def test_a_sqlite_file_without_that_study_is_used(tmp_path: Path) -> None:
    """A SQLite file that holds no studies table (another program's database), or
    Optuna's tables without that name, is no refusal; the file is not written before
    the run starts (``mode=ro``)."""
    db = tmp_path / "other.db"
    with contextlib.closing(sqlite3.connect(db)) as con:
        con.execute("CREATE TABLE notes (x)")
        con.commit()
    url = f"sqlite:///{db}"
    assert not _storage.database_holds(url, "quarch")
    check_search(_cfg(tmp_path / "a", url))
    with contextlib.closing(sqlite3.connect(db)) as con:
        tables = {n for (n,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"notes"}
    _run(_cfg(tmp_path / "a", url, study_name="a"))
    assert _storage.database_holds(url, "a") and not _storage.database_holds(url, "quarch")
    _run(_cfg(tmp_path / "b", url))
    assert _studies(db) == {"a": (3, str(tmp_path / "a")), "quarch": (3, str(tmp_path / "b"))}
    assert not _storage.database_holds(f"sqlite:///{tmp_path / 'missing.db'}", "quarch")


def test_a_server_database_is_asked_with_the_password_and_shown_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = URL
    db = tmp_path / "server.db"
    opened = file_as_server(monkeypatch, db)
    _run(_cfg(tmp_path / "first", url))
    with pytest.raises(RunError) as e:
        _run(_cfg(tmp_path / "second", url))
    assert str(e.value) == _refusal("quarch", "postgresql+psycopg://ann@db.example/q")
    assert not (tmp_path / "second").exists()
    assert set(opened) == {url}
    assert _studies(db) == {"quarch": (3, str(tmp_path / "first"))}


@pytest.mark.parametrize("query", ["?timeout=5", "?timeout=5&note=a://b"])
def test_a_sqlite_url_with_a_query_names_the_same_file(tmp_path: Path, query: str) -> None:
    """The file of ``sqlite:////abs/shared.db?QUERY`` is ``/abs/shared.db``, also when
    the query holds ``://``."""
    db = tmp_path / "shared.db"
    _run(_cfg(tmp_path / "first", f"sqlite:///{db}"))
    url = f"sqlite:///{db}{query}"
    assert _storage.database_holds(url, "quarch")
    with pytest.raises(RunError) as e:
        check_search(_cfg(tmp_path / "second", url))
    assert str(e.value) == _refusal("quarch", url)


def test_a_server_that_fails_the_question_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that answers the connection but not the question (it went away, the
    user may not read the table): one line naming the storage, its password masked."""
    import sqlalchemy.exc

    class Failing(RDBStorage):
        def __init__(self, given: str, **kw: Any) -> None:
            super().__init__(f"sqlite:///{tmp_path / 'server.db'}", **kw)

        def get_study_id_from_name(self, study_name: str) -> int:
            raise sqlalchemy.exc.OperationalError("SELECT", {}, Exception("server closed"))

    monkeypatch.setattr(_storage, "RDBStorage", Failing)
    url = "postgresql+psycopg://ann:s3cret@db.example/q"
    with pytest.raises(RunError) as e:
        _storage.database_holds(url, "quarch")
    assert str(e.value) == (
        "cannot open storage 'postgresql+psycopg://ann:***@db.example/q': OperationalError: "
        "(builtins.Exception) server closed [SQL: SELECT]"
    )


def test_a_worker_joins_its_own_runs_study_in_a_shared_database(tmp_path: Path) -> None:
    """``join_study(run_dir=...)`` (``quarch worker --run RUN``) loads the study the run
    folder names: in a database holding two runs' studies, Optuna cannot choose one by
    itself (it asks for a study name), and the other run's trials are not this run's."""
    from quarch.study import join_study

    db = tmp_path / "shared.db"
    url = f"sqlite:///{db}"
    first, second = tmp_path / "first", tmp_path / "second"
    # the space's own evaluator (one epoch), which a joining worker builds again
    run_search(_cfg(first, url, epochs=1), progress=False)
    run_search(_cfg(second, url, trials=4, study_name="second", epochs=1), progress=False)
    assert _studies(db) == {"quarch": (3, str(first)), "second": (4, str(second))}
    with pytest.raises(ValueError, match="does not contain exactly 1 study"):
        optuna.load_study(study_name=None, storage=url)  # why the name must be passed
    for run_dir, done in ((second, 4), (first, 3)):
        res = join_study(run_dir=run_dir)
        assert res.done == done
        assert res.study is not None
        assert res.study.study_name == ("second" if run_dir == second else "quarch")
    assert _studies(db) == {"quarch": (3, str(first)), "second": (4, str(second))}
