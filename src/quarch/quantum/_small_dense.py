"""The small path's dense variant: a whole circuit of up to four qubits in about fifty torch calls.

Why a third way to run a small circuit: at 2-4 qubits and batches of tens to hundreds
of rows, a forward+backward of :class:`~quarch.quantum._small_run.SmallCircuit` is
about a hundred torch calls of 1-25 us each and almost no arithmetic; half of them are
its backward's partial traces and the conjugation of each slot's generator through its
row (the general method, right for any program). For the programs hybrid networks
are made of (an angle embedding, then trainable one-qubit layers and constant
entanglers, measured in ``<Z>``), there is a shorter way, because every parametrised
gate of those programs satisfies ``dM/da = -sin(a) B + cos(a) C`` (it is ``A + cos(a)
B + sin(a) C``, :func:`~quarch.quantum._small_plan.gate_terms`): the derivative of a
product of such gates with respect to one angle is the same product with that one
factor replaced by its derivative. So the forward builds, next to the shared matrix
``U^T`` of the whole trainable part, the matrices ``dU^T/da_j`` of every shared angle
``j`` in the *same* calls (a leading "chain" axis of ``1 + angles`` variants:
two-by-two rows with one factor swapped, one gather for all the Kronecker layers of
all variants, one ``bmm`` per layer), maps them to the weights (one ``mm``), and builds
the per-sample product state next to its ``n`` derivatives (one gather and one
product). The backward is then contractions only (about a dozen calls):

* ``G = dL/dRe psi + i dL/dIm psi = 2 psi (grad @ signs^T)`` (``psi = phi U^T``);
* ``dL/dw = Re sum conj(G_U) dU^T/dw`` with ``G_U = phi^H G``: one ``mm`` and one ``mv``;
* ``dL/da_q = Re sum_k conj(G_phi)_k dphi_q,k`` with ``G_phi = G U^H``: one ``mm``, a
  product and a sum, then the inputs' scale matrix.

Where every wire's embedded vector is real up to a constant phase per entry (an
embedding by RX or RY, maybe after constant gates; not RZ after H), the product state
and its derivatives are real: the phases go into ``U^T``'s rows, ``psi`` is one real
``mm`` of ``[B, d]`` by ``[d, 2d]``, and neither conjugates nor complex views are
needed (``conj(phi) = phi``): about 0.9x the time of the complex form at n = 2-4.

The price is arithmetic: ``(1 + angles) L`` products of ``2^n x 2^n`` matrices and a
product state of ``(n + 1) n 2^n`` factors per row. That is nothing at 2-4 qubits and
grows fast, so :func:`dense_tables` takes the variant only where a program qualifies
and its extra work is below a bound that grows with the rows (:data:`DENSE_WORK`, set
by measurement; see there). The derivatives are made only for the gradients a call
wants: under ``torch.no_grad`` (a training loop's validation) the forward is ``U^T``
alone, one chain, and the product state alone, and the bound does not apply.

Diagonal gates (:mod:`~quarch.quantum._dense_diagonal`): in the shared part
(trainable CRZ, CPHASE, RZZ; a constant CZ no layer absorbs) they multiply ``U^T``'s
columns by their phases, and each trainable angle is one more chain (the
trigonometric form is not built for them: their half angles are not on its grid);
right after the product state, per sample (an IQP embedding's RZZ of input products),
they multiply the state by ``e^{i theta(x)}``, and where the product state is itself
a phase state (H then RZ) the phases are the whole state.

An amplitude embedding gives the node its start state ``psi0`` (real, normalised
outside) in place of the product state: then ``psi = psi0 U^T`` is one real ``mm`` of
``[B, d]`` by ``[d, 2d]``, ``dL/dw`` the same contraction with ``psi0`` in ``phi``'s place
and ``dL/dpsi0 = 2 G U_r^T``; the shared part is built as above. Its general method
has no product state to trace, so it takes the variant under a lower bound
(:data:`DENSE_START_WORK`).

A re-uploading program (the embedding again before each layer) is one shared segment
per layer with per-sample layers and phases between them
(:mod:`~quarch.quantum._dense_reupload`); it takes the variant where the re-applied
embedding has per-sample phases (IQP), up to :data:`REUPLOAD_SPAN`. Any other program
(per-sample gates that are not one slot per wire of the inputs or diagonal, input
products in a slot, trainable non-diagonal multi-qubit gates, per-sample weights, a
complex start state (``initial_state``), a permutation right after the start state,
more than four qubits), or a call that wants the state rather than ``<Z-words>``, runs
the general method.

How it is written, and why: angles go through ``sin`` only (``cos a = sin(a +
pi/2)``), and the slots' matrices and the embedding's vectors each come from one
``addmv`` / ``addmm`` (a broadcasting ``addcmul`` costs 10-13 us at these sizes, a
small ``mm`` 3-5); the per-sample tensors are laid out batch last (a gather of whole
rows and a product over the leading axis cost about a fifth of the same along the
last axis at n = 2, batch 256); the backward's factor 2 sits in the constants.
Like the general method, from the third call of a shape the node runs as a replay
(:mod:`quarch.quantum._replay`), and on CUDA as graphs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from quarch.quantum._dense_diagonal import (
    PhaseTables,
    phase_count,
    phase_factors,
    phase_input_grads,
    phase_state,
)
from quarch.quantum._dense_fourier import SineTables
from quarch.quantum._dense_product import embedding_tables, product_state
from quarch.quantum._dense_reupload import (
    Reupload,
    reupload_backward,
    reupload_forward,
    segment_weights,
)
from quarch.quantum._dense_shared import SharedPart, shared_matrix
from quarch.quantum._small_runtime import (
    _CDENSE,
    _CDIAG,
    _DIAG,
    _KRON,
    SmallRuntime,
    host_rounded,
)

__all__ = [
    "DENSE_START_WORK",
    "DENSE_START_WORK_PER_ROW",
    "DENSE_WORK",
    "DENSE_WORK_PER_ROW",
    "DenseTables",
    "dense_backward",
    "dense_forward",
    "dense_tables",
]

DENSE_WORK = 6.2e5
"""Most work of the derivative chains (complex multiply-adds per call,
:attr:`DenseTables.work`) for which the dense variant is taken, plus
:data:`DENSE_WORK_PER_ROW` per row of the call (the general method's cost grows with
the rows, the chains' does not). Measured against the general method on the final
code (``benchmarks/dense_variant.py``, n = 1-4, L = 1, 2, 4, 6, batch 8-1024): every
cell up to work 174,080 won (n <= 3: 0.48-0.87x the time; n = 4, L = 2: 0.46-0.81x);
n = 4, L = 4 (675,840) lost at batch 8 and 16 (1.107x, 1.036x), was level at 32
(0.994x) and won from 64 on (0.967-0.551x); n = 4, L = 6 (1,505,280) lost up to batch
256 (1.492-1.070x) and won at 1024 (0.708x). The line ``620,000 + 1,800 rows`` passes
between those cells (break-even of L = 4 near 32 rows, of L = 6 between 256 and
1024). With trainable diagonals (``--diagonal``: CRZ rings in place of CNOT, the
general method's diagonal steps cost more than the chains' column products) every
cell the line admits won (0.362-0.974x) and every cell it leaves out lost or was
level (1.026-2.469x; 0.991x at 256 rows) but three (714,240 at 8 and 32 rows: 0.959x,
0.914x; 956,160 at 32: 0.946x). With per-sample phases (``--phase``: IQP embeddings,
CNOT rings) the 151 cells the line admits took 0.327-0.943x; of the 9 it leaves out
one won (0.900x), one was level (1.008x) and seven lost (1.039-1.890x)."""

DENSE_WORK_PER_ROW = 1.8e3
"""See :data:`DENSE_WORK`."""

DENSE_START_WORK = 5.0e5
""":data:`DENSE_WORK` for a program with a start state (:attr:`DenseTables.start`, an
amplitude embedding), plus :data:`DENSE_START_WORK_PER_ROW` per row: lower, because the
general method's backward of such a program has no product state to trace. Measured
against the general method (``benchmarks/dense_variant.py --start``: an amplitude
embedding, then L x (RY, RZ or RX, RY, RZ on every wire, CNOT ring), n = 1-4, L = 1-6,
batch 8-1024): every cell up to work 384,000 won (n <= 3: 0.545-0.958x; n = 4, L = 3 of
RY, RZ: 0.962x at batch 8 to 0.854x at 1024); n = 4, L = 3 of three rotations
(568,320) lost at 8 (1.041x), was level at 32 (0.996x) and won from 256 on (0.975x,
0.920x); L = 4 of two (675,840) lost up to 256 rows (1.119-1.086x) and won at 1024
(0.962x); larger work lost everywhere (1.077-1.886x). The line ``500,000 + 300 rows``
passes between those cells."""

DENSE_START_WORK_PER_ROW = 3.0e2
"""See :data:`DENSE_START_WORK`."""

REUPLOAD_SPAN = 24
"""Most shared segments times ``2^n`` for which a re-uploading program takes the dense
variant (:mod:`~quarch.quantum._dense_reupload`), and only where its re-applied
embedding has per-sample diagonal gates (IQP's RZZ of input products), which cost the
general method most. Why a bound on this product: the variant's fixed gain (the
product state and the first segment in a few calls) is paid back by each further
block, and its per-sample matrices grow as ``d^2`` per row where the general method's
halves grow as ``d``. Measured against the general method
(``benchmarks/dense_variant.py --reupload iqp --budget 0.3``: H and RZ per wire, RZZ on
all pairs, before each of L layers of RY RZ or RX RY RZ and a CNOT ring, alternating
rounds, batch 8, 32, 256, 1024): n = 2, L = 2-6: 0.628-0.852x; n = 3, L = 2:
0.820-0.855x, L = 3: 0.843-1.031x (above 1 at 1024 rows only), L = 4: 0.849-1.166x,
L = 6: 0.835-1.285x; n = 4, L = 2: 0.924-1.843x, more layers 0.970-5.272x.
``L x 2^n <= 24`` keeps n = 2 to L = 6 and n = 3 to L = 3. Without per-sample phases
(angle-x, -y, -z re-uploaded: ``--reupload angle``) the variant was level or behind at
the rows a training step has (n = 1-2, 8 and 32 rows: 0.960-1.124x; n = 3:
0.942-1.087x; n = 4: 1.151-1.835x) and ahead only from 256 rows at n <= 2
(0.640-0.958x), so those programs run the general method."""

REUPLOAD_NEEDS_PHASES = True
"""Re-uploading programs take the dense variant only with per-sample phases between
their segments (:data:`REUPLOAD_SPAN`; ``benchmarks/dense_variant.py --reupload angle``
turns this off to measure the others)."""

DENSE_ROWS = 8
"""Fewest rows a call must have for the dense variant (the fewest measured; batch 1
runs the one-row program, which never qualifies)."""


class DenseTables(SharedPart):
    """Device constants of the dense variant of one :class:`SmallRuntime` (built once):
    the state the shared part receives, then its first shared segment (the
    :class:`~quarch.quantum._dense_shared.SharedPart` this is; see there for the
    chains' tables), then, in a re-uploading program, ``reupload``: per-sample
    layers, phases and further segments in the program's order.

    Attributes read by :func:`dense_forward` (``n`` wires, ``d = 2^n``):

    * (the product state's, :func:`~quarch.quantum._dense_product.embedding_tables`)
      ``x_scale2 [I, 2n]``, ``x_shift [2n]``: ``sin(x @ x_scale2 + x_shift)`` is ``[cos
      a | sin a]`` of the embedding angles; ``e_base``, ``e_mat``: then ``e_base + [cos
      | sin] @ e_mat`` is, per wire, ``(v0, v1, dv0, dv1)`` (re, im interleaved, ``[B,
      8n]``; or, with ``real_state``, real and batch last, ``e_base + e_mat [cos |
      sin]^T``, ``[4n, B]``) with ``v`` the wire's embedding gate applied to ``|0>`` and
      ``dv`` its derivative; ``phi_index [n (n+1) d]``: the gather whose product over
      the wires is the product state (variant 0) and its ``n`` derivatives
      (``phi_index0 [n d]``: the state alone);
      ``row_phase [d, 1] | None``: a real state's phases (or a phase state's
      constants), multiplied into ``U^T``;
    * ``phase``: per-sample diagonal gates after the product state, or a phase state
      (:class:`~quarch.quantum._dense_diagonal.PhaseTables`; None without);
    * ``start``: a start state given to the node in place of the product state (then
      the embedding's tables are not made);
    * ``x_scaleT [n, I]``: the inputs' scale for the backward, doubled;
    * ``reupload``: what follows the first segment in a re-uploading program
      (:class:`~quarch.quantum._dense_reupload.Reupload`; None without);
    * ``work``: the chains' complex multiply-adds per call, all segments (see
      :data:`DENSE_WORK`).
    """

    def __init__(self, rt: SmallRuntime) -> None:
        prog = rt.prog
        dev, real = rt.device, rt.real

        def rt_(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=real, device=dev)

        def lt(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.int64), device=dev)

        def ct_(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, device=dev).to(rt.dtype)

        makers = (rt_, lt, ct_)
        self.n, self.d = prog.n, prog.d
        #: a start state given to the node (a real amplitude embedding) in place of
        #: the product state: ``psi = psi0 U^T``, nothing per wire
        self.start = prog.prefix is None
        self.real_state = True
        self.product: SineTables | None = None
        self.row_phase: torch.Tensor | None = None
        #: per-sample diagonal gates right after the product state (an IQP
        #: embedding's RZZ): phases per sample (:mod:`~quarch.quantum._dense_diagonal`)
        self.phase: PhaseTables | None = None
        head = rt.lead + phase_count(rt)  # the first segment's first instruction
        at = [rt.lead] if head > rt.lead else []  # the per-sample diagonals
        # per-sample instructions after the first segment (re-uploading) split the rest
        cuts = [i for i in range(head, rt.tail) if rt.code[i][1] == "b"]
        host_row_phase = None
        pure = None if self.start else phase_state(rt)
        if pure is not None:  # H then RZ (angle-z, IQP): nothing per wire
            self.real_state = False
            self.phase = PhaseTables(rt, rt_, at, pure[0])
            host_row_phase = host_rounded(pure[1][:, None], rt.dtype)  # the constants
            self.row_phase = ct_(host_row_phase)
        elif not self.start:
            real_ok = head == rt.lead and not cuts  # later segments take complex states
            host_row_phase = embedding_tables(self, rt, rt_, lt, ct_, real=real_ok)
            if at:
                self.phase = PhaseTables(rt, rt_, at, None)
        stop = cuts[0] if cuts else rt.tail
        weights = segment_weights(rt, head) if cuts else [None]
        SharedPart.__init__(
            self,
            rt,
            head,
            stop,
            makers,
            None,
            self.real_state,
            (self.row_phase, host_row_phase),
            weights[0],
            not cuts,
        )
        #: what follows the first segment in a re-uploading program (None without)
        self.reupload = Reupload(rt, stop, makers, self, weights) if cuts else None  # type: ignore[arg-type]
        if self.reupload is not None:
            self.work += self.reupload.work


def _qualifies(rt: SmallRuntime) -> bool:
    """Whether ``rt``'s program has the dense variant's form (module docstring): a
    product state of one per-sample slot per wire read from the inputs alone, then
    shared whole-register Kronecker layers, constant dense gates and diagonal gates
    (constant or of shared angles) whose only other angles are their slots'; or a
    start state given to the node (amplitude embedding) followed by the same, with no
    leading permutation and nothing per sample. Per-sample Kronecker layers of the
    inputs alone and diagonal gates of the inputs and their products may follow the
    product state (an IQP embedding's RZZ) and any shared segment that has a
    Kronecker layer (re-uploading)."""
    prog = rt.prog
    if rt.one_row or "s" not in rt.terms or not rt.whole:
        return False
    phase = phase_count(rt)
    if prog.prefix is None:  # a start state
        if prog.batched or rt.lead or "b" in rt.kinds or rt.reads_inputs:
            return False
    else:
        if len(prog.prefix) != 1 or prog.prefix[0][0] != "b" or "b" not in rt.terms:
            return False
        if rt.depth["b"] != 1:
            return False
        # (per-sample weights make every weight per sample: no shared slot, refused above)
        if prog.scale["b"][prog.n_inputs :, : rt.n_rows["b"]].any():
            return False  # input products only in the phases, not in the slots
    diagonal = sum(op[3][1] - op[3][0] for op in rt.code if op[0] == _DIAG and op[1] == "s")
    if prog.n_angles["s"] != rt.depth["s"] * rt.n_rows["s"] + diagonal:
        return False  # a shared angle outside the rows and the diagonals (a dense gate)
    seg = rt.code[rt.lead + phase : rt.tail]
    kinds = (_KRON, _CDENSE, _DIAG, _CDIAG)
    if not seg or seg[0][1] == "b" or not all(op[0] in kinds for op in seg):
        return False
    # every shared segment (a run between per-sample instructions) has a Kronecker layer
    marks = "".join("|" if op[1] == "b" else "k" if op[0] == _KRON else "." for op in seg)
    runs = [r for r in marks.split("|") if r]
    if len(runs) > 1:  # re-uploading: where it was measured to pay (REUPLOAD_SPAN)
        phases = any(op[1] == "b" and op[0] == _DIAG for op in seg)
        if (REUPLOAD_NEEDS_PHASES and not phases) or len(runs) * prog.d > REUPLOAD_SPAN:
            return False
    return all("k" in r for r in runs)


def dense_tables(rt: SmallRuntime, rows: int, chains: bool) -> DenseTables | None:
    """The dense variant's tables for a ``<Z-words>`` call of ``rows`` rows, or None
    where the general method runs (program not of the form, too few rows, or, for a
    call that wants the weights' gradient (``chains``), more extra work than
    :data:`DENSE_WORK` allows at these rows). Cached on ``rt``.

    A call that wants no gradient of the weights (``torch.no_grad``: a training loop's
    validation) makes ``U^T`` alone, one chain, and takes the variant whatever the
    chains' work: ``python benchmarks/dense_variant.py --no-grad`` (the simulator
    benchmark's layer, n = 1-4, L = 1-6, 8-256 rows) measured 0.387-0.847x the general
    method's forward in all 48 cells, 0.624-0.831x at n = 4, L = 4 and 6, where the
    chains' bound sends a training step to the general method."""
    if rt.dense is None:
        rt.dense = DenseTables(rt) if _qualifies(rt) else False
    tab = rt.dense
    if tab is False or rows < DENSE_ROWS:
        return None
    if chains:
        base, per_row = (
            (DENSE_START_WORK, DENSE_START_WORK_PER_ROW)
            if tab.start
            else (DENSE_WORK, DENSE_WORK_PER_ROW)
        )
        if tab.work > base + per_row * rows:
            return None
    return tab  # type: ignore[no-any-return]


def dense_forward(
    ctx: Any,
    tab: DenseTables,
    signs: tuple[torch.Tensor, torch.Tensor],
    w: torch.Tensor,
    x: torch.Tensor | None,
    psi0: torch.Tensor | None = None,
) -> torch.Tensor:
    """``<Z-words> [B, n_obs]`` of the dense variant; keeps on ``ctx.dense`` what
    :func:`dense_backward` needs. ``x``: the inputs (a product state) or ``psi0``: a
    real start state ``[B, d]`` (:attr:`DenseTables.start`). The state the shared part
    receives: the product state, maybe times per-sample phases, or a phase state.

    The derivatives are made only for the gradients the call wants
    (``ctx.needs_input_grad``; none under ``torch.no_grad``, a training loop's
    validation): without them the chains cost more than the general method's forward
    (n = 4, two layers of RY and RZ, 30 rows: 1.03x; three layers: 1.34x), with them
    ``U^T`` alone is one chain of ``1 + angles`` and the product state one of ``n + 1``."""
    need = getattr(ctx, "needs_input_grad", None)
    want_w = need is not None and need[3]
    u, d_w, mats = shared_matrix(tab, w, want_w)
    if tab.start:
        assert psi0 is not None
        psi_r = torch.mm(psi0, u)  # [B, d] @ [d, 2d]: (re, im) interleaved
        ctx.dense = (tab, signs[0], None, psi0, u, d_w, psi_r)
        return torch.mm(psi_r.square(), signs[0])
    assert x is not None
    rows = x.shape[0]
    phis = factors = None
    if tab.phase is not None and tab.phase.pure:  # a phase state: e^{i theta(x)}
        state = phase_factors(tab.phase, x)
    else:
        phis = product_state(tab, x, need is not None and need[4])
        phi = phis.select(0, 0)  # [d, B]
        if tab.real_state:  # psi = phi U^T as reals: [B, d] @ [d, 2d], (re, im)
            psi_r = torch.mm(phi.mT, u)
            ctx.dense = (tab, signs[0], phis, phi, u, d_w, psi_r)
            return torch.mm(psi_r.square(), signs[0])
        state = phi.mT  # [B, d]
        if tab.phase is not None:  # per-sample phases: psi0 = phi e^{i theta(x)}
            factors = phase_factors(tab.phase, x)
            state = state * factors
    psi = torch.mm(state, u)
    later = None
    if tab.reupload is not None:  # per-sample layers and phases, more segments
        psi, later = reupload_forward(tab.reupload, w, x, psi, mats, want_w)
    psi_r = torch.view_as_real(psi).view(rows, -1)
    ctx.dense = (tab, signs[0], phis, state, u, d_w, psi_r * tab.conj_state, factors, x, later)
    return torch.mm(psi_r.square(), signs[0])


def dense_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """Gradients of :func:`dense_forward` for :meth:`SmallCircuit.backward`."""
    if ctx.dense[0].real_state:
        return _real_backward(ctx, grad)
    tab, signs_t, phis, state, u0, d_w, psi_c, factors, x, later = ctx.dense
    d, rows = tab.d, state.shape[0]
    want_w, want_x = ctx.needs_input_grad[3], ctx.needs_input_grad[4]
    # h = conj(dL/dpsi) / 2 = conj(psi) (grad @ signs^T) (the 2 is in the constants);
    # psi_c: conj(psi) as reals; signs_t: the signs repeated per (re, im)
    h = torch.view_as_complex((psi_c * torch.mm(grad, signs_t.mT)).view(rows, d, 2))
    g_w = g_x = None
    if later is not None:  # back to the first segment's output, every segment's g_w
        h, g_w, g_x = reupload_backward(tab.reupload, later, h, x, (state, d_w), want_w, want_x)
    elif want_w:
        xg = torch.mm(state.mT, h)  # conj(dL/dU^T)
        g_w = torch.mv(d_w, torch.view_as_real(xg).view(-1))
    if want_x:
        h0 = torch.mm(h, u0.mT)  # conj(dL/dpsi0) [B, d]
        if phis is not None:  # psi0 = phi e^{i theta}: conj(dL/dphi) = h0 e^{i theta}
            h_phi = h0 if factors is None else h0 * factors
            # [n, B]: dL/da = Re sum_k conj(dL/dphi)_k dphi_k
            ga = (phis.narrow(0, 1, tab.n) * h_phi.mT).sum(1)
            g = torch.mm(ga.real.mT, tab.x_scaleT)
            g_x = g if g_x is None else g_x + g
        if tab.phase is not None:
            g_x = phase_input_grads(tab.phase, h0, state, x, g_x)
    return None, None, None, g_w, g_x, None, None


def _real_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """:func:`dense_backward` where the product state is real: ``G = dL/dRe psi + i
    dL/dIm psi`` as interleaved reals; ``dL/dw = G_U . dU/dw`` with ``G_U = phi^T G``
    (no conjugate: phi is real); ``dL/dphi = G U_r^T`` (the real part is all a real
    state's derivative sees)."""
    tab, signs_t, phis, phi, u_r, d_w, psi_r = ctx.dense
    g = psi_r * torch.mm(grad, signs_t.mT)  # half of G (the 2 is in the constants)
    g_w = g_x = None
    if tab.start:  # phi: the start state [B, d]
        if ctx.needs_input_grad[3]:
            g_w = torch.mv(d_w, torch.mm(phi.mT, g).view(-1))
        g_psi0 = None
        if ctx.needs_input_grad[6]:  # dL/dpsi0 = 2 G U_r^T (the 2 is not in U_r)
            g_psi0 = torch.mm(g, u_r.mT).mul_(2)
        return None, None, None, g_w, None, None, g_psi0
    if ctx.needs_input_grad[3]:
        g_w = torch.mv(d_w, torch.mm(phi, g).view(-1))
    if ctx.needs_input_grad[4]:
        g_phi = torch.mm(g, u_r.mT)  # [B, d]
        ga = (phis.narrow(0, 1, tab.n) * g_phi.mT).sum(1)  # [n, B]
        g_x = torch.mm(ga.mT, tab.x_scaleT)
    return None, None, None, g_w, g_x, None, None
