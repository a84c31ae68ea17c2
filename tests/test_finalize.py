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
from quarch.spaces.cnn.evaluator import EdgeEvaluator
from quarch.spaces.hqnn.evaluator import HQNNEvaluator
from quarch.spaces.mlp.model import MLP
from quarch.study import run_search

from ._scope import per_module


@pytest.fixture(scope=per_module)
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


def test_train_on_another_device_than_the_search(run: tuple[Path, object], tmp_path: Path) -> None:
    """A run searched on a device this machine lacks (its config says ``cuda:63``) trains
    here with ``device="cpu"``, to the trial's own metrics; without it, one ConfigError
    before any training and nothing written."""
    import shutil

    out, res = run
    t = res.complete[0]  # type: ignore[attr-defined]
    moved = tmp_path / "run"
    shutil.copytree(out, moved)
    shutil.rmtree(moved / "train", ignore_errors=True)
    cfg = json.loads((moved / "config.json").read_text())
    (moved / "config.json").write_text(json.dumps({**cfg, "device": "cuda:63"}))
    with pytest.raises(ConfigError, match=r"^--device cuda:63: "):
        train_trial(moved, t.number, seeds=1)
    assert not (moved / "train").exists()
    tr = train_trial(moved, t.number, seeds=1, device="cpu")
    assert tr.val_accuracy[0] == pytest.approx(100 * (1 - t.metrics["val_error"]))
    # export: the same choice, the file written from the CPU
    target = tmp_path / "model.pt"
    with pytest.raises(ConfigError, match=r"^--device cuda:63: "):
        export_trial(moved, t.number, "torch", target)
    assert not target.exists()
    got = export_trial(moved, t.number, "torch", target, device="cpu")
    assert got.checks["val_error"] == pytest.approx(t.metrics["val_error"])
    assert torch.load(target, weights_only=False)["arch"] == t.params


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
    # before the run is opened or its data loaded (no such run here)
    with pytest.raises(ConfigError, match=r"^sample must be >= 0 \(a test-split row\); got -1$"):
        export_trial(tmp_path / "no-run", 0, "qasm", tmp_path / "x.qasm", sample=-1)
    # refused from the space's spec, before anything is trained or loaded
    with pytest.raises(ConfigError, match="space 'mlp' exports torch, onnx, onnx-int8, not 'qasm'"):
        export_trial(out, 0, "qasm", tmp_path / "x.qasm")


@pytest.fixture(scope=per_module)
def hqnn_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("hq") / "run"
    cfg = SearchConfig(space="hqnn", dataset="iris", strategy="random", trials=2, epochs=3,
                       out=str(out), space_options={"max_qubits": 3, "max_layers": 2})  # fmt: skip
    return out, run_search(cfg, progress=False)


def test_hqnn_train_has_classical_ablation(hqnn_run: tuple[Path, object]) -> None:
    out, res = hqnn_run
    t = res.complete[0]  # type: ignore[attr-defined]
    tr = train_trial(out, t.number, seeds=2)
    assert len(tr.ablation_test_accuracy) == 2
    assert tr.ablation_params is not None
    assert abs(tr.ablation_params - tr.params) <= 0.1 * tr.params + 4  # equal parameter budget


def test_hqnn_export_loads_the_searched_weights(
    hqnn_run: tuple[Path, object], tmp_path: Path
) -> None:
    """The search saved every trial's weights; export loads them and scores them exactly
    as the search did, and --epochs still retrains."""
    import torch

    out, res = hqnn_run
    for t in res.complete:  # type: ignore[attr-defined]
        pt = export_trial(out, t.number, "torch", tmp_path / f"m{t.number}.pt")
        assert pt.checks["weights"] == "loaded"
        assert pt.checks["val_error"] == pytest.approx(t.metrics["val_error"], abs=1e-9)
        assert pt.checks["test_error"] == pytest.approx(t.metrics["test_error"], abs=1e-9)
        saved = torch.load(out / "weights" / f"seed_{t.seed}.pt", weights_only=True)
        exported = torch.load(pt.path, weights_only=False)["state_dict"]
        assert all(torch.equal(saved[k], exported[k]) for k in saved)
    t = res.complete[0]  # type: ignore[attr-defined]
    again = export_trial(out, t.number, "torch", tmp_path / "e.pt", epochs=1)
    assert again.checks["weights"] == "retrained"


def test_hqnn_exports_reimport_to_the_same_circuit(
    hqnn_run: tuple[Path, object], tmp_path: Path
) -> None:
    from quarch.quantum import from_qasm, statevector

    out, res = hqnn_run
    t = res.complete[0]  # type: ignore[attr-defined]
    q = export_trial(out, t.number, "qasm", tmp_path / "c.qasm")
    text = q.path.read_text()
    back = from_qasm(text)
    assert back.n_qubits == q.checks["n_qubits"]
    # independent truth: Qiskit reads the same file and gives the same state
    qiskit = pytest.importorskip("qiskit")
    from qiskit.quantum_info import Statevector

    qc = qiskit.qasm2.loads(text, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    sv = Statevector(qc.reverse_bits()).data  # qiskit's qubit 0 is the least significant bit
    ours = statevector(back).numpy()
    assert np.allclose(np.abs(np.vdot(sv, ours)), 1.0, atol=1e-8)
    qk = export_trial(out, t.number, "qiskit", tmp_path / "c.qpy")
    from qiskit import qpy

    with open(qk.path, "rb") as f:
        (circ,) = qpy.load(f)
    assert {p.name for p in circ.parameters} == set(qk.checks["parameters"])
    assert all(name.startswith("x[") for name in qk.checks["parameters"])  # weights are bound
    pl = export_trial(out, t.number, "pennylane", tmp_path / "c.py")
    pytest.importorskip("pennylane")
    ns: dict[str, object] = {}
    exec(compile(pl.path.read_text(), str(pl.path), "exec"), ns)
    assert callable(ns["expvals"])
    with pytest.raises(
        ConfigError, match="space 'hqnn' exports torch, qasm, qasm3, qiskit, pennylane"
    ):
        export_trial(out, t.number, "onnx", tmp_path / "c.onnx")


def test_qasm3_keeps_the_inputs_and_qasm_says_it_bound_them(
    hqnn_run: tuple[Path, object], tmp_path: Path
) -> None:
    """OpenQASM 3 keeps the circuit's inputs as ``input float[64]``: Qiskit reads the file
    back, and with the features of test sample 0 bound it gives the state of the
    OpenQASM 2 export, which bound that sample itself and says so."""
    qiskit = pytest.importorskip("qiskit")
    pytest.importorskip("qiskit_qasm3_import", reason="qiskit.qasm3.loads needs it")
    from qiskit.quantum_info import Statevector

    from quarch.finalize import _layer_inputs, _quantum_layers
    from quarch.study import Run

    out, res = hqnn_run
    t = res.complete[0]  # type: ignore[attr-defined]
    q2 = export_trial(out, t.number, "qasm", tmp_path / "c.qasm")
    q3 = export_trial(out, t.number, "qasm3", tmp_path / "c.qasm3")
    assert q2.checks["inputs"].startswith("bound to test sample 0 (OpenQASM 2.0 has no inputs")
    text = q3.path.read_text()
    assert "OPENQASM 3" in text and "input float[64]" in text
    circ3 = qiskit.qasm3.loads(text)
    ev = Run.open(out).evaluator(standalone=True)
    assert isinstance(ev, HQNNEvaluator)
    model = ev.build(t.params, seed=t.seed)
    weights = Run.open(out).saved_weights(t.seed)
    assert weights is not None
    model.load_state_dict(weights)
    layer = _quantum_layers(model)[0][1]
    x = _layer_inputs(model, layer, ev, 0)
    bound = circ3.assign_parameters(
        {p: x[int(p.name.strip("_").split("_")[1])] for p in circ3.parameters}
    )
    qc2 = qiskit.qasm2.loads(q2.path.read_text(),
                             custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)  # fmt: skip
    a, b = Statevector(bound).data, Statevector(qc2).data
    assert np.allclose(abs(np.vdot(a, b)), 1.0, atol=1e-8)


def test_train_and_retraining_export_show_progress(
    hqnn_run: tuple[Path, object], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out, res = hqnn_run
    t = res.complete[0]  # type: ignore[attr-defined]
    train_trial(out, t.number, epochs=2, seeds=1, ablation=False, progress=True)
    err = capfd.readouterr().err
    assert f"train trial {t.number}" in err and "2/2" in err
    export_trial(out, t.number, "torch", tmp_path / "m.pt", epochs=2, progress=True)
    assert f"retrain trial {t.number}" in capfd.readouterr().err
    export_trial(out, t.number, "torch", tmp_path / "m.pt")  # loads: nothing to show
    assert capfd.readouterr().err == ""


#: two stages of one block: what the export and training paths do does not depend on
#: the network's size, and the default space's largest networks train for seconds
SMALL_CNN: dict[str, object] = {"n_stages": 2, "max_blocks": 1}


def _float_convs(path: Path) -> list[str]:
    """Conv nodes of a QDQ model whose weight is not dequantised from int8."""
    import onnx

    g = onnx.load(str(path)).graph
    dq = {n.output[0] for n in g.node if n.op_type == "DequantizeLinear"}
    return [n.name for n in g.node if n.op_type == "Conv" and n.input[1] not in dq]


def test_cnn_onnx_and_int8_export(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "cnn"
    cfg = SearchConfig(space="cnn", dataset="digits", strategy="random", trials=1, epochs=1,
                       out=str(out), objectives=["val_error", "memory_kb"],
                       space_options=SMALL_CNN)  # fmt: skip
    res = run_search(cfg, progress=False)
    t = res.complete[0]
    on = export_trial(out, t.number, "onnx", tmp_path / "m.onnx")
    assert on.checks["max_abs_diff_vs_torch"] < 1e-4
    # the search saved the trial's weights: export loads them and scores them as the
    # search did, instead of training again
    assert on.checks["weights"] == "loaded"
    assert on.checks["val_error"] == pytest.approx(t.metrics["val_error"], abs=1e-9)
    assert on.checks["test_error"] == pytest.approx(t.metrics["test_error"], abs=1e-9)
    assert (
        export_trial(out, t.number, "onnx", tmp_path / "e.onnx", epochs=1).checks["weights"]
        == "retrained"
    )
    sess = ort.InferenceSession(str(on.path), providers=["CPUExecutionProvider"])
    assert sess.get_inputs()[0].shape[1:] == [1, 8, 8]
    q8 = export_trial(out, t.number, "onnx-int8", tmp_path / "m8.onnx")
    for k in ("fp32_test_accuracy", "int8_test_accuracy", "fp32_latency_ms", "int8_latency_ms"):
        assert k in q8.checks
    assert q8.checks["int8_bytes"] < q8.checks["fp32_bytes"]
    # digits are grey-scale: the stem reads one channel and stays float unless asked
    stem_float = _float_convs(q8.path)
    assert len(stem_float) == 1
    full = export_trial(out, t.number, "onnx-int8", tmp_path / "f8.onnx", full_int8=True)
    assert _float_convs(full.path) == []
    with pytest.raises(ConfigError, match="--full-int8 applies to --format onnx-int8"):
        export_trial(out, t.number, "onnx", tmp_path / "x.onnx", full_int8=True)
    pt = export_trial(out, t.number, "torch", tmp_path / "m.pt")
    assert torch.load(pt.path, weights_only=False)["space"] == "cnn"
    tr = train_trial(out, t.number, seeds=2, epochs=1)
    assert tr.val_accuracy[0] == pytest.approx(100 * (1 - t.metrics["val_error"]))
    assert not tr.ablation_test_accuracy  # classical nets have no quantum layer to ablate


def test_weight_sharing_run_exports_and_trains_standalone(tmp_path: Path) -> None:
    """A SuperNet-scored run has no model of its own per trial: export and train build
    the trial's network and train it from scratch (they used to fail with 'scored by a
    table look-up')."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "sn"
    cfg = SearchConfig(space="cnn", dataset="digits", strategy="random", trials=2, epochs=1,
                       out=str(out), objectives=["val_error", "memory_kb"],
                       evaluator_options={"supercircuit": True}, space_options=SMALL_CNN)  # fmt: skip
    res = run_search(cfg, progress=False)
    t = res.complete[0]
    assert not (out / "weights").exists()  # inherited weights: nothing saved per trial
    on = export_trial(out, t.number, "onnx", tmp_path / "m.onnx")
    assert on.checks["weights"] == "retrained"
    assert on.checks["max_abs_diff_vs_torch"] < 1e-4
    tr = train_trial(out, t.number, seeds=1, epochs=1)
    # the accuracies are those of the standalone network trained with the trial's seed,
    # recomputed here on each split (training is deterministic by seed)
    from quarch.study import Run

    ev = Run.open(out).evaluator(standalone=True, epochs=1)
    assert isinstance(ev, EdgeEvaluator)  # standalone: no SuperNet look-up
    assert t.seed is not None
    model, _ = ev.fit(t.params, seed=t.seed, epochs=1)
    model.eval()
    with torch.no_grad():
        for split, acc in (("val", tr.val_accuracy[0]), ("test", tr.test_accuracy[0])):
            X = torch.as_tensor(getattr(ev.data, f"X_{split}"), dtype=torch.float32)
            right = model(X).argmax(1).numpy() == getattr(ev.data, f"y_{split}")
            assert acc == pytest.approx(100 * right.mean(), abs=1e-9)


def test_a_trial_that_did_not_complete_is_named_in_words(
    run: tuple[Path, object], tmp_path: Path
) -> None:
    """Optuna's states read as a sentence ("is failed", not "is fail"), and the line
    names the trials that can be picked instead."""
    import shutil

    from optuna.trial import TrialState, create_trial

    from quarch.study import open_study

    copy = tmp_path / "run"
    shutil.copytree(run[0], copy)
    study = open_study(copy)
    done = sorted(t.number for t in study.get_trials() if t.state == TrialState.COMPLETE)
    for state in (TrialState.FAIL, TrialState.PRUNED):
        study.add_trial(create_trial(state=state, params={}, distributions={}))
    failed, pruned = len(done), len(done) + 1
    names = ", ".join(map(str, done))
    with pytest.raises(RunError) as e:
        export_trial(copy, failed, "torch", tmp_path / "m.pt")
    assert str(e.value) == f"trial {failed} is failed, not complete; complete ones: {names}"
    with pytest.raises(RunError, match=f"trial {pruned} is pruned, not complete"):
        train_trial(copy, pruned)
