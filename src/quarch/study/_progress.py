"""Progress display of a search: a rich bar with trials done, best values and ETA.

In a terminal it is rich's live bar on stderr. In a Jupyter kernel rich's live display
needs ``ipywidgets``: without it rich warned ``install "ipywidgets" for Jupyter
support`` at every refresh (41 copies of the warning for a 12-trial search, and no bar
at all); with it, the bar lives in a widget that a saved notebook does not keep. So in
a kernel the same columns are rendered as one line of text in one cell output that is
replaced in place (IPython's ``display_id``), at most every :data:`NOTEBOOK_EVERY_S`.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from quarch.study._result import TrialRecord

__all__ = ["SearchProgress"]

#: Seconds between two redraws of the notebook line: each is a message to the front
#: end, and a fast search (thousands of trials a minute) must not flood it.
NOTEBOOK_EVERY_S = 0.5


class _Line(Protocol):
    def show(self, text: str) -> None: ...


def _in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (or Colab's): rich's own test, so the
    bar is drawn here exactly where rich would have drawn it with ``ipywidgets``."""
    return Console(file=sys.stderr).is_jupyter


class _CellLine:
    """One text output of the running cell, replaced in place (no widget needed)."""

    def __init__(self) -> None:
        from IPython.display import display

        self._handle: Any = display({"text/plain": ""}, raw=True, display_id=True)

    def show(self, text: str) -> None:
        self._handle.update({"text/plain": text}, raw=True)


def _cell_line() -> _Line | None:
    """The cell's line, or ``None`` where IPython cannot be imported (a kernel always
    has it; then nothing is drawn, as with ``progress=False``)."""
    try:
        return _CellLine()
    except ImportError:
        return None


class SearchProgress:
    """Context manager showing ``done/total``, the best values seen and the ETA on stderr.

    Disabled (a no-op) when ``enabled`` is false, e.g. for ``--quiet`` and ``--json``.
    """

    def __init__(
        self,
        total: int,
        done: int,
        *,
        enabled: bool,
        names: Sequence[str],
        directions: Sequence[str],
    ) -> None:
        self.total, self.done, self.enabled = total, done, enabled
        self.names = list(names)
        self.sign = -1.0 if list(directions) == ["maximize"] else 1.0
        self.best: list[float] | None = None
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._line: _Line | None = None  # in a notebook: the cell's output line
        self._drawn = 0.0  # when the notebook line was last drawn (monotonic)

    def __enter__(self) -> SearchProgress:
        if not self.enabled:
            return self
        if _in_notebook():
            self._line = _cell_line()
            if self._line is None:
                return self
            console = Console(file=io.StringIO(), width=100, force_jupyter=False, color_system=None)
            self._progress = self._make(console, auto_refresh=False)  # never entered
        else:
            self._progress = self._make(Console(file=sys.stderr), auto_refresh=True)
            self._progress.__enter__()
        self._task = self._progress.add_task(
            "search", total=self.total, completed=self.done, best=""
        )
        self._draw(force=True)
        return self

    @staticmethod
    def _make(console: Console, *, auto_refresh: bool) -> Progress:
        return Progress(
            TextColumn("[bold]search"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
            auto_refresh=auto_refresh,
        )

    def _draw(self, *, force: bool = False) -> None:
        """Redraw the notebook line (a no-op in a terminal, where rich's thread does),
        unless it was drawn less than :data:`NOTEBOOK_EVERY_S` ago."""
        if self._line is None or self._progress is None:
            return
        now = time.monotonic()
        if not force and now - self._drawn < NOTEBOOK_EVERY_S:
            return
        self._drawn = now
        console = self._progress.console
        with console.capture() as captured:
            console.print(self._progress.get_renderable())
        self._line.show(captured.get().rstrip())

    def update(self, done: int, record: TrialRecord | None) -> None:
        """Show ``done`` complete trials, and ``record`` if a trial just finished here."""
        if record is not None and record.values is not None and record.feasible:
            if self.best is None:
                self.best = list(record.values)
            elif len(record.values) == 1:
                self.best = [
                    self.sign * min(self.sign * self.best[0], self.sign * record.values[0])
                ]
        if self._progress is not None and self._task is not None:
            best = ""
            if self.best is not None and len(self.best) == 1:
                best = f"best {self.names[0]}={self.best[0]:.4g}"
            self._progress.update(self._task, completed=done, best=best)
            self._draw()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._line is not None:
            self._draw(force=True)  # the state it ended in, however recent the last draw
        elif self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
