"""When two runs of the small-circuit node computed the same thing.

One check for every shortcut that must reproduce the node's own numbers: a replay's
first run beside the recorded code (:mod:`~quarch.quantum._replay`) and a CUDA graph's
first launch beside the replay (:mod:`~quarch.quantum._cuda_graph`). Tolerances are
``allclose``'s with ``rtol=1e-5, atol=1e-6``: loose enough for complex64 results
computed by other kernels, tight enough to catch a frozen tensor or a wrong gradient.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["agree"]


def agree(a: Any, b: Any) -> bool:
    """Whether ``a`` and ``b`` (tensors, ``None`` or nested lists and tuples of them)
    have the same structure, shapes and values up to the tolerances above."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.shape == b.shape and bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b):
        return all(agree(x, y) for x, y in zip(a, b, strict=True))
    return a is None and b is None
