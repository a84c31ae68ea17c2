"""The dense variant's per-sample product state (:mod:`~quarch.quantum._small_dense`).

An angle embedding makes one vector per wire, ``v_q(a) = A + cos(a) B + sin(a) C``
applied to ``|0>``; the state is their Kronecker product and, for the inputs'
gradient, the same product with one factor replaced by its derivative. Both come from
one ``addmm`` for the vectors and one gather and one product over the wires
(:func:`product_state`), or, where it is shorter, from a trigonometric polynomial of
the inputs (:func:`~quarch.quantum._dense_fourier.product_tables`). Where every
vector is real up to a constant phase per entry (RX, RY), the state is real and its
phases go into ``U^T``'s rows (:func:`embedding_tables`). Apart from
:mod:`~quarch.quantum._small_dense` so that each file reads as one part of the node.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from quarch.quantum._dense_fourier import product_tables
from quarch.quantum._small_runtime import SmallRuntime, _all_ones, host_rounded

__all__ = ["bit", "embedding_tables", "product_state"]


def bit(k: np.ndarray, q: int, n: int) -> np.ndarray:
    """Bit ``q`` (wire ``q``, the first the most significant) of the indices ``k``."""
    return (k >> (n - 1 - q)) & 1  # type: ignore[no-any-return]


def embedding_tables(
    tab: Any, rt: SmallRuntime, rt_: Any, lt: Any, ct_: Any, real: bool
) -> np.ndarray | None:
    """The product state's tables (one embedding slot per wire, applied to
    ``|0>``; complex unless ``real`` allows a real one); returns the host copy
    of ``row_phase``."""
    prog = rt.prog
    n, d = prog.n, prog.d
    assert prog.prefix is not None
    rows_b = prog.prefix[0][1]
    terms_b = prog.slot_terms["b"][0]  # [R, 3, 2, 2]
    sx = prog.scale["b"][: prog.n_inputs]  # [I, n] (angle r of row r)
    tab.x_scale2 = rt_(np.concatenate([sx[:, rows_b], sx[:, rows_b]], 1))
    tab.x_shift = rt_(np.r_[np.full(n, math.pi / 2), np.zeros(n)])
    cols = [tuple(terms_b[r, t][:, 0] for t in range(3)) for r in rows_b]  # on |0>
    # a wire's vector is real up to a constant phase per entry where each entry's
    # (A, B, C) is a complex multiple of a real triple (RX, RY, also with phase
    # gates after them: yes; RZ after H: no); then the product state is real and
    # its phases go into U^T's rows (half the arithmetic, no complex views)
    phases = np.ones((n, 2), dtype=np.complex128)
    for q, abc in enumerate(cols):
        for ent in range(2):
            coef = np.array([t[ent] for t in abc])
            big = coef[np.abs(coef) > 1e-12]
            if big.size:
                phases[q, ent] = big[0] / abs(big[0])
    tab.real_state = real and all(
        np.allclose((np.array([t[ent] for t in abc]) / phases[q, ent]).imag, 0, atol=1e-12)
        for q, abc in enumerate(cols)
        for ent in range(2)
    )
    width = 4 if tab.real_state else 8  # per wire v0, v1, dv0, dv1 (re, im | real)

    def parts(v: np.ndarray, q: int) -> np.ndarray:
        if tab.real_state:
            return (v / phases[q]).real  # type: ignore[no-any-return]
        return np.stack([v.real, v.imag], -1).reshape(-1)

    e_base = np.zeros((n, width))
    e_mat = np.zeros((2 * n, n, width))
    half = width // 2
    for q, (a, b, c) in enumerate(cols):
        e_base[q, :half] = parts(a, q)
        e_mat[q, q] = np.r_[parts(b, q), parts(c, q)]  # cos: v gets B, dv gets C
        e_mat[n + q, q] = np.r_[parts(c, q), -parts(b, q)]  # sin: v gets C, dv gets -B
    if tab.real_state:  # batch last from the start: [4n, B] = e_base + e_mat^T cs^T
        tab.e_base = rt_(e_base.reshape(-1, 1))
        tab.e_mat = rt_(e_mat.reshape(2 * n, -1).T)
    else:  # [B, 8n] = e_base + cs e_mat, viewed complex [B, 4n]
        tab.e_base = rt_(e_base.reshape(-1))
        tab.e_mat = rt_(e_mat.reshape(2 * n, -1))
    bits = np.stack([bit(np.arange(d), q, n) for q in range(n)])  # [n, d]
    for op in rt.code[: rt.lead]:  # leading permutations: new[s] = old[index[s]]
        bits = bits[:, op[5]]
    phi = np.empty((n, n + 1, d), dtype=np.int64)
    for q in range(n):
        for j in range(n + 1):
            phi[q, j] = 4 * q + 2 * (j == q + 1) + bits[q]
    tab.phi_index = lt(phi.reshape(-1))
    tab.phi_index0 = lt(phi[:, 0].reshape(-1))
    #: a real product state as a trigonometric polynomial, where that is shorter
    if tab.real_state:
        triples = np.array([[parts(v, q) for v in abc] for q, abc in enumerate(cols)])
        tab.product = product_tables(triples.transpose(0, 2, 1), bits, sx[:, rows_b], tab.x_scale2)
    # the real state's phases, prod_q phase[q, bit_q(k)], as U^T's row factors
    row_phase = np.prod([phases[q][bits[q]] for q in range(n)], 0)
    host_row_phase = (
        None
        if not tab.real_state or _all_ones(row_phase)
        else host_rounded(row_phase[:, None], rt.dtype)
    )
    tab.row_phase = None if host_row_phase is None else ct_(host_row_phase)
    # doubled: the backward reads grad @ signs[0]^T, half of dL/d|psi|^2 per (re, im)
    tab.x_scaleT = rt_(2 * sx[:, rows_b].T)
    return host_row_phase


def product_state(tab: Any, x: torch.Tensor, want_x: bool) -> torch.Tensor:
    """The product state and, with ``want_x``, its ``n`` derivatives, ``[k, d, B]``."""
    n, d, rows = tab.n, tab.d, x.shape[0]
    k = n + 1 if want_x else 1
    if tab.product is not None:  # a trigonometric polynomial of the inputs
        pt = tab.product
        cs = torch.sin(torch.addmm(pt.shift, pt.angles, x.mT))
        if want_x:
            phis = torch.addmm(pt.bias, pt.coef, cs).view(k, d, rows)
        else:
            phis = torch.addmm(pt.value_bias, pt.value_coef, cs).view(k, d, rows)
    else:
        cs = torch.sin(torch.addmm(tab.x_shift, x, tab.x_scale2))
        # per wire v0, v1, dv0, dv1, batch last: a gather of whole rows and a product
        # over the leading axis cost a fifth of the same along the last axis (7 + 5 us
        # against 32 + 25 at n = 2, B = 256)
        if tab.real_state:
            e = torch.addmm(tab.e_base, tab.e_mat, cs.mT)  # [4n, B]
        else:
            e = torch.addmm(tab.e_base, cs, tab.e_mat).view(rows, 4 * n, 2)
            e = torch.view_as_complex(e).mT
        index = tab.phi_index if want_x else tab.phi_index0
        phis = e.index_select(0, index).view(n, -1, rows).prod(0).view(k, d, rows)
    return phis
