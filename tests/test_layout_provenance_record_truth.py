"""A routed hqnn trial records the physical qubits it was scored on, and routing a
recorded region puts the circuit on exactly those qubits.

Truth: the circuit's own order of ``ibm-hanoi``'s regions by brute force (every connected
set ranked by its calibration, the 8 best routed one by one and sorted by the success
probability each reaches: ``tests/_region_truth.py``), and the couplers of Qiskit's own
fake backend. Before the record existed a
trial's ``layout`` index was all a run kept, and the report and export turned it back
into qubits with a fresh ranking.
"""

from __future__ import annotations

import re
import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("qiskit_ibm_runtime")

from quarch._errors import RunError
from quarch._warnings import QuarchWarning
from quarch.cost.device_costs import success_probability
from quarch.cost.devices import get_quantum_device
from quarch.data import load_dataset
from quarch.spaces.hqnn import hqnn_space
from quarch.spaces.hqnn.costs import HybridCosts
from quarch.spaces.hqnn.model import HybridNet, build_circuit
from quarch.spaces.hqnn.provenance import (
    check_resumed,
    recorded_region,
    region_metrics,
    route_on_region,
    routed_for_trial,
)

from ._region_truth import circuit_order
from ._scope import per_module
from .test_hardware_regions_truth import _target

DEVICE = "ibm-hanoi"
SPACE = hqnn_space(min_qubits=3, max_qubits=3, max_layers=1, layouts=4, frontends=("linear",))


def _arch(layout: int) -> dict[str, Any]:
    arch = SPACE.sample(np.random.default_rng(3))
    return {**arch, "layout": layout, "embedding": "angle-y", "entanglement_0": "ring"}


@pytest.fixture(scope=per_module)
def costs() -> HybridCosts:
    return HybridCosts(load_dataset("iris", seed=0), device_profile=DEVICE)


def _order(k: int) -> list[tuple[int, ...]]:
    """The first ``k`` regions of the order of ``_arch``'s circuit (the same circuit at
    every layout), by brute force; the costs route with seed 0 at level 2."""
    return circuit_order(build_circuit(_arch(0)), DEVICE, k)


def _region_of(metrics: dict[str, float]) -> tuple[int, ...]:
    """The region a trial's metrics record, read without quarch's reader."""
    keys = sorted((k for k in metrics if k.startswith("region_qubit_")), key=lambda k: int(k[13:]))
    assert [int(k[13:]) for k in keys] == list(range(len(keys)))
    return tuple(int(metrics[k]) for k in keys)


@pytest.mark.parametrize("layout", [0, 1, 3])
def test_the_recorded_qubits_are_the_brute_force_region_of_the_layout(
    costs: HybridCosts, layout: int
) -> None:
    arch = _arch(layout)
    model = HybridNet(arch, (4,), 3)
    metrics = costs(SPACE.validate(arch), model)
    truth = _order(4)
    assert _region_of(metrics) == truth[layout]
    # the costs stored beside them are those of these qubits
    routed = route_on_region(build_circuit(arch), DEVICE, truth[layout])
    assert metrics["success_probability"] == success_probability(routed)


def test_a_region_the_ranking_no_longer_names_is_routed_on_its_own_qubits() -> None:
    """(8, 5, 3) is connected on hanoi (3-5-8), and the ranking names no region in that
    order (its regions are sorted: wire ``i`` of a record is its ``i``-th qubit): the
    circuit is still placed there, wire ``i`` on ``region[i]``, every gate on those
    qubits, every two-qubit gate on one of Qiskit's couplers."""
    circuit = build_circuit(_arch(0))
    region = (8, 5, 3)
    from quarch.cost.devices import get_calibration

    cal = get_calibration(DEVICE)
    assert cal is not None and region not in cal.regions(3, 64)
    routed = route_on_region(circuit, DEVICE, region)
    assert routed.region == region and routed.layout_index == -1
    tg = _target("hanoi")
    two = next(g for g in ("cz", "ecr", "cx") if g in tg.operation_names)
    edges = {frozenset(q) for q in tg[two]}
    used = [tuple(region[w] for w in op.wires) for op in routed.ops]
    assert used and all(set(q) <= set(region) for q in used)
    assert all(frozenset(q) in edges for q in used if len(q) == 2)
    assert set(routed.physical_layout.values()) == set(region)


def test_a_region_the_ranking_names_is_routed_as_the_search_routed_it() -> None:
    from quarch.cost.routing import route

    circuit = build_circuit(_arch(2))
    truth = _order(4)
    again = route_on_region(circuit, DEVICE, truth[2])
    assert again is route(circuit, DEVICE, layout=2)  # the cached call of the search


def test_recorded_region_reads_the_record_and_refuses_a_damaged_one() -> None:
    assert recorded_region(region_metrics((7, 4, 10))) == (7, 4, 10)
    assert recorded_region({"val_error": 0.1}) is None
    assert recorded_region(None) is None
    for bad, why in (
        ({"region_qubit_0": 1.5}, "recorded region qubit 1.5 is not a qubit number"),
        ({"region_qubit_0": True}, "recorded region qubit True is not a qubit number"),
        ({"region_qubit_0": "3"}, "recorded region qubit '3' is not a qubit number"),
        ({"region_qubit_0": 2.0, "region_qubit_1": 2.0},
         "recorded region [2, 2] is not a set of distinct qubit numbers"),
        ({"region_qubit_0": -1.0}, "recorded region [-1] is not a set of distinct qubit numbers"),
    ):  # fmt: skip
        with pytest.raises(RunError) as e:
            recorded_region(bad)
        assert str(e.value) == why


def test_a_record_that_does_not_fit_the_circuit_is_refused() -> None:
    circuit = build_circuit(_arch(0))
    for region, why in (
        ((1, 2), "the circuit has 3 qubits; region [1, 2] has 2"),
        ((1, 2, 27), "region [1, 2, 27] is not 3 distinct qubits of ibm-hanoi (0-26)"),
        ((0, 1, 8), "region [0, 1, 8] is not connected by ibm-hanoi's working couplings"),
    ):
        with pytest.raises(RunError) as e:
            route_on_region(circuit, DEVICE, region)
        assert str(e.value).startswith(
            f"recorded region {list(region)} cannot be routed: route: {why}"
        )


def _ev(costs: HybridCosts) -> Any:
    return SimpleNamespace(costs=costs, space=SPACE)


def _trial(number: int, layout: int, metrics: dict[str, float]) -> Any:
    return SimpleNamespace(number=number, params=_arch(layout), metrics=metrics)


def test_a_changed_region_is_said_and_the_recorded_one_used(costs: HybridCosts) -> None:
    truth = _order(4)
    recorded = truth[3]  # what "layout 1" named when the search ran, say
    t = _trial(7, 1, region_metrics(recorded))
    with pytest.warns(QuarchWarning) as got:
        routed = routed_for_trial(_ev(costs), t)
    assert routed is not None and routed.region == recorded
    assert [str(w.message) for w in got] == [
        f"trial 7 was scored on qubits {list(recorded)}, but its layout 1 names qubits "
        f"{list(truth[1])} of {DEVICE} now (quarch's region ranking or the installed "
        "Qiskit's calibration changed since the search); using the recorded qubits"
    ]
    with pytest.raises(RunError) as e:
        check_resumed(costs, SPACE, [_trial(2, 0, region_metrics(truth[0])), t])
    assert str(e.value) == (
        f"cannot resume: trial 7 was scored on qubits {list(recorded)}, but its layout 1 "
        f"names qubits {list(truth[1])} of {DEVICE} now; quarch's region ranking or the "
        "installed Qiskit's calibration changed since the search, so new trials would be "
        "scored on other qubits than the old ones: start a new run folder (--out)"
    )


def test_an_unchanged_region_is_silent(costs: HybridCosts) -> None:
    truth = _order(4)
    trials = [_trial(i, i, region_metrics(truth[i])) for i in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t in trials:
            routed = routed_for_trial(_ev(costs), t)
            assert routed is not None and routed.region == truth[t.params["layout"]]
        check_resumed(costs, SPACE, trials)


def test_an_old_trial_is_checked_by_its_success_probability(costs: HybridCosts) -> None:
    """No record (an older quarch): the recorded success probability, a function of the
    qubits, proves the region changed when it differs on the region named now."""
    truth = _order(4)
    arch = _arch(1)
    p_now = success_probability(route_on_region(build_circuit(arch), DEVICE, truth[1]))
    p_then = success_probability(route_on_region(build_circuit(arch), DEVICE, truth[2]))
    assert p_now != p_then  # the premise: another region has another value
    same = _trial(4, 1, {"success_probability": p_now})
    moved = _trial(5, 1, {"success_probability": p_then})
    never = _trial(6, 1, {"val_error": 0.5})  # failed or pruned before it was routed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert routed_for_trial(_ev(costs), same).region == truth[1]  # type: ignore[union-attr]
        check_resumed(costs, SPACE, [same, never, _trial(8, 1, {})])
    with pytest.warns(QuarchWarning) as got:
        assert routed_for_trial(_ev(costs), moved).region == truth[1]  # type: ignore[union-attr]
    assert [str(w.message) for w in got] == [
        "trial 5 records no region (an older quarch's run, or stopped before training), "
        f"and its success probability {p_then:.6g} is {p_now:.6g} on qubits "
        f"{list(truth[1])} of {DEVICE}, which its layout 1 names now (quarch's region "
        "ranking or the installed Qiskit's calibration changed since the search); using "
        "the current ones"
    ]
    unbuildable = SimpleNamespace(number=9, params={"qubits": 99}, metrics={"val_error": 0.5})
    with pytest.raises(RunError, match=r"^cannot resume: trial 5 records no region"):
        check_resumed(costs, SPACE, [same, _trial(8, 1, {}), unbuildable, moved])


@pytest.mark.parametrize(("off", "told"), [(1e-10, True), (1e-14, False)])
def test_a_success_probability_off_in_its_last_digits_is_the_same_region(
    costs: HybridCosts, off: float, told: bool
) -> None:
    """A relative 1e-14 is another machine's rounding of ``exp``; 1e-10 is no rounding
    (a changed calibration figure, or qubits, changed it)."""
    truth = _order(4)
    arch = _arch(1)
    p = success_probability(route_on_region(build_circuit(arch), DEVICE, truth[1]))
    t = _trial(4, 1, {"success_probability": p * (1 + off)})
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        routed_for_trial(_ev(costs), t)
    assert len(got) == int(told)


def test_a_space_without_a_layout_choice_is_on_the_best_region(costs: HybridCosts) -> None:
    """Without ``layouts`` every circuit goes to the best region (layout 0): a record of
    another is told the same way, as layout 0."""
    plain = hqnn_space(min_qubits=3, max_qubits=3, max_layers=1, frontends=("linear",))
    arch = {k: v for k, v in _arch(0).items() if k != "layout"}
    truth = _order(2)
    ev = SimpleNamespace(costs=costs, space=plain)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        same = SimpleNamespace(number=1, params=arch, metrics=region_metrics(truth[0]))
        assert routed_for_trial(ev, same).region == truth[0]  # type: ignore[union-attr]
    moved = SimpleNamespace(number=2, params=arch, metrics=region_metrics(truth[1]))
    with pytest.warns(QuarchWarning, match=re.escape(f"layout 0 names qubits {list(truth[0])}")):
        assert routed_for_trial(ev, moved).region == truth[1]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("change", "seed", "level"),
    [({"entanglement_0": "full", "entangler": "crz", "layout": 1}, 0, 1), ({}, 3, 2)],
)
def test_a_run_of_another_seed_or_level_is_checked_on_its_own_order(
    change: dict[str, Any], seed: int, level: int
) -> None:
    """The circuit's order of regions depends on the router's seed and level (each
    region's success probability does): a run of ``transpile_seed`` 3 or level 1 records
    its own order's region, and its report and resume check it against that order,
    silently, not against the order of seed 0 at level 2."""
    arch = {**_arch(0), **change}
    costs = HybridCosts(
        load_dataset("iris", seed=0), device_profile=DEVICE, transpile_seed=seed,
        optimization_level=level,
    )  # fmt: skip
    metrics = costs(SPACE.validate(arch), HybridNet(arch, (4,), 3))
    circuit, layout = build_circuit(arch), arch["layout"]
    own = circuit_order(circuit, DEVICE, 2, seed=seed, level=level)[layout]
    assert _region_of(metrics) == own != circuit_order(circuit, DEVICE, 2)[layout]
    t = SimpleNamespace(number=3, params=arch, metrics=metrics)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        routed = routed_for_trial(_ev(costs), t)
        check_resumed(costs, SPACE, [t])
    assert routed is not None and routed.region == own


def test_a_run_without_a_calibrated_device_has_nothing_to_record() -> None:
    plain = HybridCosts(load_dataset("iris", seed=0), device_profile="ibm-heron")
    arch = _arch(0)
    metrics = plain(SPACE.validate(arch), HybridNet(arch, (4,), 3))
    assert not any(k.startswith("region_qubit_") for k in metrics)
    assert routed_for_trial(_ev(plain), _trial(0, 0, metrics)) is None


@pytest.mark.parametrize("region", [(1, 2, 3), (3, 2, 1)])
def test_the_exported_layout_is_the_one_qiskit_reads_back(region: tuple[int, ...]) -> None:
    """On a 5-qubit line (``ibm-manila``): Qiskit's ``Operator.from_circuit`` undoes the
    exported circuit's ``layout`` (where each logical qubit starts, where the router
    left it), so with a right layout it is the logical circuit's operator (ancillas
    idle). (3, 2, 1) is no ranked region (wire order reversed), (1, 2, 3) is one."""
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator

    from quarch.cost.routed_layout import with_layout
    from quarch.quantum import to_qiskit

    circuit = build_circuit({**_arch(0), "entanglement_0": "full", "entangler": "cnot"})
    rng = np.random.default_rng(0)
    weights = rng.uniform(-3, 3, circuit.n_weights).tolist()
    inputs = rng.uniform(-1, 1, circuit.n_inputs).tolist()
    routed = route_on_region(circuit, "ibm-manila", region)
    assert routed.region == region and routed.swaps > 0  # the premise: the router moved one
    qc = with_layout(routed.full_device_qiskit(weights), routed)
    qc = qc.assign_parameters({p: inputs[int(p.name[2:-1])] for p in qc.parameters})
    assert sorted(qc.layout.initial_index_layout(filter_ancillas=True)) == sorted(region)
    logical = to_qiskit(circuit, weights)
    logical = logical.assign_parameters({p: inputs[int(p.name[2:-1])] for p in logical.parameters})
    padded = QuantumCircuit(5)
    padded.compose(logical, qubits=[0, 1, 2], inplace=True)
    assert Operator.from_circuit(qc).equiv(Operator(padded))
    # and a wrong layout is told apart: the same circuit with no final permutation
    qc._layout.final_layout = None
    assert not Operator.from_circuit(qc).equiv(Operator(padded))


@pytest.mark.parametrize("width", [3, 5])
def test_the_exported_layout_is_built_as_qiskits_transpiler_builds_one(width: int) -> None:
    """Registers ``q`` (the circuit's) and ``ancilla`` (the spare qubits; none when the
    circuit fills the device), the input mapping and a routing permutation that moves
    nothing outside the region: as ``qiskit.transpile`` leaves them."""
    from qiskit import QuantumCircuit, transpile

    from quarch.cost.routed_layout import with_layout
    from quarch.quantum import Circuit

    c = Circuit(width)
    for w in range(1, width):
        c.cnot(0, w)
    region = tuple(range(width)) if width == 5 else (1, 2, 3)
    routed = route_on_region(c, "ibm-manila", region)
    qc = with_layout(routed.full_device_qiskit([]), routed)
    logical = QuantumCircuit(width)
    for w in range(1, width):
        logical.cx(0, w)
    backend = get_quantum_device("ibm-manila").calibration.backend  # type: ignore[union-attr]
    truth = transpile(logical, backend, initial_layout=list(region), seed_transpiler=0).layout
    mine = qc.layout
    assert mine.initial_layout.get_registers() == truth.initial_layout.get_registers()

    def inputs(layout: Any) -> list[tuple[str, int]]:
        """Each input index's register and the bit's place in it, in input order."""
        ordered = sorted(layout.input_qubit_mapping.items(), key=lambda kv: kv[1])
        assert [i for _, i in ordered] == list(range(5))
        return [(b._register.name, b._register.index(b)) for b, _ in ordered]

    assert inputs(mine) == inputs(truth)
    perm = mine.routing_permutation()
    assert sorted(perm) == list(range(5))
    assert all(perm[p] == p for p in range(5) if p not in region)


@pytest.mark.parametrize("seed_level", [(5, 1), (0, 3)])
def test_route_on_region_keeps_the_seed_and_level(seed_level: tuple[int, int]) -> None:
    seed, level = seed_level
    circuit = build_circuit(_arch(0))
    truth = _order(4)
    for region in (truth[1], tuple(reversed(truth[1]))):  # ranked, then pinned
        routed = route_on_region(circuit, DEVICE, region, seed=seed, optimization_level=level)
        assert (routed.region, routed.seed, routed.optimization_level) == (region, seed, level)


def test_with_layout_leaves_a_circuit_without_qiskits_layout_alone() -> None:
    from qiskit import QuantumCircuit

    from quarch.cost.routed_layout import with_layout

    qc = QuantumCircuit(2)
    assert with_layout(qc, SimpleNamespace(device="x")) is qc and qc.layout is None
    no_layout = SimpleNamespace(qiskit=QuantumCircuit(2), region=(0, 1))
    assert with_layout(qc, no_layout) is qc and qc.layout is None


def test_a_hand_profile_has_no_regions_to_route_on() -> None:
    from quarch._errors import ConfigError

    with pytest.raises(ConfigError) as e:
        route_on_region(build_circuit(_arch(0)), "ibm-heron", (0, 1, 2))
    assert str(e.value) == "'ibm-heron' has no calibration, so no regions"
