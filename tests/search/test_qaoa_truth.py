"""QAOA against independent truth: its states against Qiskit circuits built from the
cost Hamiltonian (a ``SparsePauliOp``) and from the diagonal, its costs against brute
force over every bitstring, the angle optimiser's first Adam step against gradients
taken here, its measurements against the exact distribution (chi-square), and every
refused argument with its exact message.

Qiskit orders qubits little-endian; quarch's wire 0 is the most significant bit, so
wire ``j`` is Qiskit qubit ``n - 1 - j`` and basis indices then agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit.library import DiagonalGate, PauliEvolutionGate
from qiskit.quantum_info import SparsePauliOp, Statevector

from quarch.objectives import Objective
from quarch.search import QAOASampler, QAOASolver, QUBOSampler, Register, make_sampler
from quarch.search._qaoa import optimize_qaoa, qaoa_probs
from quarch.search._surrogate import single_thread

from ._reference import (
    BUDGET,
    SPACE,
    cheap,
    chi_square_p,
    narrow_register_is_refused_when_called,
    solves_each_problem_on_the_register,
    standardized,
    trace,
)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def _bits(n: int) -> np.ndarray:
    """Every bitstring of ``n`` bits, ``(2**n, n)``, bit 0 the most significant."""
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)


def _qubo(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A random upper-triangular QUBO and its cost on every bitstring (brute force)."""
    Q = np.triu(np.random.default_rng(seed).standard_normal((n, n)))
    X = _bits(n)
    return Q, np.array([x @ Q @ x for x in X])


def _hamiltonian(Q: np.ndarray) -> SparsePauliOp:
    """``sum_ij Q_ij x_i x_j`` with ``x_j = (1 - Z_j) / 2`` on Qiskit qubit ``n - 1 - j``."""
    n = Q.shape[0]

    def x(j: int) -> SparsePauliOp:
        z = ["I"] * n
        z[j] = "Z"  # Pauli labels are written most significant qubit first
        return 0.5 * (SparsePauliOp("I" * n) - SparsePauliOp("".join(z)))

    op = SparsePauliOp("I" * n, coeffs=[0.0])
    for i, j in itertools.product(range(n), repeat=2):
        if Q[i, j]:
            op = op + Q[i, j] * x(i).compose(x(j))
    return op.simplify()


def _qiskit_diag_probs(C: np.ndarray, gammas: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """QAOA from the diagonal: H on every qubit, then per layer ``diag(exp(-i g C))``
    and ``RX(2 b)`` on every qubit."""
    n = int(C.size).bit_length() - 1
    qc = QuantumCircuit(max(n, 1))
    if n == 0:
        return np.ones(1)
    qc.h(range(n))
    for g, b in zip(gammas, betas, strict=True):
        qc.append(DiagonalGate(list(np.exp(-1j * g * C))), range(n))
        qc.rx(2 * b, range(n))
    return np.asarray(Statevector(qc).probabilities())


def _dense_energy(Cs: np.ndarray, x: np.ndarray, p: int) -> float:
    return float(_qiskit_diag_probs(Cs, x[:p], x[p:]) @ Cs)


class TestStateAgainstQiskit:
    @pytest.mark.parametrize(("n", "p"), [(1, 1), (2, 3), (3, 2), (4, 1)])
    def test_probabilities_of_any_diagonal(self, n: int, p: int) -> None:
        rng = np.random.default_rng(10 * n + p)
        C = rng.normal(0, 2, 2**n)  # no symmetry between the bits: the order is checked
        g, b = rng.uniform(-1.5, 1.5, p), rng.uniform(-1.5, 1.5, p)
        got = qaoa_probs(C, g, b)
        assert got.shape == (2**n,)
        np.testing.assert_allclose(got, _qiskit_diag_probs(C, g, b), rtol=0, atol=1e-10)

    def test_expected_cost_is_the_cost_hamiltonian(self) -> None:
        n, p = 4, 2
        Q, C = _qubo(n, 3)
        H = _hamiltonian(Q)
        # the Hamiltonian's diagonal is the brute-force cost of every bitstring
        np.testing.assert_allclose(np.diag(H.to_matrix()).real, C, atol=1e-12)
        g, b = np.array([0.4, -0.7]), np.array([0.9, 0.25])
        qc = QuantumCircuit(n)
        qc.h(range(n))
        for layer in range(p):
            qc.append(PauliEvolutionGate(H, time=g[layer]), range(n))  # exp(-i g H)
            qc.rx(2 * b[layer], range(n))
        sv = Statevector(qc.decompose(reps=2))  # exp(-i g H) as Pauli rotations
        probs = qaoa_probs(C, g, b)
        np.testing.assert_allclose(probs, sv.probabilities(), rtol=0, atol=1e-10)
        assert probs @ C == pytest.approx(sv.expectation_value(H).real, abs=1e-9)

    def test_a_batch_of_angles_is_row_by_row(self) -> None:
        rng = np.random.default_rng(5)
        C = rng.normal(size=8)
        G, B = rng.uniform(-1, 1, (3, 2)), rng.uniform(-1, 1, (3, 2))
        got = qaoa_probs(C, G, B)
        assert got.shape == (3, 8)
        for i in range(3):
            np.testing.assert_allclose(got[i], _qiskit_diag_probs(C, G[i], B[i]), atol=1e-10)
        one = qaoa_probs(C, G[:1], B[:1])  # a batch of one stays a batch
        assert one.shape == (1, 8)
        np.testing.assert_allclose(one[0], got[0], atol=1e-12)

    def test_single_precision_inputs_are_computed_in_double(self) -> None:
        rng = np.random.default_rng(6)
        C = rng.normal(0, 3, 16).astype(np.float32)
        g, b = rng.uniform(-1, 1, 2).astype(np.float32), rng.uniform(-1, 1, 2).astype(np.float32)
        want = _qiskit_diag_probs(C.astype(float), g.astype(float), b.astype(float))
        np.testing.assert_allclose(qaoa_probs(C, g, b), want, rtol=0, atol=1e-12)
        Ci, gi, bi = C.astype(int), np.array([1, 2]), np.array([0, 1])  # integers too
        want = _qiskit_diag_probs(Ci.astype(float), gi.astype(float), bi.astype(float))
        np.testing.assert_allclose(qaoa_probs(Ci, gi, bi), want, rtol=0, atol=1e-12)

    def test_no_layer_is_the_uniform_superposition(self) -> None:
        got = qaoa_probs(np.arange(8.0), np.zeros(0), np.zeros(0))
        np.testing.assert_allclose(got, np.full(8, 1 / 8), rtol=0, atol=1e-15)

    def test_refusals_name_both_shapes(self) -> None:
        with pytest.raises(ValueError) as e:
            qaoa_probs(np.zeros(4), np.zeros((1, 2)), np.zeros((1, 3)))
        assert str(e.value) == "gammas and betas must have the same shape; got (1, 2), (1, 3)"
        with pytest.raises(ValueError) as e:
            qaoa_probs(np.zeros(12), np.zeros(1), np.zeros(1))
        assert str(e.value) == "C must have length 2**n; got 12"


class TestAngleOptimiser:
    def test_the_start_is_a_linear_ramp(self) -> None:
        """``steps=0`` returns the start: ``gamma`` rising and ``beta`` falling along
        ``t_l = (l + 1/2) / p`` (annealing-like), and its standardised expected cost."""
        _, C = _qubo(4, 1)
        for p in (1, 3, 4):
            g, b, f = optimize_qaoa(C, p, steps=0)
            assert g.shape == b.shape == (p,)
            t = (np.arange(p) + 0.5) / p
            scale = g[0] / t[0]
            np.testing.assert_allclose(g, scale * t, rtol=1e-12)
            np.testing.assert_allclose(b, scale * (1 - t), rtol=1e-12)
            assert 0 < scale < 2
            assert f == pytest.approx(_dense_energy(standardized(C), np.r_[g, b], p), abs=1e-10)

    def test_a_given_start_is_kept_at_zero_steps(self) -> None:
        _, C = _qubo(3, 2)
        x0 = np.array([0.3, -0.2, 0.8, 0.1])
        g, b, f = optimize_qaoa(C, 2, steps=0, x0=x0)
        np.testing.assert_array_equal(np.r_[g, b], x0)
        assert f == pytest.approx(_dense_energy(standardized(C), x0, 2), abs=1e-10)

    @pytest.mark.parametrize("seed", range(3))
    def test_first_step_goes_down_the_true_gradient(self, seed: int) -> None:
        """Adam's first step is ``lr * sign(grad)`` per angle; the gradient is taken
        here by central differences of Qiskit's expected standardised cost."""
        _, C = _qubo(4, 20 + seed)
        Cs = standardized(C)
        p, lr = 2, 0.01
        x0 = np.random.default_rng(seed).uniform(0.1, 0.9, 2 * p)
        h = 1e-5
        grad = np.array(
            [
                (_dense_energy(Cs, x0 + h * e, p) - _dense_energy(Cs, x0 - h * e, p)) / (2 * h)
                for e in np.eye(2 * p)
            ]
        )
        assert np.abs(grad).min() > 1e-3  # every sign well defined
        g, b, f = optimize_qaoa(C, p, steps=1, lr=lr, x0=x0)
        x1 = x0 - lr * np.sign(grad)
        np.testing.assert_allclose(np.r_[g, b], x1, rtol=0, atol=1e-6)
        assert f == pytest.approx(_dense_energy(Cs, x1, p), abs=1e-9)
        assert f < _dense_energy(Cs, x0, p)

    def test_defaults_are_30_steps_of_size_0_05(self) -> None:
        _, C = _qubo(3, 9)
        got = optimize_qaoa(C, 1)
        want = optimize_qaoa(C, 1, steps=30, lr=0.05)
        np.testing.assert_array_equal(np.r_[got[0], got[1]], np.r_[want[0], want[1]])
        other = optimize_qaoa(C, 1, steps=31, lr=0.05)
        assert got[2] == want[2] != other[2]  # one more step moves on: the 30 is checked

    def test_angles_do_not_depend_on_the_scale_of_the_cost(self) -> None:
        """``C`` is standardised: an affine change of the cost leaves the angles."""
        _, C = _qubo(4, 4)
        g1, b1, f1 = optimize_qaoa(C, 2, steps=8, lr=0.1)
        g2, b2, f2 = optimize_qaoa(7.5 * C - 3.0, 2, steps=8, lr=0.1)
        np.testing.assert_allclose(np.r_[g1, b1], np.r_[g2, b2], atol=1e-6)
        assert f1 == pytest.approx(f2, abs=1e-8)


class TestSolver:
    def test_measurements_follow_the_optimised_state(self) -> None:
        """The solver measures the state at the optimised angles: the counts of 6000
        shots against Qiskit's probabilities there (a broken sampler, unstandardised
        cost or other angles fail by far)."""
        _, C = _qubo(4, 6)
        solver = QAOASolver(p=2, steps=5, lr=0.1, shots=6000)
        g, b, _ = optimize_qaoa(C, 2, steps=5, lr=0.1)
        exact = _qiskit_diag_probs(standardized(C), g, b)
        codes, counters = solver._circuit(C, 0.0, np.random.default_rng(0))
        assert counters == {}
        assert codes.shape == (6000,)
        assert chi_square_p(codes, exact) > 1e-3
        # the optimised state is far from uniform: the test can tell them apart
        assert chi_square_p(codes, np.full(16, 1 / 16)) < 1e-9

    def test_seeded_measurements_repeat(self) -> None:
        _, C = _qubo(3, 8)
        solver = QAOASolver(p=1, steps=2, shots=50)
        a, _ = solver._circuit(C, 0.0, np.random.default_rng(3))
        b, _ = solver._circuit(C, 0.0, np.random.default_rng(3))
        c, _ = solver._circuit(C, 0.0, np.random.default_rng(4))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    @pytest.mark.parametrize(
        ("kw", "message"),
        [
            ({"p": 0}, "p must be an integer >= 1; got 0"),
            ({"steps": -1}, "steps must be an integer >= 0; got -1"),
            ({"lr": 0.0}, "lr must be in (0.0, 1.0]; got 0.0"),
            ({"lr": 1.5}, "lr must be in (0.0, 1.0]; got 1.5"),
            ({"shots": 0}, "shots must be an integer >= 1; got 0"),
        ],
    )
    def test_refusals(self, kw: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError) as e:
            QAOASolver(**kw)
        assert str(e.value) == message
        with pytest.raises(ValueError) as e:
            QAOASampler(**kw)
        assert str(e.value) == message

    def test_solves_each_problem_on_the_register(self) -> None:
        solves_each_problem_on_the_register(QAOASolver())

    def test_a_register_too_narrow_is_refused_when_called(self) -> None:
        narrow_register_is_refused_when_called(lambda reg: QAOASolver(register=reg), "qaoa")

    def test_boundaries_are_accepted(self) -> None:
        s = QAOASolver(p=1, steps=0, lr=1.0, shots=1)
        assert (s.p, s.steps, s.lr, s.shots) == (1, 0, 1.0, 1)
        assert repr(s.register) == repr(Register())


# -- the sampler is the documented composition -----------------------------------------
def _composed(**kw: Any) -> QUBOSampler:
    """``QUBOSampler`` with a ``QAOASolver``: what ``QAOASampler`` is documented as."""
    solver = {k: kw.pop(k) for k in ("p", "steps", "lr", "shots") if k in kw}
    reg = {k: kw.pop(k) for k in ("encoding", "max_qubits", "decompose", "rounds") if k in kw}
    return QUBOSampler(solver=QAOASolver(register=Register(**reg), **solver), **kw)


class TestSampler:
    def test_defaults(self) -> None:
        """One Thompson sample per batch of 10 after 10 random trials, exploration 0.5,
        BOCS with budget strength 4, a 12-qubit binary register, 2 layers."""
        documented: dict[str, Any] = {
            "thompson": "batch", "batch_size": 10, "n_startup": 10, "exploration": 0.5,
            "surrogate": "bocs", "strength": 4.0, "encoding": "binary", "max_qubits": 12,
            "decompose": True, "rounds": 1,
        }  # fmt: skip
        common: dict[str, Any] = {"seed": 3, "search_space": SPACE.distributions(),
                                  "objective": BUDGET, "cheap_metrics": cheap}  # fmt: skip
        got = trace(QAOASampler(**common), 21, 31)
        assert got == trace(_composed(**documented, **common), 21, 31)
        # in this run the budget's strength changes the search (so the 4 is checked)
        assert got != trace(_composed(**{**documented, "strength": 5.0}, **common), 21, 31)
        solver: Any = QAOASampler().solver
        assert (solver.p, solver.steps, solver.lr, solver.shots) == (2, 20, 0.05, 128)
        assert repr(solver.register) == repr(Register())
        # the sampler's defaults are its solver's ("see QAOASolver")
        solver = QAOASolver()
        assert (solver.p, solver.steps, solver.lr, solver.shots) == (2, 20, 0.05, 128)
        assert repr(solver.register) == repr(Register())

    def test_every_option_is_passed_on(self) -> None:
        kw: dict[str, Any] = {
            "p": 1, "steps": 3, "lr": 0.2, "shots": 9, "encoding": "onehot",
            "max_qubits": 6, "decompose": True, "rounds": 2, "thompson": "proposal",
            "batch_size": 3, "n_startup": 4, "exploration": 0.9, "surrogate": "fm",
            "strength": 2.0, "seed": 6, "objective": BUDGET, "cheap_metrics": cheap,
        }  # fmt: skip
        space = SPACE.distributions()
        got = trace(QAOASampler(search_space=space, **kw), 10, 31)
        assert got == trace(_composed(search_space=space, **kw), 10, 31)
        sampler: Any = QAOASampler(**kw)
        m = sampler._models  # the budget's strength does not change these 10 trials
        assert (m.objective, m.cheap_metrics, m.surrogate, m.exploration, m.strength) == (
            BUDGET, cheap, "fm", 0.9, 2.0,
        )  # fmt: skip
        assert (sampler._thompson, sampler._batch_size, sampler._n_startup) == ("proposal", 3, 4)
        solver = sampler.solver
        assert (solver.p, solver.steps, solver.lr, solver.shots) == (1, 3, 0.2, 9)
        assert repr(solver.register) == repr(
            Register(encoding="onehot", max_qubits=6, decompose=True, rounds=2)
        )

    def test_a_register_too_narrow_is_refused_at_construction(self) -> None:
        with pytest.raises(Exception, match=r"^qaoa simulates 2\*\*n amplitudes .*n=12 qubits"):
            QAOASampler(
                encoding="onehot", decompose=False, search_space=SPACE.distributions(),
                max_qubits=11,
            )  # fmt: skip

    def test_registry_builds_the_sampler_over_the_space(self) -> None:
        """``make_sampler("qaoa", ...)`` hands over the space, the objective and the
        metrics known without training: under a budget on such a metric (18 of the 60
        architectures meet it) no trial breaks it."""
        budget = Objective(["val_error"], budgets=["params<=600"])
        opts: dict[str, Any] = {"seed": 2, "objective": budget, "cheap_metrics": cheap}
        made = make_sampler("qaoa", space=SPACE, p=1, steps=3, batch_size=4, n_startup=4, **opts)
        assert isinstance(made, QAOASampler)
        direct = QAOASampler(search_space=SPACE.distributions(), p=1, steps=3, batch_size=4,
                             n_startup=4, **opts)  # fmt: skip
        got = trace(made, 9, 31)
        assert got == trace(direct, 9, 31)
        assert all(cheap(SPACE.from_indices(list(x)))["params"] <= 600 for x in got)
