"""Tests of objectives: budgets, weighted cost, Pareto sets and hypervolume."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from quarch import ConfigError
from quarch.objectives import METRICS, Budget, Objective, hypervolume, pareto_mask


class TestInputs:
    @pytest.mark.parametrize("text", ["latency", "latency_ms<<100", "<=3", "latency_ms<=abc", ""])
    def test_malformed_budget(self, text: str) -> None:
        with pytest.raises(ConfigError, match="malformed budget"):
            Budget.parse(text)

    def test_unknown_metric(self) -> None:
        with pytest.raises(ConfigError, match="unknown metric 'acc'"):
            Objective(["acc"])

    def test_unknown_budget_metric(self) -> None:
        with pytest.raises(ConfigError, match="unknown metric 'speed'"):
            Objective(["val_error"], budgets=["speed<=3"])

    def test_weights_all_zero(self) -> None:
        """Every architecture would cost 0: refused in one line; one weight above 0 is
        enough, the others may be 0."""
        with pytest.raises(ConfigError) as e:
            Objective(["val_error", "params"], weights=[0, 0.0])
        assert str(e.value) == (
            "weights are all 0, so every architecture would cost the same; give at least "
            "one objective of ['val_error', 'params'] a weight > 0"
        )
        assert Objective(["val_error", "params"], weights=[0, 1e-9]).weights == (0.0, 1e-9)

    def test_weights_count(self) -> None:
        with pytest.raises(ConfigError, match="got 1 weights for 2 objectives"):
            Objective(["val_error", "params"], weights=[1])

    def test_weighted_needs_minimised_metrics(self) -> None:
        with pytest.raises(ConfigError, match="maximised"):
            Objective(["val_accuracy", "params"], weights=[1, 1])

    def test_negative_weight(self) -> None:
        with pytest.raises(ConfigError, match="finite and >= 0"):
            Objective(["val_error"], weights=[-1])

    # The whole line a user reads for each mistake (the CLI prints it as it is): what was
    # wrong, and what would be right.
    @pytest.mark.parametrize(
        ("make", "line"),
        [
            (lambda: Objective(["acc"]),
             f"unknown metric 'acc'; known metrics: {', '.join(METRICS)}"),
            (lambda: Objective([]), "at least one objective metric is required"),
            (lambda: Budget.parse("latency"),
             "malformed budget 'latency'; expected METRIC<=NUMBER (or <, >=, >), "
             "e.g. latency_ms<=100"),
            (lambda: Objective(["val_accuracy", "params"], weights=[1, 1]),
             "a weighted cost needs metrics that are minimised; ['val_accuracy'] are "
             "maximised (use val_error instead of val_accuracy)"),
        ],
    )  # fmt: skip
    def test_the_line_a_user_reads(self, make: Callable[[], object], line: str) -> None:
        with pytest.raises(ConfigError) as err:
            make()
        assert str(err.value) == line

    def test_missing_metric_names_what_the_evaluator_returned(self) -> None:
        obj = Objective(["val_error", "params"])
        with pytest.raises(KeyError) as err:
            obj.values({"val_error": 0.1, "flops": 3.0})
        assert err.value.args == (
            "evaluator returned no ['params']; it returned ['flops', 'val_error']",
        )


class TestBudgets:
    @pytest.mark.parametrize(
        ("text", "value", "feasible"),
        [
            ("latency_ms<=100", 100.0, True),
            ("latency_ms<=100", 100.5, False),
            ("latency_ms<100", 100.0, False),
            ("latency_ms<100", 99.0, True),
            ("val_accuracy>=0.9", 0.95, True),
            ("val_accuracy>0.9", 0.9, False),
            ("memory_kb <= 2.5e2", 250.0, True),
        ],
    )
    def test_feasibility(self, text: str, value: float, feasible: bool) -> None:
        b = Budget.parse(text)
        assert (b.violation(value) <= 0) is feasible

    @pytest.mark.parametrize(
        "limit", [8.480965, 100.0, 0.1 + 0.2, 1e-7, 123456789.0, 2.5e2, -3.0, 15.722812345678]
    )
    def test_printed_budget_parses_back(self, limit: float) -> None:
        # A printed (or saved: Objective.to_dict) budget must read back to the same
        # limit; ``:g`` alone rounded 8.480965 to "8.48097", a different budget.
        b = Budget("latency_ms", "<=", limit)
        assert Budget.parse(str(b)) == b
        saved = Objective(["val_error"], budgets=[b]).to_dict()["budgets"]
        assert isinstance(saved, list)
        assert Objective(["val_error"], budgets=saved).budgets == (b,)

    def test_printed_budget_stays_short(self) -> None:
        assert str(Budget("latency_ms", "<=", 100.0)) == "latency_ms<=100"
        assert str(Budget("memory_kb", ">", 2.5)) == "memory_kb>2.5"

    def test_constraints_of_objective(self) -> None:
        obj = Objective(["val_error"], budgets=["latency_ms<=100", "memory_kb<=512"])
        g = obj.constraints({"val_error": 0.1, "latency_ms": 120.0, "memory_kb": 100.0})
        assert g == {"latency_ms<=100": 20.0, "memory_kb<=512": -412.0}
        assert not obj.is_feasible({"val_error": 0.1, "latency_ms": 120.0, "memory_kb": 100.0})


class TestValues:
    def test_weighted_cost(self) -> None:
        obj = Objective(
            ["val_error", "latency_ms", "memory_kb", "energy_mj"], weights=[1, 0.01, 0.001, 0.1]
        )
        m = {"val_error": 0.2, "latency_ms": 50.0, "memory_kb": 300.0, "energy_mj": 2.0}
        assert obj.directions == ["minimize"]
        assert obj.values(m) == [pytest.approx(0.2 + 0.5 + 0.3 + 0.2)]

    def test_directions(self) -> None:
        obj = Objective(["val_accuracy", "params"])
        assert obj.directions == ["maximize", "minimize"]
        assert obj.is_multi

    def test_batch_shape(self) -> None:
        obj = Objective(["val_error", "params"])
        out = obj.batch_values([{"val_error": 0.1, "params": 3}, {"val_error": 0.2, "params": 1}])
        assert out.shape == (2, 2)


def _brute_pareto(vals: np.ndarray, signs: np.ndarray) -> np.ndarray:
    loss = vals * signs
    n = len(loss)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        for j in range(n):
            if np.all(loss[j] <= loss[i]) and np.any(loss[j] < loss[i]):
                keep[i] = False
    return keep


class TestPareto:
    @pytest.mark.parametrize("seed", range(5))
    def test_matches_brute_force(self, seed: int) -> None:
        rng = np.random.default_rng(seed)
        vals = rng.integers(0, 6, size=(40, 3)).astype(float)  # many ties
        dirs = ["minimize", "maximize", "minimize"]
        want = _brute_pareto(vals, np.array([1.0, -1.0, 1.0]))
        np.testing.assert_array_equal(pareto_mask(vals, dirs), want)

    def test_shape_mismatch(self) -> None:
        with pytest.raises(ValueError, match=r"values must have shape \(n, 2\)"):
            pareto_mask(np.zeros((3, 3)), ["minimize", "minimize"])

    def test_hypervolume_2d_analytic(self) -> None:
        # staircase of (1,3), (2,2), (3,1) under reference (4,4): area 3+2+1 = 6
        vals = np.array([[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.5, 3.5]])
        assert hypervolume(vals, ["minimize", "minimize"], [4.0, 4.0]) == pytest.approx(6.0)

    def test_hypervolume_maximize_and_outside_ref(self) -> None:
        vals = np.array([[0.9, 10.0], [0.5, 100.0]])  # accuracy up, params down
        hv = hypervolume(vals, ["maximize", "minimize"], [0.0, 50.0])
        assert hv == pytest.approx(0.9 * 40.0)  # second point is beyond the reference
