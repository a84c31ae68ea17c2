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
