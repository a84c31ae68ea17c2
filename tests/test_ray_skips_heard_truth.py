"""Ray's driver tells its caller of every trial it closes, as the serial loop does.

``run_search(..., on_trial=hook)`` (and the progress bar, which listens the same way)
heard of a skipped trial (over a budget known before training) from the serial loop,
but from Ray's driver only of trials that Ray trained: with a budget that skips most
architectures, a ``--ray`` search's hook stood silent while it skipped, and heard
nothing of a trial that failed in ``suggest`` either. Now both loops tell of each.

Truth: the trials the run stored (each closed trial is heard once, in the state
stored, with the number of complete trials at that moment), the same run through the
serial loop (its hook heard the same trials), and, for the warning and the give-up,
the order in which they must come: the warning between the 3rd and 4th skip heard.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from quarch import RunError
from quarch._warnings import QuarchWarning
from quarch.config import SearchConfig
from quarch.space import Space
from quarch.study import _skips, _worker, run_search, space_for
from quarch.study._result import TrialRecord
from quarch.study._run import Run
from quarch.testing.evaluators import ArithmeticEvaluator

from .study.test_parallel_truth import _FakeRay, fake_ray  # noqa: F401  (the fixture)

#: What the hook heard: (complete trials then, the trial's number, its state).
Heard = list[tuple[int, int, str]]
WARN, LIMIT = 4, 9


class _Cheap(ArithmeticEvaluator):
    """Parameters known before training: ``width_0 * n_layers``, the evaluator's own."""

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"params": float(arch["width_0"] * arch["n_layers"])}


def _space(cfg: SearchConfig, kind: Callable[[int], str]) -> Space:
    """The mlp space, proposing by trial number: 3 x 128 parameters (over
    ``params<=60``) where ``kind`` says ``over``, a failure in ``suggest`` where it
    says ``fail``, and 1 x 8 (trained) elsewhere."""

    class _Space(Space):
        def suggest(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
            what = kind(trial.number)
            if what == "fail":
                raise RuntimeError("suggest failed on purpose")
            if what == "over":
                return {"n_layers": 3, "width_0": 128}
            return {"n_layers": 1, "width_0": 8}

    base = space_for(cfg)
    return _Space(base.choices, base.constraint, name=base.name)


def _cfg(tmp_path: Path, name: str, *, ray: bool, trials: int, budget: str) -> SearchConfig:
    return SearchConfig(space="mlp", dataset="iris", trials=trials, seed=3, budgets=[budget],
                        objectives=["val_error"], out=str(tmp_path / name), ray=ray)  # fmt: skip


def _hearing(
    out: list[Any], what: Callable[[int, TrialRecord], Any]
) -> Callable[[int, int, TrialRecord], None]:
    """A hook that keeps ``what(complete trials, record)`` of each trial it hears of."""

    def hook(done: int, n: int, rec: TrialRecord) -> None:
        out.append(what(done, rec))

    return hook


def _run(cfg: SearchConfig, kind: Callable[[int], str]) -> Heard:
    heard: Heard = []

    def hook(done: int, n: int, rec: TrialRecord) -> None:
        assert n == cfg.trials
        heard.append((done, rec.number, rec.state))

    run_search(cfg, space=_space(cfg, kind), evaluator=_Cheap(), progress=False, on_trial=hook)
    return heard


def _stored(run: Path) -> list[tuple[int, str]]:
    trials = Run.open(run).study().get_trials(deepcopy=False)
    return sorted((t.number, TrialRecord.from_frozen(t).state) for t in trials)


def _kind(n: int) -> str:
    """Trials 0-2 over, 3 fails, 4 trains, 5-6 over, 7 trains, 8 fails, then all train."""
    return {0: "over", 1: "over", 2: "over", 3: "fail", 5: "over", 6: "over", 8: "fail"}.get(
        n, "train"
    )


def test_ray_hears_each_skipped_and_failed_trial_as_the_serial_loop(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay],  # noqa: F811
) -> None:  # fmt: skip
    """Every trial the run stored is heard once, in its stored state, with the complete
    trials counted at that moment (Ray finishes trained ones out of order, so the
    count is the heard complete ones so far); the serial run heard the same trials.
    Ray's driver heard the 3 trained ones only (trials 4, 7 and 9)."""
    serial = _run(_cfg(tmp_path, "serial", ray=False, trials=3, budget="params<=60"), _kind)
    fake_ray(3.0)
    ray = _run(_cfg(tmp_path, "ray", ray=True, trials=3, budget="params<=60"), _kind)
    stored = _stored(tmp_path / "ray")
    assert stored == _stored(tmp_path / "serial")
    states = dict(stored)
    assert [states[n] for n in range(9)] == ["PRUNED"] * 3 + ["FAIL", "COMPLETE"] + [
        "PRUNED"
    ] * 2 + ["COMPLETE", "FAIL"]  # what _kind proposed, as the study holds it
    for heard in (serial, ray):
        assert sorted((number, state) for _, number, state in heard) == stored
        complete = list(itertools.accumulate(state == "COMPLETE" for _, _, state in heard))
        assert [done for done, _, _ in heard] == complete
    assert serial == sorted(serial, key=lambda h: h[1])  # one at a time, in order


def _skip_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if w.category is QuarchWarning
        and "architectures in a row were over budget" in str(w.message)
    ]


@pytest.mark.parametrize("ray", [False, True])
def test_the_skip_warning_comes_between_the_skips_heard_and_the_give_up_after_them(
    ray: bool, tmp_path: Path, fake_ray: Callable[..., _FakeRay],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Every architecture over budget (thresholds lowered to warn at 4 and give up at
    9 in a row): the hook hears skips 1 to 8 (the 9th gives up before it is told, in
    both loops), the warning is out when the 4th is heard and not before, and Ray's
    give-up line is the serial loop's, word for word."""
    monkeypatch.setattr(_skips, "WARN_AFTER", WARN)
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_SKIPS", LIMIT)
    if ray:
        fake_ray(3.0)
    lines = {}
    for mode in ("serial", "ray") if ray else ("serial",):
        cfg = _cfg(tmp_path, mode, ray=mode == "ray", trials=2, budget="params<=10")
        seen: list[tuple[int, int]] = []
        with warnings.catch_warnings(record=True) as caught, pytest.raises(RunError) as e:
            warnings.simplefilter("always")
            run_search(cfg, space=_space(cfg, lambda _: "over"), evaluator=_Cheap(),
                       progress=False,
                       on_trial=_hearing(seen, lambda d, r: (r.number, len(_skip_warnings(caught)))))  # fmt: skip
        stored = _stored(tmp_path / mode)
        assert stored == [(n, "PRUNED") for n in range(LIMIT)]
        assert seen == [(n, int(n + 1 >= WARN)) for n in range(LIMIT - 1)]
        assert len(_skip_warnings(caught)) == 1
        lines[mode] = str(e.value)
    assert lines["serial"].startswith(f"gave up: {LIMIT} architectures in a row were over")
    assert "the nearest had params=384 against params<=10" in lines["serial"]
    assert lines.get("ray", lines["serial"]) == lines["serial"]


def test_a_failure_before_ray_is_heard_before_the_run_gives_up_failing(
    tmp_path: Path, fake_ray: Callable[..., _FakeRay],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Every ``suggest`` fails (the give-up lowered to 3 in a row): trials 0 and 1 are
    heard as failed, the 3rd gives up before it is told, as in the serial loop."""
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 3)
    heard: dict[str, list[tuple[int, str]]] = {}
    for mode in ("serial", "ray"):
        if mode == "ray":
            fake_ray(3.0)
        cfg = _cfg(tmp_path, mode, ray=mode == "ray", trials=2, budget="params<=60")
        got: list[tuple[int, str]] = []
        with pytest.raises(RunError, match="gave up: 3 trials in a row failed"):
            run_search(cfg, space=_space(cfg, lambda _: "fail"), evaluator=_Cheap(),
                       progress=False, on_trial=_hearing(got, lambda d, r: (r.number, r.state)))  # fmt: skip
        assert _stored(tmp_path / mode) == [(n, "FAIL") for n in range(3)]
        heard[mode] = got
    assert heard["ray"] == heard["serial"] == [(0, "FAIL"), (1, "FAIL")]


def _mlp_params(params: Mapping[str, Any], n_in: int = 4, n_classes: int = 3) -> int:
    """Parameters of the mlp space's network (weights and biases), by hand."""
    hidden = [int(params[f"width_{i}"]) for i in range(int(params["n_layers"]))]
    return sum((a + 1) * b for a, b in itertools.pairwise([n_in, *hidden, n_classes]))


def _hears_the_serial_loops_trials_on_a_tight_budget(tmp_path: Path) -> None:
    """The user's run: the iris mlp, 1 epoch, ``params<=100`` (most architectures have
    more), seeded random: a local Ray and the serial loop store the same trials, and
    both hooks hear every one of them; a trial is skipped exactly when its parameters
    by hand exceed 100."""
    heard: dict[bool, Heard] = {}
    for ray in (False, True):
        cfg = SearchConfig(space="mlp", dataset="iris", trials=1, epochs=1, seed=0,
                           budgets=["params<=100"], objectives=["val_error"],
                           out=str(tmp_path / str(ray)), ray=ray)  # fmt: skip
        got: Heard = []
        run_search(cfg, progress=False,
                   on_trial=_hearing(got, lambda d, r: (d, r.number, r.state)))  # fmt: skip
        heard[ray] = got
    study = Run.open(tmp_path / "True").study()
    trials = study.get_trials(deepcopy=False)
    stored = _stored(tmp_path / "True")
    assert stored == _stored(tmp_path / "False")
    assert sum(t.state == TrialState.PRUNED for t in trials) > 2  # most were skipped
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 1
    for t in trials:
        assert (t.state == TrialState.PRUNED) == (_mlp_params(t.params) > 100)
    for got in heard.values():
        assert sorted((n, s) for _, n, s in got) == stored


def _gives_same_results_as_local(tmp_path: Path) -> None:
    """Six seeded random trials of the arithmetic evaluator: Ray's driver stores the
    serial loop's trials, numbers, parameters and metrics (moved here from
    ``tests/study/test_parallel.py``, where it started a Ray of its own)."""

    def key(r: Any) -> list[Any]:
        return sorted(
            (t.number, tuple(t.params.items()), tuple(t.metrics.items())) for t in r.complete
        )

    runs = []
    for ray in (False, True):
        cfg = SearchConfig(space="mlp", dataset="iris", strategy="random", trials=6,
                           objectives=["val_error", "params"], out=str(tmp_path / str(ray)),
                           ray=ray)  # fmt: skip
        runs.append(run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False))
    assert key(runs[0]) == key(runs[1])


@pytest.mark.slow
def test_a_real_ray_gives_the_serial_loops_trials_and_hooks(tmp_path: Path) -> None:
    """Two real-Ray checks on one local Ray, started by quarch's own ``connect`` with
    the options a search uses: the arithmetic search's results, then the tight budget's
    trials heard. One Ray pays its start (7 s here), its workers' first tasks (5 s) and
    its shutdown (1.5 s) once for both; as two tests they ran on either xdist worker
    and each paid them (session 45). The search loop finds Ray running and leaves it
    so (the path a user's own ``ray.init`` takes); the fake-Ray tests of
    ``tests/study/test_parallel_truth.py`` check the start-here-and-shut-down path, and
    ``tests/study/test_ray_quiet_truth.py`` runs it for real in a fresh process."""
    ray = pytest.importorskip("ray")
    from quarch.study._ray import connect

    assert not ray.is_initialized()
    assert connect(SearchConfig(space="mlp", ray=True))  # this call started it
    try:
        _gives_same_results_as_local(tmp_path / "arith")
        _hears_the_serial_loops_trials_on_a_tight_budget(tmp_path / "budget")
        assert ray.is_initialized()  # found running by the searches, left running
    finally:
        ray.shutdown()


class _Clock:
    """A clock that each cheap-metrics call moves on by ``step`` seconds (what a run of
    skips costs), for the loops' ``time`` module."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("ray", [False, True])
def test_a_run_of_skips_stops_at_the_timeout(
    ray: bool, tmp_path: Path, fake_ray: Callable[..., _FakeRay],  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """Every architecture over budget, each skip costing 1 s of cheap metrics, and a
    timeout of 3.5 s: the 4 trials begun before 3.5 s (at 0, 1, 2 and 3 s) are skipped,
    and the search stops for the timeout, heard of each, well before its give-up (9
    here). Ray's driver asked the clock only once per batch of sends, so a run of skips
    went on to the give-up."""
    from quarch.study import _ray as qray

    clock = _Clock(1.0)
    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_SKIPS", LIMIT)
    monkeypatch.setattr(_worker, "time", clock)
    monkeypatch.setattr(qray, "time", clock)
    if ray:
        fake_ray(3.0)

    class _Slow(_Cheap):
        def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
            clock.now += clock.step
            return super().cheap_metrics(arch)

    cfg = dataclasses.replace(
        _cfg(tmp_path, "run", ray=ray, trials=2, budget="params<=10"), timeout=3.5
    )
    got: Heard = []
    res = run_search(cfg, space=_space(cfg, lambda _: "over"), evaluator=_Slow(),
                     progress=False, on_trial=_hearing(got, lambda d, r: (d, r.number, r.state)))  # fmt: skip
    begun = math.ceil(3.5 / clock.step)
    assert res.stopped == "timeout"
    assert _stored(tmp_path / "run") == [(n, "PRUNED") for n in range(begun)]
    assert got == [(0, n, "PRUNED") for n in range(begun)]
