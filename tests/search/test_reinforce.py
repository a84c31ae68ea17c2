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


def _replayed_policy(
    sizes: list[int], X: np.ndarray, rank: np.ndarray, lr: float, decay: float
) -> list[np.ndarray]:
    """The module docstring's update, written per choice with a softmax over its own
    options only (scipy's, which is stable for any logits), as the reference."""
    from scipy.special import softmax

    logits = [np.zeros(k) for k in sizes]
    n = len(X)
    reward = 1.0 - 2.0 * rank / max(n - 1, 1)
    baseline = float(reward[0])
    for t in range(n):
        for j, k in enumerate(sizes):
            grad = np.eye(k)[X[t][j]] - softmax(logits[j])
            logits[j] = logits[j] + lr * (reward[t] - baseline) * grad
        baseline = decay * baseline + (1.0 - decay) * reward[t]
    return [softmax(lg) for lg in logits]


def test_the_largest_lr_keeps_a_distribution_of_each_choice() -> None:
    """At ``lr=100``, 30 trials that alternate a good and a bad architecture drive the
    first choice's logits to about +-1050 while the third's stay below 6: the policy
    must still be each choice's own softmax (the choices have 2, 5 and 3 options), not
    an overflow's NaN, nor the third choice's probabilities underflowing to 0 by a
    shift taken from another choice."""
    from quarch.space import Choice, Space

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = Space([Choice("a", [0, 1]), Choice("b", list(range(5))), Choice("c", [0, 1, 2])])
    dists: dict[str, Any] = space.distributions()
    s = ReinforceSampler(lr=100.0, baseline_decay=0.5, seed=1, search_space=dists)
    study = optuna.create_study(sampler=s)
    for t in range(30):
        good, k = t % 2 == 0, (t // 2) % 5
        params = {"a": 0 if good else 1, "b": k if good else 4 - k, "c": 1}
        value = -t if good else 100 + t
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    hist = s._history(study, optuna.trial.create_trial(value=0.0), dists)
    probs = s.policy(hist)
    expected = _replayed_policy([2, 5, 3], hist.X, hist.rank, 100.0, 0.5)
    for p, q in zip(probs, expected, strict=True):
        assert np.all(np.isfinite(p)) and np.isclose(p.sum(), 1.0)
        assert np.allclose(p, q, rtol=1e-6, atol=0.0)
