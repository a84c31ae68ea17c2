"""Per-call matrix building: angles -> block matrices and the product-state prefix.

Each call gathers its angles from one shared source vector (weights, constants) and
one batched source (inputs, input products, per-sample weights), then builds every
matrix of the plan in a handful of batched ops: RX/RY/RZ chains through
:class:`~quarch.quantum._rotchain.RotKron` (block layers) and
:class:`~quarch.quantum._rotchain.RotVec` (product state), other one-qubit gates
through one table of 2x2 matrices multiplied row by row, each block's one-qubit layer
as a Kronecker product built for all blocks together (:func:`kron_tree`), and constant
factors from a per-device cache. The results are one ``[G, d, d]`` (shared) or
``[B, G, d, d]`` (per-sample) tensor per block group, which
:mod:`~quarch.quantum._apply` multiplies into the state.

:class:`Runtime` also owns the per-device caches that the later stages reuse between
calls: constant tensors, gather indices and the state-sized workspace buffers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from quarch.quantum._apply import Workspace
from quarch.quantum._compile import Engine
from quarch.quantum._fuse import embed_index
from quarch.quantum._plan import ROT_Q, Chain, Gate
from quarch.quantum._rotchain import RotKron, RotVec, kron_index, real_generators
from quarch.quantum.gates import GATES


def kron_tree(m: torch.Tensor) -> torch.Tensor:
    """Kronecker product over axis ``-3`` of ``[..., k, r, c]`` -> ``[..., r^k, c^k]``
    in ``ceil(log2 k)`` broadcast multiplications (first factor most significant)."""
    tails: list[torch.Tensor] = []
    while m.shape[-3] > 1:
        k = m.shape[-3]
        if k % 2:
            tails.append(m[..., -1, :, :])
            m = m[..., :-1, :, :]
        a = m[..., 0::2, :, None, :, None]
        b = m[..., 1::2, None, :, None, :]
        r, c = m.shape[-2], m.shape[-1]
        m = (a * b).reshape(*m.shape[:-3], k // 2, r * r, c * c)
    out = m[..., 0, :, :]
    for t in reversed(tails):
        r, c = out.shape[-2] * t.shape[-2], out.shape[-1] * t.shape[-1]
        # a tail keeps the leading axes of ``m``, as ``out`` does: no broadcast needed
        out = (out[..., :, None, :, None] * t[..., None, :, None, :]).reshape(*out.shape[:-2], r, c)
    return out


@dataclass
class Ctx:
    """Per-call inputs of the matrix builders."""

    shared: torch.Tensor
    bsrc: torch.Tensor | None
    soff: dict[str, int]
    boff: dict[str, int]
    table_s: torch.Tensor | None = None
    table_b: torch.Tensor | None = None
    genk: list[torch.Tensor] = field(default_factory=list)


class Runtime:
    """Per-call matrix building for an :class:`Engine` (device caches live here)."""

    def __init__(self, eng: Engine, dtype: torch.dtype) -> None:
        self.eng = eng
        self.dtype = dtype
        self.real = torch.float64 if dtype == torch.complex128 else torch.float32
        self._cache: dict[tuple[object, ...], torch.Tensor] = {}
        self.sign_cache: dict[  # device copies of sign tables, see _measure
            tuple[int, torch.device], tuple[np.ndarray, tuple[torch.Tensor, ...]]
        ] = {}
        self._ws: dict[tuple[object, ...], Workspace] = {}
        self._gidx: dict[tuple[object, ...], list[tuple[torch.Tensor, torch.Tensor] | None]] = {}

    def const(
        self, key: str, make: Callable[..., torch.Tensor], device: torch.device
    ) -> torch.Tensor:
        """The tensor ``make()`` on ``device``, built once per ``(key, device)``."""
        t = self._cache.get((key, device))
        if t is None:
            t = self._cache[(key, device)] = make().to(device)
        return t

    def workspace(self, device: torch.device, rows: int, dim: int) -> Workspace:
        """This thread's state buffers on ``device`` (new when the shape changed)."""
        key = (device, threading.get_ident())
        ws = self._ws.get(key)
        if ws is None or ws.shape != (rows, dim):
            ws = Workspace(rows, dim, self.dtype, device)
            self._ws[key] = ws
        return ws

    def gather_indices(self, dev: torch.device) -> list[tuple[torch.Tensor, torch.Tensor] | None]:
        """Per step: (forward, inverse) gather indices ``[1, 2**n]`` on ``dev``."""
        key = ("gidx", dev)
        got = self._gidx.get(key)
        if got is None:
            got = []
            for st in self.eng.steps:
                if st.kind != "gather":
                    got.append(None)
                    continue
                assert st.index is not None
                inv = np.empty_like(st.index)
                inv[st.index] = np.arange(st.index.shape[0])
                got.append(
                    (
                        torch.as_tensor(st.index, device=dev)[None],
                        torch.as_tensor(inv, device=dev)[None],
                    )
                )
            self._gidx[key] = got
        return got

    # ---- sources and tables
    def _sources(
        self, x: torch.Tensor | None, w: torch.Tensor, batch: int, dev: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, int]]:
        e = self.eng
        consts = self.const("consts", lambda: torch.tensor(e.consts, dtype=self.real), dev)
        shared = w if w.dim() == 1 else w.new_zeros(0)
        if e.consts:
            shared = torch.cat([shared, consts])
        off = {"w": 0, "c": shared.shape[0] - len(e.consts)}
        parts: list[torch.Tensor] = []
        boff: dict[str, int] = {}
        col = 0
        for name in ("x", "w", "p", "c"):
            if name not in e.batched_parts:
                continue
            if name == "x":
                assert x is not None
                t = x
            elif name == "w":
                t = w if w.dim() == 2 else w.expand(batch, -1)
            elif name == "p":
                assert x is not None
                t = torch.stack([x[:, list(p)].prod(-1) for p in e.products], -1)
            else:
                t = consts.expand(batch, -1)
            boff[name] = col
            col += t.shape[-1]
            parts.append(t)
        batched = None if not parts else parts[0] if len(parts) == 1 else torch.cat(parts, -1)
        self._off = off
        return shared, batched, boff

    def _angles(
        self,
        gates: list[Gate],
        src: torch.Tensor,
        off: dict[str, int],
        key: str,
        factor: float = 1.0,
    ) -> torch.Tensor:
        """``[..., len(gates), n_params]`` angles of ``gates`` (times ``factor``)."""
        e = self.eng
        dev = src.device
        refs = [e.angle_refs[id(g)] for g in gates]
        idx = self.const(
            key + ":i", lambda: torch.tensor([[off[p] + i for p, i, _ in r] for r in refs]), dev
        )
        scl = self.const(
            key + ":s",
            lambda: torch.tensor([[s * factor for _, _, s in r] for r in refs], dtype=self.real),
            dev,
        )
        return src[..., idx] * scl

    def context(
        self, x: torch.Tensor | None, w: torch.Tensor, batch: int, dev: torch.device
    ) -> Ctx:
        """Angle sources, and the one-qubit tables when some chain needs them."""
        e = self.eng
        shared, bsrc, boff = self._sources(x, w, batch, dev)
        ctx = Ctx(shared, bsrc, self._off, boff)
        soff = self._off
        if e.needs_table:
            parts: list[torch.Tensor] = []
            need_b = e.needs_batched_table
            for batched in (False, True):
                gates = e.rot[batched]
                src, off = (bsrc, boff) if batched else (shared, soff)
                if gates:
                    assert src is not None
                    a = self._angles(gates, src, off, f"rot{batched}", 0.5)[..., 0]
                    q = self.const(
                        f"rotq{batched}",
                        lambda gs=gates: torch.as_tensor(np.stack([ROT_Q[g.name] for g in gs])).to(
                            self.dtype
                        ),
                        dev,
                    )
                    eye = self.const("eye2", lambda: torch.eye(2, dtype=self.dtype), dev)
                    parts.append(
                        torch.cos(a)[..., None, None] * eye + torch.sin(a)[..., None, None] * q
                    )
                for (name, b), gs in e.gen1.items():
                    if b != batched:
                        continue
                    assert src is not None
                    ang = self._angles(gs, src, off, f"gen1{name}{b}")
                    builder = GATES[name].builder
                    assert builder is not None
                    parts.append(builder(*ang.unbind(-1)).to(self.dtype))
                if not batched:
                    parts.append(
                        self.const(
                            "const1", lambda: torch.as_tensor(e.const_rows).to(self.dtype), dev
                        )
                    )
                    ctx.table_s = parts[0] if len(parts) == 1 else torch.cat(parts, 0)
                    parts = [ctx.table_s.expand(batch, *ctx.table_s.shape)] if need_b else []
            if need_b:
                ctx.table_b = torch.cat(parts, 1)
        for (name, b), gs in e.genk.items():
            src, off = (bsrc, boff) if b else (shared, soff)
            assert src is not None
            ang = self._angles(gs, src, off, f"genk{name}{b}")
            builder = GATES[name].builder
            assert builder is not None
            ctx.genk.append(builder(*ang.unbind(-1)).to(self.dtype))
        return ctx

    def chain(self, ch: Chain, ctx: Ctx, vector: bool = False) -> torch.Tensor:
        """Per row of a table-built chain ``ch``, the product of its gates:
        ``[(B,) rows, 2, 2]`` (only the first column ``[(B,) rows, 2, 1]`` when
        ``vector``: the gates applied to |0>). Fast chains go through :meth:`_rot_kron`."""
        assert not ch.fast
        table = ctx.table_b if ch.batched else ctx.table_s
        assert table is not None
        m = self.fused(ch.rows, table, ch.key)
        return m[..., :, 0:1] if vector else m

    def _half_angles(self, ch: Chain, ctx: Ctx) -> torch.Tensor:
        """Half-angles ``[depth, rows, B]`` of a fast chain (``B`` is 1 when shared)."""
        src, off = (ctx.bsrc, ctx.boff) if ch.batched else (ctx.shared, ctx.soff)
        assert src is not None
        dev = src.device
        idx = self.const(
            ch.key + ":fi",
            lambda: torch.tensor([[off[p] + i for p, i, _ in line] for line in ch.refs]),
            dev,
        )
        scl = self.const(
            ch.key + ":half",
            lambda: torch.tensor([[s for _, _, s in line] for line in ch.refs], dtype=self.real)[
                ..., None
            ],
            dev,
        )
        return (src.mT[idx] if ch.batched else src[idx][..., None]) * scl

    def _rot_kron(
        self, ch: Chain, ctx: Ctx, k: int, vector: bool, dev: torch.device
    ) -> torch.Tensor:
        """:class:`RotKron` (block matrices) or :class:`RotVec` (product state) of a fast
        chain: ``[S, B]`` (see :func:`kron_index`)."""
        index = self.const(
            f"{ch.key}:kron{k}{vector}",
            lambda: torch.as_tensor(kron_index(len(ch.rows), k, vector)),
            dev,
        )
        angles = self._half_angles(ch, ctx)
        if vector:
            qr = self.const(
                ch.key + ":qr",
                lambda: torch.as_tensor(real_generators(ch.q)).to(self.real),  # type: ignore[arg-type]
                dev,
            )
            return RotVec.apply(angles, qr, index)  # type: ignore[no-any-return]
        q = self.const(ch.key + ":q5", lambda: torch.as_tensor(ch.q).to(self.dtype)[..., None], dev)
        eye = self.const("eye2b", lambda: torch.eye(2, dtype=self.dtype)[..., None], dev)
        return RotKron.apply(angles, q, eye, index)  # type: ignore[no-any-return]

    def fused(self, rows: list[list[Gate]], table: torch.Tensor, key: str) -> torch.Tensor:
        """Per row, the product of its gates' 2x2 matrices: ``[..., len(rows), 2, 2]``."""
        e = self.eng
        dev = table.device
        depth = max(1, max(len(r) for r in rows))
        idx = self.const(
            key,
            lambda: torch.tensor(
                [[r[p].row if p < len(r) else e.identity_row for r in rows] for p in range(depth)]
            ),
            dev,
        )
        m = table[..., idx[0], :, :]
        for p in range(1, depth):
            m = table[..., idx[p], :, :] @ m
        return m

    def product_state(self, ctx: Ctx) -> tuple[torch.Tensor, torch.Tensor]:
        """The prefix's product state as two halves ``[rows, 2^h]``, ``[rows, 2^(n-h)]``."""
        e = self.eng
        h = (e.n + 1) // 2
        ch = e.chains["prefix"]
        if ch.fast:
            v = self._rot_kron(ch, ctx, h, True, ctx.shared.device)
            return v[: 2**h].mT, v[2**h :].mT
        vec = self.chain(ch, ctx, vector=True)  # [.., n, 2, 1]
        a = kron_tree(vec[..., :h, :, :])[..., 0]
        b = kron_tree(vec[..., h:, :, :])[..., 0] if h < e.n else vec.new_ones(*vec.shape[:-3], 1)
        if a.dim() == 1:
            a, b = a[None], b[None]
        return a, b

    def block_matrices(self, ctx: Ctx, dev: torch.device) -> list[torch.Tensor]:
        """One tensor per group: ``[G, d, d]`` (shared) or ``[B, G, d, d]`` (batched)."""
        e = self.eng
        krons: dict[object, torch.Tensor] = {}
        for key, rows in e.kron.items():
            k = key[1]
            ch = e.chains[key]
            if ch.fast:
                kr = self._rot_kron(ch, ctx, k, False, dev)
                kr = kr.view(len(rows) // k, 2**k, 2**k, kr.shape[-1])
                krons[key] = kr.permute(3, 0, 1, 2) if ch.batched else kr[..., 0]
                continue
            m = self.chain(ch, ctx)
            m = m.reshape(*m.shape[:-3], len(rows) // k, k, 2, 2)
            krons[key] = kron_tree(m)
        out: list[torch.Tensor] = []
        for gi, grp in enumerate(e.groups):
            k = grp.dim.bit_length() - 1
            u: torch.Tensor | None = None
            for pos, kind in enumerate(grp.kinds):
                if kind == "C":
                    f = self.const(
                        f"C{gi}:{pos}",
                        lambda g=grp, p=pos: torch.as_tensor(
                            np.stack([b.factors[p].const for b in g.blocks])
                        ).to(self.dtype),
                        dev,
                    )
                elif kind == "K":
                    lb, lo, hi = grp.kron_slices[pos]
                    f = krons[(lb, k)][..., lo:hi, :, :]
                else:
                    fs = []
                    for b in grp.blocks:
                        fac = b.factors[pos]
                        assert fac.gate is not None
                        gm = ctx.genk[fac.gate.slot[0]][..., fac.gate.slot[1], :, :]
                        ai_np, mask_np = embed_index(fac.local, k)
                        ai = self.const(
                            f"ai{fac.local}{k}", lambda a=ai_np: torch.as_tensor(a), dev
                        )
                        mask = self.const(
                            f"mask{fac.local}{k}",
                            lambda m_=mask_np: torch.as_tensor(m_).to(self.dtype),
                            dev,
                        )
                        fs.append(gm[..., ai[:, None], ai[None, :]] * mask)
                    if grp.batched:
                        # a batched group may hold shared ([d, d]) and per-sample
                        # ([B, d, d]) gates at the same position: broadcast to the batch
                        lead = max((t.shape[:-2] for t in fs), key=len)
                        fs = [t if t.dim() > 2 else t.expand(*lead, *t.shape[-2:]) for t in fs]
                    f = torch.stack(fs, -3)
                u = f if u is None else f @ u
            assert u is not None
            out.append(u)
        return out
