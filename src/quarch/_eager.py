"""Keep torch's eager-mode helpers from importing ``torch._dynamo`` (seconds per process).

Why: torch marks some eager functions as not compilable with ``torch._disable_dynamo``,
which imports ``torch._dynamo`` at the function's first call (3-5 s on the shared
2-core machine, once per process and per worker) only to build the disabled wrapper,
and caches that wrapper on the raw function as ``__dynamo_disable``. quarch compiles
nothing, so :func:`no_dynamo_import` pre-fills that cache with the raw function itself
(the same code runs), and removes it on exit, leaving torch as it was. Once dynamo is
imported anyway (a user compiles something) it changes nothing.

The functions are those quarch's hot path calls: the optimizers' ``add_param_group``,
``zero_grad``, ``state_dict``, ``load_state_dict`` and ``FlopCounterMode``'s dispatch
(parameter and FLOP counts). ``Adam.step`` imports dynamo unconditionally; quarch's
training loop uses :class:`quarch.evaluate.training` 's eager Adam for it.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

__all__ = ["dynamo_loaded", "no_dynamo_import", "untraced"]

_OPTIMIZER_METHODS = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


def dynamo_loaded() -> bool:
    """Whether ``torch._dynamo`` is imported in this process."""
    return "torch._dynamo" in sys.modules


def _raw_functions() -> list[Any]:
    raws = [getattr(torch.optim.Optimizer, name, None) for name in _OPTIMIZER_METHODS]
    flop = sys.modules.get("torch.utils.flop_counter")
    if flop is not None:
        mode = getattr(flop, "_FlopCounterMode", None)  # FlopCounterMode's dispatch mode
        raws.append(getattr(mode, "__dict__", {}).get("__torch_dispatch__"))
    return [r for r in (getattr(f, "__wrapped__", None) for f in raws) if r is not None]


@contextlib.contextmanager
def no_dynamo_import() -> Iterator[None]:
    """Within the block, the functions above run without importing ``torch._dynamo``."""
    if dynamo_loaded():
        yield
        return
    filled = []
    for raw in _raw_functions():
        if not hasattr(raw, "__dynamo_disable"):
            setattr(raw, "__dynamo_disable", raw)
            filled.append(raw)
    try:
        yield
    finally:
        for raw in filled:
            if getattr(raw, "__dynamo_disable", None) is raw:
                delattr(raw, "__dynamo_disable")


_F = TypeVar("_F", bound=Callable[..., Any])


def untraced(fn: _F) -> _F:
    """``fn`` left out of ``torch.compile``'s tracing, as ``torch.compiler.disable(fn)``
    leaves it, but without importing ``torch._dynamo`` (``torch.compiler.disable``
    imports it where it decorates): while dynamo is not imported nothing can be
    compiling, so ``fn`` runs as it is; once it is, through ``torch._dynamo.disable(fn)``,
    made at the first such call."""
    disabled: list[Callable[..., Any]] = []

    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        if not dynamo_loaded():
            return fn(*args, **kwargs)
        if not disabled:
            disabled.append(sys.modules["torch._dynamo"].disable(fn))
        return disabled[0](*args, **kwargs)

    return inner  # type: ignore[return-value]
