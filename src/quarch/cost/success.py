"""A routed circuit's one-shot schedule and estimated success probability, read from
its device's calibration.

**Schedule.** Gates start as soon as their qubits are free (ASAP) with their
calibrated durations (``rz`` is virtual and takes no time); every qubit is measured
after the last gate (a barrier, as ``measure_all`` does), so one shot lasts the
critical path plus the longest readout of a measured qubit. ASAP and ALAP schedules
have the same length.

**Estimated success probability** (ESP, Nishio et al., JETC 16, 2020, with idling):
``prod_gates (1 - e_gate) * prod_qubits (1 - e_readout) * prod_qubits F_idle`` where
``e_readout`` is the mean of ``P(1|0)`` and ``P(0|1)`` and ``F_idle`` is the average
gate fidelity of T1/T2 relaxation over the time the qubit waits between its first
gate and its measurement (gate errors already include decay during the gate). It is an
estimate of the chance that no error happens, not a simulation; the noise benchmark
prints it beside simulated fidelities.

Why a module of its own: routing needs the success probability, to rank a circuit's
regions by it (:func:`quarch.cost.routing.route`'s circuit order), and
:mod:`quarch.cost.device_costs`, the public face of these costs, imports routing (it
routes an unrouted circuit first). This module reads only what a routed circuit
carries (:class:`Routed`), so both can import it and no import cycle forms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from quarch.cost.calibration import Calibration
from quarch.cost.devices import get_calibration
from quarch.quantum.circuit import Op

__all__ = ["Routed", "Schedule", "calibration_of", "schedule_of", "success_of"]


class Routed(Protocol):
    """What these functions read of a :class:`~quarch.cost.routing.RoutedCircuit`."""

    @property
    def device(self) -> str: ...
    @property
    def region(self) -> tuple[int, ...]: ...
    @property
    def ops(self) -> tuple[Op, ...]: ...
    @property
    def n_qubits(self) -> int: ...


@dataclass(frozen=True)
class Schedule:
    """ASAP schedule of one shot (seconds).

    Attributes:
        gates_end (float): when the last gate ends.
        duration (float): one shot: ``gates_end`` plus the longest readout.
        idle (tuple[float, ...]): per wire, waiting time between its first gate and
            the measurement.
    """

    gates_end: float
    duration: float
    idle: tuple[float, ...]


def calibration_of(routed: Routed) -> Calibration:
    """The calibration of ``routed``'s device (a routed circuit is on a calibrated one)."""
    cal = get_calibration(routed.device)
    assert cal is not None
    return cal


def schedule_of(routed: Routed) -> Schedule:
    """The ASAP schedule of ``routed`` on its device (see the module docstring)."""
    cal = calibration_of(routed)
    n = routed.n_qubits
    free = [0.0] * n
    first: list[float | None] = [None] * n
    busy = [0.0] * n
    for op in routed.ops:
        phys = tuple(routed.region[w] for w in op.wires)
        _, dur = cal.gate(op.name, phys)
        start = max(free[w] for w in op.wires)
        for w in op.wires:
            if dur > 0 and first[w] is None:
                first[w] = start
            free[w] = start + dur
            busy[w] += dur
    end = max(free, default=0.0)
    readout = max((cal.readout_time[q] for q in routed.region), default=0.0)
    idle = tuple(
        0.0 if first[w] is None else max(0.0, end - first[w] - busy[w])  # type: ignore[operator]
        for w in range(n)
    )
    return Schedule(end, end + readout, idle)


def _idle_fidelity(t: float, t1: float, t2: float) -> float:
    """Average gate fidelity of relaxation over ``t``: process fidelity
    ``(1 + 2 exp(-t/T2) + exp(-t/T1)) / 4``, then ``(2 F + 1) / 3``."""
    t2 = min(t2, 2 * t1)
    a = math.exp(-t / t1) if math.isfinite(t1) else 1.0
    b = math.exp(-t / t2) if math.isfinite(t2) else 1.0
    return (2 * (1 + 2 * b + a) / 4 + 1) / 3


def success_of(routed: Routed) -> float:
    """The estimated success probability of ``routed`` on its device (see the module
    docstring); :func:`quarch.cost.device_costs.success_probability` checks its argument
    and routes an unrouted circuit first."""
    cal = calibration_of(routed)
    p = 1.0
    for op in routed.ops:
        err, _ = cal.gate(op.name, tuple(routed.region[w] for w in op.wires))
        p *= 1.0 - min(err, 1.0)
    sched = schedule_of(routed)
    for w, q in enumerate(routed.region):
        p *= 1.0 - sum(cal.readout[q]) / 2
        p *= _idle_fidelity(sched.idle[w], cal.t1[q], cal.t2[q])
    return p
