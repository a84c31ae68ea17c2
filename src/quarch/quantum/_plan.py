"""What a compiled plan is made of: the data the compiler writes and the run time reads.

:mod:`~quarch.quantum._compile` turns a circuit into these records once per plan;
:mod:`~quarch.quantum._matrices`, :mod:`~quarch.quantum._apply` and
:mod:`~quarch.quantum._adjoint` read them on every call. They live apart from both
sides so that the run-time stages depend on the plan's shape, not on the compiler.

A plan is a list of :class:`Step` (a gather of the state, or one block matmul).
Blocks (:class:`BlockSpec`) are chains of :class:`Factor` (constant matrix, Kronecker
layer of one-qubit rows, or one parametrised multi-qubit gate); blocks of the same
width, batchedness and factor kinds form a :class:`Group` whose matrices are built
together; each row of consecutive one-qubit gates whose product the run time builds
is a :class:`Chain`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quarch.quantum.circuit import Param

# RX, RY, RZ = cos(t/2) I + sin(t/2) Q with Q = -i X, -i Y, -i Z.
ROT_Q = {
    "rx": np.array([[0, -1j], [-1j, 0]], dtype=np.complex128),
    "ry": np.array([[0, -1], [1, 0]], dtype=np.complex128),
    "rz": np.array([[-1j, 0], [0, 1j]], dtype=np.complex128),
}


@dataclass(eq=False)
class Gate:
    """One op as the engine sees it."""

    name: str
    wires: tuple[int, ...]
    params: tuple[float | Param, ...]
    const: np.ndarray | None  # full matrix when it needs no run-time angle
    perm: bool  # constant basis-state permutation
    batched: bool  # its matrix differs per sample
    row: int = -1  # one-qubit gates: row in the 1q table (shared or batched)
    slot: tuple[int, int] = (-1, -1)  # multi-qubit parametrised: (group, slot)


@dataclass
class Factor:
    """One factor of a block's matrix (a block is the product of its factors)."""

    kind: str  # "C" constant, "K" one-qubit layer (Kronecker), "P" parametrised gate
    const: np.ndarray | None = None
    rows: list[list[Gate]] | None = None  # "K": per block wire, gates in order
    gate: Gate | None = None  # "P"
    local: tuple[int, ...] = ()  # "P": block-local positions of the gate's wires


@dataclass
class BlockSpec:
    """One block: at most ``k`` wires, applied as one ``2^k x 2^k`` matrix."""

    wires: tuple[int, ...]  # matrix order: first = most significant local bit
    factors: list[Factor]
    batched: bool
    group: int = -1
    index: int = -1


@dataclass
class Group:
    """Blocks with the same width, batchedness and factor kinds: one matmul chain."""

    dim: int
    batched: bool
    kinds: tuple[str, ...]
    blocks: list[BlockSpec] = field(default_factory=list)
    kron_slices: dict[int, tuple[bool, int, int]] = field(default_factory=dict)


@dataclass
class Chain:
    """Rows (one per wire) of consecutive one-qubit gates whose products the run time
    builds: a Kronecker layer or the product-state prefix. ``fast`` chains (RX/RY/RZ
    only) keep per-position angle sources ``refs`` and generators ``q``."""

    key: str
    rows: list[list[Gate]]
    batched: bool
    fast: bool
    refs: list[list[tuple[str, int, float]]] = field(default_factory=list)
    q: np.ndarray | None = None


@dataclass
class Step:
    """One pass over the state: a gather (layout change) or one block's matmul."""

    kind: str  # "gather" or "block"
    index: np.ndarray | None = None  # gather: new[s] = old[index[s]]
    lo: int = 0  # block: its wires are stored bits lo .. lo+k-1 (0 = least significant)
    group: int = -1
    block: int = -1
    dim: int = 0
