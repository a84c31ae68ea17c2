"""The fast execution engine behind :class:`~quarch.quantum.ExecutionPlan` (private).

Why it looks the way it does: at the sizes a NAS trains most (n <= 10, batch 256) the
state sits in cache and the cost is the number of torch operations per
forward+backward; at n >= 14 the cost is the number of passes over the state. So:

* **Compile time does the bookkeeping.** Permutation gates (CNOT, SWAP, X, Toffoli,
  CSWAP) that do not fit a block are not applied at all: the engine keeps a map
  ``sigma`` (stored index -> true basis index) and folds it into the next block's
  matrix, into one gather of the state when a block's wires are scattered by it, or
  into the sign table of ``<Z>`` at the end. A CNOT ring costs at most one gather.
* **Block matrices are built in a handful of batched ops.** Consecutive one-qubit
  gates on a wire are multiplied into one 2x2 (RX/RY/RZ of all slots at once as
  ``cos I + sin Q``); each block's one-qubit layer is a Kronecker product built for
  all blocks of the plan together; constant gates (CNOT runs, H layers, gates with
  constant angles) are multiplied at compile time. Chains made only of RX/RY/RZ (the
  common case; ``Rot`` is split into RZ RY RZ to join it) are built and
  differentiated by hand as one autograd node each
  (:mod:`quarch.quantum._rotchain`: ``RotKron`` for block matrices, ``RotVec`` for the
  product-state prefix): recorded op by op they cost about 100 autograd nodes per
  call at n=8.
* **The state evolution is one autograd node with adjoint differentiation.** The
  backward pass runs the blocks in reverse on ``[state; gradient]`` stacked (both
  transform with the same ``U^dagger``), so memory stays at a few states whatever the
  depth, and each block costs one matmul plus one reduction for its matrix gradient.
  ``<Z>`` is fused into the same node. State-sized buffers are reused between calls
  (fresh multi-MB buffers cost a page fault per 4 KiB).
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from quarch.quantum._rotchain import RotKron, RotVec, kron_index, real_generators
from quarch.quantum.circuit import Circuit, Param
from quarch.quantum.gates import GATES

# RX, RY, RZ = cos(t/2) I + sin(t/2) Q with Q = -i X, -i Y, -i Z.
_ROT_Q = {
    "rx": np.array([[0, -1j], [-1j, 0]], dtype=np.complex128),
    "ry": np.array([[0, -1], [1, 0]], dtype=np.complex128),
    "rz": np.array([[-1j, 0], [0, 1j]], dtype=np.complex128),
}


@dataclass(eq=False)
class _Gate:
    """One op as the engine sees it."""

    name: str
    wires: tuple[int, ...]
    params: tuple[float | Param, ...]
    const: np.ndarray | None  # full matrix when it needs no run-time angle
    perm: bool  # constant basis-state permutation
    batched: bool  # its matrix differs per sample
    row: int = -1  # one-qubit gates: row in the 1q table (shared or batched)
    slot: tuple[int, int] = (-1, -1)  # multi-qubit parametrised: (group, slot)


@dataclass
class _Factor:
    kind: str  # "C" constant, "K" one-qubit layer (Kronecker), "P" parametrised gate
    const: np.ndarray | None = None
    rows: list[list[_Gate]] | None = None  # "K": per block wire, gates in order
    gate: _Gate | None = None  # "P"
    local: tuple[int, ...] = ()  # "P": block-local positions of the gate's wires


@dataclass
class _BlockSpec:
    wires: tuple[int, ...]  # matrix order: first = most significant local bit
    factors: list[_Factor]
    batched: bool
    group: int = -1
    index: int = -1


@dataclass
class _Group:
    """Blocks with the same width, batchedness and factor kinds: one matmul chain."""

    dim: int
    batched: bool
    kinds: tuple[str, ...]
    blocks: list[_BlockSpec] = field(default_factory=list)
    kron_slices: dict[int, tuple[bool, int, int]] = field(default_factory=dict)


@dataclass
class _Chain:
    key: str
    rows: list[list[_Gate]]
    batched: bool
    fast: bool
    refs: list[list[tuple[str, int, float]]] = field(default_factory=list)
    q: np.ndarray | None = None


@dataclass
class _Step:
    kind: str  # "gather" or "block"
    index: np.ndarray | None = None  # gather: new[s] = old[index[s]]
    lo: int = 0  # block: its wires are stored bits lo .. lo+k-1 (0 = least significant)
    group: int = -1
    block: int = -1
    dim: int = 0
    batched: bool = False


def _bits_apply(t: np.ndarray, n: int, wires: tuple[int, ...], images: np.ndarray) -> np.ndarray:
    """Apply a basis permutation on ``wires`` (``images[local] = new local``) to indices."""
    r = len(wires)
    local = np.zeros_like(t)
    for i, w in enumerate(wires):
        local |= ((t >> (n - 1 - w)) & 1) << (r - 1 - i)
    new = images[local]
    out = t.copy()
    for i, w in enumerate(wires):
        bit = (new >> (r - 1 - i)) & 1
        out = (out & ~(1 << (n - 1 - w))) | (bit << (n - 1 - w))
    return out


def _embed_np(m: np.ndarray, local: list[int], k: int) -> np.ndarray:
    """A gate matrix on block-local positions ``local`` as a ``2^k`` matrix."""
    ai, mask = _embed_index(tuple(local), k)
    return m[ai[:, None], ai[None, :]] * mask


def _embed_index(local: tuple[int, ...], k: int) -> tuple[np.ndarray, np.ndarray]:
    d = 2**k
    i = np.arange(d)
    r = len(local)
    ai = np.zeros(d, dtype=np.int64)
    rest_mask = d - 1
    for j, p in enumerate(local):
        ai |= ((i >> (k - 1 - p)) & 1) << (r - 1 - j)
        rest_mask &= ~(1 << (k - 1 - p))
    rest = i & rest_mask
    return ai, rest[:, None] == rest[None, :]


def _kron_np(mats: list[np.ndarray]) -> np.ndarray:
    out = np.ones((1, 1), dtype=np.complex128)
    for m in mats:
        out = np.kron(out, m)
    return out


def _split_rot(ops: Any) -> list[Any]:
    """``Rot(phi, theta, omega)`` as ``RZ(phi)``, ``RY(theta)``, ``RZ(omega)`` (equal, as
    in PennyLane), so rotation layers of Rot gates take the single-axis fast path
    (:class:`RotKron`) instead of the table of general 2x2 matrices."""
    out: list[Any] = []
    for op in ops:
        if op.name != "rot":
            out.append(op)
            continue
        phi, theta, omega = op.params
        out += [
            dataclasses.replace(op, name="rz", params=(phi,)),
            dataclasses.replace(op, name="ry", params=(theta,)),
            dataclasses.replace(op, name="rz", params=(omega,)),
        ]
    return out


def _kron_tree(m: torch.Tensor) -> torch.Tensor:
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
        out = (out[..., :, None, :, None] * t[..., None, :, None, :]).reshape(
            *torch.broadcast_shapes(out.shape[:-2], t.shape[:-2]), r, c
        )
    return out


class Engine:
    """Compiled schedule of one circuit for one weight kind (shared or per-sample).

    Args:
        circuit (Circuit): gates only (channels are refused earlier).
        max_block: widest block.
        with_prefix: build the leading one-qubit gates as a product state.
        weights_batched: weights come as ``[batch, n_weights]``.
    """

    def __init__(
        self, circuit: Circuit, max_block: int, *, with_prefix: bool, weights_batched: bool
    ) -> None:
        self.n = n = circuit.n_qubits
        self.k = max_block
        self.weights_batched = weights_batched
        self.n_weights = circuit.n_weights
        self._signs: dict[tuple[Any, ...], np.ndarray | None] = {}
        self.n_inputs = circuit.n_inputs
        self._consts: list[float] = []
        self._products: list[tuple[int, ...]] = []
        self._bparts: set[str] = set()
        gates = [
            self._gate(op) for op in _split_rot(circuit.ops) if op.name != "amplitude_embedding"
        ]
        self.amplitude = next(
            (op.meta for op in circuit.ops if op.name == "amplitude_embedding"), None
        )
        # ---- product-state prefix
        self.prefix: list[list[_Gate]] | None = None
        if with_prefix and self.amplitude is None:
            self.prefix = [[] for _ in range(n)]
            touched: set[int] = set()
            rest: list[_Gate] = []
            for g in gates:
                if len(g.wires) == 1 and g.wires[0] not in touched:
                    self.prefix[g.wires[0]].append(g)
                else:
                    touched.update(g.wires)
                    rest.append(g)
            gates = rest
        # ---- schedule: blocks and deferred permutations
        items = self._schedule(gates)
        self.steps: list[_Step] = []
        self.blocks: list[_BlockSpec] = []
        sigma = np.arange(2**n, dtype=np.int64)  # stored index -> true basis index
        for pos, item in enumerate(items):
            if isinstance(item, _Gate):
                images = np.argmax(np.abs(item.const), axis=0)  # type: ignore[arg-type]
                sigma = _bits_apply(sigma, n, item.wires, images)
                continue
            upcoming: list[set[int]] = []  # later blocks no deferred gate moves
            moved: set[int] = set()
            for nxt in items[pos + 1 :]:
                ws = set(nxt.wires) if isinstance(nxt, _Gate) else {w for g in nxt for w in g.wires}
                if isinstance(nxt, _Gate):
                    moved |= ws
                elif not ws & moved:
                    upcoming.append(ws)
            sigma = self._place(item, sigma, upcoming)
        self.sigma = sigma
        self.identity_layout = bool((sigma == np.arange(2**n)).all())
        self._group_blocks()
        self._make_chains()
        self._assign_tables()

    # ------------------------------------------------------------------ compile
    def _col(self, p: Param, batched: bool) -> tuple[str, int]:
        if p.kind == "weight":
            if batched:
                self._bparts.add("w")
            return ("w", p.index[0])
        if len(p.index) == 1:
            self._bparts.add("x")
            return ("x", p.index[0])
        self._bparts.add("p")
        self._products.append(p.index)
        return ("p", len(self._products) - 1)

    def _gate(self, op: Any) -> _Gate:
        spec = GATES[op.name]
        if spec.n_params == 0:
            assert spec.constant is not None
            return _Gate(op.name, op.wires, (), spec.constant, spec.permutation, False)
        if not any(isinstance(p, Param) for p in op.params):
            assert spec.builder is not None
            t = torch.tensor([float(p) for p in op.params], dtype=torch.float64)
            m = spec.builder(*t.unbind(-1)).to(torch.complex128).numpy()
            return _Gate(op.name, op.wires, op.params, m, False, False)
        batched = any(
            isinstance(p, Param) and (p.kind == "input" or self.weights_batched) for p in op.params
        )
        return _Gate(op.name, op.wires, op.params, None, False, batched)

    def _schedule(self, gates: list[_Gate]) -> list[_Gate | list[_Gate]]:
        """Greedy blocks of at most ``k`` wires; runs of permutation gates wider than a
        block are deferred into the index map instead of being multiplied."""
        k = self.k
        items: list[_Gate | list[_Gate]] = []
        remaining = gates
        while remaining:
            front: list[_Gate] = []
            rest: list[_Gate] = []
            blocked: set[int] = set()
            for g in remaining:
                if g.perm and not (set(g.wires) & blocked):
                    front.append(g)
                else:
                    rest.append(g)
                    blocked |= set(g.wires)
            if front and len({w for g in front for w in g.wires}) > k:
                items.extend(front)
                remaining = rest
                continue
            block: list[_Gate] = []
            wires: set[int] = set()
            blocked = set()
            deferred: list[_Gate] = []
            for g in remaining:
                ws = set(g.wires)
                if not (ws & blocked) and len(wires | ws) <= k:
                    block.append(g)
                    wires |= ws
                else:
                    deferred.append(g)
                    blocked |= ws
            if all(g.perm for g in block):
                items.extend(block)
            else:
                items.append(block)
            remaining = deferred
        return items

    def _place(self, gates: list[_Gate], sigma: np.ndarray, upcoming: list[set[int]]) -> np.ndarray:
        """Add one block's step, with a gather first when ``sigma`` scatters its wires.

        A block applies in place when its wires are the last or first ``k`` stored
        bits; a gather picks a layout where this block and the next disjoint one do.
        """
        n = self.n
        wires = tuple(sorted({w for g in gates for w in g.wires}))
        k = len(wires)
        fit = None
        # in place when on the last bits (real GEMM) or the first bits (batched matmul);
        # a block in the middle would be a batched matmul of tiny matrices (slower
        # than one gather on CPU), so it gets a gather instead
        for lo in dict.fromkeys((0, n - k)):
            fit = _local_map(sigma, n, wires, lo)
            if fit is not None:
                break
        if fit is None:
            # this block last, the next disjoint block first: both then run in place
            nxt = next((sorted(ws) for ws in upcoming if not ws & set(wires)), [])
            layout = nxt + [w for w in range(n) if w not in wires and w not in nxt]
            layout += list(wires)
            new_sigma = np.zeros_like(sigma)
            s_ = np.arange(2**n, dtype=np.int64)
            for pos, w in enumerate(layout):
                new_sigma |= ((s_ >> (n - 1 - pos)) & 1) << (n - 1 - w)
            inv = np.empty_like(sigma)
            inv[sigma] = np.arange(2**n)
            self.steps.append(_Step("gather", index=inv[new_sigma]))
            sigma = new_sigma
            lo = 0
            fit = _local_map(sigma, n, wires, lo)
            assert fit is not None
        order, conj = fit
        factors = _factors(gates, order)
        if conj is not None:
            # U_stored[a, a'] = U[f(a), f(a')]: a constant permutation on each side.
            p = np.zeros((2**k, 2**k), dtype=np.complex128)
            p[conj, np.arange(2**k)] = 1
            factors = _merge([_Factor("C", const=p), *factors, _Factor("C", const=p.T.copy())])
        spec = _BlockSpec(order, factors, any(g.batched for g in gates))
        self.blocks.append(spec)
        self.steps.append(
            _Step("block", dim=2**k, batched=spec.batched, block=len(self.blocks) - 1, lo=lo)
        )
        return sigma

    def _assign_tables(self) -> None:
        """Rows of the one-qubit tables and slots of multi-qubit parametrised groups."""
        one_q = [g for ch in self.chains.values() if not ch.fast for row in ch.rows for g in row]
        # constant rows: identity first, then each distinct constant matrix
        const_rows: list[np.ndarray] = [np.eye(2, dtype=np.complex128)]
        rot_s: list[_Gate] = []
        rot_b: list[_Gate] = []
        gen: dict[tuple[str, bool], list[_Gate]] = {}
        for g in one_q:
            if g.const is not None:
                g.row = -2 - len(const_rows)  # resolved below
                const_rows.append(g.const)
            elif g.name in _ROT_Q:
                (rot_b if g.batched else rot_s).append(g)
            else:
                gen.setdefault((g.name, g.batched), []).append(g)
        self._rot = {False: rot_s, True: rot_b}
        self._gen1 = gen
        self.needs_table = any(not ch.fast for ch in self.chains.values())
        self.needs_batched_table = any(g.batched for g in one_q)
        # shared table: [rot shared | generic shared groups | constants]
        row = 0
        for g in rot_s:
            g.row, row = row, row + 1
        for (_, per_sample), gs in gen.items():
            if not per_sample:
                for g in gs:
                    g.row, row = row, row + 1
        self._const_offset = row
        self._const_rows = np.stack(const_rows)
        for g in one_q:
            if g.const is not None:
                g.row = row + (-2 - g.row)
        self.n_shared_rows = row + len(const_rows)
        self.identity_row = row
        row = self.n_shared_rows
        for g in rot_b:
            g.row, row = row, row + 1
        for (_, per_sample), gs in gen.items():
            if per_sample:
                for g in gs:
                    g.row, row = row, row + 1
        # multi-qubit parametrised gates
        self._genk: dict[tuple[str, bool], list[_Gate]] = {}
        for b in self.blocks:
            for f in b.factors:
                if f.kind == "P":
                    assert f.gate is not None
                    lst = self._genk.setdefault((f.gate.name, f.gate.batched), [])
                    f.gate.slot = (list(self._genk).index((f.gate.name, f.gate.batched)), len(lst))
                    lst.append(f.gate)
        # resolve angle sources
        self._angle_refs: dict[int, list[tuple[str, int, float]]] = {}
        for g in [*one_q, *(g for lst in self._genk.values() for g in lst)]:
            if g.const is None:
                self._angle_refs[id(g)] = [self._ref(p, g.batched) for p in g.params]

    def _ref(self, p: float | Param, batched: bool) -> tuple[str, int, float]:
        if not isinstance(p, Param):
            self._consts.append(float(p))
            if batched:
                self._bparts.add("c")
            return ("c", len(self._consts) - 1, 1.0)
        part, i = self._col(p, batched)
        return (part, i, p.scale)

    def _make_chains(self) -> None:
        """Rows of consecutive one-qubit gates whose products the run time builds.

        A chain made only of RX/RY/RZ is built straight from its angles as
        ``cos(t/2) I + sin(t/2) Q`` laid out ``[depth, rows]`` (a missing gate is an
        angle 0, the identity), so no table gather is needed."""
        self.chains: dict[object, _Chain] = {}
        todo: list[tuple[object, list[list[_Gate]]]] = []
        if self.prefix is not None:
            todo.append(("prefix", self.prefix))
        todo.extend(self._kron.items())
        for key, rows in todo:
            gates = [g for row in rows for g in row]
            batched = any(g.batched for g in gates)
            fast = bool(gates) and all(
                g.name in _ROT_Q and not any(isinstance(p, Param) for p in g.params[1:])
                for g in gates
            )
            ch = _Chain(str(key), rows, batched, fast)
            if fast:
                depth = max(len(r) for r in rows)
                zero = self._ref(0.0, batched)
                q = np.zeros((depth, len(rows), 2, 2), dtype=np.complex128)
                for p_ in range(depth):
                    line = []
                    for r, row in enumerate(rows):
                        if p_ < len(row):
                            part, i, scale = self._ref(row[p_].params[0], batched)
                            line.append((part, i, 0.5 * scale))
                            q[p_, r] = _ROT_Q[row[p_].name]
                        else:
                            line.append((zero[0], zero[1], 0.0))
                    ch.refs.append(line)
                ch.q = q
            self.chains[key] = ch

    def _group_blocks(self) -> None:
        groups: dict[tuple[int, bool, tuple[str, ...]], _Group] = {}
        for b in self.blocks:
            kinds = tuple(f.kind for f in b.factors)
            key = (2 ** len(b.wires), b.batched, kinds)
            grp = groups.setdefault(key, _Group(key[0], key[1], kinds))
            b.group, b.index = list(groups).index(key), len(grp.blocks)
            grp.blocks.append(b)
        self.groups = list(groups.values())
        for st in self.steps:
            if st.kind == "block":
                b = self.blocks[st.block]
                st.group, st.block = b.group, b.index
        # Kronecker layers, per (batched, k), contiguous per (group, position)
        self._kron: dict[tuple[bool, int], list[list[_Gate]]] = {}
        for grp in self.groups:
            for pos, kind in enumerate(grp.kinds):
                if kind != "K":
                    continue
                k = grp.dim.bit_length() - 1
                layers = [b.factors[pos].rows or [] for b in grp.blocks]
                lb = any(g.batched for rows in layers for row in rows for g in row)
                lst = self._kron.setdefault((lb, k), [])
                start = len(lst) // k
                for rows in layers:
                    lst.extend(rows)
                grp.kron_slices[pos] = (lb, start, len(lst) // k)

    # ------------------------------------------------------------------ info
    @property
    def n_passes(self) -> tuple[int, int]:
        """(matmul passes, gather passes) over the state per forward."""
        g = sum(1 for s in self.steps if s.kind == "gather")
        return len(self.steps) - g, g

    def signs(self, words: Any) -> np.ndarray | None:
        """Sign table ``[2**n, n_obs]`` of diagonal Pauli words in stored order (cached:
        a layer asks for the same words on every call)."""
        from quarch.quantum.measurements import _word_tables

        if words in self._signs:
            return self._signs[words]
        out = None
        if all(w.is_diagonal for w in words):
            ident = tuple(range(self.n))
            out = np.stack([_word_tables(w, ident)[0][self.sigma] for w in words], axis=1)
        if len(self._signs) < 64:
            self._signs[words] = out
        return out


def _local_map(
    sigma: np.ndarray, n: int, wires: tuple[int, ...], lo: int
) -> tuple[tuple[int, ...], np.ndarray | None] | None:
    """If the block's wires live on stored bits ``lo .. lo+k-1`` (and nothing else
    does), return the wire order of those bits and, when the map between stored and
    true local indices is not a plain bit order, that map; else ``None``."""
    k = len(wires)
    s = np.arange(2**n, dtype=np.int64)
    t_w = np.zeros_like(s)
    mask_w = 0
    for i, w in enumerate(wires):
        t_w |= ((sigma >> (n - 1 - w)) & 1) << (k - 1 - i)
        mask_w |= 1 << (n - 1 - w)
    t_o = sigma & ~mask_w
    a = (s >> lo) & (2**k - 1)
    h = ((s >> (lo + k)) << lo) | (s & (2**lo - 1))
    f = np.empty(2**k, dtype=np.int64)
    f[a] = t_w
    if not (f[a] == t_w).all():
        return None
    g = np.empty(2 ** (n - k), dtype=np.int64)
    g[h] = t_o
    if not (g[h] == t_o).all():
        return None
    # a plain bit order? then build the block's matrices in that wire order
    order: list[int] = []
    for j in range(k):
        img = int(f[1 << (k - 1 - j)])
        if img == 0 or img & (img - 1) or f[0] != 0:
            break
        order.append(wires[k - 1 - (img.bit_length() - 1)])
    if len(order) == k:
        pos = [wires.index(w) for w in order]
        lin = np.zeros(2**k, dtype=np.int64)
        idx = np.arange(2**k)
        for j, p in enumerate(pos):
            lin |= ((idx >> (k - 1 - j)) & 1) << (k - 1 - p)
        if (lin == f).all():
            return tuple(order), None
    return wires, f


def _factors(gates: list[_Gate], order: tuple[int, ...]) -> list[_Factor]:
    """One block as a chain of factors (first applied first)."""
    k = len(order)
    pos = {w: i for i, w in enumerate(order)}
    pending: dict[int, list[_Gate]] = {}
    out: list[_Factor] = []

    def flush() -> None:
        if not pending:
            return
        rows = [pending.get(w, []) for w in order]
        if all(g.const is not None for row in rows for g in row):
            mats = []
            for row in rows:
                m = np.eye(2, dtype=np.complex128)
                for g in row:
                    m = g.const @ m  # type: ignore[operator]
                mats.append(m)
            out.append(_Factor("C", const=_kron_np(mats)))
        else:
            out.append(_Factor("K", rows=rows))
        pending.clear()

    for g in gates:
        if len(g.wires) == 1:
            pending.setdefault(g.wires[0], []).append(g)
            continue
        if any(w in pending for w in g.wires):
            flush()
        local = [pos[w] for w in g.wires]
        if g.const is not None:
            out.append(_Factor("C", const=_embed_np(g.const, local, k)))
        else:
            out.append(_Factor("P", gate=g, local=tuple(local)))
    flush()
    return _merge(out)


def _merge(factors: list[_Factor]) -> list[_Factor]:
    out: list[_Factor] = []
    for f in factors:
        if f.kind == "C" and out and out[-1].kind == "C":
            out[-1] = _Factor("C", const=f.const @ out[-1].const)  # type: ignore[operator]
        else:
            out.append(f)
    return out


# ---------------------------------------------------------------------- run time
class Runtime:
    """Per-call matrix building for an :class:`Engine` (device caches live here)."""

    def __init__(self, eng: Engine, dtype: torch.dtype) -> None:
        self.eng = eng
        self.dtype = dtype
        self.real = torch.float64 if dtype == torch.complex128 else torch.float32
        self._cache: dict[tuple[object, ...], torch.Tensor] = {}
        self._signs: dict[
            tuple[int, torch.device], tuple[np.ndarray, tuple[torch.Tensor, ...]]
        ] = {}
        self._ws: dict[tuple[object, ...], _Workspace] = {}
        self._gidx: dict[tuple[object, ...], list[tuple[torch.Tensor, torch.Tensor] | None]] = {}

    def const(self, key: str, make: Any, device: torch.device) -> torch.Tensor:
        t = self._cache.get((key, device))
        if t is None:
            t = make()
            if isinstance(t, np.ndarray):
                t = torch.as_tensor(t)
            t = t.to(device)
            self._cache[(key, device)] = t
        return t

    def workspace(self, device: torch.device, rows: int, dim: int) -> _Workspace:
        key = (device, threading.get_ident())
        ws = self._ws.get(key)
        if ws is None or ws.shape != (rows, dim):
            ws = _Workspace(rows, dim, self.dtype, device)
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

    def execute(
        self,
        x: torch.Tensor | None,
        w: torch.Tensor,
        psi0: torch.Tensor | None,
        batch: int,
        dev: torch.device,
        signs: np.ndarray | None,
    ) -> torch.Tensor:
        """Expectations ``[rows, n_obs]`` (``signs`` given) or the state ``[rows, 2**n]``
        in stored order; ``rows`` is 1 when nothing in the run is per-sample."""
        return _runtime_execute(self, x, w, psi0, batch, dev, signs)

    # ---- sources and tables
    def _sources(
        self, x: torch.Tensor | None, w: torch.Tensor, batch: int, dev: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, int]]:
        e = self.eng
        consts = self.const("consts", lambda: torch.tensor(e._consts, dtype=self.real), dev)
        shared = w if w.dim() == 1 else w.new_zeros(0)
        if e._consts:
            shared = torch.cat([shared, consts])
        off = {"w": 0, "c": shared.shape[0] - len(e._consts)}
        parts: list[torch.Tensor] = []
        boff: dict[str, int] = {}
        col = 0
        for name in ("x", "w", "p", "c"):
            if name not in e._bparts:
                continue
            if name == "x":
                assert x is not None
                t = x
            elif name == "w":
                t = w if w.dim() == 2 else w.expand(batch, -1)
            elif name == "p":
                assert x is not None
                t = torch.stack([x[:, list(p)].prod(-1) for p in e._products], -1)
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
        gates: list[_Gate],
        src: torch.Tensor,
        off: dict[str, int],
        key: str,
        factor: float = 1.0,
    ) -> torch.Tensor:
        """``[..., len(gates), n_params]`` angles of ``gates`` (times ``factor``)."""
        e = self.eng
        dev = src.device
        refs = [e._angle_refs[id(g)] for g in gates]
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
    ) -> _Ctx:
        """Angle sources, and the one-qubit tables when some chain needs them."""
        e = self.eng
        shared, bsrc, boff = self._sources(x, w, batch, dev)
        ctx = _Ctx(shared, bsrc, self._off, boff)
        soff = self._off
        if e.needs_table:
            parts: list[torch.Tensor] = []
            need_b = e.needs_batched_table
            for batched in (False, True):
                gates = e._rot[batched]
                src, off = (bsrc, boff) if batched else (shared, soff)
                if gates:
                    assert src is not None
                    a = self._angles(gates, src, off, f"rot{batched}", 0.5)[..., 0]
                    q = self.const(
                        f"rotq{batched}",
                        lambda gs=gates: torch.as_tensor(np.stack([_ROT_Q[g.name] for g in gs])).to(
                            self.dtype
                        ),
                        dev,
                    )
                    eye = self.const("eye2", lambda: torch.eye(2, dtype=self.dtype), dev)
                    parts.append(
                        torch.cos(a)[..., None, None] * eye + torch.sin(a)[..., None, None] * q
                    )
                for (name, b), gs in e._gen1.items():
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
                            "const1", lambda: torch.as_tensor(e._const_rows).to(self.dtype), dev
                        )
                    )
                    ctx.table_s = parts[0] if len(parts) == 1 else torch.cat(parts, 0)
                    parts = [ctx.table_s.expand(batch, *ctx.table_s.shape)] if need_b else []
            if need_b:
                ctx.table_b = torch.cat(parts, 1)
        for (name, b), gs in e._genk.items():
            src, off = (bsrc, boff) if b else (shared, soff)
            assert src is not None
            ang = self._angles(gs, src, off, f"genk{name}{b}")
            builder = GATES[name].builder
            assert builder is not None
            ctx.genk.append(builder(*ang.unbind(-1)).to(self.dtype))
        return ctx

    def chain(self, ch: _Chain, ctx: _Ctx, vector: bool = False) -> torch.Tensor:
        """Per row of a table-built chain ``ch``, the product of its gates:
        ``[(B,) rows, 2, 2]`` (only the first column ``[(B,) rows, 2, 1]`` when
        ``vector``: the gates applied to |0>). Fast chains go through :meth:`_rot_kron`."""
        assert not ch.fast
        table = ctx.table_b if ch.batched else ctx.table_s
        assert table is not None
        m = self.fused(ch.rows, table, ch.key)
        return m[..., :, 0:1] if vector else m

    def _half_angles(self, ch: _Chain, ctx: _Ctx) -> torch.Tensor:
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
        self, ch: _Chain, ctx: _Ctx, k: int, vector: bool, dev: torch.device
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

    def fused(self, rows: list[list[_Gate]], table: torch.Tensor, key: str) -> torch.Tensor:
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

    def product_state(self, ctx: _Ctx) -> tuple[torch.Tensor, torch.Tensor]:
        """The prefix's product state as two halves ``[rows, 2^h]``, ``[rows, 2^(n-h)]``."""
        e = self.eng
        h = (e.n + 1) // 2
        ch = e.chains["prefix"]
        if ch.fast:
            v = self._rot_kron(ch, ctx, h, True, ctx.shared.device)
            return v[: 2**h].mT, v[2**h :].mT
        vec = self.chain(ch, ctx, vector=True)  # [.., n, 2, 1]
        a = _kron_tree(vec[..., :h, :, :])[..., 0]
        b = _kron_tree(vec[..., h:, :, :])[..., 0] if h < e.n else vec.new_ones(*vec.shape[:-3], 1)
        if a.dim() == 1:
            a, b = a[None], b[None]
        return a, b

    def block_matrices(self, ctx: _Ctx, dev: torch.device) -> list[torch.Tensor]:
        """One tensor per group: ``[G, d, d]`` (shared) or ``[B, G, d, d]`` (batched)."""
        e = self.eng
        krons: dict[object, torch.Tensor] = {}
        for key, rows in e._kron.items():
            k = key[1]
            ch = e.chains[key]
            if ch.fast:
                kr = self._rot_kron(ch, ctx, k, False, dev)
                kr = kr.view(len(rows) // k, 2**k, 2**k, kr.shape[-1])
                krons[key] = kr.permute(3, 0, 1, 2) if ch.batched else kr[..., 0]
                continue
            m = self.chain(ch, ctx)
            m = m.reshape(*m.shape[:-3], len(rows) // k, k, 2, 2)
            krons[key] = _kron_tree(m)
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
                        ai_np, mask_np = _embed_index(fac.local, k)
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


@dataclass
class _Ctx:
    """Per-call inputs of the matrix builders."""

    shared: torch.Tensor
    bsrc: torch.Tensor | None
    soff: dict[str, int]
    boff: dict[str, int]
    table_s: torch.Tensor | None = None
    table_b: torch.Tensor | None = None
    genk: list[torch.Tensor] = field(default_factory=list)


class _Workspace:
    """Reusable state-sized buffers (two ``[2, rows, dim]`` ping-pong pairs)."""

    def __init__(self, rows: int, dim: int, dtype: torch.dtype, device: torch.device) -> None:
        self.shape = (rows, dim)
        self.buf = [torch.empty(2, rows, dim, dtype=dtype, device=device) for _ in range(2)]
        self.gen = 0


def _realify(m: torch.Tensor, *, transpose: bool = False, conj: bool = False) -> torch.Tensor:
    """Real ``[..., 2d, 2d]`` matrix ``R`` with ``view_as_real(x) @ R == view_as_real(x @ A)``
    for interleaved (re, im) storage, where ``A`` is ``m``, ``m^T``, ``conj(m)`` or
    ``m^H`` as asked: real GEMM runs at memory speed where complex GEMM does not.

    ``R[2j + a, 2i + b]`` is ``Re A[j, i]`` on the diagonal pairs and ``+-Im A[j, i]``
    off them, so ``R`` is one gather from ``(re, im, -re, -im)`` of ``m``'s entries; the
    transpose and the conjugate only change the gather's index (no copies of ``m``)."""
    d = m.shape[-1]
    key = (d, transpose, conj, m.device)
    idx = _REAL_IDX.get(key)
    if idx is None:
        j = torch.arange(2 * d) // 2
        a = torch.arange(2 * d) % 2
        entry = (j[None, :] * d + j[:, None]) if transpose else (j[:, None] * d + j[None, :])
        # (a, b) = (0, 0), (1, 1): Re; (0, 1): Im; (1, 0): -Im; conj flips the sign of Im
        ab = a[:, None] * 2 + a[None, :]
        im_pos, im_neg = (3, 1) if conj else (1, 3)
        comp = torch.tensor([0, im_pos, im_neg, 0])[ab]
        idx = _REAL_IDX[key] = (entry * 4 + comp).to(m.device)
    mr = torch.view_as_real(m.resolve_conj())  # [..., d, d, 2]
    src = torch.cat([mr, -mr], -1).flatten(-3)  # [..., d * d * 4]: re, im, -re, -im
    return src[..., idx]


_REAL_IDX: dict[tuple[int, bool, bool, torch.device], torch.Tensor] = {}


class _Realified:
    """The realified block matrices of one call, built once per group on first use
    (per block, the small ops of :func:`_realify` cost more than the block's GEMM at
    n <= 8). Forward right-multiplies by ``U^T``, the adjoint pass by ``conj(U)``."""

    def __init__(self, mats: tuple[torch.Tensor, ...] | list[torch.Tensor], adjoint: bool) -> None:
        self.mats = mats
        self.adjoint = adjoint
        self.cache: dict[int, torch.Tensor] = {}

    def get(self, group: int, block: int) -> torch.Tensor:
        r = self.cache.get(group)
        if r is None:
            m = self.mats[group]
            r = self.cache[group] = (
                _realify(m, conj=True) if self.adjoint else _realify(m, transpose=True)
            )
        return r[..., block, :, :]


def _right_mul(src: torch.Tensor, r: torch.Tensor, dst: torch.Tensor, rows: int, d: int) -> None:
    """``dst = src @ m`` over the last axis in blocks of ``d``, given ``r = _realify(m)``
    (``[2d, 2d]`` shared or ``[rows, 2d, 2d]`` per row)."""
    xs = torch.view_as_real(src)
    xd = torch.view_as_real(dst)
    if r.dim() == 2:
        torch.mm(xs.reshape(-1, 2 * d), r, out=xd.view(-1, 2 * d))
    else:
        torch.bmm(xs.reshape(rows, -1, 2 * d), r, out=xd.view(rows, -1, 2 * d))


def _left_mul(
    src: torch.Tensor, m: torch.Tensor, dst: torch.Tensor, rows: int, d: int, lo: int
) -> None:
    """``dst = m @ src`` on the ``d``-sized axis of ``src`` viewed ``[rows, L, d, 2^lo]``."""
    right = 2**lo
    if m.dim() == 2:
        x = src.reshape(-1, d, right)
        torch.bmm(m.resolve_conj().expand(x.shape[0], d, d), x, out=dst.view(-1, d, right))
    else:
        x = src.reshape(rows, -1, d, right)
        dst.view(rows, -1, d, right).copy_(torch.matmul(m[:, None], x))


def _apply(
    step: _Step,
    u: torch.Tensor | None,
    real: _Realified,
    src: torch.Tensor,
    dst: torch.Tensor,
    index: tuple[torch.Tensor, torch.Tensor] | None,
) -> None:
    """Forward of one step on ``src [rows, D]`` into ``dst`` (same shape)."""
    rows, dim = src.shape
    if step.kind == "gather":
        assert index is not None
        torch.gather(src, 1, index[0].expand(rows, dim), out=dst)
        return
    assert u is not None
    if step.lo == 0:
        _right_mul(src, real.get(step.group, step.block), dst, rows, step.dim)
    else:
        _left_mul(src, u, dst, rows, step.dim, step.lo)


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
        final = _forward(run, ws, dev_idx, rows, a, b, psi0, mats)
        ctx.run, ctx.dev_idx, ctx.rows, ctx.ws, ctx.gen = run, dev_idx, rows, ws, ws.gen
        ctx.final = final
        ctx.signs = signs
        ctx.a_rows = None if a is None else (a.shape[0], b.shape[0])  # type: ignore[union-attr]
        ctx.psi0_rows = None if psi0 is None else psi0.shape[0]
        ctx.save_for_backward(
            *(t if t is not None else torch.empty(0) for t in (a, b, psi0)), *mats
        )
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
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        run: Runtime = ctx.run
        saved = ctx.saved_tensors
        a, b, psi0 = saved[:3]
        mats = saved[3:]
        a = a if ctx.a_rows is not None else None
        b = b if ctx.a_rows is not None else None
        psi0 = psi0 if ctx.psi0_rows is not None else None
        ws: _Workspace = ctx.ws
        final = ctx.final
        if ws.gen != ctx.gen:
            ws = run.workspace(ws.buf[0].device, ctx.rows, ws.shape[1])
            ws.gen += 1
            final = _forward(run, ws, ctx.dev_idx, ctx.rows, a, b, psi0, mats)
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
        real = _Realified(mats, adjoint=True)
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
                g_u = _adjoint_block(
                    step, u, real, z, other, rows, d, gmats[step.group] is not None
                )
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


def _forward(
    run: Runtime,
    ws: _Workspace,
    dev_idx: list[tuple[torch.Tensor, torch.Tensor] | None],
    rows: int,
    a: torch.Tensor | None,
    b: torch.Tensor | None,
    psi0: torch.Tensor | None,
    mats: tuple[torch.Tensor, ...] | list[torch.Tensor],
) -> int:
    """Run all steps; the final state is ``ws.buf[return value][0]``."""
    cur = 0
    dst = ws.buf[0][0]
    if psi0 is not None:
        dst.copy_(psi0.expand(rows, -1))
    else:
        assert a is not None and b is not None
        torch.mul(
            a.expand(rows, -1)[:, :, None],
            b.expand(rows, -1)[:, None, :],
            out=dst.view(rows, a.shape[1], -1),
        )
    real = _Realified(mats, adjoint=False)
    for i, step in enumerate(run.eng.steps):
        u = mats[step.group][..., step.block, :, :] if step.kind != "gather" else None
        _apply(step, u, real, ws.buf[cur][0], ws.buf[1 - cur][0], dev_idx[i])
        cur = 1 - cur
    return cur


def _adjoint_block(
    step: _Step,
    u: torch.Tensor,
    real: _Realified,
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
            _right_mul(z, real.get(step.group, step.block), out, 2 * rows, d)
            if not need_grad:
                return None
            xr = torch.view_as_real(out[0]).reshape(-1, 2 * d)
            gr = torch.view_as_real(z[1]).reshape(-1, 2 * d)
            p = (gr.mT @ xr).view(d, 2, d, 2)  # p[i, a, j, b] = sum gy_a[i] x_b[j]
        else:
            for h in range(2):
                _right_mul(z[h], real.get(step.group, step.block), out[h], rows, d)
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
        _left_mul(z, uh, out, 2 * rows, d, step.lo)
        if not need_grad:
            return None
        gy = z[1].reshape(-1, d, right)
        x = out[0].reshape(-1, d, right)
        return torch.matmul(gy, x.mH).sum(0)
    for h in range(2):
        _left_mul(z[h], uh, out[h], rows, d, step.lo)
    if not need_grad:
        return None
    gy = z[1].reshape(rows, -1, d, right)
    x = out[0].reshape(rows, -1, d, right)
    return torch.matmul(gy, x.mH).sum(1)


def _runtime_execute(
    run: Runtime,
    x: torch.Tensor | None,
    w: torch.Tensor,
    psi0: torch.Tensor | None,
    batch: int,
    dev: torch.device,
    signs: np.ndarray | None,
) -> torch.Tensor:
    """Build the matrices and run :class:`Evolve`; rows are 1 when nothing is per-sample."""
    e = run.eng
    ctx = run.context(x, w, batch, dev)
    mats = run.block_matrices(ctx, dev)
    a = b = None
    if psi0 is None:
        a, b = run.product_state(ctx)
        rows0 = max(a.shape[0], b.shape[0])
    else:
        rows0 = psi0.shape[0]
    rows = batch if rows0 == batch or any(g.batched for g in e.groups) else 1
    idx = run.gather_indices(dev)
    s = None
    if signs is not None:
        # the engine caches its tables, so the same array comes back on every call;
        # the cache keeps the array itself, so its id cannot be reused while cached
        hit = run._signs.get((id(signs), dev))
        if hit is None or hit[0] is not signs:
            if len(run._signs) >= 64:
                run._signs.clear()
            t = torch.as_tensor(signs, dtype=run.real, device=dev)
            # forward: |psi|^2 over interleaved (re, im) pairs; backward: 2 signs^T
            hit = run._signs[(id(signs), dev)] = (
                signs,
                (t.repeat_interleave(2, 0), (2 * t.mT).contiguous()),
            )
        s = hit[1]
    return Evolve.apply(run, idx, s, rows, a, b, psi0, *mats)  # type: ignore[no-any-return]
