"""Training a chosen trial to completion, and exporting it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from quarch import ConfigError, RunError
from quarch.config import SearchConfig
from quarch.finalize import export_trial, train_trial
from quarch.models import MLP
from quarch.study import run_search


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("fin") / "run"
    res = run_search(
        SearchConfig(space="mlp", dataset="iris", trials=3, epochs=5, out=str(out)), progress=False
    )
    return out, res


def test_train_reproduces_trial_and_reports_spread(run: tuple[Path, object]) -> None:
    out, res = run
    t = res.complete[0]  # type: ignore[attr-defined]
    tr = train_trial(out, t.number, seeds=3)
    # the first seed is the trial's own: same data, seed and epochs give the trial's metrics
    assert tr.val_accuracy[0] == pytest.approx(100 * (1 - t.metrics["val_error"]))
    assert tr.test_accuracy[0] == pytest.approx(100 * (1 - t.metrics["test_error"]))
    js = tr.to_json()
    assert js["test_accuracy"]["mean"] == pytest.approx(np.mean(tr.test_accuracy))
    assert js["test_accuracy"]["std"] == pytest.approx(np.std(tr.test_accuracy, ddof=1))
    assert len(set(tr.seeds)) == 3
    saved = json.loads((out / "train" / f"trial_{t.number}.json").read_text())
    assert saved["trial"] == t.number


def test_export_torch_and_onnx_match(run: tuple[Path, object], tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    out, res = run
    t = res.complete[0]  # type: ignore[attr-defined]
    pt = export_trial(out, t.number, "torch", tmp_path / "m.pt")
    blob = torch.load(pt.path, weights_only=False)
    model = MLP(blob["arch"], tuple(blob["input_shape"]), blob["n_classes"])
    model.load_state_dict(blob["state_dict"])
    on = export_trial(out, t.number, "onnx", tmp_path / "m.onnx")
    x = np.random.default_rng(0).normal(size=(16, 4)).astype(np.float32)
    sess = ort.InferenceSession(str(on.path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    with torch.no_grad():
        want = model.eval()(torch.from_numpy(x)).numpy()
    assert np.max(np.abs(got - want)) < 1e-4
    assert on.checks["max_abs_diff_vs_torch"] < 1e-4


def test_export_errors(run: tuple[Path, object], tmp_path: Path) -> None:
    out, _ = run
    with pytest.raises(ConfigError, match="unknown export format 'tflite'"):
        export_trial(out, 0, "tflite", tmp_path / "x")
    with pytest.raises(RunError, match="has no trial 99"):
        export_trial(out, 99, "torch", tmp_path / "x")
    with pytest.raises(ConfigError, match="exports quantum circuits; trial 0 has none"):
        export_trial(out, 0, "qasm", tmp_path / "x.qasm")
