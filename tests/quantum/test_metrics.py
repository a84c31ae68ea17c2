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
        pytest.importorskip("qiskit")
        c = Circuit(5)
        for a in range(5):
            for b in range(a + 1, 5):
                c.cnot(a, b)
        m = transpiled_metrics(c, coupling_map="heavy-hex:3")
        assert m["two_qubit_gates"] >= 10  # routing can only add CNOTs
        assert m["depth"] >= resources(c).depth


class TestInputs:
    def test_bad_coupling_map(self) -> None:
        pytest.importorskip("qiskit")
        with pytest.raises(CircuitError, match="coupling_map 'hex' is not known"):
            transpiled_metrics(Circuit(2).cnot(0, 1), coupling_map="hex")
