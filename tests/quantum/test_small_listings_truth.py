"""Small-path cases that mutants once listed as equivalent told apart (session 38).

Each test is a behaviour a mutant of ``_small_plan`` or ``_small_runtime`` changed and
no other test saw, checked against PennyLane or the attribute's documented rule:

* a constant gate close to the identity (``CRX(0.008)``) is a general matrix, not a
  diagonal one: its diagonal has modulus ``cos(0.004)``, within ``np.allclose``'s
  default tolerance of 1, and read as a phase it lost its off-diagonal ``0.004``;
* constant phases folded into a shared Kronecker layer are kept, of a few ``1e-6`` or
  a global ``-1`` (``RZZ(2 pi)``):
  the run time took every phase within ``np.allclose``'s tolerance (1e-5) of 1 for no
  phase at all, off by 8e-7 in the state and 2e-3 in the gradients (a bug, fixed);
* ``reads_inputs`` is whether some angle reads the inputs: per-sample weights are not
  inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import AngleEmbedding, Circuit, Input, compile_circuit, to_pennylane
from quarch.quantum._small_cost import FOLD_ROWS, SINGLE_STATE
from quarch.quantum._small_plan import SmallProgram
from quarch.quantum._small_runtime import SmallRuntime

from ._pennylane_truth import pl_z_and_grads

qml = pytest.importorskip("pennylane")


def _pl_state(c: Circuit, w: np.ndarray) -> np.ndarray:
    """PennyLane's final state of a circuit that reads no inputs."""
    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=c.n_qubits))
    def run(w: np.ndarray) -> object:
        f(w, np.zeros(1))
        return qml.state()

    return np.asarray(run(w))


@pytest.mark.parametrize("name", ["crx", "cry", "rxx", "ryy"])
def test_a_constant_gate_near_the_identity_keeps_its_off_diagonal_part(name: str) -> None:
    """``CRX(0.008)`` and its kind: the docstring's general (``dense``) instruction, and
    PennyLane's state, where a phase-only reading leaves the target untouched."""
    c = Circuit(2)
    c.ry(0, c.new_weight()).rx(1, c.new_weight())
    c.append(name, [0, 1], [0.008])
    c.ry(0, c.new_weight()).rx(1, c.new_weight())
    prog = SmallProgram(c, with_prefix=False, weights_batched=False, whole_register=4)
    assert "dense" in [i.op for i in prog.instrs]
    w = np.array([2.1, -0.4, 0.9, 1.3])
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    got = plan.state(None, torch.tensor(w)).numpy().reshape(-1)
    np.testing.assert_allclose(got, _pl_state(c, w), rtol=0, atol=1e-12)


def _tiny_phases(n: int, embedding: bool) -> Circuit:
    """Shared layers with constant phases of a few 1e-6 between them (CPhase, CRZ),
    folded into the layers' matrices on a whole register."""
    c = Circuit(n)
    if embedding:
        c.add(AngleEmbedding(n, rotation="Y"))
    for q in range(n):
        c.ry(q, c.new_weight())
    c.cphase(0, 1, 5e-6)
    for q in range(n):
        c.rx(q, c.new_weight())
    c.crz(0, 1, -1.5e-5)
    for q in range(n):
        c.ry(q, c.new_weight())
    return c


@pytest.mark.parametrize("rows", [1, 3])
@pytest.mark.parametrize("embedding", [False, True])
@pytest.mark.parametrize("n", [2, 3])
def test_tiny_constant_phases_folded_into_a_layer_are_kept(
    n: int, embedding: bool, rows: int
) -> None:
    """``<Z_i>`` and the gradients of ``sum_i (i+1) <Z_i>`` against PennyLane, at a
    tolerance well below the phases' size."""
    c = _tiny_phases(n, embedding)
    rng = np.random.default_rng(38 + n)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (rows, max(c.n_inputs, 1)))
    ref, gw, gx = pl_z_and_grads(c, w, x)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True) if c.n_inputs else None
    out = plan.expval([f"Z{i}" for i in range(n)], xt, wt).expand(rows, -1)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=1e-10)
    (out * torch.arange(1, n + 1)).sum().backward()
    assert wt.grad is not None
    np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=0, atol=1e-9)
    if xt is not None:
        assert xt.grad is not None
        np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=0, atol=1e-9)


@pytest.mark.parametrize(("name", "angle"), [("cphase", 5e-6), ("rzz", 2 * np.pi)])
def test_a_folded_constant_phase_keeps_the_state(name: str, angle: float) -> None:
    """The state itself (no measurement folds anything away), with a constant phase
    gate between two shared layers: ``CPhase(5e-6)``, or ``RZZ(2 pi) = -I``, a global
    phase of -1 on every entry, which PennyLane's state keeps too."""
    c = Circuit(2)
    c.ry(0, c.new_weight()).ry(1, c.new_weight()).append(name, [0, 1], [angle])
    c.rx(0, c.new_weight()).rx(1, c.new_weight())
    w = np.array([1.1, 0.7, 0.4, -0.9])
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    got = plan.state(None, torch.tensor(w)).numpy().reshape(-1)
    np.testing.assert_allclose(got, _pl_state(c, w), rtol=0, atol=1e-12)


def _runtime(c: Circuit, weights_batched: bool) -> SmallRuntime:
    prog = SmallProgram(c, with_prefix=True, weights_batched=weights_batched, whole_register=4)
    return SmallRuntime(
        prog, torch.complex128, torch.device("cpu"), fold_rows=FOLD_ROWS, single_state=SINGLE_STATE
    )


def test_per_sample_weights_are_not_inputs() -> None:
    """``reads_inputs`` with weights given per sample (``[batch, n_weights]``): true
    only where an angle reads a feature, not for the per-sample weights' columns."""
    weights_only = Circuit(3)
    for q in range(3):
        weights_only.ry(q, weights_only.new_weight())
    weights_only.cnot(0, 1).cnot(1, 2)
    with_inputs = weights_only.copy().rz(0, Input(1))
    assert _runtime(weights_only, weights_batched=True).reads_inputs is False
    assert _runtime(with_inputs, weights_batched=True).reads_inputs is True


def _tiny_row_phases(n: int) -> Circuit:
    """A real embedding, then constant RZ phases of a few 1e-6 before the first layer:
    the dense variant's product state carries them as its rows' phases."""
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
    for q in range(n):
        c.rz(q, 4e-6 * (q + 1))
    for q in range(n):
        c.ry(q, c.new_weight())
    c.cnot(0, 1)
    for q in range(n):
        c.rx(q, c.new_weight())
    return c


@pytest.mark.parametrize("build", [_tiny_phases, _tiny_row_phases], ids=["shared", "rows"])
@pytest.mark.parametrize("n", [2, 3])
def test_tiny_constant_phases_are_kept_on_the_dense_variant(build: object, n: int) -> None:
    """The same at 300 rows, where the small path takes its dense variant (the shared
    part as one matrix, ``_dense_shared``; the product state's row phases,
    ``_dense_product``): both had dropped phases within ``np.allclose``'s 1e-5 of 1."""
    c = build(n, True) if build is _tiny_phases else build(n)  # type: ignore[operator]
    rng = np.random.default_rng(380 + n)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (300, c.n_inputs))
    ref, gw, gx = pl_z_and_grads(c, w, x)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = plan.expval([f"Z{i}" for i in range(n)], xt, wt)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=1e-10)
    (out * torch.arange(1, n + 1)).sum().backward()
    assert wt.grad is not None and xt.grad is not None
    np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=0, atol=1e-9)
