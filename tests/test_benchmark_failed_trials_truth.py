"""A failed evaluation in a benchmark run is told to Optuna as failed, with no warning.

``run_one`` counts an evaluation that raises as a wasted query and goes on; the run's
own summary (``run_benchmark``'s one warning line naming the first failure) is how the
user hears of it. Telling Optuna the trial without a state would record it as FAIL too,
but through Optuna's "The value None could not be cast to float" warning, once per
failed evaluation. Truth: the toy task's b = 7 raises, and no warning escapes ``run_one``.
"""

from __future__ import annotations

import types
import warnings

import pytest

from quarch.benchmark._run import run_one

from .test_benchmark_harness_truth import toy  # noqa: F401  (the fixture)


def test_a_failed_evaluation_is_recorded_without_a_warning(
    toy: types.ModuleType,  # noqa: F811
) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        row = run_one("costly_truth:toy", "grid", 0, 64, None, ())
    assert row["failed"] == 8  # the grid's 8 cells with b = 7
    assert row["first_failure"] == "ValueError: b=7 breaks"
    assert [str(w.message) for w in seen] == []


def test_an_evaluator_whose_cheap_metrics_is_not_a_method_declares_none(
    toy: types.ModuleType,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The evaluator contract (:func:`quarch.evaluate.cheap_metrics`): only a callable
    ``cheap_metrics`` declares metrics known before training; any other attribute of
    that name is no declaration. Truth: the same run with no such attribute at all."""
    monkeypatch.delattr(toy.Costly, "cheap_metrics")
    want = run_one("costly_truth:toy", "qubo-sa", 3, 12, None, ("params<=4",))
    monkeypatch.setattr(toy.Costly, "cheap_metrics", {"params": 0.0}, raising=False)
    got = run_one("costly_truth:toy", "qubo-sa", 3, 12, None, ("params<=4",))
    assert got["curve"] == want["curve"]
    assert got["failed"] == want["failed"]
