"""Two-qubit gate costs against Qiskit's own decomposition.

The brute-force cut check in ``test_cutting.py`` counts CNOTs with the code under test
(:func:`cnot_skeleton`), so a wrong CNOT count for a gate passes it. Here every
two-qubit gate quarch has is exported to Qiskit and transpiled to ``{cx, u}``
(optimisation level 0: Qiskit's standard decompositions, nothing merged or elided);
the ``cx`` count Qiskit reports is the truth for the CNOT skeleton, the
``two_qubit_gates`` cost and the cuts (and ``9**cuts`` overhead) of a circuit split
one qubit per device.
"""

from __future__ import annotations

import numpy as np
import pytest

from quarch.cost.cutting import CNOT_GAMMA, cnot_skeleton, estimate_cuts
from quarch.cost.quantum import native_two_qubit_gates
from quarch.quantum import Circuit
from quarch.quantum.export import to_qiskit

pytest.importorskip("qiskit")

FIXED = ["cnot", "cz", "cy", "ch", "swap"]
ROTATIONS = ["crx", "cry", "crz", "cphase", "rxx", "ryy", "rzz"]


def _qiskit_cx(circuit: Circuit) -> int:
    from qiskit import transpile

    qc = transpile(
        to_qiskit(circuit), basis_gates=["cx", "u"], optimization_level=0, seed_transpiler=0
    )
    return int(qc.count_ops().get("cx", 0))


def _with(circuit: Circuit, name: str, a: int, b: int, angle: float) -> Circuit:
    gate = getattr(circuit, name)
    return gate(a, b, angle) if name in ROTATIONS else gate(a, b)


@pytest.mark.parametrize("name", FIXED + ROTATIONS)
def test_each_gate_costs_what_qiskit_decomposes_it_into(name: str) -> None:
    c = _with(Circuit(2), name, 0, 1, 0.7)
    want = _qiskit_cx(c)
    assert want >= 1
    assert sum(k == "cx" for k, _ in cnot_skeleton(c)) == want
    assert native_two_qubit_gates(c) == want
    cut = estimate_cuts(c, 1)  # one qubit per device: every CNOT is cut
    assert (cut.subcircuits, cut.gate_cuts) == (2, want)
    assert cut.overhead == pytest.approx((CNOT_GAMMA**2) ** want)


@pytest.mark.parametrize("seed", range(3))
def test_mixed_circuits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = Circuit(4)
    for _ in range(8):
        a, b = (int(v) for v in rng.choice(4, 2, replace=False))
        c = _with(c, str(rng.choice(FIXED + ROTATIONS)), a, b, float(rng.uniform(0.3, 2.5)))
        c = c.ry(int(rng.integers(4)), float(rng.uniform(0.3, 2.5)))
    want = _qiskit_cx(c)
    assert sum(k == "cx" for k, _ in cnot_skeleton(c)) == want
    assert native_two_qubit_gates(c) == want


def test_noise_channels_are_not_gates() -> None:
    """A channel between gates changes neither the skeleton nor the cuts (it is skipped,
    not the end of the circuit)."""
    plain = Circuit(3).cnot(0, 1).crz(1, 2, 0.4).swap(0, 2)
    noisy = Circuit(3).cnot(0, 1).depolarizing(1, 0.1).crz(1, 2, 0.4).bit_flip(0, 0.2).swap(0, 2)
    assert cnot_skeleton(noisy) == cnot_skeleton(plain)
    assert estimate_cuts(noisy, 1) == estimate_cuts(plain, 1)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_gray_code_controls(k: int) -> None:
    """Mottonen's uniformly controlled RY on target ``k`` (quant-ph/0407010, fig. 2):
    ``2**k`` CNOTs, the ``i``-th controlled by the bit in which the reflected Gray code
    words ``g(i)`` and ``g(i+1)`` (cyclically) differ; bit ``b`` is wire ``k-1-b``."""
    from quarch.cost.cutting import _gray_pairs

    pairs = _gray_pairs(k)
    assert len(pairs) == 2**k and all(t == k for _, t in pairs)
    gray = [i ^ (i >> 1) for i in range(2**k)]
    flips = [(gray[i] ^ gray[(i + 1) % 2**k]).bit_length() - 1 for i in range(2**k)]
    assert [c for c, _ in pairs] == [k - 1 - b for b in flips]


@pytest.mark.parametrize(("seed", "budget"), [(0, 2), (1, 3), (2, 2), (3, 4)])
def test_partition_and_cuts_by_brute_force(seed: int, budget: int) -> None:
    """6-7 qubit circuits: the estimate's partition covers every qubit once in groups of
    at most ``budget``, the CNOTs it cuts (counted from Qiskit's decomposition's pairs,
    recounted here) are its ``gate_cuts``, and no partition into groups that small
    cuts fewer (brute force over every labelling)."""
    import itertools

    rng = np.random.default_rng(seed)
    n = 6 + seed % 2
    c = Circuit(n)
    for _ in range(9):
        a, b = (int(v) for v in rng.choice(n, 2, replace=False))
        c = _with(c, str(rng.choice(FIXED + ROTATIONS)), a, b, 0.9)
    est = estimate_cuts(c, budget)
    assert sorted(q for g in est.partition for q in g) == list(range(n))
    assert max(len(g) for g in est.partition) <= budget
    assert est.subcircuits == len(est.partition)
    pairs = np.array([w for k, w in cnot_skeleton(c) if k == "cx"])
    group = {q: i for i, g in enumerate(est.partition) for q in g}
    assert sum(group[a] != group[b] for a, b in pairs) == est.gate_cuts == _qiskit_cx_cut(c, group)
    best = min(
        int(np.sum(np.asarray(lab)[pairs[:, 0]] != np.asarray(lab)[pairs[:, 1]]))
        for lab in itertools.product(range(-(-n // budget) + 1), repeat=n)
        if max(np.bincount(lab)) <= budget
    )
    assert est.gate_cuts == best
    assert est.overhead == pytest.approx(9.0**best)


def _qiskit_cx_cut(c: Circuit, group: dict[int, int]) -> int:
    """CNOTs of Qiskit's decomposition whose two qubits lie in different groups."""
    from qiskit import transpile

    qc = transpile(to_qiskit(c), basis_gates=["cx", "u"], optimization_level=0)
    return sum(
        group[qc.find_bit(i.qubits[0]).index] != group[qc.find_bit(i.qubits[1]).index]
        for i in qc.data
        if i.operation.name == "cx"
    )


def test_fitting_circuits_and_overflowing_overheads() -> None:
    c = Circuit(3).cnot(0, 1).cnot(1, 2)
    assert estimate_cuts(c, 3).partition == ((0, 1, 2),)
    wide = Circuit(2)
    for _ in range(400):
        wide.cnot(0, 1)
    est = estimate_cuts(wide, 1)
    assert est.gate_cuts == 400 and est.overhead == float("inf")
    assert est.log10_overhead == pytest.approx(400 * np.log10(9.0))
    with pytest.raises(ValueError, match="qubit_budget must be an integer >= 1; got True"):
        estimate_cuts(c, True)


def test_find_cuts_on_a_circuit_with_rotations() -> None:
    """qiskit-addon-cutting on the skeleton of a circuit with single-qubit gates: its
    overhead is 9 per gate cut and 16 per wire cut, and a fitting circuit is not cut."""
    pytest.importorskip("qiskit_addon_cutting")
    from quarch.cost.cutting import find_cuts_qiskit

    c = Circuit(4).ry(0, 0.3).cnot(0, 1).rz(1, 0.2).crz(1, 2, 0.5).ry(2, 0.1).cnot(2, 3)
    q = find_cuts_qiskit(c, 2)
    assert q.method == "qiskit" and q.subcircuits >= 2 and q.gate_cuts + q.wire_cuts >= 1
    assert q.overhead == pytest.approx(9.0**q.gate_cuts * 16.0**q.wire_cuts)
    fits = find_cuts_qiskit(c, 4)
    assert (fits.subcircuits, fits.overhead, fits.method) == (1, 1.0, "qiskit")


def _best_cut(pairs: np.ndarray, n: int, budget: int, groups: int) -> int:
    """Fewest cut CNOTs over every labelling of ``n`` qubits into up to ``groups``
    groups of at most ``budget`` (brute force)."""
    import itertools

    return min(
        int(np.sum(np.asarray(lab)[pairs[:, 0]] != np.asarray(lab)[pairs[:, 1]]))
        for lab in itertools.product(range(groups), repeat=n)
        if max(np.bincount(lab)) <= budget
    )


@pytest.mark.parametrize("seed", [0, 7, 17, 29, 32])
def test_local_search_ends_in_a_local_optimum(seed: int) -> None:
    """No single move (within the budget) and no single swap of the labelling it returns
    cuts fewer CNOTs, and it never cuts more than its start. The seeds are instances
    where one pass is not enough, or an improving swap is of neighbouring qubits (out of
    the first 400, those where a search that stops after one improving pass, skips
    neighbours' swaps, or stops a qubit's swaps at its first partner in the same group
    ends short of a local optimum)."""
    from quarch.cost.cutting import _cost, _local_search

    rng = np.random.default_rng(seed)
    n, k, budget = 7, 3, 3
    pairs = rng.integers(0, n, (14, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    start = np.array([0, 0, 1, 1, 2, 2, 0])
    label = _local_search(start.copy(), pairs, k, budget)
    best = _cost(label, pairs)
    assert best <= _cost(start, pairs) and max(np.bincount(label)) <= budget
    sizes = np.bincount(label, minlength=k)
    for q in range(n):
        for g in range(k):
            if g != label[q] and sizes[g] < budget:
                moved = label.copy()
                moved[q] = g
                assert _cost(moved, pairs) >= best, (q, g)
        for r in range(n):
            swapped = label.copy()
            swapped[q], swapped[r] = label[r], label[q]
            assert _cost(swapped, pairs) >= best, (q, r)


def test_a_wide_circuit_without_two_qubit_gates_is_split_without_cuts() -> None:
    c = Circuit(5)
    for w in range(5):
        c.ry(w, 0.3)
    est = estimate_cuts(c, 2)
    # the fewest groups that fit: ceil(5 / 2), nothing cut
    assert (est.subcircuits, est.gate_cuts, est.overhead) == (3, 0, 1.0)


def test_one_more_group_than_needed_can_cut_fewer() -> None:
    """Clusters of 3, 3 and 2 qubits, two CNOTs between the first two: three groups cut
    those 2 CNOTs; two groups of 4 must split a cluster and cut more. The estimate takes
    three (brute force agrees on both counts)."""
    c = Circuit(8)
    for a, b in ((0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)):
        c.cnot(a, b).cnot(b, a)
    c.cnot(6, 7).cnot(7, 6).cnot(6, 7)
    c.cnot(0, 3).cnot(1, 4)
    pairs = np.array([w for k, w in cnot_skeleton(c) if k == "cx"])
    assert _best_cut(pairs, 8, 4, 2) > 2 == _best_cut(pairs, 8, 4, 3)
    est = estimate_cuts(c, 4)
    assert (est.gate_cuts, est.subcircuits) == (2, 3)
    assert est.partition == ((0, 1, 2), (3, 4, 5), (6, 7))


def test_equal_partitions_keep_the_first_in_wire_order() -> None:
    """A ring of 4 into groups of 2: {0,1}{2,3} and {1,2}{3,0} both cut 2 CNOTs; the
    estimate reports the first found, the blocks in wire order (a stable answer)."""
    c = Circuit(4).cnot(0, 1).cnot(1, 2).cnot(2, 3).cnot(3, 0)
    est = estimate_cuts(c, 2)
    assert (est.gate_cuts, est.partition) == (2, ((0, 1), (2, 3)))


def test_gates_after_an_amplitude_embedding_are_in_the_skeleton() -> None:
    c = Circuit(3).amplitude_embedding(8, normalize=True)
    c.cnot(0, 2)
    sk = cnot_skeleton(c)
    assert sk[0] == ("1q", (0,)) and sk[-1] == ("cx", (0, 2))  # the first RY is on wire 0
    assert sum(k == "cx" for k, _ in sk) == 2**3 - 2 + 1
    one = Circuit(1).amplitude_embedding(2, normalize=True)
    assert cnot_skeleton(one) == [("1q", (0,))]  # one wire: one RY, on that wire


def test_find_cuts_moves_a_hub_qubit_with_one_wire_cut() -> None:
    """Qubit 0 talks to {1, 2} and then to {3, 4}: qiskit-addon-cutting cuts its wire
    once (gamma 4, overhead 16) instead of six CNOTs (9**6)."""
    pytest.importorskip("qiskit_addon_cutting")
    from quarch.cost.cutting import WIRE_GAMMA, find_cuts_qiskit

    c = Circuit(5)
    for _ in range(3):
        c.cnot(0, 1).cnot(0, 2)
    c.cnot(1, 2)
    for _ in range(3):
        c.cnot(0, 3).cnot(0, 4)
    c.cnot(3, 4)
    q = find_cuts_qiskit(c, 3)
    assert (q.wire_cuts, q.gate_cuts, q.subcircuits) == (1, 0, 2)
    assert q.overhead == pytest.approx(WIRE_GAMMA**2)


def test_a_circuit_at_the_budget_is_one_subcircuit_even_with_an_idle_wire() -> None:
    # qiskit-addon-cutting's partition would count the unconnected wire 2 as a second
    # subcircuit; a circuit that fits runs as one
    pytest.importorskip("qiskit_addon_cutting")
    from quarch.cost.cutting import find_cuts_qiskit

    c = Circuit(3).h(0).h(1).cnot(0, 1).h(2)
    q = find_cuts_qiskit(c, 3)
    assert (q.subcircuits, q.overhead, q.gate_cuts, q.wire_cuts) == (1, 1.0, 0, 0)
    assert estimate_cuts(c, 3).subcircuits == 1


def test_without_the_addon_the_error_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from quarch.cost.cutting import find_cuts_qiskit

    monkeypatch.setitem(sys.modules, "qiskit_addon_cutting", None)  # import fails
    with pytest.raises(
        ImportError,
        match=r"^find_cuts_qiskit needs qiskit-addon-cutting: pip install qiskit-addon-cutting$",
    ):
        find_cuts_qiskit(Circuit(3).cnot(0, 1).cnot(1, 2), 2)


def _brute_devices(widths: list[int], budget: int) -> int:
    """Try every assignment of the pieces to k devices, k = 1, 2, ..."""
    import itertools

    for k in range(1, len(widths) + 1):
        for labels in itertools.product(range(k), repeat=len(widths)):
            load = [0] * k
            for w, g in zip(widths, labels, strict=True):
                load[g] += w
            if max(load) <= budget:
                return k
    return 1


def test_fewest_devices_is_the_brute_force_packing() -> None:
    from quarch.cost.cutting import fewest_devices

    gen = np.random.default_rng(3)
    for _ in range(150):
        budget = int(gen.integers(1, 8))
        widths = [int(w) for w in gen.integers(1, budget + 1, size=int(gen.integers(1, 7)))]
        assert fewest_devices(widths, budget) == _brute_devices(widths, budget), (widths, budget)
    # first-fit decreasing would open a third device here
    assert fewest_devices([3, 3, 2, 2, 2, 2], 7) == 2 == _brute_devices([3, 3, 2, 2, 2, 2], 7)
    with pytest.raises(ValueError, match="a piece of 4 qubits exceeds the budget of 3"):
        fewest_devices([1, 4], 3)


def test_pieces_without_a_gate_between_them_share_a_device() -> None:
    """Three pairs of 2 qubits, devices of 4: no cut is needed, and the addon's
    partition has 3 pieces; two devices hold them, as the built-in estimate says."""
    pytest.importorskip("qiskit_addon_cutting")
    from qiskit_addon_cutting import partition_problem

    from quarch.cost.cutting import find_cuts_qiskit, skeleton_to_qiskit

    c = Circuit(6).cnot(0, 1).cnot(2, 3).cnot(4, 5)
    assert len(partition_problem(circuit=skeleton_to_qiskit(c)).subcircuits) == 3
    q = find_cuts_qiskit(c, 4)
    b = estimate_cuts(c, 4)
    assert (q.subcircuits, q.gate_cuts, q.wire_cuts, q.overhead) == (2, 0, 0, 1.0)
    assert (b.subcircuits, b.gate_cuts) == (2, 0)
