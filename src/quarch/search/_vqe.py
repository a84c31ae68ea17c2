"""VQE on the surrogate QUBO: a variational state whose expected cost
``<psi(theta)|C|psi(theta)>`` is minimised, then measured.

``C`` is diagonal (the surrogate's cost of every basis state of the register), so
``<C> = sum_x |<x|psi>|^2 C(x)``. The ansatz is hardware-efficient: an RY layer and
``layers`` x (CNOT ring, RY layer), real amplitudes, able to reach every basis state.
It starts at the uniform superposition (first layer pi/2, the rest 0), so the search
starts from the uniform state's expected cost and, keeping the best parameters seen,
never ends above it. Gradients are exact parameter-shift gradients, all shifts in one
batched execution. See :mod:`quarch.search._circuits` for registers, decomposition
and proposals.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._circuits import (
    CircuitSurrogateSampler,
    adam,
    hardware_efficient,
    sample_codes,
    shift_gradient,
    shift_probs,
    standardize,
)
from quarch.search._common import check_float, check_int

if TYPE_CHECKING:
    from optuna.distributions import CategoricalDistribution

    from quarch.objectives import Objective
    from quarch.space import Space

__all__ = ["VQESampler", "make", "minimize_vqe"]


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


class VQESampler(CircuitSurrogateSampler):
    """Variational minimisation of the surrogate's expected cost, then sampling.

    Args:
        layers (int): entangling layers of the ansatz, >= 0.
        steps (int): Adam steps, >= 0.
        lr (float): Adam step size, in ``(0, 1]``.
        encoding, max_qubits, decompose, rounds, shots, batch_size, n_startup,
            exploration, seed, search_space: see :class:`quarch.search.QAOASampler`.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=VQESampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=5)
    """

    _strategy = "vqe"

    def __init__(
        self,
        *,
        layers: int = 1,
        steps: int = 30,
        lr: float = 0.1,
        encoding: str = "binary",
        max_qubits: int = 12,
        decompose: bool = True,
        rounds: int = 1,
        shots: int = 128,
        batch_size: int = 10,
        n_startup: int = 10,
        exploration: float = 0.5,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(
            encoding=encoding,
            max_qubits=max_qubits,
            decompose=decompose,
            rounds=rounds,
            shots=shots,
            batch_size=batch_size,
            n_startup=n_startup,
            exploration=exploration,
            seed=seed,
            search_space=search_space,
        )
        self._layers = check_int("layers", layers, 0)
        self._steps = check_int("steps", steps, 0)
        self._lr = check_float("lr", lr, 0.0, 1.0, low_open=True)

    def _block_samples(
        self, C: np.ndarray, c_incumbent: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, Any]]:
        probs, _, _ = minimize_vqe(C, layers=self._layers, steps=self._steps, lr=self._lr)
        return sample_codes(probs, self._shots, int(rng.integers(2**31 - 1))), {}


def make(*, seed: int, space: Space, objective: Objective, **options: Any) -> VQESampler:
    """Registry factory: ``VQESampler`` over ``space`` (any objective: ranks are the reward)."""
    return VQESampler(seed=seed, search_space=space.distributions(), **options)
