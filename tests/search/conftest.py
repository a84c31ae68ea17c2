"""Helpers for the per-algorithm strategy tests."""

from __future__ import annotations

from typing import Any

import optuna
import pytest

from quarch.benchmark import synthetic_qubo


@pytest.fixture
def qubo_study() -> Any:
    """``run(sampler, n, seed=0)`` -> (study, space, evaluator) on an 81-cell QUBO."""

    def run(sampler: optuna.samplers.BaseSampler, n: int, seed: int = 0) -> Any:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space, ev, _ = synthetic_qubo(seed, n_choices=4, n_options=3)
        study = optuna.create_study(sampler=sampler)
        study.optimize(lambda t: ev.evaluate(space.suggest(t))["val_error"], n_trials=n)
        return study, space, ev

    return run
