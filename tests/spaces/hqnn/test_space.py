"""The hqnn space: its choices, options, defaults and the range-r rule."""

from __future__ import annotations

import itertools
import pickle

import pytest

from quarch.quantum.templates import entangler_pairs
from quarch.spaces import get_space
from quarch.spaces.hqnn.space import (
    EMBEDDINGS,
    ENTANGLEMENTS,
    FRONTENDS,
    effective_pattern,
    hqnn_space,
)


class TestCorrectness:
    def test_choices_follow_the_issue(self) -> None:
        s = get_space("hqnn")
        assert s.name == "hqnn"
        assert list(s["embedding"].options) == ["angle-x", "angle-y", "angle-z", "amplitude", "iqp"]
        assert list(s["qubits"].options) == list(range(2, 13))
        assert list(s["layers"].options) == list(range(1, 7))
        assert list(s["rotation_5"].options) == ["ry", "rx-ry-rz", "rot"]
        ents = ["none", "linear", "ring", "full", "odd", "even"]
        assert list(s["entanglement_0"].options) == ents + [f"range-{r}" for r in range(1, 6)]
        assert list(s["entangler"].options) == ["cnot", "cz", "crz"]
        assert list(s["reupload"].options) == [False, True]
        assert list(s["measurement"].options) == ["z", "zz"]
        assert list(s["frontend"].options) == ["linear", "mlp-256", "cnn", "pca"]
        assert list(s["head"].options) == ["linear", "mlp"]
        # fixed length: 3 + 2 per layer + 6 trailing choices
        assert len(s) == 3 + 2 * 6 + 6

    def test_size_is_product_of_options(self) -> None:
        s = hqnn_space(max_qubits=3, max_layers=1, embeddings=["iqp"], frontends=["pca"])
        expected = 1 * 2 * 1 * 3 * len(ENTANGLEMENTS) * 3 * 2 * 2 * 1 * 2 * 3
        assert s.size == expected == len(list(s))

    def test_small_input_default(self) -> None:
        assert list(hqnn_space(dataset="iris")["qubits"].options) == [2, 3, 4]
        assert max(hqnn_space(dataset="mnist")["qubits"].options) == 12
        assert max(hqnn_space(dataset="iris", max_qubits=7)["qubits"].options) == 7

    def test_effective_pattern_is_always_buildable(self) -> None:
        for n, pat in itertools.product(range(2, 13), ENTANGLEMENTS):
            eff = effective_pattern(pat, n)
            entangler_pairs(n, eff)  # raises when not buildable
            if pat.startswith("range-"):
                r = int(pat[6:])
                assert eff == (pat if r < n else f"range-{(r - 1) % (n - 1) + 1}")
            else:
                assert eff == pat

    def test_pickles_and_samples(self) -> None:
        s = hqnn_space()
        s2 = pickle.loads(pickle.dumps(s))
        assert s2.sample(3) == s.sample(3)
        assert s.is_valid(s.sample(0))
        assert set(EMBEDDINGS) and set(FRONTENDS)


class TestInputs:
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"min_qubits": 1}, r"min_qubits must be an integer in \[2, 16\]; got 1"),
            ({"max_qubits": 1}, r"max_qubits must be an integer in \[2, 16\].*got 1"),
            ({"min_layers": 0}, r"min_layers must be an integer in \[1, 12\]; got 0"),
            ({"max_layers": 13}, r"max_layers must be an integer in \[1, 12\].*got 13"),
            ({"embeddings": ["angle-w"]}, r"embeddings must be a non-empty subset of .*angle-w"),
            ({"frontends": []}, r"frontends must be a non-empty subset"),
            ({"learning_rates": [0.0]}, r"learning_rates must be a non-empty list of numbers > 0"),
        ],
    )
    def test_bad_arguments(self, kwargs: dict, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            hqnn_space(**kwargs)
