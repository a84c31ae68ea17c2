"""Applying a plan's steps to a state: block matmuls and gathers (forward).

A state ``[rows, 2**n]`` goes through the plan's steps, each one pass over it:

* a block on the last ``k`` stored bits is a right-multiplication by ``U^T`` on
  interleaved (re, im) pairs: one *real* GEMM (:func:`realify`), which runs at memory
  speed where complex GEMM does not; the realified matrices of a call are built once
  per group (:class:`Realified`);
* a block on the first bits is a batched matmul from the left (:func:`left_mul`);
* a gather moves the state to the layout the next blocks need.

States ping-pong between two reusable buffers (:class:`Workspace`): a fresh multi-MB
tensor per step would cost a page fault per 4 KiB. The adjoint pass
(:mod:`~quarch.quantum._adjoint`) reuses these kernels on ``[state; gradient]``.
"""

from __future__ import annotations

import torch

from quarch.quantum._plan import Step


class Workspace:
    """Reusable state-sized buffers (two ``[2, rows, dim]`` ping-pong pairs)."""

    def __init__(self, rows: int, dim: int, dtype: torch.dtype, device: torch.device) -> None:
        self.shape = (rows, dim)
        self.buf = [torch.empty(2, rows, dim, dtype=dtype, device=device) for _ in range(2)]
        self.gen = 0


def realify(m: torch.Tensor, *, transpose: bool = False, conj: bool = False) -> torch.Tensor:
    """Real ``[..., 2d, 2d]`` matrix ``R`` with ``view_as_real(x) @ R == view_as_real(x @ A)``
    for interleaved (re, im) storage, where ``A`` is ``m``, ``m^T``, ``conj(m)`` or
    ``m^H`` as asked: real GEMM runs at memory speed where complex GEMM does not.

    ``R[2j + a, 2i + b]`` is ``Re A[j, i]`` on the diagonal pairs and ``+-Im A[j, i]``
    off them, so ``R`` is one gather from ``(re, im, -re, -im)`` of ``m``'s entries; the
    transpose and the conjugate only change the gather's index (no copies of ``m``)."""
    d = m.shape[-1]
    key = (d, transpose, conj, m.device)
    idx = _REAL_IDX.get(key)
    if idx is None:
        j = torch.arange(2 * d) // 2
        a = torch.arange(2 * d) % 2
        entry = (j[None, :] * d + j[:, None]) if transpose else (j[:, None] * d + j[None, :])
        # (a, b) = (0, 0), (1, 1): Re; (0, 1): Im; (1, 0): -Im; conj flips the sign of Im
        ab = a[:, None] * 2 + a[None, :]
        im_pos, im_neg = (3, 1) if conj else (1, 3)
        comp = torch.tensor([0, im_pos, im_neg, 0])[ab]
        idx = _REAL_IDX[key] = (entry * 4 + comp).to(m.device)
    mr = torch.view_as_real(m.resolve_conj())  # [..., d, d, 2]
    src = torch.cat([mr, -mr], -1).flatten(-3)  # [..., d * d * 4]: re, im, -re, -im
    return src[..., idx]


_REAL_IDX: dict[tuple[int, bool, bool, torch.device], torch.Tensor] = {}


class Realified:
    """The realified block matrices of one call, built once per group on first use
    (per block, the small ops of :func:`realify` cost more than the block's GEMM at
    n <= 8). Forward right-multiplies by ``U^T``, the adjoint pass by ``conj(U)``."""

    def __init__(self, mats: tuple[torch.Tensor, ...] | list[torch.Tensor], adjoint: bool) -> None:
        self.mats = mats
        self.adjoint = adjoint
        self.cache: dict[int, torch.Tensor] = {}

    def get(self, group: int, block: int) -> torch.Tensor:
        """The realified matrix of block ``block`` of group ``group``."""
        r = self.cache.get(group)
        if r is None:
            m = self.mats[group]
            r = self.cache[group] = (
                realify(m, conj=True) if self.adjoint else realify(m, transpose=True)
            )
        return r[..., block, :, :]


def right_mul(src: torch.Tensor, r: torch.Tensor, dst: torch.Tensor, rows: int, d: int) -> None:
    """``dst = src @ m`` over the last axis in blocks of ``d``, given ``r = realify(m)``
    (``[2d, 2d]`` shared or ``[rows, 2d, 2d]`` per row)."""
    xs = torch.view_as_real(src)
    xd = torch.view_as_real(dst)
    if r.dim() == 2:
        torch.mm(xs.reshape(-1, 2 * d), r, out=xd.view(-1, 2 * d))
    else:
        torch.bmm(xs.reshape(rows, -1, 2 * d), r, out=xd.view(rows, -1, 2 * d))


def left_mul(
    src: torch.Tensor, m: torch.Tensor, dst: torch.Tensor, rows: int, d: int, lo: int
) -> None:
    """``dst = m @ src`` on the ``d``-sized axis of ``src`` viewed ``[rows, L, d, 2^lo]``."""
    right = 2**lo
    if m.dim() == 2:
        x = src.reshape(-1, d, right)
        torch.bmm(m.resolve_conj().expand(x.shape[0], d, d), x, out=dst.view(-1, d, right))
    else:
        x = src.reshape(rows, -1, d, right)
        dst.view(rows, -1, d, right).copy_(torch.matmul(m[:, None], x))


def apply_step(
    step: Step,
    u: torch.Tensor | None,
    real: Realified,
    src: torch.Tensor,
    dst: torch.Tensor,
    index: tuple[torch.Tensor, torch.Tensor] | None,
) -> None:
    """Forward of one step on ``src [rows, D]`` into ``dst`` (same shape)."""
    rows, dim = src.shape
    if step.kind == "gather":
        assert index is not None
        torch.gather(src, 1, index[0].expand(rows, dim), out=dst)
        return
    assert u is not None
    if step.lo == 0:
        right_mul(src, real.get(step.group, step.block), dst, rows, step.dim)
    else:
        left_mul(src, u, dst, rows, step.dim, step.lo)


def run_steps(
    steps: list[Step],
    ws: Workspace,
    dev_idx: list[tuple[torch.Tensor, torch.Tensor] | None],
    rows: int,
    a: torch.Tensor | None,
    b: torch.Tensor | None,
    psi0: torch.Tensor | None,
    mats: tuple[torch.Tensor, ...] | list[torch.Tensor],
) -> int:
    """Run all ``steps`` from ``psi0`` (or the product state ``a (x) b``) with gather
    indices ``dev_idx`` and group matrices ``mats``; the final state is
    ``ws.buf[return value][0]``."""
    cur = 0
    dst = ws.buf[0][0]
    if psi0 is not None:
        dst.copy_(psi0.expand(rows, -1))
    else:
        assert a is not None and b is not None
        torch.mul(
            a.expand(rows, -1)[:, :, None],
            b.expand(rows, -1)[:, None, :],
            out=dst.view(rows, a.shape[1], -1),
        )
    real = Realified(mats, adjoint=False)
    for i, step in enumerate(steps):
        u = mats[step.group][..., step.block, :, :] if step.kind != "gather" else None
        apply_step(step, u, real, ws.buf[cur][0], ws.buf[1 - cur][0], dev_idx[i])
        cur = 1 - cur
    return cur
