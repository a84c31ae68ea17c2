"""Resource counts against hand counts and Qiskit."""

from __future__ import annotations

import pytest

from quarch.quantum import (
    BasicEntanglerLayers,
    Circuit,
    CircuitError,
    resources,
    to_qiskit,
    transpiled_metrics,
)


class TestCorrectness:
    def test_counts_and_depth(self) -> None:
        c = Circuit(3).h(0).cnot(0, 1).cnot(1, 2).rx(0, 0.1)
        r = resources(c)
        assert r.gate_counts == {"h": 1, "cnot": 2, "rx": 1}
        assert (r.depth, r.two_qubit_gates, r.n_weights) == (3, 2, 0)

    def test_depth_matches_qiskit(self) -> None:
        pytest.importorskip("qiskit")
        c = Circuit(4).add(BasicEntanglerLayers(3, 4))
        assert resources(c).depth == to_qiskit(c).depth()
        assert resources(c).n_weights == 12

    def test_transpiled_heavy_hex(self) -> None:
        """Routing by graph theory: heavy-hex (distance 3: 19 qubits, degree at most 3)
        holds a path of 5 qubits, so a chain of CNOTs needs no SWAP; a qubit that talks to
        4 others, or 5 qubits that all talk to each other, need at least one SWAP (3 CNOTs)."""
        pytest.importorskip("qiskit")
        from qiskit.transpiler import CouplingMap

        hh = CouplingMap.from_heavy_hex(3)
        assert hh.size() == 19
        assert max(len(set(hh.neighbors(q)) | set(hh.graph.predecessor_indices(q)))
                   for q in range(19)) == 3  # fmt: skip
        chain = Circuit(5).h(0)
        for a in range(4):
            chain.cnot(a, a + 1)
        m = transpiled_metrics(chain, coupling_map="heavy-hex:3")
        assert (m["two_qubit_gates"], m["gate_counts"]["cx"]) == (4, 4)
        assert set(m["gate_counts"]) <= {"cx", "rz", "sx", "x"}
        assert m["n_physical_qubits"] == 19
        star = Circuit(5).h(0)
        for b in range(1, 5):
            star.cnot(0, b)
        assert transpiled_metrics(star, coupling_map="heavy-hex:3")["two_qubit_gates"] >= 4 + 3
        free = transpiled_metrics(star, coupling_map=None)
        assert (free["two_qubit_gates"], free["n_physical_qubits"]) == (4, 5)
        c = Circuit(5)
        for a in range(5):
            for b in range(a + 1, 5):
                c.cnot(a, b)
        m = transpiled_metrics(c, coupling_map="heavy-hex:3")
        assert m["two_qubit_gates"] >= 10 + 3
        assert m["depth"] >= resources(c).depth


class TestInputs:
    def test_bad_coupling_map(self) -> None:
        pytest.importorskip("qiskit")
        with pytest.raises(CircuitError, match="coupling_map 'hex' is not known"):
            transpiled_metrics(Circuit(2).cnot(0, 1), coupling_map="hex")
