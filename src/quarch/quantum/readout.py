"""Per-wire readout errors of Z-basis measurements: which Z-correlators a noisy
measurement needs and how each observable combines them.

A readout error flips a measured bit independently of the others, so every Z word of
a noisy readout is a fixed linear combination of ideal Z-correlators on subsets of its
wires; the density-matrix engine (:mod:`quarch.quantum.noisy_circuit`) and quantum
trajectories (:mod:`quarch.quantum.trajectories`) both read their expectations this way
from the probabilities of the basis states.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from quarch.quantum.measurements import PauliWord
from quarch.quantum.noise import NoiseError

__all__ = ["expvals_from_probs", "z_terms"]


def z_terms(
    words: Sequence[PauliWord], readout: Sequence[tuple[float, float]]
) -> tuple[list[tuple[int, ...]], list[list[tuple[float, int]]]]:
    """Z-correlators to estimate, and how each observable combines them.

    A readout error flips a measured bit independently, so a measured ``Z`` is
    ``c + d Z`` with ``c = P(0|1) - P(1|0)`` and ``d = 1 - P(1|0) - P(0|1)``, and a
    word on wires ``S`` is ``sum over T in S of prod_{S-T} c * prod_T d * <Z_T>``.

    Returns:
        (subsets, combos): the wire subsets ``T`` needed (the empty one is the trace),
        and per word a list of ``(coefficient, subset index)``.

    Raises:
        NoiseError: a word with X or Y (readout is in the Z basis here).
    """
    subsets: dict[tuple[int, ...], int] = {}
    combos = []
    for word in words:
        if not word.is_diagonal:
            # the line read as if readout error were the reason, also for a circuit
            # without one (noisy_circuit_expval, trajectory_expval)
            raise NoiseError(
                "only Z words can be read out with a device readout error (a NoisyCircuit's "
                "expectations, with or without one, come from its basis-state "
                f"probabilities); got {word}: rotate its basis with gates first (h for X, "
                "sdg then h for Y)"
            )
        wires = [w for w, _ in word.terms]
        terms = []
        for mask in range(2 ** len(wires)):
            keep = tuple(w for i, w in enumerate(wires) if mask >> i & 1)
            coef = 1.0
            for i, w in enumerate(wires):
                a, b = readout[w] if readout else (0.0, 0.0)
                coef *= (1 - a - b) if mask >> i & 1 else (b - a)
            if coef != 0.0:
                terms.append((coef, subsets.setdefault(keep, len(subsets))))
        combos.append(terms)
    return list(subsets), combos


def _signs(
    subsets: Sequence[tuple[int, ...]], n: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """``[2**n, len(subsets)]``: ``prod_{w in T} (-1)**bit_w`` for each basis state."""
    idx = torch.arange(2**n, device=device)
    cols = []
    for sub in subsets:
        parity = torch.zeros_like(idx)
        for w in sub:
            parity ^= (idx >> (n - 1 - w)) & 1
        cols.append(1 - 2 * parity)
    return torch.stack(cols, dim=-1).to(dtype)


def expvals_from_probs(
    probs: torch.Tensor, words: Sequence[PauliWord], readout: Sequence[tuple[float, float]]
) -> torch.Tensor:
    """Z-word expectations ``[..., n_words]`` from (unnormalised) probabilities
    ``[..., 2**n]`` with per-wire readout errors (see :func:`z_terms`)."""
    n = probs.shape[-1].bit_length() - 1
    subsets, combos = z_terms(words, readout)
    corr = probs @ _signs(subsets, n, probs.dtype, probs.device)
    out = [sum(c * corr[..., j] for c, j in terms) for terms in combos]
    return torch.stack([o if isinstance(o, torch.Tensor) else corr[..., 0] * 0 for o in out], -1)
