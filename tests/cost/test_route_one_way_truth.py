"""Routing onto ``ibm-cairo`` regions that mix ECR couplers with one-way CX couplers.

Qiskit (2.6) fails to route such a region ("cx would be supported on ... if the
direction was swapped, but no rules are known to do that"); quarch reverses the CX as the
device would run it, ``(H x H) CX (H x H)`` with ``H = rz(pi/2) sx rz(pi/2)``
(:mod:`quarch.cost.one_way`). Truth: Qiskit's ``Operator`` of the routed circuit read
through its own recorded layout against the logical circuit (phase included); the
directions the fake backend's ``Target`` runs; the flip's gates and costs counted by hand
from the calibration (four ``sx``, one CX, their durations and errors, readout).
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import pytest

from quarch.cost import routing
from quarch.cost.calibration import load_calibration
from quarch.cost.device_costs import device_metrics, device_noise, schedule, success_probability
from quarch.cost.routing import DeviceFitError, route
from quarch.quantum import Circuit
from quarch.quantum.noisy_circuit import Relaxation

from .test_routing_truth import _logical

pytest.importorskip("qiskit_ibm_runtime")

DEVICE = "ibm-cairo"
#: A region the snapshot gives CX on 18 -> 15 only and ECR on 21 -> 18 only (checked
#: against the fake backend's target in test_the_region_mixes_one_way_gates).
MIXED = (15, 18, 21)


def _target() -> Any:
    from quarch.cost.calibration import _backend

    return _backend("cairo").target


def _two_qubit_directions(r: routing.RoutedCircuit) -> list[tuple[str, tuple[int, int]]]:
    """The routed circuit's two-qubit gates on physical qubits, read from Qiskit's circuit."""
    qc = r.qiskit
    return [
        (inst.operation.name, tuple(r.region[qc.find_bit(q).index] for q in inst.qubits))
        for inst in qc.data
        if len(inst.qubits) == 2
    ]


def test_the_region_mixes_one_way_gates() -> None:
    """The premise, from the fake backend's own target: CX one way, ECR one way."""
    tg = _target()
    assert (18, 15) in tg["cx"] and (15, 18) not in tg["cx"] and (15, 18) not in tg["ecr"]
    assert (21, 18) in tg["ecr"] and (18, 21) not in tg["ecr"]
    assert routing_pairs(MIXED) == {(1, 0)}  # local 1 -> 0 is 18 -> 15


def routing_pairs(region: tuple[int, ...]) -> set[tuple[int, int]]:
    from quarch.cost import one_way

    return set(one_way.flipped_pairs(load_calibration(DEVICE), region))


def test_regions_of_one_kind_are_left_to_qiskit() -> None:
    """CX alone (3 -> 5 -> 8 on cairo, 2 of hanoi's couplers one way): Qiskit flips them."""
    assert routing_pairs((3, 5, 8)) == set()
    assert routing_pairs((13, 14, 16)) == set()  # CX 13 -> 14 and 16 -> 14, no ECR


def test_which_couplers_count_by_hand() -> None:
    """On hand-made calibrations: a broken coupler (error 1, as cairo's ECR 20 -> 19)
    neither mixes a region nor reverses a CX; a coupler spanning the whole region counts;
    pairs are local wires of the region in its order."""
    from types import SimpleNamespace

    from quarch.cost import one_way

    def pairs(gates: dict[tuple[str, tuple[int, int]], tuple[float, float]], region: Any) -> Any:
        return one_way.flipped_pairs(cast(Any, SimpleNamespace(gates=gates)), region)

    ok = (0.01, 3e-7)
    mixed = {("cx", (0, 1)): ok, ("ecr", (2, 1)): ok}
    assert pairs(mixed, (0, 1, 2)) == {(0, 1)}
    assert pairs(mixed, (2, 1, 0)) == {(2, 1)}
    assert pairs({**mixed, ("ecr", (2, 1)): (1.0, 3e-7)}, (0, 1, 2)) == set()  # CX alone
    assert pairs({**mixed, ("ecr", (1, 0)): (1.0, 3e-7)}, (0, 1, 2)) == {(0, 1)}
    assert pairs({**mixed, ("ecr", (1, 0)): ok}, (0, 1, 2)) == set()  # a two-way pair
    assert pairs({("cx", (0, 1)): ok, ("ecr", (0, 1)): ok}, (0, 1)) == {(0, 1)}


@pytest.mark.parametrize(("width", "layout"), [(3, 0), (4, 1)])
def test_ranked_region_routes_to_the_logical_unitary(width: int, layout: int) -> None:
    """A ranked region Qiskit failed on: the routed unitary, read through Qiskit's layout,
    is the logical circuit's with its phase; every two-qubit gate runs on the device in
    the direction it is given."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    small, logical, w = _logical()
    c = Circuit(width, list(small.ops), small.n_weights)
    qc = QuantumCircuit(width)
    qc.compose(logical, qubits=range(3), inplace=True)
    for q in range(3, width):
        qc.cx(q - 1, q)
        c.cnot(q - 1, q)
    r = route(c, DEVICE, layout=layout)
    assert routing_pairs(r.region)  # the case under test
    bound = r.qiskit.assign_parameters({p: w[int(p.name[2:-1])] for p in r.qiskit.parameters})
    got = Operator.from_circuit(bound)
    np.testing.assert_allclose(got.data, Operator(qc).data, atol=1e-9)
    tg = _target()
    assert all(q in tg[name] for name, q in _two_qubit_directions(r))


def _flip_by_hand() -> tuple[float, float]:
    """CX(0, 1) on MIXED at level 0 (Qiskit's trivial layout, no optimisation) as the
    device runs it: H on 15 and 18, CX 18 -> 15, H on both; its duration and success
    probability from the calibration's figures."""
    cal = load_calibration(DEVICE)
    e_cx, d_cx = cal.gates[("cx", (18, 15))]
    sx = {q: cal.gates[("sx", (q,))] for q in (15, 18)}
    t_sx = max(d for _, d in sx.values())
    end = 2 * t_sx + d_cx
    duration = end + max(cal.readout_time[q] for q in MIXED)
    p = (1 - e_cx) * math.prod((1 - e) ** 2 for e, _ in sx.values())
    for q in MIXED:
        p *= 1 - sum(cal.readout[q]) / 2
        idle = 2 * (t_sx - sx[q][1]) if q in sx else 0.0  # waits for the slower sx
        t2 = min(cal.t2[q], 2 * cal.t1[q])
        f = (1 + 2 * math.exp(-idle / t2) + math.exp(-idle / cal.t1[q])) / 4
        p *= (2 * f + 1) / 3
    return duration, p


def test_the_flip_and_its_costs_by_hand() -> None:
    duration, p = _flip_by_hand()
    r = route(Circuit(3).cnot(0, 1), DEVICE, region=MIXED, optimization_level=0)
    assert r.initial == (0, 1, 2)
    assert [(op.name, op.wires) for op in r.ops if len(op.wires) == 2] == [("cx", (1, 0))]
    for wire in (0, 1):
        seq = [(op.name, op.params) for op in r.ops if op.wires == (wire,)]
        assert seq == [("rz", (math.pi / 2,)), ("sx", ()), ("rz", (math.pi / 2,))] * 2
    assert not [op for op in r.ops if op.wires == (2,)]
    assert schedule(r).duration == pytest.approx(duration, rel=1e-12)
    assert success_probability(r) == pytest.approx(p, rel=1e-12)
    m = device_metrics(r)
    assert (m["routed_depth"], m["routed_two_qubit_gates"], m["swaps"]) == (
        7.0,
        1.0,
        0.0,
    )  # rz sx rz cx rz sx rz
    assert m["duration_us"] == pytest.approx(duration * 1e6, rel=1e-12)
    relax = [s for s in device_noise(r).steps if isinstance(s, Relaxation)]
    assert len(relax) == 4 + 2  # one per wire of each timed gate: four sx, one CX


def test_the_flip_price_qiskit_routes_with() -> None:
    """The reverse CX offered to Qiskit costs the CX plus two sx per qubit; the rest is
    the calibrated target, which (shared with Aer's noise model) is left as it was."""
    from quarch.cost import one_way

    cal = load_calibration(DEVICE)
    sub = cal.sub_target(MIXED)
    two = one_way.routing_target(cal, MIXED, one_way.flipped_pairs(cal, MIXED))
    e_cx, d_cx = cal.gates[("cx", (18, 15))]
    (e15, d15), (e18, d18) = cal.gates[("sx", (15,))], cal.gates[("sx", (18,))]
    flip = two["cx"][(0, 1)]
    assert flip.duration == pytest.approx(d_cx + 2 * max(d15, d18), rel=1e-12)
    assert flip.error == pytest.approx(1 - (1 - e_cx) * (1 - e15) ** 2 * (1 - e18) ** 2)
    assert set(sub["cx"]) == {(1, 0)}
    assert (two.num_qubits, two.dt) == (sub.num_qubits, sub.dt)
    assert [(p.t1, p.t2, p.frequency) for p in two.qubit_properties] == [
        (p.t1, p.t2, p.frequency) for p in sub.qubit_properties
    ]
    assert set(two.operation_names) == set(sub.operation_names)
    for name in sub.operation_names:
        added = {(0, 1): flip} if name == "cx" else {}
        assert dict(two[name]) == {**dict(sub[name]), **added}, name


@pytest.mark.parametrize(("level", "per_wire"), [(0, 2), (1, 0)])
def test_a_hadamard_sandwich_is_the_native_cx(level: int, per_wire: int) -> None:
    """``(H x H) CX(0, 1) (H x H)`` is ``CX(1, 0)``, which 18 -> 15 runs natively. Level 0
    optimises nothing: on each wire two H of the circuit and two of the flip each side,
    one sx each. Above it the flip's gates merge with the circuit's and cancel."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    c = Circuit(3).h(0).h(1).cnot(0, 1).h(0).h(1)
    r = route(c, DEVICE, region=MIXED, optimization_level=level)
    assert r.initial == r.final == (0, 1, 2)
    for wire in (0, 1):
        seq = [op.name for op in r.ops if wire in op.wires and op.name != "rz"]
        assert seq == ["sx"] * per_wire + ["cx"] + ["sx"] * per_wire
    assert [op.wires for op in r.ops if op.name == "cx"] == [(1, 0)]
    want = QuantumCircuit(3)
    want.cx(1, 0)
    np.testing.assert_allclose(Operator(r.qiskit).data, Operator(want).data, atol=1e-9)


def test_qiskits_failure_is_quarchs_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the flip switched off, Qiskit's error reaches the user as a DeviceFitError of
    one line naming the device and region, not a TranspilerError."""
    from quarch.cost import one_way

    monkeypatch.setattr(one_way, "flipped_pairs", lambda cal, region: frozenset())
    c = Circuit(3).cnot(0, 1).cnot(1, 2).cnot(2, 0)
    key = (c.n_qubits, c.n_weights, tuple(c.ops))
    with pytest.raises(DeviceFitError) as info:
        routing._route_uncached(key, load_calibration(DEVICE), MIXED, -1, 0, 1)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(
        f"Qiskit could not route this circuit onto {DEVICE} region {list(MIXED)}: cx would"
    )
