"""VQE: expected cost against the uniform state, parameter-shift gradients against
finite differences, and the ansatz's starting state."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from quarch.search import VQESampler
from quarch.search._circuits import hardware_efficient, shift_gradient, shift_probs
from quarch.search._surrogate import single_thread
from quarch.search._vqe import minimize_vqe


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def _qubo_costs(n: int, seed: int) -> np.ndarray:
    Q = np.triu(np.random.default_rng(seed).standard_normal((n, n)))
    X = np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)
    return np.einsum("bi,ij,bj->b", X, Q, X)


class TestCorrectness:
    def test_ansatz_starts_uniform(self) -> None:
        plan, theta0 = hardware_efficient(5, 2)
        probs = shift_probs(plan, theta0)[0]
        np.testing.assert_allclose(probs, np.full(32, 1 / 32), atol=1e-6)

    def test_shift_gradient_matches_finite_differences(self) -> None:
        plan, theta0 = hardware_efficient(4, 1)
        theta = theta0 + np.random.default_rng(0).normal(0, 0.5, theta0.size)
        C = _qubo_costs(4, 1)
        grad = shift_gradient(shift_probs(plan, theta)) @ C
        eps = 1e-3
        fd = []
        for i in range(theta.size):
            up, dn = theta.copy(), theta.copy()
            up[i] += eps
            dn[i] -= eps
            fd.append((shift_probs(plan, up)[0] - shift_probs(plan, dn)[0]) @ C / (2 * eps))
        np.testing.assert_allclose(grad, fd, atol=2e-3)

    @pytest.mark.parametrize("seed", range(3))
    def test_expected_cost_at_most_uniform(self, seed: int) -> None:
        C = _qubo_costs(6, seed)
        probs, expected, uniform = minimize_vqe(C, layers=1, steps=30)
        assert uniform == pytest.approx(C.mean())
        assert probs.sum() == pytest.approx(1.0)
        assert expected == pytest.approx(probs @ C)
        assert expected < uniform - 0.5 * C.std()  # clearly below, not just equal

    def test_constructor_errors(self) -> None:
        with pytest.raises(ValueError, match=r"layers must be an integer >= 0; got -1"):
            VQESampler(layers=-1)
        with pytest.raises(ValueError, match=r"lr must be in \(0.0, 1.0\]; got 2"):
            VQESampler(lr=2)
