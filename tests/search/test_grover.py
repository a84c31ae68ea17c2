"""Grover adaptive search: amplitude amplification against the analytic formula, the
search against brute force, and its oracle-call record."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

import numpy as np
import optuna
import pytest

from quarch.search import GroverSampler, QUBOProblem, Register
from quarch.search._circuits import split_blocks
from quarch.search._grover import GroverSolver, amplified_probs, grover_adaptive_search
from quarch.search._surrogate import QuadraticModel, n_features, single_thread
from quarch.space import Choice, Space


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


class TestCorrectness:
    @pytest.mark.parametrize(("n_marked", "k"), [(1, 0), (1, 3), (1, 12), (5, 2), (20, 4)])
    def test_amplification_matches_analytic(self, n_marked: int, k: int) -> None:
        N = 256
        marked = np.zeros(N, dtype=bool)
        marked[np.random.default_rng(k).choice(N, n_marked, replace=False)] = True
        probs = amplified_probs(marked, k)
        theta = math.asin(math.sqrt(n_marked / N))
        assert probs[marked].sum() == pytest.approx(math.sin((2 * k + 1) * theta) ** 2)
        assert probs.sum() == pytest.approx(1.0)
        assert np.allclose(probs[marked], probs[marked][0])  # symmetric within the sets

    @pytest.mark.parametrize("seed", range(4))
    def test_finds_the_minimum(self, seed: int) -> None:
        C = np.random.default_rng(seed).standard_normal(256)
        codes, calls = grover_adaptive_search(C, float(C.max()), max_oracle_calls=200, seed=seed)
        assert calls <= 200
        assert C[codes].min() == C.min()

    def test_no_marked_state_spends_the_budget(self) -> None:
        C = np.arange(16.0)
        codes, calls = grover_adaptive_search(C, 0.0, max_oracle_calls=30, seed=0)
        assert calls == 30 and codes.size > 0

    def test_reports_oracle_calls(self) -> None:
        space = Space([Choice("a", list(range(4))), Choice("b", list(range(4)))])
        study = optuna.create_study(
            sampler=GroverSampler(seed=0, n_startup=4, batch_size=4, max_oracle_calls=20)
        )
        study.optimize(lambda t: float(np.prod(space.to_indices(space.suggest(t)))), n_trials=8)
        calls = [t.system_attrs.get("GroverSampler:oracle_calls") for t in study.trials]
        assert calls[:4] == [None] * 4
        assert all(isinstance(c, float | int) and 0 <= c <= 20 for c in calls[4:])

    def test_constructor_errors(self) -> None:
        with pytest.raises(ValueError, match=r"max_oracle_calls must be an integer >= 1; got 0"):
            GroverSampler(max_oracle_calls=0)
        with pytest.raises(ValueError, match=r"lam must be in \(1.0, 4.0\]; got 1"):
            GroverSampler(lam=1)


class TestOneOptionChoice:
    """A choice with one option needs no qubit in binary encoding; split off on its own
    it made a one-state block, and the circuit's measurement raised (``[16, 16, 1]``
    at ``max_qubits=4``: a ``MeasurementError`` on a state of length 1)."""

    SIZES = (16, 16, 1)

    def test_it_joins_a_block_instead_of_making_its_own(self) -> None:
        assert split_blocks(self.SIZES, "binary", 4, decompose=True, strategy="grover") == [
            [0],
            [1, 2],
        ]
        assert split_blocks((1, 16, 16), "binary", 4, decompose=True, strategy="grover") == [
            [0, 1],
            [2],
        ]

    @pytest.mark.parametrize("seed", range(3))
    def test_decomposed_search_reaches_the_brute_force_optimum(self, seed: int) -> None:
        """Grover block by block on a model with no pair term across blocks ends at
        the brute-force optimum of all 256 architectures."""
        sizes = list(self.SIZES)
        w = np.zeros(n_features(sizes))
        w[: sum(sizes)] = np.random.default_rng(seed).standard_normal(sum(sizes))
        m = QuadraticModel(sizes, w)
        reg = Register(max_qubits=4, rounds=2)
        solver = GroverSolver(max_oracle_calls=64, register=reg)
        problem = QUBOProblem(m, np.zeros(3, dtype=np.int64))
        X = solver([problem], np.random.default_rng(seed)).candidates[0]
        archs = np.array(list(itertools.product(*(range(k) for k in sizes))))
        best = archs[int(np.argmin(m.energy(archs)))]
        assert X[int(np.argmin(m.energy(X)))].tolist() == best.tolist()

    def test_a_one_state_register_is_not_simulated(self) -> None:
        """Every choice with one option: nothing to search, no circuit, no candidate."""
        m = QuadraticModel([1, 1], np.zeros(n_features([1, 1])))
        solver = GroverSolver(register=Register(max_qubits=4))
        sol = solver([QUBOProblem(m, np.zeros(2, dtype=np.int64))], np.random.default_rng(0))
        assert sol.candidates[0].shape == (0, 2) and sol.counters == {}

    def test_a_study_runs_and_finds_the_brute_force_optimum(self) -> None:
        space = Space([Choice(n, list(range(k))) for n, k in zip("abc", self.SIZES, strict=True)])
        rng = np.random.default_rng(7)
        table = rng.standard_normal(16)[:, None] + rng.standard_normal(16)[None, :]
        sampler = GroverSampler(
            seed=0, max_qubits=4, n_startup=10, batch_size=4, search_space=space.distributions()
        )
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: float(table[tuple(space.to_indices(space.suggest(t))[:2])]),
                       n_trials=40)  # fmt: skip
        assert study.best_value == pytest.approx(float(table.min()))
