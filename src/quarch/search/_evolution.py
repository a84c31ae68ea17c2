"""Regularised evolution (Real, Aggarwal, Huang and Le, AAAI 2019).

The population is the ``population_size`` most recently completed trials: a new trial
removes the oldest, not the worst, which is the "ageing" that regularises the search.
Each new architecture mutates one choice of the winner of a tournament of
``tournament_size`` members drawn from the population. Until the population is full,
architectures are drawn uniformly.

The population is read from the study at every trial, so the sampler holds no state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quarch.search._common import History, PopulationSampler, Proposal, check_int

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial

__all__ = ["RegEvoSampler"]


class RegEvoSampler(PopulationSampler):
    """Regularised (ageing) evolution over categorical architectures.

    Args:
        population_size (int): trials in the population, >= 2.
        tournament_size (int | None): population members drawn per tournament, in
            ``[1, population_size]``; ``None`` is 5, or the whole population when it
            is smaller.
        seed (int | None): run seed.
        search_space (dict[str, CategoricalDistribution] | None): the space; ``None``
            infers it from the completed trials.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=RegEvoSampler(population_size=4, seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=8)
    """

    def __init__(
        self,
        *,
        population_size: int = 20,
        tournament_size: int | None = None,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(seed=seed, search_space=search_space)
        self._population_size = check_int("population_size", population_size, 2)
        if tournament_size is None:
            tournament_size = min(5, self._population_size)
        self._tournament_size = check_int(
            "tournament_size", tournament_size, 1, self._population_size
        )

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        rng = self._rng(trial.number)
        if len(hist.trials) < self._population_size:
            return self._uniform(hist, rng)
        population = list(range(len(hist.trials)))[-self._population_size :]
        picks = rng.choice(len(population), size=self._tournament_size, replace=False)
        parent = hist.best([population[int(i)] for i in sorted(picks)])
        assert parent is not None
        return self._unique(lambda _: self._mutate(hist.X[parent], hist, rng), hist.seen)
