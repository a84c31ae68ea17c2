"""What the surrogate-based quantum strategies share: a Bayesian quadratic model of the
cost over one-hot bits, the QUBO it turns into, and batched proposals.

**The model** (as in BOCS, Baptista and Poloczek, ICML 2018): the cost of an
architecture is a second-order polynomial of its one-hot bits,

    f(x) = sum_i a_i x_i + sum_{i<j, different choices} b_ij x_i x_j,

with a Gaussian prior on the coefficients (variance ``tau_lin**2`` for ``a``, a smaller
``tau_pair**2`` for ``b``, so that interactions are believed only when the data show
them) and Gaussian noise. Products of two bits of the same choice are always 0 and are
left out. The posterior is computed in the n-by-n form (n the number of trials) and
Thompson samples are drawn with the exact algorithm of Bhattacharya, Chakraborty and
Mallick (Biometrika 2016), so the cost grows with the number of trials, not with the
number of coefficients (which is quadratic in the bits). The prior and noise scales are
picked by marginal likelihood on a small grid at every fit.

**The target** is the same for one value, a weighted cost and several objectives, with
or without constraints: the normal score of each trial's rank (best first; see
:func:`quarch.search._common.order_trials`), so the model sees comparable numbers in
every study and is not dragged by outliers such as an untrainable cell.

**The QUBO**: ``f`` plus the one-hot penalty ``P * sum_choices (sum_bits - 1)**2`` as an
upper-triangular matrix (:meth:`QuadraticModel.qubo`) or a
``dimod.BinaryQuadraticModel``; ``P`` exceeds every bit's largest possible gain, so a
minimiser of the QUBO is a valid code. Circuit registers encode choices in one-hot or
binary code; :func:`decode_codes` maps every basis state to an architecture (codes that
name no option decode with the space's repair rule).

**Batches**: fitting and solving (or simulating a circuit) every trial would be too
slow for the circuits, so a strategy proposes ``batch_size`` architectures at once,
from the trials numbered before the batch (:func:`propose_batched`). Batch ``b``
covers trials ``n_startup + b * batch_size ...``; its proposals are a pure function of
the seed and those trials and are stored in the study's system attrs under
``"<ClassName>:batch:<b>"``, so a resumed study and several workers agree on them.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import ndtri

from quarch._errors import ConfigError
from quarch.search._common import (
    History,
    PopulationSampler,
    Proposal,
    order_trials,
)

if TYPE_CHECKING:
    import dimod
    from optuna import Study
    from optuna.trial import FrozenTrial

__all__ = [
    "CircuitSizeError",
    "QuadraticModel",
    "arch_ids",
    "decode_codes",
    "fit_known",
    "fit_quadratic",
    "normal_scores",
    "propose_batched",
    "rank_scores",
    "rank_targets",
    "single_thread",
]

_PRIOR_PAIR = (0.05, 0.15, 0.4)
_NOISE = (0.02, 0.1, 0.3, 0.8)


class CircuitSizeError(ConfigError):
    """A strategy that simulates a state vector was given a register too large."""


# -- the model -------------------------------------------------------------------------
class QuadraticModel:
    """Coefficients of a second-order model over one-hot bits.

    Args:
        sizes (Sequence[int]): number of options of each choice.
        w (np.ndarray): coefficients, shape ``(n_features(sizes),)``: first the one-hot
            bits in order, then for every pair of choices ``j < k`` the
            ``sizes[j] * sizes[k]`` products (row-major over ``(option_j, option_k)``).
    """

    def __init__(self, sizes: Sequence[int], w: np.ndarray) -> None:
        self.sizes = [int(k) for k in sizes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(int)
        self.n_bits = int(sum(self.sizes))
        self.pairs = list(itertools.combinations(range(len(self.sizes)), 2))
        self.w = np.asarray(w, dtype=float)
        if self.w.shape != (n_features(self.sizes),):
            raise ValueError(
                f"w must have shape ({n_features(self.sizes)},) for sizes {self.sizes}; "
                f"got {self.w.shape}"
            )

    def linear(self) -> np.ndarray:
        """Coefficient of every one-hot bit, shape ``(n_bits,)``."""
        return self.w[: self.n_bits].copy()

    def quadratic(self) -> np.ndarray:
        """Upper-triangular pair coefficients over one-hot bits, ``(n_bits, n_bits)``."""
        Q = np.zeros((self.n_bits, self.n_bits))
        pos = self.n_bits
        for j, k in self.pairs:
            a, b = self.sizes[j], self.sizes[k]
            block = self.w[pos : pos + a * b].reshape(a, b)
            Q[self.offsets[j] : self.offsets[j] + a, self.offsets[k] : self.offsets[k] + b] = block
            pos += a * b
        return Q

    def energy(self, X: np.ndarray) -> np.ndarray:
        """Model value of architectures given as option indices ``(m, n_choices)``."""
        X = np.asarray(X, dtype=np.int64)
        out = np.zeros(X.shape[0])
        for j, off in enumerate(self.offsets):
            out += self.w[off + X[:, j]]
        pos = self.n_bits
        for j, k in self.pairs:
            out += self.w[pos + X[:, j] * self.sizes[k] + X[:, k]]
            pos += self.sizes[j] * self.sizes[k]
        return out

    def penalty(self) -> float:
        """One-hot penalty weight larger than any bit's largest possible gain."""
        lin = np.abs(self.linear())
        Q = np.abs(self.quadratic())
        gain = lin + Q.sum(0) + Q.sum(1)
        return float(1.0 + gain.max()) if gain.size else 1.0

    def qubo(self, penalty: float | None = None) -> tuple[np.ndarray, float]:
        """Upper-triangular QUBO matrix (diagonal = linear terms) with the one-hot
        penalty, and its constant offset, over the one-hot bits."""
        P = self.penalty() if penalty is None else float(penalty)
        Q = self.quadratic()
        Q[np.diag_indices(self.n_bits)] += self.linear()
        # P * (sum x - 1)^2 = P * (-sum x + 2 sum_{i<j} x_i x_j + 1) for binary x.
        for off, k in zip(self.offsets, self.sizes, strict=True):
            idx = np.arange(off, off + k)
            Q[idx, idx] -= P
            iu = np.triu_indices(k, 1)
            Q[idx[iu[0]], idx[iu[1]]] += 2.0 * P
        return Q, P * len(self.sizes)

    def main_effects(self) -> np.ndarray:
        """The best linear approximation of the model over uniformly random
        architectures: per one-hot bit, its coefficient plus the mean of each of its
        pair blocks over the other choice's options (the ANOVA main effects; the
        grand mean of a block goes to its first choice). Shape ``(n_bits,)``.

        Why: a budget enters the QUBO as a linear inequality with slack variables
        (:class:`quarch.search._problem.Constraint`), and a quadratic constraint
        would need quartic terms; what the pairs add beyond their main effects is
        left to the exact check of every candidate.
        """
        lin = self.linear()
        pos = self.n_bits
        for j, k in self.pairs:
            a, b = self.sizes[j], self.sizes[k]
            block = self.w[pos : pos + a * b].reshape(a, b)
            lin[self.offsets[j] : self.offsets[j] + a] += block.mean(1)
            lin[self.offsets[k] : self.offsets[k] + b] += block.mean(0) - block.mean()
            pos += a * b
        return lin

    def shifted(self, c: float) -> QuadraticModel:
        """The model plus the constant ``c`` (added to the first choice's options:
        exactly one of them is set in every architecture)."""
        w = self.w.copy()
        w[: self.sizes[0]] += float(c)
        return QuadraticModel(self.sizes, w)

    def scaled(self, a: float) -> QuadraticModel:
        """The model times ``a``."""
        return QuadraticModel(self.sizes, self.w * float(a))

    def plus(self, other: QuadraticModel) -> QuadraticModel:
        """The sum of two models over the same choices."""
        return QuadraticModel(self.sizes, self.w + other.w)

    def to_bqm(self, penalty: float | None = None) -> dimod.BinaryQuadraticModel:
        """The penalised QUBO as a ``dimod.BinaryQuadraticModel`` on variables 0..n-1."""
        import dimod

        Q, offset = self.qubo(penalty)
        rows, cols = np.nonzero(np.triu(Q, 1))
        return dimod.BinaryQuadraticModel.from_numpy_vectors(
            np.diag(Q).copy(), (rows, cols, Q[rows, cols]), offset, dimod.BINARY
        )


def n_features(sizes: Sequence[int]) -> int:
    """Number of model coefficients for choices of ``sizes`` options."""
    s = [int(k) for k in sizes]
    return sum(s) + sum(a * b for a, b in itertools.combinations(s, 2))


def features(X: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Design matrix ``(m, n_features)`` of option indices ``X`` ``(m, n_choices)``."""
    X = np.asarray(X, dtype=np.int64).reshape(-1, len(sizes))
    m = X.shape[0]
    Phi = np.zeros((m, n_features(sizes)))
    rows = np.arange(m)
    off = 0
    for j, k in enumerate(sizes):
        Phi[rows, off + X[:, j]] = 1.0
        off += k
    for j, k in itertools.combinations(range(len(sizes)), 2):
        Phi[rows, off + X[:, j] * sizes[k] + X[:, k]] = 1.0
        off += sizes[j] * sizes[k]
    return Phi


class _Posterior:
    """Gaussian posterior of the coefficients (prior variances ``d``, noise ``s2``)."""

    def __init__(
        self, Phi: np.ndarray, y: np.ndarray, d: np.ndarray, s2: float, K: np.ndarray
    ) -> None:
        self.Phi, self.y, self.d, self.s2 = Phi, y, d, s2
        self.chol = np.linalg.cholesky(K + s2 * np.eye(len(y)))
        self.alpha = self._solve(y)
        self._mean: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        """Posterior mean of the coefficients."""
        if self._mean is None:
            self._mean = self.d * (self.Phi.T @ self.alpha)
        return self._mean

    def _solve(self, r: np.ndarray) -> np.ndarray:
        from scipy.linalg import cho_solve

        return cho_solve((self.chol, True), r)

    def log_evidence(self) -> float:
        n = len(self.y)
        return float(
            -0.5 * self.y @ self.alpha
            - np.log(np.diag(self.chol)).sum()
            - 0.5 * n * math.log(2 * math.pi)
        )

    def draw(self, rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
        """One posterior sample (Bhattacharya et al. 2016), spread scaled by ``scale``."""
        u = rng.standard_normal(self.d.size) * np.sqrt(self.d)
        delta = rng.standard_normal(self.y.size) * math.sqrt(self.s2)
        v = self.Phi @ u + delta
        sample = u + self.d * (self.Phi.T @ self._solve(self.y - v))
        return self.mean + scale * (sample - self.mean)


def fit_quadratic(
    X: np.ndarray,
    y: np.ndarray,
    sizes: Sequence[int],
    *,
    prior_pair: Sequence[float] = _PRIOR_PAIR,
    noise: Sequence[float] = _NOISE,
) -> _Posterior:
    """Fit the Bayesian quadratic model; prior and noise scales by marginal likelihood.

    Args:
        X: option indices ``(m, n_choices)``, ``m >= 1``.
        y: targets ``(m,)`` (lower is better), about unit scale.
        sizes: options per choice.
        prior_pair: the grid of pair prior scales ``tau`` (the linear one is 1).
        noise: the grid of noise variances.
    """
    Phi = features(X, sizes)
    n_lin = int(sum(sizes))
    # Gram matrices of the linear and the pair features: K = G_lin + tau^2 G_pair.
    g_lin = Phi[:, :n_lin] @ Phi[:, :n_lin].T
    g_pair = Phi[:, n_lin:] @ Phi[:, n_lin:].T
    best: tuple[float, float, float] | None = None
    for tau in prior_pair:
        K = g_lin + tau**2 * g_pair
        for s2 in noise:
            chol = np.linalg.cholesky(K + s2 * np.eye(len(y)))
            a = np.linalg.solve(chol, y)
            ev = -0.5 * float(a @ a) - float(np.log(np.diag(chol)).sum())
            if best is None or ev > best[0]:
                best = (ev, tau, s2)
    assert best is not None
    _, tau, s2 = best
    d = np.full(Phi.shape[1], tau**2)
    d[:n_lin] = 1.0
    return _Posterior(Phi, y, d, s2, g_lin + tau**2 * g_pair)


def fit_known(X: np.ndarray, y: np.ndarray, sizes: Sequence[int]) -> QuadraticModel:
    """Least-squares quadratic fit of a metric known for every architecture (params,
    FLOPs, a latency table), on a design of many architectures rather than on trials.

    A tiny ridge (1e-8 of the features' scale) keeps the solve defined when the design
    does not pin every pair coefficient down; a metric that is quadratic in the one-hot
    bits (NB201's params and FLOPs are linear) is recovered exactly.
    """
    Phi = features(X, sizes)
    y = np.asarray(y, dtype=float)
    m, p = Phi.shape
    ridge = 1e-8 * max(m, 1)
    if m < p:  # dual form: (Phi Phi^T + r I) a = y, w = Phi^T a
        w = Phi.T @ np.linalg.solve(Phi @ Phi.T + ridge * np.eye(m), y)
    else:
        w = np.linalg.solve(Phi.T @ Phi + ridge * np.eye(p), Phi.T @ y)
    return QuadraticModel(sizes, w)


def normal_scores(loss: np.ndarray) -> np.ndarray:
    """Normal scores of the ranks of ``loss`` (lowest first; ties by position)."""
    loss = np.asarray(loss, dtype=float)
    n = loss.size
    if n == 0:
        return np.zeros(0)
    rank = np.empty(n)
    rank[np.argsort(loss, kind="stable")] = np.arange(n)
    return ndtri((rank + 0.5) / n)


def rank_scores(loss: np.ndarray) -> np.ndarray:
    """The surrogates' target for one objective: normal scores of the ranks of ``loss``,
    standardised. Scale-free, so a study's units do not matter, and robust: a tail of
    broken architectures (an NB201 cell whose paths are all ``none`` scores 10 %)
    counts as the worst ranks, not as outliers that drag the fit."""
    r = normal_scores(loss)
    if r.size < 2:
        return r
    sd = float(r.std())
    return (r - r.mean()) / (sd if sd > 0 else 1.0)


def rank_targets(trials: Sequence[FrozenTrial], directions: Sequence[Any]) -> np.ndarray:
    """Normal scores of the trials' ranks (best lowest), shape ``(len(trials),)``."""
    n = len(trials)
    if n == 0:
        return np.zeros(0)
    rank = order_trials(trials, directions)
    return ndtri((rank + 0.5) / n)


# -- encodings of circuit registers ----------------------------------------------------
def n_qubits(sizes: Sequence[int], encoding: str) -> int:
    """Register width for choices of ``sizes`` options in ``encoding``."""
    if encoding == "onehot":
        return int(sum(sizes))
    return int(sum(math.ceil(math.log2(k)) if k > 1 else 0 for k in sizes))


_DECODE_CACHE: dict[tuple[tuple[int, ...], str], np.ndarray] = {}


def decode_codes(sizes: Sequence[int], encoding: str) -> np.ndarray:
    """Option indices of every basis state of the register, ``(2**n, n_choices)``.

    Wire 0 is the most significant bit of the basis index (quarch's convention), and
    codes that name no option are repaired as :meth:`quarch.space.Space.from_bits` does.
    """
    key = (tuple(int(k) for k in sizes), encoding)
    if key in _DECODE_CACHE:
        return _DECODE_CACHE[key]
    n = n_qubits(sizes, encoding)
    z = np.arange(2**n, dtype=np.int64)
    out = np.zeros((2**n, len(sizes)), dtype=np.int16)
    start = 0
    for j, k in enumerate(sizes):
        nb = k if encoding == "onehot" else (math.ceil(math.log2(k)) if k > 1 else 0)
        if nb == 0:
            continue
        code = (z >> (n - start - nb)) & ((1 << nb) - 1)
        if encoding == "onehot":
            # first set bit (most significant first) or option 0 when none is set
            first = np.zeros(2**n, dtype=np.int16)
            found = np.zeros(2**n, dtype=bool)
            for b in range(k):
                hit = ((code >> (nb - 1 - b)) & 1).astype(bool) & ~found
                first[hit] = b
                found |= hit
            out[:, j] = first
        else:
            out[:, j] = code % k
        start += nb
    if len(_DECODE_CACHE) > 8:
        _DECODE_CACHE.clear()
    _DECODE_CACHE[key] = out
    return out


def arch_ids(X: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Mixed-radix id of each architecture (rows of option indices)."""
    X = np.asarray(X, dtype=np.int64).reshape(-1, len(sizes))
    out = np.zeros(X.shape[0], dtype=np.int64)
    for j, k in enumerate(sizes):
        out = out * int(k) + X[:, j]
    return out


# -- batched proposals -----------------------------------------------------------------
@contextlib.contextmanager
def single_thread(uses_torch: bool = False) -> Iterator[None]:
    """Run small dense algebra (BLAS, torch) on one thread, then restore the pools.

    The matrices here are small (hundreds of rows, registers of <= 2**12 amplitudes):
    a thread pool costs more than it saves, and on a busy machine its spinning threads
    made fits and circuit runs 10-20x slower.
    """
    from threadpoolctl import threadpool_limits

    if uses_torch:
        importlib.import_module("torch")  # so that its pool is limited too
    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    try:
        if torch is not None:
            torch.set_num_threads(1)
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        if torch is not None and old is not None:
            torch.set_num_threads(old)


BatchMaker = Callable[
    ["Study", History, np.random.Generator, int, int], tuple[list[Proposal], dict[str, Any]]
]


def propose_batched(
    sampler: PopulationSampler,
    study: Study,
    trial: FrozenTrial,
    hist: History,
    *,
    batch_size: int,
    n_startup: int,
    make_batch: BatchMaker,
    uses_torch: bool = False,
) -> Proposal:
    """The proposal of ``trial`` for a strategy that proposes a batch at a time.

    A function the batch strategies call from their ``_propose``, not a base class, so
    that they stay one level below :class:`~quarch.search._common.PopulationSampler`.
    The first ``n_startup`` trials are uniform draws; then trial ``t`` belongs to batch
    ``b = (t - n_startup) // batch_size``, made once by ``make_batch(study, hist, rng,
    batch_size, start)`` from the trials numbered before ``start``, the batch's first
    trial, and stored in the study's system attrs under ``"<ClassName>:batch:<b>"``
    (the space named too when it is inferred: :meth:`PopulationSampler._state_key`).

    ``make_batch`` returns up to ``batch_size`` distinct unseen proposals (topped up
    here to exactly ``batch_size``) and per-proposal records: lists of ``batch_size``
    JSON values, each stored on its trial as the system attr ``"<ClassName>:<name>"``.

    Streams: ``make_batch`` draws from ``sampler._rng(start, 1)`` and the top-up from
    ``sampler._rng(start, 2)``, each batch's own and apart from every trial's
    ``sampler._rng(t)``. ``uses_torch`` (a strategy that simulates with torch) imports
    torch before the batch, so that its thread pool is held to one thread as well.
    """
    name = type(sampler).__name__
    t = trial.number
    rng = sampler._rng(t)
    if t < n_startup:
        return sampler._unique(lambda _: sampler._uniform(hist, rng), hist.seen)
    b, pos = divmod(t - n_startup, batch_size)
    start = n_startup + b * batch_size
    key = f"{sampler._state_key(f'{name}:batch:', hist)}{b}"
    attrs = study._storage.get_study_system_attrs(study._study_id)
    if key in attrs:
        batch = attrs[key]
    else:
        sub = _before(hist, start)
        if not sub.trials:
            return sampler._unique(lambda _: sampler._uniform(hist, rng), hist.seen)
        with single_thread(uses_torch):
            props, info = make_batch(study, sub, sampler._rng(start, 1), batch_size, start)
        batch = {"proposals": _fill(props, sub, sampler._rng(start, 2), batch_size)}
        batch.update(info)
        study._storage.set_study_system_attr(study._study_id, key, batch)
    prop = [int(v) for v in batch["proposals"][pos]]
    for field, per_trial in batch.items():
        if field != "proposals" and isinstance(per_trial, list):
            study._storage.set_trial_system_attr(trial._trial_id, f"{name}:{field}", per_trial[pos])
    if tuple(prop) in hist.seen:  # another worker took it meanwhile
        base = prop
        prop = sampler._unique(lambda _: sampler._mutate(base, hist, rng), hist.seen)
    return prop


def _before(hist: History, start: int) -> History:
    keep = [i for i, t in enumerate(hist.trials) if t.number < start]
    trials = [hist.trials[i] for i in keep]
    keep_s = [i for i, t in enumerate(hist.skipped) if t.number < start]
    return History(
        names=hist.names,
        sizes=hist.sizes,
        trials=trials,
        X=hist.X[keep],
        rank=order_trials(trials, hist.directions),
        seen=hist.seen,
        directions=hist.directions,
        skipped=[hist.skipped[i] for i in keep_s],
        X_skipped=None if hist.X_skipped is None else hist.X_skipped[keep_s],
        choices=hist.choices,
    )


def _fill(
    props: list[Proposal], hist: History, rng: np.random.Generator, size: int
) -> list[Proposal]:
    """Make ``props`` exactly ``size`` distinct proposals, unseen where possible.

    The unseen ones of ``props`` are kept in order; each top-up is, with probability
    1/2, the previous proposal (before any: the first trial) with one choice redrawn,
    else a uniform draw, tried until one is unseen (at most 50 tries; then the first
    unseen architecture in product order, or a uniform draw when none is left)."""
    out: list[Proposal] = []
    taken = set(hist.seen)
    for p in props:
        if tuple(p) not in taken and len(out) < size:
            out.append([int(v) for v in p])
            taken.add(tuple(p))
    total = math.prod(hist.sizes)
    while len(out) < size:
        base = out[-1] if out else (hist.X[0].tolist() if len(hist.X) else None)
        cand = None
        for _ in range(50):
            if base is not None and rng.random() < 0.5:
                c = list(base)
                j = int(rng.integers(len(c)))
                c[j] = int(rng.integers(hist.sizes[j]))
            else:
                c = [int(rng.integers(k)) for k in hist.sizes]
            if tuple(c) not in taken:
                cand = c
                break
        if cand is None:
            cand = [int(rng.integers(k)) for k in hist.sizes]
            if len(taken) < total:  # exhaustive fallback on small spaces
                for idx in itertools.product(*(range(k) for k in hist.sizes)):
                    if idx not in taken:
                        cand = list(idx)
                        break
        out.append(cand)
        taken.add(tuple(cand))
    return out
