"""``to_qiskit`` and ``to_pennylane`` on the cases the mutation benchmark found unchecked.

The truth is Qiskit's ``Statevector`` of the same gates, or their closed form, against
the exported circuit run by Qiskit or PennyLane's ``default.qubit``: a ``rot`` followed by more
gates, constant angles mixed with torch weights or torch inputs in one PennyLane
operation (PennyLane cannot multiply a NumPy constant into a torch tensor, so the
exporter must give constants the parameters' type, and in double precision), an amplitude embedding that pads
3 qubits' worth of features or normalises them, and the exporters' refusals, matched
in full.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, CircuitError, Input
from quarch.quantum.export import to_pennylane, to_qiskit

qml = pytest.importorskip("pennylane")
pytest.importorskip("qiskit")
from qiskit.quantum_info import Statevector  # noqa: E402


def _rz(a: float) -> np.ndarray:
    return np.diag([np.exp(-0.5j * a), np.exp(0.5j * a)])


def _ry(a: float) -> np.ndarray:
    c, s = math.cos(a / 2), math.sin(a / 2)
    return np.array([[c, -s], [s, c]])


def test_to_qiskit_keeps_the_gates_after_a_rot() -> None:
    """``rot(a, b, c) = RZ(c) RY(b) RZ(a)`` and then X on wire 1: ``|rot 0> (x) |1>``."""
    c = Circuit(2).rot(0, 0.3, 1.1, -0.7).x(1)
    psi = Statevector(to_qiskit(c)).reverse_qargs().data
    want = np.kron(_rz(-0.7) @ _ry(1.1) @ _rz(0.3) @ [1, 0], [0, 1])
    np.testing.assert_allclose(psi, want, rtol=0, atol=1e-12)


def test_to_qiskit_refuses_channels_and_amplitude_embeddings_in_full() -> None:
    with pytest.raises(
        CircuitError, match=r"^to_qiskit: bit_flip has no Qiskit gate; remove it first$"
    ):
        to_qiskit(Circuit(1).h(0).bit_flip(0, 0.1))
    with pytest.raises(
        CircuitError, match=r"^to_qiskit: amplitude_embedding has no Qiskit gate; remove it first$"
    ):
        to_qiskit(Circuit(1).amplitude_embedding(2))


def _pennylane_state(qfunc: Any, n: int, **kwargs: Any) -> Any:
    @qml.qnode(qml.device("default.qubit", wires=n), interface="torch")
    def state() -> Any:
        qfunc(**kwargs)
        return qml.state()

    return state()


def test_constants_beside_torch_weights_in_one_operation() -> None:
    """``rot(0.4, -0.9, w0)`` and ``u3(0.2, 0.5, w1)`` with torch weights and no inputs
    (PennyLane multiplies the first angles into the last: a NumPy constant times a torch
    tensor fails): the state equals Qiskit's, and the gradient flows to the weights."""
    c = Circuit(2)
    c.rot(0, 0.4, -0.9, c.new_weight()).u3(1, 0.2, 0.5, c.new_weight()).cnot(0, 1)
    w = torch.tensor([0.7, -1.3], dtype=torch.float64, requires_grad=True)
    got = _pennylane_state(to_pennylane(c), 2, weights=w)
    want = Statevector(to_qiskit(c, [0.7, -1.3])).reverse_qargs().data
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=0, atol=1e-12)
    (got.real + got.imag).sum().backward()

    def f(v: list[float]) -> float:  # the same function of Qiskit's state
        psi = Statevector(to_qiskit(c, v)).reverse_qargs().data
        return float(np.sum(psi.real + psi.imag))

    h = 1e-6
    fd = [(f([0.7 + h, -1.3]) - f([0.7 - h, -1.3])) / (2 * h),
          (f([0.7, -1.3 + h]) - f([0.7, -1.3 - h])) / (2 * h)]  # fmt: skip
    assert w.grad is not None
    np.testing.assert_allclose(w.grad.numpy(), fd, atol=1e-7)


@pytest.mark.parametrize("source", ["weights", "inputs"])
def test_constants_take_the_parameters_array_type(source: str) -> None:
    """Every constant angle reaches PennyLane as the weights' (or the inputs') array type
    and dtype, a float64 torch tensor here, so nothing mixes NumPy with torch (and on a
    GPU, host with device) inside an operation."""
    qml = pytest.importorskip("pennylane")
    c = Circuit(2)
    if source == "weights":
        c.rx(0, 0.3).rot(1, 0.4, -0.9, c.new_weight())
        kwargs: dict[str, Any] = {"weights": torch.tensor([0.7], dtype=torch.float64)}
    else:
        c.rx(0, 0.3).rot(1, 0.4, -0.9, Input(0))
        kwargs = {"inputs": torch.tensor([[0.2]], dtype=torch.float64)}
    tape = qml.tape.make_qscript(to_pennylane(c))(**kwargs)
    params = [p for op in tape.operations for p in op.data]
    assert len(params) == 4
    for p in params:
        assert qml.math.get_interface(p) == "torch" and p.dtype == torch.float64, p


def test_constants_beside_torch_inputs_in_one_operation() -> None:
    """The same with a batch of torch inputs and no weights."""
    c = Circuit(2).rot(0, 0.6, 0.1, Input(0)).crx(0, 1, 0.8).rot(1, 0.25, -0.5, Input(1))
    x = torch.tensor([[0.3, -0.8], [1.2, 0.4]], dtype=torch.float64)
    got = _pennylane_state(to_pennylane(c), 2, inputs=x).numpy()
    for b in range(2):
        want = Statevector(to_qiskit(c.bind(inputs=x[b]))).reverse_qargs().data
        np.testing.assert_allclose(got[b], want, rtol=0, atol=1e-12)


def test_amplitude_embedding_padded_on_three_wires_and_normalised() -> None:
    """Seven features on three wires (padded with 0.5 to eight) and normalised."""
    c = Circuit(3).amplitude_embedding(7, pad_with=0.5, normalize=True).h(2)
    x = torch.tensor([0.3, -1.0, 0.2, 0.9, 0.0, 1.5, -0.4], dtype=torch.float64)
    v = np.append(x.numpy(), 0.5)
    v /= np.linalg.norm(v)
    want = np.kron(np.eye(4), np.array([[1, 1], [1, -1]]) / math.sqrt(2)) @ v
    got = _pennylane_state(to_pennylane(c), 3, inputs=x)
    np.testing.assert_allclose(got.detach().numpy(), want, rtol=0, atol=1e-12)


def test_amplitude_embedding_of_exactly_2_to_the_n_features_is_normalised() -> None:
    """Four features on two wires, not of norm 1: ``normalize=True`` must reach PennyLane
    (which refuses an unnormalised state when nothing is padded)."""
    c = Circuit(2).amplitude_embedding(4, normalize=True)
    x = torch.tensor([0.3, -1.0, 0.2, 0.9], dtype=torch.float64)
    got = _pennylane_state(to_pennylane(c), 2, inputs=x)
    np.testing.assert_allclose(got.numpy(), (x / x.norm()).numpy(), rtol=0, atol=1e-12)


def test_pennylane_refusals_in_full() -> None:
    c = Circuit(1)
    c.ry(0, c.new_weight()).rx(0, Input(0))
    with pytest.raises(CircuitError, match=r"^this circuit has trainable weights; pass weights=$"):
        _pennylane_state(to_pennylane(c), 1, inputs=torch.zeros(1))
    with pytest.raises(CircuitError, match=r"^this circuit reads inputs; pass inputs=$"):
        _pennylane_state(to_pennylane(c), 1, weights=torch.zeros(1))


def test_a_quantum_layer_is_exported_by_its_circuit_and_weights() -> None:
    """A trained ``QuantumLayer`` handed to an exporter is one CircuitError that shows
    the call to make (it was an AttributeError about ``.ops`` or ``.n_weights``); that
    call, ``to_qiskit(layer.circuit, layer.weights)``, is the layer: Qiskit's <Z_i> of
    it equal the layer's outputs."""
    from qiskit.quantum_info import SparsePauliOp

    from quarch.quantum import BasicEntanglerLayers, QuantumLayer, to_qasm

    c = Circuit(3).add(BasicEntanglerLayers(2, 3))
    layer = QuantumLayer(c, dtype=torch.complex128, generator=torch.Generator().manual_seed(0))
    exporters: list[tuple[Any, str]] = [
        (to_qasm, "to_qasm(layer.circuit, layer.weights)"),
        (to_qiskit, "to_qiskit(layer.circuit, layer.weights)"),
        (to_pennylane, "to_pennylane(layer.circuit)"),
    ]
    for fn, call in exporters:
        name = call.split("(")[0]
        with pytest.raises(
            CircuitError,
            match=rf"^{name} takes a quarch Circuit; got QuantumLayer; for a QuantumLayer "
            rf"call {re.escape(call)}$",
        ):
            fn(layer)
    psi = Statevector(to_qiskit(layer.circuit, layer.weights))
    # Qiskit's labels are little-endian: wire i of quarch is the i-th letter from the right
    want = [
        psi.expectation_value(SparsePauliOp("I" * (2 - i) + "Z" + "I" * i)).real for i in range(3)
    ]
    np.testing.assert_allclose(layer().detach().numpy()[0], want, rtol=0, atol=1e-12)
