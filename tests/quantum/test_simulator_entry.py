"""The simulator's public entry points on the cases the mutation benchmark found unchecked.

``ExecutionPlan`` (construction, ``probs``, ``state``, ``expval``, pickling, the path
choice), ``statevector`` and ``QuantumLayer``, and the input checks a user meets first.
Truth is independent of quarch throughout: states, probabilities, expectations and
gradients come from PennyLane's ``default.qubit`` on circuits written out by hand in
PennyLane's own gates, ``statevector`` is compared with Qiskit's ``Statevector``, the
initial weights with ``torch.rand`` on an identically seeded generator, a pickled plan
with the plan it was pickled from (and a fresh plan's pickle), and every refusal with
the exact line the user reads. The path-choice test replaces the cost model by a stub
whose answers are fixed, so it checks what the plan asks the model and what it does
with the answers, not the model.
"""

from __future__ import annotations

import math
import pickle
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    Circuit,
    CircuitError,
    ExecutionPlan,
    Input,
    QuantumLayer,
    SimulationError,
    Weight,
    compile_circuit,
    statevector,
)
from quarch.quantum import simulator as simulator_module
from quarch.quantum.simulator import TRANSFORMS_REFUSAL

qml = pytest.importorskip("pennylane")

CPU = torch.device("cpu")
X = np.array([[0.3, -1.1], [1.7, 0.4], [-0.6, 2.2]])  # 3 samples, 2 features
W = np.array([0.8, -0.5])


def _circuit() -> Circuit:
    """Inputs on RY (a product prefix), weights on RX and RZ (complex amplitudes)."""
    return (
        Circuit(2).ry(0, Input(0)).ry(1, Input(1)).rx(0, Weight(0)).cnot(0, 1).rz(1, Weight(1)).h(0)
    )


def _pl_gates(x: Any, w: Any) -> None:
    qml.RY(x[0], wires=0)
    qml.RY(x[1], wires=1)
    qml.RX(w[0], wires=0)
    qml.CNOT(wires=[0, 1])
    qml.RZ(w[1], wires=1)
    qml.Hadamard(wires=0)


def _pl_state(x: np.ndarray, w: np.ndarray, psi0: np.ndarray | None = None) -> np.ndarray:
    """PennyLane's state of :func:`_circuit`, one row per sample ``[batch, 4]``."""
    dev = qml.device("default.qubit", wires=2)

    @qml.qnode(dev)
    def run(xi: np.ndarray, wi: np.ndarray, start: np.ndarray | None) -> Any:
        if start is not None:
            qml.StatePrep(start, wires=[0, 1])
        _pl_gates(xi, wi)
        return qml.state()

    rows = []
    for i in range(x.shape[0]):
        start = None if psi0 is None else psi0[i % psi0.shape[0]]
        wi = w[i] if w.ndim == 2 else w
        rows.append(np.asarray(run(x[i], wi, start)))
    return np.stack(rows)


def _pl_z(state: np.ndarray) -> np.ndarray:
    """``<Z0>, <Z1>`` of states ``[batch, 4]`` (wire 0 the most significant bit)."""
    p = np.abs(state) ** 2
    z0 = p[:, 0] + p[:, 1] - p[:, 2] - p[:, 3]
    z1 = p[:, 0] - p[:, 1] + p[:, 2] - p[:, 3]
    return np.stack([z0, z1], axis=1)


def _unit_states(rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = rng.normal(size=(rows, 4)) + 1j * rng.normal(size=(rows, 4))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


def _message(error: pytest.ExceptionInfo[BaseException]) -> str:
    return str(error.value)


# ---------------------------------------------------------------------- probs
@pytest.mark.parametrize("path", ["small", "engine"])
def test_probs_are_pennylane_s(path: str) -> None:
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    got = plan.probs(torch.tensor(X), torch.tensor(W))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), np.abs(_pl_state(X, W)) ** 2, atol=1e-12)


@pytest.mark.parametrize("path", ["small", "engine"])
def test_probs_start_from_the_initial_state(path: str) -> None:
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    psi0 = _unit_states(3, seed=1)
    got = plan.probs(torch.tensor(X), W.tolist(), initial_state=torch.tensor(psi0))
    np.testing.assert_allclose(got.numpy(), np.abs(_pl_state(X, W, psi0)) ** 2, atol=1e-12)
    assert got.sum(1).sub(1).abs().max() < 1e-12


def test_probs_are_real_at_the_plan_s_precision() -> None:
    plan = compile_circuit(_circuit())  # complex64
    got = plan.probs(torch.tensor(X, dtype=torch.float32), torch.tensor(W, dtype=torch.float32))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), np.abs(_pl_state(X, W)) ** 2, atol=2e-6)


# ---------------------------------------------------------------------- construction
def test_the_default_path_is_auto() -> None:
    plan = ExecutionPlan(_circuit())
    assert plan.path == "auto"
    np.testing.assert_allclose(
        plan.state(torch.tensor(X), torch.tensor(W)).numpy(), _pl_state(X, W), atol=2e-6
    )


def test_only_a_circuit_compiles() -> None:
    with pytest.raises(CircuitError) as error:
        ExecutionPlan("ry 0")  # type: ignore[arg-type]
    assert _message(error) == "circuit must be a quarch Circuit; got str"


@pytest.mark.parametrize("k", [0, 9, -1, True, 2.0])
def test_max_block_qubits_outside_1_to_8_is_refused(k: object) -> None:
    with pytest.raises(ValueError) as error:
        compile_circuit(_circuit(), max_block_qubits=k)  # type: ignore[arg-type]
    assert _message(error) == f"max_block_qubits must be an integer in [1, 8]; got {k!r}"


def _ladder(n: int) -> Circuit:
    c = Circuit(n)
    for i in range(n):
        c.ry(i, Weight(i))
    for i in range(n - 1):
        c.cnot(i, i + 1)
    return c


def _ladder_z(w: np.ndarray) -> np.ndarray:
    """PennyLane's ``<Z_i>`` of :func:`_ladder`."""
    n = len(w)

    @qml.qnode(qml.device("default.qubit", wires=n))
    def run() -> Any:
        for i in range(n):
            qml.RY(w[i], wires=i)
        for i in range(n - 1):
            qml.CNOT(wires=[i, i + 1])
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    return np.asarray(run())


@pytest.mark.parametrize("k", [1, 8])
def test_max_block_qubits_1_and_8_are_accepted(k: int) -> None:
    w = np.linspace(0.2, 1.9, 6)
    plan = compile_circuit(_ladder(6), dtype=torch.complex128, max_block_qubits=k)
    assert plan.path == "engine"
    assert plan.max_block_qubits == max(min(k, 6), 2)  # the register's, at least a CNOT's
    np.testing.assert_allclose(
        plan.expval(None, weights=w.tolist())[0].numpy(), _ladder_z(w), atol=1e-12
    )


def test_the_default_block_width_is_4() -> None:
    assert compile_circuit(_ladder(6)).max_block_qubits == 4  # as documented


def test_a_gate_wider_than_the_blocks_widens_them() -> None:
    c = Circuit(3).ry(0, Weight(0)).ry(1, Weight(1)).crx(0, 2, Weight(2)).cnot(2, 1)
    w = np.array([0.7, 1.3, -0.9])
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=1)
    assert plan.max_block_qubits == 2

    @qml.qnode(qml.device("default.qubit", wires=3))
    def run() -> Any:
        qml.RY(w[0], wires=0)
        qml.RY(w[1], wires=1)
        qml.CRX(w[2], wires=[0, 2])
        qml.CNOT(wires=[2, 1])
        return qml.state()

    np.testing.assert_allclose(
        plan.state(weights=w.tolist())[0].numpy(), np.asarray(run()), atol=1e-12
    )


def test_an_amplitude_embedding_does_not_widen_the_blocks() -> None:
    plan = compile_circuit(Circuit(6).amplitude_embedding(64).ry(0, Weight(0)).cnot(0, 1))
    assert plan.max_block_qubits == 4
    alone = compile_circuit(Circuit(1).amplitude_embedding(2), dtype=torch.complex128)
    assert alone.max_block_qubits == 1  # a one-qubit register has one-qubit blocks
    got = alone.state(torch.tensor([[3.0, 4.0]], dtype=torch.float64))
    np.testing.assert_allclose(got.numpy(), [[0.6, 0.8]], atol=1e-15)


def test_noise_channels_are_sent_to_the_density_matrix() -> None:
    with pytest.raises(SimulationError) as error:
        compile_circuit(Circuit(1).h(0).depolarizing(0, 0.1))
    assert _message(error) == (
        "this circuit contains noise channels; simulate it with "
        "quarch.quantum.noise.density_matrix instead of the state-vector path"
    )


def test_an_unknown_path_is_refused() -> None:
    with pytest.raises(SimulationError) as error:
        compile_circuit(_circuit(), path="fast")
    assert _message(error) == "path must be one of auto, small, engine; got 'fast'"


def test_the_small_path_runs_ten_qubits_not_eleven() -> None:
    """The module's documentation: the small path stops at ten qubits; ``"auto"`` keeps
    the choice open up to ten and sends wider circuits to the block engine."""
    assert compile_circuit(Circuit(10).h(0), path="small").path == "small"
    assert compile_circuit(Circuit(10).h(0)).path == "auto"
    assert compile_circuit(Circuit(11).h(0)).path == "engine"
    with pytest.raises(SimulationError) as error:
        compile_circuit(Circuit(11).h(0), path="small")
    assert _message(error) == "path='small' runs circuits of at most 10 qubits; this one has 11"


# ---------------------------------------------------------------------- pickling
@pytest.mark.parametrize("path", ["auto", "small", "engine"])
def test_a_used_plan_pickles_as_a_fresh_one(path: str) -> None:
    """The pickle holds the circuit, not the caches a run leaves (runtimes, sign
    tables, path choices); the copy runs and gives the original's values."""
    fresh = compile_circuit(_circuit(), path=path)
    used = compile_circuit(_circuit(), path=path)
    x = torch.tensor(X, dtype=torch.float32)
    w = torch.tensor(W, dtype=torch.float32)
    before = used.expval(["Z0", "Z0 Z1"], x, w)
    used.expval(["X1"], x[:1], w)
    used.state(x, w, initial_state=torch.tensor(_unit_states(1, seed=2)))
    assert pickle.dumps(used) == pickle.dumps(fresh)
    copy = pickle.loads(pickle.dumps(used))
    assert copy.path == path
    torch.testing.assert_close(copy.expval(["Z0", "Z0 Z1"], x, w), before)
    torch.testing.assert_close(copy.expval(["Z0", "Z0 Z1"], x[:2], w), before[:2])


# ---------------------------------------------------------------------- run time caches
def test_one_engine_plan_runs_every_kind_of_call() -> None:
    """Shared weights, per-sample weights and an initial state each compile their own
    runtime; mixing them on one plan must not reuse another's."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path="engine")
    x = torch.tensor(X)
    wb = np.array([[0.8, -0.5], [0.1, 2.0], [-1.4, 0.6]])
    psi0 = _unit_states(3, seed=3)
    for _ in range(2):
        np.testing.assert_allclose(plan.state(x, W.tolist()).numpy(), _pl_state(X, W), atol=1e-12)
        np.testing.assert_allclose(
            plan.state(x, torch.tensor(wb)).numpy(), _pl_state(X, wb), atol=1e-12
        )
        np.testing.assert_allclose(
            plan.state(x, W.tolist(), initial_state=torch.tensor(psi0)).numpy(),
            _pl_state(X, W, psi0),
            atol=1e-12,
        )


@pytest.mark.parametrize("path", ["small", "engine"])
def test_consecutive_observables_are_each_measured(path: str) -> None:
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    z = _pl_z(_pl_state(X, W))
    x = torch.tensor(X)
    for _ in range(2):
        np.testing.assert_allclose(plan.expval(["Z0"], x, W.tolist()).numpy(), z[:, :1], atol=1e-12)
        np.testing.assert_allclose(plan.expval(["Z1"], x, W.tolist()).numpy(), z[:, 1:], atol=1e-12)
    layer = QuantumLayer(_circuit(), ["Z1", "Z0"], dtype=torch.complex128, path=path)
    with torch.no_grad():
        layer.weights.copy_(torch.tensor(W))
    for _ in range(2):
        np.testing.assert_allclose(layer(x).detach().numpy(), z[:, ::-1], atol=1e-12)


def test_auto_asks_the_cost_model_once_per_call_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """``path="auto"`` decides per start kind and batch size, with the plan's features
    and the call's device kind, and follows the decision (a stub model: small up to
    two rows)."""
    asked: list[tuple[Any, int, str]] = []

    def stub(features: Any, rows: int, device_type: str) -> bool:
        asked.append((features, rows, device_type))
        return rows <= 2

    monkeypatch.setattr(simulator_module, "small_is_faster", stub)
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    ran_small: list[int] = []
    small = plan._execute_small

    def spy(*args: Any) -> torch.Tensor:
        ran_small.append(args[3])  # the batch
        return small(*args)

    monkeypatch.setattr(plan, "_execute_small", spy)
    x = torch.tensor(X)
    z = _pl_z(_pl_state(X, W))
    for rows in (2, 3, 2, 3):
        np.testing.assert_allclose(
            plan.expval(None, x[:rows], W.tolist()).numpy(), z[:rows], atol=1e-12
        )
    psi0 = _unit_states(1, seed=4)
    got = plan.state(x[:2], W.tolist(), initial_state=torch.tensor(psi0))
    np.testing.assert_allclose(got.numpy(), _pl_state(X[:2], W, psi0), atol=1e-12)
    assert ran_small == [2, 2, 2]
    assert [(rows, kind) for _, rows, kind in asked] == [(2, "cpu"), (3, "cpu"), (2, "cpu")]
    assert asked[0][0] == plan.path_features(True, False, CPU)
    assert asked[1][0] == plan.path_features(True, False, CPU)
    assert asked[2][0] == plan.path_features(False, False, CPU)


# ---------------------------------------------------------------------- input checks
def _plan32() -> ExecutionPlan:
    return compile_circuit(_circuit())  # complex64: float32 inputs and weights pass as given


def _raises(call: Callable[[], object], line: str) -> None:
    with pytest.raises(SimulationError) as error:
        call()
    assert _message(error) == line


def test_one_sample_may_be_given_as_a_vector() -> None:
    plan = _plan32()
    w = torch.tensor(W, dtype=torch.float32)
    expected = _pl_state(X[:1], W)
    for x in (torch.tensor(X[0], dtype=torch.float32), X[0].tolist()):
        got = plan.state(x, w)
        assert got.shape == (1, 4)
        np.testing.assert_allclose(got.numpy(), expected, atol=2e-6)


def test_weights_of_another_precision_are_converted() -> None:
    plan = _plan32()
    got = plan.expval(None, torch.tensor(X, dtype=torch.float32), torch.tensor(W))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), _pl_z(_pl_state(X, W)), atol=2e-6)


def test_inputs_of_the_wrong_shape_are_refused() -> None:
    plan = _plan32()
    w = torch.tensor(W, dtype=torch.float32)
    _raises(
        lambda: plan.state(torch.zeros(2, 2, 1), w),
        "inputs must have shape [batch, 2] or [..., 2]; got (2, 2, 1)",
    )
    _raises(
        lambda: plan.state(torch.zeros(4, 3), w),
        "inputs must have shape [batch, 2] or [..., 2]; got (4, 3)",
    )
    _raises(
        lambda: plan.state(None, w),
        "this circuit reads 2 input feature(s); pass inputs of shape [batch, 2]",
    )


def test_weights_of_the_wrong_shape_are_refused() -> None:
    plan = _plan32()
    x = torch.zeros(3, 2)
    line = "weights must have shape [2], [batch, 2] or [..., 2]; got (3,)"
    _raises(lambda: plan.state(x, torch.zeros(3)), line)
    _raises(lambda: plan.state(x, [0.1, 0.2, 0.3]), line)
    _raises(
        lambda: plan.state(x, torch.zeros(2, 2)),
        "per-sample weights have batch size 2 but inputs have batch size 3; they must agree",
    )


def test_inputs_to_a_circuit_without_inputs_are_refused() -> None:
    plan = compile_circuit(Circuit(1).ry(0, Weight(0)))
    given: list[Any] = [torch.zeros(1, 1), [[0.5]], torch.zeros(2, 3)]
    for inputs in given:
        shape = tuple(torch.as_tensor(inputs).shape)
        with pytest.raises(SimulationError) as error:
            plan.state(inputs, [0.3])
        assert (
            _message(error) == f"this circuit reads no input features; got inputs of shape {shape}"
        )


def test_a_circuit_without_weights_runs_at_the_plan_s_precision() -> None:
    plan = compile_circuit(
        Circuit(2).ry(0, Input(0)).cnot(0, 1).ry(1, Input(1)), dtype=torch.complex128
    )
    x = torch.tensor(X, requires_grad=True)
    got = plan.expval(None, x)
    assert got.dtype == torch.float64
    (got * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum().backward()

    @qml.qnode(qml.device("default.qubit", wires=2), interface="torch")
    def run(xi: torch.Tensor) -> Any:
        qml.RY(xi[0], wires=0)
        qml.CNOT(wires=[0, 1])
        qml.RY(xi[1], wires=1)
        return [qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliZ(1))]

    xr = torch.tensor(X, requires_grad=True)
    ref = torch.stack([torch.stack(list(run(xr[i]))) for i in range(3)])
    (ref * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    assert x.grad is not None and xr.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), atol=1e-12)


def test_initial_state_checks() -> None:
    plan = _plan32()
    x = torch.zeros(3, 2)
    w = torch.tensor(W, dtype=torch.float32)
    _raises(
        lambda: plan.state(x, w, initial_state=torch.ones(3)),
        "initial_state must have shape [4], [batch, 4] or [..., 4]; got (3,)",
    )
    _raises(
        lambda: plan.state(x, w, initial_state=torch.ones(2, 4) / 2),
        "initial_state has batch size 2 but inputs/weights have batch size 3; they must agree",
    )
    amp = compile_circuit(Circuit(2).amplitude_embedding(4))
    _raises(
        lambda: amp.state(torch.ones(1, 4), initial_state=torch.ones(4) / 2),
        "initial_state cannot be combined with an amplitude embedding",
    )


@pytest.mark.parametrize("path", ["small", "engine"])
def test_one_initial_state_alone_is_one_row(path: str) -> None:
    c = Circuit(2).ry(0, Weight(0)).cnot(0, 1).rz(1, Weight(1))
    plan = compile_circuit(c, dtype=torch.complex128, path=path)
    psi0 = _unit_states(1, seed=5)[0]

    @qml.qnode(qml.device("default.qubit", wires=2))
    def run() -> Any:
        qml.StatePrep(psi0, wires=[0, 1])
        qml.RY(W[0], wires=0)
        qml.CNOT(wires=[0, 1])
        qml.RZ(W[1], wires=1)
        return qml.state()

    got = plan.state(weights=W.tolist(), initial_state=torch.tensor(psi0))
    assert got.shape == (1, 4)
    np.testing.assert_allclose(got[0].numpy(), np.asarray(run()), atol=1e-12)


@pytest.mark.parametrize("path", ["small", "engine"])
@pytest.mark.parametrize("given", [torch.complex128, torch.float64])
def test_an_initial_state_is_read_at_the_plan_s_precision(path: str, given: torch.dtype) -> None:
    plan = compile_circuit(_circuit(), path=path)  # complex64
    psi0 = np.array([[0.5, 0.5, 0.5, 0.5]])
    x = torch.tensor(X, dtype=torch.float32)
    got = plan.state(
        x, torch.tensor(W, dtype=torch.float32), initial_state=torch.tensor(psi0, dtype=given)
    )
    assert got.dtype == torch.complex64
    np.testing.assert_allclose(got.numpy(), _pl_state(X, W, psi0), atol=2e-6)
    probs = plan.probs(
        x, torch.tensor(W, dtype=torch.float32), initial_state=torch.tensor(psi0, dtype=given)
    )
    assert probs.dtype == torch.float32


# ---------------------------------------------------------------------- amplitude embedding
def _amplitude_circuit() -> Circuit:
    return Circuit(2).amplitude_embedding(3).ry(0, Weight(0)).cnot(0, 1)


@pytest.mark.parametrize("path", ["small", "engine"])
def test_a_zero_amplitude_vector_is_refused(path: str) -> None:
    plan = compile_circuit(_amplitude_circuit(), path=path)
    inputs = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, 0.0]])
    _raises(lambda: plan.state(inputs, [0.4]), "amplitude_embedding: an input vector has norm 0")


def _pl_amplitude_z(w: float) -> Any:
    @qml.qnode(qml.device("default.qubit", wires=2), interface="torch", diff_method="backprop")
    def run(f: torch.Tensor) -> Any:
        qml.AmplitudeEmbedding(f, wires=[0, 1], pad_with=0.0, normalize=True)
        qml.RY(w, wires=0)
        qml.CNOT(wires=[0, 1])
        return [qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliZ(1))]

    return run


@pytest.mark.parametrize("path", ["small", "engine"])
def test_unit_amplitude_vectors_are_pennylane_s(path: str) -> None:
    """A vector whose norm is exactly 1 is embedded as it is."""
    feats = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    plan = compile_circuit(_amplitude_circuit(), dtype=torch.complex128, path=path)
    got = plan.expval(["Z0", "Z1"], torch.tensor(feats), [0.9])
    run = _pl_amplitude_z(0.9)
    ref = np.stack([np.asarray([float(v) for v in run(torch.tensor(f))]) for f in feats])
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)


@pytest.mark.parametrize("path", ["small", "engine"])
def test_amplitude_input_gradients_are_pennylane_s(path: str) -> None:
    """Values and input gradients against PennyLane on vectors of norm other than 1
    (PennyLane leaves a unit vector unnormalised, so its gradient there lacks the
    normalisation's), and the radial derivative is 0: the embedding is scale-free."""
    feats = np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.5], [0.3, -1.2, 0.5]])
    plan = compile_circuit(_amplitude_circuit(), dtype=torch.complex128, path=path)
    x = torch.tensor(feats, requires_grad=True)
    got = plan.expval(["Z0", "Z1"], x, [0.9])
    (got * torch.tensor([1.0, 3.0], dtype=torch.float64)).sum().backward()
    run = _pl_amplitude_z(0.9)
    xr = torch.tensor(feats, requires_grad=True)
    ref = torch.stack([torch.stack(list(run(xr[i]))) for i in range(3)])
    (ref * torch.tensor([1.0, 3.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(got.detach().numpy(), ref.detach().numpy(), atol=1e-12)
    assert x.grad is not None and xr.grad is not None
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose((x.grad * x.detach()).sum(1).numpy(), 0.0, atol=1e-12)


# ---------------------------------------------------------------------- statevector
def test_statevector_is_qiskit_s_in_complex128() -> None:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Statevector

    c = Circuit(3).ry(0, Weight(0)).cnot(0, 1).rx(2, Weight(1)).rz(1, Weight(2)).cnot(1, 2)
    w = [0.7, -1.3, 2.1]
    qc = QuantumCircuit(3)
    qc.ry(w[0], 0)
    qc.cx(0, 1)
    qc.rx(w[1], 2)
    qc.rz(w[2], 1)
    qc.cx(1, 2)
    # Qiskit's qubit 0 is the least significant bit; quarch's wire 0 the most
    expected = Statevector(qc).reverse_qargs().data
    got = statevector(c, w)
    assert got.dtype == torch.complex128
    assert got.shape == (8,)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-14)
    assert statevector(c, w, dtype=torch.complex64).dtype == torch.complex64


def test_statevector_refuses_inputs() -> None:
    with pytest.raises(CircuitError) as error:
        statevector(Circuit(1).ry(0, Input(0)))
    assert _message(error) == (
        "statevector: this circuit reads 1 input feature(s); "
        "use compile_circuit(circuit).state(inputs=...)"
    )


# ---------------------------------------------------------------------- QuantumLayer
def test_the_layer_compiles_with_its_options() -> None:
    c = _ladder(3)
    blocks = QuantumLayer(c, max_block_qubits=2)
    assert (blocks.plan.path, blocks.plan.max_block_qubits) == ("engine", 2)
    assert QuantumLayer(c, path="small").plan.path == "small"
    assert QuantumLayer(c, path="engine").plan.path == "engine"
    assert QuantumLayer(c).plan.path == "auto"


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_initial_weights_are_uniform_over_a_turn(dtype: torch.dtype) -> None:
    real = torch.float64 if dtype == torch.complex128 else torch.float32
    layer = QuantumLayer(_ladder(5), dtype=dtype, generator=torch.Generator().manual_seed(11))
    expected = torch.rand(5, generator=torch.Generator().manual_seed(11), dtype=real) * (
        2 * math.pi
    )
    assert layer.weights.dtype == real
    torch.testing.assert_close(layer.weights.detach(), expected, rtol=0, atol=0)


def test_the_layer_s_weights_live_on_its_device() -> None:
    assert QuantumLayer(_ladder(2)).weights.device == CPU
    assert QuantumLayer(_ladder(2), device="cpu").weights.device == CPU
    meta = QuantumLayer(_circuit(), device="meta")
    assert meta.weights.device.type == "meta"
    with pytest.raises(SimulationError) as error:
        meta(torch.zeros(3, 2))
    assert _message(error) == (
        "inputs are on cpu but the layer's weights are on meta; move one of them"
    )


def test_the_layer_s_outputs_are_pennylane_s() -> None:
    layer = QuantumLayer(_circuit(), dtype=torch.complex128)
    with torch.no_grad():
        layer.weights.copy_(torch.tensor(W))
    np.testing.assert_allclose(
        layer(torch.tensor(X)).detach().numpy(), _pl_z(_pl_state(X, W)), atol=1e-12
    )


def test_rows_without_features_keep_their_batch() -> None:
    """A circuit without inputs fed ``[3, 0]`` (a front-end that passes nothing) answers
    one row per sample, each <Z> = cos(w) after RY(w)."""
    layer = QuantumLayer(Circuit(1).ry(0, Weight(0)))
    out = layer(torch.zeros(3, 0))
    assert out.shape == (3, 1)
    want = torch.cos(layer.weights.detach()).expand(3, 1)
    torch.testing.assert_close(out.detach(), want)
    assert layer(torch.zeros(0)).shape == (1,)  # one sample without features, unbatched


def test_one_sample_unbatched_is_the_row_of_its_batch() -> None:
    """Like ``torch.nn.Linear``: ``[n_inputs]`` in, ``[n_outputs]`` out, equal to the
    batch of one's row, with gradients to the input; a wrong width names the shape
    given."""
    circuit = Circuit(2).ry(0, Input(0)).ry(1, Input(1)).cnot(0, 1).rz(1, Weight(0))
    layer = QuantumLayer(circuit, ["Z0", "X1", "Z0 Z1"], dtype=torch.complex128)
    x = torch.tensor([0.3, -1.1], dtype=torch.float64, requires_grad=True)
    out = layer(x)
    assert out.shape == (3,)
    torch.testing.assert_close(out, layer(x[None])[0])
    # <Z0> = cos(x0) after RY(x0) on |0>, whatever follows on wire 1
    torch.testing.assert_close(out[0], torch.cos(x[0]))
    out[0].backward()
    assert x.grad is not None
    torch.testing.assert_close(x.grad, torch.tensor([-math.sin(0.3), 0.0], dtype=torch.float64))
    with pytest.raises(
        SimulationError, match=r"^inputs must have shape \[batch, 2\] or \[\.\.\., 2\]; got \(3,\)$"
    ):
        layer(torch.zeros(3, dtype=torch.float64))


def test_a_batch_of_no_rows_is_empty_and_backpropagates() -> None:
    """Like ``torch.nn.Linear`` on ``[0, k]``: an empty answer on autograd's graph, so a
    data set's empty last batch neither crashes nor breaks ``backward``."""
    circuit = Circuit(2).ry(0, Input(0)).ry(1, Input(1)).cnot(0, 1).rz(1, Weight(0))
    layer = QuantumLayer(circuit, ["Z0", "X1", "Z0 Z1"])
    x = torch.zeros(0, 2, requires_grad=True)
    out = layer(x)
    assert out.shape == (0, 3) and out.dtype == torch.float32
    out.sum().backward()
    assert layer.weights.grad is not None and x.grad is not None
    assert torch.equal(layer.weights.grad, torch.zeros(1)) and x.grad.shape == (0, 2)
    plan = compile_circuit(circuit)
    state = plan.state(torch.zeros(0, 2), torch.zeros(1))
    assert state.shape == (0, 4) and state.dtype == torch.complex64
    assert plan.probs(torch.zeros(0, 2), torch.zeros(0, 1)).shape == (0, 4)
    free = compile_circuit(Circuit(3).ry(0, Weight(0)))  # 2**3 amplitudes, not 2*3
    start = torch.zeros(0, 8, dtype=torch.complex64, requires_grad=True)
    assert free.state(weights=torch.zeros(1), initial_state=start).shape == (0, 8)
    with warnings.catch_warnings():  # a complex start state is not cast to real
        warnings.simplefilter("error")
        values = free.expval(["Z0", "X2"], weights=torch.zeros(1), initial_state=start)
    assert values.shape == (0, 2) and values.dtype == torch.float32
    values.sum().backward()
    assert start.grad is not None and start.grad.shape == (0, 8)
    fixed = compile_circuit(Circuit(2).h(0).cnot(0, 1), dtype=torch.complex128)  # no weights
    assert fixed.expval(["Z0"], inputs=torch.zeros(0, 0)).dtype == torch.float64


def test_one_start_state_serves_every_weight_row() -> None:
    """A start state ``[2]`` with per-sample weights ``[4, 1]``: four states, row k the
    state RY(w_k)|1> = (-sin(w_k/2), cos(w_k/2))."""
    plan = compile_circuit(Circuit(1).ry(0, Weight(0)), dtype=torch.complex128)
    w = torch.tensor([[0.0], [0.5], [1.0], [2.0]], dtype=torch.float64)
    one = torch.tensor([0, 1], dtype=torch.complex128)
    got = plan.state(weights=w, initial_state=one)
    half = w[:, 0] / 2
    want = torch.stack([-torch.sin(half), torch.cos(half)], dim=1).to(torch.complex128)
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("runs", [1, 2, 3, 4])
def test_the_small_program_s_kronecker_layers_are_the_runs_of_one_qubit_gates(
    runs: int,
) -> None:
    """Runs of one-qubit gates between CNOTs, counted by hand: each is one Kronecker
    layer, and with the prefix the first run is the product state instead; batching
    the weights changes no layer."""
    circuit, w = Circuit(3), 0
    for r in range(runs):
        for q in range(3):
            circuit.ry(q, Weight(w))
            w += 1
        if r < runs - 1:
            circuit.cnot(r % 3, (r + 1) % 3)
    plan = compile_circuit(circuit)
    cpu = torch.device("cpu")
    for batched in (False, True):
        assert plan.path_features(False, batched, cpu).small_kron_layers == runs
        assert plan.path_features(True, batched, cpu).small_kron_layers == runs - 1


def test_torch_func_transforms_are_refused_in_one_line_and_the_named_ways_work() -> None:
    """``torch.func.grad``, ``vmap`` and ``jacrev`` cannot run the hand-written autograd
    nodes: one SimulationError names what to use instead, and those ways give the
    analytic derivatives of <Z_i> = cos(x_i + w_i) (RY(x) then RY(w) on each wire)."""
    from torch.autograd.functional import jacobian

    circuit = Circuit(2).ry(0, Input(0)).ry(1, Input(1)).ry(0, Weight(0)).ry(1, Weight(1))
    layer = QuantumLayer(circuit, dtype=torch.complex128)
    x = torch.tensor([[0.4, -0.9], [1.3, 0.2]], dtype=torch.float64)
    w = layer.weights.detach().clone()

    def loss(weights: torch.Tensor) -> torch.Tensor:
        return torch.func.functional_call(layer, {"weights": weights}, (x,)).sum()

    refusal = re.escape(TRANSFORMS_REFUSAL)
    for transform in (
        lambda: torch.func.grad(loss)(w),
        lambda: torch.func.vmap(layer)(x),
        lambda: torch.func.jacrev(layer)(x[0]),
    ):
        with pytest.raises(SimulationError, match=f"^{refusal}$"):
            transform()
    # the ways it names: Jacobians by autograd, gradients by backward
    jac = jacobian(layer, x[0])
    want = torch.diag(-torch.sin(x[0] + w))  # RY(x) RY(w) = RY(x + w) on each wire
    torch.testing.assert_close(jac, want)
    loss(layer.weights).backward()
    assert layer.weights.grad is not None
    torch.testing.assert_close(layer.weights.grad, -torch.sin(x + w).sum(0))
    # and the layer still runs outside a transform
    torch.testing.assert_close(layer(x).detach(), torch.cos(x + w))


def test_auto_asks_the_cost_model_with_the_calls_weight_kind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Per-sample weights ``[batch, n_weights]`` make every weighted gate per sample:
    ``auto`` asks the cost model with those features, not the shared weights' ones."""
    asked: list[Any] = []

    def stub(features: Any, rows: int, device_type: str) -> bool:
        asked.append(features)
        return False

    monkeypatch.setattr(simulator_module, "small_is_faster", stub)
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    shared, batched = plan.path_features(True, False, CPU), plan.path_features(True, True, CPU)
    assert shared != batched  # the weighted gates count as per-sample only when batched
    Wb = np.stack([W, W[::-1], -W])
    got = plan.expval(None, torch.tensor(X), torch.tensor(Wb)).numpy()
    want = [_pl_z(_pl_state(X[i : i + 1], Wb[i]))[0] for i in range(3)]
    np.testing.assert_allclose(got, want, atol=1e-12)
    assert asked == [batched]


@pytest.mark.parametrize("path", ["engine", "small"])
def test_rows_without_features_give_a_row_each(path: str) -> None:
    """A circuit that reads no inputs, given ``[3, 0]`` inputs, answers three rows (the
    engine computes one and repeats it): ``<Z_0> = cos a``, ``<Z_1> = cos a cos b``."""
    c = Circuit(2).ry(0, Weight(0)).cnot(0, 1).rx(1, Weight(1))
    plan = compile_circuit(c, dtype=torch.complex128, path=path)
    a, b = 0.7, -1.2
    rows = torch.zeros(3, 0, dtype=torch.float64)
    got = plan.expval(None, rows, [a, b]).numpy()
    assert got.shape == (3, 2)
    np.testing.assert_allclose(got, [[np.cos(a), np.cos(a) * np.cos(b)]] * 3, atol=1e-12)
    state = plan.state(rows, [a, b]).numpy()
    assert state.shape == (3, 4)
    z0 = np.array([1, 1, -1, -1])  # wire 0 is the most significant bit
    np.testing.assert_allclose(np.abs(state) ** 2 @ z0, [np.cos(a)] * 3, atol=1e-12)
