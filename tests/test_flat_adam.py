"""FlatAdam against torch's own Adam: the same weights, bit for bit, step after step.

The training loop of every evaluator uses :class:`quarch.evaluate._flat_adam.FlatAdam`;
a search's results (and the stored hqnn-bench table) stay reproducible only if its
update is torch's exactly. Each case trains two copies of one start, one with torch's
Adam and one with FlatAdam, and compares every parameter with ``torch.equal``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
from torch import nn

from quarch.evaluate._flat_adam import FlatAdam


class _Net(nn.Module):
    """Odd sizes (vector tails), a matrix, a vector, a scalar-like tensor; ``skip``
    leaves ``extra`` out of the graph on the steps it names (a missing gradient)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(7, 5)
        self.w = nn.Parameter(torch.randn(13))
        self.b = nn.Linear(5, 3)
        self.extra = nn.Parameter(torch.randn(3))
        self.skip: Callable[[int], bool] = lambda step: False
        self.step = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.a(x)) * self.w[:5] + self.w[5:10].sum() * self.w[12]
        out = self.b(h)
        if not self.skip(self.step):
            out = out + self.extra
        return out


def _train(
    model: _Net,
    opt: torch.optim.Optimizer,
    steps: int,
    sched: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> None:
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        model.step = step
        x = torch.randn(9, 7, generator=gen)
        opt.zero_grad(set_to_none=True)
        model(x).square().mean().backward()
        opt.step()
        if sched is not None:
            sched.step()


def _pair(seed: int = 0) -> tuple[_Net, _Net]:
    torch.manual_seed(seed)
    a = _Net()
    return a, copy.deepcopy(a)


@pytest.mark.parametrize("foreach", [True, False])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_bit_identical_to_torch_adam(foreach: bool, weight_decay: float) -> None:
    ref, flat = _pair()
    start = copy.deepcopy(ref)
    _train(ref, torch.optim.Adam(ref.parameters(), lr=0.03, weight_decay=weight_decay, foreach=foreach), 300)  # fmt: skip
    _train(flat, FlatAdam(flat.parameters(), lr=0.03, weight_decay=weight_decay), 300)
    for p, q, s in zip(ref.parameters(), flat.parameters(), start.parameters(), strict=True):
        assert torch.equal(p, q)
        assert not torch.equal(p, s)  # it trained


def test_learning_rate_schedule_is_followed() -> None:
    ref, flat = _pair(1)
    opt_r = torch.optim.Adam(ref.parameters(), lr=0.05, foreach=True)
    opt_f = FlatAdam(flat.parameters(), lr=0.05)
    _train(ref, opt_r, 120, torch.optim.lr_scheduler.CosineAnnealingLR(opt_r, 120))
    _train(flat, opt_f, 120, torch.optim.lr_scheduler.CosineAnnealingLR(opt_f, 120))
    for p, q in zip(ref.parameters(), flat.parameters(), strict=True):
        assert torch.equal(p, q)


def test_missing_gradient_hands_state_to_torch_adam() -> None:
    """From step 40 on ``extra`` gets no gradient every third step: torch's Adam skips
    it there; FlatAdam must switch to torch's update with the same moments."""
    ref, flat = _pair(2)
    for m in (ref, flat):
        m.skip = lambda step: step >= 40 and step % 3 == 0
    opt = FlatAdam(flat.parameters(), lr=0.02)
    _train(ref, torch.optim.Adam(ref.parameters(), lr=0.02, foreach=True), 100)
    _train(flat, opt, 100)
    assert opt._flat is None  # it left the fast path
    for p, q in zip(ref.parameters(), flat.parameters(), strict=True):
        assert torch.equal(p, q)


def test_replaced_storage_is_noticed() -> None:
    """A parameter given new storage mid-run (``p.data = ...``) is no longer a view of
    the buffer: the update must still reach it."""
    ref, flat = _pair(3)
    opt_r = torch.optim.Adam(ref.parameters(), lr=0.02, foreach=True)
    opt_f = FlatAdam(flat.parameters(), lr=0.02)
    _train(ref, opt_r, 20)
    _train(flat, opt_f, 20)
    for m in (ref, flat):
        m.w.data = m.w.data.clone()
    _train(ref, opt_r, 20)
    _train(flat, opt_f, 20)
    for p, q in zip(ref.parameters(), flat.parameters(), strict=True):
        assert torch.equal(p, q)


def test_release_gives_each_parameter_its_own_storage() -> None:
    _, flat = _pair(4)
    opt = FlatAdam(flat.parameters(), lr=0.02)
    _train(flat, opt, 5)
    shared = {p.untyped_storage().data_ptr() for p in flat.parameters()}
    assert len(shared) == 1  # the fast path ran on one buffer
    before = [p.detach().clone() for p in flat.parameters()]
    opt.release()
    after = list(flat.parameters())
    assert len({p.untyped_storage().data_ptr() for p in after}) == len(after)
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    _train(flat, opt, 3)  # still an optimiser (torch's path) after release
    assert not all(torch.equal(a, b) for a, b in zip(before, flat.parameters(), strict=True))
