"""Route a circuit onto a calibrated device: layout, SWAPs, native gates.

:func:`route` maps a quarch :class:`~quarch.quantum.Circuit` (weights and inputs still
symbolic) onto a region of a calibrated target
(:meth:`~quarch.cost.calibration.Calibration.regions`) with Qiskit's preset pass
manager (seeded; optimisation level an option) and reads the result back as a list of
native gates (``rz``, ``sx``, ``x`` and the device's two-qubit gate) on the region's
qubits. Everything downstream reads that one :class:`RoutedCircuit`: the routed depth,
two-qubit gates and SWAPs, the schedule, the success probability and runtime
(:mod:`quarch.cost.device_costs`), the device noise (:func:`device_noise`) and the
Qiskit export.

* Angles stay symbolic: a routed ``rz`` angle is an affine sum of quarch parameters
  (``w[i]``, ``x[j]`` or products of inputs for IQP embeddings); each term becomes one
  ``rz`` (rotations about Z add), so a routed circuit is still trained and evaluated
  in batches by torch.
* An amplitude embedding has no symbolic Qiskit form: it is expanded first into
  Möttönen's state preparation for real amplitudes (``2**n - 1`` RY, ``2**n - 2``
  CNOTs); the RY angles become the circuit's inputs and
  :func:`mottonen_angles` computes them from the features, differentiably.
* A ``layout`` index names a region of the circuit's own order
  (:func:`layout_regions`): the calibration ranks regions by their qubits and couplers
  alone, blind to the SWAPs a circuit's entanglers need there, so the circuit is routed
  on the :data:`RERANKED` best of them and these are re-ranked by the success
  probability it reaches on each; layout 0 is the best of them.
* Transpiling is deterministic for a seed, and slow next to everything else, so results
  are cached per (circuit structure, device, region, seed, level) in the process, and
  the circuit's order per (circuit structure, device, seed, level).
* A region mixing ECR with one-way CX couplers (``ibm-cairo``), which Qiskit cannot
  route, is routed with the reverse CX run as the device runs it, ``H.CX.H`` in native
  gates (:mod:`quarch.cost.one_way`), so its costs count those gates.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import TYPE_CHECKING, Any

from quarch._errors import ConfigError, QuarchError
from quarch.cost.calibration import Calibration
from quarch.cost.devices import QuantumDevice, get_calibration, get_quantum_device
from quarch.cost.success import success_of
from quarch.quantum.circuit import Circuit, Input, Op, Param, Weight, require_circuit

if TYPE_CHECKING:
    import torch

__all__ = [
    "DeviceFitError",
    "RoutedCircuit",
    "expand_amplitude",
    "layout_regions",
    "mottonen_angles",
    "route",
]


class DeviceFitError(QuarchError, ValueError):
    """A circuit does not fit the device (too wide, no region of its size, or a region
    Qiskit's transpiler cannot route it onto)."""


@dataclass(frozen=True, eq=False)
class RoutedCircuit:
    """A circuit placed and routed on a region of a calibrated device.

    Attributes:
        device (str): the target's name.
        region (tuple[int, ...]): physical qubits; local wire ``i`` is ``region[i]``.
        layout_index (int): which of the ranked regions this is (-1: a region given by
            its qubits that the ranking does not name).
        ops (tuple[Op, ...]): native gates on local wires (``rz`` with a number or one
            :class:`~quarch.quantum.Param`; ``sx``, ``x``; ``cz``/``ecr``/``cx``).
        initial (tuple[int, ...]): local wire that logical qubit ``i`` starts on.
        final (tuple[int, ...]): local wire that logical qubit ``i`` is measured on.
        n_weights (int): trainable weights (the logical circuit's numbering).
        n_inputs (int): inputs the routed circuit reads (after :attr:`input_map`).
        input_map (Callable | None): features -> routed inputs (the Möttönen angles of
            an amplitude embedding), or ``None`` when the inputs are the features.
        depth (int): depth of the routed native circuit (Qiskit's count).
        two_qubit_gates (int): native two-qubit gates.
        swaps (int): SWAPs the router inserted.
        qiskit (Any): the routed Qiskit circuit on the region (parameters ``w``/``x``).
        seed (int): transpiler seed.
        optimization_level (int): Qiskit's optimisation level.
    """

    device: str
    region: tuple[int, ...]
    layout_index: int
    ops: tuple[Op, ...]
    initial: tuple[int, ...]
    final: tuple[int, ...]
    n_weights: int
    n_inputs: int
    input_map: Callable[[torch.Tensor], torch.Tensor] | None
    depth: int
    two_qubit_gates: int
    swaps: int
    qiskit: Any = field(repr=False)
    seed: int = 0
    optimization_level: int = 2

    @property
    def n_qubits(self) -> int:
        """Wires of the routed circuit (= logical qubits: routing stays in the region)."""
        return len(self.region)

    @property
    def physical_layout(self) -> dict[int, int]:
        """Logical qubit -> physical qubit it is measured on."""
        return {i: self.region[w] for i, w in enumerate(self.final)}

    def circuit(self) -> Circuit:
        """The native gates as a quarch circuit (``ecr`` is not a quarch gate, so this
        is for reading, not for quarch's state-vector simulator)."""
        return Circuit(self.n_qubits, list(self.ops), self.n_weights)

    def shift_terms(self) -> int:
        """Routed ``rz`` gates that read a weight: each needs two shifted circuits for a
        parameter-shift gradient on hardware."""
        return sum(1 for op in self.ops if op.params and _is_weight(op.params[0]))

    def full_device_qiskit(self, weights: Sequence[float] | None = None) -> Any:
        """The routed circuit on the whole device (physical qubit numbers), weights
        bound when given, inputs left as parameters; layout in ``metadata``."""
        cal = get_calibration(self.device)
        assert cal is not None
        from qiskit import QuantumCircuit

        qc = self.qiskit
        if weights is not None:
            ws = {p: float(weights[int(p.name[2:-1])]) for p in qc.parameters if p.name[0] == "w"}
            qc = qc.assign_parameters(ws)
        full = QuantumCircuit(cal.n_qubits)  # compose brings qc's global phase
        full.compose(qc, qubits=list(self.region), inplace=True)
        full.metadata = {
            "device": self.device,
            "region": list(self.region),
            "initial_layout": {str(i): self.region[w] for i, w in enumerate(self.initial)},
            "final_layout": {str(i): p for i, p in self.physical_layout.items()},
            "inputs": "Mottonen angles of the amplitude embedding"
            if self.input_map is not None
            else "features x[j]",
        }
        return full


def _is_weight(p: float | Param) -> bool:
    return isinstance(p, Param) and p.kind == "weight"


# -- amplitude embeddings ---------------------------------------------------------------
def expand_amplitude(circuit: Circuit) -> tuple[Circuit, bool]:
    """``circuit`` with a leading amplitude embedding replaced by Möttönen's state
    preparation for real amplitudes (RY angles as inputs ``x[0..2**n-2]``); the flag
    says whether it had one. The angles are :func:`mottonen_angles` of the features.

    Uniformly controlled RY on wire ``k`` (controls ``0..k-1``) is ``2**k`` RY gates
    with CNOTs between them (Möttönen et al., PRL 93, 130502, 2004): the angles are the
    Gray-code Walsh transform of the per-branch angles, which :func:`mottonen_angles`
    applies, so the circuit holds plain inputs.

    Raises:
        QuarchError: another gate reads an input too (no such hqnn circuit exists).
        CircuitError: ``circuit`` is not a :class:`Circuit`.
    """
    given = require_circuit(circuit, "expand_amplitude").ops
    if not given or given[0].name != "amplitude_embedding":
        return circuit, False
    rest = circuit.ops[1:]
    if any(isinstance(p, Param) and p.kind == "input" for op in rest for p in op.params):
        raise QuarchError("an amplitude-embedded circuit that reads inputs again cannot be routed")
    n = circuit.n_qubits
    ops: list[Op] = []
    j = 0
    for k in range(n):
        for i in range(2**k):
            ops.append(Op("ry", (k,), (Input(j),)))
            j += 1
            if k:
                ops.append(Op("cnot", (_gray_control(i, k), k)))
    return Circuit(n, ops + list(rest), circuit.n_weights), True


def _gray_control(i: int, k: int) -> int:
    """Control wire of the CNOT after RY number ``i`` of a ``k``-control UCRY: the bit
    in which the Gray codes of ``i`` and ``i + 1`` differ (bit ``m`` is wire
    ``k - 1 - m``, wire 0 being the most significant control)."""
    g1, g2 = i ^ (i >> 1), ((i + 1) % 2**k) ^ (((i + 1) % 2**k) >> 1)
    m = (g1 ^ g2).bit_length() - 1
    return k - 1 - m


@functools.lru_cache(maxsize=32)
def _walsh_gray(k: int) -> Any:
    """``M[i, j] = (-1)**popcount(j & gray(i)) / 2**k`` (the inverse UCRY transform)."""
    return _walsh_gray_matrix(k)


def _walsh_gray_matrix(k: int) -> Any:
    # _walsh_gray's body, undecorated: mutmut 3 mutates no decorated function
    import numpy as np

    size = 2**k
    m = np.empty((size, size))
    for i in range(size):
        g = i ^ (i >> 1)
        for jj in range(size):
            m[i, jj] = (-1) ** bin(jj & g).count("1")
    return m / size


def mottonen_angles(features: torch.Tensor) -> torch.Tensor:
    """Inputs of :func:`expand_amplitude`'s circuit for real amplitude vectors.

    ``features`` ``[batch, 2**n]`` (normalised here, as the embedding does); returns
    ``[batch, 2**n - 1]``: for each level ``k`` the branch angles
    ``2 * atan2(norm(right), norm(left))`` (signed leaves at the last level), put
    through the Gray-code Walsh transform of that level. Differentiable; a branch of
    zero amplitude gets angle 0 with a zero gradient.
    """
    import torch

    x = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-30)
    size = x.shape[-1]
    n = size.bit_length() - 1
    out = []
    for k in range(n):
        parts = x.reshape(*x.shape[:-1], 2**k, 2, size // 2 ** (k + 1))
        if k < n - 1:
            sq = (parts * parts).sum(-1)
            left, right = sq[..., 0], sq[..., 1]
            zero = (left + right) <= 1e-30
            left = torch.where(zero, torch.ones_like(left), left)
            right = torch.where(zero, torch.zeros_like(right), right)
            # clamped: sqrt has an infinite slope at 0 (NaN gradients on empty branches)
            alpha = 2 * torch.atan2(right.clamp_min(1e-30).sqrt(), left.clamp_min(1e-30).sqrt())
        else:
            left, right = parts[..., 0, 0], parts[..., 1, 0]
            zero = (left.abs() + right.abs()) <= 1e-30
            left = torch.where(zero, torch.ones_like(left), left)
            right = torch.where(zero, torch.zeros_like(right), right)
            alpha = 2 * torch.atan2(right, left)
        m = torch.as_tensor(_walsh_gray(k), dtype=alpha.dtype, device=alpha.device)
        out.append(alpha @ m.T)
    return torch.cat(out, dim=-1)


# -- routing ----------------------------------------------------------------------------
#: A routed circuit's key: its width, number of weights and gates (a Circuit is mutable).
_Key = tuple[int, int, tuple[Op, ...]]

#: How many of the calibration's best regions a circuit's own order re-ranks by the
#: success probability the circuit routes to on each (:func:`route`). Measured by
#: ``python benchmarks/region_order.py`` on hqnn circuits of 2-8 qubits and 2-layer CNOT
#: rings on six devices (level 2): the best of the first 8 reaches on average 2.2-7.8 %
#: more than the first (``ibm-fez``, ``-hanoi``, ``-sherbrooke``, ``-kingston``,
#: ``-torino``) and 15.4-26.3 % more on ``ibm-cairo``, up to 2.8x; the best of 16 adds at
#: most 3.1 points, for twice the routings (13-34 ms each on average).
RERANKED = 8


def route(
    circuit: Circuit,
    device: str | QuantumDevice,
    *,
    layout: int | None = None,
    region: Sequence[int] | None = None,
    seed: int = 0,
    optimization_level: int = 2,
) -> RoutedCircuit:
    """Place and route ``circuit`` on region ``layout`` of a calibrated ``device``, or on
    the physical qubits ``region``.

    Args:
        circuit: the logical circuit (symbolic weights and inputs; an amplitude
            embedding is expanded, see :func:`expand_amplitude`).
        device: a calibrated target (``ibm-fez``; ``quarch devices`` lists them).
        layout: index into the circuit's own order of the device's regions of
            ``circuit.n_qubits`` qubits (:func:`layout_regions`): the calibration's
            ranking (:meth:`~quarch.cost.calibration.Calibration.regions`, which
            cannot see the SWAPs a circuit needs) with its :data:`RERANKED` best
            re-ranked by the success probability this circuit routes to on each (at
            this ``seed`` and level; ties keep the calibration's order), so layout 0
            is the best of them for this circuit. An index past the last region wraps
            around, so every index names a region. ``None``: 0, or the region given.
        region: the physical qubits to route on instead, local wire ``i`` on
            ``region[i]``: what a trial recorded (``region_qubit_<i>``), which stays
            where it was when the ranking changes; any connected set of the device's
            working qubits, as wide as the circuit. One the circuit's order names is
            routed exactly as its ``layout`` index (the same cached result); any other
            has ``layout_index`` -1.
        seed: transpiler seed.
        optimization_level: Qiskit's preset level, 0-3.

    Raises:
        DeviceFitError: the circuit is wider than the device or than its largest
            connected region, or Qiskit's transpiler fails on the region (its error's
            first line, not Qiskit's ``TranspilerError``).
        ConfigError: not a calibrated target (or no device name at all), a bad level,
            a layout or seed that is no integer (a seed < 0 too), both ``layout`` and
            ``region``, or a region that is not one of the device's (its width, a
            qubit it lacks or twice, qubits not joined by working couplings).
        CircuitError: ``circuit`` is not a :class:`Circuit`.
    """
    _route_args(circuit, 0 if layout is None else layout, seed, "route")
    if layout is not None and region is not None:
        raise ConfigError("route: give a layout or a region, not both")
    key, cal = _prepared(circuit, device, optimization_level)
    seed, level = int(seed), int(optimization_level)
    calibrated = regions_for(cal, circuit.n_qubits)  # too wide: refused before routing
    if region is None:
        ranked = _order(key, cal, seed, level)
        index = int(layout or 0) % len(ranked)
        return _route(key, cal, ranked[index], index, seed, level)
    chosen = _checked_region(region, cal, circuit.n_qubits)
    if chosen not in calibrated[:RERANKED]:  # past the re-ranked: its calibration place
        index = calibrated.index(chosen) if chosen in calibrated else -1
    else:  # a re-ranked region is its layout's very call (cached)
        index = _order(key, cal, seed, level).index(chosen)
    return _route(key, cal, chosen, index, seed, level)


def layout_regions(
    circuit: Circuit, device: str | QuantumDevice, *, seed: int = 0, optimization_level: int = 2
) -> list[tuple[int, ...]]:
    """The regions ``route(circuit, device, layout=i, ...)`` routes on, ``i = 0, 1, ...``:
    the circuit's own order (see :func:`route`'s ``layout``), what a search's layout
    choice and a trial's record name. It routes the circuit on the :data:`RERANKED`
    best regions of the calibration (cached, as :func:`route` is).

    Raises:
        DeviceFitError: no region of the circuit's width.
        ConfigError, CircuitError: as :func:`route`.
    """
    _route_args(circuit, 0, seed, "layout_regions")
    key, cal = _prepared(circuit, device, optimization_level)
    return list(_order(key, cal, int(seed), int(optimization_level)))


def _prepared(circuit: Circuit, device: object, level: object) -> tuple[_Key, Calibration]:
    """The circuit's cache key and the device's calibration, refused in one line unless
    the device is calibrated and ``level`` is one of Qiskit's."""
    dev = get_quantum_device(device)  # type: ignore[arg-type]  # it refuses a non-device
    if dev.calibration is None:
        raise ConfigError(
            f"routing needs a calibrated device (coupling map and per-gate figures); "
            f"{dev.name!r} is a hand profile of medians. Use one of `quarch devices` "
            "marked calibrated, e.g. ibm-fez"
        )
    if level not in (0, 1, 2, 3):
        raise ConfigError(f"optimization_level must be 0, 1, 2 or 3; got {level!r}")
    return (circuit.n_qubits, circuit.n_weights, tuple(circuit.ops)), dev.calibration


def _checked_region(region: object, cal: Calibration, n: int) -> tuple[int, ...]:
    """``region`` as a tuple of qubit numbers, refused in one line unless it is ``n``
    distinct qubits of ``cal`` joined by its working couplings: Qiskit would fail deep in
    its routing (no path between two parts) or route onto a qubit the device lacks."""
    given = tuple(region) if isinstance(region, Iterable) else None
    if given is None or not all(isinstance(q, Integral) and not isinstance(q, bool) for q in given):
        raise ConfigError(f"route: region must be a sequence of qubit numbers; got {region!r}")
    qubits = tuple(int(q) for q in given)
    if len(qubits) != n:
        raise ConfigError(
            f"route: the circuit has {n} qubits; region {list(qubits)} has {len(qubits)}"
        )
    if len(set(qubits)) != n or not all(0 <= q < cal.n_qubits for q in qubits):
        raise ConfigError(
            f"route: region {list(qubits)} is not {n} distinct qubits of {cal.name} "
            f"(0-{cal.n_qubits - 1})"
        )
    nb, seen, todo = cal.neighbours(), {qubits[0]}, [qubits[0]]
    while todo:
        for v in nb[todo.pop()] & set(qubits) - seen:
            seen.add(v)
            todo.append(v)
    if len(seen) != n:
        raise ConfigError(
            f"route: region {list(qubits)} is not connected by {cal.name}'s working "
            f"couplings ({sorted(seen)} and {sorted(set(qubits) - seen)} are not joined)"
        )
    return qubits


def _route_args(circuit: object, layout: object, seed: object, where: str) -> None:
    """Refuse, each in one line, what :func:`route` cannot take: no circuit (an
    ``AttributeError`` inside), a layout or seed that is no integer (``1.5`` was taken as
    1, ``'a'`` failed in ``int``; Qiskit refuses a negative seed). A device that is no
    name nor profile is the device lookup's to refuse, as for every cost function."""
    require_circuit(circuit, where)
    for what, value, least in (("layout", layout, None), ("seed", seed, 0)):
        if (
            isinstance(value, bool)
            or not isinstance(value, Integral)
            or (least is not None and value < least)
        ):
            wanted = "an integer" if least is None else f"an integer >= {least}"
            raise ConfigError(f"{where}: {what} must be {wanted}; got {value!r}")


def regions_for(cal: Calibration, n: int) -> list[tuple[int, ...]]:
    """Ranked regions of ``n`` qubits (at most 64 kept per width).

    Raises:
        DeviceFitError: no connected region of ``n`` qubits.
    """
    if n > cal.n_qubits:
        raise DeviceFitError(f"the circuit needs {n} qubits; {cal.name} has {cal.n_qubits}")
    regions = cal.regions(n, 64)
    if not regions:
        raise DeviceFitError(
            f"{cal.name} has no connected group of {n} working qubits for this circuit"
        )
    return regions


@functools.lru_cache(maxsize=512)
def _order(key: _Key, cal: Calibration, seed: int, level: int) -> tuple[tuple[int, ...], ...]:
    return _order_uncached(key, cal, seed, level)


def _order_uncached(
    key: _Key, cal: Calibration, seed: int, level: int
) -> tuple[tuple[int, ...], ...]:
    """The circuit's own order of regions: the calibration's :data:`RERANKED` best,
    best success probability first (ties: the calibration's order), then the rest in
    the calibration's order. The calibration's score cannot see the SWAPs a circuit's
    entanglers need in a region, so its first region is often not the one the circuit
    runs best on. _order's body, undecorated: mutmut 3 mutates no decorated function."""
    ranked = regions_for(cal, key[0])
    top = ranked[:RERANKED]
    scores = [_routed_score(key, cal, r, seed, level) for r in top]
    best = sorted(range(len(top)), key=lambda j: (-scores[j], j))
    return tuple(top[j] for j in best) + tuple(ranked[RERANKED:])


def _routed_score(
    key: _Key, cal: Calibration, region: tuple[int, ...], seed: int, level: int
) -> float:
    """The success probability the circuit routes to on ``region``; -1 where Qiskit
    cannot route it (last among the re-ranked: a layout naming it fails as before)."""
    try:
        return success_of(_routed(key, cal, region, seed, level))
    except DeviceFitError:
        return -1.0


@functools.lru_cache(maxsize=512)
def _route(
    key: _Key, cal: Calibration, region: tuple[int, ...], index: int, seed: int, level: int
) -> RoutedCircuit:
    return _indexed(_routed(key, cal, region, seed, level), index)


def _indexed(routed: RoutedCircuit, index: int) -> RoutedCircuit:
    """``routed`` as the layout ``index`` of the circuit's order (one routing, shared
    by the layout, the region and the re-ranking that routed it first)."""
    return dataclasses.replace(routed, layout_index=index)


@functools.lru_cache(maxsize=2048)
def _routed(
    key: _Key, cal: Calibration, region: tuple[int, ...], seed: int, level: int
) -> RoutedCircuit:
    return _route_uncached(key, cal, region, -1, seed, level)


def _route_uncached(
    key: _Key, cal: Calibration, region: tuple[int, ...], index: int, seed: int, level: int
) -> RoutedCircuit:
    """The circuit ``key`` routed on ``region`` (``index``: its place in the ranking,
    -1 for none). _route's body, undecorated: mutmut 3 mutates no decorated function."""
    from quarch.quantum.export import to_qiskit

    n, n_weights, ops = key
    logical, amplitude = expand_amplitude(Circuit(n, list(ops), n_weights))
    pm = _pass_manager(cal, region, seed, level)
    swaps = [0]

    def count_swaps(**kw: Any) -> None:
        swaps[0] = max(swaps[0], kw["dag"].count_ops().get("swap", 0))

    routed = _run(pm, to_qiskit(logical), count_swaps, cal, region)
    native = _native_ops(routed)
    lay = routed.layout
    initial = tuple(lay.initial_index_layout(filter_ancillas=True)) if lay else tuple(range(n))
    final = tuple(lay.final_index_layout(filter_ancillas=True)) if lay else tuple(range(n))
    return RoutedCircuit(
        device=cal.name,
        region=region,
        layout_index=index,
        ops=native,
        initial=initial,
        final=final,
        n_weights=n_weights,
        n_inputs=logical.n_inputs,
        input_map=mottonen_angles if amplitude else None,
        depth=int(routed.depth()),
        two_qubit_gates=sum(1 for op in native if len(op.wires) == 2),
        swaps=swaps[0],
        qiskit=routed,
        seed=seed,
        optimization_level=level,
    )


def _pass_manager(cal: Calibration, region: tuple[int, ...], seed: int, level: int) -> Any:
    """Qiskit's preset pass manager for ``region``; on a region whose one-way CX couplers
    Qiskit cannot reverse (:mod:`quarch.cost.one_way`), one that routes with the reverse
    directions priced as the device runs them and rewrites them into native gates."""
    from qiskit.transpiler import generate_preset_pass_manager

    from quarch.cost import one_way

    sub = cal.sub_target(region)
    pairs = one_way.flipped_pairs(cal, region)
    target = one_way.routing_target(cal, region, pairs) if pairs else sub
    pm = generate_preset_pass_manager(optimization_level=level, target=target, seed_transpiler=seed)
    if pairs:
        pm.post_optimization = one_way.flip_stage(sub, pairs, level)
    return pm


def _run(
    pm: Any, qc: Any, callback: Callable[..., None], cal: Calibration, region: tuple[int, ...]
) -> Any:
    """``pm.run(qc)``, a transpiler error turned into quarch's one line: a region quarch
    offers that Qiskit still cannot route is the device's misfit, not a traceback."""
    from qiskit.transpiler import TranspilerError

    try:
        return pm.run(qc, callback=callback)
    except TranspilerError as err:
        line = " ".join(str(err.message).split())  # QiskitError keeps it unquoted
        raise DeviceFitError(
            f"Qiskit could not route this circuit onto {cal.name} region {list(region)}: {line}"
        ) from None


_NAME = re.compile(r"^([wx])\[(\d+)\]$")


def _terms(expr: Any) -> list[float | Param]:
    """An ``rz`` angle as a list of terms: numbers and single parameters."""
    if not hasattr(expr, "parameters") or not expr.parameters:
        return [float(expr)]
    coeffs = expr.sympify().expand().as_coefficients_dict()
    out: list[float | Param] = []
    for term, c in coeffs.items():
        c = float(c)
        if term == 1:
            out.append(c)
            continue
        factors: list[Any] = []
        for f in term.as_ordered_factors():
            base, exp = f.as_base_exp()
            factors += [base] * int(exp)
        names = [_NAME.match(str(f)) for f in factors]
        if not all(names):
            raise QuarchError(f"a routed angle has a term quarch cannot express: {term}")
        kinds = {m.group(1) for m in names if m}
        idx = [int(m.group(2)) for m in names if m]
        if kinds == {"w"} and len(idx) == 1:
            out.append(Weight(idx[0], c))
        elif kinds == {"x"}:
            out.append(Input(*idx, scale=c))
        else:
            raise QuarchError(f"a routed angle mixes weights and inputs: {term}")
    return out


def _native_ops(qc: Any) -> tuple[Op, ...]:
    out: list[Op] = []
    for inst in qc.data:
        name = inst.operation.name
        wires = tuple(qc.find_bit(q).index for q in inst.qubits)
        if name in ("barrier", "delay", "id"):
            continue
        if name == "rz":
            for t in _terms(inst.operation.params[0]):
                if isinstance(t, float) and math.remainder(t, 4 * math.pi) == 0.0:
                    continue
                out.append(Op("rz", wires, (t,)))
            continue
        if name in ("sx", "x", "cz", "ecr", "cx"):
            out.append(Op(name, wires))
            continue
        raise QuarchError(f"the routed circuit holds {name!r}, which is not a native gate here")
    return tuple(out)
