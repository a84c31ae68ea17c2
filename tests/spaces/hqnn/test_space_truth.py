"""The ``hqnn`` space against its docstrings and the README: every choice in its
documented order, every option list, each bound just inside and just outside, each
refusal's whole line, the tied form and the ``range-r`` rule by brute force."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from quarch.quantum.templates import entangler_pairs
from quarch.spaces.hqnn.space import (
    EMBEDDINGS,
    ENTANGLEMENTS,
    ENTANGLING_GATES,
    FRONTENDS,
    HEADS,
    MEASUREMENTS,
    ROTATIONS,
    SMALL_INPUT_MAX_QUBITS,
    effective_pattern,
    hqnn_space,
    layer_choice,
)

# the README's row: "embedding (angle-x/y/z, amplitude, IQP), qubits, layers, per-layer
# rotations and entanglement (none, linear, ring, full, odd, even, range-r), CNOT/CZ/CRZ,
# re-uploading, measurement, classical front-end and head, learning rate"
README_EMBEDDINGS = ["angle-x", "angle-y", "angle-z", "amplitude", "iqp"]
README_PATTERNS = ["none", "linear", "ring", "full", "odd", "even"] + [
    f"range-{r}" for r in range(1, 6)
]


def _opts(space: object, name: str) -> list:
    return list(space[name].options)  # type: ignore[index]


def test_the_default_choices_in_the_documented_order() -> None:
    s = hqnn_space()
    per_layer = [f"{k}_{i}" for i in range(6) for k in ("rotation", "entanglement")]
    tail = ["entangler", "reupload", "measurement", "frontend", "head", "lr"]
    assert s.names == ["embedding", "qubits", "layers", *per_layer, *tail]
    assert s.name == "hqnn"
    assert _opts(s, "embedding") == README_EMBEDDINGS == list(EMBEDDINGS)
    assert _opts(s, "qubits") == list(range(2, 13))  # min_qubits 2, max 12
    assert _opts(s, "layers") == [1, 2, 3, 4, 5, 6]
    for i in range(6):
        assert _opts(s, f"rotation_{i}") == ["ry", "rx-ry-rz", "rot"] == list(ROTATIONS)
        assert _opts(s, f"entanglement_{i}") == README_PATTERNS == list(ENTANGLEMENTS)
    assert _opts(s, "entangler") == ["cnot", "cz", "crz"] == list(ENTANGLING_GATES)
    assert _opts(s, "reupload") == [False, True]
    assert _opts(s, "measurement") == ["z", "zz"] == list(MEASUREMENTS)
    assert _opts(s, "frontend") == ["linear", "mlp-256", "cnn", "pca"] == list(FRONTENDS)
    assert _opts(s, "head") == ["linear", "mlp"] == list(HEADS)
    assert _opts(s, "lr") == [0.01, 0.03, 0.1]
    assert "layout" not in s.names and "rotation" not in s.names


def test_narrowed_options_are_the_given_ones() -> None:
    s = hqnn_space(
        min_qubits=3, max_qubits=5, min_layers=2, max_layers=3, embeddings=["iqp", "angle-x"],
        rotations=["rot"], entanglements=["ring", "range-4"], entangling_gates=["cz"],
        reupload=[True], measurements=["zz"], frontends=["pca"], heads=["mlp"],
        learning_rates=[0.5, 2], layouts=2,
    )  # fmt: skip
    per_layer = [f"{k}_{i}" for i in range(3) for k in ("rotation", "entanglement")]
    assert s.names == [
        "embedding", "qubits", "layers", *per_layer, "entangler", "reupload",
        "measurement", "frontend", "head", "lr", "layout",
    ]  # fmt: skip
    assert _opts(s, "embedding") == ["iqp", "angle-x"]
    assert _opts(s, "qubits") == [3, 4, 5]
    assert _opts(s, "layers") == [2, 3]
    assert _opts(s, "rotation_2") == ["rot"]
    assert _opts(s, "entanglement_2") == ["ring", "range-4"]
    assert _opts(s, "entangler") == ["cz"]
    assert _opts(s, "reupload") == [True]
    assert _opts(s, "measurement") == ["zz"]
    assert _opts(s, "frontend") == ["pca"]
    assert _opts(s, "head") == ["mlp"]
    assert _opts(s, "lr") == [0.5, 2.0]
    assert _opts(s, "layout") == [0, 1]
    # a single reupload given as a plain value (a --space-option) is one option
    assert _opts(hqnn_space(reupload=[False]), "reupload") == [False]
    assert all(type(v) is bool for v in _opts(hqnn_space(), "reupload"))


def test_tied_layers_choose_once_for_every_layer() -> None:
    s = hqnn_space(max_layers=4, tied_layers=True, rotations=["ry", "rot"])
    assert s.names == [
        "embedding", "qubits", "layers", "rotation", "entanglement", "entangler",
        "reupload", "measurement", "frontend", "head", "lr",
    ]  # fmt: skip
    assert _opts(s, "rotation") == ["ry", "rot"]
    assert _opts(s, "entanglement") == README_PATTERNS
    # the space's size is the product of its options
    sizes = [5, 11, 4, 2, 11, 3, 2, 2, 4, 2, 3]
    assert s.size == math.prod(sizes)


def test_the_default_widest_circuit_follows_the_data_set() -> None:
    assert SMALL_INPUT_MAX_QUBITS == {"iris": 4, "wine": 6, "breast-cancer": 6}
    for data, widest in [("iris", 4), ("wine", 6), ("breast-cancer", 6), ("mnist", 12)]:
        assert _opts(hqnn_space(dataset=data), "qubits") == list(range(2, widest + 1))
    assert _opts(hqnn_space(), "qubits") == list(range(2, 13))
    # max(min_qubits, the default): a narrow data set with a wider minimum is one width
    assert _opts(hqnn_space(dataset="iris", min_qubits=5), "qubits") == [5]
    assert _opts(hqnn_space(dataset="mnist", min_qubits=14), "qubits") == [14]
    assert _opts(hqnn_space(dataset="iris", max_qubits=3), "qubits") == [2, 3]


def test_bounds_just_inside_are_accepted() -> None:
    assert _opts(hqnn_space(min_qubits=16, max_qubits=16), "qubits") == [16]
    assert _opts(hqnn_space(min_qubits=2, max_qubits=2), "qubits") == [2]
    assert _opts(hqnn_space(min_layers=12, max_layers=12), "layers") == [12]
    assert _opts(hqnn_space(min_layers=1, max_layers=1), "layers") == [1]
    assert _opts(hqnn_space(min_layers=3, max_layers=3), "layers") == [3]
    assert _opts(hqnn_space(min_qubits=4, max_qubits=4), "qubits") == [4]
    assert _opts(hqnn_space(layouts=64), "layout") == list(range(64))
    assert _opts(hqnn_space(layouts=1), "layout") == [0]
    assert "layout" not in hqnn_space(layouts=0).names
    assert _opts(hqnn_space(learning_rates=[1e-300]), "lr") == [1e-300]
    text: list[Any] = ["0.2"]  # a --space-option's text
    assert _opts(hqnn_space(learning_rates=text), "lr") == [0.2]
    assert "rotation" in hqnn_space(tied_layers=True).names


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"min_qubits": 1}, "min_qubits must be an integer in [2, 16]; got 1"),
        ({"min_qubits": 17}, "min_qubits must be an integer in [2, 16]; got 17"),
        ({"min_qubits": 2.0}, "min_qubits must be an integer in [2, 16]; got 2.0"),
        ({"max_qubits": 17}, "max_qubits must be an integer in [2, 16] (min_qubits..16); got 17"),
        ({"min_qubits": 5, "max_qubits": 4},
         "max_qubits must be an integer in [5, 16] (min_qubits..16); got 4"),
        ({"max_qubits": 4.0}, "max_qubits must be an integer in [2, 16] (min_qubits..16); got 4.0"),
        ({"min_layers": 0}, "min_layers must be an integer in [1, 12]; got 0"),
        ({"min_layers": 13}, "min_layers must be an integer in [1, 12]; got 13"),
        ({"min_layers": 1.0}, "min_layers must be an integer in [1, 12]; got 1.0"),
        ({"max_layers": 13}, "max_layers must be an integer in [1, 12] (min_layers..12); got 13"),
        ({"min_layers": 3, "max_layers": 2},
         "max_layers must be an integer in [3, 12] (min_layers..12); got 2"),
        ({"max_layers": 2.0}, "max_layers must be an integer in [1, 12] (min_layers..12); got 2.0"),
        ({"tied_layers": 1}, "tied_layers must be true or false; got 1"),
        ({"tied_layers": "yes"}, "tied_layers must be true or false; got 'yes'"),
        ({"layouts": -1}, "layouts must be an integer in [0, 64]; got -1"),
        ({"layouts": 65}, "layouts must be an integer in [0, 64]; got 65"),
        ({"layouts": True}, "layouts must be an integer in [0, 64]; got True"),
        ({"layouts": 2.0}, "layouts must be an integer in [0, 64]; got 2.0"),
        ({"learning_rates": ["fast"]}, "learning_rates must be numbers > 0; got ['fast']"),
        ({"learning_rates": [None]}, "learning_rates must be numbers > 0; got [None]"),
        ({"learning_rates": []}, "learning_rates must be a non-empty list of numbers > 0; got []"),
        ({"learning_rates": [0.1, 0.0]},
         "learning_rates must be a non-empty list of numbers > 0; got [0.1, 0.0]"),
        ({"learning_rates": [-0.1]},
         "learning_rates must be a non-empty list of numbers > 0; got [-0.1]"),
        ({"learning_rates": [math.inf]},
         "learning_rates must be a non-empty list of numbers > 0; got [inf]"),
        ({"learning_rates": [math.nan]},
         "learning_rates must be a non-empty list of numbers > 0; got [nan]"),
        ({"embeddings": ["angle-w"]},
         f"embeddings must be a non-empty subset of {README_EMBEDDINGS}; got ['angle-w']"),
        ({"embeddings": []}, f"embeddings must be a non-empty subset of {README_EMBEDDINGS}; got []"),
        ({"rotations": ["ry", "rz"]},
         "rotations must be a non-empty subset of ['ry', 'rx-ry-rz', 'rot']; got ['ry', 'rz']"),
        ({"entanglements": ["range-6"]},
         f"entanglements must be a non-empty subset of {README_PATTERNS}; got ['range-6']"),
        ({"entangling_gates": ["swap"]},
         "entangling_gates must be a non-empty subset of ['cnot', 'cz', 'crz']; got ['swap']"),
        ({"reupload": ["maybe"]},
         "reupload must be a non-empty subset of [False, True]; got ['maybe']"),
        ({"measurements": ["x"]}, "measurements must be a non-empty subset of ['z', 'zz']; got ['x']"),
        ({"frontends": ["rnn"]},
         "frontends must be a non-empty subset of ['linear', 'mlp-256', 'cnn', 'pca']; got ['rnn']"),
        ({"heads": []}, "heads must be a non-empty subset of ['linear', 'mlp']; got []"),
    ],
)  # fmt: skip
def test_each_refusal_is_its_whole_line(kwargs: dict, line: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(line)}$"):
        hqnn_space(**kwargs)


def test_layer_choice_reads_either_form() -> None:
    own = {
        "rotation_0": "ry",
        "rotation_1": "rot",
        "rotation": "rx-ry-rz",
        "entanglement_1": "ring",
    }
    assert layer_choice(own, "rotation", 1) == "rot"
    assert layer_choice(own, "rotation", 0) == "ry"
    assert layer_choice(own, "rotation", 2) == "rx-ry-rz"  # no own choice: the shared one
    assert layer_choice(own, "entanglement", 1) == "ring"
    with pytest.raises(KeyError):
        layer_choice(own, "entanglement", 0)


def _brute_range(r: int, n: int) -> int:
    """The distance a ``range-r`` pattern keeps on ``n`` wires: ``r`` itself when
    ``r < n``, else fold ``r`` into ``1..n-1`` (1, 2, ..., n-1, 1, 2, ...)."""
    cycle = list(range(1, n))
    return r if r < n else cycle[(r - 1) % len(cycle)]


@pytest.mark.parametrize("n", range(2, 17))
def test_effective_pattern_by_brute_force(n: int) -> None:
    for r in range(1, 6):
        eff = effective_pattern(f"range-{r}", n)
        assert eff == f"range-{_brute_range(r, n)}"
        entangler_pairs(n, eff)  # buildable
    for pat in ("none", "linear", "ring", "full", "odd", "even"):
        assert effective_pattern(pat, n) == pat


def test_effective_pattern_on_two_wires_and_fewer() -> None:
    # on two wires every range is range-1 (the only pair)
    assert [effective_pattern(f"range-{r}", 2) for r in range(1, 6)] == ["range-1"] * 5
    assert effective_pattern("range-3", 3) == "range-1"
    assert effective_pattern("range-4", 3) == "range-2"
    # one wire: nothing to fold into (no pairs at all), the name is kept
    assert effective_pattern("range-3", 1) == "range-3"
    assert effective_pattern("range-12", 5) == "range-4"
