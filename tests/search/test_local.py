"""Local search: neighbours of the walk's best, restarts at local optima."""

from __future__ import annotations

from typing import Any

import numpy as np

from quarch.benchmark import synthetic_qubo
from quarch.search import LocalSearchSampler


def indices(space: Any, trial: Any) -> np.ndarray:
    """Option indices of a trial's architecture."""
    return np.array(space.to_indices(space.from_params(trial.params)))


def test_walks(qubo_study: Any) -> None:
    space = synthetic_qubo(0, n_choices=4, n_options=3)[0]
    study, space, _ = qubo_study(LocalSearchSampler(seed=0, search_space=space.distributions()), 81)
    ts = study.trials
    X = [tuple(indices(space, t)) for t in ts]
    assert len(set(X)) == 81  # never repeats: the whole 81-cell space is covered
    walks = [t.system_attrs["LocalSearchSampler:walk"] for t in ts]
    assert walks == sorted(walks) and walks[0] == 0
    restarts = 0
    for n in range(1, 81):
        same = [k for k in range(n) if walks[k] == walks[n]]
        if not same:  # a new walk: only when the old walk's best had no unseen neighbour
            restarts += 1
            old = [k for k in range(n) if walks[k] == walks[n - 1]]
            best = min(old, key=lambda k: (ts[k].value, k))
            nbrs = [k for k in range(n) if np.sum(np.array(X[k]) != np.array(X[best])) == 1]
            assert len(nbrs) == sum(s - 1 for s in [3, 3, 3, 3])
            continue
        best = min(same, key=lambda k: (ts[k].value, k))
        assert np.sum(np.array(X[n]) != np.array(X[best])) == 1
    assert restarts >= 1
    assert sorted(set(walks)) == list(range(restarts + 1))  # numbered 0, 1, 2, ... by restart


def test_continues_from_trials_of_another_sampler() -> None:
    """Trials the sampler did not propose (a warm start, ``study.add_trial``) form walk
    0: the next trial is a neighbour of their best and joins that walk."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, ev, _ = synthetic_qubo(0, n_choices=4, n_options=3)
    dists: dict[str, Any] = space.distributions()
    study = optuna.create_study(sampler=LocalSearchSampler(seed=0, search_space=dists))
    archs = [space.from_indices([0, 0, 0, 0]), space.from_indices([2, 1, 0, 2])]
    for arch in archs:
        params = dict(arch)
        value = ev.evaluate(arch)["val_error"]
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    study.optimize(lambda t: ev.evaluate(space.suggest(t))["val_error"], n_trials=1)
    new = study.trials[-1]
    assert new.system_attrs["LocalSearchSampler:walk"] == 0
    best = min(study.trials[:2], key=lambda t: float(t.values[0]))
    assert np.sum(indices(space, new) != indices(space, best)) == 1
