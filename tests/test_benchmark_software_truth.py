"""A stopped benchmark finished with other software (an upgraded library, an edited
quarch checkout) takes its kept runs, as ``quarch search --resume`` does, says so once
and records it: the kept-runs file's first line and the result's JSON carry the
software the first runs were made with and each change since.

Truth: each library's own version (``torch.__version__``), this process's
``software()``, and the same benchmark run without a stop (its rows).
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from pathlib import Path
from typing import Any

import numpy
import pytest
import torch

import quarch.benchmark._harness as harness
from quarch import _software
from quarch._warnings import QuarchWarning
from quarch.benchmark import run_benchmark
from quarch.benchmark._harness import RUNS_FILE

from .test_software_truth import _upgraded

_ARGS: dict[str, Any] = {
    "task": "synthetic-qubo", "strategies": ["random", "local"], "seeds": 2, "trials": 6,
    "progress": False,
}  # fmt: skip
_SAME = ("strategy", "seed", "score", "regret", "queries_to_target", "queries")
_RUN_JOB = harness._run_job


def _stopped_at(monkeypatch: pytest.MonkeyPatch, out: Path, job: int) -> None:
    """Run the benchmark into ``out`` and stop it (Ctrl-C) at its ``job``-th job."""
    calls: list[Any] = []

    def stop(j: Any) -> dict[str, Any]:
        calls.append(j)
        if len(calls) == job:
            raise KeyboardInterrupt
        return _RUN_JOB(j)

    monkeypatch.setattr(harness, "_run_job", stop)
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(**_ARGS, out=str(out))
    monkeypatch.setattr(harness, "_run_job", _RUN_JOB)


def _header(out: Path) -> dict[str, Any]:
    first: dict[str, Any] = json.loads((out / RUNS_FILE).read_text().splitlines()[0])
    return first


def _quietly(out: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuarchWarning)
        return run_benchmark(**_ARGS, out=str(out))


def test_kept_runs_taken_with_other_software_are_said_and_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = run_benchmark(**_ARGS, out=str(tmp_path / "whole"))
    assert whole.to_json()["software"] == _software.software()
    assert "software_changes" not in whole.to_json()
    out = tmp_path / "b"
    _stopped_at(monkeypatch, out, 2)  # one run kept
    start = _header(out)["software"]
    assert start == _software.software() and start["torch"] == torch.__version__

    _upgraded(monkeypatch, torch="9.9.9", numpy="8.8.8")
    monkeypatch.setattr(harness, "_run_job", _RUN_JOB)
    with pytest.warns(QuarchWarning) as said:
        _stopped_at(monkeypatch, out, 2)  # one more run kept, by the other software
    lines = [str(w.message) for w in said if "other software" in str(w.message)]
    assert lines == [
        f"resuming {str(out)!r} with other software than it started with (numpy "
        f"{numpy.__version__} -> 8.8.8; torch {torch.__version__} -> 9.9.9): its runs from "
        "before and after may not compare (the result's software_changes, in --json, records it)"
    ]
    header = _header(out)
    assert header["software"] == start  # the first runs', not this process's
    (change,) = header["software_changes"]
    assert change["changed"] == {
        "numpy": [numpy.__version__, "8.8.8"],
        "torch": [torch.__version__, "9.9.9"],
    }
    assert dt.datetime.fromisoformat(change["resumed"]).utcoffset() == dt.timedelta(0)
    assert len((out / RUNS_FILE).read_text().splitlines()) == 1 + 2

    monkeypatch.undo()  # the software it started with: nothing more to say or record
    result = _quietly(out)
    js = result.to_json()
    assert js["software"] == start and js["software_changes"] == [change]
    kept = json.loads((out / "benchmark.json").read_text())  # the folder says it too
    assert kept["software"] == start and kept["software_changes"] == [change]
    assert [tuple(r[k] for k in _SAME) for r in result.rows] == [
        tuple(r[k] for k in _SAME) for r in whole.rows
    ]
    assert not (out / RUNS_FILE).exists()


def test_kept_runs_of_the_same_software_are_taken_without_a_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "b"
    _stopped_at(monkeypatch, out, 3)
    header = _header(out)
    assert header == {"settings": header["settings"], "software": _software.software()}
    js = _quietly(out).to_json()
    assert js["software"] == _software.software() and "software_changes" not in js


def test_runs_kept_before_software_was_recorded_have_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file from a quarch that recorded no software: its runs are taken without a
    word, and the result does not claim this process's software made them."""
    out = tmp_path / "b"
    _stopped_at(monkeypatch, out, 3)
    lines = (out / RUNS_FILE).read_text().splitlines()
    old = {"settings": json.loads(lines[0])["settings"]}
    (out / RUNS_FILE).write_text("\n".join([json.dumps(old), *lines[1:]]) + "\n")
    _upgraded(monkeypatch, torch="9.9.9")
    js = _quietly(out).to_json()
    assert js["software"] is None and "software_changes" not in js


def test_overwriting_kept_runs_starts_the_record_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "b"
    _stopped_at(monkeypatch, out, 3)
    _upgraded(monkeypatch, torch="9.9.9")
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuarchWarning)
        js = run_benchmark(**_ARGS, out=str(out), overwrite=True).to_json()
    assert js["software"] == _software.software() and js["software"]["torch"] == "9.9.9"
    assert "software_changes" not in js
