"""Quantum costs: execution-time proxy on a device profile, simulation FLOPs, noise.

Everything here reads only the circuit (its gates and wires), so it is deterministic
and instant; the measured simulation time is reported separately by the evaluator
(``sim_time_ms``) because wall time is never reproducible.

**runtime_proxy** (seconds per input sample) =
``shots * (circuit_duration + readout + rep_delay)``, where ``circuit_duration`` is the
ASAP critical path with each gate's duration from its native decomposition
(:data:`NATIVE_COUNTS`: RZ is virtual and free, RX/RY/Rot are 2 SX pulses, a CNOT on a
CZ device is a CZ with 2 SX, CRZ / RZZ are 2 two-qubit gates and 4 SX, an amplitude embedding of
real amplitudes is Mottonen's state preparation with ``2**n - 1`` RY and ``2**n - 2``
CNOTs, run serially). Z and ZZ observables commute, so one measurement setting serves
them all.

**quantum_flops** (per sample) of simulating the circuit gate by gate on a state of
``2**n`` complex amplitudes: a gate on ``k`` wires multiplies ``2**(n-k)`` vectors of
length ``2**k`` by a ``2**k x 2**k`` matrix, ``8 * 2**k`` real FLOPs per output
amplitude (complex multiply 6 + add 2), so ``8 * 2**(n+k)``; an amplitude embedding
costs ``3 * 2**n`` (norm and scaling); measurement costs ``3 * 2**n`` for
probabilities plus ``2 * 2**n`` per observable.
"""

from __future__ import annotations

from numbers import Integral

from quarch._errors import ConfigError
from quarch.cost.devices import QuantumDevice, get_quantum_device
from quarch.quantum.circuit import Circuit, require_circuit
from quarch.quantum.noise import NoiseModel

__all__ = [
    "NATIVE_COUNTS",
    "circuit_duration_ns",
    "native_two_qubit_gates",
    "noise_model",
    "quantum_flops",
    "runtime_proxy",
]


#: Native (single-qubit pulses, two-qubit gates) per quarch gate.
NATIVE_COUNTS: dict[str, tuple[int, int]] = {
    "rz": (0, 0), "phase": (0, 0), "z": (0, 0), "s": (0, 0), "sdg": (0, 0), "t": (0, 0),
    "tdg": (0, 0), "x": (1, 0), "sx": (1, 0), "sxdg": (1, 0), "h": (1, 0), "y": (1, 0),
    "rx": (2, 0), "ry": (2, 0), "rot": (2, 0), "u3": (2, 0),
    "cnot": (2, 1), "cz": (0, 1), "cy": (2, 1), "ch": (4, 1), "swap": (6, 3),
    "crx": (4, 2), "cry": (5, 2), "crz": (4, 2), "cphase": (4, 2),
    "rxx": (4, 2), "ryy": (6, 2), "rzz": (4, 2),
    "ccx": (12, 6), "cswap": (14, 8),
}  # fmt: skip
"""Every gate of :data:`quarch.quantum.gates.GATES` has its row, and every row is what
Qiskit's transpile to ``{cz, rz, sx, x}`` at optimisation level 1 (adjacent one-qubit
gates merged, at most 2 SX each) makes of the gate at generic angles (a test checks
both counts of every gate). A diagonal two-qubit gate is not free of pulses on a CZ
device: RZZ is CNOT, RZ, CNOT, and each CNOT's Hadamards are pulses."""


def _native(name: str) -> tuple[int, int]:
    return NATIVE_COUNTS[name]


def native_two_qubit_gates(circuit: Circuit) -> int:
    """Native two-qubit gates after decomposition (amplitude prep: ``2**n - 2``).

    Raises:
        CircuitError: ``circuit`` is not a :class:`Circuit`.
    """
    require_circuit(circuit, "native_two_qubit_gates")
    total = 0
    for op in circuit.ops:
        if op.is_channel:
            continue
        if op.name == "amplitude_embedding":
            total += 2**circuit.n_qubits - 2
        else:
            total += _native(op.name)[1]
    return total


def circuit_duration_ns(circuit: Circuit, device: str | QuantumDevice = "ibm-heron") -> float:
    """Critical-path duration (ns) with gates scheduled as early as their wires allow.

    Raises:
        CircuitError: ``circuit`` is not a :class:`Circuit`.
        ConfigError: an unknown device profile.
    """
    require_circuit(circuit, "circuit_duration_ns")
    dev = get_quantum_device(device)
    free = [0.0] * circuit.n_qubits
    for op in circuit.ops:
        if op.is_channel:
            continue
        if op.name == "amplitude_embedding":
            n = circuit.n_qubits
            dur = (2**n - 1) * 2 * dev.one_qubit_ns + (2**n - 2) * (
                dev.two_qubit_ns + 2 * dev.one_qubit_ns
            )
        else:
            n1, n2 = _native(op.name)
            dur = n1 * dev.one_qubit_ns + n2 * dev.two_qubit_ns
        start = max(free[w] for w in op.wires)
        for w in op.wires:
            free[w] = start + dur
    return max(free, default=0.0)


def runtime_proxy(
    circuit: Circuit,
    device: str | QuantumDevice = "ibm-heron",
    *,
    shots: int | None = None,
    settings: int = 1,
) -> float:
    """Estimated device time (seconds) to estimate the circuit's outputs for one sample.

    ``shots * settings * (circuit_duration + readout + rep_delay)``; see the module
    docstring. ``settings`` is the number of measurement bases (1 for Z/ZZ words).

    Raises:
        CircuitError: ``circuit`` is not a :class:`Circuit`.
        ConfigError: an unknown device profile, ``shots`` or ``settings`` < 1.

    Example:
        >>> c = Circuit(2).ry(0, 0.1).cnot(0, 1)
        >>> round(runtime_proxy(c, "ibm-heron", shots=1) * 1e9, 1)  # ns
        251740.0
    """
    require_circuit(circuit, "runtime_proxy")
    dev = get_quantum_device(device)
    n_shots = dev.shots if shots is None else shots
    if isinstance(n_shots, bool) or not isinstance(n_shots, int) or n_shots < 1:
        raise ConfigError(f"shots must be an integer >= 1; got {n_shots!r}")
    if isinstance(settings, bool) or not isinstance(settings, int) or settings < 1:
        raise ConfigError(f"settings must be an integer >= 1; got {settings!r}")
    per_shot = circuit_duration_ns(circuit, dev) + dev.readout_ns + dev.rep_delay_ns
    return n_shots * settings * per_shot * 1e-9


def quantum_flops(circuit: Circuit, n_observables: int) -> float:
    """FLOPs of simulating ``circuit`` for one sample and reading ``n_observables``.

    ``sum_gates 8 * 2**(n + k_gate) + 3 * 2**n [amplitude] + (3 + 2 * n_obs) * 2**n``.

    Raises:
        CircuitError: ``circuit`` is not a :class:`Circuit`.
        ConfigError: ``n_observables`` is not an integer >= 0 (1.5 observables were
            counted as 1.5, a str failed in the comparison).

    Example:
        >>> quantum_flops(Circuit(2).h(0).cnot(0, 1), 1)  # 8*2^3 + 8*2^4 + 5*2^2
        212.0
    """
    require_circuit(circuit, "quantum_flops")
    if isinstance(n_observables, bool) or not isinstance(n_observables, Integral):
        raise ConfigError(
            f"quantum_flops: n_observables must be an integer >= 0; got {n_observables!r}"
        )
    if n_observables < 0:
        raise ConfigError(f"n_observables must be >= 0; got {n_observables}")
    n = circuit.n_qubits
    total = 0
    for op in circuit.ops:
        if op.is_channel:
            continue
        if op.name == "amplitude_embedding":
            total += 3 * 2**n
        else:
            total += 8 * 2 ** (n + len(op.wires))
    return float(total + (3 + 2 * n_observables) * 2**n)


def noise_model(device: str | QuantumDevice = "ibm-heron") -> NoiseModel:
    """A :class:`~quarch.quantum.NoiseModel` from a profile's median error rates.

    Depolarising noise after every gate (the single- or two-qubit rate on each of its
    wires) and the profile's readout error.
    """
    dev = get_quantum_device(device)
    return NoiseModel(
        {"1q": ("depolarizing", dev.error_1q), "2q": ("depolarizing", dev.error_2q)},
        readout_error=dev.readout_error,
    )
