"""A stopped benchmark whose finished runs an older quarch kept (its journal lines have
no ``stopped`` field, which ``run_one``'s rows have had since session 41) is finished
by the same call, as one this quarch kept (``run_benchmark`` drops the field where
there is one).

Truth: the same benchmark run without a stop (its rows, by strategy and seed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import quarch.benchmark._harness as harness
from quarch.benchmark import run_benchmark
from quarch.benchmark._harness import RUNS_FILE

_ARGS: dict[str, Any] = {
    "task": "synthetic-qubo", "strategies": ["random", "local"], "seeds": 2, "trials": 6,
    "progress": False,
}  # fmt: skip
_SAME = ("strategy", "seed", "score", "regret", "queries_to_target", "queries", "skipped",
         "picked", "optimum")  # fmt: skip
_RUN_JOB = harness._run_job


def test_runs_kept_by_an_older_quarch_without_their_stop_line_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run_benchmark(**_ARGS, out=str(tmp_path / "whole"))
    calls: list[Any] = []

    def stop_at_the_third(job: Any) -> dict[str, Any]:
        calls.append(job)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return _RUN_JOB(job)

    out = tmp_path / "b"
    monkeypatch.setattr(harness, "_run_job", stop_at_the_third)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(**_ARGS, out=str(out))
    lines = [json.loads(x) for x in (out / RUNS_FILE).read_text().splitlines()]
    assert len(lines) == 3 and all("stopped" in r for r in lines[1:])
    old = [lines[0], *({k: v for k, v in r.items() if k != "stopped"} for r in lines[1:])]
    (out / RUNS_FILE).write_text("".join(json.dumps(x) + "\n" for x in old))
    monkeypatch.setattr(harness, "_run_job", _RUN_JOB)
    result = run_benchmark(**_ARGS, out=str(out))
    assert [tuple(r[k] for k in _SAME) for r in result.rows] == [
        tuple(r[k] for k in _SAME) for r in whole.rows
    ]
    assert all("stopped" not in r for r in result.rows)
