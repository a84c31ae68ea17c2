"""Circuit metrics that cost models read: qubits, depth, gate counts, parameters.

``resources`` is pure Python and instant; ``transpiled_metrics`` (``qiskit`` extra)
reports what a circuit costs after mapping to a device's coupling map and basis,
which is what two-qubit counts mean on hardware (SWAPs included).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from quarch.quantum.circuit import Circuit, CircuitError, require_circuit
from quarch.quantum.export import to_qiskit

if TYPE_CHECKING:
    import torch

__all__ = ["Resources", "resources", "transpiled_metrics"]


@dataclass(frozen=True)
class Resources:
    """Static cost of a circuit.

    Attributes:
        n_qubits (int): wires.
        depth (int): layers of gates when each gate starts as early as its wires allow
            (channels are not counted).
        gate_counts (dict[str, int]): gates by quarch name.
        two_qubit_gates (int): gates on two or more wires.
        n_weights (int): trainable parameters.
        n_inputs (int): input features per sample.
    """

    n_qubits: int
    depth: int
    gate_counts: dict[str, int] = field(default_factory=dict)
    two_qubit_gates: int = 0
    n_weights: int = 0
    n_inputs: int = 0

    @property
    def n_gates(self) -> int:
        """Total number of gates."""
        return sum(self.gate_counts.values())

    def as_metrics(self) -> dict[str, float]:
        """The figures as a flat ``Metrics``-style mapping."""
        return {
            "qubits": float(self.n_qubits),
            "depth": float(self.depth),
            "two_qubit_gates": float(self.two_qubit_gates),
            "gates": float(self.n_gates),
            "params": float(self.n_weights),
        }


def resources(circuit: Circuit) -> Resources:
    """Count the gates, depth and parameters of ``circuit``."""
    require_circuit(circuit, "resources", "layer.circuit")
    level = [0] * circuit.n_qubits
    counts: Counter[str] = Counter()
    two = 0
    for op in circuit.ops:
        if op.is_channel:
            continue
        counts[op.name] += 1
        if len(op.wires) >= 2 and op.name != "amplitude_embedding":
            two += 1
        start = max(level[w] for w in op.wires) + 1
        for w in op.wires:
            level[w] = start
    return Resources(
        n_qubits=circuit.n_qubits,
        depth=max(level, default=0),
        gate_counts=dict(counts),
        two_qubit_gates=two,
        n_weights=circuit.n_weights,
        n_inputs=circuit.n_inputs,
    )


def _coupling(coupling_map: Any) -> Any:
    from qiskit.transpiler import CouplingMap

    if coupling_map is None or isinstance(coupling_map, CouplingMap):
        return coupling_map
    if isinstance(coupling_map, str):
        kind, _, size = coupling_map.partition(":")
        try:
            d = int(size or 3)
        except ValueError:
            d = -1
        makers = {
            "heavy-hex": CouplingMap.from_heavy_hex,
            "line": CouplingMap.from_line,
            "ring": CouplingMap.from_ring,
            "grid": lambda k: CouplingMap.from_grid(k, k),
        }
        if kind not in makers or d < 1:
            raise CircuitError(
                f"coupling_map {coupling_map!r} is not known; use 'heavy-hex:D' (odd D), "
                "'line:N', 'ring:N', 'grid:N', a list of edges or a qiskit CouplingMap"
            )
        return makers[kind](d)
    return CouplingMap([list(e) for e in coupling_map])


def transpiled_metrics(
    circuit: Circuit,
    *,
    coupling_map: Any = "heavy-hex:3",
    basis_gates: Sequence[str] = ("cx", "rz", "sx", "x"),
    optimization_level: int = 1,
    seed: int = 0,
    weights: Sequence[float] | torch.Tensor | None = None,
) -> dict[str, Any]:
    """Depth and gate counts after Qiskit transpiles ``circuit`` to a device.

    Args:
        circuit (Circuit): the circuit; unbound weights and inputs stay symbolic.
        coupling_map: ``"heavy-hex:3"`` (default), ``"line:N"``, ``"ring:N"``,
            ``"grid:N"``, a list of edges, a ``qiskit.transpiler.CouplingMap`` or None
            (all-to-all).
        basis_gates (Sequence[str]): target basis.
        optimization_level (int): Qiskit's level, 0-3.
        seed (int): transpiler seed, so repeated calls agree.
        weights: trained weights to bind first (optional).

    Returns:
        dict: ``depth``, ``two_qubit_gates``, ``gate_counts`` and ``n_physical_qubits``.
    """
    from qiskit import transpile

    if not 0 <= optimization_level <= 3:
        raise ValueError(f"optimization_level must be in [0, 3]; got {optimization_level}")
    cmap = _coupling(coupling_map)
    if cmap is not None and cmap.size() < circuit.n_qubits:
        raise CircuitError(
            f"the coupling map has {cmap.size()} qubits; the circuit needs {circuit.n_qubits}"
        )
    qc = to_qiskit(circuit, weights)
    out = transpile(
        qc,
        coupling_map=cmap,
        basis_gates=list(basis_gates),
        optimization_level=optimization_level,
        seed_transpiler=seed,
    )
    counts = {str(k): int(v) for k, v in out.count_ops().items()}
    # to_qiskit writes gates only, and transpile adds barriers only around final
    # measurements (there are none), so every op of two or more qubits is a gate
    two = sum(1 for inst in out.data if inst.operation.num_qubits >= 2)
    return {
        "depth": int(out.depth()),
        "two_qubit_gates": two,
        "gate_counts": counts,
        "n_physical_qubits": int(out.num_qubits),
    }
