"""Device costs of routed circuits against Qiskit's scheduler and closed forms, and the
device noise against qiskit-aer's ``NoiseModel.from_backend`` (exact, density matrices)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from quarch.cost.device_costs import (
    TrainingLoad,
    device_metrics,
    device_noise,
    observables_on_device,
    schedule,
    success_probability,
)
from quarch.cost.devices import get_calibration
from quarch.cost.routing import route
from quarch.quantum import Circuit
from quarch.quantum.noisy_circuit import NoisyCircuit, noisy_circuit_expval
from quarch.spaces.hqnn.model import build_circuit, observables_of

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

ARCH = {
    "embedding": "iqp", "qubits": 3, "layers": 1, "rotation_0": "rot", "entanglement_0": "ring",
    "entangler": "crz", "reupload": False, "measurement": "zz", "frontend": "linear",
    "head": "linear", "lr": 0.01,
}  # fmt: skip


class TestSchedule:
    @pytest.mark.parametrize("device", ["ibm-prague", "ibm-peekskill"])
    def test_critical_path_equals_qiskits_asap_schedule(self, device: str) -> None:
        from qiskit.transpiler import PassManager
        from qiskit.transpiler.passes import ASAPScheduleAnalysis

        r = route(build_circuit(ARCH), device)
        cal = get_calibration(device)
        assert cal is not None
        pm = PassManager([ASAPScheduleAnalysis(target=cal.sub_target(r.region))])
        pm.run(r.qiskit)
        starts = pm.property_set["node_start_time"]
        dt = cal.target.dt
        sub = cal.sub_target(r.region)
        end = 0.0
        for node, t in starts.items():
            q = tuple(r.qiskit.find_bit(b).index for b in node.qargs)
            d = sub[node.op.name][q].duration if node.op.name in sub.operation_names else 0.0
            end = max(end, t * dt + (d or 0.0))
        s = schedule(r)
        assert s.gates_end == pytest.approx(end, rel=1e-9)
        readout = max(cal.readout_time[q] for q in r.region)
        assert s.duration == pytest.approx(end + readout)


class TestSuccessProbability:
    def test_closed_form_on_one_qubit(self) -> None:
        r = route(Circuit(2).sx(0).cnot(0, 1), "ibm-manila")
        cal = get_calibration("ibm-manila")
        assert cal is not None
        want = 1.0
        for op in r.ops:
            want *= 1 - cal.gate(op.name, tuple(r.region[w] for w in op.wires))[0]
        for w, q in enumerate(r.region):
            idle = schedule(r).idle[w]
            t1, t2 = cal.t1[q], min(cal.t2[q], 2 * cal.t1[q])
            f_pro = (1 + 2 * math.exp(-idle / t2) + math.exp(-idle / t1)) / 4
            want *= (1 - sum(cal.readout[q]) / 2) * (2 * f_pro + 1) / 3
        assert success_probability(r) == pytest.approx(want)
        assert 0 < want < 1

    def test_more_gates_lower_success(self) -> None:
        short = dict(ARCH, layers=1)
        long = dict(ARCH, layers=3, rotation_1="rot", rotation_2="rot", entanglement_1="full",
                    entanglement_2="full")  # fmt: skip
        a = success_probability(build_circuit(short), "ibm-fez")
        b = success_probability(build_circuit(long), "ibm-fez")
        assert 0 < b < a < 1


class TestRuntime:
    def test_formula(self) -> None:
        r = route(build_circuit(ARCH), "ibm-fez")
        cal = get_calibration("ibm-fez")
        assert cal is not None
        load = TrainingLoad(samples=90, epochs=3, batch_size=16)
        m = device_metrics(r, shots=1000, job_overhead_s=2.0, training=load)
        per = 1000 * (schedule(r).duration + cal.rep_delay)
        assert m["job_runtime_s"] == pytest.approx(per + 2.0)
        # parameter-shift pairs: every (rz, weight) pair of the routed Qiskit circuit
        pairs = sum(
            sum(1 for p in inst.operation.params[0].parameters if p.name.startswith("w"))
            for inst in r.qiskit.data
            if inst.operation.name == "rz" and hasattr(inst.operation.params[0], "parameters")
        )
        assert r.shift_terms() == pairs > build_circuit(ARCH).n_weights  # CRZ: 2 rz each
        circuits = 90 * (1 + 2 * pairs)
        assert m["train_runtime_s"] == pytest.approx(3 * (circuits * per + 6 * 2.0))

    def test_runtime_differs_between_architectures(self) -> None:
        load = TrainingLoad(120, 30, 16)
        small = dict(ARCH, qubits=2, embedding="angle-y", rotation_0="ry", entangler="cnot")
        big = dict(ARCH, layers=2, rotation_1="rot", entanglement_1="full")
        t = [
            device_metrics(route(build_circuit(a), "ibm-fez"), training=load)["train_runtime_s"]
            for a in (small, big)
        ]
        assert t[1] / t[0] > 2


class TestNoiseAgainstAer:
    @pytest.mark.parametrize(
        ("device", "embedding"),
        [("ibm-prague", "iqp"), ("ibm-peekskill", "angle-y"), ("ibm-manila", "amplitude")],
    )
    def test_density_matrix_equals_aer(self, device: str, embedding: str) -> None:
        from quarch.testing.aer import aer_expvals

        arch = dict(ARCH, embedding=embedding)
        c = build_circuit(arch)
        r = route(c, device, layout=1)
        nc = device_noise(r)
        words = observables_on_device(r, observables_of(arch))
        rng = np.random.default_rng(0)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-1, 1, (2, 8 if embedding == "amplitude" else c.n_inputs))
        got = noisy_circuit_expval(nc, words, inputs=torch.tensor(x), weights=torch.tensor(w))
        want = aer_expvals(r, w, x, words)
        assert np.abs(got.numpy() - want).max() < 1e-6
        ideal = NoisyCircuit(r.n_qubits, r.ops, (), r.n_weights, r.n_inputs, r.input_map)
        noiseless = noisy_circuit_expval(
            ideal, words, inputs=torch.tensor(x), weights=torch.tensor(w)
        )
        assert np.abs(noiseless.numpy() - want).max() > 1e-3  # the noise is there
