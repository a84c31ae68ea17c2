"""Straight-line replays of the small-circuit node: its torch calls without its Python.

Why: at 2-6 qubits a forward+backward of :class:`~quarch.quantum._small_run.SmallCircuit`
is about a hundred torch calls of 1-5 us each, and the Python that decides which calls
to make (loops over kinds, layers and instructions, dictionary look-ups, the trace
grouping) costs about as much again: a hand-written version of the simulator
benchmark's layer with as many torch calls but no such Python ran 19-28 % faster
(``benchmarks/eager_floor.py``). Those decisions depend only on the program and the
shapes of a call, never on the values, so they can be taken once: the second call of a
given shape is *recorded* (every torch function and tensor method it calls, through a
:class:`~torch.overrides.TorchFunctionMode`), and from the third on the recording runs
as generated straight-line Python, the same calls on the same arguments in the same
order, hence the same numbers bit for bit on the CPU (measured 12-17 % off the whole
training step at n = 2-4; nothing changes where a step is arithmetic). The price is
paid once per shape: at n = 4, batch 32 the recording call took 3.5 ms and the checked
call (below) 1.6 ms against 0.65 ms for a replayed one, so a shape pays off after about
30 calls; a trial's training makes hundreds.

Why not a library: ``torch.fx.symbolic_trace`` cannot follow Python that reads shapes
(``x.shape[0]`` is a proxy there), and ``make_fx`` / ``torch.compile`` record ATen
operators, whose Python call costs 2-4x that of the ``torch.*`` function they come from
(``torch.ops.aten.mm.default`` 2.9 us against ``torch.mm`` 1.7 us, ``aten.view`` 3.4 us
against ``Tensor.view`` 1.3 us, measured here); a compiler backend (inductor) needs a
C++ toolchain on the user's machine.

What keeps a replay right:

* The key of a replay is everything the recorded Python may have branched on besides
  the program (which a :class:`Replays` belongs to): the batch, which gradients are
  needed, and each input's shape and strides.
* A recording that reads a tensor's value (``bool``, ``item``, ``tolist``, ...) is
  dropped, and that key is never replayed: a branch on a value cannot be replayed.
* Tensors a call reads that the recording did not see made (the program's constants)
  are bound by reference. Anything else made outside the recording would be frozen, so
  the first replay of each key runs beside the recorded code and must agree with it
  (values and gradients, ``allclose``); otherwise the key is never replayed.
* Calls that return no tensor and read none (grad mode, say) are torch's own state,
  not part of the computation, and are not replayed; queries (``shape``, ``dim``,
  ``is_contiguous``) return no tensor and need no replay.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from quarch.quantum._agreement import agree
from quarch.quantum._cuda_graph import NO_GRAPH, graph_forward

__all__ = ["REPLAY", "Recorder", "Replay", "Replays", "call_key"]

REPLAY = True
"""Replay recorded calls (False: always run the node's Python; for tests and timing)."""

_VALUE_READS = frozenset(
    {"__bool__", "item", "tolist", "__int__", "__float__", "__index__", "numpy", "__complex__"}
)
_MAX_KEYS = 64
_NAME = re.compile(r"\b([vi]\d+)\b")


def call_key(*parts: Any, tensors: Sequence[torch.Tensor | None]) -> tuple[Any, ...]:
    """A replay key: ``parts`` (what else the recorded Python branches on) and each
    tensor's shape, strides and dtype (a contiguous and a transposed input take different
    paths: a copy, or a ``view`` that only the contiguous one allows; a real start state
    is converted, a complex one is not)."""
    return (*parts, *(None if t is None else (t.shape, t.stride(), t.dtype) for t in tensors))


def _has_tensor(xs: Sequence[Any]) -> bool:
    return any(
        isinstance(x, torch.Tensor) or (isinstance(x, (list, tuple)) and _has_tensor(x)) for x in xs
    )


class Recorder(TorchFunctionMode):
    """Records the torch calls made while it is active as lines of Python.

    Inputs are bound to names ``i0, i1, ..`` by the caller, the backward's gradient to
    ``g``; every tensor a call makes is named ``v<k>``; anything else an argument holds
    (a tensor made before the recording, a slice, a dtype, the function itself) becomes a
    constant ``K<k>`` bound by reference. ``stage`` says which function a line goes to.
    """

    def __init__(self, inputs: Sequence[torch.Tensor | None]) -> None:
        super().__init__()
        self.names: dict[int, str] = {}
        self.keep: list[Any] = []  # holds every named object, so no id is reused
        self.consts: dict[str, Any] = {}
        self._const_ids: dict[int, str] = {}
        self.lines: dict[str, list[str]] = {"f": [], "b": []}
        self.stage = "f"
        self.made_in: dict[str, str] = {}
        self.value_read: str | None = None
        self.n_inputs = len(inputs)
        self._count = 0
        for k, t in enumerate(inputs):
            if t is not None:
                self.bind(t, f"i{k}")

    def bind(self, obj: Any, name: str) -> None:
        self.names[id(obj)] = name
        self.keep.append(obj)
        self.made_in[name] = self.stage

    def _const(self, obj: Any) -> str:
        name = self._const_ids.get(id(obj))
        if name is None:
            name = self._const_ids[id(obj)] = f"K{len(self.consts)}"
            self.consts[name] = obj
            self.keep.append(obj)
        return name

    def expr(self, a: Any) -> str:
        """The Python expression that stands for ``a`` in the generated code."""
        if isinstance(a, torch.Tensor):
            return self.names.get(id(a)) or self._const(a)
        if isinstance(a, (list, tuple)) and _has_tensor(a):
            inner = ", ".join(self.expr(x) for x in a)
            return f"[{inner}]" if isinstance(a, list) else f"({inner},)"
        if a is None or type(a) in (bool, int):
            return repr(a)
        return self._const(a)

    def __torch_function__(
        self, func: Any, types: Any, args: Sequence[Any] = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") in _VALUE_READS:
            self.value_read = self.value_read or str(func)
        out = func(*args, **kwargs)
        is_tensor = isinstance(out, torch.Tensor)
        makes = is_tensor or (isinstance(out, (list, tuple)) and _has_tensor(out))
        reads = _has_tensor(args) or _has_tensor(tuple(kwargs.values()))
        if not makes and (out is not None or not reads):
            return out  # a query, or torch's own state: nothing to replay
        parts = [self.expr(a) for a in args] + [f"{k}={self.expr(v)}" for k, v in kwargs.items()]
        call = f"{self._const(func)}({', '.join(parts)})"
        lines = self.lines[self.stage]
        if out is None or (is_tensor and id(out) in self.names and any(a is out for a in args)):
            lines.append(call)  # in place (returns nothing, or its own argument)
            return out
        name = f"v{self._count}"
        self._count += 1
        lines.append(f"{name} = {call}")
        self.bind(out, name)
        if not is_tensor:  # a tuple or list of tensors: its items by index
            for k, item in enumerate(out):
                if isinstance(item, torch.Tensor) and id(item) not in self.names:
                    self.names[id(item)] = f"{name}[{k}]"
                    self.keep.append(item)
        return out

    def build(self, out: Any, grads: Sequence[Any] | None) -> Replay:
        """The recording as a :class:`Replay` (``grads``: the backward's results, or
        None for a forward alone)."""
        ins = ", ".join(f"i{k}" for k in range(self.n_inputs))
        body_f = "".join(f"    {line}\n" for line in self.lines["f"])
        if grads is None:
            src = f"def fwd({ins}):\n{body_f}    return {self.expr(out)}, ()\n"
        else:
            ret = ", ".join("None" if g is None else self.expr(g) for g in grads)
            body_b = "".join(f"    {line}\n" for line in self.lines["b"])
            used = set(_NAME.findall(body_b + ret))
            saved = sorted(u for u in used if self.made_in.get(u) == "f")
            tup = f"({', '.join(saved)}{',' if saved else ''})"
            src = (
                f"def fwd({ins}):\n{body_f}    return {self.expr(out)}, {tup}\n"
                f"def bwd(saved, g):\n    {tup} = saved\n{body_b}    return ({ret},)\n"
            )
        scope: dict[str, Any] = dict(self.consts)
        exec(compile(src, "<quarch small-circuit replay>", "exec"), scope)
        return Replay(scope["fwd"], scope.get("bwd"), src)


class Replay:
    """A recorded forward (and backward) as generated functions; ``source`` is their
    Python, for a reader who wants to see what a call runs."""

    __slots__ = ("bwd", "fwd", "graph", "source", "verified")

    def __init__(self, fwd: Callable[..., Any], bwd: Callable[..., Any] | None, source: str):
        self.fwd, self.bwd, self.source = fwd, bwd, source
        self.verified = False
        self.graph: Any = None  # its CUDA graphs, once verified (quantum/_cuda_graph.py)


_SEEN, _NEVER = "seen", "never"


class Replays:
    """The replays of one node's program, by key: the first call of a key runs the
    node's Python, the second records it, the third runs both and compares, later
    ones run the replay alone (see the module docstring). ``forward`` and
    ``backward`` wrap the node's own; state between them travels on ``ctx.replay``."""

    def __init__(self) -> None:
        self.entries: dict[Any, Replay | str] = {}
        # recordings and checks begun whose backward has not come (yet): a forward
        # under autograd that is never differentiated would otherwise record each time
        self.open: dict[Any, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        # a cache: generated functions do not pickle, and a copy (``deepcopy``, a
        # worker's) records its own, bound to its own constants
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def _begin(self, key: Any) -> bool:
        """Count a recording or check that waits for its backward; False (and the key
        never replayed) once a third begins with none of the two before it ended."""
        self.open[key] = begun = self.open.get(key, 0) + 1
        if begun > 2:
            self.entries[key] = _NEVER
            return False
        return True

    def forward(
        self,
        ctx: Any,
        key: Any,
        inputs: Sequence[torch.Tensor | None],
        backward: bool,
        run: Callable[[], torch.Tensor],
        bound: Sequence[bool] = (),
    ) -> torch.Tensor:
        """The node's forward (``run``), or its replay. ``backward``: a backward
        follows this call (False under ``no_grad``: the forward alone is recorded).
        ``bound[i]``: input ``i`` keeps its storage from call to call (a CUDA graph
        may read it in place; :mod:`~quarch.quantum._cuda_graph`)."""
        ctx.replay = None
        entry = self.entries.get(key) if REPLAY else _NEVER
        if isinstance(entry, Replay) and entry.verified:
            if entry.graph is not NO_GRAPH:
                out = graph_forward(ctx, entry, inputs, bound or (False,) * len(inputs), backward)
                if out is not None:
                    return out
            out, saved = entry.fwd(*inputs)
            ctx.replay = ("run", entry, saved)
            return out
        if entry is None:
            if len(self.entries) >= _MAX_KEYS:  # a layer called with ever new shapes
                self.entries.clear()
                self.open.clear()
            self.entries[key] = _SEEN
            return run()
        if entry is _NEVER:
            return run()
        if backward and not self._begin(key):
            return run()
        if entry is _SEEN:
            rec = Recorder(inputs)
            with rec:
                out = run()
            if not backward:
                self._finish(key, rec, out, None)
            else:
                ctx.replay = ("record", self, key, rec, out)
            return out
        assert isinstance(entry, Replay)
        out = run()  # the first replay of this key: beside the recorded code
        mine, saved = entry.fwd(*inputs)
        if not agree(out, mine):
            self.entries[key] = _NEVER
        elif not backward:
            entry.verified = True
        else:
            ctx.replay = ("check", self, key, entry, saved)
        return out

    def backward(self, ctx: Any, grad: torch.Tensor, run: Callable[[], Any]) -> Any:
        """The node's backward (``run``) after a :meth:`forward` that recorded or
        checked (``ctx.replay`` names which); the node itself runs a replay's backward
        (``("run", replay, saved)``) or, with no state, its own."""
        state = ctx.replay
        ctx.replay = None
        self.open.pop(state[2], None)
        if state[0] == "record":
            _, _, key, rec, out = state
            rec.stage = "b"
            rec.bind(grad, "g")
            with rec:
                grads = run()
            self._finish(key, rec, out, grads)
            return grads
        _, _, key, entry, saved = state
        grads = run()
        if agree(grads, entry.bwd(saved, grad)):
            entry.verified = True
        else:
            self.entries[key] = _NEVER
        return grads

    def _finish(self, key: Any, rec: Recorder, out: Any, grads: Sequence[Any] | None) -> None:
        self.entries[key] = _NEVER if rec.value_read else rec.build(out, grads)
