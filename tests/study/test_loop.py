"""Tests of the search loop: budgets, failures, resume (including after SIGKILL), JSON."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from quarch import RunError
from quarch.config import SearchConfig
from quarch.study import load_result, open_study, resume_search, run_search, trial_seed


class ArithmeticEvaluator:
    """Metrics computed from the architecture alone, so the truth is known exactly."""

    fingerprint = "arith"

    def __init__(self, fail_when: Any = None, nan_when: Any = None) -> None:
        self.fail_when, self.nan_when = fail_when, nan_when
        self.calls: list[tuple[dict[str, Any], int]] = []

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        self.calls.append((dict(arch), seed))
        if self.fail_when is not None and self.fail_when(arch):
            raise RuntimeError(f"boom on {arch['n_layers']} layers")
        err = 0.1 * arch["n_layers"] + 0.001 * arch["width_0"]
        if self.nan_when is not None and self.nan_when(arch):
            err = math.nan
        return {"val_error": err, "params": float(arch["width_0"] * arch["n_layers"])}


def _cfg(tmp_path: Path, name: str = "run", **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {
        "space": "mlp",
        "dataset": "iris",
        "trials": 8,
        "out": str(tmp_path / name),
    }
    base.update(kw)
    return SearchConfig(**base)


def test_trial_seed_is_stable_and_distinct() -> None:
    seeds = [trial_seed(0, k) for k in range(200)]
    assert len(set(seeds)) == 200
    assert trial_seed(0, 3) == trial_seed(0, 3) != trial_seed(1, 3)


def test_runs_to_budget_and_records_everything(tmp_path: Path) -> None:
    ev = ArithmeticEvaluator()
    res = run_search(_cfg(tmp_path), evaluator=ev, progress=False)
    assert len(res.complete) == 8 and not res.failed
    for t in res.complete:
        # metrics recorded equal an independent re-evaluation with the trial's seed
        assert t.seed is not None
        want = ArithmeticEvaluator().evaluate(t.params, seed=t.seed)
        assert t.metrics == want
        assert t.seed == trial_seed(0, t.number)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["trials"] == 8 and saved["space"] == "mlp"
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["fingerprint"] == "arith" and meta["seed"] == 0


def test_pareto_matches_brute_force(tmp_path: Path) -> None:
    res = run_search(_cfg(tmp_path, trials=20), evaluator=ArithmeticEvaluator(), progress=False)
    pts = [(t.metrics["val_error"], t.metrics["params"], t.number) for t in res.complete]
    want = {
        n
        for e, p, n in pts
        if not any(e2 <= e and p2 <= p and (e2 < e or p2 < p) for e2, p2, _ in pts)
    }
    assert {t.number for t in res.pareto} == want
    js = res.to_json()
    assert js["complete"] == 20 and js["best"]["number"] in want


def test_failed_and_nan_trials_are_recorded_and_search_goes_on(tmp_path: Path) -> None:
    ev = ArithmeticEvaluator(
        fail_when=lambda a: a["n_layers"] == 3, nan_when=lambda a: a["n_layers"] == 2
    )
    res = run_search(_cfg(tmp_path, trials=5), evaluator=ev, progress=False)
    assert len(res.complete) == 5
    reasons = [t.fail_reason for t in res.failed]
    assert any(r and r.startswith("RuntimeError: boom on 3 layers") for r in reasons)
    assert any(r and "not finite" in r for r in reasons)
    assert all(t.params["n_layers"] == 1 for t in res.complete)


def test_budgets_make_trials_infeasible(tmp_path: Path) -> None:
    res = run_search(
        _cfg(tmp_path, trials=15, budgets=["params<=64"]),
        evaluator=ArithmeticEvaluator(),
        progress=False,
    )
    for t in res.complete:
        assert t.feasible == (t.metrics["params"] <= 64)
    assert res.pareto and all(t.metrics["params"] <= 64 for t in res.pareto)
    study = open_study(tmp_path / "run")
    assert all("params<=64" in t.constraints for t in study.trials)


def test_same_seed_same_trials_with_real_training(tmp_path: Path) -> None:
    a = run_search(_cfg(tmp_path, "a", trials=3, epochs=3), progress=False)
    b = run_search(_cfg(tmp_path, "b", trials=3, epochs=3), progress=False)
    assert [(t.params, t.metrics) for t in a.trials] == [(t.params, t.metrics) for t in b.trials]
    c = run_search(_cfg(tmp_path, "c", trials=3, epochs=3, seed=1), progress=False)
    assert [t.params for t in a.trials] != [t.params for t in c.trials]


def test_existing_folder_needs_resume(tmp_path: Path) -> None:
    run_search(_cfg(tmp_path, trials=2), evaluator=ArithmeticEvaluator(), progress=False)
    with pytest.raises(RunError, match="already holds a study; pass resume=True"):
        run_search(_cfg(tmp_path, trials=2), evaluator=ArithmeticEvaluator(), progress=False)


def test_resume_continues_to_new_budget(tmp_path: Path) -> None:
    run_search(_cfg(tmp_path, trials=3, epochs=2), progress=False)
    res = resume_search(tmp_path / "run", trials=6, progress=False)
    assert len(res.complete) == 6
    assert sorted(t.number for t in res.trials) == list(range(len(res.trials)))
    assert load_result(tmp_path / "run").config.trials == 6


def test_resume_refuses_other_data(tmp_path: Path) -> None:
    run_search(_cfg(tmp_path, trials=2), evaluator=ArithmeticEvaluator(), progress=False)

    class Other(ArithmeticEvaluator):
        fingerprint = "different"

    with pytest.raises(RunError, match="data fingerprint"):
        run_search(_cfg(tmp_path, trials=4), evaluator=Other(), resume=True, progress=False)


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a quarch run folder"):
        resume_search(tmp_path)


def test_timeout_stops_early(tmp_path: Path) -> None:
    class Slow(ArithmeticEvaluator):
        def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
            time.sleep(0.3)
            return super().evaluate(arch, seed=seed)

    res = run_search(_cfg(tmp_path, trials=100, timeout=1.0), evaluator=Slow(), progress=False)
    assert 1 <= len(res.complete) < 10


def _complete_and_running(run: Path) -> tuple[int, int]:
    """How many trials of the run's study are complete, and how many running."""
    try:
        study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
        states = [t.state for t in study.get_trials(deepcopy=False)]
    except Exception:
        return 0, 0
    return states.count(TrialState.COMPLETE), states.count(TrialState.RUNNING)


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    # the kill lands inside a trial (one seen running after 2 complete, each trial about
    # a second of training), so 6 trials leave the killed run at least three to do (a
    # fixed half-second wait needed 20 trials to be sure the run had not finished)
    n_trials = 6
    run = tmp_path / "killed"
    cmd = [
        sys.executable, "-m", "quarch.cli", "search", "--space", "mlp", "--dataset", "iris",
        "--strategy", "random", "--trials", str(n_trials), "--epochs", "120", "--seed", "3",
        "--out", str(run), "--quiet",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300  # a loaded 2-core machine starts slowly
    seen = (0, 0)
    while (seen[0] < 2 or not seen[1]) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        seen = _complete_and_running(run)
    assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
    assert seen[0] >= 2 and seen[1], f"not 2 trials complete and one running after 300 s: {seen}"
    os.kill(proc.pid, signal.SIGKILL)  # inside the trial seen running
    proc.wait()
    before = open_study(run).get_trials(deepcopy=False)
    running = [t.number for t in before if t.state == TrialState.RUNNING]
    assert 2 <= sum(t.state == TrialState.COMPLETE for t in before) < n_trials

    out = subprocess.run(
        [sys.executable, "-m", "quarch.cli", "search", "--resume", str(run), "--json"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["complete"] == n_trials
    trials = open_study(run).get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == n_trials
    assert sorted(t.number for t in trials) == list(range(len(trials)))
    assert not [t for t in trials if t.state == TrialState.RUNNING]
    for n in running:
        assert trials[n].state == TrialState.FAIL
        assert trials[n].user_attrs["fail_reason"].startswith("interrupted")
