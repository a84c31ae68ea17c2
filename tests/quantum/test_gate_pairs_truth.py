"""``gate_pairs``: the pairs an entangling layer's gate acts on, against Qiskit.

The truth is Qiskit's own circuit: a CZ on each wire pair the pattern names (a pair
named in both orders is one pair: CZ is symmetric), compared as operators with the
layer quarch builds; for the directed gates, every pair in the pattern's order.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quarch.quantum import Circuit, EntanglingLayer, entangler_pairs, gate_pairs, to_qiskit

qiskit = pytest.importorskip("qiskit")
from qiskit.quantum_info import Operator  # noqa: E402

PATTERNS = ["linear", "ring", "full", "odd", "even", "range-1", "range-2", "range-3"]


def _cases() -> list[tuple[int, str]]:
    out = []
    for n, pattern in itertools.product(range(2, 7), PATTERNS):
        if pattern.startswith("range-") and int(pattern[6:]) >= n:
            continue
        out.append((n, pattern))
    return out


@pytest.mark.parametrize(("n", "pattern"), _cases())
def test_a_cz_layer_is_one_cz_per_pair_named(n: int, pattern: str) -> None:
    named = {frozenset(p) for p in entangler_pairs(n, pattern)}
    truth = qiskit.QuantumCircuit(n)
    for a, b in sorted(tuple(sorted(p)) for p in named):
        truth.cz(a, b)
    layer = EntanglingLayer(n, pattern, "cz")
    built = to_qiskit(Circuit(n).add(layer), [])
    assert Operator(built).equiv(Operator(truth))
    assert layer.resources()["cz"] == len(named) == built.count_ops().get("cz", 0)
    if named:  # the layer entangles: never the identity
        assert not Operator(built).equiv(Operator(qiskit.QuantumCircuit(n)))


@pytest.mark.parametrize(("n", "pattern"), _cases())
@pytest.mark.parametrize("gate", ["cnot", "crz", "rzz"])
def test_other_gates_keep_every_pair_in_its_order(n: int, pattern: str, gate: str) -> None:
    pairs = entangler_pairs(n, pattern)
    assert gate_pairs(n, pattern, gate) == pairs
    layer = EntanglingLayer(n, pattern, gate)
    assert layer.resources()[gate] == len(pairs)
    assert layer.shape() == ((0,) if gate == "cnot" else (len(pairs),))


def test_range_r_on_2r_wires_names_each_pair_twice_and_cnot_keeps_both() -> None:
    """The case that made the distinction: CNOT(0,1) CNOT(1,0) is not the identity (nor
    one CNOT), so the directed gate keeps both orders while CZ keeps one."""
    assert entangler_pairs(4, "range-2") == [(0, 2), (1, 3), (2, 0), (3, 1)]
    assert gate_pairs(4, "range-2", "cz") == [(0, 2), (1, 3)]
    truth = qiskit.QuantumCircuit(2)
    truth.cx(0, 1)
    truth.cx(1, 0)
    built = to_qiskit(Circuit(2).add(EntanglingLayer(2, "range-1", "cnot")), [])
    assert Operator(built).equiv(Operator(truth))


def test_the_hqnn_circuit_counts_the_czs_it_applies() -> None:
    """An ``hqnn`` architecture with CZ on ``range-2`` of 4 qubits: two CZs per layer,
    and the layer changes the state (before the fix: four CZs that cancelled)."""
    from quarch.spaces.hqnn.model import build_circuit

    base = {
        "embedding": "angle-y", "qubits": 4, "layers": 2, "rotation_0": "ry",
        "rotation_1": "ry", "entangler": "cz", "reupload": False, "measurement": "z",
    }  # fmt: skip
    ops = {}
    for pattern in ("none", "range-2"):
        arch = {**base, "entanglement_0": pattern, "entanglement_1": pattern}
        c = build_circuit(arch)
        qc = to_qiskit(c, np.linspace(0.2, 1.3, c.n_weights).tolist())
        qc = qc.assign_parameters({p: 0.3 + 0.2 * i for i, p in enumerate(qc.parameters)})
        ops[pattern] = (Operator(qc), qc.count_ops().get("cz", 0))
    assert ops["range-2"][1] == 4  # 2 pairs x 2 layers
    assert not ops["range-2"][0].equiv(ops["none"][0])
