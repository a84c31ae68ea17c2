"""VQE on the surrogate QUBO: a variational state whose expected cost
``<psi(theta)|C|psi(theta)>`` is minimised, then measured.

``C`` is diagonal (the surrogate's cost of every basis state of the register), so
``<C> = sum_x |<x|psi>|^2 C(x)``. The ansatz is hardware-efficient: an RY layer and
``layers`` x (CNOT ring, RY layer), real amplitudes, able to reach every basis state.
It starts at the uniform superposition (first layer pi/2, the rest 0), so the search
starts from the uniform state's expected cost and, keeping the best parameters seen,
never ends above it. Gradients are exact parameter-shift gradients, all shifts in one
batched execution. See :mod:`quarch.search._circuits` for registers and
decomposition, and :mod:`quarch.search._qubo` for proposals.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._circuits import (
    Register,
    adam,
    hardware_efficient,
    measure,
    shift_gradient,
    shift_probs,
    standardize,
)
from quarch.search._common import check_float, check_int
from quarch.search._qubo import QUBOSampler, Solution, Thompson

if TYPE_CHECKING:
    from collections.abc import Sequence

    from optuna.distributions import CategoricalDistribution

    from quarch.objectives import Objective
    from quarch.search._models import CheapMetrics
    from quarch.search._problem import QUBOProblem
    from quarch.space import Space

__all__ = ["VQESampler", "VQESolver", "make", "minimize_vqe"]


@functools.lru_cache(maxsize=32)
def _ansatz(n: int, layers: int) -> Any:
    return hardware_efficient(n, layers)


def minimize_vqe(
    C: np.ndarray, *, layers: int = 1, steps: int = 30, lr: float = 0.1
) -> tuple[np.ndarray, float, float]:
    """Minimise ``<C>`` over the ansatz.

    Args:
        C: diagonal cost ``(2**n,)``.
        layers: entangling layers of the ansatz.
        steps: Adam steps.
        lr: Adam step size.

    Returns:
        The probabilities ``(2**n,)`` at the best parameters, their expected cost
        ``<C>`` and the uniform state's ``<C>`` (``mean(C)``), both in units of ``C``.
    """
    C = np.asarray(C, dtype=float)
    n = int(C.shape[0]).bit_length() - 1
    plan, theta0 = _ansatz(n, layers)
    Cs = standardize(C)

    def value_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        probs = shift_probs(plan, theta)
        return float(probs[0] @ Cs), shift_gradient(probs) @ Cs

    theta, _, _, _ = adam(value_grad, theta0, steps, lr)
    probs = shift_probs(plan, theta)[0]
    probs = probs / probs.sum()
    return probs, float(probs @ C), float(C.mean())


class VQESolver:
    """VQE on each block of the register: minimise ``<C>``, then measure.

    Args:
        layers (int): entangling layers of the ansatz, >= 0.
        steps (int): Adam steps, >= 0.
        lr (float): Adam step size, in ``(0, 1]``.
        shots (int): measurements per circuit, >= 1.
        register (Register | None): see :class:`~quarch.search.QAOASolver`.
    """

    def __init__(
        self,
        *,
        layers: int = 1,
        steps: int = 30,
        lr: float = 0.1,
        shots: int = 128,
        register: Register | None = None,
    ) -> None:
        self.layers = check_int("layers", layers, 0)
        self.steps = check_int("steps", steps, 0)
        self.lr = check_float("lr", lr, 0.0, 1.0, low_open=True)
        self.shots = check_int("shots", shots, 1)
        self.register = Register() if register is None else register

    def __call__(self, problems: Sequence[QUBOProblem], rng: np.random.Generator) -> Solution:
        return self.register.solve(problems, self._circuit, rng, "vqe")

    def _circuit(
        self, C: np.ndarray, threshold: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        probs, _, _ = minimize_vqe(C, layers=self.layers, steps=self.steps, lr=self.lr)
        return measure(probs, self.shots, rng), {}


class VQESampler(QUBOSampler):
    """:class:`~quarch.search.QUBOSampler` with a :class:`VQESolver`, one Thompson sample
    per batch (a thin subclass for the reasons given at
    :class:`~quarch.search.QAOASampler`).

    Args:
        layers, steps, lr, shots: see :class:`VQESolver`.
        encoding, max_qubits, decompose, rounds, thompson, batch_size, n_startup,
            exploration, objective, cheap_metrics, surrogate, strength, seed, search_space:
            see :class:`~quarch.search.QAOASampler`.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=VQESampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=5)
    """

    def __init__(
        self,
        *,
        layers: int = 1,
        steps: int = 30,
        lr: float = 0.1,
        shots: int = 128,
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
            solver=VQESolver(layers=layers, steps=steps, lr=lr, shots=shots, register=register),
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
        register.check(search_space, "vqe")


def make(
    *,
    seed: int,
    space: Space,
    objective: Objective,
    cheap_metrics: CheapMetrics | None = None,
    **options: Any,
) -> VQESampler:
    """Registry factory: ``VQESampler`` over ``space`` (any objective: ranks are the reward)."""
    return VQESampler(
        seed=seed,
        search_space=space.distributions(),
        objective=objective,
        cheap_metrics=cheap_metrics,
        **options,
    )
