"""The quadratic surrogate, its QUBO and the QUBO samplers, against brute force and a
closed-form Bayesian posterior."""

from __future__ import annotations

import itertools

import dimod
import numpy as np
import optuna
import pytest

from quarch.search import QUBOSampler
from quarch.search._qubo import _decode, descend
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
        np.testing.assert_allclose(post.mean, cov @ Phi.T @ y / s2, atol=1e-10)
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


def _solver(solver: str) -> QUBOSampler:
    return QUBOSampler(
        solver=solver, num_reads=8, num_sweeps=1000 if solver == "sa" else 100, n_slices=16
    )


class TestSolvers:
    @pytest.mark.parametrize("solver", ["sa", "sqa", "dimod"])
    @pytest.mark.parametrize("seed", range(3))
    def test_finds_brute_force_ground_state_of_random_14_bit_qubo(
        self, solver: str, seed: int
    ) -> None:
        Q = np.triu(np.random.default_rng(seed).standard_normal((14, 14)))
        X = np.array(list(itertools.product([0, 1], repeat=14)), dtype=float)
        reads = _solver(solver).solve([Q], np.random.default_rng(seed))[0].astype(float)
        E = np.einsum("bi,ij,bj->b", reads, Q, reads)
        assert list(E) == sorted(E)
        assert E[0] == pytest.approx(np.einsum("bi,ij,bj->b", X, Q, X).min())

    @pytest.mark.parametrize("solver", ["sa", "sqa"])
    @pytest.mark.parametrize("seed", range(3))
    def test_surrogate_qubo_gives_the_best_architecture(self, solver: str, seed: int) -> None:
        m = _model(10 + seed)
        Q, _ = m.qubo()
        reads = _solver(solver).solve([Q], np.random.default_rng(seed))[0]
        best = min(
            (descend(m, _decode(b, SIZES)) for b in reads), key=lambda x: m.energy(np.array([x]))[0]
        )
        assert m.energy(np.array([best]))[0] == pytest.approx(m.energy(_archs(SIZES)).min())

    def test_user_dimod_sampler(self) -> None:
        space = _space([3, 2, 2])
        sampler = QUBOSampler(solver="dimod", sampler=dimod.ExactSolver(), n_startup=3, seed=0)
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: float(sum(space.to_indices(space.suggest(t)))), n_trials=10)
        assert all(space.is_valid(t.params) for t in study.trials)
        assert len({tuple(t.params.values()) for t in study.trials}) == 10  # no repeats
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert "QUBOSampler:batch:0" in attrs


class TestInputs:
    def test_solver(self) -> None:
        with pytest.raises(
            ValueError, match=r"solver must be one of \['sa', 'sqa', 'dimod'\]; got 'qpu'"
        ):
            QUBOSampler(solver="qpu")  # type: ignore[arg-type]

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
