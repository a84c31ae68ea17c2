"""The argument checks of :class:`~quarch.quantum.simulator.ExecutionPlan`: inputs,
weights and start states as the run time takes them (rows), or one line saying what is
wrong. Apart from the plan, which is about running: a mixin the plan inherits, so that
its checks read the plan's own sizes as before."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from quarch._errors import SimulationError
from quarch.quantum._arguments import (
    _real,
    _real_only,
    _seq_dtype,
    _tensor,
    inputs_shape_refusal,
)
from quarch.quantum._memory import LARGE_QUBITS, state_memory_refusal

__all__: list[str] = []


_Lead = tuple[int, ...]
"""The leading shape of an argument ``[*, k]``: its ``*``; ``()`` for one shared by
every row (weights ``[n_weights]``, or an argument not given)."""


def _joint(a: _Lead, b: _Lead) -> _Lead | None:
    """Two leading shapes broadcast together as torch broadcasts them, or None where
    they do not (``(3,)`` and ``(2,)``)."""
    try:
        return tuple(torch.broadcast_shapes(a, b))
    except RuntimeError:
        return None


def _size(lead: _Lead) -> str:
    """A leading shape in a refusal: ``3`` for rows (the line of a ``[batch, k]``
    argument, as before), ``(2, 3)`` for more."""
    return str(lead[0]) if len(lead) == 1 else str(lead)


def _as_rows(t: torch.Tensor, lead: _Lead, rows: int) -> torch.Tensor:
    """``t [*, k]`` broadcast to ``lead`` as ``rows`` rows ``[rows, k]`` (a view where
    nothing is broadcast or copied; autograd sums a broadcast row's gradients)."""
    return t.expand(*lead, t.shape[-1]).reshape(rows, t.shape[-1])


class _PlanArguments:
    """What the plan checks its arguments with; the sizes are the plan's own."""

    dtype: torch.dtype
    n_qubits: int
    n_inputs: int
    n_weights: int
    _amplitude: tuple[int, float, bool] | None

    def _arguments(
        self,
        inputs: torch.Tensor | None,
        weights: torch.Tensor | Sequence[float] | None,
        initial_state: torch.Tensor | None,
    ) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor | None, _Lead, torch.device]:
        """Inputs, weights and start state as the run time takes them (rows ``[batch,
        k]``, weights ``[n_weights]`` when shared), their leading shape (the output's,
        ``(batch,)`` for rows) and the device; or one :class:`SimulationError` line.

        ``[*, k]`` arguments are taken as ``torch.nn.Linear`` and PennyLane's
        ``TorchLayer`` take them (a ``QuantumLayer`` did, the plan refused them), by
        every caller (``noise.density_matrix`` and the noisy circuits too, which took
        rows only), and their leading shapes broadcast as torch broadcasts: a ``[1,
        n_weights]`` row serves every input row as a ``[1, 2**n]`` start state did
        (it was refused: "must agree"). One row of weights for many rows is run as
        shared weights, one start state as one row: the same values, less work."""
        real = _real(self.dtype)
        if (  # the common call (a QuantumLayer's): tensors of the right kind, nothing to do
            initial_state is None
            and type(inputs) is torch.Tensor
            and isinstance(weights, torch.Tensor)  # a QuantumLayer passes its Parameter
            and inputs.dtype == real == weights.dtype
            and inputs.dim() == 2
            and weights.dim() == 1
            and inputs.shape[1] == self.n_inputs > 0
            and weights.shape[0] == self.n_weights
            and inputs.device == weights.device
            and self.n_qubits < LARGE_QUBITS
        ):
            return inputs, weights, None, (inputs.shape[0],), inputs.device
        device: torch.device | None = None
        for t in (inputs, weights, initial_state):
            if isinstance(t, torch.Tensor):
                device = t.device
                break
        device = device or torch.device("cpu")
        x, lead_x = self._check_inputs(inputs, real, device)
        w = self._check_weights(weights, real, device)
        lead_w = tuple(w.shape[:-1])  # () for shared weights: they broadcast to any rows
        lead = _joint(lead_x, lead_w)
        if lead is None:
            raise SimulationError(
                f"per-sample weights have batch size {_size(lead_w)} but inputs have batch "
                f"size {_size(lead_x)}; they must agree"
            )
        s, lead_s = self._check_start(initial_state, device)
        joint = _joint(lead, lead_s)
        if joint is None:
            raise SimulationError(
                f"initial_state has batch size {_size(lead_s)} but inputs/weights have "
                f"batch size {_size(lead)}; they must agree"
            )
        lead = joint or (1,)  # nothing batched: one row
        rows = math.prod(lead)
        if self.n_qubits >= LARGE_QUBITS:
            why = state_memory_refusal(self.n_qubits, rows, self.dtype, device)  # 0: none
            if why is not None:
                raise SimulationError(why)
        if x is not None:
            x = _as_rows(x, lead, rows)
        if lead_w:  # one row of weights for many rows: shared weights, the same values
            w = w.reshape(-1) if math.prod(lead_w) == 1 < rows else _as_rows(w, lead, rows)
        if s is not None:  # one start state for many rows: the engine shares it
            s = s.reshape(1, -1) if math.prod(lead_s) == 1 else _as_rows(s, lead, rows)
        return x, w, s, lead, device

    def _check_inputs(
        self, inputs: object, real: torch.dtype, device: torch.device
    ) -> tuple[torch.Tensor | None, _Lead]:
        """The inputs as a real tensor ``[*, n_inputs]`` (one sample ``[n_inputs]`` as
        one row) and their leading shape (``()``: none given); None for a circuit that
        reads none, whose ``[*, 0]`` still counts its rows."""
        if self.n_inputs:
            if inputs is None:
                raise SimulationError(
                    f"this circuit reads {self.n_inputs} input feature(s); pass inputs of "
                    f"shape [batch, {self.n_inputs}]"
                )
            # a list is read at the plan's precision (as_tensor alone would make float32)
            x = _tensor(inputs, "inputs", self, device, _seq_dtype(inputs, real))
            _real_only(x, "inputs")
            as_given = tuple(x.shape)
            if x.dim() == 1:
                x = x[None]
            if x.dim() < 2 or x.shape[-1] != self.n_inputs:
                raise SimulationError(inputs_shape_refusal(self.n_inputs, as_given))
            return x.to(real), tuple(x.shape[:-1])
        if inputs is None:
            return None, ()
        given = _tensor(inputs, "inputs", self, device, None)
        if given.numel() > 0:
            raise SimulationError(
                f"this circuit reads no input features; got inputs of shape {tuple(given.shape)}"
            )
        return None, tuple(given.shape[:-1])  # [*, 0]: rows still count; [0]: none given

    def _check_weights(
        self, weights: object, real: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        """The weights as a real tensor ``[n_weights]`` or ``[*, n_weights]``."""
        if weights is None:
            if self.n_weights:
                raise SimulationError(
                    f"this circuit has {self.n_weights} trainable weight(s); pass weights "
                    f"of shape [{self.n_weights}], [batch, {self.n_weights}] or [..., {self.n_weights}]"
                )
            return torch.zeros(0, dtype=real, device=device)
        w = _tensor(weights, "weights", self, device, _seq_dtype(weights, real))
        _real_only(w, "weights")
        if w.dim() == 0 or w.shape[-1] != self.n_weights:
            raise SimulationError(
                f"weights must have shape [{self.n_weights}], [batch, {self.n_weights}] or "
                f"[..., {self.n_weights}]; "
                f"got {tuple(w.shape)}"
            )
        return w.to(real)

    def _check_start(
        self, initial_state: object, device: torch.device
    ) -> tuple[torch.Tensor | None, _Lead]:
        """The start state as a ``[*, 2**n]`` tensor of the plan's dtype (one state
        ``[2**n]`` as one row) and its leading shape."""
        if initial_state is None:
            return None, ()
        if self._amplitude is not None:
            raise SimulationError("initial_state cannot be combined with an amplitude embedding")
        dim = 2**self.n_qubits
        dt = _seq_dtype(initial_state, self.dtype)
        s = _tensor(initial_state, "initial_state", self, device, dt)
        as_given = tuple(s.shape)  # a list has no shape of its own to name
        if s.dim() == 1:
            s = s[None]
        if s.dim() < 2 or s.shape[-1] != dim:
            raise SimulationError(
                f"initial_state must have shape [{dim}], [batch, {dim}] or [..., {dim}]; got "
                f"{as_given}"
            )
        return s.to(self.dtype), tuple(s.shape[:-1])


def no_rows(
    shape: Sequence[int], dtype: torch.dtype, device: torch.device, *given: torch.Tensor | None
) -> torch.Tensor:
    """The answer for a batch of no rows (a ``[0, k]`` input), as ``torch.nn.Linear``
    gives one: zeros of ``shape``, yet on autograd's graph of the ``given`` inputs,
    weights and start state, so a loss over a data set's empty last batch still
    backpropagates (the density-matrix engines failed in a reshape of 0 elements). The
    plan's and the noisy entries' one way (a complex start state adds its real part)."""
    out = torch.zeros(tuple(shape), dtype=dtype, device=device)
    for t in given:
        if t is not None and t.requires_grad:
            out = out + (t.sum().real * 0).to(out.dtype)
    return out
