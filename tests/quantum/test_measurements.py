"""Measurements, sampling and the diagonal-phase helper against closed forms."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    Circuit,
    MeasurementError,
    PauliWord,
    apply_diagonal,
    estimate_expvals,
    expval,
    probabilities,
    sample_bitstrings,
    statevector,
    z_each,
    zz_neighbors,
)
from quarch.quantum.measurements import expval_in_layout, parse_observables


class TestCorrectness:
    def test_diagonal_phase_equals_rz_circuit(self) -> None:
        # C = z_0 (the Z eigenvalue of wire 0): exp(-i g C) = RZ(2g) on wire 0.
        psi = statevector(Circuit(2).h(0).h(1))
        c = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
        got = apply_diagonal(psi, c, 0.4)
        ref = statevector(Circuit(2).h(0).h(1).rz(0, 0.8))
        torch.testing.assert_close(got, ref)

    def test_samples_are_seeded_and_follow_probabilities(self) -> None:
        psi = statevector(Circuit(2).ry(0, 2 * math.acos(math.sqrt(0.8))))
        a = sample_bitstrings(psi, 4000, seed=1)
        assert torch.equal(a, sample_bitstrings(psi, 4000, seed=1))
        assert abs(a[:, 0].double().mean().item() - 0.2) < 0.03
        assert a[:, 1].sum() == 0

    def test_shot_estimates_close_to_exact(self) -> None:
        psi = statevector(Circuit(2).ry(0, 0.7).rx(1, 1.1).cnot(0, 1))
        exact = expval(psi, ["Z0", "X1", "Y1", "Z0 Z1"])
        est = estimate_expvals(psi, ["Z0", "X1", "Y1", "Z0 Z1"], 20000, seed=0)
        assert (est - exact).abs().max() < 0.03


class TestInputs:
    def test_bad_word(self) -> None:
        with pytest.raises(MeasurementError, match="cannot read Pauli term 'Q0'"):
            expval(statevector(Circuit(1)), "Q0")

    def test_wire_out_of_range(self) -> None:
        with pytest.raises(MeasurementError, match=r"acts on wire 4; wires are 0\.\.1"):
            expval(statevector(Circuit(2)), "Z4")


# ---------------------------------------------------------------------------------------
# Against brute force: Pauli words as Kronecker products (wire 0 the leftmost factor,
# quarch's and PennyLane's convention), probabilities and phases in numpy.

_PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]], dtype=complex),
    "Z": np.array([[1, 0], [0, -1]], dtype=complex),
}


def _matrix(letters: str) -> np.ndarray:
    """The Pauli word ``letters[w]`` on wire ``w`` as a dense matrix."""
    out = np.ones((1, 1), dtype=complex)
    for p in letters:
        out = np.kron(out, _PAULI[p])
    return out


def _word(letters: str) -> str:
    """``"XIZ"`` as quarch's ``"X0 Z2"`` (``"I"`` for the identity)."""
    return " ".join(f"{p}{w}" for w, p in enumerate(letters) if p != "I") or "I0"


def _random_states(n: int, batch: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    psi = rng.normal(size=(batch, 2**n)) + 1j * rng.normal(size=(batch, 2**n))
    return psi / np.linalg.norm(psi, axis=1, keepdims=True)


def _brute(psi: np.ndarray, letters: list[str]) -> np.ndarray:
    return np.stack(
        [np.einsum("bi,ij,bj->b", psi.conj(), _matrix(w), psi).real for w in letters], -1
    )


class TestExpvalTruth:
    @pytest.mark.parametrize("n", [1, 2, 3, 4])
    def test_random_words_on_random_states(self, n: int) -> None:
        rng = np.random.default_rng(100 + n)
        letters = ["".join(rng.choice(list("IXYZ"), n)) for _ in range(12)]
        letters += ["Z" * n, "X" * n, "Y" * n, "I" * n]  # each kind surely present
        rng.shuffle(letters)  # diagonal and non-diagonal words interleaved
        psi = _random_states(n, 3, seed=n)
        got = expval(torch.tensor(psi), [_word(w) for w in letters])
        assert got.shape == (3, len(letters)) and got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), _brute(psi, letters), atol=1e-12)
        one = expval(torch.tensor(psi[1]), [_word(w) for w in letters])
        assert one.shape == (len(letters),)
        np.testing.assert_allclose(one.numpy(), _brute(psi[1:2], letters)[0], atol=1e-12)

    def test_default_is_z_on_each_wire(self) -> None:
        psi = _random_states(3, 2, seed=7)
        got = expval(torch.tensor(psi))
        np.testing.assert_allclose(got.numpy(), _brute(psi, ["ZII", "IZI", "IIZ"]), atol=1e-12)

    def test_complex64_states(self) -> None:
        psi = _random_states(2, 2, seed=3)
        got = expval(torch.tensor(psi, dtype=torch.complex64), ["X0 Y1", "Z1", "Y0"])
        assert got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), _brute(psi, ["XY", "IZ", "YI"]), atol=1e-5)

    def test_against_pennylane(self) -> None:
        qml = pytest.importorskip("pennylane")
        psi = _random_states(3, 1, seed=11)[0]

        @qml.qnode(qml.device("default.qubit", wires=3))
        def run() -> object:
            qml.StatePrep(psi, wires=range(3))
            return [
                qml.expval(qml.PauliX(0) @ qml.PauliY(2)),
                qml.expval(qml.PauliZ(1)),
                qml.expval(qml.PauliY(0) @ qml.PauliZ(1) @ qml.PauliX(2)),
            ]

        ref = np.array([float(v) for v in run()])  # type: ignore[union-attr]
        got = expval(torch.tensor(psi), ["X0 Y2", "Z1", "Y0 Z1 X2"])
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-12)

    @pytest.mark.parametrize("layout", [(1, 0, 2), (2, 0, 1), (2, 1, 0)], ids=str)
    def test_a_state_stored_in_another_layout(self, layout: tuple[int, int, int]) -> None:
        # stored axis k holds wire layout[k]
        psi = _random_states(3, 2, seed=5)
        stored = psi.reshape(2, 2, 2, 2).transpose(0, *(1 + w for w in layout)).reshape(2, 8)
        letters = ["ZII", "IXI", "IIY", "XYZ", "ZZI", "YIX"]
        words = parse_observables([_word(w) for w in letters], 3)
        got = expval_in_layout(torch.tensor(stored), words, layout)
        np.testing.assert_allclose(got.numpy(), _brute(psi, letters), atol=1e-12)


class TestObservables:
    def test_spellings_of_one_word(self) -> None:
        want = PauliWord(((0, "Z"), (2, "X")))
        spellings: list[str | PauliWord | dict[int, str]] = [
            "Z0 X2",
            "x2 z0",
            "Z0 @ X2",
            "I1 Z0 X2",
            "z0@x2",
            {2: "x", 0: "Z", 1: "i"},
            want,
        ]
        for obs in spellings:
            assert parse_observables(obs, 3) == (want,), obs

    def test_several_words_keep_their_order(self) -> None:
        got = parse_observables(["X1", "Z0 Z1", {0: "Y"}], 2)
        assert got == (
            PauliWord(((1, "X"),)),
            PauliWord(((0, "Z"), (1, "Z"))),
            PauliWord(((0, "Y"),)),
        )

    def test_none_is_z_on_each_wire(self) -> None:
        assert parse_observables(None, 3) == tuple(PauliWord(((w, "Z"),)) for w in range(3))

    def test_identity(self) -> None:
        (word,) = parse_observables("I0", 2)
        assert word.terms == () and word.is_diagonal and str(word) == "I"
        psi = torch.tensor(_random_states(2, 1, seed=1)[0])
        torch.testing.assert_close(expval(psi, ["I0", {}]), torch.ones(2, dtype=torch.float64))

    def test_words_print_and_know_if_diagonal(self) -> None:
        assert str(PauliWord(((0, "X"), (3, "Z")))) == "X0 Z3"
        assert PauliWord(((0, "Z"), (3, "Z"))).is_diagonal
        assert not PauliWord(((0, "Z"), (3, "Y"))).is_diagonal
        assert not PauliWord(((0, "X"),)).is_diagonal

    def test_parsed_words_are_checked_too(self) -> None:
        words = (PauliWord(((0, "Z"),)), PauliWord(((3, "X"),)))
        assert parse_observables(words, 4) == words
        with pytest.raises(MeasurementError, match=r"acts on wire 3; wires are 0\.\.2"):
            parse_observables(words, 3)
        with pytest.raises(MeasurementError, match="Pauli letter must be I, X, Y or Z; got 'Q'"):
            parse_observables((PauliWord(((0, "Q"),)),), 2)

    @pytest.mark.parametrize(
        ("obs", "match"),
        [
            ("Z0 Q1", r"^cannot read Pauli term 'Q1' in 'Z0 Q1'; write words like 'Z0 Z1' "
                      r"or 'X0 Y2' \(a letter I/X/Y/Z followed by a wire\)$"),
            ("Z", "cannot read Pauli term 'Z'"),
            ("Z-1", "cannot read Pauli term 'Z-1'"),
            ("ZZ0", "cannot read Pauli term 'ZZ0'"),
            ("Z0x", "cannot read Pauli term 'Z0x'"),
            ({0: "Q"}, "Pauli letter must be I, X, Y or Z; got 'Q'"),
            ({-1: "Z"}, r"acts on wire -1; wires are 0\.\.1"),
            ("X2", r"acts on wire 2; wires are 0\.\.1"),
            ("Z0 X0", "names a wire twice"),
            ({0: "Z", "0": "X"}, "names a wire twice"),
            ([5], "an observable must be a str like 'Z0 Z1' or a dict; got 5"),
            ([], "^observables must name at least one Pauli word$"),
        ],
        ids=["letter", "no-wire", "negative", "two-letters", "trailing", "dict-letter",
             "dict-negative", "wire", "twice", "twice-dict", "type", "empty"],
    )  # fmt: skip
    def test_bad_observables(self, obs: object, match: str) -> None:
        with pytest.raises(MeasurementError, match=match):
            parse_observables(obs, 2)  # type: ignore[arg-type]

    def test_observable_lists(self) -> None:
        assert z_each(3) == ["Z0", "Z1", "Z2"]
        assert z_each(1) == ["Z0"]
        assert zz_neighbors(4) == ["Z0 Z1", "Z1 Z2", "Z2 Z3"]
        assert zz_neighbors(4, ring=True) == ["Z0 Z1", "Z1 Z2", "Z2 Z3", "Z3 Z0"]
        assert zz_neighbors(3, ring=True) == ["Z0 Z1", "Z1 Z2", "Z2 Z0"]
        assert zz_neighbors(2, ring=True) == ["Z0 Z1"]  # the ring of two is one pair
        assert zz_neighbors(1, ring=True) == []


class TestStates:
    def test_probabilities(self) -> None:
        psi = _random_states(3, 2, seed=2)
        got = probabilities(torch.tensor(psi))
        np.testing.assert_allclose(got.numpy(), np.abs(psi) ** 2, atol=1e-15)
        assert got.dtype == torch.float64
        one = probabilities(torch.tensor(psi[0], dtype=torch.complex64))
        assert one.shape == (8,) and one.dtype == torch.float32
        np.testing.assert_allclose(one.numpy(), np.abs(psi[0]) ** 2, atol=1e-6)

    @pytest.mark.parametrize(
        ("state", "match"),
        [
            (np.ones(4), r"must be a tensor \[2\*\*n\] or \[batch, 2\*\*n\]"),
            (torch.ones(1, 2, 4), r"must be a tensor \[2\*\*n\] or \[batch, 2\*\*n\]"),
            (torch.ones(()), r"must be a tensor \[2\*\*n\] or \[batch, 2\*\*n\]"),
            (torch.ones(6), r"length must be a power of 2 \(>= 2\); got 6"),
            (torch.ones(2, 3), r"length must be a power of 2 \(>= 2\); got 3"),
            (torch.ones(1), r"length must be a power of 2 \(>= 2\); got 1"),
            (torch.ones(0), r"length must be a power of 2 \(>= 2\); got 0"),
        ],
        ids=["numpy", "3d", "scalar", "six", "batch-of-three", "one", "empty"],
    )
    def test_bad_states(self, state: Any, match: str) -> None:
        # every entry point names the argument ("state") at the start of its message
        calls: list[Callable[[Any], object]] = [
            probabilities,
            expval,
            lambda s: apply_diagonal(s, torch.ones(4)),
        ]
        if not isinstance(state, torch.Tensor) or state.dim() == 1:
            calls += [
                lambda s: sample_bitstrings(s, 10),
                lambda s: estimate_expvals(s, "Z0", 10),
            ]
        for f in calls:
            with pytest.raises(MeasurementError, match="^state " + match):
                f(state)

    def test_smallest_state(self) -> None:
        psi = torch.tensor([0.6, 0.8j], dtype=torch.complex128)
        torch.testing.assert_close(
            probabilities(psi), torch.tensor([0.36, 0.64], dtype=torch.float64)
        )
        torch.testing.assert_close(expval(psi), torch.tensor([-0.28], dtype=torch.float64))


class TestApplyDiagonal:
    def test_phase_is_exp_minus_i_gamma_c(self) -> None:
        psi = _random_states(3, 2, seed=4)
        c = np.random.default_rng(0).normal(size=8)
        got = apply_diagonal(torch.tensor(psi), torch.tensor(c), 0.7)
        np.testing.assert_allclose(got.numpy(), psi * np.exp(-0.7j * c), atol=1e-14, rtol=0)
        one = apply_diagonal(
            torch.tensor(psi[1]), c.tolist(), torch.tensor(-1.3, dtype=torch.float64)
        )  # type: ignore[arg-type]
        np.testing.assert_allclose(one.numpy(), psi[1] * np.exp(1.3j * c), atol=1e-14, rtol=0)

    def test_python_costs_are_read_at_the_states_precision(self) -> None:
        # a list of costs must not be rounded to torch's float32 default first
        psi = _random_states(3, 1, seed=21)[0]
        c = np.random.default_rng(1).normal(size=8) * 10
        want = psi * np.exp(-0.9j * c)
        got = apply_diagonal(torch.tensor(psi), c.tolist(), 0.9)  # type: ignore[arg-type]
        np.testing.assert_allclose(got.numpy(), want, atol=1e-13, rtol=0)

    def test_default_gamma_is_one(self) -> None:
        psi = _random_states(2, 1, seed=6)[0]
        c = np.array([0.0, 1.0, -2.0, 0.5])
        got = apply_diagonal(torch.tensor(psi), torch.tensor(c))
        np.testing.assert_allclose(got.numpy(), psi * np.exp(-1j * c), atol=1e-14, rtol=0)

    def test_one_gamma_per_state(self) -> None:
        psi = _random_states(2, 3, seed=8)
        c = np.array([1.0, -1.0, 2.0, 0.0])
        g = np.array([0.1, -0.4, 2.5])
        got = apply_diagonal(torch.tensor(psi), torch.tensor(c), torch.tensor(g))
        np.testing.assert_allclose(
            got.numpy(), psi * np.exp(-1j * g[:, None] * c), atol=1e-14, rtol=0
        )

    def test_a_complex64_state_stays_complex64(self) -> None:
        psi = _random_states(2, 2, seed=19)
        c = np.array([0.25, -1.5, 0.75, 3.0])  # float64 costs
        got = apply_diagonal(torch.tensor(psi, dtype=torch.complex64), torch.tensor(c), 0.6)
        assert got.dtype == torch.complex64
        np.testing.assert_allclose(got.numpy(), psi * np.exp(-0.6j * c), atol=1e-6)

    def test_complex64_and_integer_costs(self) -> None:
        psi = _random_states(2, 1, seed=9)
        c = torch.tensor([0, 1, 3, -2])
        got = apply_diagonal(torch.tensor(psi, dtype=torch.complex64), c, 0.3)
        assert got.dtype == torch.complex64
        np.testing.assert_allclose(got.numpy(), psi * np.exp(-0.3j * c.numpy()), atol=1e-6)

    def test_gradients_in_gamma_and_cost(self) -> None:
        # f = Re <v|exp(-i g C)|psi>: df/dg = Re <v|-i C e^{..}|psi>, df/dC_k likewise
        psi = _random_states(2, 1, seed=10)[0]
        v = _random_states(2, 1, seed=12)[0]
        c = np.array([0.3, -1.0, 0.8, 2.0])
        g = 0.45
        gt = torch.tensor(g, dtype=torch.float64, requires_grad=True)
        ct = torch.tensor(c, requires_grad=True)
        out = apply_diagonal(torch.tensor(psi), ct, gt)
        (torch.tensor(v).conj() * out).sum().real.backward()
        terms = v.conj() * np.exp(-1j * g * c) * psi
        assert gt.grad is not None and ct.grad is not None
        np.testing.assert_allclose(gt.grad.item(), (terms * -1j * c).sum().real, atol=1e-12)
        np.testing.assert_allclose(ct.grad.numpy(), (terms * -1j * g).real, atol=1e-12)

    def test_diagonal_must_match_the_state(self) -> None:
        one = torch.tensor(_random_states(2, 1, seed=1)[0])
        with pytest.raises(
            MeasurementError, match=r"^diagonal must have shape \(4,\) .*got \(2,\)$"
        ):
            apply_diagonal(one, torch.ones(2))
        psi = torch.tensor(_random_states(2, 2, seed=1))
        with pytest.raises(MeasurementError, match=r"diagonal must have shape \(4,\) .*got \(8,\)"):
            apply_diagonal(psi, torch.ones(8))
        with pytest.raises(MeasurementError, match=r"got \(2, 4\)"):
            apply_diagonal(psi, torch.ones(2, 4))
        with pytest.raises(MeasurementError, match="must be a tensor"):
            apply_diagonal(psi.numpy(), torch.ones(4))  # type: ignore[arg-type]

    def test_gamma_batch_must_match_the_states(self) -> None:
        psi = torch.tensor(_random_states(2, 2, seed=1))
        with pytest.raises(MeasurementError, match=r"gamma with shape \(3,\) needs a state batch"):
            apply_diagonal(psi, torch.ones(4), torch.ones(3))
        with pytest.raises(MeasurementError, match=r"got state shape \(4,\)"):
            apply_diagonal(psi[0], torch.ones(4), torch.ones(1))


class TestSampling:
    def test_bits_spell_the_basis_state_wire_0_first(self) -> None:
        for k in range(8):
            state = torch.zeros(8, dtype=torch.complex128)
            state[k] = torch.tensor(1j)
            bits = sample_bitstrings(state, 5, seed=0)
            assert bits.dtype == torch.int64 and bits.shape == (5, 3)
            want = [(k >> 2) & 1, (k >> 1) & 1, k & 1]
            assert bits.tolist() == [want] * 5

    def test_frequencies_follow_the_probabilities(self) -> None:
        psi = _random_states(3, 1, seed=13)[0]
        p = np.abs(psi) ** 2
        shots = 40000
        bits = sample_bitstrings(torch.tensor(psi), shots, seed=3).numpy()
        idx = bits @ np.array([4, 2, 1])
        freq = np.bincount(idx, minlength=8) / shots
        assert np.all(np.abs(freq - p) < 5 * np.sqrt(p * (1 - p) / shots) + 1e-9)

    def test_probabilities_given_directly(self) -> None:
        # unnormalised, with a negative rounding error that must count as zero
        p = torch.tensor([-1e-3, 0.0, 3.0, 1.0], dtype=torch.float32)
        bits = sample_bitstrings(p, 20000, seed=1, probs=True)
        idx = (2 * bits[:, 0] + bits[:, 1]).numpy()
        assert set(idx.tolist()) <= {2, 3}
        assert abs((idx == 2).mean() - 0.75) < 0.02

    def test_weights_of_any_scale_and_precision(self) -> None:
        # unnormalised weights far from 1, and half-precision weights whose total
        # overflows half precision (80000 > 65504): each is normalised in float64
        for p in (
            torch.tensor([1e-180, 3e-180], dtype=torch.float64),
            torch.tensor([2e4, 6e4], dtype=torch.float16),
        ):
            bits = sample_bitstrings(p, 8000, seed=2, probs=True)
            assert abs(bits[:, 0].double().mean().item() - 0.75) < 0.025

    def test_seeds(self) -> None:
        psi = torch.tensor(_random_states(4, 1, seed=14)[0])
        a = sample_bitstrings(psi, 200, seed=5)
        assert torch.equal(a, sample_bitstrings(psi, 200, seed=5))
        assert not torch.equal(a, sample_bitstrings(psi, 200, seed=6))
        torch.manual_seed(0)
        b = sample_bitstrings(psi, 200)
        torch.manual_seed(0)
        assert not torch.equal(b, sample_bitstrings(psi, 200))  # fresh entropy, not torch's seed

    @pytest.mark.parametrize(
        "f", [sample_bitstrings, estimate_expvals], ids=["samples", "estimates"]
    )
    def test_unseeded_calls_leave_torchs_global_generator_alone(self, f: Any) -> None:
        # a user's torch.manual_seed(0) must still fix the draws that follow the call
        psi = torch.tensor(_random_states(2, 1, seed=18)[0])
        args = (psi, 10) if f is sample_bitstrings else (psi, "X0", 10)
        draws = []
        for _ in range(2):
            torch.manual_seed(0)
            f(*args)
            draws.append(torch.rand(5))
        assert torch.equal(draws[0], draws[1])

    def test_a_state_on_autograd_and_one_shot(self) -> None:
        psi = torch.tensor([0.0, 1.0, 0.0, 0.0], dtype=torch.complex128, requires_grad=True)
        assert sample_bitstrings(psi, 1, seed=0).tolist() == [[0, 1]]

    @pytest.mark.parametrize(
        "shots", [0, -3, True, 2.0, "10"], ids=["zero", "negative", "bool", "float", "str"]
    )
    def test_bad_shot_counts(self, shots: object) -> None:
        with pytest.raises(ValueError, match="shots must be an integer >= 1"):
            sample_bitstrings(torch.ones(2), shots)  # type: ignore[arg-type]

    def test_one_state_only(self) -> None:
        with pytest.raises(MeasurementError, match=r"takes one state \[2\*\*n\]; got \(2, 4\)"):
            sample_bitstrings(torch.ones(2, 4), 10)
        with pytest.raises(MeasurementError, match="length must be a power of 2"):
            sample_bitstrings(torch.ones(3), 10)


class TestEstimates:
    @pytest.mark.parametrize(
        ("prep", "word", "value"),
        [
            ("h0", "X0", 1.0),
            ("x0 h0", "X0", -1.0),
            ("h0 s0", "Y0", 1.0),
            ("h0 sdg0", "Y0", -1.0),
            ("x0", "Z0", -1.0),
            ("h2", "X2", 1.0),
            ("x0 h1 s1", "Z0 Y1", -1.0),
            ("h0 s0 x1 h1 h2", "Y0 X1 X2", -1.0),
            ("h0 h1", "X0 X1", 1.0),
            ("x1", "I0", 1.0),
        ],
        ids=["+", "-", "+i", "-i", "one", "wire-2", "ZY", "YXX", "XX", "identity"],
    )
    def test_eigenstates_give_exact_estimates(self, prep: str, word: str, value: float) -> None:
        c = Circuit(3)
        for tok in prep.split():
            getattr(c, tok[:-1])(int(tok[-1]))
        psi = statevector(c)
        est = estimate_expvals(psi, [word], 50, seed=2)
        assert est.dtype == torch.float64
        assert est.tolist() == [value]
        assert expval(psi, word).item() == pytest.approx(value)  # the eigenvalue itself

    def test_estimates_against_brute_force(self) -> None:
        psi = _random_states(3, 1, seed=15)[0]
        letters = ["XIZ", "IYI", "ZZX", "YXY", "IIZ"]
        shots = 20000
        est = estimate_expvals(torch.tensor(psi), [_word(w) for w in letters], shots, seed=4)
        exact = _brute(psi[None], letters)[0]
        assert np.all(np.abs(est.numpy() - exact) < 5 / np.sqrt(shots))

    def test_complex64_and_real_states_in_rotated_bases(self) -> None:
        psi = _random_states(2, 1, seed=20)[0]
        letters = ["XI", "IY", "XY"]
        exact = _brute(psi[None], letters)[0]
        est = estimate_expvals(
            torch.tensor(psi, dtype=torch.complex64), [_word(w) for w in letters], 20000, seed=3
        )
        assert np.all(np.abs(est.numpy() - exact) < 0.035)
        # a real amplitude vector: |++>, an eigenstate of X0 X1 and X1 (eigenvalue 1)
        est = estimate_expvals(torch.full((4,), 0.5, dtype=torch.float64), ["X0 X1", "X1"], 50)
        assert est.tolist() == [1.0, 1.0]

    def test_default_words_and_complex64(self) -> None:
        psi = _random_states(2, 1, seed=16)[0]
        est = estimate_expvals(torch.tensor(psi, dtype=torch.complex64), None, 20000, seed=1)
        exact = _brute(psi[None], ["ZI", "IZ"])[0]
        assert est.shape == (2,) and np.all(np.abs(est.numpy() - exact) < 0.035)

    def test_parsed_words_as_a_tuple(self) -> None:
        # a tuple of dicts or strings is parsed like a list (dicts are not hashable)
        got = parse_observables(({0: "Z"}, "X1", {1: "Y"}), 2)
        assert got == (PauliWord(((0, "Z"),)), PauliWord(((1, "X"),)), PauliWord(((1, "Y"),)))

    def test_seeded_and_each_word_sampled_anew(self) -> None:
        psi = torch.tensor(_random_states(2, 1, seed=17)[0])
        words = ["X0", "X0", "Y1", "Y1"]
        a = estimate_expvals(psi, words, 300, seed=9)
        assert torch.equal(a, estimate_expvals(psi, words, 300, seed=9))
        assert a[0] != a[1] and a[2] != a[3]  # independent shots per word, as on hardware
        assert not torch.equal(a, estimate_expvals(psi, words, 300, seed=10))
        b = estimate_expvals(psi, words, 300)
        assert b.shape == (4,) and bool((b.abs() <= 1).all())

    def test_one_state_only(self) -> None:
        with pytest.raises(MeasurementError, match=r"takes one state \[2\*\*n\]; got \(2, 4\)"):
            estimate_expvals(torch.ones(2, 4), "Z0", 10)
        with pytest.raises(MeasurementError, match="must be a tensor"):
            estimate_expvals(np.ones(4), "Z0", 10)  # type: ignore[arg-type]
