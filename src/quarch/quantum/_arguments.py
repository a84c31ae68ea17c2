"""How a plan reads its arguments: dtypes, Python sequences and arrays as tensors, and
the refusals that come before any path runs (complex features or angles, ``torch.func``
transforms, ``torch.jit.trace``), each in one :class:`SimulationError` line.

Kept out of :mod:`quarch.quantum.simulator` (which re-exports the refusal texts) so that
the plan's module holds the plan; :mod:`quarch.quantum.layer` reads its inputs with the
same helpers, so the layer and the plan refuse alike.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
import torch

from quarch._errors import SimulationError
from quarch.quantum.circuit import CircuitError

__all__ = ["TRACE_REFUSAL", "TRANSFORMS_REFUSAL", "inputs_shape_refusal"]


class _Shaped(Protocol):
    """What :func:`_tensor` reads of a plan to say which shape it takes."""

    n_qubits: int
    n_weights: int
    n_inputs: int


TRANSFORMS_REFUSAL = (
    "torch.func transforms (grad, vmap, jacrev, jvp) cannot run quarch's simulator: its "
    "autograd nodes have hand-written backwards and no batching rules; use torch.autograd."
    "grad or loss.backward() for gradients, torch.autograd.functional.jacobian(f, x) for "
    "Jacobians, and a batch of rows (or a loop) instead of vmap"
)
"""Why a call inside a ``torch.func`` transform is refused: torch's own refusal names
``setup_context`` and a data pointer, the internals of a module the user did not write."""


TRACE_REFUSAL = (
    "torch.jit.trace cannot record quarch's simulator (it picks its path from values at run "
    "time); use torch.compile, which runs the circuit eagerly, or call the model untraced"
)
"""Why a call under ``torch.jit.trace`` is refused: the trace failed deep in torch
(``unordered_map::at``, or a sanity check naming the simulator's constants), or recorded
one batch size's path as if it were every call's."""


_COMPLEX = (torch.complex64, torch.complex128)


def inputs_shape_refusal(n_inputs: int, given: tuple[int, ...]) -> str:
    """The one line for inputs of the wrong shape, the same at every rank and from every
    entry (the plan, the layer, the noisy simulations): the plan takes ``[*, k]``, so a
    line naming only ``[batch, k]`` was untrue of a ``[2, 3, k+1]`` input."""
    return f"inputs must have shape [batch, {n_inputs}] or [..., {n_inputs}]; got {given}"


def _real_only(t: torch.Tensor, what: str) -> None:
    """One :class:`SimulationError` line for a complex ``inputs`` or ``weights`` tensor:
    converted to the plan's real dtype it lost its imaginary part with only torch's
    warning (given once per process), so a complex feature ran as another number."""
    if t.is_complex():
        kind = "features" if what == "inputs" else "angles"
        raise SimulationError(
            f"{what} are {kind}, real numbers; got a {t.dtype} tensor: pass its .real "
            "(or .abs()) if that is what the circuit should read"
        )


def _holds_complex(value: Any) -> bool:
    """Whether an array or a list holds complex numbers (read as a real dtype, numpy's
    complex array lost its imaginary part and a list was "not numbers")."""
    try:
        return bool(np.iscomplexobj(value))
    except (TypeError, ValueError, RuntimeError):  # ragged; tensors needing grad or a GPU
        return False


def _real(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.complex128 else torch.float32


def _validate_dtype(dtype: torch.dtype) -> torch.dtype:
    if dtype not in _COMPLEX:
        raise CircuitError(f"dtype must be torch.complex64 or torch.complex128; got {dtype}")
    return dtype


def _seq_dtype(value: object, dtype: torch.dtype) -> torch.dtype | None:
    """``dtype`` for a Python sequence or number (read at the plan's precision, not
    torch's float32 default), ``None`` for a tensor (kept, then converted)."""
    return None if isinstance(value, torch.Tensor) else dtype


def _tensor(
    value: object, what: str, plan: _Shaped, device: torch.device, dtype: torch.dtype | None
) -> torch.Tensor:
    """``value`` as a tensor, or one :class:`SimulationError` naming ``what`` (weights,
    inputs, initial_state), the shape ``plan`` takes and what was given, where torch
    cannot read it as numbers (a str, a list of str, a ragged list, None in a list):
    torch's own refusal names its internals (``new(): invalid data type 'str'``). Called
    on the general path only (the common call, a layer's tensors, never comes here), and
    the line is made only when torch refuses. Complex numbers read at a real ``dtype``
    are read as complex, so the caller refuses them whole (:func:`_real_only`)."""
    if dtype is not None and not dtype.is_complex and _holds_complex(value):
        dtype = None
    try:
        return torch.as_tensor(value, device=device, dtype=dtype)
    except torch.OutOfMemoryError:
        raise
    except (TypeError, ValueError, RuntimeError):
        n, dim = (plan.n_weights if what == "weights" else plan.n_inputs), 2**plan.n_qubits
        shape = {
            "inputs": f"[batch, {n}] or [..., {n}]" if n else "[batch, 0] (or None)",
            "weights": f"[{n}], [batch, {n}] or [..., {n}]",
        }.get(what, f"[{dim}], [batch, {dim}] or [..., {dim}]")
        given = repr(value)
        given = given if len(given) <= 40 else f"{given[:37]}..."
        raise SimulationError(
            f"{what} must be numbers of shape {shape} (a tensor, an array or a list); "
            f"got {type(value).__name__} {given}"
        ) from None
