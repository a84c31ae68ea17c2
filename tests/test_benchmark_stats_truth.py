"""The significance marks of ``quarch benchmark`` against SciPy called by hand and
against exact values.

``compare`` documents its method (percentile bootstrap of the difference of means,
9999 resamples from ``default_rng(seed)``; two-sided Mann-Whitney U); here the test
calls SciPy with exactly those settings and compares, and checks the cases SciPy is
not asked about (constants, too few scores, NaN, the sign for minimised scores) with
values worked out by hand. An exact rank-sum p-value of a tiny case is checked too:
three scores against three, all of one above all of the other, has two-sided
``p = 2 / C(6, 3) = 0.1``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import bootstrap, mannwhitneyu

from quarch.benchmark._stats import compare


def _scipy(
    x: np.ndarray, y: np.ndarray, sign: float, seed: int, n_resamples: int = 9999
) -> tuple[float, float, float]:
    res = bootstrap(
        (x, y),
        lambda u, v, axis=-1: sign * (u.mean(axis=axis) - v.mean(axis=axis)),
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    p = mannwhitneyu(x, y, alternative="two-sided").pvalue
    return float(res.confidence_interval.low), float(res.confidence_interval.high), float(p)


@pytest.mark.parametrize("maximize", [True, False])
@pytest.mark.parametrize("seed", [0, 3])
def test_interval_and_p_value_are_scipy_s_with_the_documented_settings(
    maximize: bool, seed: int
) -> None:
    gen = np.random.default_rng(11)
    x = gen.normal(0.9, 0.05, 10)
    y = np.concatenate([gen.normal(0.8, 0.05, 9), [0.2]])  # skewed: BCa would differ
    c = compare(x, y, maximize=maximize, seed=seed)
    assert c is not None
    sign = 1.0 if maximize else -1.0
    low, high, p = _scipy(x, y, sign, seed)
    assert c.difference == pytest.approx(sign * (x.mean() - y.mean()), abs=1e-15)
    assert (c.low, c.high) == pytest.approx((low, high), abs=1e-12)
    assert c.p_value == pytest.approx(p, abs=1e-15)
    assert c.low < c.difference < c.high


def test_the_exact_rank_sum_p_of_a_tiny_case() -> None:
    c = compare(np.array([4.0, 5.0, 6.0]), np.array([1.0, 2.0, 3.0]), maximize=True)
    assert c is not None and c.p_value == pytest.approx(0.1, abs=1e-12)
    assert c.difference == 3.0


def test_two_constants_need_no_resampling() -> None:
    ahead = compare(np.array([0.7, 0.7]), np.array([0.5, 0.5]), maximize=True)
    assert ahead is not None
    assert (ahead.difference, ahead.low, ahead.high, ahead.p_value) == pytest.approx(
        (0.2, 0.2, 0.2, 0.0), abs=1e-15
    )
    assert ahead.significant
    same = compare(np.array([0.5, 0.5, 0.5]), np.array([0.5, 0.5]), maximize=False)
    assert same is not None
    assert (same.difference, same.low, same.high, same.p_value) == (0.0, 0.0, 0.0, 1.0)
    assert not same.significant


def test_one_constant_beside_varying_scores_is_resampled() -> None:
    x, y = np.array([0.6, 0.6, 0.6, 0.6]), np.array([0.1, 0.3, 0.5, 0.2])
    c = compare(x, y, maximize=True)
    low, high, p = _scipy(x, y, 1.0, 0)
    assert c is not None and (c.low, c.high, c.p_value) == pytest.approx((low, high, p))
    assert c.low < c.high  # an interval, not the point of the constants' branch


def test_two_scores_each_are_enough_and_nan_is_left_out() -> None:
    assert compare(np.array([1.0]), np.array([0.0, 1.0]), maximize=True) is None
    assert compare(np.array([0.0, 1.0]), np.array([1.0, np.nan]), maximize=True) is None
    c = compare(np.array([1.0, np.nan, 2.0]), np.array([0.0, 1.0]), maximize=True)
    assert c is not None and c.difference == 1.0
    two = compare(np.array([3.0, 4.0]), np.array([0.0, 1.0]), maximize=True)
    assert two is not None and two.difference == 3.0
    assert two.p_value == pytest.approx(
        mannwhitneyu([3.0, 4.0], [0.0, 1.0], alternative="two-sided").pvalue
    )


def test_lists_and_integers_are_taken_as_floats() -> None:
    c = compare([3, 4, 5], [1, 1, 2], maximize=True)
    assert c is not None and c.difference == pytest.approx(8 / 3)


def test_the_default_seed_is_zero() -> None:
    gen = np.random.default_rng(5)
    x, y = gen.normal(0.9, 0.05, 8), gen.normal(0.85, 0.05, 8)
    assert compare(x, y, maximize=True) == compare(x, y, maximize=True, seed=0)
    assert compare(x, y, maximize=True) != compare(x, y, maximize=True, seed=1)


def test_the_number_of_resamples_is_the_one_asked_for() -> None:
    gen = np.random.default_rng(7)
    x, y = gen.normal(0.9, 0.05, 8), np.concatenate([gen.normal(0.85, 0.05, 7), [0.3]])
    c = compare(x, y, maximize=True, n_resamples=499, seed=2)
    assert c is not None
    assert (c.low, c.high) == pytest.approx(_scipy(x, y, 1.0, 2, n_resamples=499)[:2], abs=1e-12)
    assert (c.low, c.high) != pytest.approx(_scipy(x, y, 1.0, 2)[:2], abs=1e-12)


def test_none_is_a_missing_score_as_nan_is() -> None:
    """A seed whose run gave no score may be ``None`` in a list: left out, as NaN."""
    a, b = [0.9, None, 0.7, 0.8], [0.1, 0.3, None]
    c = compare(a, b, maximize=True)
    assert c == compare(np.array([0.9, 0.7, 0.8]), np.array([0.1, 0.3]), maximize=True)
    assert compare([0.9, None], [0.1, 0.3], maximize=True) is None
