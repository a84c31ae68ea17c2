"""The one-hot penalty of a budgeted QUBO is above every bit's gain, by brute force.

``QUBOProblem.penalty`` promises a weight "above any bit's largest gain in the rest of
the QUBO (budgets included), so its minimisers are valid codes". Here the rest of the
QUBO (objective and budget slack penalties, one-hot penalty left out) is evaluated on
every bit vector, and each one-hot bit's largest change from flipping it is compared
with the penalty; then the penalised QUBO's ground states are checked to be valid codes.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quarch.search._problem import Constraint, QUBOProblem
from quarch.search._surrogate import QuadraticModel, n_features

SIZES = [3, 2, 3]


def _problem(seed: int, scale: float) -> QUBOProblem:
    """Objective and two budgets with random quadratic forms; ``scale`` sizes the
    budgets' forms against the objective's (large: the budget slack dominates)."""
    rng = np.random.default_rng(seed)
    f = QuadraticModel(SIZES, rng.standard_normal(n_features(SIZES)))
    g = QuadraticModel(SIZES, rng.standard_normal(n_features(SIZES)) * scale)
    h = QuadraticModel(SIZES, rng.standard_normal(n_features(SIZES)) * scale)
    cons = (Constraint("g", g.shifted(0.3)), Constraint("h", h.shifted(-1.0)))
    return QUBOProblem(f, np.zeros(len(SIZES), dtype=np.int64), cons, strength=3.0)


def _all_bits(n: int) -> np.ndarray:
    return ((np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(float)


@pytest.mark.parametrize(("seed", "scale"), [(0, 0.7), (1, 0.7), (2, 0.2), (3, 0.2)])
def test_penalty_is_above_every_one_hot_bits_gain(seed: int, scale: float) -> None:
    p = _problem(seed, scale)
    n = sum(SIZES)
    assert p.n_slack > 0  # the budgets are in the QUBO
    N = n + p.n_slack
    one_hot_penalty = np.zeros((N, N))
    one_hot_penalty[:n, :n] = p.model.qubo(p.penalty)[0] - p.model.qubo(0.0)[0]
    rest = p.Q - one_hot_penalty  # objective and budget slack penalties
    bits = _all_bits(N)
    energy = ((bits @ rest) * bits).sum(1)
    index = np.arange(2**N)
    largest = max(
        float(np.abs(energy[index ^ (1 << (N - 1 - i))] - energy).max()) for i in range(n)
    )
    assert p.penalty > largest
    # and so the penalised QUBO's ground states are valid one-hot codes
    full = ((bits @ p.Q) * bits).sum(1)
    ground = bits[np.isclose(full, full.min())][:, :n]
    starts = np.cumsum([0, *SIZES])
    for a, b in itertools.pairwise(starts):
        assert (ground[:, a:b].sum(1) == 1).all()
