"""One call of a compiled plan: angles in, expectations or the state out.

This is the run-time entry point :class:`~quarch.quantum.ExecutionPlan` calls: it
builds the call's matrices and product state (:mod:`~quarch.quantum._matrices`),
picks the row count (1 when nothing in the call is per-sample, so a shared-weight
circuit without inputs runs once for the whole batch), fetches the device copies of
the gather indices and ``<Z>`` sign tables (:mod:`~quarch.quantum._measure`) and runs
the evolution node (:class:`~quarch.quantum._adjoint.Evolve`).
"""

from __future__ import annotations

import numpy as np
import torch

from quarch.quantum._adjoint import Evolve
from quarch.quantum._matrices import Runtime
from quarch.quantum._measure import device_signs


def execute(
    run: Runtime,
    x: torch.Tensor | None,
    w: torch.Tensor,
    psi0: torch.Tensor | None,
    batch: int,
    dev: torch.device,
    signs: np.ndarray | None,
) -> torch.Tensor:
    """Expectations ``[rows, n_obs]`` (``signs`` given) or the state ``[rows, 2**n]``
    in stored order; ``rows`` is 1 when nothing in the run is per-sample."""
    e = run.eng
    ctx = run.context(x, w, batch, dev)
    mats = run.block_matrices(ctx, dev)
    a = b = None
    if psi0 is None:
        a, b = run.product_state(ctx)
        rows0 = max(a.shape[0], b.shape[0])
    else:
        rows0 = psi0.shape[0]
    rows = batch if rows0 == batch or any(g.batched for g in e.groups) else 1
    idx = run.gather_indices(dev)
    s = None if signs is None else device_signs(run, signs, dev)
    return Evolve.apply(run, idx, s, rows, a, b, psi0, *mats)  # type: ignore[no-any-return]
