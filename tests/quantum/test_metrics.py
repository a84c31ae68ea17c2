"""Resource counts against hand counts and Qiskit."""

from __future__ import annotations

import pytest

from quarch.quantum import (
    AmplitudeEmbedding,
    BasicEntanglerLayers,
    Circuit,
    CircuitError,
    Input,
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


class TestResourcesTruth:
    """``resources`` against counts made by hand on circuits built for the purpose."""

    def test_channels_are_skipped_not_the_end(self) -> None:
        """A channel in the middle is left out of the counts and the depth; the gates
        after it still count (hand count: H, then CNOT(1, 2) after the channel on 1)."""
        c = Circuit(3).h(0).depolarizing(1, 0.1).cnot(1, 2).cnot(0, 1)
        r = resources(c)
        assert r.gate_counts == {"h": 1, "cnot": 2}
        assert (r.depth, r.two_qubit_gates) == (2, 2)

    def test_amplitude_embedding_is_a_gate_but_not_a_two_qubit_one(self) -> None:
        """The embedding occupies every wire (depth 1 before the H), reads 2^n inputs and
        is not an entangling gate of the hardware count."""
        c = Circuit(2).add(AmplitudeEmbedding(4)).h(0).cnot(0, 1)
        r = resources(c)
        assert r.gate_counts == {"amplitude_embedding": 1, "h": 1, "cnot": 1}
        assert (r.depth, r.two_qubit_gates, r.n_inputs, r.n_qubits) == (3, 1, 4, 2)

    def test_every_field_and_the_metrics_mapping(self) -> None:
        """Hand count of a 4-qubit circuit with two weights and three inputs: gates
        RY(x0) RY(x1) on 0 and 1, CRX(w0) on (0, 3), RZ(x2) on 2, CNOT(2, 3), RX(w1) on 3;
        depth: wire 3 sees CRX (layer 2), CNOT (layer 3 after RZ at 1 -> max(1, 2) + 1 = 3),
        RX (layer 4)."""
        c = Circuit(4).ry(0, Input(0)).ry(1, Input(1))
        c.crx(0, 3, c.new_weight()).rz(2, Input(2)).cnot(2, 3)
        c.rx(3, c.new_weight())
        r = resources(c)
        assert (r.n_qubits, r.depth, r.two_qubit_gates, r.n_weights, r.n_inputs) == (4, 4, 2, 2, 3)
        assert r.n_gates == 6
        assert r.as_metrics() == {
            "qubits": 4.0,
            "depth": 4.0,
            "two_qubit_gates": 2.0,
            "gates": 6.0,
            "params": 2.0,
        }

    def test_only_a_circuit_is_counted(self) -> None:
        class Holder:
            circuit = Circuit(1)

        with pytest.raises(CircuitError, match=r"^resources takes a quarch Circuit; got Holder; "
                           r"for a QuantumLayer call resources\(layer\.circuit\)$"):  # fmt: skip
            resources(Holder())  # type: ignore[arg-type]
