"""References the quantum strategies' truth tests share (QAOA, VQE, Born machine).

Each is written from the strategy's documentation with Qiskit, SciPy or numpy, never
from quarch's code: the RY/CNOT-ring circuit in Qiskit, a chi-square test of sampled
states against exact probabilities, and a small space with a budget on a metric known
without training, on which a sampler is compared trial by trial with the composition
it is documented to be.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector
from scipy import stats

from quarch.objectives import Objective
from quarch.search import QUBOProblem, Register
from quarch.search._surrogate import CircuitSizeError, QuadraticModel, n_features
from quarch.space import Choice, Space

#: Three choices of 4, 3 and 5 options: 60 architectures.
SPACE = Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate((4, 3, 5))])

#: A budget on a metric known without training: 30 of the 60 architectures meet it.
BUDGET = Objective(["val_error"], budgets=["params<=900"])


def cheap(arch: Mapping[str, Any]) -> dict[str, float]:
    """A metric known without training, linear in the one-hot bits."""
    return {"params": 100.0 * sum((j + 1) * int(arch[f"c{j}"]) for j in range(3))}


def trace(sampler: optuna.samplers.BaseSampler, n: int, salt: int) -> list[tuple[int, ...]]:
    """The option indices ``sampler`` proposes in ``n`` trials of a fixed random
    objective over :data:`SPACE` (``salt`` picks the objective)."""

    def value(idx: tuple[int, ...]) -> float:
        return float(np.random.default_rng([salt, *idx]).random())

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: value(tuple(SPACE.to_indices(SPACE.suggest(t)))), n_trials=n)
    return [tuple(SPACE.to_indices(SPACE.from_params(t.params))) for t in study.trials]


def standardized(C: np.ndarray) -> np.ndarray:
    return (C - C.mean()) / C.std()


def chi_square_p(codes: np.ndarray, probs: np.ndarray) -> float:
    """p-value of the counts of ``codes`` against ``probs`` (rare outcomes pooled)."""
    counts = np.bincount(codes, minlength=probs.size).astype(float)
    expected = probs * codes.size
    keep = expected >= 5
    obs = np.r_[counts[keep], counts[~keep].sum()]
    exp = np.r_[expected[keep], expected[~keep].sum()]
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return float(stats.chisquare(obs, exp * obs.sum() / exp.sum()).pvalue)


def ry_ring_probs(n: int, layers: int, theta: np.ndarray) -> np.ndarray:
    """The documented circuit in Qiskit: an RY layer, then ``layers`` x (CNOT ring, RY
    layer); probabilities with wire 0 the most significant bit."""
    qc = QuantumCircuit(n)
    k = 0

    def ry_layer() -> None:
        nonlocal k
        for q in range(n):
            qc.ry(theta[k], n - 1 - q)
            k += 1

    ry_layer()
    for _ in range(layers):
        if n == 2:
            qc.cx(1, 0)  # wire 0 -> wire 1
        elif n > 2:
            for q in range(n):
                qc.cx(n - 1 - q, n - 1 - (q + 1) % n)
        ry_layer()
    assert k == theta.size
    return np.asarray(Statevector(qc).probabilities())


def solves_each_problem_on_the_register(solver: Any) -> None:
    """Two choices of 2 and 3 options (3 qubits): a circuit solver's 128 measurements of
    each of two problems hold the brute-force optimum of the problem's energy, every one
    a valid architecture."""
    sizes = [2, 3]
    w = np.random.default_rng(1).standard_normal(n_features(sizes))
    m = QuadraticModel(sizes, w)
    archs = np.array(list(itertools.product(range(2), range(3))))
    best = archs[int(np.argmin(m.energy(archs)))].tolist()
    out = solver([QUBOProblem(m, np.zeros(2, dtype=np.int64))] * 2, np.random.default_rng(0))
    assert out.counters == {} and len(out.candidates) == 2
    for X in out.candidates:
        assert X.shape == (128, 2)
        assert ((X >= 0) & (sizes > X)).all()
        assert best in X.tolist()


def narrow_register_is_refused_when_called(make: Callable[[Register], Any], name: str) -> None:
    """A solver on a 4-qubit register that may not decompose, given a problem of 6
    qubits, refuses it when called, naming itself."""
    sizes = [4, 4, 4]
    m = QuadraticModel(sizes, np.zeros(n_features(sizes)))
    solver = make(Register(max_qubits=4, decompose=False))
    with pytest.raises(CircuitSizeError) as e:
        solver([QUBOProblem(m, np.zeros(3, dtype=np.int64))], np.random.default_rng(0))
    assert str(e.value).startswith(
        f"{name} simulates 2**n amplitudes and allows max_qubits=4, but decompose=False "
        "and the register needs n=6 qubits"
    )
