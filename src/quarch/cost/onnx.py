"""ONNX export, int8 static quantisation and ONNX Runtime timing of torch models.

Export uses torch's TorchScript-based exporter (``dynamo=False``), which needs no
extra package and folds batch-norm into the convolutions of an eval-mode model. Int8
models come from ONNX Runtime's own static quantisation (QDQ format, per-channel
weights, calibration on real images), so what is timed is what a user would deploy.

Timing is ``warm-up`` runs followed by the median of ``repeats`` runs of one image, on
an ONNX Runtime session with fixed thread counts. Measured latency varies from run to
run with machine load (a few percent on a quiet machine, much more on a busy one); it
is a measurement, not a deterministic metric.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import time
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    import onnx
    import onnxruntime

__all__ = [
    "fake_quantised",
    "float_graph",
    "fold_hard_sigmoid",
    "kernels_agree",
    "measure_latency_ms",
    "onnx_accuracy",
    "ort_session",
    "quantize_int8",
    "single_channel_convs",
    "to_onnx",
    "weight_bits",
]

OPSET = 17
#: The boolean attributes by which quarch's quantisation-aware modules fake quantise: a
#: quantised convolution or linear layer's ``quant``, an activation quantiser's ``enabled``.
_QUANT_FLAGS = ("quant", "enabled")


def fake_quantised(model: nn.Module) -> bool:
    """Whether any module of ``model`` fake quantises now (the convention of
    :func:`float_graph`): its ONNX export, the float graph, then computes something
    other than the trained network does."""
    return any(getattr(m, a, None) is True for m in model.modules() for a in _QUANT_FLAGS)


@contextlib.contextmanager
def float_graph(model: nn.Module) -> Iterator[None]:
    """Run the block with every fake quantiser of ``model`` switched off, then restore.

    The convention quarch's quantisation-aware models follow: a module that fake
    quantises has a boolean ``quant`` (a quantised convolution or linear layer) or
    ``enabled`` (an activation quantiser) attribute. The float graph is what ONNX gets;
    :func:`quantize_int8` then quantises it for real.
    """
    yield from _float_graph(model)


def _float_graph(model: nn.Module) -> Iterator[None]:
    """:func:`float_graph`'s body, undecorated (mutmut mutates no decorated function)."""
    saved = []
    for m in model.modules():
        for attr in _QUANT_FLAGS:
            value = getattr(m, attr, None)
            if isinstance(value, bool):
                saved.append((m, attr, value))
                setattr(m, attr, False)
    try:
        yield
    finally:
        for m, attr, value in saved:
            setattr(m, attr, value)


def to_onnx(model: nn.Module, input_shape: tuple[int, ...]) -> bytes:
    """Serialise ``model`` (in eval mode, fake quantisation off) to ONNX bytes.

    The batch axis is dynamic; the input is named ``x`` and the output ``logits``.
    """
    was_training = model.training
    model.eval()
    buf = io.BytesIO()
    try:
        with float_graph(model), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (torch.zeros((1, *input_shape)),),
                # torch annotates ``f`` as a path, but the legacy (dynamo=False)
                # exporter also writes to a binary file object
                buf,  # type: ignore[arg-type]
                dynamo=False,
                input_names=["x"],
                output_names=["logits"],
                dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                opset_version=OPSET,
                do_constant_folding=True,
            )
    finally:
        model.train(was_training)
    return buf.getvalue()


def ort_session(
    onnx_model: bytes | str, *, threads: int = 1, fuse: bool = True
) -> onnxruntime.InferenceSession:
    """A CPU ONNX Runtime session with ``threads`` intra-op threads and one inter-op.
    ``fuse=False`` turns graph optimisations off: each node runs as written (a
    quantised model's QuantizeLinear and DequantizeLinear too, not fused kernels)."""
    import onnxruntime as ort

    if threads < 1:
        raise ValueError(f"threads must be >= 1; got {threads}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = (
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if fuse
        else ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    )
    so.log_severity_level = 3
    return ort.InferenceSession(onnx_model, so, providers=["CPUExecutionProvider"])


def measure_latency_ms(
    onnx_model: bytes | str,
    input_shape: tuple[int, ...],
    *,
    warmup: int = 10,
    repeats: int = 50,
    threads: int = 1,
    batch: int = 1,
) -> float:
    """Median wall time in milliseconds of one inference of ``batch`` images (default 1).

    Args:
        onnx_model: ONNX bytes or a file path.
        input_shape: ``(C, H, W)`` of one image.
        warmup: untimed runs first (allocations, caches).
        repeats: timed runs; the median is robust to a few preempted ones.
        threads: intra-op threads, fixed so that figures compare.
        batch: images per run (1 is the edge case: latency; more measures throughput).
    """
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0; got {warmup}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1; got {repeats}")
    if batch < 1:
        raise ValueError(f"batch must be >= 1; got {batch}")
    sess = ort_session(onnx_model, threads=threads)
    x = np.random.default_rng(0).random((batch, *input_shape), dtype=np.float32)
    feed = {sess.get_inputs()[0].name: x}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append(time.perf_counter() - t0)
    return 1000.0 * statistics.median(times)


def onnx_accuracy(
    onnx_model: bytes | str, X: np.ndarray, y: np.ndarray, *, batch_size: int = 512
) -> float:
    """Top-1 accuracy of an ONNX classifier on ``X`` (n, C, H, W) with labels ``y``."""
    sess = ort_session(onnx_model, threads=2)
    name = sess.get_inputs()[0].name
    correct = 0
    for i in range(0, len(X), batch_size):
        logits = sess.run(None, {name: np.ascontiguousarray(X[i : i + batch_size], np.float32)})[0]
        correct += int((logits.argmax(axis=1) == y[i : i + batch_size]).sum())
    return correct / max(len(X), 1)


class _Calibration:
    """ONNX Runtime calibration reader over batches of real images."""

    def __init__(self, X: np.ndarray, batch_size: int) -> None:
        self._it: Iterator[np.ndarray] = (
            np.ascontiguousarray(X[i : i + batch_size], np.float32)
            for i in range(0, len(X), batch_size)
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._it, None)
        return None if batch is None else {"x": batch}

    def rewind(self) -> None:  # pragma: no cover - ORT calls it for some methods only
        raise NotImplementedError


#: Activations that ONNX Runtime fuses into the convolution before them; a float-kept
#: convolution keeps its activation with it.
_FUSED_ACTIVATIONS = frozenset({"Relu", "Clip", "HardSwish", "HardSigmoid", "LeakyRelu"})


def fold_hard_sigmoid(model: onnx.ModelProto) -> int:
    """Rewrite ``HardSigmoid(Conv(x))`` as ``Clip(Conv'(x), 0, 1)``, in place; exact.

    ``HardSigmoid(y) = clip(alpha * y + beta, 0, 1)``, so scaling the convolution's
    weights and bias by ``alpha`` and adding ``beta`` to the bias leaves only a clip,
    which ONNX Runtime folds into the quantised convolution's output range. Without
    it, every squeeze-excite gate leaves the integer graph (HardSigmoid has no int8
    kernel): a DequantizeLinear, a float HardSigmoid and a QuantizeLinear per block.
    Only convolutions whose output feeds the HardSigmoid alone (no other node, and no
    graph output) are rewritten.

    Returns:
        int: how many HardSigmoid nodes were folded.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {t.name: t for t in graph.initializer}
    producer = {out: n for n in graph.node for out in n.output}
    uses: dict[str, int] = {}
    # a graph output is a use too: rewriting its convolution would change what it returns
    reads = [name for n in graph.node for name in n.input] + [o.name for o in graph.output]
    for name in reads:
        uses[name] = uses.get(name, 0) + 1
    folded = 0
    for node in list(graph.node):
        if node.op_type != "HardSigmoid":
            continue
        conv = producer.get(node.input[0])
        if (
            conv is None
            or conv.op_type != "Conv"
            or uses.get(node.input[0], 0) != 1
            or len(conv.input) < 3
            or not {conv.input[1], conv.input[2]} <= inits.keys()
            or uses.get(conv.input[1], 0) != 1
            or uses.get(conv.input[2], 0) != 1
        ):
            continue
        attrs = {a.name: a.f for a in node.attribute}
        alpha, beta = attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
        w = numpy_helper.to_array(inits[conv.input[1]])
        b = numpy_helper.to_array(inits[conv.input[2]])
        inits[conv.input[1]].CopyFrom(numpy_helper.from_array(w * alpha, conv.input[1]))
        inits[conv.input[2]].CopyFrom(numpy_helper.from_array(b * alpha + beta, conv.input[2]))
        stem = f"{node.name or node.output[0]}_clip"
        lo, hi = f"{stem}_min", f"{stem}_max"
        graph.initializer.extend(
            [numpy_helper.from_array(np.array(v, w.dtype), n) for n, v in ((lo, 0), (hi, 1))]
        )
        clip = helper.make_node("Clip", [node.input[0], lo, hi], list(node.output), name=stem)
        index = list(graph.node).index(node)
        graph.node.remove(node)
        graph.node.insert(index, clip)
        folded += 1
    return folded


def single_channel_convs(model: onnx.ModelProto) -> list[str]:
    """Names of ungrouped convolutions with one input channel, and their activations.

    The stem of a grey-scale network is the usual case. ONNX Runtime's int8
    convolutions vectorise over input channels, so with one channel its QLinearConv
    ran at half the float kernel's speed (19.5 against 10.1 us on this machine's
    stem); the first layer is also the one most sensitive to quantisation, and the
    common practice is to keep it in float. Depthwise convolutions (``group`` > 1) are
    not included: their int8 kernel is slower only at large kernels (18.2 against 10.4
    us at 7x7), and keeping one in float cost as much in quantise/dequantise nodes.
    """
    from onnx import numpy_helper

    inits = {t.name: t for t in model.graph.initializer}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    names = []
    for node in model.graph.node:
        if node.op_type != "Conv" or len(node.input) < 2 or node.input[1] not in inits:
            continue
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        if group != 1 or numpy_helper.to_array(inits[node.input[1]]).shape[1] != 1:
            continue
        names.append(node.name)
        after = consumers.get(node.output[0], [])
        if len(after) == 1 and after[0].op_type in _FUSED_ACTIVATIONS:
            names.append(after[0].name)
    return names


def quantize_int8(
    onnx_model: bytes,
    calibration: np.ndarray,
    *,
    batch_size: int = 64,
    per_channel: bool = False,
    keep_float: list[str] | None = None,
    reduce_range: bool | None = None,
) -> bytes:
    """Static int8 quantisation of a float ONNX model with ONNX Runtime.

    Weights are int8 (per tensor, or per output channel with ``per_channel``) and
    activations uint8 per tensor, with ranges from min/max calibration on
    ``calibration`` images ``(n, C, H, W)`` (a few hundred training images suffice).
    QDQ format: ONNX Runtime fuses the pairs into integer kernels when it loads the
    model. Per-tensor weights are the default because they ran 1.6x faster than
    per-channel ones on this machine's CPU (AVX-512 VNNI) for the largest space
    member, with signed int8 activations 5-10x slower than uint8.

    Two exact graph rules run first, because they decided whether int8 was faster at
    all on this CPU (Fashion-MNIST's best search result, batch 64: 1.00x without them,
    1.19x with them): squeeze-excite gates are folded into their convolution
    (:func:`fold_hard_sigmoid`), and single-input-channel convolutions stay in float
    (:func:`single_channel_convs`), unless ``keep_float`` names the float nodes itself
    (``[]`` quantises every node).

    ``reduce_range`` quantises the weights to 7 bits ([-64, 64]) instead of 8. On x86
    CPUs without VNNI (AVX2 alone: most AMD and older Intel laptops) ONNX Runtime's
    fused uint8 x int8 kernels add pairs of products in 16 bits and saturate
    (``VPMADDUBSW``), so the model they run is not the quantised model: on this
    project's test network the outputs were 14 % of their range away from the model's
    own int8 arithmetic, seven times its quantisation error; 7-bit weights cannot
    saturate, which is ONNX Runtime's documented remedy. ``None`` (the default)
    measures instead of guessing the CPU: the 8-bit model is run on the calibration
    images fused (as :func:`ort_session` runs it) and unfused (each QuantizeLinear and
    DequantizeLinear computed as written, the model's arithmetic), and where they
    differ by more than 1 % of the outputs' range, the 7-bit model is returned; so
    the file depends on the CPU that quantises it, as its timing does. ``False`` or
    ``True`` choose without the check (timing alone: both run the same kernels).
    :func:`weight_bits` reads back from the file which one was written.
    """
    import tempfile
    from pathlib import Path

    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(calibration) == 0:
        raise ValueError("calibration needs at least one image; got 0")
    if reduce_range not in (None, False, True):
        raise ValueError(f"reduce_range must be None, False or True; got {reduce_range!r}")
    model = onnx.load_from_string(onnx_model)
    fold_hard_sigmoid(model)
    exclude = single_channel_convs(model) if keep_float is None else list(keep_float)

    def quantised(seven_bits: bool) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            src, pre, dst = (Path(tmp) / n for n in ("f32.onnx", "pre.onnx", "int8.onnx"))
            src.write_bytes(model.SerializeToString())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
                quantize_static(
                    str(pre),
                    str(dst),
                    _Calibration(calibration, batch_size),
                    quant_format=QuantFormat.QDQ,
                    per_channel=per_channel,
                    reduce_range=seven_bits,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=exclude,
                )
            return dst.read_bytes()

    eight = quantised(bool(reduce_range))
    if reduce_range is not None or kernels_agree(eight, calibration[:batch_size]):
        return eight
    return quantised(True)


def kernels_agree(int8_model: bytes, images: np.ndarray, *, tolerance: float = 0.01) -> bool:
    """Whether ONNX Runtime's fused integer kernels on this CPU compute the quantised
    model's own arithmetic on ``images``: the outputs of :func:`ort_session` (all graph
    optimisations, so QuantizeLinear-op-DequantizeLinear runs as one integer kernel)
    and of ``ort_session(fuse=False)`` (each QDQ node computed as written) differ by at
    most ``tolerance`` times the latter's largest output magnitude. See
    :func:`quantize_int8` for why they can differ."""
    x = np.ascontiguousarray(images, dtype=np.float32)
    fused, plain = ort_session(int8_model), ort_session(int8_model, fuse=False)
    name = fused.get_inputs()[0].name
    got, want = fused.run(None, {name: x})[0], plain.run(None, {name: x})[0]
    return bool(np.abs(got - want).max() <= tolerance * np.abs(want).max())


def weight_bits(int8_model: bytes | onnx.ModelProto) -> int | None:
    """How many bits the int8 weights of a model that :func:`quantize_int8` wrote use:
    8, 7, or ``None`` when it holds no int8 weights (everything kept in float) or its
    largest weight is on neither of ONNX Runtime's symmetric ranges.

    :func:`quantize_int8` writes 7-bit weights where this CPU's fused kernels saturate
    on 8-bit ones, so the same export gives either file and nothing else tells them
    apart: a 7-bit file moved to a VNNI machine gives away a bit of precision, and an
    8-bit one moved to an AVX2 machine runs wrong. ONNX Runtime's symmetric weights span
    [-127, 127] (8 bits) or [-64, 64] (7 bits), and the largest weight of a tensor sets
    its scale, so its integer is 127 or 64: the largest over the file says which.
    """
    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(int8_model) if isinstance(int8_model, bytes) else int8_model
    inits = {t.name: t for t in model.graph.initializer}
    dequantised = {n.input[0] for n in model.graph.node if n.op_type == "DequantizeLinear"}
    largest = [
        int(np.abs(numpy_helper.to_array(inits[name]).astype(np.int64)).max())
        for name in dequantised & inits.keys()
        if inits[name].data_type == onnx.TensorProto.INT8
    ]
    return {127: 8, 64: 7}.get(max(largest)) if largest else None
