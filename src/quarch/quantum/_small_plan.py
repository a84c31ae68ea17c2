"""The small-circuit program: a circuit as a few whole-register instructions (compile time).

Why a second engine: below about ten qubits a forward+backward of the block engine
(:mod:`~quarch.quantum._compile`) costs its fixed per-call overhead (about a hundred
small torch operations and several autograd nodes), not its arithmetic. This program
is what :class:`~quarch.quantum._small_run.SmallCircuit` runs as *one* autograd node
with a hand-written backward, in a number of torch calls that grows with the number
of entangling layers, not with the number of gates:

* every parametrised gate is ``M(a) = A + cos(a) B + sin(a) C`` with constant ``A, B,
  C`` (``Rot`` and ``U3`` are split into single-angle gates first; constant gates next
  to a parametrised one are multiplied into its terms), so one formula builds every
  one-qubit matrix of a call at once;
* one-qubit gates collect, per wire, into **rows** (a row is the product of its slots,
  laid out ``[depth, rows]``). Rows are *pure*: per-sample (inputs) or shared
  (weights), so shared rows are built once per call, not once per sample;
* each wire's leading one-qubit gates make the **product state**: per wire, its rows
  applied to ``|0>`` (a 2-vector chain, shared matrices broadcast over per-sample
  vectors), then one Kronecker product of the ``n`` vectors (a gather and a product);
* later one-qubit gates wait in their rows until a multi-qubit gate touches their
  wire; the rows of all wires then form a **Kronecker layer** (``kron``), applied as
  one ``2^n x 2^n`` matrix, or on the register's two halves (two small matmuls) when
  the register is wider than ``whole_register`` (:func:`kron_parts`);
* multi-qubit gates are permutations (``perm``: CNOT, SWAP, Toffoli, Fredkin; one
  gather), diagonal (``diag``: CZ, CRZ, CPhase, RZZ, IQP's ``RZZ(x_i x_j)``; one phase
  vector linear in the angles, ``exp(i (theta0 + a @ coef))``) or general (``dense``:
  CRX, CRY, RXX, RYY, CY, CH; one embedded ``2^n x 2^n`` matrix); runs of permutations
  and of diagonals merge, and constant ones next to a shared whole-register layer
  fold into that layer's matrix (``K' = diag(p) K[rows][:, cols] diag(q)``): a CNOT or
  CZ ring then costs no pass over the state. The run time folds more (see
  :mod:`._small_run`);
* a run of shared instructions is a **segment**: at large batches the run time folds
  it into one ``2^n x 2^n`` matrix applied to the batch with one matmul.

Angles come from the shared weights or from the per-sample source (inputs, input
products, per-sample weights) through constant scale matrices: one matmul per source
forward, its transpose backward.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from quarch.quantum.circuit import Circuit, Param
from quarch.quantum.gates import GATES

__all__ = ["Instr", "SmallProgram", "gate_terms", "kron_parts"]

Gate = tuple[str, tuple[int, ...], "float | Param | None"]
Source = tuple[tuple[str, int], float]


# ----------------------------------------------------------------------------- gates
@lru_cache(maxsize=64)
def gate_terms(name: str) -> tuple[float, np.ndarray]:
    """``(s, [A, B, C])`` with ``M(t) = A + cos(s t) B + sin(s t) C`` for a one-angle gate
    (cached: :func:`_gate_terms` builds it)."""
    return _gate_terms(name)


def _gate_terms(name: str) -> tuple[float, np.ndarray]:
    """``(s, [A, B, C])`` with ``M(t) = A + cos(s t) B + sin(s t) C`` for a one-angle gate.

    Derived from the gate table's own builder (the table stays the one definition) and
    checked at three more angles; every one-angle gate of the table has this form with
    ``s = 1/2`` (rotations) or ``s = 1`` (phase gates). Uncached, apart from
    :func:`gate_terms`, so that mutation testing reaches its body (mutmut gives a
    decorated function no mutants, and a cache filled by the original code would hide
    them)."""
    import torch

    builder = GATES[name].builder
    assert builder is not None

    def m(t: float) -> np.ndarray:
        return builder(torch.tensor(t, dtype=torch.float64)).to(torch.complex128).numpy()

    for s in (0.5, 1.0):
        a = (m(0.0) + m(math.pi / s)) / 2
        b = (m(0.0) - m(math.pi / s)) / 2
        c = m(math.pi / (2 * s)) - a
        if all(
            np.allclose(m(t), a + math.cos(s * t) * b + math.sin(s * t) * c, atol=1e-12)
            for t in (0.3, 1.7, -2.9)
        ):
            return s, np.stack([a, b, c])
    raise AssertionError(f"gate {name!r} is not A + cos B + sin C")  # pragma: no cover


@lru_cache(maxsize=64)
def _diag_coef(name: str) -> np.ndarray | None:
    """``c`` with ``M(t) = diag(exp(i c t))``, or None (cached: :func:`_diag_coef_of`)."""
    return _diag_coef_of(name)


def _diag_coef_of(name: str) -> np.ndarray | None:
    """``c`` with ``M(t) = diag(exp(i c t))``, or None if the gate is not of that form
    (uncached, as :func:`_gate_terms`)."""
    _, terms = gate_terms(name)
    if any(np.abs(t - np.diag(np.diag(t))).any() for t in terms):
        return None
    import torch

    builder = GATES[name].builder
    assert builder is not None

    def m(t: float) -> np.ndarray:
        return builder(torch.tensor(t, dtype=torch.float64)).to(torch.complex128).numpy()

    coef = np.angle(np.diag(m(1.0)))
    if all(np.allclose(np.diag(m(t)), np.exp(1j * coef * t), atol=1e-12) for t in (0.4, -2.2, 3)):
        return coef
    return None  # pragma: no cover


def _split(ops: object) -> list[Gate]:
    """Ops as single-angle gates: ``Rot(a, b, c)`` is RZ(a) RY(b) RZ(c) and ``U3(t, p,
    l)`` is Phase(l) RY(t) Phase(p), both exactly (PennyLane's and OpenQASM's
    definitions, global phase included)."""
    out: list[Gate] = []
    for op in ops:  # type: ignore[attr-defined]
        if op.name == "rot":
            phi, theta, omega = op.params
            out += [("rz", op.wires, phi), ("ry", op.wires, theta), ("rz", op.wires, omega)]
        elif op.name == "u3":
            theta, phi, lam = op.params
            out += [("phase", op.wires, lam), ("ry", op.wires, theta), ("phase", op.wires, phi)]
        else:
            out.append((op.name, op.wires, op.params[0] if op.params else None))
    return out


def _const_matrix(name: str, angle: float | None) -> np.ndarray:
    if angle is None:
        m = GATES[name].constant
        assert m is not None
        return m
    s, (a, b, c) = gate_terms(name)
    return a + math.cos(s * angle) * b + math.sin(s * angle) * c  # type: ignore[no-any-return]


def _local_index(wires: tuple[int, ...], n: int) -> np.ndarray:
    """For each basis index of ``n`` wires, the index of its bits on ``wires``."""
    idx = np.arange(2**n)
    local = np.zeros(2**n, dtype=np.int64)
    for j, w in enumerate(wires):
        local |= ((idx >> (n - 1 - w)) & 1) << (len(wires) - 1 - j)
    return local


def _embed(m: np.ndarray, wires: tuple[int, ...], n: int) -> np.ndarray:
    """A gate matrix on ``wires`` as a ``2^n x 2^n`` matrix."""
    local = _local_index(wires, n)
    mask = sum(1 << (n - 1 - w) for w in wires)
    rest = np.arange(2**n) & ~mask
    return m[local[:, None], local[None, :]] * (rest[:, None] == rest[None, :])  # type: ignore[no-any-return]


def kron_parts(n: int, whole: bool) -> list[tuple[int, int]]:
    """Wire ranges ``[a, b)`` a Kronecker layer is built and applied on, in order: the
    whole register, or its two halves, the last first (two small matmuls instead of
    one ``2^n`` matrix, whose build and product grow as ``4^n``)."""
    if whole or n < 2:
        return [(0, n)]
    h = (n + 1) // 2
    return [(h, n), (0, h)]


# ----------------------------------------------------------------------------- records
@dataclass
class Instr:
    """One whole-register instruction after the product state.

    ``op``: ``"kron"`` (Kronecker layer number ``layer`` of its kind), ``"perm"`` (``new
    = old[:, index]``), ``"diag"`` (phases ``theta0 + angles @ coef``, ``coef
    [len(angles), d]``) or ``"dense"`` (``const``, or ``A + cos(a) B + sin(a) C`` with
    ``coef [3, d, d]`` of its one angle). ``segment`` numbers the runs of shared
    instructions (-1 for per-sample ones). A shared whole-register ``kron`` may carry
    folded constants: ``K' = diag(post_phase) K[post_index][:, pre_index] diag(pre_phase)``."""

    op: str
    kind: str = "s"  # "s": one for the whole batch; "b": per sample
    layer: int = -1
    index: np.ndarray | None = None
    angles: list[int] = field(default_factory=list)  # positions in the kind's angles
    coef: np.ndarray | None = None
    theta0: np.ndarray | None = None
    const: np.ndarray | None = None
    segment: int = -1
    post_index: np.ndarray | None = None
    post_phase: np.ndarray | None = None
    pre_index: np.ndarray | None = None
    pre_phase: np.ndarray | None = None
    gates: list[list[Gate]] = field(default_factory=list)  # while compiling

    @property
    def is_constant(self) -> bool:
        """A permutation, or a diagonal without angles."""
        return self.op == "perm" or (self.op == "diag" and not self.gates and not self.angles)


class SmallProgram:
    """A circuit compiled into whole-register instructions (see the module docstring).

    What the run time reads:

    * ``scale[k]`` (``k`` = ``"s"``: ``[n_weights, A]``; ``"b"``: ``[n_inputs + products
      + per-sample weights, A]``): angles of kind ``k`` are ``source @ scale[k]``, row
      slots first (``[depth, rows]`` row-major), then ``diag`` and ``dense`` angles;
    * ``slot_terms[k]`` ``[depth, rows, 3, 2, 2]``: the rows of kind ``k``
      (identity-padded; a slot without angle has ``B = C = 0``); ``slot_generators[k]``
      ``[depth, rows, 2, 2]``: each slot's ``X`` with ``dM/da = X M`` (a slot is ``C1
      exp(a X) C0``: every parametrised gate is a one-parameter group); ``slot_angles[k]``:
      whether any slot has an angle;
    * ``prefix`` (the product state: pure layers ``(kind, one row per wire)`` applied
      to ``|0>``, first applied first; None without product state);
      ``layers[k]``: the rows of each Kronecker layer of kind ``k``, one per wire;
      ``parts[k]``: the wire ranges layers of kind ``k`` are applied on;
    * ``instrs``, ``segments`` (number of shared runs), ``batched`` (anything per sample).

    Args:
        circuit (Circuit): gates only (an amplitude embedding becomes the start state).
        with_prefix (bool): build the leading one-qubit gates as a product state
            (False when the call brings its own start state).
        weights_batched (bool): weights come as ``[batch, n_weights]``.
        one_row (bool): compile for calls of one row, where a per-sample angle is as
            shared as a weight: every angle is then of kind ``"s"``, read from the
            source ``[weights | inputs | input products]`` (products by arity, as for
            ``"b"``). Why: the two kinds cost two sets of rows, Kronecker layers and
            traces per call, and at one row that split buys nothing; merged, the
            embedding and the first trainable layer make one product state (at n = 8,
            L = 2 a batch-1 forward+backward ran about a fifth faster).
        whole_register (int): widest register a shared Kronecker layer is applied on
            as one matrix (per-sample layers always take two halves from 3 wires on).
    """

    def __init__(
        self,
        circuit: Circuit,
        *,
        with_prefix: bool,
        weights_batched: bool,
        whole_register: int,
        one_row: bool = False,
    ) -> None:
        self.n = n = circuit.n_qubits
        self.d = 2**n
        self.n_inputs = circuit.n_inputs
        self.n_weights = circuit.n_weights
        self.weights_batched = weights_batched
        self.one_row = one_row
        self.parts = {"s": kron_parts(n, n <= whole_register), "b": kron_parts(n, n <= 2)}
        self.products: list[tuple[int, ...]] = []
        self._angles: dict[str, list[Source]] = {"s": [], "b": []}
        self._rows: dict[str, list[list[tuple[np.ndarray, Source | None]]]] = {"s": [], "b": []}
        gates = _split(op for op in circuit.ops if op.name != "amplitude_embedding")
        # --- each wire's leading one-qubit gates (the product state)
        prefix: list[list[Gate]] | None = None
        rest = gates
        if with_prefix:
            prefix = [[] for _ in range(n)]
            touched: set[int] = set()
            rest = []
            for g in gates:
                if len(g[1]) == 1 and g[1][0] not in touched:
                    prefix[g[1][0]].append(g)
                else:
                    touched.update(g[1])
                    rest.append(g)
        # --- instructions: one-qubit gates wait in per-wire rows until a multi-qubit
        # gate touches their wire (gates on other wires commute with it)
        instrs: list[Instr] = []
        if prefix is not None and self.parts["s"] == [(0, n)]:
            # a whole-register layer costs one matmul and takes its neighbours'
            # permutations for free: only the first pure layer becomes the product
            # state (two halves would cost two matmuls and a gather per layer, so there
            # every leading layer joins the product state as a per-wire 2-vector chain)
            first, *later = self._layers(prefix) or [Instr("kron", gates=[[]] * n)]
            prefix = first.gates
            instrs += later
        pending: dict[int, list[Gate]] = {}
        for g in rest:
            if len(g[1]) == 1:
                pending.setdefault(g[1][0], []).append(g)
                continue
            if any(w in pending for w in g[1]):
                instrs += self._layers([pending.get(w, []) for w in range(n)])
                pending = {}
            instrs.append(self._multi(g))
        if pending:
            instrs += self._layers([pending.get(w, []) for w in range(n)])
        self.instrs = _merge(instrs)
        if self.parts["s"] == [(0, n)]:
            self.instrs = _fold_constants(self.instrs, self.d)
        # --- rows, registered once the instructions are final
        self.prefix: list[tuple[str, list[int]]] | None = None
        if prefix is not None:
            # the product state: pure layers of the leading gates, each a row per wire
            # (identity where a wire has none), applied to |0> one after the other
            self.prefix = [
                (layer.kind, [self._row(r, layer.kind) for r in layer.gates])
                for layer in self._layers(prefix)
            ] or [("s", [self._row([], "s") for _ in range(n)])]
        self.layers: dict[str, list[list[int]]] = {"s": [], "b": []}
        for ins in self.instrs:
            if ins.op == "kron":
                ins.layer = len(self.layers[ins.kind])
                self.layers[ins.kind].append([self._row(r, ins.kind) for r in ins.gates])
                ins.gates = []
        self._lay_out()

    # ------------------------------------------------------------------ compile helpers
    def _is_batched(self, p: object) -> bool:
        if self.one_row:
            return False
        return isinstance(p, Param) and (p.kind == "input" or self.weights_batched)

    def _layers(self, rows: list[list[Gate]]) -> list[Instr]:
        """Per-wire rows as pure Kronecker layers: each layer takes, on every wire, the
        leading run of gates of its kind (constant gates join any run), per-sample
        first; one-qubit gates on different wires commute, so the order is exact."""
        rows = [list(r) for r in rows]
        out: list[Instr] = []
        while any(rows):
            nxt = [next((self._is_batched(g[2]) for g in r if isinstance(g[2], Param)), None)
                   for r in rows]  # fmt: skip
            kind = "b" if True in nxt else "s"
            want = kind == "b"
            layer: list[list[Gate]] = []
            for r in rows:
                take = 0
                while take < len(r) and (
                    not isinstance(r[take][2], Param) or self._is_batched(r[take][2]) == want
                ):
                    take += 1
                layer.append(r[:take])
                del r[:take]
            out.append(Instr("kron", kind=kind, gates=layer))
        return out

    def _source(self, p: Param, factor: float) -> Source:
        """Where ``factor * p`` comes from: ``("w", i)``, ``("x", j)`` or ``("p", q)``."""
        if p.kind == "weight":
            return ("w", p.index[0]), p.scale * factor
        if len(p.index) == 1:
            return ("x", p.index[0]), p.scale * factor
        if p.index not in self.products:
            self.products.append(p.index)
        return ("p", self.products.index(p.index)), p.scale * factor

    def _row(self, gates: list[Gate], kind: str) -> int:
        """Register one row (a wire's gates, first applied first) of kind ``kind``: one
        slot per parametrised gate, constant gates multiplied into a neighbour's terms."""
        slots: list[tuple[np.ndarray, Source | None]] = []
        const = np.eye(2, dtype=np.complex128)  # constant gates since the last slot
        for name, _, p in gates:
            if not isinstance(p, Param):
                const = _const_matrix(name, None if p is None else float(p)) @ const
                continue
            s, terms = gate_terms(name)
            slots.append((terms @ const, self._source(p, s)))
            const = np.eye(2, dtype=np.complex128)
        if not slots:
            slots.append((np.stack([const, 0 * const, 0 * const]), None))
        elif not np.array_equal(const, np.eye(2)):
            terms, src = slots[-1]
            slots[-1] = (const @ terms, src)
        self._rows[kind].append(slots)
        return len(self._rows[kind]) - 1

    def _multi(self, g: Gate) -> Instr:
        name, wires, p = g
        n, d = self.n, self.d
        local = _local_index(wires, n)
        if not isinstance(p, Param):
            m = _const_matrix(name, None if p is None else float(p))
            if GATES[name].permutation:
                images = np.argmax(np.abs(m), axis=0)  # local j -> images[j]
                new_local = images[local]
                target = np.arange(d)
                for j, w in enumerate(wires):
                    bit = (new_local >> (len(wires) - 1 - j)) & 1
                    target = (target & ~(1 << (n - 1 - w))) | (bit << (n - 1 - w))
                index = np.empty(d, dtype=np.int64)
                index[target] = np.arange(d)  # new[target[s]] = old[s]
                return Instr("perm", index=index)
            if not np.abs(m - np.diag(np.diag(m))).any() and np.allclose(np.abs(np.diag(m)), 1):
                return Instr("diag", theta0=np.angle(np.diag(m))[local], coef=np.zeros((0, d)))
            return Instr("dense", const=_embed(m, wires, n))
        kind = "b" if self._is_batched(p) else "s"
        coef = _diag_coef(name)
        if coef is not None:
            return Instr("diag", kind=kind, coef=coef[local][None], theta0=np.zeros(d), gates=[[g]])
        _, terms = gate_terms(name)
        coef3 = np.stack([_embed(t, wires, n) for t in terms])
        return Instr("dense", kind=kind, coef=coef3, gates=[[g]])

    def _lay_out(self) -> None:
        """Slot tables, angle order, scale matrices and shared segments."""
        self.slot_terms: dict[str, np.ndarray] = {}
        self.slot_generators: dict[str, np.ndarray] = {}
        self.slot_angles: dict[str, bool] = {}
        for k, rows in self._rows.items():
            depth = max((len(r) for r in rows), default=0)
            terms = np.zeros((depth, len(rows), 3, 2, 2), dtype=np.complex128)
            terms[:, :, 0] = np.eye(2)
            srcs: list[Source | None] = [None] * (depth * len(rows))
            for r, slots in enumerate(rows):
                for p, (t, src) in enumerate(slots):
                    terms[p, r] = t
                    srcs[p * len(rows) + r] = src
            self.slot_terms[k] = terms
            # generators: each slot is C1 exp(a X) C0, so dM/da = X M with X = C (A + B)^-1
            gen = np.zeros((depth, len(rows), 2, 2), dtype=np.complex128)
            for p, r in np.ndindex(depth, len(rows)):
                a, b, c = terms[p, r]
                x = c @ np.linalg.inv(a + b)
                assert np.allclose(x @ a, 0) and np.allclose(x @ b, c) and np.allclose(x @ c, -b)
                gen[p, r] = x
            self.slot_generators[k] = gen
            self.slot_angles[k] = any(s is not None for s in srcs)
            if self.slot_angles[k]:
                self._angles[k] = [s if s is not None else (("none", 0), 0.0) for s in srcs]
        for ins in self.instrs:
            for name, _, param in (g for r in ins.gates for g in r):
                assert isinstance(param, Param)
                factor = 1.0 if ins.op == "diag" else gate_terms(name)[0]
                self._angles[ins.kind].append(self._source(param, factor))
                ins.angles.append(len(self._angles[ins.kind]) - 1)
            ins.gates = []
        # per-sample source columns: [inputs | input products by arity | weights]
        order = sorted(range(len(self.products)), key=lambda q: len(self.products[q]))
        self.products = [self.products[q] for q in order]
        pos = {q: i for i, q in enumerate(order)}
        self.product_groups = [
            np.asarray([p for p in self.products if len(p) == a], dtype=np.int64)
            for a in sorted({len(p) for p in self.products})
        ]
        nw, ni, nq = self.n_weights, self.n_inputs, len(self.products)
        base = {
            "s": {"w": 0, "x": nw, "p": nw + ni},  # only one_row reads x and p here
            "b": {"x": 0, "p": ni, "w": ni + nq},
        }
        width = {
            "s": nw + (ni + nq) * self.one_row,
            "b": ni + nq + nw * self.weights_batched,
        }
        self.scale: dict[str, np.ndarray] = {}
        for k, lst in self._angles.items():
            sc = np.zeros((width[k], len(lst)))
            for i, ((part, j), s) in enumerate(lst):
                if part != "none":
                    sc[base[k][part] + (pos[j] if part == "p" else j), i] += s
            self.scale[k] = sc
        self.n_angles = {k: len(v) for k, v in self._angles.items()}
        self.batched = (
            bool(self._angles["b"])
            or any(i.kind == "b" for i in self.instrs)
            or (self.prefix is not None and any(k == "b" for k, _ in self.prefix))
        )
        seg = -1
        prev_shared = False
        for ins in self.instrs:
            shared = ins.kind == "s"
            if shared and not prev_shared:
                seg += 1
            ins.segment = seg if shared else -1
            prev_shared = shared
        self.segments = seg + 1


def _merge(instrs: list[Instr]) -> list[Instr]:
    """Runs of permutations compose into one; runs of diagonals of one kind (or
    constant) add their phases."""
    out: list[Instr] = []
    for ins in instrs:
        prev = out[-1] if out else None
        if prev is not None and ins.op == prev.op == "perm":
            assert prev.index is not None and ins.index is not None
            out[-1] = Instr("perm", index=prev.index[ins.index])
            continue
        if (
            prev is not None
            and ins.op == prev.op == "diag"
            and (not ins.gates or not prev.gates or ins.kind == prev.kind)
        ):
            assert prev.theta0 is not None and ins.theta0 is not None
            assert prev.coef is not None and ins.coef is not None
            out[-1] = Instr(
                "diag",
                kind=prev.kind if prev.gates else ins.kind,
                coef=np.concatenate([prev.coef, ins.coef]),
                theta0=prev.theta0 + ins.theta0,
                gates=prev.gates + ins.gates,
            )
            continue
        out.append(ins)
    return out


def _fold_constants(instrs: list[Instr], d: int) -> list[Instr]:
    """Constant permutations and phases next to a shared whole-register Kronecker layer
    go into that layer's matrix: after it into its rows (``K' = diag(p) K[index]``),
    before it into its columns (``K' = K[:, index] diag(q)``); the run time builds all
    layers' matrices in one gather, so a CNOT or CZ ring costs no pass over the state."""
    out: list[Instr] = []
    for ins in instrs:  # after a layer: rows
        prev = out[-1] if out else None
        if prev is None or prev.op != "kron" or prev.kind != "s" or not ins.is_constant:
            out.append(ins)
            continue
        index = np.arange(d) if prev.post_index is None else prev.post_index
        phase = np.ones(d, dtype=np.complex128) if prev.post_phase is None else prev.post_phase
        if ins.op == "perm":
            assert ins.index is not None
            index, phase = index[ins.index], phase[ins.index]
        else:
            assert ins.theta0 is not None
            phase = phase * np.exp(1j * ins.theta0)
        prev.post_index, prev.post_phase = index, phase
    folded: list[Instr] = []
    for ins in reversed(out):  # before a layer: columns
        nxt = folded[-1] if folded else None
        if nxt is None or nxt.op != "kron" or nxt.kind != "s" or not ins.is_constant:
            folded.append(ins)
            continue
        index = np.arange(d) if nxt.pre_index is None else nxt.pre_index
        phase = np.ones(d, dtype=np.complex128) if nxt.pre_phase is None else nxt.pre_phase
        if ins.op == "perm":  # (K' P)[:, t] = K'[:, inverse[t]]
            assert ins.index is not None
            inverse = np.argsort(ins.index)
            index, phase = index[inverse], phase[inverse]
        else:
            assert ins.theta0 is not None
            phase = phase * np.exp(1j * ins.theta0)
        nxt.pre_index, nxt.pre_phase = index, phase
    return folded[::-1]
