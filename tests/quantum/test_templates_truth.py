"""Templates (``quarch.quantum.templates``) against independent truth.

* states: each template built into a ``Circuit`` and simulated by quarch against
  PennyLane's template of the same name with the same weights reshaped to
  ``shape()`` (or, for templates PennyLane lacks, its docstring's gates written out
  with PennyLane operations), on several wires, wire orders, layers and options;
* ``shape()`` against PennyLane's ``Template.shape`` and the weights the build
  allocates; ``resources()`` against the gates of the built circuit and of
  PennyLane's decomposition;
* ``entangler_pairs`` against its docstring's definitions written out here;
* each validation error and its message.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    BasicEntanglerLayers,
    Circuit,
    CircuitError,
    DataReuploading,
    EntanglingLayer,
    IQPEmbedding,
    RotationLayer,
    StronglyEntanglingLayers,
    compile_circuit,
    entangler_pairs,
    resources,
)

qml = pytest.importorskip("pennylane")

ROTATION = {"X": qml.RX, "Y": qml.RY, "Z": qml.RZ}
#: EntanglingLayer's gate -> PennyLane's operation (control first, as in quarch)
TWO_QUBIT = {
    "cnot": qml.CNOT, "cz": qml.CZ, "crz": qml.CRZ, "crx": qml.CRX, "cry": qml.CRY,
    "rzz": qml.IsingZZ, "rxx": qml.IsingXX, "ryy": qml.IsingYY,
}  # fmt: skip
#: PennyLane's operation names -> quarch's gate names (for decomposition counts)
QUARCH_NAME = {
    "Hadamard": "h", "RX": "rx", "RY": "ry", "RZ": "rz", "Rot": "rot", "CNOT": "cnot",
    "CZ": "cz", "MultiRZ": "rzz",
}  # fmt: skip
PATTERN_NAMES = ("none", "linear", "ring", "full", "odd", "even")


# ---------------------------------------------------------------------- helpers
def _ws(wires: int | Sequence[int]) -> list[int]:
    return list(range(wires)) if isinstance(wires, int) else list(wires)


def _prefix_quarch(c: Circuit) -> Circuit:
    """A fixed generic state first, so that every later gate (even RZ) shows."""
    for w in range(c.n_qubits):
        c.ry(w, 0.4 + 0.7 * w).rz(w, -0.3 + 0.9 * w)
    return c


def _prefix_pennylane(n: int) -> None:
    for w in range(n):
        qml.RY(0.4 + 0.7 * w, wires=w)
        qml.RZ(-0.3 + 0.9 * w, wires=w)


def _quarch_states(c: Circuit, x: np.ndarray | None, w: np.ndarray | None) -> np.ndarray:
    plan = compile_circuit(c, dtype=torch.complex128)
    xs = torch.tensor(x) if x is not None else None
    ws = torch.tensor(w) if w is not None and w.size else None
    return plan.state(xs, ws).numpy()


def _pennylane_states(
    n: int, body: Callable[[np.ndarray | None], None], x: np.ndarray | None
) -> np.ndarray:
    @qml.qnode(qml.device("default.qubit", wires=n))
    def run(sample: np.ndarray | None) -> Any:
        body(sample)
        return qml.state()

    rows = [None] if x is None else list(x)
    return np.stack([np.asarray(run(r)) for r in rows])


def _check(c: Circuit, body: Callable[[np.ndarray | None], None], x: np.ndarray | None,
           w: np.ndarray | None) -> None:  # fmt: skip
    got = _quarch_states(c, x, w)
    want = _pennylane_states(c.n_qubits, body, x)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def _exact(exc: type[Exception], message: str) -> Any:
    """``pytest.raises`` for exactly this message (no prefix, no suffix)."""
    return pytest.raises(exc, match=f"^{re.escape(message)}$")


def _pairs_by_definition(n: int, pattern: str) -> list[tuple[int, int]]:
    """``entangler_pairs``' docstring, written out by brute force over all pairs."""
    p = pattern.lower()
    everything = [(i, j) for i in range(n) for j in range(n)]
    if p == "none":
        return []
    if p == "linear":
        return [(i, j) for i, j in everything if j == i + 1]
    if p == "ring":
        return _pairs_by_definition(n, "linear") + ([(n - 1, 0)] if n > 2 else [])
    if p == "full":
        return [(i, j) for i, j in everything if i < j]
    if p == "even":
        return [(i, j) for i, j in everything if j == i + 1 and i % 2 == 0]
    if p == "odd":
        return [(i, j) for i, j in everything if j == i + 1 and i % 2 == 1]
    r = int(p.removeprefix("range-"))
    return [(i, j) for i in range(n) for j in range(n) if j == (i + r) % n]


# ---------------------------------------------------------------------- entangler_pairs
@pytest.mark.parametrize("n", range(2, 8))
def test_entangler_pairs_follow_their_definitions(n: int) -> None:
    patterns = [*PATTERN_NAMES, *(f"range-{r}" for r in range(1, n))]
    for pattern in patterns:
        want = _pairs_by_definition(n, pattern)
        assert entangler_pairs(n, pattern) == want, pattern
        assert entangler_pairs(n, pattern.upper()) == want, pattern
        assert all(a != b and 0 <= a < n and 0 <= b < n for a, b in want)


@pytest.mark.parametrize("n", [0, 1])
def test_one_wire_has_no_pairs_whatever_the_pattern(n: int) -> None:
    for pattern in [*PATTERN_NAMES, "range-1", "range-2", "RING"]:
        assert entangler_pairs(n, pattern) == [], pattern


ALLOWED = "none, linear, ring, full, odd, even, range-r"


@pytest.mark.parametrize(
    ("n", "pattern"),
    [*((n, p) for n in (0, 1, 3) for p in ("star", "range-two", "range-", "ring-2", "range-1.5"))],
)
def test_entangler_pairs_unknown_pattern_message(n: int, pattern: str) -> None:
    msg = f"unknown entanglement pattern {pattern!r}; allowed: {ALLOWED}"
    with _exact(CircuitError, msg):
        entangler_pairs(n, pattern)


@pytest.mark.parametrize(("n", "r"), [(2, 0), (2, 2), (3, 3), (4, 4), (4, 7), (4, -1)])
def test_entangler_pairs_range_out_of_bounds_message(n: int, r: int) -> None:
    msg = f"pattern 'range-{r}' needs a range in [1, {n - 1}]; got {r}"
    with _exact(CircuitError, msg):
        entangler_pairs(n, f"range-{r}")


@pytest.mark.parametrize(("n", "r"), [(0, 0), (1, 0), (1, -2)])
def test_entangler_pairs_range_below_one_on_one_wire_message(n: int, r: int) -> None:
    """No pairs to make on one wire, but a range below 1 is ill-formed on any."""
    with _exact(CircuitError, f"pattern 'range-{r}' needs a range of 1 or more; got {r}"):
        entangler_pairs(n, f"range-{r}")


# ---------------------------------------------------------------------- embeddings
ANGLE_CASES = [(3, 3, 0, 1.0), (4, [3, 1], 2, -0.7), (2, [1], 1, 2.5)]


@pytest.mark.parametrize("hadamard", [False, True])
@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
@pytest.mark.parametrize(("n", "wires", "offset", "scale"), ANGLE_CASES)
def test_angle_embedding_matches_pennylane(
    n: int, wires: int | list[int], offset: int, scale: float, rotation: str, hadamard: bool
) -> None:
    ws = _ws(wires)
    t = AngleEmbedding(wires, rotation, feature_offset=offset, scale=scale, hadamard=hadamard)
    c = _prefix_quarch(Circuit(n)).add(t)
    assert c.n_inputs == offset + len(ws)
    x = np.random.default_rng(n).uniform(-2, 2, (2, c.n_inputs))

    def body(s: np.ndarray | None) -> None:
        assert s is not None
        _prefix_pennylane(n)
        for w in ws:
            if hadamard:
                qml.Hadamard(wires=w)
        qml.AngleEmbedding(s[offset : offset + len(ws)] * scale, wires=ws, rotation=rotation)

    _check(c, body, x, None)


IQP_CASES = [
    (3, 3, 1, None, 0),
    (4, [3, 0, 2], 2, None, 1),
    (4, 4, 3, [(3, 0), (1, 2), (0, 2)], 0),
    (4, [2, 0, 3], 2, [(0, 3), (2, 0)], 2),
    (3, 3, 2, [], 0),
    (1, 1, 2, None, 0),
]


@pytest.mark.parametrize(("n", "wires", "repeats", "pattern", "offset"), IQP_CASES)
def test_iqp_embedding_matches_pennylane(
    n: int, wires: int | list[int], repeats: int, pattern: list[tuple[int, int]] | None,
    offset: int,
) -> None:  # fmt: skip
    ws = _ws(wires)
    c = _prefix_quarch(Circuit(n)).add(IQPEmbedding(wires, repeats, pattern, offset))
    assert c.n_inputs == offset + len(ws)
    x = np.random.default_rng(len(ws)).uniform(-2, 2, (2, c.n_inputs))

    def body(s: np.ndarray | None) -> None:
        assert s is not None
        _prefix_pennylane(n)
        qml.IQPEmbedding(s[offset : offset + len(ws)], ws, n_repeats=repeats, pattern=pattern)

    _check(c, body, x, None)


@pytest.mark.parametrize("pad", [0.0, 0.5, None])
@pytest.mark.parametrize("normalize", [True, False])
def test_amplitude_embedding_pads_and_normalises_as_told(
    pad: float | None, normalize: bool
) -> None:
    n_features = 3 if pad is not None else 4
    x = np.array([[1.0, 2.0, -3.0, 0.5], [0.5, -1.0, 0.0, 2.0]])[:, :n_features]
    c = Circuit(2).add(AmplitudeEmbedding(n_features, pad_with=pad, normalize=normalize))
    padded = np.concatenate([x, np.full((2, 4 - n_features), pad or 0.0)], axis=1)
    norm = np.linalg.norm(padded, axis=1, keepdims=True)
    # the docstring: padded, then normalised only when asked (the raw vector if not)
    want = padded / norm if normalize else padded
    np.testing.assert_allclose(_quarch_states(c, x, None), want, rtol=0, atol=1e-12)
    # PennyLane on the same vector, scaled first (where it must be) so that padded it has norm 1
    room = np.sqrt(1 - (pad or 0.0) ** 2 * (4 - n_features))
    given = x if normalize else x * room / np.linalg.norm(x, axis=1, keepdims=True)
    want_pl = _pennylane_states(
        2, lambda s: qml.AmplitudeEmbedding(s, range(2), pad_with=pad, normalize=normalize), given
    )
    np.testing.assert_allclose(_quarch_states(c, given, None), want_pl, rtol=0, atol=1e-12)


# ---------------------------------------------------------------------- trainable layers
LAYER_CASES = [(1, 1, 1), (2, 2, 2), (3, 3, 3), (2, [3, 0, 2], 4)]


@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
@pytest.mark.parametrize(("layers", "wires", "n"), LAYER_CASES)
def test_basic_entangler_layers_match_pennylane(
    layers: int, wires: int | list[int], n: int, rotation: str
) -> None:
    ws = _ws(wires)
    t = BasicEntanglerLayers(layers, wires, rotation)
    assert t.shape() == qml.BasicEntanglerLayers.shape(layers, len(ws))
    c = _prefix_quarch(Circuit(n)).add(t)
    assert c.n_weights == math.prod(t.shape())
    w = np.random.default_rng(layers).uniform(-3, 3, c.n_weights)

    def body(_: np.ndarray | None) -> None:
        _prefix_pennylane(n)
        qml.BasicEntanglerLayers(w.reshape(t.shape()), ws, rotation=ROTATION[rotation])

    _check(c, body, None, w)


SEL_CASES = [
    (1, 1, 1, None, "cnot"),
    (2, 1, 1, None, "cz"),
    (2, 2, 2, None, "cz"),
    (3, 3, 3, None, "cnot"),
    (4, [3, 0, 2, 1], 4, None, "cz"),
    (3, 4, 4, (3, 1, 2), "cnot"),
    (2, [2, 0, 1], 3, (2, 1), "cz"),
    (1, [1, 3], 4, (1,), "cnot"),
]


@pytest.mark.parametrize(("layers", "wires", "n", "ranges", "imprimitive"), SEL_CASES)
def test_strongly_entangling_layers_match_pennylane(
    layers: int, wires: int | list[int], n: int, ranges: tuple[int, ...] | None,
    imprimitive: str,
) -> None:  # fmt: skip
    ws = _ws(wires)
    t = StronglyEntanglingLayers(layers, wires, ranges, imprimitive)
    assert t.shape() == qml.StronglyEntanglingLayers.shape(layers, len(ws))
    c = _prefix_quarch(Circuit(n)).add(t)
    assert c.n_weights == math.prod(t.shape())
    w = np.random.default_rng(layers + n).uniform(-3, 3, c.n_weights)
    gate = {"cnot": qml.CNOT, "cz": qml.CZ}[imprimitive]

    def body(_: np.ndarray | None) -> None:
        _prefix_pennylane(n)
        qml.StronglyEntanglingLayers(w.reshape(t.shape()), ws, ranges, imprimitive=gate)

    _check(c, body, None, w)


@pytest.mark.parametrize("rotations", [("Y",), ("X", "Z"), ("Z", "Y", "X", "Y")])
@pytest.mark.parametrize(("wires", "n"), [(3, 3), ([2, 0], 3)])
def test_rotation_layer_is_its_rotations_per_wire(
    wires: int | list[int], n: int, rotations: tuple[str, ...]
) -> None:
    ws = _ws(wires)
    t = RotationLayer(wires, rotations)
    c = _prefix_quarch(Circuit(n)).add(t)
    assert t.shape() == (len(ws), len(rotations))
    assert c.n_weights == math.prod(t.shape())
    w = np.random.default_rng(len(rotations)).uniform(-3, 3, c.n_weights)

    def body(_: np.ndarray | None) -> None:
        _prefix_pennylane(n)
        weights = w.reshape(t.shape())
        for i, wire in enumerate(ws):
            for j, r in enumerate(rotations):
                ROTATION[r](weights[i, j], wires=wire)

    _check(c, body, None, w)


ENTANGLING_CASES = [("ring", 3, 3), ("range-2", [3, 0, 2, 1], 4), ("full", [1, 2, 0], 3)]


@pytest.mark.parametrize("gate", sorted(TWO_QUBIT))
@pytest.mark.parametrize(("pattern", "wires", "n"), ENTANGLING_CASES)
def test_entangling_layer_is_its_gate_on_each_pair(
    pattern: str, wires: int | list[int], n: int, gate: str
) -> None:
    ws = _ws(wires)
    pairs = _pairs_by_definition(len(ws), pattern)
    if gate == "cz":  # symmetric, no angle: a pair named in both orders is one CZ
        pairs = [p for k, p in enumerate(pairs) if {*p} not in [{*q} for q in pairs[:k]]]
    t = EntanglingLayer(wires, pattern, gate)
    trainable = gate not in ("cnot", "cz")
    assert t.shape() == ((len(pairs),) if trainable else (0,))
    c = _prefix_quarch(Circuit(n)).add(t)
    assert c.n_weights == math.prod(t.shape())
    w = np.random.default_rng(len(pairs)).uniform(-3, 3, c.n_weights)

    def body(_: np.ndarray | None) -> None:
        _prefix_pennylane(n)
        for k, (a, b) in enumerate(pairs):
            if trainable:
                TWO_QUBIT[gate](w[k], wires=[ws[a], ws[b]])
            else:
                TWO_QUBIT[gate](wires=[ws[a], ws[b]])

    _check(c, body, None, w)


@pytest.mark.parametrize("repeats", [1, 3])
def test_data_reuploading_repeats_embedding_and_fresh_layers(repeats: int) -> None:
    layers = [StronglyEntanglingLayers(1, 2), EntanglingLayer(2, "linear", "crz")]
    block = DataReuploading(AngleEmbedding(2, "Y"), layers, n_repeats=repeats)
    c = Circuit(2).add(block)
    per_repeat = 6 + 1  # one Rot (3 angles) per wire, one CRZ angle on the one pair
    assert block.shape() == (c.n_weights,) == (per_repeat * repeats,)
    rng = np.random.default_rng(repeats)
    x, w = rng.uniform(-2, 2, (2, 2)), rng.uniform(-3, 3, c.n_weights)

    def body(s: np.ndarray | None) -> None:
        for k in range(repeats):
            chunk = w[k * per_repeat : (k + 1) * per_repeat]
            qml.AngleEmbedding(s, wires=[0, 1], rotation="Y")
            qml.StronglyEntanglingLayers(chunk[:6].reshape(1, 2, 3), wires=[0, 1])
            qml.CRZ(chunk[6], wires=[0, 1])

    _check(c, body, x, w)


# ---------------------------------------------------------------------- shape, resources
RESOURCE_CASES: list[tuple[object, int]] = [
    (AngleEmbedding(3, "Z"), 3),
    (AngleEmbedding([2, 0], "X", hadamard=True), 3),
    (AmplitudeEmbedding(3), 2),
    (IQPEmbedding(3, n_repeats=2), 3),
    (IQPEmbedding([3, 1, 0], n_repeats=3, pattern=[(0, 3)]), 4),
    (IQPEmbedding(4, n_repeats=2, pattern=[]), 4),
    (BasicEntanglerLayers(3, 1, "Z"), 1),
    (BasicEntanglerLayers(2, 2, "Y"), 2),
    (BasicEntanglerLayers(3, [3, 0, 2], "X"), 4),
    (StronglyEntanglingLayers(3, 1), 1),
    (StronglyEntanglingLayers(2, 2, imprimitive="cz"), 2),
    (StronglyEntanglingLayers(3, 4, ranges=(1, 3, 2)), 4),
    (RotationLayer([2, 0], ("X", "Z", "X")), 3),
    *((EntanglingLayer(4, "ring", g), 4) for g in sorted(TWO_QUBIT)),
    (EntanglingLayer([1, 2, 0], "full", "crx"), 3),
    (EntanglingLayer(5, "odd", "cz"), 5),
    (EntanglingLayer(1, "ring", "rzz"), 1),
    (DataReuploading(AngleEmbedding(2, hadamard=True), [RotationLayer(2, ("Y", "Z"))], 3), 2),
    (DataReuploading(IQPEmbedding(3), [StronglyEntanglingLayers(2, 3),
                                        EntanglingLayer(3, "ring", "ryy")], 2), 3),
]  # fmt: skip


@pytest.mark.parametrize(("template", "n"), RESOURCE_CASES, ids=repr)
def test_resources_and_shape_are_those_of_the_built_circuit(template: Any, n: int) -> None:
    c = Circuit(n).add(template)
    assert template.resources() == Counter(resources(c).gate_counts)
    assert math.prod(template.shape()) == c.n_weights


def _pennylane_op(template: Any) -> Any:
    """PennyLane's template of the same name with the same options (weights random)."""
    rng = np.random.default_rng(0)
    ws = _ws(template.wires)
    if isinstance(template, AngleEmbedding):
        return qml.AngleEmbedding(rng.uniform(size=len(ws)), ws, template.rotation)
    if isinstance(template, IQPEmbedding):
        return qml.IQPEmbedding(rng.uniform(size=len(ws)), ws, template.n_repeats,
                                template.pattern)  # fmt: skip
    if isinstance(template, BasicEntanglerLayers):
        w = rng.uniform(size=qml.BasicEntanglerLayers.shape(template.n_layers, len(ws)))
        return qml.BasicEntanglerLayers(w, ws, ROTATION[template.rotation])
    w = rng.uniform(size=qml.StronglyEntanglingLayers.shape(template.n_layers, len(ws)))
    gate = {"cnot": qml.CNOT, "cz": qml.CZ}[template.imprimitive]
    return qml.StronglyEntanglingLayers(w, ws, template.ranges, imprimitive=gate)


@pytest.mark.parametrize(
    ("template", "n"),
    [(t, n) for t, n in RESOURCE_CASES if type(t).__name__ in dir(qml)
     and not getattr(t, "hadamard", False) and not isinstance(t, AmplitudeEmbedding)],
    ids=repr,
)  # fmt: skip
def test_resources_count_pennylanes_decomposition(template: Any, n: int) -> None:
    ops = _pennylane_op(template).decomposition()
    assert template.resources() == Counter(QUARCH_NAME[op.name] for op in ops)


def test_amplitude_embedding_is_one_state_preparation_without_weights() -> None:
    t = AmplitudeEmbedding(4)
    c = Circuit(2).add(t)
    assert [op.name for op in c.ops] == ["amplitude_embedding"]
    assert t.resources() == Counter(op.name for op in c.ops)


@pytest.mark.parametrize("template", [AngleEmbedding(2), IQPEmbedding(2), AmplitudeEmbedding(4)])
def test_embeddings_allocate_no_weights(template: Any) -> None:
    c = Circuit(2).add(template)
    assert c.n_weights == 0 == math.prod(template.shape())
    assert template.shape() == (0,)


# ---------------------------------------------------------------------- errors
ROT_MSG = "rotation must be one of X, Y, Z; got 'W'"
ERRORS: list[tuple[Callable[[], object], type[Exception], str]] = [
    (lambda: AngleEmbedding(2, "W"), CircuitError, ROT_MSG),
    (lambda: BasicEntanglerLayers(1, 2, "W"), CircuitError, ROT_MSG),
    (lambda: BasicEntanglerLayers(0, 2), ValueError, "n_layers must be an integer >= 1; got 0"),
    (lambda: StronglyEntanglingLayers(0, 2), ValueError,
     "n_layers must be an integer >= 1; got 0"),
    (lambda: StronglyEntanglingLayers(1, 2, imprimitive="swap"), CircuitError,
     "imprimitive must be 'cnot' or 'cz'; got 'swap'"),
    (lambda: StronglyEntanglingLayers(2, 3, ranges=(1,)), ValueError,
     "ranges must have one entry per layer (2); got 1"),
    (lambda: IQPEmbedding(2, n_repeats=0), ValueError,
     "n_repeats must be an integer >= 1; got 0"),
    (lambda: Circuit(4).add(IQPEmbedding([0, 1], pattern=[(0, 3)])), CircuitError,
     "IQPEmbedding pattern pair (0, 3) is not in wires (0, 1)"),
    (lambda: Circuit(4).add(IQPEmbedding([0, 1], pattern=[(2, 1)])), CircuitError,
     "IQPEmbedding pattern pair (2, 1) is not in wires (0, 1)"),
    (lambda: RotationLayer(2, ("Y", "W")), CircuitError,
     "rotations must be a non-empty tuple of X/Y/Z; got ('Y', 'W')"),
    (lambda: RotationLayer(2, ()), CircuitError,
     "rotations must be a non-empty tuple of X/Y/Z; got ()"),
    (lambda: EntanglingLayer(3, gate="swap"), CircuitError,
     "gate must be one of cnot, cz, crz, crx, cry, rzz, rxx, ryy; got 'swap'"),
    (lambda: EntanglingLayer(2, "range-2"), CircuitError,
     "pattern 'range-2' needs a range in [1, 1]; got 2"),
    (lambda: EntanglingLayer(1, "range-2"), CircuitError,
     "pattern 'range-2' needs a range in [1, 1]; got 2"),
    (lambda: EntanglingLayer(1, "star"), CircuitError,
     f"unknown entanglement pattern 'star'; allowed: {ALLOWED}"),
    (lambda: DataReuploading(AngleEmbedding(2), n_repeats=0), ValueError,
     "n_repeats must be an integer >= 1; got 0"),
    (lambda: DataReuploading(AmplitudeEmbedding(4)), CircuitError,
     "DataReuploading cannot repeat an AmplitudeEmbedding"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("make", "exc", "message"), ERRORS, ids=[f"{i}-{m[:30]}" for i, (_, _, m) in enumerate(ERRORS)]
)
def test_invalid_options_raise_with_their_message(
    make: Callable[[], object], exc: type[Exception], message: str
) -> None:
    with _exact(exc, message):
        make()


@pytest.mark.parametrize(
    "template",
    [AngleEmbedding([0, 3]), IQPEmbedding([0, 3]), BasicEntanglerLayers(1, [0, 3]),
     StronglyEntanglingLayers(1, [0, 3]), RotationLayer([0, 3]), EntanglingLayer([0, 3])],
    ids=lambda t: type(t).__name__,
)  # fmt: skip
def test_template_wider_than_circuit_names_itself(template: Any) -> None:
    msg = f"{type(template).__name__} uses wire 3; the circuit has wires 0..2"
    with _exact(CircuitError, msg):
        Circuit(3).add(template)


def test_shortest_valid_options_build() -> None:
    """One layer, one repeat, every valid range and both imprimitives are accepted."""
    c = Circuit(3)
    c.add(StronglyEntanglingLayers(1, 3, ranges=(1,), imprimitive="cz"))
    c.add(StronglyEntanglingLayers(2, 3, ranges=(2, 1)))
    c.add(BasicEntanglerLayers(1, 3)).add(DataReuploading(AngleEmbedding(3), n_repeats=1))
    for r in (1, 2):
        c.add(EntanglingLayer(3, f"range-{r}", "cz"))
    assert c.n_weights == 9 + 18 + 3
