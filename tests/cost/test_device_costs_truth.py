"""Device costs against truths computed here from Qiskit's and Aer's own objects.

* Schedules of small native circuits written out by hand, with every duration read
  from the fake backend's ``Target`` (loaded here, not quarch's copy) and added up in
  the test.
* The estimated success probability from the same ``Target`` errors and readout, with
  the idle fidelity from ``qiskit-aer``'s ``thermal_relaxation_error`` and
  ``qiskit.quantum_info.average_gate_fidelity``.
* The noise after one gate against the channel ``qiskit-aer``'s
  ``basic_device_gate_errors`` builds from a one- or two-qubit ``Target`` holding that
  gate's calibration (superoperators compared entry by entry), including a broken qubit
  (error 1) where Aer clamps the depolarising rate.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest

from quarch._errors import ConfigError
from quarch.cost import device_costs, success
from quarch.cost.device_costs import (
    TrainingLoad,
    device_metrics,
    device_noise,
    schedule,
    success_probability,
)
from quarch.cost.devices import get_calibration
from quarch.cost.routing import RoutedCircuit, route
from quarch.quantum import Circuit, Input, Weight
from quarch.quantum.circuit import Op
from quarch.quantum.noisy_circuit import PauliNoise, Relaxation
from quarch.spaces.hqnn.model import build_circuit

from .._scope import per_module

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

BASE = {
    "embedding": "iqp", "qubits": 3, "layers": 2, "rotation_0": "rot", "rotation_1": "rx-ry-rz",
    "entanglement_0": "full", "entanglement_1": "ring", "entangler": "crz", "reupload": True,
    "measurement": "zz", "frontend": "linear", "head": "linear", "lr": 0.01,
}  # fmt: skip


def _backend(name: str) -> Any:
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FakeProviderForBackendV2().backend(f"fake_{name}")


def _idle_truth(t: float, t1: float | None, t2: float | None) -> float:
    """Average gate fidelity of Aer's thermal relaxation over ``t`` (T2 capped at 2 T1)."""
    from qiskit.quantum_info import average_gate_fidelity
    from qiskit_aer.noise import thermal_relaxation_error

    t1 = math.inf if t1 is None else t1
    t2 = math.inf if t2 is None else min(t2, 2 * t1)
    return float(average_gate_fidelity(thermal_relaxation_error(t1, t2, t)))


def _hand_routed(device: str, region: tuple[int, ...], ops: list[Op]) -> RoutedCircuit:
    """A routed circuit given gate by gate (native gates on the region's local wires)."""
    n = len(region)
    return RoutedCircuit(
        device=device, region=region, layout_index=0, ops=tuple(ops),
        initial=tuple(range(n)), final=tuple(range(n)), n_weights=0, n_inputs=0,
        input_map=None, depth=len(ops), two_qubit_gates=sum(len(o.wires) == 2 for o in ops),
        swaps=0, qiskit=None,
    )  # fmt: skip


# wire 0: sx, cx, sx, sx; wire 1: rz (virtual), waits for wire 0's sx, cx, then idles
# while wire 0 runs two sx; wire 2: only a virtual rz
HAND_OPS = [
    Op("rz", (1,), (0.3,)),
    Op("sx", (0,)),
    Op("cx", (0, 1)),
    Op("sx", (0,)),
    Op("sx", (0,)),
    Op("rz", (2,), (0.1,)),
]
REGION = (0, 1, 2)


@pytest.fixture(scope=per_module)
def manila() -> Any:
    return _backend("manila").target


class TestHandSchedule:
    def test_schedule_added_up_from_the_target(self, manila: Any) -> None:
        sx, cx = manila["sx"][(0,)].duration, manila["cx"][(0, 1)].duration
        end = sx + cx + 2 * sx
        readout = max(manila["measure"][(q,)].duration for q in REGION)
        s = schedule(_hand_routed("ibm-manila", REGION, HAND_OPS))
        assert s.gates_end == pytest.approx(end, rel=1e-12)
        assert s.duration == pytest.approx(end + readout, rel=1e-12)
        # wire 0 is never idle; wire 1 starts with the cx (the rz takes no time) and
        # waits out the two sx; wire 2 runs no timed gate
        assert s.idle == pytest.approx((0.0, 2 * sx, 0.0), abs=1e-18)
        assert s.idle[1] > 0

    def test_success_probability_from_the_target(self, manila: Any) -> None:
        r = _hand_routed("ibm-manila", REGION, HAND_OPS)
        want = 1.0
        for op in HAND_OPS:
            want *= 1 - (manila[op.name][tuple(REGION[w] for w in op.wires)].error or 0.0)
        sx = manila["sx"][(0,)].duration
        idle = (0.0, 2 * sx, 0.0)
        for w, q in enumerate(REGION):
            qp = manila.qubit_properties[q]
            want *= 1 - manila["measure"][(q,)].error
            want *= _idle_truth(idle[w], qp.t1, qp.t2)
        assert _idle_truth(idle[1], *(lambda p: (p.t1, p.t2))(manila.qubit_properties[1])) < 1
        assert success_probability(r) == pytest.approx(want, rel=1e-9)

    def test_metrics_of_the_hand_circuit(self, manila: Any) -> None:
        r = _hand_routed("ibm-manila", REGION, HAND_OPS)
        sx, cx = manila["sx"][(0,)].duration, manila["cx"][(0, 1)].duration
        shot = 3 * sx + cx + max(manila["measure"][(q,)].duration for q in REGION)
        rep = _backend("manila").configuration().default_rep_delay
        m = device_metrics(r)
        assert set(m) == {
            "routed_depth", "routed_two_qubit_gates", "swaps", "duration_us",
            "success_probability", "job_runtime_s", "train_runtime_s",
        }  # fmt: skip
        assert m["duration_us"] == pytest.approx(shot * 1e6, rel=1e-12)
        assert m["job_runtime_s"] == pytest.approx(4096 * (shot + rep) + 3.0, rel=1e-12)
        assert m["train_runtime_s"] == 0.0
        assert m["routed_two_qubit_gates"] == 1.0 and m["swaps"] == 0.0
        assert m["routed_depth"] == float(len(HAND_OPS))
        assert 0 < m["success_probability"] < 1
        # one sample per minibatch: one job per sample; no rz reads a weight here
        load = TrainingLoad(samples=7, epochs=2, batch_size=1)
        m = device_metrics(r, shots=1, job_overhead_s=0.0, training=load)
        assert m["job_runtime_s"] == pytest.approx(shot + rep)
        assert m["train_runtime_s"] == pytest.approx(2 * (7 * (shot + rep) + 7 * 0.0))
        m = device_metrics(r, shots=1, job_overhead_s=0.5, training=load)
        assert m["train_runtime_s"] == pytest.approx(2 * (7 * (shot + rep) + 7 * 0.5))


class TestMetricsInputs:
    @pytest.mark.parametrize("shots", [0, True, 2.0, -1])
    def test_bad_shots(self, shots: object) -> None:
        r = _hand_routed("ibm-manila", REGION, HAND_OPS)
        with pytest.raises(ValueError, match=r"shots must be an integer >= 1; got "):
            device_metrics(r, shots=shots)  # type: ignore[arg-type]

    def test_bad_overhead(self) -> None:
        r = _hand_routed("ibm-manila", REGION, HAND_OPS)
        with pytest.raises(ValueError, match=r"job_overhead_s must be >= 0; got -0.1"):
            device_metrics(r, job_overhead_s=-0.1)

    def test_an_unrouted_circuit_needs_a_device(self) -> None:
        with pytest.raises(
            ConfigError, match=r"^success_probability needs a device for an unrouted circuit$"
        ):
            success_probability(Circuit(2).cnot(0, 1))


def _esp_truth(r: RoutedCircuit, tg: Any) -> float:
    """ESP of the routed Qiskit circuit, every figure read from the backend ``Target``:
    an ASAP schedule added up gate by gate, idling as Aer's thermal relaxation."""
    qc = r.qiskit
    n = len(r.region)
    free, busy = [0.0] * n, [0.0] * n
    first: list[float | None] = [None] * n
    p = 1.0
    for inst in qc.data:
        wires = [qc.find_bit(b).index for b in inst.qubits]
        props = tg[inst.operation.name].get(tuple(r.region[w] for w in wires))
        err = (props.error or 0.0) if props is not None else 0.0
        dur = (props.duration or 0.0) if props is not None else 0.0
        p *= 1 - err
        start = max(free[w] for w in wires)
        for w in wires:
            if dur > 0 and first[w] is None:
                first[w] = start
            free[w] = start + dur
            busy[w] += dur
    end = max(free)
    for w, q in enumerate(r.region):
        f = first[w]
        idle = 0.0 if f is None else max(0.0, end - f - busy[w])
        qp = tg.qubit_properties[q]
        p *= (1 - tg["measure"][(q,)].error) * _idle_truth(idle, qp.t1, qp.t2)
    return p


class TestRoutedDefaults:
    def test_defaults_are_layout_0_seed_0_level_2(self, manila: Any) -> None:
        c = build_circuit(BASE)
        want = _esp_truth(route(c, "ibm-manila", layout=0, seed=0, optimization_level=2), manila)
        assert success_probability(c, "ibm-manila") == pytest.approx(want, rel=1e-9)
        r = route(c, "ibm-manila")
        assert (r.layout_index, r.seed, r.optimization_level) == (0, 0, 2)
        # each default matters: another value routes differently
        others = [dict(layout=1), dict(seed=1), dict(optimization_level=3)]
        for kw in others:
            other = _esp_truth(route(c, "ibm-manila", **kw), manila)  # type: ignore[arg-type]
            assert other != pytest.approx(want, rel=1e-9), kw

    @pytest.mark.parametrize(
        ("layout", "seed", "level"), [(1, 0, 2), (0, 1, 2), (0, 0, 3), (1, 1, 1)]
    )
    def test_options_reach_the_router(
        self, manila: Any, layout: int, seed: int, level: int
    ) -> None:
        c = build_circuit(BASE)
        r = route(c, "ibm-manila", layout=layout, seed=seed, optimization_level=level)
        got = success_probability(
            c, "ibm-manila", layout=layout, seed=seed, optimization_level=level
        )
        assert got == pytest.approx(_esp_truth(r, manila), rel=1e-9)


class TestIdleFidelity:
    @pytest.mark.parametrize(
        ("t", "t1", "t2"),
        [
            (1e-6, 100e-6, 80e-6),
            (5e-6, 50e-6, 150e-6),  # T2 > 2 T1: capped at 2 T1, as Aer does
            (2e-6, math.inf, 60e-6),  # no T1 in the snapshot
            (2e-6, math.inf, math.inf),  # neither
            (0.0, 100e-6, 80e-6),
        ],
    )
    def test_equals_aers_thermal_relaxation(self, t: float, t1: float, t2: float) -> None:
        got = success._idle_fidelity(t, t1, t2)
        assert got == pytest.approx(_idle_truth(t, t1, t2), rel=1e-12, abs=1e-15)


def _superop_of_steps(steps: list[Any], n: int) -> Any:
    """The channel of quarch's noise steps on ``n`` local wires (wire ``w`` is Qiskit's
    qubit ``w``), built with ``qiskit.quantum_info``."""
    from qiskit.quantum_info import Kraus, Pauli, SuperOp

    total = SuperOp(np.eye(4**n))
    for s in steps:
        if isinstance(s, PauliNoise):
            k = len(s.wires)
            ops = []
            for i, p in enumerate(s.probs):
                digits = [(i // 4 ** (k - 1 - j)) % 4 for j in range(k)]  # first wire first
                label = "".join("IXYZ"[d] for d in reversed(digits))  # Qiskit: last = qubit 0
                ops.append(math.sqrt(p) * Pauli(label).to_matrix())
            total = total.compose(SuperOp(Kraus(ops)), qargs=list(s.wires))
        else:
            assert isinstance(s, Relaxation)
            kraus = [np.array(k, dtype=complex) for k in s.kraus()]
            total = total.compose(SuperOp(Kraus(kraus)), qargs=[s.wire])
    return total


def _aer_gate_error(tg: Any, name: str, phys: tuple[int, ...]) -> Any:
    """Aer's error after ``name`` on ``phys``, from a Target holding only that gate."""
    from qiskit.quantum_info import SuperOp
    from qiskit.transpiler import Target
    from qiskit_aer.noise.device.models import basic_device_gate_errors

    mini = Target(num_qubits=len(phys), dt=tg.dt,
                  qubit_properties=[tg.qubit_properties[q] for q in phys])  # fmt: skip
    mini.add_instruction(
        tg.operation_from_name(name), {tuple(range(len(phys))): tg[name][phys]}, name=name
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errors = basic_device_gate_errors(target=mini)
    (gate, qubits, error), *rest = errors
    assert not rest and gate == name and tuple(qubits) == tuple(range(len(phys)))
    return SuperOp(error.to_quantumchannel())


class TestGateNoiseAgainstAer:
    @pytest.mark.parametrize(
        ("device", "name", "phys"),
        [
            ("manila", "sx", (2,)),
            ("manila", "cx", (1, 2)),
            ("manila", "cx", (2, 1)),
            ("aachen", "sx", (19,)),  # error 1 that day, and T2 > 2 T1
            ("aachen", "x", (35,)),  # error 1 too
        ],
    )
    def test_channel_equals_aers(self, device: str, name: str, phys: tuple[int, ...]) -> None:
        tg = _backend(device).target
        cal = get_calibration(f"ibm-{device}")
        assert cal is not None
        wires = tuple(range(len(phys)))
        steps = device_costs._gate_noise(cal, Op(name, wires), phys)
        want = _aer_gate_error(tg, name, phys)
        got = _superop_of_steps(steps, len(phys))
        assert np.allclose(got.data, want.data, atol=1e-12)
        if tg[name][phys].error >= 1:  # Aer's clamps: error 2/3, depolarising rate 4/3
            (depol,) = [s for s in steps if isinstance(s, PauliNoise)]
            assert depol.probs[1] == pytest.approx((4 / 3) / 4)

    def test_virtual_rz_is_noiseless(self) -> None:
        cal = get_calibration("ibm-manila")
        assert cal is not None
        assert device_costs._gate_noise(cal, Op("rz", (0,), (0.3,)), (0,)) == []


class TestDeviceNoise:
    def test_readout_off_and_inputs_kept(self) -> None:
        c = Circuit(2).ry(0, Input(0)).ry(1, Input(1)).cnot(0, 1).ry(0, Weight(0))
        r = route(c, "ibm-manila")
        tg = _backend("manila").target
        nc = device_noise(r)
        assert nc.readout == tuple((tg["measure"][(q,)].error,) * 2 for q in r.region)
        assert device_noise(r, readout=False).readout == ()
        assert nc.n_inputs == 2 and nc.n_weights == 1
