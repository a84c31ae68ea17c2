"""Architectures skipped in a row over a budget known before training: warn early, and
give up saying how near the space came to the budget.

A budget that no architecture of the space meets (``params<=10`` on a space whose
smallest net has hundreds of parameters) was found out only at the give-up, after 500
architectures in a row were skipped (80 to 165 s of a silent progress bar at 0 on the
built-in spaces), with the last architecture's value, not the nearest one. The streak
kept here remembers, for each budget, the value nearest its limit among the skipped
architectures, warns once after :data:`WARN_AFTER` of them in a row, and words the
give-up with the same values and what to do: loosen the budget to the nearest value,
or narrow the space.

A cheaper way, refusing such a budget before any trial, would need the space's smallest
value of each cost; no space can give it without building its architectures (the costs
are not monotonic in every choice), and the larger spaces are far too big to enumerate.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quarch._errors import RunError
from quarch._warnings import warn

if TYPE_CHECKING:
    from quarch.objectives import Budget

__all__ = ["WARN_AFTER", "SkipStreak", "nearest_advice", "note_nearest"]

#: Skips in a row after which the search warns (once per run) that it may give up.
WARN_AFTER = 50
#: The name prefix of the worker processes ``_parallel`` spawns: they do not warn (the
#: parent, one of the workers, does; a spawned one's warning would print in Python's
#: two-line format, once a worker).
SPAWNED_PREFIX = "quarch-worker-"


#: Significant digits of a value that is not a whole number (a modelled latency).
_DIGITS = 4
#: Whole numbers below this are written in full (a parameter count); larger ones, as
#: any other value, to :data:`_DIGITS` significant digits.
_WHOLE_BELOW = 1e15


def _number(value: float) -> str:
    """``value`` as the line shows it: a whole number in full (``44202``, not
    ``4.42e+04``), any other to :data:`_DIGITS` significant digits."""
    if value.is_integer() and abs(value) < _WHOLE_BELOW:
        return str(int(value))
    return f"{value:.{_DIGITS}g}"


def _limit_admitting(value: float, up: bool) -> str:
    """A short limit that admits ``value``: ``value`` itself when whole, else rounded
    to :data:`_DIGITS` significant digits away from it (``up`` for a ``<=`` budget),
    so that ``--budget`` given the suggestion admits the nearest architecture
    (``latency_ms<=0.01234`` would refuse 0.012344)."""
    text = _number(value)
    if (float(text) >= value) if up else (float(text) <= value):
        return text
    step = 10.0 ** (math.floor(math.log10(abs(value))) - _DIGITS + 1)
    return _number(float(text) + (step if up else -step))


def nearest_advice(nearest: dict[Budget, float]) -> str:
    """What the architectures nearest each budget had, and what to do, e.g. ``the
    nearest had params=731 against params<=10: loosen the budget to params<=731 or
    looser, or narrow the space``. ``nearest``: each budget's value nearest its
    limit among the skipped architectures.

    A budget that one of them met is left out; when each budget was met by some, the
    line says none met all at once.
    """
    over = {b: v for b, v in nearest.items() if b.violation(v) > 0}
    if not over:
        names = ", ".join(map(str, nearest))
        return (
            f"each of the budgets {names} was met by some of them, never all at once: "
            "loosen one of them, or narrow the space"
        )
    had = " and ".join(f"{b.metric}={_number(v)} against {b}" for b, v in over.items())
    loose = " and ".join(_loosened(b, v) for b, v in over.items())
    noun = "budget" if len(over) == 1 else "budgets"
    return f"the nearest had {had}: loosen the {noun} to {loose} or looser, or narrow the space"


def _nearer(budget: Budget, value: float, than: float) -> bool:
    """Whether ``value`` lies nearer ``budget``'s side than ``than``: smaller for a
    ``<=`` budget, larger for a ``>=`` one. By the values, not by their violations:
    ``limit - value`` rounds every value alike under a limit such as 1e30."""
    return value < than if budget.op in ("<=", "<") else value > than


def note_nearest(nearest: dict[Budget, float], checked: Iterable[tuple[Budget, float]]) -> None:
    """Keep in ``nearest`` each budget's value nearest its limit, given the values of one
    more skipped architecture (``checked``, as ``OverBudget`` carries them): for the
    streak, and for a benchmark run over all it skipped (its stop line names them)."""
    for budget, value in checked:
        old = nearest.get(budget)
        if old is None or _nearer(budget, value, old):
            nearest[budget] = value


def _loosened(budget: Budget, value: float) -> str:
    """``budget`` loosened just enough to admit ``value``, non-strict (``params<67``
    would still refuse 67): ``params<=67``."""
    up = budget.op in ("<=", "<")
    return f"{budget.metric}{'<=' if up else '>='}{_limit_admitting(value, up)}"


@dataclass
class SkipStreak:
    """Architectures skipped in a row by one loop (:func:`~quarch.study._worker.work`,
    Ray's driver): their count, each budget's nearest value, and whether this loop
    warned already (once per run: a streak that ends and starts again does not warn
    again)."""

    count: int = 0
    nearest: dict[Budget, float] = field(default_factory=dict)
    warned: bool = False

    def add(self, checked: Iterable[tuple[Budget, float]], limit: int) -> None:
        """Count one more skipped architecture, whose values of the budgets checked
        before training are ``checked``; warn at :data:`WARN_AFTER` in a row, once,
        unless ``limit`` (where the loop gives up) comes first."""
        self.count += 1
        note_nearest(self.nearest, checked)
        if self.count >= WARN_AFTER and self.count < limit and not self.warned:
            self.warned = True
            if not multiprocessing.current_process().name.startswith(SPAWNED_PREFIX):
                warn(
                    f"{self.count} architectures in a row were over budget before "
                    f"training (skipped untrained); {nearest_advice(self.nearest)} (the "
                    f"search gives up at {limit} in a row)"
                )

    def reset(self) -> None:
        """An architecture was trained (or failed): the streak starts again."""
        self.count = 0
        self.nearest.clear()

    def give_up(self, done: int, trials: int) -> RunError:
        """The error the loop gives up with, ``done`` of ``trials`` trials done."""
        return RunError(
            f"gave up: {self.count} architectures in a row were over budget before "
            f"training, with {done} of {trials} trials done; {nearest_advice(self.nearest)}"
        )
