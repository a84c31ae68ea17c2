"""``estimate_cuts`` on circuits whose CNOTs leave whole groups of qubits unconnected.

When the CNOTs connect the qubits in components that fit the budget, a partition along
the components cuts no CNOT: the fewest cuts is 0, known without a search. Such
circuits (found among random ones) separate the groups the estimate tries: the
docstring's ``ceil(n / budget)`` and one more.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quarch.cost.cutting import estimate_cuts
from quarch.quantum import Circuit


def _cnots(n: int, pairs: list[tuple[int, int]]) -> Circuit:
    c = Circuit(n)
    for a, b in pairs:
        c.cnot(a, b)
    return c


def test_one_more_group_finds_the_cut_free_partition() -> None:
    """Qubits 0-6 connected, 7 alone, budget 7: {0..6} and {7} cut nothing. The local
    search from two contiguous blocks ends at one cut; from three blocks (one left
    empty and dropped) it finds the two components."""
    c = _cnots(8, [(4, 5), (5, 2), (3, 2), (5, 6), (1, 0), (5, 3), (1, 2)])
    est = estimate_cuts(c, 7)
    assert est.gate_cuts == 0 and est.overhead == 1.0
    assert sorted(map(sorted, est.partition)) == [[0, 1, 2, 3, 4, 5, 6], [7]]


def test_components_that_fit_the_budget_are_never_cut() -> None:
    c = _cnots(7, [(2, 4), (0, 3), (4, 5), (1, 2)])
    assert estimate_cuts(c, 5).gate_cuts == 0


def _components(n: int, pairs: list[tuple[int, int]]) -> list[tuple[int, ...]]:
    comp = {q: {q} for q in range(n)}
    for a, b in pairs:
        merged = comp[a] | comp[b]
        for q in merged:
            comp[q] = merged
    return sorted({tuple(sorted(c)) for c in comp.values()})


def _packs(sizes: list[int], groups: int, budget: int) -> bool:
    """Brute force: can components of these sizes fill at most ``groups`` groups?"""
    return any(
        all(sum(s for s, g in zip(sizes, assign, strict=True) if g == h) <= budget
            for h in range(groups))
        for assign in itertools.product(range(groups), repeat=len(sizes))
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(40))
def test_a_cut_free_partition_within_the_groups_tried_is_found(seed: int) -> None:
    """Brute force over the components' assignments: wherever the components fit the
    budget in ``ceil(n / budget)`` or one more groups, the estimate cuts nothing."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 8))
    budget = int(rng.integers(2, n))
    pairs = [
        (int(a), int(b))
        for a, b in (rng.choice(n, 2, replace=False) for _ in range(int(rng.integers(1, n))))
    ]
    sizes = [len(c) for c in _components(n, pairs)]
    k0 = -(-n // budget)
    fits = max(sizes) <= budget and _packs(sizes, k0 + 1, budget)
    est = estimate_cuts(_cnots(n, pairs), budget)
    assert (est.gate_cuts == 0) == fits or (not fits and est.gate_cuts > 0)
    if fits:
        assert est.gate_cuts == 0 and len(est.partition) <= k0 + 1


def _fewest_cuts(n: int, pairs: list[tuple[int, int]], groups: int, budget: int) -> int:
    """Brute force over every assignment of the wires to ``groups`` groups of at most
    ``budget`` wires: the fewest CNOTs whose wires are in different groups."""
    best = len(pairs)
    for assign in itertools.product(range(groups), repeat=n):
        if max(assign.count(g) for g in range(groups)) <= budget:
            best = min(best, sum(assign[a] != assign[b] for a, b in pairs))
    return best


def test_the_second_group_count_tried_is_one_more_than_the_least() -> None:
    """A circuit (found among random ones) where searching 2 and 3 groups finds the
    fewest cuts, 1, and 2 and 4 groups would stop at 2."""
    pairs = [(0, 4), (2, 5), (0, 4), (2, 1), (4, 2), (5, 0), (0, 5), (6, 0), (6, 3), (7, 5),
             (6, 3), (7, 1)]  # fmt: skip
    est = estimate_cuts(_cnots(8, pairs), 7)
    assert _fewest_cuts(8, pairs, 3, 7) == 1
    assert (est.gate_cuts, est.subcircuits) == (1, 2)


def test_components_that_do_not_pack_into_the_least_groups() -> None:
    """Three pairs, budget 3: two groups cannot hold three pairs whole (the packing
    gives up), three can, with no cut."""
    pairs = [(0, 1), (2, 3), (4, 5)]
    assert _fewest_cuts(6, pairs, 2, 3) == 1
    est = estimate_cuts(_cnots(6, pairs), 3)
    assert (est.gate_cuts, est.subcircuits) == (0, 3)
    assert sorted(map(sorted, est.partition)) == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.parametrize(
    ("n", "budget", "pairs", "groups", "want"),
    [
        # largest components first: 2+2 wires, then 1+1+1+1 fill two groups of 4
        (8, 4, [(3, 4), (0, 2), (0, 5), (7, 6)], 2, (0, 2)),
        # a component that exactly fills a group's room goes in (>=, not >)
        (9, 4, [(5, 1), (8, 6), (6, 7), (5, 7), (5, 4), (0, 1)], 3, (1, 3)),
    ],
)
def test_packing_fills_groups_largest_first_to_the_brim(
    n: int, budget: int, pairs: list[tuple[int, int]], groups: int, want: tuple[int, int]
) -> None:
    """Circuits (found among random ones) whose fewest cuts the estimate reaches only
    through the components packed first-fit decreasing."""
    assert _fewest_cuts(n, pairs, groups, budget) == want[0]
    est = estimate_cuts(_cnots(n, pairs), budget)
    assert (est.gate_cuts, est.subcircuits) == want
