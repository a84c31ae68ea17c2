"""Noisy circuits (``quantum/noisy_circuit.py``) against Qiskit's density matrices.

The engine groups a noisy circuit's steps into units (diagonal gates wait for the next
gate on their wire, channels join the last unit on their wires) and folds circuits for
zero-noise extrapolation. Both are checked here step by step against
``qiskit.quantum_info.DensityMatrix.evolve`` with ``qiskit-aer``'s own channels
(``pauli_error``, ``thermal_relaxation_error``) and Qiskit's gates and inverses, on
random circuits that put channels before any gate, on wires of different units and
after the last gate, so that a wrong grouping, a wrong inverse or a lost channel
changes the result. The mutation benchmark (``benchmarks/mutation.py --module noise``)
found these paths checked only against the code's own output.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum.circuit import Circuit, Input, Op, Weight
from quarch.quantum.noise import NoiseError, NoiseModel
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    _compile,
    expvals_from_probs,
    noisy_circuit_expval,
    noisy_density_matrix,
    z_terms,
)

pytest.importorskip("qiskit")
aer_noise = pytest.importorskip("qiskit_aer.noise")
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.quantum_info import DensityMatrix, SuperOp  # noqa: E402

from quarch.quantum.measurements import parse_observables  # noqa: E402

_ONE = ["rz", "z", "s", "sdg", "t", "tdg", "phase", "sx", "x", "y", "h", "ry", "rx"]
_TWO = ["cx", "cnot", "cz", "ecr", "swap"]
_FOLDABLE_ONE = ["rz", "sx", "x", "y", "z", "h"]
_FOLDABLE_TWO = ["cz", "cx", "cnot", "ecr", "swap"]
_ANGLED = {"rz", "phase", "ry", "rx"}
_LETTERS = "IXYZ"


def _relaxation_times(rng: np.random.Generator) -> tuple[float, float, float]:
    t1 = float(rng.uniform(2.0, 6.0))
    return t1, float(rng.uniform(0.5, 2.0) * t1), float(rng.uniform(0.2, 1.5))


def _random_steps(
    n: int, rng: np.random.Generator, length: int, *, foldable: bool, n_inputs: int = 0
) -> tuple[list[Any], int]:
    """Random gates (constant, weight and input angles) and channels; returns the steps
    (channels as their quarch objects with the Aer recipe alongside) and the weights."""
    one = _FOLDABLE_ONE if foldable else _ONE
    two = _FOLDABLE_TWO if foldable else _TWO
    steps: list[Any] = []
    n_weights = 0
    for i in range(length):
        kind = rng.random()
        if kind < 0.6 or (foldable and i == 0):
            if n > 1 and rng.random() < 0.35:
                a, b = (int(w) for w in rng.choice(n, 2, replace=False))
                steps.append(Op(str(rng.choice(two)), (a, b)))
                continue
            name = str(rng.choice(one))
            w = int(rng.integers(n))
            params: tuple[Any, ...] = ()
            if name in _ANGLED:
                r = rng.random()
                if foldable or r < 0.4:
                    params = (float(rng.uniform(-3, 3)),)
                elif r < 0.7 or not n_inputs:
                    params = (Weight(n_weights, scale=float(rng.uniform(0.5, 2))),)
                    n_weights += 1
                else:
                    params = (Input(int(rng.integers(n_inputs)), scale=-0.7),)
            steps.append(Op(name, (w,), params))
        elif kind < 0.8:
            k = 2 if n > 1 and rng.random() < 0.5 else 1
            wires = tuple(int(w) for w in rng.choice(n, k, replace=False))
            probs = rng.dirichlet(np.ones(4**k)) * 0.3
            probs[0] += 0.7
            steps.append(PauliNoise(wires, tuple(float(p) for p in probs)))
        else:
            w = int(rng.integers(n))
            t1, t2, t = _relaxation_times(rng)
            steps.append((Relaxation.from_times(w, t, t1, t2), (t1, t2, t)))
    return steps, n_weights


def _quarch_steps(steps: list[Any]) -> tuple[Any, ...]:
    return tuple(s[0] if isinstance(s, tuple) else s for s in steps)


def _angle(p: Any, x: np.ndarray | None, w: np.ndarray | None) -> float:
    if isinstance(p, float):
        return p
    if p.kind == "weight":
        assert w is not None
        return float(p.scale * w[p.index[0]])
    assert x is not None
    return float(p.scale * np.prod([x[i] for i in p.index]))


def _qiskit_gate(qc: QuantumCircuit, op: Op, q: list[int], vals: list[float]) -> None:
    name = {"cnot": "cx", "phase": "p"}.get(op.name, op.name)
    getattr(qc, name)(*vals, *q)


def _evolve(
    rho: DensityMatrix, n: int, s: Any, x: np.ndarray | None, w: np.ndarray | None,
    *, inverse: bool = False,
) -> DensityMatrix:  # fmt: skip
    """One step on Qiskit's density matrix; quarch wire ``i`` is Qiskit qubit ``n-1-i``,
    so Qiskit's matrix is in quarch's order (first wire most significant)."""
    if isinstance(s, tuple):  # relaxation: Aer's thermal relaxation at zero temperature
        relax, (t1, t2, t) = s
        err = aer_noise.thermal_relaxation_error(t1, min(t2, 2 * t1), t)
        return rho.evolve(SuperOp(err), [n - 1 - relax.wire])
    if isinstance(s, PauliNoise):
        k = len(s.wires)
        terms = []
        for i, p in enumerate(s.probs):
            digits = [(i // 4 ** (k - 1 - j)) % 4 for j in range(k)]  # first wire first
            # Qiskit's label is read right to left: its last letter acts on qargs[0]
            terms.append(("".join(_LETTERS[d] for d in reversed(digits)), p))
        err = aer_noise.pauli_error(terms)
        return rho.evolve(SuperOp(err), [n - 1 - ww for ww in s.wires])
    qc = QuantumCircuit(n)
    _qiskit_gate(qc, s, [n - 1 - ww for ww in s.wires], [_angle(p, x, w) for p in s.params])
    return rho.evolve(qc.inverse() if inverse else qc)


def _truth(
    n: int, steps: list[Any], x: np.ndarray | None = None, w: np.ndarray | None = None,
    psi0: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    if psi0 is None:
        psi0 = np.zeros(2**n)
        psi0[0] = 1.0
    rho = DensityMatrix(np.outer(psi0, psi0.conj()))
    for s in steps:
        rho = _evolve(rho, n, s, x, w)
    return rho.data


@pytest.mark.parametrize("seed", range(6))
def test_random_noisy_circuits_equal_qiskit(seed: int) -> None:
    """Diagonal gates waiting on wires, channels on one and two wires of different units,
    channels before any gate and after the last one, a batch of inputs and weights."""
    rng = np.random.default_rng(seed)
    n = 3 if seed % 2 else 4
    steps, n_weights = _random_steps(n, rng, 28, foldable=False, n_inputs=2)
    # a channel before any gate, and diagonal gates left waiting at the end
    steps.insert(0, PauliNoise((n - 1,), (0.5, 0.2, 0.2, 0.1)))
    steps += [Op("t", (0,)), Op("rz", (n - 1,), (0.7,))]
    x = rng.uniform(-2, 2, (3, 2))
    w = rng.uniform(-2, 2, n_weights)
    nc = NoisyCircuit(n, _quarch_steps(steps), n_weights=n_weights, n_inputs=2)
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=w.tolist()).numpy()
    for b in range(3):
        np.testing.assert_allclose(got[b], _truth(n, steps, x[b], w), rtol=0, atol=1e-10)


def test_channels_on_wires_of_two_units_and_idle_wires() -> None:
    """A two-wire channel whose wires belong to different units, one on a wire no gate
    has touched yet, and a relaxation between two diagonal gates."""
    n = 3
    steps: list[Any] = [
        Op("h", (0,)),
        Op("sx", (1,)),
        PauliNoise((0, 1), tuple([0.4] + [0.04] * 15)),
        PauliNoise((2,), (0.6, 0.0, 0.1, 0.3)),
        Op("s", (2,)),
        (Relaxation.from_times(2, 0.5, 2.0, 3.0), (2.0, 3.0, 0.5)),
        Op("t", (2,)),
        Op("cx", (2, 0)),
        PauliNoise((1, 2), tuple([0.55] + [0.03] * 15)),
        Op("ecr", (1, 2)),
        (Relaxation.from_times(0, 0.3, 1.0, 1.5), (1.0, 1.5, 0.3)),
        Op("z", (1,)),
    ]
    nc = NoisyCircuit(n, _quarch_steps(steps))
    got = noisy_density_matrix(nc)[0].numpy()
    np.testing.assert_allclose(got, _truth(n, steps), rtol=0, atol=1e-12)


def test_amplitude_embedding_then_the_input_map() -> None:
    """A leading amplitude embedding is the initial state of the mapped features."""
    n = 2
    c = Circuit(n).amplitude_embedding(4, normalize=True)
    steps: list[Any] = [Op("ry", (0,), (Input(0),)), PauliNoise((1,), (0.8, 0.1, 0.05, 0.05)),
                        Op("cx", (0, 1)), (Relaxation.from_times(0, 0.4, 1.0, 1.2), (1.0, 1.2, 0.4))]  # fmt: skip
    nc = NoisyCircuit(n, (c.ops[0], *_quarch_steps(steps)), n_inputs=4,
                      input_map=lambda t: 2 * t + 0.25)  # fmt: skip
    x = np.array([0.3, -0.4, 0.9, 0.2])  # one sample, as a 1-D tensor
    mapped = 2 * x + 0.25
    psi0 = mapped / np.linalg.norm(mapped)
    got = noisy_density_matrix(nc, inputs=torch.tensor(x))
    assert got.shape == (1, 4, 4)
    np.testing.assert_allclose(
        got[0].numpy(), _truth(n, steps, mapped, None, psi0), rtol=0, atol=1e-12
    )


def test_complex64_agrees_with_qiskit() -> None:
    rng = np.random.default_rng(11)
    steps, n_weights = _random_steps(3, rng, 20, foldable=False, n_inputs=1)
    x = rng.uniform(-1, 1, (2, 1))
    w = rng.uniform(-1, 1, n_weights)
    nc = NoisyCircuit(3, _quarch_steps(steps), n_weights=n_weights, n_inputs=1)
    got = noisy_density_matrix(nc, inputs=torch.tensor(x), weights=torch.tensor(w),
                               dtype=torch.complex64)  # fmt: skip
    assert got.dtype == torch.complex64
    for b in range(2):
        np.testing.assert_allclose(got[b].numpy(), _truth(3, steps, x[b], w), atol=2e-5)


@pytest.mark.parametrize(("seed", "scale"), [(0, 3), (1, 5), (2, 3)])
def test_folding_equals_the_circuit_its_inverse_and_the_circuit(seed: int, scale: int) -> None:
    """``G (G^-1 G)**k``: each gate of ``G^-1`` is Qiskit's exact inverse of a gate of
    ``G``, taken in reverse order, followed by that gate's noise."""
    rng = np.random.default_rng(100 + seed)
    n = 3
    steps, _ = _random_steps(n, rng, 24, foldable=True)
    groups: list[tuple[Op, list[Any]]] = []
    for s in steps:
        if isinstance(s, Op):
            groups.append((s, []))
        else:
            groups[-1][1].append(s)
    nc = NoisyCircuit(n, _quarch_steps(steps))
    got = noisy_density_matrix(nc.folded(scale))[0].numpy()
    rho = DensityMatrix(np.diag([1.0] + [0.0] * (2**n - 1)).astype(complex))
    for s in steps:
        rho = _evolve(rho, n, s, None, None)
    for _ in range(scale // 2):
        for op, noise in reversed(groups):
            rho = _evolve(rho, n, op, None, None, inverse=True)
            for s in noise:
                rho = _evolve(rho, n, s, None, None)
        for s in steps:
            rho = _evolve(rho, n, s, None, None)
    np.testing.assert_allclose(got, rho.data, rtol=0, atol=1e-10)
    assert nc.folded(1).steps == nc.steps
    assert nc.folded(scale).n_gates == scale * nc.n_gates + (scale // 2) * 2 * sum(
        op.name == "sx" for op, _ in groups
    )


def test_folding_keeps_a_leading_amplitude_embedding_once() -> None:
    amp = Circuit(1).amplitude_embedding(2, normalize=True).ops[0]
    body = (Op("sx", (0,)), PauliNoise((0,), (0.9, 0.1, 0.0, 0.0)))
    nc = NoisyCircuit(1, (amp, *body), n_inputs=2)
    assert nc.folded(3).steps == (amp, *body, Op("rz", (0,), (math.pi,)), Op("sx", (0,)),
                                  Op("rz", (0,), (math.pi,)), body[1], *body)  # fmt: skip


def test_folding_refusals_name_the_problem() -> None:
    with pytest.raises(NoiseError, match=r"^no native inverse of 'ry' for folding$"):
        NoisyCircuit(1, (Op("ry", (0,), (0.1,)),)).folded(3)
    with pytest.raises(NoiseError, match=r"^a channel before the first gate cannot be folded$"):
        NoisyCircuit(1, (PauliNoise((0,), (1.0, 0, 0, 0)), Op("x", (0,)))).folded(3)
    # only a first step is a leading amplitude embedding; after a channel it is not one
    amp = Circuit(1).amplitude_embedding(2, normalize=True).ops[0]
    with pytest.raises(NoiseError, match=r"^a channel before the first gate cannot be folded$"):
        NoisyCircuit(1, (PauliNoise((0,), (1.0, 0, 0, 0)), amp, Op("x", (0,)))).folded(3)
    for bad in (2, 0, -1, True, 3.0):
        with pytest.raises(NoiseError, match=r"^a fold scale must be an odd integer >= 1; got "):
            NoisyCircuit(1, (Op("x", (0,)),)).folded(bad)  # type: ignore[arg-type]


def test_readout_errors_per_wire_by_hand() -> None:
    """Measured Z words from the true distribution pushed through each wire's confusion
    matrix ``P(m | b)``, summed by brute force over all outcomes."""
    n = 3
    rng = np.random.default_rng(5)
    steps, n_weights = _random_steps(n, rng, 20, foldable=False)
    w = rng.uniform(-2, 2, n_weights)
    readout = ((0.02, 0.07), (0.1, 0.03), (0.0, 0.2))
    nc = NoisyCircuit(n, _quarch_steps(steps), readout, n_weights)
    words = ["Z0", "Z1", "Z0 Z2", "Z0 Z1 Z2", "Z2"]
    got = noisy_circuit_expval(nc, words, weights=torch.tensor(w))[0].numpy()
    probs = np.real(np.diag(_truth(n, steps, None, w)))
    measured = np.zeros(2**n)
    for b in range(2**n):
        for m in range(2**n):
            pr = 1.0
            for wire, (p10, p01) in enumerate(readout):
                bb, mm = (b >> (n - 1 - wire)) & 1, (m >> (n - 1 - wire)) & 1
                flip = p10 if bb == 0 else p01
                pr *= flip if bb != mm else 1 - flip
            measured[m] += probs[b] * pr
    want = []
    for word in words:
        wires = [int(t[1:]) for t in word.split() if t != "I"]
        want.append(sum(measured[m] * (-1) ** sum((m >> (n - 1 - q)) & 1 for q in wires)
                        for m in range(2**n)))  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    # expvals_from_probs takes any leading shape [..., 2**n]: one distribution, a grid
    parsed = parse_observables(words, n)
    one = expvals_from_probs(torch.tensor(probs), parsed, readout)
    assert one.shape == (len(words),)
    np.testing.assert_allclose(one.numpy(), want, rtol=0, atol=1e-12)
    grid = torch.tensor(probs).expand(2, 3, 2**n) * torch.arange(1.0, 7.0).view(2, 3, 1)
    many = expvals_from_probs(grid, parsed, readout)  # unnormalised: scales linearly
    assert many.shape == (2, 3, len(words))
    want_grid = np.arange(1.0, 7.0).reshape(2, 3, 1) * np.asarray(want)
    np.testing.assert_allclose(many.numpy(), want_grid, rtol=0, atol=1e-11)


def test_a_word_whose_readout_coefficients_all_vanish_reads_zero() -> None:
    """P(1|0) = P(0|1) = 1/2 leaves no information: every Z word reads 0."""
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    words = parse_observables(["Z0", "Z1", "Z0 Z1"], 2)
    out = expvals_from_probs(probs, words, ((0.5, 0.5), (0.0, 0.0)))
    # Z1 with no readout error: P(b1 = 0) - P(b1 = 1) = (0.1 + 0.3) - (0.2 + 0.4)
    np.testing.assert_allclose(out.numpy(), [[0.0, -0.2, 0.0]], rtol=0, atol=1e-15)


def test_z_terms_refuses_x_and_y_words() -> None:
    with pytest.raises(NoiseError, match=r"^only Z words can be read out with a device readout"):
        z_terms(parse_observables(["X0"], 1), ())


def test_steps_the_engine_refuses() -> None:
    amp = Circuit(1).amplitude_embedding(2).ops[0]
    with pytest.raises(NoiseError, match=r"^an amplitude embedding can only come first$"):
        noisy_density_matrix(NoisyCircuit(1, (Op("x", (0,)), amp), n_inputs=2),
                             inputs=torch.ones(1, 2))  # fmt: skip
    chan = Circuit(1).bit_flip(0, 0.1).ops[0]
    with pytest.raises(NoiseError, match=r"^convert circuit channels with NoisyCircuit"):
        noisy_density_matrix(NoisyCircuit(1, (Op("x", (0,)), chan)))


def test_weights_are_required_and_counted() -> None:
    nc = NoisyCircuit(1, (Op("rz", (0,), (Weight(0),)), Op("rx", (0,), (Weight(1),))),
                      n_weights=2)  # fmt: skip
    with pytest.raises(NoiseError, match=r"^this circuit has 2 weights; pass weights=$"):
        noisy_density_matrix(nc)
    # the plan's line (tests/quantum/test_noise_broadcast_truth.py: every shape refusal)
    with pytest.raises(
        NoiseError,
        match=r"^weights must have shape \[2\], \[batch, 2\] or \[\.\.\., 2\]; got \(3,\)$",
    ):
        noisy_density_matrix(nc, weights=[0.1, 0.2, 0.3])
    # one row of weights as a nested list, as the plan takes it; the rx angle is the
    # second weight
    rho = noisy_density_matrix(nc, weights=[[0.4, 1.1]])[0]  # type: ignore[list-item]
    assert float(rho[1, 1].real) == pytest.approx(math.sin(1.1 / 2) ** 2, abs=1e-12)


def test_channel_conversions_from_a_circuit_and_a_noise_model() -> None:
    """from_circuit's exact equivalents, step by step, and the model's readout on each wire."""
    c = Circuit(2).x(0).depolarizing(0, 0.3).bit_flip(1, 0.2).amplitude_damping(0, 0.4)
    c.phase_damping(1, 0.5)
    nc = NoisyCircuit.from_circuit(c, NoiseModel(readout_error=0.05))
    assert nc.steps[0] == c.ops[0]
    dep, flip, amp, phase = nc.steps[1:]
    assert isinstance(dep, PauliNoise) and isinstance(flip, PauliNoise)
    assert (dep.wires, flip.wires) == ((0,), (1,))
    assert dep.probs == pytest.approx((0.7, 0.1, 0.1, 0.1), abs=1e-15)
    assert flip.probs == pytest.approx((0.8, 0.2, 0.0, 0.0), abs=1e-15)
    assert amp == Relaxation(0, 0.4, math.sqrt(0.6))
    assert phase == Relaxation(1, 0.0, math.sqrt(0.5))
    assert nc.readout == ((0.05, 0.05), (0.05, 0.05))
    assert NoisyCircuit.from_circuit(c).readout == ()
    c2 = Circuit(2).ry(0, Input(1))
    c2.rx(1, c2.new_weight())
    assert (NoisyCircuit.from_circuit(c2).n_inputs, NoisyCircuit.from_circuit(c2).n_weights) == (
        2,
        1,
    )


def test_channel_objects_check_their_numbers() -> None:
    assert PauliNoise.depolarizing((0, 1), 0.32).probs == pytest.approx((1 - 0.3,) + (0.02,) * 15)
    assert PauliNoise.depolarizing((0,), 0.2).is_depolarizing
    assert not PauliNoise((0,), (0.7, 0.2, 0.05, 0.05)).is_depolarizing
    with pytest.raises(
        NoiseError, match=r"^a Pauli channel on 2 wires needs 4\*\*k probabilities$"
    ):
        PauliNoise((0, 1), (1.0, 0.0, 0.0, 0.0))
    with pytest.raises(NoiseError, match=r"^Pauli probabilities must be >= 0 and sum to 1; got"):
        PauliNoise((0,), (1.1, -0.1, 0.0, 0.0))
    with pytest.raises(NoiseError, match=r"^Pauli probabilities must be >= 0 and sum to 1; got"):
        PauliNoise((0,), (0.9, 0.0, 0.0, 0.0))
    with pytest.raises(NoiseError, match=r"^relaxation needs gamma and coherence in \[0, 1\]"):
        Relaxation(0, 1.2, 0.0)
    with pytest.raises(NoiseError, match=r"^relaxation needs gamma and coherence in \[0, 1\]"):
        Relaxation(0, 0.0, -0.1)
    with pytest.raises(NoiseError, match=r"^relaxation needs coherence\*\*2 <= 1 - gamma"):
        Relaxation(0, 0.5, 0.8)
    r = Relaxation.from_times(3, 2.0, math.inf, math.inf)
    assert (r.wire, r.gamma, r.coherence) == (3, 0.0, 1.0)
    r = Relaxation.from_times(0, 1.0, 2.0, 10.0)  # T2 capped at 2 T1
    assert (r.gamma, r.coherence) == pytest.approx((1 - math.exp(-0.5), math.exp(-0.25)))


def test_engine_results_stay_on_the_inputs_device() -> None:
    """As in ``test_noise_model_truth.py``: torch's meta device stands in for a GPU."""
    rng = np.random.default_rng(3)
    steps, n_weights = _random_steps(3, rng, 20, foldable=False, n_inputs=2)
    nc = NoisyCircuit(3, _quarch_steps(steps), ((0.01, 0.02),) * 3, n_weights, 2)
    x = torch.zeros(2, 2, device="meta", dtype=torch.float64)
    w = torch.zeros(n_weights, device="meta", dtype=torch.float64)
    ev = noisy_circuit_expval(nc, ["Z0", "Z1 Z2"], inputs=x, weights=w)
    assert (ev.device.type, tuple(ev.shape)) == ("meta", (2, 2))


def test_relaxation_accepts_its_boundaries_and_refuses_just_past_them() -> None:
    """Full decay (gamma 1), full dephasing (coherence 0) and T2 = 2 T1 exactly (coherence
    squared equal to 1 - gamma) are channels; coherence 0.75 at gamma 0.5 is not (its
    square, 0.5625, exceeds 0.5, though its cube would not)."""
    for gamma, coherence in ((1.0, 0.0), (0.0, 0.0), (0.75, 0.5), (0.0, 1.0)):
        r = Relaxation(0, gamma, coherence)
        k = np.array(r.kraus())
        np.testing.assert_allclose(
            sum(m.conj().T @ m for m in k), np.eye(2), rtol=0, atol=1e-12
        )  # trace preserving at the boundary
    edge = Relaxation.from_times(1, 0.7, 2.0, 4.0)  # T2 = 2 T1: Aer's limit
    assert edge.coherence**2 == pytest.approx(1 - edge.gamma, abs=1e-15)
    with pytest.raises(
        NoiseError, match=r"^relaxation needs coherence\*\*2 <= 1 - gamma \(T2 <= 2 T1\)$"
    ):
        Relaxation(0, 0.5, 0.75)
    # outside [0, 1] is refused as such, before the T2 test (whose line would mislead)
    for gamma, coherence in ((0.0, 1.5), (-0.1, 0.5), (1.2, 0.0), (0.5, -0.2)):
        with pytest.raises(NoiseError, match=r"^relaxation needs gamma and coherence in \[0, 1\]"):
            Relaxation(0, gamma, coherence)


def test_three_qubit_gates_in_noisy_units_equal_qiskit() -> None:
    """Toffoli and controlled-SWAP units between channels, with the diagonal one-qubit
    gates that wait on their wires merged into them (a 2x2 gate embedded in an 8x8
    unit), against Qiskit's density matrix."""
    steps: list[Any] = [
        Op("h", (0,)), Op("ry", (1,), (0.7,)), Op("rx", (3,), (Weight(0),)),
        Op("rz", (1,), (0.4,)), Op("t", (2,)),
        Op("ccx", (0, 1, 2)), Op("cnot", (2, 0)), Op("cz", (1, 2)),
        PauliNoise((2,), (0.85, 0.05, 0.05, 0.05)), Op("s", (3,)),
        Op("cswap", (3, 0, 2)), Op("swap", (3, 2)), (Relaxation.from_times(0, 0.3, 1.0, 1.4), (1.0, 1.4, 0.3)),
        Op("ccx", (3, 2, 1)), Op("cnot", (1, 0)), PauliNoise((1, 3), _two_wire_probs()),
    ]  # fmt: skip
    w = np.array([1.1])
    nc = NoisyCircuit(4, _quarch_steps(steps), n_weights=1)
    got = noisy_density_matrix(nc, weights=w.tolist()).numpy()
    np.testing.assert_allclose(got[0], _truth(4, steps, None, w), rtol=0, atol=1e-12)


def _two_wire_probs() -> tuple[float, ...]:
    probs = np.full(16, 0.01)
    probs[0] = 1 - probs[1:].sum()
    return tuple(float(p) for p in probs)


def test_expectations_in_complex64_and_the_memory_refusal() -> None:
    steps = (Op("h", (0,)), Op("cnot", (0, 1)), PauliNoise.depolarizing((1,), 0.1))
    nc = NoisyCircuit(2, steps)
    low = noisy_circuit_expval(nc, ["Z0 Z1"], dtype=torch.complex64)
    high = noisy_circuit_expval(nc, ["Z0 Z1"])
    assert low.dtype == torch.float32 and high.dtype == torch.float64
    assert float(low[0, 0]) == pytest.approx(float(high[0, 0]), abs=1e-6)
    with pytest.raises(
        NoiseError,
        match=r"^a density matrix of 2 qubits for a batch of 1 needs about 0\.0 GiB; the "
        r"limit is 1e-09 GiB \(max_memory_gb\)\. Use fewer qubits, a smaller batch, or "
        r"quantum trajectories$",
    ):
        noisy_circuit_expval(nc, ["Z0"], max_memory_gb=1e-9)


def test_units_group_as_the_engine_promises() -> None:
    """The grouping itself, not only its values: each unit is one superoperator to build,
    and a multi-wire one a pass over the density matrix, so a grouping that leaves every
    result right but makes more units (a channel not joining its gate's unit, a diagonal
    gate not waiting) is a slower engine. Values against Qiskit too."""
    lam = (0.9, 0.05, 0.03, 0.02)
    lam2 = tuple([0.7] + [0.02] * 15)
    relax = (Relaxation.from_times(1, 0.4, 2.0, 2.5), (2.0, 2.5, 0.4))
    steps: list[Any] = [
        Op("rz", (0,), (0.3,)),  # waits for h on wire 0
        Op("t", (1,)),  # waits for cx
        Op("h", (0,)),  # unit 0: rz, h
        PauliNoise((0,), lam),  # joins unit 0
        Op("cx", (0, 1)),  # unit 1: t, cx
        PauliNoise((0, 1), lam2),  # joins unit 1
        Op("s", (2,)),  # waits, flushed by the channel on its wire
        PauliNoise((2,), lam),  # unit 2: s, then this channel
        PauliNoise((1, 2), lam2),  # wires of units 1 and 2: a unit of its own (3)
        relax,  # joins unit 3 (its wire's last unit)
        Op("h", (1,)),  # unit 4
        PauliNoise((0,), lam),  # wire 0's last unit is still unit 1: joins it
        PauliNoise((0, 1), lam2),  # wires of units 1 and 4: unit 5
        Op("rz", (2,), (0.2,)),  # waits to the end: unit 6
    ]
    nc = NoisyCircuit(3, _quarch_steps(steps))
    amp, units = _compile(nc)
    got = [(u.wires, [g.name for g in u.gates], len(u.noise)) for u in units]
    assert amp is None
    assert got == [
        ((0,), ["rz", "h"], 1),
        ((0, 1), ["t", "cx"], 2),
        ((2,), ["s"], 1),
        ((1, 2), [], 2),
        ((1,), ["h"], 0),
        ((0, 1), [], 1),
        ((2,), ["rz"], 0),
    ]
    np.testing.assert_allclose(
        noisy_density_matrix(nc)[0].numpy(), _truth(3, steps), rtol=0, atol=1e-12
    )


def test_a_circuit_without_steps_is_its_start_state() -> None:
    nc = NoisyCircuit(2, (), ((0.1, 0.2), (0.0, 0.0)))
    assert _compile(nc) == (None, [])
    rho = noisy_density_matrix(nc)[0].numpy()
    np.testing.assert_array_equal(rho, np.diag([1.0, 0.0, 0.0, 0.0]).astype(complex))
    # Z0 read through wire 0's readout error: P(0) = 0.9, P(1) = 0.1
    ev = noisy_circuit_expval(nc, ["Z0", "Z1"])
    np.testing.assert_allclose(ev[0].numpy(), [0.8, 1.0], rtol=0, atol=1e-15)
