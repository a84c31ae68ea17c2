"""An evaluator whose parent process waits for its spawned worker's first trial.

A test that kills the spawned worker of a two-worker run needs that worker to be
running a trial before the parent, itself a worker, has done the whole budget. Under a
load of 9 a spawned worker once took longer to start than the parent took for all 24
half-second trials. Here the parent's first trial waits (up to ``patience`` seconds)
until a trial of another process has started, which that trial marks by creating ``flag``.

The module is imported by its own name (its folder on ``PYTHONPATH``), so that the
spawned worker can unpickle the evaluator.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quarch.testing.evaluators import ArithmeticEvaluator

if TYPE_CHECKING:  # not imported by the spawned worker that unpickles the evaluator
    import pytest


class WorkerFirst(ArithmeticEvaluator):
    """:class:`ArithmeticEvaluator` (the same metrics); the process that made it waits,
    before its first trial, until another process's trial has created ``flag``."""

    def __init__(self, delay: float, flag: str, patience: float = 120.0) -> None:
        super().__init__(delay)
        self.flag, self.patience, self.parent = flag, patience, os.getpid()

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        flag = Path(self.flag)
        if os.getpid() != self.parent:
            flag.touch()
        elif self.patience:
            deadline = time.monotonic() + self.patience
            while not flag.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            self.patience = 0.0  # waited once: a worker that never starts fails the test
        return super().evaluate(arch, seed=seed)


def worker_first(monkeypatch: pytest.MonkeyPatch, delay: float, flag: Path) -> Any:
    """A :class:`WorkerFirst` for a run in this process: this module imported by its
    own name (its folder put on ``sys.path``, which a spawned worker is given), so that
    a spawned worker can unpickle the evaluator."""
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    return importlib.import_module("_worker_first").WorkerFirst(delay, str(flag))
