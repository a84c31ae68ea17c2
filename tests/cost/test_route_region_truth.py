"""``route(..., region=)``: a circuit routed on physical qubits named by the caller.

A trial records the qubits it was scored on (``region_qubit_<i>``); its report, export
and training route there again, whatever the ranking of regions says now. The truth:
Qiskit's own ``CouplingMap`` (which regions are connected, every three-qubit set of
``ibm-hanoi``), the routed gates' qubits against the target's couplers, and the ranked
regions' own routes (a region the ranking names is that layout's cached route).
"""

from __future__ import annotations

import itertools

import pytest

from quarch._errors import ConfigError
from quarch.cost import routing
from quarch.cost.devices import get_calibration
from quarch.cost.routing import route
from quarch.quantum import Circuit, Weight

pytest.importorskip("qiskit_ibm_runtime")

DEVICE = "ibm-hanoi"


def _circuit() -> Circuit:
    return Circuit(3).h(0).ry(1, Weight(0)).cnot(0, 2).cnot(1, 2).cnot(0, 2)


def _cal() -> routing.Calibration:
    cal = get_calibration(DEVICE)
    assert cal is not None
    return cal


def test_a_ranked_region_is_its_layouts_cached_route() -> None:
    """Layout ``i`` of the circuit's own order (re-ranked or not: 0-2 are, 9 keeps its
    calibration place) is routed by the very call its region is."""
    regions = routing.layout_regions(_circuit(), DEVICE)
    assert sorted(regions[: routing.RERANKED]) == sorted(_cal().regions(3, routing.RERANKED))
    for i in (0, 1, 2, 9):
        rc = route(_circuit(), DEVICE, layout=i)
        assert rc.region == regions[i] and rc.layout_index == i
        assert route(_circuit(), DEVICE, region=regions[i]) is rc


def test_an_unranked_region_keeps_its_order_and_uses_only_its_couplers() -> None:
    """(8, 5, 3) in that order is no ranked region (those are sorted): wire ``i`` sits on
    ``region[i]`` before routing, and every gate is on the region's qubits and couplers."""
    cal = _cal()
    region = (8, 5, 3)
    assert region not in cal.regions(3, 64)
    rc = route(_circuit(), DEVICE, region=region, seed=3)
    assert rc.region == region and rc.layout_index == -1 and rc.seed == 3
    couplers = {
        frozenset((region[a], region[b]))
        for a, b in cal.sub_target(region).build_coupling_map().get_edges()
    }
    assert couplers <= {frozenset(e) for e in cal.edges}
    used = [tuple(region[w] for w in op.wires) for op in rc.ops]
    assert all(frozenset(q) in couplers for q in used if len(q) == 2)
    assert {q for ws in used for q in ws} <= set(region)
    assert route(_circuit(), DEVICE, region=[8, 5, 3], seed=3) is rc  # cached, any sequence


def test_the_connected_regions_are_qiskits() -> None:
    """Every set of three of hanoi's 27 qubits is accepted exactly when Qiskit's
    coupling map of the device's working two-qubit gates joins it (``CouplingMap.reduce``
    refuses a disconnected set)."""
    from qiskit.transpiler import CouplingMap
    from qiskit.transpiler.exceptions import CouplingError

    cal = _cal()
    tg = cal.target
    two = cal.two_qubit_gate
    working = [q for q in tg[two] if cal.gates[(two, tuple(q))][0] < 1.0]
    cmap = CouplingMap(working)
    accepted = refused = 0
    for region in itertools.combinations(range(cal.n_qubits), 3):
        try:
            cmap.reduce(list(region))
            joined = True
        except CouplingError:
            joined = False
        try:
            routing._checked_region(region, cal, 3)
            ok = True
        except ConfigError:
            ok = False
        assert ok == joined, region
        accepted += ok
        refused += not ok
    assert accepted > 20 and refused > 2000


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"layout": 0, "region": (0, 1, 2)}, "route: give a layout or a region, not both"),
        ({"region": (1, 2)}, "route: the circuit has 3 qubits; region [1, 2] has 2"),
        ({"region": (1, 1, 2)}, "route: region [1, 1, 2] is not 3 distinct qubits of ibm-hanoi (0-26)"),
        ({"region": (1, 2, 27)}, "route: region [1, 2, 27] is not 3 distinct qubits of ibm-hanoi (0-26)"),
        ({"region": (-1, 0, 1)}, "route: region [-1, 0, 1] is not 3 distinct qubits of ibm-hanoi (0-26)"),
        (
            {"region": (0, 1, 8)},
            "route: region [0, 1, 8] is not connected by ibm-hanoi's working couplings "
            "([0, 1] and [8] are not joined)",
        ),
        ({"region": 3}, "route: region must be a sequence of qubit numbers; got 3"),
        ({"region": (0, 1.0, 2)}, "route: region must be a sequence of qubit numbers; got (0, 1.0, 2)"),
        ({"region": (0, True, 2)}, "route: region must be a sequence of qubit numbers; got (0, True, 2)"),
    ],
)  # fmt: skip
def test_a_region_that_is_none_of_the_devices_is_refused_in_one_line(
    kwargs: dict[str, object], line: str
) -> None:
    with pytest.raises(ConfigError) as e:
        route(_circuit(), DEVICE, **kwargs)  # type: ignore[arg-type]
    assert str(e.value) == line


def test_a_hand_profile_is_refused_before_the_region() -> None:
    with pytest.raises(ConfigError, match="routing needs a calibrated device"):
        route(_circuit(), "ibm-heron", region=(0, 1, 2))
