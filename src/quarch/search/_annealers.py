"""The annealing solvers of :class:`~quarch.search.QUBOSampler`: simulated annealing,
simulated quantum annealing and any ``dimod`` sampler (see :mod:`quarch.search._qubo`
for the solver protocol).

Each minimises the penalised QUBO of every problem (:attr:`QUBOProblem.Q
<quarch.search.QUBOProblem.Q>`) with :meth:`minimize`, which is also usable alone on
any upper-triangular QUBO matrix, and decodes the reads with
:meth:`QUBOProblem.decode <quarch.search.QUBOProblem.decode>`, which polishes each
read by steepest descent over valid architectures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._common import check_int

if TYPE_CHECKING:
    import dimod

    from quarch.search._problem import QUBOProblem

__all__ = ["DimodSolver", "SASolver", "SQASolver", "bqm_from_matrix", "check_slices"]


def bqm_from_matrix(Q: np.ndarray) -> dimod.BinaryQuadraticModel:
    """``x^T Q x`` (``Q`` upper-triangular, diagonal = linear) as a binary BQM on 0..n-1."""
    import dimod

    Q = np.asarray(Q, dtype=float)
    rows, cols = np.nonzero(np.triu(Q, 1))
    return dimod.BinaryQuadraticModel.from_numpy_vectors(
        np.diag(Q).copy(), (rows, cols, Q[rows, cols]), 0.0, dimod.BINARY
    )


# -- the annealing solvers ---------------------------------------------------------------
def _sample_dimod(
    sampler: Any, Qs: Sequence[np.ndarray], rng: np.random.Generator, kwargs: dict[str, Any]
) -> list[np.ndarray]:
    """Reads ``(reads, n)`` of each QUBO from a ``dimod.Sampler``, lowest energy first;
    a sampler that takes a ``seed`` gets one drawn from ``rng``, one QUBO after another."""
    out = []
    for Q in Qs:
        bqm = bqm_from_matrix(Q)
        kw = dict(kwargs)
        if "seed" in getattr(sampler, "parameters", {}):
            kw.setdefault("seed", int(rng.integers(2**31 - 1)))
        ss = sampler.sample(bqm, **kw)
        rec = ss.record
        order = np.argsort(rec.energy, kind="stable")
        cols = [ss.variables.index(v) for v in range(Q.shape[0])]
        out.append(np.asarray(rec.sample)[order][:, cols])
    return out


def _decode_all(problems: Sequence[QUBOProblem], reads: Sequence[np.ndarray]) -> list[np.ndarray]:
    return [p.decode(r) for p, r in zip(problems, reads, strict=True)]


class SASolver:
    """Simulated annealing of each problem's QUBO (``dwave-samplers``).

    Args:
        num_reads (int): anneals per problem, >= 1.
        num_sweeps (int): sweeps per anneal, >= 1.
        sample_kwargs (dict | None): further arguments of
            ``SimulatedAnnealingSampler.sample`` (they override the two above).
    """

    def __init__(
        self,
        *,
        num_reads: int = 10,
        num_sweeps: int = 1000,
        sample_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.num_reads = check_int("num_reads", num_reads, 1)
        self.num_sweeps = check_int("num_sweeps", num_sweeps, 1)
        self.sample_kwargs = _check_kwargs(sample_kwargs)

    def minimize(self, Qs: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """Reads ``(num_reads, n)`` of each QUBO ``x^T Q x``, lowest energy first."""
        from dwave.samplers import SimulatedAnnealingSampler

        kwargs = {"num_reads": self.num_reads, "num_sweeps": self.num_sweeps}
        return _sample_dimod(SimulatedAnnealingSampler(), Qs, rng, {**kwargs, **self.sample_kwargs})

    def __call__(
        self, problems: Sequence[QUBOProblem], rng: np.random.Generator
    ) -> list[np.ndarray]:
        return _decode_all(problems, self.minimize([p.Q for p in problems], rng))


class SQASolver:
    """Simulated quantum annealing of all problems' QUBOs at once
    (:func:`quarch.search._sqa.sqa_minimize`).

    Args:
        num_reads (int): anneals per problem, >= 1.
        num_sweeps (int): Monte Carlo sweeps per anneal, >= 1.
        n_slices (int): Trotter slices, even, >= 2.
    """

    def __init__(self, *, num_reads: int = 10, num_sweeps: int = 1000, n_slices: int = 8) -> None:
        self.num_reads = check_int("num_reads", num_reads, 1)
        self.num_sweeps = check_int("num_sweeps", num_sweeps, 1)
        self.n_slices = check_slices(n_slices)

    def minimize(self, Qs: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """Reads ``(num_reads, n)`` of each QUBO ``x^T Q x``, lowest energy first."""
        from quarch.search._sqa import sqa_minimize

        # QUBOs of different widths (budgets add slack bits) run as one batch, padded
        # with free bits of zero energy that are dropped afterwards.
        n = max(Q.shape[0] for Q in Qs)
        padded = np.zeros((len(Qs), n, n))
        for i, Q in enumerate(Qs):
            padded[i, : Q.shape[0], : Q.shape[0]] = Q
        bits, energy = sqa_minimize(
            padded,
            n_reads=self.num_reads,
            n_slices=self.n_slices,
            n_sweeps=self.num_sweeps,
            seed=rng,
        )
        return [
            b[np.argsort(e, kind="stable")][:, : Q.shape[0]]
            for b, e, Q in zip(bits, energy, Qs, strict=True)
        ]

    def __call__(
        self, problems: Sequence[QUBOProblem], rng: np.random.Generator
    ) -> list[np.ndarray]:
        return _decode_all(problems, self.minimize([p.Q for p in problems], rng))


class DimodSolver:
    """Any ``dimod.Sampler`` on each problem's QUBO, one problem after another.

    Args:
        sampler (dimod.Sampler | None): the sampler; ``None`` uses
            ``dwave.samplers.PathIntegralAnnealingSampler`` with ``num_reads``. It
            receives a ``seed`` drawn from the run's generator when its
            ``parameters`` list one.
        num_reads (int): reads of the default sampler, >= 1 (a sampler you pass
            gets only ``sample_kwargs``).
        sample_kwargs (dict | None): arguments of ``sampler.sample`` (for a QPU, e.g.
            ``{"num_reads": 100}``).
    """

    def __init__(
        self,
        sampler: dimod.Sampler | None = None,
        *,
        num_reads: int = 10,
        sample_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if sampler is not None and not callable(getattr(sampler, "sample", None)):
            raise ValueError(
                f"sampler must be a dimod.Sampler (with a .sample method); got {sampler!r}"
            )
        self.sampler = sampler
        self.num_reads = check_int("num_reads", num_reads, 1)
        self.sample_kwargs = _check_kwargs(sample_kwargs)

    def minimize(self, Qs: Sequence[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """Reads of each QUBO ``x^T Q x``, lowest energy first."""
        sampler, kwargs = self.sampler, dict(self.sample_kwargs)
        if sampler is None:
            from dwave.samplers import PathIntegralAnnealingSampler

            sampler = PathIntegralAnnealingSampler()
            kwargs = {"num_reads": self.num_reads, **kwargs}
        return _sample_dimod(sampler, Qs, rng, kwargs)

    def __call__(
        self, problems: Sequence[QUBOProblem], rng: np.random.Generator
    ) -> list[np.ndarray]:
        return _decode_all(problems, self.minimize([p.Q for p in problems], rng))


def _check_kwargs(kwargs: dict[str, Any] | None) -> dict[str, Any]:
    if kwargs is not None and not isinstance(kwargs, dict):
        raise ValueError(f"sample_kwargs must be a dict or None; got {kwargs!r}")
    return dict(kwargs or {})


def check_slices(n_slices: int) -> int:
    """Validate a number of Trotter slices (even, >= 2); the error names the value."""
    ok = isinstance(n_slices, int) and not isinstance(n_slices, bool)
    if not ok or n_slices < 2 or n_slices % 2:
        raise ValueError(f"n_slices must be an even integer >= 2; got {n_slices!r}")
    return n_slices
