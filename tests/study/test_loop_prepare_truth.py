"""How a search starts (``quarch/study/_loop.py``'s ``_prepare``), against its docstring:
every check that needs no file comes first, the run folder is written last, and a
failure while writing it removes what was written and says what failed, in one line.
Metrics come from :class:`ArithmeticEvaluator`, whose closed forms are the truth.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import importlib.machinery
import json
import os
import sqlite3
import sys
import types
from pathlib import Path
from typing import Any

import optuna
import pytest

from quarch._errors import ConfigError, OutputError, RunError
from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.study import run_search, space_for
from quarch.testing.evaluators import ArithmeticEvaluator


def _cfg(tmp_path: Path, out: Path, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {"space": "mlp", "dataset": "iris", "trials": 2,
                            "strategy": "random", "out": str(out)}  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def _files(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


class _Counted(ArithmeticEvaluator):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
        self.calls += 1
        return super().evaluate(arch, seed=seed)


def test_an_out_that_is_a_file_is_refused_in_one_line_naming_the_run_folder(
    tmp_path: Path,
) -> None:
    """``--out`` naming a file (a mistyped path) is refused by the folder check, in
    ``folder_problem``'s words for a "run folder", before anything is evaluated or
    written; the file is left as it was."""
    out = tmp_path / "notes.txt"
    out.write_text("mine")
    evaluator = _Counted()
    with pytest.raises(OutputError) as e:
        run_search(_cfg(tmp_path, out), evaluator=evaluator, progress=False)
    assert str(e.value) == f"run folder {str(out)!r} is a file, not a folder"
    assert evaluator.calls == 0
    assert _files(tmp_path) == ["notes.txt"] and out.read_text() == "mine"

    below = out / "run"  # a folder that cannot be made: a file is in the way
    with pytest.raises(OutputError) as e:
        run_search(_cfg(tmp_path, below), evaluator=evaluator, progress=False)
    assert str(e.value) == f"cannot make the run folder {str(below)!r}: {str(out)!r} is a file"
    assert _files(tmp_path) == ["notes.txt"]


def test_a_disk_full_while_the_run_folder_is_made_is_one_line_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that is full when the run folder itself is made (after every check
    passed): the error names the run folder and the system's reason, in one line (the
    cleanup of a folder that was never made must not replace it), and the new parent
    folder is removed again; the next try works."""
    out = tmp_path / "runs" / "x"
    real = Path.mkdir

    def full(self: Path, *args: Any, **kwargs: Any) -> None:
        if self == out:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", full)
    with pytest.raises(OutputError) as e:
        run_search(_cfg(tmp_path, out), evaluator=ArithmeticEvaluator(), progress=False)
    assert str(e.value) == (
        f"cannot write the run folder {str(out)!r}: {os.strerror(errno.ENOSPC)}"
    )
    assert _files(tmp_path) == []
    monkeypatch.setattr(Path, "mkdir", real)
    res = run_search(_cfg(tmp_path, out), evaluator=ArithmeticEvaluator(), progress=False)
    assert len(res.complete) == 2


def test_the_run_searches_the_space_its_options_describe(tmp_path: Path) -> None:
    """Without a ``space`` object, the run's space is the registered space built with
    the config's ``space_options``: run.json records its size and every trial's
    architecture is one of it (here one layer of width 8)."""
    cfg = _cfg(tmp_path, tmp_path / "run", trials=4,
               space_options={"max_layers": 1, "widths": [8]})  # fmt: skip
    res = run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)
    assert {(t.params["n_layers"], t.params["width_0"]) for t in res.trials} == {(1, 8)}
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["space_size"] == space_for(cfg).size == 9  # 3 activations x 3 rates


def test_a_space_given_for_a_registered_name_is_the_one_searched(tmp_path: Path) -> None:
    """``run_search(config, space=...)`` searches the space given, not the registered
    ``config.space`` built from the config (the docstring: "use this space instead")."""
    cfg = _cfg(tmp_path, tmp_path / "run", trials=4)
    mine = space_for(_cfg(tmp_path, tmp_path / "x", space_options={"max_layers": 1}))
    res = run_search(cfg, space=mine, evaluator=ArithmeticEvaluator(), progress=False)
    assert {t.params["n_layers"] for t in res.trials} == {1}
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["space_size"] == mine.size < space_for(cfg).size


def test_a_fingerprint_mismatch_shows_twelve_characters_of_each(tmp_path: Path) -> None:
    """The refusal to resume on other data shows the first 12 characters of the run's
    fingerprint and of this data set's (both longer here), and the run is kept."""

    class Saved(ArithmeticEvaluator):
        fingerprint = "aaaabbbbccccddddeeee"

    class Other(ArithmeticEvaluator):
        fingerprint = "0123456789abcdefXYZ"

    out = tmp_path / "run"
    run_search(_cfg(tmp_path, out, trials=1), evaluator=Saved(), progress=False)
    with pytest.raises(RunError) as e:
        run_search(_cfg(tmp_path, out), resume=True, evaluator=Other(), progress=False)
    assert str(e.value) == (
        f"cannot resume {str(out)!r}: its data fingerprint aaaabbbbcccc differs from this "
        "data set's 0123456789ab (was the data set or split changed?)"
    )
    assert len(run_search(_cfg(tmp_path, out, trials=1), resume=True, evaluator=Saved(),
                          progress=False).complete) == 1  # fmt: skip


def _no_data(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the data were loaded before the check")


def test_a_storage_that_cannot_be_opened_is_refused_before_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database URL that cannot be opened is refused before the space's evaluator
    (its data set) is made, in one line naming the URL; nothing is written."""
    monkeypatch.setattr("quarch.study._loop.make_evaluator", _no_data)
    out = tmp_path / "runs" / "x"
    with pytest.raises(RunError, match=r"^cannot open storage 'foo://bar'"):
        run_search(_cfg(tmp_path, out, storage="foo://bar"), progress=False)
    assert _files(tmp_path) == []


def test_an_unreachable_ray_address_is_refused_before_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--ray-address`` where nothing listens is refused by the address probe before
    the data are loaded, and nothing is written."""
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    monkeypatch.setattr("quarch.study._loop.make_evaluator", _no_data)
    address = f"127.0.0.1:{port}"
    out = tmp_path / "run"
    with pytest.raises(ConfigError) as e:
        run_search(_cfg(tmp_path, out, ray=True, ray_address=address), progress=False)
    assert str(e.value) == f"cannot reach a Ray cluster at {address!r}: Connection refused"
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    ("pruner", "cls"),
    [("none", optuna.pruners.NopPruner), ("median", optuna.pruners.MedianPruner)],
)
def test_the_study_prunes_with_the_configs_pruner(
    tmp_path: Path, pruner: str, cls: type[optuna.pruners.BasePruner]
) -> None:
    """The study the run creates has the pruner ``--pruner`` names, ``none`` included
    (Optuna's own default for a study without one would be a ``MedianPruner``)."""
    cfg = _cfg(tmp_path, tmp_path / "run", pruner=pruner, objectives=["val_error"])
    res = run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)
    assert res.study is not None and type(res.study.pruner) is cls


class _UsersRay(types.ModuleType):
    """A Ray the caller started (in a notebook) before a search without ``--ray``."""

    def __init__(self) -> None:
        super().__init__("ray")
        self.shutdowns = 0

    def is_initialized(self) -> bool:
        return True

    def shutdown(self) -> None:
        self.shutdowns += 1


def test_a_search_without_ray_leaves_the_callers_ray_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a Ray the search started is shut down: a search without ``--ray`` leaves
    one the caller runs alone, whether it ends or fails to start."""
    ray = _UsersRay()
    monkeypatch.setitem(sys.modules, "ray", ray)
    res = run_search(_cfg(tmp_path, tmp_path / "run"), evaluator=ArithmeticEvaluator(),
                     progress=False)  # fmt: skip
    assert len(res.complete) == 2
    real = optuna.create_study

    def refuse(*a: Any, **k: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(optuna, "create_study", refuse)
    with pytest.raises(RuntimeError, match="disk full"):
        run_search(_cfg(tmp_path, tmp_path / "b"), evaluator=ArithmeticEvaluator(),
                   progress=False)  # fmt: skip
    monkeypatch.setattr(optuna, "create_study", real)
    assert ray.shutdowns == 0


class _Recorded(optuna.samplers.RandomSampler):
    """A user's strategy's sampler, with what its factory was handed."""

    def __init__(self, seed: int, handed: dict[str, Any]) -> None:
        super().__init__(seed=seed)
        self.handed = handed


class _WithCheap(ArithmeticEvaluator):
    def cheap_metrics(self, arch: Any) -> dict[str, float]:
        return {"params": float(arch["width_0"] * arch["n_layers"])}


@pytest.mark.parametrize("takes_cheap", [False, True])
def test_the_study_samples_with_the_strategy_built_from_the_run(
    tmp_path: Path, takes_cheap: bool
) -> None:
    """The sampler the run's study uses is the registered strategy built with the run's
    seed, its space (the one given here), its objective and the config's strategy
    options; a strategy that takes ``cheap_metrics`` also gets the evaluator's."""
    from quarch.search import STRATEGIES

    def plain(*, seed: int, space: Any, objective: Any, **options: Any) -> _Recorded:
        return _Recorded(seed, {"seed": seed, "space": space, "objective": objective, **options})

    def cheap(
        *, seed: int, space: Any, objective: Any, cheap_metrics: Any = None, **options: Any
    ) -> _Recorded:
        handed = {"seed": seed, "space": space, "objective": objective,
                  "cheap_metrics": cheap_metrics}  # fmt: skip
        return _Recorded(seed, {**handed, **options})

    STRATEGIES.add("recorded-truth", cheap if takes_cheap else plain, "a user's strategy")
    try:
        cfg = _cfg(tmp_path, tmp_path / "run", strategy="recorded-truth", seed=7,
                   strategy_options={"anything": 3}, objectives=["val_error", "params"],
                   budgets=["params<=200"])  # fmt: skip
        space = space_for(cfg)
        evaluator = _WithCheap()
        res = run_search(cfg, space=space, evaluator=evaluator, progress=False)
    finally:
        STRATEGIES.remove("recorded-truth")
    assert res.study is not None
    sampler = res.study.sampler
    assert isinstance(sampler, _Recorded)
    handed = dict(sampler.handed)
    assert handed.pop("seed") == 7
    assert handed.pop("space") is space
    want = Objective(["val_error", "params"], budgets=["params<=200"]).to_dict()
    assert handed.pop("objective").to_dict() == want
    if takes_cheap:
        assert handed.pop("cheap_metrics") == evaluator.cheap_metrics
    assert handed == {"anything": 3}


def test_the_runs_own_evaluator_is_built_from_its_space_config_and_weights_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without an evaluator, the run builds the space's own from the space it searches,
    the config it stores (the default data set resolved) and the run folder's
    ``weights`` folder, where trained weights are kept."""
    seen: list[tuple[Any, SearchConfig, Any]] = []

    def make(space: Any, config: SearchConfig, weights_dir: Any) -> ArithmeticEvaluator:
        seen.append((space, config, weights_dir))
        return ArithmeticEvaluator()

    monkeypatch.setattr("quarch.study._loop.make_evaluator", make)
    cfg = _cfg(tmp_path, tmp_path / "run", dataset=None, space_options={"max_layers": 1})
    res = run_search(cfg, progress=False)
    [(space, config, weights_dir)] = seen
    assert weights_dir == tmp_path / "run" / "weights"
    assert config == res.config and config.dataset == "iris"
    assert space.size == space_for(cfg).size and {t.params["n_layers"] for t in res.trials} == {1}


def test_a_resume_that_names_the_storage_otherwise_keeps_the_saved_name(tmp_path: Path) -> None:
    """A run saved with ``storage="sqlite"`` (its folder's own file, named), resumed
    with the storage left out (the same file): the resumed run keeps the name it saved,
    in its result and its config.json, and goes on in the same study."""
    out = tmp_path / "run"
    run_search(_cfg(tmp_path, out, trials=1, storage="sqlite"), evaluator=ArithmeticEvaluator(),
               progress=False)  # fmt: skip
    res = run_search(_cfg(tmp_path, out, trials=2), resume=True, evaluator=ArithmeticEvaluator(),
                     progress=False)  # fmt: skip
    assert [t.number for t in res.complete] == [0, 1]
    assert res.config.storage == "sqlite"
    assert json.loads((out / "config.json").read_text())["storage"] == "sqlite"


def _mode(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as con:  # a reader left open would
        return str(con.execute("PRAGMA journal_mode").fetchone()[0])  # keep the WAL


def test_a_resume_naming_the_runs_study_db_writes_it_as_the_run_does(tmp_path: Path) -> None:
    """A resume that names the run folder's own ``study.db`` by URL opens it as the run
    itself does: in WAL mode while it writes (without an ``fsync`` per trial), back to
    one file when it ends (``test_storage_wal.py`` for a plain run)."""
    out = tmp_path / "run"
    run_search(_cfg(tmp_path, out, trials=1), evaluator=ArithmeticEvaluator(), progress=False)
    seen: list[tuple[str, bool]] = []

    def on_trial(done: int, target: int, record: Any) -> None:
        seen.append((_mode(out / "study.db"), (out / "study.db-wal").exists()))

    url = f"sqlite:///{out / 'study.db'}"
    res = run_search(_cfg(tmp_path, out, trials=3, storage=url), resume=True,
                     evaluator=ArithmeticEvaluator(), progress=False, on_trial=on_trial)  # fmt: skip
    assert len(res.complete) == 3
    assert seen == [("wal", True)] * 2
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "run.json", "study.db"]
    assert _mode(out / "study.db") == "delete"


def test_a_run_saved_with_the_data_set_as_typed_resumes(tmp_path: Path) -> None:
    """A run whose config.json holds the data set as typed (``Iris``, as runs saved
    before names were resolved do) resumes with the registered name: the saved config
    is resolved the same way before the two are compared."""
    out = tmp_path / "run"
    run_search(_cfg(tmp_path, out, trials=1), evaluator=ArithmeticEvaluator(), progress=False)
    saved = json.loads((out / "config.json").read_text())
    (out / "config.json").write_text(json.dumps({**saved, "dataset": "Iris"}))
    res = run_search(_cfg(tmp_path, out), resume=True, evaluator=ArithmeticEvaluator(),
                     progress=False)  # fmt: skip
    assert len(res.complete) == 2 and res.config.dataset == "iris"


def test_a_run_of_an_unregistered_space_resumes(tmp_path: Path) -> None:
    """A run of a space given as an object (no registered spec) resumes with the same
    space and evaluator: its saved config is compared as it is."""
    space = space_for(_cfg(tmp_path, tmp_path / "x"))
    cfg = SearchConfig(space="mine", trials=1, out=str(tmp_path / "run"))
    run_search(cfg, space=space, evaluator=ArithmeticEvaluator(), progress=False)
    res = run_search(dataclasses.replace(cfg, trials=2), resume=True, space=space,
                     evaluator=ArithmeticEvaluator(), progress=False)  # fmt: skip
    assert [t.number for t in res.complete] == [0, 1]


class _NoCluster(types.ModuleType):
    """A Ray whose ``init`` finds no cluster (``--ray-address auto`` with none running)."""

    def __init__(self) -> None:
        super().__init__("ray")
        self.__spec__ = importlib.machinery.ModuleSpec("ray", None)

    def is_initialized(self) -> bool:
        return False

    def init(self, **kwargs: Any) -> None:
        raise ConnectionError("Could not find any running Ray instance.\nmore lines")


def test_a_ray_that_cannot_start_is_refused_before_the_run_folder_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ray is started (or joined) before the run folder is written, so a Ray that
    cannot start leaves no folder, and its first line says why."""
    monkeypatch.setitem(sys.modules, "ray", _NoCluster())
    out = tmp_path / "runs" / "x"
    with pytest.raises(ConfigError) as e:
        run_search(_cfg(tmp_path, out, ray=True, ray_address="auto"),
                   evaluator=ArithmeticEvaluator(), progress=False)  # fmt: skip
    assert str(e.value) == "cannot start Ray at 'auto': Could not find any running Ray instance."
    assert _files(tmp_path) == []


def test_a_new_run_in_a_used_folder_deletes_nothing_there(tmp_path: Path) -> None:
    """Without ``overwrite``, a run started in a folder that holds no study removes
    nothing, not even files and folders a run folder would hold (``weights``,
    ``report``): only ``overwrite=True`` replaces those."""
    out = tmp_path / "run"
    for folder in ("weights", "report"):
        (out / folder).mkdir(parents=True)
        (out / folder / "mine.txt").write_text("mine")
    run_search(_cfg(tmp_path, out), evaluator=ArithmeticEvaluator(), progress=False)
    assert _files(out) == ["config.json", "report", "report/mine.txt", "run.json", "study.db",
                           "weights", "weights/mine.txt"]  # fmt: skip


def test_a_disk_full_in_a_used_folder_removes_only_what_the_start_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A used folder (the user's files, no run) where the disk fills between
    ``config.json`` and ``run.json``: one line naming the run folder and the system's
    reason (removing ``run.json``, never written, must not replace it), the half-written
    run's ``config.json`` removed again, the user's files kept; the next try works."""
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    real = Path.write_text

    def full(self: Path, *args: Any, **kwargs: Any) -> int:
        if self.name == "run.json":  # a full disk at write: an OSError without a file name
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OutputError) as e:
        run_search(_cfg(tmp_path, out), evaluator=ArithmeticEvaluator(), progress=False)
    assert str(e.value) == (
        f"cannot write the run folder {str(out)!r}: {os.strerror(errno.ENOSPC)}"
    )
    assert _files(tmp_path) == ["run", "run/notes.txt"]
    assert (out / "notes.txt").read_text() == "mine"
    monkeypatch.setattr(Path, "write_text", real)
    res = run_search(_cfg(tmp_path, out), evaluator=ArithmeticEvaluator(), progress=False)
    assert len(res.complete) == 2
    assert _files(out) == ["config.json", "notes.txt", "run.json", "study.db"]


def test_the_study_has_the_objectives_directions(tmp_path: Path) -> None:
    """The study is created with the objective's directions (val_error minimised,
    val_accuracy maximised), so each trial's values are told whole. The run stops
    itself after its first trial: a study of other directions fails every trial's
    values, and the loop would go on making failed trials."""
    seen: list[Any] = []

    def first(done: int, target: int, record: Any) -> None:
        seen.append(record)
        raise KeyboardInterrupt

    out = tmp_path / "run"
    cfg = _cfg(tmp_path, out, objectives=["val_error", "val_accuracy"], trials=3)
    with pytest.raises(KeyboardInterrupt):
        run_search(cfg, evaluator=_Accuracy(), progress=False, on_trial=first)
    [record] = seen
    assert record.state == "COMPLETE"
    study = optuna.load_study(study_name="quarch", storage=f"sqlite:///{out / 'study.db'}")
    assert study.directions == [
        optuna.study.StudyDirection.MINIMIZE, optuna.study.StudyDirection.MAXIMIZE
    ]  # fmt: skip
    [trial] = study.get_trials(deepcopy=False)
    assert trial.values == [record.metrics["val_error"], record.metrics["val_accuracy"]]


class _Accuracy(ArithmeticEvaluator):
    def evaluate(self, arch: Any, *, seed: int) -> dict[str, float]:
        got = super().evaluate(arch, seed=seed)
        return {**got, "val_accuracy": 1.0 - got["val_error"]}


_TOP_LEVEL = """
from quarch.config import SearchConfig
from quarch.study import run_search

config = SearchConfig(space="mlp", dataset="iris", trials=2, workers=WORKERS, out=OUT)
result = run_search(config, evaluator=EVALUATOR, progress=False)
"""


def _run_as_main(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int) -> dict[str, Any]:
    """Run a search script in this process as the main module, as ``python search.py``
    runs it (its code compiled with its path, run in ``sys.modules["__main__"]``'s
    namespace); nothing is spawned either way."""
    script = tmp_path / "search.py"
    code = _TOP_LEVEL.replace("WORKERS", str(workers)).replace("OUT", repr(str(tmp_path / "run")))
    script.write_text(code)
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    vars(module)["EVALUATOR"] = ArithmeticEvaluator()
    monkeypatch.setitem(sys.modules, "__main__", module)
    exec(compile(code, str(script), "exec"), vars(module))
    return vars(module)


def test_a_one_process_search_at_a_scripts_top_level_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's multiprocessing docs ("Safe importing of main module"): only a process
    started with the spawn method imports the main script again. ``workers=1`` starts
    none, so a script may call the search at its top level: it runs to its budget."""
    found = _run_as_main(tmp_path, monkeypatch, 1)
    assert len(found["result"].complete) == 2
    assert _files(tmp_path / "run") == ["config.json", "run.json", "study.db"]


def test_two_local_workers_at_a_scripts_top_level_are_refused_naming_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``workers=2`` (local processes, spawned) at the top level: refused in one line
    that says how many workers and names the script's line of the call, before anything
    is written (``test_main_guard_truth.py`` runs the same in a real interpreter)."""
    with pytest.raises(ConfigError) as e:
        _run_as_main(tmp_path, monkeypatch, 2)
    script = tmp_path / "search.py"
    [line] = [i for i, t in enumerate(script.read_text().splitlines(), 1) if "run_search(" in t]
    assert str(e.value) == (
        "workers=2 starts worker processes that import the main script again (Python's "
        "spawn start method), and a search called at its top level would start again in "
        f'each; put the call under `if __name__ == "__main__":` ({script}:{line})'
    )
    assert _files(tmp_path) == ["search.py"]


def test_a_config_json_of_no_run_in_the_folder_is_refused_and_kept(tmp_path: Path) -> None:
    """A folder that holds a ``config.json`` of the user's (no ``run.json``: no run) is
    not a run folder, and a new run would write its own ``config.json`` over it. Without
    ``overwrite`` the start is refused in one line and the file is kept byte for byte
    (before, it was replaced, and stayed replaced after a failed start); with
    ``overwrite=True`` (replace a run folder's files) the run starts."""
    out = tmp_path / "project"
    out.mkdir()
    mine = '{"editor": "mine"}\n'
    (out / "config.json").write_text(mine)
    evaluator = _Counted()
    with pytest.raises(RunError) as e:
        run_search(_cfg(tmp_path, out), evaluator=evaluator, progress=False)
    assert str(e.value) == (
        f"run folder {str(out)!r} holds a config.json that is no quarch run's (there is no "
        "run.json), and a new run would replace it; move that file, or choose another folder"
    )
    assert evaluator.calls == 0
    assert _files(tmp_path) == ["project", "project/config.json"]
    assert (out / "config.json").read_text() == mine
    res = run_search(_cfg(tmp_path, out), overwrite=True, evaluator=ArithmeticEvaluator(),
                     progress=False)  # fmt: skip
    assert len(res.complete) == 2
    assert json.loads((out / "config.json").read_text())["space"] == "mlp"
