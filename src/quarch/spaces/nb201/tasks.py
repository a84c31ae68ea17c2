"""NAS-Bench-201 benchmark tasks: search on the 12-epoch validation accuracy (and the
latencies, which need no training), judged by the 200-epoch test accuracy.

Every task here is a task factory (:mod:`quarch.evaluate.task`), the same API as a
user's ``--task package.module:function``:

* ``nb201-<data set>``: the whole space (``cifar10``, ``cifar100``);
* ``nb201-<data set>-<device>``: under a latency budget on one of the six devices, at
  the 25th percentile of that device's latencies over the 15625 cells (a quarter of
  the space is feasible). The latency is known before training, so the harness skips
  an architecture over the budget without spending a query, as a search run does;
* ``nb201-<data set>-mo-<device>``: two objectives, validation error against the
  device's latency, judged by the hypervolume of the run's Pareto set in true (200-epoch
  test) error and latency (:func:`front_hypervolume`).

Each task's ``oracle`` is the judged score of what the search's own signal points to
over the whole (feasible) space: the cell with the best 12-epoch validation accuracy,
or the Pareto set by validation error and latency.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from quarch._errors import ConfigError
from quarch.evaluate.task import Task, task_objective
from quarch.spaces.nb201.evaluator import (
    NB201_DATASETS,
    NB201_LATENCY_COLUMNS,
    NB201Evaluator,
    NB201Table,
    load_nb201,
)
from quarch.spaces.nb201.space import nb201_arch_str, nb201_space

__all__ = ["LATENCY_QUANTILE", "front_hypervolume", "nb201_mo_task", "nb201_task", "task_factories"]

#: Quantile of a device's latencies used as the budget of the latency tasks.
LATENCY_QUANTILE = 0.25

_CACHE: dict[tuple[Any, ...], Task] = {}


def nb201_task(
    dataset: str,
    *,
    data_dir: str | None = None,
    budgets: Sequence[str] = (),
    device: str | None = None,
) -> Task:
    """The single-objective task on ``dataset``'s table (the same for every seed, so
    cached); ``device`` adds its latency budget at :data:`LATENCY_QUANTILE`."""
    key = ("so", dataset, data_dir, tuple(budgets), device)
    if key not in _CACHE:
        _CACHE[key] = _build(dataset, data_dir, budgets, device)
    return _CACHE[key]


def _latency_budget(table: NB201Table, device: str) -> str:
    if device not in table.latency:
        raise ConfigError(f"the nb201 latency table has no column {device!r}")
    return f"{device}<={float(np.quantile(table.latency[device], LATENCY_QUANTILE))!r}"


def _feasible(table: NB201Table, evaluator: NB201Evaluator, objective: Any) -> np.ndarray:
    feasible = np.ones(len(table), dtype=bool)
    for b in objective.budgets:
        col = table.latency.get(b.metric)
        if col is None:
            if b.metric in ("val_error", "val_accuracy"):
                acc = table.val_12ep
                col = 1.0 - acc / 100.0 if b.metric == "val_error" else acc
            else:  # params, flops, macs: closed form per cell
                col = np.array([_cheap(evaluator, s)[b.metric] for s in table.arch_strs])
        feasible &= np.array([b.violation(float(v)) <= 0 for v in col])
    return feasible


@functools.cache
def _arch(text: str) -> dict[str, Any]:
    from quarch.spaces.nb201.space import nb201_from_str

    return nb201_from_str(text)


def _cheap(evaluator: NB201Evaluator, text: str) -> Mapping[str, float]:
    return evaluator.cheap_metrics(_arch(text))


def _build(dataset: str, data_dir: str | None, budgets: Sequence[str], device: str | None) -> Task:
    table = load_nb201(dataset, data_dir)
    space = nb201_space()
    evaluator = NB201Evaluator(table)
    all_budgets = [*budgets, *([_latency_budget(table, device)] if device else [])]
    objective = task_objective(all_budgets, evaluator.evaluate(space.sample(0)))
    feasible = _feasible(table, evaluator, objective)
    if not feasible.any():
        raise ConfigError(f"no nb201 cell meets the budgets {all_budgets}; loosen them")
    test = table.test_200ep
    oracle = int(np.flatnonzero(feasible)[np.argmax(table.val_12ep[feasible])])

    def judge(arch: Mapping[str, Any]) -> float:
        return float(test[table.row(arch)])

    return Task(
        name=f"nb201-{dataset}" + (f"-{device}" if device else ""),
        space=space,
        evaluator=evaluator,
        objective=objective,
        judge=judge,
        maximize=True,
        optimum=float(test[feasible].max()),
        target=float(np.quantile(test[feasible], 0.99)),
        score_name=f"{table.dataset} 200-epoch test accuracy (%)",
        oracle=float(test[oracle]),
        oracle_label=table.arch_strs[oracle],
        describe=nb201_arch_str,
    )


# -- multi-objective ---------------------------------------------------------------------
def front_hypervolume(
    error: np.ndarray, latency: np.ndarray, ideal: tuple[float, float], ref: tuple[float, float]
) -> float:
    """Hypervolume of points ``(error, latency)`` (both minimised), each axis scaled to
    ``[0, 1]`` between ``ideal`` and ``ref``: the fraction of that box the set dominates.
    Points beyond ``ref`` on either axis add nothing."""
    from quarch.objectives import hypervolume

    e = (np.asarray(error, dtype=float) - ideal[0]) / (ref[0] - ideal[0])
    t = (np.asarray(latency, dtype=float) - ideal[1]) / (ref[1] - ideal[1])
    if e.size == 0:
        return 0.0
    return hypervolume(np.stack([e, t], axis=1), ["minimize", "minimize"], [1.0, 1.0])


def nb201_mo_task(
    dataset: str, device: str, *, data_dir: str | None = None, budgets: Sequence[str] = ()
) -> Task:
    """Validation error against ``device``'s latency, judged by the hypervolume of the
    run's Pareto set in 200-epoch test error (%) and latency (ms). The box runs from
    the best test error and the lowest latency in the space to the median test error
    (a set of cells worse than half the space scores 0) and the largest latency."""
    key = ("mo", dataset, data_dir, tuple(budgets), device)
    if key in _CACHE:
        return _CACHE[key]
    from quarch.objectives import pareto_mask

    table = load_nb201(dataset, data_dir)
    if device not in table.latency:
        raise ConfigError(f"the nb201 latency table has no column {device!r}")
    space = nb201_space()
    evaluator = NB201Evaluator(table)
    objective = task_objective(
        budgets, evaluator.evaluate(space.sample(0)), metrics=("val_error", device)
    )
    feasible = _feasible(table, evaluator, objective)
    if not feasible.any():
        raise ConfigError(f"no nb201 cell meets the budgets {list(budgets)}; loosen them")
    err = 100.0 - table.test_200ep
    lat = table.latency[device]
    ideal = (float(err.min()), float(lat.min()))
    ref = (float(np.median(err)), float(lat.max()))
    idx = np.flatnonzero(feasible)

    def hv(rows: np.ndarray) -> float:
        return front_hypervolume(err[rows], lat[rows], ideal, ref)

    true_front = idx[pareto_mask(np.stack([err[idx], lat[idx]], 1), ["minimize"] * 2)]
    val_front = idx[
        pareto_mask(np.stack([100.0 - table.val_12ep[idx], lat[idx]], 1), ["minimize"] * 2)
    ]

    def judge(archs: Sequence[Mapping[str, Any]]) -> float:
        return hv(np.array([table.row(a) for a in archs], dtype=np.int64))

    task = Task(
        name=f"nb201-{dataset}-mo-{device}",
        space=space,
        evaluator=evaluator,
        objective=objective,
        judge=judge,
        maximize=True,
        optimum=hv(true_front),
        target=hv(val_front),
        score_name=f"hypervolume of the Pareto set in {table.dataset} 200-epoch test error and "
        f"{device} latency (fraction of the box)",
        oracle=hv(val_front),
        oracle_label=f"the validation Pareto set ({len(val_front)} cells)",
        describe=nb201_arch_str,
    )
    _CACHE[key] = task
    return task


# -- the factories -------------------------------------------------------------------------
def task_factories() -> dict[str, Callable[..., Task]]:
    """Every NAS-Bench-201 task by name, as task factories."""

    def so(dataset: str, device: str | None) -> Callable[..., Task]:
        def make(*, data_dir: str | None = None, budgets: Sequence[str] = ()) -> Task:
            return nb201_task(dataset, data_dir=data_dir, budgets=budgets, device=device)

        budget = f" under a {device} latency budget (its 25th percentile)" if device else ""
        make.__doc__ = (  # what `quarch tasks` lists
            f"NAS-Bench-201 on {dataset}{budget}: searched by 12-epoch validation "
            "accuracy, judged by 200-epoch test accuracy"
        )
        return make

    def mo(dataset: str, device: str) -> Callable[..., Task]:
        def make(*, data_dir: str | None = None, budgets: Sequence[str] = ()) -> Task:
            return nb201_mo_task(dataset, device, data_dir=data_dir, budgets=budgets)

        make.__doc__ = (  # what `quarch tasks` lists
            f"NAS-Bench-201 on {dataset}, two objectives: validation error and {device} "
            "latency, judged by the hypervolume of the Pareto set in test error"
        )
        return make

    out: dict[str, Callable[..., Task]] = {}
    for d in NB201_DATASETS:
        out[f"nb201-{d}"] = so(d, None)
    for d in NB201_DATASETS:
        for dev in NB201_LATENCY_COLUMNS:
            out[f"nb201-{d}-{dev}"] = so(d, dev)
    for d in NB201_DATASETS:
        for dev in NB201_LATENCY_COLUMNS:
            out[f"nb201-{d}-mo-{dev}"] = mo(d, dev)
    return out
