"""The search loop's claims (``quarch/study/_loop.py``), each against its docstring.

Nothing is written before a run can start and a failed start leaves no half run; a
run folder holds what ``_run.py``'s layout says, written when the docstrings say; a
resumed run continues where the old one stopped; every refusal is the documented one.
Metrics come from :class:`ArithmeticEvaluator`, whose closed forms are the truth.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest
import torch

import quarch
from quarch import ConfigError, RunError
from quarch._errors import RunExistsError
from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.spaces import get_spec
from quarch.study import (
    Run,
    _loop,
    check_search,
    join_study,
    load_result,
    open_study,
    resume_config,
    resume_search,
    run_search,
    space_for,
)
from quarch.study._loop import _first_missing, _names, _with_defaults, check_pruner
from quarch.testing.evaluators import ArithmeticEvaluator


def _cfg(tmp_path: Path, name: str = "run", **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {"space": "mlp", "dataset": "iris", "trials": 3,
                            "strategy": "random", "out": str(tmp_path / name)}  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def _files(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


# -- what a run writes -------------------------------------------------------------------
def test_the_run_folder_holds_the_documented_files_and_metadata(tmp_path: Path) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cfg = _cfg(tmp_path, dataset=None, seed=4, objectives=["val_error", "params"])
    res = run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    after = dt.datetime.now(dt.UTC)
    run = tmp_path / "run"
    assert _files(run) == ["config.json", "run.json", "study.db"]
    meta = json.loads((run / "run.json").read_text())
    assert set(meta) == {"quarch_version", "seed", "fingerprint", "storage", "study_name",
                         "space", "space_size", "objective", "created", "software"}  # fmt: skip
    assert meta["quarch_version"] == quarch.__version__ == meta["software"]["quarch"]
    assert meta["software"]["torch"] == torch.__version__
    assert meta["software"]["optuna"] == optuna.__version__
    assert meta["software"]["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert meta["seed"] == 4 and meta["fingerprint"] == ArithmeticEvaluator.fingerprint
    assert meta["storage"] == "sqlite" and meta["study_name"] == "quarch"
    assert meta["space"] == "mlp" and meta["space_size"] == space_for(cfg).size
    want = Objective(["val_error", "params"]).to_dict()
    assert meta["objective"] == want
    created = dt.datetime.fromisoformat(meta["created"])
    assert before <= created <= after and created.tzinfo is not None
    saved = json.loads((run / "config.json").read_text())
    stored = dataclasses.replace(cfg, dataset="iris")  # the space's default, resolved
    assert saved == json.loads(json.dumps(stored.to_dict()))
    assert res.config == stored
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{run / 'study.db'}")
    assert study.user_attrs["quarch:config"] == saved
    assert study.user_attrs["quarch:fingerprint"] == ArithmeticEvaluator.fingerprint
    assert study.user_attrs["quarch:version"] == quarch.__version__
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"]


def test_a_maximized_metric_makes_a_maximizing_study(tmp_path: Path) -> None:
    class Acc(ArithmeticEvaluator):
        def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
            out = super().evaluate(arch, seed=seed)
            return {**out, "val_accuracy": 1.0 - out["val_error"]}

    res = run_search(_cfg(tmp_path, objectives=["val_accuracy"], trials=4), progress=False,
                     evaluator=Acc())  # fmt: skip
    assert [d.name for d in open_study(tmp_path / "run").directions] == ["MAXIMIZE"]
    best = max(res.complete, key=lambda t: t.metrics["val_accuracy"])
    assert res.best is not None and res.best.number == best.number


def test_a_resumed_run_keeps_its_creation_time_and_continues(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, trials=2)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    meta_path = tmp_path / "run" / "run.json"
    meta = json.loads(meta_path.read_text())
    meta["created"] = "2001-02-03T04:05:06+00:00"
    meta_path.write_text(json.dumps(meta))
    seen: list[tuple[int, int, int]] = []
    res = run_search(
        dataclasses.replace(cfg, trials=4), resume=True, progress=False,
        evaluator=ArithmeticEvaluator(), on_trial=lambda d, n, r: seen.append((d, n, r.number)),
    )  # fmt: skip
    assert json.loads(meta_path.read_text())["created"] == "2001-02-03T04:05:06+00:00"
    assert seen == [(3, 4, 2), (4, 4, 3)]  # done after each trial, the target, the trial
    assert [t.number for t in res.trials] == [0, 1, 2, 3] and res.stopped == "budget"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["trials"] == 4


def test_a_resume_that_names_the_runs_own_study_file_continues_it(tmp_path: Path) -> None:
    """A SQLite URL of the run folder's ``study.db`` is the run's own storage, not a
    different one (it was refused); the run stays a plain SQLite run."""
    cfg = _cfg(tmp_path, trials=2)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    url = f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    res = run_search(dataclasses.replace(cfg, trials=3, storage=url), resume=True,
                     progress=False, evaluator=ArithmeticEvaluator())  # fmt: skip
    assert [t.number for t in res.trials] == [0, 1, 2]
    assert json.loads((tmp_path / "run" / "run.json").read_text())["storage"] == "sqlite"
    assert json.loads((tmp_path / "run" / "config.json").read_text())["storage"] is None
    study = optuna.load_study(study_name="quarch", storage=url)
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3


def test_a_run_without_a_creation_time_gets_one_on_resume(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, trials=1)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    meta_path = tmp_path / "run" / "run.json"
    meta = json.loads(meta_path.read_text())
    del meta["created"]
    meta_path.write_text(json.dumps(meta))
    run_search(dataclasses.replace(cfg, trials=2), resume=True, progress=False,
               evaluator=ArithmeticEvaluator())  # fmt: skip
    created = json.loads(meta_path.read_text())["created"]
    assert abs(dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(created)) < dt.timedelta(
        minutes=5
    )


def test_an_already_complete_run_trains_nothing_and_shows_no_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _cfg(tmp_path, trials=2)
    run_search(cfg, progress=True, evaluator=ArithmeticEvaluator())
    err = capsys.readouterr().err
    assert "search" in err and "2/2" in err  # the bar, at its end
    calls: list[int] = []

    class Counting(ArithmeticEvaluator):
        def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
            calls.append(seed)
            return super().evaluate(arch, seed=seed)

    hooks: list[int] = []
    res = run_search(cfg, resume=True, progress=True, evaluator=Counting(),
                     on_trial=lambda d, n, r: hooks.append(d))  # fmt: skip
    assert res.stopped == "already complete" and calls == [] and hooks == []
    assert capsys.readouterr().err == ""
    assert res.seconds is not None and 0 <= res.seconds < 60


def test_the_bar_is_shown_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    res = run_search(_cfg(tmp_path, trials=2, objectives=["val_error"]),
                     evaluator=ArithmeticEvaluator())  # fmt: skip
    err = capsys.readouterr().err
    best = min(t.metrics["val_error"] for t in res.complete)
    assert "2/2" in err and f"best val_error={best:.4g}" in err  # each trial reaches the bar


def test_progress_false_prints_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_search(_cfg(tmp_path, trials=2), progress=False, evaluator=ArithmeticEvaluator())
    assert capsys.readouterr().err == ""


# -- nothing written before the run can start ---------------------------------------------
def test_check_search_writes_nothing_and_returns_the_stored_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    cfg = SearchConfig(space="mlp", trials=2, data_dir="data", out="runs/x")
    out = check_search(cfg)
    assert out.dataset == "iris" and out.data_dir == str(tmp_path / "data")
    assert out == dataclasses.replace(cfg, dataset="iris", data_dir=str(tmp_path / "data"))
    assert _files(tmp_path) == ["data"]
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    with pytest.raises(RunExistsError) as e:
        check_search(cfg)
    assert e.value.run_dir == "runs/x"
    # the data are loaded too: the registered evaluator's fingerprint is not the run's
    with pytest.raises(RunError, match="its data fingerprint arithmetic differs"):
        check_search(cfg, resume=True)
    assert check_search(cfg, overwrite=True) == out
    assert json.loads(Path("runs/x/config.json").read_text())["trials"] == 2  # untouched


def test_data_dir_is_expanded_and_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    spec = get_spec("mlp")
    cfg = SearchConfig(space="mlp", data_dir="~/d", storage="postgresql://ann:pw@h/db")
    out = _with_defaults(cfg, spec)
    assert out.data_dir == str(tmp_path / "d") and out.dataset == "iris"
    assert out.storage == "postgresql://ann@h/db"  # the password is never stored
    # without a spec (a custom space) the data set stays as given
    assert _with_defaults(cfg, None).dataset is None
    plain = SearchConfig(space="mlp", dataset="wine")
    assert _with_defaults(plain, spec) is plain  # nothing to resolve: the same config


def test_grid_asks_for_at_most_its_cells(tmp_path: Path) -> None:
    size = space_for(_cfg(tmp_path)).size
    check_search(_cfg(tmp_path, strategy="grid", trials=size))
    with pytest.raises(ConfigError) as e:
        check_search(_cfg(tmp_path, strategy="grid", trials=size + 1))
    assert str(e.value) == (
        f"strategy 'grid' proposes each of {size} architectures once; "
        f"--trials must be at most {size}"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_failed_start_removes_the_parents_it_made_and_keeps_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run folder goes, and each new parent unless something else appeared in it."""
    real = optuna.create_study

    def refuse(*a: Any, **k: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(optuna, "create_study", refuse)
    deep = _cfg(tmp_path, out=str(tmp_path / "a" / "b" / "c"))
    with pytest.raises(RuntimeError, match="disk full"):
        run_search(deep, progress=False, evaluator=ArithmeticEvaluator())
    assert list(tmp_path.iterdir()) == []

    def refuse_after_another_run(*a: Any, **k: Any) -> Any:
        (tmp_path / "a" / "other").mkdir()  # another run's folder, made meanwhile
        raise RuntimeError("disk full")

    monkeypatch.setattr(optuna, "create_study", refuse_after_another_run)
    with pytest.raises(RuntimeError, match="disk full"):
        run_search(deep, progress=False, evaluator=ArithmeticEvaluator())
    assert _files(tmp_path) == ["a", "a/other"]

    (tmp_path / "keep").mkdir()
    monkeypatch.setattr(optuna, "create_study", refuse)
    with pytest.raises(RuntimeError, match="disk full"):
        run_search(_cfg(tmp_path, out=str(tmp_path / "keep" / "x")), progress=False,
                   evaluator=ArithmeticEvaluator())  # fmt: skip
    assert _files(tmp_path / "keep") == []  # the existing parent stays, empty
    monkeypatch.setattr(optuna, "create_study", real)
    run_search(deep, progress=False, evaluator=ArithmeticEvaluator())  # the next try works


def test_a_failed_resume_keeps_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _cfg(tmp_path, trials=2)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    run = tmp_path / "run"
    before = {name: (run / name).read_bytes() for name in ("config.json", "run.json")}

    def refuse(*a: Any, **k: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(optuna, "create_study", refuse)
    with pytest.raises(RuntimeError, match="disk full"):
        run_search(dataclasses.replace(cfg, trials=3), resume=True, progress=False,
                   evaluator=ArithmeticEvaluator())  # fmt: skip
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "run.json", "study.db"]
    assert (run / "run.json").read_bytes() == before["run.json"]
    assert len(load_result(run).complete) == 2


def test_overwrite_removes_every_file_and_folder_of_a_run(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, trials=2)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    run = tmp_path / "run"
    for folder in ("weights", "train", "report"):
        (run / folder).mkdir()
        (run / folder / "x").write_text("old")
    for name in ("journal.log", "study.db-wal", "study.db-shm"):
        (run / name).write_text("old")
    (run / "mine").mkdir()
    res = run_search(cfg, overwrite=True, progress=False, evaluator=ArithmeticEvaluator())
    assert _files(run) == ["config.json", "mine", "run.json", "study.db"]
    assert len(res.trials) == 2


def test_overwrite_of_a_folder_without_a_run_writes_a_new_one(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "journal.log").write_text("not a journal")
    res = run_search(_cfg(tmp_path, trials=2, workers=1), overwrite=True, progress=False,
                     evaluator=ArithmeticEvaluator())  # fmt: skip
    assert len(res.complete) == 2 and not (run / "journal.log").exists()


def test_an_existing_run_is_refused_with_its_folder(tmp_path: Path) -> None:
    cfg = _cfg(tmp_path, trials=1)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    with pytest.raises(RunExistsError) as e:
        run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    path = str(tmp_path / "run")
    assert str(e.value) == (
        f"run folder {path!r} already holds a study; pass resume=True to continue "
        "it, overwrite=True to replace it, or choose another folder (config.out)"
    )
    assert e.value.run_dir == path
    # a study file alone (run.json lost) is refused too
    (tmp_path / "run" / "run.json").unlink()
    with pytest.raises(RunExistsError):
        run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())


def test_resume_refusals_name_the_folder_and_the_fields(tmp_path: Path) -> None:
    path = str(tmp_path / "run")
    with pytest.raises(RunError) as e:
        run_search(_cfg(tmp_path), resume=True, progress=False, evaluator=ArithmeticEvaluator())
    assert str(e.value) == f"cannot resume {path!r}: it is not a quarch run folder"
    assert not (tmp_path / "run").exists()
    run_search(_cfg(tmp_path, trials=1), progress=False, evaluator=ArithmeticEvaluator())
    with pytest.raises(RunError) as e:
        run_search(_cfg(tmp_path, trials=2, seed=9, strategy="qiea"), resume=True,
                   progress=False, evaluator=ArithmeticEvaluator())  # fmt: skip
    assert str(e.value) == (
        f"cannot resume {path!r} with a different seed, strategy; start a new run (--out) instead"
    )

    class Other(ArithmeticEvaluator):
        fingerprint = "0123456789abcdefXYZ"

    with pytest.raises(RunError) as e:
        run_search(_cfg(tmp_path, trials=2), resume=True, progress=False, evaluator=Other())
    assert str(e.value) == (
        f"cannot resume {path!r}: its data fingerprint arithmetic differs from this data "
        "set's 0123456789ab (was the data set or split changed?)"
    )
    assert len(load_result(tmp_path / "run").trials) == 1


def test_resume_and_overwrite_together_are_refused_before_anything(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        run_search(_cfg(tmp_path), resume=True, overwrite=True, progress=False)
    assert str(e.value) == "give either resume (continue the run) or overwrite (replace it)"
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_run_may_name_its_storage_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _cfg(tmp_path, trials=1)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    again = dataclasses.replace(cfg, trials=2, storage="sqlite")
    res = run_search(again, resume=True, progress=False, evaluator=ArithmeticEvaluator())
    assert len(res.complete) == 2 and res.config.storage is None
    assert json.loads((tmp_path / "run" / "config.json").read_text())["storage"] is None
    monkeypatch.setattr(_loop, "make_evaluator", lambda *a, **k: ArithmeticEvaluator())
    res = resume_search(tmp_path / "run", trials=3, progress=False,
                        overrides={"storage": "sqlite"})  # fmt: skip
    assert len(res.complete) == 3


# -- check_pruner ------------------------------------------------------------------------
def _pcfg(**kw: Any) -> SearchConfig:
    return SearchConfig(**{"space": "mlp", "pruner": "median", **kw})


def test_the_pruner_refusals_in_the_documented_words() -> None:
    mlp = get_spec("mlp")
    check_pruner(_pcfg(pruner="none"), Objective(["val_error", "params"]), mlp)  # no pruner
    check_pruner(_pcfg(), Objective(["val_error"]), mlp)
    check_pruner(_pcfg(), Objective(["val_accuracy"]), mlp)  # moves with training too
    check_pruner(_pcfg(), Objective(["val_error", "params"], weights=[1, 0.5]), mlp)
    with pytest.raises(ConfigError) as e:
        check_pruner(_pcfg(), Objective(["val_error", "params"]), mlp)
    assert str(e.value) == (
        "--pruner median needs one objective or --weights: Optuna prunes on one value per "
        "epoch, and with several objectives a trial's rank needs all of its final metrics; "
        "got objectives val_error, params"
    )
    with pytest.raises(ConfigError) as e:
        check_pruner(_pcfg(pruner="hyperband"), Objective(["params"]), mlp)
    assert str(e.value) == (
        "--pruner hyperband stops a trial by its validation error during training; the "
        "objective (params) does not include val_error"
    )
    with pytest.raises(ConfigError) as e:  # a weight of 0 leaves val_error out
        check_pruner(_pcfg(), Objective(["val_error", "params"], weights=[0, 1]), mlp)
    assert str(e.value).endswith("the objective (params) does not include val_error")
    with pytest.raises(ConfigError) as e:
        check_pruner(_pcfg(ray=True), Objective(["val_error"]), mlp)
    assert str(e.value) == (
        "--pruner median needs local workers (--workers); Ray tasks cannot report epochs"
    )


def test_a_weighted_cost_without_val_error_names_each_of_its_terms() -> None:
    """The refusal lists every metric the cost weighs (weight > 0), as the user wrote
    them; a metric weighted 0 is no part of it."""
    mlp = get_spec("mlp")
    with pytest.raises(ConfigError) as e:
        check_pruner(_pcfg(), Objective(["params", "val_error", "flops"], weights=[1, 0, 2]), mlp)
    assert str(e.value) == (
        "--pruner median stops a trial by its validation error during training; the "
        "objective (params, flops) does not include val_error"
    )
    # a weighted cost cannot hold val_accuracy (it is maximised), so val_error alone counts
    with pytest.raises(ConfigError, match="maximised"):
        Objective(["val_accuracy", "params"], weights=[1, 1])


def test_the_pruner_and_the_space() -> None:
    with pytest.raises(ConfigError) as e:
        check_pruner(_pcfg(space="nb201"), Objective(["val_error"]), get_spec("nb201"))
    assert str(e.value) == (
        "--pruner median: space 'nb201' is scored by a table look-up; nothing is trained, "
        "so nothing can be stopped early"
    )
    cnn = get_spec("cnn")
    check_pruner(_pcfg(space="cnn"), Objective(["val_error"]), cnn)
    check_pruner(_pcfg(space="cnn", evaluator_options={"supernet": False}),
                 Objective(["val_error"]), cnn)  # fmt: skip
    with pytest.raises(ConfigError) as e:
        check_pruner(_pcfg(space="cnn", evaluator_options={"supernet": True}),
                     Objective(["val_error"]), cnn)  # fmt: skip
    assert str(e.value) == (
        "--pruner median: with inherited weights (supernet) no trial trains for epochs, so "
        "nothing can be stopped early"
    )
    # a custom space (no spec) is the caller's business
    check_pruner(_pcfg(space="nb201"), Objective(["val_error"]), None)


def test_first_missing_is_the_outermost_new_folder(tmp_path: Path) -> None:
    assert _first_missing(tmp_path) is None
    assert _first_missing(tmp_path / "a" / "b" / "c") == tmp_path / "a"
    (tmp_path / "a").mkdir()
    assert _first_missing(tmp_path / "a" / "b" / "c") == tmp_path / "a" / "b"
    assert _first_missing(tmp_path / "a" / "b") == tmp_path / "a" / "b"


# -- resume_config / resume_search ---------------------------------------------------------
def test_resume_config_is_the_saved_one_with_what_may_change(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    cfg = _cfg(tmp_path, trials=1, timeout=100.0, data_dir=str(data), seed=3)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    run = tmp_path / "run"
    same = resume_config(run)
    assert same == dataclasses.replace(cfg, timeout=None)  # a timeout is per invocation
    assert resume_config(str(run), trials=5, timeout=2.5) == dataclasses.replace(
        cfg, trials=5, timeout=2.5
    )
    moved = resume_config(run, overrides={"device": "cpu", "workers": 2})
    assert moved.device == "cpu" and moved.workers == 2 and moved.trials == 1
    with pytest.raises(ConfigError) as e:
        resume_config(run, overrides={"strategy": "qiea", "seed": 1, "trials": 2})
    assert str(e.value) == (
        "a resumed run keeps its saved config; only data_dir, device, pruner, "
        "pruner_options, ray, ray_address, timeout, trial_timeout, trials, workers may "
        "change; got seed, strategy"
    )
    os.rmdir(data)  # the run moved to a machine without its data folder
    assert resume_config(run).data_dir is None
    assert resume_config(run, overrides={"data_dir": str(data)}).data_dir == str(data)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert resume_config(run, overrides={"data_dir": str(elsewhere)}).data_dir == str(elsewhere)


def test_a_run_opened_from_another_folder_name_resumes(tmp_path: Path) -> None:
    run_search(_cfg(tmp_path, trials=1), progress=False, evaluator=ArithmeticEvaluator())
    (tmp_path / "run").rename(tmp_path / "moved")
    cfg = resume_config(tmp_path / "moved", trials=2)
    assert cfg.out == str(tmp_path / "moved")
    res = run_search(cfg, resume=True, progress=False, evaluator=ArithmeticEvaluator())
    assert len(res.complete) == 2 and res.run_dir == tmp_path / "moved"


# -- join_study ------------------------------------------------------------------------
def test_join_study_refusals(tmp_path: Path) -> None:
    for word in ("sqlite", "journal"):
        with pytest.raises(ConfigError) as e:
            join_study(word)
        assert str(e.value) == (
            f"--storage {word} means a run folder's own {word} file; join a run on this "
            "machine with --run RUN, or give a database URL"
        )
    with pytest.raises(ConfigError) as e:
        join_study()
    assert str(e.value) == "join_study needs a storage URL or a run folder"
    url = f"sqlite:///{tmp_path / 'other.db'}"
    optuna.create_study(storage=url, study_name="theirs")
    with pytest.raises(RunError) as e2:
        join_study(url, "theirs", progress=False)
    assert str(e2.value) == "study 'theirs' was not created by quarch (it holds no config)"
    run_search(_cfg(tmp_path, trials=1), progress=False, evaluator=ArithmeticEvaluator())
    with pytest.raises(RunError) as e2:  # the real mlp evaluator's data are not "arithmetic"
        join_study(run_dir=tmp_path / "run", progress=False)
    assert str(e2.value) == (
        "this worker's data differ from the study's (fingerprint mismatch); point "
        "--data-dir at the same data set files"
    )


def test_a_joined_worker_completes_the_studys_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The study carries its config: a worker needs only where it lives."""
    cfg = _cfg(tmp_path, trials=3, seed=5)
    run_search(dataclasses.replace(cfg, trials=1), progress=False,
               evaluator=ArithmeticEvaluator())  # fmt: skip
    study = open_study(tmp_path / "run")  # raise the budget the study itself carries
    study.set_user_attr("quarch:config", {**study.user_attrs["quarch:config"], "trials": 3})
    seen: list[SearchConfig] = []

    def make(space: Any, config: SearchConfig, weights_dir: Any) -> ArithmeticEvaluator:
        seen.append(config)
        return ArithmeticEvaluator()

    monkeypatch.setattr(_loop, "make_evaluator", make)
    url = f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    optuna.create_study(storage=url, study_name="another")  # the name picks the study
    res = join_study(url, "quarch")
    assert res.stopped == "budget" and len(res.complete) == 3
    assert capsys.readouterr().err == ""  # no bar unless asked for
    # one more worker: in this process, with its own data folder and device
    stored = Run.open(tmp_path / "run").config
    assert seen[-1] == dataclasses.replace(stored, trials=3, workers=1, ray=False,
                                           ray_address=None)  # fmt: skip
    res = join_study(url, "quarch", data_dir=str(tmp_path), device="meta", progress=True)
    assert seen[-1].data_dir == str(tmp_path) and seen[-1].device == "meta"
    assert res.stopped == "budget" and "3/3" in capsys.readouterr().err
    whole = run_search(_cfg(tmp_path, "whole", trials=3, seed=5), progress=False,
                       evaluator=ArithmeticEvaluator())  # fmt: skip
    assert [(t.params, t.seed) for t in res.complete] == [
        (t.params, t.seed) for t in whole.complete
    ]


def test_an_unregistered_space_runs_with_its_own_evaluator(tmp_path: Path) -> None:
    """The Python API's ``run_search(config, space=..., evaluator=...)``: no spec, so
    nothing of a registered space (its default data set, its rules) is applied."""
    space = space_for(_cfg(tmp_path))
    cfg = SearchConfig(space="mine", trials=2, out=str(tmp_path / "run"), pruner="median",
                       objectives=["val_error"])  # fmt: skip
    res = run_search(cfg, space=space, evaluator=ArithmeticEvaluator(), progress=False)
    assert len(res.complete) == 2 and res.config.dataset is None
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["space"] == space.name and meta["space_size"] == space.size
    with pytest.raises(ConfigError, match="mine"):  # without the space: an unknown name
        run_search(dataclasses.replace(cfg, out=str(tmp_path / "b")), progress=False,
                   evaluator=ArithmeticEvaluator())  # fmt: skip
    assert not (tmp_path / "b").exists()


def test_resume_search_hands_every_argument_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database URL holding the password the run does not store reaches the search;
    so do the new budget, timeout, overrides and the progress flag (on by default)."""
    run_search(_cfg(tmp_path, trials=1), progress=False, evaluator=ArithmeticEvaluator())
    seen: list[tuple[SearchConfig, dict[str, Any]]] = []
    monkeypatch.setattr(_loop, "run_search", lambda cfg, **kw: seen.append((cfg, kw)))
    url = "postgresql+psycopg://ann:s3cret@db/q"
    resume_search(tmp_path / "run", trials=4, timeout=9.5,
                  overrides={"storage": url, "trial_timeout": 3.0})  # fmt: skip
    cfg, kw = seen[-1]
    assert kw == {"resume": True, "progress": True}
    assert cfg.storage == url and cfg.trials == 4 and cfg.timeout == 9.5
    assert cfg.trial_timeout == 3.0 and cfg.out == str(tmp_path / "run")
    resume_search(tmp_path / "run", progress=False)
    cfg, kw = seen[-1]
    assert kw == {"resume": True, "progress": False}
    assert cfg.storage is None and cfg.trials == 1 and cfg.timeout is None


def test_check_search_returns_the_spaces_resolved_defaults(tmp_path: Path) -> None:
    """The cnn space fills in its device profile's budgets (saved with the run)."""
    from quarch.cost.devices import default_budgets

    cfg = SearchConfig(space="cnn", dataset="digits", trials=2, out=str(tmp_path / "r"),
                       evaluator_options={"device_profile": "cortex-m7"})  # fmt: skip
    out = check_search(cfg)
    assert out.budgets == list(default_budgets("cortex-m7")) and out.budgets
    assert not (tmp_path / "r").exists()


SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def test_a_qubo_search_gets_the_metrics_known_without_training(tmp_path: Path) -> None:
    """README: metrics an evaluator knows without training (NB201's params) enter the
    QUBO and are checked exactly. ``quarch search`` built the sampler before the data
    and never handed them on (only the benchmark did): the surrogates learnt them."""
    if not (SHARED / "nb201" / "nb201_cifar.csv").is_file():
        pytest.skip("shared nb201 table absent")
    cfg = SearchConfig(space="nb201", strategy="qubo-sa", trials=1, data_dir=str(SHARED),
                       objectives=["val_error"], budgets=["params<=1000000"],
                       out=str(tmp_path / "run"))  # fmt: skip
    res = run_search(cfg, progress=False)
    cheap = res.study.sampler._models.cheap_metrics  # type: ignore[union-attr,attr-defined]
    assert callable(cheap)
    space = space_for(res.config)
    evaluator = get_spec("nb201").make_evaluator(space, res.config)
    arch = space.sample(0)
    assert dict(cheap(arch)) == dict(evaluator.cheap_metrics(arch))  # type: ignore[attr-defined]
    assert "params" in dict(cheap(arch))


def test_space_for_builds_the_space_with_the_configs_options(tmp_path: Path) -> None:
    small = space_for(_cfg(tmp_path, space_options={"max_layers": 2}))
    full = space_for(_cfg(tmp_path))
    assert small.size < full.size
    assert max(small.sample(k)["n_layers"] for k in range(50)) <= 2


def test_overwrite_deletes_the_old_study_in_a_named_database(tmp_path: Path) -> None:
    """A study in a database (here a SQLite file named by URL) is deleted by name, not
    loaded again with its old trials."""
    url = f"sqlite:///{tmp_path / 'db' / 'studies.db'}"
    (tmp_path / "db").mkdir()
    cfg = _cfg(tmp_path, trials=3, storage=url)
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    res = run_search(dataclasses.replace(cfg, trials=2), overwrite=True, progress=False,
                     evaluator=ArithmeticEvaluator())  # fmt: skip
    assert [t.number for t in res.trials] == [0, 1]
    assert len(optuna.load_study(study_name="quarch", storage=url).trials) == 2


def test_a_qubo_search_never_proposes_a_cell_known_to_break_a_budget(tmp_path: Path) -> None:
    """The README's promise for metrics known without training: every candidate is
    checked against their exact values, so an architecture known to break a budget is
    never proposed: by the search's own process, by a spawned worker (whose code,
    ``_work_here``, runs here in this process: spawned ones start too late to take a
    trial of a tabular benchmark) or by a joined one. NB201's parameter count is such a
    metric; the budget is its median over random cells, so about half of the cells
    break it. Before the fix none built its strategy with the evaluator's
    ``cheap_metrics``: they proposed cells that broke it (recorded as skipped trials)."""
    if not (SHARED / "nb201" / "nb201_cifar.csv").is_file():
        pytest.skip("shared nb201 table absent")
    from quarch.study._parallel import _work_here

    probe = SearchConfig(space="nb201", data_dir=str(SHARED), out=str(tmp_path / "probe"))
    space = space_for(probe)
    evaluator = get_spec("nb201").make_evaluator(space, probe)

    def params(arch: dict[str, Any]) -> float:
        return float(evaluator.cheap_metrics(arch)["params"])  # type: ignore[attr-defined]

    limit = sorted(params(space.sample(k)) for k in range(400))[200]
    cfg = SearchConfig(space="nb201", strategy="qubo-sa", trials=10, data_dir=str(SHARED),
                       objectives=["val_error"], budgets=[f"params<={limit}"], seed=3,
                       out=str(tmp_path / "run"))  # fmt: skip
    res = run_search(cfg, progress=False)
    assert len(res.trials) == 10
    assert [t.number for t in res.trials if params(t.params) > limit] == []
    more = dataclasses.replace(res.config, trials=20)
    _work_here("sqlite", str(res.run_dir), more, space, None, threads=1)
    trials = optuna.load_study(study_name=more.study_name,
                               storage=f"sqlite:///{res.run_dir / 'study.db'}").trials  # fmt: skip
    assert len(trials) == 20
    assert [t.number for t in trials if params(t.params) > limit] == []
    # and a worker joined with ``quarch worker`` (``join_study``), to 30
    study = open_study(res.run_dir)
    study.set_user_attr("quarch:config", {**study.user_attrs["quarch:config"], "trials": 30})
    joined = join_study(None, "quarch", run_dir=res.run_dir)
    assert len(joined.trials) == 30
    assert [t.number for t in joined.trials if params(t.params) > limit] == []


def test_a_joined_worker_builds_what_the_run_itself_would(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker joined by run folder builds the evaluator the run's own process builds
    (the run's space, its stored config and the run folder's weights), its strategy
    with the stored seed and options and its pruner: the trials it adds are the ones
    an uninterrupted run makes."""
    cfg = _cfg(tmp_path, trials=1, seed=9, strategy="evolution", pruner="median",
               objectives=["val_error"],
               strategy_options={"population_size": 4})  # fmt: skip
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    elsewhere = tmp_path / "moved"
    (tmp_path / "run").rename(elsewhere)  # a run folder is found by where it is now
    study = open_study(elsewhere)
    study.set_user_attr("quarch:config", {**study.user_attrs["quarch:config"], "trials": 6})
    seen: list[tuple[Any, SearchConfig, Any]] = []

    def make(space: Any, config: SearchConfig, weights_dir: Any) -> ArithmeticEvaluator:
        seen.append((space, config, weights_dir))
        return ArithmeticEvaluator()

    monkeypatch.setattr(_loop, "make_evaluator", make)
    res = join_study(None, "quarch", run_dir=elsewhere)
    space, config, weights_dir = seen[-1]
    assert weights_dir == elsewhere / "weights"
    assert space.names == space_for(cfg).names and space.size == space_for(cfg).size
    assert (config.seed, config.strategy, config.strategy_options) == (
        9,
        "evolution",
        {"population_size": 4},
    )
    assert res.study is not None and type(res.study.pruner) is optuna.pruners.MedianPruner
    whole = run_search(dataclasses.replace(cfg, trials=6, out=str(tmp_path / "whole")),
                       progress=False, evaluator=ArithmeticEvaluator())  # fmt: skip
    assert [t.params for t in res.complete] == [t.params for t in whole.complete]


# -- a resume that names the run's own storage (_names) -----------------------------------
@pytest.mark.parametrize(
    "url",
    ["sqlite:///{db}", "sqlite+pysqlite:///{db}", "SQLite:///{db}",
     "sqlite:///{db}?timeout=5",  # the query is not part of the file's name
     "sqlite:///{db}?timeout=5&note=why?",  # nor is a second '?' in it
     "sqlite:///{db}?note=a://b",  # nor a '://' in it
     "sqlite:///{folder}/./study.db"],
)  # fmt: skip
def test_a_sqlite_url_of_the_folders_study_db_names_a_sqlite_run(tmp_path: Path, url: str) -> None:
    run_dir = tmp_path / "run"
    spec = url.format(db=run_dir / "study.db", folder=run_dir)
    assert _names(spec, "sqlite", run_dir)


def test_other_storages_do_not_name_the_runs_own(tmp_path: Path) -> None:
    run_dir, db = tmp_path / "run", tmp_path / "run" / "study.db"
    assert not _names(f"sqlite:///{tmp_path / 'other.db'}", "sqlite", run_dir)
    assert not _names(f"sqlite:///{tmp_path / 'run' / 'sub' / 'study.db'}", "sqlite", run_dir)
    # a run kept in a journal file or in a database elsewhere: the folder's study.db
    # (which does not hold it) is another storage, as is any other URL
    assert not _names(f"sqlite:///{db}", "journal", run_dir)
    assert not _names(f"sqlite:///{db}", f"sqlite:///{tmp_path / 'elsewhere.db'}", run_dir)
    assert not _names("postgresql://h/db", "sqlite", run_dir)
    assert _names("journal", "journal", run_dir)


def test_a_journal_run_resumed_with_a_sqlite_url_is_refused(tmp_path: Path) -> None:
    """A run kept in ``journal.log``, resumed naming its folder's ``study.db``: a
    different storage, refused, not resumed from the journal as if it were named."""
    cfg = _cfg(tmp_path, trials=1, storage="journal")
    run_search(cfg, progress=False, evaluator=ArithmeticEvaluator())
    url = f"sqlite:///{tmp_path / 'run' / 'study.db'}"
    with pytest.raises(RunError) as e:
        run_search(dataclasses.replace(cfg, trials=2, storage=url), resume=True,
                   progress=False, evaluator=ArithmeticEvaluator())  # fmt: skip
    assert str(e.value) == (
        f"cannot resume {str(tmp_path / 'run')!r} with a different storage; start a new run "
        "(--out) instead"
    )


@pytest.mark.filterwarnings("ignore:.* workers on .* core")  # this machine's cores, not the claim
def test_spawned_workers_get_the_callers_evaluator_or_build_the_runs_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_search(evaluator=...)`` with workers: the spawned ones are handed that
    evaluator (the docstring: it must then be picklable); without one they are handed
    none and build the space's own from the run folder. Stand-ins record what each
    spawned worker gets and never work, so this process does the budget."""
    handed: list[Any] = []

    class _Recorded:
        pid = None

        def __init__(self, *, target: Any, args: tuple[Any, ...], name: str) -> None:
            handed.append(args[4])

        def start(self) -> None:
            pass

        def is_alive(self) -> bool:
            return False

        def join(self, timeout: float | None = None) -> None:
            pass

        def terminate(self) -> None:
            pass

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", _Recorded)
    mine = ArithmeticEvaluator()
    assert len(run_search(_cfg(tmp_path, trials=2, workers=2), evaluator=mine,
                          progress=False).complete) == 2  # fmt: skip
    assert handed == [mine]
    handed.clear()
    monkeypatch.setattr(_loop, "make_evaluator", lambda *a, **k: ArithmeticEvaluator())
    run_search(_cfg(tmp_path, "own", trials=2, workers=2), progress=False)
    assert handed == [None]
