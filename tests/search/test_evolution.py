"""Regularised evolution: ageing population and one-choice mutations."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quarch.benchmark import synthetic_qubo
from quarch.search import RegEvoSampler


def indices(space: Any, trial: Any) -> np.ndarray:
    """Option indices of a trial's architecture."""
    return np.array(space.to_indices(space.from_params(trial.params)))


def _dists() -> Any:
    return synthetic_qubo(0, n_choices=4, n_options=3)[0].distributions()


class TestInputs:
    def test_population(self) -> None:
        with pytest.raises(ValueError, match=r"population_size must be an integer >= 2; got 1"):
            RegEvoSampler(population_size=1)

    def test_tournament(self) -> None:
        with pytest.raises(ValueError, match=r"tournament_size must be an integer \[1, 5\]; got 6"):
            RegEvoSampler(population_size=5, tournament_size=6)

    def test_default_tournament_fits_a_small_population(self) -> None:
        assert RegEvoSampler(population_size=3)._tournament_size == 3
        assert RegEvoSampler(population_size=20)._tournament_size == 5


class TestCorrectness:
    def test_child_of_best_in_the_ageing_window(self, qubo_study: Any) -> None:
        """With a tournament as large as the population, each child is one mutation away
        from the best of the last ``population_size`` trials (not of all trials)."""
        P = 6
        s = RegEvoSampler(population_size=P, tournament_size=P, seed=0, search_space=_dists())
        study, space, _ = qubo_study(s, 40)
        ts = study.trials
        for n in range(P, 40):
            window = ts[n - P : n]
            parent = min(window, key=lambda t: (t.value, t.number))
            diff = np.sum(indices(space, ts[n]) != indices(space, parent))
            assert diff == 1, f"trial {n} differs from its parent in {diff} choices"

    def test_random_until_population_full(self, qubo_study: Any) -> None:
        s = RegEvoSampler(population_size=10, tournament_size=3, seed=1, search_space=_dists())
        study, space, _ = qubo_study(s, 10)
        assert len({tuple(indices(space, t)) for t in study.trials}) == 10  # no repeats
