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
(:data:`DENSE_START_WORK`). Any other program (per-sample gates after the first,
input products, trainable non-diagonal multi-qubit gates, per-sample weights, a
complex start state
(``initial_state``), a permutation right after the start state, more than four
qubits), or a call that wants the state rather than ``<Z-words>``, runs the general
method.

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

import math
from typing import Any

import numpy as np
import torch

from quarch.quantum._dense_diagonal import (
    PhaseTables,
    phase_count,
    phase_factors,
    phase_input_grads,
    phase_state,
    shared_diagonals,
)
from quarch.quantum._dense_fourier import (
    HostTables,
    SineTables,
    fourier_tables,
)
from quarch.quantum._dense_product import bit, embedding_tables, product_state
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

DENSE_ROWS = 8
"""Fewest rows a call must have for the dense variant (the fewest measured; batch 1
runs the one-row program, which never qualifies)."""


class DenseTables:
    """Device constants of the dense variant of one :class:`SmallRuntime` (built once).

    Attributes read by :func:`dense_forward` (``n`` wires, ``d = 2^n``, ``C`` chains =
    1 + the shared angles that have a source, ``L`` Kronecker layers):

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
    * ``w_scale2 [2A, W]``, ``w_shift [2A]``, ``m_base [16A]``, ``m_mat [16A, 2A]``: the
      same for the ``A`` shared slots: per slot its matrix and its derivative;
    * ``row_index``: per slot depth ``p``, which matrix (``2 j + derivative?``) each
      row variant takes (``None`` when the rows are one slot deep);
    * ``kron_index [n C L d d]``, ``kron_phase [L, d, d] | None``: the gather of every
      variant's Kronecker layers, transposed, with the folded constants in;
      ``row_index0``, ``kron_index0 [n L d d]``: the same for ``U^T`` alone (chain 0);
    * ``chain_scale [W, C]``: chains to weights, doubled (chain 0, ``U^T``: zeros);
    * ``segment``: the segment's instructions (:func:`_segment`: ``("k", layer)``,
      ``("c", const^T)``, ``("p", phases)``, ``("d", gate)``); ``n_diag``,
      ``diag_scale``, ``diag_shift``, ``diag_factor``: the trainable diagonal gates'
      phases and every chain's factor of them
      (:func:`~quarch.quantum._dense_diagonal.shared_diagonals`); their angles'
      chains follow the slots';
    * ``start``: a start state given to the node in place of the product state (then
      the embedding's tables are not made);
    * ``x_scaleT [n, I]``: the inputs' scale for the backward, doubled; ``conj_state
      [2d]``, ``conj_matrix [2 d d]``: ``(+1, -1)`` per (re, im) pair;
    * ``work``: the chains' complex multiply-adds per call (see :data:`DENSE_WORK`).
    """

    def __init__(self, rt: SmallRuntime) -> None:
        prog = rt.prog
        n, d = prog.n, prog.d
        dev, real = rt.device, rt.real
        self.n, self.d = n, d

        def rt_(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=real, device=dev)

        def lt(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.int64), device=dev)

        def ct_(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, device=dev).to(rt.dtype)

        #: a start state given to the node (a real amplitude embedding) in place of
        #: the product state: ``psi = psi0 U^T``, nothing per wire
        self.start = prog.prefix is None
        self.real_state = True
        self.product: SineTables | None = None
        self.row_phase: torch.Tensor | None = None
        #: per-sample diagonal gates right after the product state (an IQP
        #: embedding's RZZ): phases per sample (:mod:`~quarch.quantum._dense_diagonal`)
        self.phase: PhaseTables | None = None
        head = rt.lead + phase_count(rt)  # the shared segment's first instruction
        at = rt.lead if head > rt.lead else None  # the per-sample diagonals
        host_row_phase = None
        pure = None if self.start else phase_state(rt)
        if pure is not None:  # H then RZ (angle-z, IQP): nothing per wire
            self.real_state = False
            self.phase = PhaseTables(rt, rt_, at, pure[0])
            host_row_phase = host_rounded(pure[1][:, None], rt.dtype)  # the constants
            self.row_phase = ct_(host_row_phase)
        elif not self.start:
            host_row_phase = embedding_tables(self, rt, rt_, lt, ct_, real=head == rt.lead)
            if at is not None:
                self.phase = PhaseTables(rt, rt_, at, None)
        # --- the shared slots: matrix and derivative of each, from one addmv
        terms_s = prog.slot_terms["s"]  # [P, R, 3, 2, 2]
        depth, nr = terms_s.shape[:2]
        n_slots = depth * nr
        ss = prog.scale["s"]  # [W, A]: the slots' angles first, then the diagonals'
        self.w_scale2 = rt_(np.concatenate([ss[:, :n_slots].T, ss[:, :n_slots].T], 0))
        self.w_shift = rt_(np.r_[np.full(n_slots, math.pi / 2), np.zeros(n_slots)])
        m_base = np.zeros((n_slots, 16))
        m_mat = np.zeros((n_slots, 16, 2 * n_slots))
        for p in range(depth):
            for r in range(nr):
                j = p * nr + r
                a, b, c = (terms_s[p, r, t].reshape(-1) for t in range(3))
                ra = np.stack([a.real, a.imag], -1).reshape(-1)
                rb = np.stack([b.real, b.imag], -1).reshape(-1)
                rc = np.stack([c.real, c.imag], -1).reshape(-1)
                m_base[j, :8] = ra
                m_mat[j, :, j] = np.r_[rb, rc]
                m_mat[j, :, n_slots + j] = np.r_[rc, -rb]
        m_base, m_mat = m_base.reshape(-1), m_mat.reshape(16 * n_slots, 2 * n_slots)
        self.m_base, self.m_mat = rt_(m_base), rt_(m_mat)
        # chains: 0 is U itself, then one per slot that reads a source
        chained = [j for j in range(n_slots) if ss[:, j].any()]
        # trainable diagonal gates in the segment (CRZ, RZZ, ...): one chain per angle
        diag_at = [i for i in range(head, rt.tail) if rt.code[i][0] == _DIAG]
        diag_angles = [a for i in diag_at for a in range(*rt.code[i][3])]
        assert all(a >= n_slots for a in diag_angles)
        self.n_diag = len(diag_at)
        self.n_chains = len(chained) + len(diag_angles) + 1
        self.chain_scale = rt_(
            2 * np.concatenate([np.zeros((ss.shape[0], 1)), ss[:, chained], ss[:, diag_angles]], 1)
        )
        self.diag_scale: torch.Tensor | None = None
        self.diag_shift: torch.Tensor | None = None
        self.diag_factor: torch.Tensor | None = None
        if diag_at:
            scale, shift, factor = shared_diagonals(rt, self.n_chains, diag_at, 1 + len(chained))
            self.diag_scale, self.diag_shift, self.diag_factor = rt_(scale), rt_(shift), ct_(factor)
        # row variants: for row r, variant 0 is its product, variant 1 + p has slot p
        # replaced by its derivative (only the chain whose slot is in the row uses it)
        row_index = None
        if depth > 1:
            row_index = [
                np.array(
                    [2 * (p * nr + r) + (v == p + 1) for r in range(nr) for v in range(depth + 1)]
                )
                for p in range(depth)
            ]
        self.row_index = None if row_index is None else [lt(i) for i in row_index]
        self.row_index0 = (
            None
            if depth == 1
            else [lt([2 * (p * nr + r) for r in range(nr)]) for p in range(depth)]
        )
        n_var = depth + 1 if depth > 1 else 2

        def var_id(r: int, v: int) -> int:
            return r * n_var + v if depth > 1 else 2 * r + v  # depth 1: the slot table

        # --- every chain's Kronecker layers, transposed, constants folded in
        krons = [i for i in prog.instrs if i.op == "kron" and i.kind == "s"]
        nl = len(krons)
        self.n_layers = nl
        kidx = np.empty((n, self.n_chains, nl, d, d), dtype=np.int64)
        kidx0 = np.empty((n, nl, d, d), dtype=np.int64)  # chain 0 from row_index0's products
        phase = np.ones((nl, d, d), dtype=np.complex128)
        ar = np.arange(d)
        for li, ins in enumerate(krons):
            rows = prog.layers["s"][ins.layer]
            post = ar if ins.post_index is None else ins.post_index
            pre = ar if ins.pre_index is None else ins.pre_index
            p_post = np.ones(d) if ins.post_phase is None else ins.post_phase
            p_pre = np.ones(d) if ins.pre_phase is None else ins.pre_phase
            phase[li] = p_pre[:, None] * p_post[None, :]  # K'^T[i, j] = q_i K[post_j, pre_i] p_j
            for q in range(n):
                ui = bit(pre, q, n)[:, None]  # K^T[i, j] = K[j, i]: column bits from i
                uj = bit(post, q, n)[None, :]
                for ch in range(self.n_chains):
                    v = 0
                    if 0 < ch <= len(chained):  # a slot's chain (then the diagonals')
                        jslot = chained[ch - 1]
                        if jslot % nr == rows[q]:
                            v = jslot // nr + 1
                    kidx[q, ch, li] = 4 * var_id(rows[q], v) + 2 * uj + ui
                kidx0[q, li] = 4 * (rows[q] if depth > 1 else var_id(rows[q], 0)) + 2 * uj + ui
        self.kron_index = lt(kidx.reshape(-1))
        self.kron_index0 = lt(kidx0.reshape(-1))
        host_phase = None if np.allclose(phase, 1) else host_rounded(phase, rt.dtype)
        self.kron_phase = None if host_phase is None else ct_(host_phase)
        assert [i.layer for i in krons] == list(range(nl))
        #: per layer, the rows of the slot table it reads (slot j is in row j % slot_rows)
        self.layer_rows = [{int(r) for r in prog.layers["s"][ins.layer]} for ins in krons]
        self.slot_rows = nr
        seg = rt.code[head : rt.tail]
        consts = [op[4] if op[0] == _CDENSE else op[3] if op[0] == _CDIAG else None for op in seg]
        self.segment = _segment(seg, consts, diag_at, head)
        # (+1, -1) per (re, im): conj(psi) as reals, and Re(X D) as a real dot product
        self.conj_state = rt_(np.tile([1.0, -1.0], d))
        conj_matrix = np.tile([1.0, -1.0], d * d)
        self.conj_matrix = rt_(conj_matrix)
        #: the chains' complex multiply-adds per call (their products and gathers)
        self.work = self.n_chains * (nl * d**3 + n * nl * d * d + self.n_diag * d * d)
        self.host = HostTables(
            m_base=host_rounded(m_base, real),
            m_mat=host_rounded(m_mat, real),
            row_index=row_index,
            kron_index=kidx.reshape(-1),
            kron_phase=host_phase,
            row_phase=host_row_phase,
            conj_matrix=conj_matrix,
            segment=_segment(
                seg,  # op[4] = op[3]^T; a constant diagonal's op[3] is its phases
                [rt.host(op[3]).T if op[0] in (_CDENSE, _CDIAG) else None for op in seg],
                diag_at,
                head,
            ),
        )
        #: the shared part as a trigonometric polynomial, where that is cheaper (not
        #: with trainable diagonal gates: their half angles are not on its grid)
        self.fourier: SineTables | None = None if self.n_diag else fourier_tables(self, ss, chained)


def _segment(
    seg: list[tuple[Any, ...]], consts: list[Any], diag_at: list[int], lead: int
) -> list[tuple[str, Any]]:
    """The segment's instructions as the chains run them: ``("k", layer)``, ``("c",
    const^T)`` (a constant dense gate), ``("p", phases)`` (a constant diagonal) or
    ``("d", gate)`` (the ``gate``-th trainable diagonal); ``consts[i]``: the
    constant of ``seg[i]`` (device or host copies)."""
    out: list[tuple[str, Any]] = []
    for i, op in enumerate(seg):
        if op[0] == _KRON:
            out.append(("k", op[3]))
        elif op[0] == _DIAG:
            out.append(("d", diag_at.index(lead + i)))
        elif op[0] == _CDIAG:
            out.append(("p", consts[i]))
        else:
            out.append(("c", consts[i]))
    return out


def _qualifies(rt: SmallRuntime) -> bool:
    """Whether ``rt``'s program has the dense variant's form (module docstring): a
    product state of one per-sample slot per wire read from the inputs alone, then
    shared whole-register Kronecker layers, constant dense gates and diagonal gates
    (constant or of shared angles) whose only other angles are their slots'; or a
    start state given to the node (amplitude embedding) followed by the same, with no
    leading permutation and nothing per sample. Diagonal gates of the inputs and
    their products may follow the product state (an IQP embedding's RZZ)."""
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
        if rt.depth["b"] != 1 or rt.n_rows["b"] != prog.n or rt.layers.get("b"):
            return False
        # (per-sample weights make every weight per sample: no shared slot, refused above)
        ni, rows_b = prog.n_inputs, prog.prefix[0][1]
        if rt.scale_b[1] is not None and (not phase or prog.scale["b"][ni:, rows_b].any()):
            return False  # input products only in the phases, not in the slots
    if any(i.kind == "b" for j, i in enumerate(prog.instrs) if not (phase and j == rt.lead)):
        return False
    diagonal = sum(op[3][1] - op[3][0] for op in rt.code if op[0] == _DIAG and op[1] == "s")
    if prog.n_angles["s"] != rt.depth["s"] * rt.n_rows["s"] + diagonal:
        return False  # a shared angle outside the rows and the diagonals (a dense gate)
    seg = rt.code[rt.lead + phase : rt.tail]
    kinds = (_KRON, _CDENSE, _DIAG, _CDIAG)
    return any(op[0] == _KRON for op in seg) and all(op[0] in kinds for op in seg)


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
    u, d_w = _shared(tab, w, need is not None and need[3])
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
    psi_r = torch.view_as_real(psi).view(rows, -1)
    ctx.dense = (tab, signs[0], phis, state, u, d_w, psi_r * tab.conj_state, factors, x)
    return torch.mm(psi_r.square(), signs[0])


def _shared(
    tab: DenseTables, w: torch.Tensor, derivatives: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(U^T, dU^T/dw | None)``: a real state's rows as (re, im) pairs ``[d, 2d]``,
    else complex ``[d, d]``; from the trigonometric form (four calls,
    :mod:`~quarch.quantum._dense_fourier`) where it was built, else the chains."""
    f = tab.fourier
    if f is None:
        return _chains(tab, w, derivatives)
    d = tab.d
    d_w = None
    sines = torch.sin(torch.addmv(f.shift, f.angles, w))
    if derivatives:
        m = torch.addmv(f.bias, f.coef, sines)
        d_w = m.narrow(0, 2 * d * d, m.shape[0] - 2 * d * d).view(-1, 2 * d * d)
    else:
        m = torch.addmv(f.value_bias, f.value_coef, sines)
    u = m.narrow(0, 0, 2 * d * d).view(d, 2 * d)
    if not tab.real_state:
        u = torch.view_as_complex(u.view(d, d, 2))
    return u, d_w


def _chains(
    tab: DenseTables, w: torch.Tensor, derivatives: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(U^T, dU^T/dw [W, 2 d^2])`` from the derivative chains (every slot's matrix
    and derivative, the rows' variants, the layers); ``U^T`` as (re, im) rows ``[d,
    2d]`` for a real state, complex ``[d, d]`` otherwise. Without ``derivatives``
    chain 0 alone, ``(U^T, None)``."""
    n, d = tab.n, tab.d
    chains = tab.n_chains if derivatives else 1
    row_index = tab.row_index if derivatives else tab.row_index0
    cw = torch.sin(torch.addmv(tab.w_shift, tab.w_scale2, w))
    m = torch.addmv(tab.m_base, tab.m_mat, cw)  # [16 A]: per slot M, dM
    mats = torch.view_as_complex(m.view(-1, 2, 2, 2))  # [2A, 2, 2]: 2j = M_j, 2j+1 = dM_j
    if row_index is not None:
        acc = mats.index_select(0, row_index[0])
        for idx in row_index[1:]:
            acc = torch.bmm(mats.index_select(0, idx), acc)
        mats = acc
    kron = tab.kron_index if derivatives else tab.kron_index0
    kt = mats.view(-1).index_select(0, kron).view(n, -1).prod(0)
    kt = kt.view(chains, tab.n_layers, d, d)
    if tab.kron_phase is not None:
        kt = kt * tab.kron_phase
    factors = None
    if tab.n_diag:  # per trainable diagonal and chain: e^{i theta} or its derivative
        assert tab.diag_shift is not None and tab.diag_scale is not None
        assert tab.diag_factor is not None
        cs = torch.sin(torch.addmv(tab.diag_shift, tab.diag_scale, w))
        phases = torch.view_as_complex(cs.view(tab.n_diag, d, 2)).unsqueeze(1)
        factors = phases * tab.diag_factor if derivatives else phases  # [gates, C | 1, d]
    ut: torch.Tensor | None = None
    for what, val in tab.segment:
        if what == "k":
            layer = kt.select(1, val)
            ut = layer if ut is None else torch.bmm(ut, layer)
        elif what == "c":
            ut = val.expand(chains, d, d) if ut is None else torch.matmul(ut, val)
        else:  # a diagonal: the columns of every chain times its factor
            f = factors[val] if what == "d" else val.expand(chains, d)  # type: ignore[index]
            ut = torch.diag_embed(f).expand(chains, d, d) if ut is None else ut * f.unsqueeze(1)
    assert ut is not None
    if tab.row_phase is not None:  # the real state's phases
        ut = ut * tab.row_phase
    if not derivatives:
        u0 = ut.select(0, 0)
        return (torch.view_as_real(u0).view(d, 2 * d) if tab.real_state else u0), None
    # chains -> weights (chain 0, U^T itself, has a zero column)
    uts = torch.view_as_real(ut).reshape(chains, d, 2 * d)
    d_w = torch.mm(tab.chain_scale, uts.view(chains, -1))
    if tab.real_state:
        return uts.select(0, 0), d_w
    d_w = d_w * tab.conj_matrix  # signed so that Re(X dU/dw) is a real dot product
    return ut.select(0, 0), d_w


def dense_backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
    """Gradients of :func:`dense_forward` for :meth:`SmallCircuit.backward`."""
    if ctx.dense[0].real_state:
        return _real_backward(ctx, grad)
    tab, signs_t, phis, state, u0, d_w, psi_c, factors, x = ctx.dense
    d, rows = tab.d, state.shape[0]
    # h = conj(dL/dpsi) / 2 = conj(psi) (grad @ signs^T) (the 2 is in the constants);
    # psi_c: conj(psi) as reals; signs_t: the signs repeated per (re, im)
    h = torch.view_as_complex((psi_c * torch.mm(grad, signs_t.mT)).view(rows, d, 2))
    g_w = g_x = None
    if ctx.needs_input_grad[3]:
        xg = torch.mm(state.mT, h)  # conj(dL/dU^T)
        g_w = torch.mv(d_w, torch.view_as_real(xg).view(-1))
    if ctx.needs_input_grad[4]:
        h0 = torch.mm(h, u0.mT)  # conj(dL/dpsi0) [B, d]
        if phis is not None:  # psi0 = phi e^{i theta}: conj(dL/dphi) = h0 e^{i theta}
            h_phi = h0 if factors is None else h0 * factors
            # [n, B]: dL/da = Re sum_k conj(dL/dphi)_k dphi_k
            ga = (phis.narrow(0, 1, tab.n) * h_phi.mT).sum(1)
            g_x = torch.mm(ga.real.mT, tab.x_scaleT)
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
