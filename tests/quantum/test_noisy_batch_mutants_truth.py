"""Cases of the batched noisy step (``quantum/_noisy_batch.py``) that its random routed
circuits (``test_noisy_batch_truth.py``) never make, each against Qiskit's density
matrices with no relative slack (``rtol=0``; ``assert_allclose``'s default 1e-7 hides
an angle rounded to float32): units of three wires whose diagonal gates read angles,
a width whose every unit reads an input, weights all of one scale, every kind of angle
in float64, and the same on a fake device.

Each test was written for a mutant that survived the module's mutation run
(``benchmarks/mutation.py --module noise``); two of them found a bug (a width whose
every unit reads an input was refused with ``max() arg is an empty sequence``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum.circuit import Input, Op, Weight
from quarch.quantum.noisy_circuit import NoisyCircuit, PauliNoise, noisy_density_matrix

from .test_noise_compile_truth import _quarch_steps, _truth
from .test_noisy_batch_truth import _u3_as_rotations

pytest.importorskip("qiskit")


def _depolarizing(wires: tuple[int, ...], p: float) -> PauliNoise:
    """A Pauli channel on ``wires`` with probability ``p`` spread over the Pauli strings
    unevenly (so a string taken for another changes the state)."""
    k = 4 ** len(wires)
    rest = np.arange(1, k, dtype=float)
    probs = [1 - p, *(p * rest / rest.sum())]
    return PauliNoise(wires, tuple(float(q) for q in probs))


def _equals_qiskit(n: int, steps: list[Any], *, seed: int) -> None:
    """Two random inputs and one set of two weights: each density matrix against Qiskit's,
    ``rtol=0`` (float32 rounding would pass numpy's default ``rtol``)."""
    nc = NoisyCircuit(n, _quarch_steps(steps), n_weights=2, n_inputs=2)
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-2, 2, (2, 2)), rng.uniform(-2, 2, 2)
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    for b in range(2):
        np.testing.assert_allclose(got[b], _truth(n, steps, x[b], w), rtol=0, atol=1e-12)


@pytest.mark.parametrize("gate", ["ccx", "cswap"])
def test_a_three_wire_unit_whose_diagonal_gates_read_angles(gate: str) -> None:
    """Diagonal gates that read a weight or an input wait on their wires and join the
    next gate's unit: before a ``ccx``/``cswap`` that is a unit of three wires (8x8)
    whose gates read angles, built with the others of its width in one group. Its
    matrices are ``2**3`` wide, which ``2 * 3`` is not."""
    steps: list[Any] = [
        Op("h", (0,)),
        Op("ry", (1,), (Weight(0, scale=0.8),)),
        Op("rx", (2,), (Input(1, scale=1.1),)),
        Op("rz", (0,), (Weight(1, scale=1.5),)),
        Op("phase", (1,), (Input(0, scale=-0.6),)),
        Op("rz", (2,), (0.37,)),
        Op(gate, (0, 1, 2)),
        _depolarizing((0, 1), 0.06),
        Op("rz", (1,), (Input(0, 1),)),
        Op("h", (2,)),
        Op(gate, (2, 0, 1)),
        _depolarizing((2,), 0.04),
    ]
    _equals_qiskit(3, steps, seed=3)


@pytest.mark.parametrize("n", [2, 3])
def test_every_two_wire_unit_reads_an_input(n: int) -> None:
    """An input's ``rz`` before every two-qubit gate (a ZZ feature map's pattern): every
    unit of width two reads an input, so that width has no superoperator shared by the
    batch, only one per sample. (The batched step once refused such a circuit with
    ``max() arg is an empty sequence``.) On three wires a ``ccx`` that reads no angle
    follows: a wider width, made after that one, with a superoperator for the batch."""
    steps: list[Any] = [Op("h", (q,)) for q in range(n)]
    for q in range(n - 1):
        steps += [
            Op("rz", (q,), (Input(q, scale=0.9),)),
            Op("cnot", (q, q + 1)),
            _depolarizing((q, q + 1), 0.05),
            Op("ry", (q + 1,), (Weight(q),)),
        ]
    if n == 3:
        steps += [Op("ccx", (2, 0, 1)), _depolarizing((1,), 0.04)]
    nc = NoisyCircuit(n, _quarch_steps(steps), n_weights=n - 1, n_inputs=n)
    rng = np.random.default_rng(n)
    x, w = rng.uniform(-2, 2, (3, n)), rng.uniform(-2, 2, n - 1)
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    for b in range(3):
        np.testing.assert_allclose(got[b], _truth(n, steps, x[b], w), rtol=0, atol=1e-12)


def test_two_wire_units_reading_weights_or_inputs_and_none_fixed() -> None:
    """Every two-wire unit reads an angle, some only weights (their superoperators one
    for the batch), the others an input: with no fixed unit of that width, the wide
    units' entries follow the narrow ones' from 0."""
    steps: list[Any] = [Op("h", (0,)), Op("h", (1,)), Op("h", (2,))]
    steps += [Op("rz", (0,), (Weight(0, scale=1.4),)), Op("cnot", (0, 1))]
    steps += [_depolarizing((0, 1), 0.05), Op("rz", (2,), (Input(0),)), Op("cz", (2, 1))]
    steps += [Op("rz", (1,), (Weight(1),)), Op("cnot", (1, 0)), _depolarizing((1,), 0.03)]
    nc = NoisyCircuit(3, _quarch_steps(steps), n_weights=2, n_inputs=1)
    x, w = np.array([[0.4], [-1.3]]), np.array([0.7, -0.9])
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    for b in range(2):
        np.testing.assert_allclose(got[b], _truth(3, steps, x[b], w), rtol=0, atol=1e-12)


def test_wires_that_no_two_qubit_gate_touches() -> None:
    """Wires with single-qubit gates only, one reading a weight (its pass one
    superoperator for the batch), the others an input (one per sample), beside a pair
    of wires with a two-qubit gate: each wire's chain is its own pass, after the
    two-qubit gate's."""
    steps: list[Any] = [
        Op("rx", (0,), (Weight(0, scale=0.6),)),
        _depolarizing((0,), 0.05),
        Op("ry", (1,), (Input(0),)),
        Op("h", (2,)),
        Op("cz", (2, 3)),
        _depolarizing((2, 3), 0.04),
        Op("rx", (1,), (Weight(1),)),
        Op("ry", (4,), (Input(1, scale=1.2),)),
    ]
    _equals_qiskit(5, steps, seed=7)


def test_a_unit_of_channels_only() -> None:
    """A channel before any gate on its wire, and a two-wire channel over wires whose
    last gates are in different units, are units of channels only: their gate product
    (what the trajectories multiply by) is the identity, of the run's dtype and device,
    and the density matrix is Qiskit's. A channel over three wires makes one of width
    three (``2**3`` wide)."""
    import quarch.quantum.noisy_circuit as noisy

    steps: list[Any] = [
        _depolarizing((0,), 0.1),
        Op("ry", (0,), (Weight(0),)),
        Op("rx", (1,), (Input(0),)),
        _depolarizing((0, 1), 0.08),
        Op("cz", (0, 1)),
        Op("h", (2,)),
        _depolarizing((0, 1, 2), 0.05),
    ]
    nc = NoisyCircuit(3, _quarch_steps(steps), n_weights=1, n_inputs=1)
    x, w = np.array([[0.3], [-1.1]]), np.array([0.8])
    prog = noisy._program(nc, torch.complex128, torch.device("cpu"))
    mats = prog.batch.matrices(torch.tensor(x), torch.tensor(w))
    only = [i for i, u in enumerate(prog.units) if not u.gates]
    assert sorted(len(prog.units[i].wires) for i in only) == [1, 2, 3]
    for i in only:
        k = len(prog.units[i].wires)
        assert mats[i].dtype == torch.complex128
        np.testing.assert_array_equal(mats[i].numpy(), np.eye(2**k)[None])
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    for b in range(2):
        np.testing.assert_allclose(got[b], _truth(3, steps, x[b], w), rtol=0, atol=1e-12)
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True):
        dev = torch.device("meta")
        fake = noisy._program(nc, torch.complex64, dev).batch
        mats = fake.matrices(torch.zeros(2, 1, device=dev), torch.zeros(1, device=dev))
        assert {(mats[i].device.type, mats[i].dtype) for i in only} == {("meta", torch.complex64)}


@pytest.mark.parametrize("scale", [2.0, 1.0, -1.0])
def test_weights_all_of_one_scale(scale: float) -> None:
    """Every weight of a circuit read with one scale: the weights' scale is multiplied in
    unless every scale is 1 (where multiplying would change nothing), whatever the
    common scale is."""
    steps: list[Any] = [
        Op("rx", (0,), (Weight(0, scale=scale),)),
        Op("ry", (1,), (Weight(1, scale=scale),)),
        Op("cz", (0, 1)),
        _depolarizing((0, 1), 0.05),
        Op("rz", (0,), (Weight(2, scale=scale),)),
        Op("rx", (1,), (Weight(0, scale=scale),)),
        Op("cz", (1, 0)),
    ]
    nc = NoisyCircuit(2, _quarch_steps(steps), n_weights=3)
    w = np.array([0.9, -1.3, 0.4])
    got = noisy_density_matrix(nc, weights=torch.tensor(w)).numpy()
    np.testing.assert_allclose(got[0], _truth(2, steps, None, w), rtol=0, atol=1e-12)


def _every_kind() -> list[Any]:
    """Gates whose angles are scaled weights, scaled inputs, a product of inputs and
    constants, side by side in one gate; scales that float32 cannot hold exactly."""
    return [
        Op("u3", (0,), (0.4, Weight(0, scale=1.3), Input(1, scale=0.7))),
        Op("rz", (1,), (Input(0, 1),)),
        Op("u3", (1,), (Weight(1, scale=-0.5), 1.1, Weight(0))),
        Op("rx", (0,), (Input(0, scale=-0.3),)),
        _depolarizing((0,), 0.03),
        Op("cz", (0, 1)),
        _depolarizing((0, 1), 0.05),
        Op("rz", (0,), (Weight(1, scale=0.1),)),
        Op("ry", (1,), (Input(1, scale=0.7),)),
    ]


def test_every_angle_in_float64_to_rounding() -> None:
    """In complex128 each angle (a weight or an input times its scale, a constant) is
    taken in float64: the density matrices equal Qiskit's to 1e-13 with no relative
    slack, where a scale or a constant rounded to float32 on the way (1e-8 of an angle)
    would show."""
    steps = _every_kind()
    nc = NoisyCircuit(2, tuple(steps), n_weights=2, n_inputs=2)
    rng = np.random.default_rng(5)
    x, w = rng.uniform(-2, 2, (2, 2)), rng.uniform(-2, 2, 2)
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w)).numpy()
    for b in range(2):
        want = _truth(2, _u3_as_rotations(steps), x[b], w)
        np.testing.assert_allclose(got[b], want, rtol=0, atol=1e-13)


def test_angles_of_every_kind_stay_on_the_device() -> None:
    """Scaled weights, scaled inputs, products of inputs and constants side by side in
    one gate, forward and backward on a fake device (``meta`` under ``FakeTensorMode``,
    where a host tensor meeting a device tensor raises as it would on a GPU): each
    kind's scales and constants are made on the program's device."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    nc = NoisyCircuit(2, tuple(_every_kind()), n_weights=2, n_inputs=2)
    with FakeTensorMode(allow_non_fake_inputs=True):
        x = torch.zeros(3, 2, device="meta", requires_grad=True)
        w = torch.zeros(2, device="meta", requires_grad=True)
        rho = noisy_density_matrix(nc, inputs=x, weights=w, dtype=torch.complex64)
        assert rho.device.type == "meta"
        torch.diagonal(rho, dim1=-2, dim2=-1).real.sum().backward()
        assert w.grad is not None and w.grad.device.type == "meta"
        assert x.grad is not None and x.grad.device.type == "meta"


def test_gates_with_constant_angles_in_float64_to_rounding() -> None:
    """Gates whose angles are all numbers read no angle per call: the program builds
    each once (``_gate``), multiplied into its unit. In complex128 their angles are
    taken in float64 (these angles are not float32 numbers: rounded, 1e-8 of an angle
    would show); one such gate alone on its wire, one waiting before a two-qubit gate,
    one after it, beside gates that read a weight."""
    steps: list[Any] = [
        Op("h", (0,)),
        Op("rx", (0,), (0.123456789,)),
        Op("ry", (1,), (-1.2345678901,)),
        Op("rz", (1,), (Weight(0, scale=0.9),)),
        Op("crz", (0, 1), (2.718281828,)),
        _depolarizing((0, 1), 0.05),
        Op("phase", (0,), (0.3333333333,)),
        Op("cry", (1, 2), (-0.777777777,)),
        Op("rx", (2,), (1.0101010101,)),
        _depolarizing((2,), 0.03),
    ]
    nc = NoisyCircuit(3, tuple(steps), n_weights=1)
    w = np.array([0.61])
    got = noisy_density_matrix(nc, weights=torch.tensor(w)).numpy()
    np.testing.assert_allclose(got[0], _truth(3, steps, None, w), rtol=0, atol=1e-13)
