"""Quantum costs: analytic FLOPs and durations, native counts against Qiskit's transpiler."""

from __future__ import annotations

import pytest

from quarch import ConfigError
from quarch.cost.devices import get_quantum_device
from quarch.cost.quantum import (
    NATIVE_COUNTS,
    circuit_duration_ns,
    native_two_qubit_gates,
    noise_model,
    quantum_flops,
    runtime_proxy,
)
from quarch.quantum import Circuit, to_qiskit


class TestCorrectness:
    def test_flops_by_hand(self) -> None:
        c = Circuit(3).ry(0, 0.1).cnot(0, 1).crz(1, 2, 0.3)
        # 8*2^(3+1) + 2 * 8*2^(3+2) + (3 + 2*3) * 2^3
        assert quantum_flops(c, 3) == 8 * 16 + 2 * 8 * 32 + 9 * 8

    def test_amplitude_flops(self) -> None:
        c = Circuit(2).amplitude_embedding(4)
        assert quantum_flops(c, 0) == 3 * 4 + 3 * 4

    def test_duration_schedules_in_parallel(self) -> None:
        dev = get_quantum_device("ibm-heron")
        c = Circuit(3).ry(0, 0.1).ry(1, 0.2).cnot(0, 1).rx(2, 0.3)
        one, two = dev.one_qubit_ns, dev.two_qubit_ns
        assert circuit_duration_ns(c, dev) == pytest.approx(2 * one + (2 * one + two))

    def test_runtime_proxy_by_hand(self) -> None:
        dev = get_quantum_device("ibm-eagle")
        c = Circuit(2).h(0).cz(0, 1)
        per_shot = dev.one_qubit_ns + dev.two_qubit_ns + dev.readout_ns + dev.rep_delay_ns
        assert runtime_proxy(c, "ibm-eagle", shots=100) == pytest.approx(100 * per_shot * 1e-9)
        assert runtime_proxy(c, dev) == pytest.approx(dev.shots * per_shot * 1e-9)

    @pytest.mark.parametrize("gate", ["cnot", "cz", "crz", "rzz", "swap", "cry"])
    def test_native_two_qubit_counts_match_qiskit(self, gate: str) -> None:
        qiskit = pytest.importorskip("qiskit")
        c = Circuit(2)
        params = [0.7] if gate in ("crz", "rzz", "cry") else []
        c.append(gate, [0, 1], params)
        qc = to_qiskit(c)
        out = qiskit.transpile(qc, basis_gates=["cz", "rz", "sx", "x"], optimization_level=0)
        assert out.count_ops().get("cz", 0) == NATIVE_COUNTS[gate][1]
        assert native_two_qubit_gates(c) == NATIVE_COUNTS[gate][1]

    def test_amplitude_prep_cnots(self) -> None:
        assert native_two_qubit_gates(Circuit(4).amplitude_embedding(16)) == 2**4 - 2

    def test_noise_model_from_profile(self) -> None:
        dev = get_quantum_device("ibm-heron")
        nm = noise_model("ibm-heron")
        assert nm.readout_error == dev.readout_error
        assert nm.gate_errors["2q"] == ("depolarizing", dev.error_2q)


class TestInputs:
    def test_unknown_profile(self) -> None:
        with pytest.raises(
            ConfigError, match=r"unknown quantum device profile 'x'; known: ibm-eagle"
        ):
            runtime_proxy(Circuit(1), "x")

    def test_bad_shots(self) -> None:
        with pytest.raises(ConfigError, match=r"shots must be an integer >= 1; got 0"):
            runtime_proxy(Circuit(1), shots=0)

    def test_bad_observables(self) -> None:
        with pytest.raises(ConfigError, match=r"n_observables must be >= 0; got -1"):
            quantum_flops(Circuit(1), -1)
