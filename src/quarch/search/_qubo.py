"""QUBO surrogate search: fit a quadratic model of the cost on one-hot bits, add the
one-hot penalty, and anneal the resulting QUBO to propose the next architectures
(BOCS, Baptista and Poloczek 2018; FMQA, Kitai et al. 2020).

Every proposal minimises its own Thompson sample of the Bayesian quadratic model (see
:mod:`quarch.search._surrogate`), so a batch explores where the model is unsure. The
QUBO is a ``dimod.BinaryQuadraticModel`` and the minimiser one of:

* ``"sa"``: simulated annealing from ``dwave-samplers``;
* ``"sqa"``: simulated quantum annealing, quarch's vectorised path-integral Monte Carlo
  of the transverse-field Ising model (:mod:`quarch.search._sqa`);
* ``"dimod"``: any ``dimod.Sampler`` the user passes, e.g. a D-Wave QPU through
  ``dwave.system.EmbeddingComposite(DWaveSampler())`` and the user's Ocean
  configuration; by default ``dwave-samplers``' ``PathIntegralAnnealingSampler``
  (D-Wave's own path-integral quantum-annealing emulator, deterministic for a seed;
  its tabu search stops on a wall-clock timeout, so it would not reproduce).

The reads of each solve are decoded lowest energy first; the first architecture not yet
tried is proposed, and when every read was tried already the model's best untried
neighbour of the reads is proposed instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quarch.search._common import History, Proposal, check_int
from quarch.search._surrogate import QuadraticModel, SurrogateSampler

if TYPE_CHECKING:
    import dimod
    from optuna import Study
    from optuna.distributions import CategoricalDistribution

    from quarch.objectives import Objective
    from quarch.space import Space

__all__ = ["QUBOSampler", "make_qubo_dimod", "make_qubo_sa", "make_qubo_sqa"]

Solver = Literal["sa", "sqa", "dimod"]
_SOLVERS = ("sa", "sqa", "dimod")


def _decode(bits: np.ndarray, sizes: list[int]) -> Proposal:
    """Option indices of one-hot ``bits`` (first set bit; option 0 when none is set)."""
    out, start = [], 0
    for k in sizes:
        hits = np.flatnonzero(bits[start : start + k])
        out.append(int(hits[0]) if hits.size else 0)
        start += k
    return out


def bqm_from_matrix(Q: np.ndarray) -> dimod.BinaryQuadraticModel:
    """``x^T Q x`` (``Q`` upper-triangular, diagonal = linear) as a binary BQM on 0..n-1."""
    import dimod

    Q = np.asarray(Q, dtype=float)
    rows, cols = np.nonzero(np.triu(Q, 1))
    return dimod.BinaryQuadraticModel.from_numpy_vectors(
        np.diag(Q).copy(), (rows, cols, Q[rows, cols]), 0.0, dimod.BINARY
    )


def descend(model: QuadraticModel, x: Proposal) -> Proposal:
    """Steepest descent of the model over valid architectures (one choice changed per
    step) from ``x``: annealing reads of a penalised QUBO may stop one barrier (of
    height ~ the penalty) short of a better valid code, which this move crosses."""
    cur = [int(v) for v in x]
    e_cur = float(model.energy(np.array([cur]))[0])
    while True:
        neigh = []
        for j, k in enumerate(model.sizes):
            for o in range(k):
                if o != cur[j]:
                    nb = list(cur)
                    nb[j] = o
                    neigh.append(nb)
        if not neigh:
            return cur
        e = model.energy(np.array(neigh))
        i = int(np.argmin(e))
        if e[i] >= e_cur - 1e-12:
            return cur
        cur, e_cur = neigh[i], float(e[i])


def pick_unseen(
    model: QuadraticModel, candidates: list[Proposal], taken: set[tuple[int, ...]]
) -> Proposal | None:
    """The first candidate not in ``taken``; else the model's best untried neighbour of
    the candidates (one choice changed); ``None`` when there is none."""
    for c in candidates:
        if tuple(c) not in taken:
            return c
    neigh = []
    for c in candidates:
        for j, k in enumerate(model.sizes):
            for o in range(k):
                if o != c[j]:
                    nb = list(c)
                    nb[j] = o
                    if tuple(nb) not in taken:
                        neigh.append(nb)
    if not neigh:
        return None
    e = model.energy(np.array(neigh))
    return neigh[int(np.argmin(e))]


class QUBOSampler(SurrogateSampler):
    """Quadratic surrogate of the cost, minimised as a QUBO by an annealer.

    Args:
        solver (str): ``"sa"``, ``"sqa"`` or ``"dimod"`` (see the module docstring).
        sampler (dimod.Sampler | None): the ``dimod`` sampler of ``solver="dimod"``;
            ``None`` uses ``dwave.samplers.PathIntegralAnnealingSampler``. It receives ``seed`` when its
            ``parameters`` list one.
        sample_kwargs (dict | None): extra arguments of ``sampler.sample`` (for a QPU,
            e.g. ``{"num_reads": 100}``).
        num_reads (int): anneals per proposal (``sa``/``sqa``), >= 1.
        num_sweeps (int): sweeps per anneal, >= 1.
        n_slices (int): Trotter slices of ``sqa``, even, >= 2.
        batch_size (int): proposals per model fit, >= 1.
        n_startup (int): uniform draws before the first fit, >= 1.
        exploration (float): spread of the Thompson samples, in ``[0, 10]``.
        seed (int | None): run seed.
        search_space (dict[str, CategoricalDistribution] | None): the space.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=QUBOSampler(solver="sa", seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=5)
    """

    def __init__(
        self,
        *,
        solver: Solver = "sa",
        sampler: dimod.Sampler | None = None,
        sample_kwargs: dict[str, Any] | None = None,
        num_reads: int = 10,
        num_sweeps: int = 1000,
        n_slices: int = 8,
        batch_size: int = 1,
        n_startup: int = 10,
        exploration: float = 1.0,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(
            batch_size=batch_size,
            n_startup=n_startup,
            exploration=exploration,
            seed=seed,
            search_space=search_space,
        )
        if solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {list(_SOLVERS)}; got {solver!r}")
        if sampler is not None and solver != "dimod":
            raise ValueError(f"sampler is only used with solver='dimod'; got solver={solver!r}")
        if sampler is not None and not callable(getattr(sampler, "sample", None)):
            raise ValueError(
                f"sampler must be a dimod.Sampler (with a .sample method); got {sampler!r}"
            )
        self._solver = solver
        self._sampler = sampler
        self._sample_kwargs = dict(sample_kwargs or {})
        self._num_reads = check_int("num_reads", num_reads, 1)
        self._num_sweeps = check_int("num_sweeps", num_sweeps, 1)
        self._n_slices = check_int("n_slices", n_slices, 2)
        if self._n_slices % 2:
            raise ValueError(f"n_slices must be an even integer >= 2; got {n_slices}")

    def solve(self, Qs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
        """Minimise QUBOs ``x^T Q x`` (upper-triangular ``Q``, diagonal = linear terms)
        with this sampler's solver.

        Returns:
            For each QUBO, its reads as bit rows ``(reads, n)``, lowest energy first.
        """
        if self._solver == "sqa":
            from quarch.search._sqa import sqa_minimize

            bits, energy = sqa_minimize(
                np.stack(Qs),
                n_reads=self._num_reads,
                n_slices=self._n_slices,
                n_sweeps=self._num_sweeps,
                seed=rng,
            )
            return [b[np.argsort(e, kind="stable")] for b, e in zip(bits, energy, strict=True)]
        sampler = self._sampler
        kwargs = dict(self._sample_kwargs)
        if self._solver == "sa":
            from dwave.samplers import SimulatedAnnealingSampler

            sampler = SimulatedAnnealingSampler()
            kwargs = {"num_reads": self._num_reads, "num_sweeps": self._num_sweeps, **kwargs}
        elif sampler is None:
            from dwave.samplers import PathIntegralAnnealingSampler

            sampler = PathIntegralAnnealingSampler()
            kwargs = {"num_reads": self._num_reads, **kwargs}
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

    def _batch(
        self, study: Study, hist: History, rng: np.random.Generator, size: int, start: int
    ) -> tuple[list[Proposal], dict[str, Any]]:
        post = self._fit(hist)
        models = [self._draw(post, hist, rng) for _ in range(size)]
        reads = self.solve([m.qubo()[0] for m in models], rng)
        taken = set(hist.seen)
        props = []
        for m, r in zip(models, reads, strict=True):
            cands = [descend(m, _decode(b, hist.sizes)) for b in r]
            cands.sort(key=lambda c: float(m.energy(np.array([c]))[0]))
            p = pick_unseen(m, cands, taken)
            if p is not None:
                props.append(p)
                taken.add(tuple(p))
        return props, {}


def _require_annealing() -> None:
    """Fail at construction, not trial by trial, when the ``annealing`` extra is missing."""
    import importlib.util

    from quarch._errors import ConfigError

    missing = [
        m for m in ("dimod", "dwave.samplers") if importlib.util.find_spec(m.split(".")[0]) is None
    ]
    if missing:
        raise ConfigError(
            f"the QUBO strategies need {' and '.join(missing)}: pip install 'quarch[annealing]'"
        )


def _factory(solver: Solver, defaults: dict[str, Any]) -> Any:
    def make(*, seed: int, space: Space, objective: Objective, **options: Any) -> QUBOSampler:
        _require_annealing()
        opts = {**defaults, **options}
        return QUBOSampler(solver=solver, seed=seed, search_space=space.distributions(), **opts)

    make.__name__ = f"make_qubo_{solver}"
    return make


#: Registry factories ``(*, seed, space, objective, **options) -> QUBOSampler``.
make_qubo_sa = _factory("sa", {"exploration": 0.5, "batch_size": 3})
make_qubo_sqa = _factory(
    "sqa", {"exploration": 0.5, "batch_size": 6, "num_reads": 4, "num_sweeps": 50}
)
make_qubo_dimod = _factory("dimod", {"exploration": 0.5, "batch_size": 3})
