"""Qiskit's ``layout`` for a routed circuit written out on the whole device.

:meth:`~quarch.cost.routing.RoutedCircuit.full_device_qiskit` composes the routed
circuit onto the device's qubits, which drops the ``TranspileLayout`` Qiskit gave the
circuit routed on the region; a Qiskit user reads a transpiled circuit's placement
from ``circuit.layout`` (``initial_index_layout()``, ``final_index_layout()``), so
:func:`with_layout` puts it back, on the device's physical qubit numbers.
"""

from __future__ import annotations

from typing import Any

__all__ = ["with_layout"]


def with_layout(qc: Any, routed: Any) -> Any:
    """``qc`` (``routed`` on the whole device) with Qiskit's ``layout`` set, as a
    transpiled circuit has it: logical qubit ``i`` starts on physical qubit
    ``initial_index_layout()[i]`` and is measured on ``final_index_layout()[i]``, both
    in ``routed.region``; the other qubits are ancillas. A routed circuit without
    Qiskit's own layout is returned as it is."""
    from qiskit.circuit import QuantumRegister
    from qiskit.transpiler import Layout, TranspileLayout

    sub = getattr(getattr(routed, "qiskit", None), "layout", None)
    if sub is None:
        return qc
    region, n, total = list(routed.region), len(routed.region), qc.num_qubits
    start = [region[w] for w in routed.initial]
    # registers named as Qiskit's transpiler names them: the circuit's, then the spares
    registers = [QuantumRegister(n, "q")]
    if total > n:
        registers.append(QuantumRegister(total - n, "ancilla"))
    bits = [b for r in registers for b in r]
    physical = start + [p for p in range(total) if p not in start]
    initial = Layout({b: physical[i] for i, b in enumerate(bits)})
    for r in registers:
        initial.add_register(r)
    final = {p: p for p in range(total)}  # the router's permutation, inside the region
    if sub.final_layout is not None:
        for bit, local in sub.final_layout.get_virtual_bits().items():
            final[region[routed.qiskit.find_bit(bit).index]] = region[local]
    qc._layout = TranspileLayout(  # Qiskit's own passes set it so: there is no setter
        initial_layout=initial,
        input_qubit_mapping={b: i for i, b in enumerate(bits)},
        final_layout=Layout({qc.qubits[a]: b for a, b in final.items()}),
        _input_qubit_count=n,
        _output_qubit_list=list(qc.qubits),
    )
    return qc
