"""FlatAdam against torch's own Adam: the same weights, bit for bit, step after step.

The training loop of every evaluator uses :class:`quarch.evaluate._flat_adam.FlatAdam`;
a search's results (and the stored hqnn-bench table) stay reproducible only if its
update is torch's exactly. Each case trains two copies of one start, one with torch's
Adam and one with FlatAdam, and compares every parameter with ``torch.equal``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

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
@pytest.mark.parametrize("weight_decay", [0.0, 0.01, 1.0])
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
    opt.release()  # the views it left behind get their own storage too
    params = list(flat.parameters())
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)


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


def _twins(params: list[nn.Parameter]) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    return params, [nn.Parameter(p.detach().clone()) for p in params]


def _steps(params: list[nn.Parameter], opt: torch.optim.Optimizer, steps: int = 30) -> None:
    gen = torch.Generator().manual_seed(5)
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = sum(
            (p.double() * torch.randn(p.shape, generator=gen, dtype=torch.float64)).sum() ** 2
            for p in params
        )
        assert isinstance(loss, torch.Tensor)  # not sum()'s start value: params is not empty
        loss.backward()
        opt.step()


def test_fast_path_runs_on_one_buffer() -> None:
    """Every gradient present: the whole run stays on the buffer (torch's per-parameter
    state is never made); after ``release`` each parameter owns its storage, and a
    second ``release`` changes nothing."""
    _, flat = _pair(5)
    opt = FlatAdam(flat.parameters(), lr=0.01)
    assert opt._flat is not None
    assert len({p.untyped_storage().data_ptr() for p in flat.parameters()}) == 1
    _train(flat, opt, 40)
    assert opt._flat is not None and len(opt.state) == 0
    opt.release()
    ptrs = [p.data_ptr() for p in flat.parameters()]
    assert len(set(ptrs)) == len(ptrs)
    opt.release()
    assert [p.data_ptr() for p in flat.parameters()] == ptrs


@pytest.mark.parametrize(
    "make",
    [
        lambda: [nn.Parameter(torch.randn(4)), nn.Parameter(torch.randn(3, dtype=torch.float64))],
        lambda: [nn.Parameter(torch.randn(4, 3).t()), nn.Parameter(torch.randn(2))],
        lambda: [nn.Parameter(torch.randn(4, dtype=torch.float16))],
    ],
    ids=["mixed-dtype", "non-contiguous", "half"],
)
def test_parameters_it_cannot_flatten_get_torch_adam(
    make: Callable[[], list[nn.Parameter]],
) -> None:
    torch.manual_seed(6)
    ref, mine = _twins(make())
    ptrs = [p.data_ptr() for p in mine]
    opt = FlatAdam(mine, lr=0.02)
    assert opt._flat is None
    opt.release()  # nothing was viewed, nothing is copied
    assert [p.data_ptr() for p in mine] == ptrs
    _steps(ref, torch.optim.Adam(ref, lr=0.02, foreach=True))
    _steps(mine, opt)
    for p, q in zip(ref, mine, strict=True):
        assert torch.equal(p, q)
        assert p.dtype == q.dtype and p.stride() == q.stride()


def test_zero_grad_as_torch_defines_it() -> None:
    """``zero_grad()`` drops the gradients (torch's default), ``set_to_none=False``
    keeps zero tensors."""
    _, flat = _pair(7)
    opt = FlatAdam(flat.parameters(), lr=0.01)
    _train(flat, opt, 2)
    opt.zero_grad(set_to_none=False)
    for p in flat.parameters():
        assert p.grad is not None and not p.grad.any()
    opt.zero_grad()
    assert all(p.grad is None for p in flat.parameters())


@pytest.mark.parametrize("default", [torch.float32, torch.float64])
def test_handed_over_state_is_what_torch_adam_keeps(default: torch.dtype) -> None:
    """The state FlatAdam hands over has torch's keys, dtypes and values (step counter
    in torch's scalar dtype, which follows the default dtype)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(default)
    try:
        ref, flat = _pair(8)
        opt_r = torch.optim.Adam(ref.parameters(), lr=0.02, foreach=True)
        opt_f = FlatAdam(flat.parameters(), lr=0.02)
        _train(ref, opt_r, 7)
        _train(flat, opt_f, 7)
        opt_f.release()
        for p, q in zip(ref.parameters(), flat.parameters(), strict=True):
            sr, sf = opt_r.state[p], opt_f.state[q]
            assert sorted(sr) == sorted(sf)
            for key in sr:
                assert sr[key].dtype == sf[key].dtype, key
                assert torch.equal(sr[key], sf[key]), key
    finally:
        torch.set_default_dtype(old)


def test_one_parameter_and_a_closure() -> None:
    """One parameter runs on the buffer too; a closure is evaluated and its loss
    returned, as by torch's Adam (which FlatAdam then is)."""
    torch.manual_seed(9)
    ref, mine = _twins([nn.Parameter(torch.randn(6))])
    opt_r = torch.optim.Adam(ref, lr=0.05, foreach=True)
    opt_f = FlatAdam(mine, lr=0.05)
    assert opt_f._flat is not None
    _steps(ref, opt_r, 10)
    _steps(mine, opt_f, 10)
    for params, opt in ((ref, opt_r), (mine, opt_f)):
        calls: list[torch.Tensor] = []

        def closure(
            params: list[nn.Parameter] = params,
            opt: torch.optim.Optimizer = opt,
            calls: list[torch.Tensor] = calls,
        ) -> torch.Tensor:
            opt.zero_grad()
            loss = (params[0] ** 2).sum()
            loss.backward()
            calls.append(loss.detach())
            return loss

        out = opt.step(closure)
        assert len(calls) == 1 and torch.equal(out, calls[0])
    assert torch.equal(ref[0], mine[0])


@pytest.mark.parametrize("path", ["eager", "dynamo loaded", "no undecorated step"])
def test_the_eager_step_is_adams_own_step_under_no_grad(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """``_EagerAdam.step`` in a process without ``torch._dynamo`` (a fresh one's first
    steps: ``tests/test_eager.py`` takes that path in a subprocess, where mutmut cannot
    see it) calls Adam's undecorated step under ``no_grad``, as the decorator would,
    passing the closure, also once torch has wrapped ``Adam.step`` in its hook (at the
    first Adam made); with dynamo loaded it is torch's decorated step, and with no
    ``__wrapped__`` to follow, ``Adam.step`` itself. Each way the weights are
    ``torch.optim.Adam``'s bit for bit and the closure's loss is returned."""
    import quarch.evaluate._flat_adam as flat_adam

    torch.optim.Adam([nn.Parameter(torch.zeros(1))])  # Adam.step gets torch's hook wrapper
    inner: Any = torch.optim.Adam.step  # the innermost wrapper holds the raw step
    while hasattr(inner.__wrapped__, "__wrapped__"):
        inner = inner.__wrapped__
    raw = inner.__wrapped__
    seen: list[tuple[object, bool, object]] = []

    def spy(self: torch.optim.Optimizer, closure: Any = None) -> Any:
        seen.append((self, torch.is_grad_enabled(), closure))
        return raw(self, closure)

    monkeypatch.setattr(flat_adam, "dynamo_loaded", lambda: path == "dynamo loaded")
    if path == "no undecorated step":
        monkeypatch.delattr(torch.optim.Adam.step, "__wrapped__")
    else:
        monkeypatch.setattr(inner, "__wrapped__", spy)
    torch.manual_seed(4)
    ref, mine = _twins([nn.Parameter(torch.randn(5, 3)), nn.Parameter(torch.randn(4))])
    opt_r = torch.optim.Adam(ref, lr=0.03, weight_decay=0.1)
    opt_e = flat_adam._EagerAdam(mine, lr=0.03, weight_decay=0.1)
    losses = []
    for params, opt in ((ref, opt_r), (mine, opt_e)):
        out = []
        for _ in range(12):

            def closure(
                params: list[nn.Parameter] = params, opt: torch.optim.Optimizer = opt
            ) -> torch.Tensor:
                opt.zero_grad()
                loss = sum((p**2).sum() for p in params) * 0.5
                loss.backward()  # type: ignore[union-attr]
                return loss  # type: ignore[return-value]

            out.append(opt.step(closure))
        losses.append(out)
    for a, b in zip(ref, mine, strict=True):
        assert torch.equal(a, b)
    assert all(torch.equal(x, y) for x, y in zip(*losses, strict=True))
    assert all(torch.is_tensor(x) and x.requires_grad for x in losses[1])  # the closure's own
    if path == "eager":
        assert len(seen) == 12
        assert all(s is opt_e and not grad and callable(c) for s, grad, c in seen)
    else:
        assert seen == []
