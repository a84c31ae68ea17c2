"""Is a strategy better than another on a task? Differences of final scores with a
bootstrap confidence interval and a rank-sum test, both from SciPy.

The runs of two strategies are independent samples (one per seed), and judged scores
are far from normal (NAS-Bench-201 picks pile up on a few cells), so the interval is
the percentile bootstrap of the difference of means (BCa needs a jackknife that ties
make degenerate) and the test is the two-sided Mann-Whitney U (Wilcoxon rank-sum),
which makes no assumption on the shape of either distribution.

**Which marks a gap significant: both.** The two can disagree on such data: the
rank-sum test asks whether one strategy's scores tend to rank above the other's, and
when picks pile up on a few cells it can find a shift the means do not show
(``qubo-sa`` against TPE on CIFAR-10: p = 0.0118 with the interval of the mean
difference [-0.089, +0.149]); the interval can exclude 0 through a few outlying runs
the ranks discount (``qpso-sg``: [-0.414, -0.007], p = 0.405). The claims a benchmark
is read for are about the mean score ("ahead of TPE"), so a gap is marked only when
the 95 % interval of the mean difference excludes 0 *and* the rank-sum p is below
:data:`ALPHA`: the difference is then in the mean and not carried by a few runs. This
is the conservative reading (each alone would mark more gaps).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["ALPHA", "Comparison", "compare"]

#: Significance level of the table's marks.
ALPHA = 0.05


@dataclass(frozen=True)
class Comparison:
    """One strategy against a reference.

    Attributes:
        difference (float): mean score of the strategy minus the reference's, signed so
            that a positive value means the strategy is better.
        low (float), high (float): 95 % bootstrap confidence interval of ``difference``.
        p_value (float): two-sided Mann-Whitney U p-value.

    A positive ``difference`` is a significant win when :attr:`significant` holds.
    """

    difference: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        """``p_value < ALPHA`` and the interval excludes 0 (see the module docstring)."""
        return self.p_value < ALPHA and (self.low > 0 or self.high < 0)


def compare(
    a: ArrayLike | Sequence[float | None],
    b: ArrayLike | Sequence[float | None],
    *,
    maximize: bool,
    n_resamples: int = 9999,
    seed: int = 0,
) -> Comparison | None:
    """``a`` against the reference ``b`` (final scores, one per seed; NaN and ``None``
    left out).

    Returns ``None`` when either has fewer than two scores.
    """
    from scipy.stats import bootstrap, mannwhitneyu

    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    x, y = x[~np.isnan(x)], y[~np.isnan(y)]
    if x.size < 2 or y.size < 2:
        return None
    sign = 1.0 if maximize else -1.0
    diff = sign * float(x.mean() - y.mean())
    if np.ptp(x) == 0 and np.ptp(y) == 0:  # two constants: nothing to resample
        return Comparison(diff, diff, diff, 1.0 if diff == 0 else 0.0)

    def stat(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return sign * (np.mean(u, axis=axis) - np.mean(v, axis=axis))

    res = bootstrap(
        (x, y),
        stat,
        n_resamples=n_resamples,
        method="percentile",
        rng=np.random.default_rng(seed),
        vectorized=True,
    )
    # finite here: the rank-sum p is NaN only when every score of both is one value,
    # the constants' branch above (checked over every tie pattern of 2-4 scores each)
    p = float(mannwhitneyu(x, y, alternative="two-sided").pvalue)
    low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Comparison(diff, low, high, p)
