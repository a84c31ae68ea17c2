"""Transpiled metrics on a heavy-hex device against Qiskit and graph facts.

``test_metrics.py::test_transpiled_heavy_hex`` bounds the result by what the
untranspiled circuit already meets (>= 10 CNOTs), so returning the logical circuit's
counts passes it. Heavy-hex qubits have at most 3 neighbours, so the complete graph on
5 qubits cannot be placed without SWAPs: routing must add CNOTs, strictly. The figures
must also be those of Qiskit's transpiler called directly with the same settings, and
every routed two-qubit gate must sit on a coupler.
"""

from __future__ import annotations

import pytest

from quarch.quantum import Circuit, to_qiskit
from quarch.quantum.metrics import transpiled_metrics

qiskit = pytest.importorskip("qiskit")


def test_complete_graph_needs_swaps_on_heavy_hex() -> None:
    from qiskit import transpile
    from qiskit.transpiler import CouplingMap

    c = Circuit(5)
    for a in range(5):
        for b in range(a + 1, 5):
            c.cnot(a, b)
    m = transpiled_metrics(c, coupling_map="heavy-hex:3", seed=3)
    cmap = CouplingMap.from_heavy_hex(3)
    assert max(len(cmap.neighbors(q)) for q in cmap.physical_qubits) == 3
    assert m["two_qubit_gates"] > 10  # SWAPs were needed
    assert m["n_physical_qubits"] == cmap.size() == 19
    qc = transpile(to_qiskit(c), coupling_map=cmap, basis_gates=["cx", "rz", "sx", "x"],
                   optimization_level=1, seed_transpiler=3)  # fmt: skip
    assert m["depth"] == qc.depth()
    assert m["two_qubit_gates"] == qc.count_ops().get("cx", 0)
    edges = {tuple(e) for e in cmap.get_edges()}
    for inst in qc.data:
        if inst.operation.num_qubits == 2:
            a, b = (qc.find_bit(q).index for q in inst.qubits)
            assert (a, b) in edges or (b, a) in edges
