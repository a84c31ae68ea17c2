"""QPSO: stored positions, argmax decoding and the delta-well move."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quarch.benchmark import synthetic_qubo
from quarch.search import QPSOSampler


def indices(space: Any, trial: Any) -> np.ndarray:
    """Option indices of a trial's architecture."""
    return np.array(space.to_indices(space.from_params(trial.params)))


def _dists() -> Any:
    return synthetic_qubo(0, n_choices=4, n_options=3)[0].distributions()


class TestInputs:
    def test_swarm(self) -> None:
        with pytest.raises(ValueError, match=r"swarm_size must be an integer >= 1; got 0"):
            QPSOSampler(swarm_size=0)

    @pytest.mark.parametrize("beta", [0.0, 2.0])
    def test_beta(self, beta: float) -> None:
        with pytest.raises(ValueError, match=rf"beta must be in \(0.0, 1.78\]; got {beta}"):
            QPSOSampler(beta=beta)


class TestCorrectness:
    def test_positions_decode_to_params(self, qubo_study: Any) -> None:
        study, space, _ = qubo_study(QPSOSampler(swarm_size=4, seed=0, search_space=_dists()), 40)
        for t in study.trials:
            x = np.asarray(t.system_attrs["QPSOSampler:x"]).reshape(4, 3)
            assert np.all((x >= 0) & (x <= 1))
            assert list(np.argmax(x, axis=1)) == list(indices(space, t))

    def test_converges_towards_the_best(self, qubo_study: Any) -> None:
        """A contracting swarm (small beta) ends near the global best: later positions sit
        closer to the best trial's position than the random initial ones."""
        study, _, _ = qubo_study(
            QPSOSampler(swarm_size=5, beta=0.3, seed=1, search_space=_dists()), 60
        )
        best = study.best_trial
        xb = np.asarray(best.system_attrs["QPSOSampler:x"])
        dist = [
            np.abs(np.asarray(t.system_attrs["QPSOSampler:x"]) - xb).mean() for t in study.trials
        ]
        assert np.mean(dist[-10:]) < np.mean(dist[:5])
