"""Rotation chains and their Kronecker products as one autograd node (private).

Why this exists: at the sizes a NAS trains most (n <= 10) the cost of one
forward+backward of a layer is the number of torch operations, not the arithmetic.
Built with recorded torch ops, the angle -> matrix path (``cos``/``sin``, 2x2 products,
a Kronecker tree) cost about 100 autograd nodes per call at n=8, and its backward took
six times its forward. :class:`RotKron` runs the same path unrecorded and
differentiates it by hand in about 30 unrecorded ops.

How, in few ops:

* Rows (one per wire) of ``R_p = cos(a_p) I + sin(a_p) Q_p`` (``Q`` one of ``-iX, -iY,
  -iZ``; a missing gate is the angle 0) are multiplied elementwise with the batch axis
  last (2x2 batched matmuls are slow on CPU).
* A Kronecker product is one gather and one product: entry ``(I, J)`` of
  ``M_0 (x) .. (x) M_{k-1}`` is ``prod_m M_m[i_m, j_m]``, so a compile-time index picks the
  ``k`` factors of every entry and ``prod`` multiplies them.
* Backward of that product: each factor's gradient is ``gK`` times the product of the
  other factors (prefix and suffix products, so zeros in the matrices are fine), added
  back to the factor's entry with one ``index_add``.
* Backward of the chain is exact by shifting: ``dR/da = -sin(a) I + cos(a) Q``, so
  ``dM/da_p`` is the chain with ``R_p`` replaced by ``dR_p``; all depths are evaluated
  in one batched pass and contracted with ``gM`` (torch's convention: a real ``a`` with
  complex ``M(a)`` gets ``Re sum conj(gM) dM/da``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def kron_index(rows: int, k: int, vector: bool) -> np.ndarray:
    """Gather index ``[k, S]`` into the flattened row products ``[rows * E + 1]``
    (``E`` = 4 entries of a 2x2, or 2 of a vector; the last entry is the constant 1).

    Matrices: runs of ``k`` consecutive rows give ``S = rows / k * 4**k`` entries
    (``[G, 2^k, 2^k]`` row-major). Vectors: rows ``:k`` and ``k:`` give the two halves
    of a product state, ``S = 2**k + 2**(rows - k)``; the shorter half's missing
    factors point at the 1.
    """
    one = rows * (2 if vector else 4)
    if vector:
        parts = []
        for first, count in ((0, k), (k, rows - k)):
            d = np.arange(2**count)
            idx = np.full((k, 2**count), one, dtype=np.int64)
            for m in range(count):
                idx[m] = (first + m) * 2 + ((d >> (count - 1 - m)) & 1)
            parts.append(idx)
        return np.concatenate(parts, 1)
    d = np.arange(2**k)
    groups = rows // k
    idx = np.empty((k, groups, 2**k, 2**k), dtype=np.int64)
    for m in range(k):
        bit = (d >> (k - 1 - m)) & 1
        for g in range(groups):
            idx[m, g] = (g * k + m) * 4 + bit[:, None] * 2 + bit[None, :]
    return idx.reshape(k, -1)


def _chain(m: torch.Tensor, vector: bool) -> torch.Tensor:
    """Row products over depth (axis -5) of ``[..., P, R, 2, 2, B]``: ``R_{P-1} .. R_0``,
    or its first column ``[..., R, 2, B]`` when ``vector``."""
    depth = m.shape[-5]
    if vector:
        out = m.select(-5, 0).select(-2, 0)  # R_0 |0>
        for p in range(1, depth):
            out = (m.select(-5, p) * out.unsqueeze(-3)).sum(-2)
        return out
    out = m.select(-5, 0)
    for p in range(1, depth):
        out = (m.select(-5, p).unsqueeze(-2) * out.unsqueeze(-4)).sum(-3)
    return out


def _chain_steps(m: torch.Tensor) -> list[torch.Tensor]:
    """``v_p = R_p .. R_0 |0>`` for every depth ``p``: ``[R, 2, B]`` each."""
    vs = [m[0].select(-2, 0)]
    for p in range(1, m.shape[0]):
        vs.append((m[p] * vs[-1].unsqueeze(-3)).sum(-2))
    return vs


def _prod_others(x: torch.Tensor) -> torch.Tensor:
    """``out[m] = prod_{m' != m} x[m']`` over axis 0, without dividing (zeros are
    common: RZ has a zero off-diagonal)."""
    k = x.shape[0]
    if k == 1:
        return torch.ones_like(x)
    before = [x[0]]  # before[m] = x[0] .. x[m]
    for m in range(1, k - 1):
        before.append(before[-1] * x[m])
    after = [x[k - 1]]  # after[j] = x[k-1-j] .. x[k-1]
    for m in range(k - 2, 0, -1):
        after.append(after[-1] * x[m])
    out = [after[-1]]
    out += [before[m - 1] * after[k - 2 - m] for m in range(1, k - 1)]
    out.append(before[-1])
    return torch.stack(out, 0)


class RotKron(torch.autograd.Function):
    """Half-angles ``a [P, R, B]`` (``B`` is 1 for shared angles) of rows of RX/RY/RZ
    chains with generators ``q [P, R, 2, 2, 1]`` -> the Kronecker products picked by
    ``index`` (:func:`kron_index`): ``[S, B]``."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        a: torch.Tensor,
        q: torch.Tensor,
        eye: torch.Tensor,
        index: torch.Tensor,
        vector: bool,
    ) -> torch.Tensor:
        c = torch.cos(a)[:, :, None, None, :]
        s = torch.sin(a)[:, :, None, None, :]
        m = c * eye + s * q  # [P, R, 2, 2, B]
        rows = _chain(m, vector)  # [R, 2(, 2), B]
        b = a.shape[-1]
        flat = torch.cat([rows.reshape(-1, b), rows.new_ones(1, b)], 0)
        x = flat[index]  # [k, S, B]
        ctx.save_for_backward(c, s, m, q, eye, index, x)
        ctx.vector = vector
        return x.prod(0)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        c, s, m, q, eye, index, x = ctx.saved_tensors
        p_len, r, _, _, b = m.shape
        # factors' gradients, summed into the flattened row products
        gx = grad.unsqueeze(0) * _prod_others(x).conj()
        g_flat = torch.zeros(r * (2 if ctx.vector else 4) + 1, b, dtype=m.dtype, device=m.device)
        g_flat.index_add_(0, index.reshape(-1), gx.reshape(-1, b))
        dm = c * q - s * eye  # dR/da
        if ctx.vector:
            # reverse mode through v_p = R_p v_{p-1}: ga_p = Re(gv_p^H dR_p v_{p-1})
            vs = _chain_steps(m)
            gv = g_flat[:-1].view(r, 2, b)
            ga = torch.empty(p_len, r, b, dtype=c.dtype, device=c.device)
            for p in range(p_len - 1, -1, -1):
                dv = dm[p].select(-2, 0) if p == 0 else (dm[p] * vs[p - 1].unsqueeze(-3)).sum(-2)
                torch.sum((gv.conj() * dv).real, -2, out=ga[p])
                if p:
                    gv = (m[p].conj() * gv.unsqueeze(-2)).sum(-3)
            return ga, None, None, None, None
        # chains with R_p replaced by dR_p, all p at once: [P(shifted), P, R, 2, 2, B]
        pick = torch.eye(p_len, dtype=torch.bool, device=m.device)[:, :, None, None, None, None]
        shifted = _chain(torch.where(pick, dm.unsqueeze(0), m.unsqueeze(0)), False)
        g_rows = g_flat[:-1].view(r, 2, 2, b)
        ga = (g_rows.conj().unsqueeze(0) * shifted).real.sum((-3, -2))
        return ga, None, None, None, None
