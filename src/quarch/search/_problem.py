"""What a QUBO solver sees and returns, and the local moves every solver's reads share.

Apart from :mod:`quarch.search._qubo` (the sampler that drives the surrogate loop) so
that solvers (:mod:`~quarch.search._annealers`, the circuit solvers) and the sampler
both import it and neither imports the other.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from quarch.search._common import Proposal
from quarch.search._surrogate import QuadraticModel

__all__ = ["QUBOProblem", "Solution", "Solver", "descend", "pick_unseen"]


# -- what a solver sees and returns ----------------------------------------------------
@dataclass(frozen=True, eq=False)
class QUBOProblem:
    """One Thompson sample of the surrogate, as a solver sees it.

    Solvers should read the cost through :meth:`energy`, :attr:`Q` and :attr:`penalty`
    rather than through ``model``, so that terms added to the problem later (such as
    budget penalties) reach every solver.

    Attributes:
        model (QuadraticModel): the sampled model.
        incumbent (np.ndarray): the model's best tried architecture, option indices
            ``(n_choices,)``: where a decomposition into sub-QUBOs starts.
    """

    model: QuadraticModel
    incumbent: np.ndarray

    @property
    def sizes(self) -> list[int]:
        """Number of options of each choice."""
        return self.model.sizes

    def energy(self, X: np.ndarray) -> np.ndarray:
        """Cost of architectures given as option indices ``(m, n_choices)``."""
        return self.model.energy(X)

    @functools.cached_property
    def penalty(self) -> float:
        """Weight of the one-hot penalty in :attr:`Q`."""
        return self.model.penalty()

    @functools.cached_property
    def Q(self) -> np.ndarray:
        """Upper-triangular QUBO ``x^T Q x`` over the one-hot bits (diagonal = linear
        terms), one-hot penalty included: its minimisers are valid codes. It equals
        :meth:`energy` on valid codes up to the constant ``penalty * n_choices``."""
        return self.model.qubo(self.penalty)[0]

    def decode(self, bits: np.ndarray) -> np.ndarray:
        """Architectures ``(m, n_choices)`` of one-hot reads ``(m, n_bits)``, each
        polished by :func:`descend` (reads of the penalised QUBO may stop one barrier
        short of a better valid code)."""
        rows = [descend(self, _decode(b, self.sizes)) for b in np.asarray(bits)]
        return np.asarray(rows, dtype=np.int64).reshape(len(rows), len(self.sizes))


@dataclass
class Solution:
    """What a solver may return instead of the bare candidate arrays.

    Attributes:
        candidates (list[np.ndarray]): per problem, architectures ``(m, n_choices)``.
        counters (dict[str, float]): what the call spent (e.g. oracle calls), stored
            on each trial of the batch as the system attr ``"<SamplerClass>:<name>"``.
    """

    candidates: list[np.ndarray]
    counters: dict[str, float] = field(default_factory=dict)


class Solver(Protocol):
    """What :class:`QUBOSampler` calls; see the module docstring."""

    def __call__(
        self, problems: Sequence[QUBOProblem], rng: np.random.Generator
    ) -> Sequence[np.ndarray] | Solution: ...


# -- decoding and local moves ------------------------------------------------------------
def _decode(bits: np.ndarray, sizes: list[int]) -> Proposal:
    """Option indices of one-hot ``bits`` (first set bit; option 0 when none is set)."""
    out, start = [], 0
    for k in sizes:
        hits = np.flatnonzero(bits[start : start + k])
        out.append(int(hits[0]) if hits.size else 0)
        start += k
    return out


def _neighbours(sizes: Sequence[int], x: Sequence[int]) -> list[Proposal]:
    """Every architecture that differs from ``x`` in one choice, choice by choice."""
    out = []
    for j, k in enumerate(sizes):
        for o in range(k):
            if o != x[j]:
                nb = [int(v) for v in x]
                nb[j] = o
                out.append(nb)
    return out


def descend(problem: QUBOProblem | QuadraticModel, x: Proposal) -> Proposal:
    """Steepest descent of the cost over valid architectures (one choice changed per
    step) from ``x``: annealing reads of a penalised QUBO may stop one barrier (of
    height ~ the penalty) short of a better valid code, which this move crosses."""
    cur = [int(v) for v in x]
    e_cur = float(problem.energy(np.array([cur]))[0])
    while True:
        neigh = _neighbours(problem.sizes, cur)
        if not neigh:
            return cur
        e = problem.energy(np.array(neigh))
        i = int(np.argmin(e))
        if e[i] >= e_cur - 1e-12:
            return cur
        cur, e_cur = neigh[i], float(e[i])


def pick_unseen(
    problem: QUBOProblem | QuadraticModel,
    candidates: Sequence[Proposal],
    taken: set[tuple[int, ...]],
) -> Proposal | None:
    """The first candidate not in ``taken``; else the best untried neighbour of the
    candidates (one choice changed); ``None`` when there is none."""
    for c in candidates:
        if tuple(c) not in taken:
            return list(c)
    neigh = [
        nb for c in candidates for nb in _neighbours(problem.sizes, c) if tuple(nb) not in taken
    ]
    if not neigh:
        return None
    e = problem.energy(np.array(neigh))
    return neigh[int(np.argmin(e))]
