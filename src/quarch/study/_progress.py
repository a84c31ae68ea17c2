"""Progress display of a search: a rich bar with trials done, best values and ETA."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING

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
        if self.enabled:
            self._progress = Progress(
                TextColumn("[bold]search"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[best]}"),
                TimeRemainingColumn(),
                console=Console(file=sys.stderr),
                transient=False,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task(
                "search", total=self.total, completed=self.done, best=""
            )
        return self

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
