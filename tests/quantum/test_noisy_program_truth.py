"""A noisy circuit's program (``noisy_circuit._program``) kept between calls.

What depends on the circuit alone (its units, its channels' superoperators, its gates
that read no angle, whole units of such gates) is made once per circuit, dtype and
device and reused. A reused constant that a call changed in place, or one made for
another dtype, or under inference mode, would show here: every call on one circuit,
with other inputs, weights, batch shapes and dtypes, and after a run of trajectories on
it, is checked against Qiskit's density matrices, and gradients against central
differences of Qiskit's values.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest
import torch

import quarch.quantum.noisy_circuit as noisy
from quarch.quantum.circuit import Input, Op
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    noisy_circuit_expval,
    noisy_density_matrix,
)
from quarch.quantum.trajectories import trajectory_expval

from .test_noise_compile_truth import _quarch_steps, _random_steps, _truth

N = 3


def _circuit(seed: int) -> tuple[NoisyCircuit, list[Any], int]:
    """A random noisy circuit with constant, weight and input angles and both kinds of
    channel, its steps with Aer's recipes, and its weight count."""
    rng = np.random.default_rng(seed)
    steps, n_weights = _random_steps(N, rng, 30, foldable=False, n_inputs=2)
    steps.append(PauliNoise((0, 2), tuple([0.7] + [0.02] * 15)))  # a unit of channels only
    reads = [p.kind for s in steps if isinstance(s, Op) for p in s.params if hasattr(p, "kind")]
    assert {"weight", "input"} <= set(reads), "a seed whose circuit reads weights and inputs"
    nc = NoisyCircuit(N, _quarch_steps(steps), n_weights=n_weights, n_inputs=2)
    return nc, steps, n_weights


def _z0(rho: np.ndarray) -> float:
    """``<Z>`` of wire 0 (the most significant bit)."""
    signs = np.where(np.arange(2**N) < 2 ** (N - 1), 1.0, -1.0)
    return float(np.real(np.diag(rho)) @ signs)


@pytest.mark.parametrize("seed", [1, 12])
def test_calls_on_one_circuit_each_equal_qiskit(seed: int) -> None:
    """Four calls with other arguments (one row, a batch, ``[2, 3, k]`` inputs with
    per-sample weights), a run of trajectories between them, and the first arguments
    again at the end: each call as Qiskit's density matrices."""
    nc, steps, n_w = _circuit(seed)
    rng = np.random.default_rng(100 + seed)
    first = (rng.uniform(-2, 2, (1, 2)), rng.uniform(-2, 2, n_w))
    calls = [first, (rng.uniform(-2, 2, (3, 2)), rng.uniform(-2, 2, n_w)), first]
    for i, (x, w) in enumerate(calls):
        got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=w.tolist()).numpy()
        for b in range(len(x)):
            np.testing.assert_allclose(got[b], _truth(N, steps, x[b], w), rtol=0, atol=1e-10)
        if i == 0:
            trajectory_expval(nc, ["Z0"], inputs=torch.tensor(x), weights=w.tolist(),
                              trajectories=16, max_trajectories=16)  # fmt: skip
    x3 = rng.uniform(-2, 2, (2, 3, 2))
    w3 = rng.uniform(-2, 2, (3, n_w))
    got3 = noisy_density_matrix(nc, inputs=torch.tensor(x3), weights=torch.tensor(w3))
    assert got3.shape == (2, 3, 2**N, 2**N)
    for a in range(2):
        for b in range(3):
            want = _truth(N, steps, x3[a, b], w3[b])
            np.testing.assert_allclose(got3[a, b].numpy(), want, rtol=0, atol=1e-10)


def test_each_dtype_on_one_circuit_equals_qiskit() -> None:
    """complex128, complex64 and complex128 again on one circuit: each call's constants
    are made in its own dtype (a complex64 constant in a complex128 call would round the
    answer to single precision, or fail)."""
    nc, steps, n_w = _circuit(7)
    rng = np.random.default_rng(7)
    x, w = rng.uniform(-2, 2, (2, 2)), rng.uniform(-2, 2, n_w)
    want = [_truth(N, steps, x[b], w) for b in range(2)]
    for dtype, tol in (
        (torch.complex128, 1e-10),
        (torch.complex64, 2e-5),
        (torch.complex128, 1e-10),
    ):
        got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=w.tolist(), dtype=dtype)
        assert got.dtype == dtype
        for b in range(2):
            np.testing.assert_allclose(got[b].numpy(), want[b], rtol=0, atol=tol)


def test_real_dtype_after_a_complex_one_on_a_real_circuit() -> None:
    """A circuit of real gates and channels in complex128, then float64: the same values."""
    steps: list[Any] = [Op("h", (0,)), PauliNoise((0,), (0.9, 0.05, 0.0, 0.05)),
                        Op("cnot", (0, 1)), Op("ry", (1,), (0.4,)), Op("x", (2,))]  # fmt: skip
    nc = NoisyCircuit(N, tuple(steps))
    want = _truth(N, steps)
    np.testing.assert_allclose(noisy_density_matrix(nc)[0].numpy(), want, atol=1e-12)
    real = noisy_density_matrix(nc, dtype=torch.float64)
    assert real.dtype == torch.float64
    np.testing.assert_allclose(real[0].numpy(), want.real, atol=1e-12)


def test_a_first_call_under_inference_mode_leaves_later_gradients_right() -> None:
    """The program made by a call under ``torch.inference_mode()`` serves a later call
    that trains: its backward runs, and the weights' gradient equals central differences
    of Qiskit's ``<Z0>``."""
    nc, steps, n_w = _circuit(12)
    rng = np.random.default_rng(12)
    x, w = rng.uniform(-2, 2, (1, 2)), rng.uniform(-2, 2, n_w)
    with torch.inference_mode():
        noisy_circuit_expval(nc, ["Z0"], inputs=torch.tensor(x), weights=torch.tensor(w))
    wt = torch.tensor(w, requires_grad=True)
    out = noisy_circuit_expval(nc, ["Z0"], inputs=torch.tensor(x), weights=wt)
    assert out.item() == pytest.approx(_z0(_truth(N, steps, x[0], w)), abs=1e-10)
    out.sum().backward()
    assert wt.grad is not None
    h = 1e-6
    for j in range(n_w):
        up, down = w.copy(), w.copy()
        up[j] += h
        down[j] -= h
        diff = (_z0(_truth(N, steps, x[0], up)) - _z0(_truth(N, steps, x[0], down))) / (2 * h)
        assert wt.grad[j].item() == pytest.approx(diff, abs=1e-7)


def test_the_program_is_made_once_per_dtype_and_freed_with_its_circuit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three calls in complex128 and one in complex64 compile the circuit twice; the
    programs go when the circuit does (a search makes a noisy circuit per trial)."""
    compiled: list[NoisyCircuit] = []
    real_compile = noisy._compile

    def counting(nc: NoisyCircuit) -> Any:
        compiled.append(nc)
        return real_compile(nc)

    monkeypatch.setattr(noisy, "_compile", counting)
    gc.collect()
    before = len(noisy._PROGRAMS)
    nc, _, n_w = _circuit(4)
    x = torch.zeros(1, 2, dtype=torch.float64)
    for _ in range(3):
        noisy_circuit_expval(nc, ["Z0"], inputs=x, weights=[0.1] * n_w)
    noisy_circuit_expval(nc, ["Z0"], inputs=x, weights=[0.1] * n_w, dtype=torch.complex64)
    assert len(compiled) == 2
    assert set(noisy._PROGRAMS[nc]) == {
        (torch.complex128, torch.device("cpu")),
        (torch.complex64, torch.device("cpu")),
    }
    assert len(noisy._PROGRAMS) == before + 1
    alive = weakref.ref(nc)
    compiled.clear()
    del nc
    gc.collect()
    assert alive() is None
    assert len(noisy._PROGRAMS) == before


def test_trajectories_reuse_their_channels_and_corrections() -> None:
    """Trajectories keep the channels' operators and the corrections with the program: a
    second call on one circuit (after a first under inference mode) gives, for the same
    seed, what a fresh copy of the circuit gives, its gradient included, and lies within
    5 standard errors of Qiskit's exact ``<Z0>``."""
    nc, steps, n_w = _circuit(1)
    rng = np.random.default_rng(5)
    x, w = rng.uniform(-2, 2, (2, 2)), rng.uniform(-2, 2, n_w)

    def run(circuit: NoisyCircuit) -> tuple[Any, torch.Tensor]:
        wt = torch.tensor(w, requires_grad=True)
        res = trajectory_expval(circuit, ["Z0"], inputs=torch.tensor(x), weights=wt,
                                trajectories=64, seed=9, dtype=torch.complex128, grad=True)  # fmt: skip
        res.mean.sum().backward()
        assert wt.grad is not None
        return res, wt.grad

    with torch.inference_mode():
        trajectory_expval(nc, ["Z0"], inputs=torch.tensor(x), weights=w.tolist(), seed=9,
                          trajectories=64, dtype=torch.complex128)  # fmt: skip
    again, grad = run(nc)
    fresh, fresh_grad = run(NoisyCircuit(N, nc.steps, n_weights=n_w, n_inputs=2))
    torch.testing.assert_close(again.mean, fresh.mean, rtol=0, atol=1e-12)
    torch.testing.assert_close(grad, fresh_grad, rtol=0, atol=1e-12)
    for b in range(2):
        want = _z0(_truth(N, steps, x[b], w))
        assert abs(again.mean[b, 0].item() - want) <= 5 * max(again.stderr[b, 0].item(), 1e-3)


def test_no_rows_of_a_circuit_without_channels_have_no_jump_probability_one() -> None:
    """``[0, k]`` inputs return the channels' own no-jump probability without a sample:
    for a circuit with no channel that is 1 (the product over no channels), as for one
    row, and the kept channels of a circuit with some give their product."""
    bare = NoisyCircuit(2, (Op("ry", (0,), (Input(0),)), Op("cnot", (0, 1))), n_inputs=1)
    none = torch.zeros(0, 1, dtype=torch.float64)
    assert trajectory_expval(bare, ["Z0"], inputs=none).no_jump_probability == 1.0
    one = trajectory_expval(bare, ["Z0"], inputs=torch.ones(1, 1, dtype=torch.float64))
    assert one.no_jump_probability == 1.0
    noisy = NoisyCircuit(1, (Op("ry", (0,), (Input(0),)), PauliNoise((0,), (0.9, 0.1, 0.0, 0.0)),
                             PauliNoise((0,), (0.8, 0.0, 0.0, 0.2))), n_inputs=1)  # fmt: skip
    got = trajectory_expval(noisy, ["Z0"], inputs=none).no_jump_probability
    assert got == pytest.approx(0.9 * 0.8, rel=1e-12)
