"""The benchmark's progress bar in a Jupyter kernel (``run_benchmark(progress=True)``,
``quarch.study._progress.progress_bar``).

Before, it was rich's live display, which in a kernel needs ``ipywidgets``: without
them a cell running the README's benchmark showed rich's ``install "ipywidgets" for
Jupyter support`` warning and an empty output, no bar. Now it is the search's
notebook line (:class:`quarch.study._progress.CellProgress`): one text output of the
cell, replaced in place, that ends at ``runs/runs``.

The truth: the runs asked for (strategies x seeds, counted here); rich's own test of a
kernel (``get_ipython()`` a ``ZMQInteractiveShell``), faked without a kernel and met
in a real one (``nbclient``, skipped where it is not installed).
"""

from __future__ import annotations

import builtins
import importlib.util
import io
import sys
import warnings
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import MofNCompleteColumn, Progress, TextColumn

from quarch.benchmark import run_benchmark
from quarch.study import _progress
from quarch.study._progress import CellProgress, progress_bar

from .test_notebook_progress_truth import _fake_kernel  # rich's test of a kernel, faked

#: The README's task of your own ("Benchmarks of your own"), cut to what a bar needs.
TASKS = """
from quarch.benchmark import Task
from quarch.objectives import Objective
from quarch.space import Choice, Space

SPACE = Space([Choice("depth", [1, 2, 3, 4]), Choice("width", [16, 32, 64])], name="toy")


def true_error(arch):
    return abs(arch["depth"] - 3) * 0.02 + abs(arch["width"] - 32) / 3200


class Ev:
    fingerprint = "toy-v1"

    def evaluate(self, arch, *, seed):
        return {"val_error": true_error(arch)}


def toy(*, seed=0, budgets=()):
    return Task(name="toy", space=SPACE, evaluator=Ev(), objective=Objective(["val_error"]),
                judge=true_error, maximize=False, optimum=0.0, target=1e-9,
                score_name="true error")
"""


@pytest.fixture
def tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    (tmp_path / "nb_bar_tasks.py").write_text(TASKS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return "nb_bar_tasks:toy"


def test_in_a_kernel_the_benchmark_bar_is_one_line_that_ends_at_every_run(
    tasks: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    displayed, shown = _fake_kernel(monkeypatch)
    strategies, seeds = ["random", "tpe"], 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_benchmark(task=tasks, strategies=strategies, seeds=seeds, trials=6, out="b")
    assert [str(w.message) for w in caught if "ipywidgets" in str(w.message)] == []
    assert len(displayed) == 1  # one output, created once
    runs = len(strategies) * seeds
    assert f"0/{runs}" in shown[1]  # drawn when the task is added
    last = shown[-1]
    assert len(last.splitlines()) == 1 and "\x1b" not in last
    assert last.startswith("benchmark toy tpe") and last.endswith(f"{runs}/{runs}")
    out = capsys.readouterr()
    assert "ipywidgets" not in out.err and out.out == ""


def test_outside_a_kernel_and_disabled_the_bar_is_rich_s_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    displayed, shown = _fake_kernel(monkeypatch)
    off = progress_bar(TextColumn("x"), console=Console(file=sys.stderr), disable=True)
    assert type(off) is Progress and off.disable
    monkeypatch.delattr(builtins, "get_ipython")
    on = progress_bar(TextColumn("x"), console=Console(file=sys.stderr))
    assert type(on) is Progress and not on.disable
    assert displayed == [] and shown == []


def test_a_kernel_without_ipython_s_display_draws_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """(Where ``IPython.display`` cannot be imported, as the search's bar: no warning.)"""
    _fake_kernel(monkeypatch)
    monkeypatch.setitem(sys.modules, "IPython.display", None)  # type: ignore[arg-type]
    bar = progress_bar(TextColumn("x"), console=Console(file=sys.stderr))
    assert type(bar) is Progress and bar.disable


class _Line:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def show(self, text: str) -> None:
        self.shown.append(" ".join(text.split()))  # MofN pads the count to the total's width


def test_the_line_is_drawn_at_most_every_half_second_and_at_the_end(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A fake clock: an update within 0.5 s of the last draw is not drawn, the next
    one after is; ``advance`` draws as ``update`` does; the end and a new task are drawn
    always."""
    now = [100.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: now[0])
    line = _Line()
    console = Console(file=io.StringIO())
    bar = CellProgress(TextColumn("{task.description}"), MofNCompleteColumn(), line=line,
                       console=console)  # fmt: skip
    with bar:
        assert line.shown == []  # nothing to draw before a task
        t = bar.add_task("a", total=10)
        assert line.shown == ["a 0/10"]
        now[0] += 0.4
        bar.advance(t)
        assert line.shown == ["a 0/10"]  # 0.4 s after the last draw
        now[0] += 0.1
        bar.update(t, description="b")
        assert line.shown[-1] == "b 1/10"
        now[0] += 0.6
        bar.advance(t, 2)
        assert line.shown[-1] == "b 3/10"
        now[0] += 0.1
        bar.update(t, completed=10)
        assert line.shown[-1] == "b 3/10"
    assert line.shown[-1] == "b 10/10" and len(line.shown) == 4
    bar.add_task("c", total=5)  # a task added is drawn however recent the last draw
    assert line.shown[-1] == "b 10/10 c 0/5" and len(line.shown) == 5
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]  # the caller's console: unused


_KERNEL = all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel"))


@pytest.mark.skipif(not _KERNEL, reason="needs nbclient, nbformat and ipykernel")
def test_a_benchmark_in_a_real_kernel_shows_one_line_and_no_warning(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    (tmp_path / "nb_bar_tasks.py").write_text(TASKS)
    cell = (
        "from quarch.benchmark import run_benchmark\n"
        "r = run_benchmark(task='nb_bar_tasks:toy', strategies=['random', 'tpe'], seeds=2,\n"
        "                  trials=5, out='b')\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell)]
    NotebookClient(nb, timeout=240, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    lines = [o for o in outputs if o.output_type == "display_data"]
    assert len(lines) == 1, outputs
    text = lines[0].data["text/plain"]
    assert text.startswith("benchmark toy tpe") and text.endswith("4/4")
    # rich's warning (before: shown through its console, as a second output); Optuna's
    # import of tqdm.auto warns "IProgress not found" once, as for any Optuna user there
    texts = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert 'install "ipywidgets"' not in texts and "UserWarning" not in texts
