"""The quadratic surrogate, its QUBO, the annealing solvers and the solver protocol of
the QUBO sampler, against brute force and a closed-form Bayesian posterior."""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Sequence
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
from quarch.search._problem import _decode, descend
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
