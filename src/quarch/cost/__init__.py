"""Cost models: what an architecture costs to store, run and simulate."""

from __future__ import annotations

from quarch.cost.classical import count_flops, count_params

__all__ = ["count_flops", "count_params"]
