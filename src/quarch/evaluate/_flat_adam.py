"""Adam on one flat buffer: the optimiser step of a small network at the cost of a few
torch calls.

Why not ``torch.optim.Adam`` as it is: a hybrid trial trains a handful of small
tensors (a front-end, the circuit's weights, a head) for thousands of steps, and there
torch's Adam costs its calls, not its arithmetic: per step a dozen ``_foreach`` calls
(each a loop over the tensors on the CPU), the grouping of tensors by device and dtype,
and the step and ``zero_grad`` wrappers' profiler records and hook checks. Measured on
the README's iris search: ``zero_grad`` + ``step`` 302.5 us of a 1968 us training step
(load average 1.4). Here the parameters are views into one buffer, so a step is one
``cat`` of the gradients and six elementwise calls on one tensor.

The update is torch's, operation for operation (``_multi_tensor_adam`` without
``amsgrad``/``maximize``/``capturable``): ``m.lerp_(g, 1 - b1)``, ``v.mul_(b2)
.addcmul_(g, g, 1 - b2)``, ``p.addcdiv_(m, sqrt(v) / sqrt(1 - b2^t) + eps, -lr / (1 -
b1^t))``, with ``g + wd * p`` for weight decay; elementwise calls give every element
the same float operations whatever tensor it sits in, so on the CPU the weights are
bit-identical to ``torch.optim.Adam(foreach=True)``'s (``tests/test_flat_adam.py``
checks it over hundreds of steps, with weight decay and a learning-rate schedule).

Where the fast path does not apply (parameters of mixed dtype or device, half
precision, non-contiguous or sparse ones; a parameter without a gradient at some step,
a parameter whose storage was replaced), the optimiser is torch's Adam, from the start
or from that step on with the same moments and step count.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from quarch._eager import dynamo_loaded

__all__ = ["FlatAdam"]  # and _EagerAdam, for the training loop's tests


class _EagerAdam(torch.optim.Adam):
    """``torch.optim.Adam`` whose ``step`` skips the decorator that imports
    ``torch._dynamo`` on every process's first step (to mark graph breaks for
    ``torch.compile``): the same update, called the way the decorator calls it
    (``differentiable=False``: under ``no_grad``)."""

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        if dynamo_loaded():
            return super().step(closure)
        # Adam's own step under all its wrappers: the grad-mode decorator that imports
        # dynamo, and the profiling wrapper torch's Optimizer puts around a class's
        # step when its first optimizer is made. Unwrapping one level (as before) left
        # the decorator once a plain Adam had been made (without importing dynamo,
        # under quarch._eager.no_dynamo_import): 4.46 s at the first step, dynamo
        # imported. Without wrappers it is Adam.step itself, under no_grad as always.
        with torch.no_grad():
            return inspect.unwrap(torch.optim.Adam.step)(self, closure)


class FlatAdam(_EagerAdam):
    """``torch.optim.Adam`` (``foreach=True``) over parameters viewed into one buffer.

    Args:
        params: the parameters (one group).
        lr: learning rate (``param_groups[0]["lr"]``, so LR schedulers work).
        weight_decay: L2 penalty added to the gradient, as ``torch.optim.Adam``'s.

    Call :meth:`release` when training is over: it gives every parameter its own
    storage again (a saved or exported model then looks like any other).
    """

    def __init__(
        self, params: Iterable[nn.Parameter], *, lr: float, weight_decay: float = 0.0
    ) -> None:
        plist = list(params)
        super().__init__(plist, lr=lr, weight_decay=weight_decay, foreach=True)
        self._params = plist
        self._flat: torch.Tensor | None = None
        self._viewed = False  # parameters are views of a buffer (until release)
        self._t = 0
        # the constructor sets no option that changes the update (amsgrad, maximize,
        # capturable, ... keep their defaults); what can still rule the buffer out is
        # the parameters themselves
        if (
            plist
            and len(self.param_groups) == 1
            and all(isinstance(p, torch.Tensor) for p in plist)
            and plist[0].dtype in (torch.float32, torch.float64)
            and all(p.dtype == plist[0].dtype and p.device == plist[0].device for p in plist)
            and all(p.is_contiguous() and not p.is_sparse for p in plist)
            and len({id(p) for p in plist}) == len(plist)
        ):
            self._flatten(plist)

    def _flatten(self, plist: list[nn.Parameter]) -> None:
        flat = torch.cat([p.detach().reshape(-1) for p in plist])
        spans = []
        start = 0
        for p in plist:
            stop = start + p.numel()
            p.data = flat[start:stop].view_as(p)
            spans.append((start, stop))
            start = stop
        self._flat = flat
        self._viewed = True
        self._spans = spans
        self._ptrs = [p.data_ptr() for p in plist]
        self._m = torch.zeros_like(flat)
        self._v = torch.zeros_like(flat)

    def _usable(self) -> bool:
        """Whether this step can run on the buffer: every parameter still a view of it
        and every gradient present and dense."""
        for p, ptr in zip(self._params, self._ptrs, strict=True):
            g = p.grad
            if g is None or g.is_sparse or p.data_ptr() != ptr:
                return False
        return True

    def _to_torch(self) -> None:
        """Hand the moments and the step count to torch's Adam, per parameter."""
        if self._t:
            for p, (a, b) in zip(self._params, self._spans, strict=True):
                self.state[p] = {
                    # in the default dtype, as torch's Adam keeps its step counter
                    "step": torch.tensor(float(self._t)),
                    "exp_avg": self._m[a:b].view_as(p).clone(),
                    "exp_avg_sq": self._v[a:b].view_as(p).clone(),
                }
        self._flat = None

    def zero_grad(self, set_to_none: bool = True) -> None:
        if self._flat is None or not set_to_none:
            super().zero_grad(set_to_none)
            return
        for p in self._params:
            p.grad = None

    def step(self, closure: Any = None) -> Any:  # type: ignore[override]
        if self._flat is not None and closure is None and not self._usable():
            self._to_torch()
        if self._flat is None or closure is not None:
            if self._flat is not None:
                self._to_torch()
            return super().step(closure)
        group = self.param_groups[0]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        with torch.no_grad():
            g = torch.cat([p.grad.reshape(-1) for p in self._params])  # type: ignore[union-attr]
            flat = self._flat
            if wd != 0:
                g = g.add(flat, alpha=wd)
            self._t += 1
            t = float(self._t)
            self._m.lerp_(g, 1 - beta1)
            self._v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            step_size = (lr / (1 - beta1**t)) * -1
            denom = self._v.sqrt().div_((1 - beta2**t) ** 0.5).add_(eps)
            flat.addcdiv_(self._m, denom, value=step_size)
        return None

    def release(self) -> None:
        """Give every parameter its own storage again (after training; also after the
        optimiser fell back to torch's Adam mid-run, which leaves the views in place)."""
        if not self._viewed:
            return
        if self._flat is not None:
            self._to_torch()
        for p in self._params:
            p.data = p.data.clone()
        self._viewed = False
