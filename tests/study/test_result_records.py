"""TrialRecord built from Optuna's own trials, field by field, and the JSON it gives.

``quarch trials --json``, ``quarch search --json`` and the report read these records; a
reason, a constraint or a missing duration that went astray here would show a wrong
run without any error. Each case builds the Optuna trial as ``run_search`` records it
(user attributes, constraints, state) and reads it back through ``from_frozen``.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.study import SearchResult, TrialRecord
from quarch.study._worker import FAIL_REASON, METRICS, PRUNE_REASON, SEED, SKIP_REASON

DIST: dict[str, optuna.distributions.BaseDistribution] = {
    "width": optuna.distributions.CategoricalDistribution([8, 16])
}


def _frozen(
    state: TrialState = TrialState.COMPLETE,
    attrs: dict[str, object] | None = None,
    constraints: tuple[float, ...] = (),
    finished: bool = True,
    intermediate: dict[int, float] | None = None,
) -> optuna.trial.FrozenTrial:
    start = datetime.datetime(2026, 1, 1, 12, 0, 0)
    t = optuna.trial.FrozenTrial(
        number=3,
        state=state,
        value=0.25 if state == TrialState.COMPLETE else None,
        datetime_start=start,
        datetime_complete=start + datetime.timedelta(seconds=2.5) if finished else None,
        params={"width": 16},
        distributions=DIST,
        user_attrs=dict(attrs or {}),
        system_attrs={},
        intermediate_values=dict(intermediate or {}),
        trial_id=3,
    )
    for i, g in enumerate(constraints):  # as quarch's worker records a budget's slack
        t.set_constraint(f"b{i}", g)
    return t


def test_every_field_of_a_complete_trial() -> None:
    t = _frozen(attrs={METRICS: {"val_error": 0.25, "params": 40.0}, SEED: 77},
                intermediate={0: 0.5, 1: 0.3})  # fmt: skip
    r = TrialRecord.from_frozen(t)
    assert (r.number, r.state, r.params) == (3, "COMPLETE", {"width": 16})
    assert r.metrics == {"val_error": 0.25, "params": 40.0} and r.values == [0.25]
    assert r.seed == 77 and r.duration_s == pytest.approx(2.5)
    assert r.epochs_reported == 2 and r.feasible and r.reason is None
    assert r.to_dict() == {"number": 3, "params": {"width": 16}, "metrics": r.metrics}
    assert r.to_full_dict() == {
        "number": 3, "state": "COMPLETE", "params": {"width": 16}, "metrics": r.metrics,
        "values": [0.25], "feasible": True, "seed": 77, "duration_s": r.duration_s,
        "reason": None, "epochs_reported": 2,
    }  # fmt: skip


def test_a_running_trial_has_no_duration_and_missing_metrics_are_empty() -> None:
    r = TrialRecord.from_frozen(_frozen(TrialState.RUNNING, finished=False))
    assert r.duration_s is None and r.metrics == {} and isinstance(r.metrics, dict)
    assert r.values is None and r.seed is None
    bad = TrialRecord.from_frozen(_frozen(attrs={METRICS: "not a dict"}))
    assert bad.metrics == {}


@pytest.mark.parametrize(
    ("constraints", "feasible"),
    [((), True), ((0.0,), True), ((-1.0, 0.0), True), ((0.5,), False), ((-2.0, 1e-9), False)],
)
def test_feasible_means_every_constraint_at_most_zero(
    constraints: tuple[float, ...], feasible: bool
) -> None:
    t = _frozen(attrs={METRICS: {"params": 1.0}}, constraints=constraints)
    assert list(t.constraints.values()) == list(constraints)  # Optuna reads them back
    assert TrialRecord.from_frozen(t).feasible is feasible


@pytest.mark.parametrize(
    ("state", "key", "field"),
    [
        (TrialState.PRUNED, SKIP_REASON, "skip_reason"),
        (TrialState.PRUNED, PRUNE_REASON, "prune_reason"),
        (TrialState.FAIL, FAIL_REASON, "fail_reason"),
    ],
)
def test_the_reason_a_trial_did_not_complete_is_kept(
    state: TrialState, key: str, field: str
) -> None:
    r = TrialRecord.from_frozen(_frozen(state, attrs={key: "why: because"}))
    assert getattr(r, field) == "why: because" == r.reason
    others = {"skip_reason", "prune_reason", "fail_reason"} - {field}
    assert all(getattr(r, o) is None for o in others)
    assert r.to_dict() == {"number": 3, "params": {"width": 16}, "metrics": {},
                           field: "why: because"}  # fmt: skip
    assert r.to_full_dict()["reason"] == "why: because"


def test_a_run_without_a_complete_trial_has_no_best_in_its_json() -> None:
    obj = Objective(["val_error"])
    failed = TrialRecord(0, "FAIL", {"k": 0}, {}, None, True, seed=0, fail_reason="boom")
    res = SearchResult(
        Path("."), SearchConfig(space="mlp", objectives=["val_error"]), obj, [failed]
    )
    summary = res.to_json()
    assert summary["best"] is None and summary["pareto"] == []
    assert (summary["complete"], summary["failed"]) == (0, 1)
