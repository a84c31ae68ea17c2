"""A benchmark run stopped by its cap on asks says why, as the search's give-up does.

``run_one`` asks a strategy again for an architecture over a budget known before
training, up to ``MAX_ASKS_PER_QUERY * trials`` asks in all. A budget that no
architecture of the task meets ended every run at that cap with nothing picked, and
nothing was said: the table showed ``[0 feasible]`` and blanks, exit 0. Each run now
carries a ``stopped`` line naming the budget, the value nearest it among the skipped
architectures and what to do (the harness reads and drops it).

Truth: brute force over a tiny task (cells ``a`` in 0..99, ``params = a``, known
before training): which cells meet the budget, and, from the trials the run's study
stored, how many were asked, skipped and queried, and the nearest value among the
skipped ones (the loosened budget the line suggests admits it).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quarch.benchmark._run import MAX_ASKS_PER_QUERY, run_one
from quarch.objectives import Budget

TASK = """
from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

SPACE = Space([Choice("a", list(range(100)))], name="wide")


class Wide:
    fingerprint = ""

    def cheap_metrics(self, arch):
        return {"params": float(arch["a"])}

    def evaluate(self, arch, *, seed):
        return {"val_error": arch["a"] / 100, "params": float(arch["a"])}


def wide(*, seed=0, budgets=()):
    return Task(
        name="wide", space=SPACE, evaluator=Wide(),
        objective=task_objective(budgets, {"val_error": 0.0, "params": 0.0}),
        judge=lambda a: 1.0 + a["a"], maximize=False, optimum=1.0, target=1.5,
        score_name="distance",
    )
"""
CELLS = range(100)


@pytest.fixture
def studies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """The task above as ``skipcap_truth:wide``; every study ``run_one`` creates."""
    import optuna

    (tmp_path / "skipcap_truth.py").write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("skipcap_truth", None)
    made: list[Any] = []
    real = optuna.create_study

    def create(*args: Any, **kw: Any) -> Any:
        made.append(real(*args, **kw))
        return made[-1]

    monkeypatch.setattr(optuna, "create_study", create)
    yield made
    sys.modules.pop("skipcap_truth", None)


def _stored(study: Any) -> tuple[list[int], list[int]]:
    """The cells a run skipped and those it queried, from its study's trials."""
    trials = study.get_trials(deepcopy=False)
    skipped = [t.params["a"] for t in trials if t.state.name == "PRUNED"]
    return skipped, [t.params["a"] for t in trials if t.state.name != "PRUNED"]


def _line(asks: int, skipped: int, queries: int, trials: int, had: str, budget: str) -> str:
    op = budget[len("params") : len("params") + 2]
    return (
        f"stopped at the cap of {asks} asks ({MAX_ASKS_PER_QUERY} per query): {skipped} "
        f"architectures were over budget before training, with {queries} of {trials} "
        f"queries done; the nearest had params={had} against {budget}: loosen the budget "
        f"to params{op}{had} or looser, or narrow the space"
    )


@pytest.mark.parametrize(("budget", "nearest"), [("params<=-1", min), ("params>=100", max)])
def test_a_budget_no_cell_meets_stops_at_the_cap_naming_the_nearest(
    budget: str, nearest: Any, studies: list[Any]
) -> None:
    """No cell meets the budget (brute force): every ask is skipped until the cap, and
    the line names the nearest value among the skipped cells, and a loosened budget
    that admits it."""
    limit = float(budget.split("=")[1])
    assert not [a for a in CELLS if (a <= limit if "<=" in budget else a >= limit)]
    trials = 2
    row = run_one("skipcap_truth:wide", "random", 0, trials, None, (budget,))
    skipped, queried = _stored(studies[0])
    asks = MAX_ASKS_PER_QUERY * trials
    assert (len(skipped), queried) == (asks, [])
    assert (row["queries"], row["skipped"]) == (0, asks)
    had = nearest(skipped)
    assert row["stopped"] == _line(asks, asks, 0, trials, str(had), budget)
    op = budget[len("params") : len("params") + 2]
    assert Budget.parse(f"params{op}{had}").violation(had) <= 0  # the advice admits it


def test_a_strategy_that_keeps_proposing_over_budget_stops_with_what_it_did(
    studies: list[Any],
) -> None:
    """Only cell 0 meets ``params<=0`` (brute force): random search over 100 cells finds
    it about once in 100 asks, so a run of 3 queries (150 asks) stops short with the
    queries it made; the line counts them and names the nearest skipped value. The
    seed is the first whose run queried at least once and stopped short."""
    trials, asks = 3, MAX_ASKS_PER_QUERY * 3
    assert [a for a in CELLS if a <= 0] == [0]
    for seed in range(50):
        row = run_one("skipcap_truth:wide", "random", seed, trials, None, ("params<=0",))
        skipped, queried = _stored(studies[-1])
        if 0 < len(queried) < trials:
            break
    else:
        pytest.fail("no seed of 50 queried once or twice in 150 asks")
    assert set(queried) == {0} and 0 not in skipped
    assert len(skipped) + len(queried) == asks
    assert (row["queries"], row["skipped"]) == (len(queried), len(skipped))
    assert row["stopped"] == _line(asks, len(skipped), len(queried), trials, str(min(skipped)),
                                   "params<=0")  # fmt: skip


def test_a_run_that_finishes_its_queries_has_no_stop_line(studies: list[Any]) -> None:
    """Skips along the way (cells over ``params<=49``) but every query made: no line,
    however many were skipped (truth: the stored trials)."""
    row = run_one("skipcap_truth:wide", "random", 1, 5, None, ("params<=49",))
    skipped, queried = _stored(studies[0])
    assert skipped and all(a > 49 for a in skipped) and all(a <= 49 for a in queried)
    assert (row["queries"], row["skipped"], row["stopped"]) == (5, len(skipped), "")


def test_the_cap_is_on_the_run_not_on_each_query(studies: list[Any]) -> None:
    """More than ``MAX_ASKS_PER_QUERY`` skips in a row do not stop a run that has asked
    less than its cap: only cells 0 and 1 meet ``params<=1``; a seed whose run skipped
    more than 50 in a row and still made all its queries shows it (the module's words:
    a cap on the whole run)."""
    trials = 4
    for seed in range(200):
        row = run_one("skipcap_truth:wide", "random", seed, trials, None, ("params<=1",))
        trials_ = sorted(studies[-1].get_trials(deepcopy=False), key=lambda t: t.number)
        longest = run = 0
        for t in trials_:
            run = run + 1 if t.state.name == "PRUNED" else 0
            longest = max(longest, run)
        if longest > MAX_ASKS_PER_QUERY and row["queries"] == trials:
            break
    else:
        pytest.fail("no seed of 200 skipped more than 50 in a row and finished")
    assert row["stopped"] == "" and len(trials_) < MAX_ASKS_PER_QUERY * trials
    assert row["skipped"] == len(trials_) - trials


# -- what the harness makes of the stop lines (quarch benchmark) ---------------------------
def test_a_benchmark_no_run_of_which_meets_the_budget_is_one_line_and_writes_nothing(
    studies: list[Any], tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Every run stops at its cap with no query (no cell meets ``params<=-1``): exit 2,
    one line quoting the first run's stop line, no results written and no runs file
    left (the same command would only stop again)."""
    from quarch.cli import main

    out = tmp_path / "bench"
    code = main(["benchmark", "--task", "skipcap_truth:wide", "--strategies", "random,evolution",
                 "--seeds", "2", "--trials", "2", "--budget", "params<=-1", "--out", str(out),
                 "--quiet"])  # fmt: skip
    got, err = capfd.readouterr()
    assert len(studies) == 4 and all(_stored(s)[1] == [] for s in studies)
    first = min(_stored(studies[0])[0])  # random, seed 0: the first run
    assert (code, got) == (2, "")
    assert err == (
        "error: benchmark wide: no run found an architecture within the budget; the first "
        f"(random, seed 0: {_line(100, 100, 0, 2, str(first), 'params<=-1')})\n"
    )
    assert not out.exists() or list(out.iterdir()) == []


def test_runs_stopped_short_beside_ones_that_finished_are_one_warning(
    studies: list[Any], tmp_path: Path
) -> None:
    """Cells 0 and 1 meet ``params<=1``: of 3 seeds x 3 queries some runs stop short
    (truth: the stored trials of each run), one warning says how many and quotes the
    first; the rows and ``results.csv`` keep no ``stopped`` column."""
    from quarch._warnings import QuarchWarning
    from quarch.benchmark import run_benchmark

    with pytest.warns(QuarchWarning) as caught:
        r = run_benchmark(task="skipcap_truth:wide", strategies="random", seeds=3, trials=3,
                          budgets="params<=1", out=str(tmp_path / "b"), progress=False)  # fmt: skip
    short = [k for k, s in enumerate(studies) if len(_stored(s)[1]) < 3]
    assert 0 < len(short) < 3  # some, not all (else the error above)
    k = short[0]
    skipped, queried = _stored(studies[k])
    line = _line(150, len(skipped), len(queried), 3, str(min(skipped)), "params<=1")
    said = [str(w.message) for w in caught if "stopped short" in str(w.message)]
    assert said == [f"benchmark wide: {len(short)} of 3 runs stopped short of their queries; "
                    f"the first (random, seed {k}: {line})"]  # fmt: skip
    assert [row["queries"] for row in r.rows] == [len(_stored(s)[1]) for s in studies]
    assert all("stopped" not in row for row in r.rows)
    header = (tmp_path / "b" / "results.csv").read_text().splitlines()[0]
    assert "stopped" not in header.split(",")
