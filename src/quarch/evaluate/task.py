"""`Task`: what a benchmark runs a search on, and judges its pick by.

A task is a space, an evaluator (what the search sees), an objective (``val_error``
plus optional budgets) and a *judge*: a score per architecture that the search never
sees. It is plain data, so a space's room can define its tasks
(:meth:`quarch.spaces.SpaceSpec.benchmark_tasks`) and a user can write one in a module
of their own; :mod:`quarch.benchmark` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quarch._errors import ConfigError
from quarch.objectives import Objective
from quarch.space import Space

__all__ = ["Task", "task_objective"]


@dataclass
class Task:
    """One task as the harness runs it.

    Attributes:
        name (str): task name.
        space (Space): the search space.
        evaluator (Any): what the search sees (an ``Evaluator``).
        objective (Objective): ``val_error`` and the budgets.
        judge (Callable[[dict], float]): the hidden score of an architecture.
        maximize (bool): whether a larger judged score is better.
        optimum (float): the best judged score over the feasible space.
        target (float): the judged score counted as "reached".
        score_name (str): what the judged score is.
    """

    name: str
    space: Space
    evaluator: Any
    objective: Objective
    judge: Callable[[Mapping[str, Any]], float]
    maximize: bool
    optimum: float
    target: float
    score_name: str


def task_objective(budgets: Sequence[str], sample: Mapping[str, float]) -> Objective:
    """``val_error`` with ``budgets``, each checked against a sample of the task's metrics.

    Raises:
        ConfigError: a budget on a metric the task's evaluator does not return.
    """
    objective = Objective(["val_error"], budgets=list(budgets))
    for b in objective.budgets:
        if b.metric not in sample:
            raise ConfigError(
                f"budget {b} names metric {b.metric!r}, which this task does not provide; "
                f"it provides: {', '.join(sample)}"
            )
    return objective
