"""`MLP`: the model of the ``mlp`` space."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["MLP"]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
}


class MLP(nn.Module):
    """Flatten -> ``n_layers`` x (Linear, activation) -> Linear to the classes.

    Args:
        arch (Mapping): an ``mlp``-space architecture (``n_layers``, ``width_i``,
            ``activation``); unused widths are ignored.
        input_shape (tuple[int, ...]): per-sample input shape; inputs are flattened.
        n_classes (int): number of output logits.

    Example:
        >>> net = MLP({"n_layers": 1, "width_0": 8, "activation": "relu"}, (4,), 3)
        >>> net(torch.zeros(2, 4)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self, arch: Mapping[str, Any], input_shape: tuple[int, ...], n_classes: int
    ) -> None:
        super().__init__()
        act = _ACTIVATIONS[str(arch["activation"])]
        n_in = 1
        for d in input_shape:
            n_in *= int(d)
        layers: list[nn.Module] = [nn.Flatten()]
        for i in range(int(arch["n_layers"])):
            width = int(arch[f"width_{i}"])
            layers += [nn.Linear(n_in, width), act()]
            n_in = width
        layers.append(nn.Linear(n_in, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(batch, n_classes)``."""
        return self.net(x)
