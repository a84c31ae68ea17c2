"""One benchmark run: a strategy searches a task with one seed, as ``quarch search``
would, in an in-memory Optuna study.

Every trial goes through the search loop's own rules (:mod:`quarch.study._worker`): an
architecture over a budget on a metric known without training (``cheap_metrics``) is
recorded as skipped and never evaluated, and does not count as a query; an evaluation
that raises is a failed trial and does count. The run stops after ``trials`` queries,
or, for a strategy that keeps proposing architectures over the budget (or a budget that
no architecture of the task meets), after ``MAX_ASKS_PER_QUERY * trials`` asks in all,
skipped ones included: a cap on the whole run, not on each query (a strategy may skip
more than 50 in a row and go on, while it asks less than the cap). A run stopped
short says so in its row's ``stopped`` line, worded as the search's give-up (the budget,
the value nearest it among the skipped architectures, what to do); the harness reads
and drops that line.

The pick after each query is the best feasible trial by the objective (one objective),
or the feasible Pareto set (several); the task's judge scores the picks after the
search, so nothing the search sees depends on the judge.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch._errors import ConfigError
from quarch.benchmark._tasks import build_task

if TYPE_CHECKING:
    from quarch.objectives import Budget

__all__ = ["MAX_ASKS_PER_QUERY", "run_one"]

#: Asks allowed per query, on average: a run stops after ``MAX_ASKS_PER_QUERY * trials``
#: asks (skipped architectures included), short of its queries if need be.
MAX_ASKS_PER_QUERY = 50


def run_one(
    task: str,
    strategy: str,
    seed: int,
    trials: int,
    data_dir: str | None,
    budgets: tuple[str, ...],
) -> dict[str, Any]:
    """Search ``task`` with ``strategy`` and ``seed`` for ``trials`` queries; the row of
    the results table, with the judged ``curve`` of the pick after each query, and how
    many evaluations ``failed`` (an exception or a metric missing) with the first one's
    reason (``first_failure``), and why it ``stopped`` short of ``trials`` queries (a
    line; empty when it did not)."""
    import optuna
    from optuna.trial import TrialState

    from quarch.evaluate import check_metrics
    from quarch.objectives import pareto_mask
    from quarch.search import make_sampler
    from quarch.study._skips import note_nearest
    from quarch.study._worker import OverBudget, check_before_training, skip, trial_seed

    inst = build_task(task, seed=seed, data_dir=data_dir, budgets=budgets)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    objective = inst.objective
    multi = objective.is_multi
    cheap = getattr(inst.evaluator, "cheap_metrics", None)
    t0, c0 = time.perf_counter(), time.process_time()
    sampler = make_sampler(
        strategy,
        seed=seed,
        space=inst.space,
        objective=objective,
        cheap_metrics=cheap if callable(cheap) else None,
    )
    study = optuna.create_study(directions=objective.directions, sampler=sampler)
    sign = np.array([1.0 if d == "minimize" else -1.0 for d in objective.directions])
    archs: list[dict[str, Any]] = []  # feasible evaluated architectures
    losses: list[np.ndarray] = []
    picks: list[Any] = []  # per query: an architecture, a list of them, or None
    best = math.inf
    best_arch: dict[str, Any] | None = None
    sampler_s = eval_s = 0.0
    # What the evaluations would cost on the real evaluator: a tabular evaluator reports
    # the measured training time of the row it looks up as ``train_seconds``.
    spent: list[float] = []
    queries = skipped = asks = failed = 0
    nearest: dict[Budget, float] = {}  # each budget's value nearest it, among the skipped
    first_failure = ""
    while queries < trials and asks < MAX_ASKS_PER_QUERY * trials:
        asks += 1
        ts = time.perf_counter()
        trial = study.ask()
        arch = inst.space.suggest(trial)
        te = time.perf_counter()
        sampler_s += te - ts
        try:
            check_before_training(trial, arch, inst.evaluator, objective)
        except OverBudget as e:
            skip(study, trial, str(e))
            skipped += 1
            note_nearest(nearest, e.checked)
            eval_s += time.perf_counter() - te
            continue
        queries += 1
        try:
            metrics = check_metrics(
                inst.evaluator.evaluate(arch, seed=trial_seed(seed, trial.number))
            )
            values = objective.values(metrics)
            cons = objective.constraints(metrics)
        except Exception as e:  # a trial's failure is a wasted query, not the end of a run
            failed += 1
            first_failure = first_failure or f"{type(e).__name__}: {e}"
            trial.set_user_attr("fail_reason", f"{type(e).__name__}: {e}")
            study.tell(trial, state=TrialState.FAIL)
            eval_s += time.perf_counter() - te
            spent.append(spent[-1] if spent else 0.0)
            picks.append(picks[-1] if picks else None)
            continue
        eval_s += time.perf_counter() - te
        spent.append((spent[-1] if spent else 0.0) + float(metrics.get("train_seconds", 0.0)))
        trial.set_user_attr("metrics", metrics)
        for k, g in cons.items():
            trial.set_constraint(k, g)
        ts = time.perf_counter()
        study.tell(trial, values)
        sampler_s += time.perf_counter() - ts
        if all(g <= 0 for g in cons.values()):
            archs.append(arch)
            losses.append(sign * np.asarray(values, dtype=float))
            if not multi and losses[-1][0] < best:
                best, best_arch = float(losses[-1][0]), arch
        if multi:
            if archs:
                mask = pareto_mask(np.stack(losses), ["minimize"] * len(sign))
                picks.append([a for a, m in zip(archs, mask, strict=True) if m])
            else:
                picks.append(None)
        else:
            picks.append(best_arch)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    picks += [picks[-1] if picks else None] * (trials - len(picks))  # a run stopped short
    # Judging happens after the search, on the picks only.
    curve = [_judge(inst.judge, p) for p in picks]
    reach = [
        q + 1
        for q, s in enumerate(curve)
        if not math.isnan(s) and (s >= inst.target if inst.maximize else s <= inst.target)
    ]
    score = curve[-1] if curve else math.nan
    regret = (inst.optimum - score) if inst.maximize else (score - inst.optimum)
    last = picks[-1] if picks else None
    if last is None:
        picked = ""
    elif multi:
        picked = f"{len(last)} Pareto architectures"
    else:
        picked = inst.label(last)
    return {
        "strategy": strategy,
        "seed": seed,
        "score": score,
        "regret": regret,
        "queries_to_target": reach[0] if reach else None,
        "train_seconds_to_target": spent[min(reach[0], len(spent)) - 1]
        if reach and spent
        else None,
        "train_seconds": spent[-1] if spent else 0.0,
        "queries": queries,
        "skipped": skipped,
        "seconds": seconds,
        "sampler_seconds": sampler_s,
        "eval_seconds": eval_s,
        "cpu_seconds": cpu,
        "picked": picked,
        "optimum": inst.optimum,
        "curve": curve,
        "failed": failed,  # these three are read and dropped by the harness
        "first_failure": first_failure,
        "stopped": "" if queries >= trials else _stopped(asks, queries, trials, skipped, nearest),
    }


def _stopped(
    asks: int, queries: int, trials: int, skipped: int, nearest: dict[Budget, float]
) -> str:
    """Why a run stopped short of its queries, in the words of the search's give-up
    (:meth:`~quarch.study._skips.SkipStreak.give_up`): a benchmark of a budget that no
    architecture meets ended with a table of blanks and nothing said."""
    from quarch.study._skips import nearest_advice

    return (
        f"stopped at the cap of {asks} asks ({MAX_ASKS_PER_QUERY} per query): {skipped} "
        f"architectures were over budget before training, with {queries} of {trials} "
        f"queries done; {nearest_advice(nearest)}"
    )


def _judge(judge: Any, pick: Any) -> float:
    if pick is None:
        return math.nan
    try:
        return float(judge(pick))
    except Exception as e:  # a task's own judge (yours, for package.module:function)
        raise ConfigError(
            f"the task's judge failed on the pick {pick!r}: {type(e).__name__}: {e}"
        ) from None
