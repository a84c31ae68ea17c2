"""ONNX export, int8 quantisation and ONNX Runtime timing against independent truth.

* The float graph: ONNX Runtime's outputs against the torch model in eval mode with
  its fake quantisers off; the graph's names, dynamic batch axis and opset as read
  back from the file; the model's mode and quantisers restored afterwards.
* The graph rules: hand-built ONNX graphs, each rule's every refusal, ONNX Runtime's
  outputs before and after a rewrite (``HardSigmoid(y) = clip(alpha * y + beta, 0, 1)``
  with ONNX's defaults 0.2 and 0.5 when the node has no attributes).
* The int8 model: its scales and integer weights read back from the file against
  ONNX Runtime's documented rules (symmetric int8 weights in [-127, 127], so the scale
  is ``max|w| / 127``, and 7-bit ones in [-64, 64] with ``max|w| / 64``; uint8
  activations over ``[min(x, 0), max(x, 0)]`` from min/max calibration, so the scale
  is their width over 255); the model a CPU's fused integer kernels run against the
  same model computed node by node (ONNX Runtime without graph optimisations).
* Timing: a session that counts its runs and a clock that only moves inside them, so
  what is timed, how often and what is returned are checked without timing anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

import quarch.cost.onnx as qonnx
from quarch.cost.onnx import (
    _Calibration,
    float_graph,
    fold_hard_sigmoid,
    measure_latency_ms,
    onnx_accuracy,
    ort_session,
    quantize_int8,
    single_channel_convs,
    to_onnx,
)

from .._scope import per_module

ort = pytest.importorskip("onnxruntime")


# -- float graph and export ----------------------------------------------------------------
class _FakeQuant(nn.Module):
    """Adds 1 while its ``quant`` flag is on, 10 while ``enabled`` is on (stand-ins for
    quarch's fake quantisers), so a graph exported with either on differs visibly."""

    def __init__(self) -> None:
        super().__init__()
        self.quant = True
        self.enabled = True
        self.other = 1  # not a bool: float_graph must leave it alone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + (1.0 if self.quant else 0.0) + (10.0 if self.enabled else 0.0)


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.fq = _FakeQuant()
        self.fc = nn.Linear(3 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.bn(self.conv(x)))
        return self.fc(self.fq(h).flatten(1))


SHAPE = (2, 6, 6)


@pytest.fixture
def net() -> _Net:
    m = _Net()
    with torch.no_grad():  # batch-norm statistics that differ from a fresh layer's
        m.bn.running_mean.uniform_(-1, 1)  # type: ignore[union-attr]
        m.bn.running_var.uniform_(0.5, 2)  # type: ignore[union-attr]
    return m


def test_float_graph_switches_off_bool_flags_only_and_restores_them() -> None:
    fq = _FakeQuant()
    fq.quant, fq.enabled = True, False
    with float_graph(nn.Sequential(fq)):
        assert fq.quant is False and fq.enabled is False and fq.other == 1
    assert fq.quant is True and fq.enabled is False and fq.other == 1
    fq.enabled = True
    with pytest.raises(KeyError), float_graph(fq):
        raise KeyError("inside")
    assert fq.quant is True and fq.enabled is True  # restored after an error too


def test_fake_quantised_is_any_flag_on_now() -> None:
    """True while any module's ``quant`` or ``enabled`` is True (what ``float_graph``
    switches off); a truthy non-bool (``1``) is not such a flag, as there."""
    from quarch.cost.onnx import fake_quantised

    fq = _FakeQuant()
    net = nn.Sequential(nn.Linear(2, 2), fq)
    for quant, enabled, want in ((False, False, False), (True, False, True),
                                 (False, True, True), (True, True, True)):  # fmt: skip
        fq.quant, fq.enabled = quant, enabled
        assert fake_quantised(net) is want, (quant, enabled)
        with float_graph(net):
            assert fake_quantised(net) is False
    fq.quant, fq.enabled = 1, 0  # type: ignore[assignment]
    assert fake_quantised(net) is False


def test_to_onnx_is_the_eval_float_graph_with_named_dynamic_io(net: _Net) -> None:
    net.train()
    blob = to_onnx(net, SHAPE)
    assert net.training and net.fq.quant is True and net.fq.enabled is True  # restored
    model = onnx.load_from_string(blob)
    onnx.checker.check_model(model)
    (inp,), (out,) = model.graph.input, model.graph.output
    assert inp.name == "x" and out.name == "logits"
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert dims == ["batch", *SHAPE]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert out_dims == ["batch", 5]  # the batch axis only: one logit per class
    assert {o.domain: o.version for o in model.opset_import}[""] == qonnx.OPSET == 17
    ops = {n.op_type for n in model.graph.node}
    assert "BatchNormalization" not in ops  # folded into the convolution (eval mode)
    x = np.random.default_rng(0).normal(size=(3, *SHAPE)).astype(np.float32)
    got = ort_session(blob).run(None, {"x": x})[0]
    net.eval()
    net.fq.quant = net.fq.enabled = False
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)
    # an eval-mode model stays in eval mode
    assert not net.training
    to_onnx(net, SHAPE)
    assert not net.training


def test_to_onnx_folds_constant_arithmetic() -> None:
    """Arithmetic on parameters is computed once at export, not per inference."""

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(2)
            self.w = nn.Parameter(torch.randn(3, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x @ (self.w * 2 + 1).T

    m = Scaled()
    blob = to_onnx(m, (4,))
    assert [n.op_type for n in onnx.load_from_string(blob).graph.node] == ["MatMul"]
    x = np.random.default_rng(3).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        want = m(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ort_session(blob).run(None, {"x": x})[0], want, rtol=1e-5)


def test_to_onnx_restores_the_mode_when_export_fails() -> None:
    class Broken(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("no export")

    m = Broken().train()
    with pytest.raises(RuntimeError, match="no export"):
        to_onnx(m, (1,))
    assert m.training


# -- sessions, accuracy, calibration -----------------------------------------------------
def _linear_blob(w: np.ndarray) -> bytes:
    """ONNX model ``logits = x @ w`` (x of shape (batch, k))."""
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["logits"])],
        "lin",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", w.shape[0]])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", w.shape[1]])],
        [numpy_helper.from_array(w.astype(np.float32), "w")],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_ort_session_settings() -> None:
    blob = _linear_blob(np.eye(3))
    for threads in (1, 3):
        sess = ort_session(blob, threads=threads)
        so = sess.get_session_options()
        assert so.intra_op_num_threads == threads and so.inter_op_num_threads == 1
        assert so.execution_mode == ort.ExecutionMode.ORT_SEQUENTIAL
        assert so.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        assert so.log_severity_level == 3
        assert sess.get_providers() == ["CPUExecutionProvider"]
    assert ort_session(blob).get_session_options().intra_op_num_threads == 1  # the default
    with pytest.raises(ValueError, match=r"^threads must be >= 1; got 0$"):
        ort_session(blob, threads=0)


def test_ort_session_asks_for_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CPU provider is asked for by name: with a GPU build of ONNX Runtime installed,
    a session left to choose would take the GPU (this machine's build has only the CPU)."""
    real, asked = ort.InferenceSession, []

    def session(model: Any, options: Any, **kw: Any) -> Any:
        asked.append(kw)
        return real(model, options, **kw)

    monkeypatch.setattr(ort, "InferenceSession", session)
    ort_session(_linear_blob(np.eye(2)))
    assert asked == [{"providers": ["CPUExecutionProvider"]}]


def test_onnx_accuracy_against_numpy_argmax() -> None:
    rng = np.random.default_rng(5)
    w = rng.normal(size=(4, 3))
    blob = _linear_blob(w)
    X = rng.normal(size=(11, 4)).astype(np.float32)
    pred = (X.astype(np.float64) @ w).argmax(1)
    y = pred.copy()
    y[[0, 4, 9]] = (y[[0, 4, 9]] + 1) % 3  # three wrong, spread over the batches
    for batch_size in (1, 3, 4, 11, 512):
        assert onnx_accuracy(blob, X, y, batch_size=batch_size) == pytest.approx(8 / 11)
    assert onnx_accuracy(blob, X[:1], y[:1]) == 0.0
    assert onnx_accuracy(blob, X[1:2], y[1:2]) == 1.0
    assert onnx_accuracy(blob, X[:0], y[:0]) == 0.0  # no images: 0, not a division error
    # float64 and non-contiguous images are converted
    assert onnx_accuracy(blob, X.astype(np.float64)[::-1], y[::-1], batch_size=2) == (
        pytest.approx(8 / 11)
    )


def test_calibration_reader_yields_every_image_once_in_batches() -> None:
    X = np.arange(7 * 2, dtype=np.float64).reshape(7, 2)[:, ::-1]  # not contiguous, float64
    reader = _Calibration(X, 3)
    got = []
    while (feed := reader.get_next()) is not None:
        assert list(feed) == ["x"]
        b = feed["x"]
        assert b.dtype == np.float32 and b.flags.c_contiguous
        got.append(b)
    assert [len(b) for b in got] == [3, 3, 1]
    np.testing.assert_array_equal(np.concatenate(got), X.astype(np.float32))
    assert reader.get_next() is None


# -- timing ---------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def perf_counter(self) -> float:
        self.reads += 1
        return self.now


class _CountingSession:
    """Runs take the listed durations (seconds), advancing ``clock`` inside ``run``."""

    def __init__(self, clock: _Clock, durations: list[float]) -> None:
        self.clock, self.durations = clock, iter(durations)
        self.feeds: list[dict[str, np.ndarray]] = []

    def get_inputs(self) -> list[Any]:
        class Input:
            name = "image"

        return [Input()]

    def run(self, outputs: Any, feed: dict[str, np.ndarray]) -> None:
        assert outputs is None
        self.feeds.append(feed)
        self.clock.now += next(self.durations)


@pytest.fixture
def fake_timing(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"clock": _Clock(), "durations": []}

    def session(blob: Any, *, threads: int = 1) -> _CountingSession:
        state["blob"], state["threads"] = blob, threads
        state["session"] = _CountingSession(state["clock"], state["durations"])
        return state["session"]

    class _Time:
        perf_counter = state["clock"].perf_counter

    monkeypatch.setattr(qonnx, "ort_session", session)
    monkeypatch.setattr(qonnx, "time", _Time)
    yield state


def test_latency_is_the_median_of_the_timed_runs_after_the_warmup(
    fake_timing: dict[str, Any],
) -> None:
    # warm-up runs last 1 s each: counted in the median they would dominate it
    fake_timing["durations"][:] = [1.0, 1.0, 0.004, 0.001, 0.003]
    ms = measure_latency_ms(b"blob", (2, 3, 4), warmup=2, repeats=3, threads=5, batch=6)
    assert ms == pytest.approx(3.0)
    sess = fake_timing["session"]
    assert fake_timing["blob"] == b"blob" and fake_timing["threads"] == 5
    assert len(sess.feeds) == 5 and fake_timing["clock"].reads == 6  # two reads per timed run
    x = sess.feeds[0]["image"]
    assert list(sess.feeds[0]) == ["image"]
    assert x.shape == (6, 2, 3, 4) and x.dtype == np.float32
    assert x.min() >= 0 and x.max() < 1 and x.std() > 0.1
    assert all(f["image"] is x for f in sess.feeds)  # the same images every run
    np.testing.assert_array_equal(
        x, np.random.default_rng(0).random((6, 2, 3, 4), dtype=np.float32)
    )


def test_latency_of_an_even_count_and_the_defaults(fake_timing: dict[str, Any]) -> None:
    fake_timing["durations"][:] = [0.002, 0.008, 0.001, 0.005]
    # the median of an even count is the mean of the middle two
    assert measure_latency_ms(b"m", (1,), warmup=0, repeats=4) == pytest.approx(3.5)
    assert fake_timing["threads"] == 1
    assert fake_timing["session"].feeds[0]["image"].shape == (1, 1)  # batch 1 by default
    fake_timing["clock"].reads = 0
    fake_timing["durations"][:] = [1.0] * 10 + [0.002] * 49 + [0.010]
    assert measure_latency_ms(b"m", (1,)) == pytest.approx(2.0)  # 10 warm-up, 50 timed
    assert len(fake_timing["session"].feeds) == 60 and fake_timing["clock"].reads == 100
    fake_timing["durations"][:] = [0.007]
    assert measure_latency_ms(b"m", (1,), warmup=0, repeats=1, batch=1) == pytest.approx(7.0)


def test_latency_refuses_bad_counts_in_one_line(fake_timing: dict[str, Any]) -> None:
    for kwargs, line in (
        ({"warmup": -1}, "warmup must be >= 0; got -1"),
        ({"repeats": 0}, "repeats must be >= 1; got 0"),
        ({"batch": 0}, "batch must be >= 1; got 0"),
    ):
        with pytest.raises(ValueError) as e:
            measure_latency_ms(b"m", (1,), **kwargs)
        assert str(e.value) == line
    assert "session" not in fake_timing  # refused before a session was made


# -- graph rules ----------------------------------------------------------------------------
def _graph(
    nodes: list[onnx.NodeProto],
    inits: dict[str, np.ndarray],
    inputs: dict[str, list[Any]],
    outputs: list[str],
) -> onnx.ModelProto:
    g = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits.items()],
    )
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def _sorted(model: onnx.ModelProto) -> None:
    """Every node reads only graph inputs, initializers and earlier nodes' outputs."""
    known = {i.name for i in model.graph.input} | {t.name for t in model.graph.initializer}
    for n in model.graph.node:
        assert set(n.input) <= known, n.name
        known |= set(n.output)


def _run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    return list(ort_session(model.SerializeToString()).run(None, feed))


RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 2, 3, 3))
B = RNG.normal(size=3)
X = RNG.normal(size=(2, 2, 5, 5)).astype(np.float32)


def _conv_hs(hs_attrs: dict[str, float], hs_name: str = "gate") -> onnx.ModelProto:
    return _graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv"),
            helper.make_node("HardSigmoid", ["y"], ["out"], name=hs_name, **hs_attrs),  # type: ignore[arg-type]
        ],
        {"w": W, "b": B},
        {"x": [2, 2, 5, 5]},
        ["out"],
    )


@pytest.mark.parametrize(
    "attrs", [{}, {"alpha": 1 / 6}, {"beta": 0.25}, {"alpha": 0.3, "beta": 0.4}]
)
def test_fold_hard_sigmoid_is_exact_with_onnx_defaults(attrs: dict[str, float]) -> None:
    model = _conv_hs(attrs)
    before = _run(model, {"x": X})[0]
    # the definition: clip(alpha * conv + beta, 0, 1), ONNX's alpha 0.2 and beta 0.5
    y = _run(_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"])], {"w": W, "b": B},
                    {"x": [2, 2, 5, 5]}, ["y"]), {"x": X})[0]  # fmt: skip
    want = np.clip(attrs.get("alpha", 0.2) * y + attrs.get("beta", 0.5), 0, 1)
    np.testing.assert_allclose(before, want, atol=1e-6)
    assert 0 < (want == 0).mean() + (want == 1).mean() < 1 or attrs  # both regimes occur
    assert fold_hard_sigmoid(model) == 1
    _sorted(model)  # the clip stands where the gate stood
    assert [(n.op_type, n.name) for n in model.graph.node] == [
        ("Conv", "conv"),
        ("Clip", "gate_clip"),
    ]
    clip = model.graph.node[1]
    assert list(clip.input) == ["y", "gate_clip_min", "gate_clip_max"]
    assert list(clip.output) == ["out"]
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert inits["gate_clip_min"] == 0 and inits["gate_clip_max"] == 1
    assert inits["gate_clip_min"].dtype == inits["gate_clip_max"].dtype == np.float32
    np.testing.assert_allclose(_run(model, {"x": X})[0], want, atol=1e-6)


def test_fold_names_an_unnamed_gate_by_its_output_and_folds_every_gate() -> None:
    model = _graph(
        [
            helper.make_node("Conv", ["x", "w", "b"], ["y"]),
            helper.make_node("HardSigmoid", ["y"], ["h"]),
            helper.make_node("Conv", ["h", "w2", "b2"], ["y2"]),
            helper.make_node("HardSigmoid", ["y2"], ["out"], alpha=0.5),
        ],
        {"w": W, "b": B, "w2": RNG.normal(size=(2, 3, 1, 1)), "b2": RNG.normal(size=2)},
        {"x": [2, 2, 5, 5]},
        ["out"],
    )
    want = _run(model, {"x": X})[0]
    assert fold_hard_sigmoid(model) == 2
    _sorted(model)
    assert [n.name for n in model.graph.node if n.op_type == "Clip"] == ["h_clip", "out_clip"]
    np.testing.assert_allclose(_run(model, {"x": X})[0], want, atol=1e-6)


def test_a_gate_left_alone_does_not_stop_the_gates_after_it() -> None:
    model = _graph(
        [
            helper.make_node("Relu", ["x"], ["r"], name="relu"),
            helper.make_node("HardSigmoid", ["r"], ["h"], name="kept"),  # not after a conv
            helper.make_node("Conv", ["h", "w", "b"], ["y"], name="conv"),
            helper.make_node("HardSigmoid", ["y"], ["out"], name="gate"),
        ],
        {"w": W, "b": B},
        {"x": [2, 2, 5, 5]},
        ["out"],
    )
    want = _run(model, {"x": X})[0]
    assert fold_hard_sigmoid(model) == 1
    assert [(n.op_type, n.name) for n in model.graph.node] == [
        ("Relu", "relu"),
        ("HardSigmoid", "kept"),
        ("Conv", "conv"),
        ("Clip", "gate_clip"),
    ]
    np.testing.assert_allclose(_run(model, {"x": X})[0], want, atol=1e-6)


def _unfoldable() -> dict[str, onnx.ModelProto]:
    """Graphs whose HardSigmoid must stay: each breaks one condition of the rewrite."""
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv")
    hs = helper.make_node("HardSigmoid", ["y"], ["out"], name="gate")
    shape = {"x": [2, 2, 5, 5]}
    return {
        "no producer": _graph([helper.make_node("HardSigmoid", ["x"], ["out"])], {}, shape,
                              ["out"]),
        "not a conv": _graph([helper.make_node("Relu", ["x"], ["y"]), hs], {}, shape, ["out"]),
        "output used twice": _graph([conv, hs], {"w": W, "b": B}, shape, ["out", "y"]),
        "output read by another node": _graph(
            [conv, hs, helper.make_node("Relu", ["y"], ["r"])], {"w": W, "b": B}, shape,
            ["out", "r"]),
        "no bias": _graph([helper.make_node("Conv", ["x", "w"], ["y"]), hs], {"w": W}, shape,
                          ["out"]),
        "weight is an input": _graph([conv, hs], {"b": B}, {**shape, "w": [3, 2, 3, 3]},
                                     ["out"]),
        "bias is an input": _graph([conv, hs], {"w": W}, {**shape, "b": [3]}, ["out"]),
        "weight shared": _graph(
            [conv, hs, helper.make_node("Conv", ["x", "w", "b2"], ["z"])],
            {"w": W, "b": B, "b2": B}, shape, ["out", "z"]),
        "bias shared": _graph(
            [conv, hs, helper.make_node("Conv", ["x", "w2", "b"], ["z"])],
            {"w": W, "b": B, "w2": W}, shape, ["out", "z"]),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_unfoldable()))
def test_fold_leaves_gates_it_cannot_fold_exactly(case: str) -> None:
    model = _unfoldable()[case]
    before = model.SerializeToString()
    assert fold_hard_sigmoid(model) == 0
    assert model.SerializeToString() == before


def _single(
    nodes: list[onnx.NodeProto], w: np.ndarray, outputs: list[str], channels: int = 1
) -> onnx.ModelProto:
    return _graph(nodes, {"w": w}, {"x": [1, channels, 5, 5]}, outputs)


W1 = RNG.normal(size=(4, 1, 3, 3))


@pytest.mark.parametrize("act", ["Relu", "Clip", "HardSwish", "HardSigmoid", "LeakyRelu"])
def test_single_channel_conv_keeps_its_fused_activation(act: str) -> None:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["y"], name="stem"),
        helper.make_node(act, ["y"], ["out"], name="act"),
    ]
    assert single_channel_convs(_single(nodes, W1, ["out"])) == ["stem", "act"]


def test_single_channel_convs_which_convolutions() -> None:
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="stem")
    # group given as 1, no activation
    g1 = helper.make_node("Conv", ["x", "w"], ["y"], name="stem", group=1)
    assert single_channel_convs(_single([g1], W1, ["y"])) == ["stem"]
    # an activation that is not fused, or one of two readers, stays out
    sig = helper.make_node("Sigmoid", ["y"], ["out"], name="sig")
    assert single_channel_convs(_single([conv, sig], W1, ["out"])) == ["stem"]
    two = [conv, helper.make_node("Relu", ["y"], ["a"], name="a"),
           helper.make_node("Relu", ["y"], ["b"], name="b")]  # fmt: skip
    assert single_channel_convs(_single(two, W1, ["a", "b"])) == ["stem"]
    # two input channels, depthwise (group > 1 with one channel per group), no weight
    # initializer, or another op with a one-column weight: not included
    w2 = RNG.normal(size=(4, 2, 3, 3))
    assert single_channel_convs(_single([conv], w2, ["y"], channels=2)) == []
    dw = helper.make_node("Conv", ["x", "w"], ["y"], name="dw", group=2)
    assert single_channel_convs(_single([dw], RNG.normal(size=(2, 1, 3, 3)), ["y"], 2)) == []
    no_init = _graph([conv], {}, {"x": [1, 1, 5, 5], "w": [4, 1, 3, 3]}, ["y"])
    assert single_channel_convs(no_init) == []
    mm = helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")
    assert single_channel_convs(_graph([mm], {"w": RNG.normal(size=(5, 1))},
                                       {"x": [1, 5]}, ["y"])) == []  # fmt: skip
    assert single_channel_convs(_graph([helper.make_node("Conv", ["x"], ["y"])], {},
                                       {"x": [1, 1, 5, 5]}, ["y"])) == []  # fmt: skip
    # a one-channel convolution after a wider one is still found
    later = [
        helper.make_node("Conv", ["x", "w"], ["y"], name="wide"),
        helper.make_node("Conv", ["y", "v"], ["z"], name="narrow"),
    ]
    model = _graph(
        later,
        {"w": RNG.normal(size=(1, 2, 3, 3)), "v": RNG.normal(size=(4, 1, 1, 1))},
        {"x": [1, 2, 5, 5]},
        ["z"],
    )
    assert single_channel_convs(model) == ["narrow"]
    # several: every one, in graph order
    chain = [helper.make_node("Conv", ["x", "w"], ["y"], name="c1"),
             helper.make_node("Relu", ["y"], ["r"], name="r1"),
             helper.make_node("Conv", ["x", "w"], ["z"], name="c2")]  # fmt: skip
    assert single_channel_convs(_single(chain, W1, ["r", "z"])) == ["c1", "r1", "c2"]


# -- int8 quantisation ------------------------------------------------------------------------
class _Small(nn.Module):
    """Two input channels (so no convolution stays float by default), a ReLU, a linear head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(3)
        self.conv = nn.Conv2d(2, 4, 3)
        self.fc = nn.Linear(4 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).flatten(1))


def _dq_of(model: onnx.ModelProto, tensor: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(quantised values, scale, zero point, axis) of the DequantizeLinear making ``tensor``."""
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    (dq,) = [
        n for n in model.graph.node if n.op_type == "DequantizeLinear" and n.output[0] == tensor
    ]
    axis = next((a.i for a in dq.attribute if a.name == "axis"), 1)
    return inits[dq.input[0]], inits[dq.input[1]], inits[dq.input[2]], axis


def _conv(model: onnx.ModelProto) -> onnx.NodeProto:
    (conv,) = [n for n in model.graph.node if n.op_type == "Conv"]
    return conv


@pytest.fixture(scope=per_module)
def small() -> tuple[_Small, bytes, np.ndarray]:
    m = _Small().eval()
    calib = np.random.default_rng(9).uniform(-0.5, 2.0, size=(150, 2, 6, 6)).astype(np.float32)
    return m, to_onnx(m, (2, 6, 6)), calib


def test_int8_weights_and_input_scale_follow_the_quantisation_rules(
    small: tuple[_Small, bytes, np.ndarray],
) -> None:
    m, blob, calib = small
    q = onnx.load_from_string(quantize_int8(blob, calib, reduce_range=False))
    conv = _conv(q)
    w = m.conv.weight.detach().numpy()
    wq, scale, zp, _ = _dq_of(q, conv.input[1])
    # per tensor, symmetric int8 in [-127, 127]
    assert wq.dtype == np.int8 and zp.dtype == np.int8 and scale.shape == () and zp == 0
    assert scale == pytest.approx(np.abs(w).max() / 127, rel=1e-6)
    np.testing.assert_array_equal(wq, np.clip(np.round(w / scale), -127, 127))
    # the input image: uint8 over [min(calib, 0), max(calib, 0)], from every image
    (qx,) = [n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    inits = {t.name: numpy_helper.to_array(t) for t in q.graph.initializer}
    lo, hi = min(calib.min(), 0.0), max(calib.max(), 0.0)
    assert inits[qx.input[1]] == pytest.approx((hi - lo) / 255, rel=1e-6)
    assert inits[qx.input[2]].dtype == np.uint8
    assert inits[qx.input[2]] == round(-lo / ((hi - lo) / 255))
    # the calibration range is that of all images, wherever the extremes lie
    shifted = calib.copy()
    shifted[-1, 0, 0, 0] = 5.0  # in the last batch of 64
    q2 = onnx.load_from_string(quantize_int8(blob, shifted, reduce_range=False))
    (qx2,) = [n for n in q2.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "x"]
    inits2 = {t.name: numpy_helper.to_array(t) for t in q2.graph.initializer}
    assert inits2[qx2.input[1]] == pytest.approx((5.0 - lo) / 255, rel=1e-6)
    # every activation quantiser is uint8, every weight int8
    for n in q.graph.node:
        if n.op_type == "QuantizeLinear":
            assert inits[n.input[2]].dtype == np.uint8
    # the int8 model, computed node by node, does about what the float one does
    x = calib[:20]
    f, i8 = ort_session(blob).run(None, {"x": x})[0], _unfused(q.SerializeToString(), x)
    assert np.abs(f - i8).max() < 0.05 * np.abs(f).max()


def _unfused(model: bytes, x: np.ndarray) -> np.ndarray:
    """The quantised model's own arithmetic: ONNX Runtime without graph optimisations
    computes each QuantizeLinear, DequantizeLinear and float node as written (built
    here, not with ``ort_session(fuse=False)``, which is under test)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def test_int8_seven_bit_weights(small: tuple[_Small, bytes, np.ndarray]) -> None:
    m, blob, calib = small
    q = onnx.load_from_string(quantize_int8(blob, calib, reduce_range=True))
    w = m.conv.weight.detach().numpy()
    wq, scale, zp, _ = _dq_of(q, _conv(q).input[1])
    assert wq.dtype == np.int8 and scale.shape == () and zp == 0
    assert scale == pytest.approx(np.abs(w).max() / 64, rel=1e-6)
    np.testing.assert_array_equal(wq, np.clip(np.round(w / scale), -64, 64))
    # 7 bits cannot saturate 16-bit pair sums (2 * 255 * 64 < 2**15): the fused
    # kernels compute the model's arithmetic, on any CPU (here: exactly; elsewhere a
    # float sum's rounding may move an activation by one step of its 255)
    unfused = _unfused(q.SerializeToString(), calib)
    fused = ort_session(q.SerializeToString()).run(None, {"x": calib})[0]
    assert np.abs(fused - unfused).max() <= 0.01 * np.abs(unfused).max()
    plain = ort_session(q.SerializeToString(), fuse=False).run(None, {"x": calib})[0]
    np.testing.assert_array_equal(plain, unfused)
    f = ort_session(blob).run(None, {"x": calib})[0]
    assert np.abs(f - fused).max() < 0.05 * np.abs(f).max()


def test_int8_default_runs_the_model_it_writes_on_this_cpu(
    small: tuple[_Small, bytes, np.ndarray],
) -> None:
    """Whatever this CPU (AVX2 alone saturates 8-bit products in 16 bits; VNNI does
    not), the default's fused kernels compute its own arithmetic to 1 % of the
    outputs' range, and it is the 8-bit model wherever that one does."""
    _, blob, calib = small
    auto = quantize_int8(blob, calib.astype(np.float64))  # the check feeds float32
    assert auto == quantize_int8(blob, calib)
    fused = ort_session(auto).run(None, {"x": calib})[0]
    plain = _unfused(auto, calib)
    assert np.abs(fused - plain).max() <= 0.01 * np.abs(plain).max()
    eight = quantize_int8(blob, calib, reduce_range=False)
    e_fused, e_plain = ort_session(eight).run(None, {"x": calib})[0], _unfused(eight, calib)
    eight_agrees = np.abs(e_fused - e_plain).max() <= 0.01 * np.abs(e_plain).max()
    assert (auto == eight) == eight_agrees
    if not eight_agrees:
        assert auto == quantize_int8(blob, calib, reduce_range=True)


@pytest.mark.parametrize(("off", "agree"), [(0.0, True), (0.009, True), (0.011, False)])
def test_kernels_agree_compares_fused_with_node_by_node(
    small: tuple[_Small, bytes, np.ndarray], monkeypatch: pytest.MonkeyPatch, off: float,
    agree: bool,
) -> None:  # fmt: skip
    """A fused session whose outputs are ``off`` times the outputs' range away."""
    _, blob, calib = small
    eight = quantize_int8(blob, calib, reduce_range=True)
    plain = _unfused(eight, calib[:8])
    shift = off * np.abs(plain).max()

    class Shifted:
        """The fused session's outputs moved by ``shift``; the unfused one's as they are."""

        def __init__(self, model: bytes, *, fuse: bool = True) -> None:
            self.session, self.fuse = ort_session(model, fuse=fuse), fuse

        def get_inputs(self) -> Any:
            return self.session.get_inputs()

        def run(self, names: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            out = self.session.run(names, feeds)[0].astype(np.float64)
            out[0, 0] += shift if self.fuse else 0.0
            return [out]

    monkeypatch.setattr(qonnx, "ort_session", Shifted)
    assert qonnx.kernels_agree(eight, calib[:8]) is agree
    with pytest.raises(ValueError) as e:
        quantize_int8(blob, calib, reduce_range="yes")  # type: ignore[arg-type]
    assert str(e.value) == "reduce_range must be None, False or True; got 'yes'"


def test_int8_per_channel_weights(small: tuple[_Small, bytes, np.ndarray]) -> None:
    m, blob, calib = small
    q = onnx.load_from_string(quantize_int8(blob, calib, per_channel=True, reduce_range=False))
    w = m.conv.weight.detach().numpy()
    wq, scale, zp, axis = _dq_of(q, _conv(q).input[1])
    assert axis == 0 and scale.shape == (4,) and (zp == 0).all()
    np.testing.assert_allclose(scale, np.abs(w).reshape(4, -1).max(1) / 127, rtol=1e-6)
    np.testing.assert_array_equal(wq, np.clip(np.round(w / scale[:, None, None, None]), -127, 127))


def test_keep_float_names_the_float_nodes(small: tuple[_Small, bytes, np.ndarray]) -> None:
    _, blob, calib = small
    name = _conv(onnx.load_from_string(blob)).name
    dq_convs = lambda q: [  # noqa: E731
        n.name
        for n in _q(q).graph.node
        if n.op_type == "Conv" and n.input[1] in {d.output[0] for d in _q(q).graph.node
                                                   if d.op_type == "DequantizeLinear"}
    ]  # fmt: skip
    assert dq_convs(quantize_int8(blob, calib)) == [name]  # two channels: quantised
    assert dq_convs(quantize_int8(blob, calib, keep_float=[name])) == []
    assert dq_convs(quantize_int8(blob, calib, keep_float=())) == [name]  # type: ignore[arg-type]
    with pytest.raises(ValueError) as e:
        quantize_int8(blob, calib[:0])
    assert str(e.value) == "calibration needs at least one image; got 0"
    assert _q(quantize_int8(blob, calib[:1])).graph.node  # one image is enough


def _q(blob: bytes) -> onnx.ModelProto:
    return onnx.load_from_string(blob)


def test_int8_folds_squeeze_excite_gates_first() -> None:
    class Gate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(4)
            self.conv = nn.Conv2d(2, 2, 1)
            self.gate = nn.Conv2d(2, 2, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.conv(x)
            return h * nn.functional.hardsigmoid(self.gate(h))

    blob = to_onnx(Gate().eval(), (2, 4, 4))
    assert "HardSigmoid" in {n.op_type for n in _q(blob).graph.node}
    calib = np.random.default_rng(1).random((16, 2, 4, 4), dtype=np.float32)
    q = _q(quantize_int8(blob, calib, reduce_range=False))
    assert "HardSigmoid" not in [n.op_type for n in q.graph.node]
    # the gate's convolution carries torch's alpha = 1/6 in its int8 weights now, and
    # its output is quantised over the gate's calibrated range (within [0, 1])
    gate = [n for n in q.graph.node if n.op_type == "Conv"][1]
    w = Gate().gate.weight.detach().numpy() / 6
    _, scale, _, _ = _dq_of(q, gate.input[1])
    assert scale == pytest.approx(np.abs(w).max() / 127, rel=1e-5)
    (qout,) = [
        n for n in q.graph.node if n.op_type == "QuantizeLinear" and n.input[0] in gate.output
    ]
    inits = {t.name: numpy_helper.to_array(t) for t in q.graph.initializer}
    g = Gate().eval()
    with torch.no_grad():
        top = nn.functional.hardsigmoid(g.gate(g.conv(torch.from_numpy(calib)))).max().item()
    assert inits[qout.input[1]] == pytest.approx(top / 255, rel=1e-5)
    assert inits[qout.input[2]] == 0


def test_kernels_agree_at_exactly_the_tolerance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs 1 and 0.5 fused against 1 and 0 unfused: 0.5 of the range apart, exactly."""

    class Fixed:
        def __init__(self, model: bytes, *, fuse: bool = True) -> None:
            self.out = np.array([[1.0, 0.5 if fuse else 0.0]], dtype=np.float32)

        def get_inputs(self) -> Any:
            return [type("Input", (), {"name": "x"})()]

        def run(self, names: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            assert feeds["x"].dtype == np.float32 and feeds["x"].flags.c_contiguous
            return [self.out]

    monkeypatch.setattr(qonnx, "ort_session", Fixed)
    x = np.zeros((1, 2, 3), dtype=np.float64)[..., ::2]
    assert qonnx.kernels_agree(b"", x, tolerance=0.5)
    assert not qonnx.kernels_agree(b"", x, tolerance=0.4999)
