"""The quadratic surrogate, its QUBO, the annealing solvers and the solver protocol of
the QUBO sampler, against brute force and a closed-form Bayesian posterior."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Callable, Sequence
from typing import Literal

import dimod
import numpy as np
import optuna
import pytest

from quarch.search import (
    DimodSolver,
    GroverSampler,
    GroverSolver,
    QAOASolver,
    QUBOProblem,
    QUBOSampler,
    SASolver,
    Solution,
    SQASolver,
)
from quarch.search._problem import (
    INFEASIBLE,
    Constraint,
    _decode,
    _matrix,
    descend,
    pick_unseen,
)
from quarch.search._surrogate import (
    QuadraticModel,
    _Posterior,
    features,
    fit_quadratic,
    n_features,
    rank_targets,
)
from quarch.space import Choice, Space

SIZES = [4, 4, 3, 3]  # 14 one-hot bits, 144 architectures


def _space(sizes: list[int]) -> Space:
    return Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(sizes)])


def _archs(sizes: list[int]) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


def _model(seed: int, sizes: list[int] = SIZES) -> QuadraticModel:
    return QuadraticModel(sizes, np.random.default_rng(seed).standard_normal(n_features(sizes)))


class TestModel:
    def test_energy_equals_bits_quadratic_form(self) -> None:
        m = _model(0)
        X = _archs(SIZES)
        bits = np.stack(
            [
                _space(SIZES).to_bits(dict(zip(_space(SIZES).names, x, strict=True)))
                for x in X.tolist()
            ]
        ).astype(float)
        Q = m.quadratic() + np.diag(m.linear())
        np.testing.assert_allclose(m.energy(X), np.einsum("bi,ij,bj->b", bits, Q, bits))
        np.testing.assert_allclose(m.energy(X), features(X, SIZES) @ m.w)

    def test_bqm_ground_state_is_the_best_valid_architecture(self) -> None:
        m = _model(1)
        bqm = m.to_bqm()
        best = dimod.ExactSolver().sample(bqm).first  # brute force over 2**14 bit vectors
        bits = np.array([best.sample[i] for i in range(14)])
        x = _space(SIZES).to_indices(_space(SIZES).from_bits(bits))
        assert _space(SIZES).to_bits(_space(SIZES).from_indices(x)).tolist() == bits.tolist()
        e = m.energy(_archs(SIZES))
        assert best.energy == pytest.approx(e.min())
        assert m.energy(np.array([x]))[0] == pytest.approx(e.min())

    def test_bad_weights_shape(self) -> None:
        with pytest.raises(
            ValueError, match=r"w must have shape \(11,\) for sizes \[2, 3\]; got \(4,\)"
        ):
            QuadraticModel([2, 3], np.zeros(4))


class TestPosterior:
    def test_mean_and_samples_match_closed_form(self) -> None:
        rng = np.random.default_rng(0)
        sizes = [2, 3]
        X = rng.integers(0, [2, 3], size=(8, 2))
        y = rng.standard_normal(8)
        Phi = features(X, sizes)
        d = np.full(Phi.shape[1], 0.3)
        s2 = 0.2
        post = _Posterior(Phi, y, d, s2, (Phi * d) @ Phi.T)
        A = Phi.T @ Phi / s2 + np.diag(1 / d)  # weight-space posterior precision
        cov = np.linalg.inv(A)
        np.testing.assert_allclose(post.mean, cov @ Phi.T @ y / s2, rtol=0, atol=1e-10)
        draws = np.stack([post.draw(np.random.default_rng(i)) for i in range(4000)])
        np.testing.assert_allclose(draws.mean(0), post.mean, atol=0.05)
        np.testing.assert_allclose(np.cov(draws.T), cov, atol=0.05)

    def test_fit_recovers_a_quadratic_function(self) -> None:
        truth = _model(3)
        X = _archs(SIZES)
        rng = np.random.default_rng(0)
        train = rng.choice(len(X), 100, replace=False)
        y = truth.energy(X)
        post = fit_quadratic(X[train], (y[train] - y.mean()) / y.std(), SIZES)
        pred = QuadraticModel(SIZES, post.mean).energy(X)
        assert np.corrcoef(pred, y)[0, 1] > 0.9

    def test_rank_targets_order(self) -> None:
        trials = [optuna.trial.create_trial(value=v) for v in (3.0, 1.0, 2.0)]
        for i, t in enumerate(trials):
            t.number = i
        r = rank_targets(trials, [optuna.study.StudyDirection.MINIMIZE])
        assert list(np.argsort(r)) == [1, 2, 0]
        assert r.sum() == pytest.approx(0.0)


def _solver(solver: str) -> SASolver | SQASolver | DimodSolver:
    if solver == "sa":
        return SASolver(num_reads=8, num_sweeps=1000)
    if solver == "sqa":
        return SQASolver(num_reads=8, num_sweeps=100, n_slices=16)
    return DimodSolver(num_reads=8)


class TestSolvers:
    @pytest.mark.parametrize("solver", ["sa", "sqa", "dimod"])
    @pytest.mark.parametrize("seed", range(3))
    def test_finds_brute_force_ground_state_of_random_14_bit_qubo(
        self, solver: str, seed: int
    ) -> None:
        Q = np.triu(np.random.default_rng(seed).standard_normal((14, 14)))
        X = np.array(list(itertools.product([0, 1], repeat=14)), dtype=float)
        reads = _solver(solver).minimize([Q], np.random.default_rng(seed))[0].astype(float)
        E = np.einsum("bi,ij,bj->b", reads, Q, reads)
        assert list(E) == sorted(E)
        assert E[0] == pytest.approx(np.einsum("bi,ij,bj->b", X, Q, X).min())

    @pytest.mark.parametrize("solver", ["sa", "sqa"])
    @pytest.mark.parametrize("seed", range(3))
    def test_surrogate_qubo_gives_the_best_architecture(self, solver: str, seed: int) -> None:
        m = _model(10 + seed)
        Q, _ = m.qubo()
        reads = _solver(solver).minimize([Q], np.random.default_rng(seed))[0]
        best = min(
            (descend(m, _decode(b, SIZES)) for b in reads), key=lambda x: m.energy(np.array([x]))[0]
        )
        assert m.energy(np.array([best]))[0] == pytest.approx(m.energy(_archs(SIZES)).min())

    def test_user_dimod_sampler(self) -> None:
        space = _space([3, 2, 2])
        sampler = QUBOSampler(
            solver="dimod",
            sampler=dimod.ExactSolver(),
            n_startup=3,
            seed=0,
            search_space=space.distributions(),
        )
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: float(sum(space.to_indices(space.suggest(t)))), n_trials=10)
        assert all(space.is_valid(t.params) for t in study.trials)
        assert len({tuple(t.params.values()) for t in study.trials}) == 10  # no repeats
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert "QUBOSampler:batch:0" in attrs


class TestInputs:
    def test_solver(self) -> None:
        with pytest.raises(
            ValueError,
            match=r"solver must be one of \['sa', 'sqa', 'dimod'\] or a solver object; got 'qpu'",
        ):
            QUBOSampler(solver="qpu")
        with pytest.raises(ValueError, match=r"or a solver object \(a callable .*\); got 3"):
            QUBOSampler(solver=3)  # type: ignore[arg-type]

    def test_sampler_needs_dimod_solver(self) -> None:
        with pytest.raises(
            ValueError, match=r"sampler is only used with solver='dimod'; got solver='sa'"
        ):
            QUBOSampler(solver="sa", sampler=dimod.ExactSolver())

    def test_sampler_must_sample(self) -> None:
        with pytest.raises(ValueError, match=r"sampler must be a dimod.Sampler"):
            QUBOSampler(solver="dimod", sampler=object())  # type: ignore[arg-type]

    def test_counts(self) -> None:
        with pytest.raises(ValueError, match=r"num_reads must be an integer >= 1; got 0"):
            QUBOSampler(num_reads=0)
        with pytest.raises(ValueError, match=r"n_slices must be an even integer >= 2; got 5"):
            QUBOSampler(n_slices=5)
        with pytest.raises(ValueError, match=r"exploration must be in \[0.0, 10.0\]; got -1"):
            QUBOSampler(exploration=-1)
        with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1; got 0"):
            QUBOSampler(batch_size=0)


class _BruteForce:
    """Every architecture of each problem, and a record of the problems seen."""

    def __init__(self, counters: dict[str, float] | None = None) -> None:
        self.seen: list[list[QUBOProblem]] = []
        self.counters = counters

    def __call__(
        self, problems: Sequence[QUBOProblem], rng: np.random.Generator
    ) -> list[np.ndarray] | Solution:
        self.seen.append(list(problems))
        cands = [_archs(p.sizes)[::-1] for p in problems]  # any order: the sampler ranks
        return cands if self.counters is None else Solution(cands, dict(self.counters))


def _run(sampler: QUBOSampler, n: int, sizes: list[int] = [3, 4, 2]) -> optuna.Study:  # noqa: B006
    space = _space(sizes)
    study = optuna.create_study(sampler=sampler)
    rng = np.random.default_rng(0)
    table = rng.standard_normal(sizes)
    study.optimize(lambda t: float(table[tuple(space.to_indices(space.suggest(t)))]), n_trials=n)
    return study


def _batch_of(study: optuna.Study, start: int, size: int) -> tuple[list[list[int]], set]:
    space = _space([3, 4, 2])
    trials = sorted(study.trials, key=lambda t: t.number)
    seen = {tuple(space.to_indices(t.params)) for t in trials[:start]}
    return [space.to_indices(t.params) for t in trials[start : start + size]], seen


class TestSolverProtocol:
    def test_problem_qubo_is_the_penalised_model(self) -> None:
        sizes = [3, 2, 2]
        p = QUBOProblem(_model(4, sizes), np.zeros(3, dtype=np.int64))
        space, archs = _space(sizes), _archs(sizes)
        onehot = np.stack([space.to_bits(space.from_indices(x.tolist())) for x in archs])
        E = np.einsum("bi,ij,bj->b", onehot.astype(float), p.Q, onehot.astype(float))
        np.testing.assert_allclose(E + p.penalty * 3, p.energy(archs))  # valid codes
        bits = np.array(list(itertools.product([0, 1], repeat=7)), dtype=float)
        every = np.einsum("bi,ij,bj->b", bits, p.Q, bits)
        assert every.min() == pytest.approx(E.min())  # the ground state is a valid code
        best = int(np.argmin(E))
        assert p.decode(onehot[[best]]).tolist() == [archs[best].tolist()]

    def test_one_sample_per_proposal_each_proposes_its_best_unseen(self) -> None:
        solver = _BruteForce()
        study = _run(QUBOSampler(solver=solver, batch_size=3, n_startup=4, seed=0), 7)
        (problems,) = solver.seen
        assert len(problems) == 3  # one Thompson sample per proposal
        props, taken = _batch_of(study, 4, 3)
        for p, x in zip(problems, props, strict=True):
            unseen = [a for a in _archs(p.sizes).tolist() if tuple(a) not in taken]
            assert x == min(unseen, key=lambda a: p.energy(np.array([a]))[0])
            taken.add(tuple(x))

    def test_one_sample_per_batch_proposes_its_best_unseen(self) -> None:
        solver = _BruteForce()
        sampler = QUBOSampler(solver=solver, thompson="batch", batch_size=5, n_startup=4, seed=1)
        study = _run(sampler, 9)
        ((p,),) = solver.seen
        props, taken = _batch_of(study, 4, 5)
        unseen = [a for a in _archs(p.sizes).tolist() if tuple(a) not in taken]
        assert props == sorted(unseen, key=lambda a: p.energy(np.array([a]))[0])[:5]

    def test_incumbent_is_the_samples_best_tried_architecture(self) -> None:
        solver = _BruteForce()
        study = _run(QUBOSampler(solver=solver, batch_size=2, n_startup=5, seed=2), 6)
        space = _space([3, 4, 2])
        tried = np.array([space.to_indices(t.params) for t in study.trials[:5]])
        for p in solver.seen[0]:
            assert p.incumbent.tolist() == tried[int(np.argmin(p.energy(tried)))].tolist()

    def test_counters_are_recorded_on_the_batch(self) -> None:
        sampler = QUBOSampler(solver=_BruteForce({"qpu_us": 2.5}), batch_size=2, n_startup=3)
        study = _run(sampler, 7)
        calls = [t.system_attrs.get("QUBOSampler:qpu_us") for t in study.trials]
        assert calls == [None] * 3 + [2.5] * 4  # the batch's report on each of its trials

    def test_solver_output_is_checked(self) -> None:
        def short(problems: Sequence[QUBOProblem], rng: np.random.Generator) -> list[np.ndarray]:
            return []

        def outside(problems: Sequence[QUBOProblem], rng: np.random.Generator) -> list[np.ndarray]:
            return [np.array([[0, 9, 0]]) for _ in problems]

        with pytest.raises(
            ValueError, match=r"must return one candidate array per problem \(2\); got 0"
        ):
            _run(QUBOSampler(solver=short, batch_size=2, n_startup=2, seed=0), 3)
        with pytest.raises(
            ValueError, match=r"option indices outside the space of sizes \[3, 4, 2\]"
        ):
            _run(QUBOSampler(solver=outside, n_startup=2, seed=0), 3)

    def test_solver_object_takes_its_own_options(self) -> None:
        with pytest.raises(
            ValueError,
            match=r"num_reads, n_slices configure the built-in solvers \['sa', 'sqa', 'dimod'\]",
        ):
            QUBOSampler(solver=SASolver(), num_reads=3, n_slices=4)
        with pytest.raises(
            ValueError, match=r"thompson must be one of \['proposal', 'batch'\]; got 'x'"
        ):
            QUBOSampler(thompson="x")  # type: ignore[arg-type]

    def test_named_solver_is_the_solver_object(self) -> None:
        """``solver="sqa"`` with its options is ``SQASolver`` with the same options."""
        a = _run(QUBOSampler(solver="sqa", num_reads=3, num_sweeps=20, n_startup=3, seed=3), 8)
        b = _run(QUBOSampler(solver=SQASolver(num_reads=3, num_sweeps=20), n_startup=3, seed=3), 8)
        assert [t.params for t in a.trials] == [t.params for t in b.trials]

    def test_circuit_samplers_are_the_qubo_sampler_with_their_solver(self) -> None:
        a = _run(GroverSampler(max_oracle_calls=8, batch_size=4, n_startup=3, seed=4), 9)
        b = _run(
            QUBOSampler(
                solver=GroverSolver(max_oracle_calls=8),
                thompson="batch",
                exploration=0.5,
                batch_size=4,
                n_startup=3,
                seed=4,
            ),
            9,
        )
        assert [t.params for t in a.trials] == [t.params for t in b.trials]
        calls = b.trials[-1].system_attrs["QUBOSampler:oracle_calls"]
        assert a.trials[-1].system_attrs["GroverSampler:oracle_calls"] == calls > 0

    @pytest.mark.parametrize("thompson", ["proposal", "batch"])
    def test_any_solver_in_either_mode(self, thompson: Literal["proposal", "batch"]) -> None:
        for solver in (SASolver(num_reads=2, num_sweeps=50), QAOASolver(p=1, steps=2, shots=16)):
            sampler = QUBOSampler(
                solver=solver, thompson=thompson, batch_size=3, n_startup=3, seed=5
            )
            study = _run(sampler, 12)
            assert len({tuple(t.params.values()) for t in study.trials}) == 12
            clone = pickle.loads(pickle.dumps(sampler))
            assert [t.params for t in _run(clone, 12).trials] == [t.params for t in study.trials]


# -- the problem a solver sees: budgets, decoding and the local moves -----------------------------
BUDGET_SIZES = [3, 2, 3]  # 18 architectures


def _table_model(f: Sequence[Sequence[float] | np.ndarray], sizes: list[int]) -> QuadraticModel:
    """The model ``sum_j f[j][x_j]`` (no pair terms)."""
    w = np.zeros(n_features(sizes))
    w[: sum(sizes)] = np.concatenate([np.asarray(v, dtype=float) for v in f])
    return QuadraticModel(sizes, w)


def _table(tables: Sequence[np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """An exact budget ``g(x) = sum_j table_j[x_j]``."""

    def g(X: np.ndarray) -> np.ndarray:
        return sum((t[X[:, j]] for j, t in enumerate(tables)), np.zeros(len(X)))

    return g


def _zero(sizes: list[int]) -> QuadraticModel:
    return QuadraticModel(sizes, np.zeros(n_features(sizes)))


def _budgeted(seed: int, tight: float = 0.0) -> tuple[QUBOProblem, list[Callable]]:
    """A random objective and two exact budgets (their models say nothing: zero)."""
    rng = np.random.default_rng(seed)
    sizes = BUDGET_SIZES
    gs = [
        _table(
            [rng.integers(-2, 3, k) / 2.0 + (tight if j == 0 else 0.0) for j, k in enumerate(sizes)]
        )
        for _ in range(2)
    ]
    cons = tuple(Constraint(f"g{i}", _zero(sizes), exact=g) for i, g in enumerate(gs))
    return QUBOProblem(_model(seed, sizes), np.zeros(3, dtype=np.int64), cons), gs


def _ball(sizes: list[int], centres: Sequence[Sequence[int]], r: int) -> list[tuple[int, ...]]:
    """Brute force: every architecture within ``r`` changed choices of some centre."""
    return [
        a
        for a in itertools.product(*(range(k) for k in sizes))
        if any(sum(u != v for u, v in zip(a, c, strict=True)) <= r for c in centres)
    ]


class TestProblem:
    def test_decode_takes_each_blocks_first_set_bit_or_option_0(self) -> None:
        sizes = [3, 1, 4, 2]
        bits = np.random.default_rng(0).integers(0, 2, size=(300, 10))
        bits[::3, 3:8] = 0  # blocks with no bit set
        for b in bits:
            blocks = np.split(b, np.cumsum(sizes)[:-1])
            truth = [int(np.argmax(blk)) if blk.any() else 0 for blk in blocks]
            assert _decode(b, sizes) == truth

    def test_decode_of_no_reads_is_an_empty_index_array(self) -> None:
        p = QUBOProblem(_model(0, [3, 2]), np.zeros(2, dtype=np.int64))
        X = p.decode(np.zeros((0, 5)))
        assert X.shape == (0, 2)
        assert np.arange(3)[X[:, 0]].shape == (0,)  # option indices index the options

    def test_matrix_of_a_bqm_gives_dimods_energies(self) -> None:
        rng = np.random.default_rng(1)
        bqm = dimod.BinaryQuadraticModel(dimod.BINARY)
        labels: list[object] = [0, 1, 2, 3, 4, "s0", "s1", "s2"]
        bqm.add_variables_from((v, float(rng.normal())) for v in labels)
        for u, v in itertools.combinations(labels, 2):
            if rng.random() < 0.6:
                bqm.add_interaction(u, v, float(rng.normal()))
        bqm.offset = 0.7
        M = _matrix(bqm, 8)
        assert np.allclose(M, np.triu(M))
        bits = np.array(list(itertools.product([0, 1], repeat=8)), dtype=float)
        mine = ((bits @ M) * bits).sum(1) + bqm.offset
        np.testing.assert_allclose(mine, bqm.energies((bits, labels)), rtol=0, atol=1e-12)

    def test_energy_adds_strength_times_the_squared_violation(self) -> None:
        """Budgets linear in sixteenths: the QUBO's linear form is the budget itself,
        so the energy is ``f + strength * max(g, 0)**2`` (0 where ``g <= 0``)."""
        rng = np.random.default_rng(2)
        sizes = BUDGET_SIZES
        f = _model(2, sizes)
        tables = [[rng.integers(-24, 25, k) / 16.0 for k in sizes] for _ in range(2)]
        cons = tuple(Constraint(f"g{i}", _table_model(t, sizes)) for i, t in enumerate(tables))
        p = QUBOProblem(f, np.zeros(3, dtype=np.int64), cons, strength=2.5)
        X = _archs(sizes)
        g = np.stack([_table([np.asarray(v) for v in t])(X) for t in tables])
        assert (g <= 0).any() and (g > 0).any()
        truth = f.energy(X) + 2.5 * (np.maximum(g, 0) ** 2).sum(0)
        np.testing.assert_allclose(p.energy(X), truth, rtol=0, atol=1e-12)

    @pytest.mark.parametrize("seed", [1, 2, 8])
    def test_feasible_and_cost_follow_the_exact_budgets(self, seed: int) -> None:
        p, gs = _budgeted(seed)
        X = _archs(BUDGET_SIZES)
        g = np.stack([gi(X) for gi in gs])
        ok = (g <= 0).all(0)  # g(x) <= 0: a budget met exactly (g == 0) is met
        assert ok.any() and (~ok).any() and (g == 0).any()
        assert ((g[0] > 0) & (g[1] <= 0)).any() and ((g[0] <= 0) & (g[1] > 0)).any()
        np.testing.assert_array_equal(p.feasible(X), ok)
        cost, energy = p.cost(X), p.energy(X)
        np.testing.assert_array_equal(cost[ok], energy[ok])  # ranked by the energy
        # after every feasible one the infeasible ones, by total violation, INFEASIBLE added
        viol = np.maximum(g, 0).sum(0)
        np.testing.assert_allclose(cost[~ok], energy[~ok] + INFEASIBLE * (1 + viol[~ok]))
        assert cost[ok].max() < cost[~ok].min()

    @pytest.mark.parametrize("seed", [1, 2, 8])
    def test_descend_stops_at_a_local_minimum_of_the_cost(self, seed: int) -> None:
        """Brute force over every start: the end has no cheaper neighbour, costs no more
        than the start, and a feasible start never ends infeasible (where descending the
        objective alone would)."""
        p, _ = _budgeted(seed)
        objective_alone_breaks = 0
        for x in _archs(BUDGET_SIZES):
            end = descend(p, list(x))
            around = np.array(_ball(BUDGET_SIZES, [end], 1))
            c_end = float(p.cost(np.array([end]))[0])
            assert p.cost(around).min() >= c_end
            assert c_end <= float(p.cost(np.array([x]))[0])
            if p.feasible(np.array([x]))[0]:
                assert p.feasible(np.array([end]))[0]
                alone = descend(p.model, list(x))
                objective_alone_breaks += not p.feasible(np.array([alone]))[0]
        assert objective_alone_breaks > 0

    def test_descend_moves_only_to_a_strictly_cheaper_neighbour(self) -> None:
        # (0, 0) costs 0 like its neighbour (1, 0), whose neighbour (1, 1) costs -1:
        # (0, 0) has no cheaper neighbour, so it is where the descent ends
        m = QuadraticModel([2, 2], np.array([0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, -1.0]))
        X = _archs([2, 2])
        assert list(m.energy(X)) == [0.0, 1.0, 0.0, -1.0]
        assert descend(m, [0, 0]) == [0, 0]
        assert descend(m, [1, 0]) == [1, 1]
        # a gain within rounding (1e-12) is no move either; 2e-12 is
        for gain, end in ((1e-12, [0]), (2e-12, [1])):
            assert descend(QuadraticModel([2], np.array([0.0, -gain])), [0]) == end


def _pick_reference(
    p: QUBOProblem | QuadraticModel, cands: list[list[int]], taken: set[tuple[int, ...]]
) -> tuple[list[int] | None, str]:
    """pick_unseen's docstring over brute-force balls: the first untried candidate unless a
    budget rules it out, else the cheapest untried architecture within one change of a
    candidate, or (budgets, all of those break one) within two; ``None`` if none."""
    unseen = [c for c in cands if tuple(c) not in taken]
    budgets = isinstance(p, QUBOProblem) and bool(p.constraints)
    if unseen and (not budgets or p.feasible(np.array([unseen[0]]))[0]):  # type: ignore[union-attr]
        return unseen[0], "first"
    best = None
    for r in (1, 2) if budgets else (1,):
        pool = [a for a in _ball(p.sizes, cands, r) if a not in taken]
        if not pool:
            continue
        cost = p.cost(np.array(pool)) if isinstance(p, QUBOProblem) else p.energy(np.array(pool))
        best = list(pool[int(np.argmin(cost))])
        if not budgets or p.feasible(np.array(pool)).any():  # type: ignore[union-attr]
            return best, f"ring {r}"
    return best, "none feasible" if best is not None else "nothing"


class TestPickUnseen:
    def test_without_budgets_the_first_untried_candidate(self) -> None:
        m = _model(0, BUDGET_SIZES)
        assert pick_unseen(m, [[0, 0, 0], [1, 1, 1]], {(0, 0, 0)}) == [1, 1, 1]
        p = QUBOProblem(m, np.zeros(3, dtype=np.int64))
        assert pick_unseen(p, [[0, 0, 0], [1, 1, 1]], {(0, 0, 0)}) == [1, 1, 1]
        # every candidate tried: the cheapest untried neighbour (of the model's energy)
        taken: set[tuple[int, ...]] = {(0, 0, 0), (1, 1, 1)}
        for prob in (m, p):
            assert (
                pick_unseen(prob, [[0, 0, 0]], taken)
                == _pick_reference(prob, [[0, 0, 0]], taken)[0]
            )

    def test_the_documented_choice_on_random_budgets(self) -> None:
        rng = np.random.default_rng(7)
        archs = [tuple(int(v) for v in a) for a in _archs(BUDGET_SIZES)]
        how = set()
        for case in range(240):
            p, _ = _budgeted(case % 12, tight=float(rng.choice([0.0, 1.0, 2.0])))
            cands = [
                list(archs[i]) for i in rng.choice(18, size=int(rng.integers(0, 4)), replace=False)
            ]
            taken = {archs[i] for i in rng.choice(18, size=int(rng.integers(0, 17)), replace=False)}
            expected, branch = _pick_reference(p, cands, set(taken))
            assert pick_unseen(p, cands, set(taken)) == expected, (case, branch)
            how.add(branch)
        assert how == {"first", "ring 1", "ring 2", "none feasible", "nothing"}

    def test_ring_two_when_ring_one_breaks_a_budget_by_a_little(self) -> None:
        """An infeasible architecture of negative energy and a small violation costs
        less than INFEASIBLE: it must not stop the search before the feasible one."""
        m = _table_model([[-0.5, -0.5], [-0.5, 0.5]], [2, 2])

        def g(X: np.ndarray) -> np.ndarray:
            return np.where((X[:, 0] == 1) & (X[:, 1] == 1), -1.0, 1e-7)

        p = QUBOProblem(m, np.zeros(2, dtype=np.int64), (Constraint("g", _zero([2, 2]), exact=g),))
        X = _archs([2, 2])
        assert (p.cost(X)[~p.feasible(X)] < INFEASIBLE).any()
        assert pick_unseen(p, [[0, 0]], set()) == [1, 1]

    def test_no_third_ring(self) -> None:
        # the only feasible architecture is 3 changes away: the cheapest of the two rings
        sizes = [2, 2, 2]
        m = _table_model([[0.0, 0.1], [0.0, 0.2], [0.0, 0.4]], sizes)

        def g(X: np.ndarray) -> np.ndarray:
            return np.where(X.sum(1) == 3, -1.0, 1.0)

        p = QUBOProblem(m, np.zeros(3, dtype=np.int64), (Constraint("g", _zero(sizes), exact=g),))
        got = pick_unseen(p, [[0, 0, 0]], {(0, 0, 0)})
        assert got == [1, 0, 0]  # cheapest untried within two changes, all infeasible
        # every candidate and neighbour tried: the second ring still answers
        taken: set[tuple[int, ...]] = {(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1)}
        assert pick_unseen(p, [[0, 0, 0]], taken) == [1, 1, 0]
