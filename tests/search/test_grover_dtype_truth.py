"""Grover adaptive search reads the cost's values, not its dtype.

Independent truth: the same numbers in float64 (a float32 array converts to float64
exactly). A threshold between two float32 numbers (here: a hair above the cheapest
cost) marks the cheapest state in exact arithmetic; compared in float32, the threshold
would round onto that cost and mark nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from quarch.search._grover import grover_adaptive_search


@pytest.mark.parametrize("seed", range(4))
def test_a_float32_cost_searches_as_its_float64_values(seed: int) -> None:
    C32 = np.random.default_rng(seed).standard_normal(64).astype(np.float32)
    low = float(C32.min())
    threshold = low + abs(low) * 2.0**-30  # above the cheapest cost, below its float32 neighbour
    assert np.float32(threshold) == C32.min() and threshold > low
    got = grover_adaptive_search(C32, threshold, max_oracle_calls=40, seed=seed)
    want = grover_adaptive_search(C32.astype(np.float64), threshold, max_oracle_calls=40, seed=seed)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]
