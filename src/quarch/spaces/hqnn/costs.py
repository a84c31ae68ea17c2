"""The costs of an ``hqnn`` architecture: quantum costs of its circuit, FLOPs of the
whole network, measured simulation time and, optionally, its noisy validation error.

:func:`quantum_cost_metrics` needs no training (it reads the circuit only), so those
costs can also be budgets. :class:`HybridCosts` adds what needs the trained model; both
evaluators of the space (short training and the SuperCircuit) call it, so they return
the same metrics.

Metrics:

* ``qubits``, ``depth``, ``two_qubit_gates`` (native two-qubit gates after
  decomposition), ``runtime_proxy`` (seconds per sample on ``device_profile``);
* ``subcircuits`` and ``cut_overhead`` (``log10`` of the sampling overhead, since
  overheads of wide circuits overflow a float) for a device of ``qubit_budget`` qubits;
* ``flops`` = classical FLOPs of the front-end and head (torch's counter) + the
  circuit's simulation FLOPs (:func:`~quarch.cost.quantum.quantum_flops`), per sample;
* ``sim_time_ms``: measured wall time of one forward pass of the quantum layer on one
  batch. It is the only metric that is **not reproducible** (machine load, threads);
* ``noisy_val_error`` when ``noise`` is set: the trained model re-scored on the
  density-matrix path with the profile's noise model (first ``noise_samples``
  validation samples; circuits above ``noise_max_qubits`` qubits score 1.0).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from quarch._errors import ConfigError
from quarch.cost.classical import count_flops, count_params
from quarch.cost.cutting import estimate_cuts, find_cuts_qiskit
from quarch.cost.devices import get_quantum_device
from quarch.cost.quantum import native_two_qubit_gates, noise_model, quantum_flops, runtime_proxy
from quarch.quantum import resources
from quarch.spaces.hqnn.model import HybridNet, build_circuit, observables_of

if TYPE_CHECKING:
    from quarch.data import Dataset

__all__ = ["HybridCosts", "quantum_cost_metrics"]


def quantum_cost_metrics(
    arch: Mapping[str, Any],
    *,
    qubit_budget: int | None = None,
    device_profile: str = "ibm-heron",
    cutter: str = "builtin",
    shots: int | None = None,
) -> dict[str, float]:
    """The deterministic quantum costs of ``arch`` (no training needed)."""
    circuit = build_circuit(arch)
    res = resources(circuit)
    out = {
        "qubits": float(circuit.n_qubits),
        "depth": float(res.depth),
        "two_qubit_gates": float(native_two_qubit_gates(circuit)),
        "runtime_proxy": runtime_proxy(circuit, device_profile, shots=shots),
        "quantum_flops": quantum_flops(circuit, len(observables_of(arch))),
    }
    if qubit_budget is None:
        out["subcircuits"], out["cut_overhead"] = 1.0, 0.0
    else:
        if cutter == "qiskit":
            cut = find_cuts_qiskit(circuit, int(qubit_budget))
        else:
            cut = estimate_cuts(circuit, int(qubit_budget))
        out["subcircuits"], out["cut_overhead"] = float(cut.subcircuits), cut.log10_overhead
    return out


class HybridCosts:
    """The cost metrics of a trained (or weight-inherited) :class:`HybridNet`.

    Args:
        data (Dataset): the prepared data set (validation split for timing and noise).
        batch_size (int): batch of the timed forward pass.
        qubit_budget (int | None): device size for ``subcircuits`` / ``cut_overhead``.
        device_profile (str): quantum device profile for ``runtime_proxy`` and noise.
        noise (bool | str | None): also compute ``noisy_val_error`` (a profile name
            picks that profile's noise).
        cutter (str): ``"builtin"`` (fast estimator) or ``"qiskit"`` (find_cuts).
        shots (int | None): shots per execution (default: the profile's).
        noise_samples (int): validation samples scored on the noisy path.
        noise_max_qubits (int): widest circuit simulated with density matrices.
    """

    def __init__(
        self,
        data: Dataset,
        *,
        batch_size: int = 32,
        qubit_budget: int | None = None,
        device_profile: str = "ibm-heron",
        noise: bool | str | None = None,
        cutter: str = "builtin",
        shots: int | None = None,
        noise_samples: int = 200,
        noise_max_qubits: int = 8,
    ) -> None:
        if qubit_budget is not None and (
            isinstance(qubit_budget, bool) or not isinstance(qubit_budget, int) or qubit_budget < 1
        ):
            raise ConfigError(f"qubit_budget must be an integer >= 1; got {qubit_budget!r}")
        if cutter not in ("builtin", "qiskit"):
            raise ConfigError(f"cutter must be 'builtin' or 'qiskit'; got {cutter!r}")
        get_quantum_device(device_profile)
        if isinstance(noise, str):
            get_quantum_device(noise)
        self.data = data
        self.batch_size = batch_size
        self.qubit_budget = qubit_budget
        self.device_profile = device_profile
        self.noise = noise
        self.cutter = cutter
        self.shots = shots
        self.noise_samples = noise_samples
        self.noise_max_qubits = noise_max_qubits

    def static(self, arch: Mapping[str, Any], model: HybridNet) -> dict[str, float]:
        """The costs that need no training (``model`` may be untrained): the quantum
        costs, ``flops`` and ``params``."""
        out = quantum_cost_metrics(
            arch, qubit_budget=self.qubit_budget, device_profile=self.device_profile,
            cutter=self.cutter, shots=self.shots,
        )  # fmt: skip
        shape = tuple(self.data.input_shape)
        classical = count_flops(model.frontend, shape)
        classical += count_flops(model.head, (len(model.observables),))
        out["flops"] = float(classical) + out.pop("quantum_flops")
        out["params"] = float(count_params(model))
        return out

    def __call__(self, arch: Mapping[str, Any], model: HybridNet) -> dict[str, float]:
        """Every cost metric of ``arch`` with its model ``model`` (see the module docstring)."""
        out = self.static(arch, model)
        out["sim_time_ms"] = self._sim_time(model)
        if self.noise:
            out["noisy_val_error"] = self.noisy_error(model)
        return out

    def _sim_time(self, model: HybridNet) -> float:
        X = torch.as_tensor(self.data.X_val[: self.batch_size], dtype=torch.float32)
        with torch.no_grad():
            feats = model.features(X.to(model.quantum.weights.device))
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                model.quantum(feats)
                times.append(time.perf_counter() - t0)
        return 1000.0 * float(np.median(times))

    def noisy_error(self, model: HybridNet) -> float:
        """Validation error of the trained model on the noisy density-matrix path."""
        from quarch.quantum import noisy_expval

        if model.circuit.n_qubits > self.noise_max_qubits:
            return 1.0
        prof = self.noise if isinstance(self.noise, str) else self.device_profile
        nm = noise_model(prof)
        X = torch.as_tensor(self.data.X_val[: self.noise_samples], dtype=torch.float32)
        y = torch.as_tensor(self.data.y_val[: self.noise_samples])
        wrong = 0
        chunk = max(1, int(2**28 // (3 * 8 * 4**model.circuit.n_qubits)))
        with torch.no_grad():
            for i in range(0, len(X), chunk):
                feats = model.features(X[i : i + chunk])
                q = noisy_expval(
                    model.circuit, model.observables, inputs=feats,
                    weights=model.quantum.weights, noise_model=nm,
                    dtype=torch.complex64,
                )  # fmt: skip
                logits = model.head(q.float())
                wrong += int((logits.argmax(1) != y[i : i + chunk]).sum())
        return wrong / max(len(X), 1)
