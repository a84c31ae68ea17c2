"""Pruning: every epoch reports the trial's value so far, the pruner stops poor trials,
and a pruned trial counts towards the budget (issue 20)."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch
from optuna.trial import TrialState

from quarch import ConfigError
from quarch.config import SearchConfig
from quarch.data import load_dataset, standardise
from quarch.evaluate import classification_error, epoch_hook, train_classifier
from quarch.objectives import Objective
from quarch.spaces.mlp.model import MLP
from quarch.study import Run, run_search
from quarch.study._worker import intermediate_value


def _cfg(tmp_path: Path, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {
        "space": "mlp", "dataset": "iris", "trials": 12, "epochs": 4, "seed": 0,
        "objectives": ["val_error"], "pruner": "median", "out": str(tmp_path / "run"),
    }  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def _tabular(name: str) -> Any:
    import dataclasses

    data = load_dataset(name, seed=0)
    tr, va, te = standardise(data.X_train, data.X_val, data.X_test)
    return dataclasses.replace(data, X_train=tr, X_val=va, X_test=te)


def test_epoch_hook_sees_the_validation_error_after_each_epoch() -> None:
    """Without early stopping the hook gets, after each epoch, exactly the error that
    classification_error measures on the validation split at that moment; the last one
    is the run's val_error."""
    data = _tabular("wine")
    model = MLP({"n_layers": 1, "width_0": 8, "activation": "relu"}, (13,), 3)
    Xva = torch.as_tensor(data.X_val, dtype=torch.float32)
    yva = torch.as_tensor(data.y_val)
    seen: list[tuple[int, float, float]] = []

    def hook(epoch: int, err: float) -> None:
        seen.append((epoch, err, classification_error(model, Xva, yva)))

    with epoch_hook(hook):
        out = train_classifier(model, data, epochs=4, lr=0.01, batch_size=16, seed=0)
    assert [e for e, _, _ in seen] == [0, 1, 2, 3]
    assert all(a == b for _, a, b in seen)
    assert seen[-1][1] == out["val_error"]


def test_epoch_hook_with_early_stopping_reports_the_best_so_far() -> None:
    data = _tabular("iris")
    model = MLP({"n_layers": 1, "width_0": 8, "activation": "tanh"}, (4,), 3)
    seen: list[float] = []
    out = train_classifier(
        model, data, epochs=30, lr=0.01, batch_size=16, seed=1, early_stopping=True,
        on_epoch=lambda e, err: seen.append(err),
    )  # fmt: skip
    assert seen == sorted(seen, reverse=True)  # never worse than before: it is the best kept
    assert seen[-1] == out["val_error"]
    assert len(seen) == int(out["best_epoch"]) + 1 or seen[-1] > 0  # stops once it hits 0


def test_median_pruner_stops_trials_worse_than_the_median(tmp_path: Path) -> None:
    """Each pruned trial was stopped at a step where its value was worse than the median
    of the earlier trials' values at that step (MedianPruner's rule, recomputed here
    from the stored intermediate values); pruned trials count towards the budget and
    Optuna reads them as PRUNED."""
    result = run_search(_cfg(tmp_path), progress=False)
    study = Run.open(tmp_path / "run").study()
    assert isinstance(study.pruner, optuna.pruners.NopPruner)  # reading a run never prunes
    trials = study.get_trials(deepcopy=False)
    assert {t.state for t in trials} <= {TrialState.COMPLETE, TrialState.PRUNED}
    pruned = [t for t in trials if t.state == TrialState.PRUNED]
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert pruned, "nothing was pruned"
    assert len(pruned) + len(complete) == 12 and result.done == 12
    assert len(result.pruned) == len(pruned)
    for t in pruned:
        step = max(t.intermediate_values)
        earlier = [
            u.intermediate_values[step]
            for u in trials
            if u.number < t.number and u.state == TrialState.COMPLETE and step in u.intermediate_values
        ]  # fmt: skip
        assert len(earlier) >= 5  # MedianPruner's n_startup_trials
        assert t.intermediate_values[step] > statistics.median(earlier)
        assert t.user_attrs["prune_reason"].startswith(
            f"pruned by the MedianPruner after epoch {step + 1}"
        )
    for t in complete:  # the last report is the final value: the same number
        assert sorted(t.intermediate_values) == list(range(4))
        assert t.intermediate_values[3] == t.values[0]


def test_weighted_cost_reports_its_known_terms(tmp_path: Path) -> None:
    """With a weighted cost, each epoch reports w_val * val_error + w_params * params
    (params is known before training), so the last report equals the final cost."""
    cfg = _cfg(tmp_path, objectives=["val_error", "params"], weights=[1.0, 0.001],
               pruner="hyperband", trials=8)  # fmt: skip
    run_search(cfg, progress=False)
    study = Run.open(tmp_path / "run").study()
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    assert done
    for t in done:
        last = t.intermediate_values[max(t.intermediate_values)]
        m = t.user_attrs["metrics"]
        assert last == pytest.approx(m["val_error"] + 0.001 * m["params"], abs=1e-12)
        assert t.values[0] == pytest.approx(last, abs=1e-12)
    assert isinstance(Run.open(tmp_path / "run").config.pruner, str)


def test_intermediate_value_leaves_out_what_training_does_not_know() -> None:
    obj = Objective(["val_error", "latency_ms"], weights=[1.0, 0.5])
    assert intermediate_value(obj, {}, 0.25) == 0.25  # latency_ms measured after training
    assert intermediate_value(Objective(["val_accuracy"]), {}, 0.25) == 0.75


def test_no_pruner_reports_nothing(tmp_path: Path) -> None:
    """Optuna gives a study a MedianPruner when none is named; quarch names NopPruner,
    so a run without --pruner neither reports epochs nor prunes."""
    run_search(_cfg(tmp_path, pruner="none", trials=4), progress=False)
    study = Run.open(tmp_path / "run").study()
    assert all(not t.intermediate_values for t in study.get_trials(deepcopy=False))
    assert all(t.state == TrialState.COMPLETE for t in study.get_trials(deepcopy=False))


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"objectives": ["val_error", "params"]}, "needs one objective or --weights"),
        ({"objectives": ["params"]}, "the objective (params) does not include val_error"),
        ({"objectives": ["val_error", "params"], "weights": [0.0, 1.0]}, "does not include"),
        ({"evaluator_options": {"supernet": True}, "space": "cnn"}, "with inherited weights"),
        ({"ray": True}, "Ray tasks cannot report epochs"),
        ({"pruner_options": {"n_startup": 2}}, "bad pruner_options {'n_startup': 2}"),
    ],
)
def test_pruner_refused_before_anything_is_written(
    tmp_path: Path, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        run_search(_cfg(tmp_path, **kw), progress=False)
    assert message in str(e.value)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("pruner", ["none", "hyperband"])
def test_spawned_workers_use_the_runs_pruner(tmp_path: Path, pruner: str) -> None:
    """A spawned worker loads the study with the run's pruner: with one, its trials
    report every epoch; without one they report nothing (Optuna would otherwise give
    the worker a MedianPruner of its own). The worker's entry point runs in this
    process, so the test does not hang on when a spawned process gets a trial."""
    import dataclasses

    from quarch.study._parallel import _worker_main

    run_search(_cfg(tmp_path, trials=2, pruner=pruner), progress=False)
    run = Run.open(tmp_path / "run")
    _worker_main(run.storage, str(run.dir), dataclasses.replace(run.config, trials=4),
                 run.space, None, 1)  # fmt: skip
    trials = run.study().get_trials(deepcopy=False)
    assert len(trials) == 4
    assert all(bool(t.intermediate_values) == (pruner != "none") for t in trials)
