"""Tests of EdgeCNN, its layer table and fake quantisation."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from quarch.cost.classical import count_flops
from quarch.cost.onnx import to_onnx
from quarch.space._space import SpaceError
from quarch.spaces.cnn.model import (
    EdgeCNN,
    FakeQuant,
    QConv2d,
    cnn_plan,
    layer_table,
    make_divisible,
    set_fake_quant,
)
from quarch.spaces.cnn.space import cnn_space

SPACE = cnn_space()


class TestInputs:
    def test_needs_images(self) -> None:
        with pytest.raises(SpaceError, match=r"needs images \(C, H, W\); got input shape \(64,\)"):
            EdgeCNN(SPACE.sample(0), (64,), 10)

    def test_needs_a_cnn_arch(self) -> None:
        with pytest.raises(SpaceError, match="not a cnn architecture: no depth_0 key"):
            cnn_plan({"width_mult": 1.0}, (1, 8, 8), 10)

    def test_needs_two_classes(self) -> None:
        with pytest.raises(SpaceError, match="n_classes must be >= 2; got 1"):
            cnn_plan(SPACE.sample(0), (1, 8, 8), 1)


class TestPlan:
    def test_make_divisible_matches_mobilenet_rule(self) -> None:
        assert [make_divisible(v) for v in (8, 12, 16 * 0.75, 40 * 0.5, 20.1)] == [
            8,
            16,
            16,
            24,
            24,
        ]

    def test_resolutions(self) -> None:
        arch = SPACE.sample(0)
        for shape, (stem, res) in {
            (1, 28, 28): (14, [7, 4, 2]),
            (1, 8, 8): (8, [8, 4, 2]),
        }.items():
            plan = cnn_plan(arch, shape, 10)
            assert plan.stem_h == stem
            last = {b.stage: b.h_out for b in plan.blocks}
            assert [last[s] for s in range(3)] == res

    @pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
    def test_macs_equal_torch_flop_counter(self, shape: tuple) -> None:
        for seed in range(3):
            arch = SPACE.sample(seed)
            model = EdgeCNN(arch, shape, 10)
            table = layer_table(model.plan)
            assert 2 * sum(r.macs for r in table) == count_flops(model, shape)

    def test_weights_and_biases_equal_onnx_initialisers(self) -> None:
        # ONNX export folds batch-norm into the convolutions: what remains is exactly one
        # weight tensor and one bias vector per conv/linear, which the table counts.
        for seed in range(3):
            arch = SPACE.sample(seed)
            model = EdgeCNN(arch, (1, 8, 8), 10).eval()
            with torch.no_grad():  # distinct folded biases: the exporter shares equal ones
                for m in model.modules():
                    if isinstance(m, torch.nn.BatchNorm2d):
                        assert m.running_mean is not None
                        m.running_mean.uniform_(-1, 1)
            proto = onnx.load_from_string(to_onnx(model, (1, 8, 8)))
            n_init = sum(int(np.prod(t.dims)) for t in proto.graph.initializer if len(t.dims) > 0)
            table = layer_table(model.plan)
            assert n_init == sum(r.weights + r.biases for r in table)

    def test_residual_only_where_shapes_match(self) -> None:
        arch = dict(SPACE.sample(1), skip=True)
        for b in cnn_plan(arch, (1, 28, 28), 10).blocks:
            assert b.residual == (b.stride == 1 and b.cin == b.cout)
        arch["skip"] = False
        assert not any(b.residual for b in cnn_plan(arch, (1, 28, 28), 10).blocks)


class TestFakeQuant:
    def test_values_on_256_level_grid(self) -> None:
        fq = FakeQuant().train()
        x = torch.linspace(-1.0, 3.0, 1000)
        y = fq(x)
        scale = 4.0 / 255.0
        assert torch.allclose(y / scale, torch.round(y / scale), atol=1e-3)
        assert len(torch.unique(y)) <= 256
        assert torch.max(torch.abs(y - x)) <= scale / 2 + 1e-6

    def test_disabled_is_identity_and_export_is_float(self) -> None:
        arch = dict(SPACE.sample(0), bits=8)
        model = EdgeCNN(arch, (1, 8, 8), 10)
        x = torch.rand(4, 1, 8, 8)
        model.train()
        model(x)
        model.eval()
        with torch.no_grad():
            q = model(x)
            set_fake_quant(model, False)
            f = model(x)
        assert not torch.allclose(q, f)
        set_fake_quant(model, True)
        names = {n.op_type for n in onnx.load_from_string(to_onnx(model, (1, 8, 8))).graph.node}
        assert "QuantizeLinear" not in names and "FakeQuantize" not in names

    def test_weight_fake_quant_is_per_channel_int8(self) -> None:
        arch = dict(SPACE.sample(0), bits=8)
        conv = EdgeCNN(arch, (1, 8, 8), 10).stem[0]
        assert isinstance(conv, QConv2d)
        from quarch.spaces.cnn.model import _fq_weight

        w = conv.weight.detach()
        q = _fq_weight(w)
        scale = w.abs().flatten(1).amax(1) / 127
        levels = q / scale[:, None, None, None]
        assert torch.allclose(levels, torch.round(levels), atol=1e-3)
