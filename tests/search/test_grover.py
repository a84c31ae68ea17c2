"""Grover adaptive search: amplitude amplification against the analytic formula, the
search against brute force, and its oracle-call record."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import optuna
import pytest

from quarch.search import GroverSampler
from quarch.search._grover import amplified_probs, grover_adaptive_search
from quarch.search._surrogate import single_thread
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
