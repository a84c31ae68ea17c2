"""How a :class:`~quarch.quantum.noisy_circuit.NoisyCircuit` is checked before it runs:
its wires and readout errors when it is made, its inputs and weights as the plan's
(:class:`~quarch.quantum.simulator.ExecutionPlan`) are when it runs.

Kept out of :mod:`quarch.quantum.noisy_circuit` (which holds the circuit and its
density-matrix engine) so that module stays one file's length; nothing here imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real
from typing import Any, Protocol

import torch

from quarch._errors import QuarchError
from quarch.quantum._plan_arguments import _PlanArguments
from quarch.quantum.circuit import Circuit, Op

__all__: list[str] = []


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
