"""Batch-norm layers set away from their identity start (running statistics and affine
parameters drawn from ``gen``), so a hand-written forward that forgot one of them
differs from the network's."""

from __future__ import annotations

import torch
from torch import nn


def randomise_batch_norm(model: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.uniform_(-0.5, 0.5, generator=gen)
                m.running_var.uniform_(0.5, 2.0, generator=gen)
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
