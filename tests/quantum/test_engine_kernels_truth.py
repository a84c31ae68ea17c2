"""The block engine's kernels against PennyLane, run as a user runs them: no warnings,
and a backward that can run twice on one graph.

Why: the engine writes each product into a reusable buffer (``out=``). A buffer of the
right size in the wrong shape still gets the right values, because torch resizes it in
place, but torch then warns ("An output with one or more elements was resized ...
This behavior is deprecated") on every call, so a user would see a warning per step.
And ``loss.backward(retain_graph=True)`` twice (or two ``torch.autograd.grad`` calls)
makes the adjoint pass find its buffers already reused by the first backward: it
must run the forward again from its saved matrices, into the runtime's workspace.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    Input,
    RotationLayer,
    compile_circuit,
)

from ._pennylane_truth import pl_z_and_grads

pytest.importorskip("pennylane")


def _circuit(n: int) -> Circuit:
    """An embedding, trainable layers with CNOT rings, per-sample RX and CRX gates, a
    shared CRX on distant wires and constant gates: blocks on the last stored bits
    (shared and per-sample right products) and on the first ones (left products)."""
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
    for layer in range(2):
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
        c.rx(layer % n, Input((layer + 1) % n))
        c.crx(0, n - 1, c.new_weight())
        c.crx(1, 2, Input(0, 1))
        c.h(n - 1).cz(0, n - 1).rx(2, 0.3)
    return c


def _case(n: int, seed: int) -> tuple[Circuit, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = _circuit(n)
    return c, rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (3, c.n_inputs))


@pytest.mark.parametrize("max_block_qubits", [1, 2, 3])
@pytest.mark.parametrize("n", [5, 6])
def test_the_engine_warns_nothing(n: int, max_block_qubits: int) -> None:
    """Forward and backward on the block engine with every warning an error, against
    PennyLane's values and gradients."""
    c, w, x = _case(n, n * 10 + max_block_qubits)
    ref, gw, gx = pl_z_and_grads(c, w, x)
    plan = compile_circuit(
        c, dtype=torch.complex128, path="engine", max_block_qubits=max_block_qubits
    )
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = plan.expval(None, xt, wt)
        (out * torch.arange(1, n + 1)).sum().backward()
    assert plan._runtimes and not plan._small  # the block engine ran, not the small path
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-7)
    assert wt.grad is not None and xt.grad is not None
    np.testing.assert_allclose(wt.grad.numpy(), gw, atol=1e-6)
    np.testing.assert_allclose(xt.grad.numpy(), gx, atol=1e-6)


def test_a_second_backward_on_one_graph() -> None:
    """``backward(retain_graph=True)`` twice: both give PennyLane's gradients (the
    second one finds the buffers reused by the first and runs the forward again)."""
    c, w, x = _case(5, 7)
    ref, gw, gx = pl_z_and_grads(c, w, x)
    plan = compile_circuit(c, dtype=torch.complex128, path="engine", max_block_qubits=2)
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    out = plan.expval(None, xt, wt)
    loss = (out * torch.arange(1, c.n_qubits + 1)).sum()
    first = torch.autograd.grad(loss, (wt, xt), retain_graph=True)
    second = torch.autograd.grad(loss, (wt, xt))
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-7)
    for got in (first, second):
        np.testing.assert_allclose(got[0].numpy(), gw, atol=1e-6)
        np.testing.assert_allclose(got[1].numpy(), gx, atol=1e-6)
