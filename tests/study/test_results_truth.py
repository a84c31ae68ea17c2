"""A run's Pareto set and best trial against brute force.

:class:`~quarch.study.SearchResult` is built from hand-made trials with known metrics;
the Pareto set is recomputed by the definition of dominance (all pairs compared, each
metric in its own direction), and the best trial of a weighted cost by evaluating the
weighted sum of every feasible trial. Maximised metrics (``val_accuracy``,
``success_probability``) and budgets are in every case, since those are where a sign or
a filter can silently go wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
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


class _Scored:
    """``mlp`` architectures scored by closed forms: 3 layers fail, width 8 gives NaN."""

    fingerprint = "scored"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        if arch["n_layers"] == 3:
            raise RuntimeError("three layers refused")
        err = 0.1 * arch["n_layers"] + 0.001 * arch["width_0"]
        return {"val_error": err, "val_accuracy": 1 - err, "params": float(arch["width_0"]),
                "noise": float(seed % 997)}  # fmt: skip


def test_a_run_reads_back_as_it_was_scored(tmp_path: Path) -> None:
    """Every field of a run's records and its JSON summary, from the closed forms of the
    evaluator and the run seed (``trial_seed``), for a run with failures and budgets."""
    from quarch.study import Run, run_search, trial_seed

    cfg = SearchConfig(
        space="mlp", dataset="iris", strategy="random", trials=12, seed=5,
        out=str(tmp_path / "r"), objectives=["val_accuracy", "params"],
        budgets=["params<=32"], space_options={"max_layers": 3},
    )  # fmt: skip
    res = run_search(cfg, evaluator=_Scored(), progress=False)
    back = Run.open(tmp_path / "r").result()
    assert [t.to_full_dict() for t in back.trials] == [t.to_full_dict() for t in res.trials]
    n_fail = n_done = 0
    for t in res.trials:
        full = t.to_full_dict()
        assert full["number"] == t.number and full["params"] == t.params
        assert t.seed == full["seed"] == trial_seed(5, t.number)
        assert t.duration_s is not None and full["duration_s"] == t.duration_s >= 0
        assert full["epochs_reported"] == t.epochs_reported == 0
        if t.params["n_layers"] == 3:
            n_fail += 1
            assert t.state == full["state"] == "FAIL" and t.values is None
            assert t.fail_reason and "three layers refused" in t.fail_reason
            assert full["reason"] == t.reason == t.fail_reason
            assert t.to_dict() == {"number": t.number, "params": t.params, "metrics": t.metrics,
                                   "fail_reason": t.fail_reason}  # fmt: skip
            continue
        n_done += 1
        err = 0.1 * t.params["n_layers"] + 0.001 * t.params["width_0"]
        want = {"val_error": err, "val_accuracy": 1 - err, "params": float(t.params["width_0"]),
                "noise": float(trial_seed(5, t.number) % 997)}  # fmt: skip
        assert t.metrics == pytest.approx(want)
        assert t.state == "COMPLETE" and t.values == pytest.approx([1 - err, want["params"]])
        assert t.feasible == (want["params"] <= 32) == full["feasible"]
        assert full["reason"] is None and full["values"] == t.values
        assert t.to_dict() == {"number": t.number, "params": t.params, "metrics": t.metrics}
    assert n_fail and n_done
    summary = res.to_json()
    assert summary["run"] == str(tmp_path / "r")
    assert (summary["trials"], summary["target"]) == (len(res.trials), 12)
    assert (summary["complete"], summary["failed"]) == (n_done, n_fail)
    assert (summary["pruned"], summary["skipped_over_budget"]) == (0, 0)
    assert summary["stopped"] == "budget" and summary["seconds"] > 0
    assert summary["objectives"] == ["val_accuracy", "params"]
    want_front = _brute_pareto(res.trials, ["val_accuracy", "params"])
    assert {p["number"] for p in summary["pareto"]} == want_front
    assert summary["best"] == res.best.to_dict()  # type: ignore[union-attr]
    assert "weighted_cost" not in summary["best"]
    assert back.stopped is None and back.seconds is None


def test_objective_round_trips_through_its_dict() -> None:
    obj = Objective(
        ["val_error", "params"], weights=[1, 0.5], budgets=["params<=10", "val_error<0.5"]
    )
    d = obj.to_dict()
    assert d == {"metrics": ["val_error", "params"], "weights": [1.0, 0.5],
                 "budgets": ["params<=10", "val_error<0.5"]}  # fmt: skip
    assert Objective(d["metrics"], weights=d["weights"], budgets=d["budgets"]) == obj  # type: ignore[arg-type]
    assert Objective(["val_error"]).to_dict() == {"metrics": ["val_error"], "weights": None,
                                                  "budgets": []}  # fmt: skip


class TestObjectiveBoundaries:
    """The edges of budgets, weights and empty fronts, each stated exactly."""

    def test_a_budget_met_exactly_is_feasible(self) -> None:
        obj = Objective(["val_error"], budgets=["params<=10", "flops<5"])
        assert obj.is_feasible({"val_error": 0.1, "params": 10.0, "flops": 4.0})
        assert not obj.is_feasible({"val_error": 0.1, "params": 10.0, "flops": 5.0})
        assert obj.constraints({"val_error": 0.1, "params": 10.0, "flops": 5.0}) == {
            "params<=10": 0.0, "flops<5": 1e-12,
        }  # fmt: skip

    def test_zero_weights_are_allowed_negative_ones_not(self) -> None:
        from quarch import ConfigError

        assert Objective(["val_error", "params"], weights=[1, 0]).values(
            {"val_error": 0.2, "params": 99.0}
        ) == [0.2]
        with pytest.raises(
            ConfigError, match=r"weights must be finite and >= 0; got \[1.0, -1.0\]"
        ):
            Objective(["val_error", "params"], weights=[1, -1])

    def test_messages(self) -> None:
        from quarch import ConfigError

        with pytest.raises(ConfigError, match="at least one objective metric is required"):
            Objective([])
        with pytest.raises(ConfigError, match=r"objective metrics repeat: \['params', 'params'\]"):
            Objective(["params", "params"])
        with pytest.raises(ConfigError, match=r"\(use val_error instead of val_accuracy\)"):
            Objective(["val_accuracy", "params"], weights=[1, 1])
        with pytest.raises(
            ConfigError, match=r"malformed budget 'params<=1e5e5': '1e5e5' is not a"
        ):
            Objective(["val_error"], budgets=["params<=1e5e5"])
        with pytest.raises(ConfigError, match=r"expected METRIC<=NUMBER .*e\.g\. latency_ms<=100"):
            Objective(["val_error"], budgets=["params=<3"])
        with pytest.raises(KeyError, match="budget params<=3 needs metric 'params'"):
            Objective(["val_error"], budgets=["params<=3"]).constraints({"val_error": 0.1})

    def test_empty_and_dominated_fronts(self) -> None:
        from quarch.objectives import hypervolume, pareto_mask

        empty = pareto_mask(np.zeros((0, 2)), ["minimize", "maximize"])
        assert empty.shape == (0,) and empty.dtype == bool
        one = pareto_mask(np.array([[0.3, 0.7]]), ["minimize", "maximize"])
        assert one.tolist() == [True]
        # nothing beats the reference point: no volume
        assert hypervolume(np.array([[2.0, 0.1]]), ["minimize", "maximize"], [1.0, 0.5]) == 0.0
        # one point, maximised second axis: (1 - 0.2) * (0.9 - 0.5)
        got = hypervolume(np.array([[0.2, 0.9]]), ["minimize", "maximize"], [1.0, 0.5])
        assert got == pytest.approx(0.8 * 0.4)
