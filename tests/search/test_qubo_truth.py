"""The QUBO sampler's plumbing against independent truth.

Truth used, and why it is independent of the code under test:

* brute force over every architecture of a small space: the cheapest untried
  neighbour (one choice changed) of an architecture, Hamming distances for the trust
  region, ties kept in the order found;
* the behaviour the docstrings of :class:`QUBOSampler` and :mod:`quarch.search._qubo`
  promise (when the escape is due, when the trust region starts, the options each
  built-in solver is configured by, "after 200 rejections, any unseen uniform draw");
* the defaults ``quarch strategies qubo-sa`` lists (``n_startup`` 10, ``strength`` 4.0,
  ``trust_radius`` 2, ``polish_radius`` 1, ``escape_patience`` 10, ``escape_top`` 3),
  the documented 10 reads, 1000 sweeps and 8 slices, the factories' table
  ``QUBO_DEFAULTS`` and the error messages a user sees.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Mapping, Sequence
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.study import StudyDirection

from quarch._errors import ConfigError
from quarch.objectives import Objective
from quarch.search import DimodSolver, QUBOSampler, SASolver, SQASolver
from quarch.search._common import History
from quarch.search._problem import QUBOProblem
from quarch.search._qubo import (
    QUBO_DEFAULTS,
    _all_from_one,
    _factory,
    _ranked,
    _require_annealing,
    make_qubo_dimod,
    make_qubo_sa,
    make_qubo_sqa,
)
from quarch.search._surrogate import QuadraticModel, n_features
from quarch.space import Choice, Space

SIZES = [3, 3, 2]


def _space(sizes: Sequence[int] = SIZES) -> Space:
    return Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(sizes)], name="t")


def _dists(sizes: Sequence[int] = SIZES) -> dict[str, BaseDistribution]:
    return dict(_space(sizes).distributions())


def _cdists() -> dict[str, CategoricalDistribution]:
    return cast(dict[str, CategoricalDistribution], _dists())


def _archs(sizes: Sequence[int] = SIZES) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


def _neighbours(x: Sequence[int], sizes: Sequence[int] = SIZES) -> list[tuple[int, ...]]:
    return [tuple(int(v) for v in a) for a in _archs(sizes) if np.sum(a != np.array(x)) == 1]


def _study_with(X: np.ndarray, values: Sequence[float]) -> optuna.Study:
    """Completed trials at ``X`` with these values (also as the metric ``val_error``)."""
    dists = _dists()
    study = optuna.create_study()
    for x, v in zip(X, values, strict=True):
        params = {f"c{j}": int(o) for j, o in enumerate(x)}
        trial = optuna.trial.create_trial(params=params, distributions=dists, value=v,
                                          user_attrs={"metrics": {"val_error": v}})  # fmt: skip
        study.add_trial(trial)
    return study


def _history(sampler: QUBOSampler, study: optuna.Study) -> History:
    dists = _dists()
    number = study.ask(dists).number
    frozen = study.get_trials(deepcopy=False)[number]
    return sampler._history(study, frozen, dists)


def _bare_history(sizes: Sequence[int], seen: set[tuple[int, ...]]) -> History:
    return History(
        names=[f"c{j}" for j in range(len(sizes))],
        sizes=list(sizes),
        trials=[],
        X=np.zeros((0, len(sizes)), dtype=np.int64),
        rank=np.zeros(0),
        seen=set(seen),
        directions=[StudyDirection.MINIMIZE],
        choices=[tuple(range(k)) for k in sizes],
    )


def _additive(f: Sequence[Sequence[float]], sizes: Sequence[int] = SIZES) -> QuadraticModel:
    """The model ``sum_j f[j][x_j]`` (no pair terms)."""
    w = np.zeros(n_features(sizes))
    w[: sum(sizes)] = np.concatenate([np.asarray(v, dtype=float) for v in f])
    return QuadraticModel(sizes, w)


# -- the constructor --------------------------------------------------------------------------
class TestConstructor:
    @pytest.mark.parametrize(
        ("kw", "message"),
        [
            ({"polish_after": -1}, "polish_after must be an integer >= 0; got -1"),
            ({"polish_after": 1.5}, "polish_after must be an integer >= 0; got 1.5"),
            ({"polish_radius": 0}, r"polish_radius must be an integer \[1, 3\]; got 0"),
            ({"polish_radius": 4}, r"polish_radius must be an integer \[1, 3\]; got 4"),
            ({"escape_after": -1}, "escape_after must be an integer >= 0; got -1"),
            ({"escape_after": "5"}, "escape_after must be an integer >= 0; got '5'"),
            ({"escape_patience": -1}, "escape_patience must be an integer >= 0; got -1"),
            ({"escape_top": 0}, "escape_top must be an integer >= 1; got 0"),
            ({"trust_after": -1}, "trust_after must be an integer >= 0; got -1"),
            ({"trust_after": 2.0}, "trust_after must be an integer >= 0; got 2.0"),
            ({"trust_radius": 0}, "trust_radius must be an integer >= 1; got 0"),
            ({"trust_exploration": -0.5}, r"trust_exploration must be in \[0.0, 10.0\]; got -0.5"),
            ({"trust_exploration": 10.5}, r"trust_exploration must be in \[0.0, 10.0\]; got 10.5"),
            ({"trust_exploration": "x"}, r"trust_exploration must be in \[0.0, 10.0\]; got 'x'"),
            ({"num_sweeps": 0}, "num_sweeps must be an integer >= 1; got 0"),
            ({"num_reads": 0}, "num_reads must be an integer >= 1; got 0"),
            ({"thompson": "trial"}, r"thompson must be one of \['proposal', 'batch'\]"),
        ],
    )
    def test_errors_name_the_option_range_and_value(self, kw: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=f"^{message}"):
            QUBOSampler(**kw)

    def test_boundary_values_are_accepted(self) -> None:
        """The docstring's ranges: ``polish_radius`` in [1, 3], ``escape_patience``
        >= 0, ``escape_top`` >= 1, ``trust_radius`` >= 1, ``trust_exploration`` in
        [0, 10], the ``*_after`` counts >= 0, counts of reads and sweeps >= 1."""
        for kw in (
            {"polish_after": 0, "polish_radius": 3},
            {"polish_after": 0, "polish_radius": 1},
            {"escape_after": 0, "escape_patience": 0, "escape_top": 1},
            {"trust_after": 0, "trust_radius": 1, "trust_exploration": 0.0},
            {"trust_after": 0, "trust_exploration": 10.0},
            {"num_reads": 1, "num_sweeps": 1},
        ):
            QUBOSampler(**kw)  # type: ignore[arg-type]

    def test_listed_defaults(self) -> None:
        """What ``quarch strategies qubo-sa`` lists for the options its factory keeps,
        and the signature's defaults of the two it sets."""
        s = QUBOSampler()
        assert s._n_startup == 10 and s._models.strength == 4.0
        assert (s._trust_after, s._trust_radius, s._trust_exploration) == (None, 2, None)
        assert (s._polish_after, s._polish_radius) == (None, 1)
        assert (s._escape_after, s._escape_patience, s._escape_top) == (None, 10, 3)
        assert s._thompson == "proposal"
        # the signature's (``help(QUBOSampler)``) defaults the factories override
        assert (s._batch_size, s._exploration) == (1, 1.0)

    def test_given_values_are_kept(self) -> None:
        s = QUBOSampler(polish_after=4, polish_radius=2, escape_after=5, escape_patience=0,
                        escape_top=2, trust_after=6, trust_radius=3, trust_exploration=0.25,
                        batch_size=4, n_startup=3, exploration=0.5, strength=2.0)  # fmt: skip
        assert (s._polish_after, s._polish_radius) == (4, 2)
        assert (s._escape_after, s._escape_patience, s._escape_top) == (5, 0, 2)
        assert (s._trust_after, s._trust_radius, s._trust_exploration) == (6, 3, 0.25)
        assert (s._batch_size, s._n_startup, s._exploration) == (4, 3, 0.5)
        assert s._models.strength == 2.0


# -- the built-in solvers by name ---------------------------------------------------------
class TestAnnealerByName:
    def test_documented_defaults_per_solver(self) -> None:
        sa = QUBOSampler(solver="sa").solver
        assert isinstance(sa, SASolver)
        assert (sa.num_reads, sa.num_sweeps, sa.sample_kwargs) == (10, 1000, {})
        sqa = QUBOSampler(solver="sqa").solver
        assert isinstance(sqa, SQASolver)
        assert (sqa.num_reads, sqa.num_sweeps, sqa.n_slices) == (10, 1000, 8)
        dm = QUBOSampler(solver="dimod").solver
        assert isinstance(dm, DimodSolver)
        assert (dm.sampler, dm.num_reads, dm.sample_kwargs) == (None, 10, {})

    def test_options_reach_the_solver(self) -> None:
        sa = QUBOSampler(solver="sa", num_reads=3, num_sweeps=7, sample_kwargs={"a": 1}).solver
        assert isinstance(sa, SASolver)
        assert (sa.num_reads, sa.num_sweeps, sa.sample_kwargs) == (3, 7, {"a": 1})
        sqa = QUBOSampler(solver="sqa", num_reads=2, num_sweeps=5, n_slices=4).solver
        assert isinstance(sqa, SQASolver)
        assert (sqa.num_reads, sqa.num_sweeps, sqa.n_slices) == (2, 5, 4)
        sampler: Any = SimpleNamespace(sample=lambda bqm, **kw: None)
        dm = QUBOSampler(solver="dimod", sampler=sampler, num_reads=4, sample_kwargs={"b": 2})
        assert isinstance(dm.solver, DimodSolver)
        assert (dm.solver.sampler, dm.solver.num_reads) == (sampler, 4)
        assert dm.solver.sample_kwargs == {"b": 2}

    def test_every_count_is_checked_whichever_solver_uses_it(self) -> None:
        with pytest.raises(ValueError, match=r"^num_sweeps must be an integer >= 1; got 0"):
            QUBOSampler(solver="dimod", num_sweeps=0)
        with pytest.raises(ValueError, match=r"n_slices must be an even integer >= 2; got 3"):
            QUBOSampler(solver="sa", n_slices=3)

    def test_a_solver_object_takes_no_annealer_options(self) -> None:
        def solver(problems: Any, rng: Any) -> list[np.ndarray]:
            return []

        assert QUBOSampler(solver=solver).solver is solver
        with pytest.raises(
            ValueError,
            match=r"^sampler, sample_kwargs, num_reads, num_sweeps, n_slices configure the "
            r"built-in solvers \['sa', 'sqa', 'dimod'\]; got solver=",
        ):
            QUBOSampler(solver=solver, sampler=cast(Any, object()), sample_kwargs={}, num_reads=1,
                        num_sweeps=1, n_slices=2)  # fmt: skip
        with pytest.raises(ValueError, match=r"^num_sweeps configure the built-in solvers"):
            QUBOSampler(solver=solver, num_sweeps=5)

    def test_sampler_only_with_dimod(self) -> None:
        with pytest.raises(ValueError, match=r"sampler is only used with solver='dimod'"):
            QUBOSampler(solver="sqa", sampler=cast(Any, object()))


# -- the factories ----------------------------------------------------------------------------
class TestFactories:
    OBJ = Objective(["val_error"], budgets=["size<=3"], directions={"size": "minimize"})

    @pytest.mark.parametrize(
        ("registered", "name", "cls"),
        [(make_qubo_sa, "sa", SASolver), (make_qubo_sqa, "sqa", SQASolver),
         (make_qubo_dimod, "dimod", DimodSolver)],
    )  # fmt: skip
    def test_factory_builds_its_solver_with_the_table(
        self, registered: Any, name: str, cls: Any
    ) -> None:
        """The registered factory, and one built again here from the same table (the
        registered ones are built at import)."""
        assert registered.__name__ == f"make_qubo_{name}"
        make = _factory(name, QUBO_DEFAULTS[name])
        assert make.__name__ == f"make_qubo_{name}"
        space = _space()
        known = lambda arch: {"size": 1.0}  # noqa: E731
        s = make(seed=3, space=space, objective=self.OBJ, cheap_metrics=known)
        assert s._seed == 3
        assert isinstance(s, QUBOSampler) and isinstance(s.solver, cls)
        assert s._models.objective is self.OBJ and s._models.cheap_metrics is known
        table = QUBO_DEFAULTS[name]
        assert s._batch_size == table["batch_size"] and s._exploration == table["exploration"]
        assert s._n_startup == table.get("n_startup", 10)
        assert s._escape_after == table.get("escape_after")
        assert s.solver.num_reads == table.get("num_reads", 10)
        # options given override the table; the space and the seed are the sampler's
        s2 = make(seed=3, space=space, objective=self.OBJ, batch_size=5, num_reads=2)
        assert s2._batch_size == 5 and s2.solver.num_reads == 2
        assert s2._models.cheap_metrics is None
        assert set(s2._search_space) == set(space.distributions())
        runs = []
        for _ in range(2):
            for f in (make, registered):
                study = optuna.create_study(sampler=f(seed=3, space=space, objective=self.OBJ))
                study.optimize(lambda t: sum(space.to_indices(space.suggest(t))), n_trials=4)
                runs.append([t.params for t in study.trials])
        assert runs[0] == runs[1] == runs[2] == runs[3]

    def test_missing_annealing_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        _require_annealing()  # both installed here
        real = importlib.util.find_spec

        def without(missing: set[str]) -> Any:
            return lambda name, *a: None if name in missing else real(name, *a)

        monkeypatch.setattr(importlib.util, "find_spec", without({"dwave"}))
        with pytest.raises(
            ConfigError,
            match=r"^the QUBO strategies need dwave\.samplers: pip install 'quarch\[annealing\]'$",
        ):
            make_qubo_sa(seed=0, space=_space(), objective=self.OBJ)
        monkeypatch.setattr(importlib.util, "find_spec", without({"dwave", "dimod"}))
        with pytest.raises(ConfigError, match=r"need dimod and dwave\.samplers: pip install"):
            _require_annealing()
        monkeypatch.setattr(importlib.util, "find_spec", without({"dimod"}))
        with pytest.raises(ConfigError, match=r"need dimod: pip install"):
            _require_annealing()


# -- when the escape is due -------------------------------------------------------------------
class TestStalled:
    @staticmethod
    def _hist(n: int, best: int | None, objectives: int = 1) -> Any:
        return SimpleNamespace(trials=[None] * n, directions=[StudyDirection.MINIMIZE] * objectives,
                               best=lambda: best)  # fmt: skip

    def test_due_when_the_best_trial_is_patience_trials_old(self) -> None:
        s = QUBOSampler(escape_after=6, escape_patience=3)
        assert s._stalled(self._hist(6, 2))  # trials 3, 4, 5 came after the best: 3 old
        assert not s._stalled(self._hist(6, 3))  # 2 old
        assert not s._stalled(self._hist(5, 0))  # fewer than escape_after trials
        assert not s._stalled(self._hist(6, None))
        assert not s._stalled(self._hist(8, 0, objectives=2))  # no single best trial
        assert not QUBOSampler()._stalled(self._hist(50, 0))  # off by default

    def test_patience_zero_is_due_at_once(self) -> None:
        s = QUBOSampler(escape_after=1, escape_patience=0)
        assert s._stalled(self._hist(1, 0))


# -- the trust region's problems ---------------------------------------------------------------
class TestTrustRegionProblems:
    def _setup(self, trust_after: int) -> tuple[QUBOSampler, History, tuple[int, ...]]:
        X = _archs()[[0, 5, 9, 13, 17]]
        values = [3.0, 1.0, 4.0, 2.0, 5.0]
        s = QUBOSampler(trust_after=trust_after, trust_radius=1, trust_exploration=0.0,
                        exploration=5.0, seed=0, search_space=_cdists())  # fmt: skip
        hist = _history(s, _study_with(X, values))
        return s, hist, tuple(int(v) for v in X[1])

    def test_from_trust_after_trials_every_problem_is_the_mean_inside_the_ball(self) -> None:
        s, hist, best = self._setup(trust_after=5)  # 5 trials complete: the region is on
        problems = s._problems(hist, np.random.default_rng(0), 3)
        assert len(problems) == 3
        A = _archs()
        inside = (np.array(best) != A).sum(1) <= 1
        for p in problems:
            (c,) = p.constraints
            np.testing.assert_array_equal(c.values(A) <= 0, inside)
            np.testing.assert_allclose(p.model.energy(A), problems[0].model.energy(A))

    def test_before_trust_after_trials_the_samples_are_free(self) -> None:
        s, hist, _ = self._setup(trust_after=6)
        problems = s._problems(hist, np.random.default_rng(0), 2)
        assert all(not p.constraints for p in problems)
        A = _archs()
        assert not np.allclose(problems[0].model.energy(A), problems[1].model.energy(A))


# -- uniform draws -------------------------------------------------------------------------------
class TestUniform:
    def test_unseen_means_not_taken_when_taken_is_given(self) -> None:
        sizes = [2, 2]
        hist = _bare_history(sizes, set())
        taken: set[tuple[int, ...]] = {(0, 0), (0, 1), (1, 1)}
        for seed in range(5):
            x = QUBOSampler(seed=0)._uniform(hist, np.random.default_rng(seed), taken)
            assert tuple(x) == (1, 0)

    def test_a_nearly_exhausted_space_still_yields_its_last_unseen(self) -> None:
        sizes = [8, 8]
        seen = {tuple(int(v) for v in a) for a in _archs(sizes)} - {(5, 2)}
        hist = _bare_history(sizes, seen)
        for seed in range(5):
            x = QUBOSampler(seed=0)._uniform(hist, np.random.default_rng(seed))
            assert tuple(x) == (5, 2)

    def test_known_budget_rejections_stop_after_200(self, monkeypatch: pytest.MonkeyPatch) -> None:
        obj = Objective(["val_error"], budgets=["size<=3"], directions={"size": "minimize"})
        s = QUBOSampler(seed=0, objective=obj, cheap_metrics=lambda arch: {"size": 9.0})
        hist = _bare_history([4, 4, 4, 4], set())
        calls = []
        real = s._models.feasible_known

        def counted(h: History, X: np.ndarray) -> np.ndarray:
            calls.append(1)
            return real(h, X)

        monkeypatch.setattr(s._models, "feasible_known", counted)
        x = s._uniform(hist, np.random.default_rng(0), set())
        assert len(x) == 4 and len(calls) == 200


# -- the top-up of a short batch with draws known to meet the budgets --------------------------
def test_short_batch_is_topped_up_with_untried_draws_within_a_known_budget() -> None:
    """A solver that returns nothing for all but the first problem: the batch is still
    ``batch_size`` untried architectures, all within the budget on the known metric."""

    def sparse(problems: Sequence[QUBOProblem], rng: np.random.Generator) -> list[np.ndarray]:
        out = [np.zeros((0, len(SIZES)), dtype=np.int64) for _ in problems]
        out[0] = np.array([[0, 0, 0]])
        return out

    obj = Objective(["val_error"], budgets=["size<=2"], directions={"size": "minimize"})

    def size(arch: Mapping[str, Any]) -> Mapping[str, float]:
        return {"size": float(sum(_space().to_indices(arch)))}

    X = _archs()[[1, 4, 9]]  # sizes 1, 2, 3
    study = _study_with(X, [1.0, 2.0, 3.0])
    s = QUBOSampler(solver=sparse, objective=obj, cheap_metrics=size, batch_size=4, seed=0,
                    search_space=_cdists())  # fmt: skip
    hist = _history(s, study)
    for seed in range(3):
        props, counters = s._batch(study, hist, np.random.default_rng(seed), 4, 0)
        assert counters == {}
        assert len(props) == 4
        keys = {tuple(p) for p in props}
        assert len(keys) == 4 and not keys & hist.seen
        assert (0, 0, 0) in keys
        assert all(sum(p) <= 2 for p in props)


# -- ranking of solver candidates ----------------------------------------------------------------
class TestRanked:
    def test_lowest_cost_first_ties_in_the_order_found(self) -> None:
        sizes = [6, 5]
        f = [[0.0, 1.0, 0.0, 1.0, 0.0, 1.0], [0.0] * 5]  # cost = 1 for an odd first option
        p = QUBOProblem(_additive(f, sizes), np.zeros(2, dtype=np.int64))
        found = [
            tuple(int(v) for v in a) for a in np.random.default_rng(0).permutation(_archs(sizes))
        ]
        repeated = np.array(found + found[:7])  # repeats are dropped
        cands, energy = _ranked(p, repeated)
        want = [x for x in found if x[0] % 2 == 0] + [x for x in found if x[0] % 2 == 1]
        assert [tuple(c) for c in cands] == want
        np.testing.assert_allclose(energy, [x[0] % 2 for x in want])

    def test_indices_outside_the_space_are_refused(self) -> None:
        p = QUBOProblem(_additive([[0, 0, 0], [0, 0, 0], [0, 0]]), np.zeros(3, dtype=np.int64))
        assert len(_ranked(p, np.array([[2, 2, 1]]))[0]) == 1
        for bad in ([3, 0, 0], [0, 0, 2], [0, -1, 0]):
            with pytest.raises(ValueError, match=r"outside the space of sizes \[3, 3, 2\]"):
                _ranked(p, np.array([bad]))
        assert _ranked(p, np.zeros((0, 3), dtype=np.int64))[0] == []


# -- thompson="batch": one sample's proposals ----------------------------------------------------
def _chain(p: QUBOProblem, start: Sequence[int], taken: set[tuple[int, ...]], size: int) -> list:
    """Brute force: the cheapest untried neighbour of ``start``, then of the proposals
    so far, ``size`` times (or until none is left)."""
    out: list[tuple[int, ...]] = []
    taken = set(taken)
    while len(out) < size:
        pool = {nb for x in (out or [tuple(start)]) for nb in _neighbours(x, p.sizes)} - taken
        if not pool:
            break
        ordered = sorted(pool)
        best = ordered[int(np.argmin(p.cost(np.array(ordered))))]
        out.append(best)
        taken.add(best)
    return out


class TestAllFromOne:
    def _random_problem(self, seed: int) -> QUBOProblem:
        w = np.random.default_rng(seed).standard_normal(n_features(SIZES))
        return QUBOProblem(QuadraticModel(SIZES, w), np.array([0, 0, 0]))

    @pytest.mark.parametrize("seed", range(3))
    def test_no_candidates_walks_from_the_incumbent(self, seed: int) -> None:
        p = self._random_problem(seed)
        taken: set[tuple[int, ...]] = {(0, 0, 0)}
        props = _all_from_one(p, [], np.zeros(0), set(taken), 3)
        assert [tuple(x) for x in props] == _chain(p, (0, 0, 0), taken, 3)

    @pytest.mark.parametrize("seed", range(3))
    def test_candidates_first_then_neighbours_of_the_proposals(self, seed: int) -> None:
        p = self._random_problem(seed)
        A = [list(a) for a in _archs()]
        order = np.argsort(p.cost(np.array(A)), kind="stable")
        cands = [A[i] for i in order[:4]]
        taken: set[tuple[int, ...]] = {(0, 0, 0), tuple(cands[1])}
        energy = p.cost(np.array(cands))
        props = _all_from_one(p, cands, energy, set(taken), 5)
        untried = [tuple(c) for c in cands if tuple(c) not in taken]
        assert [tuple(x) for x in props[: len(untried)]] == untried
        assert len(props) == 5
        # the top-up walks from all proposals so far: the cheapest untried neighbour of any
        pool = {nb for x in untried for nb in _neighbours(x)} - taken - set(untried)
        first = min(pool, key=lambda x: float(p.cost(np.array([x]))[0]))
        assert tuple(props[len(untried)]) == first

    def test_from_a_cheaper_first_candidate_when_all_are_tried(self) -> None:
        """Every candidate tried: the walk starts at the first candidate when it is
        cheaper than the incumbent, else at the incumbent (a tie keeps the incumbent)."""
        f_tie = [[0, 1, 0], [0, 1, 0], [0, -2, -5]]  # (1,1,1) costs 0 like (0,0,0)
        sizes = [3, 3, 3]
        cand = [1, 1, 1]
        taken: set[tuple[int, ...]] = {(0, 0, 0), (1, 1, 1)}
        chains = []
        for f, start in ((f_tie, (0, 0, 0)), ([[0, 1, 0], [0, 1, 0], [0, -3, -5]], (1, 1, 1))):
            p = QUBOProblem(_additive(f, sizes), np.array([0, 0, 0]))
            energy = p.cost(np.array([cand]))
            props = _all_from_one(p, [cand], energy, set(taken), 1)
            chains.append(_chain(p, start, taken, 1))
            assert [tuple(x) for x in props] == chains[-1]
        tie = QUBOProblem(_additive(f_tie, sizes), np.array([0, 0, 0]))
        assert chains[0] != _chain(tie, (1, 1, 1), taken, 1)  # the tie case tells them apart

    def test_stops_when_nothing_is_left(self) -> None:
        sizes = [2, 2]
        p = QUBOProblem(_additive([[0, 1], [0, 2]], sizes), np.array([0, 0]))
        taken: set[tuple[int, ...]] = {(0, 0), (0, 1), (1, 1)}
        props = _all_from_one(p, [], np.zeros(0), set(taken), 3)
        assert props == [[1, 0]]


# -- the polish and the swap in a batch -----------------------------------------------------------
def _every_arch(problems: Sequence[QUBOProblem], rng: np.random.Generator) -> list[np.ndarray]:
    return [_archs() for _ in problems]


def _nothing(problems: Sequence[QUBOProblem], rng: np.random.Generator) -> list[np.ndarray]:
    return [np.zeros((0, len(SIZES)), dtype=np.int64) for _ in problems]


class TestPolishAndSwapInABatch:
    """Five trials, the best at ``(0, 1, 0)``; choices 0 and 1 share their options, so
    its swaps (brute force) are ``{(1, 0, 0)}``."""

    X = np.array([[0, 1, 0], [2, 2, 1], [1, 2, 0], [2, 0, 1], [0, 2, 1]])
    VALUES = (0.5, 3.0, 2.0, 4.0, 1.0)
    BEST = (0, 1, 0)

    def _run(self, solver: Any, size: int, **kw: Any) -> tuple[list[Any], History]:
        s = QUBOSampler(solver=solver, exploration=0.0, batch_size=size, seed=0,
                        search_space=_cdists(), **kw)  # fmt: skip
        study = _study_with(self.X, self.VALUES)
        hist = _history(s, study)
        assert tuple(int(v) for v in hist.X[hist.best()]) == self.BEST
        props, _ = s._batch(study, hist, np.random.default_rng(0), size, 0)
        return props, hist

    def _swaps_of_best(self) -> set[tuple[int, ...]]:
        b = self.BEST
        return {(b[1], b[0], b[2])} if b[0] != b[1] else set()

    @pytest.mark.parametrize("size", [3, 4])
    def test_polish_then_swap_then_samples_make_the_batch(self, size: int) -> None:
        props, hist = self._run(_every_arch, size, polish_after=0, polish_radius=3,
                                escape_after=0, escape_patience=0)  # fmt: skip
        keys = [tuple(p) for p in props]
        assert len(keys) == size and len(set(keys)) == size
        assert not set(keys) & hist.seen
        assert keys[1] in self._swaps_of_best()

    def test_swap_then_samples_of_the_swaps_stay_distinct(self) -> None:
        def swaps(problems: Sequence[QUBOProblem], rng: np.random.Generator) -> list[np.ndarray]:
            return [np.array(sorted(self._swaps_of_best())) for _ in problems]

        props, _ = self._run(swaps, 2, escape_after=0, escape_patience=0)
        keys = [tuple(p) for p in props]
        assert keys[0] in self._swaps_of_best()
        assert len(keys) == 2 and len(set(keys)) == 2

    def test_a_batch_of_one_is_the_polish_when_both_are_due(self) -> None:
        props, _ = self._run(_nothing, 1, polish_after=0, escape_after=0, escape_patience=0)
        assert len(props) == 1
        assert int(np.sum(np.array(props[0]) != np.array(self.BEST))) == 1  # radius 1

    def test_a_batch_of_one_is_the_swap_when_stalled(self) -> None:
        props, _ = self._run(_nothing, 1, escape_after=0, escape_patience=0)
        assert [tuple(p) for p in props] == sorted(self._swaps_of_best())

    def test_polish_never_proposes_what_breaks_a_known_budget(self) -> None:
        """Best trial of size 1: every neighbour but (0, 0, 0) has size >= 1."""

        def size(arch: Mapping[str, Any]) -> Mapping[str, float]:
            return {"size": float(sum(_space().to_indices(arch)))}

        for budget, want in (("size<=0", None), ("size<=1", [(0, 0, 0)])):
            obj = Objective(["val_error"], budgets=[budget], directions={"size": "minimize"})
            s = QUBOSampler(objective=obj, cheap_metrics=size, polish_after=0, seed=0,
                            search_space=_cdists())  # fmt: skip
            study = _study_with(self.X, self.VALUES)
            hist = _history(s, study)
            taken: set[tuple[int, ...]] = set(hist.seen) | ({(0, 0, 0)} if want is None else set())
            x = s._polish(hist, np.random.default_rng(0), taken)
            if want is None:
                assert x is None
            else:
                assert x is not None and tuple(x) in want
