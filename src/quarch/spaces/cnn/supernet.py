"""`SuperNet`: single-path one-shot weight sharing for the ``cnn`` space.

One set of weights, sized for the largest architecture of the space, serves every
architecture (Guo et al., "Single Path One-Shot Neural Architecture Search with
Uniform Sampling", ECCV 2020). A child takes the leading channels of each tensor
(width and expansion, as in Once-for-All), the centre of each depthwise kernel
(kernel 3 and 5 inside 7), and the first ``depth_s`` blocks of each stage.
Training samples one architecture uniformly per step and updates only the weights
that architecture uses. :meth:`SuperNet.extract` returns a standalone
:class:`~quarch.spaces.cnn.model.EdgeCNN` holding copies of those weights; its batch-norm
statistics, which were accumulated over a mixture of children, must be recomputed
with :func:`recalibrate_bn` before it is scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.func import functional_call

from quarch.space._space import Space
from quarch.spaces.cnn.model import EdgeCNN

__all__ = ["SuperNet", "recalibrate_bn"]


def _largest(space: Space) -> dict[str, Any]:
    """The architecture whose every tensor is at least as large as any other's."""
    big: dict[str, Any] = {}
    for c in space.choices:
        if c.name.startswith(("kernel_", "expand_", "depth_", "width_mult")):
            big[c.name] = max(c.options)
        elif c.name.startswith("se_"):
            big[c.name] = True
        else:
            big[c.name] = c.options[0]
    return big


def _slice_like(src: torch.Tensor, shape: torch.Size, *, centre: bool) -> torch.Tensor:
    """The leading part of ``src`` of ``shape``; with ``centre``, crop dims 2+ centrally."""
    if src.shape == shape:
        return src
    idx = []
    for d, (have, want) in enumerate(zip(src.shape, shape, strict=True)):
        if want > have:
            raise ValueError(f"cannot take {tuple(shape)} from a super-tensor {tuple(src.shape)}")
        start = (have - want) // 2 if centre and d >= 2 else 0
        idx.append(slice(start, start + want))
    return src[tuple(idx)]


class SuperNet(nn.Module):
    """Shared weights of every architecture of a ``cnn`` space.

    Args:
        space (Space): a space from :func:`quarch.spaces.cnn.space.cnn_space`.
        input_shape (tuple[int, ...]): ``(C, H, W)`` of one image.
        n_classes (int): number of classes.

    Example:
        >>> from quarch.spaces.cnn.space import cnn_space
        >>> space = cnn_space(n_stages=2, max_blocks=2)
        >>> net = SuperNet(space, (1, 8, 8), 10)
        >>> net(torch.zeros(4, 1, 8, 8), space.sample(0)).shape
        torch.Size([4, 10])
    """

    def __init__(self, space: Space, input_shape: tuple[int, ...], n_classes: int) -> None:
        super().__init__()
        self.space = space
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.largest = _largest(space)
        self.weights = EdgeCNN(self.largest, self.input_shape, n_classes)

    def child_tensors(self, child: EdgeCNN) -> dict[str, torch.Tensor]:
        """Views into the shared tensors, shaped like ``child``'s parameters and buffers."""
        shared = dict(self.weights.named_parameters()) | dict(self.weights.named_buffers())
        out = {}
        for name, t in list(child.named_parameters()) + list(child.named_buffers()):
            out[name] = _slice_like(shared[name], t.shape, centre=t.dim() == 4)
        return out

    def forward(self, x: torch.Tensor, arch: Mapping[str, Any]) -> torch.Tensor:
        """Logits of architecture ``arch`` on ``x`` computed with the shared weights."""
        child = EdgeCNN(arch, self.input_shape, self.n_classes).train(self.training)
        return functional_call(child, self.child_tensors(child), (x,))

    def extract(self, arch: Mapping[str, Any]) -> EdgeCNN:
        """A standalone model of ``arch`` holding copies of its shared weights."""
        # its initial weights are all overwritten below: built in a fork, extracting
        # draws nothing from the caller's generator (a search's next draws stay its own)
        with torch.random.fork_rng(devices=[]):
            child = EdgeCNN(arch, self.input_shape, self.n_classes)
        with torch.no_grad():
            state = {k: v.detach().clone() for k, v in self.child_tensors(child).items()}
        child.load_state_dict(state)
        return child

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        epochs: int,
        seed: int,
        batch_size: int = 128,
        lr: float = 3e-3,
        device: str = "cpu",
    ) -> list[float]:
        """Train with one uniformly sampled architecture per step; return epoch losses."""
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1; got {epochs}")
        dev = torch.device(device)
        self.to(dev)
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        Xt = torch.as_tensor(X, dtype=torch.float32, device=dev)
        yt = torch.as_tensor(y, dtype=torch.long, device=dev)
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        loss_fn = nn.CrossEntropyLoss()
        self.train()
        losses = []
        for _ in range(epochs):
            perm = torch.randperm(len(Xt), generator=gen).to(dev)
            total, n = 0.0, 0
            for i in range(0, len(Xt), batch_size):
                idx = perm[i : i + batch_size]
                arch = self.space.sample(rng)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(self(Xt[idx], arch), yt[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                n += len(idx)
            losses.append(total / max(n, 1))
        self.eval()
        return losses


def recalibrate_bn(
    model: nn.Module, X: np.ndarray, *, batch_size: int = 256, max_batches: int = 8
) -> nn.Module:
    """Recompute every batch-norm's running statistics on ``X`` (no weight changes).

    Statistics become the exact average over up to ``max_batches`` batches (momentum
    ``None``); fake-quantisation ranges are refreshed on the same batches.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None  # type: ignore[assignment]  # cumulative average; torch < 2.3 types it float
    dev = next(model.parameters()).device
    model.train()
    with torch.no_grad():
        for b, i in enumerate(range(0, len(X), batch_size)):
            if b >= max_batches:
                break
            model(torch.as_tensor(X[i : i + batch_size], dtype=torch.float32, device=dev))
    for bn in bns:
        bn.momentum = 0.1
    model.eval()
    return model
