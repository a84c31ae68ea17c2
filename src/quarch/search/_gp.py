"""A Gaussian process over categorical choices with a Hamming kernel, handed to the
QUBO solvers as the quadratic model closest to it.

**Why.** BOCS's quadratic model (:mod:`quarch.search._surrogate`) is itself a Gaussian
process, with the kernel "number of equal choices plus ``tau**2`` times the number of
equal pairs of choices": it cannot represent an effect of three or more choices at
once. On NAS-Bench-201 such effects are large (a cell whose paths to the output all
pass through ``none`` does not train whatever its other edges are), and after the first
20 trials of a search BOCS ranks the untried cells at Spearman 0.34 only
(``benchmarks/nb201_diagnose.py``). The exponentiated Hamming kernel

    k(x, x') = s2 * exp(-sum_j theta_j [x_j != x'_j])

gives every order of interaction a prior weight that decays with the order; for a
choice of ``k`` options it is COMBO's diffusion kernel on the complete graph
(Oh et al., NeurIPS 2019) and CASMOPOLITAN's exponentiated overlap kernel (Wan et al.,
ICML 2021). Its posterior is exact and cheap at a few hundred trials. The lengthscales
(one shared ``theta``, or one per choice with ``ard=True``) and the noise are picked
by marginal likelihood; the signal variance ``s2`` is profiled out.

**The QUBO.** The solvers minimise a quadratic form, so the process reaches them through
:class:`GPQuadratic`: its posterior mean and Thompson samples, drawn jointly on a
design of architectures (the trials and uniformly random ones, or every architecture
of a small space), are projected onto the quadratic models of
:class:`~quarch.search._surrogate.QuadraticModel` by least squares on that design.
:class:`GPQuadratic` has the ``mean`` / ``draw`` interface of BOCS's posterior, so
:class:`~quarch.search._models.Surrogates` takes it as ``surrogate="gp"``.

Written here rather than taken from a library: on the one-hot bits the kernel is an
RBF (``||b - b'||**2 = 2 * hamming``), so scikit-learn's ``GaussianProcessRegressor``
is the same process, and the tests check this module against it; but its
hyperparameters come from a gradient optimiser with random restarts, while a grid
over a profiled likelihood (one lengthscale, one noise ratio) is deterministic for a
run seed and takes milliseconds at a hundred trials. The exact posterior is a few
lines of NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.linalg import cho_solve

from quarch.search._surrogate import features, n_features

__all__ = ["Blend", "GPQuadratic", "HammingGP", "fit_gp", "fit_gp_quadratic"]

#: Marginal-likelihood grids: shared lengthscale and noise-to-signal ratio.
_THETA = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5)
_RATIO = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Architectures the process is sampled on before its projection onto quadratics.
DESIGN = 1024


class HammingGP:
    """Exact GP posterior with the kernel ``s2 * exp(-sum_j theta_j [x_j != x'_j])`` on targets ``y`` (zero prior mean: the targets are standardised).

    Args:
        X (np.ndarray): option indices of the trials ``(n, n_choices)``.
        y (np.ndarray): targets ``(n,)``.
        theta (np.ndarray): lengthscale per choice ``(n_choices,)``.
        ratio (float): noise variance over signal variance.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, theta: np.ndarray, ratio: float) -> None:
        self.X = np.asarray(X, dtype=np.int64)
        self.y = np.asarray(y, dtype=float)
        self.theta = np.asarray(theta, dtype=float)
        self.ratio = float(ratio)
        n = len(self.y)
        K = self._corr(self.X, self.X) + self.ratio * np.eye(n)
        self.chol = np.linalg.cholesky(K)
        self.alpha = cho_solve((self.chol, True), self.y)
        #: Signal variance by profile likelihood (the ML value given theta and ratio).
        self.s2 = max(float(self.y @ self.alpha) / max(n, 1), 1e-12)

    def _corr(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        # sum_j theta_j [a_j != b_j] = sum(theta) - (one-hot(a) * theta) @ one-hot(b):
        # one matrix product instead of an (m, n, n_choices) array.
        A = np.asarray(A, dtype=np.int64)
        B = np.asarray(B, dtype=np.int64)
        span = int(max(A.max(initial=0), B.max(initial=0))) + 1
        d = A.shape[1]
        OA = np.zeros((len(A), d * span))
        OB = np.zeros((len(B), d * span))
        cols = np.arange(d) * span
        OA[np.arange(len(A))[:, None], cols + A] = np.broadcast_to(self.theta, A.shape)
        OB[np.arange(len(B))[:, None], cols + B] = 1.0
        return np.exp(OA @ OB.T - self.theta.sum())

    def log_evidence(self) -> float:
        """Log marginal likelihood with the signal variance profiled out."""
        n = len(self.y)
        return float(
            -0.5 * n * (math.log(2 * math.pi * self.s2) + 1.0) - np.log(np.diag(self.chol)).sum()
        )

    def mean(self, Xq: np.ndarray) -> np.ndarray:
        """Posterior mean at ``Xq`` ``(m, n_choices)`` (in chunks: memory stays small)."""
        Xq = np.asarray(Xq, dtype=np.int64)
        out = np.zeros(len(Xq))  # not np.empty: a chunk left out must show, not hold old memory
        for s in range(0, len(Xq), 4096):
            out[s : s + 4096] = self._corr(Xq[s : s + 4096], self.X) @ self.alpha
        return out

    def cov(self, Xq: np.ndarray) -> np.ndarray:
        """Posterior covariance of the latent function at ``Xq``."""
        Kq = self._corr(Xq, self.X)
        v = np.linalg.solve(self.chol, Kq.T)
        return self.s2 * (self._corr(Xq, Xq) - v.T @ v)


def fit_gp(
    X: np.ndarray,
    y: np.ndarray,
    *,
    ard: bool = False,
    thetas: Sequence[float] = _THETA,
    ratios: Sequence[float] = _RATIO,
) -> HammingGP:
    """The :class:`HammingGP` of largest marginal likelihood: a grid over one shared
    lengthscale and the noise ratio, then (``ard=True``) per-choice lengthscales by
    L-BFGS from the grid's best (scipy, at most 60 iterations: a refinement that keeps
    a fit to milliseconds), each within ``[1e-3, 20]``.

    Grid points of equal evidence (the data cannot tell them apart: one trial, or one
    architecture tried again and again, leaves every lengthscale equally likely) go to
    the first in the grid's order; the default grid starts at the longest lengthscale
    and the least noise, the simplest process."""
    X = np.asarray(X, dtype=np.int64)
    d = X.shape[1]
    best: HammingGP | None = None
    for th in thetas:
        for r in ratios:
            gp = HammingGP(X, y, np.full(d, th), r)
            if best is None or gp.log_evidence() > best.log_evidence():
                best = gp
    assert best is not None
    if not ard or len(y) < 3:
        return best
    from scipy.optimize import minimize

    def neg(p: np.ndarray) -> float:
        try:
            return -HammingGP(X, y, np.exp(p[:d]), math.exp(p[d])).log_evidence()
        except np.linalg.LinAlgError:
            return 1e10

    p0 = np.concatenate([np.log(best.theta), [math.log(best.ratio)]])
    bounds = [(math.log(1e-3), math.log(20.0))] * d + [(math.log(1e-4), math.log(10.0))]
    res = minimize(neg, p0, method="L-BFGS-B", bounds=bounds, options={"maxiter": 60})
    if res.fun < -best.log_evidence():
        return HammingGP(X, y, np.exp(res.x[:d]), math.exp(res.x[d]))
    return best


class GPQuadratic:
    """A :class:`HammingGP` as quadratic-model coefficients: the least-squares
    projection of its posterior mean and of its joint Thompson samples on a design.

    Args:
        gp (HammingGP): the fitted process.
        sizes (Sequence[int]): options per choice.
        design (np.ndarray): architectures ``(m, n_choices)`` the projection is fitted
            on (:func:`fit_gp_quadratic` builds it).
        offset (float): the targets' mean, which the zero-mean process was fitted
            without; it is added back to the model (on the first choice's options,
            one of which every architecture sets), so the coefficients predict the
            targets themselves, not their deviation from the mean.
    """

    def __init__(
        self, gp: HammingGP, sizes: Sequence[int], design: np.ndarray, offset: float = 0.0
    ) -> None:
        self.gp = gp
        self.sizes = [int(k) for k in sizes]
        self.design = np.asarray(design, dtype=np.int64)
        # w = P f: the minimum-norm least-squares quadratic fit of values f (the
        # one-hot features are collinear, so the coefficients are not unique).
        self._proj = np.linalg.pinv(features(self.design, self.sizes))
        self._f_mean = gp.mean(self.design)
        self.mean = self._proj @ self._f_mean
        # the targets' mean, which the zero-mean process left out, on the first
        # choice's options (exactly one of them is set in every architecture)
        self.mean[: self.sizes[0]] += float(offset)
        self._chol: np.ndarray | None = None

    def draw(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """One joint posterior sample on the design, projected; spread times ``scale``."""
        if self._chol is None:
            C = self.gp.cov(self.design)
            jitter = 1e-8 * float(np.mean(np.diag(C))) + 1e-12
            self._chol = np.linalg.cholesky(C + jitter * np.eye(len(C)))
        z = rng.standard_normal(len(self.design))
        return self.mean + scale * (self._proj @ (self._chol @ z))


def fit_gp_quadratic(
    X: np.ndarray,
    y: np.ndarray,
    sizes: Sequence[int],
    rng: np.random.Generator,
    *,
    ard: bool = False,
    design: int = DESIGN,
) -> GPQuadratic:
    """Fit a :class:`HammingGP` to ``(X, y)`` and project it onto quadratic models on a
    design of the distinct trials and ``design`` uniform draws from ``rng`` (every
    architecture when the space has at most ``design``)."""
    X = np.asarray(X, dtype=np.int64).reshape(-1, len(sizes))
    y = np.asarray(y, dtype=float)
    # a zero-mean process on centred targets (a budget's constraint values are not)
    offset = float(y.mean()) if y.size else 0.0
    gp = fit_gp(X, y - offset, ard=ard)
    total = math.prod(int(k) for k in sizes)
    if total <= design:
        import itertools

        D = np.array(list(itertools.product(*(range(int(k)) for k in sizes))))
    else:
        extra = rng.integers(0, np.asarray(sizes), size=(design, len(sizes)))
        D = np.unique(np.concatenate([X, extra]), axis=0)
    assert D.shape[1] == len(sizes) and n_features(sizes) > 0
    return GPQuadratic(gp, sizes, D, offset)


class Blend:
    """Two posteriors over the same quadratic coefficients, averaged: the mean is the
    average of the means, and a Thompson sample is that mean plus the two samples'
    deviations from their means divided by ``sqrt(2)`` (so its spread is that of
    one model when the two are equally sure), e.g. BOCS and :class:`GPQuadratic`
    (``surrogate="bocs+gp"``): on NAS-Bench-201 CIFAR-10 the average ranked untried
    cells better than either after 20 trials (``benchmarks/nb201_surrogates.py``).

    Args:
        first, second: objects with a ``mean`` coefficient vector and a
            ``draw(rng, scale)`` method (BOCS's posterior, :class:`GPQuadratic`).
    """

    def __init__(self, first: Any, second: Any) -> None:
        self.first, self.second = first, second
        self.mean = 0.5 * (np.asarray(first.mean) + np.asarray(second.mean))

    def draw(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """One Thompson sample of the average, spread times ``scale``."""
        d1 = self.first.draw(rng, 1.0) - self.first.mean
        d2 = self.second.draw(rng, 1.0) - self.second.mean
        return self.mean + scale * (d1 + d2) / math.sqrt(2.0)
