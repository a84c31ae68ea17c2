"""A run's life as a user meets it (issue 20): nothing written before it can start,
replacing a run on purpose, resuming from another folder, and saying why it stopped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from quarch import ConfigError, RunError
from quarch._errors import RunExistsError
from quarch.config import SearchConfig
from quarch.study import Run, resume_search, run_search
from quarch.testing.evaluators import ArithmeticEvaluator

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


class _Failing(ArithmeticEvaluator):
    def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
        raise RuntimeError("no GPU left")


def _cfg(tmp_path: Path, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {"space": "mlp", "dataset": "iris", "trials": 4,
                            "out": str(tmp_path / "run")}  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def test_a_failed_start_writes_nothing(tmp_path: Path) -> None:
    """The storage is checked before any file is written; a new parent folder goes too."""
    cfg = _cfg(tmp_path, out=str(tmp_path / "runs" / "x"), storage="foo://bar")
    with pytest.raises(RunError, match="cannot open storage 'foo://bar'"):
        run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    assert list(tmp_path.iterdir()) == []
    run_search(_cfg(tmp_path, out=str(tmp_path / "runs" / "x")), progress=False,
               evaluator=ArithmeticEvaluator())  # fmt: skip  # the next try just works


def test_a_failed_start_in_a_used_folder_keeps_what_was_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A start that fails after writing (here: creating the study) removes only the files
    it wrote; a user's own file in the folder stays."""
    import optuna

    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")

    def refuse(*a: Any, **k: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(optuna, "create_study", refuse)
    with pytest.raises(RuntimeError, match="disk full"):
        run_search(_cfg(tmp_path), progress=False, evaluator=ArithmeticEvaluator())
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_existing_run_asks_for_resume_or_overwrite_in_api_words(tmp_path: Path) -> None:
    run_search(_cfg(tmp_path), progress=False, evaluator=ArithmeticEvaluator())
    with pytest.raises(RunExistsError) as e:
        run_search(_cfg(tmp_path), progress=False, evaluator=ArithmeticEvaluator())
    assert "pass resume=True to continue it, overwrite=True to replace it" in str(e.value)
    assert "quarch search" not in str(e.value)


def test_overwrite_replaces_the_run_and_keeps_other_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_search(_cfg(tmp_path, trials=6), progress=False, evaluator=ArithmeticEvaluator())
    (out / "notes.txt").write_text("mine")
    (out / "report").mkdir()
    result = run_search(_cfg(tmp_path, trials=2, seed=5), progress=False, overwrite=True,
                        evaluator=ArithmeticEvaluator())  # fmt: skip
    assert len(result.trials) == 2 and result.done == 2
    assert (out / "notes.txt").read_text() == "mine"
    assert not (out / "report").exists()
    assert json.loads((out / "config.json").read_text())["seed"] == 5
    with pytest.raises(ConfigError, match="either resume"):
        run_search(_cfg(tmp_path), resume=True, overwrite=True, progress=False)


def test_stop_reasons(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, trials=3)
    res = run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    assert res.stopped == "budget" and res.to_json()["stopped"] == "budget"
    again = run_search(cfg, resume=True, progress=False, evaluator=ArithmeticEvaluator())
    assert again.stopped == "already complete" and len(again.trials) == 3
    slow = _cfg(tmp_path, out=str(tmp_path / "slow"), trials=50, timeout=0.5)
    res = run_search(slow, progress=False, evaluator=ArithmeticEvaluator(delay=0.2))
    assert res.stopped == "timeout" and 0 < res.done < 50


def test_giving_up_says_how_far_the_run_got(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.study import _worker

    monkeypatch.setattr(_worker, "MAX_CONSECUTIVE_FAILURES", 4)  # 25 in a real run
    with pytest.raises(RunError) as e:
        run_search(_cfg(tmp_path, trials=40), progress=False, evaluator=_Failing())
    assert str(e.value) == (
        "gave up: 4 trials in a row failed, with 0 of 40 trials done; the last failed "
        "with: RuntimeError: no GPU left"
    )
    assert len(Run.open(tmp_path / "run").result().failed) == 4


def test_relative_data_dir_is_stored_absolute_and_resumes_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (SHARED / "nb201" / "nb201_cifar.csv").is_file():
        pytest.skip("shared nb201 table absent")
    work = tmp_path / "work"
    work.mkdir()
    (work / "data").symlink_to(SHARED.resolve(), target_is_directory=True)
    monkeypatch.chdir(work)
    cfg = SearchConfig(space="nb201", trials=3, data_dir="data", out="run")
    run_search(cfg, progress=False)
    stored = Run.open(work / "run").config
    assert stored.dataset == "cifar10"  # the space's default data set, saved with the run
    assert stored.data_dir == str((work / "data").resolve())
    monkeypatch.chdir(tmp_path)
    assert resume_search(work / "run", trials=5, progress=False).done == 5


def test_a_moved_run_finds_its_data_through_quarch_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose stored data folder is gone (another machine) resumes with the data
    in $QUARCH_DATA_DIR, or with --data-dir; the fingerprint still has to match."""
    if not (SHARED / "nb201" / "nb201_cifar.csv").is_file():
        pytest.skip("shared nb201 table absent")
    copy = tmp_path / "copy"
    (copy / "nb201").mkdir(parents=True)
    shutil.copy(SHARED / "nb201" / "nb201_cifar.csv", copy / "nb201")
    run_search(SearchConfig(space="nb201", trials=2, data_dir=str(copy), out=str(tmp_path / "r")),
               progress=False)  # fmt: skip
    shutil.move(copy, tmp_path / "moved")
    monkeypatch.delenv("QUARCH_DATA_DIR", raising=False)
    with pytest.raises(Exception, match="NAS-Bench-201 table not found"):
        resume_search(tmp_path / "r", trials=3, progress=False)
    monkeypatch.setenv("QUARCH_DATA_DIR", str(tmp_path / "moved"))
    assert resume_search(tmp_path / "r", trials=3, progress=False).done == 3
    monkeypatch.delenv("QUARCH_DATA_DIR")
    res = resume_search(tmp_path / "r", trials=4, progress=False,
                        overrides={"data_dir": str(tmp_path / "moved")})  # fmt: skip
    assert res.done == 4
    with pytest.raises(RunError, match="data fingerprint"):  # another table: refused
        resume_search(tmp_path / "r", trials=5, progress=False,
                      overrides={"data_dir": str(SHARED)})  # fmt: skip


def test_a_trial_number_that_is_not_an_integer(tmp_path: Path) -> None:
    """``run.trial("0")`` said the run "has no trial 0; it has 0..2" and
    ``run.trial(True)`` returned trial 1 (True == 1); both are one clear refusal."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "runs-0.1.0" / "hqnn-iris"
    shutil.copytree(fixture, tmp_path / "run")
    run = Run.open(tmp_path / "run")
    assert run.trial(1).number == 1
    for bad in ("1", True, 1.0):
        with pytest.raises(RunError, match=rf"^a trial number is an integer; got {bad!r}$"):
            run.trial(bad)  # type: ignore[arg-type]
