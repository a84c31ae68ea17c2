"""Per-op gate matrices of the density-matrix path (:mod:`quarch.quantum._gatewise`)
against PennyLane.

``GateMatrices`` gathers every angle from one source vector
``[consts | weights | inputs | input products]`` and builds each gate type's matrices
in one call. Each op's matrix must be PennyLane's matrix of that gate at the angle
the circuit means (constant, ``scale * weight``, ``scale * input`` or ``scale *``
a product of inputs), per sample where the angle is, in the precision asked for.
The truth is computed op by op: the angle in float64 numpy, then ``qml.matrix`` of a
one-gate circuit in the gate's own wire order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import AmplitudeEmbedding, Circuit, Input, Param, to_pennylane
from quarch.quantum._gatewise import GateMatrices
from quarch.quantum.noise import density_matrix

from ._random import all_gates_circuit

qml = pytest.importorskip("pennylane")


def _mixed_circuit() -> Circuit:
    """Constants (not exact in float32), scaled weights, scaled inputs, products of two
    and three inputs, gates mixing all three in one op, and one gate type both per
    sample and shared (two groups of one name), with constant gates between."""
    c = Circuit(3)
    w = [c.new_weight() for _ in range(4)]
    c.h(0).rx(0, 0.1).rx(1, w[0] * 0.3).rx(2, Input(1, scale=0.7))
    c.rx(0, Input(0, 2, scale=-1.3)).ry(1, Input(0, 1, 2)).cnot(0, 2)
    c.crz(2, 0, w[1]).append("rot", [1], [w[2], 0.25, Input(2)])
    c.append("rot", [0], [0.5, w[0] * 1.7, w[3]]).swap(1, 2).ry(2, -0.3)
    c.crx(1, 0, Input(2, 1, scale=0.4)).rz(1, w[3] * -2.1)
    return c


def _angle(p: float | Param, w: np.ndarray, x: np.ndarray) -> float:
    """The angle ``p`` means for weights ``w`` and one sample's inputs ``x``."""
    if not isinstance(p, Param):
        return float(p)
    if p.kind == "weight":
        return p.scale * float(w[p.index[0]])
    return p.scale * float(np.prod([x[i] for i in p.index]))


def _op_matrix(c: Circuit, i: int, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """PennyLane's matrix of op ``i`` of ``c`` at its angles, in the op's wire order."""
    op = c.ops[i]
    one = Circuit(c.n_qubits).append(op.name, list(op.wires), [_angle(p, w, x) for p in op.params])
    f = to_pennylane(one)
    return np.asarray(qml.matrix(f, wire_order=list(op.wires))(np.zeros(0), None))


def _check(c: Circuit, w: np.ndarray, x: np.ndarray | None, dtype: torch.dtype) -> None:
    """Every op's matrix (per sample where it depends on inputs or per-sample weights)
    against PennyLane's, to the precision of ``dtype``; and each op's record."""
    gates = GateMatrices(c, dtype)
    rows = 1 if x is None else x.shape[0]
    if w.ndim == 2:
        rows = w.shape[0]
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    xt = None if x is None else torch.tensor(x, dtype=real)
    mats = gates.matrices(xt, torch.tensor(w, dtype=real), rows, torch.device("cpu"))
    atol = 1e-12 if dtype == torch.complex128 else 2e-6
    ops = [op for op in c.ops if op.name != "amplitude_embedding"]
    assert len(gates.refs) == len(ops)
    for i, (ref, op) in enumerate(zip(gates.refs, ops, strict=True)):
        reads_inputs = any(isinstance(p, Param) and p.kind == "input" for p in op.params)
        assert (ref.wires, ref.name, ref.batched) == (op.wires, op.name, reads_inputs)
        got = gates.matrix(ref, mats, torch.device("cpu"))
        assert got.dtype == dtype
        per_row = got.dim() == 3
        assert per_row == (reads_inputs or (w.ndim == 2 and ref.group >= 0))
        for b in range(rows):
            wb = w[b] if w.ndim == 2 else w
            xb = np.zeros(c.n_inputs) if x is None else x[b]
            want = _op_matrix(Circuit(c.n_qubits, ops), i, wb, xb)
            have = (got[b] if per_row else got).numpy()
            np.testing.assert_allclose(have, want, rtol=0, atol=atol, err_msg=f"op {i} {op}")


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64], ids=["c128", "c64"])
def test_mixed_angles_per_op(dtype: torch.dtype) -> None:
    c = _mixed_circuit()
    rng = np.random.default_rng(1)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (3, c.n_inputs))
    _check(c, w, x, dtype)


def test_every_gate_per_op() -> None:
    """Every gate of the table once (weights and inputs alternating), in complex128."""
    c = all_gates_circuit(3)
    rng = np.random.default_rng(2)
    _check(
        c, rng.uniform(-3, 3, c.n_weights), rng.uniform(-2, 2, (2, c.n_inputs)), torch.complex128
    )


def test_per_sample_weights_without_inputs() -> None:
    """Weights ``[rows, n_weights]`` and no inputs: every parametrised op per row."""
    c = Circuit(2)
    c.rx(0, c.new_weight()).ry(1, 0.2).crz(0, 1, c.new_weight() * 0.5).h(1)
    rng = np.random.default_rng(3)
    _check(c, rng.uniform(-3, 3, (4, c.n_weights)), None, torch.complex128)


def test_per_sample_weights_with_inputs() -> None:
    c = _mixed_circuit()
    rng = np.random.default_rng(4)
    w = rng.uniform(-3, 3, (3, c.n_weights))
    _check(c, w, rng.uniform(-2, 2, (3, c.n_inputs)), torch.complex128)


def test_shared_weights_only() -> None:
    """Weights shared and no inputs: one matrix per op for the whole batch."""
    c = Circuit(3)
    c.rx(0, c.new_weight()).ry(1, 0.2).crz(0, 2, c.new_weight() * 0.5).h(1).rx(2, 0.7)
    rng = np.random.default_rng(5)
    _check(c, rng.uniform(-3, 3, c.n_weights), None, torch.complex128)


def test_amplitude_embedding_is_recorded_not_built() -> None:
    """The embedding is a start state, not a gate: no matrix for it, its feature count,
    padding and normalisation kept, and the gates after it are all still there."""
    c = Circuit(2).add(AmplitudeEmbedding(3, pad_with=0.5, normalize=True))
    c.rx(0, c.new_weight()).cnot(0, 1).ry(1, Input(0))
    gates = GateMatrices(c, torch.complex128)
    assert gates.amplitude == (3, 0.5, True)
    rng = np.random.default_rng(6)
    _check(c, rng.uniform(-3, 3, c.n_weights), rng.uniform(-2, 2, (2, c.n_inputs)),
           torch.complex128)  # fmt: skip
    assert GateMatrices(Circuit(1).h(0), torch.complex128).amplitude is None


def test_constant_tensors_are_built_once() -> None:
    """A plan's constant gates and angle tables are cached per device: two calls
    return the very same constant-gate matrix."""
    c = _mixed_circuit()
    gates = GateMatrices(c, torch.complex128)
    x = torch.rand(2, c.n_inputs, dtype=torch.float64)
    w = torch.rand(c.n_weights, dtype=torch.float64)
    cpu = torch.device("cpu")
    first = gates.matrices(x, w, 2, cpu)
    second = gates.matrices(x, w, 2, cpu)
    h = gates.refs[0]
    assert h.name == "h" and h.group < 0
    assert gates.matrix(h, first, cpu) is gates.matrix(h, second, cpu)


def test_density_matrix_of_a_pure_circuit_is_pennylanes_state() -> None:
    """End to end: without channels the density matrix is ``|psi><psi|`` of PennyLane's
    state, per sample, with products of inputs and per-sample angles."""
    c = _mixed_circuit()
    rng = np.random.default_rng(7)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (3, c.n_inputs))
    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=3))
    def run(w: np.ndarray, x: np.ndarray) -> object:
        f(w, x)
        return qml.state()

    psi = np.asarray(run(w, x))
    rho = density_matrix(c, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    np.testing.assert_allclose(rho, psi[:, :, None] * psi.conj()[:, None, :], atol=1e-12)
