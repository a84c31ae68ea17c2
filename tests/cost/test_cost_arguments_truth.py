"""The quantum cost functions given arguments of the wrong kind: one quarch error line
naming the argument, what was given and what is allowed, raised at the entry (they
failed with an ``AttributeError`` on a str or a circuit that is not routed, a
``TypeError`` from a comparison or a dict lookup, a ``ValueError`` from ``int`` or from
Qiskit's seed; 1.5 observables, a layout of 1.5, a width of 1.5, a negative training
load and a NaN overhead were taken and computed nonsense). The forms that were taken,
numpy integers included, give the counts worked out by hand."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from quarch._errors import CircuitError, ConfigError
from quarch.cost.cutting import (
    cnot_skeleton,
    estimate_cuts,
    fewest_devices,
    find_cuts_qiskit,
    skeleton_to_qiskit,
)
from quarch.cost.device_costs import (
    TrainingLoad,
    device_metrics,
    device_noise,
    observables_on_device,
    schedule,
    success_probability,
)
from quarch.cost.quantum import (
    circuit_duration_ns,
    native_two_qubit_gates,
    quantum_flops,
    runtime_proxy,
)
from quarch.cost.routing import RoutedCircuit, expand_amplitude, route
from quarch.quantum.circuit import Circuit, Op

_C = Circuit(2).h(0).cnot(0, 1)
_ROUTE_HINT = " (route it first: quarch.cost.route(circuit, 'ibm-fez'))"


def _routed(ops: tuple[Op, ...] = (Op("sx", (0,)), Op("cz", (0, 1)))) -> RoutedCircuit:
    """A routed circuit given gate by gate on ibm-fez's qubits 0 and 1."""
    return RoutedCircuit(
        device="ibm-fez", region=(0, 1), layout_index=0, ops=ops, initial=(0, 1),
        final=(0, 1), n_weights=0, n_inputs=0, input_map=None, depth=len(ops),
        two_qubit_gates=1, swaps=0, qiskit=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("call", "kind", "line"),
    [
        (
            lambda: quantum_flops("c", 1),  # type: ignore[arg-type]
            CircuitError,
            "quantum_flops takes a quarch Circuit; got str",
        ),
        (
            lambda: quantum_flops(_C, "1"),  # type: ignore[arg-type]
            ConfigError,
            "quantum_flops: n_observables must be an integer >= 0; got '1'",
        ),
        (
            lambda: quantum_flops(_C, 1.5),  # type: ignore[arg-type]
            ConfigError,
            "quantum_flops: n_observables must be an integer >= 0; got 1.5",
        ),
        (lambda: runtime_proxy("c"), CircuitError, "runtime_proxy takes a quarch Circuit; got str"),  # type: ignore[arg-type]
        (
            lambda: circuit_duration_ns(None),  # type: ignore[arg-type]
            CircuitError,
            "circuit_duration_ns takes a quarch Circuit; got NoneType",
        ),
        (
            lambda: native_two_qubit_gates("c"),  # type: ignore[arg-type]
            CircuitError,
            "native_two_qubit_gates takes a quarch Circuit; got str",
        ),
        (lambda: route("c", "ibm-fez"), CircuitError, "route takes a quarch Circuit; got str"),  # type: ignore[arg-type]
        (
            lambda: route(_C, [[0, 1], [1, 2]]),  # type: ignore[arg-type]
            ConfigError,
            "a quantum device is a profile's name such as 'ibm-fez' or a QuantumDevice; got list",
        ),
        (
            lambda: route(_C, 5),  # type: ignore[arg-type]
            ConfigError,
            "a quantum device is a profile's name such as 'ibm-fez' or a QuantumDevice; got int",
        ),
        (
            lambda: route(_C, SimpleNamespace(name="ibm-fez")),  # type: ignore[arg-type]
            ConfigError,
            "a quantum device is a profile's name such as 'ibm-fez' or a "
            "QuantumDevice; got SimpleNamespace (its name: 'ibm-fez')",
        ),
        (
            lambda: route(_C, SimpleNamespace(name=3)),  # type: ignore[arg-type]
            ConfigError,
            "a quantum device is a profile's name such as 'ibm-fez' or a "
            "QuantumDevice; got SimpleNamespace",
        ),
        (
            lambda: route(_C, "ibm-fez", layout="a"),  # type: ignore[arg-type]
            ConfigError,
            "route: layout must be an integer; got 'a'",
        ),
        (
            lambda: route(_C, "ibm-fez", layout=1.5),  # type: ignore[arg-type]
            ConfigError,
            "route: layout must be an integer; got 1.5",
        ),
        (
            lambda: route(_C, "ibm-fez", seed=-1),
            ConfigError,
            "route: seed must be an integer >= 0; got -1",
        ),
        (
            lambda: expand_amplitude("c"),  # type: ignore[arg-type]
            CircuitError,
            "expand_amplitude takes a quarch Circuit; got str",
        ),
        (
            lambda: device_metrics("c"),  # type: ignore[arg-type]
            ConfigError,
            "device_metrics takes a RoutedCircuit; got str",
        ),
        (
            lambda: device_metrics(_C),  # type: ignore[arg-type]
            ConfigError,
            "device_metrics takes a RoutedCircuit; got Circuit" + _ROUTE_HINT,
        ),
        (
            lambda: device_noise(_C),  # type: ignore[arg-type]
            ConfigError,
            "device_noise takes a RoutedCircuit; got Circuit" + _ROUTE_HINT,
        ),
        (lambda: schedule("c"), ConfigError, "schedule takes a RoutedCircuit; got str"),  # type: ignore[arg-type]
        (
            lambda: observables_on_device(_C, None),  # type: ignore[arg-type]
            ConfigError,
            "observables_on_device takes a RoutedCircuit; got Circuit" + _ROUTE_HINT,
        ),
        (
            lambda: success_probability("c", "ibm-fez"),  # type: ignore[arg-type]
            ConfigError,
            "success_probability takes a quarch Circuit or a RoutedCircuit; got str",
        ),
        (
            lambda: device_metrics(_routed(), training=(100, 2, 10)),  # type: ignore[arg-type]
            ConfigError,
            "device_metrics: training must be a TrainingLoad(samples, epochs, batch_size) or "
            "None; got tuple",
        ),
        (
            lambda: device_metrics(_routed(), job_overhead_s="1"),  # type: ignore[arg-type]
            ConfigError,
            "job_overhead_s must be a number >= 0; got '1'",
        ),
        (
            lambda: device_metrics(_routed(), job_overhead_s=math.nan),
            ConfigError,
            "job_overhead_s must be >= 0; got nan",
        ),
        (
            lambda: device_metrics(_routed(), shots=0),
            ConfigError,
            "shots must be an integer >= 1; got 0",
        ),
        (
            lambda: TrainingLoad(-5, 1, 1),
            ConfigError,
            "TrainingLoad: samples must be an integer >= 0; got -5",
        ),
        (
            lambda: TrainingLoad(10, 2.5, 1),  # type: ignore[arg-type]
            ConfigError,
            "TrainingLoad: epochs must be an integer >= 0; got 2.5",
        ),
        (
            lambda: estimate_cuts("c", 2),  # type: ignore[arg-type]
            CircuitError,
            "estimate_cuts takes a quarch Circuit; got str",
        ),
        (
            lambda: find_cuts_qiskit("c", 1),  # type: ignore[arg-type]
            CircuitError,
            "find_cuts_qiskit takes a quarch Circuit; got str",
        ),
        (lambda: cnot_skeleton("c"), CircuitError, "cnot_skeleton takes a quarch Circuit; got str"),  # type: ignore[arg-type]
        (
            lambda: skeleton_to_qiskit("c"),  # type: ignore[arg-type]
            CircuitError,
            "skeleton_to_qiskit takes a quarch Circuit; got str",
        ),
        (
            lambda: cnot_skeleton(Circuit(3).ccx(0, 1, 2)),
            CircuitError,
            "cutting supports gates on at most 2 wires; ccx acts on 3",
        ),
        (
            lambda: fewest_devices("ab", 2),  # type: ignore[arg-type]
            ConfigError,
            "fewest_devices: widths must be a list of integers >= 0; got 'ab'",
        ),
        (
            lambda: fewest_devices([1.5, 1], 2),  # type: ignore[list-item]
            ConfigError,
            "fewest_devices: widths must be a list of integers >= 0; got [1.5, 1]",
        ),
    ],
)
def test_a_wrong_argument_is_one_line(call: object, kind: type, line: str) -> None:
    with pytest.raises(kind) as e:
        call()  # type: ignore[operator]
    assert type(e.value) is kind
    assert str(e.value) == line
    assert e.value.__cause__ is None


def test_counts_as_numpy_integers() -> None:
    # h on 1 wire and cnot on 2 of 2 qubits, 2 observables: 8*2**3 + 8*2**4 + (3+2*2)*2**2
    assert quantum_flops(_C, np.int64(2)) == 64 + 128 + 28  # type: ignore[arg-type]
    assert quantum_flops(_C, 0) == 64 + 128 + 12
    # widths 3, 3, 2, 2, 2, 2 in devices of 7 fill two: {3, 2, 2} twice
    widths = (np.int64(3), 3, np.int32(2), 2, 2, 2)
    assert fewest_devices(widths, 7) == 2  # type: ignore[arg-type]
    assert fewest_devices([4, 0, 0], 4) == 1  # an empty piece needs no device


def test_a_training_load_of_numpy_integers() -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    r = _routed()
    base = device_metrics(r, shots=100, job_overhead_s=2.0)
    per_circuit = base["job_runtime_s"] - 2.0  # one circuit's shots, no overhead
    assert base["train_runtime_s"] == 0.0
    for load in (TrainingLoad(25, 3, 10), TrainingLoad(np.int64(25), np.int32(3), np.int64(10))):  # type: ignore[arg-type]
        got = device_metrics(r, shots=100, job_overhead_s=2.0, training=load)
        # no rz reads a weight: 25 circuits an epoch in ceil(25 / 10) = 3 jobs
        want = 3 * (25 * per_circuit + 3 * 2.0)
        assert got["train_runtime_s"] == pytest.approx(want, rel=1e-12)


def test_a_layout_as_a_numpy_integer_names_the_same_region() -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    a = route(_C, "ibm-fez", layout=np.int64(1), seed=np.int64(0))  # type: ignore[arg-type]
    b = route(_C, "ibm-fez", layout=1, seed=0)
    assert a.region == b.region and a.layout_index == 1
    assert route(_C, "ibm-fez", layout=-1).layout_index > 1  # past the end wraps, as before


def test_a_long_list_of_widths_is_cut_to_200_characters() -> None:
    widths = ["w"] * 100
    with pytest.raises(ConfigError) as e:
        fewest_devices(widths, 2)  # type: ignore[arg-type]
    line = f"fewest_devices: widths must be a list of integers >= 0; got {widths!r}"
    assert str(e.value) == line[:200] and len(line) > 201


def test_no_overhead_and_no_training_are_taken() -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    r = _routed()
    free = device_metrics(r, shots=100, job_overhead_s=0)
    half = device_metrics(r, shots=100, job_overhead_s=0.5)
    assert half["job_runtime_s"] == pytest.approx(free["job_runtime_s"] + 0.5, rel=1e-12)
    for load in (TrainingLoad(25, 0, 10), TrainingLoad(0, 3, 0), TrainingLoad(0, 0, 0)):
        got = device_metrics(r, shots=100, job_overhead_s=2.0, training=load)
        assert got["train_runtime_s"] == 0.0  # no epoch, or no sample: nothing to run
