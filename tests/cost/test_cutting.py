"""Cut estimates against brute force and against qiskit-addon-cutting's find_cuts."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from quarch._errors import ConfigError
from quarch.cost.cutting import cnot_skeleton, estimate_cuts, find_cuts_qiskit
from quarch.quantum import Circuit
from quarch.spaces.hqnn.model import build_circuit
from quarch.spaces.hqnn.space import hqnn_space


def _brute_min_cut(circuit: Circuit, budget: int) -> int:
    """Fewest cut CNOTs over every assignment of qubits to groups of <= budget qubits."""
    n = circuit.n_qubits
    pairs = [w for k, w in cnot_skeleton(circuit) if k == "cx"]
    best = math.inf
    for labels in itertools.product(range(n), repeat=n):
        if max(np.bincount(labels)) > budget:
            continue
        best = min(best, sum(labels[a] != labels[b] for a, b in pairs))
    return int(best)


class TestCorrectness:
    def test_fits_needs_one(self) -> None:
        c = Circuit(3).cnot(0, 1).cnot(1, 2)
        e = estimate_cuts(c, 3)
        assert (e.subcircuits, e.overhead, e.log10_overhead) == (1, 1.0, 0.0)

    def test_chain(self) -> None:
        c = Circuit(4).cnot(0, 1).cnot(1, 2).cnot(2, 3)
        e = estimate_cuts(c, 2)
        assert (e.subcircuits, e.overhead, e.gate_cuts) == (2, 9.0, 1)

    @pytest.mark.parametrize("seed", range(6))
    def test_gate_cuts_match_brute_force(self, seed: int) -> None:
        arch = hqnn_space(min_qubits=4, max_qubits=5, max_layers=2,
                          embeddings=["angle-y", "iqp"]).sample(seed)  # fmt: skip
        c = build_circuit(arch)
        budget = 2 + seed % 2
        assert estimate_cuts(c, budget).gate_cuts == _brute_min_cut(c, budget)

    def test_skeleton_counts(self) -> None:
        c = Circuit(3).crz(0, 1, 0.2).cz(1, 2).swap(0, 2)
        assert sum(k == "cx" for k, _ in cnot_skeleton(c)) == 2 + 1 + 3
        amp = Circuit(4).amplitude_embedding(16)
        assert sum(k == "cx" for k, _ in cnot_skeleton(amp)) == 2**4 - 2

    def test_agrees_with_find_cuts_on_a_chain(self) -> None:
        pytest.importorskip("qiskit_addon_cutting")
        c = Circuit(4).cnot(0, 1).cnot(1, 2).cnot(2, 3)
        q = find_cuts_qiskit(c, 2)
        assert (q.subcircuits, q.overhead) == (2, 9.0)
        assert find_cuts_qiskit(c, 4).subcircuits == 1


class TestInputs:
    def test_bad_budget(self) -> None:
        with pytest.raises(ConfigError, match=r"qubit_budget must be an integer >= 1; got 0"):
            estimate_cuts(Circuit(2), 0)

    def test_three_qubit_gate(self) -> None:
        with pytest.raises(ValueError, match=r"at most 2 wires; ccx acts on 3"):
            cnot_skeleton(Circuit(3).ccx(0, 1, 2))
