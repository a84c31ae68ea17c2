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
