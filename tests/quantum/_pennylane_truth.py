"""PennyLane as the independent truth of the simulator tests (imported lazily, so a
module that skips without PennyLane can still import this one)."""

from __future__ import annotations

from typing import Any

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


def pl_states(c: Circuit, w: np.ndarray, x: np.ndarray, psi0: np.ndarray | None) -> np.ndarray:
    """PennyLane's final state per row of ``x`` (and of ``w`` when it has rows), from
    ``|0>`` or from the start state ``psi0``."""
    import pennylane as qml

    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=c.n_qubits))
    def run(w: np.ndarray, x: np.ndarray) -> object:
        if psi0 is not None:
            qml.StatePrep(psi0, wires=range(c.n_qubits))
        f(w, x)
        return qml.state()

    return np.stack([np.asarray(run(w[b] if w.ndim == 2 else w, x[b])) for b in range(len(x))])


def check_z_and_grads(
    plan: Any, c: Circuit, w: np.ndarray, x: np.ndarray, *, atol: float = 1e-8,
    grad_atol: float = 1e-7,
) -> None:  # fmt: skip
    """A compiled plan's ``<Z_i>`` and the gradients of ``sum_i (i+1) <Z_i>`` (weights,
    and inputs where the circuit reads any) against :func:`pl_z_and_grads`."""
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = plan.expval(None, xt if c.n_inputs else None, wt)
    (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
    ref, gw, gx = pl_z_and_grads(c, w, x)
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=atol)
    if c.n_weights:
        assert wt.grad is not None
        np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=0, atol=grad_atol)
    if c.n_inputs:
        assert xt.grad is not None
        np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=0, atol=grad_atol)
