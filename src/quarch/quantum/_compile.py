"""Plan compilation: a circuit into steps, blocks, chains and angle tables (compile time).

Why compile: at the sizes a NAS trains most (n <= 10, batch 256) the state sits in
cache and the cost is the number of torch operations per forward+backward; at n >= 14
the cost is the number of passes over the state. So compile time does the bookkeeping
once per plan and the run time (:mod:`~quarch.quantum._matrices`) only gathers angles
and multiplies:

* the leading one-qubit gates of each wire become a product-state prefix;
* the rest is scheduled into blocks and deferred permutations
  (:mod:`~quarch.quantum._layout`) and each block is fused into factors
  (:mod:`~quarch.quantum._fuse`);
* blocks of the same shape are grouped so one batched op builds all their matrices;
  their one-qubit layers are laid out as :class:`~quarch.quantum._plan.Chain` rows
  (chains made only of RX/RY/RZ take the hand-differentiated
  :mod:`~quarch.quantum._rotchain` path; the others read one table of 2x2 matrices);
* every angle gets its source: a weight, an input, a product of inputs or a constant,
  in the shared (one per call) or batched (one per sample) source vector.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from quarch.quantum._fuse import block_factors, merge_constants, split_rot
from quarch.quantum._layout import bits_apply, place, schedule
from quarch.quantum._plan import ROT_Q, BlockSpec, Chain, Factor, Gate, Group, Step
from quarch.quantum.circuit import Circuit, Param
from quarch.quantum.gates import GATES


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
        self.sign_cache: dict[tuple[Any, ...], np.ndarray | None] = {}  # see _measure
        self.consts: list[float] = []
        self.products: list[tuple[int, ...]] = []
        self.batched_parts: set[str] = set()
        gates = [
            self._gate(op) for op in split_rot(circuit.ops) if op.name != "amplitude_embedding"
        ]
        self.amplitude = next(
            (op.meta for op in circuit.ops if op.name == "amplitude_embedding"), None
        )
        # ---- product-state prefix
        self.prefix: list[list[Gate]] | None = None
        if with_prefix and self.amplitude is None:
            self.prefix = [[] for _ in range(n)]
            touched: set[int] = set()
            rest: list[Gate] = []
            for g in gates:
                if len(g.wires) == 1 and g.wires[0] not in touched:
                    self.prefix[g.wires[0]].append(g)
                else:
                    touched.update(g.wires)
                    rest.append(g)
            gates = rest
        # ---- schedule: blocks and deferred permutations
        items = schedule(gates, self.k)
        self.steps: list[Step] = []
        self.blocks: list[BlockSpec] = []
        sigma = np.arange(2**n, dtype=np.int64)  # stored index -> true basis index
        for pos, item in enumerate(items):
            if isinstance(item, Gate):
                images = np.argmax(np.abs(item.const), axis=0)  # type: ignore[arg-type]
                sigma = bits_apply(sigma, n, item.wires, images)
                continue
            # the wires of every later block, in order: a gather puts the first one that
            # shares no wire with this block first. Blocks behind a deferred gate count
            # too (skipping them made more gathers: a deferred SWAP can bring them into
            # place; tests/quantum/test_compile_truth.py)
            upcoming = [
                {w for g in nxt for w in g.wires}
                for nxt in items[pos + 1 :]
                if not isinstance(nxt, Gate)
            ]
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
                self.batched_parts.add("w")
            return ("w", p.index[0])
        if len(p.index) == 1:
            self.batched_parts.add("x")
            return ("x", p.index[0])
        self.batched_parts.add("p")
        self.products.append(p.index)
        return ("p", len(self.products) - 1)

    def _gate(self, op: Any) -> Gate:
        spec = GATES[op.name]
        if spec.n_params == 0:
            assert spec.constant is not None
            return Gate(op.name, op.wires, (), spec.constant, spec.permutation, False)
        if not any(isinstance(p, Param) for p in op.params):
            assert spec.builder is not None
            t = torch.tensor([float(p) for p in op.params], dtype=torch.float64)
            m = spec.builder(*t.unbind(-1)).to(torch.complex128).numpy()
            return Gate(op.name, op.wires, op.params, m, False, False)
        batched = any(
            isinstance(p, Param) and (p.kind == "input" or self.weights_batched) for p in op.params
        )
        return Gate(op.name, op.wires, op.params, None, False, batched)

    def _place(self, gates: list[Gate], sigma: np.ndarray, upcoming: list[set[int]]) -> np.ndarray:
        """Add one block's step, with a gather first when ``sigma`` scatters its wires
        (see :func:`~quarch.quantum._layout.place`); returns the layout after it."""
        wires = tuple(sorted({w for g in gates for w in g.wires}))
        k = len(wires)
        sigma, gather, lo, order, conj = place(sigma, self.n, wires, upcoming)
        if gather is not None:
            self.steps.append(Step("gather", index=gather))
        factors = block_factors(gates, order)
        if conj is not None:
            # U_stored[a, a'] = U[f(a), f(a')]: a constant permutation on each side.
            p = np.zeros((2**k, 2**k), dtype=np.complex128)
            p[conj, np.arange(2**k)] = 1
            factors = merge_constants(
                [Factor("C", const=p), *factors, Factor("C", const=p.T.copy())]
            )
        spec = BlockSpec(order, factors, any(g.batched for g in gates))
        self.blocks.append(spec)
        self.steps.append(Step("block", dim=2**k, block=len(self.blocks) - 1, lo=lo))
        return sigma

    def _assign_tables(self) -> None:
        """Rows of the one-qubit tables and slots of multi-qubit parametrised groups."""
        one_q = [g for ch in self.chains.values() if not ch.fast for row in ch.rows for g in row]
        # constant rows: identity first, then each distinct constant matrix
        const_rows: list[np.ndarray] = [np.eye(2, dtype=np.complex128)]
        rot_s: list[Gate] = []
        rot_b: list[Gate] = []
        gen: dict[tuple[str, bool], list[Gate]] = {}
        for g in one_q:
            if g.const is not None:
                g.row = -2 - len(const_rows)  # resolved below
                const_rows.append(g.const)
            elif g.name in ROT_Q:
                (rot_b if g.batched else rot_s).append(g)
            else:
                gen.setdefault((g.name, g.batched), []).append(g)
        self.rot = {False: rot_s, True: rot_b}
        self.gen1 = gen
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
        self.const_rows = np.stack(const_rows)
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
        self.genk: dict[tuple[str, bool], list[Gate]] = {}
        for b in self.blocks:
            for f in b.factors:
                if f.kind == "P":
                    assert f.gate is not None
                    lst = self.genk.setdefault((f.gate.name, f.gate.batched), [])
                    f.gate.slot = (list(self.genk).index((f.gate.name, f.gate.batched)), len(lst))
                    lst.append(f.gate)
        # resolve angle sources
        self.angle_refs: dict[int, list[tuple[str, int, float]]] = {}
        for g in [*one_q, *(g for lst in self.genk.values() for g in lst)]:
            if g.const is None:
                self.angle_refs[id(g)] = [self._ref(p, g.batched) for p in g.params]

    def _ref(self, p: float | Param, batched: bool) -> tuple[str, int, float]:
        if not isinstance(p, Param):
            self.consts.append(float(p))
            if batched:
                self.batched_parts.add("c")
            return ("c", len(self.consts) - 1, 1.0)
        part, i = self._col(p, batched)
        return (part, i, p.scale)

    def _make_chains(self) -> None:
        """Rows of consecutive one-qubit gates whose products the run time builds.

        A chain made only of RX/RY/RZ is built straight from its angles as
        ``cos(t/2) I + sin(t/2) Q`` laid out ``[depth, rows]`` (a missing gate is an
        angle 0, the identity), so no table gather is needed."""
        self.chains: dict[object, Chain] = {}
        todo: list[tuple[object, list[list[Gate]]]] = []
        if self.prefix is not None:
            todo.append(("prefix", self.prefix))
        todo.extend(self.kron.items())
        for key, rows in todo:
            gates = [g for row in rows for g in row]
            batched = any(g.batched for g in gates)
            fast = bool(gates) and all(
                g.name in ROT_Q and not any(isinstance(p, Param) for p in g.params[1:])
                for g in gates
            )
            ch = Chain(str(key), rows, batched, fast)
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
                            q[p_, r] = ROT_Q[row[p_].name]
                        else:
                            line.append((zero[0], zero[1], 0.0))
                    ch.refs.append(line)
                ch.q = q
            self.chains[key] = ch

    def _group_blocks(self) -> None:
        groups: dict[tuple[int, bool, tuple[str, ...]], Group] = {}
        for b in self.blocks:
            kinds = tuple(f.kind for f in b.factors)
            key = (2 ** len(b.wires), b.batched, kinds)
            grp = groups.setdefault(key, Group(key[0], key[1], kinds))
            b.group, b.index = list(groups).index(key), len(grp.blocks)
            grp.blocks.append(b)
        self.groups = list(groups.values())
        for st in self.steps:
            if st.kind == "block":
                b = self.blocks[st.block]
                st.group, st.block = b.group, b.index
        # Kronecker layers, per (batched, k), contiguous per (group, position)
        self.kron: dict[tuple[bool, int], list[list[Gate]]] = {}
        for grp in self.groups:
            for pos, kind in enumerate(grp.kinds):
                if kind != "K":
                    continue
                k = grp.dim.bit_length() - 1
                layers = [b.factors[pos].rows or [] for b in grp.blocks]
                lb = any(g.batched for rows in layers for row in rows for g in row)
                lst = self.kron.setdefault((lb, k), [])
                start = len(lst) // k
                for rows in layers:
                    lst.extend(rows)
                grp.kron_slices[pos] = (lb, start, len(lst) // k)

    # ------------------------------------------------------------------ info
    @property
    def n_passes(self) -> tuple[int, int]:
        """(matmul passes, gather passes) over the state per forward."""
        return count_passes(self.steps)


def count_passes(steps: list[Step]) -> tuple[int, int]:
    """(matmul passes, gather passes) of ``steps`` (a plain function, not in the
    property: mutmut 3 mutates no decorated function)."""
    g = sum(1 for s in steps if s.kind == "gather")
    return len(steps) - g, g
