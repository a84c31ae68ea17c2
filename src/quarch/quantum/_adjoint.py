"""The state evolution as one autograd node, differentiated by the adjoint method.

Recorded op by op, a deep circuit would keep one state per op for backward. Instead
:class:`Evolve` runs all steps unrecorded (:func:`~quarch.quantum._apply.run_steps`)
and, in backward, runs them in reverse on ``[state; gradient]`` stacked: both halves
transform with the same ``U^dagger``, so one product per block serves both and memory
stays at a few states whatever the depth. Each block then costs one matmul plus one
reduction for its matrix gradient ``dL/dU = sum gy x^H``, which autograd carries back
through the matrix builders (:mod:`~quarch.quantum._matrices`) to the angles.

``<Z-words>`` are fused into the same node: forward ``|psi|^2 @ signs``, backward
seeds the gradient state with ``psi * (grad @ 2 signs^T)``. If another call reused the
workspace between forward and backward, the final state is recomputed first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from quarch.quantum._apply import Realified, Workspace, left_mul, right_mul, run_steps
from quarch.quantum._plan import Step
from quarch.quantum._second_order import refuse_second_order

if TYPE_CHECKING:
    from quarch.quantum._matrices import Runtime


class Evolve(torch.autograd.Function):
    """psi0 (or the outer product of two halves) through all steps, then optionally
    ``<Z-words>``; backward by adjoint (reverse) evolution of ``[psi; grad]``."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        run: Runtime,
        dev_idx: list[tuple[torch.Tensor, torch.Tensor] | None],
        signs: tuple[torch.Tensor, torch.Tensor] | None,
        rows: int,
        a: torch.Tensor | None,
        b: torch.Tensor | None,
        psi0: torch.Tensor | None,
        *mats: torch.Tensor,
    ) -> torch.Tensor:
        eng = run.eng
        dim = 2**eng.n
        device = (psi0 if psi0 is not None else a).device  # type: ignore[union-attr]
        ws = run.workspace(device, rows, dim)
        ws.gen += 1
        final = run_steps(eng.steps, ws, dev_idx, rows, a, b, psi0, mats)
        ctx.run, ctx.dev_idx, ctx.rows, ctx.ws, ctx.gen = run, dev_idx, rows, ws, ws.gen
        ctx.final = final
        ctx.signs = signs
        ctx.save_for_backward(a, b, psi0, *mats)  # an absent one is saved as None
        psi = ws.buf[final][0]
        if signs is None:
            return psi.clone()
        # |psi|^2 @ signs as one real matmul over interleaved (re, im) pairs; the
        # squares go to the idle buffer (a fresh state-sized tensor costs page faults)
        flat = torch.view_as_real(psi).view(rows, -1)
        sq = torch.view_as_real(ws.buf[1 - final]).view(-1)[: flat.numel()].view_as(flat)
        torch.mul(flat, flat, out=sq)
        return sq @ signs[0]

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        refuse_second_order()
        return evolve_backward(ctx, grad)


def evolve_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """:meth:`Evolve.backward`'s body, a plain function (mutation testing skips
    decorated methods): reverse evolution of ``[psi; grad]``, block gradients on the way."""
    run: Runtime = ctx.run
    saved = ctx.saved_tensors
    a, b, psi0 = saved[:3]
    mats = saved[3:]
    ws: Workspace = ctx.ws
    final = ctx.final
    if ws.gen != ctx.gen:
        ws = run.workspace(ws.buf[0].device, ctx.rows, ws.shape[1])
        ws.gen += 1
        final = run_steps(run.eng.steps, ws, ctx.dev_idx, ctx.rows, a, b, psi0, mats)
    ws.gen += 1  # buffers are about to be overwritten
    z = ws.buf[final]
    other = ws.buf[1 - final]
    if ctx.signs is not None:
        weight = torch.view_as_real(other).view(-1)[: z.shape[1] * z.shape[2]]
        weight = weight.view(z.shape[1], z.shape[2])  # [rows, D] real, idle buffer
        torch.mm(grad, ctx.signs[1], out=weight)
        # complex * real: 2.7x faster than broadcasting the weight over (re, im) pairs
        torch.mul(z[0], weight, out=z[1])
    else:
        z[1].copy_(grad)
    eng = run.eng
    gmats: list[torch.Tensor | None] = [
        torch.zeros_like(m) if m.requires_grad else None for m in mats
    ]
    rows = ctx.rows
    real = Realified(mats, adjoint=True)
    for i in range(len(eng.steps) - 1, -1, -1):
        step = eng.steps[i]
        if step.kind == "gather":
            inv = ctx.dev_idx[i][1]
            torch.gather(
                z.view(2 * rows, -1),
                1,
                inv.expand(2 * rows, z.shape[-1]),
                out=other.view(2 * rows, -1),
            )
        else:
            u = mats[step.group][..., step.block, :, :]
            d = step.dim
            g_u = adjoint_block(step, u, real, z, other, rows, d, gmats[step.group] is not None)
            if g_u is not None:
                gm = gmats[step.group]
                assert gm is not None
                gm[..., step.block, :, :] = g_u
        z, other = other, z
    g_psi0 = z[1]
    out: list[torch.Tensor | None] = [None, None, None, None]
    if a is not None and b is not None:
        g3 = g_psi0.view(rows, a.shape[1], b.shape[1])
        ga = gb = None
        if ctx.needs_input_grad[4]:
            ga = (g3 @ b.conj().expand(rows, -1)[..., None])[..., 0]
            if a.shape[0] != rows:
                ga = ga.sum(0, keepdim=True)
        if ctx.needs_input_grad[5]:
            # elementwise then sum: per-sample 1 x d @ d x d matmuls are 2.6x slower
            gb = (a.conj().expand(rows, -1)[:, :, None] * g3).sum(1)
            if b.shape[0] != rows:
                gb = gb.sum(0, keepdim=True)
        out += [ga, gb, None]
    else:
        gp = None
        if psi0 is not None and ctx.needs_input_grad[6]:
            gp = g_psi0.clone()
            if psi0.shape[0] != rows:
                gp = gp.sum(0, keepdim=True)
        out += [None, None, gp]
    return (*out, *gmats)


def adjoint_block(
    step: Step,
    u: torch.Tensor,
    real: Realified,
    z: torch.Tensor,
    out: torch.Tensor,
    rows: int,
    d: int,
    need_grad: bool,
) -> torch.Tensor | None:
    """``out = [x; gx]`` from ``z = [y; gy]`` for one block; returns dL/dU if asked.

    Forward was ``y = U x`` on the block axis, so ``x = U^H y`` and ``gx = U^H gy``
    (one product for both halves) and ``dL/dU = sum gy x^H``.
    """
    if step.lo == 0:
        if u.dim() == 2:
            right_mul(z, real.get(step.group, step.block), out, 2 * rows, d)
            if not need_grad:
                return None
            xr = torch.view_as_real(out[0]).reshape(-1, 2 * d)
            gr = torch.view_as_real(z[1]).reshape(-1, 2 * d)
            p = (gr.mT @ xr).view(d, 2, d, 2)  # p[i, a, j, b] = sum gy_a[i] x_b[j]
        else:
            for h in range(2):
                right_mul(z[h], real.get(step.group, step.block), out[h], rows, d)
            if not need_grad:
                return None
            xr = torch.view_as_real(out[0]).reshape(rows, -1, 2 * d)
            gr = torch.view_as_real(z[1]).reshape(rows, -1, 2 * d)
            p = (gr.mT @ xr).view(rows, d, 2, d, 2)
        # sum gy conj(x) = (gr xr + gi xi) + i (gi xr - gr xi)
        re = p[..., 0, :, 0] + p[..., 1, :, 1]
        im = p[..., 1, :, 0] - p[..., 0, :, 1]
        return torch.complex(re, im)
    right = 2**step.lo
    uh = u.mH
    if u.dim() == 2:
        left_mul(z, uh, out, 2 * rows, d, step.lo)
        if not need_grad:
            return None
        gy = z[1].reshape(-1, d, right)
        x = out[0].reshape(-1, d, right)
        return torch.matmul(gy, x.mH).sum(0)
    for h in range(2):
        left_mul(z[h], uh, out[h], rows, d, step.lo)
    if not need_grad:
        return None
    gy = z[1].reshape(rows, -1, d, right)
    x = out[0].reshape(rows, -1, d, right)
    return torch.matmul(gy, x.mH).sum(1)
