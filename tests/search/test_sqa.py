"""Simulated quantum annealing against brute force on small QUBOs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quarch.search._sqa import qubo_to_ising, sqa_minimize


def _all_bits(n: int) -> np.ndarray:
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)


def _energies(Q: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.einsum("bi,ij,bj->b", X, Q, X)


class TestInputs:
    def test_odd_slices(self) -> None:
        with pytest.raises(ValueError, match=r"n_slices must be an even integer >= 2; got 3"):
            sqa_minimize(np.eye(3), n_slices=3)

    def test_gamma_must_fall(self) -> None:
        with pytest.raises(ValueError, match=r"gamma must fall .*got \(0.1, 1.0\)"):
            sqa_minimize(np.eye(3), gamma=(0.1, 1.0))

    def test_shape(self) -> None:
        with pytest.raises(ValueError, match=r"Q must have shape \(n, n\) or \(m, n, n\); got"):
            sqa_minimize(np.zeros((2, 3)))

    def test_counts(self) -> None:
        with pytest.raises(ValueError, match=r"n_reads and n_sweeps must be >= 1; got 0, 5"):
            sqa_minimize(np.eye(3), n_reads=0, n_sweeps=5)


class TestCorrectness:
    def test_ising_form_matches_qubo_energy(self) -> None:
        Q = np.random.default_rng(0).standard_normal((6, 6))  # full, non-symmetric
        X = _all_bits(6)
        h, J, off = qubo_to_ising(Q)
        S = 2 * X - 1
        ising = S @ h + 0.5 * np.einsum("bi,ij,bj->b", S, J, S) + off
        np.testing.assert_allclose(ising, _energies(Q, X), rtol=0, atol=1e-9)
        assert np.allclose(J, J.T) and np.allclose(np.diag(J), 0)

    @pytest.mark.parametrize("seed", range(4))
    def test_finds_ground_state_of_random_14_bit_qubo(self, seed: int) -> None:
        Q = np.triu(np.random.default_rng(seed).standard_normal((14, 14)))
        E = _energies(Q, _all_bits(14))
        bits, energy = sqa_minimize(Q, n_reads=8, n_slices=16, n_sweeps=100, seed=seed)
        assert bits.shape == (8, 14) and energy.shape == (8,)
        np.testing.assert_allclose(energy, _energies(Q, bits.astype(float)))
        assert energy.min() == pytest.approx(E.min())

    def test_stack_of_qubos_and_determinism(self) -> None:
        Qs = np.stack([np.triu(np.random.default_rng(s).standard_normal((8, 8))) for s in range(3)])
        bits, energy = sqa_minimize(Qs, n_reads=4, n_sweeps=40, seed=1)
        again, _ = sqa_minimize(Qs, n_reads=4, n_sweeps=40, seed=1)
        assert bits.shape == (3, 4, 8) and energy.shape == (3, 4)
        np.testing.assert_array_equal(bits, again)
        X = _all_bits(8)
        for Q, e in zip(Qs, energy, strict=True):
            assert e.min() == pytest.approx(_energies(Q, X).min())
