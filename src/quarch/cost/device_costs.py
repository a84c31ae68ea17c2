"""What a routed circuit costs on its calibrated device, and the device's noise on it.

All of it reads the :class:`~quarch.cost.routing.RoutedCircuit` and the calibration
snapshot only (no simulation, no training), so these costs can be budgets checked
before an architecture trains.

**Schedule** and **estimated success probability** (ESP, Nishio et al., with idling):
see :mod:`quarch.cost.success`, which routing shares (it ranks a circuit's regions by
the success probability); :func:`schedule` and :func:`success_probability` check their
argument (and route an unrouted circuit) first.

**Runtime.** One job of ``c`` circuits at ``shots`` shots takes
``c * shots * (shot duration + rep_delay) + job overhead``. Training on the device runs,
per epoch, every training sample's circuit and its parameter-shift pair for each
``rz`` that reads a weight (``1 + 2 * shift_terms`` circuits per sample), one job per
minibatch. The per-job overhead defaults to 3 s: IBM's usage guide estimates a
two-qubit circuit at Sampler's default 4096 shots at 4.11 quantum seconds, of which
4096 x 250 us = 1.02 s are shots (https://quantum.cloud.ibm.com/docs/guides/estimate-job-run-time).

**Noise** (:func:`device_noise`) follows ``qiskit-aer``'s
``NoiseModel.from_backend`` gate by gate: after each calibrated gate, a depolarising
channel on its qubits whose rate makes the gate's average fidelity (together with
relaxation) equal the calibrated error, then thermal relaxation of each of its qubits
over the gate's duration (T2 capped at 2 T1); ``rz`` is noiseless; the readout error of
each measured qubit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

from quarch._errors import ConfigError
from quarch.cost.calibration import Calibration
from quarch.cost.devices import QuantumDevice
from quarch.cost.routing import RoutedCircuit, route
from quarch.cost.success import Schedule, calibration_of, schedule_of, success_of
from quarch.quantum.circuit import Circuit, Op
from quarch.quantum.noisy_circuit import NoisyCircuit, PauliNoise, Relaxation, Step

__all__ = [
    "DEVICE_METRICS",
    "JOB_OVERHEAD_S",
    "Schedule",
    "TrainingLoad",
    "device_metrics",
    "device_noise",
    "observables_on_device",
    "schedule",
    "success_probability",
]

JOB_OVERHEAD_S = 3.0
"""Default fixed cost of one job on the device (seconds); see the module docstring."""

#: Metrics :func:`device_metrics` returns.
DEVICE_METRICS = (
    "routed_depth",
    "routed_two_qubit_gates",
    "swaps",
    "duration_us",
    "success_probability",
    "job_runtime_s",
    "train_runtime_s",
)


@dataclass(frozen=True)
class TrainingLoad:
    """What training on the device would run: samples, epochs and minibatch size.

    Raises:
        ConfigError: a field is not an integer >= 0 (a negative count made a negative
            training time).
    """

    samples: int
    epochs: int
    batch_size: int

    def __post_init__(self) -> None:
        for what in ("samples", "epochs", "batch_size"):
            v = getattr(self, what)
            if isinstance(v, bool) or not isinstance(v, Integral) or v < 0:
                raise ConfigError(f"TrainingLoad: {what} must be an integer >= 0; got {v!r}")


def _routed(routed: object, where: str) -> RoutedCircuit:
    """``routed`` if it is a :class:`RoutedCircuit`, else one line saying what ``where``
    got (for a :class:`Circuit`, how to route it)."""
    if isinstance(routed, RoutedCircuit):
        return routed
    hint = (
        " (route it first: quarch.cost.route(circuit, 'ibm-fez'))"
        if isinstance(routed, Circuit)
        else ""
    )
    raise ConfigError(f"{where} takes a RoutedCircuit; got {type(routed).__name__}{hint}")


def schedule(routed: RoutedCircuit) -> Schedule:
    """The ASAP schedule of ``routed`` on its device (see :mod:`quarch.cost.success`).

    Raises:
        ConfigError: ``routed`` is not a :class:`RoutedCircuit`.
    """
    return schedule_of(_routed(routed, "schedule"))


def success_probability(
    circuit: Circuit | RoutedCircuit,
    device: str | QuantumDevice | None = None,
    *,
    layout: int = 0,
    seed: int = 0,
    optimization_level: int = 2,
) -> float:
    """Estimated success probability of a circuit on a calibrated device (see the
    module docstring); routes ``circuit`` first unless it is already routed.

    Raises:
        ConfigError: ``circuit`` is neither a :class:`Circuit` nor a
            :class:`RoutedCircuit`, or a circuit comes without a device; as
            :func:`~quarch.cost.routing.route` for the routing.

    Example:
        >>> from quarch.quantum import Circuit
        >>> 0 < success_probability(Circuit(2).h(0).cnot(0, 1), "ibm-fez") < 1  # doctest: +SKIP
        True
    """
    if not isinstance(circuit, RoutedCircuit):
        if not isinstance(circuit, Circuit):
            raise ConfigError(
                "success_probability takes a quarch Circuit or a RoutedCircuit; got "
                f"{type(circuit).__name__}"
            )
        if device is None:
            raise ConfigError("success_probability needs a device for an unrouted circuit")
        circuit = route(
            circuit, device, layout=layout, seed=seed, optimization_level=optimization_level
        )
    return success_of(circuit)


def device_metrics(
    routed: RoutedCircuit,
    *,
    shots: int = 4096,
    job_overhead_s: float = JOB_OVERHEAD_S,
    training: TrainingLoad | None = None,
) -> dict[str, float]:
    """The device costs of a routed circuit, for an evaluator (:data:`DEVICE_METRICS`).

    ``job_runtime_s`` is one job of one circuit; ``train_runtime_s`` is training as the
    module docstring says (0 when ``training`` is not given).

    Raises:
        ConfigError: ``routed`` is not a :class:`RoutedCircuit`, ``shots`` < 1, an
            overhead that is no number >= 0, or ``training`` no :class:`TrainingLoad`.
    """
    _routed(routed, "device_metrics")
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 1:
        raise ConfigError(f"shots must be an integer >= 1; got {shots!r}")
    if isinstance(job_overhead_s, bool) or not isinstance(job_overhead_s, Real):
        raise ConfigError(f"job_overhead_s must be a number >= 0; got {job_overhead_s!r}")
    if not job_overhead_s >= 0:  # NaN too: it made every runtime NaN
        raise ConfigError(f"job_overhead_s must be >= 0; got {job_overhead_s}")
    if training is not None and not isinstance(training, TrainingLoad):
        raise ConfigError(
            "device_metrics: training must be a TrainingLoad(samples, epochs, batch_size) or "
            f"None; got {type(training).__name__}"
        )
    cal = calibration_of(routed)
    sched = schedule(routed)
    per_circuit = shots * (sched.duration + cal.rep_delay)
    train = 0.0
    if training is not None:
        circuits = training.samples * (1 + 2 * routed.shift_terms())
        jobs = math.ceil(training.samples / max(1, training.batch_size))
        train = training.epochs * (circuits * per_circuit + jobs * job_overhead_s)
    return {
        "routed_depth": float(routed.depth),
        "routed_two_qubit_gates": float(routed.two_qubit_gates),
        "swaps": float(routed.swaps),
        "duration_us": sched.duration * 1e6,
        "success_probability": success_probability(routed),
        "job_runtime_s": per_circuit + job_overhead_s,
        "train_runtime_s": train,
    }


def _relax_fidelity(relax: list[Relaxation]) -> float:
    """Average gate fidelity of a product of relaxations (``Tr S = 2 + 2c - gamma``)."""
    d = 2 ** len(relax)
    f_pro = math.prod((2 + 2 * r.coherence - r.gamma) / 4 for r in relax)
    return (d * f_pro + 1) / (d + 1)


def _gate_noise(cal: Calibration, op: Op, phys: tuple[int, ...]) -> list[Step]:
    """The noise ``qiskit-aer``'s ``NoiseModel.from_backend`` puts after one gate."""
    if (op.name, phys) not in cal.gates:
        return []
    err, dur = cal.gates[(op.name, phys)]
    relax = (
        [
            Relaxation.from_times(w, dur, cal.t1[q], cal.t2[q])
            for w, q in zip(op.wires, phys, strict=True)
        ]
        if dur > 0
        else []
    )
    out: list[Step] = []
    if err > 0:
        f = _relax_fidelity(relax) if relax else 1.0
        if err > 1 - f:
            k = len(op.wires)
            dim = 2**k
            err = min(err, dim / (dim + 1))
            lam = min(dim * (err - (1 - f)) / (dim * f - 1), 4**k / (4**k - 1))
            out.append(PauliNoise.depolarizing(op.wires, lam))
    return out + relax  # type: ignore[operator]


def device_noise(routed: RoutedCircuit, *, readout: bool = True) -> NoisyCircuit:
    """The routed circuit with its device's noise after every gate (see the module
    docstring), on the region's local wires, readout errors per wire.

    Raises:
        ConfigError: ``routed`` is not a :class:`RoutedCircuit`.
    """
    cal = calibration_of(_routed(routed, "device_noise"))
    steps: list[Step] = []
    for op in routed.ops:
        steps.append(op)
        steps += _gate_noise(cal, op, tuple(routed.region[w] for w in op.wires))
    ro = tuple(cal.readout[q] for q in routed.region) if readout else ()
    return NoisyCircuit(
        routed.n_qubits, tuple(steps), ro, routed.n_weights, routed.n_inputs, routed.input_map
    )


def observables_on_device(routed: RoutedCircuit, words: Any) -> list[dict[int, str]]:
    """Logical Pauli words moved to the wires the routed circuit measures them on.

    Raises:
        ConfigError: ``routed`` is not a :class:`RoutedCircuit`.
    """
    from quarch.quantum.measurements import parse_observables

    n = _routed(routed, "observables_on_device").n_qubits
    return [{routed.final[w]: p for w, p in word.terms} for word in parse_observables(words, n)]
