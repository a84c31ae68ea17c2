"""Quantum trajectories against their truth: each channel's sampled Kraus operators
against Qiskit's channels, the jump patterns' frequencies against exact enumeration,
every pattern's state against a dense product of its operators, the estimator against
the documented formula and the exact density matrix (5 sigma), and the memory limits."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, Input
from quarch.quantum.circuit import Op
from quarch.quantum.gates import gate_matrix
from quarch.quantum.noise import NoiseError
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    _Unit,
    noisy_circuit_expval,
)
from quarch.quantum.trajectories import (
    _apply,
    _channel_ops,
    _Plan,
    _run,
    trajectory_expval,
    trajectory_memory_gb,
)

C128 = torch.complex128
CPU = torch.device("cpu")
Step = Op | PauliNoise | Relaxation


def _gate(n: int, name: str, *args: object) -> Op:
    """One gate of an ``n``-qubit circuit."""
    c = Circuit(n)
    getattr(c, name)(*args)
    return c.ops[-1]


def _dense(m: np.ndarray, wires: tuple[int, ...], n: int) -> np.ndarray:
    """``m`` (first listed wire most significant) on ``wires`` of ``n`` qubits, wire 0 the
    most significant bit: the full ``2**n`` matrix, built entry by entry."""
    out = np.zeros((2**n, 2**n), dtype=complex)
    for col, row in itertools.product(range(2**n), repeat=2):
        bits_r = [(row >> (n - 1 - q)) & 1 for q in range(n)]
        bits_c = [(col >> (n - 1 - q)) & 1 for q in range(n)]
        if any(bits_r[q] != bits_c[q] for q in range(n) if q not in wires):
            continue
        r = int("".join(str(bits_r[w]) for w in wires), 2)
        c = int("".join(str(bits_c[w]) for w in wires), 2)
        out[row, col] = m[r, c]
    return out


def _channel(ch: PauliNoise | Relaxation) -> np.ndarray:
    """The channel's superoperator from Qiskit (column stacking), on its own wires."""
    qi = pytest.importorskip("qiskit.quantum_info")
    if isinstance(ch, PauliNoise):
        k = len(ch.wires)
        labels = ["".join(p) for p in itertools.product("IXYZ", repeat=k)]
        # Qiskit's label "AB" is kron(A, B): the first letter on the most significant wire
        ks = [
            math.sqrt(p) * qi.Pauli(lab).to_matrix()
            for lab, p in zip(labels, ch.probs, strict=True)
        ]
        return np.asarray(qi.SuperOp(qi.Kraus(ks)).data)
    # the relaxation Kraus operators are checked against Aer's thermal_relaxation_error
    # in test_trajectories.py
    ks = [np.array(k, dtype=complex) for k in ch.kraus()]
    return np.asarray(qi.SuperOp(qi.Kraus(ks)).data)


def _unit_of(ch: PauliNoise | Relaxation) -> _Unit:
    """A unit of the channel's wires alone."""
    return _Unit(ch.wires if isinstance(ch, PauliNoise) else (ch.wire,))


CHANNELS: dict[str, PauliNoise | Relaxation] = {
    "depolarizing-1q": PauliNoise.depolarizing((0,), 0.3),
    "pauli-1q-with-zeros": PauliNoise((0,), (0.6, 0.0, 0.4, 0.0)),
    "pauli-2q": PauliNoise((0, 1), tuple(float(p) for p in np.r_[0.5, np.linspace(1, 2, 15) / 45])),
    "no-identity": PauliNoise.depolarizing((0,), 4 / 3),
    "relaxation": Relaxation(0, 0.3, 0.6),
    "dephasing-only": Relaxation(0, 0.0, 0.7),
    "decay-only": Relaxation(0, 0.36, 0.8),
}


class TestChannelOps:
    @pytest.mark.parametrize("name", list(CHANNELS))
    def test_sampled_operators_make_the_channel(self, name: str) -> None:
        ch = CHANNELS[name]
        qs, ops = _channel_ops(ch, _unit_of(ch), C128, CPU)
        assert sum(qs) == pytest.approx(1.0)
        assert all(q > 0 for q in qs[1:])  # an operator never drawn is not listed
        got = sum(q * np.kron(o.numpy().conj(), o.numpy()) for q, o in zip(qs, ops, strict=True))
        assert np.abs(got - _channel(ch)).max() < 1e-12
        assert np.allclose(np.diag(np.diag(ops[0].numpy())), ops[0].numpy())  # K0 diagonal

    def test_pauli_rates_are_the_probabilities(self) -> None:
        qs, ops = _channel_ops(CHANNELS["pauli-1q-with-zeros"], _unit_of(CHANNELS["pauli-1q-with-zeros"]), C128, CPU)  # fmt: skip
        assert qs == [0.6, 0.4]
        assert torch.allclose(ops[1], torch.tensor([[0, -1j], [1j, 0]], dtype=C128))

    def test_relaxation_rates_are_those_of_a_qubit_half_in_one(self) -> None:
        # q_j = tr(rho K_j^+ K_j) for rho = I/2 (the module docstring's fixed rates)
        for name in ("relaxation", "dephasing-only", "decay-only"):
            ch = CHANNELS[name]
            assert isinstance(ch, Relaxation)
            ks = [np.array(k) for k in ch.kraus()]
            want = [float(np.trace(k.conj().T @ k).real) / 2 for k in ks]
            qs, _ = _channel_ops(ch, _unit_of(ch), C128, CPU)
            assert qs == pytest.approx([q for q in want if q > 1e-15], abs=1e-15), name

    def test_embedded_on_the_units_wires(self) -> None:
        ch = Relaxation(2, 0.3, 0.6)
        _, ops = _channel_ops(ch, _Unit((2, 0)), C128, CPU)
        _, alone = _channel_ops(ch, _Unit((2,)), C128, CPU)
        for o, a in zip(ops, alone, strict=True):
            assert torch.allclose(o, torch.kron(a, torch.eye(2, dtype=C128)))

    def test_relaxation_without_coherence_is_refused(self) -> None:
        ch = Relaxation(0, 0.5, 0.0)
        with pytest.raises(NoiseError) as e:
            _channel_ops(ch, _unit_of(ch), C128, CPU)
        assert str(e.value) == "trajectories need relaxation with coherence > 0 (T2 > 0)"


def _small() -> NoisyCircuit:
    """Two qubits, four channels on three units (one of them diagonal: ``cz``)."""
    steps: list[Step] = [
        _gate(2, "ry", 0, 0.7), PauliNoise.depolarizing((0,), 0.2),
        _gate(2, "cnot", 0, 1), Relaxation(1, 0.25, 0.7), PauliNoise((0, 1), (0.7,) + (0.02,) * 15),
        _gate(2, "rz", 1, 0.4), _gate(2, "cz", 1, 0), Relaxation(0, 0.3, 0.5),
    ]  # fmt: skip
    return NoisyCircuit(2, tuple(steps))


def _three() -> NoisyCircuit:
    """Three qubits: a Toffoli unit (8 x 8) under a three-wire Pauli channel without an
    identity part, and relaxation on one of its wires."""
    steps: list[Step] = [
        _gate(3, "h", 0), _gate(3, "ry", 1, 1.1), _gate(3, "ccx", 0, 1, 2),
        PauliNoise((0, 1, 2), (0.0,) + (1 / 63,) * 63), Relaxation(2, 0.3, 0.6),
        _gate(3, "cnot", 2, 0), PauliNoise.depolarizing((2, 0), 0.1),
    ]  # fmt: skip
    return NoisyCircuit(3, tuple(steps))


class TestPatterns:
    def test_frequencies_match_exact_enumeration(self) -> None:
        plan = _Plan(_small(), None, None, C128, CPU)
        chans = plan.channels
        assert plan.p0 == pytest.approx(math.prod(c.q[0] for c in chans))
        exact: dict[tuple[tuple[int, int, int], ...], float] = {}
        for choice in itertools.product(*[range(len(c.q)) for c in chans]):
            if any(choice):
                key = tuple((c.unit, c.slot, j) for c, j in zip(chans, choice, strict=True) if j)
                prob = math.prod(c.q[j] for c, j in zip(chans, choice, strict=True))
                exact[key] = prob / (1 - plan.p0)
        count = 20000
        pats = plan.patterns(count, np.random.default_rng(1))
        firsts = [min(p) for p in pats]
        assert firsts == sorted(firsts)
        seen: dict[tuple[tuple[int, int, int], ...], int] = {}
        for p in pats:
            key = tuple(sorted((u, s, j) for u, d in p.items() for s, j in d.items()))
            seen[key] = seen.get(key, 0) + 1
        assert set(seen) <= set(exact)
        for key, prob in exact.items():
            sigma = math.sqrt(count * prob * (1 - prob))
            assert abs(seen.get(key, 0) - count * prob) <= 5 * sigma + 1, key

    def test_a_channel_that_always_jumps(self) -> None:
        steps: list[Step] = [_gate(1, "h", 0), PauliNoise((0,), (0.9, 0.1, 0, 0)),
                             _gate(1, "sx", 0), PauliNoise((0,), (0.0, 0.0, 1.0, 0.0))]  # fmt: skip
        plan = _Plan(NoisyCircuit(1, tuple(steps)), None, None, C128, CPU)
        assert plan.p0 == pytest.approx(0.0, abs=1e-200)
        pats = plan.patterns(4000, np.random.default_rng(0))
        assert all(p.get(1) == {0: 1} for p in pats)  # Y (index 1 of the kept [I, Y])
        n_x = sum(0 in p for p in pats)
        assert abs(n_x - 400) <= 5 * math.sqrt(4000 * 0.1 * 0.9)


def _product(u: _Unit, n: int) -> np.ndarray:
    """The unit's gates as one dense ``2**n`` matrix, each gate from the gate table."""
    out = np.eye(2**n, dtype=complex)
    for g in u.gates:
        name = "cnot" if g.name == "cx" else g.name
        m = gate_matrix(name, torch.tensor(g.params, dtype=torch.float64) if g.params else None)
        out = _dense(m.numpy(), g.wires, n) @ out
    return out


class _Brute:
    """Pattern states as dense ``2**n`` products: each unit's gates, then each of its
    channels' sampled operator (``K_j / sqrt(q_j)``, ``j = 0`` without a jump)."""

    def __init__(self, plan: _Plan) -> None:
        self.gates = [_product(u, plan.n) for u in plan.units]
        self.chans = [[(c.slot, [_dense(k.numpy(), u.wires, plan.n) for k in c.kraus])
                       for c in plan.channels if c.unit == ui]
                      for ui, u in enumerate(plan.units)]  # fmt: skip

    def state(self, psi0: np.ndarray, pattern: dict[int, dict[int, int]]) -> np.ndarray:
        psi = psi0.copy()
        for ui, g in enumerate(self.gates):
            psi = g @ psi
            for slot, ks in self.chans[ui]:
                psi = ks[pattern.get(ui, {}).get(slot, 0)] @ psi
        return psi


class TestRun:
    @pytest.mark.parametrize(("grad", "n"), [(False, 2), (True, 2), (False, 3)])
    def test_every_pattern_state_is_the_product_of_its_operators(self, grad: bool, n: int) -> None:
        plan = _Plan(_small() if n == 2 else _three(), None, None, C128, CPU)
        psi0 = torch.zeros(1, 2**n, dtype=C128)
        psi0[0, 0] = 1
        pats = plan.patterns(60, np.random.default_rng(3))
        ref, states = _run(plan, psi0, pats, grad)
        assert states.shape == (60, 1, 2**n)
        brute = _Brute(plan)
        assert np.allclose(ref[0].numpy(), brute.state(psi0[0].numpy(), {}), atol=1e-12)
        for t, p in enumerate(pats):
            want = brute.state(psi0[0].numpy(), p)
            assert np.allclose(states[t, 0].numpy(), want, atol=1e-12), p

    @pytest.mark.parametrize(("wires", "diagonal"), [((1,), False), ((2, 0), False), ((0, 2), True),
                                                     ((2, 0), True), ((1,), True)])  # fmt: skip
    def test_apply_is_the_dense_matrix(self, wires: tuple[int, ...], diagonal: bool) -> None:
        rng = np.random.default_rng(len(wires))
        n, d = 3, 2 ** len(wires)
        m = rng.normal(size=(2, d, d)) + 1j * rng.normal(size=(2, d, d))
        if diagonal:
            m = np.stack([np.diag(np.diag(x)) for x in m])
        psi = rng.normal(size=(3, 2, 2**n)) + 1j * rng.normal(size=(3, 2, 2**n))
        got = _apply(torch.tensor(psi), torch.tensor(m), wires, n, diagonal).numpy()
        for t, b in itertools.product(range(3), range(2)):
            assert np.allclose(got[t, b], _dense(m[b], wires, n) @ psi[t, b])


def _circuit_with_readout() -> NoisyCircuit:
    nc = _small()
    return NoisyCircuit(2, nc.steps, ((0.03, 0.08), (0.05, 0.02)))


class TestEstimator:
    @pytest.mark.parametrize(("first", "target"), [(16, 0.03), (2, 10.0)])
    def test_mean_and_stderr_are_the_documented_formula(self, first: int, target: float) -> None:
        # E = P0 v0 + (1 - P0) mean(v); se = (1 - P0) std(v) / sqrt(T), over every round
        nc = _small()
        res = trajectory_expval(nc, ["Z0", "Z0 Z1"], target_se=target, trajectories=first,
                                seed=4, dtype=C128)  # fmt: skip
        assert (res.trajectories > first) == (target < 1)  # a second round, when needed
        plan = _Plan(nc, None, None, C128, CPU)
        rng = np.random.default_rng(4)
        pats = plan.patterns(first, rng)
        if res.trajectories > first:
            pats += plan.patterns(res.trajectories - first, rng)
        psi0 = np.eye(4)[0]
        z0, z1 = np.array([1, 1, -1, -1]), np.array([1, -1, 1, -1])

        def vals(psi: np.ndarray) -> np.ndarray:
            p = np.abs(psi) ** 2
            return np.array([p @ z0, p @ (z0 * z1)])

        brute = _Brute(plan)
        v = np.array([vals(brute.state(psi0, p)) for p in pats])
        v0 = vals(brute.state(psi0, {}))
        mean = plan.p0 * v0 + (1 - plan.p0) * v.mean(0)
        se = (1 - plan.p0) * v.std(0, ddof=1) / math.sqrt(len(v))
        assert res.no_jump_probability == plan.p0
        assert np.allclose(res.mean[0].numpy(), mean, atol=1e-10)
        assert np.allclose(res.stderr[0].numpy(), se, atol=1e-10)
        assert float(res.stderr.max()) <= target

    @pytest.mark.parametrize("seed", [0, 1])
    def test_within_five_sigma_of_the_density_matrix(self, seed: int) -> None:
        nc = _circuit_with_readout()
        words = ["Z0", "Z1", "Z0 Z1"]
        exact = noisy_circuit_expval(nc, words)
        res = trajectory_expval(nc, words, target_se=0.01, seed=seed)
        assert float(res.stderr.max()) <= 0.01
        assert float(((res.mean.double() - exact).abs() / res.stderr.double()).max()) < 5

    def test_real_states(self) -> None:
        # a real circuit with real channels (bit flips, relaxation) runs on real states
        steps: list[Step] = [_gate(2, "ry", 0, 0.5), PauliNoise((0,), (0.9, 0.1, 0.0, 0.0)),
                             _gate(2, "cnot", 0, 1), Relaxation(1, 0.2, 0.7)]  # fmt: skip
        nc = NoisyCircuit(2, tuple(steps))
        exact = noisy_circuit_expval(nc, ["Z0", "Z1"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the gate table casts its complex matrices
            res = trajectory_expval(nc, ["Z0", "Z1"], dtype=torch.float32, target_se=0.01)
        assert res.mean.dtype == torch.float32
        assert float(((res.mean.double() - exact).abs() / res.stderr.double()).max()) < 5

    def test_amplitude_embedding_as_the_initial_state(self) -> None:
        c = Circuit(2).amplitude_embedding(4, normalize=True).ry(0, 0.3).cnot(0, 1)
        steps: list[Step] = [*c.ops, PauliNoise.depolarizing((0, 1), 0.2), Relaxation(1, 0.3, 0.6)]
        nc = NoisyCircuit(2, tuple(steps))
        x = torch.tensor([[0.1, 0.5, -0.2, 0.7], [0.9, -0.1, 0.3, 0.2]], dtype=torch.float64)
        exact = noisy_circuit_expval(nc, ["Z0", "Z1"], inputs=x)
        res = trajectory_expval(nc, ["Z0", "Z1"], inputs=x, target_se=0.01, seed=1)
        assert float(((res.mean.double() - exact).abs() / res.stderr.double()).max()) < 5
        assert float((exact[0] - exact[1]).abs().max()) > 0.1  # the inputs matter

    def test_three_wire_units(self) -> None:
        nc = _three()
        exact = noisy_circuit_expval(nc, ["Z0", "Z2"])
        res = trajectory_expval(nc, ["Z0", "Z2"], target_se=0.01, seed=3)
        assert float(((res.mean.double() - exact).abs() / res.stderr.double()).max()) < 5

    def test_a_channel_without_identity_part(self) -> None:
        # depolarizing at lam = 4/3 has no identity term: K_0 = 0 has no inverse
        steps: list[Step] = [_gate(1, "h", 0), PauliNoise.depolarizing((0,), 4 / 3),
                             _gate(1, "ry", 0, 0.4), Relaxation(0, 0.2, 0.8)]  # fmt: skip
        nc = NoisyCircuit(1, tuple(steps))
        exact = float(noisy_circuit_expval(nc, ["Z0"])[0, 0])
        res = trajectory_expval(nc, ["Z0"], target_se=0.005, seed=2)
        assert abs(float(res.mean[0, 0]) - exact) < 5 * float(res.stderr[0, 0])
        assert res.no_jump_probability == pytest.approx(0.0, abs=1e-200)

    def test_without_noise_the_result_is_exact(self) -> None:
        nc = NoisyCircuit(2, (_gate(2, "ry", 0, 0.9), _gate(2, "cnot", 0, 1)))
        res = trajectory_expval(nc, ["Z1"])
        assert res.trajectories == 0 and res.no_jump_probability == 1.0
        assert float(res.mean[0, 0]) == pytest.approx(math.cos(0.9), abs=1e-6)
        assert torch.equal(res.stderr, torch.zeros(1, 1))
        # complex128 states take float64 inputs: no float32 rounding of the angle
        x = torch.tensor([[0.1234567891234]], dtype=torch.float64)
        nc = NoisyCircuit(1, (_gate(1, "ry", 0, Input(0)),))
        got = trajectory_expval(nc, ["Z0"], inputs=x, dtype=C128).mean
        assert float(got[0, 0]) == pytest.approx(math.cos(0.1234567891234), abs=1e-14)

    def test_a_channel_that_never_jumps_is_exact(self) -> None:
        steps = (_gate(1, "ry", 0, 0.9), PauliNoise((0,), (1.0, 0.0, 0.0, 0.0)))
        res = trajectory_expval(NoisyCircuit(1, steps), ["Z0"])
        assert res.trajectories == 0 and res.no_jump_probability == 1.0
        assert float(res.mean[0, 0]) == pytest.approx(math.cos(0.9), abs=1e-6)

    def test_rounds_and_their_limits(self) -> None:
        nc = _small()
        assert trajectory_expval(nc, ["Z0"], target_se=10.0, trajectories=24).trajectories == 24
        # a first round of one (at least one), then one more: one pattern's spread is unknown
        assert trajectory_expval(nc, ["Z0"], target_se=10.0, trajectories=0).trajectories == 2
        one = trajectory_expval(nc, ["Z0"], target_se=10.0, trajectories=500, max_trajectories=40)
        assert one.trajectories == 40
        capped = trajectory_expval(nc, ["Z0"], target_se=1e-6, trajectories=8, max_trajectories=37)
        assert capped.trajectories == 37 and float(capped.stderr.max()) > 1e-6
        last = trajectory_expval(nc, ["Z0"], target_se=1e-6, trajectories=8, max_trajectories=9)
        assert last.trajectories == 9  # the last round is one pattern
        res = trajectory_expval(nc, ["Z0"], target_se=0.02, trajectories=8, seed=1)
        assert float(res.stderr.max()) <= 0.02 and res.trajectories > 8


class TestChunksAndMemory:
    def test_chunks_give_the_unchunked_estimates(self) -> None:
        # two samples, then one, per chunk (the same seed in each): the batch's estimates
        x = torch.tensor([[0.1], [0.5], [0.9]])
        steps = (_gate(2, "ry", 1, Input(0)), *_small().steps)
        nc = NoisyCircuit(2, steps, ((0.03, 0.08), (0.05, 0.02)))
        per = trajectory_memory_gb(2, 1, 16)
        whole = trajectory_expval(nc, ["Z0"], inputs=x, trajectories=16, grad=True)
        parts = trajectory_expval(nc, ["Z0"], inputs=x, trajectories=16, grad=True,
                                  max_memory_gb=2.5 * per)  # fmt: skip
        assert torch.allclose(whole.mean, parts.mean, atol=1e-6)
        assert whole.trajectories == parts.trajectories == 16
        assert float((whole.mean[0] - whole.mean[2]).abs().max()) > 0.01  # rows differ

    def test_one_sample_per_chunk_is_that_sample_alone(self) -> None:
        # each chunk adapts on its own samples: a row equals the sample run by itself
        x = torch.tensor([[0.1], [2.5], [0.9]])
        nc = NoisyCircuit(2, (_gate(2, "ry", 1, Input(0)), *_small().steps))
        per = trajectory_memory_gb(2, 1, 16)
        got = trajectory_expval(nc, ["Z0", "Z1"], inputs=x, trajectories=16, target_se=0.03,
                                max_memory_gb=1.5 * per)  # fmt: skip
        solo = [trajectory_expval(nc, ["Z0", "Z1"], inputs=x[i : i + 1], trajectories=16,
                                  target_se=0.03, max_memory_gb=1.5 * per)
                for i in range(3)]  # fmt: skip
        assert torch.equal(got.mean, torch.cat([r.mean for r in solo]))
        assert torch.equal(got.stderr, torch.cat([r.stderr for r in solo]))
        counts = [r.trajectories for r in solo]
        assert len(set(counts)) > 1 and got.trajectories == max(counts)

    @pytest.mark.parametrize(("first", "dtype"), [(16, torch.complex64), (24, C128)])
    def test_rounds_are_no_larger_than_memory_allows(self, first: int, dtype: torch.dtype) -> None:
        # room for `first` trajectories beside the no-jump state: every round holds that many
        nc = _small()
        per = trajectory_memory_gb(2, 1, first, itemsize=16 if dtype == C128 else 8)
        res = trajectory_expval(nc, ["Z0"], trajectories=first, target_se=0.03, dtype=dtype,
                                max_memory_gb=1.0001 * per)  # fmt: skip
        assert res.trajectories > 2 * first and res.trajectories % first == 0

    def test_rounds_under_a_memory_limit_stop_at_the_cap(self) -> None:
        # rounds of 16 (all that fit) and a cap of 40 that is no multiple of 16: the
        # last round is cut to 8, so exactly max_trajectories patterns are drawn
        nc = _small()
        per = trajectory_memory_gb(2, 1, 16)
        res = trajectory_expval(nc, ["Z0"], trajectories=16, target_se=1e-6,
                                max_trajectories=40, max_memory_gb=1.0001 * per)  # fmt: skip
        assert res.trajectories == 40 and float(res.stderr.max()) > 1e-6

    def test_rounds_of_one_stop_at_the_first_count_that_meets_the_target(self) -> None:
        # memory for one trajectory: patterns come one at a time, and the run stops at
        # the first count (of at least two) whose standard error meets the target
        nc = _small()
        per = trajectory_memory_gb(2, 1, 1, itemsize=16)
        res = trajectory_expval(nc, ["Z0"], trajectories=1, target_se=0.05, seed=6,
                                max_memory_gb=1.0001 * per, dtype=C128)  # fmt: skip
        plan = _Plan(nc, None, None, C128, CPU)
        brute, rng, v = _Brute(plan), np.random.default_rng(6), []
        while True:
            (p,) = plan.patterns(1, rng)
            v.append(float(np.abs(brute.state(np.eye(4)[0], p)) ** 2 @ np.array([1, 1, -1, -1])))
            se = (1 - plan.p0) * np.std(v, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else 0.0
            if len(v) > 1 and se <= 0.05:
                break
        assert res.trajectories == len(v) > 2
        assert float(res.stderr[0, 0]) == pytest.approx(se, rel=1e-9)

    def test_the_next_round_aims_at_the_target(self) -> None:
        # 512 patterns estimate the variance well: the next round brings the count to
        # about (se / target)**2 times 512 (with a margin of 10 %), not far past it
        nc = _small()
        se1 = float(trajectory_expval(nc, ["Z0"], target_se=10.0, trajectories=512, seed=2).stderr)
        want = 512 * 4  # the target is half the first round's standard error
        res = trajectory_expval(nc, ["Z0"], target_se=se1 / 2, trajectories=512, seed=2)
        assert float(res.stderr) <= se1 / 2
        assert want <= res.trajectories <= 1.25 * want

    def test_a_spread_of_zero_meets_a_target_of_zero(self) -> None:
        # phase flips on |0>: every pattern gives <Z0> = 1, so the spread is 0 at once
        steps = (_gate(1, "sx", 0), _gate(1, "sx", 0), _gate(1, "x", 0),
                 PauliNoise((0,), (0.7, 0.0, 0.0, 0.3)))  # fmt: skip
        res = trajectory_expval(NoisyCircuit(1, steps), ["Z0"], target_se=0.0, trajectories=16)
        assert res.trajectories == 16 and float(res.stderr) == 0.0
        assert float(res.mean) == pytest.approx(1.0, abs=1e-5)

    def test_the_default_target(self) -> None:
        # target_se defaults to 0.01: the first round of 128 patterns is far from it here
        res = trajectory_expval(_small(), ["Z0"])
        assert res.trajectories > 1000 and float(res.stderr) <= 0.01

    def test_the_default_seed_is_zero(self) -> None:
        nc = _small()
        a = trajectory_expval(nc, ["Z0"], target_se=10.0)
        b = trajectory_expval(nc, ["Z0"], target_se=10.0, seed=0)
        c = trajectory_expval(nc, ["Z0"], target_se=10.0, seed=1)
        assert torch.equal(a.mean, b.mean) and not torch.equal(a.mean, c.mean)

    def test_a_target_of_zero_draws_up_to_the_default_cap(self) -> None:
        # a spread above 0 never meets a target of 0 (this raised ZeroDivisionError):
        # rounds go on to max_trajectories, 16384 by default, and the estimate holds
        steps = (_gate(1, "ry", 0, 0.7), PauliNoise.depolarizing((0,), 0.3))
        nc = NoisyCircuit(1, steps)
        exact = float(noisy_circuit_expval(nc, ["Z0"])[0, 0])
        res = trajectory_expval(nc, ["Z0"], target_se=0.0)
        assert res.trajectories == 16384
        se = float(res.stderr[0, 0])
        assert 0 < se < 0.01 and abs(float(res.mean[0, 0]) - exact) < 5 * se

    def test_the_default_memory_limit_is_two_gib(self) -> None:
        # 128 trajectories of 22 qubits need about 12 GiB per sample: refused before
        # any state is made, naming the default limit of the signature, 2.0 GiB
        nc = NoisyCircuit(22, (_gate(22, "h", 0), PauliNoise.depolarizing((0,), 0.1)))
        need = trajectory_memory_gb(22, 1, 128)
        with pytest.raises(NoiseError) as e:
            trajectory_expval(nc, ["Z0"])
        assert str(e.value) == (
            f"128 trajectories of 22 qubits need about {need:.1f} GiB per sample; "
            "the limit is 2.0 GiB (max_memory_gb)"
        )

    def test_one_pattern_is_not_enough_to_stop(self) -> None:
        # a single pattern's standard error is 0: no evidence that the target is met
        res = trajectory_expval(_small(), ["Z0"], trajectories=1, target_se=0.05)
        assert res.trajectories > 1 and float(res.stderr.max()) <= 0.05

    def test_grad_keeps_the_requested_count_at_the_memory_limit(self) -> None:
        nc = _small()
        x = torch.zeros(4, 1)
        per = trajectory_memory_gb(2, 1, 16)
        res = trajectory_expval(nc, ["Z0"], inputs=x, trajectories=16, grad=True,
                                max_memory_gb=4.0001 * per)  # fmt: skip
        assert res.trajectories == 16

    def test_memory_of_states(self) -> None:
        # three copies of (trajectories + 1) states of 2**n amplitudes
        assert trajectory_memory_gb(30, 1, 0) == 24.0
        assert trajectory_memory_gb(20, 2, 3, itemsize=16) == 3 * 2 * 4 * 16 / 1024

    def test_the_memory_limit_names_its_figures(self) -> None:
        nc = NoisyCircuit(12, (_gate(12, "h", 0), PauliNoise.depolarizing((0,), 0.1)))
        need = trajectory_memory_gb(12, 1, 128)
        with pytest.raises(NoiseError) as e:
            trajectory_expval(nc, max_memory_gb=0.9 * need)
        assert str(e.value) == (
            f"128 trajectories of 12 qubits need about {need:.1f} GiB per sample; "
            f"the limit is {0.9 * need} GiB (max_memory_gb)"
        )
        trajectory_expval(nc, ["Z0"], max_memory_gb=need, target_se=10.0)  # just fits
        need16 = trajectory_memory_gb(12, 1, 128, itemsize=16)
        trajectory_expval(nc, ["Z0"], max_memory_gb=need16, target_se=10.0, dtype=C128)
        with pytest.raises(NoiseError, match="128 trajectories"):  # 16-byte amplitudes
            trajectory_expval(nc, ["Z0"], max_memory_gb=1.1 * need, dtype=C128)
        with pytest.raises(NoiseError, match=r"^40 trajectories"):  # the first round's count
            trajectory_expval(nc, ["Z0"], max_memory_gb=1e-6, trajectories=500,
                              max_trajectories=40)  # fmt: skip
