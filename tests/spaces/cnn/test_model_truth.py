"""EdgeCNN, its plan and fake quantisation against independent truth.

The truth here is written without :mod:`quarch.spaces.cnn.model`'s own arithmetic:

* the channel rounding is MobileNetV2's rule (``_make_divisible`` of the TensorFlow
  models repository) evaluated in exact fractions;
* output sizes come from ``nn.Conv2d`` itself, the plan's resolutions from the rules of
  :func:`cnn_plan`'s docstring and the shapes a forward pass really produces;
* the network's output is recomputed layer by layer with ``torch.nn.functional`` from
  the modules' tensors (batch-norm, activations, squeeze-excite and the residual add
  written out by hand), in float and with int8 fake quantisation;
* fake quantisation is the affine formula ``clamp(round(x / s) + z) - z) * s`` with the
  range tracked by an exponential moving average, written out here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from quarch._errors import SpaceError
from quarch.evaluate import torch_threads
from quarch.spaces.cnn.model import (
    EdgeCNN,
    FakeQuant,
    InvertedResidual,
    QConv2d,
    QLinear,
    SqueezeExcite,
    _conv_out,
    _fq_weight,
    cnn_plan,
    make_divisible,
    set_fake_quant,
)
from quarch.spaces.cnn.space import BASE_CHANNELS, cnn_space

from ._batch_norm import randomise_batch_norm

SPACE = cnn_space()


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine, several times faster than two."""
    with torch_threads(1):
        yield


# -- channel rounding ------------------------------------------------------------------
def _mobilenet_divisible(v: Fraction, d: int) -> int:
    """MobileNetV2's rule, exactly: nearest multiple of ``d`` (halves up), at least ``d``,
    and one ``d`` more where rounding lost more than 10 %."""
    new = max(d, math.floor(v / d + Fraction(1, 2)) * d)
    if new < Fraction(9, 10) * v:
        new += d
    return new


class TestMakeDivisible:
    @pytest.mark.parametrize("divisor", [4, 8, 16])
    def test_equals_the_mobilenet_rule(self, divisor: int) -> None:
        for i in range(1, 1600):
            v = Fraction(i, 8)
            assert make_divisible(float(v), divisor) == _mobilenet_divisible(v, divisor), v

    def test_default_divisor_is_eight(self) -> None:
        for v in (3.0, 11.0, 12.0, 13.0, 20.0, 28.0, 36.0, 100.0):
            assert make_divisible(v) == _mobilenet_divisible(Fraction(v), 8)

    def test_exactly_ten_percent_down_is_kept(self) -> None:
        # 10 rounds to 9 (divisor 9): 10 % lost, not more, so no step up (0.9 * 10 == 9.0)
        assert 0.9 * 10 == 9.0
        assert make_divisible(10.0, 9) == 9
        # and just over 10 % lost steps up
        assert make_divisible(10.01, 9) == 18


def test_conv_out_equals_torch() -> None:
    for size in range(1, 21):
        for k in (1, 3, 5, 7):
            for stride in (1, 2):
                w = torch.zeros(1, 1, k, k)
                want = F.conv2d(torch.zeros(1, 1, size, size), w, None, stride, k // 2).shape[-1]
                assert _conv_out(size, k, stride) == want, (size, k, stride)


# -- the plan against its rules and the real forward pass ------------------------------
def _block_shapes(model: EdgeCNN, shape: tuple[int, ...]) -> list[tuple[tuple, tuple]]:
    """``(input shape, output shape)`` of every block of one forward pass, in order."""
    seen: list[tuple[tuple, tuple]] = []

    def hook(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        seen.append((tuple(inp[0].shape[1:]), tuple(out.shape[1:])))

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, InvertedResidual)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for h in hs:
        h.remove()
    return seen


SHAPES = [(1, 15, 15), (1, 16, 16), (1, 16, 40), (1, 40, 16), (1, 26, 26), (1, 27, 27),
          (3, 8, 12), (2, 28, 28)]  # fmt: skip


class TestPlan:
    @pytest.mark.parametrize("shape", SHAPES)
    def test_strides_follow_the_documented_rules(self, shape: tuple[int, ...]) -> None:
        c, h, w = shape
        for seed in range(3):
            arch = SPACE.sample(seed)
            plan = cnn_plan(arch, shape, 10)
            # the stem has stride 2 when the image side is at least 16 pixels
            stem_stride = 2 if min(h, w) >= 16 else 1
            stem = nn.Conv2d(c, 1, 3, stem_stride, 1)(torch.zeros(1, c, h, w)).shape[-2:]
            assert (plan.stem_stride, plan.stem_h, plan.stem_w) == (stem_stride, *stem)
            assert (plan.in_channels, plan.h, plan.w) == shape
            # the first stage halves again when the stem leaves at least 14x14; every
            # later stage starts with a stride-2 block
            for b in plan.blocks:
                first = b.index == 0
                down = first and (b.stage > 0 or min(stem) >= 14)
                assert b.stride == (2 if down else 1), (shape, b)

    @pytest.mark.parametrize("shape", SHAPES)
    def test_channels_and_sizes_are_those_the_network_computes(
        self, shape: tuple[int, ...]
    ) -> None:
        for seed in range(3):
            arch = SPACE.sample(seed)
            model = EdgeCNN(arch, shape, 10)
            plan = model.plan
            wm = Fraction(arch["width_mult"]).limit_denominator(100)
            assert plan.stem_channels == _mobilenet_divisible(16 * wm, 8)
            depths = [arch[f"depth_{s}"] for s in range(3)]
            assert [b.stage for b in plan.blocks] == [s for s in range(3) for _ in range(depths[s])]
            assert [b.index for b in plan.blocks] == [i for s in range(3) for i in range(depths[s])]
            shapes = _block_shapes(model, shape)
            assert len(shapes) == len(plan.blocks)
            cin = plan.stem_channels
            for b, (x, y) in zip(plan.blocks, shapes, strict=True):
                key = f"{b.stage}_{b.index}"
                cout = _mobilenet_divisible(BASE_CHANNELS[b.stage] * wm, 8)
                assert (b.cin, b.cout) == (cin, cout)
                assert b.hidden == cin * arch[f"expand_{key}"]
                assert b.kernel == arch[f"kernel_{key}"]
                assert b.se == arch[f"se_{key}"]
                # MobileNetV3's squeeze width: a quarter of the hidden channels, rounded
                assert b.squeeze == _mobilenet_divisible(Fraction(b.hidden, 4), 8)
                assert x == (b.cin, b.h_in, b.w_in)
                assert y == (b.cout, b.h_out, b.w_out)
                assert b.residual == (arch["skip"] and b.stride == 1 and b.cin == b.cout)
                cin = cout
            assert plan.last_channels == cin
            assert (plan.n_classes, plan.activation, plan.bits) == (
                10, arch["activation"], arch["bits"]
            )  # fmt: skip

    def test_non_square_images_use_the_smaller_side(self) -> None:
        arch = SPACE.sample(0)
        # 40x12: the short side (12) keeps stride 1; 12x40 likewise
        for shape in ((1, 40, 12), (1, 12, 40)):
            plan = cnn_plan(arch, shape, 10)
            assert plan.stem_stride == 1
            assert (plan.stem_h, plan.stem_w) == shape[1:]
            assert plan.blocks[0].stride == 1  # 12 < 14

    def test_integer_like_choices_are_converted(self) -> None:
        # a choice read back from a file may be a float or a numpy scalar
        arch = dict(SPACE.sample(2), skip=1, bits=8.0, width_mult=1)
        arch.update({n: float(v) for n, v in arch.items() if n.startswith(("kernel", "expand"))})
        arch.update({n: int(v) for n, v in arch.items() if n.startswith(("depth", "se_"))})
        plan = cnn_plan(arch, (1, 28, 28), 10.0)  # type: ignore[arg-type]
        assert type(plan.bits) is int and plan.bits == 8
        assert type(plan.n_classes) is int
        for b in plan.blocks:
            assert type(b.kernel) is int and type(b.hidden) is int
            assert type(b.se) is bool and type(b.residual) is bool


# -- the forward pass, by hand ---------------------------------------------------------
def _relu6(x: torch.Tensor) -> torch.Tensor:
    return x.clamp(0.0, 6.0)


ACT: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": lambda x: x.clamp(min=0.0),
    "relu6": _relu6,
    "hardswish": lambda x: x * _relu6(x + 3.0) / 6.0,
}


def _fq_act(x: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """Affine uint8 fake quantisation of an activation with range ``[lo, hi]``."""
    if hi - lo <= 1e-8:
        return x
    s = (hi - lo) / 255.0
    z = round(-lo / s)
    # torch multiplies by the inverse scale (a tie can round either way otherwise)
    return (torch.clamp(torch.round(x * (1.0 / s)) + z, 0, 255) - z) * s


def _fq_w(w: torch.Tensor) -> torch.Tensor:
    """Symmetric int8 per output channel: 127 levels each side of zero."""
    s = w.abs().flatten(1).amax(1).clamp(min=1e-8) / 127.0
    s = s.reshape(-1, *([1] * (w.dim() - 1)))
    return torch.clamp(torch.round(w / s), -127, 127) * s


def _conv_bn(
    x: torch.Tensor, seq: Any, act: str | None, quant: bool, groups: int = 1
) -> torch.Tensor:
    conv, bn = seq[0], seq[1]
    w = _fq_w(conv.weight) if quant else conv.weight
    k = w.shape[-1]
    y = F.conv2d(x, w, None, conv.stride, k // 2, 1, groups)
    y = (y - bn.running_mean[:, None, None]) / torch.sqrt(bn.running_var[:, None, None] + 1e-5)
    y = y * bn.weight[:, None, None] + bn.bias[:, None, None]
    return ACT[act](y) if act else y


def _reference(model: EdgeCNN, x: torch.Tensor) -> torch.Tensor:
    """The network of ``model.arch`` in eval mode, written out with the functional API."""
    arch = model.arch
    act = arch["activation"]
    quant = arch["bits"] == 8

    def fq(m: FakeQuant, t: torch.Tensor) -> torch.Tensor:
        return _fq_act(t, float(m.lo), float(m.hi)) if quant else t

    y = fq(model.in_fq, x)
    y = fq(model.stem_fq, _conv_bn(y, model.stem, act, quant))
    stages: Any = model.stages
    for s, stage in enumerate(stages):
        assert len(stage) == arch[f"depth_{s}"]
        for i, block in enumerate(stage):
            key = f"{s}_{i}"
            inp = y
            if arch[f"expand_{key}"] != 1:
                y = _conv_bn(y, block.expand, act, quant)
            else:
                assert block.expand is None
            y = _conv_bn(y, block.dw, act, quant, groups=y.shape[1])
            if arch[f"se_{key}"]:
                se = block.se
                r_w = _fq_w(se.reduce.weight) if quant else se.reduce.weight
                e_w = _fq_w(se.expand.weight) if quant else se.expand.weight
                g = y.mean(dim=(2, 3), keepdim=True)
                g = F.conv2d(g, r_w, se.reduce.bias).clamp(min=0.0)
                g = _relu6(F.conv2d(g, e_w, se.expand.bias) + 3.0) / 6.0
                y = y * g
            else:
                assert block.se is None
            y = _conv_bn(y, block.project, None, quant)
            if arch["skip"] and y.shape == inp.shape and block.dw[0].stride == (1, 1):
                y = y + inp
            y = fq(block.out_fq, y)
    pooled = y.mean(dim=(2, 3))
    hw = _fq_w(model.head.weight) if quant else model.head.weight
    return pooled @ hw.T + model.head.bias


def _randomise(model: nn.Module, gen: torch.Generator) -> None:
    randomise_batch_norm(model, gen)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, QConv2d) and m.bias is not None:
                m.bias.uniform_(-0.5, 0.5, generator=gen)


_ACTS = ("relu", "relu6", "hardswish")
# every activation with every option mix, each on another seed and image shape
FORWARD_CASES = [
    (seed, shape, _ACTS[(seed + i) % 3], skip, se, expand)
    for seed, shape in ((0, (1, 8, 8)), (1, (1, 28, 28)), (2, (3, 16, 16)))
    for i, (skip, se, expand) in enumerate(((True, True, None), (True, False, 1), (False, True, 6)))
]


class TestForward:
    @pytest.mark.parametrize(("seed", "shape", "act", "skip", "se", "expand"), FORWARD_CASES)
    def test_float_network_equals_the_functional_one(
        self, seed: int, shape: tuple[int, ...], act: str, skip: bool, se: bool, expand: Any
    ) -> None:
        arch = dict(SPACE.sample(seed), activation=act, skip=skip, bits=32)
        arch.update({n: se for n in arch if n.startswith("se_")})
        if expand is not None:
            arch.update({n: expand for n in arch if n.startswith("expand_")})
        gen = torch.Generator().manual_seed(seed)
        model = EdgeCNN(arch, shape, 7).eval()
        _randomise(model, gen)
        x = 3.0 * torch.randn(4, *shape, generator=gen)
        with torch.no_grad():
            got = model(x)
            want = _reference(model, x)
        assert got.shape == (4, 7)
        assert torch.allclose(got, want, atol=1e-5, rtol=1e-5)

    @pytest.mark.parametrize("seed", [0, 1, 3])
    def test_int8_network_equals_the_functional_one(self, seed: int) -> None:
        arch = dict(SPACE.sample(seed), bits=8, skip=True)
        arch.update({n: True for n in arch if n.startswith("se_")})
        gen = torch.Generator().manual_seed(seed)
        model = EdgeCNN(arch, (1, 8, 8), 5)
        _randomise(model, gen)
        model.train()
        with torch.no_grad():
            model(torch.randn(16, 1, 8, 8, generator=gen))  # the ranges are tracked
        model.eval()
        fqs = [m for m in model.modules() if isinstance(m, FakeQuant)]
        assert all(m.enabled and int(m.seen) == 1 and float(m.hi) > float(m.lo) for m in fqs)
        x = torch.randn(4, 1, 8, 8, generator=gen)
        with torch.no_grad():
            got = model(x)
            want = _reference(model, x)
            float_out = _reference_float(model, x)
        # a rounding step apart at most in a few places: compare loosely, but far closer
        # than to the float network
        assert torch.allclose(got, want, atol=1e-4)
        assert not torch.allclose(got, float_out, atol=1e-3)

    def test_every_weight_is_quantised_when_bits_is_8(self) -> None:
        model = EdgeCNN(dict(SPACE.sample(0), bits=8), (1, 8, 8), 10)
        qs = [m for m in model.modules() if isinstance(m, QConv2d | QLinear)]
        assert qs and all(m.quant for m in qs)
        assert all(m.enabled for m in model.modules() if isinstance(m, FakeQuant))
        model = EdgeCNN(dict(SPACE.sample(0), bits=32), (1, 8, 8), 10)
        assert not any(m.quant for m in model.modules() if isinstance(m, QConv2d | QLinear))
        assert not any(m.enabled for m in model.modules() if isinstance(m, FakeQuant))

    def test_the_modules_hold_the_documented_layers(self) -> None:
        arch = dict(SPACE.sample(4), activation="relu6", bits=32)
        arch.update({n: 6 for n in arch if n.startswith("expand_")})
        arch.update({n: True for n in arch if n.startswith("se_")})
        model = EdgeCNN(arch, (1, 28, 28), 10)
        assert model.arch == arch and model.arch is not arch
        stem = list(model.stem)
        assert [type(m) for m in stem] == [QConv2d, nn.BatchNorm2d, nn.ReLU6]
        assert stem[0].bias is None and stem[0].padding == (1, 1)
        for stage in model.stages:
            for block in stage:  # type: ignore[attr-defined]
                assert isinstance(block, InvertedResidual)
                assert [type(m) for m in block.expand] == [QConv2d, nn.BatchNorm2d, nn.ReLU6]
                assert [type(m) for m in block.dw] == [QConv2d, nn.BatchNorm2d, nn.ReLU6]
                assert [type(m) for m in block.project] == [QConv2d, nn.BatchNorm2d]
                dw = block.dw[0]
                assert dw.groups == dw.in_channels == dw.out_channels == block.spec.hidden
                assert dw.padding == (block.spec.kernel // 2,) * 2
                assert isinstance(block.se, SqueezeExcite)
                assert block.se.reduce.bias is not None and block.se.expand.bias is not None
        assert isinstance(model.head, QLinear) and model.head.bias is not None


def _reference_float(model: EdgeCNN, x: torch.Tensor) -> torch.Tensor:
    arch = model.arch
    model.arch = dict(arch, bits=32)
    try:
        return _reference(model, x)
    finally:
        model.arch = arch


# -- fake quantisation -----------------------------------------------------------------
class TestFakeQuant:
    def test_range_is_an_exponential_moving_average(self) -> None:
        gen = torch.Generator().manual_seed(0)
        fq = FakeQuant().train()
        lo = hi = None
        for step in range(6):
            x = torch.randn(50, generator=gen) * (step + 1) + (step - 3)
            b_lo, b_hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
            if step == 0:
                lo, hi = b_lo, b_hi
            else:
                assert lo is not None and hi is not None
                lo, hi = lo + 0.1 * (b_lo - lo), hi + 0.1 * (b_hi - hi)
            y = fq(x)
            assert int(fq.seen) == step + 1
            assert float(fq.lo) == pytest.approx(lo, abs=1e-6)
            assert float(fq.hi) == pytest.approx(hi, abs=1e-6)
            assert torch.allclose(y, _fq_act(x, float(fq.lo), float(fq.hi)), atol=1e-6)

    def test_range_always_holds_zero(self) -> None:
        fq = FakeQuant().train()
        fq(torch.tensor([2.0, 3.0]))
        assert (float(fq.lo), float(fq.hi)) == (0.0, 3.0)
        fq = FakeQuant().train()
        fq(torch.tensor([-2.0, -3.0]))
        assert (float(fq.lo), float(fq.hi)) == (-3.0, 0.0)

    def test_momentum_is_an_argument(self) -> None:
        fq = FakeQuant(momentum=0.5).train()
        fq(torch.tensor([-1.0, 1.0]))
        fq(torch.tensor([-3.0, 5.0]))
        assert (float(fq.lo), float(fq.hi)) == (-2.0, 3.0)

    def test_eval_uses_the_tracked_range_and_keeps_it(self) -> None:
        fq = FakeQuant().train()
        fq(torch.tensor([-1.0, 4.0]))
        fq.eval()
        x = torch.linspace(-3.0, 7.0, 101)
        y = fq(x)
        assert (float(fq.lo), float(fq.hi), int(fq.seen)) == (-1.0, 4.0, 1)
        assert torch.allclose(y, _fq_act(x, -1.0, 4.0), atol=1e-6)
        # outside the range, values saturate at its ends
        assert float(y.min()) == pytest.approx(-1.0, abs=1e-6)
        assert float(y.max()) == pytest.approx(4.0, abs=1e-6)

    def test_no_range_is_the_identity(self) -> None:
        x = torch.tensor([0.0123, -0.3, 0.77])
        assert torch.equal(FakeQuant().eval()(x), x)  # nothing tracked yet
        fq = FakeQuant().train()
        z = torch.zeros(5)
        assert torch.equal(fq(z), z)
        assert int(fq.seen) == 1
        fq.hi.fill_(1e-8)  # a range of 1e-8: still none
        assert torch.equal(fq.eval()(x), x)
        fq.hi.fill_(1e-3)  # a real (tiny) range quantises
        assert not torch.equal(fq(x), x)

    def test_a_range_of_1e8_is_none_in_double_precision(self) -> None:
        # float32 buffers cannot hold a range of exactly 1e-8; a model moved to float64 can
        fq = FakeQuant().double().eval()
        fq.hi.fill_(1e-8)
        assert float(fq.hi) - float(fq.lo) == 1e-8
        x = torch.tensor([3e-9, 7e-9], dtype=torch.float64)
        assert torch.equal(fq(x), x)
        fq.hi.fill_(2e-8)
        assert not torch.equal(fq(x), x)

    def test_disabled_tracks_nothing(self) -> None:
        fq = FakeQuant(enabled=False).train()
        x = torch.randn(10)
        assert fq(x) is x
        assert int(fq.seen) == 0 and float(fq.lo) == 0.0 and float(fq.hi) == 0.0

    def test_buffers_start_at_zero_and_travel_with_the_state(self) -> None:
        fq = FakeQuant()
        assert set(fq.state_dict()) == {"lo", "hi", "seen"}
        assert fq.seen.dtype == torch.long
        assert (float(fq.lo), float(fq.hi), int(fq.seen)) == (0.0, 0.0, 0)
        assert fq.enabled and fq.momentum == 0.1


class TestWeightQuant:
    def test_per_channel_symmetric_int8(self) -> None:
        gen = torch.Generator().manual_seed(1)
        w = torch.randn(6, 3, 3, 3, generator=gen) * torch.arange(1, 7).reshape(6, 1, 1, 1)
        q = _fq_weight(w)
        assert torch.allclose(q, _fq_w(w), atol=1e-6)
        # each channel's largest magnitude is kept exactly (level 127)
        assert torch.allclose(q.abs().flatten(1).amax(1), w.abs().flatten(1).amax(1))
        levels = q / (w.abs().flatten(1).amax(1) / 127).reshape(6, 1, 1, 1)
        assert torch.allclose(levels, levels.round(), atol=1e-4)
        assert int(levels.round().unique().numel()) > 20  # levels of their own channel

    def test_double_weights(self) -> None:
        # a model moved to float64 (``model.double()``) still quantises its weights
        w = torch.randn(5, 3, 2, 2, dtype=torch.float64)
        q = _fq_weight(w)
        assert q.dtype == torch.float64
        assert torch.allclose(q, _fq_w(w), atol=1e-6)
        model = EdgeCNN(dict(SPACE.sample(1), bits=8), (1, 8, 8), 3).double().eval()
        assert model(torch.rand(2, 1, 8, 8, dtype=torch.float64)).dtype == torch.float64

    def test_a_zero_channel_stays_zero(self) -> None:
        w = torch.randn(3, 4)
        w[1] = 0.0
        q = _fq_weight(w)
        assert torch.equal(q[1], torch.zeros(4))
        assert torch.isfinite(q).all()

    def test_gradients_pass_straight_through(self) -> None:
        w = torch.randn(4, 5, requires_grad=True)
        _fq_weight(w).sum().backward()
        assert w.grad is not None and torch.equal(w.grad, torch.ones(4, 5))

    def test_layers_quantise_only_when_switched_on(self) -> None:
        gen = torch.Generator().manual_seed(2)
        conv = QConv2d(3, 4, 3, 1, 1)
        lin = QLinear(5, 2)
        x = torch.randn(2, 3, 6, 6, generator=gen)
        v = torch.randn(3, 5, generator=gen)
        with torch.no_grad():
            assert torch.allclose(conv(x), F.conv2d(x, conv.weight, conv.bias, 1, 1))
            assert torch.allclose(lin(v), F.linear(v, lin.weight, lin.bias))
            set_fake_quant(conv, True)
            set_fake_quant(lin, True)
            assert conv.quant and lin.quant
            assert torch.allclose(conv(x), F.conv2d(x, _fq_w(conv.weight), conv.bias, 1, 1),
                                  atol=1e-6)  # fmt: skip
            assert torch.allclose(lin(v), F.linear(v, _fq_w(lin.weight), lin.bias), atol=1e-6)
            assert not torch.allclose(lin(v), F.linear(v, lin.weight, lin.bias), atol=1e-7)


# -- the cost table's rows name their operators ----------------------------------------
def _module_of(model: EdgeCNN, name: str) -> nn.Module | None:
    """The module a row's name points at: ``stem``, ``head``, ``pool`` (none) or
    ``s<stage>b<block>.<part>`` with part one of expand, dw, se, project, add (the block)."""
    if name in ("stem", "head", "pool"):
        return model.stem[0] if name == "stem" else model.head if name == "head" else None
    head, part = name.split(".")
    stage, block = (int(v) for v in head[1:].split("b"))
    mod: Any = model.stages[stage][block]  # type: ignore[index]
    if part == "add":
        return mod
    sub = getattr(mod, part)
    return sub if part == "se" else sub[0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_table_rows_name_the_modules_they_cost(seed: int) -> None:
    from quarch.spaces.cnn.model import layer_table

    arch = dict(SPACE.sample(seed), skip=True)
    arch.update({n: True for n in arch if n.startswith("se_")})
    model = EdgeCNN(arch, (1, 28, 28), 10)
    rows = layer_table(model.plan)
    names = [r.name for r in rows]
    assert len(set(names)) == len(names)
    assert names[0] == "stem" and names[-2:] == ["pool", "head"]
    for r in rows:
        mod = _module_of(model, r.name)
        if r.kind == "pool":
            assert mod is None
        elif r.kind == "add":
            assert isinstance(mod, InvertedResidual) and mod.spec.residual
        elif r.kind == "se":
            assert isinstance(mod, SqueezeExcite)
            assert r.weights == mod.reduce.weight.numel() + mod.expand.weight.numel()
        else:
            assert isinstance(mod, QConv2d | QLinear), r.name
            assert r.weights == mod.weight.numel()
            assert r.kind == ("dwconv" if isinstance(mod, QConv2d) and mod.groups > 1
                              else "linear" if isinstance(mod, QLinear) else "conv")  # fmt: skip


def test_a_network_without_blocks_is_stem_pool_and_head() -> None:
    """A depth of 0 (outside the space, but a plan the table and the model both build):
    the classifier reads the stem's channels at the stem's resolution."""
    from torch.utils.flop_counter import FlopCounterMode

    from quarch.spaces.cnn.costs import edge_costs
    from quarch.spaces.cnn.model import layer_table

    arch = {"width_mult": 1.0, "activation": "relu", "skip": False, "bits": 32, "depth_0": 0}
    model = EdgeCNN(arch, (2, 28, 28), 10)
    assert model.plan.blocks == () and model.plan.last_channels == 16
    rows = layer_table(model.plan)
    assert [r.name for r in rows] == ["stem", "pool", "head"]
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        out = model.eval()(torch.rand(1, 2, 28, 28))
    assert out.shape == (1, 10)
    assert 2 * sum(r.macs for r in rows) == counter.get_total_flops()
    # the pool reads the stem's 16 x 14 x 14 output and writes 16 values
    assert (rows[1].in_elems, rows[1].out_elems) == (16 * 14 * 14, 16)
    n_params = sum(p.numel() for p in model.parameters()) - 16  # the folded batch-norm
    assert sum(r.weights + r.biases for r in rows) == n_params
    assert edge_costs(arch, (2, 28, 28), 10)["macs"] == 14 * 14 * 16 * 2 * 9 + 16 * 10


def test_two_classes_are_enough() -> None:
    model = EdgeCNN(SPACE.sample(0), (1, 8, 8), 2)
    assert model.plan.n_classes == 2 and model.head.out_features == 2


def test_a_dict_without_stages_is_named_by_its_first_eight_keys() -> None:
    arch: dict[str, Any] = {"width_mult": 1.0, **{f"k{i}": i for i in range(10)}}
    msg = f"not a cnn architecture: no depth_0 key; keys: {sorted(arch)[:8]}..."
    with pytest.raises(SpaceError, match=f"^{re.escape(msg)}$"):
        cnn_plan(arch, (1, 8, 8), 10)
