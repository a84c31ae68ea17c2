"""A stopped benchmark keeps the runs it finished, and the same command run again takes
them instead of running them again (session 38; the session-37 user audit).

Before, the rows of every (strategy, seed) run were held in memory until the last run:
Ctrl-C after 99 of 100 runs kept nothing, as did a worker that died and left the pool
waiting. The truth is the same benchmark run without a stop: a stopped and continued
benchmark has the same score, regret, pick and curve for every run, and runs only the
runs that were not finished.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import quarch.benchmark._harness as harness
import quarch.benchmark._journal as journal
from quarch._errors import RunError, RunExistsError
from quarch.benchmark import run_benchmark
from quarch.benchmark._harness import RUNS_FILE
from quarch.cli import main

from ._scope import per_module

#: What a run's result is, leaving out the clocks (they differ run to run).
_SAME = ("strategy", "seed", "score", "regret", "queries_to_target", "queries", "skipped",
         "picked", "optimum")  # fmt: skip
_ARGS: dict[str, Any] = {
    "task": "synthetic-qubo", "strategies": ["random", "local"], "seeds": 2, "trials": 6,
    "progress": False,
}  # fmt: skip


def _same(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [tuple(r[k] for k in _SAME) for r in rows]


_RUN_JOB = harness._run_job


class _StopAt:
    """``_run_job`` that raises Ctrl-C's exception at its ``n``-th call, counting calls."""

    def __init__(self, n: int | None) -> None:
        self.n = n
        self.calls: list[tuple[str, int]] = []

    def __call__(self, job: Any) -> dict[str, Any]:
        self.calls.append((job[1], job[2]))
        if len(self.calls) == self.n:
            raise KeyboardInterrupt
        return _RUN_JOB(job)


@pytest.fixture(scope=per_module)
def whole(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The benchmark run without a stop: the truth."""
    return run_benchmark(**_ARGS, out=str(tmp_path_factory.mktemp("whole") / "b"))


def test_a_stopped_benchmark_keeps_its_finished_runs_and_continues_them(
    whole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "b"
    stop = _StopAt(3)  # two runs finished, the third stopped
    monkeypatch.setattr(harness, "_run_job", stop)
    with pytest.raises(KeyboardInterrupt) as e:
        run_benchmark(**_ARGS, out=str(out))
    assert str(e.value) == (
        f"2 of 4 runs finished and are kept in {str(out / RUNS_FILE)!r}; run the same "
        "command again to finish it"
    )
    assert sorted(p.name for p in out.iterdir()) == [RUNS_FILE]  # no results yet
    lines = (out / RUNS_FILE).read_text().splitlines()
    assert [(r["strategy"], r["seed"]) for r in map(json.loads, lines[1:])] == stop.calls[:2]
    again = _StopAt(None)
    monkeypatch.setattr(harness, "_run_job", again)
    result = run_benchmark(**_ARGS, out=str(out))
    assert again.calls == [*stop.calls[2:], ("local", 1)]  # only the runs not finished
    assert _same(result.rows) == _same(whole.rows)
    for s in _ARGS["strategies"]:
        np.testing.assert_array_equal(result.curves[s], whole.curves[s])
    assert not (out / RUNS_FILE).exists()  # the results hold them now
    assert (out / "results.csv").read_text().splitlines()[0] == (
        Path(str(whole.out)) / "results.csv"
    ).read_text().splitlines()[0]
    assert "2 runs of a stopped benchmark: CPU time" in result.energy_method


def test_overwritten_settings_or_a_line_cut_short_run_again(
    whole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line cut short is run again; other settings are refused (before any run: see
    test_benchmark_other_settings_truth.py) unless ``overwrite``, which runs them all."""
    out = tmp_path / "b"
    monkeypatch.setattr(harness, "_run_job", _StopAt(3))
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(**_ARGS, out=str(out))
    text = (out / RUNS_FILE).read_text()
    (out / RUNS_FILE).write_text(text[: len(text) - 10])  # killed while writing run 2
    again = _StopAt(None)
    monkeypatch.setattr(harness, "_run_job", again)
    result = run_benchmark(**_ARGS, out=str(out))
    assert len(again.calls) == 3 and _same(result.rows) == _same(whole.rows)
    monkeypatch.setattr(harness, "_run_job", _StopAt(2))
    with pytest.raises(KeyboardInterrupt, match="1 of 4 runs finished"):
        run_benchmark(**_ARGS, out=str(out))
    other = _StopAt(None)  # more trials: a kept run of 6 is not one of 7
    monkeypatch.setattr(harness, "_run_job", other)
    with pytest.raises(RunExistsError, match=r"holds 1 run of a stopped benchmark"):
        run_benchmark(**{**_ARGS, "trials": 7}, out=str(out))
    assert other.calls == []
    result = run_benchmark(**{**_ARGS, "trials": 7}, out=str(out), overwrite=True)
    assert len(other.calls) == 4 and len(result.curves["random"][0]) == 7


def test_a_stop_before_any_run_finished_leaves_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(harness, "_run_job", _StopAt(1))
    with pytest.raises(KeyboardInterrupt) as e:
        run_benchmark(**_ARGS, out=str(tmp_path / "b"))
    assert e.value.args == ()
    assert list(tmp_path.iterdir()) == []


def test_the_command_says_where_the_runs_are_and_continues_them(
    whole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "b"
    argv = ["benchmark", "--task", "synthetic-qubo", "--strategies", "random,local",
            "--seeds", "2", "--trials", "6", "--out", str(out), "--json"]  # fmt: skip
    monkeypatch.setattr(harness, "_run_job", _StopAt(4))
    assert main(argv) == 130
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: interrupted; 3 of 4 runs finished and are kept in "
        f"{str(out / RUNS_FILE)!r}; run the same command again to finish it\n"
    )
    monkeypatch.setattr(harness, "_run_job", _StopAt(None))
    assert main(argv) == 0
    got = json.loads(capsys.readouterr().out)["strategies"]
    for s, want in whole.to_json()["strategies"].items():
        assert {k: got[s][k] for k in ("mean", "std", "regret")} == {
            k: want[k] for k in ("mean", "std", "regret")
        }
    assert _csv(out) == _csv(Path(str(whole.out)))


def _csv(folder: Path) -> list[tuple[str, ...]]:
    """``results.csv``'s columns of :data:`_SAME`, as written."""
    with open(folder / "results.csv", newline="") as f:
        return [tuple(r[k] for k in _SAME if k in r) for r in csv.DictReader(f)]


def test_workers_take_the_kept_runs_too(
    whole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "b"
    monkeypatch.setattr(harness, "_run_job", _StopAt(4))
    with pytest.raises(KeyboardInterrupt):
        run_benchmark(**_ARGS, out=str(out))
    assert len((out / RUNS_FILE).read_text().splitlines()) == 1 + 3  # settings, 3 runs
    monkeypatch.undo()
    result = run_benchmark(**_ARGS, out=str(out), workers=2)
    assert _same(result.rows) == _same(whole.rows)
    assert not (out / RUNS_FILE).exists()


def test_a_stop_while_the_results_are_written_keeps_every_run(
    whole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.benchmark import BenchmarkResult

    def stop(self: Any, path: Path) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the plot is drawn

    out = tmp_path / "b"
    with monkeypatch.context() as m:
        m.setattr(BenchmarkResult, "_plot", stop)
        with pytest.raises(KeyboardInterrupt, match=r"^4 of 4 runs finished and are kept"):
            run_benchmark(**_ARGS, out=str(out))
    assert sorted(p.name for p in out.iterdir()) == [RUNS_FILE]
    again = _StopAt(None)
    monkeypatch.setattr(harness, "_run_job", again)
    result = run_benchmark(**_ARGS, out=str(out))
    assert again.calls == [] and _same(result.rows) == _same(whole.rows)
    assert (out / "best_so_far.png").is_file() and not (out / RUNS_FILE).exists()


def test_a_line_that_is_no_run_is_not_taken(tmp_path: Path) -> None:
    """A line of the right JSON but no run (a seed, no curve) is run again, not taken."""
    settings = journal._settings("synthetic-qubo", 6, (), None)
    good = {"strategy": "random", "seed": 0, "curve": [1.0]}
    lines = [{"settings": settings}, good, {"strategy": "random", "seed": 1},
             {"strategy": "local", "seed": "0", "curve": []}, {"seed": 2, "curve": []}, [1]]  # fmt: skip
    (tmp_path / RUNS_FILE).write_text("".join(json.dumps(x) + "\n" for x in lines))
    assert journal._Journal(tmp_path, settings).kept == {("random", 0): good}
    with pytest.raises(RunExistsError, match=r"holds 1 run of .* \(trials 6, not 7\)"):
        journal._Journal(tmp_path, {**settings, "trials": 7})
    assert journal._Journal(tmp_path, {**settings, "trials": 7}, overwrite=True).kept == {}
    assert journal._Journal(tmp_path, settings, overwrite=True).kept == {}


def test_runs_kept_over_two_stops_and_numpy_numbers(
    whole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped twice: the second stop's file holds the first's runs and its own; a run
    holding NumPy numbers (a task's own judge may return them) is written as numbers."""
    out = tmp_path / "b"

    class _NumPy(_StopAt):
        def __call__(self, job: Any) -> dict[str, Any]:
            row = super().__call__(job)
            return {**row, "queries": np.int64(row["queries"]), "curve": np.array(row["curve"])}

    monkeypatch.setattr(harness, "_run_job", _NumPy(3))
    with pytest.raises(KeyboardInterrupt, match=r"^2 of 4 runs"):
        run_benchmark(**_ARGS, out=str(out))
    monkeypatch.setattr(harness, "_run_job", _StopAt(2))
    with pytest.raises(KeyboardInterrupt, match=r"^3 of 4 runs"):
        run_benchmark(**_ARGS, out=str(out))
    kept = [json.loads(line) for line in (out / RUNS_FILE).read_text().splitlines()[1:]]
    assert [(r["strategy"], r["seed"]) for r in kept] == [("random", 0), ("random", 1),
                                                           ("local", 0)]  # fmt: skip
    last = _StopAt(None)
    monkeypatch.setattr(harness, "_run_job", last)
    result = run_benchmark(**_ARGS, out=str(out))
    assert last.calls == [("local", 1)] and _same(result.rows) == _same(whole.rows)


def test_runs_that_all_failed_are_not_kept_nor_their_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every evaluation failed: the benchmark is an error, and the runs (worth nothing,
    and stale once the task is fixed) go with the folders made for them."""

    def failed(job: Any) -> dict[str, Any]:
        return {**_RUN_JOB(job), "failed": 6, "queries": 6, "first_failure": "boom"}

    monkeypatch.setattr(harness, "_run_job", failed)
    with pytest.raises(RunError, match="every evaluation failed"):
        run_benchmark(**_ARGS, out=str(tmp_path / "a" / "b"))
    assert list(tmp_path.iterdir()) == []


def test_a_runs_file_removed_while_it_runs_is_no_error(
    whole: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "a" / "b"  # two folders to make

    def removing(job: Any) -> dict[str, Any]:
        if job[1:3] == ("local", 1):
            (out / RUNS_FILE).unlink()  # a user tidying up
        return _RUN_JOB(job)

    monkeypatch.setattr(harness, "_run_job", removing)
    result = run_benchmark(**_ARGS, out=str(out))
    assert _same(result.rows) == _same(whole.rows)
    assert sorted(p.name for p in out.iterdir()) == ["benchmark.json", "best_so_far.png",
                                                     "curves.csv", "results.csv"]  # fmt: skip


def test_the_settings_a_kept_run_must_share() -> None:
    """The first line of the runs file, as written here by hand: a run is taken only by
    a benchmark of the same task, trials, budgets, data folder and quarch version (a
    task of the user's own adds its code: test_benchmark_other_settings_truth.py)."""
    import quarch

    assert journal._settings("synthetic-qubo", 6, ("a<=1",), "/d") == {
        "task": "synthetic-qubo", "trials": 6, "budgets": ["a<=1"], "data_dir": "/d",
        "quarch": quarch.__version__,
    }  # fmt: skip
    assert journal._settings("synthetic-qubo", 6, (), None)["data_dir"] is None
