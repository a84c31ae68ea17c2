"""Tests of the ``cnn`` space definition."""

from __future__ import annotations

import math

import pytest
import torch

from quarch.space._space import SpaceError
from quarch.spaces import get_space
from quarch.spaces.cnn.model import EdgeCNN
from quarch.spaces.cnn.space import cnn_space


class TestInputs:
    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"n_stages": 0}, r"n_stages must be in \[1, 5\]; got 0"),
            ({"n_stages": 6}, r"n_stages must be in \[1, 5\]; got 6"),
            ({"max_blocks": 5}, r"max_blocks must be in \[1, 4\]; got 5"),
            ({"kernels": (3, 4)}, r"kernels must be odd positive integers; got \[3, 4\]"),
            ({"expansions": (0,)}, r"expansions must be integers >= 1; got \[0\]"),
            ({"width_mults": (0.0,)}, r"width_mults must lie in \(0, 2\]; got \[0.0\]"),
            ({"activations": ("gelu",)}, r"activations must be a subset of"),
            ({"bits": (4,)}, r"bits must be a subset of \[8, 32\]; got \[4\]"),
        ],
    )
    def test_bad_arguments(self, kwargs: dict, match: str) -> None:
        with pytest.raises(ValueError, match=match):
            cnn_space(**kwargs)

    def test_rejects_value_outside_options(self) -> None:
        s = cnn_space()
        arch = s.sample(0)
        arch["kernel_0_0"] = 9
        with pytest.raises(SpaceError, match=r"kernel_0_0=9 is not an allowed value"):
            s.validate(arch)


class TestStructure:
    def test_size_is_product_of_options(self) -> None:
        # 3 widths x 3 activations x 2 skip x 2 bits, then per stage 3 depths and
        # (3 kernels x 3 expansions x 2 SE) per block slot.
        per_stage = 3 * (3 * 3 * 2) ** 3
        assert cnn_space().size == 3 * 3 * 2 * 2 * per_stage**3
        assert len(cnn_space()) == 4 + 3 * (1 + 3 * 3)

    def test_registry_builds_it(self) -> None:
        s = get_space("cnn", n_stages=2, max_blocks=2)
        assert s.name == "cnn"
        assert s["depth_1"].options == (1, 2)
        assert "kernel_2_0" not in s.names

    def test_issue_choices(self) -> None:
        s = cnn_space()
        assert s["kernel_1_2"].options == (3, 5, 7)
        assert s["expand_0_0"].options == (1, 3, 6)
        assert s["activation"].options == ("relu", "relu6", "hardswish")
        assert s["bits"].options == (8, 32)
        assert s["se_0_0"].options == (False, True)
        assert s["skip"].options == (False, True)

    @pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 16, 16)])
    def test_every_sample_builds_for_small_and_mnist_images(self, shape: tuple) -> None:
        s = cnn_space()
        for seed in range(2):
            model = EdgeCNN(s.sample(seed), shape, 7).eval()
            assert model(torch.zeros(2, *shape)).shape == (2, 7)

    def test_bit_encodings_round_trip(self) -> None:
        s = cnn_space(n_stages=2, max_blocks=2)
        arch = s.sample(3)
        assert s.from_bits(s.to_bits(arch, "binary"), "binary") == arch
        assert s.n_bits("binary") == sum(math.ceil(math.log2(len(c))) for c in s.choices)
