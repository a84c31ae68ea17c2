"""REINFORCE (Williams 1992) with a factorised softmax controller, the policy-gradient
baseline of NAS-Bench-201 (Dong and Yang, ICLR 2020).

The controller holds one vector of logits per choice; an architecture is drawn choice
by choice from their softmaxes. After each completed trial the logits move along
``lr * (reward - baseline) * grad log pi(arch)``, with an exponential moving average of
the rewards as the baseline.

The reward must mean the same for one value, a weighted cost and several objectives,
with or without constraints, so it is the trial's centred rank among the completed
trials (1 best, -1 worst; see :func:`quarch.search._common.order_trials`). The policy
at trial ``n`` is obtained by replaying the updates over the completed trials in trial
order: a pure function of the study, so the sampler holds no state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quarch.search._common import History, PopulationSampler, Proposal, check_float

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial

__all__ = ["ReinforceSampler"]


class ReinforceSampler(PopulationSampler):
    """Policy-gradient controller over independent categorical choices.

    Args:
        lr (float): learning rate of the logits, in ``(0, 100]``.
        baseline_decay (float): momentum of the reward baseline, in ``[0, 1]``.
        seed (int | None): run seed.
        search_space (dict[str, CategoricalDistribution] | None): the space; ``None``
            infers it from the completed trials.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=ReinforceSampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=5)
    """

    def __init__(
        self,
        *,
        lr: float = 0.5,
        baseline_decay: float = 0.9,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(seed=seed, search_space=search_space)
        self._lr = check_float("lr", lr, 0.0, 100.0, low_open=True)
        self._decay = check_float("baseline_decay", baseline_decay, 0.0, 1.0)

    def policy(self, hist: History) -> list[np.ndarray]:
        """Choice probabilities after replaying every completed trial in ``hist``."""
        d, K = len(hist.sizes), max(hist.sizes)
        mask = np.arange(K)[None, :] < np.asarray(hist.sizes)[:, None]  # (d, K)
        logits = np.zeros((d, K))

        def softmax(lg: np.ndarray) -> np.ndarray:
            e = np.where(mask, np.exp(lg - lg.max(axis=1, keepdims=True)), 0.0)
            return e / e.sum(axis=1, keepdims=True)

        n = len(hist.trials)
        rows = np.arange(d)
        reward = 1.0 - 2.0 * hist.rank / max(n - 1, 1)
        baseline = float(reward[0]) if n else 0.0
        for t in range(n):
            r = float(reward[t])
            grad = -softmax(logits)
            grad[rows, hist.X[t]] += 1.0
            logits += self._lr * (r - baseline) * grad
            baseline = self._decay * baseline + (1.0 - self._decay) * r
        probs = softmax(logits)
        return [probs[j, :k] for j, k in enumerate(hist.sizes)]

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        rng = self._rng(trial.number)
        probs = self.policy(hist)

        def draw(_: int) -> Proposal:
            return [int(rng.choice(len(p), p=p)) for p in probs]

        return self._unique(draw, hist.seen)
