"""Tests of the edge cost models and device profiles."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from quarch.cost.classical import count_flops
from quarch.cost.devices import get_device
from quarch.spaces.cnn.costs import (
    edge_costs,
    energy_mj,
    model_latency_ms,
    peak_activation_bytes,
    weight_bytes,
)
from quarch.spaces.cnn.model import EdgeCNN, QConv2d, QLinear, cnn_plan, layer_table
from quarch.spaces.cnn.space import cnn_space

SPACE = cnn_space()


def _hooked_peak(model: EdgeCNN, shape: tuple) -> int:
    """Largest input + output element count over the convolutions and the classifier."""
    sizes: list[int] = []

    def hook(mod: torch.nn.Module, inp: tuple, out: torch.Tensor) -> None:
        sizes.append(inp[0].numel() + out.numel())

    hs = [
        m.register_forward_hook(hook) for m in model.modules() if isinstance(m, QConv2d | QLinear)
    ]
    with torch.no_grad():
        model.eval()(torch.zeros(1, *shape))
    for h in hs:
        h.remove()
    return max(sizes)


class TestMemory:
    @pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28)])
    def test_peak_without_residuals_or_se_matches_forward_hooks(self, shape: tuple) -> None:
        for seed in range(5):
            arch = dict(SPACE.sample(seed), skip=False, bits=32)
            arch.update({n: False for n in arch if n.startswith("se_")})
            model = EdgeCNN(arch, shape, 10)
            table = layer_table(model.plan)
            assert peak_activation_bytes(table, 32) == 4 * _hooked_peak(model, shape)
            assert peak_activation_bytes(table, 8) == _hooked_peak(model, shape)

    def test_residual_input_is_held(self) -> None:
        # One stage, one block, expansion 6, skip on: 8x8 digits, width 0.5 -> 8 channels.
        arch = {
            "width_mult": 0.5, "activation": "relu", "skip": True, "bits": 32, "depth_0": 1,
            "kernel_0_0": 3, "expand_0_0": 6, "se_0_0": False,
        }  # fmt: skip
        table = layer_table(cnn_plan(arch, (1, 8, 8), 10))
        # depthwise: 48x8x8 in + 48x8x8 out + 8x8x8 held for the add = 6656 elements.
        assert peak_activation_bytes(table, 32) == 4 * (3072 + 3072 + 512)

    def test_weights_at_bit_width(self) -> None:
        arch = SPACE.sample(0)
        table = layer_table(cnn_plan(arch, (1, 8, 8), 10))
        w = sum(r.weights for r in table)
        b = sum(r.biases for r in table)
        assert weight_bytes(table, 32) == 4 * (w + b)
        assert weight_bytes(table, 8) == w + 4 * b

    def test_memory_is_weights_plus_activations(self) -> None:
        c = edge_costs(SPACE.sample(1), (1, 28, 28), 10, "cortex-m7")
        assert c["memory_kb"] == pytest.approx(c["weights_kb"] + c["activation_kb"])


class TestEnergyAndLatency:
    def test_energy_of_macs_alone(self) -> None:
        dev = dataclasses.replace(get_device("raspi4"), e_mac_pj={8: 2.0, 32: 1.0}, e_byte_pj=0.0)
        for seed in range(3):
            arch = SPACE.sample(seed)
            model = EdgeCNN(arch, (1, 28, 28), 10)
            table = layer_table(model.plan)
            macs = count_flops(model, (1, 28, 28)) / 2
            assert energy_mj(table, 32, dev) == pytest.approx(macs * 1e-9)
            assert energy_mj(table, 8, dev) == pytest.approx(2 * macs * 1e-9)

    def test_compute_bound_latency(self) -> None:
        dev = dataclasses.replace(
            get_device("cortex-m7"),
            fp32_macs_per_s=1e9,
            int8_speedup=4.0,
            dw_efficiency=1.0,
            bandwidth_bytes_per_s=1e30,
            layer_overhead_ms=0.0,
        )
        table = layer_table(cnn_plan(SPACE.sample(2), (1, 28, 28), 10))
        macs = sum(r.macs for r in table)
        assert model_latency_ms(table, 32, dev) == pytest.approx(macs / 1e9 * 1e3)
        assert model_latency_ms(table, 8, dev) == pytest.approx(macs / 4e9 * 1e3)

    def test_costs_are_deterministic_and_ordered_by_device(self) -> None:
        arch = SPACE.sample(4)
        a = edge_costs(arch, (1, 28, 28), 10, "cortex-m7")
        assert a == edge_costs(arch, (1, 28, 28), 10, "cortex-m7")
        b = edge_costs(arch, (1, 28, 28), 10, "local-cpu")
        assert a["latency_model_ms"] > b["latency_model_ms"]
