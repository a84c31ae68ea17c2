"""Noisy simulation with density matrices: channels, a per-gate noise model, readout error.

A density matrix of ``n`` qubits has ``4**n`` entries, so this path is meant for up to
about 10 qubits; it checks the memory it would need first and raises
:class:`NoiseError` instead of exhausting the machine. Channels follow PennyLane's
Kraus operators (DepolarizingChannel, AmplitudeDamping, PhaseDamping, BitFlip); the
readout error flips each measured bit with probability ``p``, as ``default.mixed``'s
``readout_prob`` does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Real

import torch

from quarch._errors import QuarchError, did_you_mean
from quarch.quantum._gatewise import GateMatrices
from quarch.quantum._plan_arguments import no_rows
from quarch.quantum.circuit import CHANNELS, Circuit, Op, require_circuit
from quarch.quantum.gates import GATES
from quarch.quantum.measurements import ObservableLike, _given, parse_observables
from quarch.quantum.simulator import compile_circuit

__all__ = [
    "NoiseError",
    "NoiseModel",
    "check_memory",
    "density_matrix",
    "kraus",
    "noisy_expval",
    "noisy_probs",
]


class NoiseError(QuarchError, ValueError):
    """A noise model or a density-matrix simulation request is invalid or too large."""


def _number(value: object, what: str, top: float) -> float:
    """``value`` if it is a real number in ``[0, top]``, else one line: a value that is
    no number, or NaN, failed deep inside (``TypeError: '<=' not supported``) or was
    taken (a NaN passes no comparison, so it failed none)."""
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, Real)):
        raise NoiseError(f"{what} must be a number in [0, {top:g}]; got {_given(value)}")
    if not 0.0 <= float(value) <= top:  # type: ignore[arg-type]
        raise NoiseError(f"{what} must be in [0, {top:g}]; got {value!r}")
    return float(value)


def _memory_limit(value: object) -> None:
    """Refuse a ``max_memory_gb`` that is no number > 0 (a str failed inside the
    comparison; NaN lifted the limit)."""
    number = type(value) is float or (isinstance(value, Real) and not isinstance(value, bool))
    if not number or not float(value) > 0:  # type: ignore[arg-type]
        raise NoiseError(f"max_memory_gb must be a number > 0 (GiB); got {_given(value)}")


def _noise_args(where: str, circuit: object, noise_model: object, max_memory_gb: object) -> None:
    """The arguments of a density-matrix entry, each refused in one line naming it."""
    require_circuit(circuit, where)
    if noise_model is not None and not isinstance(noise_model, NoiseModel):
        raise NoiseError(
            f"{where}: noise_model must be a NoiseModel or None; got {_given(noise_model)}"
        )
    _memory_limit(max_memory_gb)


def check_memory(
    n: int, batch: int, dtype: torch.dtype, max_memory_gb: float, instead: str
) -> None:
    """Refuse a density-matrix run of ``n`` qubits and ``batch`` rows that would need more
    than ``max_memory_gb`` (three live ``4**n`` matrices per row), naming ``instead``.

    Raises:
        NoiseError: the run would exceed the limit.
    """
    # the dtype's own size: a real float32 run (a circuit of real gates) was sized at 8
    # bytes an entry, refusing widths that fit
    itemsize = torch.empty((), dtype=dtype).element_size()
    need = 3 * batch * 4**n * itemsize / 2**30
    if need > max_memory_gb:
        raise NoiseError(
            f"a density matrix of {n} qubits for a batch of {batch} needs about {need:.1f} GiB; "
            f"the limit is {max_memory_gb} GiB (max_memory_gb). Use fewer qubits, a smaller "
            f"batch, or {instead}"
        )


def kraus(name: str, p: float, dtype: torch.dtype = torch.complex128) -> torch.Tensor:
    """Kraus operators ``[m, 2, 2]`` of a single-qubit channel (PennyLane's definitions).

    Raises:
        NoiseError: an unknown channel, ``p`` not a number in ``[0, 1]``, or a ``dtype``
            that cannot hold the operators (a real one for ``depolarizing``: torch
            failed with ``TypeError: must be real number, not complex``).
    """
    p = _number(p, f"{name} probability", 1.0)
    s = math.sqrt
    if name == "depolarizing":
        ks = [
            [[s(1 - p), 0], [0, s(1 - p)]],
            [[0, s(p / 3)], [s(p / 3), 0]],
            [[0, -1j * s(p / 3)], [1j * s(p / 3), 0]],
            [[s(p / 3), 0], [0, -s(p / 3)]],
        ]
    elif name == "amplitude_damping":
        ks = [[[1, 0], [0, s(1 - p)]], [[0, s(p)], [0, 0]]]
    elif name == "phase_damping":
        ks = [[[1, 0], [0, s(1 - p)]], [[0, 0], [0, s(p)]]]
    elif name == "bit_flip":
        ks = [[[s(1 - p), 0], [0, s(1 - p)]], [[0, s(p)], [s(p), 0]]]
    else:
        raise NoiseError(f"unknown channel {name!r}; allowed: {', '.join(CHANNELS)}")
    if not isinstance(dtype, torch.dtype) or not (dtype.is_complex or dtype.is_floating_point):
        raise NoiseError(f"dtype must be a torch complex or real dtype; got {dtype!r}")
    if name == "depolarizing" and not dtype.is_complex:  # its Y term is imaginary
        raise NoiseError(
            f"depolarizing has a complex Kraus operator (Y): dtype must be complex "
            f"(torch.complex64 or torch.complex128); got {dtype}"
        )
    return torch.tensor(ks, dtype=dtype)


@dataclass(frozen=True)
class NoiseModel:
    """Per-gate error rates: after each gate, a channel on each of its wires.

    Args:
        gate_errors (Mapping[str, tuple[str, float]]): gate name, ``"1q"`` (every
            single-qubit gate) or ``"2q"`` (every gate on 2+ wires) -> ``(channel, p)``.
            A gate's own name wins over ``"1q"``/``"2q"``.
        readout_error (float): probability that each measured bit is flipped.

    Example:
        >>> NoiseModel({"1q": ("depolarizing", 0.001), "2q": ("depolarizing", 0.01)},
        ...            readout_error=0.02).readout_error
        0.02
    """

    gate_errors: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    readout_error: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.gate_errors, Mapping):
            raise NoiseError(
                "NoiseModel: gate_errors must be a dict {gate, '1q' or '2q': (channel, p)}; "
                f"got {_given(self.gate_errors)}"
            )
        _number(self.readout_error, "readout_error", 0.5)
        for gate, spec in self.gate_errors.items():
            if gate not in ("1q", "2q") and gate not in GATES:
                # a name no gate has (``"CNOT"``, ``"cx"``) matched nothing: no noise at all
                meant = (  # difflib offers 'crx' for Qiskit's name of the CNOT
                    f" ({gate!r}: quarch calls it 'cnot')"
                    if str(gate).lower() == "cx"
                    else did_you_mean([gate], ["1q", "2q", *GATES])
                )
                raise NoiseError(
                    f"gate_errors: unknown gate {gate!r}; use '1q', '2q' or a gate name "
                    f"({', '.join(GATES)}){meant}"
                )
            if not (isinstance(spec, tuple) and len(spec) == 2):
                raise NoiseError(f"gate_errors[{gate!r}] must be (channel, p); got {spec!r}")
            ch, p = spec
            if ch not in CHANNELS:
                raise NoiseError(
                    f"gate_errors[{gate!r}]: unknown channel {ch!r}; allowed: {', '.join(CHANNELS)}"
                )
            _number(p, f"gate_errors[{gate!r}]: p", 1.0)

    def apply(self, circuit: Circuit) -> Circuit:
        """A copy of ``circuit`` with the model's channels inserted after each gate."""
        out = Circuit(circuit.n_qubits, [], circuit.n_weights)
        for op in circuit.ops:
            out.ops.append(op)
            if op.is_channel or op.name == "amplitude_embedding":
                continue
            key = op.name if op.name in self.gate_errors else ("1q" if len(op.wires) == 1 else "2q")
            if key in self.gate_errors:
                ch, p = self.gate_errors[key]
                for w in op.wires:
                    out.ops.append(Op(ch, (w,), (float(p),)))
        return out


def _apply(rho: torch.Tensor, m: torch.Tensor, axes: Sequence[int]) -> torch.Tensor:
    """Multiply matrix ``m`` (``[(B,) d, d]``) into tensor axes ``axes`` of ``rho``."""
    r = len(axes)
    dst = list(range(1, 1 + r))
    t = rho.movedim(list(axes), dst)
    shape = t.shape
    t = (m @ t.reshape(shape[0], 2**r, math.prod(shape[1 + r :]))).reshape(shape)
    return t.movedim(dst, list(axes))


def density_matrix(
    circuit: Circuit,
    *,
    inputs: torch.Tensor | None = None,
    weights: torch.Tensor | Sequence[float] | None = None,
    noise_model: NoiseModel | None = None,
    dtype: torch.dtype = torch.complex128,
    max_memory_gb: float = 4.0,
) -> torch.Tensor:
    """Final density matrices ``[batch, 2**n, 2**n]`` of a (noisy) circuit.

    Gates are taken from the circuit (its angles from ``inputs``/``weights``), channels
    from the circuit itself and from ``noise_model``. Differentiable like the
    state-vector path. Inputs and weights are taken as the plan takes them
    (:meth:`~quarch.quantum.simulator.ExecutionPlan.state`): ``[*, k]`` inputs give
    ``[*, 2**n, 2**n]``, per-sample weights broadcast with them as torch broadcasts.

    Raises:
        NoiseError: the simulation would need more than ``max_memory_gb`` (all rows of
            ``[*, k]`` counted), or an argument of the wrong kind (a noise model that is
            none, a limit that is no number > 0).
        SimulationError: inputs or weights the plan refuses (the plan's own line).
        CircuitError: ``circuit`` is not a :class:`Circuit`.
    """
    _noise_args("density_matrix", circuit, noise_model, max_memory_gb)
    rho, lead = _density_rows(circuit, inputs, weights, noise_model, dtype, max_memory_gb)
    return rho.reshape(*lead, *rho.shape[1:])


def _density_rows(
    circuit: Circuit,
    inputs: torch.Tensor | None,
    weights: torch.Tensor | Sequence[float] | None,
    noise_model: NoiseModel | None,
    dtype: torch.dtype,
    max_memory_gb: float,
) -> tuple[torch.Tensor, tuple[int, ...]]:
    """Density matrices as rows ``[rows, 2**n, 2**n]`` and the leading shape of the
    arguments (``(1,)`` when nothing is batched), which the public entries put back in
    front of their answers. The memory check counts every row: sized from ``shape[0]``
    it let ``[2, 10**6, k]`` through as two rows."""
    circ = noise_model.apply(circuit) if noise_model is not None else circuit
    n = circ.n_qubits
    # Unitary part: each gate's matrix, op by op; the plan checks the arguments (shapes
    # and refusals the plan's own) before any matrix is made.
    gates_only = Circuit(n, [op for op in circ.ops if not op.is_channel], circ.n_weights)
    plan = compile_circuit(gates_only, dtype=dtype, max_block_qubits=1)
    inputs_t, w, _, lead, device = plan._arguments(inputs, weights, None)
    batch = math.prod(lead)
    check_memory(n, batch, dtype, max_memory_gb, "the state-vector simulator without noise")
    if batch == 0:
        return no_rows((0, 2**n, 2**n), dtype, device, inputs_t, w), lead
    gates = GateMatrices(gates_only, dtype)
    mats = gates.matrices(inputs_t, w, batch, device)
    dim = 2**n
    if gates.amplitude is not None:
        emb = Circuit(n, [circ.ops[0]])
        psi = compile_circuit(emb, dtype=dtype).state(inputs_t)
        rho = psi[:, :, None] * psi.conj()[:, None, :]
    else:
        rho = torch.zeros(batch, dim, dim, dtype=dtype, device=device)
        rho[:, 0, 0] = 1
    rho = rho.reshape([batch] + [2] * (2 * n))
    refs = iter(gates.refs)
    for op in circ.ops:
        if op.name == "amplitude_embedding":
            continue
        axes_r = [1 + w for w in op.wires]
        axes_c = [1 + n + w for w in op.wires]
        if op.is_channel:
            ks = kraus(op.name, float(op.params[0]), dtype).to(device)  # type: ignore[arg-type]
            rho = sum(_apply(_apply(rho, k, axes_r), k.conj(), axes_c) for k in ks)  # type: ignore[assignment]
            continue
        m = gates.matrix(next(refs), mats, device)
        rho = _apply(_apply(rho, m, axes_r), m.conj(), axes_c)
    return rho.reshape(batch, dim, dim), lead


def _readout(probs: torch.Tensor, n: int, p: float) -> torch.Tensor:
    """Probabilities ``[rows, 2**n]`` as read with each bit flipped with probability ``p``."""
    if p == 0:
        return probs
    conf = torch.tensor([[1 - p, p], [p, 1 - p]], dtype=probs.dtype, device=probs.device)
    t = probs.reshape([probs.shape[0]] + [2] * n)
    for w in range(n):
        t = torch.movedim(torch.tensordot(t, conf, dims=([1 + w], [1])), -1, 1 + w)
    return t.reshape(probs.shape)


def noisy_probs(
    circuit: Circuit,
    *,
    inputs: torch.Tensor | None = None,
    weights: torch.Tensor | Sequence[float] | None = None,
    noise_model: NoiseModel | None = None,
    dtype: torch.dtype = torch.complex128,
    max_memory_gb: float = 4.0,
) -> torch.Tensor:
    """Measured basis-state probabilities ``[batch, 2**n]`` (``[*, 2**n]`` for ``[*, k]``
    inputs), readout error included.

    Raises:
        NoiseError, SimulationError, CircuitError: as :func:`density_matrix`.
    """
    _noise_args("noisy_probs", circuit, noise_model, max_memory_gb)
    rho, lead = _density_rows(circuit, inputs, weights, noise_model, dtype, max_memory_gb)
    probs = torch.diagonal(rho, dim1=-2, dim2=-1).real
    p = noise_model.readout_error if noise_model is not None else 0.0
    probs = _readout(probs, circuit.n_qubits, p)
    return probs.reshape(*lead, probs.shape[-1])


def noisy_expval(
    circuit: Circuit,
    observables: ObservableLike | Sequence[ObservableLike] | None = None,
    *,
    inputs: torch.Tensor | None = None,
    weights: torch.Tensor | Sequence[float] | None = None,
    noise_model: NoiseModel | None = None,
    dtype: torch.dtype = torch.complex128,
    max_memory_gb: float = 4.0,
) -> torch.Tensor:
    """Expectations ``Tr(rho P)`` of Pauli words ``[batch, n_obs]`` (``[*, n_obs]`` for
    ``[*, k]`` inputs).

    Readout error scales a word on ``m`` wires by ``(1 - 2p)**m``: each measured bit
    flips independently in the word's measurement basis.

    Raises:
        NoiseError, SimulationError, CircuitError: as :func:`density_matrix`.
        MeasurementError: an observable quarch cannot read.
    """
    _noise_args("noisy_expval", circuit, noise_model, max_memory_gb)
    n = circuit.n_qubits
    words = parse_observables(observables, n)
    rho, lead = _density_rows(circuit, inputs, weights, noise_model, dtype, max_memory_gb)
    p = noise_model.readout_error if noise_model is not None else 0.0
    paulis = {
        "X": torch.tensor([[0, 1], [1, 0]], dtype=dtype, device=rho.device),
        "Y": torch.tensor([[0, -1j], [1j, 0]], dtype=dtype, device=rho.device),
        "Z": torch.tensor([[1, 0], [0, -1]], dtype=dtype, device=rho.device),
    }
    t = rho.reshape([rho.shape[0]] + [2] * (2 * n))
    out = []
    for word in words:
        pr = t
        for w, letter in word.terms:
            pr = _apply(pr, paulis[letter], [1 + w])
        val = torch.diagonal(pr.reshape(rho.shape), dim1=-2, dim2=-1).sum(-1).real
        out.append(val * (1 - 2 * p) ** len(word.terms))
    return torch.stack(out, dim=-1).reshape(*lead, len(words))
