"""The ``mlp`` space: small fully connected classifiers.

It exists so the whole loop (space -> strategy -> evaluator -> study -> report) runs
end to end on tabular data before the quantum and CNN spaces, and it serves as the
classical reference for tiny data sets such as iris.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

from quarch.space._space import Choice, Space, option_list

__all__ = ["ACTIVATIONS", "mlp_space"]

#: The activations the model builds (``quarch.spaces.mlp.model``; a test keeps the two equal).
ACTIVATIONS: tuple[str, ...] = ("relu", "tanh", "gelu", "sigmoid", "silu")


def mlp_space(
    *,
    max_layers: int = 3,
    widths: Sequence[int] = (8, 16, 32, 64),
    activations: Sequence[str] = ("relu", "tanh", "gelu"),
    learning_rates: Sequence[float] = (0.003, 0.01, 0.03),
) -> Space:
    """1 to ``max_layers`` hidden layers, a width per layer, one activation, a learning rate.

    Widths of layers beyond ``n_layers`` are present (the space is fixed-length) and
    ignored by the model. The list options take a list, one value, or a comma-separated
    string (``--space-option widths=8,16``), as every space's do.

    Raises:
        ValueError: an option out of range, naming it and what it takes (before any
            trial: a width of 0 or a negative learning rate would otherwise fail, or
            train nonsense, one trial at a time).
    """
    if isinstance(max_layers, bool) or not isinstance(max_layers, Integral) or max_layers < 1:
        raise ValueError(f"max_layers must be an integer >= 1; got {max_layers!r}")
    ws = option_list(widths)
    if not ws or any(isinstance(w, bool) or not isinstance(w, Integral) or w < 1 for w in ws):
        raise ValueError(f"widths must be a non-empty list of integers >= 1; got {ws!r}")
    acts = option_list(activations)
    if not acts or any(a not in ACTIVATIONS for a in acts):
        raise ValueError(
            f"activations must be a non-empty subset of {list(ACTIVATIONS)}; got {acts!r}"
        )
    lrs = option_list(learning_rates)
    if not lrs or not all(_positive(v) for v in lrs):
        raise ValueError(f"learning_rates must be a non-empty list of numbers > 0; got {lrs!r}")
    choices = [Choice("n_layers", list(range(1, int(max_layers) + 1)))]
    choices += [Choice(f"width_{i}", [int(w) for w in ws]) for i in range(int(max_layers))]
    choices += [Choice("activation", acts), Choice("lr", [float(v) for v in lrs])]
    return Space(choices, name="mlp")


def _positive(value: Any) -> bool:
    """A finite number > 0 (not a bool, not text)."""
    return not isinstance(value, bool) and isinstance(value, Real) and 0 < float(value) < math.inf
