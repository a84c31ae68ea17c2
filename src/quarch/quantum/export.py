"""Export circuits to Qiskit and PennyLane (optional extras, imported lazily).

Three exporters: :func:`to_qiskit` (a ``QuantumCircuit``), :func:`to_pennylane` (a live
quantum function for a QNode) and :func:`pennylane_source` (a standalone Python file
with trained weights bound, what ``quarch export --format pennylane`` writes). The two
PennyLane exporters read one gate-name table.

quarch's wire ``i`` becomes Qiskit qubit ``i`` and PennyLane wire ``i``. Qiskit orders
basis states little-endian, so ``Statevector(qc).reverse_qargs()`` equals quarch's state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from quarch.quantum.circuit import Circuit, CircuitError, Param, require_circuit
from quarch.quantum.measurements import ObservableLike, PauliWord, parse_observables

if TYPE_CHECKING:
    import torch

__all__ = ["pennylane_source", "to_pennylane", "to_qiskit"]

_QISKIT = {
    "h": "h", "x": "x", "y": "y", "z": "z", "s": "s", "sdg": "sdg", "t": "t", "tdg": "tdg",
    "sx": "sx", "sxdg": "sxdg", "rx": "rx", "ry": "ry", "rz": "rz", "phase": "p", "u3": "u",
    "cnot": "cx", "cz": "cz", "cy": "cy", "ch": "ch", "swap": "swap", "crx": "crx",
    "cry": "cry", "crz": "crz", "cphase": "cp", "rxx": "rxx", "ryy": "ryy", "rzz": "rzz",
    "ccx": "ccx", "cswap": "cswap",
}  # fmt: skip


def to_qiskit(circuit: Circuit, weights: Sequence[float] | torch.Tensor | None = None) -> Any:
    """The circuit as a ``qiskit.QuantumCircuit``.

    Weights are bound when given; otherwise they become the Qiskit parameters
    ``w[i]``, and inputs become ``x[j]`` (products of inputs become products).

    Raises:
        CircuitError: noise channels or an amplitude embedding (no exact Qiskit gate).
    """
    require_circuit(circuit, "to_qiskit")
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector

    bound = circuit.bind(weights) if weights is not None else circuit
    wv = ParameterVector("w", bound.n_weights) if bound.n_weights else None
    xv = ParameterVector("x", bound.n_inputs) if bound.n_inputs else None

    def angle(p: float | Param) -> Any:
        if not isinstance(p, Param):
            return p
        if p.kind == "weight":
            assert wv is not None
            return p.scale * wv[p.index[0]]
        assert xv is not None
        return p.scale * math.prod((xv[i] for i in p.index[1:]), start=xv[p.index[0]])

    qc = QuantumCircuit(circuit.n_qubits)
    for op in bound.ops:
        if op.is_channel or op.name == "amplitude_embedding":
            raise CircuitError(f"to_qiskit: {op.name} has no Qiskit gate; remove it first")
        ps = [angle(p) for p in op.params]
        if op.name == "rot":
            phi, theta, omega = ps
            qc.rz(phi, op.wires[0])
            qc.ry(theta, op.wires[0])
            qc.rz(omega, op.wires[0])
            continue
        getattr(qc, _QISKIT[op.name])(*ps, *op.wires)
    return qc


# quarch name -> (PennyLane operation, written as its adjoint). One table for the live
# quantum function (to_pennylane) and the written source (pennylane_source), so the two
# exporters cannot disagree on a gate.
_PENNYLANE: dict[str, tuple[str, bool]] = {
    "h": ("Hadamard", False), "x": ("PauliX", False), "y": ("PauliY", False),
    "z": ("PauliZ", False), "s": ("S", False), "sdg": ("S", True), "t": ("T", False),
    "tdg": ("T", True), "sx": ("SX", False), "sxdg": ("SX", True), "rx": ("RX", False),
    "ry": ("RY", False), "rz": ("RZ", False), "phase": ("PhaseShift", False),
    "rot": ("Rot", False), "u3": ("U3", False), "cnot": ("CNOT", False), "cz": ("CZ", False),
    "cy": ("CY", False), "ch": ("CH", False), "swap": ("SWAP", False), "crx": ("CRX", False),
    "cry": ("CRY", False), "crz": ("CRZ", False), "cphase": ("ControlledPhaseShift", False),
    "rxx": ("IsingXX", False), "ryy": ("IsingYY", False), "rzz": ("IsingZZ", False),
    "ccx": ("Toffoli", False), "cswap": ("CSWAP", False),
    "depolarizing": ("DepolarizingChannel", False), "amplitude_damping": ("AmplitudeDamping", False),
    "phase_damping": ("PhaseDamping", False), "bit_flip": ("BitFlip", False),
}  # fmt: skip


def _pennylane_name(name: str) -> tuple[str, bool]:
    try:
        return _PENNYLANE[name]
    except KeyError:
        raise CircuitError(f"{name} has no PennyLane operation") from None


def _pl_ops() -> dict[str, Callable[..., Any]]:
    import pennylane as qml

    def adjoint(op: Callable[..., Any]) -> Callable[..., Any]:
        return lambda *params, wires: qml.adjoint(op(*params, wires=wires))

    table: dict[str, Callable[..., Any]] = {}
    for name, (pl_name, is_adjoint) in _PENNYLANE.items():
        op = getattr(qml, pl_name)
        table[name] = adjoint(op) if is_adjoint else op
    return table


def to_pennylane(circuit: Circuit) -> Callable[..., None]:
    """A PennyLane quantum function ``qfunc(weights=None, inputs=None)``.

    Use it inside a QNode on wires ``0..n-1``. ``weights`` is indexed ``weights[i]``,
    ``inputs`` as ``inputs[..., j]``, so a leading batch axis is broadcast by PennyLane
    and any interface (torch, autograd, JAX) differentiates through it.
    """
    require_circuit(circuit, "to_pennylane", "layer.circuit")
    import numpy as np
    import pennylane as qml

    table = _pl_ops()
    ops = list(circuit.ops)

    def qfunc(weights: Any = None, inputs: Any = None) -> None:
        ref = weights if weights is not None else inputs

        def angle(p: float | Param) -> Any:
            if not isinstance(p, Param):
                # Same array type as the parameters: PennyLane cannot mix them. Converted
                # as a float64 array: a Python float becomes a float32 torch tensor.
                if ref is None:
                    return p
                return qml.math.cast_like(qml.math.convert_like(np.float64(p), ref), ref)
            if p.kind == "weight":
                if weights is None:
                    raise CircuitError("this circuit has trainable weights; pass weights=")
                return p.scale * weights[p.index[0]]
            if inputs is None:
                raise CircuitError("this circuit reads inputs; pass inputs=")
            val = inputs[..., p.index[0]]
            for i in p.index[1:]:
                val = val * inputs[..., i]
            return p.scale * val

        for op in ops:
            if op.name == "amplitude_embedding":
                nf, pad, normalize = op.meta
                qml.AmplitudeEmbedding(
                    inputs[..., :nf],
                    wires=list(op.wires),
                    pad_with=pad if nf < 2 ** len(op.wires) else None,
                    normalize=normalize,
                )
                continue
            table[op.name](*[angle(p) for p in op.params], wires=list(op.wires))

    return qfunc


def pennylane_source(
    circuit: Circuit,
    weights: Sequence[float] | torch.Tensor | None = None,
    observables: ObservableLike | Sequence[ObservableLike] | None = None,
) -> str:
    """A self-contained PennyLane Python file of ``circuit`` with ``weights`` bound.

    What ``quarch export --format pennylane`` writes: someone without quarch can run a
    trained circuit from it. The file defines ``circuit(inputs)`` (the gates, with
    feature ``j`` read as ``inputs[..., j]`` so a leading batch axis is broadcast, a
    product of features as a product, an amplitude embedding as
    ``qml.AmplitudeEmbedding`` with its padding and normalisation) and the QNode
    ``expvals(inputs)``, which returns the expectation of each of ``observables``, in
    order (``OBSERVABLES`` in the file names them): what a :class:`QuantumLayer` with
    those observables returns, so the file feeds the trained network's head as the layer
    did. Trained weights are
    written as numbers to full double precision. A circuit with noise channels runs
    on ``default.mixed``, any other on ``default.qubit``.

    Args:
        circuit (Circuit): the circuit.
        weights: one value per trainable weight; required when the circuit has any.
        observables: Pauli words, as :class:`QuantumLayer` takes them (``None``: ``<Z>``
            on each wire, the layer's default).

    Raises:
        CircuitError: weights missing or of the wrong count.
        MeasurementError: an observable that is not a Pauli word on the circuit's wires.

    Example:
        >>> from quarch.quantum import Circuit, Input
        >>> src = pennylane_source(Circuit(2).ry(0, Input(0)).cnot(0, 1))
        >>> "qml.RY(inputs[..., 0], wires=[0])" in src
        True
    """
    require_circuit(circuit, "pennylane_source")
    if weights is None and circuit.n_weights:
        raise CircuitError(
            f"pennylane_source: this circuit has {circuit.n_weights} trainable weight(s); "
            "pass weights"
        )
    words = parse_observables(observables, circuit.n_qubits)
    bound = circuit.bind(weights) if weights is not None else circuit
    n = circuit.n_qubits
    lines = [
        '"""A circuit found by quarch, with its trained weights bound (PennyLane)."""',
        "",
        "import pennylane as qml",
        "",
        f"N_WIRES = {n}",
        "",
        "def circuit(inputs):",
        '    """Apply the circuit; ``inputs[..., j]`` is feature j (a leading batch axis is fine)."""',
    ]
    for op in bound.ops:
        if op.name == "amplitude_embedding":
            nf, pad, normalize = op.meta
            padw = repr(pad) if nf < 2 ** len(op.wires) else "None"
            lines.append(
                f"    qml.AmplitudeEmbedding(inputs[..., :{nf}], wires={list(op.wires)}, "
                f"pad_with={padw}, normalize={normalize!r})"
            )
            continue
        pl_name, is_adjoint = _pennylane_name(op.name)
        args = []
        for p in op.params:
            if isinstance(p, Param):  # weights are bound, so an input (product)
                prod = " * ".join(f"inputs[..., {j}]" for j in p.index)
                args.append(f"{p.scale!r} * {prod}" if p.scale != 1.0 else prod)
            else:
                args.append(repr(float(p)))
        wires = f"wires={list(op.wires)}"
        if is_adjoint:
            lines.append(f"    qml.adjoint(qml.{pl_name})({', '.join([*args, wires])})")
        else:
            lines.append(f"    qml.{pl_name}({', '.join([*args, wires])})")
    device = "default.mixed" if circuit.has_channels else "default.qubit"
    lines += [
        "",
        "",
        f'dev = qml.device("{device}", wires=N_WIRES)',
        "",
        "#: What expvals returns, in order (the network's quantum layer measures these).",
        f"OBSERVABLES = {[str(w) for w in words]!r}",
        "",
        "",
        "@qml.qnode(dev)",
        "def expvals(inputs):",
        '    """The expectation of each of OBSERVABLES."""',
        "    circuit(inputs)",
        "    return [",
        *(f"        qml.expval({_pennylane_word(w)})," for w in words),
        "    ]",
        "",
    ]
    return "\n".join(lines)


def _pennylane_word(word: PauliWord) -> str:
    """``word`` as a PennyLane operator expression (``qml.PauliZ(0) @ qml.PauliZ(1)``)."""
    if not word.terms:
        return "qml.Identity(0)"
    return " @ ".join(f"qml.Pauli{p}({w})" for w, p in word.terms)
