"""Analytic quantum costs against closed forms written out by hand and Qiskit's transpiler.

The durations are sums of a profile's per-pulse figures, added up here from the
module docstring's rules (RY = 2 SX, a CNOT on a CZ device = CZ + 2 SX, Möttönen's
state preparation = ``2**n - 1`` RY and ``2**n - 2`` CNOTs, run serially); two-qubit
gate counts of gates outside quarch's table come from ``qiskit.transpile``.
"""

from __future__ import annotations

import pytest

from quarch._errors import ConfigError
from quarch.cost.devices import get_quantum_device
from quarch.cost.quantum import (
    NATIVE_COUNTS,
    circuit_duration_ns,
    native_two_qubit_gates,
    noise_model,
    quantum_flops,
    runtime_proxy,
)
from quarch.quantum import Circuit
from quarch.quantum.circuit import Op
from quarch.quantum.export import to_qiskit
from quarch.quantum.gates import GATES


class TestDuration:
    def test_default_profile_is_heron(self) -> None:
        heron = get_quantum_device("ibm-heron")
        c = Circuit(2).ry(0, 0.1).cnot(0, 1)
        want = 2 * heron.one_qubit_ns + (2 * heron.one_qubit_ns + heron.two_qubit_ns)
        assert circuit_duration_ns(c) == pytest.approx(want)

    @pytest.mark.parametrize("n", [1, 3, 4])
    def test_amplitude_preparation_runs_serially(self, n: int) -> None:
        dev = get_quantum_device("ibm-eagle")
        one, two = dev.one_qubit_ns, dev.two_qubit_ns
        prep = (2**n - 1) * 2 * one + (2**n - 2) * (two + 2 * one)  # RYs, then CNOTs
        c = Circuit(n).amplitude_embedding(2**n).rx(n - 1, 0.3)  # waits for the preparation
        assert circuit_duration_ns(c, dev) == pytest.approx(prep + 2 * one)

    def test_a_channel_takes_no_time_and_later_gates_count(self) -> None:
        dev = get_quantum_device("ibm-heron")
        c = Circuit(2).depolarizing(0, 0.1).cnot(0, 1).h(1)
        want = (2 * dev.one_qubit_ns + dev.two_qubit_ns) + dev.one_qubit_ns
        assert circuit_duration_ns(c, dev) == pytest.approx(want)

    def test_a_gate_outside_the_table(self) -> None:
        dev = get_quantum_device("ibm-heron")
        # ccx: 6 two-qubit gates, as Qiskit's transpiler gives (next class)
        got = circuit_duration_ns(Circuit(3).ccx(0, 1, 2), dev)
        assert got >= 6 * dev.two_qubit_ns


class TestNativeCounts:
    @pytest.mark.parametrize("level", [0, 2])
    def test_toffoli_against_qiskit(self, level: int) -> None:
        qiskit = pytest.importorskip("qiskit")
        qc = qiskit.QuantumCircuit(3)
        qc.ccx(0, 1, 2)
        out = qiskit.transpile(qc, basis_gates=["cz", "rz", "sx", "x"], optimization_level=level)
        assert native_two_qubit_gates(Circuit(3).ccx(0, 1, 2)) == out.count_ops()["cz"] == 6

    def test_counts_add_up_over_the_circuit(self) -> None:
        c = Circuit(3).amplitude_embedding(8).cnot(0, 1).cz(1, 2).h(0)
        assert native_two_qubit_gates(c) == (2**3 - 2) + 1 + 1
        c = Circuit(2).depolarizing(0, 0.1).cnot(0, 1).crz(0, 1, 0.2)
        assert native_two_qubit_gates(c) == 1 + 2  # a channel is no gate


class TestFlops:
    def test_amplitude_of_three_qubits(self) -> None:
        c = Circuit(3).amplitude_embedding(8).h(0)
        # 3 * 2**3 (norm and scaling) + 8 * 2**(3+1) + (3 + 2) * 2**3
        assert quantum_flops(c, 1) == 24 + 128 + 40

    def test_a_channel_before_a_gate(self) -> None:
        c = Circuit(2).depolarizing(0, 0.1).cnot(0, 1)
        assert quantum_flops(c, 0) == 8 * 2**4 + 3 * 4


class TestRuntimeProxy:
    def test_settings_multiply(self) -> None:
        dev = get_quantum_device("ibm-heron")
        c = Circuit(1).h(0)
        per_shot = dev.one_qubit_ns + dev.readout_ns + dev.rep_delay_ns
        assert runtime_proxy(c, dev, shots=10, settings=3) == pytest.approx(30 * per_shot * 1e-9)
        assert runtime_proxy(c, dev, shots=1) == pytest.approx(per_shot * 1e-9)

    @pytest.mark.parametrize("shots", [0, True, 2.5, -3])
    def test_bad_shots(self, shots: object) -> None:
        with pytest.raises(ValueError, match=r"shots must be an integer >= 1; got "):
            runtime_proxy(Circuit(1), shots=shots)  # type: ignore[arg-type]

    @pytest.mark.parametrize("settings", [0, True, 1.5])
    def test_bad_settings(self, settings: object) -> None:
        with pytest.raises(ConfigError, match=r"settings must be an integer >= 1; got "):
            runtime_proxy(Circuit(1), shots=1, settings=settings)  # type: ignore[arg-type]


class TestNoiseModel:
    def test_default_profile_and_where_its_channels_go(self) -> None:
        heron = get_quantum_device("ibm-heron")
        nm = noise_model()
        assert nm.readout_error == heron.readout_error
        noisy = nm.apply(Circuit(2).h(0).cnot(0, 1))
        assert noisy.ops[1:] == [
            Op("depolarizing", (0,), (heron.error_1q,)),
            Op("cnot", (0, 1)),
            Op("depolarizing", (0,), (heron.error_2q,)),
            Op("depolarizing", (1,), (heron.error_2q,)),
        ]


@pytest.mark.parametrize("angle", [0.3, 1.234])
@pytest.mark.parametrize("name", sorted(GATES))
def test_every_gate_has_qiskit_s_counts(name: str, angle: float) -> None:
    """A gate missing from the table fell back to a guess (``cswap``: 6 two-qubit
    gates; Qiskit's decomposition has 8), and the diagonal gates had no pulses (RZZ,
    CRZ, CPhase: 0 SX where Qiskit needs 4)."""
    qiskit = pytest.importorskip("qiskit")
    spec = GATES[name]
    c = Circuit(spec.n_wires)
    getattr(c, name)(*range(spec.n_wires), *([angle] * spec.n_params))
    qc = to_qiskit(c)
    out = qiskit.transpile(qc, basis_gates=["cz", "rz", "sx", "x"], optimization_level=1)
    ops = out.count_ops()
    assert NATIVE_COUNTS[name] == (ops.get("sx", 0) + ops.get("x", 0), ops.get("cz", 0))
