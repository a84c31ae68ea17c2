"""The engine's layout bookkeeping (:mod:`quarch.quantum._layout`) against brute force.

``sigma`` maps a stored index to the true basis index (the stored state is
``psi_true[sigma]``). Each claim is checked by simulating what it promises with plain
numpy, written here independently of the module: bit strings for :func:`bits_apply`,
``einsum`` on the true wires for :func:`place` and :func:`local_map`, and dense products
of PennyLane's gate matrices for :func:`schedule`.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import pytest

from quarch.quantum._layout import bits_apply, local_map, place, schedule
from quarch.quantum._plan import Gate

qml = pytest.importorskip("pennylane")

_PL = {  # quarch name -> PennyLane operation (the truth of each matrix)
    "h": qml.Hadamard, "x": qml.PauliX, "z": qml.PauliZ, "s": qml.S,
    "cnot": qml.CNOT, "cz": qml.CZ, "swap": qml.SWAP, "ccx": qml.Toffoli,
    "cswap": qml.CSWAP,
}  # fmt: skip
_PERM = {"x", "cnot", "swap", "ccx", "cswap"}
_WIDTH = {"h": 1, "x": 1, "z": 1, "s": 1, "cnot": 2, "cz": 2, "swap": 2, "ccx": 3, "cswap": 3}


def _gate(name: str, *wires: int) -> Gate:
    """A constant gate as the engine holds it, its matrix PennyLane's."""
    m = np.asarray(qml.matrix(_PL[name](wires=range(len(wires)))), dtype=np.complex128)
    return Gate(name, tuple(wires), (), m, name in _PERM, False)


def _random_gates(n: int, count: int, rng: np.random.Generator) -> list[Gate]:
    names = [g for g, w in _WIDTH.items() if w <= n]
    out = []
    for _ in range(count):
        name = names[int(rng.integers(len(names)))]
        out.append(_gate(name, *rng.choice(n, _WIDTH[name], replace=False).tolist()))
    return out


def _apply(psi: np.ndarray, m: np.ndarray, wires: tuple[int, ...], n: int) -> np.ndarray:
    """``m`` (first of ``wires`` most significant) on the true state (wire 0 = MSB)."""
    r = len(wires)
    t = psi.reshape((2,) * n)
    t = np.moveaxis(t, list(wires), list(range(r)))
    t = np.tensordot(m.reshape((2,) * (2 * r)), t, axes=(list(range(r, 2 * r)), list(range(r))))
    return np.moveaxis(t, list(range(r)), list(wires)).reshape(-1)


def _dense(gates: list[Gate], n: int) -> np.ndarray:
    """The unitary of ``gates`` in order, column by column."""
    eye = np.eye(2**n, dtype=np.complex128)
    cols = []
    for j in range(2**n):
        psi = eye[j]
        for g in gates:
            assert g.const is not None
            psi = _apply(psi, g.const, g.wires, n)
        cols.append(psi)
    return np.stack(cols, 1)


def _images(g: Gate) -> np.ndarray:
    """``images[local] = new local`` of a permutation gate (where column ``j``'s 1 is)."""
    assert g.const is not None
    return np.argmax(np.abs(g.const), axis=0)


def _sigma_after(gates: list[Gate], n: int) -> np.ndarray:
    """The layout after deferring ``gates`` from the identity, by :func:`bits_apply`."""
    sigma = np.arange(2**n, dtype=np.int64)
    for g in gates:
        sigma = bits_apply(sigma, n, g.wires, _images(g))
    return sigma


def _unitary(d: int, rng: np.random.Generator) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))
    return q


# ---------------------------------------------------------------- bits_apply


@pytest.mark.parametrize("seed", range(6))
def test_bits_apply_moves_each_index_like_bit_strings(seed: int) -> None:
    """Any permutation of the local index of a few wires, on indices of any order, is
    the bit-string rewrite: read the wires' bits (first wire most significant), look
    the local index up, write the new bits back, leave the other bits alone."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    r = int(rng.integers(1, n + 1))
    wires = tuple(int(w) for w in rng.choice(n, r, replace=False))
    images = rng.permutation(2**r)
    t = rng.permutation(2**n).astype(np.int64)
    got = bits_apply(t, n, wires, images)
    for before, after in zip(t, got, strict=True):
        bits = list(format(int(before), f"0{n}b"))
        local = int("".join(bits[w] for w in wires), 2)
        new = format(int(images[local]), f"0{r}b")
        for w, b in zip(wires, new, strict=True):
            bits[w] = b
        assert int(after) == int("".join(bits), 2)
    np.testing.assert_array_equal(np.sort(got), np.arange(2**n))


def test_bits_apply_leaves_its_input_alone() -> None:
    t = np.arange(8, dtype=np.int64)
    bits_apply(t, 3, (0, 2), np.array([3, 2, 1, 0]))
    np.testing.assert_array_equal(t, np.arange(8))


@pytest.mark.parametrize("seed", range(4))
def test_deferred_gates_keep_the_stored_state_the_true_one(seed: int) -> None:
    """A stored state never touched by deferred permutation gates is the true state
    after them, read through the layout: ``psi_true_after[sigma] == psi_before``."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(3, 6))
    perms = [g for g in _random_gates(n, 12, rng) if g.perm][:6]
    psi = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    np.testing.assert_allclose((_dense(perms, n) @ psi)[_sigma_after(perms, n)], psi)


# ---------------------------------------------------------------- local_map / place


def _check_block(
    sigma: np.ndarray, n: int, wires: tuple[int, ...], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray | None, int, tuple[int, ...], np.ndarray | None]:
    """Run :func:`place` and check, by simulation, that its gather keeps the stored
    state the true one and that a random block matrix applied at its stored bits (with
    its local index map) equals the matrix on the true wires."""
    upcoming = [set(rng.choice(n, 2, replace=False).tolist()) for _ in range(2)]
    new_sigma, gather, lo, order, conj = place(sigma, n, wires, upcoming)
    k = len(wires)
    psi = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    stored = psi[sigma]
    if gather is None:
        np.testing.assert_array_equal(new_sigma, sigma)
        assert lo in (0, n - k)  # in place only on the last or the first bits
    else:
        stored = stored[gather]
        assert lo == 0
    np.testing.assert_allclose(stored, psi[new_sigma])
    assert sorted(order) == sorted(wires)
    m = _unitary(2**k, rng)
    if conj is None:
        stored_m, true_wires = m, order
    else:  # the matrix seen on the stored bits: U[f(a), f(a')]
        assert order == wires
        np.testing.assert_array_equal(np.sort(conj), np.arange(2**k))
        stored_m, true_wires = m[conj[:, None], conj[None, :]], wires
    t = stored.reshape(2 ** (n - lo - k), 2**k, 2**lo)
    after = np.einsum("ab,xbz->xaz", stored_m, t).reshape(-1)
    np.testing.assert_allclose(after, _apply(psi, m, true_wires, n)[new_sigma], atol=1e-12)
    return new_sigma, gather, lo, order, conj


@pytest.mark.parametrize("seed", range(20))
def test_place_runs_a_block_where_its_matrix_acts_on_its_wires(seed: int) -> None:
    """After a random run of deferred permutation gates, a block on random wires runs
    at the stored bits :func:`place` gives (after its gather, if any), with the wire
    order and local map it gives, exactly as the block's matrix on the true wires."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    sigma = _sigma_after([g for g in _random_gates(n, 10, rng) if g.perm], n)
    k = int(rng.integers(1, n + 1))
    wires = tuple(sorted(int(w) for w in rng.choice(n, k, replace=False)))
    _check_block(sigma, n, wires, rng)


def test_place_in_place_on_the_last_and_the_first_bits() -> None:
    """Identity layout: a block on the last wires runs at stored bit 0 and one on the
    first wires at bit ``n - k``, both without a gather and in plain wire order."""
    sigma = np.arange(32, dtype=np.int64)
    assert place(sigma, 5, (3, 4), [])[1:4] == (None, 0, (3, 4))
    assert place(sigma, 5, (0, 1, 2), [])[1:4] == (None, 2, (0, 1, 2))
    assert place(sigma, 5, (0, 1, 2), [])[4] is None
    assert local_map(sigma, 5, (3, 4), 0) == ((3, 4), None)
    assert local_map(sigma, 5, (0, 1), 3) == ((0, 1), None)
    assert local_map(sigma, 5, (1, 2), 2) == ((1, 2), None)  # the middle bits fit too


@pytest.mark.parametrize(("wires", "lo"), [((1, 2), 0), ((0, 2), 3), ((2, 3), 3), ((0, 4), 0)])
def test_local_map_refuses_wires_off_the_given_bits(wires: tuple[int, int], lo: int) -> None:
    sigma = np.arange(32, dtype=np.int64)
    assert local_map(sigma, 5, wires, lo) is None


def test_a_swapped_layout_reorders_the_block_wires() -> None:
    """After a deferred SWAP(3, 4) the wires 3, 4 are stored the other way round: the
    block runs in place with its matrix built in wire order (4, 3), no local map."""
    sigma = _sigma_after([_gate("swap", 3, 4)], 5)
    assert local_map(sigma, 5, (3, 4), 0) == ((4, 3), None)
    rng = np.random.default_rng(0)
    assert _check_block(sigma, 5, (3, 4), rng)[1:4] == (None, 0, (4, 3))


def test_a_cnot_layout_gives_a_local_map() -> None:
    """After a deferred CNOT(3, 4) the stored bits of 3, 4 mix (not a bit order): the
    block keeps wire order (3, 4) and a local map, CNOT's own permutation."""
    sigma = _sigma_after([_gate("cnot", 3, 4)], 5)
    order, conj = local_map(sigma, 5, (3, 4), 0)  # type: ignore[misc]
    assert order == (3, 4)
    np.testing.assert_array_equal(conj, [0, 1, 3, 2])
    assert local_map(_sigma_after([_gate("x", 4)], 5), 5, (3, 4), 0)[1] is not None  # type: ignore[index]
    assert local_map(_sigma_after([_gate("x", 3)], 5), 5, (3, 4), 0)[1] is not None  # type: ignore[index]


def test_a_cnot_into_other_wires_blocks_an_in_place_run() -> None:
    """CNOT(4, 0) deferred: the stored bit of wire 4 now also decides wire 0, so a block
    on (3, 4) no longer owns stored bits 0..1 (``None``), and :func:`place` gathers."""
    sigma = _sigma_after([_gate("cnot", 4, 0)], 5)
    assert local_map(sigma, 5, (3, 4), 0) is None
    rng = np.random.default_rng(1)
    _, gather, lo, _, _ = _check_block(sigma, 5, (3, 4), rng)
    assert gather is not None and lo == 0


def test_the_gather_puts_the_next_disjoint_block_first() -> None:
    """A block on the middle wires (1, 2) gathers: it then sits on the last stored bits
    and the next block of ``upcoming`` that shares no wire with it on the first bits,
    so both run in place; an overlapping upcoming block is skipped."""
    n = 6
    sigma = np.arange(2**n, dtype=np.int64)
    new_sigma, gather, lo, order, conj = place(sigma, n, (1, 2), [{2, 3}, {5, 4}, {0, 3}])
    assert gather is not None and (lo, order, conj) == (0, (1, 2), None)
    assert local_map(new_sigma, n, (4, 5), n - 2) == ((4, 5), None)
    # the other wires keep their order between them
    rest = [w for w in range(n) if w not in (1, 2, 4, 5)]
    assert rest == [0, 3]
    assert local_map(new_sigma, n, (0, 3), 2) == ((0, 3), None)
    # no disjoint upcoming block: the other wires in order, then the block
    new_sigma, gather, _, _, _ = place(sigma, n, (1, 2), [{1, 4}])
    assert gather is not None
    assert local_map(new_sigma, n, (0, 3, 4, 5), 2) == ((0, 3, 4, 5), None)


# ---------------------------------------------------------------- schedule


def _flatten(items: list[Gate | list[Gate]]) -> list[Gate]:
    return [g for it in items for g in (it if isinstance(it, list) else [it])]


@pytest.mark.parametrize("seed", range(12))
def test_schedule_keeps_the_unitary_and_the_block_width(seed: int) -> None:
    """Random constant circuits: the items, in order, multiply to the circuit's unitary
    (gates are only moved past gates on other wires), every gate appears once, no
    block is wider than ``k``, and a block is never only permutation gates (those are
    deferred into the layout)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 6))
    k = int(rng.integers(max(1, 3 if n >= 3 else 2), n + 1))
    gates = _random_gates(n, 14, rng)
    items = schedule(gates, k)
    flat = _flatten(items)
    assert sorted(map(id, flat)) == sorted(map(id, gates))
    np.testing.assert_allclose(_dense(flat, n), _dense(gates, n), atol=1e-12)
    for it in items:
        if isinstance(it, list):
            assert 0 < len({w for g in it for w in g.wires}) <= k
            assert not all(g.perm for g in it)
        else:
            assert it.perm


def _shape(items: list[Gate | list[Gate]]) -> list[object]:
    return [[g.name for g in it] if isinstance(it, list) else it.name for it in items]


def test_schedule_blocks_are_greedy() -> None:
    """Each block takes every later gate that fits (at most ``k`` wires, no wire a
    skipped gate already blocks), in order."""
    h = [_gate("h", w) for w in range(4)]
    cz01, cz12, cz23 = _gate("cz", 0, 1), _gate("cz", 1, 2), _gate("cz", 2, 3)
    items = schedule([h[0], h[1], cz01, h[2], cz12, h[3], cz23], 2)
    # h2 would make three wires: skipped, it blocks wire 2 (so cz12, cz23 wait); h3
    # would too; the next block starts at h2 and takes cz12, the one after it the rest
    assert _shape(items) == [["h", "h", "cz"], ["h", "cz"], ["h", "cz"]]
    assert _shape(schedule([h[0], h[1], cz01, h[2], cz12, h[3], cz23], 4)) == [
        ["h", "h", "cz", "h", "cz", "h", "cz"]
    ]
    # width 3: cz23 would make four wires
    assert _shape(schedule([h[0], cz01, cz12, cz23, h[3]], 3)) == [["h", "cz", "cz"], ["cz", "h"]]


def test_schedule_defers_permutation_runs_wider_than_a_block() -> None:
    """A ring of CNOTs on 4 wires with ``k = 2`` is deferred gate by gate (its first
    disjoint run spans 4 > 2 wires); with ``k = 4`` the same run fits a block, so it
    stays a block only if something else shares it, else it is deferred too."""
    ring = [_gate("cnot", 0, 1), _gate("cnot", 2, 3), _gate("cnot", 1, 2), _gate("cnot", 3, 0)]
    h = _gate("h", 1)
    items = schedule([*ring, h], 2)
    assert _shape(items) == ["cnot", "cnot", "cnot", "cnot", ["h"]]
    # k = 4: the front run (4 wires) fits, so blocks are formed; all-permutation
    # blocks are still deferred, gate by gate
    items = schedule([*ring, h], 4)
    assert _shape(items) == [["cnot", "cnot", "cnot", "cnot", "h"]]
    assert _shape(schedule(ring, 4)) == ["cnot", "cnot", "cnot", "cnot"]
    # a narrow front run (2 wires <= k = 2) joins the block of the gate after it
    assert _shape(schedule([_gate("cnot", 0, 1), _gate("h", 0)], 2)) == [["cnot", "h"]]


def test_schedule_front_run_stops_at_a_blocked_wire() -> None:
    """The deferred front run takes permutation gates until a non-permutation gate
    blocks their wires: CNOT(0,1), H(1), CNOT(1,2), CNOT(2,3) with ``k = 2`` defers
    only the first CNOT up front (CNOT(1,2) waits for H(1); CNOT(2,3) waits for it)."""
    gates = [_gate("cnot", 0, 1), _gate("h", 1), _gate("cnot", 1, 2), _gate("cnot", 2, 3),
             _gate("cnot", 3, 0)]  # fmt: skip
    items = schedule(gates, 2)
    assert _shape(items)[0] == ["cnot", "h"]
    np.testing.assert_allclose(_dense(_flatten(items), 4), _dense(gates, 4), atol=1e-12)


def test_schedule_of_nothing_is_nothing() -> None:
    assert schedule([], 3) == []


@pytest.mark.parametrize("order", list(permutations(range(3))))
def test_schedule_of_one_wide_gate(order: tuple[int, ...]) -> None:
    """A Toffoli alone is deferred; with an H on one of its wires after it, a block."""
    ccx = _gate("ccx", *order)
    assert _shape(schedule([ccx], 3)) == ["ccx"]
    assert _shape(schedule([ccx, _gate("h", order[0])], 3)) == [["ccx", "h"]]


def test_a_block_on_the_first_bits_that_steers_the_last_wire_gathers() -> None:
    """CNOT(0, 4) deferred: the true bit of the last wire (stored bit 0) now depends on
    wire 0's stored bit, so a block on (0, 1) does not own stored bits 3..4 alone
    (``None``) and :func:`place` gathers before it."""
    sigma = _sigma_after([_gate("cnot", 0, 4)], 5)
    assert local_map(sigma, 5, (0, 1), 3) is None
    _, gather, _, _, _ = _check_block(sigma, 5, (0, 1), np.random.default_rng(3))
    assert gather is not None
