"""The small-circuit program as one autograd node with a hand-written backward (run time).

:class:`SmallRuntime` holds the device copies of a
:class:`~quarch.quantum._small_plan.SmallProgram`; :class:`SmallCircuit` runs it. A
call is computed without recording: angles -> slot matrices -> rows -> product state
and Kronecker layers -> instructions -> ``<Z>``.

The backward differentiates one-qubit gates by their generators. Every slot is a
one-parameter group, ``M(a) = C1 exp(a X) C0``, so ``dM/da = X M`` with a constant
``X``, and a slot ``p`` of a row ``R = M_{P-1} .. M_0`` has ``dR/da_p = Q_p R`` with ``Q_p
= S X_p S^-1`` (``S = M_{P-1} .. M_{p+1}``). For a Kronecker layer ``y = K x`` (or the
product state, ``y = K |0>``) on wire ``m``, ``dK/da = (Q (x) I) K``, hence

    dL/da = Re tr(N (Q (x) I)) = Re sum_ac T_m[a, c] Q[c, a],   N = sum_b y_b h_b^T,

with ``h = conj(dL/dy)`` and ``T_m`` the partial trace of ``N`` over the other wires.
``T`` of all wires is two gathers of ``y`` and ``h`` and one batched matmul, so a
layer's whole gradient needs neither the gradient of its matrix nor of its Kronecker
factors, and the rows' chain rule becomes the conjugation of ``X`` (``Q``). The rest:

* ``y = K x`` on part of the register: ``hx = K^T hy`` (``h`` is conjugated, so no
  conjugate appears: the backward conjugates once, at its start);
* a permutation: the inverse gather; ``y = e^{i theta} x``: ``hx = e^{i theta} hy`` and
  ``g theta = -Im(hy y)``; a general gate ``y = M x``: ``conj(gM) = sum hy x^T``, ``g a =
  Re sum conj(gM) dM/da``;
* angles go back to their sources through the transposed scale matrices.

Per call the run time also picks, by the batch, what to fold (:meth:`SmallRuntime.variant`):

* a run of shared instructions (a *segment*) is applied instruction by instruction,
  or, from ``fold_rows`` rows on, run once on the identity (``2^n`` rows, giving
  ``U^T``) and applied to the batch as one matmul (backward: the segment's backward on
  the identity with ``conj(gU^T) = psi^T h``);
* leading permutations go into the product state's gather index when it is built in
  one piece (small batches); with ``<Z-words>``, trailing permutations go into the
  sign table and trailing phases are dropped (``|psi|^2`` does not see them).

How the code is written, and why: at these sizes every torch call costs 1-10 us
whatever it computes, so the node uses ``mm``/``bmm`` on explicit shapes (a
broadcasting ``matmul`` of small batches costs 2-3x a ``bmm``) and keeps one state per
instruction for the backward (at most about ten qubits: a few states cost less than
recomputing them by the adjoint method). And that Python, which decides which calls to
make, is run for the first two calls of a shape only: from the third, the node runs the
calls the second one recorded, as generated straight-line code
(:mod:`quarch.quantum._replay`, 8-17 % off a training step at 2-6 qubits).
"""

from __future__ import annotations

from typing import Any

import torch

from quarch.quantum._products import add_product_grads, input_products
from quarch.quantum._replay import call_key
from quarch.quantum._second_order import refuse_second_order
from quarch.quantum._small_dense import dense_backward, dense_forward, dense_tables
from quarch.quantum._small_runtime import (
    _CDENSE,
    _CDIAG,
    _DIAG,
    _KRON,
    _PERM,
    SmallRuntime,
    _Variant,
)

__all__ = ["SmallCircuit", "SmallRuntime"]


def _trace(
    y: torch.Tensor,
    h: torch.Tensor,
    idx: torch.Tensor,
    phase: torch.Tensor | None,
    per_row: bool,
    n: int,
) -> torch.Tensor:
    """Partial traces ``T [(R,) n, 2, 2]`` of ``N = sum_b y_b h_b^T`` for every wire
    (summed over the rows unless ``per_row``); ``idx`` from :func:`_trace_index`, maybe
    composed with a permutation whose phases ``phase [n, 2, 2^(n-1)]`` multiply ``y``
    conjugated and ``h`` as they are (see the module docstring)."""
    rows = y.shape[0]
    if per_row or rows == 1:  # one row: the per-row gathers read the state in place
        yy = y.index_select(1, idx).view(rows, n, 2, -1)
        hh = h.index_select(1, idx).view(rows, n, 2, -1)
        if phase is not None:
            yy, hh = yy * phase.conj(), hh * phase
        t = torch.bmm(yy.view(rows * n, 2, -1), hh.view(rows * n, 2, -1).mT)
        return t.view(rows, n, 2, 2) if per_row else t
    yy = y.mT.index_select(0, idx).view(n, 2, -1, rows)
    hh = h.mT.index_select(0, idx).view(n, 2, -1, rows)
    if phase is not None:
        yy, hh = yy * phase.conj()[..., None], hh * phase[..., None]
    return torch.bmm(yy.view(n, 2, -1), hh.view(n, 2, -1).mT)


_Pending = tuple[
    tuple[str, int], torch.Tensor, torch.Tensor, torch.Tensor, "torch.Tensor | None", bool
]
"""A partial trace the backward still owes: (key, y, h, index, phase, per_row)."""


def _traces(
    rt: SmallRuntime, pending: list[_Pending], n: int, plan_key: Any
) -> dict[tuple[str, int], torch.Tensor]:
    """Every owed partial trace, those of equal shape in one gather and one ``bmm``.

    A circuit of ``L`` layers owes ``L + 1`` traces, and at these sizes the number of
    torch calls, not their work, is the cost. The layers' states are stacked and read
    through one index into the flattened stack (``(member, row, amplitude)`` to
    ``(member, [row,] wire, bit, rest)``), so members may use different trace indices.
    Which traces group together depends only on the variant and the rows, so the
    grouping is made once per ``plan_key`` and kept on ``rt``. Results as
    :func:`_trace` returns them, summed per key.
    """
    plan = rt.trace_plans.get(plan_key)
    if plan is None:
        if len(rt.trace_plans) > 64:  # a layer called with ever new batch sizes
            rt.trace_plans.clear()
        plan = rt.trace_plans[plan_key] = _trace_plan(rt, pending)
    out: dict[tuple[str, int], torch.Tensor] = {}
    for positions, index, in_place, rows in plan:
        if index is None:  # alone (or with phases): as _trace computes it
            key, y, h, idx, phase, per_row = pending[positions[0]]
            _add(out, key, _trace(y, h, idx, phase, per_row, n))
            continue
        g = len(positions)
        yy = torch.stack([pending[p][1] for p in positions]).view(-1).index_select(0, index)
        hh = torch.stack([pending[p][2] for p in positions]).view(-1).index_select(0, index)
        if in_place:  # per row: [g, rows, n, 2, 2^(n-1)]
            t = torch.bmm(yy.view(g * rows * n, 2, -1), hh.view(g * rows * n, 2, -1).mT)
            t = t.view(g, rows * n, 2, 2)
            for j, p in enumerate(positions):
                key, *_, per_row = pending[p]
                tj = t[j]
                _add(out, key, tj.view(rows, n, 2, 2) if per_row else tj)
        else:  # summed over the rows: [g, n, 2, 2^(n-1), rows]
            t = torch.bmm(yy.view(g * n, 2, -1), hh.view(g * n, 2, -1).mT).view(g, n, 2, 2)
            for j, p in enumerate(positions):
                _add(out, pending[p][0], t[j])
    return out


def _trace_plan(
    rt: SmallRuntime, pending: list[_Pending]
) -> list[tuple[list[int], torch.Tensor | None, bool, int]]:
    """How :func:`_traces` groups ``pending``: per group, (positions in ``pending``, the
    stacked states' index or None for a trace computed alone, per row, rows)."""
    groups: dict[tuple[bool, tuple[int, ...]], list[int]] = {}
    plan: list[tuple[list[int], torch.Tensor | None, bool, int]] = []
    for pos, (_, y, _, _, phase, per_row) in enumerate(pending):
        if phase is not None:
            plan.append(([pos], None, per_row, y.shape[0]))
            continue
        in_place = per_row or y.shape[0] == 1  # _trace's first branch: per row
        groups.setdefault((in_place, tuple(y.shape)), []).append(pos)
    for (in_place, shape), positions in groups.items():
        if len(positions) == 1:
            plan.append((positions, None, in_place, shape[0]))
            continue
        index = rt.trace_group(tuple(pending[p][3] for p in positions), shape[0], in_place)
        plan.append((positions, index, in_place, shape[0]))
    return plan


class _Call:
    """What one call keeps for its backward."""

    __slots__ = ("ang", "angled", "kT", "kmat", "pmats", "runs", "slots")

    def __init__(self) -> None:
        self.ang: dict[str, torch.Tensor] = {}  # angles per kind
        self.angled: list[str] = []  # kinds whose rows have angles
        self.slots: dict[str, torch.Tensor] = {}  # slot matrices [(R,) P, rows, 2, 2]
        self.kmat: dict[str, list[torch.Tensor]] = {}  # Kronecker layers per part
        self.kT: torch.Tensor | None = None  # shared whole-register layers, transposed
        self.pmats: list[torch.Tensor] = []  # rows of product-state layers 1..
        self.runs: list[Any] = []  # per run: (input state, saved, folded matrix)


def _run(
    rt: SmallRuntime, call: _Call, psi: torch.Tensor, start: int, stop: int
) -> tuple[torch.Tensor, list[Any]]:
    """Instructions ``start .. stop-1`` on ``psi``; returns the result and, per
    instruction, its input state and what its backward needs besides."""
    saved: list[Any] = []
    d = rt.prog.d
    for i in range(start, stop):
        op = rt.code[i]
        code = op[0]
        x_in = psi
        if code == _KRON:
            if call.kT is not None and op[1] == "s":  # one matmul with the layer's K^T
                psi = torch.mm(psi, call.kT[op[3]])
            else:
                mats = call.kmat[op[1]]
                for j, part in enumerate(rt.parts[op[1]]):
                    psi = part.apply(psi, mats[j].select(-3, op[3]))
            saved.append((x_in, None))
        elif code == _PERM:
            psi = psi.index_select(1, op[3])  # index_select: a third of gather's cost
            saved.append((x_in, None))
        elif code == _DIAG:
            theta = call.ang[op[1]][..., op[3][0] : op[3][1]] @ op[4]
            if op[6] is not None:
                theta = theta + op[6]
            phase = torch.polar(torch.ones_like(theta), theta)
            psi = psi * phase
            saved.append((x_in, phase))
        elif code == _CDIAG:
            psi = psi * op[3]
            saved.append((x_in, None))
        elif code == _CDENSE:
            psi = op[5].apply(psi, op[3])
            saved.append((x_in, None))
        else:
            a = call.ang[op[1]][..., op[3] : op[3] + 1]
            c, s = torch.cos(a), torch.sin(a)
            ta, tb, tc = op[4]
            m = torch.addcmul(torch.addcmul(ta, c, tb), s, tc)
            mat = torch.view_as_complex(m.view(*m.shape[:-1], d, d, 2))
            psi = op[5].apply(psi, mat)
            saved.append((x_in, (c, s, mat)))
    return psi, saved


def _back(
    rt: SmallRuntime,
    call: _Call,
    h: torch.Tensor,
    start: int,
    stop: int,
    saved: list[Any],
    out: torch.Tensor,
    g_ang: dict[tuple[str, int], torch.Tensor],
    pending: list[_Pending],
) -> torch.Tensor:
    """Backward of :func:`_run` (``out`` its result) on ``h = conj(grad)``; collects the
    gradients of angles (by first position) in ``g_ang`` and, per Kronecker layer, what
    its partial traces are computed from in ``pending`` (see :func:`_traces`)."""
    for i in range(stop - 1, start - 1, -1):
        op = rt.code[i]
        code = op[0]
        x_in, extra = saved[i - start]
        y = saved[i + 1 - start][0] if i + 1 < stop else out
        if code == _KRON:
            kind, layer = op[1], op[3]
            idx, phase = rt.layer_trace[(kind, layer)]
            pending.append(((kind, layer), y, h, idx, phase, kind == "b"))
            if kind == "s" and rt.whole:
                h = torch.mm(h, call.kmat["s"][0][layer])
            else:
                mats = call.kmat[kind]
                parts = rt.parts[kind]
                for j in range(len(parts) - 1, -1, -1):
                    h = parts[j].apply(h, mats[j].select(-3, layer).mT)
        elif code == _PERM:
            h = h.index_select(1, op[4])
        elif code == _DIAG:
            g_theta = (h * y).imag
            if op[1] == "s":
                g_theta = g_theta.sum(0)
            _add(g_ang, (op[1], op[3][0]), -(g_theta @ op[5]))
            h = h * extra
        elif code == _CDIAG:
            h = h * op[3]
        elif code == _CDENSE:
            h = op[5].apply(h, op[4])
        else:
            c, s, mat = extra
            if op[1] == "b":  # conj(gM) = sum hy x^T, per row
                hm = torch.bmm(h.unsqueeze(-1), x_in.unsqueeze(-2))
            else:
                hm = torch.mm(h.mT, x_in)
            _, tb, tc = op[6]
            dm = torch.addcmul(c * tc, s, tb, value=-1)
            hm_r = torch.view_as_real(hm).reshape(*hm.shape[:-2], -1)
            _add(g_ang, (op[1], op[3]), (hm_r * dm).sum(-1, keepdim=True))
            h = op[5].apply(h, mat.mT)
    return h


def _conjugated(t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``W^H T W`` per wire (``T [R, n, 2, 2]``, ``W [(R,) n, 2, 2]``, ``R > 1``: one row
    runs the one-row program, whose product state is a single layer)."""
    return torch.matmul(torch.matmul(w.mH, t), w)


def _add(acc: dict[Any, torch.Tensor], key: Any, value: torch.Tensor) -> None:
    acc[key] = value if key not in acc else acc[key] + value


def _one_row_source(
    rt: SmallRuntime, w: torch.Tensor | None, x: torch.Tensor | None, wb: torch.Tensor | None
) -> torch.Tensor:
    """The shared source of a one-row program: ``[weights | inputs | products]`` (see
    :class:`~quarch.quantum._small_plan.SmallProgram`'s ``one_row``)."""
    weights = w if wb is None else wb.view(-1)
    assert weights is not None
    if not rt.one_row_inputs:
        return weights
    assert x is not None
    return torch.cat([weights, x.view(-1), *(p.view(-1) for p in input_products(x, rt.products))])


def _one_row_grads(
    rt: SmallRuntime, ctx: Any, g_src: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """``(g_w, g_x, g_wb)`` from the gradient of a one-row program's shared source."""
    nw, ni = rt.prog.n_weights, rt.prog.n_inputs
    g_w = g_x = g_wb = None
    if ctx.needs_input_grad[3]:
        g_w = g_src[:nw]
    if ctx.needs_input_grad[5]:
        g_wb = g_src[:nw].view(1, nw)
    if ctx.needs_input_grad[4]:  # inputs come only when an angle reads them
        g_x = g_src[nw : nw + ni].view(1, ni)
        if rt.products:
            g_x = add_product_grads(g_x.clone(), ctx.x, g_src.view(1, -1), rt.products, nw + ni)
    return g_w, g_x, g_wb


class SmallCircuit(torch.autograd.Function):
    """``(w, x, wb, psi0) -> <Z-words> [R, n_obs]`` (``signs`` given) or the final state
    ``[R, 2^n]``; ``R`` is the batch, or 1 when nothing of the call is per-sample.

    ``w``: shared weights ``[W]`` (or None); ``x``: inputs ``[B, I]``; ``wb``: per-sample
    weights ``[B, W]``; ``psi0``: a start state ``[1 or B, 2^n]`` (amplitude embedding or
    ``initial_state``; the program then has no product state)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        rt: SmallRuntime,
        signs: tuple[torch.Tensor, torch.Tensor] | None,
        batch: int,
        w: torch.Tensor | None,
        x: torch.Tensor | None,
        wb: torch.Tensor | None,
        psi0: torch.Tensor | None,
    ) -> torch.Tensor:
        # run as a replay where one is recorded (quantum/_replay.py): keyed by all the
        # Python below branches on besides the program
        ins = (w, x, wb, psi0) if signs is None else (w, x, wb, psi0, *signs)
        need = getattr(ctx, "needs_input_grad", None)
        key = call_key(batch, need, tensors=ins)
        # a backward follows only where some input needs a gradient
        backward = need is not None and any(need)
        # a CUDA graph may read the weights and the sign table in place
        bound = (isinstance(w, torch.nn.Parameter), False, False, False, True, True)
        return rt.replays.forward(
            ctx,
            key,
            ins,
            backward,
            lambda: _forward(ctx, rt, signs, batch, w, x, wb, psi0),
            bound[: len(ins)],
        )

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        refuse_second_order()  # a backward recording a graph: its gradient would have none
        return _node_backward(ctx, grad)


def _node_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """:meth:`SmallCircuit.backward`: the replay's, or the node's own."""
    state = ctx.replay
    if state is None:
        return _backward(ctx, grad)
    if state[0] == "run":
        return state[1].bwd(state[2], grad)  # type: ignore[no-any-return]
    if state[0] == "graph":
        return state[1].backward(state, grad)  # type: ignore[no-any-return]
    return state[1].backward(ctx, grad, lambda: _backward(ctx, grad))  # type: ignore[no-any-return]


def _forward(
    ctx: Any,
    rt: SmallRuntime,
    signs: tuple[torch.Tensor, torch.Tensor] | None,
    batch: int,
    w: torch.Tensor | None,
    x: torch.Tensor | None,
    wb: torch.Tensor | None,
    psi0: torch.Tensor | None,
) -> torch.Tensor:
    """:meth:`SmallCircuit.forward`, computed."""
    prog = rt.prog
    call = _Call()
    rows = batch if prog.batched or (psi0 is not None and psi0.shape[0] == batch) else 1
    var = rt.variant(rows, signs is not None)
    need = getattr(ctx, "needs_input_grad", None)  # none under no_grad
    # the dense variant takes a real start state (amplitude embedding) or none
    dense = (
        None
        if signs is None or (psi0 is not None and psi0.is_complex())
        else dense_tables(rt, rows, need is not None and need[3])
    )
    ctx.dense = None
    if dense is not None:  # a short variant for common hybrid circuits (_small_dense.py)
        assert signs is not None and w is not None
        return dense_forward(ctx, dense, signs, w, x, psi0)
    # --- angles: source @ scale
    ang: dict[str, torch.Tensor] = {}
    if rt.scale_s is not None:
        src = _one_row_source(rt, w, x, wb) if rt.one_row else w
        assert src is not None
        ang["s"] = torch.mv(rt.scale_s, src)
    if prog.n_angles["b"]:
        sx, sp, sw = rt.scale_b
        acc = None
        if sx is not None:
            assert x is not None
            acc = torch.mm(x, sx[0])
        if sp is not None:
            assert x is not None
            prods = input_products(x, rt.products)
            pr = prods[0] if len(prods) == 1 else torch.cat(prods, 1)
            acc = torch.mm(pr, sp[0]) if acc is None else torch.addmm(acc, pr, sp[0])
        if sw is not None:
            assert wb is not None
            acc = torch.mm(wb, sw[0]) if acc is None else torch.addmm(acc, wb, sw[0])
        assert acc is not None
        ang["b"] = acc
    call.ang = ang
    # --- rows: slot matrices, multiplied along depth
    slots: dict[str, torch.Tensor] = {}
    flat: dict[str, torch.Tensor] = {}
    for k in rt.kinds:
        depth, nr = rt.depth[k], rt.n_rows[k]
        if k in rt.terms:
            a = ang[k][..., : depth * nr, None]
            c, s = torch.cos(a), torch.sin(a)
            call.angled.append(k)
            ta, tb, tc = rt.terms[k]
            m = torch.addcmul(torch.addcmul(ta, c, tb), s, tc)
            m = torch.view_as_complex(m.view(*m.shape[:-2], depth, nr, 2, 2, 2))
        else:
            m = rt.const_slots[k]
        slots[k] = m
        x_row = m.select(-4, 0)
        for p in range(1, depth):
            mp = m.select(-4, p)
            x_row = torch.bmm(mp, x_row) if mp.dim() == 3 else torch.matmul(mp, x_row)
        flat[k] = x_row.reshape(*x_row.shape[:-3], -1)
    call.slots = slots
    # --- Kronecker layers: one gather + product per kind and part width
    kmat: dict[str, list[torch.Tensor]] = {}
    for k, groups in rt.kron.items():
        mats: list[torch.Tensor] = [None] * len(rt.parts[k])  # type: ignore[list-item]
        fk = flat[k]
        for idx, factors, entries, js in groups:
            f = fk.index_select(-1, idx).view(*fk.shape[:-1], factors, entries)
            dim = rt.parts[k][js[0]].dim
            km = f.prod(-2).view(*f.shape[:-2], len(js), rt.layers[k], dim, dim)
            for t, j in enumerate(js):
                mats[j] = km.select(-4, t)
        kmat[k] = mats
    if "s" in kmat and rt.fold is not None:
        km = kmat["s"][0]  # whole register: K' = diag(p) K[post][:, pre] diag(q)
        index, phase = rt.fold
        km = km.reshape(-1).index_select(0, index).view(km.shape)
        kmat["s"] = [km if phase is None else km * phase]
    call.kmat = kmat
    call.kT = kmat["s"][0].mT if rt.whole and "s" in kmat else None
    # --- product state: per-wire vectors through the prefix layers, then Kronecker
    pmats: list[torch.Tensor] = []
    if psi0 is None:
        (k0, e0), *more = rt.prefix
        if more:
            f0 = flat[k0]  # first layer applied to |0>: [.., n, 2]
            v = f0.index_select(-1, e0.view(-1)).view(*f0.shape[:-1], *e0.shape)
            for k, ent in more:
                fj = flat[k]  # [.., n, 2, 2]
                mj = fj.index_select(-1, ent.view(-1)).view(*fj.shape[:-1], -1, 2, 2)
                pmats.append(mj)
                v = (mj * v.unsqueeze(-2)).sum(-1)
            vf = v.flatten(-2)
        else:  # one layer: the state index points into its row entries
            vf = flat[k0]
        lead = vf.shape[:-1]
        pieces = [
            vf.index_select(-1, idx).view(*lead, factors, size).prod(-2)
            for idx, factors, size in var.state_idx
        ]
        if len(pieces) == 1:
            psi = pieces[0]
        else:
            psi = (pieces[0].unsqueeze(-1) * pieces[1].unsqueeze(-2)).flatten(-2)
        if psi.dim() == 1:
            psi = psi[None]
    else:  # a real start state (amplitude embedding) is converted here, in the node
        psi = psi0 if psi0.is_complex() else psi0.to(rt.dtype)
    if psi.shape[0] != rows:
        psi = psi.expand(rows, -1).contiguous()
    elif not psi.is_contiguous():
        psi = psi.contiguous()
    call.pmats = pmats
    # --- instructions, run by run
    runs: list[Any] = []
    for start, stop, fold in var.runs:
        if fold:
            ut, saved = _run(rt, call, rt.identity, start, stop)
            runs.append((psi, saved, ut))
            psi = torch.mm(psi, ut)
        else:
            psi_in = psi
            psi, saved = _run(rt, call, psi, start, stop)
            runs.append((psi_in, saved, None))
    runs.append(psi)
    call.runs = runs
    ctx.rt, ctx.call, ctx.var, ctx.signs, ctx.x = rt, call, var, signs, x
    ctx.psi0_rows = None if psi0 is None else psi0.shape[0]
    ctx.psi0_real = psi0 is not None and not psi0.is_complex()
    if signs is None:
        return psi.clone()
    return torch.mm(torch.view_as_real(psi).view(rows, -1).square(), signs[0])


def _backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """:meth:`SmallCircuit.backward`, computed."""
    if ctx.dense is not None:
        return dense_backward(ctx, grad)
    rt: SmallRuntime = ctx.rt
    call: _Call = ctx.call
    var: _Variant = ctx.var
    prog = rt.prog
    n = prog.n
    runs = call.runs
    psi = runs[-1]
    rows = psi.shape[0]
    # h = conj(dL/dpsi): the only conjugate of the backward
    if ctx.signs is not None:
        # out of place: complex *= real in place is 3x the cost here
        h = torch.mul(torch.conj_physical(psi), torch.mm(grad, ctx.signs[1]))
    else:
        h = torch.conj_physical(grad)
    g_ang: dict[tuple[str, int], torch.Tensor] = {}
    pending: list[_Pending] = []
    # --- instructions in reverse
    for r in range(len(var.runs) - 1, -1, -1):
        start, stop, _ = var.runs[r]
        psi_in, saved, ut = runs[r]
        if ut is not None:
            h_ut = torch.mm(psi_in.mT, h)
            h = torch.mm(h, ut.mT)
            _back(rt, call, h_ut, start, stop, saved, ut, g_ang, pending)
        else:
            out = runs[r + 1][0] if r + 1 < len(var.runs) else psi
            h = _back(rt, call, h, start, stop, saved, out, g_ang, pending)
    g_psi0 = None
    if rt.prefix:  # the product state is a layer applied to |0>
        psi_start = runs[0][0] if var.runs else psi
        assert var.trace_idx is not None
        per_row = any(k == "b" for k, _ in rt.prefix)
        last = ("prefix", len(rt.prefix) - 1)
        pending.append((last, psi_start, h, var.trace_idx, None, per_row))
        traces = _traces(rt, pending, n, (id(var), rows, ctx.signs is None))
        t = traces[last]
        # each prefix layer j sees the trace through the later layers W_j:
        # tr(T W Q W^-1) = tr((W^-1 T W) Q), W_j = R_J .. R_{j+1} (unitary)
        wm = None
        for j in range(len(rt.prefix) - 2, -1, -1):
            mj = call.pmats[j]  # rows of prefix layer j + 1
            wm = mj if wm is None else torch.matmul(wm, mj)
            traces[("prefix", j)] = _conjugated(t, wm)
    else:
        traces = _traces(rt, pending, n, (id(var), rows, ctx.signs is None))
        if ctx.psi0_rows is not None and ctx.needs_input_grad[6]:
            h0 = h if ctx.psi0_rows == rows else h.sum(0, keepdim=True)
            # a real start state's gradient: Re conj(h) = Re h
            g_psi0 = h0.real if ctx.psi0_real else torch.conj_physical(h0)
    # --- slots: dL/da = Re tr(T Q), Q = S X S^-1 conjugated through the row
    for k in call.angled:
        blocks = []
        for what, j in rt.blocks[k]:
            got = traces.get(("prefix", j) if what == "prefix" else (k, j))
            if got is None:  # pragma: no cover - every layer runs in every variant
                got = torch.zeros(n, 2, 2, dtype=rt.dtype, device=rt.device)
            elif k == "s" and got.dim() == 4:
                got = got.sum(0)
            blocks.append(got)
        tr = blocks[0] if len(blocks) == 1 else torch.cat(blocks, -3)  # [(R,) rows, 2, 2]
        gen = rt.gens[k]
        depth = rt.depth[k]
        if depth == 1:
            q = gen
        else:
            m = call.slots[k]
            qs = [gen[depth - 1]]
            sfx = m.select(-4, depth - 1)
            mul = torch.bmm if sfx.dim() == 3 else torch.matmul  # bmm: shared rows
            for p in range(depth - 2, -1, -1):
                qs.append(mul(mul(sfx, gen[p]), torch.conj_physical(sfx).mT))
                if p:
                    sfx = mul(sfx, m.select(-4, p))
            if all(x.shape == qs[0].shape for x in qs):
                q = torch.stack(qs[::-1], -4)
            else:
                q = torch.stack(torch.broadcast_tensors(*qs[::-1]), -4)
        g = (q * tr.mT.unsqueeze(-4)).sum((-2, -1)).real
        _add(g_ang, (k, 0), g.flatten(-2))
    # --- angles -> sources
    g_w = g_x = g_wb = None
    full: dict[str, torch.Tensor] = {}
    for k, a in call.ang.items():
        parts = sorted((pos, t) for (kk, pos), t in g_ang.items() if kk == k)
        if not parts:
            continue
        if len(parts) == 1 and parts[0][1].shape[-1] == a.shape[-1]:
            full[k] = parts[0][1]
            continue
        gk_ = torch.zeros_like(a)
        for pos, t in parts:
            gk_[..., pos : pos + t.shape[-1]] += t
        full[k] = gk_
    if "s" in full and rt.one_row:
        assert rt.scale_sT is not None
        g_w, g_x, g_wb = _one_row_grads(rt, ctx, torch.mv(rt.scale_sT, full["s"]))
    elif "s" in full and ctx.needs_input_grad[3]:
        assert rt.scale_sT is not None
        g_w = torch.mv(rt.scale_sT, full["s"])
    if "b" in full:
        gb = full["b"]
        sx, sp, sw = rt.scale_b
        if sx is not None and ctx.needs_input_grad[4]:
            g_x = torch.mm(gb, sx[1])
        if sp is not None and ctx.needs_input_grad[4]:
            assert g_x is not None  # the single-feature scale exists whenever inputs do
            g_x = add_product_grads(g_x, ctx.x, torch.mm(gb, sp[1]), rt.products)
        if sw is not None and ctx.needs_input_grad[5]:
            g_wb = torch.mm(gb, sw[1])
    return None, None, None, g_w, g_x, g_wb, g_psi0
