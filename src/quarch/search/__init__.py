"""Search strategies, each an ``optuna.samplers.BaseSampler``.

:data:`STRATEGIES` maps a strategy name to a factory
``factory(*, seed, space, objective, **options) -> BaseSampler``; ``quarch
strategies`` lists it and ``quarch search --strategy NAME`` reads it. Every sampler
class is also exported here for use in a plain Optuna study.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna

from quarch._registry import Registry
from quarch.search._random import RandomSampler

if TYPE_CHECKING:
    from quarch.objectives import Objective
    from quarch.space import Space

__all__ = ["STRATEGIES", "RandomSampler", "make_sampler"]

SamplerFactory = Callable[..., optuna.samplers.BaseSampler]
STRATEGIES: Registry[SamplerFactory] = Registry("strategy")


def _random(*, seed: int, space: Space, objective: Objective, **options: Any) -> RandomSampler:
    return RandomSampler(seed=seed, **options)


def _tpe(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> optuna.samplers.TPESampler:
    opts = {"multivariate": True, "n_startup_trials": 10, **options}
    return optuna.samplers.TPESampler(seed=seed, **opts)


def _nsga2(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> optuna.samplers.NSGAIISampler:
    opts = {"population_size": 20, **options}
    return optuna.samplers.NSGAIISampler(seed=seed, **opts)


STRATEGIES.add("random", _random, "uniform random search (classical baseline)")
STRATEGIES.add("tpe", _tpe, "Optuna's multivariate TPE (classical baseline)")
STRATEGIES.add("nsga2", _nsga2, "Optuna's NSGA-II, multi-objective with constraints (baseline)")


def make_sampler(
    name: str, *, seed: int, space: Space, objective: Objective, **options: Any
) -> optuna.samplers.BaseSampler:
    """Build the registered strategy ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
        ValueError: options the strategy does not accept.
    """
    factory = STRATEGIES.get(name)
    try:
        return factory(seed=seed, space=space, objective=objective, **options)
    except TypeError as e:
        from quarch._errors import ConfigError

        raise ConfigError(f"strategy {name!r} rejected its options {options}: {e}") from None
