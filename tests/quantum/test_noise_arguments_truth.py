"""The noisy simulators given arguments of the wrong kind: one quarch error line naming
the argument, what was given and what is allowed, raised at the entry (they failed with
an ``AttributeError``, a ``TypeError`` from a comparison or from numpy's seeding, a
``math domain error``; a NaN probability, an unknown gate name in a ``NoiseModel``, a
negative or NaN ``target_se`` were taken and computed nonsense: no noise, NaN, a run of
``max_trajectories``). The forms that were taken, numpy numbers included, give the
probabilities worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from quarch.quantum import (
    Circuit,
    CircuitError,
    Input,
    NoiseModel,
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    Weight,
    density_matrix,
    noisy_circuit_expval,
    noisy_expval,
    noisy_probs,
    trajectory_expval,
)
from quarch.quantum.circuit import Op
from quarch.quantum.noise import NoiseError, kraus
from quarch.quantum.noisy_circuit import _prepare, noisy_density_matrix

_C = Circuit(2).h(0).cnot(0, 1)
#: |1>, then a bit flip with probability 0.2: <Z> = -(1 - 2 * 0.2)
_FLIP = NoisyCircuit(1, (Op("x", (0,)), PauliNoise((0,), (0.8, 0.2, 0.0, 0.0))))
#: one input feature and one weight: ry(x) then rx(w), then relaxation
_WEIGHTED = NoisyCircuit.from_circuit(
    Circuit(1).ry(0, Input(0)).rx(0, Weight(0)).amplitude_damping(0, 0.1)
)
_GATES = (
    "h, x, y, z, s, sdg, t, tdg, sx, sxdg, rx, ry, rz, phase, rot, u3, cnot, cz, cy, ch, "
    "swap, crx, cry, crz, cphase, rxx, ryy, rzz, ccx, cswap"
)
_MADE = " (NoisyCircuit.from_circuit(circuit, noise_model) makes one)"


@pytest.mark.parametrize(
    ("call", "line"),
    [
        (
            lambda: NoiseModel("x"),  # type: ignore[arg-type]
            "NoiseModel: gate_errors must be a dict {gate, '1q' or '2q': (channel, p)}; "
            "got str 'x'",
        ),
        (
            lambda: NoiseModel(readout_error="0.1"),  # type: ignore[arg-type]
            "readout_error must be a number in [0, 0.5]; got str '0.1'",
        ),
        (
            lambda: NoiseModel(readout_error=math.nan),
            "readout_error must be in [0, 0.5]; got nan",
        ),
        (
            lambda: NoiseModel({"1q": ("depolarizing", "0.1")}),  # type: ignore[dict-item]
            "gate_errors['1q']: p must be a number in [0, 1]; got str '0.1'",
        ),
        (
            lambda: NoiseModel({"1q": ("depolarizing", math.nan)}),
            "gate_errors['1q']: p must be in [0, 1]; got nan",
        ),
        (
            lambda: NoiseModel({"CNOT": ("bit_flip", 0.1)}),
            f"gate_errors: unknown gate 'CNOT'; use '1q', '2q' or a gate name ({_GATES}) "
            "('CNOT': did you mean 'cnot'?)",
        ),
        (
            lambda: NoiseModel({"cx": ("bit_flip", 0.1)}),
            f"gate_errors: unknown gate 'cx'; use '1q', '2q' or a gate name ({_GATES}) "
            "('cx': quarch calls it 'cnot')",
        ),
        (
            lambda: NoiseModel({1: ("bit_flip", 0.1)}),  # type: ignore[dict-item]
            f"gate_errors: unknown gate 1; use '1q', '2q' or a gate name ({_GATES})",
        ),
        (
            lambda: NoiseModel({"1Q": ("bit_flip", 0.1)}),
            f"gate_errors: unknown gate '1Q'; use '1q', '2q' or a gate name ({_GATES}) "
            "('1Q': did you mean '1q'?)",
        ),
        (
            lambda: NoiseModel({"2Q": ("bit_flip", 0.1)}),
            f"gate_errors: unknown gate '2Q'; use '1q', '2q' or a gate name ({_GATES}) "
            "('2Q': did you mean '2q'?)",
        ),
        (
            lambda: noisy_expval(_C, noise_model="x"),  # type: ignore[arg-type]
            "noisy_expval: noise_model must be a NoiseModel or None; got str 'x'",
        ),
        (
            lambda: noisy_probs(_C, noise_model=0.1),  # type: ignore[arg-type]
            "noisy_probs: noise_model must be a NoiseModel or None; got 0.1",
        ),
        (
            lambda: density_matrix(_C, max_memory_gb=True),
            "max_memory_gb must be a number > 0 (GiB); got True",
        ),
        (
            lambda: density_matrix(_C, noise_model="x"),  # type: ignore[arg-type]
            "density_matrix: noise_model must be a NoiseModel or None; got str 'x'",
        ),
        (
            lambda: density_matrix(_C, max_memory_gb="4"),  # type: ignore[arg-type]
            "max_memory_gb must be a number > 0 (GiB); got str '4'",
        ),
        (
            lambda: noisy_probs(_C, max_memory_gb=math.nan),
            "max_memory_gb must be a number > 0 (GiB); got nan",
        ),
        (lambda: kraus("depolarizing", 2.0), "depolarizing probability must be in [0, 1]; got 2.0"),
        (
            lambda: kraus("bit_flip", math.nan),
            "bit_flip probability must be in [0, 1]; got nan",
        ),
        (
            lambda: NoisyCircuit.from_circuit(_C, "x"),  # type: ignore[arg-type]
            "NoisyCircuit.from_circuit: noise_model must be a NoiseModel or None; got str 'x'",
        ),
        (lambda: noisy_circuit_expval("c"), "noisy_circuit_expval takes a NoisyCircuit; got str"),  # type: ignore[arg-type]
        (
            lambda: noisy_circuit_expval(_C),  # type: ignore[arg-type]
            "noisy_circuit_expval takes a NoisyCircuit; got Circuit" + _MADE,
        ),
        (
            lambda: noisy_density_matrix(_C),  # type: ignore[arg-type]
            "noisy_density_matrix takes a NoisyCircuit; got Circuit" + _MADE,
        ),
        (
            lambda: noisy_density_matrix(_FLIP, max_memory_gb=0),
            "max_memory_gb must be a number > 0 (GiB); got 0",
        ),
        (
            lambda: noisy_density_matrix(_WEIGHTED, weights="x"),  # type: ignore[arg-type]
            "weights must be numbers (a tensor, an array or a list); got str 'x'",
        ),
        (
            lambda: noisy_density_matrix(_FLIP, inputs="x"),  # type: ignore[arg-type]
            "inputs must be numbers (a tensor, an array or a list); got str 'x'",
        ),
        (
            lambda: noisy_density_matrix(_FLIP, dtype="complex64"),  # type: ignore[arg-type]
            "dtype must be torch.complex64 or torch.complex128 (or a real dtype for a circuit "
            "of real gates and channels); got str 'complex64'",
        ),
        (
            lambda: PauliNoise((0,), (math.nan, 0.0, 0.0, 0.0)),
            "Pauli probabilities must be >= 0 and sum to 1; got (nan, 0.0, 0.0, 0.0)",
        ),
        (
            lambda: PauliNoise.depolarizing([0], math.nan),
            "Pauli probabilities must be >= 0 and sum to 1; got (nan, nan, nan, nan)",
        ),
        (
            lambda: PauliNoise((0,), "abcd"),  # type: ignore[arg-type]
            "Pauli probabilities must be numbers; got str 'abcd'",
        ),
        (
            lambda: Relaxation(0, "0.1", 1.0),  # type: ignore[arg-type]
            "relaxation needs gamma and coherence as numbers; got '0.1', 1.0",
        ),
        (
            lambda: trajectory_expval(_C),  # type: ignore[arg-type]
            "trajectory_expval takes a NoisyCircuit; got Circuit" + _MADE,
        ),
        (
            lambda: trajectory_expval(_FLIP, trajectories=2.5),  # type: ignore[arg-type]
            "trajectory_expval: trajectories must be an integer >= 0; got 2.5",
        ),
        (
            lambda: trajectory_expval(_FLIP, trajectories="8"),  # type: ignore[arg-type]
            "trajectory_expval: trajectories must be an integer >= 0; got str '8'",
        ),
        (
            lambda: trajectory_expval(_FLIP, trajectories=-4),
            "trajectory_expval: trajectories must be an integer >= 0; got -4",
        ),
        (
            lambda: trajectory_expval(_FLIP, max_trajectories=0),
            "trajectory_expval: max_trajectories must be an integer >= 1; got 0",
        ),
        (
            lambda: trajectory_expval(_FLIP, seed="1"),  # type: ignore[arg-type]
            "trajectory_expval: seed must be an integer >= 0; got str '1'",
        ),
        (
            lambda: trajectory_expval(_FLIP, seed=-1),
            "trajectory_expval: seed must be an integer >= 0; got -1",
        ),
        (
            lambda: trajectory_expval(_FLIP, target_se=-1.0),
            "trajectory_expval: target_se must be a number >= 0; got -1.0",
        ),
        (
            lambda: trajectory_expval(_FLIP, target_se="0.1"),  # type: ignore[arg-type]
            "trajectory_expval: target_se must be a number >= 0; got str '0.1'",
        ),
        (
            lambda: trajectory_expval(_FLIP, target_se="x"),  # type: ignore[arg-type]
            "trajectory_expval: target_se must be a number >= 0; got str 'x'",
        ),
        (
            lambda: trajectory_expval(_FLIP, target_se=math.nan),
            "trajectory_expval: target_se must be a number >= 0; got nan",
        ),
        (
            lambda: trajectory_expval(_FLIP, max_memory_gb="2"),  # type: ignore[arg-type]
            "max_memory_gb must be a number > 0 (GiB); got str '2'",
        ),
    ],
)
def test_a_wrong_argument_is_one_line(call: object, line: str) -> None:
    with pytest.raises(NoiseError) as e:
        call()  # type: ignore[operator]
    assert str(e.value) == line
    assert e.value.__cause__ is None


@pytest.mark.parametrize(
    ("call", "line"),
    [
        (lambda: density_matrix("c"), "density_matrix takes a quarch Circuit; got str"),  # type: ignore[arg-type]
        (lambda: noisy_probs("c"), "noisy_probs takes a quarch Circuit; got str"),  # type: ignore[arg-type]
        (lambda: noisy_expval(3), "noisy_expval takes a quarch Circuit; got int"),  # type: ignore[arg-type]
        (
            lambda: NoisyCircuit.from_circuit("c"),  # type: ignore[arg-type]
            "NoisyCircuit.from_circuit takes a quarch Circuit; got str",
        ),
    ],
)
def test_a_circuit_that_is_none_is_one_line(call: object, line: str) -> None:
    with pytest.raises(CircuitError) as e:
        call()  # type: ignore[operator]
    assert str(e.value) == line


def test_a_gate_named_in_the_model_gets_its_noise() -> None:
    # |11> after x, cnot; a bit flip of 0.2 on each wire of the cnot, a readout error
    # of 0.05 on each bit: per wire P(1) = 0.8 * 0.95 + 0.2 * 0.05 = 0.77
    one = 0.8 * 0.95 + 0.2 * 0.05
    want = np.array([(1 - one) ** 2, (1 - one) * one, one * (1 - one), one**2])
    c = Circuit(2).x(0).cnot(0, 1)
    for p, ro in ((0.2, 0.05), (np.float64(0.2), np.float32(0.05))):
        model = NoiseModel({"cnot": ("bit_flip", p)}, readout_error=ro)  # type: ignore[arg-type,dict-item]
        got = noisy_probs(c, noise_model=model)[0].numpy()
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)
    z = noisy_expval(c, ["Z0"], noise_model=NoiseModel({"cnot": ("bit_flip", 0.2)}))
    np.testing.assert_allclose(z.numpy(), [[-(1 - 2 * 0.2)]], rtol=0, atol=1e-12)


def test_trajectories_take_numpy_integers() -> None:
    exact = noisy_circuit_expval(_FLIP, ["Z0"]).item()
    assert exact == pytest.approx(-0.6, abs=1e-12)
    for kw in (
        {"trajectories": 16, "seed": 3},
        {"trajectories": np.int64(16), "seed": np.int64(3), "max_trajectories": np.int32(999)},
    ):
        res = trajectory_expval(_FLIP, ["Z0"], target_se=np.float64(0.02), **kw)  # type: ignore[arg-type]
        assert abs(res.mean.item() - exact) <= 5 * res.stderr.item() + 1e-6
        assert res.stderr.item() <= 0.02
    a = trajectory_expval(_FLIP, ["Z0"], trajectories=np.int64(8), seed=np.int64(5), grad=True)  # type: ignore[arg-type]
    b = trajectory_expval(_FLIP, ["Z0"], trajectories=8, seed=5, grad=True)
    assert torch.equal(a.mean, b.mean) and a.trajectories == 8


def test_a_real_dtype_still_runs_a_real_circuit() -> None:
    rho = noisy_density_matrix(_FLIP, dtype=torch.float64)
    np.testing.assert_allclose(rho[0].numpy(), np.diag([0.2, 0.8]), rtol=0, atol=1e-12)


def test_a_memory_limit_of_any_kind_of_number() -> None:
    want = noisy_probs(_C)[0].numpy()  # [1/2, 0, 0, 1/2]: a Bell state
    np.testing.assert_allclose(want, [0.5, 0.0, 0.0, 0.5], rtol=0, atol=1e-12)
    for limit in (4, np.int64(4), np.float32(0.5), 0.5):
        got = noisy_probs(_C, max_memory_gb=limit)[0].numpy()  # type: ignore[arg-type]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    rho = noisy_density_matrix(_FLIP, max_memory_gb=1)
    np.testing.assert_allclose(rho[0].numpy(), np.diag([0.2, 0.8]), rtol=0, atol=1e-12)


def test_inputs_in_a_list_are_read_in_double_precision() -> None:
    # features 0.1 and 0.7 as Python floats, as a float64 tensor: the same matrices to the
    # last bits (read as float32 first, 0.1 would move by about 1.5e-9)
    x = [[0.1], [0.7]]
    a = noisy_density_matrix(_WEIGHTED, inputs=x, weights=[0.3])  # type: ignore[arg-type]
    b = noisy_density_matrix(_WEIGHTED, inputs=torch.tensor(x, dtype=torch.float64), weights=[0.3])
    assert torch.equal(a, b)
    # against the matrices by hand: |0> -> ry(x) -> rx(0.3) -> amplitude damping 0.1
    for row, (feat,) in enumerate(x):
        ry = np.array([[np.cos(feat / 2), -np.sin(feat / 2)], [np.sin(feat / 2), np.cos(feat / 2)]])
        c, s = np.cos(0.15), np.sin(0.15)
        rx = np.array([[c, -1j * s], [-1j * s, c]])
        psi = rx @ ry @ np.array([1.0, 0.0])
        rho = np.outer(psi, psi.conj())
        k0 = np.array([[1, 0], [0, np.sqrt(0.9)]])
        k1 = np.array([[0, np.sqrt(0.1)], [0, 0]])
        want = k0 @ rho @ k0.T + k1 @ rho @ k1.T
        np.testing.assert_allclose(a[row].numpy(), want, rtol=0, atol=1e-13)


def test_a_list_follows_the_device_of_the_tensor_beside_it() -> None:
    # the meta device plays a GPU: weights given as a list go where the inputs are, and
    # inputs given as a list where the weights are
    meta = torch.device("meta")
    x, w, batch, device = _prepare(
        _WEIGHTED, torch.zeros(3, 1, device=meta), [0.3], torch.complex128
    )
    assert device == meta and w is not None and w.device == meta and batch == (3,)
    x, w, batch, device = _prepare(
        _WEIGHTED,
        [[0.1], [0.2]],  # type: ignore[arg-type]
        torch.zeros(1, device=meta),
        torch.complex128,
    )
    assert x is not None and x.device == meta and x.dtype == torch.float64 and batch == (2,)
