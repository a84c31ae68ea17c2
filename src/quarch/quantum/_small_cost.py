"""When the small-circuit path is faster than the block engine (placeholder)."""

from __future__ import annotations

from typing import Any

SMALL_MAX_QUBITS = 10


def small_is_faster(plan: Any, batch: int, weights_batched: bool) -> bool:
    return True


WHOLE_REGISTER = 4
FOLD_ROWS = 10**9
SINGLE_STATE = 4096
