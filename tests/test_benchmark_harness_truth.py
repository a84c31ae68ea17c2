"""The benchmark harness against brute force over the trials Optuna stored.

Each run's in-memory study is caught as ``run_one`` creates it; the NAS-Bench-201
tables are read here with the ``csv`` module. From the stored trials alone (their
states, parameters and the tables) the test recomputes what the harness reports: the
pick after each query (the best feasible cell by 12-epoch validation accuracy, or the
feasible Pareto set), its judged score (200-epoch test accuracy, or the hypervolume
computed here), the score, regret, queries to the target, queries and skipped cells;
budgets against the tables; times through a fake clock; seeds; and every refusal's
whole line.
"""

from __future__ import annotations

import csv
import functools
import itertools
import math
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quarch import ConfigError
from quarch._errors import OutputError, RunError
from quarch.benchmark import _run as run_module
from quarch.benchmark import run_benchmark
from quarch.benchmark._run import MAX_ASKS_PER_QUERY, run_one

from ._pareto_truth import strip_area

DATA = Path(__file__).parents[1] / ".." / "shared" / "data"
needs_data = pytest.mark.skipif(
    not (DATA / "nb201" / "nb201_cifar.csv").is_file(), reason="shared nb201 table absent"
)
EDGES = ("edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2")


@functools.cache
def _tables() -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """``arch string -> columns`` of the accuracy and latency tables, as floats."""
    out = []
    for name in ("nb201_cifar.csv", "nb201_latency.csv"):
        with open(DATA / "nb201" / name) as f:
            out.append(
                {
                    r["arch"]: {k: float(v) for k, v in r.items() if k != "arch"}
                    for r in csv.DictReader(f)
                }
            )
    return out[0], out[1]


def _cell(params: dict[str, Any]) -> str:
    """The benchmark's cell string of a trial's parameters (edge ``to_from``)."""
    e = [params[k] for k in EDGES]
    return f"|{e[0]}~0|+|{e[1]}~0|{e[2]}~1|+|{e[3]}~0|{e[4]}~1|{e[5]}~2|"


@pytest.fixture
def studies(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every study ``run_one`` creates, in order."""
    import optuna

    made: list[Any] = []
    real = optuna.create_study

    def create(*args: Any, **kw: Any) -> Any:
        study = real(*args, **kw)
        made.append(study)
        return study

    monkeypatch.setattr(optuna, "create_study", create)
    return made


# -- single objective on NAS-Bench-201 ------------------------------------------------------
@needs_data
@pytest.mark.parametrize(
    ("task", "budgets", "strategies"),
    [
        ("nb201-cifar10-raspi4", (), ("random", "qubo-sa")),  # a latency budget: skipped
        ("nb201-cifar100", ("val_accuracy<=60",), ("random",)),  # known only after training
    ],
)
def test_single_objective_run_by_brute_force(
    tmp_path: Path,
    studies: list[Any],
    task: str,
    budgets: tuple[str, ...],
    strategies: tuple[str, ...],
) -> None:
    acc, lat = _tables()
    data = "cifar10" if task.startswith("nb201-cifar10") and "cifar100" not in task else "cifar100"
    val, test = f"{data}_valid_12ep", f"{data}_test_200ep"
    if task.endswith("raspi4"):
        limit = float(np.quantile([lat[s]["raspi4"] for s in acc], 0.25))

        def feasible(s: str) -> bool:
            return lat[s]["raspi4"] <= limit
    else:

        def feasible(s: str) -> bool:
            return acc[s][val] <= 60.0

    fea = [s for s in acc if feasible(s)]
    optimum = max(acc[s][test] for s in fea)
    target = float(np.quantile([acc[s][test] for s in fea], 0.99))
    trials, seeds = 10, 2
    r = run_benchmark(
        task=task, strategies=list(strategies), seeds=seeds, trials=trials, data_dir=str(DATA),
        budgets=list(budgets), out=str(tmp_path), progress=False, first_seed=3,
    )  # fmt: skip
    assert len(studies) == len(strategies) * seeds
    assert [(x["strategy"], x["seed"]) for x in r.rows] == [
        (s, k) for s in strategies for k in (3, 4)
    ]
    assert r.optima == [pytest.approx(optimum)]
    assert r.target == pytest.approx(target) and r.maximize is True
    oracle = max(fea, key=lambda c: acc[c][val])  # the best cell by the search's signal
    assert r.oracle == pytest.approx(acc[oracle][test]) and r.oracle_label == oracle
    assert r.score_name == f"{data} 200-epoch test accuracy (%)"
    for row, study in zip(r.rows, studies, strict=True):
        stored = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
        states = [t.state.name for t in stored]
        skipped = [t for t in stored if t.state.name == "PRUNED"]
        queried = [t for t in stored if t.state.name != "PRUNED"]
        assert set(states) <= {"COMPLETE", "PRUNED"}
        assert row["queries"] == len(queried) == trials
        assert row["skipped"] == len(skipped)
        if task.endswith("raspi4"):  # the budget is known before training: never evaluated
            assert all(not feasible(_cell(t.params)) for t in skipped)
            # the QUBO strategy is handed the latency table: it proposes no cell over it
            assert not skipped if row["strategy"] == "qubo-sa" else skipped
        else:
            assert not skipped
            for t in queried:  # the budget as Optuna's constraint, on every evaluation
                g = {k: v for k, v in t.system_attrs.items() if k.startswith("constraints")}
                assert g == {
                    "constraints:val_accuracy<=60": pytest.approx(acc[_cell(t.params)][val] - 60)
                }
        best: str | None = None
        curve = []
        for t in queried:
            s = _cell(t.params)
            assert t.values[0] == pytest.approx(1 - acc[s][val] / 100)  # val_error told
            if feasible(s) and (best is None or acc[s][val] > acc[best][val]):
                best = s
            curve.append(acc[best][test] if best is not None else math.nan)
        got = r.curves[row["strategy"]][row["seed"] - 3]
        np.testing.assert_allclose(got, curve, equal_nan=True)
        assert row["score"] == pytest.approx(curve[-1], nan_ok=True)
        assert row["regret"] == pytest.approx(optimum - curve[-1], nan_ok=True)
        assert row["picked"] == (best or "")
        reach = [q + 1 for q, c in enumerate(curve) if c >= target]
        assert row["queries_to_target"] == (reach[0] if reach else None)
        assert row["optimum"] == pytest.approx(optimum)
        assert row["train_seconds"] == 0.0  # the table has no training times
        assert row["train_seconds_to_target"] == (0.0 if reach else None)
        assert not {"curve", "failed", "first_failure"} & set(row)
    assert r.budgets == (
        [f"raspi4<={limit!r}"] if task.endswith("raspi4") else ["val_accuracy<=60"]
    )


@needs_data
def test_multi_objective_picks_are_the_feasible_pareto_set(
    tmp_path: Path, studies: list[Any]
) -> None:
    """Two objectives under a parameter budget: the pick after each query is the Pareto
    set (validation error, raspi4 latency) of the feasible cells queried so far, judged
    by the hypervolume of their test error and latency in the task's box."""
    acc, lat = _tables()
    from quarch.benchmark import build_task
    from quarch.spaces.nb201.space import nb201_from_str

    # a parameter budget: known before training, so over-budget cells are skipped
    t = build_task("nb201-cifar10-mo-raspi4", data_dir=str(DATA), budgets=["params<=800000"])
    ev = t.evaluator
    params = {s: ev.cheap_metrics(nb201_from_str(s))["params"] for s in acc}
    err = {s: 100 - acc[s]["cifar10_test_200ep"] for s in acc}
    e0, e1 = min(err.values()), float(np.median(list(err.values())))
    l0, l1 = min(x["raspi4"] for x in lat.values()), max(x["raspi4"] for x in lat.values())

    def hv(cells: list[str]) -> float:
        return strip_area(
            [((err[s] - e0) / (e1 - e0), (lat[s]["raspi4"] - l0) / (l1 - l0)) for s in cells]
        )

    r = run_benchmark(
        task="nb201-cifar10-mo-raspi4", strategies=["random"], seeds=1, trials=12,
        data_dir=str(DATA), budgets=["params<=800000"], out=str(tmp_path), progress=False,
    )  # fmt: skip
    (row,) = r.rows
    (study,) = studies
    stored = sorted(study.get_trials(deepcopy=False), key=lambda tr: tr.number)
    assert row["skipped"] == sum(tr.state.name == "PRUNED" for tr in stored) > 0
    assert all(params[_cell(tr.params)] > 800000 for tr in stored if tr.state.name == "PRUNED")
    seen: list[str] = []
    curve = []
    front: list[str] = []
    for tr in stored:
        if tr.state.name == "PRUNED":
            continue
        seen.append(_cell(tr.params))
        pts = {s: (1 - acc[s]["cifar10_valid_12ep"] / 100, lat[s]["raspi4"]) for s in seen}
        front = [
            s for s in seen
            if not any(q[0] <= pts[s][0] and q[1] <= pts[s][1] and q != pts[s] for q in pts.values())
        ]  # fmt: skip
        curve.append(hv(front))
    np.testing.assert_allclose(r.curves["random"][0], curve)
    assert row["score"] == pytest.approx(curve[-1])
    assert row["picked"] == f"{len(front)} Pareto architectures"
    assert row["regret"] == pytest.approx(t.optimum - curve[-1])


# -- a task of our own: budgets, failures, times, seeds ---------------------------------------
TASK = """
from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

CLOCK = {"perf": 0.0, "cpu": 0.0}
FAIL_B = {7}
SEEN = []
ENV_FILE = []


class Timed(Space):
    def suggest(self, trial):
        CLOCK["perf"] += 1.0  # what the sampler's part costs on the fake clock
        return super().suggest(trial)


SPACE = Timed([Choice("a", list(range(8))), Choice("b", list(range(8)))], name="toy")


class Costly:
    fingerprint = ""

    def cheap_metrics(self, arch):
        CLOCK["perf"] += 1000.0
        return {"params": float(arch["a"])}

    def evaluate(self, arch, *, seed):
        SEEN.append((dict(arch), seed))
        if ENV_FILE:  # what a worker process runs with
            import os, sys
            threads = sys.modules["torch"].get_num_threads()
            with open(ENV_FILE[0], "a") as f:
                f.write(f"{os.getpid()} {os.environ.get('OMP_NUM_THREADS')} "
                        f"{os.environ.get('QISKIT_IN_PARALLEL')} {threads}\\n")
        CLOCK["perf"] += 100.0
        CLOCK["cpu"] += 3.0
        if arch["b"] in FAIL_B:
            raise ValueError(f"b={arch['b']} breaks")
        err = ((arch["a"] - 5) ** 2 + (arch["b"] - 2) ** 2) / 100
        return {"val_error": err, "params": float(arch["a"]), "train_seconds": float(arch["b"] + 1)}


def judge(a):  # one plus the evaluator's error: the optimum is 1
    return 1.0 + ((a["a"] - 5) ** 2 + (a["b"] - 2) ** 2) / 100


def judged(name, evaluator, budgets, metrics, target=1.05):  # a task judged by judge()
    return Task(
        name=name, space=SPACE, evaluator=evaluator,
        objective=task_objective(budgets, dict.fromkeys(metrics, 0.0)), judge=judge,
        maximize=False, optimum=1.0, target=target, score_name="distance",
    )


def toy(*, seed=0, budgets=()):
    return judged("costly", Costly(), budgets, ("val_error", "params"))


class Accuracy(Costly):
    def evaluate(self, arch, *, seed):
        m = super().evaluate(arch, seed=seed)
        return {"val_accuracy": 1.0 - m["val_error"]}


class Ties(Costly):
    def evaluate(self, arch, *, seed):
        m = super().evaluate(arch, seed=seed)
        # val_error ignores b but on (5, 2), the cell of least error, whose latency_ms
        # (known only after training) is 0.5 over its budget of 1
        gold = (arch["a"], arch["b"]) == (5, 2)
        return {"val_error": tie_error(arch), "latency_ms": 1.5 if gold else 0.25,
                "train_seconds": m["train_seconds"]}


def tie_error(arch):  # ties but for (5, 2), a little better than the rest of a = 5
    return (arch["a"] - 5) ** 2 / 100 - (0.001 if (arch["a"], arch["b"]) == (5, 2) else 0.0)


def toy_ties(*, seed=0, budgets=()):  # the judge tells apart cells of equal val_error
    return judged("ties", Ties(), budgets, ("val_error", "latency_ms"), target=1.0)


class Late(Costly):
    def evaluate(self, arch, *, seed):
        m = super().evaluate(arch, seed=seed)
        return {"val_error": m["val_error"], "latency_ms": 2.0 if arch["a"] == 0 else 0.0,
                "train_seconds": m["train_seconds"]}


def toy_late(*, seed=0, budgets=()):  # a = 0 breaks latency_ms <= 1, known after training
    return judged("late", Late(), budgets, ("val_error", "latency_ms"), target=1.0)


WIDE = Space([Choice("a", list(range(100)))], name="wide")


class Wide:
    fingerprint = ""

    def cheap_metrics(self, arch):
        return {"params": float(arch["a"])}

    def evaluate(self, arch, *, seed):
        return {"val_error": arch["a"] / 100, "params": float(arch["a"])}


def toy_one(*, seed=0, budgets=()):  # of 100 cells only a = 0 meets params <= 0
    return Task(
        name="one", space=WIDE, evaluator=Wide(),
        objective=task_objective(budgets, {"val_error": 0.0, "params": 0.0}),
        judge=lambda a: 1.0 + a["a"], maximize=False, optimum=1.0, target=0.5,
        score_name="distance",
    )


def toy_accuracy(*, seed=0):  # an objective to maximise, judged by a score to maximise
    return Task(
        name="accuracy", space=SPACE, evaluator=Accuracy(),
        objective=task_objective([], {"val_accuracy": 1.0}, metrics=("val_accuracy",)),
        judge=lambda a: -judge(a), maximize=True, optimum=-1.0, target=-1.05, score_name="s",
    )
"""


@pytest.fixture
def toy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """The module above as ``costly_truth:toy``, with a fake clock put into ``_run``."""
    (tmp_path / "costly_truth.py").write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("costly_truth", None)
    import costly_truth  # type: ignore[import-not-found]

    clock = costly_truth.CLOCK
    fake = types.SimpleNamespace(
        perf_counter=lambda: clock["perf"], process_time=lambda: clock["cpu"]
    )
    monkeypatch.setattr(run_module, "time", fake)
    yield costly_truth
    sys.modules.pop("costly_truth", None)


def _judge(a: dict[str, Any]) -> float:
    return 1.0 + ((a["a"] - 5) ** 2 + (a["b"] - 2) ** 2) / 100


def test_failures_train_seconds_and_times_by_the_stored_trials(
    toy: types.ModuleType, studies: list[Any]
) -> None:
    """A cheap budget ``params<=4`` skips a > 4 before training; b = 7 raises. The fake
    clock advances 1 per proposal, 1000 per cheap check and 100 per evaluation."""
    from quarch.study._worker import trial_seed

    toy.CLOCK.update(perf=0.0, cpu=0.0)
    trials = 30
    row = run_one("costly_truth:toy", "random", 5, trials, None, ("params<=4",))
    (study,) = studies
    stored = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    asks = len(stored)
    done = [t for t in stored if t.state.name != "PRUNED"]
    failed = [t for t in stored if t.state.name == "FAIL"]
    assert row["queries"] == len(done) == trials
    assert row["skipped"] == asks - trials == sum(t.params["a"] > 4 for t in stored)
    assert all(t.params["a"] <= 4 for t in done)
    assert [a for a, _ in toy.SEEN] == [t.params for t in done]  # evaluated: the queries only
    assert [s for _, s in toy.SEEN] == [trial_seed(5, t.number) for t in done]
    assert row["failed"] == len(failed) == sum(t.params["b"] == 7 for t in done) > 0
    first = failed[0]
    assert row["first_failure"] == f"ValueError: b={first.params['b']} breaks"
    assert all(t.user_attrs["fail_reason"] == "ValueError: b=7 breaks" for t in failed)
    # the pick, its curve and the training time spent, query by query
    best: dict[str, Any] | None = None
    curve: list[float] = []
    spent: list[float] = []
    for t in done:
        if t.state.name == "COMPLETE":
            assert t.user_attrs["metrics"]["train_seconds"] == t.params["b"] + 1
            if best is None or _judge(t.params) < _judge(best):
                best = t.params
        spent.append(
            (spent[-1] if spent else 0.0) + (t.params["b"] + 1 if t.state.name == "COMPLETE" else 0)
        )
        curve.append(_judge(best) if best is not None else math.nan)
    np.testing.assert_allclose(row["curve"], curve, equal_nan=True)
    assert row["score"] == pytest.approx(curve[-1])
    assert row["regret"] == pytest.approx(curve[-1] - 1.0)
    assert row["picked"] == f"a={best['a']},b={best['b']}" if best else row["picked"] == ""
    reach = [q + 1 for q, c in enumerate(curve) if c <= 1.05]
    assert row["queries_to_target"] == (reach[0] if reach else None)
    assert row["train_seconds"] == spent[-1]
    assert row["train_seconds_to_target"] == (spent[reach[0] - 1] if reach else None)
    # times on the fake clock
    assert row["seconds"] == asks * 1 + asks * 1000 + trials * 100
    assert row["sampler_seconds"] == asks * 1
    assert row["eval_seconds"] == asks * 1000 + trials * 100
    assert row["cpu_seconds"] == trials * 3.0
    assert row["optimum"] == 1.0


def test_the_target_reached_at_a_known_query(toy: types.ModuleType, studies: list[Any]) -> None:
    """The grid proposes every cell once; with an evaluator scoring a = 5, b = 2 best,
    the queries to the target are the index of the first cell within 0.05 of it."""
    toy.FAIL_B.clear()
    row = run_one("costly_truth:toy", "grid", 0, 64, None, ())
    seen = [a for a, _ in toy.SEEN]
    assert sorted((a["a"], a["b"]) for a in seen) == [(i, j) for i in range(8) for j in range(8)]
    first = next(q + 1 for q, a in enumerate(seen) if _judge(a) <= 1.05)
    assert row["queries_to_target"] == first
    assert row["train_seconds_to_target"] == sum(a["b"] + 1 for a in seen[:first])
    assert row["score"] == 1.0 and row["regret"] == 0.0 and row["picked"] == "a=5,b=2"
    # the same search maximising an accuracy, judged by a score to maximise
    up = run_one("costly_truth:toy_accuracy", "grid", 0, 64, None, ())
    assert up["picked"] == "a=5,b=2" and up["score"] == -1.0 and up["regret"] == 0.0
    assert [d.name for d in studies[-1].directions] == ["MAXIMIZE"]
    assert up["queries_to_target"] == first
    curve, best = [], None
    for a in seen:
        best = a if best is None or _judge(a) < _judge(best) else best
        curve.append(-_judge(best))
    np.testing.assert_allclose(up["curve"], curve)


def test_a_run_whose_every_proposal_breaks_a_known_budget_stops(
    toy: types.ModuleType, studies: list[Any]
) -> None:
    """No cell has cost < 0: each proposal is skipped, and the run stops after
    ``MAX_ASKS_PER_QUERY`` asks per query with nothing picked."""
    row = run_one("costly_truth:toy", "random", 0, 2, None, ("params<=-1",))
    (study,) = studies
    assert len(study.trials) == MAX_ASKS_PER_QUERY * 2 == 100
    assert all(t.state.name == "PRUNED" for t in study.trials)
    assert not toy.SEEN
    assert row["queries"] == 0 and row["skipped"] == 100
    assert all(math.isnan(c) for c in row["curve"]) and len(row["curve"]) == 2
    assert math.isnan(row["score"]) and math.isnan(row["regret"])
    assert row["picked"] == "" and row["queries_to_target"] is None
    assert row["train_seconds"] == 0.0 and row["train_seconds_to_target"] is None
    assert row["failed"] == 0 and row["first_failure"] == ""


def test_seeds_give_identical_runs(toy: types.ModuleType, studies: list[Any]) -> None:
    timing = ("seconds", "sampler_seconds", "eval_seconds", "cpu_seconds")
    runs = [
        run_one("costly_truth:toy", "evolution", s, 20, None, ("params<=5",)) for s in (1, 1, 2)
    ]
    same = [{k: v for k, v in r.items() if k not in timing} for r in runs]
    params = [[t.params for t in s.trials] for s in studies]
    assert same[0] == same[1] and params[0] == params[1]
    assert params[0] != params[2]


def test_a_tie_keeps_the_first_pick_and_a_budget_is_broken_by_less_than_one(
    toy: types.ModuleType, studies: list[Any]
) -> None:
    """The pick changes only on a strictly better loss: the grid's cells of equal
    val_error differ in their judged score, so the first one found is the one judged.
    A budget broken by 0.5 (latency_ms 1.5 against <= 1, known after training) makes
    the cell of least error infeasible: it is never the pick."""
    toy.FAIL_B.clear()
    row = run_one("costly_truth:toy_ties", "grid", 0, 64, None, ("latency_ms<=1",))
    (study,) = studies
    seen = [a for a, _ in toy.SEEN]
    assert len(seen) == 64 and not any(t.state.name == "PRUNED" for t in study.trials)
    best: dict[str, Any] | None = None
    curve: list[float] = []
    for a in seen:
        feasible = (a["a"], a["b"]) != (5, 2)
        if feasible and (best is None or toy.tie_error(a) < toy.tie_error(best)):
            best = a
        curve.append(_judge(best) if best is not None else math.nan)
    assert best is not None and best["a"] == 5 and best["b"] != 2
    assert sum(a["a"] == 5 and a["b"] != 2 for a in seen) == 7  # the ties
    np.testing.assert_allclose(row["curve"], curve)
    assert row["picked"] == f"a={best['a']},b={best['b']}"
    assert row["score"] == _judge(best) > 1.0  # the ground truth (5, 2) broke the budget


def test_a_pick_found_at_the_last_query_after_an_infeasible_first_one(
    toy: types.ModuleType, studies: list[Any]
) -> None:
    """The first query breaks a budget known only after training (no pick yet), and
    the last one improves the pick: the score, regret and label are the last query's.
    The seed is the first that shows both, found from the stored trials."""
    toy.FAIL_B.clear()
    for seed in range(400):
        toy.SEEN.clear()
        row = run_one("costly_truth:toy_late", "random", seed, 4, None, ("latency_ms<=1",))
        seen = [a for a, _ in toy.SEEN]
        best, curve = None, []
        for a in seen:
            if a["a"] != 0 and (best is None or _judge(a) < _judge(best)):
                best = a
            curve.append(_judge(best) if best is not None else math.nan)
        if seen[0]["a"] == 0 and best is seen[-1] and curve[-2] != curve[-1]:
            break
    else:
        pytest.fail("no seed of 400 has an infeasible first query and a better last one")
    assert best is not None
    np.testing.assert_allclose(row["curve"], curve, equal_nan=True)
    assert math.isnan(row["curve"][0])
    assert row["score"] == _judge(best) and row["regret"] == _judge(best) - 1.0
    assert row["picked"] == f"a={best['a']},b={best['b']}"


def test_a_run_stopped_short_keeps_its_last_pick(toy: types.ModuleType, studies: list[Any]) -> None:
    """Of 100 cells only a = 0 meets the budget: the grid finds it once in its first 100
    asks, the run stops there (50 asks per query) with 1 query of 2, and its curve holds
    that pick to the end."""
    row = run_one("costly_truth:toy_one", "grid", 0, 2, None, ("params<=0",))
    (study,) = studies
    assert len(study.trials) == MAX_ASKS_PER_QUERY * 2 == 100
    assert sorted(t.params["a"] for t in study.trials) == list(range(100))
    assert row["queries"] == 1 and row["skipped"] == 99
    assert row["curve"] == [1.0, 1.0] and row["score"] == 1.0 and row["picked"] == "a=0"


def test_times_on_a_clock_that_does_not_start_at_zero(
    toy: types.ModuleType, studies: list[Any]
) -> None:
    """Durations are differences of the clock's readings, whatever it read at the start."""
    toy.FAIL_B.clear()
    toy.CLOCK.update(perf=5000.0, cpu=70.0)
    row = run_one("costly_truth:toy", "random", 1, 4, None, ())
    assert row["seconds"] == 4 * 1 + 4 * 100  # no budget: no cheap check
    assert row["cpu_seconds"] == 4 * 3.0


def test_a_skipped_trial_records_the_budget_it_breaks(
    toy: types.ModuleType, studies: list[Any]
) -> None:
    from quarch.study._worker import SKIP_REASON, OverBudget, check_before_training

    run_one("costly_truth:toy", "random", 2, 6, None, ("params<=3",))
    (study,) = studies
    skipped = [t for t in study.trials if t.state.name == "PRUNED"]
    assert skipped and all(t.params["a"] > 3 for t in skipped)
    objective = toy.toy(budgets=("params<=3",)).objective
    for t in skipped:  # the line check_before_training gives for that architecture
        with pytest.raises(OverBudget) as e:
            check_before_training(_FakeTrial(), t.params, toy.Costly(), objective)  # type: ignore[arg-type]
        assert t.user_attrs[SKIP_REASON] == str(e.value) != ""


class _FakeTrial:
    """What ``check_before_training`` writes on a trial, kept and forgotten."""

    def __init__(self) -> None:
        self.user_attrs: dict[str, Any] = {}

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value

    def set_constraint(self, key: str, value: float) -> None:
        pass


def test_workers_pool_start_method_size_and_energy_per_strategy(
    toy: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool starts by Python's start method (the program's, else the platform's
    default: the first one Python lists) and has no more processes than jobs; each
    strategy's energy is its own rows' CPU time."""
    import multiprocessing

    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: None)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["fork", "spawn"])

    real = multiprocessing.get_context
    asked: list[tuple[Any, Any]] = []

    class Recording:
        def __init__(self, method: Any) -> None:
            self.method = method

        def Pool(self, *args: Any, **kw: Any) -> Any:  # multiprocessing's name
            processes = args[0] if args else kw.pop("processes", None)
            asked.append((self.method, processes))
            return real("fork").Pool(processes, *args[1:], **kw)  # the toy is inherited

    monkeypatch.setattr(multiprocessing, "get_context", Recording)
    toy.FAIL_B.clear()
    names = ["random", "local", "evolution"]
    r = run_benchmark(task="costly_truth:toy", strategies=names, seeds=1, trials=3,
                      out=str(tmp_path / "a"), progress=False, workers=8, first_seed=4)  # fmt: skip
    assert asked == [("fork", 3)]  # 3 jobs: 3 processes, not 8
    assert [row["seed"] for row in r.rows] == [4, 4, 4] and r.first_seed == 4
    for s in names:
        assert r.energy_j[s] == sum(x["cpu_seconds"] for x in r.rows if x["strategy"] == s) * 10
        assert r.energy_j[s] == 3 * 3.0 * 10.0
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn", "fork"])
    run_benchmark(task="costly_truth:toy", strategies=names[:2], seeds=2, trials=2,
                  out=str(tmp_path / "b"), progress=False, workers=3)  # fmt: skip
    assert asked[1:] == [("spawn", 3)]
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "forkserver")
    run_benchmark(task="costly_truth:toy", strategies=names[:1], seeds=1, trials=2,
                  out=str(tmp_path / "c"), progress=False, workers=2)  # fmt: skip
    assert asked[2:] == [("forkserver", 1)]


def test_a_benchmark_folder_that_cannot_be_written_is_named(
    toy: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from quarch.benchmark._result import BenchmarkResult

    out = tmp_path / "out"

    def full(self: Any, folder: Any, *args: Any, **kw: Any) -> Any:
        raise OSError(errno.ENOSPC, "No space left on device", str(Path(folder) / "results.csv"))

    monkeypatch.setattr(BenchmarkResult, "write", full)
    with pytest.raises(OutputError) as e:
        run_benchmark(task="costly_truth:toy", strategies=["random"], seeds=1, trials=2,
                      out=str(out), progress=False)  # fmt: skip
    assert (
        str(e.value) == f"cannot write the benchmark folder {str(out)!r}: No space left on device"
    )


def test_harness_energy_warning_order_and_default_folder(
    toy: types.ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Sequential runs without CodeCarbon: energy is CPU time x 10 W per strategy. Some
    failed evaluations: one warning line naming the first. The default folder."""
    from quarch._warnings import QuarchWarning

    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        r = run_benchmark(
            task="costly_truth:toy", strategies="local, random", seeds=2, trials=6,
            budgets="params<=6, val_error<=0.9", progress=False,
        )  # fmt: skip
    assert capsys.readouterr().err == ""  # no bar
    assert r.strategies == ["local", "random"]
    assert [(x["strategy"], x["seed"]) for x in r.rows] == [
        ("local", 0),
        ("local", 1),
        ("random", 0),
        ("random", 1),
    ]
    assert r.budgets == ["params<=6", "val_error<=0.9"]
    assert r.seeds == 2 and r.trials == 6 and r.first_seed == 0
    assert r.task == "costly" and r.maximize is False and r.score_name == "distance"
    assert r.energy_method == "CPU time x 10 W (no CodeCarbon meter)"
    for s in ("local", "random"):
        cpu = sum(x["cpu_seconds"] for x in r.rows if x["strategy"] == s)
        assert cpu > 0 and r.energy_j[s] == pytest.approx(cpu * 10.0)
        assert r.curves[s].shape == (2, 6)
        assert r.kinds[s] == "classical"
    assert r.optima == [1.0]
    assert r.out == Path("runs") / "benchmark-costly"
    assert 0 < r.wall_seconds < 600  # the harness's own (real) clock
    assert (tmp_path / "runs" / "benchmark-costly" / "results.csv").is_file()
    failed = [t for t in toy.SEEN if t[0]["b"] == 7]
    ours = [w for w in got if issubclass(w.category, QuarchWarning)]
    if failed:
        (w,) = ours
        # the first failure in the table's order: local before random, seed 0 first
        assert str(w.message).startswith(
            f"benchmark costly: {len(failed)} of 24 evaluations failed"
        )
    else:
        assert not ours


def test_a_bar_is_shown_when_asked(
    toy: types.ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The bar's last line: the task, the strategy running, the bar, runs done of all."""
    import re

    toy.FAIL_B.clear()
    run_benchmark(task="costly_truth:toy", strategies=["random", "local"], seeds=2, trials=2,
                  out=str(tmp_path))  # fmt: skip
    assert re.fullmatch(r"benchmark costly local \u2501+ 4/4\n", capsys.readouterr().err)


def test_some_failures_warn_with_the_first(toy: types.ModuleType, tmp_path: Path) -> None:
    """b in 4..7 raises: the warning's whole line, against the stored evaluations."""
    from quarch._warnings import QuarchWarning

    toy.FAIL_B.update({4, 5, 6})
    with pytest.warns(QuarchWarning) as got:
        run_benchmark(task="costly_truth:toy", strategies=["random"], seeds=2, trials=10,
                      out=str(tmp_path), progress=False)  # fmt: skip
    failed = [(a, s) for a, s in toy.SEEN if a["b"] >= 4]
    assert 0 < len(failed) < 20
    first_seed = 0 if any(a["b"] >= 4 for a, _ in toy.SEEN[:10]) else 1
    first = next(a for a, _ in toy.SEEN[10 * first_seed :] if a["b"] >= 4)
    msgs = [str(w.message) for w in got if issubclass(w.category, QuarchWarning)]
    assert msgs == [
        f"benchmark costly: {len(failed)} of 20 evaluations failed, each a wasted query; the "
        f"first (random, seed {first_seed}: ValueError: b={first['b']} breaks)"
    ]


def test_every_failure_is_an_error_naming_the_first(toy: types.ModuleType, tmp_path: Path) -> None:
    toy.FAIL_B.update(range(8))
    out = tmp_path / "out"
    with pytest.raises(RunError) as e:
        run_benchmark(task="costly_truth:toy", strategies=["random"], seeds=2, trials=3,
                      out=str(out), progress=False)  # fmt: skip
    b = toy.SEEN[0][0]["b"]
    assert str(e.value) == (
        f"benchmark costly: every evaluation failed (6 of 6); the first (random, seed 0: "
        f"ValueError: b={b} breaks)"
    )
    assert not out.exists()  # before anything is written


# -- refusals -----------------------------------------------------------------------------
def _strategy_names() -> list[str]:
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    m = re.search(r"^### Strategies\n(.*?)(?=^#)", readme, re.S | re.M)
    assert m
    return re.findall(r"^\| `([^`]+)` \|", m.group(1), re.M)


def _refusal(**kw: Any) -> str:
    args: dict[str, Any] = {"task": "synthetic-qubo", "strategies": ["random"], "seeds": 1,
                            "trials": 1, "progress": False, **kw}  # fmt: skip
    with pytest.raises(ConfigError) as e:
        run_benchmark(**args)
    return str(e.value)


def test_refusals_whole_lines(tmp_path: Path) -> None:
    from quarch.search import STRATEGIES

    # the README's table, in the registry's order (the order of registration)
    assert sorted(STRATEGIES.names()) == sorted(_strategy_names())
    listed = ", ".join(STRATEGIES.names())
    assert _refusal(strategies=" , ") == f"no strategies given; choose from: {listed}"
    assert _refusal(strategies=[]) == f"no strategies given; choose from: {listed}"
    assert _refusal(strategies=["qiea-s", "nope"]) == (
        f"unknown strategy 'qiea-s', 'nope'; choose from: {listed} "
        "('qiea-s': did you mean 'qiea-sg'?)"
    )
    assert _refusal(strategies="random,qiea,random,qiea") == (
        "strategies named more than once: qiea, random"
    )
    for field, bad in (("seeds", True), ("trials", 1.0), ("workers", -2), ("seeds", 0)):
        assert _refusal(**{field: bad}) == f"{field} must be a positive integer; got {bad!r}"
    for bad in (-1, True, 0.0):
        assert _refusal(first_seed=bad) == f"first_seed must be an integer >= 0; got {bad!r}"
    # from Python, the wrong kind of value (audit H4: TypeErrors from inside)
    assert _refusal(strategies=None) == (
        "strategies must be a list of strings or one comma-separated string; got None"
    )
    assert _refusal(budgets=[3]) == (
        "budgets must be a list of strings or one comma-separated string; got [3]"
    )
    assert _refusal(task=3) == "task must be a name or package.module:function; got 3"
    assert _refusal(first_seed=2**32 - 1, seeds=2) == (
        "the last seed, first_seed + seeds - 1 = 4294967296, is above 4294967295 (2**32 - 1, "
        "the seeds numpy's RandomState and Optuna's samplers take)"
    )
    top = run_benchmark(task="synthetic-qubo", strategies=["tpe"], seeds=2, trials=2,
                        first_seed=2**32 - 2, out=str(tmp_path / "top"), progress=False)  # fmt: skip
    assert [r["seed"] for r in top.rows] == [2**32 - 2, 2**32 - 1]  # Optuna's TPE takes both
    assert _refusal(strategies=["grid"], trials=4097) == (
        "strategy 'grid' proposes each of 4096 architectures once; --trials must be at most 4096"
    )
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError) as e:
        run_benchmark(task="synthetic-qubo", strategies=["random"], seeds=1, trials=1,
                      out=str(tmp_path / "file"), progress=False)  # fmt: skip
    assert str(e.value) == f"benchmark folder {str(tmp_path / 'file')!r} is a file, not a folder"


def test_grid_at_the_space_size_runs(toy: types.ModuleType, tmp_path: Path) -> None:
    toy.FAIL_B.clear()
    with pytest.raises(
        ConfigError, match=r"^strategy 'grid' proposes each of 64 architectures once"
    ):
        run_benchmark(task="costly_truth:toy", strategies=["grid"], seeds=1, trials=65,
                      out=str(tmp_path), progress=False)  # fmt: skip
    r = run_benchmark(task="costly_truth:toy", strategies=["grid"], seeds=1, trials=64,
                      out=str(tmp_path), progress=False, first_seed=2)  # fmt: skip
    assert r.rows[0]["queries"] == 64 and r.rows[0]["score"] == 1.0


# -- tasks: the registered names, a user's factory, the synthetic QUBO ------------------------
@needs_data
def test_task_names_are_the_readme_families() -> None:
    """``quarch tasks`` as the README's command table describes it: the nb201 families
    over the latency table's devices, hqnn-bench on its data sets and epochs, then
    ``synthetic-qubo`` last; the spaces in their registry's order."""
    from quarch.benchmark import task_names

    with open(DATA / "nb201" / "nb201_latency.csv") as f:
        devices = next(csv.reader(f))[2:]
    nb201 = ["nb201-cifar10", "nb201-cifar100"]
    nb201 += [f"nb201-{d}-{dev}" for d in ("cifar10", "cifar100") for dev in devices]
    nb201 += [f"nb201-{d}-mo-{dev}" for d in ("cifar10", "cifar100") for dev in devices]
    hqnn = [
        f"hqnn-bench-{d}{s}" for d in ("digits", "wine")
        for s in ("", "-e1", "-e2", "-e5", "-e10", "-small")
    ]  # fmt: skip
    names = task_names()
    assert names == [*nb201, *hqnn, "synthetic-qubo"]


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str) -> None:
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop(name, None)


FACTORIES = """
from quarch._errors import ConfigError
from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

GOT = []


def _task(name="mine"):
    space = Space([Choice("a", [0, 1])], name="two")
    return Task(name=name, space=space, evaluator=None,
                objective=task_objective([], {"val_error": 0.0}), judge=lambda a: 0.0,
                maximize=False, optimum=0.0, target=0.0, score_name="s")


def only_seed(*, seed):
    GOT.append({"seed": seed})
    return _task()


def anything(**kw):
    GOT.append(kw)
    return _task()


def positional(seed, data_dir=None, budgets=(), *rest):
    GOT.append({"seed": seed, "data_dir": data_dir, "budgets": budgets})
    return _task()


def nothing():
    GOT.append({})
    return _task()


def needs(x, *args, seed=0, extra, **kw):
    return _task()


def broken(*, seed=0):
    raise ValueError("no table here")


def refuses(*, seed=0):
    raise ConfigError("my own line")
"""


def test_a_factory_gets_the_keywords_it_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.benchmark import build_task

    _module(tmp_path, monkeypatch, "facts", FACTORIES)
    import facts  # type: ignore[import-not-found]

    build_task("facts:only_seed", seed=4, data_dir="d")
    build_task("facts:anything", seed=5, data_dir="d", budgets=["params<=3"])
    build_task("facts:positional", seed=6, budgets=["params<=2", "flops<=1"])
    build_task("facts:nothing", seed=7, data_dir="d")
    assert facts.GOT == [
        {"seed": 4},
        {"seed": 5, "data_dir": "d", "budgets": ("params<=3",)},
        {"seed": 6, "data_dir": None, "budgets": ("params<=2", "flops<=1")},
        {},
    ]
    lines = {
        "needs": "task 'facts:needs': its factory requires 'x', 'extra', which quarch cannot "
        "give; it passes seed, data_dir and budgets as keywords (give the others defaults)",
        "broken": "task 'facts:broken': its factory raised ValueError: no table here",
        "refuses": "my own line",
        "only_seed": "task 'facts:only_seed' takes no budgets (its factory has no 'budgets')",
    }
    for name, line in lines.items():
        with pytest.raises(ConfigError) as e:
            build_task(f"facts:{name}", budgets=["params<=1"] if name == "only_seed" else ())
        assert str(e.value) == line
    # a C callable has no signature: it gets every keyword (and dict is not a Task)
    with pytest.raises(ConfigError) as e:
        build_task("builtins:dict", seed=1)
    assert str(e.value) == "task 'builtins:dict' returned dict, not a quarch.evaluate.Task"


def test_a_registered_task_that_fails_is_a_bug_not_a_user_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from quarch.benchmark import _tasks, build_task

    def boom(*, seed: int = 0) -> Any:
        raise ZeroDivisionError("inside quarch")

    monkeypatch.setattr(_tasks, "task_factories", lambda: {"boom": boom})
    with pytest.raises(ZeroDivisionError, match=r"^inside quarch$"):
        build_task("boom")


def test_resolving_a_module_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every refusal's whole line; a module beside you imports without installing it."""
    from quarch.benchmark import resolve_task, task_names

    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "beside_me.py").write_text("def f(*, seed=0):\n    return seed\n")
    (tmp_path / "needs_dep.py").write_text("import not_installed_xyz\n")
    (tmp_path / "raises_on_import.py").write_text("raise RuntimeError('half written')\n")
    for m in ("beside_me", "needs_dep", "raises_on_import"):
        sys.modules.pop(m, None)
    assert resolve_task("beside_me:f")(seed=3) == 3
    assert str(tmp_path) in sys.path  # found by searching the current directory
    lines = {
        "needs_dep:f": "cannot import task module 'needs_dep': No module named 'not_installed_xyz'",
        "raises_on_import:f": "importing task module 'raises_on_import' failed: "
        "RuntimeError: half written",
        "no_such_module_q:f": "cannot import task module 'no_such_module_q': No module named "
        "'no_such_module_q'",
        "beside_me:": "malformed task 'beside_me:'; expected package.module:function",
        "beside_me:g": "task module 'beside_me' has no function 'g'",
        "nb201-cifar1": "unknown benchmark task 'nb201-cifar1'; choose from: "
        f"{', '.join(task_names())}, or name your own as package.module:function "
        "('nb201-cifar1': did you mean 'nb201-cifar10'?)",
    }
    for task, line in lines.items():
        with pytest.raises(ConfigError) as e:
            resolve_task(task)
        assert str(e.value) == line, task


def test_a_module_missing_outside_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not found, with the current directory already searched: one import, one line."""
    from quarch.benchmark import resolve_task

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path])
    with pytest.raises(ConfigError) as e:
        resolve_task("absent_mod_z.sub:f")
    assert (
        str(e.value)
        == "cannot import task module 'absent_mod_z.sub': No module named 'absent_mod_z'"
    )


def test_the_current_directory_is_searched_for_the_task_module_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The current directory is added to ``sys.path`` only when the missing module is
    the task's own (its first name, for a package), and then first, as ``python -m``
    puts it; a module found elsewhere that lacks a dependency leaves ``sys.path`` alone."""
    from quarch.benchmark import resolve_task

    clean = [p for p in sys.path if p not in ("", str(tmp_path))]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "needs_dep_q.py").write_text("import not_installed_q\n")
    (tmp_path / "pkg_here_q").mkdir()
    (tmp_path / "pkg_here_q" / "__init__.py").write_text("")
    (tmp_path / "pkg_here_q" / "tasks.py").write_text("def f(*, seed=0):\n    return seed + 1\n")
    for m in ("needs_dep_q", "pkg_here_q", "pkg_here_q.tasks", "absent_here_q"):
        sys.modules.pop(m, None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(elsewhere), *clean])
    with pytest.raises(ConfigError) as e:
        resolve_task("needs_dep_q:f")
    assert str(e.value) == (
        "cannot import task module 'needs_dep_q': No module named 'not_installed_q'"
    )
    assert sys.path == [str(elsewhere), *clean]
    # missing here too: the directory was searched, and the line names the module
    with pytest.raises(ConfigError) as e:
        resolve_task("absent_here_q:f")
    assert (
        str(e.value) == "cannot import task module 'absent_here_q': No module named 'absent_here_q'"
    )
    # a package beside you, named with its module
    monkeypatch.setattr(sys, "path", list(clean))
    assert resolve_task("pkg_here_q.tasks:f")(seed=1) == 2
    assert sys.path == [str(tmp_path), *clean]
    # the module is what comes before the first ':', the function all after it
    with pytest.raises(ConfigError) as e:
        resolve_task("pkg_here_q.tasks:f:g")
    assert str(e.value) == "task module 'pkg_here_q.tasks' has no function 'f:g'"


def test_a_task_is_built_for_run_seed_zero_by_default() -> None:
    from quarch.benchmark import build_task
    from quarch.benchmark._tasks import synthetic_qubo

    opt = {s: synthetic_qubo(s)[2] for s in (0, 1)}
    assert opt[0] != opt[1]  # the seed shows in the task
    assert build_task("synthetic-qubo").optimum == opt[0]


def test_synthetic_qubo_task_by_brute_force(tmp_path: Path) -> None:
    """The task's space, energies and optimum against b^T Q b over every one-hot code,
    computed here with plain loops."""
    from quarch.benchmark import build_task
    from quarch.benchmark._tasks import QUBOEvaluator, synthetic_qubo

    t = build_task("synthetic-qubo", seed=2)
    space, ev, opt = synthetic_qubo(2)
    Q = ev.Q
    assert Q.shape == (24, 24) and np.all(np.tril(Q, -1) == 0)
    best = math.inf
    for idx in itertools.product(range(4), repeat=6):
        on = [4 * c + o for c, o in enumerate(idx)]
        e = sum(Q[i, j] for i in on for j in on)
        best = min(best, e)
        if idx in ((0, 1, 2, 3, 0, 1), (3, 3, 3, 3, 3, 3)):
            arch = {f"x{c}": o for c, o in enumerate(idx)}
            assert t.judge(arch) == pytest.approx(e)
            assert t.evaluator.evaluate(arch) == {"val_error": pytest.approx(e)}
    assert opt == pytest.approx(best) and t.optimum == pytest.approx(best)
    assert t.target == pytest.approx(best + 1e-9, abs=1e-12) and t.oracle == t.optimum
    assert t.name == "synthetic-qubo" and t.maximize is False
    assert t.score_name == "QUBO energy" and t.oracle_label == "the ground state"
    assert t.objective.metrics == ("val_error",) and not t.objective.budgets
    assert [c.name for c in t.space.choices] == [f"x{i}" for i in range(6)]
    bits = np.zeros(24)
    bits[[0, 5]] = 1.0
    assert ev.energy(bits).shape == (1,)
    assert ev.energy(bits)[0] == pytest.approx(Q[0, 0] + Q[5, 5] + Q[0, 5] + Q[5, 0])
    assert ev.fingerprint == ""
    with pytest.raises(ValueError) as e:
        QUBOEvaluator(space, np.zeros((3, 3)))
    assert str(e.value) == "Q must have shape (24, 24) for this space; got (3, 3)"
    with pytest.raises(ConfigError) as c:
        build_task("synthetic-qubo", budgets=["val_error<=0"])
    assert str(c.value) == "synthetic-qubo takes no budgets (its only metric is val_error)"
    from quarch.benchmark._tasks import synthetic_qubo_task

    assert synthetic_qubo_task().optimum == synthetic_qubo(0)[2]  # seed 0 by default
    # a benchmark from seed 2 compares with seed 2's ground state
    r = run_benchmark(task="synthetic-qubo", strategies=["random"], seeds=1, trials=2,
                      first_seed=2, out=str(tmp_path), progress=False)  # fmt: skip
    assert r.oracle == pytest.approx(best) and r.target == pytest.approx(best + 1e-9, abs=1e-12)
    assert r.oracle_label == "the ground state" and r.optima == [pytest.approx(best)]
    small, _, _ = synthetic_qubo(0, n_choices=2, n_options=5)
    assert small.size == 25 and small.name == "qubo"


def test_workers_run_the_same_rows_single_threaded(
    toy: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker processes (forked: they inherit the fake clock) give the rows of a
    sequential run, in the table's order; each runs with one thread; energy is their
    CPU time x 10 W."""

    import torch

    # this process: several threads, and Qiskit's Rust code free to use its thread pool
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.setenv("QISKIT_IN_PARALLEL", "FALSE")
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        _run_with_workers(toy, tmp_path)
    finally:
        torch.set_num_threads(threads)
    assert torch.get_num_threads() == threads


def _run_with_workers(toy: types.ModuleType, tmp_path: Path) -> None:
    import os

    toy.FAIL_B.clear()
    kw: dict[str, Any] = {"task": "costly_truth:toy", "strategies": ["random", "local"],
                          "seeds": 2, "trials": 5, "progress": False}  # fmt: skip
    one = run_benchmark(**kw, out=str(tmp_path / "one"))
    env = tmp_path / "env.txt"
    toy.ENV_FILE.append(str(env))
    many = run_benchmark(**kw, out=str(tmp_path / "many"), workers=3)
    timing = ("seconds", "sampler_seconds", "eval_seconds")
    assert [{k: v for k, v in r.items() if k not in timing} for r in many.rows] == [
        {k: v for k, v in r.items() if k not in timing} for r in one.rows
    ]
    np.testing.assert_array_equal(many.curves["local"], one.curves["local"])
    assert many.energy_method == "CPU time x 10 W (no CodeCarbon meter in parallel runs)"
    for s in ("random", "local"):
        assert many.energy_j[s] == 2 * 5 * 3.0 * 10.0  # 3 s of CPU per evaluation
    lines = [x.split() for x in env.read_text().splitlines()]
    assert len(lines) == 20
    assert {pid for pid, *_ in lines} - {str(os.getpid())} == {pid for pid, *_ in lines}
    # one thread each; Qiskit told it runs inside a worker (its Rust code reads this
    # variable at each call and then runs on one thread)
    assert [rest for _, *rest in lines] == [["1", "TRUE", "1"]] * 20


class _Energy:
    kWh = 2.5e-6


def _fake_codecarbon(monkeypatch: pytest.MonkeyPatch, fail: str) -> list[Any]:
    """A ``codecarbon`` module whose tracker records what it is asked, and fails in
    ``fail`` ("", "init", "start" or "stop")."""
    made: list[Any] = []

    class OfflineEmissionsTracker:
        def __init__(self, **kw: Any) -> None:
            if fail == "init":
                raise RuntimeError("no meter readable")
            self.kw = kw
            self.calls: list[str] = []
            self._total_energy = _Energy()
            made.append(self)

        def start(self) -> None:
            if fail == "start":
                raise PermissionError("RAPL")
            self.calls.append("start")

        def stop(self) -> None:
            self.calls.append("stop")
            if fail == "stop":
                raise RuntimeError("meter gone")

    module = types.ModuleType("codecarbon")
    module.OfflineEmissionsTracker = OfflineEmissionsTracker  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "codecarbon", module)
    return made


@pytest.mark.parametrize("fail", ["", "init", "start", "stop"])
def test_codecarbon_measures_sequential_runs_or_falls_back(
    toy: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail: str
) -> None:
    """With CodeCarbon's offline tracker: each strategy's runs are measured, in joules
    (kWh x 3.6e6); a tracker that cannot be made or started: CPU time x 10 W."""
    toy.FAIL_B.clear()
    made = _fake_codecarbon(monkeypatch, fail)
    r = run_benchmark(task="costly_truth:toy", strategies=["random", "local"], seeds=2,
                      trials=3, out=str(tmp_path), progress=False)  # fmt: skip
    if fail == "":
        (tracker,) = made
        assert tracker.kw == {"country_iso_code": "USA", "save_to_file": False,
                              "log_level": "error"}  # fmt: skip
        assert tracker.calls == ["start", "stop", "start", "stop"]
        assert r.energy_method == "CodeCarbon (measured)"
        joules = pytest.approx(2.5e-6 * 3.6e6, rel=1e-12)  # kWh x 3.6e6
        assert r.energy_j == {"random": joules, "local": joules}
    else:
        assert len(made) == (fail in ("start", "stop"))
        if fail == "stop":  # measured, but the meter could not say: the runs are not redone
            assert made[0].calls == ["start", "stop"]
        assert r.energy_method == "CPU time x 10 W (no CodeCarbon meter)"
        assert r.energy_j == {"random": 2 * 3 * 3.0 * 10.0, "local": 2 * 3 * 3.0 * 10.0}
    assert [x["strategy"] for x in r.rows] == ["random", "random", "local", "local"]
    assert len(toy.SEEN) == 2 * 2 * 3  # each run once: 2 strategies x 2 seeds x 3 trials
    if fail == "stop":  # one strategy alone: its label too says what measured it
        one = run_benchmark(task="costly_truth:toy", strategies=["random"], seeds=1, trials=2,
                            out=str(tmp_path / "one"), progress=False)  # fmt: skip
        assert one.energy_method == "CPU time x 10 W (no CodeCarbon meter)"


@pytest.mark.parametrize("error", [RuntimeError("a bug in a run"), KeyboardInterrupt()])
def test_a_run_that_raises_under_codecarbon_is_not_run_again(
    toy: types.ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    """The error (or Ctrl-C) goes on up once the tracker is stopped; the strategy's
    runs are not done a second time as if the meter had failed."""
    made = _fake_codecarbon(monkeypatch, "")
    from quarch.benchmark import _harness

    calls: list[Any] = []

    def broken(job: Any) -> dict[str, Any]:
        calls.append(job)
        raise error

    monkeypatch.setattr(_harness, "_run_job", broken)
    with pytest.raises(type(error)):
        run_benchmark(task="costly_truth:toy", strategies=["random", "local"], seeds=2,
                      trials=3, out=str(tmp_path / "out"), progress=False)  # fmt: skip
    assert len(calls) == 1
    assert made[0].calls == ["start", "stop"]
    assert not (tmp_path / "out").exists()


class _Reached(Exception):
    """Raised where ``synthetic_qubo`` would start building its space's choices."""


@pytest.mark.parametrize(
    ("n_choices", "n_options", "allowed"),
    [(6, 10, True), (2, 1000, True), (1, 1_000_000, True), (1, 1_000_001, False), (7, 8, False)],
)
def test_synthetic_qubo_brute_force_limit_is_inclusive(
    monkeypatch: pytest.MonkeyPatch, n_choices: int, n_options: int, allowed: bool
) -> None:
    """The refusal says ``n_options**n_choices must be <= 1000000``: exactly 10**6
    combinations are brute-forced, one more is refused with that line. (The space's
    first choice is stopped here, so an allowed size is not brute-forced: at 10**6
    combinations that would take tens of seconds.)"""
    from quarch.benchmark import _tasks

    def stop(*args: Any, **kw: Any) -> Any:
        raise _Reached

    monkeypatch.setattr(_tasks, "Choice", stop)
    size = n_options**n_choices
    if allowed:
        with pytest.raises(_Reached):
            _tasks.synthetic_qubo(0, n_choices=n_choices, n_options=n_options)
    else:
        with pytest.raises(ValueError) as e:
            _tasks.synthetic_qubo(0, n_choices=n_choices, n_options=n_options)
        assert (
            str(e.value) == f"n_options**n_choices must be <= 1000000 for brute force; got {size}"
        )


def test_a_spec_saves_a_data_set_under_its_registered_name() -> None:
    """``SpaceSpec.resolve``'s default (a user's spec inherits it): a data set of
    ``quarch.data`` given in another case, with underscores for dashes or with spaces
    around (the spellings ``load_dataset`` reads) is saved under its registered name, a
    ``dataset`` space option spelled as ``--dataset`` follows it, any other option is
    kept, and a config with nothing to change is returned as is."""
    import dataclasses

    from quarch.config import SearchConfig
    from quarch.spaces import SpaceSpec

    class Own(SpaceSpec):  # no overrides: the default resolve
        name = "own-resolve"

    spec = Own()
    # data sets ``quarch datasets`` lists (``list_datasets`` imports scikit-learn: seconds)
    for want in ("iris", "breast-cancer", "fashion-mnist", "wine"):
        for given in (want.upper(), f" {want.replace('-', '_')} ", want.title()):
            options = {"dataset": given, "depth": 2}
            cfg = SearchConfig(space="mlp", dataset=given, space_options=options, trials=7)
            got = spec.resolve(cfg)
            assert got == dataclasses.replace(
                cfg, dataset=want, space_options={"dataset": want, "depth": 2}
            )
            assert options == {"dataset": given, "depth": 2}  # the caller's dict untouched
            assert cfg.dataset == given and cfg.space_options == options
            # an option spelled otherwise is not --dataset's: left for the check to refuse
            other = dataclasses.replace(cfg, space_options={"dataset": "digits"})
            assert spec.resolve(other) == dataclasses.replace(other, dataset=want)
            plain = dataclasses.replace(cfg, space_options={})
            assert spec.resolve(plain) == dataclasses.replace(plain, dataset=want)
    for kept in ("iris", "irs", "cifar10", None):  # registered already, or no quarch.data set
        cfg = SearchConfig(space="mlp", dataset=kept, space_options={"dataset": "Iris"})
        assert spec.resolve(cfg) is cfg


def test_the_time_optuna_takes_to_tell_a_result_is_the_samplers(
    toy: types.ModuleType, studies: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A strategy learns in ``tell`` (its ``after_trial``): the table's sampler seconds
    hold that time for every evaluated trial, the evaluation seconds hold a skipped or
    failed trial's closing, and the two add up to the run's seconds. Each ``tell``
    costs 10 on the fake clock here."""
    import optuna

    real = optuna.study.Study.tell

    def slow_tell(self: Any, *args: Any, **kw: Any) -> Any:
        toy.CLOCK["perf"] += 10.0
        return real(self, *args, **kw)

    monkeypatch.setattr(optuna.study.Study, "tell", slow_tell)
    trials = 30
    row = run_one("costly_truth:toy", "random", 5, trials, None, ("params<=4",))
    (study,) = studies
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    asks, complete = len(states), states.count("COMPLETE")
    closed = states.count("PRUNED") + states.count("FAIL")
    assert complete and states.count("PRUNED") and states.count("FAIL")
    assert asks == complete + closed and complete + states.count("FAIL") == trials
    assert row["sampler_seconds"] == asks * 1 + complete * 10
    assert row["eval_seconds"] == asks * 1000 + trials * 100 + closed * 10
    assert row["seconds"] == row["sampler_seconds"] + row["eval_seconds"]


def test_a_judge_that_fails_is_named_with_the_pick_and_its_error(
    toy: types.ModuleType, studies: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task's own judge that raises on a pick stops the run with one line naming the
    pick and the judge's error (type and message), without a chained traceback."""

    def bad(a: dict[str, Any]) -> float:
        raise ZeroDivisionError(f"no score for a={a['a']}")

    monkeypatch.setattr(toy, "judge", bad)  # what the toy's tasks are judged by
    toy.FAIL_B.clear()
    with pytest.raises(ConfigError) as e:
        run_one("costly_truth:toy", "grid", 0, 1, None, ())
    (study,) = studies
    (first,) = study.get_trials(deepcopy=False)
    pick = {"a": first.params["a"], "b": first.params["b"]}
    assert str(e.value) == (
        f"the task's judge failed on the pick {pick!r}: ZeroDivisionError: "
        f"no score for a={pick['a']}"
    )
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_the_bar_of_worker_runs_names_a_strategy_and_counts_each_run_once(
    toy: types.ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With worker processes the bar's text is the strategy of the run that ended last
    (nothing before the first ends: never a placeholder), and its count is the runs
    done of all; its last line shows every run counted once."""
    import re

    import rich.progress

    shown: list[Any] = []

    class Recording(rich.progress.Progress):  # what the bar's text is after each change
        def add_task(self, *args: Any, **kw: Any) -> Any:
            tid = super().add_task(*args, **kw)
            shown.append(self._tasks[tid].description)
            return tid

        def update(self, task_id: Any, *args: Any, **kw: Any) -> None:
            super().update(task_id, *args, **kw)
            shown.append(self._tasks[task_id].description)

    monkeypatch.setattr(rich.progress, "Progress", Recording)
    toy.FAIL_B.clear()
    run_benchmark(task="costly_truth:toy", strategies=["random", "local"], seeds=2, trials=2,
                  out=str(tmp_path), workers=2)  # fmt: skip
    assert shown[0] == "" and len(shown) == 1 + 4
    assert sorted(shown[1:]) == ["local", "local", "random", "random"]
    assert re.fullmatch(r"benchmark costly (random|local) \u2501+ 4/4\n", capsys.readouterr().err)


def test_a_spec_refuses_wrong_names_before_the_search_with_checks_lines() -> None:
    """``SpaceSpec.check_names`` (asked by the CLI before torch is imported) refuses
    each name the space cannot take with the line the later checks give: a space option
    (``build_space``'s), an evaluator option and a ``device_profile`` that is no profile
    of the space's kinds (``check``'s, listing the profiles ``quarch devices --kind``
    lists). The default ``device_profiles`` is that option, for a space taking it."""
    from types import MappingProxyType

    from quarch.config import SearchConfig
    from quarch.cost.devices import list_devices
    from quarch.space import Choice, Space
    from quarch.spaces import SpaceSpec

    class Edge(SpaceSpec):  # a user's space on edge devices, the defaults otherwise
        name = "own-edge"
        needs_dataset = False
        evaluator_options = MappingProxyType({"device_profile": "an edge profile", "epochs": "e"})
        device_kinds = ("edge",)

        def space(self, *, depth: int = 1) -> Space:  # type: ignore[override]
            return Space([Choice("k", list(range(depth + 1)))], name=self.name)

    class Plain(Edge):  # takes no device_profile
        name = "own-plain"
        evaluator_options = MappingProxyType({"epochs": "e"})

    def cfg(space: dict[str, Any] | None = None, **ev: Any) -> Any:
        return SearchConfig(space="own-edge", evaluator_options=ev, space_options=space or {})

    def refused(check: Any, config: Any) -> str:
        with pytest.raises(ConfigError) as e:
            check(config)
        return str(e.value)

    spec = Edge()
    edge = [d["name"] for d in list_devices("edge")]
    quantum = [d["name"] for d in list_devices("quantum")]
    assert edge and quantum
    for name in edge:
        assert spec.device_profiles(cfg(device_profile=name, epochs=2)) == [name]
        spec.check_names(cfg({"depth": 2}, device_profile=name, epochs=2))
        spec.check(cfg(device_profile=name))
    assert spec.device_profiles(cfg(epochs=2)) == [] and spec.device_profiles(cfg()) == []
    assert spec.device_profiles(cfg(device_profile=7)) == ["7"]
    assert Plain().device_profiles(cfg(device_profile="raspi4")) == []  # not its option
    for bad in ("raspi9", quantum[0]):
        line = refused(spec.check_names, cfg(device_profile=bad))
        assert line.startswith(
            f"unknown device profile {bad!r} for this space (edge profiles); "
            f"known: {', '.join(edge)}"
        )
        assert refused(spec.check, cfg(device_profile=bad)) == line
    line = refused(spec.check_names, cfg(epoch=2, device_profile="raspi4"))
    assert line.startswith("space 'own-edge' takes no evaluator option 'epoch'; it takes: ")
    assert refused(spec.check, cfg(epoch=2)) == line
    line = refused(spec.check_names, cfg({"width": 3}, device_profile="raspi4"))
    assert line.startswith("space 'own-edge' takes no option 'width'; it takes: depth")
    assert refused(spec.build_space, cfg({"width": 3})) == line
