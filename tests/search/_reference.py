"""References the quantum strategies' truth tests share (QAOA, VQE, Born machine).

Each is written from the strategy's documentation with Qiskit, SciPy or numpy, never
from quarch's code: the RY/CNOT-ring circuit in Qiskit, a chi-square test of sampled
states against exact probabilities, and a small space with a budget on a metric known
without training, on which a sampler is compared trial by trial with the composition
it is documented to be.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector
from scipy import stats

from quarch.objectives import Objective
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
