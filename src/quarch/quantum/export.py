"""Export circuits to Qiskit and PennyLane (optional extras, imported lazily).

quarch's wire ``i`` becomes Qiskit qubit ``i`` and PennyLane wire ``i``. Qiskit orders
basis states little-endian, so ``Statevector(qc).reverse_qargs()`` equals quarch's state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from quarch.quantum.circuit import Circuit, CircuitError, Param

if TYPE_CHECKING:
    import torch

__all__ = ["to_pennylane", "to_qiskit"]

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


def _pl_ops() -> dict[str, Callable[..., Any]]:
    import pennylane as qml

    return {
        "h": qml.Hadamard, "x": qml.PauliX, "y": qml.PauliY, "z": qml.PauliZ, "s": qml.S,
        "sdg": lambda wires: qml.adjoint(qml.S(wires=wires)), "t": qml.T,
        "tdg": lambda wires: qml.adjoint(qml.T(wires=wires)), "sx": qml.SX,
        "sxdg": lambda wires: qml.adjoint(qml.SX(wires=wires)), "rx": qml.RX, "ry": qml.RY,
        "rz": qml.RZ, "phase": qml.PhaseShift, "rot": qml.Rot, "u3": qml.U3, "cnot": qml.CNOT,
        "cz": qml.CZ, "cy": qml.CY, "ch": qml.CH, "swap": qml.SWAP, "crx": qml.CRX,
        "cry": qml.CRY, "crz": qml.CRZ, "cphase": qml.ControlledPhaseShift,
        "rxx": qml.IsingXX, "ryy": qml.IsingYY, "rzz": qml.IsingZZ, "ccx": qml.Toffoli,
        "cswap": qml.CSWAP, "depolarizing": qml.DepolarizingChannel,
        "amplitude_damping": qml.AmplitudeDamping, "phase_damping": qml.PhaseDamping,
        "bit_flip": qml.BitFlip,
    }  # fmt: skip


def to_pennylane(circuit: Circuit) -> Callable[..., None]:
    """A PennyLane quantum function ``qfunc(weights=None, inputs=None)``.

    Use it inside a QNode on wires ``0..n-1``. ``weights`` is indexed ``weights[i]``,
    ``inputs`` as ``inputs[..., j]``, so a leading batch axis is broadcast by PennyLane
    and any interface (torch, autograd, JAX) differentiates through it.
    """
    import pennylane as qml

    table = _pl_ops()
    ops = list(circuit.ops)

    def qfunc(weights: Any = None, inputs: Any = None) -> None:
        ref = weights if weights is not None else inputs

        def angle(p: float | Param) -> Any:
            if not isinstance(p, Param):
                # Same array type as the parameters: PennyLane cannot mix them.
                return p if ref is None else qml.math.cast_like(qml.math.convert_like(p, ref), ref)
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
