"""Parameters and FLOPs of torch models (``quarch.cost.classical``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quarch.cost import count_flops, count_params


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_flops_of_a_model_in_either_precision(dtype: torch.dtype) -> None:
    """A ``.double()`` model is counted as its float32 twin is (the sample used to be
    float32 whatever the model, so a float64 model failed in its first layer)."""
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).to(dtype)
    assert count_flops(model, (4,)) == 2 * (4 * 8 + 8 * 3)
    assert count_params(model) == 4 * 8 + 8 + 8 * 3 + 3
