"""The ``mlp`` space: small fully connected classifiers.

It exists so the whole loop (space -> strategy -> evaluator -> study -> report) runs
end to end on tabular data before the quantum and CNN spaces, and it serves as the
classical reference for tiny data sets such as iris.
"""

from __future__ import annotations

from collections.abc import Sequence

from quarch.space._space import Choice, Space

__all__ = ["mlp_space"]


def mlp_space(
    *,
    max_layers: int = 3,
    widths: Sequence[int] = (8, 16, 32, 64),
    activations: Sequence[str] = ("relu", "tanh", "gelu"),
    learning_rates: Sequence[float] = (0.003, 0.01, 0.03),
) -> Space:
    """1 to ``max_layers`` hidden layers, a width per layer, one activation, a learning rate.

    Widths of layers beyond ``n_layers`` are present (the space is fixed-length) and
    ignored by the model.
    """
    if max_layers < 1:
        raise ValueError(f"max_layers must be >= 1; got {max_layers}")
    choices = [Choice("n_layers", list(range(1, max_layers + 1)))]
    choices += [Choice(f"width_{i}", list(widths)) for i in range(max_layers)]
    choices += [Choice("activation", list(activations)), Choice("lr", list(learning_rates))]
    return Space(choices, name="mlp")
