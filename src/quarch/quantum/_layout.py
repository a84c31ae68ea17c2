"""Block scheduling and the stored layout of the state (compile time).

Permutation gates (CNOT, SWAP, X, Toffoli, CSWAP) that do not fit a block are never
applied: the compiler keeps a map ``sigma`` (stored index -> true basis index) and folds
it into the next block's matrix, into one gather of the state when a block's wires are
scattered by it, or into the sign table of ``<Z>`` at the end. A CNOT ring thus costs at
most one gather. This module holds that bookkeeping:

* :func:`schedule` cuts the gate list into greedy blocks of at most ``k`` wires and
  defers runs of permutation gates wider than a block;
* :func:`bits_apply` moves ``sigma`` through a deferred permutation;
* :func:`place` decides where a block runs: in place when its wires are the last ``k``
  stored bits (one real GEMM) or the first (one batched matmul); otherwise after a
  gather that puts this block last and the next disjoint block first, so both run in
  place.
"""

from __future__ import annotations

import numpy as np

from quarch.quantum._plan import Gate


def schedule(gates: list[Gate], k: int) -> list[Gate | list[Gate]]:
    """Greedy blocks of at most ``k`` wires; runs of permutation gates wider than a
    block are deferred into the index map instead of being multiplied.

    Returns:
        list: in order, a block (a list of gates) or one deferred permutation gate.
    """
    items: list[Gate | list[Gate]] = []
    remaining = gates
    while remaining:
        front: list[Gate] = []
        rest: list[Gate] = []
        blocked: set[int] = set()
        for g in remaining:
            if g.perm and not (set(g.wires) & blocked):
                front.append(g)
            else:
                rest.append(g)
                blocked |= set(g.wires)
        if front and len({w for g in front for w in g.wires}) > k:
            items.extend(front)
            remaining = rest
            continue
        block: list[Gate] = []
        wires: set[int] = set()
        blocked = set()
        deferred: list[Gate] = []
        for g in remaining:
            ws = set(g.wires)
            if not (ws & blocked) and len(wires | ws) <= k:
                block.append(g)
                wires |= ws
            else:
                deferred.append(g)
                blocked |= ws
        if all(g.perm for g in block):
            items.extend(block)
        else:
            items.append(block)
        remaining = deferred
    return items


def bits_apply(t: np.ndarray, n: int, wires: tuple[int, ...], images: np.ndarray) -> np.ndarray:
    """Apply a basis permutation on ``wires`` (``images[local] = new local``) to indices."""
    r = len(wires)
    local = np.zeros_like(t)
    for i, w in enumerate(wires):
        local |= ((t >> (n - 1 - w)) & 1) << (r - 1 - i)
    new = images[local]
    out = t.copy()
    for i, w in enumerate(wires):
        bit = (new >> (r - 1 - i)) & 1
        out = (out & ~(1 << (n - 1 - w))) | (bit << (n - 1 - w))
    return out


def place(
    sigma: np.ndarray, n: int, wires: tuple[int, ...], upcoming: list[set[int]]
) -> tuple[np.ndarray, np.ndarray | None, int, tuple[int, ...], np.ndarray | None]:
    """Where a block on ``wires`` (sorted) runs, given the stored layout ``sigma``.

    A block applies in place when its wires are the last or first ``k`` stored bits;
    otherwise a gather picks a layout where this block and the next disjoint one of
    ``upcoming`` do.

    Returns:
        tuple: the layout after the block's gather (``sigma`` itself when there is
        none), the gather's index (``new[s] = old[index[s]]``) or ``None``, the lowest
        stored bit of the block's wires, their wire order in the block's matrix, and
        the stored -> true local index map when it is not a plain bit order (see
        :func:`local_map`).
    """
    k = len(wires)
    gather = None
    fit = None
    # in place when on the last bits (real GEMM) or the first bits (batched matmul);
    # a block in the middle would be a batched matmul of tiny matrices (slower
    # than one gather on CPU), so it gets a gather instead
    for lo in dict.fromkeys((0, n - k)):
        fit = local_map(sigma, n, wires, lo)
        if fit is not None:
            break
    if fit is None:
        # this block last, the next disjoint block first: both then run in place
        nxt = next((sorted(ws) for ws in upcoming if not ws & set(wires)), [])
        layout = nxt + [w for w in range(n) if w not in wires and w not in nxt]
        layout += list(wires)
        new_sigma = np.zeros_like(sigma)
        s_ = np.arange(2**n, dtype=np.int64)
        for pos, w in enumerate(layout):
            new_sigma |= ((s_ >> (n - 1 - pos)) & 1) << (n - 1 - w)
        inv = np.empty_like(sigma)
        inv[sigma] = np.arange(2**n)
        gather = inv[new_sigma]
        sigma = new_sigma
        lo = 0
        fit = local_map(sigma, n, wires, lo)
        assert fit is not None
    order, conj = fit
    return sigma, gather, lo, order, conj


def local_map(
    sigma: np.ndarray, n: int, wires: tuple[int, ...], lo: int
) -> tuple[tuple[int, ...], np.ndarray | None] | None:
    """If the block's wires live on stored bits ``lo .. lo+k-1`` (and nothing else
    does), return the wire order of those bits and, when the map between stored and
    true local indices is not a plain bit order, that map; else ``None``."""
    k = len(wires)
    s = np.arange(2**n, dtype=np.int64)
    t_w = np.zeros_like(s)
    mask_w = 0
    for i, w in enumerate(wires):
        t_w |= ((sigma >> (n - 1 - w)) & 1) << (k - 1 - i)
        mask_w |= 1 << (n - 1 - w)
    t_o = sigma & ~mask_w
    a = (s >> lo) & (2**k - 1)
    h = ((s >> (lo + k)) << lo) | (s & (2**lo - 1))
    f = np.empty(2**k, dtype=np.int64)
    f[a] = t_w
    if not (f[a] == t_w).all():
        return None
    g = np.empty(2 ** (n - k), dtype=np.int64)
    g[h] = t_o
    if not (g[h] == t_o).all():
        return None
    # a plain bit order? then build the block's matrices in that wire order
    order: list[int] = []
    for j in range(k):
        img = int(f[1 << (k - 1 - j)])
        if img == 0 or img & (img - 1) or f[0] != 0:
            break
        order.append(wires[k - 1 - (img.bit_length() - 1)])
    if len(order) == k:
        pos = [wires.index(w) for w in order]
        lin = np.zeros(2**k, dtype=np.int64)
        idx = np.arange(2**k)
        for j, p in enumerate(pos):
            lin |= ((idx >> (k - 1 - j)) & 1) << (k - 1 - p)
        if (lin == f).all():
            return tuple(order), None
    return wires, f
