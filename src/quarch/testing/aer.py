"""``qiskit-aer`` as the reference for quarch's device noise (tests and the benchmark).

:func:`aer_expvals` runs a routed circuit on the whole device with
``NoiseModel.from_backend`` of the fake backend itself, so the noise model, its
channels and the simulation are all Aer's; quarch's own calibration extraction and
noise construction (:func:`quarch.cost.device_costs.device_noise`) are what it checks.
Aer applies readout errors to sampled bits only, so the exact probabilities of the
measured qubits are taken from Aer's density matrix and Aer's own ``ReadoutError``
matrices are applied to them. Needs ``qiskit-aer`` (a test dependency).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["aer_expvals", "aer_noise_model", "bound_device_circuits"]


@functools.lru_cache(maxsize=8)
def aer_noise_model(device: str) -> Any:
    """``NoiseModel.from_backend`` of a calibrated target's fake backend (cached)."""
    return _noise_model(device)


def _noise_model(device: str) -> Any:
    from qiskit_aer.noise import NoiseModel

    from quarch.cost.devices import get_calibration

    cal = get_calibration(device)
    if cal is None:
        raise ValueError(f"{device} is not a calibrated target")
    return NoiseModel.from_backend(cal.backend)


def bound_device_circuits(
    routed: Any, weights: Sequence[float] | np.ndarray, inputs: np.ndarray
) -> list[Any]:
    """The routed circuit on the whole device, one per row of ``inputs`` (features;
    mapped to Möttönen angles for amplitude embeddings), every parameter bound."""
    qc = routed.full_device_qiskit(list(map(float, weights)))
    x = np.atleast_2d(np.asarray(inputs, dtype=np.float64))
    if routed.input_map is not None:
        import torch

        x = routed.input_map(torch.as_tensor(x)).numpy()
    out = []
    for row in x:
        out.append(
            qc.assign_parameters({p: float(row[int(p.name[2:-1])]) for p in qc.parameters})
            if qc.parameters
            else qc.copy()
        )
    return out


def aer_expvals(
    routed: Any,
    weights: Sequence[float] | np.ndarray,
    inputs: np.ndarray,
    words: Sequence[Mapping[int, str]],
    *,
    method: str = "density_matrix",
) -> np.ndarray:
    """Z-word expectations ``[batch, n_words]`` of a routed circuit with the device's
    noise, computed by Aer; ``words`` map the routed circuit's local wires to ``"Z"``.

    Exact: Aer's density-matrix method applies the noise as channels. ``method`` takes
    no other value, because Aer's statevector method samples the noise, one trajectory
    per shot, and what it saved would be one noisy run, not the expectation.
    """
    if method != "density_matrix":
        raise ValueError(
            f"aer_expvals is exact with method='density_matrix' only; got {method!r} (Aer's "
            "other methods sample the noise: one trajectory per shot)"
        )
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise.device.models import basic_device_readout_errors

    from quarch.cost.devices import get_calibration

    cal = get_calibration(routed.device)
    assert cal is not None
    region = list(routed.region)
    n = len(region)
    readout = {
        tuple(q): np.asarray(e.probabilities)
        for q, e in basic_device_readout_errors(target=cal.backend.target)
    }
    circuits = bound_device_circuits(routed, weights, inputs)
    for qc in circuits:
        qc.save_probabilities(region)
    sim = AerSimulator(method=method, noise_model=aer_noise_model(routed.device))
    result = sim.run(circuits, shots=1).result()
    idx = np.arange(2**n)
    out = np.empty((len(circuits), len(words)))
    for k in range(len(circuits)):
        # Aer's index: bit i is region[i] (little-endian), so axis n - 1 - i
        p = np.asarray(result.data(k)["probabilities"]).reshape([2] * n)
        for i, q in enumerate(region):
            ax = n - 1 - i
            p = np.moveaxis(np.tensordot(p, readout[(q,)], axes=([ax], [0])), -1, ax)
        flat = p.reshape(-1)
        for j, word in enumerate(words):
            parity = np.zeros_like(idx)
            for w in word:
                parity ^= (idx >> w) & 1
            out[k, j] = float(np.sum(flat * (1 - 2 * parity)))
    return out
