"""A stopped benchmark's runs file meets other settings, or another task code
(session 39).

Before, a rerun with other ``--trials``, budgets, data folder or quarch version
replaced the runs file at its first finished run without a word (a mistyped
``--trials`` lost a stopped benchmark's runs), and a task of the user's own edited
between the stop and the rerun was not seen: the runs of two different tasks were
mixed. Now such a rerun is refused in one line, before any run, naming what differs;
``--overwrite`` (``overwrite=True``) starts over. The truths: the lines written here by
hand, the runs file's bytes (untouched by a refusal), the runs the harness was asked to
run (counted), and the task file's SHA-256 computed here.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import quarch
import quarch.benchmark._harness as harness
import quarch.benchmark._journal as journal
from quarch._errors import RunExistsError
from quarch.benchmark import run_benchmark, synthetic_qubo_task
from quarch.benchmark._harness import RUNS_FILE
from quarch.cli import main

from .test_benchmark_resume_truth import _StopAt  # Ctrl-C at the n-th run


def _argv(out: Path, *more: str, task: str = "synthetic-qubo") -> list[str]:
    return ["benchmark", "--task", task, "--strategies", "random,local", "--seeds", "2",
            "--out", str(out), "--json", *more]  # fmt: skip


def test_the_command_refuses_other_trials_and_overwrite_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "b"
    monkeypatch.setattr(harness, "_run_job", _StopAt(3))  # two runs kept
    assert main(_argv(out, "--trials", "6")) == 130
    kept = (out / RUNS_FILE).read_bytes()
    capsys.readouterr()
    mistyped = _StopAt(None)
    monkeypatch.setattr(harness, "_run_job", mistyped)
    assert main(_argv(out, "--trials", "7")) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"error: {str(out / RUNS_FILE)!r} holds 2 runs of a stopped benchmark with other "
        "settings (trials 6, not 7); run that benchmark's command again to finish it, or "
        "pass overwrite=True (--overwrite) to replace them\n"
    )
    assert mistyped.calls == []  # refused before any run
    assert (out / RUNS_FILE).read_bytes() == kept
    with pytest.raises(RunExistsError, match=r"\(data_dir none, not /elsewhere\);"):
        run_benchmark(task="synthetic-qubo", strategies="random,local", seeds=2, trials=6,
                      out=str(out), data_dir="/elsewhere", progress=False)  # fmt: skip
    assert main(_argv(out, "--trials", "6")) == 0  # the stopped command takes its runs
    assert mistyped.calls == [("local", 0), ("local", 1)]
    capsys.readouterr()
    monkeypatch.setattr(harness, "_run_job", _StopAt(2))  # stopped again: one run kept
    assert main(_argv(out, "--trials", "6")) == 130
    anew = _StopAt(None)
    monkeypatch.setattr(harness, "_run_job", anew)
    assert main(_argv(out, "--trials", "7", "--overwrite")) == 0
    assert len(anew.calls) == 4
    rows = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert rows["trials"] == 7 and not (out / RUNS_FILE).exists()


def _file(folder: Path, settings: Any, runs: int) -> None:
    run = {"strategy": "random", "seed": 0, "curve": [1.0]}
    lines = [json.dumps(settings), *(json.dumps({**run, "seed": k}) for k in range(runs))]
    (folder / RUNS_FILE).write_text("\n".join(lines) + "\n")


def test_each_setting_that_differs_is_named(tmp_path: Path) -> None:
    now = journal._settings("synthetic-qubo", 6, ("a<=1",), "/d")
    v = quarch.__version__
    old = {**now, "budgets": [], "data_dir": None, "quarch": "0.0.1", "old": 1}
    _file(tmp_path, {"settings": old}, 3)
    with pytest.raises(RunExistsError) as e:
        journal._Journal(tmp_path, now)
    assert str(e.value) == (
        f"{str(tmp_path / RUNS_FILE)!r} holds 3 runs of a stopped benchmark with other "
        f'settings (budgets [], not ["a<=1"], data_dir none, not /d, quarch 0.0.1, not {v}, '
        "old 1, not none); run that benchmark's command again to finish it, or pass "
        "overwrite=True (--overwrite) to replace them"
    )
    assert e.value.run_dir == str(tmp_path)
    _file(tmp_path, {"settings": {**now, "task": "other:task"}}, 1)
    with pytest.raises(RunExistsError, match=r"holds 1 run of .*\(task other:task, not "):
        journal._Journal(tmp_path, now)
    _file(tmp_path, "not the settings", 2)  # runs after a line that names no settings
    with pytest.raises(RunExistsError, match=r"2 runs .*\(its settings line is unreadable\);"):
        journal._Journal(tmp_path, now)
    assert journal._Journal(tmp_path, now, overwrite=True).kept == {}
    _file(tmp_path, {"settings": old}, 0)  # no run to lose: replaced as before
    assert journal._Journal(tmp_path, now).kept == {}
    _file(tmp_path, {"settings": now}, 2)
    assert sorted(journal._Journal(tmp_path, now).kept) == [("random", 0), ("random", 1)]
    (tmp_path / RUNS_FILE).write_text("")  # a file of no line (a user's touch)
    assert journal._Journal(tmp_path, now).kept == {}


TASK = """
from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

SPACE = Space([Choice("a", list(range(4))), Choice("b", list(range(4)))], name="mine")


class Mine:
    def evaluate(self, arch, *, seed):
        return {"val_error": float(arch["a"] * 2 + arch["b"])}


def mine(*, seed=0):
    return Task(
        name="mine", space=SPACE, evaluator=Mine(),
        objective=task_objective([], {"val_error": 0.0}),
        judge=lambda a: float(a["a"] * 2 + a["b"]),
        maximize=False, optimum=0.0, target=0.0, score_name="e",
    )
"""


@pytest.fixture
def mine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A task module of the user's own beside the test, imported afresh."""
    path = tmp_path / "mine_task.py"
    path.write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "mine_task", raising=False)
    yield path
    sys.modules.pop("mine_task", None)


_MINE: dict[str, Any] = {"task": "mine_task:mine", "strategies": ["random", "local"],
                         "seeds": 2, "trials": 4, "progress": False}  # fmt: skip


def test_an_edited_task_module_is_refused_and_overwrite_starts_over(
    mine: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "b"
    monkeypatch.setattr(harness, "_run_job", _StopAt(3))
    with pytest.raises(KeyboardInterrupt, match=r"^2 of 4 runs finished"):
        run_benchmark(**_MINE, out=str(out))
    lines = (out / RUNS_FILE).read_text().splitlines()
    code = "sha256:" + hashlib.sha256(mine.read_bytes()).hexdigest()
    assert json.loads(lines[0])["settings"]["task_code"] == code
    again = _StopAt(2)  # unchanged: its runs are taken, one more finishes
    monkeypatch.setattr(harness, "_run_job", again)
    with pytest.raises(KeyboardInterrupt, match=r"^3 of 4 runs finished"):
        run_benchmark(**_MINE, out=str(out))
    assert again.calls == [("local", 0), ("local", 1)]
    kept = (out / RUNS_FILE).read_bytes()
    mine.write_text(TASK.replace('arch["a"] * 2', 'arch["a"] * 3'))  # the user's fix
    edited = _StopAt(None)
    monkeypatch.setattr(harness, "_run_job", edited)
    with pytest.raises(RunExistsError) as e:
        run_benchmark(**_MINE, out=str(out))
    assert str(e.value) == (
        f"{str(out / RUNS_FILE)!r} holds 3 runs of a stopped benchmark with other settings "
        "(the task's code changed); run that benchmark's command again to finish it, or "
        "pass overwrite=True (--overwrite) to replace them"
    )
    assert edited.calls == [] and (out / RUNS_FILE).read_bytes() == kept
    run_benchmark(**_MINE, out=str(out), overwrite=True)
    assert len(edited.calls) == 4 and not (out / RUNS_FILE).exists()


def test_what_identifies_a_task_code(mine: Path, tmp_path: Path) -> None:
    """The factory's module file (through a ``functools.partial`` too); none for
    quarch's own tasks (quarch's version says which) or a module without a file."""
    import mine_task  # type: ignore[import-not-found]

    code = "sha256:" + hashlib.sha256(mine.read_bytes()).hexdigest()
    assert journal._task_code(mine_task.mine) == code
    assert journal._task_code(functools.partial(functools.partial(mine_task.mine))) == code
    assert journal._task_code(synthetic_qubo_task) is None
    assert journal._task_code(functools.partial(synthetic_qubo_task)) is None
    assert "task_code" not in journal._settings("synthetic-qubo", 3, (), None)
    assert journal._settings("mine_task:mine", 3, (), None)["task_code"] == code
    fileless = types.ModuleType("fileless_task")
    exec("def f(): pass", fileless.__dict__)
    sys.modules["fileless_task"] = fileless
    try:
        assert journal._task_code(fileless.f) is None
    finally:
        del sys.modules["fileless_task"]

    class Opaque:  # a callable whose module cannot be read
        def __getattribute__(self, name: str) -> Any:
            if name == "__module__":
                raise AttributeError(name)
            return super().__getattribute__(name)

        def __call__(self) -> None: ...

    assert journal._task_code(Opaque()) is None
    anonymous = types.FunctionType(mine_task.mine.__code__, {})  # no __name__: no module
    assert anonymous.__module__ is None and journal._task_code(anonymous) is None
    gone = tmp_path / "gone_task.py"
    gone.write_text("def f(): pass\n")
    module = types.ModuleType("gone_task")
    module.__file__ = str(gone)
    exec("def f(): pass", module.__dict__)
    sys.modules["gone_task"] = module
    gone.unlink()  # unreadable now
    try:
        assert journal._task_code(module.f) is None
    finally:
        del sys.modules["gone_task"]
