"""A noisy circuit's units built for all units at once, per call, in a few large torch ops.

:mod:`quarch.quantum.noisy_circuit` compiles a noisy circuit into units (a gate with the
diagonal gates before it, and its channels). Everything of a unit that reads no angle is
made once per circuit (its ``_Program``); what reads one was made gate by gate on every
call: each rotation its own small tensor, each unit's product, superoperator and
absorption into the next two-qubit unit a chain of tiny ops. A routed 4-qubit circuit
ran some 1,400 torch ops per forward pass, and its backward as many again, each a few
microseconds of overhead over 2x2 and 16x16 matrices.

Here every gate that reads angles is built per gate name in one call, from one gather
of the angles; the units' products are a tree of batched matrix products over an index
table (identities pad the shorter units); the units' superoperators and their channels
are one product per unit size; the single-wire units waiting on a wire multiply out the
same way, and enter the next multi-wire unit by one contraction per wire position. The
values are those of the gate-by-gate build up to the order of rounding (products
associated in a tree): within 7e-7 in complex64 on ``benchmarks/noisy_training.py``'s
circuits (``tests/quantum/test_noisy_batch_truth.py`` checks them against Qiskit).

Nothing here imports :mod:`quarch.quantum.noisy_circuit` (it imports this module); the
units are read by their attributes. Every index table is made once per program, on the
program's device, so a call does no host work per gate and no device synchronisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from quarch.quantum._noisy_arguments import ALIASES
from quarch.quantum.circuit import Op, Param
from quarch.quantum.noise import _apply

__all__: list[str] = []

#: A gate of the native sets that quarch's gate table lacks (those it has under another
#: name: ``ALIASES``): Qiskit's ECR (``(IX - XY) / sqrt(2)``) with its first qubit as
#: the most significant bit, quarch's order (Qiskit's own matrix has it least significant).
_ECR = [[0, 0, 1, 1j], [0, 0, 1j, 1], [1, -1j, 0, 0], [-1j, 1, 0, 0]]


def _matrix(name: str, angles: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Matrices ``S + (d, d)`` of gate ``name`` (a quarch name) for angles ``S + (p,)``."""
    from quarch.quantum.gates import gate_matrix

    if dtype.is_complex:
        return gate_matrix(name, angles, dtype=dtype)
    # a real dtype (the gate is real: _prepare checked): built in complex128 and its real
    # part rounded to the dtype once. For float64 that is gate_matrix(..., dtype=float64)
    # bit for bit (it keeps float64 angles since session 38); for float32 it is not:
    # cosines taken in float64 and rounded, where gate_matrix's float32 takes them in
    # float32 (one ulp apart in about one angle-dependent entry in twenty), so it stays
    return gate_matrix(name, angles).real.to(dtype)


def _gate(op: Op, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Matrix ``[1, 2**k, 2**k]`` of one gate that reads no angle (its angles, if any,
    are numbers): the program multiplies these out once; a gate that reads an input or
    a weight is built per call by ``_Group.matrices`` instead."""
    from quarch.quantum.gates import gate_matrix

    if op.name == "ecr":
        return (torch.tensor(_ECR, dtype=dtype, device=device) / math.sqrt(2)).unsqueeze(0)
    name = ALIASES.get(op.name, op.name)
    if not op.params:
        return gate_matrix(name, dtype=dtype, device=device).unsqueeze(0)
    # every angle is a number here: _factors passes only gates that read no input or weight
    consts = [float(p) for p in op.params]  # type: ignore[arg-type]
    angles = torch.tensor([consts], dtype=dtype.to_real(), device=device)
    return _matrix(name, angles, dtype)


def _embed(m: torch.Tensor, sub: Sequence[int], wires: Sequence[int]) -> torch.Tensor:
    """Matrix ``m`` on wires ``sub`` as a matrix on ``wires`` (identity elsewhere)."""
    if tuple(sub) == tuple(wires):
        return m
    k = len(wires)
    eye = torch.eye(2**k, dtype=m.dtype, device=m.device).expand(m.shape[0], -1, -1)
    t = eye.reshape([m.shape[0]] + [2] * k + [2**k])
    axes = [1 + list(wires).index(w) for w in sub]
    return _apply(t, m, axes).reshape(m.shape[0], 2**k, 2**k)


def _embed_superop(s: torch.Tensor, sub: Sequence[int], wires: Sequence[int]) -> torch.Tensor:
    """Superoperator ``s`` on ``sub`` as one on ``wires`` (identity on the others).

    A superoperator on ``k`` wires acts on ``vec(rho)`` with index ``(rows, cols)``,
    i.e. ``2k`` binary axes; ``s`` is multiplied into the axes of ``sub`` of the identity.
    """
    if tuple(sub) == tuple(wires):
        return s
    k = len(wires)
    eye = torch.eye(4**k, dtype=s.dtype, device=s.device).expand(s.shape[0], -1, -1)
    t = eye.reshape([s.shape[0]] + [2] * (2 * k) + [4**k])
    pos = [list(wires).index(q) for q in sub]
    axes = [1 + i for i in pos] + [1 + k + i for i in pos]
    return _apply(t, s, axes).reshape(s.shape[0], 4**k, 4**k)


def _gates_superop(m: torch.Tensor) -> torch.Tensor:
    """``U . U^dagger`` as superoperators ``[..., 4**k, 4**k]`` of matrices ``m``."""
    d = m.shape[-1]
    out = torch.einsum("...ij,...kl->...ikjl", m, m.conj())
    return out.reshape(*m.shape[:-2], d * d, d * d)


def _reads_angles(g: Op) -> bool:
    """Whether the gate reads an input or a weight (so its matrix is made per call)."""
    return any(isinstance(p, Param) for p in g.params)


def _reads_inputs(f: object) -> bool:
    """Whether factor ``f`` is a gate reading an input (its matrix differs per sample)."""
    params = getattr(f, "params", ())
    return any(isinstance(p, Param) and p.kind == "input" for p in params)


def _chain_product(t: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Products ``f[L-1] ... f[1] f[0]`` ``[B, C, d, d]`` of the factors ``t[:, index[c]]``
    (``t`` ``[B, F, d, d]``, ``index`` ``[C, L]`` with ``L`` a power of two: rows padded
    with an identity's index), in ``log2(L)`` batched products."""
    b, c, d = t.shape[0], index.shape[0], t.shape[-1]
    if index.shape[1] == 1:
        return t.index_select(1, index[:, 0])
    x = t.index_select(1, index.reshape(-1)).reshape(b, c, -1, 2, d, d)
    while True:
        # unbind, not strided slices: their backward fills a zero tensor of the whole
        # per slice, unbind's stacks the two halves' gradients once
        first, second = x.unbind(3)
        x = second @ first
        if x.shape[2] == 1:
            return x.reshape(b, c, d, d)
        x = x.reshape(b, c, -1, 2, d, d)


def _table(rows: Sequence[Sequence[int]], device: torch.device) -> torch.Tensor:
    """``rows`` padded with index 0 (an identity) to one power-of-two length ``[C, L]``."""
    width = 1 << max(0, max((len(r) for r in rows), default=1) - 1).bit_length()
    return torch.tensor([[*r, *[0] * (width - len(r))] for r in rows], device=device).long()


class _Angles:
    """Every angle of a list of parameters as one tensor ``[B', P]``, in a few gathers:
    weights first, then inputs by the number of features multiplied, then constants
    (``col[i]``: the column of parameter ``i``)."""

    def __init__(self, params: Sequence[float | Param], real: torch.dtype, dev: torch.device):
        weights = [i for i, p in enumerate(params) if isinstance(p, Param) and p.kind == "weight"]
        inputs = [i for i, p in enumerate(params) if isinstance(p, Param) and p.kind == "input"]
        consts = [i for i, p in enumerate(params) if not isinstance(p, Param)]
        lengths = sorted({len(params[i].index) for i in inputs})  # type: ignore[union-attr]
        order = list(weights)
        self.x_parts: list[tuple[torch.Tensor, torch.Tensor]] = []
        for n in lengths:
            group = [i for i in inputs if len(params[i].index) == n]  # type: ignore[union-attr]
            idx = [list(params[i].index) for i in group]  # type: ignore[union-attr]
            scale = [params[i].scale for i in group]  # type: ignore[union-attr]
            self.x_parts.append(
                (
                    torch.tensor(idx, device=dev).T.contiguous(),
                    torch.tensor(scale, dtype=real, device=dev),
                )
            )
            order += group
        order += consts
        self.col = [0] * len(params)
        for c, i in enumerate(order):
            self.col[i] = c
        self.real = real
        self.w_idx = torch.tensor([params[i].index[0] for i in weights], device=dev).long()  # type: ignore[union-attr]
        ws = [params[i].scale for i in weights]  # type: ignore[union-attr]
        self.w_scale = (
            None if all(s == 1.0 for s in ws) else torch.tensor(ws, dtype=real, device=dev)
        )
        self.n_w = len(weights)
        cs = [float(params[i]) for i in consts]  # type: ignore[arg-type]
        self.consts = torch.tensor([cs], dtype=real, device=dev) if cs else None

    def __call__(self, x: torch.Tensor | None, w: torch.Tensor | None) -> torch.Tensor:
        parts = []
        if self.n_w:
            assert w is not None
            v = w[..., self.w_idx]
            v = v if self.w_scale is None else v * self.w_scale
            parts.append(v.reshape(-1, self.n_w).to(self.real))
        for idx, scale in self.x_parts:
            assert x is not None
            v = x[:, idx[0]]
            for j in range(1, idx.shape[0]):
                v = v * x[:, idx[j]]
            parts.append((v * scale).to(self.real))
        if self.consts is not None:
            parts.append(self.consts)
        if len(parts) == 1:
            return parts[0]
        width = max(p.shape[0] for p in parts)
        return torch.cat([p.expand(width, -1) for p in parts], dim=1)


class _Group:
    """The units of one width whose gates read angles: their matrices ``[B', U, d, d]``
    from one angle gather, one build per gate name and wire position, one tree of
    products. ``units``: the units' indices in the program."""

    def __init__(
        self, key: tuple[int, bool], members: Sequence[tuple[int, tuple[int, ...], Sequence[Any]]],
        dtype: torch.dtype, device: torch.device,
    ) -> None:  # fmt: skip
        k, self.wide = key
        d = 2**k
        self.units = [i for i, _, _ in members]
        self.k, self.dtype = k, dtype
        fixed = [torch.eye(d, dtype=dtype, device=device)]
        kinds: dict[tuple[str, tuple[int, ...]], list[Op]] = {}
        rows: list[list[tuple[Any, int]]] = []
        for _, wires, factors in members:
            row: list[tuple[Any, int]] = []
            for f in factors:
                if isinstance(f, torch.Tensor):
                    row.append((None, len(fixed)))
                    fixed.append(f[0])
                else:
                    kind = (f.name, tuple(wires.index(q) for q in f.wires))
                    row.append((kind, len(kinds.setdefault(kind, []))))
                    kinds[kind].append(f)
            rows.append(row)
        self.fixed = torch.stack(fixed).unsqueeze(0)
        start: dict[tuple[str, tuple[int, ...]], int] = {}
        params: list[Any] = []
        offset = len(fixed)
        for kind, ops in kinds.items():
            start[kind] = offset
            offset += len(ops)
            params += [p for op in ops for p in op.params]
        self.angles = _Angles(params, dtype.to_real(), device)
        self.kinds: list[tuple[str, tuple[int, ...], int, int, torch.Tensor]] = []
        first = 0
        for (name, pos), ops in kinds.items():
            n_p = len(ops[0].params)
            cols = self.angles.col[first : first + n_p * len(ops)]
            first += n_p * len(ops)
            alias = ALIASES.get(name, name)
            self.kinds.append((alias, pos, len(ops), n_p, torch.tensor(cols, device=device)))
        self.index = _table(
            [[i if key is None else start[key] + i for key, i in row] for row in rows], device
        )

    def matrices(self, x: torch.Tensor | None, w: torch.Tensor | None) -> torch.Tensor:
        """The units' gate products ``[B', U, 2**k, 2**k]``."""
        a = self.angles(x, w)
        b, d = a.shape[0], 2**self.k
        built = [self.fixed.expand(b, -1, -1, -1)]
        for name, pos, count, n_p, cols in self.kinds:
            m = _matrix(name, a.index_select(1, cols).reshape(b * count, n_p), self.dtype)
            m = _embed(m, pos, range(self.k))
            built.append(m.reshape(b, count, d, d))
        return _chain_product(torch.cat(built, dim=1), self.index)


class UnitBatch:
    """Every unit's gate product per call: the units whose gates read angles in one
    :class:`_Group` per width, the others once (``const``)."""

    def __init__(
        self, units: Sequence[Any], factors: Sequence[Sequence[Any]], dtype: torch.dtype,
        device: torch.device,
    ) -> None:  # fmt: skip
        self.const: list[torch.Tensor | None] = []
        members: dict[tuple[int, bool], list[tuple[int, tuple[int, ...], Sequence[Any]]]] = {}
        for i, (u, fs) in enumerate(zip(units, factors, strict=True)):
            if any(not isinstance(f, torch.Tensor) for f in fs):
                self.const.append(None)
                key = (len(u.wires), any(_reads_inputs(f) for f in fs))
                members.setdefault(key, []).append((i, tuple(u.wires), fs))
                continue
            eye = torch.eye(2 ** len(u.wires), dtype=dtype, device=device)[None]
            self.const.append(fs[0] if fs else eye)
        # narrow groups first (no input read: one matrix for the batch when the weights
        # are shared), so that a narrow table's entries come before a wide one's
        self.groups = [_Group(k, m, dtype, device) for k, m in sorted(members.items())]
        self.groups.sort(key=lambda g: g.wide)

    def grouped(self, x: torch.Tensor | None, w: torch.Tensor | None) -> list[torch.Tensor]:
        """Per group, its units' gate products ``[B', U, d, d]``."""
        return [g.matrices(x, w) for g in self.groups]

    def matrices(self, x: torch.Tensor | None, w: torch.Tensor | None) -> list[torch.Tensor]:
        """Per unit, its gate product ``[batch or 1, 2**k, 2**k]``."""
        out = list(self.const)
        for g, m in zip(self.groups, self.grouped(x, w), strict=True):
            for i, mi in zip(g.units, m.unbind(1), strict=True):
                out[i] = mi
        return out  # type: ignore[return-value]


class Passes:
    """A program's passes over the density matrix, built per call from its units'
    superoperators: one per multi-wire unit (its gates and channels, times the
    single-wire units that waited on its wires, and on its left those left on a wire
    whose last multi-wire unit it is), in unit order, then one per wire that no
    multi-wire unit touches.

    What reads no input (``narrow``: one superoperator for the whole batch when the
    weights are shared) is kept apart from what does (``wide``), so that a batch of 32
    multiplies 32 matrices only where the samples differ: a narrow table of each width's
    superoperators, and a wide one that is the narrow one followed by the wide units'.

    ``noise[i]``/``fixed[i]``: unit ``i``'s channels as one superoperator, and its whole
    superoperator when none of its gates reads an angle (``None``: none), as the
    program keeps them.
    """

    def __init__(
        self, units: Sequence[Any], noise: Sequence[torch.Tensor | None],
        fixed: Sequence[torch.Tensor | None], batch: UnitBatch, dtype: torch.dtype,
        device: torch.device,
    ) -> None:  # fmt: skip
        self.batch = batch
        self.noise = [self._noise(g, noise, dtype, device) for g in batch.groups]
        tables: dict[int, list[torch.Tensor]] = {1: [torch.eye(4, dtype=dtype, device=device)]}
        where: dict[int, int] = {}
        for i, u in enumerate(units):
            s = fixed[i]
            if s is not None:
                where[i] = len(tables.setdefault(len(u.wires), []))
                tables[len(u.wires)].append(s[0])
        self.fixed = {k: torch.stack(t).unsqueeze(0) for k, t in tables.items()}
        size = {k: len(t) for k, t in tables.items()}
        wide: set[int] = set()
        for g in batch.groups:  # narrow groups first
            for j, i in enumerate(g.units):
                where[i] = size.get(g.k, 0) + j
            size[g.k] = size.get(g.k, 0) + len(g.units)
            wide |= set(g.units) if g.wide else set()
        self._walk(units, where, wide, device)

    @staticmethod
    def _noise(
        g: _Group, noise: Sequence[torch.Tensor | None], dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor | None:
        """The group's channels ``[U, D, D]`` (identity for a unit without), or ``None``."""
        if all(noise[i] is None for i in g.units):
            return None
        eye = torch.eye(4**g.k, dtype=dtype, device=device)
        return torch.stack([eye if noise[i] is None else noise[i][0] for i in g.units])  # type: ignore[index]

    def _walk(
        self, units: Sequence[Any], where: dict[int, int], wide: set[int], device: torch.device
    ) -> None:
        """The passes in order and, per width and wideness, which table entries and
        waiting chains of single-wire units (narrow chain 0: none) each pass takes: on
        its right, those that waited on its wires; on its left, a wire's last chain when
        this is the wire's last multi-wire unit (no later pass touches that wire, so the
        chain moves up to it: a pass over the density matrix saved per wire)."""
        pending: dict[int, list[int]] = {}
        chains: dict[bool, list[list[int]]] = {False: [[0]], True: []}
        pending_wide: set[int] = set()

        def chain(q: int) -> tuple[bool, int]:
            if q not in pending:
                return False, 0
            w = q in pending_wide
            pending_wide.discard(q)
            chains[w].append(pending.pop(q))
            return w, len(chains[w]) - 1

        #: per multi-wire unit: table entry, wires, chains on its right, whether it is wide
        raw: list[tuple[int, tuple[int, ...], list[tuple[bool, int]], bool]] = []
        last: dict[int, int] = {}
        for i, u in enumerate(units):
            if len(u.wires) == 1:
                pending.setdefault(u.wires[0], []).append(where[i])
                pending_wide |= {u.wires[0]} if i in wide else set()
                continue
            raw.append((where[i], tuple(u.wires), [chain(q) for q in u.wires], i in wide))
            last.update((q, len(raw) - 1) for q in u.wires)
        left = [[(False, 0)] * len(wires) for _, wires, _, _ in raw]
        finals = []
        for q in sorted(pending):
            if q in last:
                left[last[q]][raw[last[q]][1].index(q)] = chain(q)
            else:
                finals.append((q, chain(q)))
        rows: dict[
            tuple[int, bool], list[tuple[int, list[tuple[bool, int]], list[tuple[bool, int]]]]
        ] = {}
        #: per pass: (width, wide) of its row (width 0: a wire's only chain), row, wires
        self.order: list[tuple[tuple[int, bool], int, tuple[int, ...]]] = []
        for (entry, wires, right, wide_unit), lefts in zip(raw, left, strict=True):
            key = (len(wires), wide_unit or any(w for w, _ in right + lefts))
            rows.setdefault(key, []).append((entry, right, lefts))
            self.order.append((key, len(rows[key]) - 1, wires))
        for q, c in finals:
            rows.setdefault((0, c[0]), []).append((0, [c], [(False, 0)]))
            self.order.append(((0, c[0]), len(rows[(0, c[0])]) - 1, (q,)))
        self.chains = {w: _table(c, device) if c else None for w, c in chains.items()}
        n_narrow = len(chains[False])  # a wide row reads narrow chains, then wide ones

        def tensors(rs: list[Any], side: int, k: int) -> list[torch.Tensor | None]:
            """Per wire position, the rows' chains on that side (``None``: none)."""
            per_pos = [[c + (n_narrow if cw else 0) for r in rs for cw, c in r[side][p : p + 1]]
                       for p in range(k)]  # fmt: skip
            return [torch.tensor(c, device=device).long() if any(c) else None for c in per_pos]

        self.rows: dict[tuple[int, bool], tuple[torch.Tensor, list[Any], list[Any]]] = {}
        for (k, w), rs in rows.items():
            entries = torch.tensor([r[0] for r in rs], device=device).long()
            self.rows[(k, w)] = (entries, tensors(rs, 1, max(k, 1)), tensors(rs, 2, max(k, 1)))

    def _tables(
        self, x: torch.Tensor | None, w: torch.Tensor | None
    ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Per width, its narrow and wide tables of superoperators ``[B', count, D, D]``
        (gates, then channels)."""
        parts: dict[tuple[int, bool], list[torch.Tensor]] = {
            (k, False): [t] for k, t in self.fixed.items()
        }
        for g, m, noise in zip(
            self.batch.groups, self.batch.grouped(x, w), self.noise, strict=True
        ):
            s = _gates_superop(m)
            parts.setdefault((g.k, g.wide), []).append(s if noise is None else noise @ s)
        out = {}
        for k in {k for k, _ in parts}:
            wide = parts.get((k, True), [])
            if (k, False) not in parts:
                # every unit of this width reads an input (no fixed one, no narrow
                # group): its wide entries start at 0 and no narrow row reads the width
                table = _cat(wide)
                out[k] = (table, table)
                continue
            narrow = _cat(parts[(k, False)])
            out[k] = (narrow, _cat([narrow, *wide]))
        return out

    def __call__(
        self, x: torch.Tensor | None, w: torch.Tensor | None
    ) -> list[tuple[torch.Tensor, tuple[int, ...]]]:
        """The passes' superoperators ``[batch or 1, D, D]`` and wires, in order."""
        tables = self._tables(x, w)
        narrow_chains, wide_chains = self.chains[False], self.chains[True]
        assert narrow_chains is not None
        waiting = {False: _chain_product(tables[1][0], narrow_chains)}
        waiting[True] = waiting[False]  # a wide row without a wide chain reads narrow ones
        if wide_chains is not None:  # [B, narrow chains + wide ones, 4, 4]
            waiting[True] = _cat([waiting[False], _chain_product(tables[1][1], wide_chains)])
        made: dict[tuple[int, bool], Sequence[torch.Tensor]] = {}
        for (k, wide), (entries, per_pos, per_pos_left) in self.rows.items():
            if k == 0:  # a wire's only chain
                (chains,) = per_pos
                made[(k, wide)] = (
                    waiting[wide].index_select(1, entries if chains is None else chains).unbind(1)
                )
                continue
            s = tables[k][wide].index_select(1, entries)
            for p, chain in enumerate(per_pos):
                if chain is not None:
                    s = _absorb(s, waiting[wide].index_select(1, chain), p, k)
            for p, chain in enumerate(per_pos_left):
                if chain is not None:
                    s = _absorb(s, waiting[wide].index_select(1, chain), p, k, left=True)
            made[(k, wide)] = s.unbind(1)
        return [(made[key][j], wires) for key, j, wires in self.order]


def _absorb(s: torch.Tensor, e: torch.Tensor, p: int, k: int, left: bool = False) -> torch.Tensor:
    """``s @ E`` (``E @ s`` when ``left``) for ``E`` the single-wire superoperators ``e``
    ``[B', U, 4, 4]`` on wire position ``p`` of ``k`` (identity on the others), ``s``
    ``[B', U, 4**k, 4**k]``.

    Contracted on the two axes of ``E``'s wire (its row and column bit in ``vec(rho)``),
    not multiplied by ``E`` made out in full: a quarter of the work for two wires, and no
    identity built and permuted per call.
    """
    letters = "abcdefghijklmnopqrstuvwxy"[: 2 * k]
    r, c = letters[p], letters[k + p]
    out = letters.replace(r, "R").replace(c, "C")
    e = e.reshape(*e.shape[:-2], 2, 2, 2, 2)
    if left:  # E's column bits contract s's row bits; the rows come out as E's rows
        x = s.reshape(*s.shape[:-2], *[2] * (2 * k), s.shape[-1])
        y = torch.einsum(f"...RC{r}{c},...{letters}Z->...{out}Z", e, x)
        return y.reshape(*y.shape[: -(2 * k) - 1], s.shape[-1], s.shape[-1])
    x = s.reshape(*s.shape[:-1], *[2] * (2 * k))
    y = torch.einsum(f"...Z{letters},...{r}{c}RC->...Z{out}", x, e)
    return y.reshape(*y.shape[: -(2 * k) - 1], s.shape[-1], s.shape[-1])


def _cat(ts: Sequence[torch.Tensor]) -> torch.Tensor:
    """Tables ``[B_i, n_i, D, D]`` side by side along dimension 1, widths broadcast."""
    if len(ts) == 1:
        return ts[0]
    width = max(t.shape[0] for t in ts)
    return torch.cat([t.expand(width, -1, -1, -1) for t in ts], dim=1)
