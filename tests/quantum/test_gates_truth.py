"""The gate table (``quarch.quantum.gates``) against PennyLane's own matrices.

Every simulator path and exporter reads this one table, so each entry is checked here
directly: its matrix at generic angles (batched and not, both precisions), its wire and
angle counts, its permutation flag, and the derivative of its matrix in its angles.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pennylane as qml
import pytest
import torch

from quarch.quantum.gates import GATES, gate_matrix

#: quarch's gate -> the PennyLane operation with the same matrix (same wire order:
#: the first wire is the most significant bit in both)
PENNYLANE: dict[str, Callable[..., qml.operation.Operator]] = {
    "h": qml.Hadamard, "x": qml.PauliX, "y": qml.PauliY, "z": qml.PauliZ, "s": qml.S,
    "sdg": lambda wires: qml.adjoint(qml.S(wires)), "t": qml.T,
    "tdg": lambda wires: qml.adjoint(qml.T(wires)), "sx": qml.SX,
    "sxdg": lambda wires: qml.adjoint(qml.SX(wires)), "rx": qml.RX, "ry": qml.RY,
    "rz": qml.RZ, "phase": qml.PhaseShift, "rot": qml.Rot, "u3": qml.U3,
    "cnot": qml.CNOT, "cz": qml.CZ, "cy": qml.CY, "ch": qml.CH, "swap": qml.SWAP,
    "crx": qml.CRX, "cry": qml.CRY, "crz": qml.CRZ, "cphase": qml.ControlledPhaseShift,
    "rxx": qml.IsingXX, "ryy": qml.IsingYY, "rzz": qml.IsingZZ, "ccx": qml.Toffoli,
    "cswap": qml.CSWAP,
}  # fmt: skip

#: generic angles, none a multiple of pi/2, all in different quadrants
ANGLES = np.array([[0.37, -2.11, 1.93], [2.71, 0.83, -0.52], [-1.29, 3.02, 0.61]])


def _truth(name: str, angles: np.ndarray) -> np.ndarray:
    spec = GATES[name]
    wires = list(range(spec.n_wires))
    op = PENNYLANE[name](*angles[: spec.n_params], wires=wires)
    return np.asarray(qml.matrix(op, wire_order=wires))


def test_every_gate_has_its_pennylane_twin() -> None:
    assert set(PENNYLANE) == set(GATES)


@pytest.mark.parametrize("name", sorted(GATES))
def test_matrix_counts_and_flag_equal_pennylanes(name: str) -> None:
    spec = GATES[name]
    op = PENNYLANE[name](*ANGLES[0][: spec.n_params], wires=list(range(spec.n_wires)))
    assert (spec.n_wires, spec.n_params) == (len(op.wires), op.num_params)
    assert (spec.constant is None) == (spec.n_params > 0) == (spec.builder is not None)
    rows = []
    for angles in ANGLES:
        params = torch.tensor(angles[: spec.n_params], dtype=torch.float64)
        got = gate_matrix(name, params if spec.n_params else None)
        assert got.dtype == torch.complex128 and got.shape == (2**spec.n_wires,) * 2
        np.testing.assert_allclose(got.numpy(), _truth(name, angles), rtol=0, atol=1e-14)
        rows.append(_truth(name, angles))
    m = rows[0]
    is_perm = bool(np.all((m == 0) | (m == 1)) and np.all(m.sum(0) == 1) and np.all(m.sum(1) == 1))
    assert spec.permutation == is_perm


@pytest.mark.parametrize("name", sorted(n for n, s in GATES.items() if s.n_params))
def test_a_batch_of_angles_in_either_precision(name: str) -> None:
    """Angles of shape ``S + (n_params,)`` give ``S + (d, d)``, each the matrix of its
    own angles, in complex64 from float32 angles as well."""
    spec = GATES[name]
    k = spec.n_params
    params = torch.tensor(np.stack([ANGLES, ANGLES[::-1] * 0.5]))[..., :k]  # (2, 3, k)
    want = np.stack([[_truth(name, a) for a in batch] for batch in params.numpy()])
    got = gate_matrix(name, params)
    assert got.shape == (2, 3, 2**spec.n_wires, 2**spec.n_wires)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-14)
    single = spec.builder(*params.float().unbind(-1))  # type: ignore[misc]
    assert single.dtype == torch.complex64
    np.testing.assert_allclose(single.numpy(), want, rtol=0, atol=2e-6)
    low = gate_matrix(name, params, dtype=torch.complex64)
    assert low.dtype == torch.complex64
    np.testing.assert_allclose(low.numpy(), want, rtol=0, atol=2e-6)
    assert torch.equal(low, single)  # built in float32, as the simulator's paths build it
    # float32 angles asked for in complex128 are widened before the build: the matrix
    # of those (rounded) angles to float64 precision, not float32's
    rounded = params.float()
    wide = gate_matrix(name, rounded)
    exact = np.stack([[_truth(name, a) for a in b] for b in rounded.double().numpy()])
    np.testing.assert_allclose(wide.numpy(), exact, rtol=0, atol=1e-14)


@pytest.mark.parametrize("name", sorted(n for n, s in GATES.items() if s.n_params))
def test_derivatives_in_the_angles(name: str) -> None:
    """The simulator differentiates through these builders: their derivative in each
    angle equals a central difference of PennyLane's matrix."""
    spec = GATES[name]
    angles = ANGLES[1][: spec.n_params]
    params = torch.tensor(angles, dtype=torch.float64, requires_grad=True)
    h = 1e-6
    for j in range(spec.n_params):
        for part in (torch.real, torch.imag):
            jac = torch.autograd.functional.jacobian(
                lambda p, part=part: part(gate_matrix(name, p)), params
            )[..., j].numpy()
            up, down = angles.copy(), angles.copy()
            up[j] += h
            down[j] -= h
            fd = (_truth(name, up) - _truth(name, down)) / (2 * h)
            np.testing.assert_allclose(jac, part(torch.tensor(fd)).numpy(), rtol=0, atol=1e-8)


def test_constant_gates_on_the_device_and_dtype_asked_for() -> None:
    got = gate_matrix("ch", dtype=torch.complex64, device="cpu")
    assert got.dtype == torch.complex64 and got.device.type == "cpu"
    np.testing.assert_allclose(got.numpy(), _truth("ch", ANGLES[0]), rtol=0, atol=1e-7)
