"""What ``run_search`` hands local workers (``quarch/study/_loop.py``), against the
docstrings of ``run_workers`` and the module ``_storage``.

A database URL is stored in the run folder without its password, so the workers must
get the storage as the caller gave it (``run_workers``' ``storage``: "a database URL
with its password, which the run folder does not store"), or they could not log in
where no ``PGPASSWORD`` is set; and the progress bar counts the trials the workers
complete while this process waits for them (``poll``). The database is a SQLite file
standing in for the server (the URL is only opened through ``_storage.RDBStorage``);
the workers are a stand-in that completes trials in the study and polls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest

from quarch.config import SearchConfig
from quarch.study import _parallel, _progress, run_search
from quarch.testing.evaluators import ArithmeticEvaluator

from ._server import URL, file_as_server


def test_workers_get_the_password_and_the_bar_counts_their_trials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "server.db"
    opened = file_as_server(monkeypatch, db)
    handed: list[str | None] = []

    def workers(study: optuna.Study, *, config: SearchConfig, poll: Any, **kw: Any) -> str:
        handed.append(kw.get("storage"))
        for x in (0.25, 0.5):  # two trials completed by the workers, then a look
            study.add_trial(
                optuna.trial.create_trial(
                    params={}, distributions={}, values=[x] * len(study.directions)
                )
            )
        poll()
        return "budget"

    monkeypatch.setattr(_parallel, "run_workers", workers)
    shown: list[tuple[int, object]] = []
    real_update = _progress.SearchProgress.update

    def update(self: _progress.SearchProgress, done: int, record: Any) -> None:
        shown.append((done, record))
        real_update(self, done, record)

    monkeypatch.setattr(_progress.SearchProgress, "update", update)
    out = tmp_path / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", trials=2, strategy="random",
                       workers=2, storage=URL, out=str(out))  # fmt: skip
    result = run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    assert handed == [URL]  # with its password
    assert set(opened) == {URL}  # this process opened it so too
    assert json.loads((out / "run.json").read_text())["storage"] == (
        "postgresql+psycopg://ann@db.example/q"  # the folder stores none
    )
    assert shown == [(2, None)]  # the workers' two trials, no record of this process
    assert len(result.trials) == 2 and result.stopped == "budget"
