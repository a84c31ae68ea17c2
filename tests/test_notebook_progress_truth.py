"""The search's progress display in a Jupyter kernel (``quarch.study._progress``).

Before, the bar was rich's live display, which in a kernel needs ``ipywidgets``:
without it rich warned ``install "ipywidgets" for Jupyter support`` at every refresh
(41 copies in a 12-trial search's cell, and no bar); with it, the bar lived in a widget
that a saved notebook does not keep. Now, in a kernel, the same columns are one text
output of the cell, replaced in place (IPython's ``display_id``) at most every 0.5 s
and once more at the end.

The truth: the trials fed in (done count, best value: their minimum, computed here);
rich's own test of a kernel (``get_ipython()`` a ``ZMQInteractiveShell``), faked here
without a kernel and met in a real one (``nbclient``, skipped where not installed).
"""

from __future__ import annotations

import builtins
import importlib.util
import math
import sys
import time
import types
import warnings
from pathlib import Path
from typing import Any

import pytest

from quarch.study._progress import SearchProgress
from quarch.study._result import TrialRecord


class ZMQInteractiveShell:
    """What ``get_ipython()`` returns in a Jupyter kernel, by the name rich checks."""


class _Handle:
    def __init__(self, shown: list[str]) -> None:
        self.shown = shown

    def update(self, obj: dict[str, str], raw: bool = False) -> None:
        assert raw
        self.shown.append(obj["text/plain"])


def _fake_kernel(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Any], list[str]]:
    """A kernel as rich and quarch see it: ``get_ipython`` in builtins, and an
    ``IPython.display`` whose ``display`` records what it is given."""
    displayed: list[Any] = []
    shown: list[str] = []

    def display(*objs: Any, raw: bool = False, display_id: Any = None, **kw: Any) -> Any:
        displayed.append(objs)
        if display_id is True and raw:
            shown.append(objs[0]["text/plain"])
            return _Handle(shown)
        return None

    module = types.ModuleType("IPython.display")
    vars(module)["display"] = display
    monkeypatch.setitem(sys.modules, "IPython.display", module)
    monkeypatch.setattr(builtins, "get_ipython", ZMQInteractiveShell, raising=False)
    return displayed, shown


def _record(n: int, value: float) -> TrialRecord:
    return TrialRecord(n, "COMPLETE", {"k": n}, {"val_error": value}, [value], True, n)


def test_in_a_kernel_the_bar_is_one_output_line_redrawn_in_place(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    displayed, shown = _fake_kernel(monkeypatch)
    values = [((7 * n) % 13 + 1) / 10 for n in range(300)]  # 0.1 .. 1.3, in no order
    t0 = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with SearchProgress(300, 0, enabled=True, names=["val_error"],
                            directions=["minimize"]) as bar:  # fmt: skip
            for n, v in enumerate(values):
                bar.update(n + 1, _record(n, v))
    elapsed = time.monotonic() - t0
    assert [str(w.message) for w in caught] == []
    assert len(displayed) == 1  # one output, created once
    # drawn at the start, at most every 0.5 s, and at the end
    assert 2 <= len(shown) <= 3 + math.ceil(elapsed / 0.5)
    last = shown[-1]
    assert len(last.splitlines()) == 1
    assert "300/300" in last
    assert f"best val_error={min(values):.4g}" in last  # 0.1
    assert "\x1b" not in last  # plain text: no terminal colour codes
    out = capsys.readouterr()
    assert out.err == "" and out.out == ""  # nothing beside the line


def test_outside_a_kernel_the_bar_is_rich_s_own_on_stderr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No ``get_ipython``: nothing is displayed through IPython."""
    displayed, shown = _fake_kernel(monkeypatch)
    monkeypatch.delattr(builtins, "get_ipython")
    with SearchProgress(3, 0, enabled=True, names=["val_error"],
                        directions=["minimize"]) as bar:  # fmt: skip
        bar.update(1, _record(0, 0.5))
    assert displayed == [] and shown == []


def test_a_disabled_bar_displays_nothing_in_a_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    displayed, shown = _fake_kernel(monkeypatch)
    with SearchProgress(3, 0, enabled=False, names=["val_error"],
                        directions=["minimize"]) as bar:  # fmt: skip
        bar.update(1, _record(0, 0.5))
    assert displayed == [] and shown == []


_KERNEL = all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel"))


@pytest.mark.skipif(not _KERNEL, reason="needs nbclient, nbformat and ipykernel")
def test_a_search_in_a_real_kernel_shows_one_line_and_no_warning(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    cell = (
        "from quarch.config import SearchConfig\n"
        "from quarch.study import run_search\n"
        "from quarch.space import Choice, Space\n"
        "class Ev:\n"
        "    fingerprint = 'nb'\n"
        "    def evaluate(self, arch, *, seed):\n"
        "        return {'val_error': 1 / arch['d']}\n"
        "space = Space([Choice('d', [1, 2, 3, 4, 5])], name='nb')\n"
        "r = run_search(SearchConfig(space='nb', dataset=None, trials=12, out='run',\n"
        "               objectives=['val_error']), space=space, evaluator=Ev())\n"
    )
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(cell), nbformat.v4.new_code_cell("r.done")]
    NotebookClient(nb, timeout=240, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    lines = [o for o in outputs if o.output_type == "display_data"]
    assert len(lines) == 1, outputs
    text = lines[0].data["text/plain"]
    assert "12/12" in text and len(text.splitlines()) == 1
    # the best of 1/d over the d tried; all five are tried in 12 trials unless the
    # strategy repeated itself, so read them back from the run
    best = min(t.metrics["val_error"] for t in _result(tmp_path / "run").complete)
    assert f"best val_error={best:.4g}" in text
    streams = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    # rich's warning; Optuna's own import of tqdm.auto warns "IProgress not found" once
    # in a kernel without ipywidgets, as it does for any Optuna user there
    assert 'install "ipywidgets"' not in streams and "QuarchWarning" not in streams
    assert nb.cells[1].outputs[0].data["text/plain"] == "12"


def _result(run: Path) -> Any:
    from quarch.study import Run

    return Run.open(run).result()
