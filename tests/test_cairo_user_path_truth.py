"""A noise-aware hqnn search on ``ibm-cairo``'s region that mixes ECR with a one-way CX,
then ``quarch export`` of the trial, as a user runs them (:mod:`quarch.cost.one_way`
reverses the CX ``18 -> 15`` as ``H.CX.H`` in native gates).

Truth: the routed circuit exported as QPY (``--format qiskit``), restricted to its
region and read through Qiskit's own ``circuit.layout`` (where each logical qubit starts
and is measured), has Qiskit's ``Operator`` of the trained model's circuit exported as
OpenQASM 3 (``--format qasm3``, not routed), global phase included; every two-qubit gate
of it is in a direction the fake backend's ``Target`` runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("qiskit_ibm_runtime")

from quarch.cli import main

from ._scope import per_module

DEVICE = "ibm-cairo"
SEARCH = [
    "search", "--space", "hqnn", "--dataset", "iris", "--trials", "1", "--epochs", "1",
    "--max-train", "30", "--device-profile", DEVICE, "--noise", "device",
    "--evaluator-option", "noise_aware=true", "--space-option", "layouts=2",
    "--space-option", "min_qubits=3", "--space-option", "max_qubits=3",
    "--space-option", "max_layers=1", "--space-option", "entangling_gates=cnot",
    "--space-option", "entanglements=ring", "--space-option", "frontends=linear",
    "--objectives", "val_error,success_probability", "--quiet",
]  # fmt: skip


@pytest.fixture(scope=per_module)
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, int]:
    """The trial's routed QPY circuit, its qasm3 circuit, and how many reverse CXs the
    routing rewrote (a spy on :class:`~quarch.cost.one_way.FlipReversedCX`)."""
    from qiskit import qasm3, qpy

    from quarch.cost import one_way

    flips: list[tuple[int, int]] = []
    real = one_way.FlipReversedCX.run

    def spy(self: Any, dag: Any) -> Any:
        for node in dag.op_nodes():
            qargs = tuple(dag.find_bit(q).index for q in node.qargs)
            if node.name == "cx" and qargs in self.reverse:
                flips.append(qargs)
        return real(self, dag)

    tmp = tmp_path_factory.mktemp("cairo_path")
    run = tmp / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(one_way.FlipReversedCX, "run", spy)
        assert main([*SEARCH, "--out", str(run)]) == 0
    for fmt, name in (("qiskit", "c.qpy"), ("qasm3", "c.qasm3")):
        args = ["export", str(run), "--trial", "0", "--format", fmt, "--out", str(tmp / name)]
        assert main([*args, "--quiet"]) == 0
    with open(tmp / "c.qpy", "rb") as f:
        (routed,) = qpy.load(f)
    logical = qasm3.loads((tmp / "c.qasm3").read_text())
    return routed, logical, len(flips)


def _permutation(n: int, to: list[int]) -> Any:
    """The operator moving qubit ``i`` to qubit ``to[i]``."""
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import PermutationGate
    from qiskit.quantum_info import Operator

    pattern = [0] * n
    for i, t in enumerate(to):
        pattern[t] = i
    qc = QuantumCircuit(n)
    qc.append(PermutationGate(pattern), range(n))
    return Operator(qc)


def test_the_search_ran_on_the_mixed_region_and_flipped(exported: tuple[Any, Any, int]) -> None:
    from quarch.cost import one_way
    from quarch.cost.calibration import load_calibration

    routed, _, flips = exported
    region = tuple(routed.metadata["region"])
    assert one_way.flipped_pairs(load_calibration(DEVICE), region)  # the case under test
    assert flips > 0


def test_the_exported_routed_circuit_is_the_trained_models(
    exported: tuple[Any, Any, int],
) -> None:
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    from quarch.cost.calibration import _backend

    routed, logical, _ = exported
    region = list(routed.metadata["region"])
    local = {q: i for i, q in enumerate(region)}
    n = len(region)
    x = np.random.default_rng(1).uniform(-1, 1, len(routed.parameters))
    bound = routed.assign_parameters({p: x[int(p.name[2:-1])] for p in routed.parameters})
    # qasm3 names input j _x_j_
    want = logical.assign_parameters({p: x[int(p.name.strip("_")[2:])] for p in logical.parameters})
    target = _backend("cairo").target
    small = QuantumCircuit(n, global_phase=bound.global_phase)
    for inst in bound.data:
        qubits = [bound.find_bit(q).index for q in inst.qubits]
        if len(qubits) == 2:
            assert tuple(qubits) in target[inst.operation.name], (inst.operation.name, qubits)
        small.append(inst.operation, [local[q] for q in qubits])  # KeyError: off the region
    start = [local[p] for p in bound.layout.initial_index_layout(filter_ancillas=True)]
    end = [local[p] for p in bound.layout.final_index_layout(filter_ancillas=True)]
    assert start != end  # the router moved qubits: a layout read wrongly is told apart
    got = Operator(small).compose(_permutation(n, start), front=True)
    np.testing.assert_allclose(
        got.data, _permutation(n, end).compose(Operator(want), front=True).data, atol=1e-9
    )
