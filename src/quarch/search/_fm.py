"""A factorisation machine surrogate over one-hot bits, as FMQA uses it (Kitai et al.,
"Designing metamaterials with quantum annealing and factorization machines", Phys.
Rev. Research 2020).

A factorisation machine models the cost as

    f(x) = w0 + sum_i w_i x_i + sum_{i<j} <v_i, v_j> x_i x_j,

a quadratic function of the bits whose pair coefficients have rank ``rank``; it is a
QUBO as it stands. FMQA retrains one machine from a fresh start after every query and
lets that randomness explore. quarch trains a small bootstrap ensemble instead, so that
a Thompson sample is one member (each fitted to a resample of the trials) and the
posterior mean is the ensemble's mean: the same interface as the Bayesian quadratic
model of :mod:`quarch.search._surrogate`, so :class:`~quarch.search.QUBOSampler`
takes either (``surrogate="fm"`` or ``"bocs"``). Which of the two ranks held-out
architectures better is measured by ``benchmarks/surrogate_rank.py``.

Written here rather than taken from a library: the well-known FM packages (fastFM,
pyFM, libFM bindings) are unmaintained or do not install on current Python, and the
model is 40 lines of NumPy (full-batch Adam on the squared error with a small L2).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from quarch.search._surrogate import QuadraticModel, n_features

__all__ = ["FMEnsemble", "fit_fm", "fm_model"]


class FMEnsemble:
    """A bootstrap ensemble of factorisation machines, as quadratic-model coefficients.

    Args:
        sizes (Sequence[int]): options per choice.
        members (np.ndarray): coefficients of each member, ``(n_members, n_features)``
            in :class:`~quarch.search._surrogate.QuadraticModel`'s layout.
    """

    def __init__(self, sizes: Sequence[int], members: np.ndarray) -> None:
        self.sizes = [int(k) for k in sizes]
        self.members = np.asarray(members, dtype=float)
        self.mean = self.members.mean(0)

    def draw(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """One member, its spread around the mean scaled by ``scale``."""
        m = self.members[int(rng.integers(len(self.members)))]
        return self.mean + scale * (m - self.mean)


def _onehot(X: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    B = np.zeros((X.shape[0], int(sum(sizes))))
    rows = np.arange(X.shape[0])
    for j, off in enumerate(offsets):
        B[rows, off + X[:, j]] = 1.0
    return B


def _coefficients(w0: float, w: np.ndarray, V: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """A machine as :class:`QuadraticModel` coefficients (``w0`` on the first choice)."""
    sizes = [int(k) for k in sizes]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    out = np.zeros(n_features(sizes))
    n_bits = int(sum(sizes))
    out[:n_bits] = w
    out[: sizes[0]] += w0
    pos = n_bits
    for j in range(len(sizes)):
        for k in range(j + 1, len(sizes)):
            a, b = sizes[j], sizes[k]
            Vj = V[offsets[j] : offsets[j] + a]
            Vk = V[offsets[k] : offsets[k] + b]
            out[pos : pos + a * b] = (Vj @ Vk.T).ravel()
            pos += a * b
    return out


def _train(
    B: np.ndarray, y: np.ndarray, rank: int, rng: np.random.Generator, steps: int, l2: float
) -> tuple[float, np.ndarray, np.ndarray]:
    """Full-batch Adam on the mean squared error plus ``l2`` times the squared weights."""
    m, d = B.shape
    w0 = float(y.mean())
    w = np.zeros(d)
    V = rng.standard_normal((d, rank)) * 0.1
    params = [np.array([w0]), w, V]
    mom = [np.zeros_like(p) for p in params]
    vel = [np.zeros_like(p) for p in params]
    lr, b1, b2 = 0.05, 0.9, 0.999
    for t in range(1, steps + 1):
        w0a, wa, Va = params
        S = B @ Va  # (m, rank)
        pred = w0a[0] + B @ wa + 0.5 * ((S * S).sum(1) - B @ (Va * Va).sum(1))
        r = (pred - y) * (2.0 / m)
        g_w0 = np.array([r.sum()])
        g_w = B.T @ r + 2 * l2 * wa
        # d pred / d V[i, f] = B[:, i] * (S[:, f] - V[i, f] B[:, i]) (B binary)
        g_V = B.T @ (r[:, None] * S) - Va * (B.T @ r)[:, None] + 2 * l2 * Va
        for p, g, mo, ve in zip(params, (g_w0, g_w, g_V), mom, vel, strict=True):
            mo *= b1
            mo += (1 - b1) * g
            ve *= b2
            ve += (1 - b2) * g * g
            p -= lr * (mo / (1 - b1**t)) / (np.sqrt(ve / (1 - b2**t)) + 1e-8)
    return float(params[0][0]), params[1], params[2]


def fit_fm(
    X: np.ndarray,
    y: np.ndarray,
    sizes: Sequence[int],
    *,
    rng: np.random.Generator,
    rank: int = 4,
    members: int = 8,
    steps: int = 300,
    l2: float = 1e-3,
) -> FMEnsemble:
    """Fit ``members`` factorisation machines to bootstrap resamples of ``(X, y)``.

    Args:
        X: option indices ``(m, n_choices)``, ``m >= 1``.
        y: targets ``(m,)`` (lower is better), about unit scale.
        sizes: options per choice.
        rng: the generator of the resamples and initial factors.
        rank: factor dimension of the pair coefficients.
        members: machines in the ensemble.
        steps: Adam steps per machine.
        l2: weight of the squared-weight penalty.
    """
    X = np.asarray(X, dtype=np.int64).reshape(-1, len(sizes))
    y = np.asarray(y, dtype=float)
    B = _onehot(X, sizes)
    out = []
    for _ in range(members):
        idx = rng.integers(len(y), size=len(y)) if len(y) > 1 else np.zeros(1, dtype=int)
        w0, w, V = _train(B[idx], y[idx], rank, rng, steps, l2)
        out.append(_coefficients(w0, w, V, sizes))
    return FMEnsemble(sizes, np.stack(out))


def fm_model(ensemble: FMEnsemble) -> QuadraticModel:
    """The ensemble's mean as a :class:`QuadraticModel`."""
    return QuadraticModel(ensemble.sizes, ensemble.mean)
