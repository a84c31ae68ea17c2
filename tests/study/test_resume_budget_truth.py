"""A resume's trial budget (``quarch/study/_loop.py``: ``run_search``'s ``resume``),
against its docstring: a ``trials`` at or below the trials already done changes
nothing, and the run keeps its saved budget; one above them is the budget from now on,
also when it is lower than the saved one.

Before, ``quarch search --resume RUN --trials 3`` on a run with 8 trials done printed
"nothing to do" and rewrote ``config.json`` (and the study's stored config, which
``quarch worker`` reads) with a budget of 3, which every later resume kept. The truth
read here is the run folder's files (``config.json`` as JSON, the study's stored
config through SQLite itself), the trials in ``study.db``, and the command's line.
Metrics come from :class:`ArithmeticEvaluator`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sqlite3
from pathlib import Path
from typing import Any

import optuna
import pytest

from quarch.cli import main
from quarch.config import SearchConfig
from quarch.study import Run, check_search, resume_config, run_search
from quarch.testing.evaluators import ArithmeticEvaluator

from ._server import URL, file_as_server


def _cfg(out: Path, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {"space": "mlp", "dataset": "iris", "trials": 8,
                            "strategy": "random", "out": str(out)}  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def _files(run: Path) -> dict[str, str]:
    return {name: (run / name).read_text() for name in ("config.json", "run.json")}


def _db(run: Path) -> tuple[list[str], int]:
    """The states of the trials in ``study.db`` and the budget in the study's stored
    config (what ``quarch worker`` reads), read with SQLite itself."""
    with contextlib.closing(sqlite3.connect(run / "study.db")) as con:
        states = [s for (s,) in con.execute("SELECT state FROM trials ORDER BY number")]
        (raw,) = con.execute(
            "SELECT value_json FROM study_user_attributes WHERE key = 'quarch:config'"
        ).fetchone()
    return states, json.loads(raw)["trials"]


def _resume(run: Path, trials: int | None, **kw: Any) -> Any:
    return run_search(resume_config(run, trials=trials), resume=True,
                      evaluator=ArithmeticEvaluator(), progress=False, **kw)  # fmt: skip


def _stopped_at(run: Path, done: int, trials: int) -> None:
    """A run of budget ``trials`` stopped (Ctrl-C) with ``done`` trials complete."""

    def stop(n: int, target: int, record: Any) -> None:
        if n == done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_search(_cfg(run, trials=trials), evaluator=ArithmeticEvaluator(), progress=False,
                   on_trial=stop)  # fmt: skip


@pytest.mark.parametrize("asked", [3, 8])
def test_a_budget_at_or_below_the_trials_done_changes_nothing(tmp_path: Path, asked: int) -> None:
    run = tmp_path / "run"
    run_search(_cfg(run), evaluator=ArithmeticEvaluator(), progress=False)
    before, db_before = _files(run), _db(run)
    assert db_before == (["COMPLETE"] * 8, 8)
    res = _resume(run, asked)
    assert res.stopped == "already complete"
    assert (res.done, res.config.trials) == (8, 8)  # the run's budget, as saved
    assert _files(run) == before  # config.json and run.json, byte for byte
    assert _db(run) == db_before
    # later resumes keep it: 8 is complete, 10 runs two more
    assert _resume(run, None).stopped == "already complete"
    res = _resume(run, 10)
    assert (res.stopped, res.done, res.config.trials) == ("budget", 10, 10)
    assert json.loads((run / "config.json").read_text())["trials"] == 10
    assert _db(run) == (["COMPLETE"] * 10, 10)


def test_a_lower_budget_above_the_trials_done_is_the_callers_choice(tmp_path: Path) -> None:
    """8 done of 20, resumed with ``trials=12``: 4 more, and 12 is the budget from now
    on (``run_search``'s docstring)."""
    run = tmp_path / "run"
    _stopped_at(run, 8, 20)
    assert _db(run) == (["COMPLETE"] * 8, 20)
    modes: list[str] = []

    def mode(done: int, target: int, record: Any) -> None:
        with contextlib.closing(sqlite3.connect(run / "study.db")) as con:
            modes.append(str(con.execute("PRAGMA journal_mode").fetchone()[0]))

    res = _resume(run, 12, on_trial=mode)
    assert (res.stopped, res.done, res.config.trials) == ("budget", 12, 12)
    assert modes == ["wal"] * 4  # counting the trials done first kept no hold on the file
    assert json.loads((run / "config.json").read_text())["trials"] == 12
    assert _db(run) == (["COMPLETE"] * 12, 12)
    assert _resume(run, None).stopped == "already complete"


def test_asking_for_the_trials_done_of_an_unfinished_run_runs_nothing(tmp_path: Path) -> None:
    """4 done of 8, resumed with ``trials=4``: nothing runs and the run keeps its budget
    of 8, which a later resume continues to."""
    run = tmp_path / "run"
    _stopped_at(run, 4, 8)
    before = _files(run)
    for asked in (4, 2):
        res = _resume(run, asked)
        assert (res.stopped, res.done, res.config.trials) == ("already complete", 4, 8)
        assert _files(run) == before
        assert _db(run) == (["COMPLETE"] * 4, 8)
    res = _resume(run, None)
    assert (res.stopped, res.done, res.config.trials) == ("budget", 8, 8)


def test_the_trials_done_are_those_the_budget_counts(tmp_path: Path) -> None:
    """The trials done are what the budget counts: complete ones, not failed ones. 4 complete
    and 3 failed of a budget of 8: a resume asking for 6 runs 2 more, and 6 is the
    budget; one asking for 4 runs nothing."""
    run = tmp_path / "run"
    _stopped_at(run, 4, 8)
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
    for _ in range(3):
        study.tell(study.ask(), state=optuna.trial.TrialState.FAIL)
    del study
    before = _files(run)
    res = _resume(run, 4)
    assert (res.stopped, res.done, res.config.trials) == ("already complete", 4, 8)
    assert _files(run) == before
    res = _resume(run, 6)
    assert (res.stopped, res.done, res.config.trials) == ("budget", 6, 6)
    assert _db(run) == (["COMPLETE"] * 4 + ["FAIL"] * 3 + ["COMPLETE"] * 2, 6)


def test_the_dry_run_and_the_commands_line_say_the_budget_kept(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``quarch search --resume RUN --trials 3`` on a run with 8 done: the dry run
    prints the budget the run keeps (8), and the search's line says the budget is 8;
    nothing on disk changes."""
    run = tmp_path / "run"
    run_search(_cfg(run, epochs=1), progress=False)
    before = _files(run)
    assert check_search(resume_config(run, trials=3), resume=True).trials == 8
    code = main(["search", "--resume", str(run), "--trials", "3", "--dry-run", "--json"])
    out, err = capfd.readouterr()
    assert (code, err) == (0, ""), err
    assert json.loads(out)["trials"] == 8
    code = main(["search", "--resume", str(run), "--trials", "3", "--quiet"])
    out, err = capfd.readouterr()
    assert code == 0, err
    assert "already has 8 trials done, its budget is 8; nothing to do" in err
    assert "trials: 8  complete: 8" in out
    assert _files(run) == before


def test_the_trials_done_are_counted_with_the_password_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run on a database whose URL holds a password (not stored in the run folder),
    resumed with that URL and a lower budget: the study is read with the password given
    (``resume_search``'s ``overrides``), never with the stored URL, which has none. The
    database is a SQLite file standing in for the server, as in
    ``test_loop_workers_truth.py``."""
    url = URL
    db = tmp_path / "server.db"
    opened = file_as_server(monkeypatch, db)
    run = tmp_path / "run"
    run_search(_cfg(run, trials=4, storage=url), evaluator=ArithmeticEvaluator(), progress=False)
    before = _files(run)
    cfg = dataclasses.replace(resume_config(run, trials=2), storage=url)
    res = run_search(cfg, resume=True, evaluator=ArithmeticEvaluator(), progress=False)
    assert (res.stopped, res.done, res.config.trials) == ("already complete", 4, 4)
    assert _files(run) == before
    assert set(opened) == {url}


def test_the_trials_done_are_the_runs_own_study_in_a_shared_database(tmp_path: Path) -> None:
    """Two runs in one database file, told apart by their study names (``--study``):
    a resume with a lower budget counts its own study's trials (Optuna opens a
    database's only study when no name is given; with two it cannot choose)."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = tmp_path / "first", tmp_path / "second"
    run_search(_cfg(first, trials=4, storage=url, study_name="first"),
               evaluator=ArithmeticEvaluator(), progress=False)  # fmt: skip
    run_search(_cfg(second, trials=2, storage=url, study_name="second"),
               evaluator=ArithmeticEvaluator(), progress=False)  # fmt: skip
    before = _files(second)
    res = _resume(second, 1)
    assert (res.stopped, res.done, res.config.trials) == ("already complete", 2, 2)
    assert _files(second) == before
    res = _resume(second, 3)
    assert (res.stopped, res.done, res.config.trials) == ("budget", 3, 3)
    assert len(Run.open(first).result().complete) == 4
