"""`quarch benchmark`: every strategy on every seed of a task, judged honestly.

A *task* (:class:`quarch.evaluate.Task`, made by a task factory) is a space, an
evaluator (what the search sees), an objective (metrics and optional budgets) and a
*judge*: a score the search never sees. Each (strategy, seed) run asks ``trials``
architectures from an in-memory Optuna study under the search loop's own rules
(:mod:`quarch.benchmark._run`); the judge scores what the run picks. Tasks come from
the spaces (:meth:`quarch.spaces.SpaceSpec.benchmark_tasks`, e.g. NAS-Bench-201's),
from ``synthetic-qubo`` (a random QUBO per seed, optimum by brute force), or from the
user as ``package.module:function`` (:mod:`quarch.benchmark._tasks`).

Per strategy the result holds the mean and standard deviation of the judged score of
the final pick, its regret to the (feasible) optimum and its gap to the *oracle pick*
(the best pick the search's own signal allows), the difference to the best classical
strategy with a bootstrap confidence interval and a rank-sum p-value
(:mod:`quarch.benchmark._stats`), the queries until the pick first reached the target
(the 99th percentile of the judged score over the feasible space, the optimum for
QUBOs, the oracle's hypervolume for multi-objective tasks), the time spent proposing
and evaluating, the queries and the architectures skipped before training, and the
energy its runs used: measured by CodeCarbon when it is installed and runs are
sequential, otherwise CPU time x :data:`CPU_WATTS`, and the result says which.
"""

from __future__ import annotations

from quarch.benchmark._harness import CPU_WATTS, run_benchmark
from quarch.benchmark._result import BENCHMARK_FILES, BenchmarkResult
from quarch.benchmark._stats import Comparison, compare
from quarch.benchmark._tasks import (
    SYNTHETIC_QUBO,
    QUBOEvaluator,
    build_task,
    resolve_task,
    synthetic_qubo,
    synthetic_qubo_task,
    task_factories,
    task_names,
)
from quarch.evaluate.task import Task, TaskFactory

#: The name this module used before tasks moved to :mod:`quarch.evaluate.task`.
TaskInstance = Task

__all__ = [
    "BENCHMARK_FILES",
    "CPU_WATTS",
    "SYNTHETIC_QUBO",
    "BenchmarkResult",
    "Comparison",
    "QUBOEvaluator",
    "Task",
    "TaskFactory",
    "TaskInstance",
    "build_task",
    "compare",
    "resolve_task",
    "run_benchmark",
    "synthetic_qubo",
    "synthetic_qubo_task",
    "task_factories",
    "task_names",
]
