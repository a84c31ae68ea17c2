"""Cost models: what an architecture costs to store, run and simulate."""

from __future__ import annotations

from quarch.cost.classical import count_flops, count_params
from quarch.cost.cutting import CutEstimate, estimate_cuts, find_cuts_qiskit
from quarch.cost.edge import (
    DEVICE_PROFILES,
    DeviceProfile,
    default_budgets,
    edge_costs,
    get_device,
    list_devices,
)
from quarch.cost.quantum import (
    QUANTUM_DEVICES,
    QuantumDevice,
    get_quantum_device,
    noise_model,
    quantum_flops,
    runtime_proxy,
)

__all__ = [
    "DEVICE_PROFILES",
    "QUANTUM_DEVICES",
    "CutEstimate",
    "DeviceProfile",
    "QuantumDevice",
    "count_flops",
    "count_params",
    "default_budgets",
    "edge_costs",
    "estimate_cuts",
    "find_cuts_qiskit",
    "get_device",
    "get_quantum_device",
    "list_devices",
    "noise_model",
    "quantum_flops",
    "runtime_proxy",
]
