"""The ``cnn`` space's documented argument ranges, at their ends and just past them."""

from __future__ import annotations

import pytest

from quarch.spaces.cnn.space import BASE_CHANNELS, cnn_space


@pytest.mark.parametrize("n_stages", [1, 5])
@pytest.mark.parametrize("max_blocks", [1, 4])
def test_the_ends_of_the_ranges_are_allowed(n_stages: int, max_blocks: int) -> None:
    s = cnn_space(n_stages=n_stages, max_blocks=max_blocks)
    assert len(BASE_CHANNELS) == 5
    assert len(s) == 4 + n_stages * (1 + 3 * max_blocks)
    assert s[f"depth_{n_stages - 1}"].options == tuple(range(1, max_blocks + 1))
    assert f"kernel_{n_stages - 1}_{max_blocks - 1}" in s.names
    assert f"depth_{n_stages}" not in s.names
    assert f"kernel_0_{max_blocks}" not in s.names


def test_option_ends_are_allowed() -> None:
    s = cnn_space(kernels=(1,), expansions=(1,), width_mults=(2.0,), activations=("relu",),
                  bits=(32,))  # fmt: skip
    assert s["kernel_0_0"].options == (1,)
    assert s["expand_2_2"].options == (1,)
    assert s["width_mult"].options == (2.0,)
    assert s["bits"].options == (32,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"width_mults": (2.01,)}, r"width_mults must lie in \(0, 2\]; got \[2.01\]"),
        ({"width_mults": (-0.5,)}, r"width_mults must lie in \(0, 2\]"),
        ({"kernels": (-1,)}, r"kernels must be odd positive integers; got \[-1\]"),
        ({"kernels": (3.0,)}, r"kernels must be odd positive integers; got \[3.0\]"),
        ({"kernels": ()}, r"kernels must be odd positive integers; got \[\]"),
        ({"expansions": (2.5,)}, r"expansions must be integers >= 1; got \[2.5\]"),
        ({"expansions": ()}, r"expansions must be integers >= 1; got \[\]"),
        ({"max_blocks": 0}, r"max_blocks must be in \[1, 4\]; got 0"),
        ({"width_mults": ()}, r"width_mults must lie in \(0, 2\]; got \[\]"),
        ({"activations": ()}, r"activations must be a subset of"),
        ({"bits": ()}, r"bits must be a subset of \[8, 32\]; got \[\]"),
    ],
)
def test_just_outside_is_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=f"^{match}"):
        cnn_space(**kwargs)
