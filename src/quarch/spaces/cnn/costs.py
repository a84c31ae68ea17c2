"""Edge costs of CNNs: memory, energy and latency on an edge device profile.

The constants of each device class (compute rate, memory bandwidth, per-operator
overhead, energy per MAC and per byte, default budgets) are an edge
:class:`~quarch.cost.devices.DeviceProfile` in :data:`quarch.cost.devices.DEVICES`.

All costs here are computed from the layer table of :mod:`quarch.spaces.cnn.model`, so they
are deterministic functions of the architecture and input shape. The one measured
cost, ONNX Runtime latency on this machine, lives in
:func:`quarch.cost.onnx.measure_latency_ms`.

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
from typing import Any

from quarch.cost.devices import DeviceProfile, get_device
from quarch.spaces.cnn.model import Layer, Plan, cnn_plan, layer_table

__all__ = [
    "edge_costs",
    "energy_mj",
    "model_latency_ms",
    "peak_activation_bytes",
    "weight_bytes",
]


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
        >>> from quarch.spaces.cnn.space import cnn_space
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
