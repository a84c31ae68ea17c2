"""Noisy circuits: the per-gate density-matrix engine against quarch's PennyLane-checked
density matrices, quantum trajectories against exact density matrices (within their
standard errors), gradients, folding and the memory limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, Input, NoiseModel, noisy_expval
from quarch.quantum.circuit import Op
from quarch.quantum.noise import NoiseError
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    noisy_circuit_expval,
    noisy_density_matrix,
)
from quarch.quantum.trajectories import trajectory_expval


def _legacy() -> Circuit:
    c = Circuit(3)
    c.ry(0, Input(0)).rx(1, c.new_weight()).h(2).cnot(0, 1).crz(1, 2, c.new_weight())
    c.depolarizing(0, 0.1).amplitude_damping(1, 0.2).phase_damping(2, 0.3).bit_flip(0, 0.05)
    c.rot(2, 0.1, 0.2, 0.3).cz(2, 0).rz(1, Input(0)).sx(2)
    return c


def _device_like(n: int = 4, depth: int = 6, seed: int = 0) -> NoisyCircuit:
    """A random circuit in a device's native gates with Aer-style noise on each gate."""
    rng = np.random.default_rng(seed)
    steps: list = []
    for layer in range(depth):
        for w in range(n):
            steps.append(Circuit(n).rz(w, Input(w)).ops[0] if layer == 0 else
                         Circuit(n).rz(w, float(rng.uniform(-3, 3))).ops[0])  # fmt: skip
            steps.append(Circuit(n).sx(w).ops[0])
            steps += [
                PauliNoise.depolarizing((w,), 0.004),
                Relaxation.from_times(w, 4e-8, 1e-4, 8e-5),
            ]
        for a in range(layer % 2, n - 1, 2):
            steps.append(Circuit(n).cz(a, a + 1).ops[0])
            steps += [
                PauliNoise.depolarizing((a, a + 1), 0.02),
                Relaxation.from_times(a, 7e-8, 1e-4, 8e-5),
                Relaxation.from_times(a + 1, 7e-8, 1.5e-4, 2.5e-4),
            ]
    readout = tuple((0.01 * (i + 1), 0.02) for i in range(n))
    return NoisyCircuit(n, tuple(steps), readout, 0, n)


class TestDensityEngine:
    def test_legacy_channels_equal_the_pennylane_checked_path(self) -> None:
        c = _legacy()
        nm = NoiseModel(
            {"1q": ("depolarizing", 0.01), "2q": ("bit_flip", 0.03)}, readout_error=0.02
        )
        x = torch.tensor([[0.3], [1.7]], dtype=torch.float64)
        w = torch.tensor([0.4, -1.1], dtype=torch.float64)
        obs = ["Z0", "Z1 Z2", "Z2"]
        want = noisy_expval(c, obs, inputs=x, weights=w, noise_model=nm)
        got = noisy_circuit_expval(NoisyCircuit.from_circuit(c, nm), obs, inputs=x, weights=w)
        assert torch.allclose(got, want, atol=1e-12)

    def test_amplitude_embedding_as_the_initial_state(self) -> None:
        c = Circuit(2).amplitude_embedding(4, normalize=True).ry(0, 0.3).cnot(0, 1)
        c.depolarizing(1, 0.2)
        x = torch.tensor([[0.1, 0.5, -0.2, 0.7]], dtype=torch.float64)
        want = noisy_expval(c, ["Z0", "Z1"], inputs=x)
        got = noisy_circuit_expval(NoisyCircuit.from_circuit(c), ["Z0", "Z1"], inputs=x)
        assert torch.allclose(got, want, atol=1e-12)

    def test_relaxation_closed_form(self) -> None:
        # |+> relaxed: populations (1 + g)/2, (1 - g)/2; coherence c/2
        r = Relaxation.from_times(0, 3e-6, 50e-6, 40e-6)
        nc = NoisyCircuit(1, (Circuit(1).h(0).ops[0], r))
        rho = noisy_density_matrix(nc)[0]
        g, c = 1 - math.exp(-3 / 50), math.exp(-3 / 40)
        assert rho[0, 0].real == pytest.approx((1 + g) / 2)
        assert rho[0, 1].real == pytest.approx(c / 2)

    @pytest.mark.parametrize(("t1", "t2", "t"), [(50e-6, 30e-6, 2e-6), (50e-6, 90e-6, 5e-6),
                                                   (40e-6, 200e-6, 3e-6)])  # fmt: skip
    def test_relaxation_equals_aers_thermal_relaxation(
        self, t1: float, t2: float, t: float
    ) -> None:
        aer = pytest.importorskip("qiskit_aer.noise")
        from qiskit.quantum_info import SuperOp

        ch = Relaxation.from_times(0, t, t1, t2)  # T2 above 2 T1 is capped, as Aer's model does
        want = SuperOp(aer.thermal_relaxation_error(t1, min(t2, 2 * t1), t)).data
        ks = [np.array(k) for k in ch.kraus()]
        got = sum(np.kron(k.conj(), k) for k in ks)  # Qiskit's column-stacking convention
        assert np.abs(got - want).max() < 1e-12

    def test_memory_limit(self) -> None:
        with pytest.raises(NoiseError, match=r"needs about .* GiB; the limit is 0.01 GiB"):
            noisy_density_matrix(NoisyCircuit(10, ()), max_memory_gb=0.01)


class TestTrajectories:
    @pytest.mark.parametrize("seed", [0, 1])
    def test_within_standard_errors_of_the_exact_values(self, seed: int) -> None:
        nc = _device_like(seed=seed)
        x = torch.tensor(np.random.default_rng(seed).uniform(-2, 2, (5, 4)))
        words = ["Z0", "Z1", "Z2 Z3", "Z0 Z3"]
        exact = noisy_circuit_expval(nc, words, inputs=x)
        res = trajectory_expval(nc, words, inputs=x, target_se=0.01, seed=seed)
        assert float(res.stderr.max()) <= 0.01
        z = ((res.mean.double() - exact) / res.stderr.double()).abs()
        assert float(z.max()) < 4.5
        assert float((z < 3).double().mean()) >= 0.9
        assert (exact - noisy_circuit_expval(
            NoisyCircuit(4, tuple(s for s in nc.steps if not isinstance(s, PauliNoise | Relaxation)),
                         (), 0, 4), words, inputs=x)).abs().max() > 0.05  # fmt: skip

    def test_strong_noise(self) -> None:
        # relaxation far from the identity: the no-jump operator K0 is not ~1, so the
        # jump corrections K_j K0^-1 matter; Pauli channels with large rates after it
        c = Circuit(2)
        steps: list[Op | PauliNoise | Relaxation] = [
                 c.h(0).ops[-1], Relaxation(0, 0.4, 0.5), PauliNoise.depolarizing((0,), 0.3),
                 c.cnot(0, 1).ops[-1], Relaxation(1, 0.3, 0.6), Relaxation(0, 0.2, 0.7),
                 PauliNoise((0, 1), (0.7,) + (0.02,) * 15), c.sx(1).ops[-1],
                 Relaxation(1, 0.5, 0.4)]  # fmt: skip
        nc = NoisyCircuit(2, tuple(steps), ((0.05, 0.1), (0.0, 0.2)))
        words = ["Z0", "Z1", "Z0 Z1"]
        exact = noisy_circuit_expval(nc, words)
        res = trajectory_expval(nc, words, target_se=0.01, seed=5)
        assert float(res.stderr.max()) <= 0.01
        assert float(((res.mean.double() - exact).abs() / res.stderr.double()).max()) < 4

    def test_no_jump_probability(self) -> None:
        steps: list[Op | PauliNoise | Relaxation] = [Circuit(2).h(0).ops[0],
                 PauliNoise.depolarizing((0,), 0.1),
                 Circuit(2).cnot(0, 1).ops[0], PauliNoise.depolarizing((0, 1), 0.2)]  # fmt: skip
        res = trajectory_expval(NoisyCircuit(2, tuple(steps)), ["Z0 Z1"], target_se=0.02)
        assert res.no_jump_probability == pytest.approx((1 - 0.075) * (1 - 0.2 * 15 / 16))
        exact = noisy_circuit_expval(NoisyCircuit(2, tuple(steps)), ["Z0 Z1"])
        assert abs(float(res.mean[0, 0]) - float(exact[0, 0])) < 4 * float(res.stderr[0, 0])

    def test_deterministic_by_seed(self) -> None:
        nc = _device_like()
        x = torch.zeros(2, 4, dtype=torch.float64)
        a = trajectory_expval(nc, ["Z0"], inputs=x, seed=3).mean
        b = trajectory_expval(nc, ["Z0"], inputs=x, seed=3).mean
        assert torch.equal(a, b)

    def test_gradient_is_unbiased(self) -> None:
        nc = _device_like(n=3, depth=3)
        x0 = torch.tensor([[0.3, -0.7, 1.1]], dtype=torch.float64)
        xe = x0.clone().requires_grad_(True)
        noisy_circuit_expval(nc, ["Z0 Z1"], inputs=xe).sum().backward()
        grads = []
        for seed in range(30):
            xt = x0.clone().requires_grad_(True)
            res = trajectory_expval(
                nc, ["Z0 Z1"], inputs=xt, grad=True, trajectories=16, seed=seed,
                dtype=torch.complex128,
            )  # fmt: skip
            res.mean.sum().backward()
            assert xt.grad is not None
            grads.append(xt.grad)
        g = torch.stack(grads)
        assert xe.grad is not None
        se = g.std(0) / math.sqrt(len(grads))
        assert bool(((g.mean(0) - xe.grad).abs() <= 4 * se + 1e-9).all())

    def test_memory_limit(self) -> None:
        with pytest.raises(NoiseError, match=r"per sample; the limit is 0.001 GiB"):
            trajectory_expval(_device_like(n=12, depth=1), inputs=torch.zeros(1, 12),
                              max_memory_gb=0.001)  # fmt: skip


def _flips() -> tuple[NoisyCircuit, NoisyCircuit]:
    """A noisy circuit whose ideal <Z0> is 1 (two X = SX SX flips), and its ideal twin."""
    c = Circuit(2)
    gates = [c.sx(0).ops[-1], c.sx(0).ops[-1], c.sx(1).ops[-1], c.cz(0, 1).ops[-1],
             c.rz(0, 0.3).ops[-1], c.sx(0).ops[-1], c.sx(0).ops[-1]]  # fmt: skip
    steps: list = []
    for g in gates:
        steps.append(g)
        if g.name != "rz":
            steps.append(PauliNoise.depolarizing(g.wires, 0.02))
            steps += [Relaxation.from_times(w, 6e-8, 1e-5, 8e-6) for w in g.wires]
    return NoisyCircuit(2, tuple(steps)), NoisyCircuit(2, tuple(gates))


class TestFolding:
    def test_fold_keeps_the_ideal_circuit_and_scales_the_noise(self) -> None:
        noisy, ideal = _flips()
        e = [float(noisy_circuit_expval(ideal.folded(k), ["Z0"])) for k in (1, 3, 5)]
        assert e == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
        v = [float(noisy_circuit_expval(noisy.folded(k), ["Z0"])) for k in (1, 3, 5)]
        assert 1 - v[2] > 1 - v[1] > 1 - v[0] > 0.01
        assert 2 < (1 - v[1]) / (1 - v[0]) <= 3  # about 3-fold (less: errors saturate)

    def test_zne_moves_towards_the_ideal_value(self) -> None:
        from quarch.spaces.hqnn.noise import richardson

        noisy, _ = _flips()
        vals = [float(noisy_circuit_expval(noisy.folded(k), ["Z0"])) for k in (1, 3, 5)]
        zne = sum(c * v for c, v in zip(richardson([1, 3, 5]), vals, strict=True))
        assert abs(zne - 1.0) < 0.1 * abs(vals[0] - 1.0)

    def test_bad_scale(self) -> None:
        with pytest.raises(NoiseError, match="odd integer"):
            _device_like().folded(2)
