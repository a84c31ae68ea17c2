"""Edge costs of CNNs and the classical counters against independent truth.

The truth is the network itself: every operator of the inference schedule is recorded
by forward hooks on the torch model (:class:`EdgeCNN`), with its real input, output and
weight tensors, and the costs are recomputed by hand from the formulas of
:mod:`quarch.spaces.cnn.costs`' docstring with the constants read from each device
profile. MACs are checked against torch's ``FlopCounterMode`` and weights against the
model's parameters, so nothing here goes through :func:`layer_table`.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from quarch._errors import ConfigError
from quarch.cost.classical import count_flops, count_params
from quarch.cost.devices import DEVICES, DeviceProfile
from quarch.spaces.cnn.costs import (
    edge_costs,
    energy_mj,
    model_latency_ms,
    peak_activation_bytes,
    weight_bytes,
)
from quarch.spaces.cnn.model import (
    EdgeCNN,
    InvertedResidual,
    QConv2d,
    SqueezeExcite,
    cnn_plan,
    layer_table,
)
from quarch.spaces.cnn.space import cnn_space

from ..._scope import per_module

SPACE = cnn_space()
EDGE = [e.factory for e in DEVICES.entries() if isinstance(e.factory, DeviceProfile)]
PJ_PER_MJ = 1e9  # 1 mJ = 1e-3 J = 1e9 pJ


@dataclass
class _Op:
    """One operator of the schedule as the forward pass ran it."""

    kind: str
    macs: int
    weights: int
    biases: int
    inputs: list[torch.Tensor]
    output: torch.Tensor
    held: list[torch.Tensor] = field(default_factory=list)

    def act_elems(self) -> int:
        """Input and output elements: what the operator reads and writes."""
        return sum(t.numel() for t in self.inputs) + self.output.numel()

    def live_elems(self) -> int:
        """Elements of the distinct tensors alive during the operator."""
        seen: dict[int, int] = {}
        for t in [*self.inputs, self.output, *self.held]:
            seen[id(t)] = t.numel()
        return sum(seen.values())


def _schedule(model: EdgeCNN, shape: tuple[int, ...]) -> list[_Op]:
    """The operators of one batch-1 forward pass, recorded by hooks, in order."""
    ops: list[_Op] = []
    bn_of: dict[int, nn.BatchNorm2d] = {}
    for m in model.modules():
        if isinstance(m, nn.Sequential):
            for a, b in zip(m, list(m)[1:], strict=False):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    bn_of[id(a)] = b
    ses = [m for m in model.modules() if isinstance(m, SqueezeExcite)]
    in_se = {id(c) for s in ses for c in (s.reduce, s.expand)}
    state: dict[str, Any] = {"se_macs": 0}

    def conv(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        assert isinstance(mod, nn.Conv2d)
        kh, kw = mod.kernel_size
        macs = out.numel() * (mod.in_channels // mod.groups) * kh * kw
        if id(mod) in in_se:
            state["se_macs"] += macs
            return
        bias = bn_of[id(mod)].num_features if id(mod) in bn_of else 0
        bias += mod.bias.numel() if mod.bias is not None else 0
        dw = mod.groups > 1 and mod.groups == mod.in_channels
        ops.append(_Op("dwconv" if dw else "conv", macs, mod.weight.numel(), bias, [inp[0]], out))

    def se(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        assert isinstance(mod, SqueezeExcite)
        w = mod.reduce.weight.numel() + mod.expand.weight.numel()
        b = sum(c.bias.numel() for c in (mod.reduce, mod.expand) if c.bias is not None)
        ops.append(_Op("se", state["se_macs"], w, b, [inp[0]], out))
        state["se_macs"] = 0

    def block_start(mod: nn.Module, inp: tuple) -> None:
        state["start"] = len(ops)

    def block_end(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        assert isinstance(mod, InvertedResidual)
        x = inp[0]
        dw = mod.dw[0]
        assert isinstance(dw, nn.Conv2d)
        # the documented rule: a skip where the block keeps stride 1 and the channels
        if model.arch["skip"] and dw.stride == (1, 1) and x.shape == out.shape:
            for op in ops[state["start"] :]:
                op.held.append(x)
            ops.append(_Op("add", 0, 0, 0, [ops[-1].output, x], out))
        state["last"] = out

    def stem_end(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        state["last"] = out

    def head(mod: nn.Module, inp: tuple, out: torch.Tensor) -> None:
        assert isinstance(mod, nn.Linear)
        ops.append(_Op("pool", 0, 0, 0, [state["last"]], inp[0]))
        b = mod.bias.numel() if mod.bias is not None else 0
        ops.append(_Op("linear", out.numel() * mod.in_features, mod.weight.numel(), b,
                       [inp[0]], out))  # fmt: skip

    hooks = [m.register_forward_hook(conv) for m in model.modules() if isinstance(m, QConv2d)]
    hooks += [s.register_forward_hook(se) for s in ses]
    for m in model.modules():
        if isinstance(m, InvertedResidual):
            hooks.append(m.register_forward_pre_hook(block_start))
            hooks.append(m.register_forward_hook(block_end))
    hooks.append(model.stem.register_forward_hook(stem_end))
    hooks.append(model.head.register_forward_hook(head))
    try:
        with torch.no_grad():
            model.eval()(torch.rand(1, *shape))
    finally:
        for h in hooks:
            h.remove()
    return ops


def _act(bits: int) -> int:
    return {8: 1, 32: 4}[bits]


def _bytes(op: _Op, bits: int) -> float:
    # weights at their bit-width, folded-batch-norm biases 4 bytes (int32 / fp32)
    return op.act_elems() * _act(bits) + op.weights * bits / 8 + 4 * op.biases


def _arch(seed: int, **over: Any) -> dict[str, Any]:
    return {**SPACE.sample(seed), **over}


# seeds x options that cover SE, residual adds, expansion 1 and both bit-widths
CASES = [
    (0, (1, 28, 28), True, True, 8),
    (1, (1, 8, 8), True, False, 32),
    (2, (3, 28, 28), False, True, 32),
    (3, (1, 8, 8), True, True, 32),
    (4, (1, 28, 28), True, False, 8),
    (5, (1, 8, 8), False, False, 8),
]


def _case(seed: int, skip: bool, se: bool, bits: int) -> dict[str, Any]:
    arch = _arch(seed, skip=skip, bits=bits)
    arch.update({n: se for n in arch if n.startswith("se_")})
    if seed == 3:  # expansion 1 everywhere: the block input feeds the depthwise conv
        arch.update({n: 1 for n in arch if n.startswith("expand_")})
    return arch


@pytest.fixture(scope=per_module)
def schedules() -> dict[tuple, tuple[EdgeCNN, list[_Op]]]:
    out = {}
    for seed, shape, skip, se, bits in CASES:
        model = EdgeCNN(_case(seed, skip, se, bits), shape, 10)
        out[(seed, shape, skip, se, bits)] = (model, _schedule(model, shape))
    return out


class TestSchedule:
    """The recorded schedule itself agrees with torch (so it can judge the costs)."""

    @pytest.mark.parametrize("case", CASES)
    def test_macs_equal_flop_counter_and_weights_the_parameters(
        self, case: tuple, schedules: dict
    ) -> None:
        model, ops = schedules[case]
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            model(torch.rand(1, *case[1]))
        assert 2 * sum(op.macs for op in ops) == counter.get_total_flops()
        n_bn = sum(m.num_features for m in model.modules() if isinstance(m, nn.BatchNorm2d))
        # batch-norm's scale and shift fold into one bias per channel
        n_params = sum(p.numel() for p in model.parameters())
        assert sum(op.weights + op.biases for op in ops) == n_params - n_bn
        assert any(op.kind == "add" for op in ops) == case[2]
        assert any(op.kind == "se" for op in ops) == case[3]


class TestMemory:
    @pytest.mark.parametrize("case", CASES)
    def test_weight_bytes_from_the_parameters(self, case: tuple, schedules: dict) -> None:
        model, ops = schedules[case]
        table = layer_table(model.plan)
        for bits in (8, 32):
            expected = sum(op.weights * bits / 8 + 4 * op.biases for op in ops)
            assert weight_bytes(table, bits) == expected
            assert type(weight_bytes(table, bits)) is int  # a whole number of bytes

    @pytest.mark.parametrize("case", CASES)
    def test_peak_is_the_largest_set_of_live_tensors(self, case: tuple, schedules: dict) -> None:
        model, ops = schedules[case]
        table = layer_table(model.plan)
        peak = max(op.live_elems() for op in ops)
        assert peak_activation_bytes(table, 8) == peak
        assert peak_activation_bytes(table, 32) == 4 * peak
        assert type(peak_activation_bytes(table, 8)) is int

    @pytest.mark.parametrize("case", CASES)
    def test_each_operator_counts_its_live_tensors_once(self, case: tuple, schedules: dict) -> None:
        """Row by row, not only at the peak: the first operator of a residual block
        reads the tensor the add holds, and counted it twice (as its input and as held);
        the peak never showed it, a later operator of the block being larger."""
        model, ops = schedules[case]
        table = layer_table(model.plan)
        assert [r.kind for r in table] == [op.kind for op in ops]
        live = [r.in_elems + r.out_elems + r.held_elems for r in table]
        assert live == [op.live_elems() for op in ops]


class TestEnergyAndLatency:
    @pytest.mark.parametrize("device", EDGE, ids=lambda d: d.name)
    @pytest.mark.parametrize("case", CASES)
    def test_energy_by_hand(self, case: tuple, device: DeviceProfile, schedules: dict) -> None:
        model, ops = schedules[case]
        table = layer_table(model.plan)
        for bits in (8, 32):
            pj = sum(op.macs for op in ops) * device.e_mac_pj[bits]
            pj += sum(_bytes(op, bits) for op in ops) * device.e_byte_pj
            assert energy_mj(table, bits, device) == pytest.approx(pj / PJ_PER_MJ, rel=1e-12)

    @pytest.mark.parametrize("device", EDGE, ids=lambda d: d.name)
    @pytest.mark.parametrize("case", CASES)
    def test_latency_by_hand(self, case: tuple, device: DeviceProfile, schedules: dict) -> None:
        model, ops = schedules[case]
        table = layer_table(model.plan)
        for bits in (8, 32):
            ms = 0.0
            for op in ops:
                rate = device.fp32_macs_per_s
                if bits == 8:
                    rate *= device.int8_speedup
                if op.kind == "dwconv":
                    rate *= device.dw_efficiency
                s = max(op.macs / rate, _bytes(op, bits) / device.bandwidth_bytes_per_s)
                ms += s * 1e3 + device.layer_overhead_ms
            assert model_latency_ms(table, bits, device) == pytest.approx(ms, rel=1e-12)

    def test_each_constant_moves_its_own_term(self) -> None:
        """Doubling one constant changes exactly the costs the formulas say it enters."""
        table = layer_table(cnn_plan(_case(0, True, True, 8), (1, 28, 28), 10))
        base = DEVICES.get("cortex-m7")
        assert isinstance(base, DeviceProfile)
        for bits in (8, 32):
            e0, t0 = energy_mj(table, bits, base), model_latency_ms(table, bits, base)
            n = len(table)
            more = dataclasses.replace(base, layer_overhead_ms=base.layer_overhead_ms + 1.0)
            assert model_latency_ms(table, bits, more) == pytest.approx(t0 + n)
            other = {8: 32, 32: 8}[bits]
            e_mac = dict(base.e_mac_pj)
            e_mac[other] *= 7.0
            assert energy_mj(table, bits, dataclasses.replace(base, e_mac_pj=e_mac)) == e0
            faster = dataclasses.replace(base, int8_speedup=base.int8_speedup * 3)
            if bits == 32:
                assert model_latency_ms(table, bits, faster) == t0
            else:
                assert model_latency_ms(table, bits, faster) < t0


class TestEdgeCosts:
    @pytest.mark.parametrize("device", EDGE, ids=lambda d: d.name)
    @pytest.mark.parametrize("case", CASES)
    def test_every_field(self, case: tuple, device: DeviceProfile, schedules: dict) -> None:
        model, ops = schedules[case]
        seed, shape, skip, se, bits = case
        c = edge_costs(_case(seed, skip, se, bits), shape, 10, device)
        assert set(c) == {"macs", "weights_kb", "activation_kb", "memory_kb", "energy_mj",
                          "latency_model_ms"}  # fmt: skip
        assert c["macs"] == sum(op.macs for op in ops)
        assert isinstance(c["macs"], float)
        w = sum(op.weights * bits / 8 + 4 * op.biases for op in ops) / 1024
        a = _act(bits) * max(op.live_elems() for op in ops) / 1024
        assert c["weights_kb"] == pytest.approx(w, rel=1e-12)
        assert c["activation_kb"] == pytest.approx(a, rel=1e-12)
        assert c["memory_kb"] == pytest.approx(w + a, rel=1e-12)
        table = layer_table(model.plan)
        assert c["energy_mj"] == energy_mj(table, bits, device)
        assert c["latency_model_ms"] == model_latency_ms(table, bits, device)

    def test_the_energy_and_latency_follow_the_plans_bit_width(self) -> None:
        for bits in (8, 32):
            arch = _arch(5, bits=bits)
            table = layer_table(cnn_plan(arch, (1, 28, 28), 10))
            dev = DEVICES.get("raspi4")
            assert isinstance(dev, DeviceProfile)
            c = edge_costs(arch, (1, 28, 28), 10, "raspi4")
            assert c["energy_mj"] == energy_mj(table, bits, dev)
            assert c["latency_model_ms"] == model_latency_ms(table, bits, dev)
            assert c["weights_kb"] == weight_bytes(table, bits) / 1024
            assert c["activation_kb"] == peak_activation_bytes(table, bits) / 1024

    def test_defaults_are_mnist_ten_classes_on_the_local_cpu(self) -> None:
        arch = _arch(6)
        local = DEVICES.get("local-cpu")
        assert isinstance(local, DeviceProfile)
        assert edge_costs(arch) == edge_costs(arch, (1, 28, 28), 10, local)
        assert edge_costs(arch) != edge_costs(arch, (1, 28, 28), 11, local)
        assert edge_costs(arch) != edge_costs(arch, (1, 28, 28), 10, "cortex-m7")

    def test_a_plan_is_costed_as_given(self) -> None:
        arch = _arch(7)
        plan = cnn_plan(arch, (3, 8, 8), 4)
        # input_shape and n_classes describe an architecture, not a plan
        assert edge_costs(plan, (1, 28, 28), 10, "raspi4") == edge_costs(
            arch, (3, 8, 8), 4, "raspi4"
        )

    def test_refuses_a_quantum_or_unknown_profile(self) -> None:
        known = ", ".join(p.name for p in EDGE)
        for name, msg in (
            ("ibm-eagle", f"'ibm-eagle' is a quantum device profile, not an edge one; edge "
             f"profiles: {known}"),
            ("cortex-m8", f"unknown edge device profile 'cortex-m8'; known: {known}"),
        ):  # fmt: skip
            with pytest.raises(ConfigError, match=f"^{re.escape(msg)}"):
                edge_costs(_arch(0), device=name)


class _TrainOnly(nn.Module):
    """A linear map applied in training mode only (eval: the identity)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.lin = nn.Linear(n, n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) if self.training else x


class _NoParams(nn.Module):
    """A fixed matrix product with no parameters (a buffer is not a parameter)."""

    m: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("m", torch.ones(6, 5))
        self.seen: list[torch.device] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.device)
        return x @ self.m


class TestClassical:
    def test_params_count_trainable_ones_unless_asked(self) -> None:
        model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 5))
        assert count_params(model) == (2 * 9 * 3 + 3) + 2 * 3 + (12 * 5 + 5)
        model[0].weight.requires_grad_(False)
        model[1].requires_grad_(False)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        assert trainable == 3 + 12 * 5 + 5
        assert count_params(model) == trainable
        assert count_params(model, trainable_only=True) == trainable
        assert count_params(model, trainable_only=False) == sum(
            p.numel() for p in model.parameters()
        )
        assert count_params(_NoParams()) == 0
        assert type(count_params(model)) is int

    def test_flops_of_one_sample_by_hand(self) -> None:
        model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Flatten(),
                              nn.Linear(3 * 5 * 5, 4))  # fmt: skip
        # 2 FLOPs per multiply-accumulate: 75 outputs of 2*3*3 MACs, then 75 x 4
        assert count_flops(model, (2, 5, 5)) == 2 * (75 * 18 + 75 * 4)
        assert type(count_flops(model, (2, 5, 5))) is int

    def test_flops_count_the_eval_network_and_keep_the_mode(self) -> None:
        model = nn.Sequential(nn.Linear(4, 6), _TrainOnly(6))
        model.train()
        assert count_flops(model, (4,)) == 2 * 4 * 6
        assert model.training and model[1].training
        model.eval()
        assert count_flops(model, (4,)) == 2 * 4 * 6
        assert not model.training and not model[1].training

    def test_mode_is_restored_when_the_forward_fails(self) -> None:
        model = nn.Sequential(nn.Linear(4, 6)).train()
        with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
            count_flops(model, (5,))
        assert model.training

    def test_a_model_without_parameters_runs_on_the_cpu(self) -> None:
        model = _NoParams()  # its buffer is on the CPU
        assert count_flops(model, (6,)) == 2 * 6 * 5
        with torch.device("meta"):  # not the default device: the CPU
            assert count_flops(model, (6,)) == 2 * 6 * 5
        assert model.seen == [torch.device("cpu")] * 2

    def test_the_input_follows_the_parameters_device(self) -> None:
        model = nn.Sequential(nn.Linear(4, 6)).to("meta")
        assert count_flops(model, (4,)) == 2 * 4 * 6

    def test_flops_print_nothing(self, capsys: pytest.CaptureFixture[str]) -> None:
        count_flops(nn.Linear(3, 2), (3,))
        assert capsys.readouterr().out == ""

    def test_cnn_flops_agree_with_the_costs(self) -> None:
        arch = _arch(8)
        model = EdgeCNN(arch, (1, 28, 28), 10)
        assert count_flops(model, (1, 28, 28)) == 2 * edge_costs(arch)["macs"]
