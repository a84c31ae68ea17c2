"""A run's Pareto set and best trial against brute force.

:class:`~quarch.study.SearchResult` is built from hand-made trials with known metrics;
the Pareto set is recomputed by the definition of dominance (all pairs compared, each
metric in its own direction), and the best trial of a weighted cost by evaluating the
weighted sum of every feasible trial. Maximised metrics (``val_accuracy``,
``success_probability``) and budgets are in every case, since those are where a sign or
a filter can silently go wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.study import SearchResult, TrialRecord

UP = {"val_accuracy", "success_probability"}


def _trials(
    rng: np.random.Generator, n: int, metrics: list[str], obj: Objective
) -> list[TrialRecord]:
    out = []
    for k in range(n):
        # few distinct levels, so ties and duplicates of Pareto points occur
        m = {name: float(rng.integers(0, 6)) / 5 for name in metrics}
        m["params"] = float(rng.integers(1, 8) * 100)
        state = "COMPLETE" if k % 7 else ("FAIL" if k % 2 else "PRUNED")
        values = None
        if state == "COMPLETE" and obj.weights is not None:
            values = [sum(w * m[x] for w, x in zip(obj.weights, obj.metrics, strict=True))]
        elif state == "COMPLETE":
            values = [m[x] for x in obj.metrics]
        feasible = all(
            (m[b.metric] <= b.limit) if b.op == "<=" else (m[b.metric] >= b.limit)
            for b in obj.budgets
        )
        out.append(TrialRecord(k, state, {"k": k}, m, values, feasible, seed=k))
    return out


def _result(obj: Objective, trials: list[TrialRecord]) -> SearchResult:
    cfg = SearchConfig(space="mlp", objectives=list(obj.metrics))
    return SearchResult(Path("."), cfg, obj, trials)


def _dominates(a: dict[str, float], b: dict[str, float], names: list[str]) -> bool:
    sa = [a[m] if m not in UP else -a[m] for m in names]
    sb = [b[m] if m not in UP else -b[m] for m in names]
    return all(x <= y for x, y in zip(sa, sb, strict=True)) and sa != sb


def _brute_pareto(trials: list[TrialRecord], names: list[str]) -> set[int]:
    ok = [t for t in trials if t.state == "COMPLETE" and t.feasible]
    return {t.number for t in ok if not any(_dominates(o.metrics, t.metrics, names) for o in ok)}


CASES: list[tuple[list[str], list[str]]] = [
    (["val_accuracy", "params"], []),
    (["val_accuracy", "params"], ["params<=500"]),
    (["val_error", "success_probability", "params"], ["success_probability>=0.2"]),
    (["success_probability", "val_accuracy"], []),
]


@pytest.mark.parametrize(("metrics", "budgets"), CASES)
@pytest.mark.parametrize("seed", range(4))
def test_pareto_with_maximised_metrics(metrics: list[str], budgets: list[str], seed: int) -> None:
    obj = Objective(metrics, budgets=budgets)
    names = [m for m in metrics if m != "params"]
    trials = _trials(np.random.default_rng(seed), 40, names, obj)
    res = _result(obj, trials)
    want = _brute_pareto(trials, metrics)
    assert {t.number for t in res.pareto} == want
    # best: on the Pareto set, best in the first metric, ties broken by the next ones
    key: Any = lambda t: [t.metrics[m] * (-1 if m in UP else 1) for m in metrics]  # noqa: E731
    best = min((t for t in trials if t.number in want), key=key)
    assert res.best is not None and key(res.best) == key(best)


@pytest.mark.parametrize("weights", [(1.0, 0.001), (0.2, 0.01), (5.0, 0.0005)])
@pytest.mark.parametrize("seed", range(3))
def test_best_under_weights_is_the_lowest_weighted_cost(
    weights: tuple[float, float], seed: int
) -> None:
    obj = Objective(["val_error", "params"], weights=weights, budgets=["params<=600"])
    trials = _trials(np.random.default_rng(10 + seed), 40, ["val_error"], obj)
    res = _result(obj, trials)
    ok = [t for t in trials if t.state == "COMPLETE" and t.params and t.feasible]
    costs = {t.number: weights[0] * t.metrics["val_error"] + weights[1] * t.metrics["params"]
             for t in ok}  # fmt: skip
    assert res.best is not None
    assert costs[res.best.number] == pytest.approx(min(costs.values()))
    assert res.to_json()["best"]["weighted_cost"] == pytest.approx(min(costs.values()))
    # the weighted run's Pareto set is that of the weighted metrics themselves
    assert {t.number for t in res.pareto} == _brute_pareto(trials, ["val_error", "params"])


def test_nothing_feasible_has_no_best() -> None:
    obj = Objective(["val_accuracy"], budgets=["val_accuracy>=2"])
    trials = _trials(np.random.default_rng(0), 10, ["val_accuracy"], obj)
    assert _result(obj, trials).best is None and _result(obj, trials).pareto == []
