"""Replays of the small-circuit node (``quantum/_replay.py``) against the node's own code.

A replay runs the torch calls a call recorded, so its numbers must be the node's
bit for bit: these tests run every call twice, with replays on and off, over random
circuits of every gate, every batch regime and calls with and without gradients, and
check that the replays were really used. The node's own code is held to PennyLane by
``test_small_path.py``. The rest holds the rules that keep a replay right: a recording
that reads a value is never replayed, a tensor frozen into a recording is caught by the
first replay's comparison, and the keys tell strides apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    IQPEmbedding,
    QuantumLayer,
    RotationLayer,
    _replay,
    compile_circuit,
)
from quarch.quantum._agreement import agree
from quarch.quantum._replay import Replay, Replays, call_key
from quarch.quantum._small_cost import FOLD_ROWS

from ._random import all_gates_circuit, random_circuit


@pytest.fixture
def replay_on() -> Iterator[None]:
    before = _replay.REPLAY
    yield
    _replay.REPLAY = before


def _both(fn):  # type: ignore[no-untyped-def]
    """``fn()`` with replays on, then off (the node's own code)."""
    _replay.REPLAY = True
    got = fn()
    _replay.REPLAY = False
    ref = fn()
    _replay.REPLAY = True
    return got, ref


def _replays(plan) -> list[Replay]:  # type: ignore[no-untyped-def]
    return [
        e
        for rt in plan._small.values()
        for e in rt.replays.entries.values()
        if isinstance(e, Replay)
    ]


def _calls(c: Circuit, batch: int, seed: int, calls: int = 5) -> object:
    """``calls`` calls of fresh weights and inputs, the last one under ``no_grad`` too;
    every value and gradient equal with replays on and off."""
    plan = compile_circuit(c, path="small")
    rng = np.random.default_rng(seed)
    words = [f"Z{i}" for i in range(c.n_qubits)] + ["X0"]
    for _ in range(calls):
        w = torch.tensor(rng.uniform(-3, 3, c.n_weights), dtype=torch.float32)
        x = torch.tensor(rng.uniform(-3, 3, (batch, max(c.n_inputs, 1))), dtype=torch.float32)

        def step(w: torch.Tensor = w, x: torch.Tensor = x) -> list[torch.Tensor | None]:
            wt, xt = w.clone().requires_grad_(True), x.clone().requires_grad_(True)
            out = plan.expval(words, xt if c.n_inputs else None, wt)
            with torch.no_grad():
                quiet = plan.expval(words, x if c.n_inputs else None, w)
            if not out.requires_grad:
                return [out, quiet]
            (out * torch.arange(1, out.shape[1] + 1)).sum().backward()
            return [out.detach(), quiet, wt.grad, xt.grad if c.n_inputs else torch.zeros(())]

        got, ref = _both(step)
        for a, b in zip(got, ref, strict=True):
            assert (a is None and b is None) or torch.equal(a, b)
    return plan


def _all_verified(plan) -> bool:  # type: ignore[no-untyped-def]
    """Every key of every program a replay, checked (nothing left recording, none
    dropped), and at least one."""
    entries = [e for rt in plan._small.values() for e in rt.replays.entries.values()]
    return bool(entries) and all(isinstance(e, Replay) and e.verified for e in entries)


@pytest.mark.parametrize("batch", [1, 3, max(FOLD_ROWS, 2**7)])
@pytest.mark.parametrize("n", range(1, 7))
def test_random_circuits_equal_bit_for_bit(replay_on: None, n: int, batch: int) -> None:
    rng = np.random.default_rng(100 * n + batch)
    for k in range(3):
        c = random_circuit(n, rng, n_ops=int(rng.integers(6, 24)))
        assert _all_verified(_calls(c, batch, seed=k))  # replays ran, not only the node


@pytest.mark.parametrize("batch", [1, 70])
def test_every_gate(replay_on: None, batch: int) -> None:
    for n in (3, 5):
        assert _all_verified(_calls(all_gates_circuit(n), batch, seed=n))


def test_training_with_validation_is_the_same(replay_on: None) -> None:
    """Adam steps with a ``no_grad`` validation after each, as a trial trains: the same
    losses bit for bit with replays on and off."""
    c = Circuit(3).add(AngleEmbedding(3, rotation="Y"))
    for _ in range(2):
        c.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "cnot"))
    xs = torch.rand(8, 16, 3, generator=torch.Generator().manual_seed(0))

    def train() -> list[float]:
        layer = QuantumLayer(c, generator=torch.Generator().manual_seed(1))
        opt = torch.optim.Adam(layer.parameters(), lr=0.1)
        losses = []
        for x in xs:
            opt.zero_grad()
            loss = layer(x).square().mean()
            loss.backward()
            opt.step()
            with torch.no_grad():
                losses += [loss.item(), layer(xs[0]).sum().item()]
        # with replays off, the node's own code alone: nothing is recorded
        assert _all_verified(layer.plan) if _replay.REPLAY else not _replays(layer.plan)
        return losses

    got, ref = _both(train)
    assert got == ref


def test_strides_are_part_of_the_key() -> None:
    """A body that copies a transposed input and views a contiguous one: recorded on
    contiguous inputs, its replay would ``view`` a transposed one (an error), so the
    key must tell them apart."""
    replays = Replays()

    def body(x: torch.Tensor) -> torch.Tensor:
        return (x if x.is_contiguous() else x.contiguous()).view(-1) * 2

    for v in range(4):
        x = torch.arange(6.0).view(2, 3) + v
        assert torch.equal(_keyed(replays, x, body), body(x))
    xt = (torch.arange(6.0).view(3, 2) + 9).mT
    assert torch.equal(_keyed(replays, xt, body), body(xt))


def _keyed(replays: Replays, x: torch.Tensor, body) -> torch.Tensor:  # type: ignore[no-untyped-def]
    key = call_key("k", tensors=(x,))
    return replays.forward(_Ctx(), key, (x,), False, lambda: body(x))


def test_amplitude_embedding(replay_on: None) -> None:
    c = Circuit(3).add(AmplitudeEmbedding(8, pad_with=0.0, normalize=True))
    c.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "crz"))
    for batch in (1, 4):
        assert _all_verified(_calls(c, batch, seed=batch))


def test_input_products(replay_on: None) -> None:
    """IQP's products of inputs index the inputs with a tensor inside a tuple."""
    c = Circuit(3).add(IQPEmbedding(3)).add(RotationLayer(3, ("Y", "Z")))
    c.add(EntanglingLayer(3, "ring", "cz"))
    for batch in (1, 4):
        assert _all_verified(_calls(c, batch, seed=batch))


class _Ctx:
    replay: object = None


def _node(replays: Replays, x: torch.Tensor, body) -> torch.Tensor:  # type: ignore[no-untyped-def]
    return replays.forward(_Ctx(), ("k",), (x,), False, lambda: body(x))


def test_a_recording_that_reads_a_value_is_never_replayed() -> None:
    replays = Replays()

    def body(x: torch.Tensor) -> torch.Tensor:
        return x * 2 if bool((x > 0).all()) else x * 3

    # the branch turns only after a replay would have been checked: a replay of the
    # first branch would give 2x there
    for v in (1.0, 2.0, 3.0, -1.0, -2.0):
        x = torch.full((3,), v)
        assert torch.equal(_node(replays, x, body), body(x))
    assert replays.entries[("k",)] == "never"


def test_a_frozen_tensor_is_caught_by_the_first_replay() -> None:
    """A tensor made outside the recording (here a Python-side cache keyed by call)
    is bound by reference; the first replay disagrees with the node and the key is
    then never replayed, so no call returns a stale value."""
    replays = Replays()
    side: dict[str, torch.Tensor] = {}

    def body(x: torch.Tensor) -> torch.Tensor:
        return x + side["offset"]

    for v in range(6):
        x = torch.full((2,), float(v))
        side["offset"] = torch.full((2,), 10.0 * v)  # made by the caller, not recorded
        assert torch.equal(_node(replays, x, body), x + 10.0 * v)
    assert replays.entries[("k",)] == "never"


def test_a_pure_body_is_replayed_from_generated_code() -> None:
    replays = Replays()

    def body(x: torch.Tensor) -> torch.Tensor:
        y = x.view(2, 2).mT.contiguous()
        y[0] += 1
        y[1] = x.view(2, 2)[0] * 3  # returns nothing; the copy must be replayed
        a, b = torch.broadcast_tensors(x.view(4, 1), torch.zeros(1, 3))  # a tuple
        return torch.stack([y, y.square()]).sum(0) + a.sum() + b.sum()

    for v in range(5):
        x = torch.arange(4.0) * v
        assert torch.equal(_node(replays, x, body), body(x))
    entry = replays.entries[("k",)]
    assert isinstance(entry, Replay) and entry.verified
    assert "def fwd(i0)" in entry.source


def test_keys_are_bounded() -> None:
    replays = Replays()
    most = 0
    for rows in range(1, 200):
        x = torch.ones(rows)

        def run(x: torch.Tensor = x) -> torch.Tensor:
            return x + 1

        replays.forward(_Ctx(), (rows,), (x,), False, run)
        most = max(most, len(replays.entries))
    assert most == 64


def test_a_copied_layer_records_its_own(replay_on: None) -> None:
    """``deepcopy`` (a supercircuit's fine-tuning copies its network) starts the copy
    with no replays, so none is bound to the original's tensors."""
    import copy

    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y", "Z"))).cnot(0, 1)
    layer = QuantumLayer(c, generator=torch.Generator().manual_seed(0))
    x = torch.rand(5, 2)
    for _ in range(4):
        layer(x).sum().backward()
    twin = copy.deepcopy(layer)
    assert not _replays(twin.plan) and _replays(layer.plan)
    for _ in range(4):
        a, b = twin(x), layer(x)
        assert torch.equal(a, b)
        (a.sum() + b.sum()).backward()
    assert _replays(twin.plan)


def test_calls_never_differentiated_stop_recording(replay_on: None) -> None:
    """Calls under autograd whose backward never comes (an evaluation without
    ``no_grad``): after two recordings that never finished the key runs the node's
    code, unrecorded, and the values stay the node's."""
    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y", "Z"))).cnot(0, 1)
    layer = QuantumLayer(c, generator=torch.Generator().manual_seed(0))
    x = torch.rand(5, 2)
    rt = None
    for call in range(1, 7):
        got, ref = _both(lambda: layer(x).detach())
        assert torch.equal(got, ref)
        rt = rt or next(iter(layer.plan._small.values()))
        # two recordings that never finished (calls 2 and 3), dropped at the third
        assert list(rt.replays.entries.values()) == ["seen" if call < 4 else "never"]


def test_an_abandoned_call_then_training_still_replays(replay_on: None) -> None:
    """One call under autograd never differentiated, then ordinary steps: the steps'
    backwards close what they began, so the key is recorded, checked and replayed."""
    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y", "Z"))).cnot(0, 1)
    layer = QuantumLayer(c, generator=torch.Generator().manual_seed(0))
    x = torch.rand(5, 2)
    layer(x)  # seen
    layer(x)  # a recording whose backward never comes
    for _ in range(4):
        layer(x).sum().backward()
    assert _all_verified(layer.plan)


class _Node(torch.autograd.Function):
    """A node on :class:`Replays` as ``SmallCircuit`` is: ``forward`` and ``backward``
    go through it, ``backward`` runs ``back(x, y, g, side)``."""

    @staticmethod
    def forward(ctx, replays, x, side, back):  # type: ignore[no-untyped-def, override]
        ctx.side, ctx.back, ctx.x = side, back, x
        out = replays.forward(ctx, call_key("k", tensors=(x,)), (x,), True, lambda: _fwd(ctx, x))
        return out

    @staticmethod
    def backward(ctx, g):  # type: ignore[no-untyped-def, override]
        state = ctx.replay
        if state is not None and state[0] == "run":
            return None, *state[1].bwd(state[2], g), None, None
        run = lambda: (ctx.back(ctx.x, ctx.y, g, ctx.side),)  # noqa: E731
        grads = run() if state is None else state[1].backward(ctx, g, run)
        return None, grads[0], None, None


def _fwd(ctx, x):  # type: ignore[no-untyped-def]
    ctx.y = x.sin()
    return ctx.y * 2


@pytest.mark.parametrize(
    ("back", "expected"),
    [
        (lambda x, y, g, side: g * 2, lambda x: torch.full_like(x, 2.0)),  # keeps nothing
        (lambda x, y, g, side: g * 2 * x.cos(), lambda x: 2 * x.cos()),  # the input
        (lambda x, y, g, side: g * 2 * x.cos() + 0 * y, lambda x: 2 * x.cos()),  # and y
    ],
    ids=["nothing", "input", "input-and-forward-tensor"],
)
def test_a_backward_replays_with_what_its_forward_kept(back, expected) -> None:  # type: ignore[no-untyped-def]
    """The generated backward unpacks what the forward kept: none, one or two tensors."""
    replays = Replays()
    for v in range(6):
        x = (torch.linspace(-1, 1, 5) + v / 7).requires_grad_(True)
        _Node.apply(replays, x, None, back).sum().backward()
        assert x.grad is not None
        assert torch.equal(x.grad, expected(x.detach()))
    entry = replays.entries[call_key("k", tensors=(x,))]
    assert isinstance(entry, Replay) and entry.verified


def test_a_frozen_tensor_in_a_backward_is_caught() -> None:
    """The backward reads a tensor its caller made (``side``), which a recording binds
    by reference: the first replay's backward disagrees, the key is never replayed and
    every gradient stays the node's."""
    replays = Replays()

    def back(x, y, g, side):  # type: ignore[no-untyped-def]
        return g * side

    for v in range(6):
        x = torch.linspace(-1, 1, 5).requires_grad_(True)
        side = torch.full((5,), float(v + 1))
        _Node.apply(replays, x, side, back).sum().backward()
        assert x.grad is not None
        assert torch.equal(x.grad, side)
    assert replays.entries[call_key("k", tensors=(x,))] == "never"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (torch.ones(3), torch.ones(3) * (1 + 1e-7), True),
        (torch.ones(3), torch.ones(3) * (1 + 1e-4), False),  # rtol 1e-5
        (torch.zeros(3), torch.full((3,), 1e-7), True),
        (torch.zeros(3), torch.full((3,), 1e-5), False),  # atol 1e-6
        (torch.ones(3), torch.ones(1, 3), False),  # shape
        ((torch.ones(2), None), (torch.ones(2), None), True),
        ((torch.ones(2), None), (torch.ones(2), torch.ones(2)), False),
        ((torch.ones(2),), (torch.ones(2), torch.ones(2)), False),  # length
        ([torch.ones(2)], torch.ones(2), False),
        (None, None, True),
        (torch.ones(2), None, False),
    ],
)
def test_agreement(a: object, b: object, same: bool) -> None:
    assert agree(a, b) is same
    assert agree(b, a) is same


def test_replays_off_records_nothing(replay_on: None) -> None:
    _replay.REPLAY = False
    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y",)))
    layer = QuantumLayer(c)
    for _ in range(5):
        layer(torch.rand(3, 2)).sum().backward()
    assert not [e for rt in layer.plan._small.values() for e in rt.replays.entries.values()]


def test_word_sets_of_one_shape_are_told_apart(replay_on: None) -> None:
    """Two sets of Z-words of the same size on one plan, alternately: their sign tables
    are inputs of the node, not constants of a recording."""
    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y", "Z"))).cnot(0, 1)
    plan = compile_circuit(c, path="small")
    w = torch.tensor([0.3, -1.1, 0.7, 2.0])
    for k in range(8):
        words = ["Z0", "Z1"] if k % 2 else ["Z0 Z1", "Z1"]
        x = torch.rand(3, 2)
        got, ref = _both(lambda words=words, x=x: plan.expval(words, x, w))
        assert torch.equal(got, ref)
    assert _all_verified(plan)  # one key for both: the tables are inputs
