"""CUDA graphs of verified replays: a small circuit's forward or backward as one launch.

Why: on a GPU every torch call is a kernel launch that costs the host 10-20 us whatever
the kernel computes. Measured on an NVIDIA H200 (``benchmarks/cuda.sh``, session of
2026-12-04, before this module): the simulator benchmark's layer took 1.41-1.82 ms per
forward+backward at 2-8 qubits, L = 2 and batch 1 on quarch's small path (about a hundred
calls), against 0.22-0.59 ms for tensorcircuit-ng's jitted JAX on the same GPU, while
the arithmetic of those states takes microseconds. A replay
(:mod:`~quarch.quantum._replay`) is already what a CUDA graph captures: a fixed
sequence of calls on fixed shapes that never reads a value back to the host. So from
the call after a replay is verified, on CUDA, its forward and its backward are each
captured once as a :class:`torch.cuda.CUDAGraph` and each later call costs the graph's
launch plus a few copies. Measured after, same GPU, in one process in alternating rounds
(``benchmarks/simulator.py --device cuda --graphs``, n = 2..10, L = 2 and 6, batch 1, 32
and 256): 0.554-1.786 ms at n <= 8, 2.45-6.65x faster than the same replays without
graphs; at n = 10, batch 256 (arithmetic begins to count) 1.09-1.12x.

Why not :func:`torch.cuda.make_graphed_callables`: it captures a callable together
with an autograd backward it derives at capture time; here both halves already exist
as plain functions (the replay's hand-written backward), so they are captured as they
are, with no autograd inside the graphs at all, and the node keeps its own
``torch.autograd.Function``.

What keeps a graph right (a graph reads and writes the memory it was captured with):

* Each call copies its inputs into the graph's input buffers; an input that is the
  same storage every call (the layer's weights, the sign table) is read in place, and
  a call that brings another storage for it runs the plain replay instead.
* Outputs and gradients are returned as clones: the next launch overwrites the
  graph's own.
* The forward's saved states live in the graph's memory until its backward. While a
  forward of the key waits for its backward (its autograd context is alive and has
  not been differentiated), another forward of the key runs the plain replay: a layer
  applied twice before one ``backward`` stays right. A backward that finds its states
  overwritten (a second ``backward(retain_graph=True)`` after a later forward) recomputes
  them from its inputs, or raises where those were changed in place, as autograd does.
* One launch at a time: a call that finds the key's graphs in use by another thread
  runs the plain replay (a lock, tried without waiting).
* A key is captured only where every input is on one CUDA device and no capture is in
  progress, and its first graphed call is checked against the plain replay (values and
  gradients, ``allclose``). A capture that fails or disagrees leaves the key to the
  plain replay for good.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

import torch

from quarch.quantum._agreement import agree

__all__ = ["GRAPHS", "NO_GRAPH", "Graphed", "graph_forward"]

GRAPHS = True
"""Capture verified replays as CUDA graphs on CUDA devices (False: for tests, timing)."""

NO_GRAPH = "no graph"
"""A replay's ``graph`` where it runs without one (not CUDA, off, failed)."""
#: calls whose in-place inputs came in another storage before a key's graph is dropped
_MAX_MISSES = 8


def _capture(fn: Callable[[], Any], pool: Any = None) -> tuple[Any, Any]:
    """``(graph, result)``: ``fn`` warmed up on a side stream, as torch's CUDA-graph
    notes ask (allocator and cuBLAS state made before capture), then captured.
    ``graph`` has ``replay()`` and ``pool()``; the tests put a CPU stand-in with the
    same memory semantics here (and in :func:`_graphable`)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph, pool=pool):
        result = fn()
    return graph, result


def _graphable(inputs: Sequence[torch.Tensor | None]) -> bool:
    """Whether a key with these inputs may be captured: all on one CUDA device, and no
    capture (the user's own, say) in progress."""
    devices = {t.device for t in inputs if t is not None}
    if len(devices) != 1:
        return False
    (device,) = devices
    return device.type == "cuda" and not torch.cuda.is_current_stream_capturing()


def _clone(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.clone()
    if isinstance(x, tuple):
        return tuple(_clone(item) for item in x)
    return x


class Graphed:
    """The graphs of one replay key: forward (and backward) captured on static buffers.

    ``bound[i]``: input ``i`` is read in place (the same storage every call) instead of
    copied into a buffer of the graph's own.
    """

    __slots__ = (
        "__weakref__",
        "bound",
        "bwd_graph",
        "entry",
        "fwd_graph",
        "g",
        "gen",
        "grads",
        "lock",
        "misses",
        "out",
        "pending",
        "static",
    )

    def __init__(
        self,
        entry: Any,
        inputs: Sequence[torch.Tensor | None],
        bound: Sequence[bool],
        backward: bool,
    ) -> None:
        self.entry = entry
        self.bound = tuple(bound)
        # a bound input is held by an alias of its storage of now: the graph reads that
        # address, whatever the input's ``.data`` becomes (compared in :meth:`load`)
        self.static = tuple(
            None if t is None else (t.detach() if b else t.detach().clone())
            for t, b in zip(inputs, self.bound, strict=True)
        )
        with torch.no_grad():
            self.fwd_graph, (self.out, saved) = _capture(lambda: entry.fwd(*self.static))
            self.bwd_graph: Any = None
            self.g: torch.Tensor | None = None
            self.grads: Any = None
            if backward:
                self.g = torch.zeros_like(self.out)
                g = self.g
                self.bwd_graph, self.grads = _capture(
                    lambda: entry.bwd(saved, g), self.fwd_graph.pool()
                )
        self.gen = 0  # forwards launched; a backward checks its own is the last
        self.pending: weakref.ref[Any] | None = None  # the forward awaiting its backward
        self.misses = 0
        self.lock = threading.Lock()  # one launch at a time: the buffers are shared

    def busy(self) -> bool:
        """Whether a forward's saved states await their backward."""
        return self.pending is not None and self.pending() is not None

    def load(self, inputs: Sequence[torch.Tensor | None]) -> bool:
        """Put ``inputs`` where the graphs read them; False where an in-place input
        came in another storage (the graphs cannot read it)."""
        for t, s, b in zip(inputs, self.static, self.bound, strict=True):
            if t is None or s is None:
                continue
            if b:
                if t.data_ptr() != s.data_ptr():
                    self.misses += 1
                    return False
            else:
                s.copy_(t)
        return True

    def forward(self, ctx: Any, inputs: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
        """A graphed forward, or None where this call must run the plain replay."""
        backward = self.bwd_graph is not None
        if not self.lock.acquire(blocking=False):
            return None  # another thread is launching this key's graphs
        try:
            if (backward and self.busy()) or not self.load(inputs):
                return None
            with torch.no_grad():
                self.fwd_graph.replay()
                out = self.out.clone()
            self.gen += 1
            if backward:
                self.pending = weakref.ref(ctx)
                ctx.replay = ("graph", self, self.gen, tuple(inputs), _versions(inputs))
            return out
        finally:
            self.lock.release()

    def backward(self, state: tuple[Any, ...], grad: torch.Tensor) -> Any:
        """The backward of a graphed forward (``state``: its ``ctx.replay``)."""
        _, _, gen, inputs, versions = state
        with self.lock:
            if gen == self.gen:
                self.pending = None
                assert self.g is not None
                with torch.no_grad():
                    self.g.copy_(grad)
                    self.bwd_graph.replay()
                    return _clone(self.grads)
        # a later forward overwrote this one's states: recompute them, as autograd
        # would refuse to where an input changed in place since
        if _versions(inputs) != versions:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been "
                "modified by an inplace operation (quarch small-circuit node)"
            )
        _, saved = self.entry.fwd(*inputs)
        return self.entry.bwd(saved, grad)


def _versions(inputs: Sequence[torch.Tensor | None]) -> tuple[int | None, ...]:
    return tuple(None if t is None else t._version for t in inputs)


def graph_forward(
    ctx: Any,
    entry: Any,
    inputs: Sequence[torch.Tensor | None],
    bound: Sequence[bool],
    backward: bool,
) -> torch.Tensor | None:
    """The forward of a verified replay ``entry`` as a graph, capturing it (and
    checking it) on the first call of a CUDA key; None where this call runs the plain
    replay (off, not CUDA, a failed or disagreeing capture, busy, another storage)."""
    if not GRAPHS:
        return None
    graphed = entry.graph
    if graphed is None:
        entry.graph = NO_GRAPH  # until the capture below is made and checked
        if not _graphable(inputs):
            return None
        try:
            graphed = Graphed(entry, inputs, bound, backward)
            mine = graphed.forward(_Probe(), inputs)
            out, saved = entry.fwd(*inputs)
            if not agree(out, mine):
                return None
            if backward:
                probe = out.detach() + 0.5  # any cotangent that is not all zeros
                theirs = entry.bwd(saved, probe)
                mine = graphed.backward((None, graphed, graphed.gen, (), ()), probe)
                if not agree(theirs, mine):
                    return None
        except Exception:  # a call that cannot be captured keeps the plain replay
            return None
        entry.graph = graphed
    if not isinstance(graphed, Graphed):
        return None
    out = graphed.forward(ctx, inputs)
    if out is None and graphed.misses > _MAX_MISSES:
        entry.graph = NO_GRAPH
    return out


class _Probe:
    """A stand-in autograd context for the capture's own check."""

    __slots__ = ("__weakref__", "replay")
