"""Transpiled metrics on a heavy-hex device against Qiskit and graph facts.

``test_metrics.py::test_transpiled_heavy_hex`` bounds the result by what the
untranspiled circuit already meets (>= 10 CNOTs), so returning the logical circuit's
counts passes it. Heavy-hex qubits have at most 3 neighbours, so the complete graph on
5 qubits cannot be placed without SWAPs: routing must add CNOTs, strictly. The figures
must also be those of Qiskit's transpiler called directly with the same settings, and
every routed two-qubit gate must sit on a coupler.
"""

from __future__ import annotations

from typing import Any

import pytest

from quarch.quantum import Circuit, CircuitError, to_qiskit
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


def test_default_device_and_seed_are_heavy_hex_3_and_seed_0() -> None:
    """The defaults are a documented claim: heavy-hex distance 3 and transpiler seed 0.
    On the complete graph of 5 qubits, seeds 0 and 1 route differently, so the figures
    pin the seed, not just the device."""
    from qiskit import transpile
    from qiskit.transpiler import CouplingMap

    c = Circuit(5)
    for a in range(5):
        for b in range(a + 1, 5):
            c.cnot(a, b)

    def direct(seed: int) -> dict[str, object]:
        qc = transpile(to_qiskit(c), coupling_map=CouplingMap.from_heavy_hex(3),
                       basis_gates=["cx", "rz", "sx", "x"], optimization_level=1,
                       seed_transpiler=seed)  # fmt: skip
        counts = {str(k): int(v) for k, v in qc.count_ops().items()}
        return {"depth": qc.depth(), "two_qubit_gates": counts.get("cx", 0),
                "gate_counts": counts, "n_physical_qubits": qc.num_qubits}  # fmt: skip

    assert direct(0) != direct(1)  # else this circuit could not tell the seeds apart
    assert transpiled_metrics(c) == direct(0)


@pytest.mark.parametrize(
    ("spec", "maker"),
    [
        ("line", lambda cm: cm.from_line(3)),  # no size: 3
        ("line:5", lambda cm: cm.from_line(5)),
        ("ring:4", lambda cm: cm.from_ring(4)),
        ("grid:2", lambda cm: cm.from_grid(2, 2)),
        ("heavy-hex:5", lambda cm: cm.from_heavy_hex(5)),
        ([(0, 1), (1, 2), (2, 3)], lambda cm: cm([[0, 1], [1, 2], [2, 3]])),
    ],
    ids=["line", "line5", "ring4", "grid2", "heavyhex5", "edges"],
)
def test_named_coupling_maps_are_qiskits(spec: object, maker: Any) -> None:
    """Each coupling-map spelling routes on the device Qiskit's own constructor builds:
    same qubit count, and the same figures as Qiskit's transpiler on that map."""
    from qiskit import transpile
    from qiskit.transpiler import CouplingMap

    cmap = maker(CouplingMap)
    c = Circuit(3).h(0).cnot(0, 2).cnot(2, 1).cnot(0, 1)
    got = transpiled_metrics(c, coupling_map=spec, optimization_level=0)
    qc = transpile(to_qiskit(c), coupling_map=cmap, basis_gates=["cx", "rz", "sx", "x"],
                   optimization_level=0, seed_transpiler=0)  # fmt: skip
    assert got["n_physical_qubits"] == cmap.size() == qc.num_qubits
    assert got["depth"] == qc.depth()
    assert got["gate_counts"] == {str(k): int(v) for k, v in qc.count_ops().items()}
    assert sorted(map(tuple, transpiled_coupling(spec).get_edges())) == sorted(
        map(tuple, cmap.get_edges())
    )


def transpiled_coupling(spec: object) -> Any:
    """The coupling map ``transpiled_metrics`` builds from ``spec``."""
    from quarch.quantum.metrics import _coupling

    return _coupling(spec)


def test_a_line_of_one_qubit_is_a_device() -> None:
    """``line:1`` is a valid (one-qubit) device for a one-qubit circuit."""
    m = transpiled_metrics(Circuit(1).h(0), coupling_map="line:1")
    assert m["n_physical_qubits"] == 1
    assert m["two_qubit_gates"] == 0


@pytest.mark.parametrize("spec", ["line:x", "line:0", "line:-2", "hex:3", "line:3:4"])
def test_unknown_coupling_maps_are_refused_with_the_spellings(spec: str) -> None:
    with pytest.raises(CircuitError, match=r"is not known; use 'heavy-hex:D' \(odd D\), "
                       r"'line:N', 'ring:N', 'grid:N', a list of edges or a qiskit CouplingMap"):  # fmt: skip
        transpiled_metrics(Circuit(1).h(0), coupling_map=spec)


def test_a_device_too_small_is_refused_and_an_exact_fit_is_not() -> None:
    c = Circuit(3).cnot(0, 1).cnot(1, 2)
    assert transpiled_metrics(c, coupling_map="line:3")["n_physical_qubits"] == 3
    with pytest.raises(CircuitError, match="the coupling map has 2 qubits; the circuit needs 3"):
        transpiled_metrics(c, coupling_map="line:2")


def test_optimization_level_range_is_0_to_3() -> None:
    c = Circuit(2).h(0).cnot(0, 1)
    for level in (0, 3):
        m = transpiled_metrics(c, coupling_map="line:2", optimization_level=level)
        assert m["two_qubit_gates"] == 1
    for level in (-1, 4):
        why = rf"optimization_level must be in \[0, 3\]; got {level}"
        with pytest.raises(ValueError, match=why):
            transpiled_metrics(c, optimization_level=level)


def test_bound_weights_are_transpiled_as_numbers() -> None:
    """A weight bound to 0 makes its RZ the identity, which Qiskit removes; left
    symbolic, the RZ stays."""
    c = Circuit(2)
    c.rz(0, c.new_weight())
    c.cnot(0, 1)
    free = transpiled_metrics(c, coupling_map="line:2")
    bound = transpiled_metrics(c, coupling_map="line:2", weights=[0.0])
    assert free["gate_counts"] == {"rz": 1, "cx": 1}
    assert bound["gate_counts"] == {"cx": 1}
