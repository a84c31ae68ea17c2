"""PennyLane as the independent truth of the simulator tests (imported lazily, so a
module that skips without PennyLane can still import this one)."""

from __future__ import annotations

import numpy as np
import torch

from quarch.quantum import Circuit, to_pennylane


def pl_z_and_grads(c: Circuit, w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """PennyLane (``default.qubit``, backprop, float64): ``<Z_i>`` per sample, and the
    gradients of ``sum_i (i+1) <Z_i>`` with respect to the weights ``w`` and inputs ``x``."""
    import pennylane as qml

    n = c.n_qubits
    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=n), interface="torch", diff_method="backprop")
    def run(w: torch.Tensor, x: torch.Tensor) -> object:
        f(w, x)
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    wr = torch.tensor(w, requires_grad=True)
    xr = torch.tensor(x, requires_grad=True)
    ref = torch.stack([torch.as_tensor(r).expand(x.shape[0]) for r in run(wr, xr)], -1)
    (ref * torch.arange(1, n + 1)).sum().backward()
    gw = np.zeros_like(w) if wr.grad is None else wr.grad.numpy()
    gx = np.zeros_like(x) if xr.grad is None else xr.grad.numpy()
    return ref.detach().numpy(), gw, gx
