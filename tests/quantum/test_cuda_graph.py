"""CUDA graphs of the small-circuit replays (``quantum/_cuda_graph.py``).

A graph reads and writes the memory it was captured with, so the dangers are aliasing:
an output or a gradient overwritten by the next launch, a forward's saved states
overwritten by a second forward before its backward, an input read from a storage
that has moved. Every test runs twice: on the CPU with a stand-in for
``torch.cuda.CUDAGraph`` that has those memory semantics (its ``replay`` recomputes
the captured function on the captured inputs and writes the results into the captured
outputs), so the bookkeeping is tested on every machine, and on CUDA with real graphs
where torch sees a GPU (``QUARCH_TEST_DEVICE`` as in ``test_cuda.py``). The reference is
always the same layer with graphs off: the plain replay, itself held to the node's own
code by ``test_replay.py`` and to PennyLane by ``test_small_path.py``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    QuantumLayer,
    RotationLayer,
    _cuda_graph,
    compile_circuit,
)
from quarch.quantum._cuda_graph import NO_GRAPH, Graphed
from quarch.quantum._replay import Replay
from quarch.quantum._small_cost import PlanFeatures, small_is_faster

_CUDA = os.environ.get("QUARCH_TEST_DEVICE", "cuda")


def _copy_into(dst: Any, src: Any) -> None:
    if isinstance(dst, torch.Tensor):
        if dst is not src:  # an input passed through is no kernel (and no new version)
            dst.copy_(src)
    elif isinstance(dst, (tuple, list)):
        for a, b in zip(dst, src, strict=True):
            _copy_into(a, b)


class FakeGraph:
    """A CPU stand-in for a captured graph: the same inputs and outputs in memory."""

    def __init__(self, fn: Callable[[], Any], counts: dict[str, int]) -> None:
        self.fn, self.counts = fn, counts
        self.result: Any = None

    def replay(self) -> None:
        self.counts["replay"] += 1
        new = self.fn()
        time.sleep(0)  # let another thread in, as a real launch returns before it is done
        _copy_into(self.result, new)

    def pool(self) -> None:
        return None


@pytest.fixture(params=["fake", "cuda"])
def graphs(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``(device, counts)``: graphs on, real on CUDA, the stand-in on the CPU;
    ``counts['replay']`` counts launches of the stand-in (None on CUDA)."""
    monkeypatch.setattr(_cuda_graph, "GRAPHS", True)
    if request.param == "cuda":
        if _CUDA == "cuda" and not torch.cuda.is_available():
            pytest.skip("no CUDA device")
        if _CUDA == "cpu":
            pytest.skip("real CUDA graphs need a CUDA device")
        yield torch.device(_CUDA), None
        return
    counts = {"replay": 0, "capture": 0}

    def capture(fn: Callable[[], Any], pool: Any = None) -> tuple[FakeGraph, Any]:
        counts["capture"] += 1
        fn()  # the warm-up, as the real one
        graph = FakeGraph(fn, counts)
        graph.result = fn()
        return graph, graph.result

    monkeypatch.setattr(_cuda_graph, "_capture", capture)
    monkeypatch.setattr(_cuda_graph, "_graphable", lambda inputs: True)
    yield torch.device("cpu"), counts


def _circuit(n: int = 3, layers: int = 2) -> Circuit:
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
    for _ in range(layers):
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
    return c


def _pair(device: torch.device, n: int = 3) -> tuple[QuantumLayer, QuantumLayer]:
    """Two equal layers on the small path: the first is graphed, the second is not
    (``_plain`` turns graphs off around its calls)."""
    make = lambda: QuantumLayer(  # noqa: E731
        _circuit(n),
        generator=torch.Generator().manual_seed(0),
        device=device,
        dtype=torch.complex128,
        path="small",
    )
    return make(), make()


def _plain(fn: Callable[[], Any]) -> Any:
    before = _cuda_graph.GRAPHS
    _cuda_graph.GRAPHS = False
    try:
        return fn()
    finally:
        _cuda_graph.GRAPHS = before


def _graphed(layer: QuantumLayer) -> list[Graphed]:
    return [
        e.graph
        for rt in layer.plan._small.values()
        for e in rt.replays.entries.values()
        if isinstance(e, Replay) and isinstance(e.graph, Graphed)
    ]


def _x(batch: int, n: int, seed: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(batch, n, generator=g, dtype=torch.float64).to(device)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    torch.testing.assert_close(a.cpu(), b.cpu(), rtol=1e-10, atol=1e-12)


def test_training_with_validation_equals_the_plain_replay(graphs: Any) -> None:
    device, counts = graphs
    layer, ref = _pair(device)
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    opt_ref = torch.optim.Adam(ref.parameters(), lr=0.05)
    for step in range(12):
        x = _x(8, 3, step, device)
        opt.zero_grad()
        pred = layer(x)  # kept alive across the next step, as training loops do
        loss = pred.square().mean()
        loss.backward()
        opt.step()
        with torch.no_grad():
            val = layer(x[:5])

        def plain(x: torch.Tensor = x) -> tuple[torch.Tensor, torch.Tensor]:
            opt_ref.zero_grad()
            loss = ref(x).square().mean()
            loss.backward()
            opt_ref.step()
            with torch.no_grad():
                return loss, ref(x[:5])

        loss_ref, val_ref = _plain(plain)
        _close(loss.detach(), loss_ref.detach())
        _close(val, val_ref)
        _close(layer.weights.detach(), ref.weights.detach())
    assert len(_graphed(layer)) == 2  # the training key and the validation key
    assert not _graphed(ref)
    for graphed in _graphed(layer):  # the weights and the sign table are read in place
        assert graphed.bound == (True, False, False, False, True, True)
    if counts is not None:
        # from the fourth call of each key (record, check, capture), minus the capture's check
        assert counts["capture"] == 3 and counts["replay"] > 2 * 8


def test_outputs_are_not_overwritten_by_the_next_launch(graphs: Any) -> None:
    device, _ = graphs
    layer, ref = _pair(device)
    with torch.no_grad():
        for s in range(4):
            layer(_x(4, 3, s, device))
        first = layer(_x(4, 3, 10, device))
        second = layer(_x(4, 3, 11, device))
        assert _graphed(layer)
        _close(first, _plain(lambda: ref(_x(4, 3, 10, device))))
        _close(second, _plain(lambda: ref(_x(4, 3, 11, device))))


def _grads(layer: QuantumLayer, loss: torch.Tensor, x: torch.Tensor) -> list[torch.Tensor]:
    layer.zero_grad()
    x.grad = None
    loss.backward()
    assert layer.weights.grad is not None and x.grad is not None
    return [layer.weights.grad.clone(), x.grad.clone()]


def _node_state(out: torch.Tensor) -> str | None:
    """How the small-circuit node behind ``out`` ran: "graph", "run" (the plain replay),
    or None (its own code)."""
    todo, seen = [out.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        if hasattr(fn, "replay"):
            return fn.replay[0] if fn.replay else None
        todo.extend(f for f, _ in fn.next_functions)
    raise AssertionError("no small-circuit node behind this output")


def _warm(layer: QuantumLayer, device: torch.device) -> None:
    for s in range(5):
        layer(_x(6, 3, 100 + s, device).requires_grad_(True)).sum().backward()


def test_two_forwards_before_one_backward(graphs: Any) -> None:
    """A layer applied twice in one loss: the second forward must not overwrite the
    first one's saved states (it runs the plain replay while the first awaits)."""
    device, _ = graphs
    layer, ref = _pair(device)
    _warm(layer, device)
    _plain(lambda: _warm(ref, device))
    assert _graphed(layer)

    def twice(m: QuantumLayer) -> list[torch.Tensor]:
        x = _x(6, 3, 1, device).requires_grad_(True)
        y = _x(6, 3, 2, device)
        first, second = m(x), m(x)
        if m is layer:  # the first awaits its backward: the second runs without the graph
            assert [_node_state(first), _node_state(second)] == ["graph", "run"]
        loss = (first * m(y)).sum() + second.square().sum()
        return [loss.detach(), *_grads(m, loss, x)]

    for got, want in zip(twice(layer), _plain(lambda: twice(ref)), strict=True):
        _close(got, want)


def test_a_retained_backward_after_a_later_forward(graphs: Any) -> None:
    """``backward(retain_graph=True)`` twice with another forward in between: the second
    backward finds its states overwritten and recomputes them."""
    device, _ = graphs
    layer, ref = _pair(device)
    _warm(layer, device)
    _plain(lambda: _warm(ref, device))

    def retained(m: QuantumLayer) -> list[torch.Tensor]:
        x = _x(6, 3, 3, device).requires_grad_(True)
        loss = m(x).sum()
        first = _grads_retained(m, loss, x)
        m(_x(6, 3, 4, device).requires_grad_(True)).sum().backward()  # overwrites the graph
        return [*first, *_grads(m, loss, x)]

    got = retained(layer)
    want = _plain(lambda: retained(ref))
    for a, b in zip(got, want, strict=True):
        _close(a, b)
    _close(got[0], got[2])  # the same loss differentiated twice


def _grads_retained(m: QuantumLayer, loss: torch.Tensor, x: torch.Tensor) -> list[torch.Tensor]:
    m.zero_grad()
    x.grad = None
    loss.backward(retain_graph=True)
    assert m.weights.grad is not None and x.grad is not None
    return [m.weights.grad.clone(), x.grad.clone()]


def test_an_input_changed_in_place_before_a_recomputed_backward_raises(graphs: Any) -> None:
    device, _ = graphs
    layer, _ = _pair(device)
    _warm(layer, device)
    x = _x(6, 3, 5, device).requires_grad_(True)
    loss = layer(x).sum()
    loss.backward(retain_graph=True)
    layer(_x(6, 3, 6, device).requires_grad_(True)).sum().backward()
    with torch.no_grad():
        layer.weights.add_(0.1)
    message = (
        "one of the variables needed for gradient computation has been modified by an "
        r"inplace operation \(quarch small-circuit node\)"
    )
    with pytest.raises(RuntimeError, match=message):
        loss.backward()


def test_a_forward_never_differentiated_does_not_block_the_graph(graphs: Any) -> None:
    device, counts = graphs
    layer, ref = _pair(device)
    _warm(layer, device)
    kept = layer(_x(6, 3, 7, device).requires_grad_(True))  # alive, never differentiated
    x = _x(6, 3, 8, device).requires_grad_(True)
    got = _grads(layer, layer(x).sum(), x)  # runs the plain replay: the graph awaits `kept`
    _plain(lambda: _warm(ref, device))
    x_ref = _x(6, 3, 8, device).requires_grad_(True)
    want = _plain(lambda: _grads(ref, ref(x_ref).sum(), x_ref))
    for a, b in zip(got, want, strict=True):
        _close(a, b)
    del kept  # its context dies: the graph is free again
    if counts is not None:
        before = counts["replay"]
        layer(_x(6, 3, 9, device).requires_grad_(True)).sum().backward()
        assert counts["replay"] == before + 2


def test_weights_in_another_storage_are_read_right(graphs: Any) -> None:
    """The weights are read in place by the graph; a layer whose weights get a new
    storage (``weights.data = ...``) runs the plain replay, with the new values."""
    device, _ = graphs
    layer, ref = _pair(device)
    x = _x(6, 3, 12, device)
    with torch.no_grad():
        for _ in range(5):
            layer(x)
    assert _graphed(layer)
    new = torch.linspace(-1, 1, layer.weights.numel(), dtype=torch.float64).to(device)
    layer.weights.data = new.clone()
    ref.weights.data = new.clone()
    with torch.no_grad():
        _close(layer(x), _plain(lambda: ref(x)))
    # a storage that keeps moving: the key gives its graph up after _MAX_MISSES + 1
    for _ in range(_cuda_graph._MAX_MISSES - 1):
        layer.weights.data = layer.weights.data.clone()
        with torch.no_grad():
            layer(x)
    assert len(_graphed(layer)) == 1
    layer.weights.data = layer.weights.data.clone()
    with torch.no_grad():
        _close(layer(x), _plain(lambda: ref(x)))
    assert not _graphed(layer)
    with torch.no_grad():  # for good: no capture again (it would be each call's)
        layer(x)
    assert not _graphed(layer)


def _failing(exc: Exception) -> Callable[..., Any]:
    def capture(fn: Callable[[], Any], pool: Any = None) -> Any:
        raise exc

    return capture


def test_a_capture_that_fails_keeps_the_plain_replay(
    graphs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    device, _ = graphs
    if device.type != "cpu":
        pytest.skip("the stand-in is what fails")
    monkeypatch.setattr(_cuda_graph, "_capture", _failing(RuntimeError("not capturable")))
    layer, ref = _pair(device)
    _warm(layer, device)
    _plain(lambda: _warm(ref, device))
    x = _x(6, 3, 13, device).requires_grad_(True)
    x_ref = x.detach().clone().requires_grad_(True)
    got = _grads(layer, layer(x).sum(), x)
    want = _plain(lambda: _grads(ref, ref(x_ref).sum(), x_ref))
    for a, b in zip(got, want, strict=True):
        _close(a, b)
    entries = [e for rt in layer.plan._small.values() for e in rt.replays.entries.values()]
    assert all(e.graph is NO_GRAPH for e in entries if isinstance(e, Replay))


def test_a_graph_that_disagrees_is_dropped(graphs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    device, _ = graphs
    if device.type != "cpu":
        pytest.skip("the stand-in is what disagrees")
    monkeypatch.setattr(_cuda_graph, "_capture", _disagreeing(every=1)[0])
    layer, ref = _pair(device)
    _warm(layer, device)
    _plain(lambda: _warm(ref, device))
    x = _x(6, 3, 14, device)
    with torch.no_grad():
        _close(layer(x), _plain(lambda: ref(x)))
    assert not _graphed(layer)


def test_a_backward_graph_that_disagrees_is_dropped(
    graphs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the backward's graph is wrong (its results nested in a tuple): the check
    compares gradients too."""
    device, _ = graphs
    if device.type != "cpu":
        pytest.skip("the stand-in is what disagrees")
    capture, made = _disagreeing(every=2)  # a key captures its forward, then its backward
    monkeypatch.setattr(_cuda_graph, "_capture", capture)
    layer, _ = _pair(device)
    _warm(layer, device)
    assert made and not _graphed(layer)


def _disagreeing(every: int) -> tuple[Callable[..., Any], list[int]]:
    """A stand-in capture whose every ``every``-th graph computes slightly wrong numbers,
    and the list of captures made."""
    real = _cuda_graph._capture
    made: list[int] = []

    def capture(fn: Callable[[], Any], pool: Any = None) -> Any:
        graph, result = real(fn, pool)
        made.append(1)
        if len(made) % every == 0:
            inner = graph.fn
            graph.fn = lambda: _shift(inner())
        return graph, result

    return capture, made


def _shift(x: Any) -> Any:
    """A small disagreement: 1e-3 of each value and more than the check's tolerance."""
    if isinstance(x, torch.Tensor):
        return x + 1e-3 * (1 + x.abs())
    return tuple(_shift(t) for t in x) if isinstance(x, tuple) else x


def test_the_cpu_is_never_captured(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the stand-in, CPU keys are marked once and never captured."""
    monkeypatch.setattr(_cuda_graph, "GRAPHS", True)
    monkeypatch.setattr(_cuda_graph, "_capture", _failing(AssertionError("captured on a CPU")))
    layer, _ = _pair(torch.device("cpu"))
    _warm(layer, torch.device("cpu"))
    entries = [e for rt in layer.plan._small.values() for e in rt.replays.entries.values()]
    assert entries and all(e.graph is NO_GRAPH for e in entries if isinstance(e, Replay))


def test_graphs_off_captures_nothing(graphs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    device, _ = graphs
    layer, _ = _pair(device)
    monkeypatch.setattr(_cuda_graph, "GRAPHS", False)
    _warm(layer, device)
    assert not _graphed(layer)
    monkeypatch.setattr(_cuda_graph, "GRAPHS", True)  # a key left alone can still be graphed
    _warm(layer, device)
    assert _graphed(layer)


@pytest.mark.parametrize("n", [2, 6, 8, 10])
def test_cuda_runs_the_small_path_up_to_its_limit(n: int) -> None:
    """On CUDA the small path runs every circuit it can (launches dominate there), where
    the CPU model sends wide circuits at large batches to the block engine."""
    plan = compile_circuit(_circuit(n))
    features = plan.path_features(True, False, torch.device("cpu"))
    assert small_is_faster(features, 256, "cuda")
    if n >= 8:
        assert not small_is_faster(features, 256, "cpu")
    wide = PlanFeatures(11, 10, 2, 3, 0, 11)
    assert not small_is_faster(wide, 1, "cuda")


def test_threads_calling_one_layer_get_their_own_results(
    graphs: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A graph's buffers are shared, so two threads must not launch it at once: the one
    that finds it taken runs the plain replay."""
    import sys
    import threading

    device, _ = graphs
    layer, ref = _pair(device)
    xs = [_x(4, 3, 200 + k, device) for k in range(64)]
    with torch.no_grad():
        for _ in range(5):
            layer(xs[0])
        assert _graphed(layer)
        want = [_plain(functools.partial(ref, x)) for x in xs]
    monkeypatch.setattr(sys, "getswitchinterval", sys.getswitchinterval)
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    errors: list[object] = []

    def work(offset: int) -> None:
        try:
            with torch.no_grad():
                for k in [*range(offset, len(xs), 4)] * 3:
                    if not torch.allclose(layer(xs[k]), want[k], rtol=1e-10, atol=1e-12):
                        errors.append(k)
        except Exception as exc:  # a thread's exception would otherwise only warn
            errors.append(exc)

    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    assert not errors


class _On:
    """Anything with a ``device``: all :func:`_cuda_graph._graphable` reads."""

    def __init__(self, device: str) -> None:
        self.device = torch.device(device)


@pytest.mark.parametrize(
    ("devices", "capturing", "expected"),
    [
        (["cuda:0", None, "cuda:0"], False, True),
        (["cuda:0"], True, False),  # inside the user's own capture
        (["cuda:0", "cuda:1"], False, False),
        (["cpu", "cpu"], False, False),
        (["cpu", "cuda:0"], False, False),
        ([None, None], False, False),
    ],
)
def test_which_calls_are_captured(
    monkeypatch: pytest.MonkeyPatch, devices: list[str | None], capturing: bool, expected: bool
) -> None:
    monkeypatch.setattr(torch.cuda, "is_current_stream_capturing", lambda: capturing)
    inputs = [None if d is None else _On(d) for d in devices]
    assert _cuda_graph._graphable(inputs) is expected  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["amplitude", "no-weights"])
def test_other_inputs_are_loaded(graphs: Any, kind: str) -> None:
    """An amplitude-embedded start state (after two absent inputs) and a circuit without
    weights: every present input reaches the graph, whatever comes before it."""
    device, counts = graphs
    if kind == "amplitude":
        c = Circuit(3).add(AmplitudeEmbedding(8, pad_with=0.0, normalize=True))
        c.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "crz"))
        width = 8
    else:
        c = Circuit(3).add(AngleEmbedding(3, rotation="Y"))
        c.add(EntanglingLayer(3, "ring", "cnot")).add(AngleEmbedding(3, rotation="X"))
        width = 3

    def make() -> QuantumLayer:
        return QuantumLayer(
            c,
            generator=torch.Generator().manual_seed(0),
            device=device,
            dtype=torch.complex128,
            path="small",
        )

    layer, ref = make(), make()
    with torch.no_grad():
        for s in range(5):
            layer(_x(4, width, 300 + s, device))
        assert _graphed(layer)
        before = None if counts is None else counts["replay"]
        for s in range(3):
            x = _x(4, width, 400 + s, device)
            _close(layer(x), _plain(functools.partial(ref, x)))
    if counts is not None:  # each call launched the graph
        assert before is not None
        assert counts["replay"] == before + 3
