"""Simulated quantum annealing: path-integral Monte Carlo of the transverse-field Ising
model, vectorised in NumPy.

The quantum annealer's Hamiltonian ``H(t) = E(s) - Gamma(t) sum_i X_i`` at temperature
``T`` maps (Suzuki-Trotter) onto ``P`` coupled classical replicas ("slices") of the
spins with the effective energy

    H_eff = (1/P) sum_k E(s_k) - J_perp sum_k sum_i s_{k,i} s_{k+1,i},
    J_perp = -(T/2) ln tanh(Gamma / (P T)),

periodic in ``k``, sampled with Metropolis moves at temperature ``T`` while ``Gamma``
falls from ``gamma[0]`` to ``gamma[1]`` (Martonak, Santoro and Tosatti, PRB 2002). As
``Gamma`` shrinks the slices lock together and the state freezes into a low-energy
configuration, tunnelling through barriers that single-spin thermal moves would have
to climb.

Vectorisation: spin ``i`` is updated in all independent runs (several QUBOs x
``n_reads``) and in half of the slices at once. The slices of one parity do not
interact, so this is an exact Metropolis sweep; a local-field array keeps every update
O(runs x slices x n).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["qubo_to_ising", "sqa_minimize"]


def qubo_to_ising(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ising form of ``x^T Q x`` (``x`` in {0,1}, ``s = 2x - 1``).

    Args:
        Q: ``(..., n, n)`` QUBO matrices (any triangle; diagonal = linear terms).

    Returns:
        ``h`` ``(..., n)``, symmetric zero-diagonal ``J`` ``(..., n, n)`` and offset
        ``(...)`` such that ``x^T Q x = s.h + s^T J s / 2 + offset``.
    """
    Q = np.asarray(Q, dtype=float)
    n = Q.shape[-1]
    diag = np.diagonal(Q, axis1=-2, axis2=-1)
    off = Q - diag[..., None] * np.eye(n)
    S = off + np.swapaxes(off, -1, -2)  # symmetric pair weights, x_i x_j counted once each
    # x_i x_j = (1 + s_i + s_j + s_i s_j) / 4 ; x_i = (1 + s_i) / 2
    J = S / 4.0
    h = diag / 2.0 + S.sum(-1) / 4.0
    offset = diag.sum(-1) / 2.0 + S.sum((-1, -2)) / 8.0
    return h, J, offset


def sqa_minimize(
    Q: np.ndarray,
    *,
    n_reads: int = 8,
    n_slices: int = 16,
    n_sweeps: int = 100,
    gamma: tuple[float, float] = (3.0, 0.01),
    temperature: float = 0.05,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise QUBOs by simulated quantum annealing.

    Args:
        Q: one ``(n, n)`` QUBO or a stack ``(m, n, n)``, annealed together.
        n_reads: independent anneals per QUBO, >= 1.
        n_slices: Trotter slices ``P`` (even, >= 2).
        n_sweeps: Monte Carlo sweeps (each spin of each slice once), >= 1.
        gamma: transverse field at the start and the end, in units of the QUBO's
            largest Ising coefficient; ``start > end > 0``.
        temperature: ``T`` in the same units, > 0.
        seed: seed or generator.

    Returns:
        ``bits`` ``(m, n_reads, n)`` (uint8), the lowest-energy slice of each read, and
        their energies ``(m, n_reads)``; without the leading ``m`` for one QUBO.
    """
    Q = np.asarray(Q, dtype=float)
    single = Q.ndim == 2
    if single:
        Q = Q[None]
    if Q.ndim != 3 or Q.shape[-1] != Q.shape[-2]:
        raise ValueError(f"Q must have shape (n, n) or (m, n, n); got {Q.shape}")
    if n_slices < 2 or n_slices % 2:
        raise ValueError(f"n_slices must be an even integer >= 2; got {n_slices}")
    if n_reads < 1 or n_sweeps < 1:
        raise ValueError(f"n_reads and n_sweeps must be >= 1; got {n_reads}, {n_sweeps}")
    if not (gamma[0] > gamma[1] > 0) or temperature <= 0:
        raise ValueError(
            f"gamma must fall (start > end > 0) and temperature be > 0; got {gamma}, {temperature}"
        )
    rng = np.random.default_rng(seed)
    m, n, P, R = Q.shape[0], Q.shape[-1], n_slices, n_reads
    h, J, _ = qubo_to_ising(Q)
    scale = np.maximum(np.abs(h).max(-1), np.abs(J).max((-1, -2)))
    scale = np.where(scale > 0, scale, 1.0)
    h = h / scale[:, None]
    J = J / scale[:, None, None]
    # Layout (n, m, R, 2, P/2): slice k = 2q + parity, so each spin's slices of one
    # parity are a plain view and the neighbours of one parity are the other parity.
    H = P // 2
    s = rng.choice(np.array([-1.0, 1.0]), size=(n, m, R, 2, H))
    F = np.einsum("imrpq,mij->jmrpq", s, J)  # local fields sum_j J_ij s_j
    hb = np.moveaxis(h, -1, 0)[:, :, None, None]  # (n, m, 1, 1)
    Jt = np.transpose(J, (1, 2, 0))  # Jt[i][j, m] = J[m, i, j]
    T = float(temperature)
    g0, g1 = float(gamma[0]), float(gamma[1])
    for sweep in range(n_sweeps):
        frac = sweep / max(1, n_sweeps - 1)
        G = g0 * (g1 / g0) ** frac  # geometric schedule
        jp = -0.5 * T * math.log(math.tanh(G / (P * T)))
        thresh = -T * np.log(rng.random((n, 2, m, R, H)))  # accept if dE <= thresh
        for i in range(n):
            si_all = s[i]
            for par in (0, 1):
                other = si_all[:, :, 1 - par]
                shifted = np.roll(other, 1 if par == 0 else -1, axis=-1)
                si = si_all[:, :, par]
                a = (hb[i] + F[i, :, :, par]) / P - jp * (other + shifted)
                flip = si * a >= -0.5 * thresh[i, par]  # dE = -2 s a <= thresh
                if flip.any():
                    delta = np.where(flip, -2.0 * si, 0.0)
                    si += delta
                    F[:, :, :, par] += Jt[i][:, :, None, None] * delta
    s = np.moveaxis(s, 0, -1).reshape(m, R, 2, H, n)
    s = np.swapaxes(s, 2, 3).reshape(m, R, P, n)
    hb = h[:, None, None, :]
    F = np.einsum("mrpi,mij->mrpj", s, J)
    # classical energy of every slice; keep the best slice of each read
    e = (s * hb).sum(-1) + 0.5 * (s * F).sum(-1)  # (m, R, P), scaled units
    best = e.argmin(-1)
    spins = np.take_along_axis(s, best[..., None, None], axis=2)[:, :, 0, :]
    bits = ((spins + 1) / 2).astype(np.uint8)
    energy = np.einsum("mri,mij,mrj->mr", bits.astype(float), Q, bits.astype(float))
    if single:
        return bits[0], energy[0]
    return bits, energy
