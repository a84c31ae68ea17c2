"""Circuit IR: a list of gate applications whose angles are constants, weights or inputs.

A :class:`Circuit` is plain data: it holds no tensors and no device, so a search can
build thousands of them cheaply, pickle them, compare them and hand them to a cost
model. Trainable weight *values* live in a :class:`~quarch.quantum.QuantumLayer` (or
are passed to the simulator); the circuit only says which weight feeds which angle.

What needs more than the IR lives in the module that owns it and takes the circuit as
its first argument: ``to_qasm``/``from_qasm`` (:mod:`~quarch.quantum.qasm`),
``to_qiskit``/``to_pennylane``/``pennylane_source`` (:mod:`~quarch.quantum.export`),
``resources`` (:mod:`~quarch.quantum.metrics`) and ``statevector``
(:mod:`~quarch.quantum.simulator`), all re-exported from :mod:`quarch.quantum`. This
module imports none of them, so the IR sits at the bottom of the package's import
graph and every other module can import it without a cycle.

Wire convention: wire 0 is the most significant bit of a basis-state index, as in
PennyLane. On 3 wires, the amplitude at index 1 (``0b001``) is ``|0,0,1>``: wires 0 and
1 in ``|0>``, wire 2 in ``|1>``. Qiskit numbers the other way round; the exporters map
wire ``i`` to Qiskit qubit ``i``, so a Qiskit ``Statevector`` needs ``reverse_qargs()``
to match.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeGuard

from quarch._errors import CircuitError
from quarch.quantum.gates import GATES

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["CHANNELS", "Angle", "Circuit", "CircuitError", "Input", "Op", "Param", "Weight"]

CHANNELS = ("depolarizing", "amplitude_damping", "phase_damping", "bit_flip")
"""Noise channels a circuit may contain (density-matrix path only)."""


@dataclass(frozen=True)
class Param:
    """A symbolic angle: ``scale * weights[i]`` or ``scale * prod(inputs[j] for j in index)``.

    A product of several input features is what IQP embeddings need (``x_i * x_j``).

    Attributes:
        kind (str): ``"weight"`` (trainable, shared by the batch) or ``"input"``
            (a feature of each sample).
        index (tuple[int, ...]): one weight index, or one or more feature indices.
        scale (float): constant factor.
    """

    kind: Literal["weight", "input"]
    index: tuple[int, ...]
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("weight", "input"):
            raise CircuitError(f"Param kind must be 'weight' or 'input'; got {self.kind!r}")
        if not self.index or any(int(i) != i or i < 0 for i in self.index):
            raise CircuitError(f"Param indices must be integers >= 0; got {self.index!r}")
        if self.kind == "weight" and len(self.index) != 1:
            raise CircuitError(f"a weight Param has exactly one index; got {self.index!r}")
        if not _finite(self.scale):  # NaN made every output of the circuit NaN
            raise CircuitError(f"a Param's scale must be a finite number; got {self.scale!r}")

    def __mul__(self, factor: float) -> Param:
        return Param(self.kind, self.index, self.scale * float(factor))

    __rmul__ = __mul__

    def __neg__(self) -> Param:
        return self * -1.0


def Weight(index: int, scale: float = 1.0) -> Param:
    """Angle given by trainable weight ``index`` (times ``scale``)."""
    return Param("weight", (_index(index, "Weight"),), _scale(scale, "Weight"))


def Input(*index: int, scale: float = 1.0) -> Param:
    """Angle given by input feature ``index`` (or the product of several features)."""
    return Param("input", tuple(_index(i, "Input") for i in index), _scale(scale, "Input"))


def _index(value: object, where: str) -> int:
    """``value`` as a whole number >= 0, or one :class:`CircuitError`: ``int()`` alone
    truncated ``Weight(1.5)`` to weight 1 and ``AngleEmbedding(feature_offset=1.5)`` to
    features 1.., and raised a bare ``ValueError`` for ``Input("a")``."""
    if not isinstance(value, bool):
        try:
            whole = int(value)  # type: ignore[call-overload]  # numpy ints, 0-d tensors
            if whole == value and whole >= 0:
                return whole
        except (TypeError, ValueError):
            pass
    raise CircuitError(f"{where} index must be a whole number >= 0; got {value!r}")


def _scale(value: object, where: str) -> float:
    """``value`` as a float, or one :class:`CircuitError` naming it."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CircuitError(f"{where} scale must be a finite number; got {value!r}") from None


def _finite(value: object) -> bool:
    """Whether ``value`` is a finite real number (not a bool, a str or NaN)."""
    if isinstance(value, bool | str):
        return False
    try:
        return math.isfinite(float(value))  # type: ignore[arg-type]  # numpy scalars too
    except (TypeError, ValueError):
        return False


Angle = float | Param
"""An angle: a constant (radians), a weight or an input feature."""


@dataclass(frozen=True)
class Op:
    """One gate, channel or state preparation applied to ``wires``.

    Attributes:
        name (str): a key of :data:`~quarch.quantum.gates.GATES`, a name in
            :data:`CHANNELS`, or ``"amplitude_embedding"``.
        wires (tuple[int, ...]): wires in the gate's own order (control first).
        params (tuple[float | Param, ...]): angles, or a channel's probability.
        meta (tuple[Any, ...]): extra fixed data (amplitude embedding's feature
            count, padding value and normalisation flag).
    """

    name: str
    wires: tuple[int, ...]
    params: tuple[float | Param, ...] = ()
    meta: tuple[Any, ...] = ()

    @property
    def is_channel(self) -> bool:
        """True for a noise channel."""
        return self.name in CHANNELS


class Block(Protocol):
    """Anything that can add its gates to a circuit (templates)."""

    def build(self, circuit: Circuit) -> None:
        """Append this block's operations to ``circuit``."""


def _angle(value: object, what: str) -> float | Param:
    if isinstance(value, Param):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)  # type: ignore[arg-type]  # numpy / 0-d tensors
        except (TypeError, ValueError):
            raise CircuitError(
                f"{what} must be a number, Weight(i) or Input(j); got {value!r}"
            ) from None
    if not math.isfinite(float(value)):
        raise CircuitError(f"{what} must be finite; got {value!r}")
    return float(value)


@dataclass
class Circuit:
    """A parameterised quantum circuit on ``n_qubits`` wires.

    Wire 0 is the most significant bit of a basis-state index (PennyLane's
    convention). Each angle is a constant, a trainable weight (:func:`Weight`, or a
    fresh one from :meth:`new_weight`) or an input feature (:func:`Input`), so one
    circuit serves every sample of a batch and every training step.

    Args:
        n_qubits (int): number of wires, at least 1.

    Example:
        >>> c = Circuit(2)
        >>> c.ry(0, Input(0)).ry(1, c.new_weight()).cnot(0, 1)
        Circuit(n_qubits=2, ops=3, n_weights=1, n_inputs=1)
        >>> c.n_weights, c.n_inputs
        (1, 1)
    """

    n_qubits: int
    ops: list[Op] = field(default_factory=list)
    _n_alloc: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.n_qubits, bool) or not isinstance(self.n_qubits, int):
            raise CircuitError(f"n_qubits must be an integer in [1, 30]; got {self.n_qubits!r}")
        if not 1 <= self.n_qubits <= 30:
            raise CircuitError(f"n_qubits must be an integer in [1, 30]; got {self.n_qubits}")

    def __repr__(self) -> str:
        return (
            f"Circuit(n_qubits={self.n_qubits}, ops={len(self.ops)}, "
            f"n_weights={self.n_weights}, n_inputs={self.n_inputs})"
        )

    # ------------------------------------------------------------------ bookkeeping
    @property
    def n_weights(self) -> int:
        """Number of trainable weights (allocated or referenced)."""
        used = [p.index[0] + 1 for op in self.ops for p in op.params if _is(p, "weight")]
        return max([self._n_alloc, *used])

    @property
    def n_inputs(self) -> int:
        """Number of input features one sample needs."""
        used = [max(p.index) + 1 for op in self.ops for p in op.params if _is(p, "input")]
        used += [op.meta[0] for op in self.ops if op.name == "amplitude_embedding"]
        return max([0, *used])

    @property
    def has_channels(self) -> bool:
        """True when the circuit contains noise channels."""
        return any(op.is_channel for op in self.ops)

    def new_weight(self, scale: float = 1.0) -> Param:
        """Allocate one fresh trainable weight and return it as an angle."""
        self._n_alloc = self.n_weights + 1
        return Weight(self._n_alloc - 1, scale)

    def new_weights(self, count: int) -> list[Param]:
        """Allocate ``count`` fresh trainable weights (in index order)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise CircuitError(f"new_weights: count must be a whole number >= 0; got {count!r}")
        return [self.new_weight() for _ in range(count)]

    def copy(self) -> Circuit:
        """A shallow copy whose op list can be extended independently."""
        return Circuit(self.n_qubits, list(self.ops), self._n_alloc)

    def add(self, block: Block) -> Circuit:
        """Append a template (anything with ``build(circuit)``); returns ``self``.

        Raises:
            CircuitError: ``block`` is not a template instance (a str, a number, or the
                template's class instead of an instance of it).
        """
        build = getattr(block, "build", None)
        if isinstance(block, type) or not callable(build):
            what = f"the class {block.__name__}" if isinstance(block, type) else repr(block)
            raise CircuitError(
                f"add takes a template instance such as AngleEmbedding(3) (anything with "
                f"build(circuit)); got {what}"
            )
        build(self)
        return self

    def _wires(self, wires: Sequence[object], name: str) -> tuple[int, ...]:
        out: list[int] = []
        for w in wires:
            if isinstance(w, bool) or not isinstance(w, int):
                try:
                    iw = int(w)  # type: ignore[call-overload]
                except (TypeError, ValueError):
                    raise CircuitError(f"{name}: wires must be integers; got {w!r}") from None
                if iw != w:
                    raise CircuitError(f"{name}: wires must be integers; got {w!r}")
                w = iw
            if not 0 <= w < self.n_qubits:
                raise CircuitError(
                    f"{name}: wire {w} is out of range; this circuit has wires "
                    f"0..{self.n_qubits - 1}"
                )
            out.append(w)
        if len(set(out)) != len(out):
            raise CircuitError(f"{name}: the same wire appears twice in {tuple(out)}")
        return tuple(out)

    def append(self, name: str, wires: Sequence[int], params: Sequence[object] = ()) -> Circuit:
        """Append gate or channel ``name`` by name (used by parsers and templates).

        Raises:
            CircuitError: unknown gate, wrong wire count, bad wire or bad angle.
        """
        if name in GATES:
            spec = GATES[name]
            n_wires, n_params = spec.n_wires, spec.n_params
        elif name in CHANNELS:
            n_wires, n_params = 1, 1
        else:
            known = ", ".join([*GATES, *CHANNELS])
            raise CircuitError(f"unknown gate {name!r}; known gates: {known}")
        ws = self._wires(_sequence(wires, f"{name} wires"), name)
        if len(ws) != n_wires:
            raise CircuitError(f"{name} acts on {n_wires} wire(s); got wires {ws}")
        params = _sequence(params, f"{name} angles")
        if len(params) != n_params:
            raise CircuitError(f"{name} takes {n_params} angle(s); got {len(params)}")
        ps = tuple(_angle(p, f"{name} angle") for p in params)
        if name in CHANNELS:
            p = ps[0]
            if isinstance(p, Param) or not 0.0 <= p <= 1.0:
                raise CircuitError(f"{name} probability must be a number in [0, 1]; got {p!r}")
        self.ops.append(Op(name, ws, ps))
        return self

    # ------------------------------------------------------------------ gates
    def h(self, wire: int) -> Circuit:
        """Hadamard."""
        return self.append("h", [wire])

    def x(self, wire: int) -> Circuit:
        """Pauli X."""
        return self.append("x", [wire])

    def y(self, wire: int) -> Circuit:
        """Pauli Y."""
        return self.append("y", [wire])

    def z(self, wire: int) -> Circuit:
        """Pauli Z."""
        return self.append("z", [wire])

    def s(self, wire: int) -> Circuit:
        """S = diag(1, i)."""
        return self.append("s", [wire])

    def sdg(self, wire: int) -> Circuit:
        """S dagger."""
        return self.append("sdg", [wire])

    def t(self, wire: int) -> Circuit:
        """T = diag(1, e^{i pi/4})."""
        return self.append("t", [wire])

    def tdg(self, wire: int) -> Circuit:
        """T dagger."""
        return self.append("tdg", [wire])

    def sx(self, wire: int) -> Circuit:
        """Square root of X."""
        return self.append("sx", [wire])

    def sxdg(self, wire: int) -> Circuit:
        """Inverse square root of X."""
        return self.append("sxdg", [wire])

    def rx(self, wire: int, angle: Angle) -> Circuit:
        """RX(angle) = exp(-i angle X / 2)."""
        return self.append("rx", [wire], [angle])

    def ry(self, wire: int, angle: Angle) -> Circuit:
        """RY(angle) = exp(-i angle Y / 2)."""
        return self.append("ry", [wire], [angle])

    def rz(self, wire: int, angle: Angle) -> Circuit:
        """RZ(angle) = exp(-i angle Z / 2)."""
        return self.append("rz", [wire], [angle])

    def phase(self, wire: int, angle: Angle) -> Circuit:
        """PhaseShift(angle) = diag(1, e^{i angle}) (QASM ``p``/``u1``)."""
        return self.append("phase", [wire], [angle])

    def rot(self, wire: int, phi: Angle, theta: Angle, omega: Angle) -> Circuit:
        """PennyLane's Rot = RZ(omega) RY(theta) RZ(phi)."""
        return self.append("rot", [wire], [phi, theta, omega])

    def u3(self, wire: int, theta: Angle, phi: Angle, lam: Angle) -> Circuit:
        """OpenQASM's U3(theta, phi, lambda)."""
        return self.append("u3", [wire], [theta, phi, lam])

    def cnot(self, control: int, target: int) -> Circuit:
        """Controlled X."""
        return self.append("cnot", [control, target])

    def cz(self, control: int, target: int) -> Circuit:
        """Controlled Z."""
        return self.append("cz", [control, target])

    def cy(self, control: int, target: int) -> Circuit:
        """Controlled Y."""
        return self.append("cy", [control, target])

    def ch(self, control: int, target: int) -> Circuit:
        """Controlled Hadamard."""
        return self.append("ch", [control, target])

    def swap(self, a: int, b: int) -> Circuit:
        """SWAP."""
        return self.append("swap", [a, b])

    def crx(self, control: int, target: int, angle: Angle) -> Circuit:
        """Controlled RX."""
        return self.append("crx", [control, target], [angle])

    def cry(self, control: int, target: int, angle: Angle) -> Circuit:
        """Controlled RY."""
        return self.append("cry", [control, target], [angle])

    def crz(self, control: int, target: int, angle: Angle) -> Circuit:
        """Controlled RZ."""
        return self.append("crz", [control, target], [angle])

    def cphase(self, control: int, target: int, angle: Angle) -> Circuit:
        """Controlled phase shift (QASM ``cp``/``cu1``)."""
        return self.append("cphase", [control, target], [angle])

    def rxx(self, a: int, b: int, angle: Angle) -> Circuit:
        """RXX(angle) = exp(-i angle X⊗X / 2) (PennyLane IsingXX)."""
        return self.append("rxx", [a, b], [angle])

    def ryy(self, a: int, b: int, angle: Angle) -> Circuit:
        """RYY(angle) = exp(-i angle Y⊗Y / 2) (PennyLane IsingYY)."""
        return self.append("ryy", [a, b], [angle])

    def rzz(self, a: int, b: int, angle: Angle) -> Circuit:
        """RZZ(angle) = exp(-i angle Z⊗Z / 2) (PennyLane IsingZZ / MultiRZ)."""
        return self.append("rzz", [a, b], [angle])

    def ccx(self, c1: int, c2: int, target: int) -> Circuit:
        """Toffoli."""
        return self.append("ccx", [c1, c2, target])

    def cswap(self, control: int, a: int, b: int) -> Circuit:
        """Fredkin (controlled SWAP)."""
        return self.append("cswap", [control, a, b])

    # ------------------------------------------------------------------ channels
    def depolarizing(self, wire: int, p: float) -> Circuit:
        """Depolarising channel (PennyLane's DepolarizingChannel): X, Y, Z each w.p. p/3."""
        return self.append("depolarizing", [wire], [p])

    def amplitude_damping(self, wire: int, gamma: float) -> Circuit:
        """Amplitude damping (energy loss |1> -> |0> with probability gamma)."""
        return self.append("amplitude_damping", [wire], [gamma])

    def phase_damping(self, wire: int, gamma: float) -> Circuit:
        """Phase damping (loss of coherence without energy loss)."""
        return self.append("phase_damping", [wire], [gamma])

    def bit_flip(self, wire: int, p: float) -> Circuit:
        """Bit flip: X with probability p."""
        return self.append("bit_flip", [wire], [p])

    # ------------------------------------------------------------------ state prep
    def amplitude_embedding(
        self, n_features: int, *, pad_with: float | None = 0.0, normalize: bool = True
    ) -> Circuit:
        """Load input features ``0..n_features-1`` as the amplitudes of all wires.

        Must be the first operation, as in PennyLane. Features are padded with
        ``pad_with`` up to ``2**n_qubits`` and normalised when ``normalize``.
        """
        dim = 2**self.n_qubits
        if self.ops:
            raise CircuitError("amplitude_embedding must be the first operation of a circuit")
        if isinstance(n_features, bool) or not isinstance(n_features, int):
            raise CircuitError(f"n_features must be an integer in [1, {dim}]; got {n_features!r}")
        if not 1 <= n_features <= dim:
            raise CircuitError(f"n_features must be an integer in [1, {dim}]; got {n_features}")
        if n_features < dim and pad_with is None:
            raise CircuitError(
                f"amplitude_embedding of {n_features} features on {self.n_qubits} wires "
                f"needs {dim} features or pad_with set"
            )
        meta = (n_features, 0.0 if pad_with is None else float(pad_with), bool(normalize))
        self.ops.append(Op("amplitude_embedding", tuple(range(self.n_qubits)), (), meta))
        return self

    # ------------------------------------------------------------------ views
    def bind(
        self,
        weights: Sequence[float] | np.ndarray | torch.Tensor | None = None,
        inputs: Sequence[float] | np.ndarray | torch.Tensor | None = None,
    ) -> Circuit:
        """A copy whose weight (and optionally input) angles are replaced by numbers.

        Exporters need numbers; a trained model binds its weights before export.

        Args:
            weights: one value per weight (``n_weights``).
            inputs: one sample's features (``n_inputs``); required to bind inputs.

        Raises:
            CircuitError: wrong number of values.
        """
        w = _values(weights, self.n_weights, "weights")
        x = _values(inputs, self.n_inputs, "inputs")
        out = Circuit(self.n_qubits)
        for op in self.ops:
            if op.name == "amplitude_embedding":
                if x is None:
                    out.ops.append(op)
                    continue
                raise CircuitError(
                    "bind: an amplitude embedding cannot be bound to numbers; keep inputs"
                )
            params: list[float | Param] = []
            for p in op.params:
                if isinstance(p, Param) and p.kind == "weight" and w is not None:
                    params.append(p.scale * w[p.index[0]])
                elif isinstance(p, Param) and p.kind == "input" and x is not None:
                    params.append(p.scale * math.prod(x[i] for i in p.index))
                else:
                    params.append(p)
            out.ops.append(Op(op.name, op.wires, tuple(params), op.meta))
        if w is None:
            out._n_alloc = self.n_weights
        return out


def _is(p: object, kind: str) -> TypeGuard[Param]:
    return isinstance(p, Param) and p.kind == kind


def _values(values: object, n: int, name: str) -> list[float] | None:
    if values is None:
        return None
    try:
        import torch

        if isinstance(values, torch.Tensor):
            values = values.detach().cpu().reshape(-1).tolist()
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass
    try:
        flat = [float(v) for v in values]  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        given = f"{type(values).__name__} {values!r}"
        given = given if len(given) <= 60 else f"{given[:57]}..."
        raise CircuitError(f"{name} must be a sequence of numbers; got {given}") from None
    if len(flat) != n:
        raise CircuitError(f"{name} must hold {n} value(s) for this circuit; got {len(flat)}")
    bad = [i for i, v in enumerate(flat) if not math.isfinite(v)]
    if bad:  # an angle the circuit refuses (to_qasm wrote 'rx(nan)', which no reader takes)
        raise CircuitError(
            f"{name} must be finite; {name}[{bad[0]}] is {flat[bad[0]]} "
            f"({len(bad)} of {n} not finite: did training diverge?)"
        )
    return flat


def _sequence(values: object, what: str) -> Sequence[object]:
    """``values`` as a list, or one :class:`CircuitError`: ``append("rx", 0, [0.1])``
    raised ``TypeError: 'int' object is not iterable``."""
    if isinstance(values, Sequence) and not isinstance(values, str):
        return values
    if not isinstance(values, str):
        try:
            return list(values)  # type: ignore[call-overload]  # arrays, tensors, ranges
        except TypeError:
            pass
    raise CircuitError(f"{what} must be a list; got {values!r}")


def require_circuit(obj: object, where: str, args: str = "layer.circuit, layer.weights") -> Circuit:
    """``obj`` if it is a :class:`Circuit`, else one :class:`CircuitError` naming what
    ``where`` (a function) got; for a module holding a circuit (a ``QuantumLayer``) it
    shows the call to make instead, ``where(args)``."""
    if isinstance(obj, Circuit):
        return obj
    held = isinstance(getattr(obj, "circuit", None), Circuit)
    hint = f"; for a QuantumLayer call {where}({args})" if held else ""
    raise CircuitError(f"{where} takes a quarch Circuit; got {type(obj).__name__}{hint}")
