"""Circuit cutting: how many subcircuits a circuit needs on small devices, and at what cost.

A circuit wider than a device's ``qubit_budget`` can still run if it is cut into
subcircuits that each fit; every cut multiplies the number of shots needed for the
same accuracy by its *sampling overhead* ``gamma**2`` (9 for a CNOT/CZ gate cut, 16 for
a wire cut with local operations; Mitarai & Fujii 2021, Brenner et al. 2023).

Two ways to count them:

* :func:`find_cuts_qiskit` asks ``qiskit-addon-cutting``'s ``find_cuts`` (gate and wire
  cuts, best-first search), then partitions the cut circuit with its
  ``partition_problem``: the reference, a fraction of a second to seconds per circuit.
* :func:`estimate_cuts` is quarch's built-in estimator (pure Python, well under a
  millisecond for the circuits of the ``hqnn`` space): gate cuts only, on a partition of
  the qubits into ``ceil(n / budget)`` (or one more) groups chosen by local search to
  cut as few two-qubit gates as possible. ``benchmarks/cutting_agreement.py`` reports
  how often the two agree.

Both see the same circuit: :func:`cnot_skeleton` rewrites every two-qubit gate as the
CNOTs of its standard decomposition (CZ: 1, CRZ / RZZ: 2, SWAP: 3) and an amplitude
embedding of real amplitudes as the 2**n - 2 CNOTs of Mottonen et al.'s state
preparation (quant-ph/0407010), so a gate cut always costs ``gamma = 3``.
A circuit that fits the budget needs 1 subcircuit and has overhead 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from numbers import Integral
from typing import Any

import numpy as np

from quarch._errors import CircuitError, ConfigError
from quarch.quantum.circuit import Circuit, require_circuit

__all__ = [
    "CNOT_GAMMA",
    "WIRE_GAMMA",
    "CutEstimate",
    "cnot_skeleton",
    "estimate_cuts",
    "fewest_devices",
    "find_cuts_qiskit",
    "skeleton_to_qiskit",
]

CNOT_GAMMA = 3.0
"""Gamma of cutting one CNOT (or CZ) gate with local operations."""
WIRE_GAMMA = 4.0
"""Gamma of one wire cut with local operations (no classical communication)."""

_CNOTS = {"cnot": 1, "cz": 1, "cy": 1, "ch": 1, "crx": 2, "cry": 2, "crz": 2, "cphase": 2,
          "rxx": 2, "ryy": 2, "rzz": 2, "swap": 3}  # fmt: skip


@dataclass(frozen=True)
class CutEstimate:
    """How a circuit is cut to fit ``qubit_budget``.

    Attributes:
        subcircuits (int): number of subcircuits (1 when the circuit fits).
        overhead (float): sampling overhead, the product of every cut's ``gamma**2``.
        gate_cuts (int): two-qubit gates cut.
        wire_cuts (int): wires cut.
        partition (tuple[tuple[int, ...], ...]): qubits of each subcircuit (built-in
            estimator; empty for qiskit's answer, whose wire cuts split qubits).
        method (str): ``"builtin"`` or ``"qiskit"``.
    """

    @property
    def log10_overhead(self) -> float:
        """``log10(overhead)``: overheads of wide circuits overflow a float (inf here)."""
        if math.isinf(self.overhead):
            return self.gate_cuts * math.log10(CNOT_GAMMA**2) + self.wire_cuts * math.log10(
                WIRE_GAMMA**2
            )
        return math.log10(self.overhead)

    subcircuits: int
    overhead: float
    gate_cuts: int = 0
    wire_cuts: int = 0
    partition: tuple[tuple[int, ...], ...] = field(default=())
    method: str = "builtin"


def _gray_pairs(k: int) -> list[tuple[int, int]]:
    """CNOTs (control, target=k) of a uniformly controlled RY with controls 0..k-1."""
    out = []
    for i in range(2**k):
        step = i + 1
        bit = (step & -step).bit_length() - 1 if step < 2**k else k - 1
        out.append((k - 1 - bit, k))
    return out


def cnot_skeleton(circuit: Circuit) -> list[tuple[str, tuple[int, ...]]]:
    """The circuit as a time-ordered list of ``("cx", (c, t))`` and ``("1q", (w,))``.

    Two-qubit gates become their standard number of CNOTs; an amplitude embedding
    becomes Mottonen's real-amplitude state preparation (uniformly controlled RY
    rotations, 2**n - 2 CNOTs). Gates on 3+ wires are not supported (none in ``hqnn``).

    Raises:
        CircuitError: ``circuit`` is not a :class:`Circuit`, or a gate acts on more
            than two wires.
    """
    require_circuit(circuit, "cnot_skeleton")
    out: list[tuple[str, tuple[int, ...]]] = []
    for op in circuit.ops:
        if op.is_channel:
            continue
        if op.name == "amplitude_embedding":
            out.append(("1q", (0,)))
            for k in range(1, circuit.n_qubits):
                for c, t in _gray_pairs(k):
                    out.append(("1q", (t,)))
                    out.append(("cx", (c, t)))
            continue
        if len(op.wires) == 1:
            out.append(("1q", op.wires))
        elif len(op.wires) == 2:
            a, b = op.wires
            for i in range(_CNOTS.get(op.name, 1)):
                out.append(("cx", (a, b)))
                if i + 1 < _CNOTS.get(op.name, 1):
                    out.append(("1q", (b,)))
        else:
            raise CircuitError(
                f"cutting supports gates on at most 2 wires; {op.name} acts on {len(op.wires)}"
            )
    return out


def fewest_devices(widths: list[int], qubit_budget: int) -> int:
    """The fewest devices of ``qubit_budget`` qubits that hold pieces of these widths.

    Exact bin packing by depth-first search, widest piece first, each piece into a
    device with room or a new one (devices with equal room tried once); a circuit has
    a few pieces, so this is instant, and first-fit heuristics can use one device too
    many (widths 3, 3, 2, 2, 2, 2 in devices of 7: first-fit decreasing uses 3, the
    fewest is 2).

    Raises:
        ValueError: a piece is wider than the budget.
        ConfigError: a width is not an integer >= 0 (1.5 was packed as it stood).

    Example:
        >>> fewest_devices([2, 2, 1, 1], 3)
        2
    """
    _check_budget(qubit_budget)
    if not isinstance(widths, list | tuple) or not all(
        isinstance(w, Integral) and not isinstance(w, bool) and w >= 0 for w in widths
    ):
        raise ConfigError(
            f"fewest_devices: widths must be a list of integers >= 0; got {widths!r}"[:200]
        )
    if any(w > qubit_budget for w in widths):
        raise ValueError(f"a piece of {max(widths)} qubits exceeds the budget of {qubit_budget}")
    order = sorted((w for w in widths if w > 0), reverse=True)
    best = len(order)

    def place(i: int, room: list[int]) -> None:
        nonlocal best
        if len(room) >= best:
            return
        if i == len(order):
            best = len(room)
            return
        tried = set()
        for j, r in enumerate(room):
            if r >= order[i] and r not in tried:
                tried.add(r)
                room[j] -= order[i]
                place(i + 1, room)
                room[j] += order[i]
        place(i + 1, [*room, qubit_budget - order[i]])

    place(0, [])
    return max(best, 1)


def _check_budget(qubit_budget: int) -> None:
    if isinstance(qubit_budget, bool) or not isinstance(qubit_budget, int) or qubit_budget < 1:
        raise ConfigError(f"qubit_budget must be an integer >= 1; got {qubit_budget!r}")


def _cost(label: np.ndarray, pairs: np.ndarray) -> int:
    return int(np.count_nonzero(label[pairs[:, 0]] != label[pairs[:, 1]])) if len(pairs) else 0


def _packed_components(n: int, pairs: np.ndarray, k: int, budget: int) -> np.ndarray | None:
    """Group labels that keep each connected component of the CNOT graph whole where
    it fits the budget: components largest first (ties: lowest wire first), each into
    the first of ``k`` groups with room; a component larger than the budget is split
    into runs of ``budget`` of its wires in order. ``None`` where they do not fit."""
    parent = list(range(n))

    def root(q: int) -> int:
        while parent[q] != q:
            parent[q] = parent[parent[q]]
            q = parent[q]
        return q

    for a, b in pairs:
        parent[root(int(a))] = root(int(b))
    members: dict[int, list[int]] = {}
    for q in range(n):
        members.setdefault(root(q), []).append(q)
    pieces = [c[i : i + budget] for c in members.values() for i in range(0, len(c), budget)]
    pieces.sort(key=lambda c: (-len(c), c[0]))
    label = np.zeros(n, dtype=np.int64)
    room = [budget] * k
    for piece in pieces:
        g = next((g for g in range(k) if room[g] >= len(piece)), None)
        if g is None:
            return None
        label[piece] = g
        room[g] -= len(piece)
    return label


def _local_search(label: np.ndarray, pairs: np.ndarray, k: int, budget: int) -> np.ndarray:
    """Move or swap single qubits between groups while that cuts fewer gates."""
    best = _cost(label, pairs)
    n = len(label)
    improved = True
    while improved:
        improved = False
        sizes = np.bincount(label, minlength=k)
        for q in range(n):
            for g in range(k):
                if g == label[q] or sizes[g] >= budget:
                    continue
                trial = label.copy()
                trial[q] = g
                c = _cost(trial, pairs)
                if c < best:
                    label, best, improved = trial, c, True
                    sizes = np.bincount(label, minlength=k)
        for q in range(n):
            for r in range(q + 1, n):
                if label[q] == label[r]:
                    continue
                trial = label.copy()
                trial[q], trial[r] = label[r], label[q]
                c = _cost(trial, pairs)
                if c < best:
                    label, best, improved = trial, c, True
    return label


def estimate_cuts(circuit: Circuit, qubit_budget: int) -> CutEstimate:
    """Built-in estimate of the subcircuits and overhead of gate-cutting ``circuit``.

    Tries ``ceil(n / budget)`` and one more groups; for each, starts from contiguous
    blocks (every rotation of the wire order), then from the circuit's connected
    components packed first-fit decreasing (:func:`_packed_components`: wires no CNOT
    joins need no cut, which a search from blocks can miss), and improves each by
    moving and swapping qubits; keeps the partition with the fewest cut CNOTs (ties:
    fewer groups, then the first found, so contiguous blocks in wire order come first).
    Groups that end up empty are dropped. The overhead is ``9 ** cut_cnots``.

    Args:
        circuit (Circuit): the circuit (see :func:`cnot_skeleton` for what counts).
        qubit_budget (int): most qubits per subcircuit, >= 1.

    Returns:
        CutEstimate: with ``method="builtin"``.

    Raises:
        ConfigError: ``qubit_budget`` is not an integer >= 1.
        CircuitError: ``circuit`` is not a :class:`Circuit`, or a gate on 3+ wires.

    Example:
        >>> c = Circuit(4).cnot(0, 1).cnot(1, 2).cnot(2, 3)
        >>> e = estimate_cuts(c, 2)
        >>> e.subcircuits, e.overhead
        (2, 9.0)
    """
    require_circuit(circuit, "estimate_cuts")
    _check_budget(qubit_budget)
    n = circuit.n_qubits
    if n <= qubit_budget:
        return CutEstimate(1, 1.0, partition=(tuple(range(n)),))
    pairs = np.array(
        [w for kind, w in cnot_skeleton(circuit) if kind == "cx"], dtype=np.int64
    ).reshape(-1, 2)
    best: tuple[int, int, np.ndarray] | None = None
    k0 = math.ceil(n / qubit_budget)
    for k in (k0, k0 + 1):
        if k > n:
            continue
        bounds = np.linspace(0, n, k + 1).round().astype(int)
        base = np.zeros(n, dtype=np.int64)
        for g, (lo, hi) in enumerate(pairwise(bounds)):
            base[lo:hi] = g
        starts = [np.roll(base, shift) for shift in range(n)]
        packed = _packed_components(n, pairs, k, qubit_budget)
        for start in starts if packed is None else [*starts, packed]:
            label = _local_search(start, pairs, k, qubit_budget)
            groups = len(np.unique(label))
            cost = _cost(label, pairs)
            if best is None or (cost, groups) < (best[0], best[1]):
                best = (cost, groups, label)
    assert best is not None
    cost, groups, label = best
    part = tuple(tuple(int(q) for q in np.flatnonzero(label == g)) for g in np.unique(label))
    try:
        overhead = float(CNOT_GAMMA**2) ** cost
    except OverflowError:
        overhead = math.inf
    return CutEstimate(groups, overhead, gate_cuts=cost, partition=part)


def skeleton_to_qiskit(circuit: Circuit, seed: int = 0) -> Any:
    """A ``qiskit.QuantumCircuit`` of :func:`cnot_skeleton` (RY with seeded random angles)."""
    require_circuit(circuit, "skeleton_to_qiskit")
    from qiskit import QuantumCircuit

    gen = np.random.default_rng(seed)
    qc = QuantumCircuit(circuit.n_qubits)
    for kind, w in cnot_skeleton(circuit):
        if kind == "cx":
            qc.cx(*w)
        else:
            qc.ry(float(gen.uniform(0, 2 * math.pi)), w[0])
    return qc


def find_cuts_qiskit(
    circuit: Circuit,
    qubit_budget: int,
    *,
    seed: int = 0,
    max_gamma: float = 1e6,
    max_backjumps: int | None = 10_000,
) -> CutEstimate:
    """Subcircuits and overhead from ``qiskit-addon-cutting``'s ``find_cuts``.

    Gate and wire cuts are allowed; the overhead is ``find_cuts``' own
    ``sampling_overhead``. ``partition_problem`` on the cut circuit (wire cuts expanded
    by ``cut_wires``) splits it into its connected pieces, so an idle wire or two
    clusters without a gate between them are pieces of their own; pieces that fit one
    device together run as one circuit, so the subcircuits reported are the fewest
    devices the pieces fill (:func:`fewest_devices`), the quantity
    :func:`estimate_cuts` counts.

    Raises:
        ImportError: ``qiskit-addon-cutting`` is not installed
            (``pip install qiskit-addon-cutting``).
        ConfigError: ``qubit_budget`` is not an integer >= 1.
        CircuitError: ``circuit`` is not a :class:`Circuit`.
    """
    require_circuit(circuit, "find_cuts_qiskit")
    _check_budget(qubit_budget)
    if circuit.n_qubits <= qubit_budget:
        return CutEstimate(1, 1.0, method="qiskit")
    try:
        from qiskit_addon_cutting import (
            DeviceConstraints,
            OptimizationParameters,
            cut_wires,
            find_cuts,
            partition_problem,
        )
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "find_cuts_qiskit needs qiskit-addon-cutting: pip install qiskit-addon-cutting"
        ) from e
    qc = skeleton_to_qiskit(circuit, seed)
    opt = OptimizationParameters(seed=seed, max_gamma=max_gamma, max_backjumps=max_backjumps)
    cut_qc, meta = find_cuts(qc, opt, DeviceConstraints(qubits_per_subcircuit=qubit_budget))
    kinds = [k for k, _ in meta["cuts"]]
    expanded = cut_wires(cut_qc)
    part = partition_problem(circuit=expanded)
    widths = [sub.num_qubits for sub in part.subcircuits.values()]
    return CutEstimate(
        subcircuits=fewest_devices(widths, qubit_budget),
        overhead=float(meta["sampling_overhead"]),
        gate_cuts=kinds.count("Gate Cut"),
        wire_cuts=kinds.count("Wire Cut"),
        method="qiskit",
    )
