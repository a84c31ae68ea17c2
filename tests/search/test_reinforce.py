"""REINFORCE: the policy after two trials equals the analytic update."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest

from quarch.benchmark import synthetic_qubo
from quarch.search import ReinforceSampler


def indices(space: Any, trial: Any) -> np.ndarray:
    """Option indices of a trial's architecture."""
    return np.array(space.to_indices(space.from_params(trial.params)))


class TestInputs:
    def test_lr(self) -> None:
        with pytest.raises(ValueError, match=r"lr must be in \(0.0, 100.0\]; got 0"):
            ReinforceSampler(lr=0)

    def test_decay(self) -> None:
        with pytest.raises(ValueError, match=r"baseline_decay must be in \[0.0, 1.0\]; got 2"):
            ReinforceSampler(baseline_decay=2)


def test_policy_after_two_trials(qubo_study: Any) -> None:
    space = synthetic_qubo(0, n_choices=4, n_options=3)[0]
    lr = 0.7
    s = ReinforceSampler(lr=lr, seed=0, search_space=space.distributions())
    study, space, _ = qubo_study(s, 2)
    t0, t1 = study.trials
    # Centred-rank rewards: the better trial +1, the worse -1; the first trial sets the
    # baseline (advantage 0), the second moves the logits by lr * (r1 - r0) * (e - p).
    adv = (1.0 if t1.value < t0.value else -1.0) - (1.0 if t0.value <= t1.value else -1.0)
    x1 = indices(space, t1)
    hist = s._history(study, optuna.trial.create_trial(value=0.0), space.distributions())
    probs = s.policy(hist)
    for j, p in enumerate(probs):
        logits = lr * adv * (np.eye(3)[x1[j]] - 1.0 / 3)
        expected = np.exp(logits) / np.exp(logits).sum()
        assert np.allclose(p, expected)
