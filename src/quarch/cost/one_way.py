"""One-way CX couplers that Qiskit cannot reverse: routed as the device would run them.

``ibm-cairo``'s snapshot runs ECR on 14 couplers (one broken that day) and CX on 12,
each in one direction only. On a region that holds both kinds, Qiskit (2.6) routes a
circuit into a CX whose direction the coupler lacks, and its ``BasisTranslator`` leaves
that CX as a non-standard operation named ``cx``, which ``GateDirection`` cannot reverse:
routing fails with "cx would be supported on ... if the direction was swapped, but no
rules are known to do that" (a ring of CNOTs failed on 9 of the 30 ranked 3-qubit regions
of ``ibm-cairo``, its best among them, and on 59 of the 64 best 8-qubit ones, at levels 1
and 2). On a region with CX alone (``ibm-hanoi``, ``ibm-geneva``, ``cairo``'s CX-only
regions) ``GateDirection`` reverses a CX itself with H gates, so every region with one
kind of two-qubit gate is left to Qiskit.

The device runs the reverse of ``CX(a, b)`` as ``(H x H) CX(a, b) (H x H)``, each ``H``
being ``rz(pi/2) sx rz(pi/2)`` (up to a global phase) in its native gates. Such a region
is routed on :func:`routing_target` (its calibrated target plus the reverse of each
one-way CX, priced as that sequence so that layout and synthesis prefer the native
direction), and :func:`flip_stage` rewrites each reverse CX into the sequence after
Qiskit's optimisation and merges the single-qubit gates again (levels 1-3). The routed
circuit then holds only gates the device runs, in the directions it runs them, and every
cost read from it (depth, schedule, success probability, runtime, device noise) counts
the flip's gates with their calibrated figures.
"""

from __future__ import annotations

import math
from typing import Any

from qiskit import QuantumCircuit
from qiskit.converters import circuit_to_dag
from qiskit.transpiler import InstructionProperties, PassManager, Target
from qiskit.transpiler.basepasses import TransformationPass
from qiskit.transpiler.passes import Optimize1qGatesDecomposition

from quarch.cost.calibration import _TWO_QUBIT_GATES, Calibration

__all__ = ["FlipReversedCX", "flip_stage", "flipped_pairs", "routing_target"]


def flipped_pairs(cal: Calibration, region: tuple[int, ...]) -> frozenset[tuple[int, int]]:
    """Local pairs ``(a, b)`` of ``region`` whose CX quarch reverses itself: a working CX
    on ``region[a] -> region[b]`` with no working two-qubit gate the other way, in a
    region whose couplers run two kinds of two-qubit gate (the case Qiskit fails on).
    Empty for every other region: Qiskit reverses those itself."""
    index = {q: i for i, q in enumerate(region)}
    working = {
        (name, qargs)
        for (name, qargs), (err, _) in cal.gates.items()
        if name in _TWO_QUBIT_GATES and len(qargs) == 2 and err < 1.0 and set(qargs) <= index.keys()
    }
    if len({name for name, _ in working}) < 2:
        return frozenset()
    pairs = {qargs for _, qargs in working}
    return frozenset(
        (index[a], index[b]) for name, (a, b) in working if name == "cx" and (b, a) not in pairs
    )


def _flip_properties(cal: Calibration, cx: tuple[int, int]) -> InstructionProperties:
    """What the reverse of the CX on physical ``cx`` costs as the device runs it,
    ``(H x H) CX (H x H)`` with one ``sx`` per ``H``: the CX's duration plus the slower
    qubit's ``sx`` twice, and the chance of no error in any of its five calibrated gates."""
    e_cx, d_cx = cal.gate("cx", cx)
    sx = [cal.gate("sx", (q,)) for q in cx]
    keep = (1 - e_cx) * math.prod((1 - e) ** 2 for e, _ in sx)
    return InstructionProperties(duration=d_cx + 2 * max(d for _, d in sx), error=1 - keep)


def routing_target(
    cal: Calibration, region: tuple[int, ...], pairs: frozenset[tuple[int, int]]
) -> Target:
    """The calibrated target of ``region`` (:meth:`Calibration.sub_target`) with the reverse
    ``(b, a)`` of each CX pair ``(a, b)`` in ``pairs``, priced by :func:`_flip_properties`.
    A new ``Target``: the calibrated one is cached and shared (Aer's noise model reads it)."""
    sub = cal.sub_target(region)
    out = Target(dt=sub.dt, qubit_properties=sub.qubit_properties)  # its width from them
    for name in sub.operation_names:
        props = dict(sub[name])
        if name == "cx":
            props.update({(b, a): _flip_properties(cal, (region[a], region[b])) for a, b in pairs})
        out.add_instruction(sub.operation_from_name(name), props)
    return out


def _flip_circuit() -> QuantumCircuit:
    """``CX(0, 1)`` as ``(H x H) CX(1, 0) (H x H)`` in native gates, the phase exact:
    ``rz(pi/2) sx rz(pi/2) = exp(-i pi/4) H``, four of them ``-1``, undone by ``pi``."""
    qc = QuantumCircuit(2, global_phase=math.pi)
    _hadamards(qc)
    qc.cx(1, 0)
    _hadamards(qc)
    return qc


def _hadamards(qc: QuantumCircuit) -> None:
    """H on both wires of ``qc``, each as the device runs it (``rz`` is virtual)."""
    for q in (0, 1):
        qc.rz(math.pi / 2, q)
        qc.sx(q)
        qc.rz(math.pi / 2, q)


class FlipReversedCX(TransformationPass):  # type: ignore[misc]
    """Rewrite each CX on a pair of ``reverse`` (the directions :func:`routing_target`
    added) into :func:`_flip_circuit` on the native direction."""

    def __init__(self, reverse: frozenset[tuple[int, int]]) -> None:
        super().__init__()
        self.reverse = reverse

    def run(self, dag: Any) -> Any:
        """The rewritten ``dag``."""
        flip = circuit_to_dag(_flip_circuit())
        for node in dag.op_nodes():
            qargs = tuple(dag.find_bit(q).index for q in node.qargs)
            if node.name == "cx" and qargs in self.reverse:
                dag.substitute_node_with_dag(node, flip)
        return dag


def flip_stage(sub: Target, pairs: frozenset[tuple[int, int]], level: int) -> PassManager:
    """The passes run after Qiskit's optimisation on a :func:`routing_target`: the reverse
    CXs rewritten (:class:`FlipReversedCX`), then, above level 0 (which optimises
    nothing), the single-qubit gates merged on the calibrated target ``sub``."""
    passes: list[Any] = [FlipReversedCX(frozenset((b, a) for a, b in pairs))]
    if level > 0:
        passes.append(Optimize1qGatesDecomposition(target=sub))
    return PassManager(passes)
