"""`Task`: what a benchmark runs a search on, and judges its pick by.

A task is a space, an evaluator (what the search sees), an objective (metrics and
optional budgets) and a *judge*: a score that the search never sees. It is plain data
made by a **task factory**, a function

    ``factory(*, seed: int, data_dir: str | None, budgets: Sequence[str]) -> Task``

(keyword arguments it does not declare are not passed), so a space's room defines its
tasks (:meth:`quarch.spaces.SpaceSpec.benchmark_tasks`) and a user writes one in a
module of their own and names it ``--task package.module:function``;
:mod:`quarch.benchmark` runs both the same way.

One objective: the harness judges the run's pick, its best feasible trial by the
objective, with ``judge(arch)``. Several objectives: the pick is the run's feasible
Pareto set by the objectives, and ``judge(list_of_archs)`` scores the whole set (for
example the hypervolume of its true values).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from quarch._errors import ConfigError
from quarch.objectives import Objective
from quarch.space import Space

__all__ = ["Task", "TaskFactory", "task_objective"]

#: ``factory(*, seed, data_dir, budgets) -> Task`` (see the module docstring).
TaskFactory = Callable[..., "Task"]


@dataclass
class Task:
    """One task as the harness runs it.

    Attributes:
        name (str): task name.
        space (Space): the search space.
        evaluator (Any): what the search sees (an ``Evaluator``; its
            ``cheap_metrics``, when it has them, are checked before each evaluation).
        objective (Objective): the metrics and the budgets.
        judge (Callable): the hidden score: of one architecture (one objective) or of
            a list of architectures, the run's Pareto set (several objectives).
        maximize (bool): whether a larger judged score is better.
        optimum (float): the best judged score over the feasible space.
        target (float): the judged score counted as "reached".
        score_name (str): what the judged score is.
        oracle (float | None): the judged score of the best pick the search's own
            signal allows: the feasible architecture (or Pareto set) that is best by
            what the evaluator returns, found by exhausting the space. Regret against
            it is what a search can remove; the rest is the signal's.
        oracle_label (str): what the oracle pick is (a cell, a set's size).
        describe (Callable | None): a short label of an architecture for the results
            (the space's own notation); ``None`` writes ``name=value`` pairs.
    """

    name: str
    space: Space
    evaluator: Any
    objective: Objective
    judge: Callable[[Any], float]
    maximize: bool
    optimum: float
    target: float
    score_name: str
    oracle: float | None = None
    oracle_label: str = ""
    describe: Callable[[Mapping[str, Any]], str] | None = None

    def label(self, arch: Mapping[str, Any]) -> str:
        """:attr:`describe` of ``arch``, or its ``name=value`` pairs."""
        if self.describe is not None:
            return self.describe(arch)
        return ",".join(f"{k}={v}" for k, v in arch.items())


def task_objective(
    budgets: Sequence[str],
    sample: Mapping[str, float],
    metrics: Sequence[str] = ("val_error",),
) -> Objective:
    """``metrics`` with ``budgets``, each checked against a sample of the task's metrics.

    Raises:
        ConfigError: a budget or metric the task's evaluator does not return.
    """
    objective = Objective(list(metrics), budgets=list(budgets))
    has = ", ".join(sample)
    for m in objective.metrics:
        if m not in sample:
            raise ConfigError(
                f"objective metric {m!r} is not provided by this task; it provides: {has}"
            )
    for b in objective.budgets:
        if b.metric not in sample:
            raise ConfigError(
                f"budget {b} names metric {b.metric!r}, which this task does not provide; "
                f"it provides: {has}"
            )
    return objective
