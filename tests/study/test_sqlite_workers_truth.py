"""``--storage sqlite --workers 2`` (``quarch/study/_storage.py``'s ``storage_spec``):
the storage named is the one used, for any number of workers; only a storage not given
is the journal file with several local workers.

Before, ``sqlite`` given with ``--workers 2`` was written to ``journal.log`` while the
run's ``config.json`` said ``sqlite``. The truth is a real run with a real spawned
worker, read back with SQLite itself and with Optuna: the run folder's files, the
trials in ``study.db`` and which process ran each. The evaluator's first trial in this
process waits until the spawned worker has evaluated one, so both write the study.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import optuna
import pytest

from quarch.config import SearchConfig
from quarch.study import resume_config, run_search

#: Picklable by a spawned worker: a module on the path this process hands it.
_EVALUATOR = """
import os, time
from pathlib import Path
from quarch.testing.evaluators import ArithmeticEvaluator

class BothWorkers(ArithmeticEvaluator):
    def __init__(self, flag, parent):
        super().__init__()
        self.flag, self.parent = flag, parent

    def evaluate(self, arch, *, seed):
        if os.getpid() != self.parent:
            Path(self.flag).touch()
        else:
            end = time.monotonic() + 60
            while not Path(self.flag).exists() and time.monotonic() < end:
                time.sleep(0.02)
        return super().evaluate(arch, seed=seed)
"""


def _evaluator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    import os

    folder = tmp_path / "mod"
    folder.mkdir()
    (folder / "both_workers_eval.py").write_text(_EVALUATOR)
    monkeypatch.syspath_prepend(str(folder))
    module = importlib.import_module("both_workers_eval")
    return module.BothWorkers(str(tmp_path / "worker-ran"), os.getpid())


def _read(db: Path) -> tuple[list[str], set[str], str]:
    """The complete trials' states, the processes that ran them, and the file's journal
    mode. A trial asked in a race past the budget is failed as surplus and never
    evaluated (``quarch.study._worker``, as with the journal file): it is checked to be
    that, and left out."""
    with contextlib.closing(sqlite3.connect(db)) as con:
        reasons = {
            n: json.loads(v)
            for n, v in con.execute(
                "SELECT t.number, a.value_json FROM trials t JOIN trial_user_attributes a "
                "ON a.trial_id = t.trial_id WHERE a.key = 'fail_reason'"
            )
        }
        states = []
        for n, state in con.execute("SELECT number, state FROM trials ORDER BY number"):
            if state == "FAIL" and str(reasons.get(n, "")).startswith("surplus"):
                continue
            states.append(state)
        owners = {
            json.loads(v)
            for (v,) in con.execute(
                "SELECT value_json FROM trial_system_attributes WHERE key = 'quarch:owner'"
            )
        }
        mode = str(con.execute("PRAGMA journal_mode").fetchone()[0])
    return states, owners, mode


def test_sqlite_named_with_two_workers_is_the_runs_study_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", trials=4, strategy="random", seed=0,
                       workers=2, storage="sqlite", out=str(run))  # fmt: skip
    evaluator = _evaluator(tmp_path, monkeypatch)
    res = run_search(cfg, evaluator=evaluator, progress=False)
    assert (res.stopped, res.done) == ("budget", 4)
    assert (tmp_path / "worker-ran").exists()  # the spawned worker evaluated a trial
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "run.json", "study.db"]
    assert json.loads((run / "config.json").read_text())["storage"] == "sqlite"
    assert json.loads((run / "run.json").read_text())["storage"] == "sqlite"
    states, owners, mode = _read(run / "study.db")
    assert states == ["COMPLETE"] * 4
    assert len(owners) == 2  # this process and the spawned worker both wrote study.db
    assert mode == "delete"  # the WAL folded back in when the run ended
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
    assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 4

    # a resume with two workers goes on in the same file
    (tmp_path / "worker-ran").unlink()
    more = resume_config(run, trials=6)
    res = run_search(more, resume=True, evaluator=evaluator, progress=False)
    assert (res.stopped, res.done) == ("budget", 6)
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "run.json", "study.db"]
    states, owners, _ = _read(run / "study.db")
    assert states == ["COMPLETE"] * 6 and len(owners) == 3  # this process, two workers


def test_no_storage_given_with_two_workers_is_the_journal_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default for several local workers stays the journal file, and the run
    records it (its config.json holds no storage: none was given)."""
    run = tmp_path / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", trials=2, strategy="random", seed=0,
                       workers=2, out=str(run))  # fmt: skip
    res = run_search(cfg, evaluator=_evaluator(tmp_path, monkeypatch), progress=False)
    assert (res.stopped, res.done) == ("budget", 2)
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "journal.log", "run.json"]
    assert json.loads((run / "config.json").read_text())["storage"] is None
    assert json.loads((run / "run.json").read_text())["storage"] == "journal"
