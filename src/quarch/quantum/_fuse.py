"""Block fusion: the gates of one block as a short chain of matrix factors (compile time).

A block is at most ``k`` wires of consecutive gates. Multiplying them op by op at run
time would cost one torch op per gate; instead the compiler writes each block as a few
factors, applied first to last:

* consecutive one-qubit gates on the block's wires form one Kronecker layer ("K"),
  built at run time for all blocks of a plan together;
* constant gates, and one-qubit layers made only of constant gates, are multiplied
  here, in numpy, into one constant factor ("C"), and neighbouring constants merge;
* a multi-qubit gate with a run-time angle stays one factor ("P"), embedded into the
  block's ``2^k`` space by an index (:func:`embed_index`) at run time.

``Rot`` is split into RZ RY RZ first (:func:`split_rot`) so layers of Rot gates join the
single-axis fast path of :mod:`~quarch.quantum._rotchain`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from quarch.quantum._plan import Factor, Gate


def embed_np(m: np.ndarray, local: list[int], k: int) -> np.ndarray:
    """A gate matrix on block-local positions ``local`` as a ``2^k`` matrix."""
    ai, mask = embed_index(tuple(local), k)
    return m[ai[:, None], ai[None, :]] * mask


def embed_index(local: tuple[int, ...], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Index ``ai`` and mask of a gate on block-local positions ``local`` inside ``2^k``:
    the embedded matrix is ``m[ai[:, None], ai[None, :]] * mask`` (one gather, so the
    run time embeds a parametrised gate without building a Kronecker product)."""
    d = 2**k
    i = np.arange(d)
    r = len(local)
    ai = np.zeros(d, dtype=np.int64)
    rest_mask = d - 1
    for j, p in enumerate(local):
        ai |= ((i >> (k - 1 - p)) & 1) << (r - 1 - j)
        rest_mask &= ~(1 << (k - 1 - p))
    rest = i & rest_mask
    return ai, rest[:, None] == rest[None, :]


def kron_np(mats: list[np.ndarray]) -> np.ndarray:
    """Kronecker product of ``mats`` (first factor most significant)."""
    out = np.ones((1, 1), dtype=np.complex128)
    for m in mats:
        out = np.kron(out, m)
    return out


def split_rot(ops: Any) -> list[Any]:
    """``Rot(phi, theta, omega)`` as ``RZ(phi)``, ``RY(theta)``, ``RZ(omega)`` (equal, as
    in PennyLane), so rotation layers of Rot gates take the single-axis fast path
    (:class:`~quarch.quantum._rotchain.RotKron`) instead of the table of general 2x2 matrices."""
    out: list[Any] = []
    for op in ops:
        if op.name != "rot":
            out.append(op)
            continue
        phi, theta, omega = op.params
        out += [
            dataclasses.replace(op, name="rz", params=(phi,)),
            dataclasses.replace(op, name="ry", params=(theta,)),
            dataclasses.replace(op, name="rz", params=(omega,)),
        ]
    return out


def block_factors(gates: list[Gate], order: tuple[int, ...]) -> list[Factor]:
    """One block as a chain of factors (first applied first)."""
    k = len(order)
    pos = {w: i for i, w in enumerate(order)}
    pending: dict[int, list[Gate]] = {}
    out: list[Factor] = []

    def flush() -> None:
        if not pending:
            return
        rows = [pending.get(w, []) for w in order]
        if all(g.const is not None for row in rows for g in row):
            mats = []
            for row in rows:
                m = np.eye(2, dtype=np.complex128)
                for g in row:
                    m = g.const @ m  # type: ignore[operator]
                mats.append(m)
            out.append(Factor("C", const=kron_np(mats)))
        else:
            out.append(Factor("K", rows=rows))
        pending.clear()

    for g in gates:
        if len(g.wires) == 1:
            pending.setdefault(g.wires[0], []).append(g)
            continue
        if any(w in pending for w in g.wires):
            flush()
        local = [pos[w] for w in g.wires]
        if g.const is not None:
            out.append(Factor("C", const=embed_np(g.const, local, k)))
        else:
            out.append(Factor("P", gate=g, local=tuple(local)))
    flush()
    return merge_constants(out)


def merge_constants(factors: list[Factor]) -> list[Factor]:
    """Multiply neighbouring constant factors into one (one matmul less per call)."""
    out: list[Factor] = []
    for f in factors:
        if f.kind == "C" and out and out[-1].kind == "C":
            out[-1] = Factor("C", const=f.const @ out[-1].const)  # type: ignore[operator]
        else:
            out.append(f)
    return out
