"""The gate table: one entry per gate, with its matrix in quarch's wire convention.

Every simulator path (state vector, density matrix) and every exporter reads this one
table, so a gate's meaning is written down exactly once. Matrices use the convention
of PennyLane: the first wire of a gate is the most significant bit of the local index,
and angles follow PennyLane's and Qiskit's definitions (``RZ(t) = diag(e^{-it/2},
e^{it/2})``, ``PhaseShift(p) = diag(1, e^{ip})``, ``Rot(a, b, c) = RZ(c) RY(b) RZ(a)``,
``U3`` as in OpenQASM, ``RZZ(t) = exp(-i t/2 Z⊗Z)``), so no global phase is lost
against either reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from quarch._errors import CircuitError

__all__ = ["GATES", "GateSpec", "gate_matrix"]

_SQ2 = 1.0 / math.sqrt(2.0)


@dataclass(frozen=True)
class GateSpec:
    """What the rest of quarch needs to know about one gate.

    Attributes:
        name (str): quarch's name, the name of the :class:`~quarch.quantum.Circuit`
            method.
        n_wires (int): number of wires the gate acts on.
        n_params (int): number of angles.
        constant (np.ndarray | None): the matrix of a gate without angles.
        builder (Callable | None): builds the matrices of a parametrised gate from
            its angles, each a real tensor of any shape ``S``; returns ``S + (d, d)``.
        permutation (bool): True when the gate only permutes basis states (CNOT,
            SWAP, X, Toffoli), which lets the simulator skip multiplications.
    """

    name: str
    n_wires: int
    n_params: int
    constant: np.ndarray | None = None
    builder: Callable[..., torch.Tensor] | None = None
    permutation: bool = False


def _stack(rows: list[list[torch.Tensor | complex]], like: torch.Tensor) -> torch.Tensor:
    """Assemble a ``(..., d, d)`` matrix from entries that are tensors or numbers."""
    shape = like.shape
    flat: list[torch.Tensor] = []
    for row in rows:
        for entry in row:
            if isinstance(entry, torch.Tensor):
                flat.append(entry.expand(shape))
            else:
                flat.append(torch.full(shape, entry, dtype=like.dtype, device=like.device))
    d = len(rows)
    return torch.stack(flat, dim=-1).reshape(*shape, d, d)


def _cplx(t: torch.Tensor) -> torch.dtype:
    return torch.complex128 if t.dtype == torch.float64 else torch.complex64


def _cs(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    ct = _cplx(theta)
    return torch.cos(theta / 2).to(ct), torch.sin(theta / 2).to(ct)


def _phase(angle: torch.Tensor) -> torch.Tensor:
    return torch.polar(torch.ones_like(angle), angle)


def _rx(t: torch.Tensor) -> torch.Tensor:
    c, s = _cs(t)
    return _stack([[c, -1j * s], [-1j * s, c]], c)


def _ry(t: torch.Tensor) -> torch.Tensor:
    c, s = _cs(t)
    return _stack([[c, -s], [s, c]], c)


def _rz(t: torch.Tensor) -> torch.Tensor:
    e = _phase(-t / 2)
    return _stack([[e, 0], [0, e.conj()]], e)


def _phase_shift(t: torch.Tensor) -> torch.Tensor:
    e = _phase(t)
    return _stack([[1, 0], [0, e]], e)


def _u3(theta: torch.Tensor, phi: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    c, s = _cs(theta)
    ep, el, epl = _phase(phi), _phase(lam), _phase(phi + lam)
    return _stack([[c, -el * s], [ep * s, epl * c]], c)


def _rot(phi: torch.Tensor, theta: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    c, s = _cs(theta)
    a, b = _phase(-(phi + omega) / 2), _phase((phi - omega) / 2)
    return _stack([[a * c, -b * s], [b.conj() * s, a.conj() * c]], c)


def _controlled(single: Callable[[torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    def build(t: torch.Tensor) -> torch.Tensor:
        m = single(t)
        out = torch.zeros(*m.shape[:-2], 4, 4, dtype=m.dtype, device=m.device)
        out[..., 0, 0] = 1
        out[..., 1, 1] = 1
        out[..., 2:, 2:] = m
        return out

    return build


def _rxx(t: torch.Tensor) -> torch.Tensor:
    c, s = _cs(t)
    m = -1j * s
    return _stack([[c, 0, 0, m], [0, c, m, 0], [0, m, c, 0], [m, 0, 0, c]], c)


def _ryy(t: torch.Tensor) -> torch.Tensor:
    c, s = _cs(t)
    p, m = 1j * s, -1j * s
    return _stack([[c, 0, 0, p], [0, c, m, 0], [0, m, c, 0], [p, 0, 0, c]], c)


def _rzz(t: torch.Tensor) -> torch.Tensor:
    e = _phase(-t / 2)
    f = e.conj()
    return _stack([[e, 0, 0, 0], [0, f, 0, 0], [0, 0, f, 0], [0, 0, 0, e]], e)


def _perm_matrix(images: list[int]) -> np.ndarray:
    d = len(images)
    m = np.zeros((d, d), dtype=np.complex128)
    for i, j in enumerate(images):
        m[j, i] = 1
    return m


def _ctrl(u: np.ndarray) -> np.ndarray:
    d = u.shape[0]
    out = np.eye(2 * d, dtype=np.complex128)
    out[d:, d:] = u
    return out


_I = np.eye(2, dtype=np.complex128)
_X = np.array([[0, 1], [1, 0]], dtype=np.complex128)
_Y = np.array([[0, -1j], [1j, 0]], dtype=np.complex128)
_Z = np.diag([1, -1]).astype(np.complex128)
_H = np.array([[1, 1], [1, -1]], dtype=np.complex128) * _SQ2
_S = np.diag([1, 1j]).astype(np.complex128)
_T = np.diag([1, np.exp(1j * np.pi / 4)]).astype(np.complex128)
_SX = 0.5 * np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]], dtype=np.complex128)

_SPECS = [
    GateSpec("h", 1, 0, _H),
    GateSpec("x", 1, 0, _X, permutation=True),
    GateSpec("y", 1, 0, _Y),
    GateSpec("z", 1, 0, _Z),
    GateSpec("s", 1, 0, _S),
    GateSpec("sdg", 1, 0, _S.conj().T),
    GateSpec("t", 1, 0, _T),
    GateSpec("tdg", 1, 0, _T.conj().T),
    GateSpec("sx", 1, 0, _SX),
    GateSpec("sxdg", 1, 0, _SX.conj().T),
    GateSpec("rx", 1, 1, builder=_rx),
    GateSpec("ry", 1, 1, builder=_ry),
    GateSpec("rz", 1, 1, builder=_rz),
    GateSpec("phase", 1, 1, builder=_phase_shift),
    GateSpec("rot", 1, 3, builder=_rot),
    GateSpec("u3", 1, 3, builder=_u3),
    GateSpec("cnot", 2, 0, _perm_matrix([0, 1, 3, 2]), permutation=True),
    GateSpec("cz", 2, 0, np.diag([1, 1, 1, -1]).astype(np.complex128)),
    GateSpec("cy", 2, 0, _ctrl(_Y)),
    GateSpec("ch", 2, 0, _ctrl(_H)),
    GateSpec("swap", 2, 0, _perm_matrix([0, 2, 1, 3]), permutation=True),
    GateSpec("crx", 2, 1, builder=_controlled(_rx)),
    GateSpec("cry", 2, 1, builder=_controlled(_ry)),
    GateSpec("crz", 2, 1, builder=_controlled(_rz)),
    GateSpec("cphase", 2, 1, builder=_controlled(_phase_shift)),
    GateSpec("rxx", 2, 1, builder=_rxx),
    GateSpec("ryy", 2, 1, builder=_ryy),
    GateSpec("rzz", 2, 1, builder=_rzz),
    GateSpec("ccx", 3, 0, _perm_matrix([0, 1, 2, 3, 4, 5, 7, 6]), permutation=True),
    GateSpec("cswap", 3, 0, _perm_matrix([0, 1, 2, 3, 4, 6, 5, 7]), permutation=True),
]

GATES: dict[str, GateSpec] = {spec.name: spec for spec in _SPECS}
"""Every gate quarch knows, by name."""


@lru_cache(maxsize=256)
def _constant_tensor(name: str, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    mat = GATES[name].constant
    assert mat is not None
    if not dtype.is_complex and np.iscomplexobj(mat):
        # a real simulation (an all-real circuit run in a float dtype): torch would drop
        # the imaginary part with a warning, silently wrong for a gate that has one
        if np.any(mat.imag):
            raise CircuitError(
                f"gate {name!r} has complex entries; a real dtype ({dtype}) cannot hold it"
            )
        mat = mat.real
    return torch.as_tensor(mat, dtype=dtype, device=device)


def gate_matrix(
    name: str,
    params: torch.Tensor | None = None,
    *,
    dtype: torch.dtype = torch.complex128,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Matrix (or stack of matrices) of one gate.

    Args:
        name (str): a key of :data:`GATES`.
        params (torch.Tensor | None): angles, shape ``S + (n_params,)`` (an array or a
            list of numbers is taken too); ``None`` for a gate without angles.
        dtype (torch.dtype): dtype of the result: complex, or floating point for a gate
            whose matrix is real (an all-real circuit simulated in a real dtype); the
            angles are read in float64 for ``complex128`` and ``float64``, in float32
            otherwise.
        device (torch.device | str | None): device of the result.

    Returns:
        torch.Tensor: shape ``S + (2**k, 2**k)`` for a gate on ``k`` wires.

    Raises:
        CircuitError: an unknown gate, or angles missing, not numbers or of another
            count; a dtype that is not complex or floating point, or a real one for a
            gate with complex entries.
    """
    spec = GATES.get(name) if isinstance(name, str) else None
    if spec is None:
        raise CircuitError(f"unknown gate {name!r}; choose from: {', '.join(sorted(GATES))}")
    if not isinstance(dtype, torch.dtype) or not (dtype.is_complex or dtype.is_floating_point):
        raise CircuitError(f"dtype must be a complex or floating-point torch.dtype; got {dtype!r}")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if spec.builder is None:
        return _constant_tensor(name, dtype, dev)
    if not dtype.is_complex and not _real_gate(name):
        raise CircuitError(
            f"gate {name!r} has complex entries; a real dtype ({dtype}) cannot hold it"
        )
    real = torch.float64 if dtype in (torch.complex128, torch.float64) else torch.float32
    params = _angles_of(name, spec.n_params, params, real)
    params = params.to(dtype=real, device=params.device if device is None else dev)
    m = spec.builder(*params.unbind(-1))
    return (m if dtype.is_complex else m.real).to(dtype)


def _real_gate(name: str) -> bool:
    """Whether a parametrised gate's matrix is real at every angle (RY, CRY): a real
    dtype cast the others' imaginary parts away with only torch's warning (RX(t) became
    ``cos(t/2) I``). Read off the builder at angles of 1, where every complex entry of
    these gates is nonzero (a few microseconds; only a real dtype asks)."""
    builder = GATES[name].builder
    assert builder is not None
    ones = torch.ones(GATES[name].n_params)
    return not bool(builder(*ones.unbind(-1)).imag.any())


def _angles_of(name: str, n_params: int, params: object, real: torch.dtype) -> torch.Tensor:
    """``params`` as a tensor of shape ``S + (n_params,)``, or one line saying what is
    wrong (a missing angle failed with a bare ``AssertionError``, a str with an
    ``AttributeError``, a wrong count inside the gate's builder)."""
    shape = f"shape (..., {n_params}): {n_params} angle{'s' if n_params > 1 else ''}"
    if params is None:
        raise CircuitError(f"gate {name!r} needs params of {shape}")
    if not isinstance(params, torch.Tensor):
        try:
            params = torch.as_tensor(params, dtype=real)
        except (TypeError, ValueError, RuntimeError):
            given = f"{type(params).__name__} {params!r}"[:80]
            raise CircuitError(
                f"gate {name!r}: params must be numbers of {shape} (a tensor, an array or a "
                f"list); got {given}"
            ) from None
    if params.dim() == 0 or params.shape[-1] != n_params:
        raise CircuitError(
            f"gate {name!r} needs params of {shape}; got shape {tuple(params.shape)}"
        )
    return params
