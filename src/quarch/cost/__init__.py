"""Costs more than one space uses: what an architecture costs to store, run and simulate.

* :mod:`quarch.cost.classical`: parameters and FLOPs of a torch model;
* :mod:`quarch.cost.onnx`: ONNX export, int8 quantisation and measured ONNX Runtime
  latency of a torch model (``onnx`` extra; imported on use);
* :mod:`quarch.cost.devices`: device profiles, edge and quantum, in one registry;
* :mod:`quarch.cost.calibration`: calibrated IBM targets from ``qiskit-ibm-runtime``'s
  snapshots (coupling map, per-qubit and per-gate figures, ranked regions);
* :mod:`quarch.cost.routing`: a circuit placed and routed on a region of such a target;
* :mod:`quarch.cost.device_costs`: what a routed circuit costs there (schedule, success
  probability, runtime) and the device's noise on it;
* :mod:`quarch.cost.quantum`: quantum cost metrics of a circuit on a quantum profile;
* :mod:`quarch.cost.cutting`: circuit-cutting subcircuits under a qubit budget.

A cost only one space has lives in that space's room (``quarch.spaces.cnn.costs``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quarch.cost.classical import count_flops, count_params
    from quarch.cost.cutting import CutEstimate, estimate_cuts, find_cuts_qiskit
    from quarch.cost.device_costs import (
        DEVICE_METRICS,
        TrainingLoad,
        device_metrics,
        device_noise,
        success_probability,
    )
    from quarch.cost.devices import (
        DEVICES,
        CalibratedTarget,
        DeviceProfile,
        QuantumDevice,
        default_budgets,
        get_calibration,
        get_device,
        get_quantum_device,
        is_calibrated,
        list_devices,
    )
    from quarch.cost.quantum import noise_model, quantum_flops, runtime_proxy
    from quarch.cost.routing import DeviceFitError, RoutedCircuit, route

#: The module each name of the package is read from, on first use (PEP 562), not at
#: import: ``classical`` and ``cutting`` import torch (about 2 s), so importing any one
#: submodule, such as ``quarch.cost.devices`` for ``--device-profile``'s check, took 2.1 s
#: when this package imported them all; ``devices`` alone takes a fraction.
_HOMES = {
    "count_flops": "classical", "count_params": "classical",
    "CutEstimate": "cutting", "estimate_cuts": "cutting", "find_cuts_qiskit": "cutting",
    "DEVICE_METRICS": "device_costs", "TrainingLoad": "device_costs",
    "device_metrics": "device_costs", "device_noise": "device_costs",
    "success_probability": "device_costs",
    "DEVICES": "devices", "CalibratedTarget": "devices", "DeviceProfile": "devices",
    "QuantumDevice": "devices", "default_budgets": "devices", "get_calibration": "devices",
    "get_device": "devices", "get_quantum_device": "devices", "is_calibrated": "devices",
    "list_devices": "devices",
    "noise_model": "quantum", "quantum_flops": "quantum", "runtime_proxy": "quantum",
    "DeviceFitError": "routing", "RoutedCircuit": "routing", "route": "routing",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:  # a submodule not imported yet: `from quarch.cost import routing`
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


__all__ = [
    "DEVICES",
    "DEVICE_METRICS",
    "CalibratedTarget",
    "CutEstimate",
    "DeviceFitError",
    "DeviceProfile",
    "QuantumDevice",
    "RoutedCircuit",
    "TrainingLoad",
    "count_flops",
    "count_params",
    "default_budgets",
    "device_metrics",
    "device_noise",
    "estimate_cuts",
    "find_cuts_qiskit",
    "get_calibration",
    "get_device",
    "get_quantum_device",
    "is_calibrated",
    "list_devices",
    "noise_model",
    "quantum_flops",
    "route",
    "runtime_proxy",
    "success_probability",
]
