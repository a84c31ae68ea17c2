"""Replays of the small-circuit node used as a training loop uses them, against PennyLane.

Why: a replay runs generated code in place of the node's Python (``quantum/_replay.py``).
Three ways a user's loop meets it that the bit-for-bit tests (``test_replay.py``) do not
take: every call warns nothing (the generated code must index with tuples, as the node
does: torch warns on a list of slices and tensors, and will read it as a tensor index);
``backward(retain_graph=True)`` twice on one call, where the second backward finds the
replay's state already spent and must run the node's own; and a forward whose backward
comes after the key table was cleared by 64 new call shapes (an evaluation over batches
of many sizes between a training step's forward and its backward).
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
    _replay,
    compile_circuit,
)
from quarch.quantum._replay import Replay

from ._pennylane_truth import pl_z_and_grads

pytest.importorskip("pennylane")


@pytest.fixture(autouse=True)
def _replays_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_replay, "REPLAY", True)


def _circuit() -> Circuit:
    """An angle embedding, two trainable layers with CNOT rings and a re-uploaded RX:
    shared and per-sample parts, so the node gathers and indexes by tensors."""
    c = Circuit(3).add(AngleEmbedding(3, rotation="Y"))
    c.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "cnot"))
    c.rx(1, Input(2, scale=0.7))
    c.add(RotationLayer(3, ("X", "Y"))).add(EntanglingLayer(3, "ring", "cz"))
    return c


def _case(batch: int, seed: int = 0) -> tuple[Circuit, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = _circuit()
    return c, rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (batch, c.n_inputs))


def _z(plan: object, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return plan.expval(["Z0", "Z1", "Z2"], x, w)  # type: ignore[attr-defined,no-any-return]


def _check(out: torch.Tensor, g: tuple[torch.Tensor, ...], ref: tuple[np.ndarray, ...]) -> None:
    np.testing.assert_allclose(out.detach().numpy(), ref[0], atol=1e-9)
    np.testing.assert_allclose(g[0].numpy(), ref[1], atol=1e-8)
    np.testing.assert_allclose(g[1].numpy(), ref[2], atol=1e-8)


def _loss(out: torch.Tensor) -> torch.Tensor:
    return (out * torch.arange(1, out.shape[-1] + 1)).sum()  # pl_z_and_grads' loss


@pytest.mark.parametrize("batch", [1, 5, 64])
def test_replayed_calls_warn_nothing(batch: int) -> None:
    """Five training calls (the node, its recording, the checked replay, two replays)
    with every warning an error, each against PennyLane; the replay was used."""
    c, w, x = _case(batch)
    ref = pl_z_and_grads(c, w, x)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    for _ in range(5):
        wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = _z(plan, xt, wt)
            grads = torch.autograd.grad(_loss(out), (wt, xt))
        _check(out, grads, ref)
    replays = [e for rt in plan._small.values() for e in rt.replays.entries.values()]
    assert any(isinstance(e, Replay) and e.verified for e in replays)


def test_a_second_backward_of_each_call() -> None:
    """``retain_graph=True`` then a second backward, on the node's call, its recording,
    its checked replay and two replays: every gradient is PennyLane's."""
    c, w, x = _case(4, seed=1)
    ref = pl_z_and_grads(c, w, x)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    for call in range(5):
        wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = _z(plan, xt, wt)
        loss = _loss(out)
        first = torch.autograd.grad(loss, (wt, xt), retain_graph=True)
        second = torch.autograd.grad(loss, (wt, xt))
        _check(out, first, ref)
        _check(out, second, ref)
        assert call < 2 or any(
            isinstance(e, Replay)
            for rt in plan._small.values()
            for e in rt.replays.entries.values()
        )


def test_a_backward_after_64_new_shapes() -> None:
    """A recording forward (the key's second call), then 64 calls of new batch sizes
    under ``no_grad`` (the key table is full and cleared), then the first call's
    backward: PennyLane's gradients."""
    c, w, x = _case(3, seed=2)
    ref = pl_z_and_grads(c, w, x)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
    grads = torch.autograd.grad(_loss(_z(plan, xt, wt)), (wt, xt))  # the key's first call
    _check(_z(plan, xt, wt), grads, ref)
    out = _z(plan, xt, wt)  # its second: recorded, its backward awaited
    rng = np.random.default_rng(3)
    with torch.no_grad():
        for batch in range(4, 4 + 64):
            xb = rng.uniform(-3, 3, (batch, c.n_inputs))
            _z(plan, torch.tensor(xb), torch.tensor(w))
    _check(out, torch.autograd.grad(_loss(out), (wt, xt)), ref)
