"""An edge designer's int8 export: what it says about its weights, against the file.

Found by following the README's edge path on an AVX2 machine without VNNI (session 39):
`quarch export --format onnx-int8` of a digits `cnn` wrote 7-bit weights (its 8-bit
model, run by ONNX Runtime's fused kernels, was 21 % of the outputs' range away from
its own arithmetic), which the README promises, but neither the export nor
`benchmarks/int8_export.py` said so; the benchmark answered a folder that is not a run,
a trial the run lacks and a run without a feasible trial with a traceback or exit
status 1, and a batch of 0 with a ZeroDivisionError after both exports.

Truth here: the int8 integers read from the file by hand (ONNX Runtime's symmetric
weight ranges are [-127, 127] and, reduced, [-64, 64]), and the 8-bit model run fused
and node by node in ONNX Runtime sessions built here.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from quarch.cli import main

from ._scope import per_module
from .cost.test_onnx_truth import _Small  # two input channels: nothing stays float

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope=per_module)
def tiny() -> tuple[bytes, np.ndarray]:
    from quarch.cost.onnx import to_onnx

    calib = np.random.default_rng(9).uniform(-0.5, 2.0, size=(150, 2, 6, 6)).astype(np.float32)
    return to_onnx(_Small().eval(), (2, 6, 6)), calib


def _largest_int8(blob: bytes) -> int:
    """The largest magnitude among the file's int8 initializers, read by hand."""
    from onnx import TensorProto, numpy_helper

    model = onnx.load_from_string(blob)
    return max(
        (int(np.abs(numpy_helper.to_array(t).astype(np.int64)).max(initial=0))
         for t in model.graph.initializer if t.data_type == TensorProto.INT8),
        default=0,
    )  # fmt: skip


def _session(blob: bytes, fuse: bool) -> object:
    so = ort.SessionOptions()
    so.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if fuse
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    return ort.InferenceSession(blob, so, providers=["CPUExecutionProvider"])


def _eight_bit_runs_as_written(blob: bytes, x: np.ndarray) -> bool:
    """The 8-bit model fused against node by node, within 1 % of the outputs' range."""
    fused = _session(blob, True).run(None, {"x": x})[0]  # type: ignore[attr-defined]
    plain = _session(blob, False).run(None, {"x": x})[0]  # type: ignore[attr-defined]
    return bool(np.abs(fused - plain).max() <= 0.01 * np.abs(plain).max())


def _avx2_without_vnni() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx2" in flags and "avx512_vnni" not in flags and "avx_vnni" not in flags


@pytest.mark.parametrize(("reduce_range", "bits", "largest"), [(False, 8, 127), (True, 7, 64)])
def test_weight_bits_reads_the_range_the_file_holds(
    tiny: tuple[bytes, np.ndarray], reduce_range: bool, bits: int, largest: int
) -> None:
    from quarch.cost.onnx import quantize_int8, weight_bits

    blob, calib = tiny
    for per_channel in (False, True):
        q = quantize_int8(blob, calib, reduce_range=reduce_range, per_channel=per_channel)
        assert _largest_int8(q) == largest  # every tensor's largest weight sets its scale
        assert weight_bits(q) == bits
        assert weight_bits(onnx.load_from_string(q)) == bits  # a ModelProto alike
    assert weight_bits(blob) is None  # the float graph holds no int8 weights
    every = [n.name for n in onnx.load_from_string(blob).graph.node]
    assert weight_bits(quantize_int8(blob, calib, keep_float=every)) is None
    # the largest integer over every weight decides; one off both ranges is no answer
    for top, want in [(127, 8), (100, None), (-64, 7), (63, None)]:
        assert weight_bits(_weights_up_to(q, top)) == want, top


def _weights_up_to(blob: bytes, top: int) -> bytes:
    """``blob`` with every int8 weight tensor clipped to ``|top|`` and the first
    tensor's first integer set to ``top``."""
    from onnx import TensorProto, numpy_helper

    model = onnx.load_from_string(blob)
    dq = {n.input[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    weights = [t for t in model.graph.initializer
               if t.name in dq and t.data_type == TensorProto.INT8 and len(t.dims) > 1]  # fmt: skip
    assert len(weights) == 2  # the convolution's and the linear layer's
    for k, t in enumerate(weights):
        w = np.clip(numpy_helper.to_array(t), -abs(top), abs(top)).astype(np.int8)
        if k == 0:
            w.flat[0] = top
        t.CopyFrom(numpy_helper.from_array(w, t.name))
    return model.SerializeToString()


def test_the_default_is_seven_bit_exactly_where_the_eight_bit_model_runs_otherwise(
    tiny: tuple[bytes, np.ndarray],
) -> None:
    from quarch.cost.onnx import quantize_int8, weight_bits

    blob, calib = tiny
    eight = quantize_int8(blob, calib, reduce_range=False)
    agrees = _eight_bit_runs_as_written(eight, calib[:64])  # the images the check uses
    if _avx2_without_vnni():
        assert not agrees  # VPMADDUBSW saturates its 16-bit pair sums on this network
    assert weight_bits(quantize_int8(blob, calib)) == (8 if agrees else 7)


def test_the_export_says_when_its_weights_are_seven_bit() -> None:
    from quarch._cli_finish import _int8_notes

    (note,) = _int8_notes({"weight_bits": 7})
    assert note.startswith("the weights are 7-bit: ")
    assert "AVX2 but no VNNI" in note and "calibration images" in note
    assert _int8_notes({"weight_bits": 8}) == []  # 8 bits is the ordinary case
    assert _int8_notes({"weight_bits": None}) == []  # nothing quantised: nothing to say


# -- benchmarks/int8_export.py ---------------------------------------------------------------
def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_int8_bench", ROOT / "benchmarks/int8_export.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _bench_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.argv", ["int8_export.py", *args])
    capsys.readouterr()
    try:
        _bench().main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope=per_module)
def no_winner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One trained iris mlp whose validation error breaks the run's only budget."""
    run = tmp_path_factory.mktemp("edge") / "run"
    code = main(["search", "--space", "mlp", "--dataset", "iris", "--trials", "1",
                 "--epochs", "2", "--seed", "3", "--budget", "val_error<=0",
                 "--out", str(run), "--quiet"])  # fmt: skip
    assert code == 0
    from quarch.study import Run

    res = Run.open(run).result()
    assert res.best is None and len(res.complete) == 1  # the setting this test needs
    return run


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    (line,) = err.strip().splitlines()
    return line


def test_the_benchmark_refuses_in_one_line_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    no_winner: Path,
) -> None:  # fmt: skip
    out = tmp_path / "export"
    (tmp_path / "empty").mkdir()
    for args, said in [
        ((str(tmp_path / "empty"),), "is not a quarch run folder"),
        ((str(tmp_path / "nowhere"),), "no such folder"),
        ((str(no_winner), "--trial", "9"), "has no trial 9"),
        ((str(no_winner),), f"no feasible complete trial in {no_winner}; name one with --trial N"),
    ]:
        code, _, err = _bench_run(capsys, monkeypatch, *args, "--out", str(out))
        assert code == 2, (args, err)
        line = _one_line(err)
        assert line.startswith("error: ") and said in line, line
        assert not out.exists()
    for flag, value in [("--batch", "64,0"), ("--repeats", "0"), ("--batch", "x")]:
        code, _, err = _bench_run(capsys, monkeypatch, str(no_winner), flag, value)
        assert code == 2 and f"argument {flag}: expected" in err, err
    assert not (no_winner / "export").exists()


def test_the_benchmark_prints_the_bits_the_file_holds(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    no_winner: Path,
) -> None:  # fmt: skip
    from quarch.cost.onnx import quantize_int8
    from quarch.study import Run

    code, out, err = _bench_run(capsys, monkeypatch, str(no_winner), "--trial", "0",
                                "--repeats", "1", "--batch", "2", "--out", str(tmp_path))  # fmt: skip
    assert code == 0, err
    printed = re.search(r"int8_weight_bits=(\S+)", out)
    assert printed is not None, out
    int8_file = (tmp_path / "trial_0_int8.onnx").read_bytes()
    largest = _largest_int8(int8_file)
    assert largest in (64, 127)
    # what the export wrote, against what this CPU's kernels make of the 8-bit model
    ev = Run.open(no_winner).evaluator(standalone=True)
    calib = np.asarray(ev.data.X_train[:512], dtype=np.float32)  # type: ignore[attr-defined]
    eight = quantize_int8((tmp_path / "trial_0.onnx").read_bytes(), calib, reduce_range=False)
    want = 8 if _eight_bit_runs_as_written(eight, calib[:64]) else 7
    assert printed[1] == str(want) == ("8" if largest == 127 else "7")
    assert re.search(r"^batch 2: fp32 \S+ ms/image", out, re.M)


def test_the_export_reports_the_bits_its_file_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_winner: Path
) -> None:
    out_file = tmp_path / "m8.onnx"
    args = ["export", str(no_winner), "--trial", "0", "--format", "onnx-int8",
            "--out", str(out_file), "--quiet"]  # fmt: skip
    capsys.readouterr()
    assert main([*args, "--json"]) == 0
    got = json.loads(capsys.readouterr().out)["weight_bits"]
    assert got == {127: 8, 64: 7}[_largest_int8(out_file.read_bytes())]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert f"  weight_bits: {got}\n" in text
    assert ("note: the weights are 7-bit: " in text) is (got == 7)
    # the trial broke the run's budget: the export says so, with the value study.db holds
    with sqlite3.connect(no_winner / "study.db") as db:
        (attr,) = db.execute(
            "SELECT value_json FROM trial_user_attributes WHERE key = 'metrics'"
        ).fetchone()
    val_error = json.loads(attr)["val_error"]
    assert val_error > 0
    assert f"  budgets: broken: val_error<=0 (val_error={val_error:.6g})\n" in text


def test_broken_budgets_names_each_with_its_value() -> None:
    """At the limit a ``<=`` budget holds and a ``<`` one breaks (Budget's own rule); a
    metric the network lacks breaks nothing; several are joined in the run's order."""
    from quarch.finalize import _broken_budgets
    from quarch.objectives import Budget

    at = [Budget.parse("memory_kb<=64"), Budget.parse("params>=10")]
    assert _broken_budgets(at, {"memory_kb": 64.0, "params": 10.0}) == ""
    strict = [Budget.parse("memory_kb<64"), Budget.parse("latency_ms<=1")]
    assert _broken_budgets(strict, {"memory_kb": 64.0}) == "memory_kb<64 (memory_kb=64)"
    both = [Budget.parse("params>=10"), Budget.parse("memory_kb<=64")]
    assert _broken_budgets(both, {"memory_kb": 81.23456789, "params": 9.5}) == (
        "params>=10 (params=9.5), memory_kb<=64 (memory_kb=81.2346)"
    )
