"""The dense variant's shared segments: ``U^T`` of a run of shared instructions and its chains.

:mod:`~quarch.quantum._small_dense` multiplies the state by the matrix ``U^T`` of the
shared (trainable, one-for-the-batch) part of a circuit and needs, for the weights'
gradient, ``dU^T/da_j`` of every shared angle ``j``. Both come from the same calls
here (a leading "chain" axis of ``1 + angles`` variants: two-by-two rows with one
factor swapped, one gather for all the Kronecker layers of all variants, one ``bmm``
per layer, one ``mm`` to the weights), or from the trigonometric form
(:mod:`~quarch.quantum._dense_fourier`) where that is cheaper.

A circuit without per-sample gates after its embedding has one shared segment. A
re-uploading one (the embedding again before every trainable layer, "data
re-uploading") has one per layer, with per-sample gates between them
(:mod:`~quarch.quantum._dense_reupload`): each segment is a :class:`SharedPart` of its
own, whose chains are only its own angles' (a chain of another segment's angle would
be that segment's ``U^T`` again, work without use), and the slots' matrices, one
``addmv`` for the slots of every segment, are made once per call and read by all
(:func:`shared_matrix`'s ``mats``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from quarch.quantum._dense_diagonal import shared_diagonals
from quarch.quantum._dense_fourier import HostTables, SineTables, fourier_tables
from quarch.quantum._dense_product import bit
from quarch.quantum._small_runtime import (
    _CDENSE,
    _CDIAG,
    _DIAG,
    _KRON,
    SmallRuntime,
    _all_ones,
    host_rounded,
)

__all__ = ["SharedPart", "shared_matrix", "slot_matrices"]


class SharedPart:
    """Device constants of one shared segment ``rt.code[lo:hi]`` (built once per plan).

    ``first``: the program's first segment, whose slot tables this one reads (None:
    this is the first, it builds them); ``real_state``, ``row_phase``: the state it
    receives is real, and the phases multiplied into its rows and their host copy
    (the first segment's; ``(None, None)``: none); ``weights``: the weights whose rows ``dU^T/dw`` has, in order (-1: a zero
    row; None: every weight, ``W`` rows); ``trig``: build the trigonometric form where
    it is cheaper (not with ``weights``: a re-uploading program's segments use the
    chains, :mod:`~quarch.quantum._dense_reupload`). Attributes (``C`` chains = 1 + this segment's angles that have a source,
    ``L`` its Kronecker layers):

    * ``w_scale2 [2A, W]``, ``w_shift [2A]``, ``m_base [16A]``, ``m_mat [16A, 2A]``:
      ``sin(w_scale2 w + w_shift)`` are the ``A`` shared slots' ``(cos | sin)``, then
      ``m_base + m_mat [cos | sin]`` per slot its matrix and its derivative;
    * ``row_index``: per slot depth ``p``, which matrix (``2 j + derivative?``) each
      row variant takes (``None`` when the rows are one slot deep); ``row_index0``:
      the same for chain 0 alone;
    * ``kron_index [n C L d d]``, ``kron_phase [L, d, d] | None``: the gather of every
      variant's Kronecker layers, transposed, with the folded constants in;
      ``kron_index0 [n L d d]``: the same for ``U^T`` alone (chain 0);
    * ``chain_scale [W, C]``: chains to weights (``weights``' rows), doubled (chain 0,
      ``U^T``: zeros);
    * ``segment``: the segment's instructions (``("k", layer)``, ``("c", const^T)``,
      ``("p", phases)``, ``("d", gate)``; layers numbered within the segment);
      ``n_diag``, ``diag_scale``, ``diag_shift``, ``diag_factor``: its trainable
      diagonal gates' phases and every chain's factor of them
      (:func:`~quarch.quantum._dense_diagonal.shared_diagonals`); their angles'
      chains follow the slots';
    * ``conj_state [2d]``, ``conj_matrix [2 d d]``: ``(+1, -1)`` per (re, im) pair;
    * ``work``: the chains' complex multiply-adds per call;
    * ``fourier``: the trigonometric form, where it was built (not with trainable
      diagonal gates: their half angles are not on its grid).
    """

    w_scale2: torch.Tensor
    w_shift: torch.Tensor
    m_base: torch.Tensor
    m_mat: torch.Tensor
    row_index: list[torch.Tensor] | None
    row_index0: list[torch.Tensor] | None
    _host_slots: tuple[np.ndarray, np.ndarray, list[np.ndarray] | None]

    def __init__(
        self,
        rt: SmallRuntime,
        lo: int,
        hi: int,
        makers: tuple[Any, Any, Any],
        first: SharedPart | None,
        real_state: bool,
        row_phase: tuple[torch.Tensor | None, np.ndarray | None],
        weights: np.ndarray | None,
        trig: bool,
    ) -> None:
        prog = rt.prog
        n, d = prog.n, prog.d
        rt_, lt, ct_ = makers
        self.n, self.d = n, d
        self.real_state = real_state
        self.row_phase = row_phase[0]
        terms_s = prog.slot_terms["s"]  # [P, R, 3, 2, 2]
        depth, nr = terms_s.shape[:2]
        n_slots = depth * nr
        ss = prog.scale["s"]  # [W, A]: the slots' angles first, then the diagonals'
        if first is None:
            self._slot_tables(rt_, lt, terms_s, ss)
        else:
            self.w_scale2, self.w_shift = first.w_scale2, first.w_shift
            self.m_base, self.m_mat = first.m_base, first.m_mat
            self.row_index, self.row_index0 = first.row_index, first.row_index0
            self._host_slots = first._host_slots
        at = [i for i in range(lo, hi) if rt.code[i][0] == _KRON]
        krons = [prog.instrs[i] for i in at]  # the code has one entry per instruction
        local = {ins.layer: li for li, ins in enumerate(krons)}
        #: per layer of the segment, the rows of the slot table it reads (slot j is in
        #: row j % slot_rows)
        self.layer_rows = [{int(r) for r in prog.layers["s"][ins.layer]} for ins in krons]
        self.slot_rows = nr
        mine = set().union(*self.layer_rows)
        # chains: 0 is U itself, then one per slot of the segment that reads a source
        chained = [j for j in range(n_slots) if j % nr in mine and ss[:, j].any()]
        # trainable diagonal gates in the segment (CRZ, RZZ, ...): one chain per angle
        diag_at = [i for i in range(lo, hi) if rt.code[i][0] == _DIAG]
        diag_angles = [a for i in diag_at for a in range(*rt.code[i][3])]
        assert all(a >= n_slots for a in diag_angles)
        self.n_diag = len(diag_at)
        self.n_chains = len(chained) + len(diag_angles) + 1
        scale = 2 * np.concatenate(
            [np.zeros((ss.shape[0], 1)), ss[:, chained], ss[:, diag_angles]], 1
        )
        assert weights is None or not trig  # the form's rows are every weight's
        if weights is not None:  # the segment's own weights' rows (-1: a zero row)
            scale = np.where((weights >= 0)[:, None], scale[np.maximum(weights, 0)], 0.0)
        self.chain_scale = rt_(scale)
        self.diag_scale: torch.Tensor | None = None
        self.diag_shift: torch.Tensor | None = None
        self.diag_factor: torch.Tensor | None = None
        if diag_at:
            scale, shift, factor = shared_diagonals(rt, self.n_chains, diag_at, 1 + len(chained))
            self.diag_scale, self.diag_shift, self.diag_factor = rt_(scale), rt_(shift), ct_(factor)
        n_var = depth + 1 if depth > 1 else 2

        def var_id(r: int, v: int) -> int:
            return r * n_var + v if depth > 1 else 2 * r + v  # depth 1: the slot table

        # --- every chain's Kronecker layers, transposed, constants folded in
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
        host_phase = None if _all_ones(phase) else host_rounded(phase, rt.dtype)
        self.kron_phase = None if host_phase is None else ct_(host_phase)
        seg = rt.code[lo:hi]
        consts = [op[4] if op[0] == _CDENSE else op[3] if op[0] == _CDIAG else None for op in seg]
        self.segment = _segment(seg, consts, diag_at, lo, local)
        # (+1, -1) per (re, im): conj(psi) as reals, and Re(X D) as a real dot product
        self.conj_state = rt_(np.tile([1.0, -1.0], d))
        conj_matrix = np.tile([1.0, -1.0], d * d)
        self.conj_matrix = rt_(conj_matrix)
        #: the chains' complex multiply-adds per call (their products and gathers)
        self.work = self.n_chains * (nl * d**3 + n * nl * d * d + self.n_diag * d * d)
        m_host, mat_host, rows_host = self._host_slots
        self.host = HostTables(
            m_base=m_host,
            m_mat=mat_host,
            row_index=rows_host,
            kron_index=kidx.reshape(-1),
            kron_phase=host_phase,
            row_phase=row_phase[1],
            conj_matrix=conj_matrix,
            segment=_segment(
                seg,  # op[4] = op[3]^T; a constant diagonal's op[3] is its phases
                [rt.host(op[3]).T if op[0] in (_CDENSE, _CDIAG) else None for op in seg],
                diag_at,
                lo,
                local,
            ),
        )
        #: the segment as a trigonometric polynomial, where that is cheaper (not with
        #: trainable diagonal gates: their half angles are not on its grid)
        self.fourier: SineTables | None = (
            None if self.n_diag or not trig else fourier_tables(self, ss, chained)
        )

    def _slot_tables(self, rt_: Any, lt: Any, terms_s: np.ndarray, ss: np.ndarray) -> None:
        """The shared slots' matrix and derivative of each, from one ``addmv``, and the
        rows' variants, for every segment (the first builds them, the others read them)."""
        depth, nr = terms_s.shape[:2]
        n_slots = depth * nr
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
        real = self.m_base.dtype
        self._host_slots = (host_rounded(m_base, real), host_rounded(m_mat, real), row_index)


def _segment(
    seg: list[tuple[Any, ...]],
    consts: list[Any],
    diag_at: list[int],
    lo: int,
    local: dict[int, int],
) -> list[tuple[str, Any]]:
    """The segment's instructions as the chains run them: ``("k", layer)`` (numbered
    within the segment by ``local``), ``("c", const^T)`` (a constant dense gate), ``("p",
    phases)`` (a constant diagonal) or ``("d", gate)`` (the ``gate``-th trainable
    diagonal); ``consts[i]``: the constant of ``seg[i]`` (device or host copies)."""
    out: list[tuple[str, Any]] = []
    for i, op in enumerate(seg):
        if op[0] == _KRON:
            out.append(("k", local[op[3]]))
        elif op[0] == _DIAG:
            out.append(("d", diag_at.index(lo + i)))
        elif op[0] == _CDIAG:
            out.append(("p", consts[i]))
        else:
            out.append(("c", consts[i]))
    return out


def slot_matrices(part: SharedPart, w: torch.Tensor, derivatives: bool) -> torch.Tensor:
    """Every shared row's matrix (and, with ``derivatives``, its variants with one slot
    replaced by its derivative), complex ``[rows (x variants), 2, 2]``: one ``addmv``
    for the slots of every segment, then the rows' products along their depth."""
    row_index = part.row_index if derivatives else part.row_index0
    cw = torch.sin(torch.addmv(part.w_shift, part.w_scale2, w))
    m = torch.addmv(part.m_base, part.m_mat, cw)  # [16 A]: per slot M, dM
    mats = torch.view_as_complex(m.view(-1, 2, 2, 2))  # [2A, 2, 2]: 2j = M_j, 2j+1 = dM_j
    if row_index is not None:
        acc = mats.index_select(0, row_index[0])
        for idx in row_index[1:]:
            acc = torch.bmm(mats.index_select(0, idx), acc)
        mats = acc
    return mats


def shared_matrix(
    part: SharedPart,
    w: torch.Tensor,
    derivatives: bool,
    mats: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(U^T, dU^T/dw | None, mats)`` of ``part``: a real state's rows as (re, im)
    pairs ``[d, 2d]``, else complex ``[d, d]``; from the trigonometric form (four
    calls) where it was built, else the chains. ``mats``: the rows' matrices
    (:func:`slot_matrices`) where an earlier segment made them, returned for the next."""
    f = part.fourier
    if f is None:
        if mats is None:
            mats = slot_matrices(part, w, derivatives)
        u, d_w = _chains(part, mats, w, derivatives)
        return u, d_w, mats
    d = part.d
    d_w = None
    sines = torch.sin(torch.addmv(f.shift, f.angles, w))
    if derivatives:
        m = torch.addmv(f.bias, f.coef, sines)
        d_w = m.narrow(0, 2 * d * d, m.shape[0] - 2 * d * d).view(-1, 2 * d * d)
    else:
        m = torch.addmv(f.value_bias, f.value_coef, sines)
    u = m.narrow(0, 0, 2 * d * d).view(d, 2 * d)
    if not part.real_state:
        u = torch.view_as_complex(u.view(d, d, 2))
    return u, d_w, mats


def _chains(
    part: SharedPart, mats: torch.Tensor, w: torch.Tensor, derivatives: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(U^T, dU^T/dw [W, 2 d^2])`` from the derivative chains (the rows' matrices
    ``mats``, the layers); ``U^T`` as (re, im) rows ``[d, 2d]`` for a real state,
    complex ``[d, d]`` otherwise. Without ``derivatives`` chain 0 alone, ``(U^T,
    None)``."""
    n, d = part.n, part.d
    chains = part.n_chains if derivatives else 1
    kron = part.kron_index if derivatives else part.kron_index0
    kt = mats.view(-1).index_select(0, kron).view(n, -1).prod(0)
    kt = kt.view(chains, part.n_layers, d, d)
    if part.kron_phase is not None:
        kt = kt * part.kron_phase
    factors = None
    if part.n_diag:  # per trainable diagonal and chain: e^{i theta} or its derivative
        assert part.diag_shift is not None and part.diag_scale is not None
        assert part.diag_factor is not None
        cs = torch.sin(torch.addmv(part.diag_shift, part.diag_scale, w))
        phases = torch.view_as_complex(cs.view(part.n_diag, d, 2)).unsqueeze(1)
        factors = phases * part.diag_factor if derivatives else phases  # [gates, C | 1, d]
    ut: torch.Tensor | None = None
    for what, val in part.segment:
        if what == "k":
            layer = kt.select(1, val)
            ut = layer if ut is None else torch.bmm(ut, layer)
        elif what == "c":
            ut = val.expand(chains, d, d) if ut is None else torch.matmul(ut, val)
        else:  # a diagonal: the columns of every chain times its factor
            f = factors[val] if what == "d" else val.expand(chains, d)  # type: ignore[index]
            ut = torch.diag_embed(f).expand(chains, d, d) if ut is None else ut * f.unsqueeze(1)
    assert ut is not None
    if part.row_phase is not None:  # the real state's phases
        ut = ut * part.row_phase
    if not derivatives:
        u0 = ut.select(0, 0)
        return (torch.view_as_real(u0).view(d, 2 * d) if part.real_state else u0), None
    # chains -> weights (chain 0, U^T itself, has a zero column)
    uts = torch.view_as_real(ut).reshape(chains, d, 2 * d)
    d_w = torch.mm(part.chain_scale, uts.view(chains, -1))
    if part.real_state:
        return uts.select(0, 0), d_w
    d_w = d_w * part.conj_matrix  # signed so that Re(X dU/dw) is a real dot product
    return ut.select(0, 0), d_w
