"""NAS-Bench-201 benchmark tasks: search on the 12-epoch validation accuracy (and the
latencies, for budgets such as ``raspi4<=20``), judged by the 200-epoch test accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from quarch._errors import ConfigError
from quarch.evaluate.task import Task, task_objective
from quarch.spaces.nb201.evaluator import NB201Evaluator, load_nb201
from quarch.spaces.nb201.space import nb201_space

__all__ = ["nb201_task"]

_CACHE: dict[tuple[str, str | None, tuple[str, ...]], Task] = {}


def nb201_task(dataset: str, *, data_dir: str | None = None, budgets: Sequence[str] = ()) -> Task:
    """The task on ``dataset``'s table (the same for every seed, so cached)."""
    key = (dataset, data_dir, tuple(budgets))
    if key not in _CACHE:
        _CACHE[key] = _build(dataset, data_dir, budgets)
    return _CACHE[key]


def _build(dataset: str, data_dir: str | None, budgets: Sequence[str]) -> Task:
    table = load_nb201(dataset, data_dir)
    space = nb201_space()
    evaluator = NB201Evaluator(table)
    objective = task_objective(budgets, evaluator.evaluate(space.sample(0)))
    feasible = np.ones(len(table), dtype=bool)
    for b in objective.budgets:
        col = table.latency.get(b.metric)
        if col is None:  # val_error / val_accuracy
            acc = table.val_12ep
            col = 1.0 - acc / 100.0 if b.metric == "val_error" else acc
        feasible &= np.array([b.violation(v) <= 0 for v in col])
    if not feasible.any():
        raise ConfigError(f"no nb201 cell meets the budgets {list(budgets)}; loosen them")
    test = table.test_200ep

    def judge(arch: Mapping[str, Any]) -> float:
        return float(test[table.row(arch)])

    return Task(
        name=f"nb201-{dataset}",
        space=space,
        evaluator=evaluator,
        objective=objective,
        judge=judge,
        maximize=True,
        optimum=float(test[feasible].max()),
        target=float(np.quantile(test[feasible], 0.99)),
        score_name=f"{table.dataset} 200-epoch test accuracy (%)",
    )
