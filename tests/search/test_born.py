"""The Born machine: its start distribution, its policy-gradient step against finite
differences, and learning on a rewarded choice."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution
from optuna.study import StudyDirection
from optuna.trial import create_trial

from quarch.search import BornSampler
from quarch.search._born import _probs
from quarch.search._common import History, order_trials
from quarch.search._surrogate import arch_ids, rank_targets, single_thread
from quarch.space import Choice, Space

SPACE = Space([Choice("a", list(range(4))), Choice("b", list(range(3)))])


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def _history(X: np.ndarray, values: np.ndarray) -> History:
    dists: dict[str, BaseDistribution] = dict(SPACE.distributions())  # Optuna's type
    trials = []
    for i, (x, v) in enumerate(zip(X, values, strict=True)):
        t = create_trial(params=SPACE.from_indices(x.tolist()), distributions=dists, value=float(v))
        t.number = i
        trials.append(t)
    d = [StudyDirection.MINIMIZE]
    return History(
        names=SPACE.names,
        sizes=[4, 3],
        trials=trials,
        X=np.asarray(X),
        rank=order_trials(trials, d),
        seen={tuple(x) for x in X.tolist()},
        directions=d,
    )


def _arch_probs(sampler: BornSampler, theta: np.ndarray) -> np.ndarray:
    plan, _, (_, _, ids) = sampler._block_setup([4, 3], [0, 1])
    return np.bincount(ids, weights=_probs(plan, theta), minlength=12)


def _objective_gradient(sampler: BornSampler, theta: np.ndarray, hist: History) -> np.ndarray:
    """Finite-difference gradient of mean_i adv_i log p(arch_i) (the REINFORCE step)."""
    r = -rank_targets(hist.trials, hist.directions)
    adv = r - r.mean()
    ids = arch_ids(hist.X, [4, 3])

    def f(th: np.ndarray) -> float:
        return float(adv @ np.log(_arch_probs(sampler, th)[ids]) / len(adv))

    eps = 1e-3
    out = []
    for i in range(theta.size):
        up, dn = theta.copy(), theta.copy()
        up[i] += eps
        dn[i] -= eps
        out.append((f(up) - f(dn)) / (2 * eps))
    return np.array(out)


class TestCorrectness:
    def test_starts_uniform_over_codes(self) -> None:
        s = BornSampler(seed=0)
        plan, init, (_, dec, _) = s._block_setup([4, 3], [0, 1])
        assert dec.shape == (16, 2)  # 2 + 2 binary qubits; code 3 of b repairs to 0
        np.testing.assert_allclose(_probs(plan, init), np.full(16, 1 / 16), atol=1e-6)

    def test_update_is_the_policy_gradient(self) -> None:
        rng = np.random.default_rng(0)
        X = np.stack([rng.integers(0, 4, 12), rng.integers(0, 3, 12)], axis=1)
        hist = _history(X, rng.standard_normal(12))
        s = BornSampler(seed=0, lr=1e-3, steps=1)
        _, init, _ = s._block_setup([4, 3], [0, 1])
        theta = init + rng.normal(0, 0.3, init.size)
        new = s._update(hist, [theta], 0, 12)[0]
        np.testing.assert_allclose(
            (new - theta) / 1e-3, _objective_gradient(s, theta, hist), atol=5e-3
        )

    def test_learns_the_rewarded_option(self) -> None:
        rng = np.random.default_rng(1)
        X = np.stack([np.repeat(np.arange(4), 6), rng.integers(0, 3, 24)], axis=1)
        hist = _history(X, X[:, 0] + 0.1 * rng.standard_normal(24))  # a=0 is best
        s = BornSampler(seed=0)
        _, init, _ = s._block_setup([4, 3], [0, 1])
        before = _arch_probs(s, init).reshape(4, 3).sum(1)
        after = _arch_probs(s, s._update(hist, [init], 0, 24)[0]).reshape(4, 3).sum(1)
        assert after[0] > before[0] + 0.1
        assert after[3] < before[3]

    def test_parameters_stored_per_batch(self) -> None:
        sampler = BornSampler(seed=0, n_startup=4, batch_size=4, search_space=SPACE.distributions())
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: float(SPACE.to_indices(SPACE.suggest(t))[0]), n_trials=12)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert {"BornSampler:theta:0", "BornSampler:theta:1"} <= set(attrs)
        assert all(SPACE.is_valid(t.params) for t in study.trials)

    def test_constructor_errors(self) -> None:
        with pytest.raises(ValueError, match=r"lr must be in \(0.0, 100.0\]; got 0"):
            BornSampler(lr=0)
        with pytest.raises(ValueError, match=r"steps must be an integer >= 1; got 0"):
            BornSampler(steps=0)
        with pytest.raises(ValueError, match=r"encoding must be one of \['binary', 'onehot'\]"):
            BornSampler(encoding="gray")
