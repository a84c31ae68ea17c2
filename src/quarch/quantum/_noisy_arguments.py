"""How a :class:`~quarch.quantum.noisy_circuit.NoisyCircuit` is checked before it runs:
its wires and readout errors when it is made, its inputs and weights as the plan's
(:class:`~quarch.quantum.simulator.ExecutionPlan`) are, and a real dtype against its
gates and channels, when it runs (:func:`prepare`).

Kept out of :mod:`quarch.quantum.noisy_circuit` (which holds the circuit and its
density-matrix engine) so that module stays one file's length; nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any, Protocol

import torch

from quarch._errors import QuarchError, SimulationError
from quarch.quantum._plan_arguments import _PlanArguments
from quarch.quantum.circuit import Circuit, Op
from quarch.quantum.measurements import _given
from quarch.quantum.noise import NoiseError

__all__: list[str] = []

#: Gate names of device circuits that quarch's gate table has under another name.
ALIASES = {"cx": "cnot"}


class _Noisy(Protocol):
    """What :class:`NoisySizes` reads of a ``NoisyCircuit``: named by its attributes,
    not imported, since ``noisy_circuit`` imports this module (a cycle otherwise, even
    under ``TYPE_CHECKING``: ``tests/test_imports.py`` counts those too)."""

    @property
    def n_qubits(self) -> int: ...
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_weights(self) -> int: ...
    @property
    def steps(self) -> Sequence[Any]: ...
    @property
    def input_map(self) -> Any: ...


class NoisySizes(_PlanArguments):
    """A noisy circuit's sizes as the plan's argument checks read them, so that its
    inputs and weights are taken, and refused, as the plan's are (``[*, k]`` inputs,
    per-sample weights broadcast as torch broadcasts). What the gates read counts where
    the circuit was made without ``n_inputs``/``n_weights`` (by hand:
    ``NoisyCircuit(2, steps)``), and features the gates do not read are taken there, as
    before; an ``input_map`` (Möttönen angles of features) takes the width given."""

    def __init__(self, nc: _Noisy, dtype: torch.dtype, x: torch.Tensor | None) -> None:
        wide = dtype in (torch.complex128, torch.float64)
        self.dtype = torch.complex128 if wide else torch.complex64  # the real dtype's pair
        read = Circuit(nc.n_qubits, [s for s in nc.steps if isinstance(s, Op)])
        self.n_qubits, self._amplitude = nc.n_qubits, None
        self.n_weights = max(nc.n_weights, read.n_weights)
        self.n_inputs = nc.n_inputs or read.n_inputs
        given = x.shape[-1] if x is not None and x.dim() else 0
        if given and (nc.input_map is not None or (not nc.n_inputs and given > self.n_inputs)):
            self.n_inputs = given


def check_steps(
    n_qubits: int, steps: Sequence[object], readout: Sequence[object], error: type[QuarchError]
) -> None:
    """Refuse, in one ``error`` line, a step on a wire the circuit lacks and a readout
    error that is no pair of probabilities per wire: a gate or a channel on wire 5 of
    two failed at run time in ``list.index`` (``ValueError: 5 is not in list``), a
    readout tuple of the wrong length in an ``IndexError``, and a NaN or a 1.5 as
    ``P(1|0)`` ran as a number; so is a width that is no integer >= 1 (``"2"`` failed
    at run time in torch)."""
    if isinstance(n_qubits, bool) or not isinstance(n_qubits, int) or n_qubits < 1:
        raise error(f"n_qubits must be an integer >= 1; got {n_qubits!r}")
    for step in steps:
        wires = getattr(step, "wires", None)
        wires = (getattr(step, "wire", None),) if wires is None else wires
        label = step.name if isinstance(step, Op) else type(step).__name__
        for w in wires:
            if isinstance(w, bool) or not isinstance(w, int) or not 0 <= w < n_qubits:
                raise error(
                    f"{label}: wire {w!r} is out of range; this circuit has wires 0..{n_qubits - 1}"
                )
    if readout and len(readout) != n_qubits:
        raise error(
            f"readout must be one (P(1|0), P(0|1)) per wire ({n_qubits}) or empty; got "
            f"{len(readout)}"
        )
    for w, pair in enumerate(readout):
        if not (
            isinstance(pair, (tuple, list)) and len(pair) == 2 and all(map(_probability, pair))
        ):
            raise error(f"readout[{w}] must be (P(1|0), P(0|1)), numbers in [0, 1]; got {pair!r}")


def _probability(p: object) -> bool:
    """Whether ``p`` is a real number in ``[0, 1]`` (a NaN passes no comparison)."""
    return not isinstance(p, bool) and isinstance(p, Real) and 0.0 <= float(p) <= 1.0


def check_times(duration: float, t1: float, t2: float, error: type[QuarchError]) -> None:
    """Refuse relaxation times that are no numbers > 0 (``inf`` for none) and a duration
    that is no number >= 0: a NaN T1 gave no decay at all (``isfinite`` is false for it)
    and a negative time reached the check of ``gamma``, naming a number the user never
    gave."""
    for name, value, positive in (
        ("duration", duration, False),
        ("t1", t1, True),
        ("t2", t2, True),
    ):
        number = not isinstance(value, bool) and isinstance(value, Real)
        # written so that a NaN, which passes no comparison, fails
        if not (number and (float(value) > 0 if positive else float(value) >= 0)):
            want = "a number > 0 (inf for none)" if positive else "a number >= 0"
            raise error(f"relaxation {name} must be {want}; got {value!r}")


def check_real(steps: Sequence[object], dtype: torch.dtype, error: type[QuarchError]) -> None:
    """Refuse, in one ``error`` line, a real ``dtype`` for a circuit with complex gates or
    channels, naming them: a Y, S or T gate, an ECR or a Pauli channel with a Y term failed deep inside with
    ``TypeError: must be real number, not complex``, and a complex gate with angles
    (``rx``, ``rz``) was silently cut to its real part, a wrong and non-unitary matrix.
    Relaxation and Pauli channels of I, X and Z are real."""
    real = {s.name: _real_gate(s.name) for s in steps if isinstance(s, Op)}  # once a name
    bad: list[str] = []
    for step in steps:
        if isinstance(step, Op) and not real[step.name]:
            what = f"gate {step.name!r}"
        elif _has_y(step):
            what = f"Pauli noise with a Y term on wires {step.wires}"  # type: ignore[attr-defined]
        else:
            continue
        if what not in bad:
            bad.append(what)
    if bad:
        raise error(
            f"a real dtype ({dtype}) holds only real gates and channels; this circuit has "
            f"complex ones: {', '.join(bad)}; use torch.complex64 or torch.complex128"
        )


def _real_gate(name: str) -> bool:
    """Whether gate ``name``'s matrix is real at every angle. A name the table lacks
    counts as real: the simulation refuses it in its own words, as for a complex dtype."""
    from quarch.quantum.gates import GATES, gate_matrix

    if name == "ecr":
        return False
    spec = GATES.get(ALIASES.get(name, name))
    if spec is None:
        return True
    # angles of 1 rad, where no complex gate of the table is real (a gate without
    # angles ignores them)
    return not bool(gate_matrix(spec.name, torch.ones(spec.n_params)).imag.any())


def _has_y(ch: object) -> bool:
    """Whether ``ch`` is a Pauli channel (it has ``probs``) with a probability > 0 on a
    Pauli string with a Y (digit 2 on some wire)."""
    probs = getattr(ch, "probs", None)
    if probs is None:
        return False
    k = len(ch.wires)  # type: ignore[attr-defined]
    return any(p > 0 and any((i // 4**d) % 4 == 2 for d in range(k)) for i, p in enumerate(probs))


def prepare(
    nc: _Noisy, inputs: torch.Tensor | None, weights: torch.Tensor | Sequence[float] | None,
    dtype: torch.dtype,
) -> tuple[torch.Tensor | None, torch.Tensor | None, tuple[int, ...], torch.device]:  # fmt: skip
    """Inputs (mapped) as rows, weights (``[n_weights]`` shared or ``[rows, n_weights]``),
    the leading shape of the answer (``(1,)`` when nothing is batched), the device.

    Inputs ``[*, k]`` and per-sample weights are taken as the plan takes them
    (:meth:`~quarch.quantum.simulator.ExecutionPlan.state`) and refused in its words:
    they were rows only (weights flattened, so a ``[batch, n_weights]`` was "expected 2
    weights; got 6"), and a circuit reading inputs given none failed on an assert.

    Raises:
        NoiseError: ``dtype`` is no torch dtype of numbers with a fraction, a real one
            for a circuit with complex gates or channels, weights/inputs are not
            numbers, or of a shape the plan refuses (the plan's own line).
    """
    if not isinstance(dtype, torch.dtype) or not (dtype.is_complex or dtype.is_floating_point):
        raise NoiseError(
            "dtype must be torch.complex64 or torch.complex128 (or a real dtype for a circuit "
            f"of real gates and channels); got {_given(dtype)}"
        )
    if not dtype.is_complex:
        check_real(nc.steps, dtype, NoiseError)
    device = next(
        (t.device for t in (inputs, weights) if isinstance(t, torch.Tensor)), torch.device("cpu")
    )
    real = dtype.to_real()
    # dtype= here, not .to() after: a list of Python floats would pass through float32
    w = None if weights is None else _numbers(weights, "weights", real, device)
    x = None if inputs is None else _numbers(inputs, "inputs", real, device)
    sizes = NoisySizes(nc, dtype, x)
    if sizes.n_weights and w is None:
        raise NoiseError(f"this circuit has {sizes.n_weights} weights; pass weights=")
    try:
        x, w, _, lead, _ = sizes._arguments(x, w, None)
    except SimulationError as e:
        raise NoiseError(str(e)) from None
    x = None if x is None else x.to(real)
    w = w.to(real) if sizes.n_weights else None
    if x is not None and nc.input_map is not None:
        x = nc.input_map(x)
    return x, w, lead, device


def _numbers(value: object, what: str, real: torch.dtype, device: torch.device) -> torch.Tensor:
    """``value`` as a real tensor, or one line naming ``what`` (a str failed in torch)."""
    try:
        return torch.as_tensor(value, dtype=real, device=device)
    except (TypeError, ValueError, RuntimeError):
        raise NoiseError(
            f"{what} must be numbers (a tensor, an array or a list); got {_given(value)}"
        ) from None
