"""optuna-dashboard reads a quarch run as the README says (issue 20).

The dashboard is a WSGI app: the test builds it from the storage argument the README's
command passes (``optuna-dashboard sqlite:///RUN/study.db``, or ``RUN/journal.log``
for a run of several workers), through the dashboard's own argument parser, and asks
its JSON API for the run's trials. No server, no network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from quarch.config import SearchConfig
from quarch.study import Run, run_search
from quarch.testing.evaluators import ArithmeticEvaluator

dashboard = pytest.importorskip("optuna_dashboard", reason="optuna-dashboard is not installed")
from optuna_dashboard._storage_url import get_storage  # noqa: E402


def _get(app: Any, path: str) -> Any:
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "test",
           "SERVER_PORT": "80", "wsgi.url_scheme": "http", "QUERY_STRING": ""}  # fmt: skip
    status: list[str] = []
    body = b"".join(app(env, lambda s, h, exc_info=None: status.append(s)))
    assert status[0].startswith("200"), (status, body[:300])
    return json.loads(body)


@pytest.mark.parametrize(("workers", "argument"), [(1, "sqlite:///{run}/study.db"),
                                                   (2, "{run}/journal.log")])  # fmt: skip
def test_dashboard_reads_a_run(tmp_path: Path, workers: int, argument: str) -> None:
    run = tmp_path / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", trials=4, workers=workers, out=str(run))
    res = run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    app = dashboard.wsgi(get_storage(argument.format(run=run.resolve())))
    (summary,) = _get(app, "/api/studies")["study_summaries"]
    assert summary["study_name"] == Run.open(run).config.study_name
    detail = _get(app, f"/api/studies/{summary['study_id']}")
    trials = sorted(detail["trials"], key=lambda t: t["number"])
    assert [t["number"] for t in trials] == [t.number for t in res.trials]
    for t, ours in zip(trials, res.trials, strict=True):
        assert t["state"] == ours.state.title()
        metrics = next(a["value"] for a in t["user_attrs"] if a["key"] == "metrics")
        assert json.loads(metrics) == ours.metrics
        shown = {p["name"]: p["param_external_value"] for p in t["params"]}
        assert shown == {k: str(v) for k, v in ours.params.items()}
