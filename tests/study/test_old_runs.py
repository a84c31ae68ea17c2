"""Run folders written by quarch 0.1.0 (before the rooms redesign) still work.

The fixtures in ``tests/fixtures/runs-0.1.0`` were written by the code at commit 3ed8693;
they stand for the runs users already have. Each is copied to a temporary folder (tests
write nowhere else), then resumed, reported, trained and exported with today's code.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from quarch.finalize import export_trial, train_trial
from quarch.study import Run, resume_search

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "runs-0.1.0"


def _copy(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(FIXTURES / name, dst)
    return dst


def test_fixtures_are_the_old_layout() -> None:
    for name in ("hqnn-iris", "cnn-digits"):
        meta = json.loads((FIXTURES / name / "run.json").read_text())
        assert meta["quarch_version"] == "0.1.0"
        assert (FIXTURES / name / "study.db").is_file()


def test_old_hqnn_run_resumes_reports_trains_and_exports(tmp_path: Path) -> None:
    run_dir = _copy("hqnn-iris", tmp_path)
    before = Run.open(run_dir).result()
    assert len(before.complete) == 3
    res = resume_search(run_dir, trials=4, progress=False)
    assert len(res.complete) == 4
    # the old trials are untouched; the new one has the next trial seed
    assert [t.metrics for t in res.complete[:3]] == [t.metrics for t in before.complete]

    from quarch.report import write_report

    rep = write_report(run_dir)
    assert rep.html.is_file() and rep.pngs

    t = before.complete[0]
    tr = train_trial(run_dir, t.number, epochs=1, seeds=1)
    assert len(tr.test_accuracy) == 1 and tr.ablation_test_accuracy

    for fmt, name in [("torch", "m.pt"), ("qasm", "c.qasm"), ("qiskit", "c.qpy"),
                      ("pennylane", "c.py")]:  # fmt: skip
        out = export_trial(run_dir, t.number, fmt, tmp_path / name)
        assert out.path.is_file()
        # the weights the old search saved are loaded and score as the trial did
        assert out.checks["weights"] == "loaded"
        assert out.checks["val_error"] == pytest.approx(t.metrics["val_error"], abs=1e-9)
        assert out.checks["test_error"] == pytest.approx(t.metrics["test_error"], abs=1e-9)


def test_old_cnn_run_resumes_and_exports(tmp_path: Path) -> None:
    run_dir = _copy("cnn-digits", tmp_path)
    before = Run.open(run_dir).result()
    res = resume_search(run_dir, trials=3, progress=False)
    assert len(res.complete) == 3
    assert [t.params for t in res.complete[:2]] == [t.params for t in before.complete]
    t = before.complete[0]
    out = export_trial(run_dir, t.number, "onnx", tmp_path / "m.onnx")
    assert out.checks["weights"] == "loaded"
    assert out.checks["test_error"] == pytest.approx(t.metrics["test_error"], abs=1e-9)
    assert out.checks["max_abs_diff_vs_torch"] < 1e-4
