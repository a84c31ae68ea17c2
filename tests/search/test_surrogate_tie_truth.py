"""The Bayesian quadratic fit on an evidence tie: the smaller pair prior wins.

The module docstring of ``quarch.search._surrogate`` says interactions are believed
"only when the data show them"; when two grid points of (pair prior ``tau``, noise
``s2``) give the same covariance ``K + s2 I`` (so the same evidence), the data do not
prefer either, and the fit keeps the first, smaller ``tau``.

Independent truth: the covariances compared as exact fractions; scipy's multivariate
normal density for the evidence over the grid.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from quarch.search._surrogate import _NOISE, _PRIOR_PAIR, features, fit_quadratic, rank_scores

#: 5 choices of 5 options, 11 trials, no two of which agree on two choices: the pair
#: Gram matrix is 10 I, so (tau 0.05, s2 0.3) and (tau 0.15, s2 0.1) give the same
#: covariance, and these targets put the evidence's maximum there.
_X = [
    [1, 0, 2, 4, 1], [3, 3, 3, 2, 0], [4, 4, 4, 3, 1], [2, 2, 0, 1, 4], [2, 3, 1, 3, 2],
    [3, 2, 4, 4, 3], [4, 1, 2, 2, 4], [0, 4, 0, 2, 3], [0, 0, 1, 1, 0], [0, 2, 3, 0, 1],
    [3, 1, 0, 0, 2],
]  # fmt: skip
_LOSS = [7, 9, 8, 10, 1, 0, 3, 2, 4, 5, 6]
_SIZES = [5] * 5


def _covariance(tau: float, s2: float) -> np.ndarray:
    Phi = features(np.array(_X), _SIZES)
    n_lin = sum(_SIZES)
    g_lin = Phi[:, :n_lin] @ Phi[:, :n_lin].T
    g_pair = Phi[:, n_lin:] @ Phi[:, n_lin:].T
    return g_lin + tau**2 * g_pair + s2 * np.eye(len(_X))


def _code_evidence(tau: float, s2: float, y: np.ndarray) -> float:
    """The evidence as the fit rounds it (Cholesky, triangular solve): only to tell
    whether this platform's rounding reaches the exact tie bit for bit."""
    chol = np.linalg.cholesky(_covariance(tau, s2))
    a = np.linalg.solve(chol, y)
    return -0.5 * float(a @ a) - float(np.log(np.diag(chol)).sum())


def test_an_evidence_tie_keeps_the_smaller_pair_prior() -> None:
    y = rank_scores(np.array(_LOSS))
    Phi = features(np.array(_X), _SIZES)
    g_pair = Phi[:, 25:] @ Phi[:, 25:].T
    assert np.array_equal(g_pair, 10 * np.eye(len(_X)))  # no two trials share a pair
    # the same covariance in exact arithmetic: 10 * tau^2 + s2 = 13/40 for both
    assert 10 * Fraction("0.05") ** 2 + Fraction("0.3") == 10 * Fraction("0.15") ** 2 + Fraction(
        "0.1"
    )
    grid = [(tau, s2) for tau in _PRIOR_PAIR for s2 in _NOISE]
    ev = {g: multivariate_normal(np.zeros(len(y)), _covariance(*g)).logpdf(y) for g in grid}
    others = [v for g, v in ev.items() if g not in ((0.05, 0.3), (0.15, 0.1))]
    assert ev[(0.05, 0.3)] > max(others) + 1e-3  # the tie is the maximum
    if _code_evidence(0.05, 0.3, y) != _code_evidence(0.15, 0.1, y):
        pytest.skip("this platform's rounding separates the two grid points")
    post = fit_quadratic(np.array(_X), y, _SIZES)
    assert post.s2 == 0.3
    assert np.all(post.d[25:] == 0.05**2)
