"""Gate matrices op by op, for the density-matrix path (:mod:`~quarch.quantum.noise`).

The state-vector engine fuses gates into blocks and never builds one matrix per op;
a density matrix with channels between the gates needs exactly that. This builds the
matrix of every gate of a circuit for a batch, grouping ops of one gate type (and
batchedness) so each type's matrices come from one builder call, with angles gathered
from one source vector ``[consts | weights | inputs | input products]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import torch

from quarch.quantum.circuit import Circuit, Param
from quarch.quantum.gates import GATES


@dataclass
class GateRef:
    """Where one op's matrix comes from at run time."""

    wires: tuple[int, ...]
    name: str
    group: int = -1  # index of its parametrised group, -1 for a constant gate
    slot: int = 0  # position inside the group
    batched: bool = False  # depends on inputs (per-sample)


@dataclass
class OpGroup:
    """All ops of one parametrised gate type whose matrices are built in one call."""

    name: str
    batched: bool
    index: list[list[int]] = field(default_factory=list)  # source slot per angle
    scale: list[list[float]] = field(default_factory=list)


class GateMatrices:
    """The per-op matrices of ``circuit`` (gates only, channels removed) in ``dtype``.

    Args:
        circuit (Circuit): the gates; an amplitude embedding is skipped (it is a
            state, not a gate).
        dtype (torch.dtype): ``torch.complex64`` or ``torch.complex128``.
    """

    def __init__(self, circuit: Circuit, dtype: torch.dtype) -> None:
        self.dtype = dtype
        self._cache: dict[tuple[object, ...], torch.Tensor] = {}
        # each angle's slot in the run-time source vector, ops grouped by gate type
        consts: list[float] = []
        products: list[tuple[int, ...]] = []
        nw, ni = circuit.n_weights, circuit.n_inputs
        groups: dict[tuple[str, bool], OpGroup] = {}
        self.refs: list[GateRef] = []
        self.amplitude: tuple[int, float, bool] | None = None
        for op in circuit.ops:
            if op.name == "amplitude_embedding":
                self.amplitude = (op.meta[0], op.meta[1], op.meta[2])
                continue
            spec = GATES[op.name]
            if spec.n_params == 0:
                self.refs.append(GateRef(op.wires, op.name))
                continue
            batched = any(isinstance(p, Param) and p.kind == "input" for p in op.params)
            grp = groups.setdefault((op.name, batched), OpGroup(op.name, batched))
            idx, scl = [], []
            for p in op.params:
                if not isinstance(p, Param):
                    consts.append(p)
                    idx.append(len(consts) - 1)
                    scl.append(1.0)
                elif p.kind == "weight":
                    idx.append(("w", p.index[0]))  # type: ignore[arg-type]
                    scl.append(p.scale)
                elif len(p.index) == 1:
                    idx.append(("x", p.index[0]))  # type: ignore[arg-type]
                    scl.append(p.scale)
                else:
                    products.append(p.index)
                    idx.append(("p", len(products) - 1))  # type: ignore[arg-type]
                    scl.append(p.scale)
            grp.index.append(idx)
            grp.scale.append(scl)
            self.refs.append(GateRef(op.wires, op.name, -1, len(grp.index) - 1, batched))
            self.refs[-1].group = list(groups).index((op.name, batched))
        nc = len(consts)
        offset = {"w": nc, "x": nc + nw, "p": nc + nw + ni}
        for grp in groups.values():
            grp.index = [
                [i if isinstance(i, int) else offset[i[0]] + i[1] for i in row]  # type: ignore[index]
                for row in grp.index
            ]
        self._consts = consts
        self._products = products
        self._groups = list(groups.values())

    def _const(self, key: tuple[object, ...], make: Callable[[], torch.Tensor]) -> torch.Tensor:
        """The tensor cached under ``key``, made by ``make()`` on first use."""
        t = self._cache.get(key)
        if t is None:
            t = self._cache[key] = make()
        return t

    def matrices(
        self, inputs: torch.Tensor | None, w: torch.Tensor, batch: int, device: torch.device
    ) -> list[torch.Tensor]:
        """One tensor per gate group: ``[n_ops, d, d]`` or ``[batch, n_ops, d, d]``."""
        real = torch.float64 if self.dtype == torch.complex128 else torch.float32
        consts = self._const(
            ("consts", device, real),
            lambda: torch.tensor(self._consts, dtype=real, device=device),
        )
        shared_src = torch.cat([consts, w]) if w.dim() == 1 else None
        batched_src = None
        if inputs is not None or w.dim() == 2:
            parts = [consts.expand(batch, -1), w.expand(batch, -1) if w.dim() == 1 else w]
            if inputs is not None:
                parts.append(inputs)
                if self._products:
                    parts.append(
                        torch.stack([inputs[:, list(p)].prod(-1) for p in self._products], -1)
                    )
            batched_src = torch.cat(parts, dim=-1)
        mats: list[torch.Tensor] = []
        for gi, grp in enumerate(self._groups):
            idx = self._const(("idx", gi, device), partial(torch.tensor, grp.index, device=device))
            scl = self._const(
                ("scl", gi, device, real),
                partial(torch.tensor, grp.scale, dtype=real, device=device),
            )
            src = batched_src if (grp.batched or shared_src is None) else shared_src
            assert src is not None
            angles = src[..., idx] * scl
            spec = GATES[grp.name]
            assert spec.builder is not None
            mats.append(spec.builder(*angles.unbind(-1)).to(self.dtype))
        return mats

    def matrix(self, g: GateRef, mats: list[torch.Tensor], device: torch.device) -> torch.Tensor:
        """The matrix of op ``g`` (an entry of :attr:`refs`) from ``mats``."""
        if g.group < 0:
            return self._const(
                ("gate", g.name, device, self.dtype),
                lambda: torch.as_tensor(GATES[g.name].constant, dtype=self.dtype, device=device),
            )
        return mats[g.group][..., g.slot, :, :]
