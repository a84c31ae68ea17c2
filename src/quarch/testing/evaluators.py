"""Evaluators with known behaviour, for testing search loops, workers and faults.

They live in the package (not in ``tests/``) so that worker processes started with
``spawn`` and Ray tasks can unpickle them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["ArithmeticEvaluator", "FaultyEvaluator"]


class ArithmeticEvaluator:
    """Metrics computed from an ``mlp``-space architecture and the seed alone.

    ``val_error`` and ``params`` follow closed forms, so a test knows the truth; the
    ``noise`` metric is a function of the seed, so a re-evaluation with another seed
    differs. ``delay`` seconds of sleep make trials take time.
    """

    fingerprint = "arithmetic"

    def __init__(self, delay: float = 0.0, *, busy: bool = False) -> None:
        self.delay = delay
        self.busy = busy

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        if self.delay:
            if self.busy:  # burn CPU, as training does, so parallel speed-up is measurable
                end = time.perf_counter() + self.delay
                x = 0
                while time.perf_counter() < end:
                    x += 1
            else:
                time.sleep(self.delay)
        err = 0.1 * arch["n_layers"] + 0.001 * arch["width_0"]
        return {
            "val_error": err,
            "params": float(arch["width_0"] * arch["n_layers"]),
            "noise": float(seed % 997) / 997.0,
        }


class FaultyEvaluator(ArithmeticEvaluator):
    """Fails on purpose by ``n_layers``: 1 works, 2 returns NaN, 3 raises, 4+ hangs."""

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        n = arch["n_layers"]
        if n == 2:
            return {"val_error": math.nan, "params": 1.0}
        if n == 3:
            raise RuntimeError("evaluator exploded on purpose")
        if n >= 4:
            time.sleep(3600)
        return super().evaluate(arch, seed=seed)
