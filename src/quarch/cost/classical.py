"""Parameters and FLOPs of torch models.

FLOPs come from torch's own ``FlopCounterMode`` (a matmul of (m,k)x(k,n) counts
2*m*k*n), so quarch does not keep a second counter to drift from it. Elementwise ops
(activations, additions) are not counted, as in torch's counter and most NAS papers.
"""

from __future__ import annotations

from numbers import Integral

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from quarch._eager import no_dynamo_import
from quarch._errors import ConfigError

__all__ = ["count_flops", "count_params"]


def _require_module(model: object, where: str) -> nn.Module:
    """``model`` if it is a torch module, else one :class:`ConfigError` naming ``where``."""
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{where} takes a torch.nn.Module; got {type(model).__name__}")
    return model


def count_params(model: nn.Module, *, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters.

    Raises:
        ConfigError: ``model`` is not a ``torch.nn.Module``.
    """
    _require_module(model, "count_params")
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only))


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass of one sample of shape ``input_shape`` (without the
    batch axis: ``(4,)`` for 4 features, ``(3, 32, 32)`` for an image), fed at the
    device and floating dtype of the model's first parameter (so a ``.double()`` model
    is counted too).

    Raises:
        ConfigError: ``model`` is not a ``torch.nn.Module``, or ``input_shape`` is not a
            tuple of sizes >= 1.
    """
    _require_module(model, "count_flops")
    if not isinstance(input_shape, (tuple, list)) or not all(
        isinstance(d, Integral) and not isinstance(d, bool) and d >= 1 for d in input_shape
    ):
        raise ConfigError(
            "count_flops: input_shape must be a tuple of sizes >= 1 without the batch axis, "
            f"e.g. (4,) or (3, 32, 32); got {input_shape!r}"
        )
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
