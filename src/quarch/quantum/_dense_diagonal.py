"""Diagonal gates in the dense variant (:mod:`~quarch.quantum._small_dense`): shared
trainable ones, and per-sample ones right after the product state (IQP embeddings).

A diagonal gate only multiplies each amplitude by a phase ``e^{i theta}``, ``theta =
theta0 + angles @ coef``; both kinds are built from that, with angles through ``sin``
only (``cos theta = sin(theta + pi/2)``, one ``addmm`` and one ``sin`` for all gates).

**Shared** (trainable CRZ, CPHASE, RZZ in the segment): they multiply ``U^T``'s columns,
and the chain of each of their angles ``j`` by the derivative ``i coef_j e^{i theta}``
instead (:func:`shared_diagonals`).

**Per sample** (an IQP embedding is H and ``RZ(x_i)`` on every wire, then ``RZZ(x_i
x_j)`` on pairs): their angles are inputs and products of inputs, so they cannot go
into ``U^T``; without this a program with them ran the general method (2.1-2.7x an
angle embedding's forward+backward at n = 2-4, batch 32, on this machine). The state
the shared part receives is

    psi0 = phi * e^{i theta(x)},   theta = theta0 + src @ P,   src = [x | products],

with ``P = S_b coef`` summed over the gates (the plan's scale of their angles times
their phase coefficients). Where the product state itself is a phase state (H then RZ,
as in IQP and angle-z embeddings: :func:`phase_state`) its angles join ``P`` and its
constants go into ``U^T``'s rows, so nothing per wire is built. The backward needs,
with ``h0 = dL/dpsi0`` (Wirtinger, as the variant's backward computes it): ``dL/dphi
= h0 e^{i theta}`` for the product state's derivatives, and ``dL/dtheta = 2 Re(i h0
psi0) = -2 Im(h0 psi0)``, then ``dL/dsrc = dL/dtheta P^T`` (the ``-2`` in the
constant) and the products' chain rule (:func:`phase_input_grads`). Written into the
node rather than left to autograd around it: the node's other gradients already need
``h0``, and autograd's version of the same calls adds its own per-call cost.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from quarch.quantum._dense_product import bit
from quarch.quantum._products import add_product_grads, input_products
from quarch.quantum._small_runtime import _DIAG, SmallRuntime

__all__ = [
    "PhaseTables",
    "phase_count",
    "phase_factors",
    "phase_input_grads",
    "phase_state",
    "shared_diagonals",
]


def shared_diagonals(
    rt: SmallRuntime, n_chains: int, diag_at: list[int], first: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(scale [2 gates d, W], shift [2 gates d], factor [gates, C, d])`` of the
    trainable diagonal gates at ``rt.code[i]``, ``i`` in ``diag_at``, whose chains
    begin at ``first``: ``sin(shift + scale w)`` is each gate's ``(cos theta, sin
    theta)`` per entry, ``theta = theta0 + w @ (S coef)``, so ``e^{i theta}`` is a
    complex view ``[gates, d]``; ``factor`` then makes every chain's factor: ``e^{i
    theta}`` itself, or for the chain of the gate's angle ``j`` its derivative ``i
    coef_j e^{i theta}``."""
    d = rt.prog.d
    ss = rt.prog.scale["s"]
    mats, shifts = [], []
    factor = np.ones((len(diag_at), n_chains, d), dtype=np.complex128)
    ch = first
    for o, i in enumerate(diag_at):
        ins = rt.prog.instrs[i]  # the code has one entry per instruction
        assert ins.coef is not None and ins.theta0 is not None
        lo, hi = rt.code[i][3]
        m = ss[:, lo:hi] @ ins.coef  # [W, d]: theta = theta0 + w @ m
        mats.append(np.repeat(m.T, 2, 0))  # rows (entry, cos | sin)
        shifts.append(np.repeat(ins.theta0, 2) + np.tile([math.pi / 2, 0.0], d))
        for j in range(hi - lo):
            factor[o, ch] = 1j * ins.coef[j]
            ch += 1
    return np.concatenate(mats, 0), np.concatenate(shifts), factor


def phase_count(rt: SmallRuntime) -> int:
    """1 where a per-sample diagonal instruction follows the product state (after its
    leading permutations), else 0; the dense variant takes it as phases. The plan
    merges a run of diagonal gates into one instruction, constant ones included, so
    there is at most one (an IQP embedding's RZZ are one)."""
    lead = rt.lead
    return int(lead < len(rt.code) and rt.code[lead][0] == _DIAG and rt.code[lead][1] == "b")


def phase_state(rt: SmallRuntime) -> tuple[np.ndarray, np.ndarray] | None:
    """``(P [I, d], c [d])`` where the product state is a phase state, ``phi_k = c_k
    e^{i (x @ P)_k}``; None otherwise.

    Each wire's embedding gate on ``|0>`` is ``v(a) = A + cos(a) B + sin(a) C``; where
    every entry has ``A = 0`` and ``C = +-i B`` (H then RZ, as in angle-z and IQP
    embeddings; or ``B = C = 0``, a constant), it is ``B e^{+-i a}``, so the product
    of the wires' entries is a constant times ``e^{i sum_q +-a_q}``. Then the state
    needs no product and no derivatives per wire: its angles join the phases' ``P``
    and its constants ``c`` go into ``U^T``'s rows."""
    prog = rt.prog
    assert prog.prefix is not None
    n, d = prog.n, prog.d
    rows_b = prog.prefix[0][1]
    terms = prog.slot_terms["b"][0]  # [R, 3, 2, 2]
    sx = prog.scale["b"][: prog.n_inputs]  # [I, angles]: angle r of row r
    signs = np.zeros((n, 2))
    consts = np.ones((n, 2), dtype=np.complex128)
    for q, r in enumerate(rows_b):
        a, b, c = (terms[r, t][:, 0] for t in range(3))  # on |0>
        # each entry as alpha + beta e^{ia} + gamma e^{-ia}: a phase where at most one is
        coef = np.stack([a, (b - 1j * c) / 2, (b + 1j * c) / 2], -1)  # [2 entries, 3]
        big = np.abs(coef) > 1e-12
        if (big.sum(-1) > 1).any():
            return None
        k = big.argmax(-1)  # the frequency of each entry (0 for a zero entry)
        consts[q], signs[q] = coef[[0, 1], k], np.array([0.0, 1.0, -1.0])[k]
    bits = np.stack([bit(np.arange(d), q, n) for q in range(n)])  # [n, d]
    for op in rt.code[: rt.lead]:  # leading permutations: new[s] = old[index[s]]
        bits = bits[:, op[5]]
    wires = np.arange(n)[:, None]
    p = sx[:, rows_b] @ signs[wires, bits]  # [I, d]
    return p, np.prod(consts[wires, bits], 0)


class PhaseTables:
    """Device constants of the per-sample phases: the diagonal instructions ``rt.code[i]``,
    ``i`` in ``at`` (empty: a phase state alone), and a phase state's angles ``state``
    (None: a product state is built, the phases multiply it); ``rt_`` makes the real
    tables (:class:`~quarch.quantum._small_dense.DenseTables`' maker). Several
    instructions (the phases between a re-uploading program's segments,
    :mod:`~quarch.quantum._dense_reupload`) are stacked side by side: ``d`` is then
    their number times ``2^n``, one block of phases each, made and differentiated in
    the same calls.

    * ``scale2 [S, 2d]``, ``shift [2d]``: ``sin(src @ scale2 + shift)`` is ``(cos
      theta, sin theta)`` per amplitude, interleaved, so a complex view is ``e^{i
      theta}``;
    * ``back [d, S]``: ``-2 P^T``, from ``Im(h0 psi0)`` to the sources' gradient;
    * ``pure``: the product state's angles are in ``P`` too (:func:`phase_state`), so
      the phases are the whole state (up to the constants in ``U^T``'s rows);
    * ``groups``: the runtime's input products by arity
      (:data:`~quarch.quantum._products.ProductGroup`: the inputs of each product, and
      for each of its factors the other factors, ``d prod / d x_j``).
    """

    def __init__(self, rt: SmallRuntime, rt_: Any, at: list[int], state: np.ndarray | None) -> None:
        prog = rt.prog
        d, ni, nq = prog.d, prog.n_inputs, len(prog.products)
        sb = prog.scale["b"][: ni + nq]  # per-sample weights are refused before
        blocks = max(1, len(at))
        p = np.zeros((ni + nq, blocks, d))
        self.pure = state is not None
        if state is not None:  # the phase state's angles, x @ P
            p[:ni, 0] = state
        theta0 = np.zeros((blocks, d))
        for k, i in enumerate(at):
            ins = prog.instrs[i]  # the code has one entry per instruction
            assert ins.coef is not None and ins.theta0 is not None
            lo, hi = rt.code[i][3]
            p[:, k] += sb[:, lo:hi] @ ins.coef
            theta0[k] = ins.theta0
        d *= blocks
        p, theta0 = p.reshape(-1, d), theta0.reshape(-1)

        self.d, self.n_inputs = d, ni
        self.scale2 = rt_(np.repeat(p, 2, axis=1))
        self.shift = rt_(np.repeat(theta0, 2) + np.tile([math.pi / 2, 0.0], d))
        self.back = rt_(-2 * p.T)
        self.groups = rt.products  # on the runtime's device, as these tables are


def phase_factors(pt: PhaseTables, x: torch.Tensor) -> torch.Tensor:
    """``e^{i theta(x)} [B, d]`` (complex) for the inputs ``x [B, I]``."""
    rows = x.shape[0]
    src = x
    if pt.groups:  # [x | products], products by arity (the plan's source order)
        src = torch.cat([x, *input_products(x, pt.groups)], 1)
    cs = torch.sin(torch.addmm(pt.shift, src, pt.scale2))
    return torch.view_as_complex(cs.view(rows, pt.d, 2))


def phase_input_grads(
    pt: PhaseTables,
    h0: torch.Tensor,
    psi0: torch.Tensor,
    x: torch.Tensor,
    g_x: torch.Tensor | None,
) -> torch.Tensor:
    """``g_x`` (None: zero) plus the phases' part of ``dL/dx``: ``h0 = dL/dpsi0``
    (Wirtinger) and ``psi0 = phi e^{i theta}``, both ``[B, d]``."""
    g_src = torch.mm(torch.mul(h0, psi0).imag, pt.back)  # [B, S]
    g = g_src.narrow(1, 0, pt.n_inputs)  # the products' columns are read before
    if g_x is not None:
        g = g + g_x
    return add_product_grads(g, x, g_src, pt.groups, pt.n_inputs)
