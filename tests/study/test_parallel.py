"""Scale and faults: several workers on one study, killed workers, hangs, NaN, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from quarch import ConfigError, RunError
from quarch.config import SearchConfig
from quarch.study import join_study, open_study, run_search, trial_seed
from quarch.testing.evaluators import ArithmeticEvaluator, FaultyEvaluator

from ._worker_first import worker_first


def _cfg(tmp_path: Path, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {
        "space": "mlp", "dataset": "iris", "strategy": "random", "out": str(tmp_path / "run"),
        "objectives": ["val_error", "params"],
    }  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def test_two_workers_exact_budget_and_reproducible_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the main process's trials wait for the spawned worker's first (it once did all
    # 40 of 0.3 s before the worker started): 12 are enough for both to work
    evaluator = worker_first(monkeypatch, 0.3, tmp_path / "started")
    res = run_search(_cfg(tmp_path, trials=12, workers=2), evaluator=evaluator, progress=False)
    trials = open_study(tmp_path / "run").get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 12
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    owners = {t.system_attrs["quarch:owner"] for t in trials}
    assert len(owners) >= 2  # both workers did trials
    ev = ArithmeticEvaluator()
    for t in res.complete:
        assert t.seed == trial_seed(0, t.number)
        assert t.metrics == ev.evaluate(t.params, seed=t.seed)
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["storage"] == "journal" and (tmp_path / "run" / "journal.log").exists()


def test_faults_fail_trials_with_reasons_and_run_completes(tmp_path: Path) -> None:
    res = run_search(
        _cfg(tmp_path, trials=6, trial_timeout=1.0),
        evaluator=FaultyEvaluator(),
        progress=False,
    )
    assert len(res.complete) == 6
    reasons = {t.params["n_layers"]: t.fail_reason for t in res.failed}
    assert set(reasons) == {2, 3}  # mlp space has n_layers 1..3
    assert reasons[2] is not None
    assert "not finite" in reasons[2]
    assert reasons[3] == "RuntimeError: evaluator exploded on purpose"


def test_hanging_trial_times_out(tmp_path: Path) -> None:
    from quarch.spaces import get_space

    t0 = time.monotonic()
    res = run_search(
        _cfg(tmp_path, trials=3, trial_timeout=0.5),
        space=get_space("mlp", max_layers=4),
        evaluator=FaultyEvaluator(),
        progress=False,
    )
    assert len(res.complete) == 3
    hung = [t for t in res.failed if t.params["n_layers"] == 4]
    assert hung and all("time limit of 0.5 s" in (t.fail_reason or "") for t in hung)
    assert time.monotonic() - t0 < 60


def _state_counts(run: Path) -> tuple[int, list[Any]]:
    try:
        trials = open_study(run).get_trials(deepcopy=False)
    except Exception:
        return 0, []
    return sum(t.state == TrialState.COMPLETE for t in trials), trials


def test_killed_worker_costs_one_trial_and_budget_completes(tmp_path: Path) -> None:
    """The spawned worker is killed inside a trial; the parent fails that trial and does
    the rest of the budget. The parent's trials wait for the worker's first one
    (``_worker_first``): under load the parent once did all its trials before the
    spawned worker started, and there was no worker to kill. 8 trials: the kill lands
    in the spawned worker's second trial (2 done), leaving it two more half-second
    windows if a poll misses one; the parent does the rest alone (14 trials left it 11,
    5.5 s of waiting, for the same checks)."""
    run, n_trials = tmp_path / "run", 8
    code = (
        "from quarch.config import SearchConfig; from quarch.study import run_search;"
        "from _worker_first import WorkerFirst;"
        f"run_search(SearchConfig(space='mlp', dataset='iris', trials={n_trials}, workers=2,"
        f" out={str(run)!r}), evaluator=WorkerFirst(0.5, {str(tmp_path / 'started')!r}),"
        " progress=False)"
    )
    path = os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}
    parent = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, env=env)
    victim = None
    deadline = time.monotonic() + 120
    while victim is None and time.monotonic() < deadline and parent.poll() is None:
        done, trials = _state_counts(run)
        # the parent process is a worker too: kill the spawned one
        owner = {t.number: t.system_attrs.get("quarch:owner", f"?:{parent.pid}") for t in trials}
        running = [
            t for t in trials
            if t.state == TrialState.RUNNING and int(owner[t.number].rsplit(":", 1)[1]) != parent.pid
        ]  # fmt: skip
        if done >= 2 and running:
            victim = running[0]
            os.kill(int(victim.system_attrs["quarch:owner"].rsplit(":", 1)[1]), signal.SIGKILL)
        time.sleep(0.05)
    assert victim is not None, parent.stderr.read().decode() if parent.stderr else ""
    assert parent.wait(timeout=240) == 0
    trials = open_study(run).get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == n_trials
    killed = trials[victim.number]
    assert killed.state == TrialState.FAIL
    assert "died during this trial" in killed.user_attrs["fail_reason"]


def test_resume_refuses_incompatible_config(tmp_path: Path) -> None:
    run_search(_cfg(tmp_path, trials=2), evaluator=ArithmeticEvaluator(), progress=False)
    with pytest.raises(RunError, match="with a different objectives"):
        run_search(
            _cfg(tmp_path, trials=3, objectives=["val_error"]),
            evaluator=ArithmeticEvaluator(),
            resume=True,
            progress=False,
        )


def test_join_study_as_extra_worker(tmp_path: Path) -> None:
    run_search(_cfg(tmp_path, trials=3, epochs=2), progress=False)
    # raise the budget in the study's config, then a joining worker completes it
    study = open_study(tmp_path / "run")
    cfg = dict(study.user_attrs["quarch:config"], trials=5)
    study.set_user_attr("quarch:config", cfg)
    url = f"sqlite:///{(tmp_path / 'run' / 'study.db').resolve()}"
    res = join_study(url, "quarch", progress=False)
    assert len(res.complete) == 5


def test_ray_and_workers_conflict() -> None:
    with pytest.raises(ConfigError, match="either --workers"):
        SearchConfig(space="mlp", workers=2, ray=True)


# a real Ray's results against the serial loop's: in
# tests/test_ray_skips_heard_truth.py, on the Ray of its other real-Ray check


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("work was spent before Ray was checked")


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_ray_address_is_one_line_before_the_data(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheme: str,
) -> None:
    """``ray.init`` retried a closed address for minutes, after the run folder was
    written; now a TCP probe refuses it before the data is loaded."""
    pytest.importorskip("ray")
    from quarch.cli import main

    monkeypatch.setattr("quarch.study._loop.make_evaluator", _never)
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    out = tmp_path / "run"
    code = main(["search", "--space", "mlp", "--trials", "1", "--ray-address", address,
                 "--out", str(out)])  # fmt: skip
    _, err = capfd.readouterr()
    assert code == 2, err
    assert err == f"error: cannot reach a Ray cluster at {address!r}: Connection refused\n"
    assert not out.exists()


def test_ray_that_cannot_start_leaves_no_run_folder(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``--ray-address auto`` with no cluster: Ray's own one-line reason, and the run
    folder is not written (Ray is started before it)."""
    ray = pytest.importorskip("ray")
    from quarch.cli import main

    def no_cluster(**kwargs: object) -> None:
        raise ConnectionError("Could not find any running Ray instance.\nSecond line.")

    monkeypatch.setattr(ray, "init", no_cluster)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    out = tmp_path / "run"
    code = main(["search", "--space", "mlp", "--trials", "1", "--ray-address", "auto",
                 "--out", str(out)])  # fmt: skip
    _, err = capfd.readouterr()
    assert code == 2, err
    assert err == ("error: cannot start Ray at 'auto': Could not find any running Ray instance.\n")
    assert not out.exists()


def test_ray_missing_is_refused_before_the_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # find_spec then says: not installed
    monkeypatch.setattr("quarch.study._loop.make_evaluator", _never)
    out = tmp_path / "run"
    with pytest.raises(ConfigError, match=r"^--ray needs Ray: pip install 'quarch\[ray\]'$"):
        run_search(SearchConfig(space="mlp", trials=1, ray=True, out=str(out)), progress=False)
    assert not out.exists()
