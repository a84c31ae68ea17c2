"""``QuantumLayer``: a compiled circuit and its trainable weights as a ``torch.nn.Module``.

Kept apart from :mod:`quarch.quantum.simulator` (the plan it wraps) because it is the
part a model builder meets: what it owns is the weights, their initialisation and the
device check; every shape check and the arithmetic stay in the plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from quarch.quantum._arguments import _real, _real_only, _tensor, inputs_shape_refusal
from quarch.quantum.circuit import Circuit
from quarch.quantum.measurements import ObservableLike, parse_observables
from quarch.quantum.simulator import SimulationError, compile_circuit

_COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


class QuantumLayer(torch.nn.Module):
    """A circuit with its trainable weights as a ``torch.nn.Module``.

    ``forward(inputs [batch, n_inputs]) -> [batch, n_observables]`` (real; one sample
    ``[n_inputs]`` gives ``[n_observables]`` and ``[*, n_inputs]`` gives
    ``[*, n_observables]``, as for ``torch.nn.Linear``), so a classical front-end can
    feed it and Adam can train it. Weights start uniform in ``[0, 2*pi)`` from ``generator`` (or
    torch's global generator), so ``torch.manual_seed`` makes a model reproducible.
    ``torch.compile`` of a model holding the layer compiles the rest of the model; the
    circuit runs as it does eagerly (the engine is excluded from tracing), so the graph
    breaks there and ``fullgraph=True`` fails (torch's "Skip calling
    ``torch.compiler.disable()``'d function", or "marked as skipped" at a first call):
    compile without it. ``torch.jit.trace`` is refused in one line.

    Args:
        circuit (Circuit): circuit whose input features are the layer's inputs.
        observables: Pauli words to measure (``None``: <Z> on each qubit).
        dtype (torch.dtype): ``torch.complex64`` (default) or ``torch.complex128``;
            weights and outputs use the matching real dtype. ``.double()`` and
            ``.float()`` (or ``.to(torch.float64)``) of the layer or a model holding it
            switch it to the other one, as for any torch module; half precision is
            refused when the layer runs.
        device (torch.device | str | None): where the weights live.
        generator (torch.Generator | None): random source of the initial weights.
        max_block_qubits (int | None): see :class:`ExecutionPlan`.
        path (str): see :class:`ExecutionPlan` (default ``"auto"``).

    Example:
        >>> from quarch.quantum import Circuit, AngleEmbedding, BasicEntanglerLayers
        >>> c = Circuit(3).add(AngleEmbedding(3)).add(BasicEntanglerLayers(2, 3))
        >>> layer = QuantumLayer(c)
        >>> layer(torch.rand(5, 3)).shape
        torch.Size([5, 3])
    """

    def __init__(
        self,
        circuit: Circuit,
        observables: ObservableLike | Sequence[ObservableLike] | None = None,
        *,
        dtype: torch.dtype = torch.complex64,
        device: torch.device | str | None = None,
        generator: torch.Generator | None = None,
        max_block_qubits: int | None = None,
        path: str = "auto",
    ) -> None:
        super().__init__()
        self._options: dict[str, Any] = {"max_block_qubits": max_block_qubits, "path": path}
        self.plan = compile_circuit(circuit, dtype=dtype, **self._options)
        self.observables = parse_observables(observables, circuit.n_qubits)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise SimulationError(
                f"generator must be a torch.Generator (or None); got {type(generator).__name__}"
            )
        real = _real(dtype)
        init = torch.rand(self.plan.n_weights, generator=generator, dtype=real) * (2 * math.pi)
        self.weights = torch.nn.Parameter(init.to(device))  # .to(None) keeps the tensor

    @property
    def circuit(self) -> Circuit:
        """The circuit the layer runs (with :attr:`weights`, what the exporters take:
        ``to_qasm(layer.circuit, layer.weights)``), as a copy (the plan's
        :attr:`~quarch.quantum.simulator.ExecutionPlan.circuit` is one): an edit of the
        plan's own circuit changed what the layer ran if made before its first call (the
        plan compiles lazily) and not after, so an exported circuit could differ from it."""
        return self.plan.circuit

    @property
    def n_outputs(self) -> int:
        """Number of observables (width of the output)."""
        return len(self.observables)

    def forward(self, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """Expectations ``[batch, n_outputs]`` for inputs ``[batch, n_inputs]``; one
        sample ``[n_inputs]`` gives ``[n_outputs]``, as ``torch.nn.Linear`` answers an
        unbatched input (it used to give ``[1, n_outputs]``, which a loss against a 1-D
        target broadcasts without a word), and ``[*, n_inputs]`` gives
        ``[*, n_outputs]`` (a sequence model's ``[batch, time, features]``), as
        ``torch.nn.Linear`` and PennyLane's ``TorchLayer`` answer it. A list or an array
        is read as a tensor on the weights' device."""
        x = self._inputs(inputs)
        if self.weights.dtype != _real(self.plan.dtype):  # weights replaced, not via .to
            self._follow_weights(refuse=True)
        # the words were parsed once, in __init__; the plan takes [*, n_inputs] itself
        out = self.plan._execute(x, self.weights, None, self.observables)
        return out[0] if x is not None and x.dim() == 1 else out

    def _inputs(self, inputs: object) -> torch.Tensor | None:
        """``inputs`` as a real tensor on the weights' device, or one
        :class:`SimulationError` line for what the circuit cannot read: a list or array
        used to fail on ``.device`` (a list) or to be called on another device while on
        the same one (numpy's ``.device`` is the str ``"cpu"``); a complex tensor lost
        its imaginary part with only torch's warning; ``[*, k]`` of the wrong ``k`` is
        named as given, not as the rows it is run as. (``torch.jit.trace``, which failed
        deep in torch, is refused by the plan, :data:`~quarch.quantum.simulator.TRACE_REFUSAL`.)"""
        if inputs is None:
            return None
        if not isinstance(inputs, torch.Tensor):
            real = _real(self.plan.dtype)
            inputs = _tensor(inputs, "inputs", self.plan, self.weights.device, real)
        _real_only(inputs, "inputs")
        if inputs.device != self.weights.device:
            raise SimulationError(
                f"inputs are on {inputs.device} but the layer's weights are on "
                f"{self.weights.device}; move one of them"
            )
        if inputs.dim() > 2 and inputs.shape[-1] != self.plan.n_inputs:
            raise SimulationError(inputs_shape_refusal(self.plan.n_inputs, tuple(inputs.shape)))
        return inputs

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> Any:
        """``.double()``, ``.float()``, ``.to(dtype)``: the plan follows the weights
        (it used to stay complex64, so a ``.double()`` model ran its circuit in single
        precision and handed float32 to its next float64 layer)."""
        out = super()._apply(fn, recurse)
        self._follow_weights(refuse=False)
        return out

    def _follow_weights(self, *, refuse: bool) -> None:
        """Recompile the plan at the precision of the weights; a weight dtype the
        simulator has no states for (float16, bfloat16) is refused when ``refuse``."""
        want = _COMPLEX_OF.get(self.weights.dtype)
        if want is None:
            if refuse:
                raise SimulationError(
                    f"QuantumLayer runs in float32 or float64; its weights are "
                    f"{self.weights.dtype}: convert the layer with .float() or .double()"
                )
            return
        if want != self.plan.dtype:
            # a layer pickled before the options were kept: the plan's own path
            options = getattr(self, "_options", {"path": self.plan.path})
            self.plan = compile_circuit(self.plan.circuit, dtype=want, **options)

    def extra_repr(self) -> str:
        return (
            f"n_qubits={self.plan.n_qubits}, n_weights={self.plan.n_weights}, "
            f"n_inputs={self.plan.n_inputs}, n_outputs={self.n_outputs}"
        )
