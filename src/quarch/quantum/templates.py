"""Templates: embeddings and entangling layers with PennyLane's names and meanings.

Each template is plain data (no tensors, no device) with ``build(circuit)``, which
appends its gates, allocating fresh trainable weights from the circuit; use it as
``circuit.add(Template(...))``. ``shape()`` says how many weights it allocates and
``resources()`` counts its gates, so a cost model can price a block without building it.

Weight order matches PennyLane's weight tensors flattened in C order, so weights
trained here can be reshaped to ``Template.shape()`` and passed to PennyLane.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from quarch.quantum.circuit import Circuit, CircuitError, Input, Param

__all__ = [
    "ENTANGLEMENT_PATTERNS",
    "AmplitudeEmbedding",
    "AngleEmbedding",
    "BasicEntanglerLayers",
    "DataReuploading",
    "EntanglingLayer",
    "IQPEmbedding",
    "RotationLayer",
    "StronglyEntanglingLayers",
    "entangler_pairs",
    "gate_pairs",
]

ENTANGLEMENT_PATTERNS = ("none", "linear", "ring", "full", "odd", "even", "range-r")
"""Patterns understood by :func:`entangler_pairs` (``range-r`` as ``"range-2"`` etc.)."""

_ROTATIONS = ("X", "Y", "Z")
_ENTANGLERS = ("cnot", "cz", "crz", "crx", "cry", "rzz", "rxx", "ryy")


def entangler_pairs(n_wires: int, pattern: str) -> list[tuple[int, int]]:
    """Wire pairs of an entanglement pattern on wires ``0..n_wires-1``.

    ``linear``: (i, i+1); ``ring``: linear plus (n-1, 0) when n > 2; ``full``: every
    i < j; ``even``: (0,1), (2,3), ...; ``odd``: (1,2), (3,4), ...; ``range-r``:
    (i, (i+r) mod n) for every i; ``none``: no pairs.

    Raises:
        CircuitError: unknown pattern or a range that does not fit, or arguments of
            another type (a str for ``n_wires``, a number for ``pattern``).
    """
    if isinstance(n_wires, bool) or not isinstance(n_wires, int | np.integer):
        raise CircuitError(f"n_wires must be a whole number; got {n_wires!r}")
    if not isinstance(pattern, str):
        raise CircuitError(f"{_bad_pattern(str(pattern))}; a pattern is a str, got {pattern!r}")
    n = int(n_wires)
    p = pattern.lower()
    r = _range(pattern) if p.startswith("range-") else None
    if r is None and p not in ("none", "linear", "ring", "full", "odd", "even"):
        raise CircuitError(_bad_pattern(pattern))
    if p == "none" or n < 2:
        if r is not None and r < 1:  # ill-formed on any number of wires
            raise CircuitError(f"pattern {pattern!r} needs a range of 1 or more; got {r}")
        return []
    if p == "linear":
        return [(i, i + 1) for i in range(n - 1)]
    if p == "ring":
        return [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if n > 2 else [])
    if p == "full":
        return list(combinations(range(n), 2))
    if p == "even":
        return [(i, i + 1) for i in range(0, n - 1, 2)]
    if p == "odd":
        return [(i, i + 1) for i in range(1, n - 1, 2)]
    assert r is not None  # every other pattern returned above
    if not 1 <= r < n:
        raise CircuitError(f"pattern {pattern!r} needs a range in [1, {n - 1}]; got {r}")
    pairs = [(i, (i + r) % n) for i in range(n)]
    return list(dict.fromkeys(pairs))


def gate_pairs(n_wires: int, pattern: str, gate: str) -> list[tuple[int, int]]:
    """The pairs entangling gate ``gate`` acts on: :func:`entangler_pairs`, less a pair
    whose reverse is already listed when the gate is ``cz``.

    Why: ``range-r`` on ``n = 2r`` wires lists each pair in both orders (it is
    ``(i, i+r mod n)`` for every ``i``, as in the circuit-centric classifier). For a
    directed gate (CNOT, the controlled rotations) the two orders are two different
    gates; CZ is symmetric and has no parameter, so ``CZ(a,b) CZ(b,a)`` is the identity:
    such a layer entangled nothing yet counted two-qubit gates in every cost. One CZ
    per pair is what the pattern means for it.

    Example:
        >>> entangler_pairs(2, "range-1"), gate_pairs(2, "range-1", "cz")
        ([(0, 1), (1, 0)], [(0, 1)])
    """
    pairs = entangler_pairs(n_wires, pattern)
    if gate != "cz":
        return pairs
    kept: dict[frozenset[int], tuple[int, int]] = {}
    for a, b in pairs:
        kept.setdefault(frozenset((a, b)), (a, b))
    return list(kept.values())


def _range(pattern: str) -> int:
    """``r`` of a ``range-r`` pattern; one with no whole number after the dash is an
    unknown pattern, on one wire too (it used to pass there, answering no pairs)."""
    try:
        return int(pattern[6:])
    except ValueError:
        raise CircuitError(_bad_pattern(pattern)) from None


def _bad_pattern(pattern: str) -> str:
    return f"unknown entanglement pattern {pattern!r}; allowed: {', '.join(ENTANGLEMENT_PATTERNS)}"


def _count(value: object, what: str) -> None:
    """Refuse ``value`` unless it is a whole number >= 1, in one :class:`CircuitError`:
    ``BasicEntanglerLayers(2.5, 3)`` raised ``TypeError`` from ``range`` at build time,
    ``n_repeats="2"`` a ``TypeError`` from ``<``, and 0 a bare ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise CircuitError(f"{what} must be an integer >= 1; got {value!r}")


def _range_ok(value: object, n: int) -> bool:
    """Whether ``value`` is a range :class:`StronglyEntanglingLayers` can take on ``n``
    wires: a whole number (not a bool) that is not a multiple of ``n``."""
    whole = isinstance(value, int | np.integer) and not isinstance(value, bool)
    return whole and int(value) % n != 0  # type: ignore[call-overload]


def _wires(wires: int | Sequence[int]) -> tuple[int, ...]:
    """A template's wires: an int ``n`` is ``0..n-1``, a sequence its own wires. Anything
    else is one :class:`CircuitError`: ``int()`` alone truncated ``[0.5, 1]`` to wires
    ``(0, 1)`` and raised ``ValueError`` for ``"ab"``, ``TypeError`` for ``2.5``."""
    if _is_wire(wires):
        return tuple(range(int(wires)))  # type: ignore[arg-type]
    if not isinstance(wires, str) and hasattr(wires, "__iter__"):
        items = list(wires)  # arrays and tensors of wire indices too
        if all(_is_wire(w) for w in items):
            return tuple(int(w) for w in items)
    raise CircuitError(f"wires must be a number of wires or a list of wire indices; got {wires!r}")


def _is_wire(value: object) -> bool:
    """Whether ``value`` is a whole number (a wire index; its range is the circuit's
    check)."""
    if isinstance(value, bool | str):
        return False
    try:
        return bool(int(value) == value)  # type: ignore[call-overload]  # 1.0, numpy, tensors
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: a tensor of several
        return False


def _is_pair(value: object) -> bool:
    """Whether ``value`` is a pair of wire indices (an IQP pattern's entry)."""
    iterable = hasattr(value, "__iter__") and not isinstance(value, str)
    items = list(value) if iterable else []  # type: ignore[call-overload]  # arrays too
    return len(items) == 2 and all(_is_wire(w) for w in items)


def _check_fits(circuit: Circuit, wires: tuple[int, ...], name: str) -> None:
    if wires and max(wires) >= circuit.n_qubits:
        raise CircuitError(
            f"{name} uses wire {max(wires)}; the circuit has wires 0..{circuit.n_qubits - 1}"
        )


def _rotation(circuit: Circuit, axis: str, wire: int, angle: float | Param) -> None:
    getattr(circuit, "r" + axis.lower())(wire, angle)


@dataclass(frozen=True)
class AngleEmbedding:
    """One rotation per feature: feature ``feature_offset + i`` on wire ``wires[i]``.

    Args:
        wires (int | Sequence[int]): wires (an int ``n`` means ``0..n-1``).
        rotation (str): ``"X"`` (default, as PennyLane), ``"Y"`` or ``"Z"``.
        feature_offset (int): index of the first input feature read.
        scale (float): factor on every angle.
        hadamard (bool): a Hadamard on each wire just before its rotation. RZ on
            ``|0>`` is only a global phase, so an RZ embedding on a fresh register
            encodes nothing without it (the ``hqnn`` space's ``angle-z``). Not a
            PennyLane option.
    """

    wires: int | Sequence[int]
    rotation: str = "X"
    feature_offset: int = 0
    scale: float = 1.0
    hadamard: bool = False

    def __post_init__(self) -> None:
        if self.rotation not in _ROTATIONS:
            raise CircuitError(f"rotation must be one of X, Y, Z; got {self.rotation!r}")

    def shape(self) -> tuple[int, ...]:
        """No trainable weights."""
        return (0,)

    def resources(self) -> Counter[str]:
        """Gate counts by type."""
        n = len(_wires(self.wires))
        return Counter({"r" + self.rotation.lower(): n, **({"h": n} if self.hadamard else {})})

    def build(self, circuit: Circuit) -> None:
        ws = _wires(self.wires)
        _check_fits(circuit, ws, "AngleEmbedding")
        for i, w in enumerate(ws):
            if self.hadamard:
                circuit.h(w)
            _rotation(circuit, self.rotation, w, Input(self.feature_offset + i, scale=self.scale))


@dataclass(frozen=True)
class AmplitudeEmbedding:
    """Features as the amplitudes of all wires (padded with ``pad_with``, normalised).

    Must come first in a circuit, as in PennyLane.
    """

    n_features: int
    pad_with: float | None = 0.0
    normalize: bool = True

    def shape(self) -> tuple[int, ...]:
        """No trainable weights."""
        return (0,)

    def resources(self) -> Counter[str]:
        """Counted as one state preparation."""
        return Counter({"amplitude_embedding": 1})

    def build(self, circuit: Circuit) -> None:
        circuit.amplitude_embedding(
            self.n_features, pad_with=self.pad_with, normalize=self.normalize
        )


@dataclass(frozen=True)
class IQPEmbedding:
    """PennyLane's IQPEmbedding: per repeat H and RZ(x_i) on each wire, then
    RZZ(x_i * x_j) on each pair (default: all pairs i < j in order)."""

    wires: int | Sequence[int]
    n_repeats: int = 1
    pattern: Sequence[tuple[int, int]] | None = None
    feature_offset: int = 0

    def __post_init__(self) -> None:
        _count(self.n_repeats, "n_repeats")
        if self.pattern is not None and not all(_is_pair(p) for p in self.pattern):
            raise CircuitError(f"IQPEmbedding pattern must be pairs of wires; got {self.pattern!r}")

    def _pairs(self) -> list[tuple[int, int]]:
        ws = _wires(self.wires)
        if self.pattern is None:  # an empty pattern means no pairs, as in PennyLane
            return list(combinations(ws, 2))
        return [tuple(p) for p in self.pattern]  # type: ignore[misc]

    def shape(self) -> tuple[int, ...]:
        """No trainable weights."""
        return (0,)

    def resources(self) -> Counter[str]:
        """Gate counts by type."""
        n, r = len(_wires(self.wires)), self.n_repeats
        return Counter({"h": n * r, "rz": n * r, "rzz": len(self._pairs()) * r})

    def build(self, circuit: Circuit) -> None:
        ws = _wires(self.wires)
        _check_fits(circuit, ws, "IQPEmbedding")
        pos = {w: i for i, w in enumerate(ws)}
        for _ in range(self.n_repeats):
            for i, w in enumerate(ws):
                circuit.h(w)
                circuit.rz(w, Input(self.feature_offset + i))
            for a, b in self._pairs():
                if a not in pos or b not in pos:
                    raise CircuitError(f"IQPEmbedding pattern pair {(a, b)} is not in wires {ws}")
                off = self.feature_offset
                circuit.rzz(a, b, Input(off + pos[a], off + pos[b]))


@dataclass(frozen=True)
class BasicEntanglerLayers:
    """PennyLane's BasicEntanglerLayers: per layer one rotation per wire (weights
    ``(n_layers, n_wires)``), then a CNOT ring (one CNOT for two wires)."""

    n_layers: int
    wires: int | Sequence[int]
    rotation: str = "X"

    def __post_init__(self) -> None:
        _count(self.n_layers, "n_layers")
        if self.rotation not in _ROTATIONS:
            raise CircuitError(f"rotation must be one of X, Y, Z; got {self.rotation!r}")

    def shape(self) -> tuple[int, ...]:
        """Weight tensor shape ``(n_layers, n_wires)``."""
        return (self.n_layers, len(_wires(self.wires)))

    def resources(self) -> Counter[str]:
        """Gate counts by type."""
        n = len(_wires(self.wires))
        ring = len(entangler_pairs(n, "ring"))
        return Counter(
            {"r" + self.rotation.lower(): n * self.n_layers, "cnot": ring * self.n_layers}
        )

    def build(self, circuit: Circuit) -> None:
        ws = _wires(self.wires)
        _check_fits(circuit, ws, "BasicEntanglerLayers")
        for _ in range(self.n_layers):
            for w in ws:
                _rotation(circuit, self.rotation, w, circuit.new_weight())
            for a, b in entangler_pairs(len(ws), "ring"):
                circuit.cnot(ws[a], ws[b])


@dataclass(frozen=True)
class StronglyEntanglingLayers:
    """PennyLane's StronglyEntanglingLayers: per layer ``Rot`` on each wire (weights
    ``(n_layers, n_wires, 3)``), then CNOT(i, i + r mod n) for every i, with range
    ``r = ranges[l]`` (default ``l mod (n-1) + 1``)."""

    n_layers: int
    wires: int | Sequence[int]
    ranges: Sequence[int] | None = None
    imprimitive: str = "cnot"

    def __post_init__(self) -> None:
        _count(self.n_layers, "n_layers")
        if self.imprimitive not in ("cnot", "cz"):
            raise CircuitError(f"imprimitive must be 'cnot' or 'cz'; got {self.imprimitive!r}")
        if self.ranges is not None and len(self.ranges) != self.n_layers:
            raise CircuitError(
                f"ranges must have one entry per layer ({self.n_layers}); got {len(self.ranges)}"
            )
        n = len(_wires(self.wires))
        if self.ranges is not None and n > 1 and not all(_range_ok(r, n) for r in self.ranges):
            # PennyLane's rule (a range r means i + r mod n, so n + 2 is 2); one of 0 or n
            # failed at build time with "cnot: the same wire appears twice", 1.5 in range
            raise CircuitError(
                f"ranges must be whole numbers, neither 0 nor a multiple of the {n} wires "
                f"(as in PennyLane); got {list(self.ranges)}"
            )

    def _ranges(self, n: int) -> list[int]:
        if self.ranges is not None:
            return list(self.ranges)
        return [(i % (n - 1)) + 1 if n > 1 else 0 for i in range(self.n_layers)]

    def shape(self) -> tuple[int, ...]:
        """Weight tensor shape ``(n_layers, n_wires, 3)``."""
        return (self.n_layers, len(_wires(self.wires)), 3)

    def resources(self) -> Counter[str]:
        """Gate counts by type."""
        n = len(_wires(self.wires))
        return Counter(
            {"rot": n * self.n_layers, self.imprimitive: (n if n > 1 else 0) * self.n_layers}
        )

    def build(self, circuit: Circuit) -> None:
        ws = _wires(self.wires)
        n = len(ws)
        _check_fits(circuit, ws, "StronglyEntanglingLayers")
        for r in self._ranges(n):
            for w in ws:
                circuit.rot(w, *circuit.new_weights(3))
            if n > 1:
                for i in range(n):
                    circuit.append(self.imprimitive, [ws[i], ws[(i + r) % n]])


@dataclass(frozen=True)
class RotationLayer:
    """Trainable rotations on each wire, e.g. ``("Y", "Z")`` = RY then RZ per wire."""

    wires: int | Sequence[int]
    rotations: tuple[str, ...] = ("Y",)

    def __post_init__(self) -> None:
        bad = [r for r in self.rotations if r not in _ROTATIONS]
        if bad or not self.rotations:
            raise CircuitError(
                f"rotations must be a non-empty tuple of X/Y/Z; got {self.rotations}"
            )

    def shape(self) -> tuple[int, ...]:
        """Weights ``(n_wires, len(rotations))``."""
        return (len(_wires(self.wires)), len(self.rotations))

    def resources(self) -> Counter[str]:
        """Gate counts by type."""
        n = len(_wires(self.wires))
        return Counter("r" + r.lower() for r in self.rotations for _ in range(n))

    def build(self, circuit: Circuit) -> None:
        ws = _wires(self.wires)
        _check_fits(circuit, ws, "RotationLayer")
        for w in ws:
            for r in self.rotations:
                _rotation(circuit, r, w, circuit.new_weight())


@dataclass(frozen=True)
class EntanglingLayer:
    """Two-qubit gates on the pairs of a pattern (``cnot``, ``cz`` or a trainable
    ``crz``/``crx``/``cry``/``rzz``/``rxx``/``ryy``; :func:`gate_pairs`: one CZ per
    pair)."""

    wires: int | Sequence[int]
    pattern: str = "ring"
    gate: str = "cnot"

    def __post_init__(self) -> None:
        if self.gate not in _ENTANGLERS:
            raise CircuitError(f"gate must be one of {', '.join(_ENTANGLERS)}; got {self.gate!r}")
        entangler_pairs(max(len(_wires(self.wires)), 2), self.pattern)

    def shape(self) -> tuple[int, ...]:
        """One weight per pair for a parametrised gate, else none."""
        pairs = len(gate_pairs(len(_wires(self.wires)), self.pattern, self.gate))
        return (pairs,) if self.gate not in ("cnot", "cz") else (0,)

    def resources(self) -> Counter[str]:
        """Gate counts by type."""
        return Counter(
            {self.gate: len(gate_pairs(len(_wires(self.wires)), self.pattern, self.gate))}
        )

    def build(self, circuit: Circuit) -> None:
        ws = _wires(self.wires)
        _check_fits(circuit, ws, "EntanglingLayer")
        for a, b in gate_pairs(len(ws), self.pattern, self.gate):
            if self.gate in ("cnot", "cz"):
                circuit.append(self.gate, [ws[a], ws[b]])
            else:
                circuit.append(self.gate, [ws[a], ws[b]], [circuit.new_weight()])


@dataclass(frozen=True)
class DataReuploading:
    """Data re-uploading: ``n_repeats`` times (embedding, then trainable layers).

    Each repeat re-reads the same input features and allocates fresh weights, which
    lets a few qubits express higher-frequency functions of the inputs.
    """

    embedding: object
    layers: Sequence[object] = field(default_factory=tuple)
    n_repeats: int = 2

    def __post_init__(self) -> None:
        _count(self.n_repeats, "n_repeats")
        if isinstance(self.embedding, AmplitudeEmbedding):
            raise CircuitError("DataReuploading cannot repeat an AmplitudeEmbedding")

    def shape(self) -> tuple[int, ...]:
        """Total number of weights allocated."""
        total = 0
        for layer in self.layers:
            size = 1
            for s in layer.shape():  # type: ignore[attr-defined]
                size *= s
            total += size
        return (total * self.n_repeats,)

    def resources(self) -> Counter[str]:
        """Gate counts by type."""
        out: Counter[str] = Counter()
        for _ in range(self.n_repeats):
            for block in (self.embedding, *self.layers):
                out.update(block.resources())  # type: ignore[attr-defined]
        return out

    def build(self, circuit: Circuit) -> None:
        for _ in range(self.n_repeats):
            circuit.add(self.embedding)  # type: ignore[arg-type]
            for layer in self.layers:
                circuit.add(layer)  # type: ignore[arg-type]
