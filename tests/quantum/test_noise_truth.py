"""Density matrices against Qiskit and closed forms, where ``test_noise.py`` leaves gaps
the mutation benchmark found: batches of inputs, amplitude embeddings followed by
gates and channels, and the memory guard at its boundary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, Input, to_qiskit
from quarch.quantum.noise import NoiseError, density_matrix

qiskit = pytest.importorskip("qiskit")


def _qiskit_rho(c: Circuit, x: np.ndarray) -> np.ndarray:
    """Qiskit's density matrix of ``c`` with inputs ``x`` bound, in quarch's order
    (Qiskit is little-endian: reverse the qubits)."""
    from qiskit.quantum_info import DensityMatrix

    qc = to_qiskit(c)
    qc = qc.assign_parameters({p: float(x[int(p.name[2:-1])]) for p in qc.parameters})
    return DensityMatrix(qc.reverse_bits()).data


def test_a_batch_is_each_sample_on_its_own() -> None:
    c = Circuit(3).ry(0, Input(0)).rx(1, Input(1)).cnot(0, 2).crz(2, 1, Input(2)).h(1)
    x = np.random.default_rng(0).uniform(-2, 2, (4, 3))
    rho = density_matrix(c, inputs=torch.tensor(x))
    assert rho.shape == (4, 8, 8)
    for b in range(4):
        assert np.allclose(rho[b].numpy(), _qiskit_rho(c, x[b]), atol=1e-10)


def test_amplitude_embedding_then_gates_and_channels() -> None:
    """``|x|x|/|x|^2`` padded with zeros, then a gate and a bit flip of probability p:
    ``(1-p) X rho X + p rho`` on that wire, by hand."""
    x = np.array([[0.3, -1.0, 0.5], [2.0, 0.1, -0.7]])
    c = Circuit(2).amplitude_embedding(3).x(0).bit_flip(1, 0.25)
    rho = density_matrix(c, inputs=torch.tensor(x)).numpy()
    X = np.array([[0, 1], [1, 0]])
    X0, X1 = np.kron(X, np.eye(2)), np.kron(np.eye(2), X)
    for b in range(2):
        v = np.append(x[b], 0.0)
        v /= np.linalg.norm(v)
        r = X0 @ np.outer(v, v) @ X0
        want = 0.75 * r + 0.25 * X1 @ r @ X1
        assert np.allclose(rho[b], want, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.complex128, torch.complex64])
def test_memory_guard_at_its_boundary(dtype: torch.dtype) -> None:
    """``3 * batch * 4**n * itemsize`` bytes (16 for complex128, 8 for complex64): exactly
    that limit runs, a hair less is refused before any work."""
    n, batch = 3, 5
    need = 3 * batch * 4**n * (16 if dtype == torch.complex128 else 8) / 2**30
    c = Circuit(n).ry(0, Input(0)).cnot(0, 1).depolarizing(2, 0.1)
    x = torch.zeros(batch, 1)
    assert density_matrix(c, inputs=x, dtype=dtype, max_memory_gb=need).shape == (batch, 8, 8)
    with pytest.raises(NoiseError, match=f"a density matrix of 3 qubits for a batch of {batch}"):
        density_matrix(c, inputs=x, dtype=dtype, max_memory_gb=need * (1 - 1e-9))
