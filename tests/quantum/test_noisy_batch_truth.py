"""The gates that read angles built for all units at once (``quantum/_noisy_batch.py``).

Noise-aware training runs every step through the noisy simulation of a routed circuit:
device gates (``rz``, ``sx``, ``x``, ``cz``, ``ecr``) and the embeddings' ``rx``/``ry``,
each with its channels. The density-matrix engine builds the gates that read an input
or a weight per gate name in one call, multiplies each unit's gates as a tree of
batched products over an index table, and absorbs the single-wire units waiting on a
wire into the next multi-wire unit by one contraction per wire position, keeping what
reads no input (one matrix for the batch) apart from what does. A wrong index, a
product in the wrong order, an absorption on the wrong wire or a narrow superoperator
taken for a wide one changes the values or the gradients checked here against Qiskit's
density matrices (and central differences of them) on random circuits of 1-5 qubits.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

import quarch.quantum.noisy_circuit as noisy
from quarch.quantum.circuit import Input, Op, Weight
from quarch.quantum.noisy_circuit import NoisyCircuit, PauliNoise, Relaxation, noisy_density_matrix

from .test_noise_compile_truth import _angle as _angle_value
from .test_noise_compile_truth import _qiskit_gate, _quarch_steps, _relaxation_times, _truth

pytest.importorskip("qiskit")
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator

N_INPUTS = 3


def _angle(rng: np.random.Generator, n_weights: int) -> tuple[Any, int]:
    """A constant, a scaled weight, a scaled input or a product of two inputs."""
    r = rng.random()
    if r < 0.2:
        return float(rng.uniform(-3, 3)), n_weights
    if r < 0.6:
        return Weight(n_weights, scale=float(rng.uniform(0.5, 2))), n_weights + 1
    if r < 0.85:
        return Input(int(rng.integers(N_INPUTS)), scale=-0.7), n_weights
    return Input(0, int(rng.integers(1, N_INPUTS))), n_weights


def _routed(n: int, seed: int, length: int = 40) -> tuple[list[Any], int]:
    """Random steps of the kinds a routed circuit has: ``rz`` runs (diagonal, waiting on
    their wire), ``sx``, ``x``, ``cz``/``ecr`` on wire pairs in either order, ``rx``/``ry``
    of inputs and weights, each gate followed by channels most of the time."""
    rng = np.random.default_rng(seed)
    steps: list[Any] = []
    n_weights = 0
    for _ in range(length):
        r = rng.random()
        if n > 1 and r < 0.25:
            a, b = (int(q) for q in rng.choice(n, 2, replace=False))
            wires: tuple[int, ...] = (a, b)
            steps.append(Op(str(rng.choice(["cz", "ecr"])), wires))
        else:
            wires = (int(rng.integers(n)),)
            name = str(rng.choice(["rz", "rz", "sx", "x", "rx", "ry"]))
            params: tuple[Any, ...] = ()
            if name in ("rz", "rx", "ry"):
                angle, n_weights = _angle(rng, n_weights)
                params = (angle,)
            steps.append(Op(name, wires, params))
            if name == "rz":  # virtual on a device: no channel after it
                continue
        if rng.random() < 0.8:
            probs = rng.dirichlet(np.ones(4 ** len(wires))) * 0.2
            probs[0] += 0.8
            steps.append(PauliNoise(wires, tuple(float(p) for p in probs)))
        if rng.random() < 0.6:
            t1, t2, t = _relaxation_times(rng)
            q = int(rng.choice(wires))
            steps.append((Relaxation.from_times(q, t, t1, t2), (t1, t2, t)))
    return steps, n_weights


def _circuit(n: int, seed: int) -> tuple[NoisyCircuit, list[Any], int]:
    steps, n_weights = _routed(n, seed)
    nc = NoisyCircuit(n, _quarch_steps(steps), n_weights=n_weights, n_inputs=N_INPUTS)
    return nc, steps, n_weights


def _signs(n: int) -> np.ndarray:
    """Weights of a sum of ``<Z_q>`` (``q + 1`` for wire ``q``) on the diagonal."""
    bits = (np.arange(2**n)[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1
    return ((1 - 2 * bits) * (1 + np.arange(n))[None, :]).sum(1).astype(float)


def _loss_truth(n: int, steps: list[Any], x: np.ndarray, w: np.ndarray) -> float:
    return float(np.real(np.diag(_truth(n, steps, x, w))) @ _signs(n))


@pytest.mark.parametrize(("n", "seed"), [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4), (4, 5)])
def test_values_and_gradients_equal_qiskit(n: int, seed: int) -> None:
    """Each row of a batch of inputs with shared weights, in complex128 and complex64,
    and the gradients of a weighted sum of ``<Z_q>`` with respect to weights and inputs
    against central differences of Qiskit's values along random directions."""
    nc, steps, n_w = _circuit(n, seed)
    rng = np.random.default_rng(100 + seed)
    x, w = rng.uniform(-2, 2, (2, N_INPUTS)), rng.uniform(-2, 2, n_w)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    rho = noisy_density_matrix(nc, inputs=xt, weights=wt)
    for b in range(2):
        np.testing.assert_allclose(
            rho[b].detach().numpy(), _truth(n, steps, x[b], w), atol=1e-10, rtol=0
        )
    low = noisy_density_matrix(
        nc, inputs=torch.tensor(x), weights=w.tolist(), dtype=torch.complex64
    )
    np.testing.assert_allclose(low.numpy(), rho.detach().numpy(), atol=1e-5, rtol=0)
    signs = torch.tensor(_signs(n))
    (torch.diagonal(rho, dim1=-2, dim2=-1).real @ signs).sum().backward()
    assert wt.grad is not None and xt.grad is not None
    # directional derivatives along random directions (one Qiskit pair each, where a
    # derivative per entry took minutes): a wrong entry moves them almost surely
    h, dw, dx = 1e-6, rng.normal(size=n_w), rng.normal(size=x.shape)
    total = lambda xs, ws: sum(_loss_truth(n, steps, xs[b], ws) for b in range(2))  # noqa: E731
    want_w = (total(x, w + h * dw) - total(x, w - h * dw)) / (2 * h)
    assert float(wt.grad.numpy() @ dw) == pytest.approx(want_w, abs=1e-6)
    want_x = (total(x + h * dx, w) - total(x - h * dx, w)) / (2 * h)
    assert float((xt.grad.numpy() * dx).sum()) == pytest.approx(want_x, abs=1e-6)


@pytest.mark.parametrize(("n", "seed"), [(3, 6), (4, 7)])
def test_per_sample_weights_equal_qiskit(n: int, seed: int) -> None:
    """Weights ``[batch, n_weights]``: every gate then differs per sample, those that read
    no input included."""
    nc, steps, n_w = _circuit(n, seed)
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-2, 2, (2, N_INPUTS)), rng.uniform(-2, 2, (2, n_w))
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    for b in range(2):
        np.testing.assert_allclose(got[b], _truth(n, steps, x[b], w[b]), atol=1e-10, rtol=0)


def _operator(n: int, gates: list[Op], x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Qiskit's matrix of ``gates`` on all ``n`` wires, in quarch's order."""
    qc = QuantumCircuit(n)
    for g in gates:
        _qiskit_gate(qc, g, [n - 1 - q for q in g.wires], [_angle_value(p, x, w) for p in g.params])
    return Operator(qc).data


@pytest.mark.parametrize(("n", "seed"), [(2, 8), (3, 9), (5, 10)])
def test_each_units_matrix_is_its_gates_product(n: int, seed: int) -> None:
    """The per-unit matrices the trajectories multiply by (``UnitBatch.matrices``): each
    unit's gates, made out by Qiskit on the unit's wires (identity elsewhere), per row."""
    nc, _, n_w = _circuit(n, seed)
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-2, 2, (2, N_INPUTS)), rng.uniform(-2, 2, n_w)
    prog = noisy._program(nc, torch.complex128, torch.device("cpu"))
    mats = prog.batch.matrices(torch.tensor(x), torch.tensor(w))
    assert len(mats) == len(prog.units)
    for u, m in zip(prog.units, mats, strict=True):
        local = [Op(g.name, tuple(u.wires.index(q) for q in g.wires), g.params) for g in u.gates]
        for b in range(2):
            want = _operator(len(u.wires), local, x[b], w) if local else np.eye(2 ** len(u.wires))
            np.testing.assert_allclose(m[min(b, m.shape[0] - 1)].numpy(), want, atol=1e-12, rtol=0)


def _reads_input(op: Op) -> bool:
    return any(getattr(p, "kind", None) == "input" for p in op.params)


@pytest.mark.parametrize(("n", "seed"), [(3, 11), (4, 12)])
def test_only_what_reads_inputs_is_made_per_sample(n: int, seed: int) -> None:
    """With shared weights, a unit whose gates read no input has one matrix for the whole
    batch, one that reads an input one per sample; and the single-wire units that read
    one each join one pass over the density matrix, so at most that many passes carry a
    superoperator per sample (the others one for the batch). Values are right either
    way (the tests above); this is the work a batch of 32 saves."""
    nc, _, n_w = _circuit(n, seed)
    rng = np.random.default_rng(seed)
    x, w = torch.tensor(rng.uniform(-2, 2, (3, N_INPUTS))), torch.tensor(rng.uniform(-2, 2, n_w))
    prog = noisy._program(nc, torch.complex128, torch.device("cpu"))
    reading = [any(_reads_input(g) for g in u.gates) for u in prog.units]
    assert any(reading) and not all(reading), "a seed with units of both kinds"
    for r, m in zip(reading, prog.batch.matrices(x, w), strict=True):
        assert m.shape[0] == (3 if r else 1)
    passes = prog.passes(x, w)
    wide = sum(s.shape[0] == 3 for s, _ in passes)
    assert 1 <= wide <= sum(reading) < len(passes)


def _u3_as_rotations(steps: list[Any]) -> list[Any]:
    """Each ``u3(theta, phi, lam)`` as ``rz(lam)``, ``ry(theta)``, ``rz(phi)`` (equal up
    to a global phase, which a density matrix does not see): Qiskit's gates of the
    same angles, read one parameter each."""
    out: list[Any] = []
    for s in steps:
        if isinstance(s, Op) and s.name == "u3":
            theta, phi, lam = s.params
            out += [
                Op("rz", s.wires, (lam,)),
                Op("ry", s.wires, (theta,)),
                Op("rz", s.wires, (phi,)),
            ]
        else:
            out.append(s)
    return out


@pytest.mark.parametrize("seed", [13, 14])
def test_gates_of_several_angles_mixing_constants_weights_and_inputs(seed: int) -> None:
    """A ``u3`` whose angles are a constant, a weight and an input in any order: the
    angles are gathered by kind (weights, inputs, constants) and each must come back to
    its own gate and slot."""
    n = 3
    steps, n_w = _routed(n, seed, length=24)
    rng = np.random.default_rng(seed)
    for _ in range(4):
        kinds = [
            float(rng.uniform(-3, 3)),
            Weight(n_w, scale=1.3),
            Input(int(rng.integers(N_INPUTS))),
        ]
        n_w += 1
        order = rng.permutation(3)
        at = int(rng.integers(len(steps) + 1))
        steps.insert(at, Op("u3", (int(rng.integers(n)),), tuple(kinds[i] for i in order)))
    nc = NoisyCircuit(n, _quarch_steps(steps), n_weights=n_w, n_inputs=N_INPUTS)
    x, w = rng.uniform(-2, 2, (2, N_INPUTS)), rng.uniform(-2, 2, n_w)
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    for b in range(2):
        want = _truth(n, _u3_as_rotations(steps), x[b], w)
        np.testing.assert_allclose(got[b], want, atol=1e-10, rtol=0)
