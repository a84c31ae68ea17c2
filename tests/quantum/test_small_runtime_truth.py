"""The small path's index tables and part products against brute force.

:mod:`quarch.quantum._small_runtime` turns a program into gathers: Kronecker products
of rows as one ``index_select`` and a product, the product state the same way, the
partial traces over index pairs, a layer on a wire range as a reshaped matmul. A wrong
index is a wrong amplitude, but the random-circuit tests only see it where a circuit
happens to reach it; here each table is checked whole against its definition written
out with numpy (``np.kron``, bit tests, explicit identity products).
"""

from __future__ import annotations

from functools import reduce
from itertools import groupby

import numpy as np
import pytest
import torch

from quarch.quantum import AngleEmbedding, Circuit, EntanglingLayer, RotationLayer
from quarch.quantum._small_cost import FOLD_ROWS, SINGLE_STATE, WHOLE_REGISTER
from quarch.quantum._small_plan import SmallProgram
from quarch.quantum._small_runtime import (
    _PERM,
    SmallRuntime,
    _kron_index,
    _Part,
    _state_index,
    _terms,
    _trace_index,
    host_rounded,
)


def _bit(i: int, wire: int, n: int) -> int:
    """Wire ``wire``'s bit of basis index ``i`` (wire 0 the most significant)."""
    return (i >> (n - 1 - wire)) & 1


@pytest.mark.parametrize("n", range(1, 6))
def test_trace_index_pairs_the_bit_of_each_wire(n: int) -> None:
    got = _trace_index(n)
    assert got.shape == (n, 2, 2 ** (n - 1))
    for m in range(n):
        for a in range(2):
            want = [i for i in range(2**n) if _bit(i, m, n) == a]  # the others counting up
            assert got[m, a].tolist() == want


@pytest.mark.parametrize(("n", "a", "b"), [(1, 0, 1), (3, 0, 3), (4, 1, 3), (5, 2, 5), (5, 0, 2)])
def test_state_index_gathers_the_kronecker_product(n: int, a: int, b: int) -> None:
    rng = np.random.default_rng(n * 10 + a)
    vecs = rng.normal(size=(n, 2)) + 1j * rng.normal(size=(n, 2))
    idx = _state_index(a, b)
    assert idx.shape == (b - a, 2 ** (b - a))
    got = np.prod(vecs.reshape(-1)[idx], axis=0)
    np.testing.assert_allclose(got, reduce(np.kron, vecs[a:b]), rtol=1e-13)


@pytest.mark.parametrize(("n", "a", "b"), [(1, 0, 1), (2, 0, 2), (4, 2, 4), (5, 0, 3), (5, 1, 4)])
def test_kron_index_gathers_each_layer_s_kronecker_product(n: int, a: int, b: int) -> None:
    rng = np.random.default_rng(n * 10 + b)
    mats = rng.normal(size=(7, 2, 2)) + 1j * rng.normal(size=(7, 2, 2))  # 7 rows
    layers = [rng.integers(0, 7, n).tolist() for _ in range(3)]  # a row per wire, 3 layers
    idx = _kron_index(layers, a, b)
    dim = 2 ** (b - a)
    assert idx.shape == (b - a, 3 * dim * dim)
    got = np.prod(mats.reshape(-1)[idx], axis=0).reshape(3, dim, dim)
    for t, rows in enumerate(layers):
        want = reduce(np.kron, [mats[r] for r in rows[a:b]])
        np.testing.assert_allclose(got[t], want, rtol=1e-13)


def test_terms_interleave_real_and_imaginary_parts() -> None:
    rng = np.random.default_rng(5)
    t = rng.normal(size=(2, 3, 3, 2, 2)) + 1j * rng.normal(size=(2, 3, 3, 2, 2))
    got = _terms(t)
    assert got.shape == (3, 6, 8) and got.flags.c_contiguous
    for lead, (p, r) in enumerate(np.ndindex(2, 3)):
        for k in range(3):
            m = t[p, r, k].reshape(-1)
            want = np.stack([m.real, m.imag], -1).reshape(-1)  # re, im of each entry in turn
            np.testing.assert_array_equal(got[k, lead], want)


@pytest.mark.parametrize("dtype", [torch.complex64, torch.float32])
def test_host_rounded_is_what_the_device_holds(dtype: torch.dtype) -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(size=(4, 4)) + (1j * rng.normal(size=(4, 4)) if dtype.is_complex else 0)
    got = host_rounded(a, dtype)
    assert got.dtype == a.dtype  # kept in 128 (64) bits
    held = torch.as_tensor(a).to(dtype).to(torch.complex128 if dtype.is_complex else torch.float64)
    np.testing.assert_array_equal(got, held.numpy())
    assert not np.array_equal(got, a)  # rounded: these numbers need more than 24 bits


@pytest.mark.parametrize("dtype", [torch.complex128, torch.float64])
def test_host_rounded_keeps_double_precision(dtype: torch.dtype) -> None:
    a = np.random.default_rng(4).normal(size=(3, 3)) * (1 + 1j if dtype.is_complex else 1)
    np.testing.assert_array_equal(host_rounded(a, dtype), a)


@pytest.mark.parametrize(
    ("n", "a", "b", "rows"),
    [(3, 1, 3, 2), (3, 1, 3, 1), (4, 0, 2, 1), (4, 0, 2, 3), (4, 1, 3, 2), (3, 0, 3, 2)],
)
@pytest.mark.parametrize("per_row", [False, True])
def test_part_applies_its_matrix_on_its_wires(
    n: int, a: int, b: int, rows: int, per_row: bool
) -> None:
    """``K`` on wires ``a .. b-1`` is ``I (x) K (x) I`` on the whole register, for a
    shared ``K`` and for one per row; every branch of ``_Part.apply`` (the part at the
    end of the register, one row at the front, the rest) is among these cases."""
    rng = np.random.default_rng(n * 100 + a * 10 + rows)
    dim = 2 ** (b - a)
    x = rng.normal(size=(rows, 2**n)) + 1j * rng.normal(size=(rows, 2**n))
    k = rng.normal(size=(rows if per_row else 1, dim, dim)) * (1 + 0.5j)
    part = _Part(n, a, b)
    assert (part.left, part.dim, part.right) == (2**a, dim, 2 ** (n - b))
    kt = torch.as_tensor(k if per_row else k[0])
    got = part.apply(torch.as_tensor(x), kt).numpy()
    for r in range(rows):
        full = np.kron(np.kron(np.eye(2**a), k[r if per_row else 0]), np.eye(2 ** (n - b)))
        np.testing.assert_allclose(got[r], full @ x[r], rtol=1e-12, atol=1e-12)


def _runtime(n: int = 5) -> SmallRuntime:
    """A program with every kind of run: a per-sample product state, a leading CNOT
    (a permutation before the first layer), shared and per-sample Kronecker layers,
    and trailing permutations and phases (a diagonal measurement does not see them).
    At ``n = 5`` shared layers take two halves, so no constant folds into them."""
    assert n > WHOLE_REGISTER
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y")).cnot(0, 1)
    c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
    c.add(AngleEmbedding(n, rotation="X")).add(RotationLayer(n, ("Y",)))
    c.cnot(3, 4).cz(0, 2).crz(1, 2, c.new_weight()).swap(0, 4)
    prog = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=WHOLE_REGISTER)
    return SmallRuntime(
        prog, torch.complex128, torch.device("cpu"), fold_rows=FOLD_ROWS, single_state=SINGLE_STATE
    )


def _small_runtime(n: int) -> SmallRuntime:
    """A per-sample product state and a shared layer on ``n`` wires."""
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y")).add(RotationLayer(n, ("Y", "Z")))
    if n > 1:
        c.cnot(0, n - 1).add(RotationLayer(n, ("Y",)))
    prog = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=WHOLE_REGISTER)
    return SmallRuntime(
        prog, torch.complex128, torch.device("cpu"), fold_rows=FOLD_ROWS, single_state=SINGLE_STATE
    )


@pytest.mark.parametrize("n", [1, 2, 5])
def test_the_product_state_is_one_piece_up_to_single_state_entries(n: int) -> None:
    """``SINGLE_STATE``: one gather up to ``rows * n * 2^n`` entries, two halves beyond
    (one wire has no halves: always one piece)."""
    rt = _runtime() if n == 5 else _small_runtime(n)
    d = rt.prog.d
    assert (rt.prog.n, d) == (n, 2**n)
    last = SINGLE_STATE // (n * d)  # the most rows built in one piece
    h = (n + 1) // 2
    halves = [2**h, 2 ** (n - h)]
    for rows, single in ((1, True), (last, True), (last + 1, n == 1)):
        v = rt.variant(rows, False)
        assert v.single is single
        assert [size for _, _, size in v.state_idx] == ([d] if single else halves)


@pytest.mark.parametrize("n", [5, 6])  # 2^(n+1) = FOLD_ROWS, and above it
def test_shared_segments_fold_from_max_fold_rows_2_to_the_n_plus_1_rows(n: int) -> None:
    """``FOLD_ROWS``: shared runs fold into one matrix from ``max(FOLD_ROWS, 2^(n+1))``
    rows on, never a per-sample one; the runs cover the program in order, each a whole
    segment (the module docstring of ``_small_plan``: a run of shared instructions is
    folded into *one* matrix applied with one matmul)."""
    rt = _runtime(n)
    first = max(FOLD_ROWS, 2 ** (n + 1))
    assert first == (64 if n == 5 else 128)
    for signs in (False, True):
        for rows in (first - 1, first, first + 7):
            runs = rt.variant(rows, signs).runs
            stop = rt.tail if signs else len(rt.code)  # a sign table drops the tail
            assert [r[0] for r in runs] == [0] + [r[1] for r in runs[:-1]]
            assert runs[-1][1] == stop
            for start, end, fold in runs:
                segments = {op[2] for op in rt.code[start:end]}
                assert len(segments) == 1  # one shared segment, or one per-sample op
                assert fold is (rows >= first and segments != {-1})
            # a whole segment is one run (folded: one matrix, one matmul), never split;
            # a per-sample op is a run of its own
            want: list[tuple[int, int]] = []
            for seg, group in groupby(range(stop), key=lambda i: rt.code[i][2]):
                ops = list(group)
                want += [(i, i + 1) for i in ops] if seg == -1 else [(ops[0], ops[-1] + 1)]
            assert [(start, end) for start, end, _ in runs] == want
            assert max(end - start for start, end in want) > 1  # a segment of several ops
            assert any(f for *_, f in runs) is (rows >= first)


def test_a_one_piece_product_state_takes_the_leading_permutations() -> None:
    rt = _runtime()
    assert rt.lead == 1 and rt.code[0][0] != rt.code[1][0]  # the CNOT after the embedding
    assert rt.variant(1, False).runs[0][0] == rt.lead
    assert rt.variant(SINGLE_STATE, False).runs[0][0] == 0  # two pieces: run it


@pytest.mark.parametrize("per_row", [True, False])
def test_trace_groups_read_each_member_s_index_from_the_stacked_states(per_row: bool) -> None:
    """Member ``j`` of a group reads ``states[j, r, idx_j]`` (per row, ``[g, rows,
    n 2^n]``) or the same laid out ``[g, n, 2, 2^(n-1), rows]``; two groups of the same
    size, rows and layout but other members are two different indices."""
    rt = _runtime()
    n, d, rows = rt.prog.n, rt.prog.d, 3
    traces = [rt.layer_trace[key][0] for key in sorted(rt.layer_trace)]
    var = rt.variant(1, False)
    assert var.trace_idx is not None
    traces.append(var.trace_idx)  # the product state's (permuted by the lead CNOT)
    states = torch.arange(2 * rows * d).view(2, rows, d)
    for members in ((traces[0], traces[1]), (traces[2], traces[3]), (traces[3], traces[0])):
        index = rt.trace_group(members, rows, per_row)
        got = states.view(-1)[index]
        for j, idx in enumerate(members):
            want = states[j][:, idx]  # [rows, n * d]
            if per_row:
                assert torch.equal(got.view(2, rows, n * d)[j], want)
            else:
                assert torch.equal(got.view(2, n * d, rows)[j], want.T)


def test_a_sign_table_folds_the_trailing_permutations() -> None:
    """The expectation of the state before the tail equals the table's on the state
    after it (its permutations applied as ``new = old[:, index]``, its phases dropped):
    forward ``[2d, n_obs]`` over interleaved (re, im) squares, backward ``2 S^T``."""
    rt = _runtime()
    d = rt.prog.d
    rng = np.random.default_rng(8)
    table = np.stack([rng.choice([-1.0, 1.0], d) for _ in range(3)], 1)  # [d, 3]
    before = rng.normal(size=(4, d)) + 1j * rng.normal(size=(4, d))
    after = before
    perms = 0
    for op in rt.code[rt.tail :]:
        if op[0] == _PERM:
            after = after[:, op[5]]
            perms += 1
    assert perms == 2  # the CNOT and the SWAP (the CZ and CRZ are phases)
    fwd, bwd = rt.signs(table)
    squares = np.stack([before.real**2, before.imag**2], -1).reshape(4, 2 * d)
    np.testing.assert_allclose(squares @ fwd.numpy(), np.abs(after) ** 2 @ table, rtol=1e-12)
    np.testing.assert_array_equal(bwd.numpy(), 2 * fwd.numpy()[::2].T)
    assert rt.signs(table)[0] is fwd  # cached per table
