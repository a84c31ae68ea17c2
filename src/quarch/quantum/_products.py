"""Products of inputs as gate angles (an IQP embedding's ``RZZ(x_i x_j)``) and their
chain rule, written once for the small path's node (:mod:`~quarch.quantum._small_run`)
and the dense variant's per-sample phases (:mod:`~quarch.quantum._dense_diagonal`).

A program's products are grouped by arity (``SmallProgram.product_groups``: ``[q, a]``
input indices, ``q`` products of ``a`` factors each). A group is kept here as ``(index
[q a], others [q a (a-1)], q, a)``: the inputs of each product flattened, and for each
factor the other factors of its product, whose product is ``d prod / d x_j``. Both are
gathers with ``index_select``, so a group's products and their gradients are each a
handful of calls whatever ``q``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

__all__ = ["ProductGroup", "add_product_grads", "input_products", "product_groups"]

#: ``(index [q a], others [q a (a-1)], q, a)``, see the module docstring.
ProductGroup = tuple[torch.Tensor, torch.Tensor, int, int]


def product_groups(
    groups: Sequence[np.ndarray], index: Callable[[np.ndarray], torch.Tensor]
) -> list[ProductGroup]:
    """The groups ``[q, a]`` as :data:`ProductGroup`, their index tensors made by
    ``index`` (the runtime's, which puts them on its device and shares equal ones)."""
    out = []
    for idx in groups:
        q, a = idx.shape
        others = np.array([[np.delete(row, j) for j in range(a)] for row in idx], dtype=np.int64)
        out.append((index(idx.reshape(-1)), index(others.reshape(-1)), q, a))
    return out


def input_products(x: torch.Tensor, groups: Sequence[ProductGroup]) -> list[torch.Tensor]:
    """The products of the inputs ``x [B, I]``, one ``[B, q]`` per group."""
    rows = x.shape[0]
    return [x.index_select(1, idx).view(rows, q, a).prod(-1) for idx, _, q, a in groups]


def add_product_grads(
    g_x: torch.Tensor,
    x: torch.Tensor,
    g_p: torch.Tensor,
    groups: Sequence[ProductGroup],
    start: int = 0,
) -> torch.Tensor:
    """``g_x [B, I]`` plus (in place) the gradient through the products, given the
    products' gradient in ``g_p [B, ...]`` from column ``start`` on (the groups'
    columns in order; a caller's source gradient is passed whole, not sliced)."""
    rows, col = x.shape[0], start
    for idx, others, q, a in groups:
        other = x.index_select(1, others).view(rows, q, a, a - 1).prod(-1)  # [B, q, a]
        g = g_p.narrow(1, col, q).unsqueeze(-1) * other
        g_x.index_add_(1, idx, g.view(rows, q * a))
        col += q
    return g_x
