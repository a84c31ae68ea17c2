"""Quantum trajectories (Monte-Carlo wave functions) for noisy circuits past ~10 qubits.

A density matrix of ``n`` qubits holds ``4**n`` numbers; a trajectory is a state vector
of ``2**n`` on which every channel applies one of its Kraus operators at random. This
module runs a :class:`~quarch.quantum.noisy_circuit.NoisyCircuit` (per-gate Pauli channels and
T1/T2 relaxation, per-wire readout error) as a batch of trajectories for a batch of
samples, and returns each expectation with its standard error.

Written here rather than borrowed because the estimator is the product; what it does:

* **Fixed jump probabilities.** Each channel's Kraus operator ``K_j`` is drawn with a
  probability ``q_j`` fixed in advance (the exact rates for Pauli channels; for
  relaxation, the rates of a qubit half in ``|1>``) and applied as ``K_j / sqrt(q_j)``
  without renormalising. ``sum_j q_j (K_j/sqrt(q_j)) rho (K_j/sqrt(q_j))^+`` is the
  channel, so the unnormalised ``<psi|O|psi>`` is an unbiased estimate, and because
  the probabilities do not depend on the state, every trajectory's jumps (a *pattern*)
  are drawn before the simulation and shared by all samples of the batch.
* **Stratified on the first jump.** The pattern without any jump has probability
  ``P0 = prod_channels q_0`` and is one deterministic state per sample; the rest are
  drawn conditioned on at least one jump (the first jump's position from its exact
  distribution), so ``E = P0 v0 + (1 - P0) mean(v)`` and the standard error shrinks by
  ``1 - P0``.
* **Branching.** A conditioned pattern equals the no-jump state until its first jump,
  so patterns are sorted by it and each starts as a copy of the no-jump state there:
  a circuit is paid for only after a trajectory's first jump.
* **Fused.** A gate, the diagonal gates before it and the no-jump operators of its
  channels are one matrix (a diagonal one, for ``cz``, is a multiplication); a jump is
  a small correction ``K_jump K_0^-1`` applied to the few trajectories that take it.
* **Adaptive.** Patterns are added until every expectation's standard error is at most
  ``target_se`` (or ``max_trajectories`` is reached).

Gradients flow when ``grad=True`` (noise-aware training: a few trajectories per step give
an unbiased estimate of the noisy expectation and of its gradient).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real

import numpy as np
import torch

from quarch.quantum._noisy_arguments import prepare as _prepare
from quarch.quantum._plan_arguments import no_rows
from quarch.quantum.measurements import ObservableLike, _given, _whole, parse_observables
from quarch.quantum.noise import NoiseError, _memory_limit
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    _embed,
    _initial_state,
    _pauli_string,
    _Program,
    _program,
    _require_noisy,
    _Unit,
)
from quarch.quantum.readout import _signs, z_terms

__all__ = ["TrajectoryResult", "trajectory_expval", "trajectory_memory_gb"]

#: Assumed population of ``|1>`` that fixes the relaxation jump probabilities.
_POPULATION = 0.5
_DIAGONAL_UNIT = frozenset({"rz", "z", "s", "sdg", "t", "tdg", "phase", "cz"})


@dataclass(frozen=True)
class TrajectoryResult:
    """Expectations from trajectories.

    Attributes:
        mean (torch.Tensor): ``[batch, n_obs]`` estimates (``[*, n_obs]`` for ``[*, k]``
            inputs).
        stderr (torch.Tensor): standard errors of ``mean``, of its shape.
        trajectories (int): patterns drawn (conditioned on at least one jump).
        no_jump_probability (float): ``P0``, the weight of the exact no-jump part.
    """

    mean: torch.Tensor
    stderr: torch.Tensor
    trajectories: int
    no_jump_probability: float


@dataclass
class _Channel:
    unit: int
    slot: int  # position among the unit's channels
    q: list[float]  # sampling probability of each Kraus operator, q[0] = no jump
    kraus: list[torch.Tensor]  # on the unit's wires, already divided by sqrt(q)


def _channel_ops(
    ch: PauliNoise | Relaxation, unit: _Unit, dtype: torch.dtype, device: torch.device
) -> tuple[list[float], list[torch.Tensor]]:
    if isinstance(ch, PauliNoise):
        k = len(ch.wires)
        items = [(i, p) for i, p in enumerate(ch.probs) if p > 0 or i == 0]
        qs = [p for _, p in items]
        ops = [_pauli_string(i, k, dtype, device) * math.sqrt(p) for i, p in items]
        wires = ch.wires
    else:
        g, c = ch.gamma, ch.coherence
        if c <= 0:
            raise NoiseError("trajectories need relaxation with coherence > 0 (T2 > 0)")
        q1, q2 = (1 - g - c * c) * _POPULATION, g * _POPULATION
        qs = [1 - q1 - q2, q1, q2]
        ops = [torch.tensor(k, dtype=dtype, device=device) for k in ch.kraus()]
        keep = [0] + [j for j in (1, 2) if qs[j] > 0]
        qs, ops = [qs[j] for j in keep], [ops[j] for j in keep]
        wires = (ch.wire,)
    # a no-jump operator drawn with probability 0 (a Pauli channel without an identity
    # part, such as depolarizing at lam = 4/3) is never weighted: the identity stands in
    # for it, so that the corrections K_j K_0^-1 exist
    scaled = [
        _embed(
            (o / math.sqrt(q) if q > 0 else torch.diag(o.new_ones(len(o)))).unsqueeze(0),
            wires, unit.wires,
        )[0]
        for o, q in zip(ops, qs, strict=True)
    ]  # fmt: skip
    return qs, scaled


def trajectory_memory_gb(n_qubits: int, batch: int, trajectories: int, itemsize: int = 8) -> float:
    """Memory of ``trajectories`` states of ``n_qubits`` for ``batch`` samples, with the
    temporaries of one gate (three copies)."""
    return 3 * batch * (trajectories + 1) * 2**n_qubits * itemsize / 2**30


@dataclass
class _Channels:
    """A circuit's channels as trajectories sample them, its units' no-jump operators
    and which units are diagonal: the circuit's alone, so made once and kept with its
    program (:func:`~quarch.quantum.noisy_circuit._program`), as are the corrections
    ``K_j K_0^-1`` once asked for."""

    channels: list[_Channel]
    no_jump: list[torch.Tensor]
    diagonal: list[bool]
    log_q0: np.ndarray
    p0: float
    corrections: dict[tuple[int, tuple[int, ...]], torch.Tensor]


def _channels(prog: _Program, dtype: torch.dtype, device: torch.device) -> _Channels:
    """``prog``'s :class:`_Channels`, made on first use (outside inference mode and
    autograd, as the program's constants are)."""
    made = prog.extra.get("trajectories")
    if made is not None:
        return made  # type: ignore[no-any-return]
    channels: list[_Channel] = []
    no_jump: list[torch.Tensor] = []
    with torch.inference_mode(False), torch.no_grad():
        for ui, u in enumerate(prog.units):
            r0 = torch.eye(2 ** len(u.wires), dtype=dtype, device=device)
            for slot, ch in enumerate(u.noise):
                qs, ops = _channel_ops(ch, u, dtype, device)
                channels.append(_Channel(ui, slot, qs, ops))
                r0 = ops[0] @ r0
            no_jump.append(r0)
    # every no-jump operator is diagonal (the identity for a Pauli channel, diag(1, c)
    # for relaxation, each over a number), so the gates decide
    diagonal = [all(g.name in _DIAGONAL_UNIT for g in u.gates) for u in prog.units]
    q0 = np.array([c.q[0] for c in channels], dtype=np.float64)
    log_q0 = np.log(np.clip(q0, 1e-300, None))
    p0 = float(np.exp(log_q0.sum())) if len(q0) else 1.0
    made = prog.extra["trajectories"] = _Channels(channels, no_jump, diagonal, log_q0, p0, {})
    return made


class _Plan:
    """Unit matrices, channels and corrections of one noisy circuit for one batch."""

    def __init__(
        self, nc: NoisyCircuit, x: torch.Tensor | None, w: torch.Tensor | None,
        dtype: torch.dtype, device: torch.device,
    ) -> None:  # fmt: skip
        self.n = nc.n_qubits
        prog = _program(nc, dtype, device)
        self.amp, self.units = prog.amp, prog.units
        made = _channels(prog, dtype, device)
        self.channels, self.no_jump, self.diagonal = made.channels, made.no_jump, made.diagonal
        self.log_q0, self.p0, self._corr = made.log_q0, made.p0, made.corrections
        self.fused = [r0 @ m for r0, m in zip(self.no_jump, prog.batch.matrices(x, w), strict=True)]
        self.dtype, self.device = dtype, device

    def correction(self, unit: int, choice: tuple[int, ...]) -> torch.Tensor:
        """``K_choice K_0^-1`` on the unit's wires (``choice``: Kraus index per channel)."""
        key = (unit, choice)
        if key not in self._corr:  # kept with the program: made as its constants are
            with torch.inference_mode(False), torch.no_grad():
                self._corr[key] = self._correction(unit, choice)
        return self._corr[key]

    def _correction(self, unit: int, choice: tuple[int, ...]) -> torch.Tensor:
        u = self.units[unit]
        chans = [c for c in self.channels if c.unit == unit]
        op = torch.eye(2 ** len(u.wires), dtype=self.dtype, device=self.device)
        for c, j in zip(chans, choice, strict=True):
            op = c.kraus[j] @ op
        return op @ torch.linalg.inv(self.no_jump[unit])

    def patterns(self, count: int, rng: np.random.Generator) -> list[dict[int, dict[int, int]]]:
        """``count`` jump patterns conditioned on at least one jump, sorted by the unit
        of their first jump: per pattern, ``unit -> {slot: kraus index}``."""
        nch = len(self.channels)
        cum = np.concatenate([[0.0], np.cumsum(self.log_q0)])[:-1]
        first_w = np.exp(cum) * (1 - np.exp(self.log_q0))
        first = rng.choice(nch, size=count, p=first_w / first_w.sum())
        jump = rng.random((count, nch)) < (1 - np.exp(self.log_q0))[None, :]
        out = []
        for t in range(count):
            f = int(first[t])
            idx = [f] + [int(i) for i in np.flatnonzero(jump[t, f + 1 :]) + f + 1]
            pat: dict[int, dict[int, int]] = {}
            for i in idx:
                c = self.channels[i]
                q = np.asarray(c.q[1:])
                j = 1 + int(rng.choice(len(q), p=q / q.sum()))
                pat.setdefault(c.unit, {})[c.slot] = j
            out.append(pat)
        out.sort(key=lambda p: min(p))
        return out


def _apply(
    psi: torch.Tensor, m: torch.Tensor, wires: Sequence[int], n: int, diagonal: bool
) -> torch.Tensor:
    """``m`` (``[batch or 1, d, d]``) on ``wires`` of states ``psi`` ``[t, batch, 2**n]``."""
    t, b = psi.shape[0], psi.shape[1]
    k = len(wires)
    if diagonal:
        d = torch.diagonal(m, dim1=-2, dim2=-1)  # [B', 2**k], first wire most significant
        d = d.reshape([d.shape[0]] + [2] * k)
        order = sorted(range(k), key=lambda i: wires[i])
        d = d.permute([0] + [1 + i for i in order])
        shape = [1, d.shape[0]] + [2 if w in wires else 1 for w in range(n)]
        return (psi.reshape([t, b] + [2] * n) * d.reshape(shape)).reshape(t, b, -1)
    if k == 1:
        (w,) = wires
        x = psi.reshape(t, b, 2**w, 2, 2 ** (n - w - 1))
        return (m.reshape(1, m.shape[0], 1, 2, 2) @ x).reshape(t, b, -1)
    x = psi.reshape([t, b] + [2] * n).movedim([2 + w for w in wires], list(range(-k, 0)))
    y = x.reshape(t, b, -1, 2**k) @ m.transpose(-1, -2).unsqueeze(0)
    return y.reshape(x.shape).movedim(list(range(-k, 0)), [2 + w for w in wires]).reshape(t, b, -1)


def _run(
    plan: _Plan, psi0: torch.Tensor, patterns: list[dict[int, dict[int, int]]], grad: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Final no-jump states ``[batch, 2**n]`` and pattern states ``[T, batch, 2**n]``."""
    n = plan.n
    starts = [min(p) for p in patterns]
    count = len(patterns)
    # per unit: Kraus choice per channel slot -> the patterns taking it
    nslots = [0] * len(plan.units)
    for c in plan.channels:
        nslots[c.unit] += 1
    jumps: dict[int, dict[tuple[int, ...], list[int]]] = {}
    for t, pat in enumerate(patterns):
        for ui, choice in pat.items():
            key = tuple(choice.get(s, 0) for s in range(nslots[ui]))
            jumps.setdefault(ui, {}).setdefault(key, []).append(t)
    ref = psi0.unsqueeze(0)
    states = psi0.new_zeros((0, *psi0.shape)) if grad else psi0.new_empty((count, *psi0.shape))
    active = 0
    for ui, u in enumerate(plan.units):
        f, diag = plan.fused[ui], plan.diagonal[ui]
        ref = _apply(ref, f, u.wires, n, diag)
        if active:
            moved = _apply(states[:active], f, u.wires, n, diag)
            if grad:
                states = moved
            else:
                states[:active] = moved
        new = active
        while new < count and starts[new] == ui:
            new += 1
        if new > active:
            fresh = ref.expand(new - active, -1, -1)
            if grad:
                states = torch.cat([states, fresh])
            else:
                states[active:new] = fresh
            active = new
        for key, idx in jumps.get(ui, {}).items():
            fix = plan.correction(ui, key).unsqueeze(0)
            it = torch.tensor(idx, device=states.device)
            fixed = _apply(states[it], fix, u.wires, n, False)
            if grad:
                states = states.index_put((it,), fixed)
            else:
                states[it] = fixed
    return ref[0], states[:active]


def trajectory_expval(
    nc: NoisyCircuit,
    observables: ObservableLike | Sequence[ObservableLike] | None = None,
    *,
    inputs: torch.Tensor | None = None,
    weights: torch.Tensor | Sequence[float] | None = None,
    target_se: float = 0.01,
    trajectories: int = 128,
    max_trajectories: int = 16384,
    seed: int = 0,
    dtype: torch.dtype = torch.complex64,
    max_memory_gb: float = 2.0,
    grad: bool = False,
) -> TrajectoryResult:
    """Z-word expectations of a noisy circuit from quantum trajectories.

    Args:
        nc: the noisy circuit.
        observables: Z words (default ``<Z>`` on each wire).
        inputs: features ``[batch, n_features]`` or ``[*, n_features]``, as the plan
            takes them (:meth:`~quarch.quantum.simulator.ExecutionPlan.state`).
        weights: trainable weights ``[n_weights]``, or per sample ``[*, n_weights]``
            broadcast with the inputs.
        target_se: add trajectories until every standard error is at most this (0
            draws up to ``max_trajectories`` unless every spread is 0).
        trajectories: patterns in the first round (and the fixed count with ``grad``).
        max_trajectories: most patterns drawn in all.
        seed: seed of the patterns (the same seed gives the same estimates).
        dtype: state dtype; a real one (float32, float64) for a circuit of real gates
            and channels only (no Y, S, T, rx, rz, ECR, Pauli noise with a Y term).
        max_memory_gb: memory for states; the batch is split into chunks to fit.
        grad: keep the graph for gradients (fixed ``trajectories``, no adaptivity).

    Raises:
        NoiseError: a single sample with the smallest round of trajectories would
            need more than ``max_memory_gb``, or an argument of the wrong kind (``nc``
            no :class:`NoisyCircuit`, ``trajectories`` or ``max_trajectories`` no
            integer >= 1, ``seed`` no integer >= 0, ``target_se`` no number >= 0, a
            real ``dtype`` for a circuit with complex gates or channels).
    """
    words = parse_observables(observables, _require_noisy(nc, "trajectory_expval").n_qubits)
    _trajectory_args(trajectories, max_trajectories, seed, target_se, max_memory_gb)
    subsets, combos = z_terms(words, nc.readout)
    x, w, lead, device = _prepare(nc, inputs, weights, dtype)
    batch = math.prod(lead)
    n = nc.n_qubits
    itemsize = dtype.itemsize
    first = max(1, min(trajectories, max_trajectories))
    per_sample = trajectory_memory_gb(n, 1, first, itemsize)
    if per_sample > max_memory_gb:
        raise NoiseError(
            f"{first} trajectories of {n} qubits need about {per_sample:.1f} GiB per sample; "
            f"the limit is {max_memory_gb} GiB (max_memory_gb)"
        )
    if batch == 0:  # [0, k] inputs, which the plan takes: empty, on autograd's graph
        empty = no_rows((*lead, len(words)), dtype.to_real(), device, x, w)
        p0 = _Plan(nc, x, w, dtype, device).p0  # the channels' alone: no sample needed
        return TrajectoryResult(empty, empty.detach().clone(), 0, p0)
    chunk = max(1, int(max_memory_gb // per_sample))
    means, ses, counts, p0 = [], [], [], 1.0
    for lo in range(0, batch, chunk):
        xc = None if x is None else x[lo : lo + chunk]
        wc = w if w is None or w.dim() == 1 else w[lo : lo + chunk]  # per-sample rows
        bc = min(chunk, batch - lo)
        m, s, cnt, p0 = _estimate(
            nc, xc, wc, bc, subsets, combos, dtype, device, target_se, first,
            max_trajectories, seed, max_memory_gb, grad,
        )  # fmt: skip
        means.append(m)
        ses.append(s)
        counts.append(cnt)
    mean, se = torch.cat(means), torch.cat(ses)
    return TrajectoryResult(
        mean.reshape(*lead, mean.shape[-1]), se.reshape(*lead, se.shape[-1]), max(counts), p0
    )


def _trajectory_args(
    trajectories: object, most: object, seed: object, target_se: object, max_memory_gb: object
) -> None:
    """Refuse, each in one line, the counts, seed and target of :func:`trajectory_expval`
    that are of the wrong kind: a float count failed in numpy, a negative one and a
    ``max_trajectories`` of 0 drew one pattern all the same, a str or a negative seed
    failed in numpy's seeding, a negative or NaN target drew ``max_trajectories``
    patterns."""
    try:
        _whole(trajectories, "trajectories", 0)  # 0: a first round of one, the least
        _whole(most, "max_trajectories", 1)
        _whole(seed, "seed", 0)
    except ValueError as e:  # MeasurementError, reworded as this module's error
        raise NoiseError(f"trajectory_expval: {e}") from None
    if isinstance(target_se, bool) or not isinstance(target_se, Real) or not float(target_se) >= 0:
        raise NoiseError(
            f"trajectory_expval: target_se must be a number >= 0; got {_given(target_se)}"
        )
    _memory_limit(max_memory_gb)


def _estimate(
    nc: NoisyCircuit, x: torch.Tensor | None, w: torch.Tensor | None, batch: int,
    subsets: list[tuple[int, ...]], combos: list[list[tuple[float, int]]], dtype: torch.dtype,
    device: torch.device, target_se: float, first: int, most: int, seed: int,
    max_memory_gb: float, grad: bool,
) -> tuple[torch.Tensor, torch.Tensor, int, float]:  # fmt: skip
    n = nc.n_qubits
    plan = _Plan(nc, x, w, dtype, device)
    psi0 = _initial_state(plan.amp, n, x, batch, dtype, device)
    signs = _signs(subsets, n, dtype.to_real(), device)

    def values(states: torch.Tensor) -> torch.Tensor:
        probs = (states.real**2 + states.imag**2) if states.is_complex() else states**2
        corr = probs @ signs
        return torch.stack([sum(c * corr[..., j] for c, j in terms) for terms in combos], -1)  # type: ignore[misc]

    rng = np.random.default_rng(seed)
    ref, _ = _run(plan, psi0, [], grad)
    v0 = values(ref)
    if not plan.channels or plan.p0 >= 1.0:
        return v0, torch.zeros_like(v0), 0, 1.0
    itemsize = dtype.itemsize
    # trajectories that fit beside the no-jump state (the chunk was sized for `first`)
    fit = max(1, int(max_memory_gb / trajectory_memory_gb(n, batch, 0, itemsize)) - 1)
    total, size = 0, first
    s1 = torch.zeros_like(v0)
    s2 = torch.zeros_like(v0).detach()
    while True:
        count = max(1, min(size, most - total, fit))
        _, states = _run(plan, psi0, plan.patterns(count, rng), grad)
        v = values(states)  # [T, B, n_obs]
        s1 = s1 + v.sum(0)
        s2 = s2 + (v * v).detach().sum(0)
        total += count
        mean_c = s1 / total
        var = (s2 / total - mean_c.detach() ** 2).clamp_min(0) * total / max(total - 1, 1)
        se = (1 - plan.p0) * (var / total).sqrt()
        # one pattern has no spread to measure: its standard error of 0 is no evidence
        if grad or total >= most or (total > 1 and float(se.max()) <= target_se):
            break
        # enough patterns to reach the target if the variance holds, at least double;
        # a target of 0 that a spread above 0 misses is never met: draw up to `most`
        if target_se > 0:
            need = int(total * (float(se.max()) / target_se) ** 2 * 1.1) - total
        else:
            need = most
        size = max(total, need)
    mean = plan.p0 * v0 + (1 - plan.p0) * mean_c
    return mean, se.detach(), total, plan.p0
