"""The device copies of a small-circuit program, and what each batch size folds.

:class:`SmallRuntime` holds, for one device and dtype, the index tables and constant
matrices of a :class:`~quarch.quantum._small_plan.SmallProgram`, and picks per batch
size the :class:`_Variant` that :class:`~quarch.quantum._small_run.SmallCircuit` runs
(see that module for the arithmetic). Kept apart from the autograd node so each file
reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from quarch.quantum._products import product_groups
from quarch.quantum._replay import Replays
from quarch.quantum._small_plan import SmallProgram

__all__ = ["SmallRuntime", "host_rounded"]

_KRON, _PERM, _DIAG, _CDIAG, _DENSE, _CDENSE = range(6)


def host_rounded(a: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """``a`` (complex128 or float64) rounded as a device tensor of ``dtype`` holds it
    (complex64 or float32), kept in 128 or 64 bits: the host copies plans are built
    from (:meth:`SmallRuntime.host`)."""
    if dtype in (torch.complex64, torch.float32):
        return a.astype(np.complex64 if np.iscomplexobj(a) else np.float32).astype(a.dtype)
    return a


def _all_ones(phase: np.ndarray) -> bool:
    """Whether folded phases are all 1 up to rounding (products of exact phases, such as
    CZ's -1 twice), so that no phase table need be made. Rounding only: ``np.allclose``'s
    default tolerance (1e-5) took a constant ``CPhase(5e-6)`` folded into a layer for
    no phase at all, and the small path's state was off by 8e-7."""
    return bool(np.abs(phase - 1).max() <= 1e-12)


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


def _state_index(a: int, b: int) -> np.ndarray:
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


def _unrunnable(ins: Any) -> str:
    """Why :class:`SmallRuntime` has no opcode for the instruction ``ins``: each op is
    picked by its name and fields, never by elimination, so a malformed or new kind of
    instruction is refused rather than run as another op."""
    fields = [f for f in ("index", "coef", "theta0", "const") if getattr(ins, f) is not None]
    return (
        f"the small path cannot run a {ins.op!r} instruction with "
        f"{', '.join(fields) or 'no tables'} and {len(ins.angles)} angle(s); a 'diag' "
        "without angles has no coefficients, a 'dense' one has either a constant or "
        "the coefficients of one angle"
    )


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
    state_idx: list[tuple[torch.Tensor, int, int]]  # per piece: flat index, factors, size
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
        self.replays = Replays()  # the node's recorded calls, per call shape (_replay.py)
        self.single_state = single_state
        n, d = prog.n, prog.d

        shared: dict[tuple[tuple[int, ...], bytes], torch.Tensor] = {}
        #: the host copy of every index and complex constant, by id (see :meth:`host`)
        self._host: dict[int, tuple[torch.Tensor, np.ndarray]] = {}

        def lt(a: Any) -> torch.Tensor:
            """An index tensor, one object per content: the backward groups the partial
            traces of equal index into one call (see ``_small_run._traces``)."""
            arr = np.ascontiguousarray(a, dtype=np.int64)
            key = (arr.shape, arr.tobytes())
            hit = shared.get(key)
            if hit is None:
                hit = shared[key] = torch.as_tensor(arr, device=device)
                self._host[id(hit)] = (hit, arr)
            return hit

        def rt(a: Any) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=real, device=device)

        def ct(a: Any) -> torch.Tensor:
            arr = np.asarray(a, dtype=np.complex128)
            t = torch.as_tensor(arr, device=device).to(dtype)
            self._host[id(t)] = (t, host_rounded(arr, dtype))
            return t

        self._lt = lt
        # --- angles = source @ scale (backward: scale^T)
        ni, nq = prog.n_inputs, len(prog.products)
        sb, ss = prog.scale["b"], prog.scale["s"]
        # one row: the shared source is [weights | inputs | products], or only the
        # weights where no angle reads an input
        self.one_row = prog.one_row
        self.one_row_inputs = prog.one_row and bool(ss[prog.n_weights :].any())
        if prog.one_row and not self.one_row_inputs:
            ss = ss[: prog.n_weights]
        self.scale_s = rt(ss.T) if prog.n_angles["s"] else None  # [A, W]
        self.scale_sT = rt(ss) if prog.n_angles["s"] else None
        self.scale_b: list[tuple[torch.Tensor, torch.Tensor] | None] = [None, None, None]
        if prog.n_angles["b"]:
            self.scale_b = [
                (rt(m), rt(m.T)) if m.shape[0] else None
                for m in (sb[:ni], sb[ni : ni + nq], sb[ni + nq :])
            ]
        self.products = product_groups(prog.product_groups, lt)
        self.reads_inputs = (
            self.scale_b[0] is not None or self.scale_b[1] is not None or self.one_row_inputs
        )
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
        # per kind and part width: (flat index, factors, entries, parts); one
        # index_select (not advanced indexing: 5-10x the cost at these sizes) and a prod
        self.kron: dict[str, list[tuple[torch.Tensor, int, int, list[int]]]] = {}
        for k, layers in prog.layers.items():
            if not layers:
                continue
            groups: dict[int, list[int]] = {}
            for j, (a, b) in enumerate(prog.parts[k]):
                groups.setdefault(b - a, []).append(j)
            self.kron[k] = []
            for js in groups.values():
                idx = np.concatenate([_kron_index(layers, *prog.parts[k][j]) for j in js], 1)
                self.kron[k].append((lt(idx.reshape(-1)), idx.shape[0], idx.shape[1], js))
        # --- constants folded into shared whole-register layers; per layer, the
        # partial-trace index of its Kronecker output (before the folded constants)
        kron_s = [i for i in prog.instrs if i.op == "kron" and i.kind == "s"]
        self.fold = self._fold(kron_s, d, lt, ct)
        self.layer_trace: dict[tuple[str, int], tuple[torch.Tensor, torch.Tensor | None]] = {}
        for ins in prog.instrs:
            if ins.op != "kron":
                continue
            idx = self._trace
            phase = None
            if ins.post_index is not None:  # y = diag(p) P z: z[t] = conj(p) y at inv[t]
                inv = np.argsort(ins.post_index)
                idx = inv[idx]
                if ins.post_phase is not None and not _all_ones(ins.post_phase):
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
                self.code.append((_PERM, *head, lt(ins.index), lt(inv), ins.index))
            elif ins.op == "diag" and ins.angles:
                assert ins.coef is not None and ins.theta0 is not None
                th0 = rt(ins.theta0) if ins.theta0.any() else None
                coef = rt(ins.coef)
                span = (ins.angles[0], ins.angles[-1] + 1)
                assert ins.angles == list(range(*span))
                self.code.append((_DIAG, *head, span, coef, coef.mT.contiguous(), th0))
            elif ins.op == "diag" and ins.coef is not None and not len(ins.coef):
                assert ins.theta0 is not None
                self.code.append((_CDIAG, *head, ct(np.exp(1j * ins.theta0))))
            elif ins.op == "dense" and ins.const is not None and ins.coef is None:
                c = ct(ins.const)
                self.code.append((_CDENSE, *head, c, c.mT.contiguous(), whole))
            elif (
                ins.op == "dense"
                and ins.const is None
                and ins.coef is not None
                and len(ins.angles) == 1
            ):
                terms = tuple(rt(_terms(ins.coef[None])[:, 0]))
                terms_conj = tuple(rt(_terms(ins.coef.conj()[None])[:, 0]))
                self.code.append((_DENSE, *head, ins.angles[0], terms, whole, terms_conj))
            else:
                raise ValueError(_unrunnable(ins))
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
        self._by_rows: dict[tuple[int, bool], _Variant] = {}
        self._signs: dict[int, tuple[np.ndarray, torch.Tensor, torch.Tensor]] = {}
        self._trace_groups: dict[tuple[Any, ...], torch.Tensor] = {}
        self.trace_plans: dict[Any, Any] = {}  # _small_run._traces' grouping per variant
        self.dense: Any = None  # the dense variant's tables, or False (_small_dense.py)

    @staticmethod
    def _fold(
        krons: list[Any], d: int, lt: Any, ct: Any
    ) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """The constants folded into the shared layers, ``K' = diag(p) K[post][:, pre]
        diag(q)`` for every layer at once: (an index into the layers' flattened ``[L,
        d, d]`` matrices, the phases ``p q^T`` ``[L, d, d]`` or None), or None if there
        are none. One ``index_select`` and one product, whatever was folded."""
        posts = [i.post_index for i in krons]
        pres = [i.pre_index for i in krons]
        if all(x is None for x in posts + pres):
            return None
        ar = np.arange(d)
        post = np.stack([ar if x is None else x for x in posts])  # [L, d]
        pre = np.stack([ar if x is None else x for x in pres])
        layer = np.arange(len(krons))[:, None, None] * d * d
        index = layer + post[:, :, None] * d + pre[:, None, :]
        ph_post = [np.ones(d) if i.post_phase is None else i.post_phase for i in krons]
        ph_pre = [np.ones(d) if i.pre_phase is None else i.pre_phase for i in krons]
        phase = np.stack(ph_post)[:, :, None] * np.stack(ph_pre)[:, None, :]
        return lt(index.reshape(-1)), None if _all_ones(phase) else ct(phase)

    def host(self, t: torch.Tensor) -> np.ndarray:
        """The host copy of an index or complex constant this runtime made (complex
        ones rounded to its dtype, as the device holds them). Plans are built from
        these, never by reading the device back: no device-to-host copy while a plan is
        built on a GPU, and a plan can be built under a fake device (the device
        placement test, ``tests/quantum/test_device_placement.py``)."""
        hit, arr = self._host[id(t)]
        assert hit is t
        return arr

    def variant(self, rows: int, signs: bool) -> _Variant:
        """The folds of a call with ``rows`` rows (see the module docstring)."""
        hit = self._by_rows.get((rows, signs))
        if hit is not None:
            return hit
        v = self._by_rows[(rows, signs)] = self._variant(rows, signs)
        return v

    def _variant(self, rows: int, signs: bool) -> _Variant:
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
        state_idx: list[tuple[torch.Tensor, int, int]] = []
        trace_idx = None
        if self.prefix:
            trace = self._trace
            if single:
                idxs = [_state_index(0, n)]
                for op in self.code[:start]:
                    idxs[0] = idxs[0][:, op[5]]  # new[s] = old[index[s]]
                    trace = np.argsort(op[5])[trace]  # the unpermuted state is at inv[t]
            else:
                h = (n + 1) // 2
                idxs = [_state_index(0, h), _state_index(h, n)]
            if len(self.prefix) == 1:  # gather straight from the row entries
                e0 = self.host(self.prefix[0][1]).reshape(-1)
                idxs = [e0[i] for i in idxs]
            state_idx = [(self._lt(i.reshape(-1)), i.shape[0], i.shape[1]) for i in idxs]
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

    def trace_group(
        self, indices: tuple[torch.Tensor, ...], rows: int, per_row: bool
    ) -> torch.Tensor:
        """One index reading the partial-trace inputs of several layers at once from
        their stacked states ``[g, rows, 2^n]`` (flattened): member ``j``'s trace index
        ``idx_j`` ``[n * 2^n]`` laid out ``[g, rows, n*2^n]`` (``per_row``) or ``[g, n, 2,
        2^(n-1), rows]`` (summed over the rows by the ``bmm``)."""
        key = (tuple(id(i) for i in indices), rows, per_row)
        hit = self._trace_groups.get(key)
        if hit is not None:
            return hit
        d, n = self.prog.d, self.prog.n
        idx = np.stack([self.host(i) for i in indices])  # [g, n * d]
        g = len(indices)
        base = np.arange(g)[:, None, None] * rows * d + np.arange(rows)[None, :, None] * d
        if per_row:
            flat = base + idx[:, None, :]  # [g, rows, n*d]
        else:  # [g, n, 2, d/2, rows]: _trace's order, so the sums add in its order
            split = idx.reshape(g, n, 2, d // 2, 1)
            flat = base.reshape(g, 1, 1, 1, rows) + split
        if len(self._trace_groups) > 64:
            self._trace_groups.clear()
        hit = self._trace_groups[key] = torch.as_tensor(
            np.ascontiguousarray(flat.reshape(-1)), device=self.device
        )
        return hit

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
