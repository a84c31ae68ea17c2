"""Measurement side of a plan: ``<Z-words>`` as sign tables in the stored layout.

Diagonal Pauli words (products of Z) have expectation ``|psi|^2 @ sign``. The plan's
final state is stored in its own layout (``sigma``: stored index -> true basis index,
see :mod:`~quarch.quantum._layout`), so folding ``sigma`` into the sign table here
costs nothing per call, where un-permuting the state would cost a pass over it.
The evolution node (:class:`~quarch.quantum._adjoint.Evolve`) fuses the product into
its forward and backward, in the forms :func:`device_signs` prepares once per device.
Words with X or Y return ``None`` and the caller measures the canonical state instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from quarch.quantum.measurements import _word_tables

if TYPE_CHECKING:
    from quarch.quantum._compile import Engine
    from quarch.quantum._matrices import Runtime


def sign_table(eng: Engine, words: Any) -> np.ndarray | None:
    """Sign table ``[2**n, n_obs]`` of diagonal Pauli words in stored order (cached:
    a layer asks for the same words on every call), or ``None`` unless all are diagonal."""
    if words in eng.sign_cache:
        return eng.sign_cache[words]
    out = None
    if all(w.is_diagonal for w in words):
        ident = tuple(range(eng.n))
        out = np.stack([_word_tables(w, ident)[0][eng.sigma] for w in words], axis=1)
    if len(eng.sign_cache) < 64:
        eng.sign_cache[words] = out
    return out


def device_signs(
    run: Runtime, signs: np.ndarray, dev: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``signs`` on ``dev`` as the evolution node uses them: forward ``|psi|^2`` over
    interleaved (re, im) pairs (rows repeated twice), backward ``2 signs^T``."""
    # the engine caches its tables, so the same array comes back on every call;
    # the cache keeps the array itself, so its id cannot be reused while cached
    hit = run.sign_cache.get((id(signs), dev))
    if hit is None or hit[0] is not signs:
        if len(run.sign_cache) >= 64:
            run.sign_cache.clear()
        t = torch.as_tensor(signs, dtype=run.real, device=dev)
        # forward: |psi|^2 over interleaved (re, im) pairs; backward: 2 signs^T
        hit = run.sign_cache[(id(signs), dev)] = (
            signs,
            (t.repeat_interleave(2, 0), (2 * t.mT).contiguous()),
        )
    return hit[1]  # type: ignore[return-value]
