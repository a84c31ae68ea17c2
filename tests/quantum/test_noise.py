"""Density-matrix path against PennyLane ``default.mixed``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import (
    Circuit,
    Input,
    NoiseModel,
    density_matrix,
    noisy_expval,
    noisy_probs,
    statevector,
    to_pennylane,
)
from quarch.quantum.circuit import Op
from quarch.quantum.noise import NoiseError
from quarch.quantum.noisy_circuit import NoisyCircuit, noisy_circuit_expval, noisy_density_matrix

qml = pytest.importorskip("pennylane")


def _circuit() -> Circuit:
    c = Circuit(3)
    c.ry(0, Input(0)).rx(1, c.new_weight()).h(2).cnot(0, 1).crz(1, 2, c.new_weight())
    c.depolarizing(0, 0.1).amplitude_damping(1, 0.2).phase_damping(2, 0.3).bit_flip(0, 0.05)
    c.rot(2, 0.1, 0.2, 0.3).cz(2, 0)
    return c


class TestInputs:
    def test_too_large(self) -> None:
        with pytest.raises(
            NoiseError, match="a density matrix of 14 qubits for a batch of 1 needs"
        ):
            density_matrix(Circuit(14), max_memory_gb=1.0)

    def test_the_default_limit_is_4_gib_in_every_entry_point(self) -> None:
        # 10 qubits, a batch of 92 in complex128: 3 * 92 * 4**10 * 16 B = 4.31 GiB, over
        # the documented 4.0 GiB default (in complex64, 2.16 GiB: under it). The refusal
        # comes before any matrix is made.
        c = Circuit(10)
        c.ry(0, Input(0))
        nc = NoisyCircuit(10, (Op("ry", (0,), (Input(0),)),), n_inputs=1)
        x = torch.zeros(92, 1, dtype=torch.float64)
        line = r"^a density matrix of 10 qubits for a batch of 92 needs about 4\.3 GiB; the limit is 4\.0 GiB"
        calls = [
            lambda: density_matrix(c, inputs=x),
            lambda: noisy_probs(c, inputs=x),
            lambda: noisy_expval(c, "Z0", inputs=x),
            lambda: noisy_density_matrix(nc, inputs=x),
            lambda: noisy_circuit_expval(nc, ["Z0"], inputs=x),
        ]
        for call in calls:
            with pytest.raises(NoiseError, match=line):
                call()

    def test_bad_probability(self) -> None:
        with pytest.raises(
            ValueError, match=r"depolarizing probability must be a number in \[0, 1\]"
        ):
            Circuit(1).depolarizing(0, 1.5)

    def test_bad_model(self) -> None:
        with pytest.raises(NoiseError, match="unknown channel 'foo'"):
            NoiseModel({"cnot": ("foo", 0.1)})


class TestCorrectness:
    def test_channels_match_default_mixed(self) -> None:
        c = _circuit()
        w = np.array([0.4, -1.1])
        x = np.array([[0.3], [1.7]])
        f = to_pennylane(c)

        @qml.qnode(qml.device("default.mixed", wires=3))
        def run(w: np.ndarray, x: np.ndarray) -> object:
            f(w, x)
            return qml.density_matrix(wires=[0, 1, 2])

        ref = np.asarray(run(w, x))
        rho = density_matrix(c, inputs=torch.tensor(x), weights=torch.tensor(w))
        np.testing.assert_allclose(rho.numpy(), ref, rtol=0, atol=1e-10)

    def test_noise_model_and_readout_match_default_mixed(self) -> None:
        c = Circuit(2)
        c.ry(0, 0.7).cnot(0, 1).rx(1, 0.4)
        model = NoiseModel(
            {"1q": ("depolarizing", 0.05), "cnot": ("bit_flip", 0.1)}, readout_error=0.03
        )

        def ops() -> None:
            qml.RY(0.7, wires=0)
            qml.DepolarizingChannel(0.05, wires=0)
            qml.CNOT(wires=[0, 1])
            qml.BitFlip(0.1, wires=0)
            qml.BitFlip(0.1, wires=1)
            qml.RX(0.4, wires=1)
            qml.DepolarizingChannel(0.05, wires=1)

        # default.mixed's readout_prob fails on expectations in PennyLane 0.45, so the
        # readout error is checked against its closed form (1 - 2p)^m on top.
        dev = qml.device("default.mixed", wires=2)

        @qml.qnode(dev)
        def run() -> object:
            ops()
            return [
                qml.expval(qml.PauliZ(0)),
                qml.expval(qml.PauliX(1)),
                qml.expval(qml.PauliZ(0) @ qml.PauliY(1)),
            ]

        z0, x1, zy = run()
        got = noisy_expval(c, ["Z0", "X1", "Z0 Y1"], noise_model=model)[0]
        f = 1 - 2 * 0.03
        np.testing.assert_allclose(got.numpy(), [z0 * f, x1 * f, zy * f**2], rtol=0, atol=1e-10)
        # Readout error on probabilities: each bit flips independently (closed form).
        clean = noisy_probs(c, noise_model=NoiseModel(model.gate_errors))[0].numpy()
        flip = np.array([[0.97, 0.03], [0.03, 0.97]])
        ref = np.kron(flip, flip) @ clean
        np.testing.assert_allclose(
            noisy_probs(c, noise_model=model)[0].numpy(), ref, rtol=0, atol=1e-12
        )

    def test_noiseless_equals_state_vector(self) -> None:
        c = Circuit(2).h(0).cnot(0, 1).ry(1, 0.3)
        psi = statevector(c)
        rho = density_matrix(c)[0]
        torch.testing.assert_close(rho, torch.outer(psi, psi.conj()))
