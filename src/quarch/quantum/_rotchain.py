"""Rotation chains and their Kronecker products as single autograd nodes (private).

Why this exists: at the sizes a NAS trains most (n <= 10) the cost of one
forward+backward of a layer is the number of torch operations, not the arithmetic.
Built with recorded torch ops, the angle -> matrix path (``cos``/``sin``, 2x2 products,
a Kronecker tree) cost about 100 autograd nodes per call at n=8, and its backward took
six times its forward. :class:`RotKron` (a plan's block matrices) and :class:`RotVec`
(the product state its leading one-qubit gates make, usually from per-sample angles)
run the same path unrecorded and differentiate it by hand.

How, in few ops:

* Rows (one per wire) of ``R_p = cos(a_p) I + sin(a_p) Q_p`` (``Q`` one of ``-iX, -iY,
  -iZ``; a missing gate is the angle 0) are multiplied elementwise with the batch axis
  last (2x2 batched matmuls are slow on CPU); :class:`RotVec` does it in real
  arithmetic on ``(re0, im0, re1, im1)``.
* A Kronecker product is one gather and one product: entry ``(I, J)`` of
  ``M_0 (x) .. (x) M_{k-1}`` is ``prod_m M_m[i_m, j_m]``, so a compile-time index picks the
  ``k`` factors of every entry and ``prod`` multiplies them.
* Backward of that product: each factor's gradient is ``gK`` times the product of the
  other factors (prefix and suffix products, so zeros in the matrices are fine), added
  back to the factor's entry with one ``index_add``.
* Chains: ``dR/da = -sin(a) I + cos(a) Q``; torch's convention gives a real ``a`` with
  complex ``M(a)`` the gradient ``Re sum conj(gM) dM/da``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from quarch.quantum._second_order import refuse_second_order


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


def _chain(m: torch.Tensor) -> torch.Tensor:
    """Row products over depth (axis -5) of ``[..., P, R, 2, 2, B]``: ``R_{P-1} .. R_0``."""
    out = m.select(-5, 0)
    for p in range(1, m.shape[-5]):
        out = (m.select(-5, p).unsqueeze(-2) * out.unsqueeze(-4)).sum(-3)
    return out


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


def _factors(flat: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """The ``k`` factors ``[k, S, B]`` of every Kronecker entry, from the flattened row
    entries ``[N, B]`` (the constant 1 appended for :func:`kron_index`'s padding)."""
    return torch.cat([flat, flat.new_ones(1, flat.shape[-1])], 0)[index]


def _kron_backward(
    grad: torch.Tensor, x: torch.Tensor, index: torch.Tensor, n: int
) -> torch.Tensor:
    """Gradient ``[n, B]`` of the flattened factors (constant 1 dropped) from ``grad``
    of ``x.prod(0)``: each factor gets ``grad`` times the product of the others."""
    gx = grad.unsqueeze(0) * _prod_others(x).conj()
    g_flat = torch.zeros(n + 1, grad.shape[-1], dtype=grad.dtype, device=grad.device)
    g_flat.index_add_(0, index.reshape(-1), gx.reshape(-1, grad.shape[-1]))
    return g_flat[:-1]


def real_generators(q: np.ndarray) -> np.ndarray:
    """``Q [..., 2, 2]`` complex -> ``[..., 4, 4]`` real acting on ``(re0, im0, re1, im1)``."""
    out = np.zeros((*q.shape[:-2], 4, 4))
    for i in range(2):
        for j in range(2):
            x, y = q[..., i, j].real, q[..., i, j].imag
            out[..., 2 * i, 2 * j], out[..., 2 * i, 2 * j + 1] = x, -y
            out[..., 2 * i + 1, 2 * j], out[..., 2 * i + 1, 2 * j + 1] = y, x
    return out


def _rot_kron_backward(
    grad: torch.Tensor,
    c: torch.Tensor,
    s: torch.Tensor,
    m: torch.Tensor,
    q: torch.Tensor,
    eye: torch.Tensor,
    index: torch.Tensor,
    x: torch.Tensor,
) -> torch.Tensor:
    """:meth:`RotKron.backward`'s gradient of the half-angles ``[P, R, B]`` (a plain
    function, not in the decorated method: mutmut 3 mutates no decorated function)."""
    p_len, r, _, _, b = m.shape
    g_rows = _kron_backward(grad, x, index, 4 * r).view(r, 2, 2, b)
    dm = c * q - s * eye  # dR/da
    pick = torch.eye(p_len, dtype=torch.bool, device=m.device)[:, :, None, None, None, None]
    shifted = _chain(torch.where(pick, dm.unsqueeze(0), m.unsqueeze(0)))
    return (g_rows.conj().unsqueeze(0) * shifted).real.sum((-3, -2))


def _rot_vec_backward(
    grad: torch.Tensor,
    c: torch.Tensor,
    s: torch.Tensor,
    qr: torch.Tensor,
    index: torch.Tensor,
    x: torch.Tensor,
    *rest: torch.Tensor,
) -> torch.Tensor:
    """:meth:`RotVec.backward`'s gradient of the half-angles ``[P, R, B]``; ``rest`` is
    the forward's ``P`` vectors then their ``P`` generator products (a plain function,
    not in the decorated method: mutmut 3 mutates no decorated function)."""
    p_len, r, _, b = c.shape
    vs, pvs = rest[:p_len], rest[p_len:]
    g = _kron_backward(grad, x, index, 2 * r).view(r, 2, b)
    # d/d(re), d/d(im) of a real loss are Re g, Im g (torch's convention)
    gv = torch.view_as_real(g).transpose(2, 3).reshape(r, 4, b)
    ga = torch.empty(p_len, r, b, dtype=c.dtype, device=c.device)
    for p in range(p_len - 1, -1, -1):
        torch.sum(gv * (c[p] * pvs[p] - s[p] * vs[p]), 1, out=ga[p])
        if p:
            gv = c[p] * gv + s[p] * torch.matmul(qr[p].mT, gv)
    return ga


class RotKron(torch.autograd.Function):
    """Half-angles ``a [P, R, B]`` (``B`` is 1 for shared angles) of rows of RX/RY/RZ
    chains with generators ``q [P, R, 2, 2, 1]`` -> the Kronecker products of the row
    matrices picked by ``index`` (:func:`kron_index` with ``vector=False``): ``[S, B]``.

    The chain's backward is exact by shifting: ``dM/da_p`` is the chain with ``R_p``
    replaced by ``dR_p``, all depths in one batched pass."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, a: torch.Tensor, q: torch.Tensor, eye: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        c = torch.cos(a)[:, :, None, None, :]
        s = torch.sin(a)[:, :, None, None, :]
        m = c * eye + s * q  # [P, R, 2, 2, B]
        rows = _chain(m)  # [R, 2, 2, B]
        x = _factors(rows.reshape(-1, a.shape[-1]), index)
        ctx.save_for_backward(c, s, m, q, eye, index, x)
        return x.prod(0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        refuse_second_order()
        return _rot_kron_backward(grad, *ctx.saved_tensors), None, None, None


class RotVec(torch.autograd.Function):
    """Half-angles ``a [P, R, B]`` of rows of RX/RY/RZ chains applied to ``|0>``, with
    real generators ``qr [P, R, 4, 4]`` (:func:`real_generators`) -> the two Kronecker
    vectors picked by ``index`` (:func:`kron_index` with ``vector=True``): ``[S, B]``.

    The vectors are computed in real arithmetic, ``v_p = cos(a) v + sin(a) Q v`` on
    ``(re0, im0, re1, im1)``: per-sample angles (an embedding) make these tensors
    batch-sized, and real kernels run several times faster than complex broadcasting
    on CPU. Backward is reverse mode: ``ga_p = gv . dv_p/da``,
    ``gv_{p-1} = cos(a) gv + sin(a) Q^T gv``."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, a: torch.Tensor, qr: torch.Tensor, index: torch.Tensor
    ) -> torch.Tensor:
        p_len, r, b = a.shape
        c = torch.cos(a).unsqueeze(2)  # [P, R, 1, B]
        s = torch.sin(a).unsqueeze(2)
        v = torch.zeros(r, 4, b, dtype=a.dtype, device=a.device)
        v[:, 0] = 1.0  # |0>
        vs, pvs = [], []
        for p in range(p_len):
            pv = torch.matmul(qr[p], v)
            vs.append(v)
            pvs.append(pv)
            v = c[p] * v + s[p] * pv
        t = v.view(r, 2, 2, b)  # (state bit, re/im, batch)
        # torch.complex, not view_as_complex: the latter rejects a batch of 1 on torch < 2.6
        vc = torch.complex(t[:, :, 0], t[:, :, 1])
        x = _factors(vc.reshape(-1, b), index)
        ctx.save_for_backward(c, s, qr, index, x, *vs, *pvs)
        return x.prod(0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        refuse_second_order()
        return _rot_vec_backward(grad, *ctx.saved_tensors), None, None
