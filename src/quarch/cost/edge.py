"""Edge costs of CNNs: memory, energy and latency, and the device profiles behind them.

A :class:`DeviceProfile` holds the constants of one device class: its compute rate,
memory bandwidth and per-operator overhead (for the analytic latency model), its
energy per multiply-accumulate and per byte moved (for the energy model), and default
budgets. :data:`DEVICE_PROFILES` lists them for ``quarch devices`` and
``--device-profile``.

All costs here are computed from the layer table of :mod:`quarch.models.cnn`, so they
are deterministic functions of the architecture and input shape. The one measured
cost, ONNX Runtime latency on this machine, lives in
:func:`quarch.models.onnx_export.measure_latency_ms`.

Models:
    * memory: weights at their bit-width (int8 or fp32; biases of folded batch-norm
      always 4 bytes, as int32/fp32) plus the peak activation memory of the
      layer-by-layer schedule: for each operator its input, its output and any tensor
      held for a later residual add are alive at once (MCUNet's peak-SRAM model);
      activations take 1 byte (int8) or 4 bytes (fp32).
    * energy: ``sum(MACs) * e_mac + sum(bytes moved) * e_byte``, where the bytes moved by
      an operator are its input and output activations and its weights, read or written
      once each (a lower bound that ignores cache re-reads and static power).
    * latency: a per-operator roofline, ``max(MACs / rate, bytes / bandwidth) +
      overhead``, with the rate scaled for int8 and for depthwise convolutions (which
      reuse little data and reach a fraction of peak on every CPU).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from quarch._registry import Registry
from quarch.models.cnn import Layer, Plan, cnn_plan, layer_table

__all__ = [
    "DEVICE_PROFILES",
    "DeviceProfile",
    "default_budgets",
    "edge_costs",
    "energy_mj",
    "get_device",
    "list_devices",
    "model_latency_ms",
    "peak_activation_bytes",
    "weight_bytes",
]


@dataclass(frozen=True)
class DeviceProfile:
    """Constants of one device class for the latency, energy and memory models.

    Args:
        name: registry name, e.g. ``"cortex-m7"``.
        description: one line for ``quarch devices``.
        fp32_macs_per_s: sustained fp32 multiply-accumulates per second of dense
            convolutions in an inference runtime on this device.
        int8_speedup: rate of int8 relative to fp32.
        dw_efficiency: fraction of the rate reached by depthwise convolutions.
        bandwidth_bytes_per_s: sustained memory bandwidth for activations and weights.
        layer_overhead_ms: fixed cost of dispatching one operator.
        e_mac_pj: energy of one MAC in picojoules, by bit-width (8, 32).
        e_byte_pj: energy of moving one byte to or from memory, in picojoules.
        budgets: default hard limits, ``metric -> upper limit``.
        measured: whether latency is measured on this machine (ONNX Runtime) rather
            than taken from the analytic model.
        sources: where each constant comes from.
    """

    name: str
    description: str
    fp32_macs_per_s: float
    int8_speedup: float
    dw_efficiency: float
    bandwidth_bytes_per_s: float
    layer_overhead_ms: float
    e_mac_pj: Mapping[int, float]
    e_byte_pj: float
    budgets: Mapping[str, float]
    measured: bool = False
    sources: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``quarch devices --json``."""
        return {
            "name": self.name,
            "description": self.description,
            "latency": "measured (ONNX Runtime)" if self.measured else "analytic model",
            "fp32_macs_per_s": self.fp32_macs_per_s,
            "int8_speedup": self.int8_speedup,
            "dw_efficiency": self.dw_efficiency,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "layer_overhead_ms": self.layer_overhead_ms,
            "e_mac_pj": {str(k): v for k, v in self.e_mac_pj.items()},
            "e_byte_pj": self.e_byte_pj,
            "budgets": dict(self.budgets),
            "sources": dict(self.sources),
        }


# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
# 45 nm at 0.9 V: 8-bit int add 0.03 pJ, 8-bit mult 0.2 pJ; 32-bit fp add 0.9 pJ, fp mult
# 3.7 pJ; 64-bit read of an 8 KB SRAM 10 pJ, of a 1 MB SRAM 100 pJ, of DRAM 1.3-2.6 nJ;
# an instruction on a simple in-order core costs about 70 pJ of overhead beyond its
# arithmetic. The profiles below combine these figures as each docstring line says.
_HOROWITZ = "Horowitz, ISSCC 2014, 45 nm energy table"

CORTEX_M7 = DeviceProfile(
    name="cortex-m7",
    description="Cortex-M7 microcontroller class (STM32H743: 480 MHz, 1 MB SRAM, 2 MB flash)",
    fp32_macs_per_s=0.25 * 480e6,
    int8_speedup=2.4,
    dw_efficiency=0.5,
    bandwidth_bytes_per_s=1.0e9,
    layer_overhead_ms=0.02,
    e_mac_pj={8: 35.0, 32: 74.0},
    e_byte_pj=12.5,
    budgets={"memory_kb": 512.0, "latency_ms": 100.0, "energy_mj": 100.0},
    sources={
        "fp32_macs_per_s": "0.25 MAC/cycle at 480 MHz: single-issue FPU FMA plus two loads "
        "per MAC (ARM Cortex-M7 TRM: one FMA/cycle, dual-issue load)",
        "int8_speedup": "CMSIS-NN int8 convolutions reach ~0.6 MAC/cycle with SMLAD "
        "(2 MACs/instruction); Lai et al., 'CMSIS-NN', arXiv:1801.06601",
        "dw_efficiency": "CMSIS-NN depthwise kernels run at about half the dense rate "
        "(Lai et al. 2018)",
        "e_mac_pj": f"{_HOROWITZ}: ~70 pJ instruction overhead per MAC instruction; int8 "
        "SMLAD does 2 MACs per instruction (35 pJ/MAC), fp32 VFMA one (70 + 3.7 + 0.9 pJ)",
        "e_byte_pj": f"{_HOROWITZ}: 100 pJ per 64-bit read of a 1 MB SRAM = 12.5 pJ/byte",
        "budgets": "512 KB: STM32H743's AXI SRAM; issue seeds: latency < 100 ms, 1 W x 100 ms",
    },
)

RASPI4 = DeviceProfile(
    name="raspi4",
    description="Raspberry Pi 4 class board (BCM2711: 4x Cortex-A72 at 1.5 GHz, LPDDR4)",
    fp32_macs_per_s=6.0e9,
    int8_speedup=1.8,
    dw_efficiency=0.3,
    bandwidth_bytes_per_s=4.0e9,
    layer_overhead_ms=0.03,
    e_mac_pj={8: 50.0, 32: 100.0},
    e_byte_pj=20.0,
    budgets={"memory_kb": 10240.0, "latency_ms": 100.0, "energy_mj": 100.0},
    sources={
        "fp32_macs_per_s": "4 cores x 2 NEON FMA pipes x 4 lanes x 1.5 GHz = 48 GMAC/s peak; "
        "inference runtimes reach ~1/8 of it on small convolutions",
        "int8_speedup": "A72 has no int8 dot-product instruction; widening 16-bit NEON MACs "
        "give ~2x fp32 lanes, less the requantisation overhead",
        "dw_efficiency": "depthwise convolutions are memory bound on A72 class cores",
        "bandwidth_bytes_per_s": "LPDDR4-3200 on a 32-bit bus, ~4 GB/s sustained (STREAM)",
        "e_mac_pj": "~3.7 W dynamic power (6.4 W loaded - 2.7 W idle, Raspberry Pi 4 "
        "board measurements) over ~40 GMAC/s near peak gives ~100 pJ per fp32 MAC; "
        "half for int8",
        "e_byte_pj": f"{_HOROWITZ}: on-chip 1 MB L2 at 12.5 pJ/byte plus interconnect",
        "budgets": "issue seeds: model size < 10 MB, latency < 100 ms, 1 W x 100 ms",
    },
)

LOCAL_CPU = DeviceProfile(
    name="local-cpu",
    description="this machine's CPU, one ONNX Runtime thread (latency measured)",
    fp32_macs_per_s=2.736e10,
    int8_speedup=0.548,
    dw_efficiency=0.389,
    bandwidth_bytes_per_s=1.55e11,
    layer_overhead_ms=0.0034,
    e_mac_pj={8: 5.0, 32: 14.0},
    e_byte_pj=12.5,
    budgets={"memory_kb": 10240.0, "latency_ms": 100.0, "energy_mj": 100.0},
    measured=True,
    sources={
        "analytic constants": "fitted to ONNX Runtime timings of 30 random 28x28 "
        "architectures (benchmarks/latency_model.py --fit --seed 1) on this machine (Xeon, "
        "AVX-512 VNNI, 1 thread); int8_speedup < 1 because at batch 1 these small int8 "
        "QDQ graphs pay more in (de)quantisation than they save in arithmetic",
        "e_mac_pj": f"{_HOROWITZ}: 70 pJ instruction overhead shared by 16 fp32 lanes of an "
        "AVX-512 FMA (4.4 pJ) plus 4.6 pJ arithmetic, ~14 pJ; int8 VNNI does 4x more MACs "
        "per instruction (~5 pJ)",
        "e_byte_pj": f"{_HOROWITZ}: 100 pJ per 64-bit read of a 1 MB SRAM (L2) = 12.5 pJ/byte",
        "budgets": "issue seeds: model size < 10 MB, latency < 100 ms, 1 W x 100 ms",
    },
)

#: Device profiles by name (``--device-profile``, ``quarch devices``).
DEVICE_PROFILES: Registry[DeviceProfile] = Registry("device profile")
for _p in (CORTEX_M7, RASPI4, LOCAL_CPU):
    DEVICE_PROFILES.add(_p.name, _p, _p.description)


def get_device(name: str | DeviceProfile) -> DeviceProfile:
    """The profile named ``name`` (a profile passes through).

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    if isinstance(name, DeviceProfile):
        return name
    return DEVICE_PROFILES.get(name)


def list_devices() -> list[dict[str, Any]]:
    """Every registered profile as a dict (what ``quarch devices`` prints)."""
    return [e.factory.to_dict() for e in DEVICE_PROFILES.entries()]


def default_budgets(name: str | DeviceProfile) -> list[str]:
    """The profile's default budgets as ``--budget`` strings, e.g. ``"latency_ms<=100"``."""
    return [f"{m}<={v:g}" for m, v in get_device(name).budgets.items()]


# -- the models ------------------------------------------------------------------------
def _act_bytes(bits: int) -> int:
    return 1 if bits == 8 else 4


def weight_bytes(table: list[Layer], bits: int) -> int:
    """Bytes of weights at ``bits`` plus 4-byte biases (folded batch-norm)."""
    return sum(r.weights for r in table) * bits // 8 + 4 * sum(r.biases for r in table)


def peak_activation_bytes(table: list[Layer], bits: int) -> int:
    """Largest sum of live activations (input + output + held) over the schedule."""
    return _act_bytes(bits) * max(r.in_elems + r.out_elems + r.held_elems for r in table)


def _layer_bytes(r: Layer, bits: int) -> int:
    return (r.in_elems + r.out_elems) * _act_bytes(bits) + r.weights * bits // 8 + 4 * r.biases


def energy_mj(table: list[Layer], bits: int, device: DeviceProfile) -> float:
    """Energy of one inference in millijoules: MACs and bytes moved times their costs."""
    macs = sum(r.macs for r in table)
    moved = sum(_layer_bytes(r, bits) for r in table)
    return (macs * device.e_mac_pj[bits] + moved * device.e_byte_pj) * 1e-9


def model_latency_ms(table: list[Layer], bits: int, device: DeviceProfile) -> float:
    """Analytic latency of one batch-1 inference in milliseconds (per-operator roofline)."""
    total = 0.0
    for r in table:
        rate = device.fp32_macs_per_s * (device.int8_speedup if bits == 8 else 1.0)
        if r.kind == "dwconv":
            rate *= device.dw_efficiency
        t = max(r.macs / rate, _layer_bytes(r, bits) / device.bandwidth_bytes_per_s)
        total += 1000.0 * t + device.layer_overhead_ms
    return total


def edge_costs(
    arch: Mapping[str, Any] | Plan,
    input_shape: tuple[int, ...] = (1, 28, 28),
    n_classes: int = 10,
    device: str | DeviceProfile = "local-cpu",
) -> dict[str, float]:
    """Every deterministic edge cost of a ``cnn`` architecture on ``device``.

    Returns:
        dict: ``macs``, ``weights_kb``, ``activation_kb``, ``memory_kb`` (their sum),
        ``energy_mj`` and ``latency_model_ms`` (the analytic latency on ``device``).

    Example:
        >>> from quarch.space.cnn import cnn_space
        >>> c = edge_costs(cnn_space().sample(0), (1, 8, 8), 10, "cortex-m7")
        >>> c["memory_kb"] == c["weights_kb"] + c["activation_kb"]
        True
    """
    dev = get_device(device)
    plan = arch if isinstance(arch, Plan) else cnn_plan(arch, input_shape, n_classes)
    table = layer_table(plan)
    w = weight_bytes(table, plan.bits) / 1024.0
    a = peak_activation_bytes(table, plan.bits) / 1024.0
    return {
        "macs": float(sum(r.macs for r in table)),
        "weights_kb": w,
        "activation_kb": a,
        "memory_kb": w + a,
        "energy_mj": energy_mj(table, plan.bits, dev),
        "latency_model_ms": model_latency_ms(table, plan.bits, dev),
    }
