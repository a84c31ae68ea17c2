"""Uniform random search whose every draw depends only on (seed, trial number).

Optuna's own ``RandomSampler`` keeps one RNG stream per process, so a resumed run
restarts that stream and re-proposes the first architectures, and two workers with
the same seed propose the same ones. Drawing each trial from
``default_rng([seed, trial.number])`` keeps the sampler stateless: resume, several
workers and re-runs all see the same trial -> architecture map.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from optuna.distributions import BaseDistribution
from optuna.samplers import BaseSampler

from quarch.search._common import draw_independent

if TYPE_CHECKING:
    from optuna import Study
    from optuna.trial import FrozenTrial

__all__ = ["RandomSampler"]


class RandomSampler(BaseSampler):
    """Uniform sampling, reproducible per trial number.

    Args:
        seed (int | None): run seed; ``None`` draws fresh entropy per trial.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=RandomSampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [3, 5, 7]), n_trials=3)
    """

    def __init__(self, *, seed: int | None = None) -> None:
        self._seed = seed

    def _rng(self, trial: FrozenTrial, name: str) -> np.random.Generator:
        if self._seed is None:
            return np.random.default_rng()
        # One stream per (seed, trial, parameter) so the order of suggest calls does not matter.
        key = [int(b) for b in name.encode()]
        return np.random.default_rng([self._seed, trial.number, *key])

    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        return {}

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return draw_independent(
            study, trial, param_name, param_distribution, self._rng(trial, param_name)
        )
