"""Parameters and FLOPs of torch models.

FLOPs come from torch's own ``FlopCounterMode`` (a matmul of (m,k)x(k,n) counts
2*m*k*n), so quarch does not keep a second counter to drift from it. Elementwise ops
(activations, additions) are not counted, as in torch's counter and most NAS papers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from quarch._eager import no_dynamo_import

__all__ = ["count_flops", "count_params"]


def count_params(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass of one sample of shape ``input_shape`` (without the
    batch axis: ``(4,)`` for 4 features, ``(3, 32, 32)`` for an image), fed at the
    device and floating dtype of the model's first parameter (so a ``.double()`` model
    is counted too)."""
    was_training = model.training
    model.eval()
    try:
        first = next((p for p in model.parameters() if p.is_floating_point()), None)
        device = first.device if first is not None else torch.device("cpu")
        dtype = first.dtype if first is not None else torch.get_default_dtype()
        x = torch.zeros((1, *input_shape), device=device, dtype=dtype)
        counter = FlopCounterMode(display=False)
        with no_dynamo_import(), counter, torch.no_grad():
            model(x)
        return int(counter.get_total_flops())
    finally:
        model.train(was_training)
