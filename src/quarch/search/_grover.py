"""Grover adaptive search over the surrogate (Durr and Hoyer 1996; Gilliam, Woerner
and Gonciulea, Quantum 2021), with simulated amplitude amplification.

The oracle marks the basis states whose surrogate cost is below a threshold ``y``
(a phase flip, :func:`quarch.quantum.apply_diagonal` with ``gamma = pi`` on the 0/1
indicator); the diffusion reflects about the uniform superposition. Starting with ``y``
at the cost of the incumbent (the model's best tried architecture), each round applies
``k`` Grover iterations with ``k`` drawn uniformly from ``[0, m)`` (Boyer, Brassard,
Hoyer and Tapp's schedule for an unknown number of marked states) and measures once:
a state below ``y`` becomes the new threshold and ``m`` resets to 1, otherwise ``m``
grows by ``lam`` up to ``sqrt(N)``. It stops when ``max_oracle_calls`` oracle calls
are spent. Every measured state is a candidate; the oracle calls of a batch are
recorded on its trials as the system attr ``"GroverSampler:oracle_calls"``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._circuits import Register, sample_codes
from quarch.search._common import check_float, check_int
from quarch.search._qubo import QUBOSampler, Solution, Thompson

if TYPE_CHECKING:
    from collections.abc import Sequence

    from optuna.distributions import CategoricalDistribution

    from quarch.objectives import Objective
    from quarch.search._models import CheapMetrics
    from quarch.search._problem import QUBOProblem
    from quarch.space import Space

__all__ = ["GroverSampler", "GroverSolver", "amplified_probs", "grover_adaptive_search", "make"]


def amplified_probs(marked: np.ndarray, k: int) -> np.ndarray:
    """Measurement probabilities after ``k`` Grover iterations from the uniform state.

    Args:
        marked: boolean ``(2**n,)``, the states the oracle flips.
        k: Grover iterations (oracle calls), >= 0.
    """
    import torch

    from quarch.quantum import apply_diagonal

    N = int(marked.shape[0])
    flag = torch.as_tensor(np.asarray(marked, dtype=np.float64))
    psi = torch.full((N,), N**-0.5, dtype=torch.complex128)
    for _ in range(k):
        psi = apply_diagonal(psi, flag, math.pi)  # oracle: phase -1 on marked states
        psi = 2 * psi.mean() - psi  # diffusion 2|s><s| - I about the uniform state
    return (psi.real.square() + psi.imag.square()).numpy()


def grover_adaptive_search(
    C: np.ndarray,
    threshold: float,
    *,
    max_oracle_calls: int,
    lam: float = 6 / 5,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, int]:
    """Grover adaptive search for states of ``C`` below ``threshold``.

    Args:
        C: diagonal cost ``(2**n,)``.
        threshold: initial threshold ``y``.
        max_oracle_calls: budget of oracle applications, >= 1.
        lam: growth of the iteration bound after a failed round, > 1.
        seed: seed or generator of the rotation counts and measurements.

    Returns:
        The measured basis indices in order and the oracle calls spent.
    """
    rng = np.random.default_rng(seed)
    C = np.asarray(C, dtype=float)
    N = C.shape[0]
    y = float(threshold)
    m = 1.0
    calls = 0
    measured: list[int] = []
    rounds = 0
    while calls < max_oracle_calls and rounds < 2 * max_oracle_calls + 16:
        rounds += 1
        k = min(int(rng.integers(math.ceil(m))), max_oracle_calls - calls)
        probs = amplified_probs(np.less(C, y), k)
        calls += k
        x = int(sample_codes(probs, 1, int(rng.integers(2**31 - 1)))[0])
        measured.append(x)
        if C[x] < y:
            y = float(C[x])
            m = 1.0
        else:
            m = min(lam * m, math.sqrt(N))
    return np.asarray(measured, dtype=np.int64), calls


class GroverSolver:
    """Grover adaptive search on each block of the register, starting at the
    incumbent's cost; it reports its oracle calls as the counter ``"oracle_calls"``.

    Args:
        max_oracle_calls (int | None): oracle budget per block circuit, >= 1; ``None``
            means ``4 * sqrt(2**n)``.
        lam (float): growth of the rotation bound, in ``(1, 4]``.
        register (Register | None): see :class:`~quarch.search.QAOASolver`.
    """

    def __init__(
        self,
        *,
        max_oracle_calls: int | None = None,
        lam: float = 6 / 5,
        register: Register | None = None,
    ) -> None:
        self.max_oracle_calls = (
            None if max_oracle_calls is None else check_int("max_oracle_calls", max_oracle_calls, 1)
        )
        self.lam = check_float("lam", lam, 1.0, 4.0, low_open=True)
        self.register = Register() if register is None else register

    def __call__(self, problems: Sequence[QUBOProblem], rng: np.random.Generator) -> Solution:
        return self.register.solve(problems, self._circuit, rng, "grover")

    def _circuit(
        self, C: np.ndarray, threshold: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        budget = self.max_oracle_calls or max(1, int(4 * math.sqrt(C.shape[0])))
        codes, calls = grover_adaptive_search(
            C, threshold, max_oracle_calls=budget, lam=self.lam, seed=rng
        )
        return codes, {"oracle_calls": calls}


class GroverSampler(QUBOSampler):
    """:class:`~quarch.search.QUBOSampler` with a :class:`GroverSolver`, one Thompson
    sample per batch (a thin subclass for the reasons given at
    :class:`~quarch.search.QAOASampler`); it reports its oracle calls.

    Args:
        max_oracle_calls, lam: see :class:`GroverSolver`.
        encoding, max_qubits, decompose, rounds, thompson, batch_size, n_startup,
            exploration, objective, cheap_metrics, surrogate, strength, seed, search_space:
            see :class:`~quarch.search.QAOASampler`.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=GroverSampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=5)
    """

    def __init__(
        self,
        *,
        max_oracle_calls: int | None = None,
        lam: float = 6 / 5,
        encoding: str = "binary",
        max_qubits: int = 12,
        decompose: bool = True,
        rounds: int = 1,
        thompson: Thompson = "batch",
        batch_size: int = 10,
        n_startup: int = 10,
        exploration: float = 0.5,
        objective: Objective | None = None,
        cheap_metrics: CheapMetrics | None = None,
        surrogate: str = "bocs",
        strength: float = 4.0,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        register = Register(
            encoding=encoding, max_qubits=max_qubits, decompose=decompose, rounds=rounds
        )
        super().__init__(
            solver=GroverSolver(max_oracle_calls=max_oracle_calls, lam=lam, register=register),
            thompson=thompson,
            batch_size=batch_size,
            n_startup=n_startup,
            exploration=exploration,
            objective=objective,
            cheap_metrics=cheap_metrics,
            surrogate=surrogate,
            strength=strength,
            seed=seed,
            search_space=search_space,
        )
        register.check(search_space, "grover")


def make(
    *,
    seed: int,
    space: Space,
    objective: Objective,
    cheap_metrics: CheapMetrics | None = None,
    **options: Any,
) -> GroverSampler:
    """Registry factory: ``GroverSampler`` over ``space`` (any objective: ranks are the reward)."""
    return GroverSampler(
        seed=seed,
        search_space=space.distributions(),
        objective=objective,
        cheap_metrics=cheap_metrics,
        **options,
    )
