"""Where a quarch warning says it came from (``quarch._warnings.warn``).

A warning raised inside quarch was attributed to quarch's own line (say
``.../quarch/study/_skips.py:141``); in a notebook that names no cell. It now names the
first frame outside the quarch package: the user's call. Truth: the file and line of
the call in this file, read with ``inspect``.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from quarch._warnings import QuarchWarning, warn
from quarch.config import SearchConfig
from quarch.objectives import Budget
from quarch.space import Choice, Space
from quarch.study import run_search
from quarch.study._skips import WARN_AFTER, SkipStreak


def _caught(call: object) -> list[warnings.WarningMessage]:
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        call()  # type: ignore[operator]
    return [w for w in got if issubclass(w.category, QuarchWarning)]


class _Cheap:
    """An evaluator whose ``params`` is known before training (the choice itself)."""

    fingerprint = ""

    def cheap_metrics(self, arch: Mapping[str, Any]) -> dict[str, float]:
        return {"params": float(arch["a"])}

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        return {"val_error": arch["a"] / 10, "params": float(arch["a"])}


def test_a_warning_from_inside_a_search_names_the_users_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The skip warning, raised five quarch frames down (the loop, the worker, the
    streak) with Optuna's between, names this file's ``run_search`` line; it named
    quarch's worker loop."""
    monkeypatch.setattr("quarch.study._skips.WARN_AFTER", 2)
    config = SearchConfig(space="toy_warn", dataset=None, strategy="random", trials=1,
                          seed=3, out=str(tmp_path / "run"), objectives=["val_error"],
                          budgets=["params<=0"])  # fmt: skip
    space = Space([Choice("a", list(range(10)))], name="toy_warn")
    line = 0

    def search() -> None:
        nonlocal line
        line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        run_search(config, space=space, evaluator=_Cheap(), progress=False)

    got = _caught(search)
    assert [str(w.message).split(";")[0] for w in got] == [
        "2 architectures in a row were over budget before training (skipped untrained)"
    ]
    assert (Path(got[0].filename), got[0].lineno) == (Path(__file__), line)


def test_a_warning_one_quarch_frame_down_names_the_line_that_called_it() -> None:
    """The streak called directly: the line of this file that called ``add``."""
    streak = SkipStreak()
    line = 0

    def skip_fifty() -> None:
        nonlocal line
        for _ in range(WARN_AFTER):
            line = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
            streak.add([(Budget("params", "<=", 10), 100.0)], 500)

    got = _caught(skip_fifty)
    assert len(got) == 1
    assert (Path(got[0].filename), got[0].lineno) == (Path(__file__), line)


def test_a_direct_call_names_its_own_line() -> None:
    here = 0

    def call() -> None:
        nonlocal here
        here = inspect.currentframe().f_lineno + 1  # type: ignore[union-attr]
        warn("direct")

    got = _caught(call)
    assert [(Path(w.filename), w.lineno, str(w.message)) for w in got] == [
        (Path(__file__), here, "direct")
    ]
