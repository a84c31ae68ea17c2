"""VQE against independent truth: its ansatz against the same circuit in Qiskit, the
energy it reaches against numpy's exact eigenvalues of the Hamiltonian (a
``SparsePauliOp``), its first Adam step against gradients taken here, its measurements
against the exact distribution (chi-square), and every refused argument with its exact
message.

Qiskit orders qubits little-endian; quarch's wire 0 is the most significant bit, so
wire ``q`` is Qiskit qubit ``n - 1 - q`` and basis indices then agree.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from qiskit.quantum_info import SparsePauliOp

from quarch.objectives import Objective
from quarch.search import QUBOSampler, Register, VQESampler, VQESolver, make_sampler
from quarch.search._surrogate import single_thread
from quarch.search._vqe import _ansatz, minimize_vqe

from ._reference import (
    BUDGET,
    SPACE,
    cheap,
    chi_square_p,
    narrow_register_is_refused_when_called,
    ry_ring_probs,
    solves_each_problem_on_the_register,
    standardized,
    trace,
)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def _qubo_costs(n: int, seed: int) -> np.ndarray:
    Q = np.triu(np.random.default_rng(seed).standard_normal((n, n)))
    X = np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)
    return np.array([x @ Q @ x for x in X])


class TestAnsatz:
    @pytest.mark.parametrize(("n", "layers"), [(1, 1), (2, 1), (3, 2), (4, 0), (4, 1)])
    def test_probabilities_match_qiskit(self, n: int, layers: int) -> None:
        plan, theta0 = _ansatz(n, layers)
        assert theta0.shape == (n * (layers + 1),)
        np.testing.assert_allclose(theta0[:n], np.pi / 2)
        np.testing.assert_array_equal(theta0[n:], 0.0)
        theta = np.random.default_rng(n + 7 * layers).uniform(-np.pi, np.pi, theta0.size)
        import torch

        with torch.no_grad():
            got = plan.probs(weights=torch.as_tensor(theta[None])).double().numpy()[0]
        np.testing.assert_allclose(got, ry_ring_probs(n, layers, theta), atol=2e-6)


class TestMinimise:
    def test_no_step_is_the_uniform_state(self) -> None:
        C = _qubo_costs(4, 0)
        probs, expected, uniform = minimize_vqe(C, layers=1, steps=0)
        np.testing.assert_allclose(probs, np.full(16, 1 / 16), atol=1e-7)
        assert expected == pytest.approx(C.mean(), abs=1e-6)
        assert uniform == pytest.approx(C.mean(), abs=1e-12)

    def test_defaults_are_one_layer_and_30_steps_of_size_0_1(self) -> None:
        C = _qubo_costs(3, 4)
        got = minimize_vqe(C)
        want = minimize_vqe(C, layers=1, steps=30, lr=0.1)
        np.testing.assert_array_equal(got[0], want[0])
        for other in ({"layers": 2}, {"steps": 31}, {"lr": 0.2}):
            kw: dict[str, Any] = {"layers": 1, "steps": 30, "lr": 0.1, **other}
            assert np.abs(minimize_vqe(C, **kw)[0] - got[0]).max() > 1e-6

    @pytest.mark.parametrize("seed", range(2))
    def test_reaches_the_exact_ground_energy_of_a_field_hamiltonian(self, seed: int) -> None:
        """``H = c + sum_q h_q Z_q``: the product ansatz (no layer) holds its ground
        state, so VQE must reach numpy's lowest eigenvalue of ``H``."""
        n = 4
        rng = np.random.default_rng(seed)
        h = rng.uniform(0.5, 1.5, n) * rng.choice([-1, 1], n)
        labels = ["I" * (n - 1 - q) + "Z" + "I" * q for q in range(n)]
        H = SparsePauliOp(["I" * n, *labels], coeffs=[2.0, *h])
        M = H.to_matrix()
        C = np.diag(M).real
        exact = float(np.linalg.eigvalsh(M)[0])
        probs, expected, uniform = minimize_vqe(C, layers=0, steps=120, lr=0.1)
        assert expected == pytest.approx(exact, abs=0.02 * np.ptp(C))
        assert expected == pytest.approx(float(probs @ C), abs=1e-9)
        assert uniform == pytest.approx(np.trace(M).real / 2**n)
        assert int(np.argmax(probs)) == int(np.argmin(C))

    @pytest.mark.parametrize("seed", range(2))
    def test_between_the_ground_energy_and_the_uniform_state(self, seed: int) -> None:
        C = _qubo_costs(5, 10 + seed)
        exact = float(np.linalg.eigvalsh(np.diag(C))[0])
        probs, expected, uniform = minimize_vqe(C, layers=1, steps=40, lr=0.1)
        assert exact - 1e-9 <= expected < uniform - 0.3 * C.std()
        assert abs(probs.sum() - 1) < 1e-12  # normalised in float64
        assert expected == pytest.approx(float(probs @ C), abs=1e-12)

    @pytest.mark.parametrize("seed", range(3))
    def test_first_step_goes_down_the_true_gradient(self, seed: int) -> None:
        """Adam's first step is ``lr * sign(grad)`` per parameter from the uniform start;
        the gradient is taken here by central differences of Qiskit's expected
        standardised cost, and the state there is Qiskit's. (Two qubits: from three on,
        a first-layer parameter's gradient vanishes at the uniform start, and float32
        noise would pick its step.)"""
        n, layers, lr = 2, 1, 0.02
        C = _qubo_costs(n, 30 + seed)
        Cs = standardized(C)
        _, theta0 = _ansatz(n, layers)
        h = 1e-5

        def energy(th: np.ndarray) -> float:
            return float(ry_ring_probs(n, layers, th) @ Cs)

        grad = np.array(
            [
                (energy(theta0 + h * e) - energy(theta0 - h * e)) / (2 * h)
                for e in np.eye(theta0.size)
            ]
        )
        assert np.abs(grad).min() > 1e-2  # every sign well defined, above float32 noise
        theta1 = theta0 - lr * np.sign(grad)
        probs, expected, _ = minimize_vqe(C, layers=layers, steps=1, lr=lr)
        np.testing.assert_allclose(probs, ry_ring_probs(n, layers, theta1), atol=2e-6)
        assert expected == pytest.approx(float(ry_ring_probs(n, layers, theta1) @ C), abs=1e-5)
        assert expected < C.mean()


class TestSolver:
    def test_measurements_follow_the_minimised_state(self) -> None:
        C = _qubo_costs(4, 5)
        probs, _, _ = minimize_vqe(C, layers=2, steps=7, lr=0.05)
        solver = VQESolver(layers=2, steps=7, lr=0.05, shots=6000)
        codes, counters = solver._circuit(C, 0.0, np.random.default_rng(1))
        assert counters == {}
        assert codes.shape == (6000,)
        assert chi_square_p(codes, probs) > 1e-3
        # the minimised state is far from uniform and from the default settings' state
        assert chi_square_p(codes, np.full(16, 1 / 16)) < 1e-9
        other, _, _ = minimize_vqe(C)
        assert chi_square_p(codes, other) < 1e-9

    def test_seeded_measurements_repeat(self) -> None:
        C = _qubo_costs(3, 8)
        solver = VQESolver(steps=2, shots=50)
        a, _ = solver._circuit(C, 0.0, np.random.default_rng(3))
        b, _ = solver._circuit(C, 0.0, np.random.default_rng(3))
        c, _ = solver._circuit(C, 0.0, np.random.default_rng(4))
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)

    @pytest.mark.parametrize(
        ("kw", "message"),
        [
            ({"layers": -1}, "layers must be an integer >= 0; got -1"),
            ({"steps": -1}, "steps must be an integer >= 0; got -1"),
            ({"lr": 0.0}, "lr must be in (0.0, 1.0]; got 0.0"),
            ({"lr": 1.5}, "lr must be in (0.0, 1.0]; got 1.5"),
            ({"shots": 0}, "shots must be an integer >= 1; got 0"),
        ],
    )
    def test_refusals(self, kw: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError) as e:
            VQESolver(**kw)
        assert str(e.value) == message
        with pytest.raises(ValueError) as e:
            VQESampler(**kw)
        assert str(e.value) == message

    def test_solves_each_problem_on_the_register(self) -> None:
        solves_each_problem_on_the_register(VQESolver())

    def test_a_register_too_narrow_is_refused_when_called(self) -> None:
        narrow_register_is_refused_when_called(lambda reg: VQESolver(register=reg), "vqe")

    def test_boundaries_are_accepted(self) -> None:
        s = VQESolver(layers=0, steps=0, lr=1.0, shots=1)
        assert (s.layers, s.steps, s.lr, s.shots) == (0, 0, 1.0, 1)
        assert repr(s.register) == repr(Register())


# -- the sampler is the documented composition -----------------------------------------
def _composed(**kw: Any) -> QUBOSampler:
    """``QUBOSampler`` with a ``VQESolver``: what ``VQESampler`` is documented as."""
    solver = {k: kw.pop(k) for k in ("layers", "steps", "lr", "shots") if k in kw}
    reg = {k: kw.pop(k) for k in ("encoding", "max_qubits", "decompose", "rounds") if k in kw}
    return QUBOSampler(solver=VQESolver(register=Register(**reg), **solver), **kw)


class TestSampler:
    def test_defaults(self) -> None:
        documented: dict[str, Any] = {
            "thompson": "batch", "batch_size": 10, "n_startup": 10, "exploration": 0.5,
            "surrogate": "bocs", "strength": 4.0, "encoding": "binary", "max_qubits": 12,
            "decompose": True, "rounds": 1,
        }  # fmt: skip
        common: dict[str, Any] = {"seed": 3, "search_space": SPACE.distributions(),
                                  "objective": BUDGET, "cheap_metrics": cheap}  # fmt: skip
        got = trace(VQESampler(**common), 21, 37)
        assert got == trace(_composed(**documented, **common), 21, 37)
        # in this run the budget's strength changes the search (so the 4 is checked)
        assert got != trace(_composed(**{**documented, "strength": 5.0}, **common), 21, 37)
        solver: Any = VQESampler().solver
        assert (solver.layers, solver.steps, solver.lr, solver.shots) == (1, 30, 0.1, 128)
        assert repr(solver.register) == repr(Register())
        # the sampler's defaults are its solver's ("see VQESolver")
        solver = VQESolver()
        assert (solver.layers, solver.steps, solver.lr, solver.shots) == (1, 30, 0.1, 128)
        assert repr(solver.register) == repr(Register())

    def test_every_option_is_passed_on(self) -> None:
        kw: dict[str, Any] = {
            "layers": 2, "steps": 3, "lr": 0.2, "shots": 9, "encoding": "onehot",
            "max_qubits": 6, "decompose": True, "rounds": 2, "thompson": "proposal",
            "batch_size": 3, "n_startup": 4, "exploration": 0.9, "surrogate": "fm",
            "strength": 2.0, "seed": 6, "objective": BUDGET, "cheap_metrics": cheap,
        }  # fmt: skip
        space = SPACE.distributions()
        got = trace(VQESampler(search_space=space, **kw), 10, 37)
        assert got == trace(_composed(search_space=space, **kw), 10, 37)
        sampler: Any = VQESampler(**kw)
        m = sampler._models  # the budget's strength does not change these 10 trials
        assert (m.objective, m.cheap_metrics, m.surrogate, m.exploration, m.strength) == (
            BUDGET, cheap, "fm", 0.9, 2.0,
        )  # fmt: skip
        assert (sampler._thompson, sampler._batch_size, sampler._n_startup) == ("proposal", 3, 4)
        solver = sampler.solver
        assert (solver.layers, solver.steps, solver.lr, solver.shots) == (2, 3, 0.2, 9)
        assert repr(solver.register) == repr(
            Register(encoding="onehot", max_qubits=6, decompose=True, rounds=2)
        )

    def test_a_register_too_narrow_is_refused_at_construction(self) -> None:
        with pytest.raises(Exception, match=r"^vqe simulates 2\*\*n amplitudes .*n=12 qubits"):
            VQESampler(
                encoding="onehot", decompose=False, search_space=SPACE.distributions(),
                max_qubits=11,
            )  # fmt: skip

    def test_registry_builds_the_sampler_over_the_space(self) -> None:
        """``make_sampler("vqe", ...)`` hands over the space, the objective and the
        metrics known without training: under a budget on such a metric (18 of the 60
        architectures meet it) no trial breaks it."""
        budget = Objective(["val_error"], budgets=["params<=600"])
        opts: dict[str, Any] = {"seed": 2, "objective": budget, "cheap_metrics": cheap}
        made = make_sampler(
            "vqe", space=SPACE, layers=0, steps=3, batch_size=4, n_startup=4, **opts
        )
        assert isinstance(made, VQESampler)
        direct = VQESampler(search_space=SPACE.distributions(), layers=0, steps=3, batch_size=4,
                             n_startup=4, **opts)  # fmt: skip
        got = trace(made, 9, 37)
        assert got == trace(direct, 9, 37)
        assert all(cheap(SPACE.from_indices(list(x)))["params"] <= 600 for x in got)
