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
recomputing them by the adjoint method).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from quarch.quantum._small_plan import SmallProgram

__all__ = ["SmallCircuit", "SmallRuntime"]

_KRON, _PERM, _DIAG, _CDIAG, _DENSE, _CDENSE = range(6)


def _kron_index(rows: list[list[int]], a: int, b: int) -> np.ndarray:
    """Index ``[b - a, len(rows) * D * D]`` into flattened row entries (``row * 4 + i * 2
    + j``) of the Kronecker products of wires ``a .. b-1``, one product per row list."""
    k = b - a
    idx = np.arange(2**k)
    out = np.empty((k, len(rows), 2**k, 2**k), dtype=np.int64)
    for m in range(k):
        bit = (idx >> (k - 1 - m)) & 1
        for t, r in enumerate(rows):
            out[m, t] = r[a + m] * 4 + bit[:, None] * 2 + bit[None, :]
    return out.reshape(k, -1)


def _state_index(n: int, a: int, b: int) -> np.ndarray:
    """Index ``[b - a, 2^(b - a)]`` into per-wire vectors ``[n, 2]`` (flattened) whose
    Kronecker product is the product state of wires ``a .. b-1``."""
    idx = np.arange(2 ** (b - a))
    return np.stack([(a + m) * 2 + ((idx >> (b - a - 1 - m)) & 1) for m in range(b - a)])


def _trace_index(n: int) -> np.ndarray:
    """``[n, 2, 2^(n-1)]``: for wire ``m`` and bit ``a``, the basis indices with that bit
    on wire ``m``, the other bits counting up (the partial trace over them pairs the
    same position of ``a = 0`` and ``a = 1``)."""
    rest = np.arange(2 ** (n - 1))
    out = np.empty((n, 2, rest.size), dtype=np.int64)
    for m in range(n):
        low = rest & ((1 << (n - 1 - m)) - 1)
        high = rest >> (n - 1 - m)
        for a in range(2):
            out[m, a] = (high << (n - m)) | (a << (n - 1 - m)) | low
    return out


def _terms(t: np.ndarray) -> np.ndarray:
    """``[..., 3, r, c]`` complex -> ``[3, prod(...), r * c * 2]`` real (re, im interleaved)."""
    lead = int(np.prod(t.shape[:-3]))
    r = np.stack([t.real, t.imag], -1).reshape(lead, 3, -1)
    return np.ascontiguousarray(r.transpose(1, 0, 2))


class _Part:
    """One wire range ``[a, b)`` of a Kronecker layer: its matrix applied to a state
    ``[R, 2^n]`` viewed ``[R, left, D, right]``."""

    def __init__(self, n: int, a: int, b: int) -> None:
        self.a, self.b = a, b
        self.left, self.dim, self.right = 2**a, 2 ** (b - a), 2 ** (n - b)

    def apply(self, x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """``K`` (``[D, D]`` shared, ``[R, D, D]`` per row) on the part's axis."""
        rows = x.shape[0]
        left, dim, right = self.left, self.dim, self.right
        if right == 1:
            if k.dim() == 2:
                return torch.mm(x.view(-1, dim), k.mT).view(rows, -1)
            return torch.bmm(x.view(rows, left, dim), k.mT).view(rows, -1)
        if k.dim() == 2:
            if rows * left == 1:
                return torch.mm(k, x.view(dim, right)).view(rows, -1)
            k = k.expand(rows * left, dim, dim)
            return torch.bmm(k, x.view(rows * left, dim, right)).view(rows, -1)
        if left == 1:
            return torch.bmm(k, x.view(rows, dim, right)).view(rows, -1)
        return torch.matmul(k[:, None], x.view(rows, left, dim, right)).reshape(rows, -1)


@dataclass
class _Variant:
    """How one call runs (chosen by :meth:`SmallRuntime.variant`)."""

    single: bool  # product state in one piece (leading permutations folded into it)
    state_idx: list[torch.Tensor]  # gather indices of the product state's pieces
    trace_idx: torch.Tensor | None  # the product state's partial-trace index
    runs: list[tuple[int, int, bool]]  # (start, stop, fold into one matrix)


class SmallRuntime:
    """Device tensors of one :class:`SmallProgram` for one device and complex dtype.

    Args:
        prog (SmallProgram): the program.
        dtype (torch.dtype): ``torch.complex64`` or ``torch.complex128``.
        device (torch.device): where its tensors live.
        fold_rows (int): fold shared segments into one matrix from this many rows on.
        single_state (int): build the product state in one piece up to this many
            entries (``rows * n * 2^n``); beyond it, two halves and their outer product.
    """

    def __init__(
        self,
        prog: SmallProgram,
        dtype: torch.dtype,
        device: torch.device,
        *,
        fold_rows: int,
        single_state: int,
    ) -> None:
        self.prog = prog
        self.dtype = dtype
        self.real = real = torch.float64 if dtype == torch.complex128 else torch.float32
        self.device = device
        self.fold_rows = fold_rows
        self.single_state = single_state
        n, d = prog.n, prog.d

        def lt(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a, dtype=np.int64), device=device)

        def rt(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=real, device=device)

        def ct(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.complex128), device=device).to(dtype)

        self._lt = lt
        # --- angles = source @ scale (backward: scale^T)
        ni, nq = prog.n_inputs, len(prog.products)
        sb = prog.scale["b"]
        self.scale_s = rt(prog.scale["s"].T) if prog.n_angles["s"] else None  # [A, W]
        self.scale_sT = rt(prog.scale["s"]) if prog.n_angles["s"] else None
        self.scale_b: list[tuple[torch.Tensor, torch.Tensor] | None] = [None, None, None]
        if prog.n_angles["b"]:
            self.scale_b = [
                (rt(m), rt(m.T)) if m.shape[0] else None
                for m in (sb[:ni], sb[ni : ni + nq], sb[ni + nq :])
            ]
        self.products = [lt(p) for p in prog.product_groups]
        self.reads_inputs = self.scale_b[0] is not None or self.scale_b[1] is not None
        # --- rows: slot terms (A, B, C as [N, 8] real) and generators [P, R, 2, 2]
        self.kinds = [k for k in ("s", "b") if prog.slot_terms[k].shape[1]]
        self.depth = {k: prog.slot_terms[k].shape[0] for k in self.kinds}
        self.n_rows = {k: prog.slot_terms[k].shape[1] for k in self.kinds}
        self.terms: dict[str, tuple[torch.Tensor, ...]] = {}
        self.gens: dict[str, torch.Tensor] = {}
        self.const_slots: dict[str, torch.Tensor] = {}
        for k in self.kinds:
            t = prog.slot_terms[k]
            if prog.slot_angles[k]:
                self.terms[k] = tuple(rt(_terms(t)))
                self.gens[k] = ct(prog.slot_generators[k])
            else:
                self.const_slots[k] = ct(t[:, :, 0])
        # --- product state: per layer, the gather of its rows' entries
        self.prefix: list[tuple[str, torch.Tensor]] = []
        if prog.prefix is not None:
            for j, (kind, rows) in enumerate(prog.prefix):
                r = np.asarray(rows)[:, None] * 4
                ent = r + (np.array([0, 2]) if j == 0 else np.arange(4))  # column 0 | all
                self.prefix.append((kind, lt(ent)))
        self._trace = _trace_index(n).reshape(-1)
        # --- Kronecker layers: parts of equal width share one gather
        self.parts = {k: [_Part(n, a, b) for a, b in v] for k, v in prog.parts.items()}
        self.whole = prog.parts["s"] == [(0, n)]  # shared layers: one 2^n matrix each
        self.layers = {k: len(v) for k, v in prog.layers.items()}
        self.kron: dict[str, list[tuple[torch.Tensor, list[int]]]] = {}
        for k, layers in prog.layers.items():
            if not layers:
                continue
            groups: dict[int, list[int]] = {}
            for j, (a, b) in enumerate(prog.parts[k]):
                groups.setdefault(b - a, []).append(j)
            self.kron[k] = [
                (lt(np.concatenate([_kron_index(layers, *prog.parts[k][j]) for j in js], 1)), js)
                for js in groups.values()
            ]
        # --- constants folded into shared whole-register layers; per layer, the
        # partial-trace index of its Kronecker output (before the folded constants)
        kron_s = [i for i in prog.instrs if i.op == "kron" and i.kind == "s"]
        self.post = self._fold_table(kron_s, "post_index", "post_phase", lt, ct)
        self.pre = self._fold_table(kron_s, "pre_index", "pre_phase", lt, ct)
        self.layer_trace: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor | None]] = {}
        for ins in prog.instrs:
            if ins.op != "kron":
                continue
            idx = self._trace
            phase = None
            if ins.post_index is not None:  # y = diag(p) P z: z[t] = conj(p) y at inv[t]
                inv = np.argsort(ins.post_index)
                idx = inv[idx]
                if ins.post_phase is not None and not np.allclose(ins.post_phase, 1):
                    phase = ct(ins.post_phase[idx].reshape(n, 2, -1))
            self.layer_trace[(ins.kind, ins.layer)] = (lt(idx), phase)
        # row blocks of each kind in registration order: product-state layers, then
        # Kronecker layers (each block is one row per wire)
        self.blocks: dict[str, list[tuple[str, int]]] = {k: [] for k in ("s", "b")}
        if prog.prefix is not None:
            for j, (kind, _) in enumerate(prog.prefix):
                self.blocks[kind].append(("prefix", j))
        for k in ("s", "b"):
            self.blocks[k] += [("layer", layer) for layer in range(self.layers[k])]
        # --- instructions: (opcode, kind, segment, data...)
        whole = _Part(n, 0, n)
        self.code: list[tuple[Any, ...]] = []
        for ins in prog.instrs:
            head = (ins.kind, ins.segment)
            if ins.op == "kron":
                self.code.append((_KRON, *head, ins.layer))
            elif ins.op == "perm":
                assert ins.index is not None
                inv = np.argsort(ins.index)
                self.code.append((_PERM, *head, lt(ins.index)[None], lt(inv)[None], ins.index))
            elif ins.op == "diag" and ins.angles:
                assert ins.coef is not None and ins.theta0 is not None
                th0 = rt(ins.theta0) if ins.theta0.any() else None
                coef = rt(ins.coef)
                span = (ins.angles[0], ins.angles[-1] + 1)
                assert ins.angles == list(range(*span))
                self.code.append((_DIAG, *head, span, coef, coef.mT.contiguous(), th0))
            elif ins.op == "diag":
                assert ins.theta0 is not None
                self.code.append((_CDIAG, *head, ct(np.exp(1j * ins.theta0))))
            elif ins.const is not None:
                c = ct(ins.const)
                self.code.append((_CDENSE, *head, c, c.mT.contiguous(), whole))
            else:
                assert ins.coef is not None
                terms = tuple(rt(_terms(ins.coef[None])[:, 0]))
                terms_conj = tuple(rt(_terms(ins.coef.conj()[None])[:, 0]))
                self.code.append((_DENSE, *head, ins.angles[0], terms, whole, terms_conj))
        # leading permutations (foldable into a one-piece product state) and the
        # trailing permutations and phases a diagonal measurement does not see
        self.lead = 0
        while self.lead < len(self.code) and self.code[self.lead][0] == _PERM:
            self.lead += 1
        self.tail = len(self.code)
        while self.tail > self.lead and self.code[self.tail - 1][0] in (_PERM, _DIAG, _CDIAG):
            self.tail -= 1
        self.identity = torch.eye(d, dtype=dtype, device=device)
        self._variants: dict[tuple[bool, bool, bool], _Variant] = {}
        self._signs: dict[int, tuple[np.ndarray, torch.Tensor, torch.Tensor]] = {}

    @staticmethod
    def _fold_table(
        krons: list[Any], index: str, phase: str, lt: Any, ct: Any
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor] | None:
        """(gather index, phases, inverse index) of the constants folded into the shared
        layers' rows (``post``) or columns (``pre``), or None if there are none."""
        if all(getattr(i, index) is None for i in krons):
            return None
        d = len(next(getattr(i, index) for i in krons if getattr(i, index) is not None))
        idx = np.stack(
            [np.arange(d) if getattr(i, index) is None else getattr(i, index) for i in krons]
        )
        ph = np.stack(
            [np.ones(d) if getattr(i, phase) is None else getattr(i, phase) for i in krons]
        )
        inv = np.argsort(idx, axis=1)
        return lt(idx), None if np.allclose(ph, 1) else ct(ph), lt(inv)

    def variant(self, rows: int, signs: bool) -> _Variant:
        """The folds of a call with ``rows`` rows (see the module docstring)."""
        prog = self.prog
        single = prog.n < 2 or rows * prog.n * prog.d <= self.single_state
        # folding runs the segment on the 2^n-row identity: worth it from 2^(n+1) rows on
        fold = rows >= max(self.fold_rows, 2 * prog.d)
        key = (single, fold, signs)
        v = self._variants.get(key)
        if v is not None:
            return v
        n = prog.n
        start = self.lead if single and self.prefix else 0
        stop = self.tail if signs else len(self.code)
        state_idx: list[torch.Tensor] = []
        trace_idx = None
        if self.prefix:
            trace = self._trace
            if single:
                idxs = [_state_index(n, 0, n)]
                for op in self.code[:start]:
                    idxs[0] = idxs[0][:, op[5]]  # new[s] = old[index[s]]
                    trace = np.argsort(op[5])[trace]  # the unpermuted state is at inv[t]
            else:
                h = (n + 1) // 2
                idxs = [_state_index(n, 0, h), _state_index(n, h, n)]
            if len(self.prefix) == 1:  # gather straight from the row entries
                e0 = self.prefix[0][1].cpu().numpy().reshape(-1)
                idxs = [e0[i] for i in idxs]
            state_idx = [self._lt(i) for i in idxs]
            trace_idx = self._lt(trace)
        runs: list[tuple[int, int, bool]] = []
        i = start
        while i < stop:
            seg = self.code[i][2]
            j = i + 1
            if seg >= 0:
                while j < stop and self.code[j][2] == seg:
                    j += 1
            runs.append((i, j, seg >= 0 and fold))
            i = j
        v = self._variants[key] = _Variant(single, state_idx, trace_idx, runs)
        return v

    def signs(self, table: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """A sign table ``[d, n_obs]`` as the node uses it (trailing permutations
        folded in): ``[2d, n_obs]`` over interleaved (re, im) squares (forward) and
        ``2 signs^T`` (backward)."""
        hit = self._signs.get(id(table))
        if hit is None or hit[0] is not table:
            folded = table
            for op in reversed(self.code[self.tail :]):
                if op[0] == _PERM:  # sum |new|^2 S = sum |old|^2 S[inverse]
                    folded = folded[np.argsort(op[5])]
            t = torch.as_tensor(folded, dtype=self.real, device=self.device)
            if len(self._signs) > 64:
                self._signs.clear()
            hit = self._signs[id(table)] = (table, t.repeat_interleave(2, 0), 2 * t.mT.contiguous())
        return hit[1], hit[2]


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
    if per_row:
        yy = y.index_select(1, idx).view(rows, n, 2, -1)
        hh = h.index_select(1, idx).view(rows, n, 2, -1)
        if phase is not None:
            yy, hh = yy * phase.conj(), hh * phase
        return torch.bmm(yy.view(rows * n, 2, -1), hh.view(rows * n, 2, -1).mT).view(rows, n, 2, 2)
    yy = y.mT.index_select(0, idx).view(n, 2, -1, rows)
    hh = h.mT.index_select(0, idx).view(n, 2, -1, rows)
    if phase is not None:
        yy, hh = yy * phase.conj()[..., None], hh * phase[..., None]
    return torch.bmm(yy.view(n, 2, -1), hh.view(n, 2, -1).mT)


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
    rows = psi.shape[0]
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
            psi = torch.gather(psi, 1, op[3].expand(rows, d))
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
    traces: dict[tuple[str, int], torch.Tensor],
) -> torch.Tensor:
    """Backward of :func:`_run` (``out`` its result) on ``h = conj(grad)``; collects the
    gradients of angles (by first position) in ``g_ang`` and each Kronecker layer's
    partial traces in ``traces``."""
    rows = h.shape[0]
    n, d = rt.prog.n, rt.prog.d
    for i in range(stop - 1, start - 1, -1):
        op = rt.code[i]
        code = op[0]
        x_in, extra = saved[i - start]
        y = saved[i + 1 - start][0] if i + 1 < stop else out
        if code == _KRON:
            kind, layer = op[1], op[3]
            idx, phase = rt.layer_trace[(kind, layer)]
            t = _trace(y, h, idx, phase, kind == "b", n)
            key = (kind, layer)
            traces[key] = t if key not in traces else traces[key] + t
            if kind == "s" and rt.whole:
                h = torch.mm(h, call.kmat["s"][0][layer])
            else:
                mats = call.kmat[kind]
                parts = rt.parts[kind]
                for j in range(len(parts) - 1, -1, -1):
                    h = parts[j].apply(h, mats[j].select(-3, layer).mT)
        elif code == _PERM:
            h = torch.gather(h, 1, op[4].expand(rows, d))
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


def _add(acc: dict[Any, torch.Tensor], key: Any, value: torch.Tensor) -> None:
    acc[key] = value if key not in acc else acc[key] + value


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
        prog = rt.prog
        call = _Call()
        rows = batch if prog.batched or (psi0 is not None and psi0.shape[0] == batch) else 1
        var = rt.variant(rows, signs is not None)
        # --- angles: source @ scale
        ang: dict[str, torch.Tensor] = {}
        if rt.scale_s is not None:
            assert w is not None
            ang["s"] = torch.mv(rt.scale_s, w)
        if prog.n_angles["b"]:
            sx, sp, sw = rt.scale_b
            acc = None
            if sx is not None:
                assert x is not None
                acc = torch.mm(x, sx[0])
            if sp is not None:
                assert x is not None
                prods = [x[:, p].prod(-1) for p in rt.products]
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
            for idx, js in groups:
                f = flat[k][..., idx]
                dim = rt.parts[k][js[0]].dim
                km = f.prod(-2).view(*f.shape[:-2], len(js), rt.layers[k], dim, dim)
                for t, j in enumerate(js):
                    mats[j] = km.select(-4, t)
            kmat[k] = mats
        if "s" in kmat and (rt.post is not None or rt.pre is not None):
            km = kmat["s"][0]  # whole register: K' = diag(p) K[rows][:, cols] diag(q)
            if rt.post is not None:
                km = torch.gather(km, 1, rt.post[0][:, :, None].expand(km.shape))
                if rt.post[1] is not None:
                    km = km * rt.post[1][:, :, None]
            if rt.pre is not None:
                km = torch.gather(km, 2, rt.pre[0][:, None, :].expand(km.shape))
                if rt.pre[1] is not None:
                    km = km * rt.pre[1][:, None, :]
            kmat["s"] = [km]
        call.kmat = kmat
        call.kT = kmat["s"][0].mT if rt.whole and "s" in kmat else None
        # --- product state: per-wire vectors through the prefix layers, then Kronecker
        pmats: list[torch.Tensor] = []
        if psi0 is None:
            (k0, e0), *more = rt.prefix
            if more:
                v = flat[k0][..., e0]  # [.., n, 2]: first layer applied to |0>
                for k, ent in more:
                    mj = flat[k][..., ent].unflatten(-1, (2, 2))  # [.., n, 2, 2]
                    pmats.append(mj)
                    v = (mj * v.unsqueeze(-2)).sum(-1)
                vf = v.flatten(-2)
            else:  # one layer: the state index points into its row entries
                vf = flat[k0]
            pieces = [vf[..., idx].prod(-2) for idx in var.state_idx]
            if len(pieces) == 1:
                psi = pieces[0]
            else:
                psi = (pieces[0].unsqueeze(-1) * pieces[1].unsqueeze(-2)).flatten(-2)
            if psi.dim() == 1:
                psi = psi[None]
        else:
            psi = psi0
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
        if signs is None:
            return psi.clone()
        return torch.mm(torch.view_as_real(psi).view(rows, -1).square(), signs[0])

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
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
            h = torch.conj_physical(psi).mul_(torch.mm(grad, ctx.signs[1]))
        else:
            h = torch.conj_physical(grad)
        g_ang: dict[tuple[str, int], torch.Tensor] = {}
        traces: dict[tuple[str, int], torch.Tensor] = {}
        # --- instructions in reverse
        for r in range(len(var.runs) - 1, -1, -1):
            start, stop, _ = var.runs[r]
            psi_in, saved, ut = runs[r]
            if ut is not None:
                h_ut = torch.mm(psi_in.mT, h)
                h = torch.mm(h, ut.mT)
                _back(rt, call, h_ut, start, stop, saved, ut, g_ang, traces)
            else:
                out = runs[r + 1][0] if r + 1 < len(var.runs) else psi
                h = _back(rt, call, h, start, stop, saved, out, g_ang, traces)
        g_psi0 = None
        if rt.prefix:  # the product state is a layer applied to |0>
            psi_start = runs[0][0] if var.runs else psi
            assert var.trace_idx is not None
            per_row = any(k == "b" for k, _ in rt.prefix)
            t = _trace(psi_start, h, var.trace_idx, None, per_row, n)
            # each prefix layer j sees the trace through the later layers W_j:
            # tr(T W Q W^-1) = tr((W^-1 T W) Q), W_j = R_J .. R_{j+1} (unitary)
            traces[("prefix", len(rt.prefix) - 1)] = t
            wm = None
            for j in range(len(rt.prefix) - 2, -1, -1):
                mj = call.pmats[j]  # rows of prefix layer j + 1
                wm = mj if wm is None else torch.matmul(wm, mj)
                traces[("prefix", j)] = torch.matmul(torch.matmul(wm.mH, t), wm)
        elif ctx.psi0_rows is not None and ctx.needs_input_grad[6]:
            g_psi0 = torch.conj_physical(h if ctx.psi0_rows == rows else h.sum(0, keepdim=True))
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
        if "s" in full and ctx.needs_input_grad[3]:
            assert rt.scale_sT is not None
            g_w = torch.mv(rt.scale_sT, full["s"])
        if "b" in full:
            gb = full["b"]
            sx, sp, sw = rt.scale_b
            if sx is not None and ctx.needs_input_grad[4]:
                g_x = torch.mm(gb, sx[1])
            if sp is not None and ctx.needs_input_grad[4]:
                g_p = torch.mm(gb, sp[1])
                x = ctx.x
                g_x = torch.zeros_like(x) if g_x is None else g_x
                col = 0
                for pidx in rt.products:
                    xp = x[:, pidx]  # [B, q, arity]: d prod / d x_j = prod of the others
                    arity = pidx.shape[1]
                    others = torch.stack(
                        [
                            xp[..., [i for i in range(arity) if i != j]].prod(-1)
                            for j in range(arity)
                        ],
                        -1,
                    )
                    gp = g_p[:, col : col + pidx.shape[0], None] * others
                    g_x.index_add_(1, pidx.flatten(), gp.flatten(1))
                    col += pidx.shape[0]
            if sw is not None and ctx.needs_input_grad[5]:
                g_wb = torch.mm(gb, sw[1])
        return None, None, None, g_w, g_x, g_wb, g_psi0
