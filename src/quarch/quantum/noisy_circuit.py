"""Noisy circuits of a calibrated device: every gate with its own channels, per-wire readout.

A :class:`NoisyCircuit` is what :mod:`quarch.cost.device_costs` writes for a circuit
routed on a device (Aer's recipe from ``NoiseModel.from_backend``: depolarising and
thermal relaxation after each gate, readout per wire). It runs on density matrices here
(:func:`noisy_circuit_expval`) and on quantum trajectories
(:mod:`quarch.quantum.trajectories`), which share the compilation into units. Split from
:mod:`quarch.quantum.noise` (one :class:`~quarch.quantum.noise.NoiseModel` of median
rates), whose channels and memory check it uses.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from quarch.quantum._noisy_arguments import ALIASES as _ALIASES  # noqa: F401  # the table
from quarch.quantum._noisy_arguments import check_steps, check_times
from quarch.quantum._noisy_arguments import prepare as _prepare
from quarch.quantum._noisy_batch import (
    Passes,
    UnitBatch,
    _embed,
    _embed_superop,
    _gate,
    _gates_superop,
    _reads_angles,
)
from quarch.quantum._plan_arguments import no_rows
from quarch.quantum.circuit import Circuit, Op, require_circuit
from quarch.quantum.measurements import ObservableLike, _given, parse_observables
from quarch.quantum.noise import NoiseError, NoiseModel, _memory_limit, check_memory
from quarch.quantum.readout import expvals_from_probs, z_terms
from quarch.quantum.simulator import compile_circuit

__all__ = [
    "NoisyCircuit",
    "PauliNoise",
    "Relaxation",
    "Step",
    "expvals_from_probs",
    "noisy_circuit_expval",
    "noisy_density_matrix",
    "z_terms",
]


# -- noisy circuits: gates with their own noise, per-wire readout ------------------------
#
# The density-matrix path above takes a circuit and one NoiseModel of median rates. A
# calibrated device has a different error and duration on every qubit and coupler, so
# its noise is written out gate by gate: a NoisyCircuit is a list of steps, each a gate
# (an Op) or a channel on the wires of the gate before it. The same program runs on
# density matrices (noisy_circuit_expval, below) and on quantum trajectories
# (quarch.quantum.trajectories), which share the compilation into units here.


@dataclass(frozen=True)
class PauliNoise:
    """A Pauli channel: Pauli string ``i`` on ``wires`` with probability ``probs[i]``.

    Strings are numbered with ``I, X, Y, Z = 0, 1, 2, 3`` per wire, the first wire the
    most significant digit, so ``probs[0]`` is the probability of no error.
    """

    wires: tuple[int, ...]
    probs: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.probs) != 4 ** len(self.wires):
            raise NoiseError(f"a Pauli channel on {len(self.wires)} wires needs 4**k probabilities")
        try:  # written so that a NaN, which passes no comparison, fails the sum's
            bad = any(p < -1e-12 for p in self.probs) or not abs(sum(self.probs) - 1.0) <= 1e-9
        except TypeError:  # a str among them (or for them) failed in the comparison
            raise NoiseError(
                f"Pauli probabilities must be numbers; got {_given(self.probs)}"
            ) from None
        if bad:
            raise NoiseError(f"Pauli probabilities must be >= 0 and sum to 1; got {self.probs}")

    @staticmethod
    def depolarizing(wires: Sequence[int], lam: float) -> PauliNoise:
        """``qiskit-aer``'s ``depolarizing_error(lam, k)``: ``(1 - lam) rho + lam I/2**k``,
        i.e. every non-identity Pauli string with probability ``lam / 4**k``."""
        k = 4 ** len(wires)
        return PauliNoise(tuple(wires), (1.0 - lam * (k - 1) / k,) + (lam / k,) * (k - 1))

    @property
    def is_depolarizing(self) -> bool:
        """Whether every non-identity string has the same probability."""
        rest = self.probs[1:]
        return all(abs(p - rest[0]) <= 1e-15 for p in rest)


@dataclass(frozen=True)
class Relaxation:
    """T1/T2 relaxation of one wire over a gate: the population of ``|1>`` decays by
    ``gamma = 1 - exp(-t/T1)`` and coherences by ``coherence = exp(-t/T2)``, as
    ``qiskit-aer``'s ``thermal_relaxation_error`` at zero temperature (T2 <= 2 T1)."""

    wire: int
    gamma: float
    coherence: float

    def __post_init__(self) -> None:
        try:
            bad = not (0.0 <= self.gamma <= 1.0 and 0.0 <= self.coherence <= 1.0)
        except TypeError:  # a str failed in the comparison
            raise NoiseError(
                f"relaxation needs gamma and coherence as numbers; got {self.gamma!r}, "
                f"{self.coherence!r}"
            ) from None
        if bad:
            raise NoiseError(f"relaxation needs gamma and coherence in [0, 1]; got {self}")
        if self.coherence**2 > 1.0 - self.gamma + 1e-12:
            raise NoiseError("relaxation needs coherence**2 <= 1 - gamma (T2 <= 2 T1)")

    @staticmethod
    def from_times(wire: int, duration: float, t1: float, t2: float) -> Relaxation:
        """Relaxation over ``duration`` for ``t1``/``t2``, T2 capped at 2 T1 as Aer's
        ``NoiseModel.from_backend`` caps it (its ``thermal_relaxation_error`` refuses it).

        Raises:
            NoiseError: a time that is no number > 0 (``inf`` for none), a duration
                that is no number >= 0.
        """
        check_times(duration, t1, t2, NoiseError)
        t2 = min(t2, 2 * t1)
        gamma = 1.0 - math.exp(-duration / t1) if math.isfinite(t1) else 0.0
        coherence = math.exp(-duration / t2) if math.isfinite(t2) else 1.0
        return Relaxation(wire, gamma, coherence)

    def kraus(self) -> list[list[list[float]]]:
        """Three Kraus operators: no jump, pure dephasing, decay to ``|0>``."""
        g, c = self.gamma, self.coherence
        return [
            [[1.0, 0.0], [0.0, c]],
            [[0.0, 0.0], [0.0, math.sqrt(max(0.0, 1.0 - g - c * c))]],
            [[0.0, math.sqrt(g)], [0.0, 0.0]],
        ]


Step = Op | PauliNoise | Relaxation

#: Single-qubit gates diagonal in Z: folded into the next gate on their wire.
_DIAGONAL = frozenset({"rz", "z", "s", "sdg", "t", "tdg", "phase"})


@dataclass(frozen=True, eq=False)
class NoisyCircuit:
    """A circuit whose gates carry their own noise, and a readout error per wire.

    Attributes:
        n_qubits (int): wires.
        steps (tuple[Op | PauliNoise | Relaxation, ...]): gates (quarch gate names,
            plus ``ecr`` and ``cx``) and channels on the wires of the gates before them.
            An ``amplitude_embedding`` may come first (the initial state).
        readout (tuple[tuple[float, float], ...]): per wire ``(P(1|0), P(0|1))``;
            empty for none.
        n_weights (int): trainable weights read by the gates.
        n_inputs (int): input features per sample the gates read.
        input_map (Callable | None): applied to the features first (the Möttönen angles
            of a routed amplitude embedding).

    Raises:
        NoiseError: a step on a wire the circuit lacks, or ``readout`` not one pair of
            probabilities in ``[0, 1]`` per wire (nor empty).
    """

    n_qubits: int
    steps: tuple[Step, ...]
    readout: tuple[tuple[float, float], ...] = ()
    n_weights: int = 0
    n_inputs: int = 0
    input_map: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        check_steps(self.n_qubits, self.steps, self.readout, NoiseError)

    @classmethod
    def from_circuit(cls, circuit: Circuit, noise_model: NoiseModel | None = None) -> NoisyCircuit:
        """A circuit's own channels and those of ``noise_model`` as a noisy circuit.

        quarch's channels become their exact equivalents: depolarizing ``p`` is the
        Pauli channel ``(1 - p, p/3, p/3, p/3)``, bit flip ``(1 - p, p, 0, 0)``,
        amplitude damping ``g`` is relaxation ``(g, sqrt(1 - g))`` and phase damping
        ``l`` is relaxation ``(0, sqrt(1 - l))``.

        Raises:
            CircuitError: ``circuit`` is not a :class:`Circuit`.
            NoiseError: ``noise_model`` is neither a :class:`NoiseModel` nor ``None``.
        """
        require_circuit(circuit, "NoisyCircuit.from_circuit")
        if noise_model is not None and not isinstance(noise_model, NoiseModel):
            raise NoiseError(
                "NoisyCircuit.from_circuit: noise_model must be a NoiseModel or None; got "
                f"{_given(noise_model)}"
            )
        circ = noise_model.apply(circuit) if noise_model is not None else circuit
        steps: list[Step] = []
        for op in circ.ops:
            if not op.is_channel:
                steps.append(op)
                continue
            (w,), p = op.wires, float(op.params[0])  # type: ignore[arg-type]
            if op.name == "depolarizing":
                steps.append(PauliNoise((w,), (1 - p, p / 3, p / 3, p / 3)))
            elif op.name == "bit_flip":
                steps.append(PauliNoise((w,), (1 - p, p, 0.0, 0.0)))
            elif op.name == "amplitude_damping":
                steps.append(Relaxation(w, p, math.sqrt(1 - p)))
            else:
                steps.append(Relaxation(w, 0.0, math.sqrt(1 - p)))
        p = noise_model.readout_error if noise_model is not None else 0.0
        readout = ((p, p),) * circuit.n_qubits if p else ()
        return cls(circuit.n_qubits, tuple(steps), readout, circuit.n_weights, circuit.n_inputs)

    @property
    def n_gates(self) -> int:
        """Gates (channels not counted)."""
        return sum(1 for s in self.steps if isinstance(s, Op))

    def folded(self, scale: int) -> NoisyCircuit:
        """Global unitary folding for zero-noise extrapolation: ``G (G^-1 G)**k`` with
        ``scale = 2k + 1``, every gate of ``G^-1`` carrying the noise of the gate it
        undoes (so the noise grows ``scale``-fold and the ideal circuit is unchanged).

        ``rz(a)`` is undone by ``rz(-a)``, ``sx`` by ``rz(pi) sx rz(pi)`` (equal up to a
        global phase, and what a device runs), ``x``, ``cz``, ``cx`` and ``ecr`` by
        themselves. A leading amplitude embedding is not folded.

        Raises:
            NoiseError: ``scale`` is not an odd integer >= 1, or a gate has no native
                inverse here.
        """
        if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1 or scale % 2 == 0:
            raise NoiseError(f"a fold scale must be an odd integer >= 1; got {scale!r}")
        prefix = [
            s for s in self.steps[:1] if isinstance(s, Op) and s.name == "amplitude_embedding"
        ]
        body = list(self.steps[len(prefix) :])
        # group each gate with the channels that follow it
        groups: list[tuple[Op, list[Step]]] = []
        for s in body:
            if isinstance(s, Op):
                groups.append((s, []))
            elif groups:
                groups[-1][1].append(s)
            else:
                raise NoiseError("a channel before the first gate cannot be folded")
        inverse: list[Step] = []
        for op, noise in reversed(groups):
            inverse += [*_inverse(op), *noise]
        out: list[Step] = list(prefix) + body
        for _ in range(scale // 2):
            out += inverse + body
        return dataclasses.replace(self, steps=tuple(out))


def _inverse(op: Op) -> list[Op]:
    """Native gates undoing ``op`` (the noise of ``op`` goes after the last of them)."""
    if op.name == "rz":
        (a,) = op.params
        return [Op("rz", op.wires, (-a,))]
    if op.name == "sx":
        return [Op("rz", op.wires, (math.pi,)), Op("sx", op.wires), Op("rz", op.wires, (math.pi,))]
    if op.name in ("x", "y", "z", "h", "cz", "cx", "cnot", "ecr", "swap"):
        return [op]
    raise NoiseError(f"no native inverse of {op.name!r} for folding")


# -- compilation into units: a gate with the diagonal gates before it and its noise -----
@dataclass
class _Unit:
    wires: tuple[int, ...]
    gates: list[Op] = field(default_factory=list)
    noise: list[PauliNoise | Relaxation] = field(default_factory=list)


def _compile(nc: NoisyCircuit) -> tuple[Op | None, list[_Unit]]:
    """Group the steps into units: each non-diagonal gate absorbs the diagonal gates
    waiting on its wires, and each channel joins the last unit on its wires (channels
    commute with whatever later gates act on other wires)."""
    steps = list(nc.steps)
    amp: Op | None = None
    first = steps[0] if steps else None
    if isinstance(first, Op) and first.name == "amplitude_embedding":
        amp = first
        steps.pop(0)
    units: list[_Unit] = []
    pending: dict[int, list[Op]] = {}
    last: dict[int, int] = {}

    def flush(w: int) -> None:
        if pending.get(w):
            units.append(_Unit((w,), pending.pop(w)))
            last[w] = len(units) - 1

    for s in steps:
        if isinstance(s, Op):
            if s.name == "amplitude_embedding":
                raise NoiseError("an amplitude embedding can only come first")
            if s.is_channel:
                raise NoiseError("convert circuit channels with NoisyCircuit.from_circuit")
            if len(s.wires) == 1 and s.name in _DIAGONAL:
                pending.setdefault(s.wires[0], []).append(s)
                continue
            gates = [g for w in s.wires for g in pending.pop(w, [])]
            units.append(_Unit(tuple(s.wires), [*gates, s]))
            for w in s.wires:
                last[w] = len(units) - 1
            continue
        wires = s.wires if isinstance(s, PauliNoise) else (s.wire,)
        for w in wires:
            flush(w)
        owners = {last.get(w) for w in wires}
        idx = owners.pop() if len(owners) == 1 else None
        if idx is None or not set(wires) <= set(units[idx].wires):
            units.append(_Unit(tuple(wires)))
            idx = len(units) - 1
            for w in wires:
                last[w] = idx
        units[idx].noise.append(s)
    for w in sorted(pending):
        flush(w)
    return amp, units


_PAULI = [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]]


def _pauli_string(index: int, k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Pauli string ``index`` on ``k`` wires (first wire most significant)."""
    m = torch.ones(1, 1, dtype=dtype, device=device)
    for d in range(k):  # wire d's letter is digit d from the most significant end
        digit = (index // 4 ** (k - 1 - d)) % 4
        m = torch.kron(m, torch.tensor(_PAULI[digit], dtype=dtype, device=device))
    return m


def _require_noisy(nc: object, where: str) -> NoisyCircuit:
    """``nc`` if it is a :class:`NoisyCircuit`, else one line naming what ``where`` got
    (for a :class:`Circuit`, how to make one)."""
    if isinstance(nc, NoisyCircuit):
        return nc
    hint = (
        " (NoisyCircuit.from_circuit(circuit, noise_model) makes one)"
        if isinstance(nc, Circuit)
        else ""
    )
    raise NoiseError(f"{where} takes a NoisyCircuit; got {type(nc).__name__}{hint}")


def _initial_state(
    amp: Op | None, n: int, x: torch.Tensor | None, batch: int, dtype: torch.dtype,
    device: torch.device,
) -> torch.Tensor:  # fmt: skip
    """Initial states ``[batch, 2**n]``: ``|0...0>`` or the amplitude embedding."""
    if amp is not None:
        if dtype.is_complex:
            return compile_circuit(Circuit(n, [amp]), dtype=dtype).state(x)
        # real features embed as a real state; the simulator takes only complex dtypes
        psi = compile_circuit(Circuit(n, [amp]), dtype=torch.complex128).state(x)
        return psi.real.to(dtype)
    psi = torch.zeros(batch, 2**n, dtype=dtype, device=device)
    psi[:, 0] = 1
    return psi


# -- the density-matrix engine for noisy circuits -----------------------------------------
class _Rho:
    """A batch of density matrices as a tensor whose axes are kept in a lazy order: an
    operation moves the axes it needs to the front (one copy) and leaves them there, so
    consecutive operations on the same wires move nothing. To the front, not the end:
    the copy's inner loop then runs over the untouched axes (long) rather than over the
    moved ones (2**k), twice as fast at 6 qubits and batch 32."""

    def __init__(self, psi: torch.Tensor, n: int) -> None:
        b = psi.shape[0]
        self.n = n
        self.t = (psi[:, :, None] * psi.conj()[:, None, :]).reshape([b] + [2] * (2 * n))
        self.order = list(range(2 * n))  # axis label at tensor position 1 + i

    def _bring(self, labels: Sequence[int]) -> torch.Tensor:
        """The tensor as ``[batch, 2**len(labels), rest]`` with ``labels`` first, in order."""
        pos = [self.order.index(a) for a in labels]
        if pos != list(range(len(labels))):
            rest = [i for i in range(2 * self.n) if i not in pos]
            self.t = self.t.permute([0] + [1 + i for i in pos + rest])
            self.order = list(labels) + [self.order[i] for i in rest]
        return self.t.reshape(self.t.shape[0], 2 ** len(labels), -1)

    def _set(self, flat: torch.Tensor) -> None:
        self.t = flat.reshape([flat.shape[0]] + [2] * (2 * self.n))

    def superop(self, s: torch.Tensor, wires: Sequence[int]) -> None:
        """Apply superoperator ``s`` ``[batch or 1, 4**k, 4**k]`` (acting on ``vec(rho)``
        of ``wires``, row index first)."""
        x = self._bring([*wires, *(self.n + w for w in wires)])
        self._set(s @ x)

    def matrix(self) -> torch.Tensor:
        """``[batch, 2**n, 2**n]`` in the standard order."""
        x = self._bring(list(range(2 * self.n)))
        return x.reshape(x.shape[0], 2**self.n, 2**self.n)


def _kraus_superop(ks: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum(torch.kron(k, k.conj()) for k in ks)  # type: ignore[return-value]


def _noise_superop(
    ch: PauliNoise | Relaxation, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    if isinstance(ch, Relaxation):
        return _kraus_superop([torch.tensor(k, dtype=dtype, device=device) for k in ch.kraus()])
    k = len(ch.wires)
    return _kraus_superop(
        [math.sqrt(p) * _pauli_string(i, k, dtype, device) for i, p in enumerate(ch.probs) if p > 0]
    )


def _factors(u: _Unit, dtype: torch.dtype, device: torch.device) -> list[torch.Tensor | Op]:
    """The unit's gates with each run of gates that read no angle multiplied out once."""
    out: list[torch.Tensor | Op] = []
    for g in u.gates:
        if _reads_angles(g):
            out.append(g)
            continue
        m = _embed(_gate(g, dtype, device), g.wires, u.wires)
        if out and isinstance(out[-1], torch.Tensor):
            out[-1] = m @ out[-1]
        else:
            out.append(m)
    return out


@dataclass
class _Program:
    """A noisy circuit compiled for one dtype and device, kept between calls.

    Everything here depends on the circuit alone: its units, and what the per-call work
    reads of them (each unit's channels as one superoperator and, for a unit whose gates
    read no input or weight, the whole unit's, held by :class:`Passes`; the gates that
    read angles, by :class:`UnitBatch`). Built afresh on every call, these
    were most of a call's time: a routed 4-qubit circuit of 234 steps spent about 70 %
    of its forward pass making the same Pauli strings, Kraus products and constant
    gates, and a training step (forward and backward) now takes 0.30-0.64x the time
    (``benchmarks/noisy_training.py``).
    """

    amp: Op | None
    units: list[_Unit]
    #: every unit's gate product per call, the gates that read angles built together
    batch: UnitBatch
    #: the density matrix's passes per call (:mod:`quarch.quantum._noisy_batch`)
    passes: Passes
    #: what other engines keep of the circuit (``trajectories``: its channels' operators)
    extra: dict[str, Any] = field(default_factory=dict)


#: Per noisy circuit (held weakly: a search's trials each make their own), its programs
#: by ``(dtype, device)``.
_PROGRAMS: weakref.WeakKeyDictionary[
    NoisyCircuit, dict[tuple[torch.dtype, torch.device], _Program]
] = weakref.WeakKeyDictionary()


def _program(nc: NoisyCircuit, dtype: torch.dtype, device: torch.device) -> _Program:
    """``nc``'s :class:`_Program` for ``dtype`` on ``device``, made on first use.

    Made outside inference mode and without autograd: the constants are shared by
    later calls, and an inference tensor made by a first call under
    ``torch.inference_mode()`` could not be saved for a later call's backward.
    """
    programs = _PROGRAMS.setdefault(nc, {})
    prog = programs.get((dtype, device))
    if prog is not None:
        return prog
    with torch.inference_mode(False), torch.no_grad():
        amp, units = _compile(nc)
        factors = [_factors(u, dtype, device) for u in units]
        noise: list[torch.Tensor | None] = []
        fixed: list[torch.Tensor | None] = []
        for u, fs in zip(units, factors, strict=True):
            s = None
            for ch in u.noise:
                sub = ch.wires if isinstance(ch, PauliNoise) else (ch.wire,)
                c = _embed_superop(_noise_superop(ch, dtype, device).unsqueeze(0), sub, u.wires)
                s = c if s is None else c @ s
            noise.append(s)
            if not fs:  # a unit of channels only
                fixed.append(s)
            elif isinstance(fs[0], torch.Tensor) and len(fs) == 1:  # no gate reads angles
                g = _gates_superop(fs[0])
                fixed.append(g if s is None else s @ g)
            else:
                fixed.append(None)
        batch = UnitBatch(units, factors, dtype, device)
        passes = Passes(units, noise, fixed, batch, dtype, device)
    prog = _Program(amp, units, batch, passes)
    programs[(dtype, device)] = prog
    return prog


def noisy_density_matrix(
    nc: NoisyCircuit,
    *,
    inputs: torch.Tensor | None = None,
    weights: torch.Tensor | Sequence[float] | None = None,
    dtype: torch.dtype = torch.complex128,
    max_memory_gb: float = 4.0,
) -> torch.Tensor:
    """Final density matrices ``[batch, 2**n, 2**n]`` of a :class:`NoisyCircuit`
    (readout error not applied; it acts on measured bits). Differentiable. Inputs
    ``[*, k]`` give ``[*, 2**n, 2**n]``, per-sample weights broadcast with them, as the
    plan (:meth:`~quarch.quantum.simulator.ExecutionPlan.state`) takes them.

    A gate, the diagonal gates before it and its noise are one superoperator; those of
    single-qubit gates wait on their wire and are multiplied into the next two-qubit
    gate's (4x4 into 16x16), and those left after a wire's last two-qubit gate into
    that gate's, so the density matrix is passed over once per two-qubit gate (and once
    per wire that none touches). :mod:`quarch.quantum._noisy_batch` builds these
    superoperators for all units at once.

    Raises:
        NoiseError: the simulation would need more than ``max_memory_gb``, or an
            argument of the wrong kind (``nc`` no :class:`NoisyCircuit`, weights or
            inputs no numbers or of a shape the plan refuses, in its words, a real
            ``dtype`` for a circuit with complex gates or channels, a limit that is no
            number > 0).
    """
    n = _require_noisy(nc, "noisy_density_matrix").n_qubits
    _memory_limit(max_memory_gb)
    x, w, lead, device = _prepare(nc, inputs, weights, dtype)
    batch = math.prod(lead)
    check_memory(n, batch, dtype, max_memory_gb, "quantum trajectories")
    if batch == 0:
        return no_rows((*lead, 2**n, 2**n), dtype, device, x, w)
    prog = _program(nc, dtype, device)
    rho = _Rho(_initial_state(prog.amp, n, x, batch, dtype, device), n)
    # single-wire superoperators wait on their wire and are absorbed into the next
    # multi-wire unit there (or the last one): one pass per two-qubit gate
    for s, wires in prog.passes(x, w):
        rho.superop(s, wires)
    out = rho.matrix()
    return out.reshape(*lead, *out.shape[1:])


def noisy_circuit_expval(
    nc: NoisyCircuit,
    observables: ObservableLike | Sequence[ObservableLike] | None = None,
    *,
    inputs: torch.Tensor | None = None,
    weights: torch.Tensor | Sequence[float] | None = None,
    dtype: torch.dtype = torch.complex128,
    max_memory_gb: float = 4.0,
) -> torch.Tensor:
    """Z-word expectations ``[batch, n_obs]`` (``[*, n_obs]`` for ``[*, k]`` inputs) of
    a :class:`NoisyCircuit` on density matrices, its per-wire readout error applied
    (exact; differentiable).

    Raises:
        NoiseError: as :func:`noisy_density_matrix`.
        MeasurementError: an observable quarch cannot read.
    """
    words = parse_observables(observables, _require_noisy(nc, "noisy_circuit_expval").n_qubits)
    _memory_limit(max_memory_gb)
    rho = noisy_density_matrix(
        nc, inputs=inputs, weights=weights, dtype=dtype, max_memory_gb=max_memory_gb
    )
    probs = torch.diagonal(rho, dim1=-2, dim2=-1).real
    return expvals_from_probs(probs, words, nc.readout)
