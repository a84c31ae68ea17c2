"""QAOA: the simulated state against PennyLane, ground-state probability against depth,
and the register / decomposition rules shared by the circuit strategies."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import pytest

from quarch.search import QAOASampler, QUBOProblem, Register
from quarch.search._circuits import split_blocks, standardize
from quarch.search._qaoa import optimize_qaoa, qaoa_probs
from quarch.search._surrogate import (
    CircuitSizeError,
    QuadraticModel,
    decode_codes,
    n_features,
    single_thread,
)
from quarch.space import Choice, Space
from quarch.spaces.nb201.space import nb201_space


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def _qubo_costs(n: int, seed: int) -> np.ndarray:
    Q = np.triu(np.random.default_rng(seed).standard_normal((n, n)))
    X = np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)  # wire 0 = MSB
    return np.einsum("bi,ij,bj->b", X, Q, X)


class TestCorrectness:
    def test_state_matches_dense_matrices(self) -> None:
        n, p = 4, 2
        C = _qubo_costs(n, 0)
        rng = np.random.default_rng(1)
        g, b = rng.uniform(0, 1, p), rng.uniform(0, 1, p)
        psi = np.full(2**n, 2 ** (-n / 2), dtype=complex)
        X = np.array([[0, 1], [1, 0]], dtype=complex)
        for layer in range(p):
            psi = np.exp(-1j * g[layer] * C) * psi
            rx = np.cos(b[layer]) * np.eye(2) - 1j * np.sin(b[layer]) * X  # exp(-i b X)
            mixer = np.array([[1.0]], dtype=complex)
            for _ in range(n):
                mixer = np.kron(mixer, rx)
            psi = mixer @ psi
        np.testing.assert_allclose(qaoa_probs(C, g, b), np.abs(psi) ** 2, rtol=0, atol=1e-10)

    def test_batched_angles(self) -> None:
        C = _qubo_costs(3, 2)
        G = np.array([[0.1, 0.2], [0.3, 0.4]])
        B = np.array([[0.5, 0.6], [0.7, 0.8]])
        out = qaoa_probs(C, G, B)
        for i in range(2):
            np.testing.assert_allclose(out[i], qaoa_probs(C, G[i], B[i]), rtol=0, atol=1e-12)

    @pytest.mark.parametrize("seed", range(3))
    def test_ground_state_probability_grows_with_p(self, seed: int) -> None:
        C = _qubo_costs(6, seed)
        ground = np.isclose(C, C.min())
        Cs = standardize(C)
        p_gs, x0 = [], None
        for p in (1, 2, 3):
            g, b, _ = optimize_qaoa(C, p, steps=60, x0=x0)
            p_gs.append(float(qaoa_probs(Cs, g, b)[ground].sum()))
            x0 = np.concatenate([g, [0.0], b, [0.0]])  # depth p+1 starts where p ended
        uniform = ground.mean()
        assert uniform < p_gs[0] < p_gs[2]
        assert p_gs[1] >= p_gs[0] - 0.01

    def test_optimised_energy_not_above_start(self) -> None:
        C = _qubo_costs(5, 7)
        t = (np.arange(2) + 0.5) / 2
        start = float(qaoa_probs(standardize(C), 0.6 * t, 0.6 * (1 - t)) @ standardize(C))
        _, _, f = optimize_qaoa(C, 2, steps=20)
        assert f <= start

    def test_angle_shapes(self) -> None:
        with pytest.raises(ValueError, match=r"gammas and betas must have the same shape"):
            qaoa_probs(np.zeros(4), np.zeros(2), np.zeros(3))
        with pytest.raises(ValueError, match=r"C must have length 2\*\*n; got 6"):
            qaoa_probs(np.zeros(6), np.zeros(1), np.zeros(1))


class TestRegisters:
    def test_nb201_binary_splits_into_two_blocks(self) -> None:
        sizes = [5] * 6
        assert split_blocks(sizes, "binary", 12, decompose=True, strategy="qaoa") == [
            [0, 1, 2],
            [3, 4, 5],
        ]
        assert split_blocks(sizes, "binary", 18, decompose=True, strategy="qaoa") == [
            list(range(6))
        ]

    def test_too_many_qubits_says_what_to_use(self) -> None:
        space = nb201_space()
        with pytest.raises(
            CircuitSizeError,
            match=r"qaoa simulates 2\*\*n amplitudes .* decompose=False and the register "
            r"needs n=30 qubits in 'onehot' encoding .* use encoding='binary' \(18 qubits\)",
        ):
            QAOASampler(encoding="onehot", decompose=False, search_space=space.distributions())

    def test_choice_wider_than_register(self) -> None:
        space = Space([Choice("a", list(range(20))), Choice("b", [0, 1])])
        with pytest.raises(CircuitSizeError, match=r"one choice alone needs 20 qubits"):
            QAOASampler(encoding="onehot", max_qubits=8, search_space=space.distributions())

    def test_decoding_repairs_like_space(self) -> None:
        space = Space([Choice("a", list(range(5))), Choice("b", list(range(3)))])
        for enc in ("binary", "onehot"):
            dec = decode_codes([5, 3], enc)
            n = space.n_bits(enc)
            for z in range(2**n):
                bits = [(z >> (n - 1 - w)) & 1 for w in range(n)]
                assert dec[z].tolist() == space.to_indices(space.from_bits(bits, enc))

    def test_block_costs_are_model_energies(self) -> None:
        sizes = [5, 3, 4, 2]
        rng = np.random.default_rng(0)
        m = QuadraticModel(sizes, rng.standard_normal(n_features(sizes)))
        reg = Register(max_qubits=5)
        blocks = reg.blocks(sizes, "qaoa")
        assert len(blocks) == 2
        inc = np.array([1, 2, 3, 0])
        for block in blocks:
            C, X = reg.costs(QUBOProblem(m, inc), inc, block)
            np.testing.assert_allclose(C, m.energy(X))
            others = [j for j in range(4) if j not in block]
            assert (X[:, others] == inc[others]).all()

    @pytest.mark.parametrize("rounds", [1, 2])
    def test_sub_qubo_search_with_an_exact_circuit_solves_a_separable_model(
        self, rounds: int
    ) -> None:
        """Block by block with the others at the incumbent is exact when no pair term
        couples the blocks: the search must end at the brute-force optimum."""
        sizes = [5, 3, 4, 2]
        w = np.zeros(n_features(sizes))
        w[: sum(sizes)] = np.random.default_rng(1).standard_normal(sum(sizes))
        m = QuadraticModel(sizes, w)
        reg = Register(max_qubits=3, rounds=rounds)
        n_blocks = len(reg.blocks(sizes, "qaoa"))
        assert n_blocks > 1

        def exact(
            C: np.ndarray, threshold: float, rng: np.random.Generator
        ) -> tuple[np.ndarray, dict[str, float]]:
            return np.array([int(np.argmin(C))]), {"circuits": 1}

        start = np.zeros(4, dtype=np.int64)
        X, counters = reg.search(QUBOProblem(m, start), exact, np.random.default_rng(0), "t")
        archs = np.array(list(itertools.product(*(range(k) for k in sizes))))
        assert X.shape == (rounds * n_blocks, 4)
        assert X[-1].tolist() == archs[int(np.argmin(m.energy(archs)))].tolist()
        assert counters == {"circuits": rounds * n_blocks}

    def test_constructor_errors(self) -> None:
        with pytest.raises(ValueError, match=r"encoding must be one of \['binary', 'onehot'\]"):
            QAOASampler(encoding="gray")
        with pytest.raises(ValueError, match=r"p must be an integer >= 1; got 0"):
            QAOASampler(p=0)
        with pytest.raises(ValueError, match=r"max_qubits must be an integer \[1, 24\]; got 30"):
            QAOASampler(max_qubits=30)
        with pytest.raises(ValueError, match=r"decompose must be a bool; got 1"):
            QAOASampler(decompose=1)  # type: ignore[arg-type]
