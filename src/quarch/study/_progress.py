"""Progress display of a search: a rich bar with trials done, best values and ETA.

In a terminal it is rich's live bar on stderr. In a Jupyter kernel rich's live display
needs ``ipywidgets``: without it rich warned ``install "ipywidgets" for Jupyter
support`` at every refresh (41 copies of the warning for a 12-trial search, and no bar
at all); with it, the bar lives in a widget that a saved notebook does not keep. So in
a kernel the same columns are rendered as one line of text in one cell output that is
replaced in place (IPython's ``display_id``), at most every :data:`NOTEBOOK_EVERY_S`
(:class:`CellProgress`; :func:`progress_bar` picks it, for the benchmark's bar too).
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import rich.progress
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)

if TYPE_CHECKING:
    from quarch.study._result import TrialRecord

__all__ = ["CellProgress", "SearchProgress", "progress_bar"]

#: Seconds between two redraws of the notebook line: each is a message to the front
#: end, and a fast search (thousands of trials a minute) must not flood it.
NOTEBOOK_EVERY_S = 0.5


class _Line(Protocol):
    def show(self, text: str) -> None: ...


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


class CellProgress(Progress):
    """rich's :class:`~rich.progress.Progress` drawn as one text line of the running
    cell's output, redrawn in place, instead of its live display (which needs
    ``ipywidgets`` in a kernel: without them rich warned at every refresh and drew
    nothing). Drawn when a task is added, at most every :data:`NOTEBOOK_EVERY_S` as
    tasks change, and once more when it stops, so the line ends as the work did.
    ``console`` (the caller's) still prints messages; the line is rendered apart."""

    def __init__(self, *columns: str | ProgressColumn, line: _Line, **kwargs: Any) -> None:
        super().__init__(*columns, auto_refresh=False, **kwargs)
        self._line = line
        self._text = Console(file=io.StringIO(), width=100, force_jupyter=False, color_system=None)
        self._drawn = 0.0  # when the line was last drawn (monotonic)

    def start(self) -> None:
        """Nothing to start: no live display, no refresh thread."""

    def stop(self) -> None:
        self.draw(force=True)  # the state it ended in, however recent the last draw

    def add_task(self, *args: Any, **kwargs: Any) -> TaskID:
        task = super().add_task(*args, **kwargs)
        self.draw(force=True)
        return task

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        self.draw()

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self.draw()

    def draw(self, *, force: bool = False) -> None:
        """Redraw the line, unless it was drawn less than :data:`NOTEBOOK_EVERY_S` ago."""
        now = time.monotonic()
        if not force and now - self._drawn < NOTEBOOK_EVERY_S:
            return
        self._drawn = now
        with self._text.capture() as captured:
            self._text.print(self.get_renderable())
        self._line.show(captured.get().rstrip())


def progress_bar(
    *columns: str | ProgressColumn, console: Console, disable: bool = False, **kwargs: Any
) -> Progress:
    """rich's ``Progress(*columns, console=console, ...)``; in a notebook (rich's own
    test, ``console.is_jupyter``, so the line is drawn exactly where rich would have
    drawn its widget) a :class:`CellProgress`, or a disabled bar where IPython's
    display cannot be imported (a kernel always has it)."""
    if not disable and console.is_jupyter:
        line = _cell_line()
        if line is not None:
            return CellProgress(*columns, line=line, console=console, **kwargs)
        disable = True
    # rich's own, looked up when called (a test records the bar by replacing it)
    return rich.progress.Progress(*columns, console=console, disable=disable, **kwargs)


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

    def __enter__(self) -> SearchProgress:
        if not self.enabled:
            return self
        self._progress = self._make(Console(file=sys.stderr))
        self._progress.__enter__()
        self._task = self._progress.add_task(
            "search", total=self.total, completed=self.done, best=""
        )
        return self

    @staticmethod
    def _make(console: Console) -> Progress:
        """The bar: rich's live one in a terminal, one line of the cell in a notebook."""
        return progress_bar(
            TextColumn("[bold]search"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[best]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )

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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.__exit__(exc_type, exc, tb)
