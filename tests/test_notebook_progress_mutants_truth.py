"""What the notebook bar's tests left unchecked in ``quarch.study._progress``
(``progress_bar`` and ``CellProgress``; found by a mutation run of session 42's code).

``progress_bar`` is rich's ``Progress(*columns, console=console, ...)``: in a kernel a
:class:`~quarch.study._progress.CellProgress` that draws one plain line of at most 100
columns into the cell's output, and still prints messages on the caller's console.

Truth: rich's own ``Progress`` (its ``console`` and ``expand``), the text a fake
kernel's display is given (``tests/test_notebook_progress_truth.py``'s), counted in
characters here.
"""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from quarch.study._progress import CellProgress, progress_bar

from .test_notebook_progress_truth import _fake_kernel


class _Line:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def show(self, text: str) -> None:
        self.shown.append(text)


def test_in_a_kernel_the_bar_prints_messages_on_the_caller_s_console(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The line is drawn apart; what the bar prints (rich's ``Progress.print``) goes to
    the console the caller gave (in a kernel, the cell's output as rich displays it),
    not to the standard output."""
    displayed, shown = _fake_kernel(monkeypatch)
    console = Console(file=io.StringIO(), force_jupyter=True)
    bar = progress_bar(TextColumn("x"), console=console)
    assert isinstance(bar, CellProgress) and bar.console is console
    before = len(displayed)
    bar.print("a message of the caller's")
    assert [o.text.strip() for (o,) in displayed[before:]] == ["a message of the caller's"]
    assert "a message of the caller's" not in capsys.readouterr().out
    assert not any("a message" in s for s in shown)  # not drawn into the bar's line


@pytest.mark.parametrize("kernel", [True, False])
def test_rich_s_options_reach_the_bar(monkeypatch: pytest.MonkeyPatch, kernel: bool) -> None:
    """Options of rich's ``Progress`` given to ``progress_bar`` reach the bar it makes,
    in a kernel and outside one."""
    if kernel:
        _fake_kernel(monkeypatch)
    console = Console(file=io.StringIO(), force_jupyter=kernel)
    bar = progress_bar(TextColumn("x"), console=console, expand=True, speed_estimate_period=7.0)
    assert isinstance(bar, CellProgress) is kernel and isinstance(bar, Progress)
    assert bar.expand is True and bar.speed_estimate_period == 7.0
    plain = progress_bar(TextColumn("x"), console=console)
    assert plain.expand is False and plain.speed_estimate_period == 30.0  # rich's defaults


@pytest.mark.parametrize("label", [90, 150])
def test_the_line_is_at_most_100_columns(label: int) -> None:
    """A label that fits in 100 columns is drawn whole on one line; a wider one never
    makes a line wider than 100 columns."""
    line = _Line()
    text = "".join(chr(ord("a") + i % 26) for i in range(label))
    with CellProgress(TextColumn(text), line=line, console=Console(file=io.StringIO())) as bar:
        bar.add_task("t", total=1)
    assert line.shown
    for shown in line.shown:
        rows = shown.splitlines()
        assert max(len(r) for r in rows) <= 100
        if label <= 100:
            assert rows == [text]


def test_the_line_is_plain_text_even_where_colour_is_forced(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``FORCE_COLOR`` (set by many CI systems and some terminals' users) makes rich
    colour a console that is no terminal; the cell's line stays plain text."""
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.delenv("NO_COLOR", raising=False)
    line = _Line()
    console = Console(file=sys.stderr)
    with CellProgress(TextColumn("[bold red]search"), line=line, console=console) as bar:
        bar.add_task("t", total=3)
    assert line.shown and all("\x1b" not in s for s in line.shown)
    assert line.shown[-1].startswith("search")


def _drawn_bar() -> str:
    line = _Line()
    with CellProgress(BarColumn(), line=line, console=Console(file=io.StringIO())) as bar:
        task = bar.add_task("t", total=4)
        bar.update(task, completed=2)
    return line.shown[-1]


def test_the_line_does_not_depend_on_the_standard_output(monkeypatch: pytest.MonkeyPatch) -> None:
    """The line is rendered apart from every stream: an ASCII-only standard output
    (rich draws bars in ASCII for one) leaves it as drawn with a UTF-8 one."""
    utf8 = _drawn_bar()
    assert "━" in utf8  # rich's bar characters where Unicode may be written
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="ascii"))
    assert _drawn_bar() == utf8
