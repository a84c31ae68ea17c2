"""Block fusion (:mod:`quarch.quantum._fuse`) against PennyLane's matrices and dense
products computed here: a block's factors, multiplied in order, must be the product of
its gates on the block's wires, and the fusion must give the few factors it promises
(one Kronecker layer per run of one-qubit gates, constants merged into one)."""

from __future__ import annotations

import dataclasses
from functools import reduce
from itertools import pairwise

import numpy as np
import pytest

from quarch.quantum import Circuit, Param
from quarch.quantum._fuse import (
    block_factors,
    embed_index,
    embed_np,
    kron_np,
    merge_constants,
    split_rot,
)
from quarch.quantum._plan import Factor, Gate

qml = pytest.importorskip("pennylane")

_PL = {  # quarch name -> PennyLane operation
    "h": qml.Hadamard, "x": qml.PauliX, "y": qml.PauliY, "z": qml.PauliZ, "s": qml.S,
    "t": qml.T, "rx": qml.RX, "ry": qml.RY, "rz": qml.RZ, "phase": qml.PhaseShift,
    "cnot": qml.CNOT, "cz": qml.CZ, "swap": qml.SWAP, "crx": qml.CRX, "cry": qml.CRY,
    "crz": qml.CRZ, "rxx": qml.IsingXX, "rzz": qml.IsingZZ, "ccx": qml.Toffoli,
}  # fmt: skip
_WIDTH = {"cnot": 2, "cz": 2, "swap": 2, "crx": 2, "cry": 2, "crz": 2, "rxx": 2, "rzz": 2,
          "ccx": 3}  # fmt: skip
_ANGLED = {"rx", "ry", "rz", "phase", "crx", "cry", "crz", "rxx", "rzz"}


def _pl_matrix(name: str, params: tuple[float, ...], r: int) -> np.ndarray:
    return np.asarray(qml.matrix(_PL[name](*params, wires=range(r))), dtype=np.complex128)


def _gate(
    name: str, wires: tuple[int, ...], angle: float | None = None, *, fixed: bool = False
) -> Gate:
    """A gate as the engine holds it: constant (its matrix known; ``fixed``: an angled
    gate of a constant angle) or with a run-time angle (``const`` None; the angle kept
    here for the truth)."""
    params = () if angle is None else (angle,)
    if angle is None or fixed:
        m = _pl_matrix(name, params, len(wires))
        return Gate(name, wires, params, m, name in {"x", "cnot", "swap", "ccx"}, False)
    return Gate(name, wires, params, None, False, False)


def _matrix(g: Gate) -> np.ndarray:
    return _pl_matrix(g.name, tuple(float(p) for p in g.params), len(g.wires))  # type: ignore[arg-type]


def _apply(psi: np.ndarray, m: np.ndarray, wires: list[int], n: int) -> np.ndarray:
    """``m`` (first of ``wires`` most significant) on a state of ``n`` wires (0 = MSB)."""
    r = len(wires)
    t = np.moveaxis(psi.reshape((2,) * n), wires, list(range(r)))
    t = np.tensordot(m.reshape((2,) * (2 * r)), t, axes=(list(range(r, 2 * r)), list(range(r))))
    return np.moveaxis(t, list(range(r)), wires).reshape(-1)


def _dense(ms: list[tuple[np.ndarray, list[int]]], n: int) -> np.ndarray:
    eye = np.eye(2**n, dtype=np.complex128)
    cols = []
    for j in range(2**n):
        psi = eye[j]
        for m, wires in ms:
            psi = _apply(psi, m, wires, n)
        cols.append(psi)
    return np.stack(cols, 1)


def _factor_matrix(f: Factor, k: int) -> np.ndarray:
    if f.kind == "C":
        assert f.const is not None and f.rows is None and f.gate is None
        return f.const
    if f.kind == "K":
        assert f.rows is not None and len(f.rows) == k
        rows = []
        for row in f.rows:
            m = np.eye(2, dtype=np.complex128)
            for g in row:
                m = (_matrix(g) if g.const is None else g.const) @ m
            rows.append(m)
        return reduce(np.kron, rows)
    assert f.kind == "P" and f.gate is not None
    return _dense([(_matrix(f.gate), list(f.local))], k)


# ---------------------------------------------------------------- embedding, kron


@pytest.mark.parametrize(
    ("local", "k"), [([0], 1), ([1], 3), ([2, 0], 3), ([0, 1], 2), ([3, 1], 4), ([1, 3, 0], 4)]
)
def test_embedding_equals_the_gate_on_its_block_positions(local: list[int], k: int) -> None:
    """A random matrix on block positions ``local`` (first most significant) embedded
    into ``2^k``: the matrix of applying it to those positions of ``k`` qubits."""
    rng = np.random.default_rng(len(local) * 10 + k)
    r = len(local)
    m = rng.normal(size=(2**r, 2**r)) + 1j * rng.normal(size=(2**r, 2**r))
    want = _dense([(m, local)], k)
    np.testing.assert_allclose(embed_np(m, local, k), want, atol=1e-12)
    ai, mask = embed_index(tuple(local), k)
    np.testing.assert_allclose(m[ai[:, None], ai[None, :]] * mask, want, atol=1e-12)
    assert ai.dtype == np.int64 and mask.dtype == bool


def test_kron_np_is_the_first_factor_most_significant_product() -> None:
    rng = np.random.default_rng(5)
    mats = [rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)) for _ in range(3)]
    np.testing.assert_allclose(kron_np(mats), np.kron(np.kron(mats[0], mats[1]), mats[2]))
    np.testing.assert_array_equal(kron_np([]), np.ones((1, 1)))
    assert kron_np([np.eye(2)]).dtype == np.complex128


# ---------------------------------------------------------------- split_rot


def test_split_rot_is_pennylanes_rot() -> None:
    """``Rot(phi, theta, omega)`` becomes RZ(phi), RY(theta), RZ(omega) on its wire,
    whose product (first applied first) is PennyLane's Rot; other ops pass through, in
    order, unchanged."""
    c = Circuit(2).h(0).rot(1, 0.3, -1.1, 2.4).cnot(0, 1)
    out = split_rot(c.ops)
    assert [op.name for op in out] == ["h", "rz", "ry", "rz", "cnot"]
    assert out[0] is c.ops[0] and out[-1] is c.ops[2]
    assert [op.wires for op in out[1:4]] == [(1,), (1,), (1,)]
    m = np.eye(2, dtype=np.complex128)
    for op in out[1:4]:
        m = _pl_matrix(op.name, op.params, 1) @ m
    np.testing.assert_allclose(m, _pl_matrix_rot(0.3, -1.1, 2.4), atol=1e-12)


def _pl_matrix_rot(phi: float, theta: float, omega: float) -> np.ndarray:
    return np.asarray(qml.matrix(qml.Rot(phi, theta, omega, wires=0)), dtype=np.complex128)


def test_split_rot_keeps_weights_and_the_rest_of_the_op() -> None:
    c = Circuit(1)
    w = [c.new_weight() for _ in range(3)]
    c.rot(0, *w)
    parts = split_rot(c.ops)
    assert [p.params for p in parts] == [(w[0],), (w[1],), (w[2],)]
    for p in parts:
        assert dataclasses.replace(p, name="rot", params=c.ops[0].params) == c.ops[0]
    assert all(isinstance(p.params[0], Param) and p.params[0].kind == "weight" for p in parts)


# ---------------------------------------------------------------- block_factors


def _random_block(rng: np.random.Generator, k: int) -> list[Gate]:
    gates: list[Gate] = []
    for _ in range(int(rng.integers(1, 12))):
        r = rng.random()
        if r < 0.55 or k == 1:
            name = ["h", "x", "y", "z", "s", "t", "rx", "ry", "rz", "phase"][int(rng.integers(10))]
            wires: tuple[int, ...] = (int(rng.integers(k)),)
        else:
            fits = [n for n, w in _WIDTH.items() if w <= k]
            name = fits[int(rng.integers(len(fits)))]
            wires = tuple(int(w) for w in rng.choice(k, _WIDTH[name], replace=False))
        if name not in _ANGLED:
            gates.append(_gate(name, wires))
        else:
            angle = float(rng.uniform(-3, 3))
            gates.append(_gate(name, wires, angle, fixed=bool(rng.random() < 0.3)))
    return gates


@pytest.mark.parametrize("seed", range(30))
def test_factors_multiply_to_the_block(seed: int) -> None:
    """Random blocks of constant and angled gates, in a random wire order: the factors,
    applied first to last, are the block's unitary in that order (PennyLane's gate
    matrices); no two constant factors are neighbours; a factor "P" holds a
    multi-qubit gate with an angle, a "K" only one-qubit gates."""
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 5))
    gates = _random_block(rng, k)
    order = tuple(int(w) for w in rng.permutation(k))
    pos = {w: i for i, w in enumerate(order)}
    want = _dense([(_matrix(g) if g.const is None else g.const, [pos[w] for w in g.wires])
                   for g in gates], k)  # fmt: skip
    factors = block_factors(gates, order)
    got = np.eye(2**k, dtype=np.complex128)
    for f in factors:
        got = _factor_matrix(f, k) @ got
    np.testing.assert_allclose(got, want, atol=1e-10)
    kinds = [f.kind for f in factors]
    assert all(a != "C" or b != "C" for a, b in pairwise(kinds))
    for f in factors:
        if f.kind == "P":
            assert f.gate is not None and len(f.gate.wires) > 1 and f.gate.const is None
            assert list(f.local) == [pos[w] for w in f.gate.wires]
        if f.kind == "K":
            assert f.rows is not None
            assert all(len(g.wires) == 1 for row in f.rows for g in row)
            assert any(g.const is None for row in f.rows for g in row)


def test_one_qubit_runs_make_one_layer_and_constants_merge() -> None:
    """H H CNOT H on two wires: one constant factor. RX(a) on 0, H on 1, CNOT, RY(b) on
    1: a layer, the CNOT, a layer (the CNOT splits the run: both touch its wires). A
    one-qubit gate on a wire the gate does not touch stays in the open layer."""
    h0, h1, h2 = _gate("h", (0,)), _gate("h", (1,)), _gate("h", (2,))
    cnot = _gate("cnot", (0, 1))
    assert [f.kind for f in block_factors([h0, h1, cnot, h0], (0, 1))] == ["C"]
    rx, ry = _gate("rx", (0,), 0.4), _gate("ry", (1,), -0.8)
    fs = block_factors([rx, h1, cnot, ry], (0, 1))
    assert [f.kind for f in fs] == ["K", "C", "K"]
    assert fs[0].rows == [[rx], [h1]] and fs[2].rows == [[], [ry]]
    crz = _gate("crz", (0, 1), 0.7)
    fs = block_factors([h2, crz, rx], (0, 1, 2))
    assert [f.kind for f in fs] == ["P", "K"]  # H(2) waits in the layer after the CRZ
    assert fs[1].rows == [[rx], [], [h2]]
    assert fs[0].gate is crz and fs[0].local == (0, 1)
    fs = block_factors([h2, crz], (2, 1, 0))  # the block's own wire order
    assert [f.kind for f in fs] == ["P", "C"] and fs[0].local == (2, 1)
    assert block_factors([], (0, 1)) == []


def test_merge_constants_multiplies_neighbours_in_order() -> None:
    rng = np.random.default_rng(2)
    a, b, c = (rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)) for _ in range(3))
    k_layer = Factor("K", rows=[[]])
    out = merge_constants([Factor("C", const=a), Factor("C", const=b), k_layer,
                           Factor("C", const=c)])  # fmt: skip
    assert [f.kind for f in out] == ["C", "K", "C"]
    np.testing.assert_allclose(out[0].const, b @ a)  # type: ignore[arg-type]
    assert out[1] is k_layer
    np.testing.assert_array_equal(out[2].const, c)  # type: ignore[arg-type]
    assert merge_constants([]) == []
