"""Grover's measurement probabilities are squared moduli: never below zero.

Independent truth: the closed form ``sin((2k + 1) theta)**2`` with ``sin(theta)**2 =
M / N`` (Boyer, Brassard, Hoyer and Tapp 1998) for the marked states, its complement
for the rest, and ``|a|**2 >= 0``. The oracle's phase ``exp(i pi)`` leaves imaginary
parts of ~1e-16 in the amplitudes, so the squares of both parts must be added.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from quarch.search._grover import amplified_probs


@pytest.mark.parametrize(("n", "marked", "k"), [(2, [3], 1), (3, [1], 2), (4, [5, 9, 12], 1)])
def test_probabilities_are_squared_moduli(n: int, marked: list[int], k: int) -> None:
    """E.g. one marked state of four after one iteration: certainty, the other three
    exactly 0 in exact arithmetic (their amplitudes' real parts cancel to 0)."""
    N = 2**n
    flags = np.zeros(N, dtype=bool)
    flags[marked] = True
    probs = amplified_probs(flags, k)
    theta = math.asin(math.sqrt(len(marked) / N))
    hit = math.sin((2 * k + 1) * theta) ** 2
    assert np.all(probs >= 0.0)
    np.testing.assert_allclose(probs[flags], hit / len(marked), rtol=0, atol=1e-14)
    np.testing.assert_allclose(probs[~flags], (1 - hit) / (N - len(marked)), rtol=0, atol=1e-14)
