"""Costs more than one space uses: what an architecture costs to store, run and simulate.

* :mod:`quarch.cost.classical`: parameters and FLOPs of a torch model;
* :mod:`quarch.cost.onnx`: ONNX export, int8 quantisation and measured ONNX Runtime
  latency of a torch model (``onnx`` extra; imported on use);
* :mod:`quarch.cost.devices`: device profiles, edge and quantum, in one registry;
* :mod:`quarch.cost.quantum`: quantum cost metrics of a circuit on a quantum profile;
* :mod:`quarch.cost.cutting`: circuit-cutting subcircuits under a qubit budget.

A cost only one space has lives in that space's room (``quarch.spaces.cnn.costs``).
"""

from __future__ import annotations

from quarch.cost.classical import count_flops, count_params
from quarch.cost.cutting import CutEstimate, estimate_cuts, find_cuts_qiskit
from quarch.cost.devices import (
    DEVICES,
    DeviceProfile,
    QuantumDevice,
    default_budgets,
    get_device,
    get_quantum_device,
    list_devices,
)
from quarch.cost.quantum import noise_model, quantum_flops, runtime_proxy

__all__ = [
    "DEVICES",
    "CutEstimate",
    "DeviceProfile",
    "QuantumDevice",
    "count_flops",
    "count_params",
    "default_budgets",
    "estimate_cuts",
    "find_cuts_qiskit",
    "get_device",
    "get_quantum_device",
    "list_devices",
    "noise_model",
    "quantum_flops",
    "runtime_proxy",
]
