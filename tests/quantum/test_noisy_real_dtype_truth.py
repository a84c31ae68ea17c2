"""A noisy circuit in a real dtype (session 37): a circuit of real gates and channels
runs on real density matrices and trajectories, to the last bits of its precision; one
with a complex gate or channel is refused in one line naming them, before any work.

Before, ``noisy_density_matrix(nc, dtype=torch.float64)`` of a circuit with an ECR or a
Pauli channel with a Y term (depolarising noise) failed deep inside with ``TypeError:
must be real number, not complex``; ``rx`` and ``rz`` were cut to their real parts (a
wrong, non-unitary matrix, and a wrong answer); a float64 run read its angles in
float32; trajectories in float64 failed with ``expected m1 and m2 to have the same
dtype``; an amplitude embedding failed with "dtype must be torch.complex64 or
torch.complex128". Truth: PennyLane's matrices (which gates are real), Kraus sums and
the embedding written in numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pennylane as qml
import pytest
import torch

from quarch.quantum.circuit import Op, Param
from quarch.quantum.noise import NoiseError
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    Step,
    noisy_circuit_expval,
    noisy_density_matrix,
)
from quarch.quantum.trajectories import trajectory_expval

REAL = (torch.float64, torch.float32)
#: quarch's gate (name, wires, angles) and PennyLane's for the same matrix
_GATES: list[
    tuple[str, tuple[int, ...], tuple[float, ...], Callable[[], qml.operation.Operator]]
] = [
    ("x", (0,), (), lambda: qml.PauliX(0)),
    ("y", (0,), (), lambda: qml.PauliY(0)),
    ("z", (0,), (), lambda: qml.PauliZ(0)),
    ("h", (0,), (), lambda: qml.Hadamard(0)),
    ("s", (0,), (), lambda: qml.S(0)),
    ("t", (0,), (), lambda: qml.T(0)),
    ("sx", (0,), (), lambda: qml.SX(0)),
    ("rx", (0,), (0.7,), lambda: qml.RX(0.7, 0)),
    ("ry", (0,), (0.7,), lambda: qml.RY(0.7, 0)),
    ("rz", (0,), (0.7,), lambda: qml.RZ(0.7, 0)),
    ("phase", (0,), (0.7,), lambda: qml.PhaseShift(0.7, 0)),
    ("cnot", (0, 1), (), lambda: qml.CNOT([0, 1])),
    ("cx", (0, 1), (), lambda: qml.CNOT([0, 1])),
    ("cz", (0, 1), (), lambda: qml.CZ([0, 1])),
    ("swap", (0, 1), (), lambda: qml.SWAP([0, 1])),
    ("cry", (0, 1), (0.7,), lambda: qml.CRY(0.7, [0, 1])),
    ("crz", (0, 1), (0.7,), lambda: qml.CRZ(0.7, [0, 1])),
    ("ecr", (0, 1), (), lambda: qml.ECR([0, 1])),
]


def _refusal(dtype: torch.dtype, named: str) -> str:
    return (
        f"a real dtype ({dtype}) holds only real gates and channels; this circuit has "
        f"complex ones: {named}; use torch.complex64 or torch.complex128"
    )


def _engines(nc: NoisyCircuit, dtype: torch.dtype) -> list[Callable[[], object]]:
    return [
        lambda: noisy_density_matrix(nc, dtype=dtype),
        lambda: noisy_circuit_expval(nc, dtype=dtype),
        lambda: trajectory_expval(nc, dtype=dtype),
    ]


@pytest.mark.parametrize("dtype", REAL)
@pytest.mark.parametrize(("name", "wires", "angles", "pl"), _GATES, ids=[g[0] for g in _GATES])
def test_each_gate_runs_in_a_real_dtype_exactly_when_its_matrix_is_real(
    dtype: torch.dtype, name: str, wires: tuple[int, ...], angles: tuple[float, ...],
    pl: Callable[[], qml.operation.Operator],
) -> None:  # fmt: skip
    # H on both wires first, so that every gate acts on a state it changes
    nc = NoisyCircuit(2, (Op("h", (0,)), Op("h", (1,)), Op(name, wires, angles)))
    if np.any(np.imag(qml.matrix(pl()))):
        for run in _engines(nc, dtype):
            with pytest.raises(NoiseError) as e:
                run()
            assert str(e.value) == _refusal(dtype, f"gate {name!r}")
        return
    want = noisy_density_matrix(nc).numpy()  # complex128
    assert not np.any(want.imag)
    got = noisy_density_matrix(nc, dtype=dtype)
    assert got.dtype == dtype
    tol = 1e-15 if dtype == torch.float64 else 1e-6
    np.testing.assert_allclose(got.numpy(), want.real, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", REAL)
def test_complex_channels_are_named_and_real_ones_run(dtype: torch.dtype) -> None:
    """Relaxation and Pauli channels of I, X and Z (a Y of probability 0 included) are
    real; a Y of probability > 0 is not. Each complex part is named once, in order."""
    y_free: list[Step] = [Op("h", (0,)), PauliNoise((0,), (0.7, 0.1, 0.0, 0.2)),
                          Op("cnot", (0, 1)), Relaxation(1, 0.2, 0.7)]  # fmt: skip
    noisy_density_matrix(NoisyCircuit(2, tuple(y_free)), dtype=dtype)
    steps: list[Step] = [
        *y_free, PauliNoise.depolarizing((0, 1), 0.1), Op("rz", (1,), (0.3,)),
        PauliNoise((1,), (0.9, 0.0, 0.1, 0.0)), Op("rz", (0,), (0.5,)),
        PauliNoise.depolarizing((0, 1), 0.2),
    ]  # fmt: skip
    for run in _engines(NoisyCircuit(2, tuple(steps)), dtype):
        with pytest.raises(NoiseError) as e:
            run()
        assert str(e.value) == _refusal(
            dtype,
            "Pauli noise with a Y term on wires (0, 1), gate 'rz', Pauli noise with a Y term "
            "on wires (1,)",
        )


def _kraus_truth(w: float, x: float) -> np.ndarray:
    """|00> -> ry(x) on 0 -> bit flip 0.1 on 0 -> cnot -> ry(w) on 1 -> relaxation
    (0.2, 0.7) on 1 -> phase flip 0.15 on 0 -> ry(0.3) on 1 (a constant angle), in
    numpy."""

    def ry(a: float) -> np.ndarray:
        return np.array([[math.cos(a / 2), -math.sin(a / 2)], [math.sin(a / 2), math.cos(a / 2)]])

    eye, xm, zm = np.eye(2), np.array([[0.0, 1], [1, 0]]), np.diag([1.0, -1])
    cnot = np.array([[1.0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    psi = np.kron(ry(x), eye) @ np.array([1.0, 0, 0, 0])
    rho = np.outer(psi, psi)

    def channel(rho: np.ndarray, ks: list[np.ndarray]) -> np.ndarray:
        return sum(k @ rho @ k.T for k in ks)  # type: ignore[return-value]

    rho = channel(rho, [math.sqrt(0.9) * np.kron(eye, eye), math.sqrt(0.1) * np.kron(xm, eye)])
    rho = cnot @ rho @ cnot.T
    u = np.kron(eye, ry(w))
    rho = u @ rho @ u.T
    g, c = 0.2, 0.7
    relax = [np.array([[1, 0], [0, c]]), np.array([[0, 0], [0, math.sqrt(1 - g - c * c)]]),
             np.array([[0, math.sqrt(g)], [0, 0]])]  # fmt: skip
    rho = channel(rho, [np.kron(eye, k) for k in relax])
    rho = channel(rho, [math.sqrt(0.85) * np.eye(4), math.sqrt(0.15) * np.kron(zm, eye)])
    u = np.kron(eye, ry(0.3))
    return u @ rho @ u.T


def _real_circuit() -> NoisyCircuit:
    steps: list[Step] = [
        Op("ry", (0,), (Param("input", (0,)),)), PauliNoise((0,), (0.9, 0.1, 0.0, 0.0)),
        Op("cnot", (0, 1)), Op("ry", (1,), (Param("weight", (0,)),)), Relaxation(1, 0.2, 0.7),
        PauliNoise((0,), (0.85, 0.0, 0.0, 0.15)), Op("ry", (1,), (0.3,)),
    ]  # fmt: skip
    return NoisyCircuit(2, tuple(steps), n_weights=1, n_inputs=1)


def test_a_real_circuit_in_float64_is_exact_to_double_precision() -> None:
    """The angles of a float64 run, inputs, weights and constants, are float64 (read in
    float32, cos(0.1) moved by about 1e-9): the density matrices agree with numpy's to
    1e-15."""
    nc, x = _real_circuit(), [[0.1], [1.3]]
    got = noisy_density_matrix(nc, inputs=x, weights=[0.2], dtype=torch.float64)  # type: ignore[arg-type]
    assert got.dtype == torch.float64
    for row, (feat,) in enumerate(x):
        np.testing.assert_allclose(got[row].numpy(), _kraus_truth(0.2, feat), rtol=0, atol=1e-15)


@pytest.mark.parametrize("dtype", REAL)
def test_trajectories_of_a_real_circuit_in_a_real_dtype(dtype: torch.dtype) -> None:
    """Unbiased: within 5 standard errors of the exact expectations (numpy's), on real
    states of the dtype asked for."""
    nc, x = _real_circuit(), torch.tensor([[0.1], [1.3]], dtype=torch.float64)
    res = trajectory_expval(nc, ["Z0", "Z1", "Z0 Z1"], inputs=x, weights=[0.2], dtype=dtype,
                            target_se=0.01, seed=4)  # fmt: skip
    assert res.mean.dtype == dtype and res.trajectories > 0
    z = np.diag([1.0, -1])
    words = [np.kron(z, np.eye(2)), np.kron(np.eye(2), z), np.kron(z, z)]
    for row in range(2):
        rho = _kraus_truth(0.2, float(x[row, 0]))
        exact = np.array([np.trace(rho @ o) for o in words])
        err = np.abs(res.mean[row].double().numpy() - exact)
        assert np.all(err <= 5 * res.stderr[row].double().numpy() + 1e-6), (err, res.stderr)


@pytest.mark.parametrize("dtype", REAL)
def test_an_amplitude_embedding_is_a_real_initial_state(dtype: torch.dtype) -> None:
    """Real features, normalised and padded: the state numpy writes down, then H and
    relaxation, as the complex run gives them."""
    from quarch.quantum.circuit import Circuit

    c = Circuit(2).amplitude_embedding(3, normalize=True).h(0)
    nc = NoisyCircuit(2, (*c.ops, Relaxation(0, 0.3, 0.6)), n_inputs=3)
    x = [[0.1, 0.2, 0.3]]
    got = noisy_density_matrix(nc, inputs=x, dtype=dtype)  # type: ignore[arg-type]
    amp = np.array([0.1, 0.2, 0.3, 0.0]) / math.sqrt(0.14)
    h = np.array([[1.0, 1], [1, -1]]) / math.sqrt(2)
    psi = np.kron(h, np.eye(2)) @ amp
    rho = np.outer(psi, psi)
    ks = [np.array([[1, 0], [0, 0.6]]), np.array([[0, 0], [0, math.sqrt(1 - 0.3 - 0.36)]]),
          np.array([[0, math.sqrt(0.3)], [0, 0]])]  # fmt: skip
    want = sum(np.kron(k, np.eye(2)) @ rho @ np.kron(k, np.eye(2)).T for k in ks)
    tol = 1e-15 if dtype == torch.float64 else 1e-6
    np.testing.assert_allclose(got[0].numpy(), want, rtol=0, atol=tol)
    res = trajectory_expval(nc, ["Z0"], inputs=x, dtype=dtype, target_se=0.01)  # type: ignore[arg-type]
    exact = np.trace(want @ np.kron(np.diag([1.0, -1]), np.eye(2)))
    assert abs(float(res.mean[0, 0]) - exact) <= 5 * float(res.stderr[0, 0]) + 1e-6


def test_the_refusal_comes_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """No unit is compiled and no matrix built: the line comes from the circuit's steps
    (both engines compile through ``noisy_circuit._program``, which calls ``_compile``)."""
    import quarch.quantum.noisy_circuit as noisy

    def boom(*_: object) -> None:
        raise AssertionError("work began")

    monkeypatch.setattr(noisy, "_compile", boom)
    nc = NoisyCircuit(1, (Op("y", (0,)), Op("t", (0,)), Op("y", (0,))))
    for run in _engines(nc, torch.float64):
        with pytest.raises(NoiseError) as e:
            run()
        assert str(e.value) == _refusal(torch.float64, "gate 'y', gate 't'")


def test_a_y_on_the_first_of_two_wires_is_found() -> None:
    """String 9 of two wires is Y on the first (most significant) and X on the second:
    its Y is read from the higher base-4 digit."""
    assert qml.pauli.pauli_word_to_string(qml.PauliY(0) @ qml.PauliX(1), {0: 0, 1: 1}) == "YX"
    probs = [0.0] * 16
    probs[0], probs[9] = 0.9, 0.1
    nc = NoisyCircuit(2, (Op("h", (0,)), Op("cnot", (0, 1)), PauliNoise((0, 1), tuple(probs))))
    with pytest.raises(NoiseError) as e:
        noisy_density_matrix(nc, dtype=torch.float64)
    assert str(e.value) == _refusal(torch.float64, "Pauli noise with a Y term on wires (0, 1)")
    # 7: X on the first wire, Z on the second; 13: Z, X
    probs[9], probs[7], probs[13] = 0.0, 0.05, 0.05
    nc = NoisyCircuit(2, (Op("h", (0,)), Op("cnot", (0, 1)), PauliNoise((0, 1), tuple(probs))))
    got = noisy_density_matrix(nc, dtype=torch.float64)
    np.testing.assert_allclose(got.numpy(), noisy_density_matrix(nc).real.numpy(), atol=1e-15)


def test_a_gate_named_by_its_alias_is_read_as_the_gate_it_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``cx`` is the table's ``cnot`` (real); an alias of a complex gate (a native set's
    ``p`` for ``phase``, added here) is refused as that gate is."""
    import quarch.quantum.noisy_circuit as noisy

    monkeypatch.setitem(noisy._ALIASES, "p", "phase")
    nc = NoisyCircuit(1, (Op("h", (0,)), Op("p", (0,), (0.7,))))
    assert not np.allclose(noisy_density_matrix(nc).imag.numpy(), 0)  # phase(0.7) after H
    with pytest.raises(NoiseError) as e:
        noisy_density_matrix(nc, dtype=torch.float64)
    assert str(e.value) == _refusal(torch.float64, "gate 'p'")


def test_a_gate_the_table_lacks_is_refused_as_in_a_complex_dtype() -> None:
    from quarch.quantum.circuit import CircuitError

    nc = NoisyCircuit(1, (Op("nosuch", (0,)),))
    lines = []
    for dtype in (torch.complex128, torch.float64):
        with pytest.raises(CircuitError) as e:
            noisy_density_matrix(nc, dtype=dtype)
        lines.append(str(e.value))
    assert lines[0] == lines[1] and lines[0].startswith("unknown gate 'nosuch'; choose from: ")
