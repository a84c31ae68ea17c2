"""`EdgeCNN`: the torch network of a ``cnn`` space architecture, and its layer plan.

:func:`cnn_plan` turns an architecture plus the data set's input shape and class count
into a list of :class:`BlockSpec` (what to build) and :func:`layer_table` into
:class:`Layer` rows (what each operator costs). The model and the cost models read the
same plan, so memory, energy and the analytic latency describe the network that is
trained and exported. A test checks the table's MACs against torch's flop counter.

Architectures with ``bits=8`` train with fake quantisation (quantisation-aware
training): weights are rounded per output channel to symmetric int8, activations after
the stem and every block to per-tensor uint8/int8 ranges tracked by an exponential
moving average. The float graph is what is exported; int8 inference comes from ONNX
Runtime's static quantisation (:mod:`quarch.cost.onnx`), and the fake
quantisation during training is what keeps its accuracy loss small.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import nn
from torch.nn import functional as F

from quarch._errors import SpaceError
from quarch.spaces.cnn.space import BASE_CHANNELS, stage_block_names

__all__ = [
    "BlockSpec",
    "EdgeCNN",
    "FakeQuant",
    "Layer",
    "cnn_plan",
    "layer_table",
    "make_divisible",
    "set_fake_quant",
]

_STEM_CHANNELS = 16
_ACTS = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor`` (MobileNetV2's rule: never < 90%)."""
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new < 0.9 * value:
        new += divisor
    return new


def _conv_out(size: int, k: int, stride: int) -> int:
    return (size + 2 * (k // 2) - k) // stride + 1


@dataclass(frozen=True)
class BlockSpec:
    """One inverted-residual block: channels, kernel, stride and options."""

    stage: int
    index: int
    cin: int
    cout: int
    hidden: int
    kernel: int
    stride: int
    se: bool
    squeeze: int
    residual: bool
    h_in: int
    w_in: int
    h_out: int
    w_out: int


@dataclass(frozen=True)
class Plan:
    """The whole network: stem, blocks and head, with the settings they share."""

    in_channels: int
    h: int
    w: int
    stem_channels: int
    stem_stride: int
    stem_h: int
    stem_w: int
    blocks: tuple[BlockSpec, ...]
    n_classes: int
    activation: str
    bits: int

    @property
    def last_channels(self) -> int:
        """Channels into the classifier."""
        return self.blocks[-1].cout if self.blocks else self.stem_channels


def _n_stages(arch: Mapping[str, Any]) -> int:
    n = 0
    while f"depth_{n}" in arch:
        n += 1
    if n == 0:
        raise SpaceError(f"not a cnn architecture: no depth_0 key; keys: {sorted(arch)[:8]}...")
    return n


def cnn_plan(arch: Mapping[str, Any], input_shape: tuple[int, ...], n_classes: int) -> Plan:
    """The block plan of ``arch`` for inputs of ``input_shape`` ``(C, H, W)``.

    The stem has stride 2 when the image side is at least 16 pixels (28x28 -> 14x14) and
    stride 1 below that (8x8 digits); the first stage halves the resolution again when
    the stem leaves at least 14x14 (28x28 -> 7x7, as MCUNet's early downsampling keeps
    activation memory small), and every later stage starts with a stride-2 block. So
    three stages take 28x28 to 2x2 and 8x8 to 2x2.

    Raises:
        SpaceError: ``input_shape`` is not ``(C, H, W)`` or ``arch`` is not a cnn one.
    """
    if len(input_shape) != 3:
        raise SpaceError(f"the cnn space needs images (C, H, W); got input shape {input_shape}")
    if n_classes < 2:
        raise SpaceError(f"n_classes must be >= 2; got {n_classes}")
    c, h, w = (int(v) for v in input_shape)
    wm = float(arch["width_mult"])
    stem_c = make_divisible(_STEM_CHANNELS * wm)
    stem_stride = 2 if min(h, w) >= 16 else 1
    sh, sw = _conv_out(h, 3, stem_stride), _conv_out(w, 3, stem_stride)
    stage0_down = min(sh, sw) >= 14
    blocks: list[BlockSpec] = []
    cin, ch, cw = stem_c, sh, sw
    for s in range(_n_stages(arch)):
        cout = make_divisible(BASE_CHANNELS[s] * wm)
        for b in range(int(arch[f"depth_{s}"])):
            kn, en, sen = stage_block_names(s, b)
            k, e, se = int(arch[kn]), int(arch[en]), bool(arch[sen])
            stride = 2 if b == 0 and (s > 0 or stage0_down) else 1
            hidden = cin * e
            oh, ow = _conv_out(ch, k, stride), _conv_out(cw, k, stride)
            blocks.append(
                BlockSpec(
                    stage=s,
                    index=b,
                    cin=cin,
                    cout=cout,
                    hidden=hidden,
                    kernel=k,
                    stride=stride,
                    se=se,
                    squeeze=make_divisible(hidden / 4),
                    residual=bool(arch["skip"]) and stride == 1 and cin == cout,
                    h_in=ch,
                    w_in=cw,
                    h_out=oh,
                    w_out=ow,
                )
            )
            cin, ch, cw = cout, oh, ow
    return Plan(
        in_channels=c,
        h=h,
        w=w,
        stem_channels=stem_c,
        stem_stride=stem_stride,
        stem_h=sh,
        stem_w=sw,
        blocks=tuple(blocks),
        n_classes=int(n_classes),
        activation=str(arch["activation"]),
        bits=int(arch["bits"]),
    )


# -- cost table ------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """One operator of the inference schedule, as the cost models see it.

    ``kind`` is ``conv`` (dense, any kernel), ``dwconv`` (depthwise), ``linear``,
    ``se`` (squeeze-excite: pool, two 1x1 convs, scale), ``add`` (residual) or ``pool``.
    ``in_elems``/``out_elems`` count activation elements; ``held_elems`` counts tensors
    that must stay alive across this operator (a residual input). ``weights`` are
    weight elements and ``biases`` per-channel biases after batch-norm folding.
    """

    name: str
    kind: str
    macs: int
    weights: int
    biases: int
    in_elems: int
    out_elems: int
    held_elems: int = 0


def layer_table(plan: Plan) -> list[Layer]:
    """The operators of ``plan`` in execution order, with MACs and tensor sizes.

    Batch-norm is folded into the preceding convolution (as ONNX export does), so it
    adds a bias per channel and no operator; activations are fused and not listed.
    """
    rows: list[Layer] = []
    c, h, w = plan.in_channels, plan.h, plan.w
    sc, sh, sw = plan.stem_channels, plan.stem_h, plan.stem_w
    rows.append(
        Layer("stem", "conv", sh * sw * sc * c * 9, sc * c * 9, sc, c * h * w, sc * sh * sw)
    )
    for b in plan.blocks:
        name = f"s{b.stage}b{b.index}"
        x_in = b.cin * b.h_in * b.w_in
        # the block's input stays alive for the add, but the first operator reads it:
        # one tensor, counted once (as ``in_elems``) there, and as ``held`` after
        held = x_in if b.residual else 0
        if b.hidden != b.cin:
            n_out = b.hidden * b.h_in * b.w_in
            rows.append(
                Layer(
                    f"{name}.expand",
                    "conv",
                    n_out * b.cin,
                    b.hidden * b.cin,
                    b.hidden,
                    x_in,
                    n_out,
                )
            )
            x_in = n_out
            dw_held = held
        else:
            dw_held = 0
        n_dw = b.hidden * b.h_out * b.w_out
        k2 = b.kernel * b.kernel
        rows.append(
            Layer(f"{name}.dw", "dwconv", n_dw * k2, b.hidden * k2, b.hidden, x_in, n_dw, dw_held)
        )
        if b.se:
            se_macs = 2 * b.hidden * b.squeeze
            rows.append(
                Layer(f"{name}.se", "se", se_macs, se_macs, b.hidden + b.squeeze, n_dw, n_dw, held)
            )
        n_pr = b.cout * b.h_out * b.w_out
        rows.append(
            Layer(
                f"{name}.project",
                "conv",
                n_pr * b.hidden,
                b.cout * b.hidden,
                b.cout,
                n_dw,
                n_pr,
                held,
            )
        )
        if b.residual:
            rows.append(Layer(f"{name}.add", "add", 0, 0, 0, 2 * n_pr, n_pr))
    last = plan.blocks[-1] if plan.blocks else None
    lc = plan.last_channels
    lh, lw = (last.h_out, last.w_out) if last else (sh, sw)
    rows.append(Layer("pool", "pool", 0, 0, 0, lc * lh * lw, lc))
    rows.append(
        Layer(
            "head",
            "linear",
            lc * plan.n_classes,
            lc * plan.n_classes,
            plan.n_classes,
            lc,
            plan.n_classes,
        )
    )
    return rows


# -- fake quantisation -----------------------------------------------------------------
class FakeQuant(nn.Module):
    """Per-tensor 8-bit fake quantisation of activations with an EMA-tracked range.

    In training the range is updated from each batch (momentum ``0.1``); in evaluation
    the tracked range is used. Gradients pass straight through inside the range
    (torch's ``fake_quantize_per_tensor_affine``). Disabled, it is the identity, which is
    what ONNX export sees.
    """

    lo: torch.Tensor
    hi: torch.Tensor
    seen: torch.Tensor

    def __init__(self, enabled: bool = True, momentum: float = 0.1) -> None:
        super().__init__()
        self.enabled = enabled
        self.momentum = momentum
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))
        self.register_buffer("seen", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return x
        if self.training:
            with torch.no_grad():
                batch_lo, batch_hi = x.min().clamp(max=0.0), x.max().clamp(min=0.0)
                if int(self.seen) == 0:
                    self.lo.copy_(batch_lo)
                    self.hi.copy_(batch_hi)
                else:
                    self.lo.lerp_(batch_lo, self.momentum)
                    self.hi.lerp_(batch_hi, self.momentum)
                self.seen.add_(1)
        lo, hi = float(self.lo), float(self.hi)
        if hi - lo <= 1e-8:
            return x
        scale = (hi - lo) / 255.0
        zero = round(-lo / scale)
        return torch.fake_quantize_per_tensor_affine(x, scale, zero, 0, 255)


def _fq_weight(w: torch.Tensor) -> torch.Tensor:
    """Symmetric per-output-channel int8 fake quantisation of a weight tensor."""
    amax = w.detach().abs().flatten(1).amax(dim=1).clamp(min=1e-8)
    scale = (amax / 127.0).to(torch.float32)
    zero = torch.zeros_like(scale, dtype=torch.int32)
    return torch.fake_quantize_per_channel_affine(w, scale, zero, 0, -127, 127)


class QConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose weight is fake-quantised to int8 while ``quant`` is on."""

    quant: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = _fq_weight(self.weight) if self.quant else self.weight
        return self._conv_forward(x, w, self.bias)


class QLinear(nn.Linear):
    """``nn.Linear`` whose weight is fake-quantised to int8 while ``quant`` is on."""

    quant: bool = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = _fq_weight(self.weight) if self.quant else self.weight
        return F.linear(x, w, self.bias)


def set_fake_quant(model: nn.Module, enabled: bool) -> None:
    """Switch every fake quantiser in ``model`` on or off (off for float export)."""
    for m in model.modules():
        if isinstance(m, QConv2d | QLinear):
            m.quant = enabled
        elif isinstance(m, FakeQuant):
            m.enabled = enabled


# -- modules ---------------------------------------------------------------------------
class ConvBN(nn.Sequential):
    """Convolution, batch-norm and an optional activation."""

    def __init__(
        self, cin: int, cout: int, k: int, stride: int, groups: int, act: str | None
    ) -> None:
        layers: list[nn.Module] = [
            QConv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
        ]
        if act is not None:
            layers.append(_ACTS[act]())
        super().__init__(*layers)


class SqueezeExcite(nn.Module):
    """Channel attention: pool, reduce, ReLU, expand, hard-sigmoid, scale."""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.reduce = QConv2d(channels, squeeze, 1)
        self.expand = QConv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        s = F.hardsigmoid(self.expand(F.relu(self.reduce(s))))
        return x * s


class InvertedResidual(nn.Module):
    """MobileNetV2 block: 1x1 expand (skipped at ratio 1), depthwise, SE, 1x1 project."""

    def __init__(self, spec: BlockSpec, act: str, quant: bool) -> None:
        super().__init__()
        self.spec = spec
        self.expand = (
            ConvBN(spec.cin, spec.hidden, 1, 1, 1, act) if spec.hidden != spec.cin else None
        )
        self.dw = ConvBN(spec.hidden, spec.hidden, spec.kernel, spec.stride, spec.hidden, act)
        self.se = SqueezeExcite(spec.hidden, spec.squeeze) if spec.se else None
        self.project = ConvBN(spec.hidden, spec.cout, 1, 1, 1, None)
        self.out_fq = FakeQuant(quant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        if self.spec.residual:
            y = y + x
        return self.out_fq(y)


class EdgeCNN(nn.Module):
    """The network of one ``cnn`` architecture.

    Args:
        arch (Mapping): an architecture of :func:`quarch.spaces.cnn.space.cnn_space`.
        input_shape (tuple[int, ...]): ``(C, H, W)`` of one image.
        n_classes (int): number of classes.

    Example:
        >>> from quarch.spaces.cnn.space import cnn_space
        >>> arch = cnn_space(n_stages=2, max_blocks=1).sample(0)
        >>> EdgeCNN(arch, (1, 8, 8), 10)(torch.zeros(2, 1, 8, 8)).shape
        torch.Size([2, 10])
    """

    def __init__(
        self, arch: Mapping[str, Any], input_shape: tuple[int, ...], n_classes: int
    ) -> None:
        super().__init__()
        self.arch = dict(arch)
        self.plan = cnn_plan(arch, input_shape, n_classes)
        p = self.plan
        quant = p.bits == 8
        self.in_fq = FakeQuant(quant)
        self.stem = ConvBN(p.in_channels, p.stem_channels, 3, p.stem_stride, 1, p.activation)
        self.stem_fq = FakeQuant(quant)
        n_stages = _n_stages(arch)
        self.stages = nn.ModuleList(
            nn.ModuleList(
                InvertedResidual(b, p.activation, quant) for b in p.blocks if b.stage == s
            )
            for s in range(n_stages)
        )
        self.head = QLinear(p.last_channels, p.n_classes)
        set_fake_quant(self, quant)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem_fq(self.stem(self.in_fq(x)))
        for stage in self.stages:
            for block in cast(nn.ModuleList, stage):
                x = block(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.head(x)
