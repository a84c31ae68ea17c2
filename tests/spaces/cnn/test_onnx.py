"""Tests of ONNX export, int8 quantisation and ONNX Runtime timing."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from quarch.cost.onnx import (
    fold_hard_sigmoid,
    measure_latency_ms,
    onnx_accuracy,
    ort_session,
    quantize_int8,
    single_channel_convs,
    to_onnx,
)
from quarch.spaces.cnn.model import EdgeCNN
from quarch.spaces.cnn.space import cnn_space

from ..._scope import per_module

SHAPE = (1, 8, 8)


@pytest.fixture(scope=per_module)
def model() -> EdgeCNN:
    torch.manual_seed(0)
    arch = dict(cnn_space(n_stages=2, max_blocks=2).sample(5), bits=32)
    m = EdgeCNN(arch, SHAPE, 10)
    m.train()
    with torch.no_grad():  # populate batch-norm statistics
        m(torch.rand(64, *SHAPE))
    return m.eval()


def test_onnx_runtime_matches_torch(model: EdgeCNN) -> None:
    x = np.random.default_rng(1).random((5, *SHAPE), dtype=np.float32)
    out = ort_session(to_onnx(model, SHAPE)).run(None, {"x": x})[0]
    with torch.no_grad():
        ref = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(out, ref, atol=1e-4, rtol=1e-4)
    assert not model.training


def test_int8_model_is_quantised_and_agrees(model: EdgeCNN) -> None:
    rng = np.random.default_rng(2)
    calib = rng.random((128, *SHAPE), dtype=np.float32)
    fp32 = to_onnx(model, SHAPE)
    q = quantize_int8(fp32, calib)
    ops = {n.op_type for n in onnx.load_from_string(q).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = rng.random((64, *SHAPE), dtype=np.float32)
    f = ort_session(fp32).run(None, {"x": x})[0]
    i8 = ort_session(q).run(None, {"x": x})[0]
    # Top-1 under int8 equals the float model's on most inputs, and logits are close.
    assert np.mean(f.argmax(1) == i8.argmax(1)) >= 0.8
    assert np.abs(f - i8).max() < 0.25 * np.abs(f).max() + 1e-3
    labels = f.argmax(1)
    assert onnx_accuracy(fp32, x, labels) == 1.0


def test_latency_is_positive_and_checked(model: EdgeCNN) -> None:
    blob = to_onnx(model, SHAPE)
    assert 0 < measure_latency_ms(blob, SHAPE, warmup=2, repeats=5) < 1000
    with pytest.raises(ValueError, match="repeats must be >= 1; got 0"):
        measure_latency_ms(blob, SHAPE, repeats=0)
    assert 0 < measure_latency_ms(blob, SHAPE, warmup=1, repeats=3, batch=8) < 1000
    with pytest.raises(ValueError, match="batch must be >= 1; got 0"):
        measure_latency_ms(blob, SHAPE, batch=0)
    with pytest.raises(ValueError, match="warmup must be >= 0; got -1"):
        measure_latency_ms(blob, SHAPE, warmup=-1)
    with pytest.raises(ValueError, match="threads must be >= 1; got 0"):
        ort_session(blob, threads=0)
    with pytest.raises(ValueError, match="calibration needs at least one image; got 0"):
        quantize_int8(blob, np.zeros((0, *SHAPE), np.float32))


@pytest.fixture(scope=per_module)
def se_model() -> EdgeCNN:
    """A network whose every block has a squeeze-excite gate (HardSigmoid in ONNX)."""
    torch.manual_seed(1)
    arch = dict(cnn_space(n_stages=2, max_blocks=2).sample(7), bits=32, activation="relu")
    arch.update({k: True for k in arch if k.startswith("se_")})
    m = EdgeCNN(arch, SHAPE, 10)
    m.train()
    with torch.no_grad():
        m(torch.rand(64, *SHAPE))
    return m.eval()


def test_fold_hard_sigmoid_is_exact(se_model: EdgeCNN) -> None:
    blob = to_onnx(se_model, SHAPE)
    model = onnx.load_from_string(blob)
    n_gates = sum(n.op_type == "HardSigmoid" for n in model.graph.node)
    assert n_gates >= 2
    assert fold_hard_sigmoid(model) == n_gates
    ops = [n.op_type for n in model.graph.node]
    assert "HardSigmoid" not in ops and ops.count("Clip") == n_gates
    x = np.random.default_rng(3).random((16, *SHAPE), dtype=np.float32)
    ref = ort_session(blob).run(None, {"x": x})[0]
    out = ort_session(model.SerializeToString()).run(None, {"x": x})[0]
    np.testing.assert_allclose(out, ref, atol=1e-5, rtol=1e-5)


def _int8_convs(model: onnx.ModelProto) -> set[str]:
    """Conv nodes of a QDQ model whose weight is dequantised from int8."""
    dq = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    return {n.name for n in model.graph.node if n.op_type == "Conv" and n.input[1] in dq}


def test_int8_keeps_single_channel_stem_float(se_model: EdgeCNN) -> None:
    blob = to_onnx(se_model, SHAPE)
    model = onnx.load_from_string(blob)
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    # By construction the stem is the convolution reading the 1-channel input image;
    # every other convolution reads several channels or is depthwise.
    (stem,) = [n for n in convs if n.input[0] == "x"]
    after = [n for n in model.graph.node if stem.output[0] in n.input]
    assert single_channel_convs(model) == [stem.name, after[0].name]
    calib = np.random.default_rng(4).random((64, *SHAPE), dtype=np.float32)
    quantised = _int8_convs(onnx.load_from_string(quantize_int8(blob, calib)))
    assert quantised == {n.name for n in convs} - {stem.name}
    everything = _int8_convs(onnx.load_from_string(quantize_int8(blob, calib, keep_float=[])))
    assert everything == {n.name for n in convs}
