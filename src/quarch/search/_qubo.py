"""The QUBO strategy family: one surrogate loop, pluggable solvers.

:class:`QUBOSampler` drives the loop for every member of the family (BOCS, Baptista
and Poloczek 2018; FMQA, Kitai et al. 2020): fit one quadratic surrogate per metric of
the objective and per budget to the trials, metrics known without training exactly
(:mod:`quarch.search._models`), draw Thompson samples of them, hand them to a
**solver** as :class:`QUBOProblem` objects (the scalarised objective, each budget a
linear inequality with slack variables), and propose the best untried architectures
the solver returns, checked against the budgets. The algorithms differ only in the
solver, a small object passed as ``solver=``, the way Optuna's NSGA-II takes its
``crossover=``:

* :class:`~quarch.search.SASolver`: simulated annealing from ``dwave-samplers``
  (``qubo-sa``);
* :class:`~quarch.search.SQASolver`: simulated quantum annealing, quarch's vectorised
  path-integral Monte Carlo of the transverse-field Ising model
  (:mod:`quarch.search._sqa`, ``qubo-sqa``);
* :class:`~quarch.search.DimodSolver`: any ``dimod.Sampler``, e.g. a D-Wave QPU through
  ``dwave.system.EmbeddingComposite(DWaveSampler())`` and the user's Ocean
  configuration; by default ``dwave-samplers``' ``PathIntegralAnnealingSampler``
  (D-Wave's own path-integral quantum-annealing emulator, deterministic for a seed;
  its tabu search stops on a wall-clock timeout, so it would not reproduce)
  (``qubo-dimod``);
* :class:`~quarch.search.QAOASolver`, :class:`~quarch.search.VQESolver` and
  :class:`~quarch.search.GroverSolver`: circuits simulated on a register of at most
  ``max_qubits`` qubits, wider registers split into sub-QUBOs around the incumbent
  (:mod:`quarch.search._circuits`) (``qaoa``, ``vqe``, ``grover``).

**The solver protocol.** A solver is any callable

    ``solver(problems: Sequence[QUBOProblem], rng: np.random.Generator)``
    ``-> Sequence[np.ndarray] | Solution``

that returns, for each problem, candidate architectures as rows of option indices
``(m, n_choices)``, in any order, repeats allowed (``m`` may be 0). A problem gives the
sampled cost both ways a solver may want it: :meth:`QUBOProblem.energy` of
architectures and the penalised QUBO matrix :attr:`QUBOProblem.Q` over one-hot bits,
whose reads :meth:`QUBOProblem.decode` turns into architectures. All random draws must
come from ``rng``, so that a study is a pure function of its seed and its trials (a
solver that cannot be seeded, such as a QPU, makes the strategy non-reproducible but
still valid). A solver may return a :class:`Solution` to also report what the call spent (e.g.
:class:`~quarch.search.GroverSolver`'s oracle calls), stored on each trial of the
batch as the system attr ``"<SamplerClass>:<counter>"``. Solvers are
pickled with the sampler, so keep them to plain configuration.

Example, an exhaustive QUBO minimiser standing in for your own solver or QPU::

    >>> import itertools
    >>> import numpy as np
    >>> import optuna
    >>> from quarch.search import QUBOSampler
    >>> class Exhaustive:
    ...     # every bit vector of each QUBO; the four lowest become candidates
    ...     def __call__(self, problems, rng):
    ...         out = []
    ...         for p in problems:
    ...             bits = np.array(list(itertools.product([0, 1], repeat=len(p.Q))))
    ...             energy = np.einsum("bi,ij,bj->b", bits, p.Q, bits)
    ...             out.append(p.decode(bits[np.argsort(energy, kind="stable")[:4]]))
    ...         return out
    >>> def objective(trial):
    ...     k = trial.suggest_categorical("k", [1, 2, 3, 4, 5])
    ...     act = trial.suggest_categorical("act", ["relu", "tanh"])
    ...     return (k - 4) ** 2 + (act == "tanh")
    >>> study = optuna.create_study(sampler=QUBOSampler(solver=Exhaustive(), seed=0))
    >>> study.optimize(objective, n_trials=14)
    >>> study.best_params
    {'k': 4, 'act': 'relu'}

**Thompson samples and proposals.** ``thompson="proposal"`` (the annealers' default)
draws one sample per proposal and solves them together: each proposal is the best
untried candidate of its own sample, else the sample's best untried neighbour of the
candidates (one choice changed), so a batch explores where the model is unsure.
``thompson="batch"`` (the circuits' default: a circuit costs a simulation) draws one
sample for the whole batch: the proposals are its best untried candidates, topped up
with the best untried neighbours of the proposals so far or, when there are none, of
the best architecture the sample knows (the incumbent, or the best candidate when that
is better). Either way a batch short of proposals is completed at random
(:func:`quarch.search._surrogate.propose_batched`).

**The trust region.** With ``trust_after=k``, once ``k`` trials are complete every
problem also carries the constraint "at most ``trust_radius`` choices differ from the
best trial so far" (:func:`quarch.search._models.hamming_constraint`: the Hamming
distance is linear in the one-hot bits, so it is one more slack-variable inequality,
exact), and the Thompson samples spread by ``trust_exploration``: the end of a run
refines the incumbent instead of exploring (TuRBO, Eriksson et al. 2019; CASMOPOLITAN,
Wan et al. 2021, for categorical spaces). When every architecture that close has been
tried, the proposals fall back to the nearest untried ones the sample ranks best.
No factory turns it on: on NAS-Bench-201 CIFAR-10's 12-epoch validation signal (tuning
seeds 1000-1059, ``qubo-sqa``) it did not change how often the run found the cell with
the best validation accuracy (48 of 60 with and without it after 70 trials, radius 2;
53 against 52 of 60 with the tuned startup and batch size), because the runs that miss
end in another basin, 3-5 choices away, where a local phase cannot reach.

**The local polish.** With ``polish_after=k``, once ``k`` trials are complete the first
proposal of every batch is the untried architecture within ``polish_radius`` choices
of the best trial that the posterior mean (no Thompson spread) ranks best, budgets
checked; the rest of the batch comes from the Thompson samples as before. Unlike the
trust region, which confines every proposal, it spends one query per batch on the
incumbent's neighbourhood and keeps the others global. It was built because on
NAS-Bench-201 CIFAR-10's 12-epoch validation signal (tuning seeds 1000-1119,
``qubo-sqa``, ``benchmarks/nb201_diagnose.py``) 86 of the 103 runs that found the cell
with the best validation accuracy found it one choice away from their best trial, often
long after the model ranked it near the top. No factory turns it on: with
``polish_after=40`` the runs found that cell sooner (median query 60 against 64, 106 of
120 runs against 103; paired Wilcoxon p = 0.002 on the query) but their picks scored
the same (200-epoch test accuracy 94.316 against 94.307, paired difference +0.009
[-0.018, +0.037], p = 0.57), because the runs that miss end in another basin, 3-4
choices away at query 80, which a local move cannot reach.

**The escape by swaps.** With ``escape_after=k``, in a study of one objective, once
``k`` trials are complete and the best trial is ``escape_patience`` or more trials old
(the run has stalled), the first proposal of every batch is a **swap** of the best
trial: two choices with the same option list exchange their options (in a cell space, an
operation moves to another edge), the untried one the posterior mean ranks best, budgets
checked (when every swap of the best trial was tried, of the next best, up to
``escape_top`` trials); the rest of the batch comes from the Thompson samples as before.
A space whose choices share no option list has no swaps and is unchanged. It was built
because on NAS-Bench-201 CIFAR-10's 12-epoch validation signal the runs that miss the
cell with the best validation accuracy end in another basin 3-5 choices away: that cell
has a skip connection from the input to the output on edge 3-0, the other basins route
it through node 1 or node 2 (the two cells with both paths that were checked score
70.5 %), no one-choice move crosses between them, and the surrogate, fitted mostly to the
basin the run is in, often ranks the best cell in the thousands. A swap moves the skip
connection to another edge in one step: for 10 of the 11 distinct cells those runs
picked (seeds 1000-1119), the best swap scores within 0.4 points of it or above it.
Measured with ``benchmarks/nb201_diagnose.py`` (``qubo-sqa``, ``escape_after=40``,
``escape_patience=5``): on tuning seeds 1000-1059 the runs found that cell in 58 of 60
against 52, picks 94.363 against 94.308 (200-epoch test, paired +0.055 [+0.019, +0.108],
Wilcoxon p = 0.021); confirmed on seeds 1060-1119 before ``qubo-sqa``'s factory turned
it on: 58 of 60 against 51, 94.363 against 94.306 (+0.057 [+0.022, +0.111], p = 0.012).
Tried first and not kept: a Hamming repulsion from the best trial (the stalled batch's
first Thompson sample solved at 3 or more choices away; 54 of 60 against 52 on seeds
1000-1059 at patience 10, and 19 of 23 against 22 at patience 5 with that sample spread
2.0). ``qubo-sa`` (batches of 3 after 10 uniform draws) with the same settings found the
cell in 43 of 60 runs against 41 on seeds 1000-1059 (picks +0.096 [+0.048, +0.204], p =
0.0017), but not on the confirmation seeds 1060-1119 (51 against 52, -0.002 [-0.032,
+0.026], p = 0.53), so its factory leaves the escape off.

**The Gaussian-process surrogate.** ``surrogate="gp"`` fits a Gaussian process with a
Hamming kernel (all orders of interaction; :mod:`quarch.search._gp`) and hands the
solvers the quadratic model closest to it; ``"bocs+gp"`` averages it with BOCS. They
were built because BOCS ranks NAS-Bench-201's untried cells at Spearman 0.345 after
the first 20 (uniform) trials. Measured on CIFAR-10's 12-epoch validation signal
(``qubo-sqa`` trajectories, tuning seeds 1000-1059,
``benchmarks/nb201_surrogates.py``), the average ranks a little better (Spearman
0.385 against 0.345 after 20 trials, 0.491 against 0.468 after 50, 0.536 against
0.516 after 80; paired Wilcoxon p < 1e-6 at each) and its 5 favourite untried cells
after 20 trials are better (best validation accuracy 82.58 against 81.33). No factory
turns it on: in the search (tuning seeds 1000-1119, ``benchmarks/nb201_diagnose.py``)
``"bocs+gp"`` found the cell with the best validation accuracy sooner (mean query
56.5 against 61.5 on the 99 seeds where both found it, p = 0.008) but not more often
(105 of 120 runs against 103), and its picks scored the same (200-epoch test accuracy
94.314 against 94.307, paired difference +0.007 [-0.022, +0.036], p = 0.65);
``"gp"`` alone did no better (50 of 60 against 52 on seeds 1000-1059).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quarch.search._annealers import DimodSolver, SASolver, SQASolver, check_slices
from quarch.search._common import History, PopulationSampler, Proposal, check_float, check_int
from quarch.search._models import CheapMetrics, Surrogates
from quarch.search._problem import (
    Constraint,
    QUBOProblem,
    Solution,
    Solver,
    pick_unseen,
)
from quarch.search._surrogate import propose_batched

if TYPE_CHECKING:
    import dimod
    from optuna import Study
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial

    from quarch.objectives import Objective
    from quarch.space import Space

__all__ = [
    "Constraint",
    "QUBOProblem",
    "QUBOSampler",
    "Solution",
    "Solver",
    "make_qubo_dimod",
    "make_qubo_sa",
    "make_qubo_sqa",
]

Thompson = Literal["proposal", "batch"]
_ANNEALERS = ("sa", "sqa", "dimod")
_THOMPSON = ("proposal", "batch")


# -- the sampler -------------------------------------------------------------------------
class QUBOSampler(PopulationSampler):
    """Quadratic surrogate of the cost, minimised by a pluggable solver.

    The loop is described in the module docstring; ``solver`` is one of the built-in
    annealers by name, configured by ``num_reads``, ``num_sweeps``, ``n_slices``,
    ``sampler`` and ``sample_kwargs``, or any solver object (see the protocol in the
    module docstring), configured on the object.

    Args:
        solver (str | Solver): ``"sa"`` (:class:`~quarch.search.SASolver`), ``"sqa"``
            (:class:`~quarch.search.SQASolver`), ``"dimod"``
            (:class:`~quarch.search.DimodSolver`) or a solver object.
        sampler (dimod.Sampler | None): the ``dimod`` sampler of ``solver="dimod"``.
        sample_kwargs (dict | None): extra arguments of ``sampler.sample``
            (``"sa"`` and ``"dimod"``).
        num_reads (int | None): anneals per proposal, >= 1 (default 10).
        num_sweeps (int | None): sweeps per anneal, >= 1 (default 1000).
        n_slices (int | None): Trotter slices of ``"sqa"``, even, >= 2 (default 8).
        thompson (str): ``"proposal"``: one Thompson sample per proposal; ``"batch"``:
            one per batch (see the module docstring).
        batch_size (int): proposals per model fit, >= 1.
        n_startup (int): uniform draws before the first fit, >= 1.
        exploration (float): spread of the Thompson samples around the posterior mean,
            in ``[0, 10]`` (0 exploits the mean).
        objective (Objective | None): the run's objective: each of its metrics gets a
            surrogate of its own and its budgets enter the QUBO
            (:mod:`quarch.search._models`); ``None`` models the study's values and
            constraints as they are.
        cheap_metrics (Callable | None): ``cheap_metrics(arch) -> metrics``, the metrics
            known without training (an evaluator's ``cheap_metrics``): they enter the
            QUBO by a fit over many architectures and are checked exactly, so an
            architecture known to break a budget is never proposed.
        surrogate (str): ``"bocs"`` (Bayesian quadratic model), ``"fm"``
            (factorisation machine ensemble), ``"gp"`` (Gaussian process with a
            Hamming kernel, projected onto a quadratic model) or ``"bocs+gp"`` (their
            average); see :mod:`quarch.search._models`.
        strength (float): weight of a budget's squared violation in the QUBO, > 0.
        trust_after (int | None): completed trials after which every problem also
            carries a trust region around the best trial so far (see "The trust
            region" in the module docstring); ``None`` never.
        trust_radius (int): choices a proposal may change from the best trial in
            the trust region, >= 1.
        trust_exploration (float | None): spread of the Thompson samples in the trust
            region, in ``[0, 10]`` (``None``: ``exploration``).
        polish_after (int | None): completed trials after which every batch starts
            with a local polish of the best trial (see "The local polish" in the
            module docstring); ``None`` never.
        polish_radius (int): choices the polish may change, in ``[1, 3]``.
        escape_after (int | None): completed trials after which a stalled run starts
            each batch with a swap of the best trial (see "The escape by swaps" in the
            module docstring); ``None`` never.
        escape_patience (int): trials since the best one after which the run counts
            as stalled, >= 0.
        escape_top (int): how many of the best trials the swaps may start from, >= 1.
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
        solver: str | Solver = "sa",
        sampler: dimod.Sampler | None = None,
        sample_kwargs: dict[str, Any] | None = None,
        num_reads: int | None = None,
        num_sweeps: int | None = None,
        n_slices: int | None = None,
        thompson: Thompson = "proposal",
        batch_size: int = 1,
        n_startup: int = 10,
        exploration: float = 1.0,
        objective: Objective | None = None,
        cheap_metrics: CheapMetrics | None = None,
        surrogate: str = "bocs",
        strength: float = 4.0,
        trust_after: int | None = None,
        trust_radius: int = 2,
        trust_exploration: float | None = None,
        polish_after: int | None = None,
        polish_radius: int = 1,
        escape_after: int | None = None,
        escape_patience: int = 10,
        escape_top: int = 3,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(seed=seed, search_space=search_space)
        self._polish_after = (
            None if polish_after is None else check_int("polish_after", polish_after, 0)
        )
        self._polish_radius = check_int("polish_radius", polish_radius, 1, 3)
        self._escape_after = (
            None if escape_after is None else check_int("escape_after", escape_after, 0)
        )
        self._escape_patience = check_int("escape_patience", escape_patience, 0)
        self._escape_top = check_int("escape_top", escape_top, 1)
        self._trust_after = (
            None if trust_after is None else check_int("trust_after", trust_after, 0)
        )
        self._trust_radius = check_int("trust_radius", trust_radius, 1)
        self._trust_exploration = (
            None
            if trust_exploration is None
            else check_float("trust_exploration", trust_exploration, 0.0, 10.0)
        )
        self._batch_size = check_int("batch_size", batch_size, 1)
        self._n_startup = check_int("n_startup", n_startup, 1)
        self._exploration = check_float("exploration", exploration, 0.0, 10.0)
        if thompson not in _THOMPSON:
            raise ValueError(f"thompson must be one of {list(_THOMPSON)}; got {thompson!r}")
        self._thompson = thompson
        self._solver = _annealer(solver, sampler, sample_kwargs, num_reads, num_sweeps, n_slices)
        self._models = Surrogates(
            objective=objective,
            cheap_metrics=cheap_metrics,
            surrogate=surrogate,
            exploration=self._exploration,
            strength=check_float("strength", strength, 0.0, 1e6, low_open=True),
        )

    @property
    def solver(self) -> Solver:
        """The solver the sampler hands its QUBO problems to."""
        return self._solver

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        return propose_batched(
            self,
            study,
            trial,
            hist,
            batch_size=self._batch_size,
            n_startup=self._n_startup,
            make_batch=self._batch,
        )

    def _batch(
        self, study: Study, hist: History, rng: np.random.Generator, size: int, start: int
    ) -> tuple[list[Proposal], dict[str, Any]]:
        taken = set(hist.seen)
        first: list[Proposal] = []
        if self._polish_after is not None and len(hist.trials) >= self._polish_after:
            x = self._polish(hist, rng, taken)
            if x is not None:
                first = [x]
                taken.add(tuple(x))
                size -= 1
        if size > 0 and self._stalled(hist):
            x = self._swap(hist, rng, taken)
            if x is not None:
                first.append(x)
                taken.add(tuple(x))
                size -= 1
        if size == 0:
            return first, {}
        problems = self._problems(hist, rng, size if self._thompson == "proposal" else 1)
        out = self._solver(problems, rng)
        sol = out if isinstance(out, Solution) else Solution(list(out))
        if len(sol.candidates) != len(problems):
            raise ValueError(
                f"solver {self._solver!r} must return one candidate array per problem "
                f"({len(problems)}); got {len(sol.candidates)}"
            )
        ranked = [_ranked(p, c) for p, c in zip(problems, sol.candidates, strict=True)]
        if self._thompson == "proposal":
            props = _one_per_problem(problems, ranked, taken)
        else:
            props = _all_from_one(problems[0], *ranked[0], taken, size)
        if len(props) < size and self._models.known_names(hist):
            # top up with draws known to meet the budgets (the generic top-up is blind)
            for _ in range(size - len(props)):
                x = self._uniform(hist, rng, taken)
                if tuple(x) not in taken:
                    props.append(x)
                    taken.add(tuple(x))
        n = len(first) + size
        return first + props, {k: [v] * n for k, v in sol.counters.items()}

    def _polish(
        self, hist: History, rng: np.random.Generator, taken: set[tuple[int, ...]]
    ) -> Proposal | None:
        """The untried architecture within ``polish_radius`` choices of the best trial
        that the posterior mean ranks best among those meeting the budgets (``None``
        when there is none)."""
        best = hist.best()
        if best is None:
            return None
        (mean,) = self._models.problems(hist, rng, 1, exploration=0.0)
        ball = [x for x in _ball(hist.sizes, hist.X[best], self._polish_radius)
                if tuple(x) not in taken]  # fmt: skip
        if not ball:
            return None
        return _best_feasible(mean, ball)

    def _problems(self, hist: History, rng: np.random.Generator, n: int) -> list[QUBOProblem]:
        """``n`` Thompson samples of the surrogates fitted to ``hist``, as solver
        problems (:meth:`quarch.search._models.Surrogates.problems`), inside the trust
        region once ``trust_after`` trials are complete."""
        if self._trust_after is None or len(hist.trials) < self._trust_after:
            return self._models.problems(hist, rng, n)
        return self._models.problems(
            hist, rng, n, radius=self._trust_radius, exploration=self._trust_exploration
        )

    def _swap(
        self, hist: History, rng: np.random.Generator, taken: set[tuple[int, ...]]
    ) -> Proposal | None:
        """The untried swap of the best trial (two choices with the same options
        exchange them) that the posterior mean ranks best among those meeting the
        budgets; when every swap of it was tried, of the next best trial, up to
        ``escape_top`` trials (``None`` when there is none)."""
        (mean,) = self._models.problems(hist, rng, 1, exploration=0.0)
        for i in np.argsort(hist.rank, kind="stable")[: self._escape_top]:
            cands = [x for x in _swaps(hist.choices, hist.X[i]) if tuple(x) not in taken]
            if not cands:
                continue
            pick = _best_feasible(mean, cands)
            if pick is not None:
                return pick
        return None

    def _stalled(self, hist: History) -> bool:
        """Whether the escape is due: one objective (several have no single best
        trial to be stuck on), ``escape_after`` trials complete and the best trial
        ``escape_patience`` or more trials old."""
        if self._escape_after is None or len(hist.trials) < self._escape_after:
            return False
        if len(hist.directions) != 1:
            return False
        best = hist.best()
        return best is not None and len(hist.trials) - 1 - best >= self._escape_patience

    def _uniform(
        self,
        hist: History,
        rng: np.random.Generator,
        taken: set[tuple[int, ...]] | None = None,
    ) -> Proposal:
        """A uniform draw, unseen if possible, among the architectures not known to
        break a budget (a metric known without training); after 200 rejections, any
        unseen uniform draw."""
        seen = hist.seen if taken is None else taken
        draw = lambda _: [int(rng.integers(k)) for k in hist.sizes]  # noqa: E731
        if not self._models.known_names(hist):
            return self._unique(draw, seen) if taken is not None else super()._uniform(hist, rng)
        prop = self._unique(draw, seen)
        for _ in range(200):
            if tuple(prop) not in seen and self._models.feasible_known(hist, np.array([prop]))[0]:
                return prop
            prop = self._unique(draw, seen)
        return prop


def _ball(sizes: Sequence[int], centre: np.ndarray, radius: int) -> list[Proposal]:
    """Every architecture that differs from ``centre`` in 1 to ``radius`` choices."""
    c = [int(v) for v in centre]
    out = []
    for r in range(1, radius + 1):
        for js in itertools.combinations(range(len(sizes)), r):
            alts = [[o for o in range(sizes[j]) if o != c[j]] for j in js]
            for opts in itertools.product(*alts):
                x = list(c)
                for j, o in zip(js, opts, strict=True):
                    x[j] = o
                out.append(x)
    return out


def _best_feasible(mean: QUBOProblem, cands: list[Proposal]) -> Proposal | None:
    """The candidate of least posterior-mean energy among those meeting the budgets,
    ``None`` when none does. Feasibility is read from the budgets, not from ``cost <
    INFEASIBLE``: an infeasible cost is ``energy + INFEASIBLE * (1 + violation)``, below
    ``INFEASIBLE`` whenever the energy is below ``-INFEASIBLE * violation`` (a negative
    energy and a small violation)."""
    X = np.array(cands)
    ok = mean.feasible(X)
    if not ok.any():
        return None
    return cands[int(np.argmin(np.where(ok, mean.energy(X), np.inf)))]


def _swaps(choices: Sequence[tuple[Any, ...]], x: np.ndarray) -> list[Proposal]:
    """Every architecture that exchanges the options of two choices of ``x`` whose
    option lists are the same and whose options differ (an operation moved to another
    edge of a cell)."""
    c = [int(v) for v in x]
    out: list[Proposal] = []
    if len(choices) != len(c):  # a history without its options: nothing known shared
        return out
    for a, b in itertools.combinations(range(len(c)), 2):
        if c[a] != c[b] and tuple(choices[a]) == tuple(choices[b]):
            y = list(c)
            y[a], y[b] = c[b], c[a]
            out.append(y)
    return out


def _one_per_problem(
    problems: Sequence[QUBOProblem],
    ranked: Sequence[tuple[list[Proposal], np.ndarray]],
    taken: set[tuple[int, ...]],
) -> list[Proposal]:
    """``thompson="proposal"``: each sample's best untried candidate, else its best
    untried neighbour of the candidates (``taken`` grows with the proposals)."""
    props = []
    for p, (cands, _) in zip(problems, ranked, strict=True):
        x = pick_unseen(p, cands, taken)
        if x is not None:
            props.append(x)
            taken.add(tuple(x))
    return props


def _all_from_one(
    p: QUBOProblem,
    cands: list[Proposal],
    energy: np.ndarray,
    taken: set[tuple[int, ...]],
    size: int,
) -> list[Proposal]:
    """``thompson="batch"``: the sample's ``size`` best untried candidates, topped up
    with untried neighbours of the proposals so far, or of the best known architecture
    (for a circuit solver, where its sub-QUBO search ended)."""
    props: list[Proposal] = []
    ok = p.feasible(np.array(cands)) if cands else np.zeros(0, dtype=bool)
    for c, feasible in zip(cands, ok, strict=True):
        if len(props) == size:
            break
        if tuple(c) not in taken and feasible:
            props.append(c)
            taken.add(tuple(c))
    # A circuit solver's sub-QUBO search moves its incumbent only to strictly cheaper
    # states, so it ends at the first-found cheapest candidate when that beats the
    # incumbent: exactly ``cands[0]`` (ranked stably in the order found).
    best = [int(v) for v in p.incumbent]
    if cands and energy[0] < float(p.cost(p.incumbent[None])[0]):
        best = cands[0]
    while len(props) < size:
        x = pick_unseen(p, props or [best], taken)
        if x is None:
            break
        props.append(x)
        taken.add(tuple(x))
    return props


def _ranked(problem: QUBOProblem, candidates: np.ndarray) -> tuple[list[Proposal], np.ndarray]:
    """Distinct candidates, lowest cost first (ties in the order found), and their costs."""
    n = len(problem.sizes)
    X = np.asarray(candidates, dtype=np.int64).reshape(-1, n)
    if X.size and ((X < 0) | (np.asarray(problem.sizes) <= X)).any():
        raise ValueError(
            f"a solver returned option indices outside the space of sizes {problem.sizes}"
        )
    distinct = list(dict.fromkeys(tuple(int(v) for v in x) for x in X))
    if not distinct:
        return [], np.zeros(0)
    energy = problem.cost(np.array(distinct))
    order = np.argsort(energy, kind="stable")
    return [list(distinct[i]) for i in order], energy[order]


def _annealer(
    solver: str | Solver,
    sampler: Any,
    sample_kwargs: dict[str, Any] | None,
    num_reads: int | None,
    num_sweeps: int | None,
    n_slices: int | None,
) -> Solver:
    """The solver object of ``QUBOSampler(solver=...)``, its options validated."""
    if not isinstance(solver, str):
        if not callable(solver):
            raise ValueError(
                f"solver must be one of {list(_ANNEALERS)} or a solver object (a callable "
                f"solver(problems, rng)); got {solver!r}"
            )
        options = {
            "sampler": sampler,
            "sample_kwargs": sample_kwargs,
            "num_reads": num_reads,
            "num_sweeps": num_sweeps,
            "n_slices": n_slices,
        }
        given = [k for k, v in options.items() if v is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} configure the built-in solvers {list(_ANNEALERS)}; got "
                f"solver={solver!r}, which takes its options at construction"
            )
        return solver
    if solver not in _ANNEALERS:
        raise ValueError(
            f"solver must be one of {list(_ANNEALERS)} or a solver object; got {solver!r}"
        )
    if sampler is not None and solver != "dimod":
        raise ValueError(f"sampler is only used with solver='dimod'; got solver={solver!r}")
    # Every count is checked whichever annealer uses it, as before solvers were objects.
    reads = check_int("num_reads", 10 if num_reads is None else num_reads, 1)
    sweeps = check_int("num_sweeps", 1000 if num_sweeps is None else num_sweeps, 1)
    slices = check_slices(8 if n_slices is None else n_slices)
    if solver == "sqa":
        return SQASolver(num_reads=reads, num_sweeps=sweeps, n_slices=slices)
    if solver == "sa":
        return SASolver(num_reads=reads, num_sweeps=sweeps, sample_kwargs=sample_kwargs)
    return DimodSolver(sampler, num_reads=reads, sample_kwargs=sample_kwargs)


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


def _factory(solver: str, defaults: dict[str, Any]) -> Any:
    def make(
        *,
        seed: int,
        space: Space,
        objective: Objective,
        cheap_metrics: CheapMetrics | None = None,
        **options: Any,
    ) -> QUBOSampler:
        _require_annealing()
        opts = {**defaults, **options}
        return QUBOSampler(
            solver=solver,
            seed=seed,
            search_space=space.distributions(),
            objective=objective,
            cheap_metrics=cheap_metrics,
            **opts,
        )

    make.__name__ = f"make_qubo_{solver}"
    return make


#: The options each registry factory sets over :class:`QUBOSampler`'s own defaults, by
#: solver. ``qubo-sqa``'s 20 uniform draws and batches of 2 (from 10 and 6) were tuned on
#: CIFAR-10's 12-epoch validation signal, seeds 1000-1119: the cell with the best
#: validation accuracy found in 103 of 120 runs against 95 (see ``benchmarks/nb201.py``);
#: the escape by swaps (after 40 trials, 5 without improvement) on seeds 1000-1059,
#: confirmed on 1060-1119: found in 116 of 120 against 103 (see "The escape by swaps" above).
QUBO_DEFAULTS: dict[str, dict[str, Any]] = {
    "sa": {"exploration": 0.5, "batch_size": 3},
    "sqa": {
        "exploration": 0.5,
        "batch_size": 2,
        "n_startup": 20,
        "num_reads": 4,
        "num_sweeps": 50,
        "escape_after": 40,
        "escape_patience": 5,
    },
    "dimod": {"exploration": 0.5, "batch_size": 3},
}
#: Registry factories ``(*, seed, space, objective, **options) -> QUBOSampler``.
make_qubo_sa = _factory("sa", QUBO_DEFAULTS["sa"])
make_qubo_sqa = _factory("sqa", QUBO_DEFAULTS["sqa"])
make_qubo_dimod = _factory("dimod", QUBO_DEFAULTS["dimod"])
