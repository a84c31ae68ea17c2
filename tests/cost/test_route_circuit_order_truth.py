"""``route(circuit, device, layout=i)``: the ``i``-th region of the circuit's own order.

The calibration ranks a device's regions by their qubits and couplers alone, blind to
the SWAPs a circuit's entanglers need there: on ``ibm-cairo`` a 2-layer CNOT ring of 5
qubits routed on the calibration's best region reaches a success probability of 0.53,
on the best of its 8 best regions 0.70. The truth here is brute force: every connected
set of the circuit's width ranked by its calibration (``tests/_region_truth.py``, from
Qiskit's ``Target`` alone), each of the 8 best routed one by one on its qubits
(``route(..., region=)``) and its success probability computed; layout 0 must be the
maximum (the same float), layout ``i`` the ``i``-th (ties: the calibration's order), and
an hqnn search must record the region the brute force picks, and export and train there.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from quarch._errors import ConfigError
from quarch.cli import main
from quarch.cost import routing
from quarch.cost.device_costs import success_probability
from quarch.cost.routing import DeviceFitError, route
from quarch.quantum import Circuit, Weight

from .._region_truth import RERANKED, circuit_order
from .._scope import per_module
from ..test_hardware_regions_truth import _target, _truth
from ..test_layout_provenance_train_truth import noisy_regions  # noqa: F401  (the fixture)


def _ring(n: int, layers: int = 2) -> Circuit:
    """``layers`` rings of CNOTs on ``n`` wires (no region of heavy-hex holds a ring)."""
    c = Circuit(n)
    for _ in range(layers):
        for i in range(n):
            c.cnot(i, (i + 1) % n)
    return c


def _hqnn_like(n: int) -> Circuit:
    """An hqnn layer: RY weights, then CNOTs on every pair (full entanglement)."""
    c = Circuit(n)
    for w in range(n):
        c.ry(w, Weight(w))
    for a in range(n):
        for b in range(a + 1, n):
            c.cnot(a, b)
    return c


def _brute_force(circuit: Circuit, device: str, level: int) -> tuple[list[Any], list[float]]:
    """The 8 best calibration regions and the success probability the circuit routes to
    on each, one by one."""
    top, _ = _truth(device.removeprefix("ibm-"), circuit.n_qubits, RERANKED)
    p = [
        success_probability(route(circuit, device, region=r, optimization_level=level)) for r in top
    ]
    return top, p


CASES = [
    ("ibm-cairo", _ring(5), 2),  # the ring of the numbers above
    ("ibm-cairo", _ring(5), 1),
    ("ibm-hanoi", _hqnn_like(3), 2),
    ("ibm-fez", _hqnn_like(4), 2),
]


@pytest.mark.parametrize(("device", "circuit", "level"), CASES)
def test_layout_0_is_the_best_success_probability_of_the_8_best_regions(
    device: str, circuit: Circuit, level: int
) -> None:
    top, p = _brute_force(circuit, device, level)
    best = route(circuit, device, layout=0, optimization_level=level)
    assert success_probability(best) == max(p)
    assert best.region == top[p.index(max(p))] and best.layout_index == 0


@pytest.mark.parametrize(("device", "circuit", "level"), CASES)
def test_layout_i_is_the_i_th_of_the_brute_force_order(
    device: str, circuit: Circuit, level: int
) -> None:
    top, p = _brute_force(circuit, device, level)
    ranked = sorted(range(RERANKED), key=lambda j: (-p[j], j))
    for i, j in enumerate(ranked):
        rc = route(circuit, device, layout=i, optimization_level=level)
        assert (rc.region, rc.layout_index) == (top[j], i)
        assert success_probability(rc) == p[j]
    rest, _ = _truth(device.removeprefix("ibm-"), circuit.n_qubits, RERANKED + 3)
    for i in range(RERANKED, RERANKED + 3):  # past the re-ranked: the calibration's order
        assert route(circuit, device, layout=i, optimization_level=level).region == rest[i]
    assert (
        routing.layout_regions(circuit, device, optimization_level=level)[: RERANKED + 3]
        == [top[j] for j in ranked] + rest[RERANKED:]
    )


def test_the_order_is_the_circuits_own() -> None:
    """Two circuits of one width put layout 0 on other qubits (on ``ibm-cairo``), and the
    calibration's best region is not the ring's."""
    ring, line = _ring(5), Circuit(5).cnot(0, 1).cnot(1, 2).cnot(2, 3).cnot(3, 4)
    calibrated, _ = _truth("cairo", 5, 1)
    assert circuit_order(ring, "ibm-cairo", 1) != calibrated
    assert route(ring, "ibm-cairo").region == circuit_order(ring, "ibm-cairo", 1)[0]
    assert route(line, "ibm-cairo").region == circuit_order(line, "ibm-cairo", 1)[0]
    assert route(ring, "ibm-cairo").region != route(line, "ibm-cairo").region


def test_a_region_names_its_place_in_the_circuits_order() -> None:
    """``layout_index`` of a region given by its qubits: its place in the circuit's own
    order (re-ranked or past them), -1 for a region that order does not name."""
    ring = _ring(5)
    order = routing.layout_regions(ring, "ibm-cairo")
    for i in (0, 3, RERANKED - 1, RERANKED, RERANKED + 5):
        rc = route(ring, "ibm-cairo", region=order[i])
        assert rc.layout_index == i and rc is route(ring, "ibm-cairo", layout=i)
    unranked = tuple(reversed(order[0]))
    assert route(ring, "ibm-cairo", region=unranked).layout_index == -1


def test_a_region_qiskit_cannot_route_goes_last_among_the_re_ranked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A re-ranked region whose routing fails does not fail the others: it is the last of
    the 8, and only a layout naming it fails, with the routing's own error."""
    ring = _ring(4, 3)
    top, p = _brute_force(ring, "ibm-fez", 2)
    broken = top[p.index(max(p))]
    real = routing._route_uncached

    def fails_on_one(key: Any, cal: Any, region: Any, *args: Any) -> Any:
        if region == broken:
            raise DeviceFitError(f"no route on {list(region)}")
        return real(key, cal, region, *args)

    monkeypatch.setattr(routing, "_route_uncached", fails_on_one)
    for f in (routing._order, routing._route, routing._routed):
        f.cache_clear()
    try:
        ranked = [top[j] for j in sorted(range(RERANKED), key=lambda j: (-p[j], j))]
        want = [r for r in ranked if r != broken] + [broken]
        assert routing.layout_regions(ring, "ibm-fez")[:RERANKED] == want
        assert route(ring, "ibm-fez").region == want[0]
        with pytest.raises(DeviceFitError, match=r"^no route on"):
            route(ring, "ibm-fez", layout=RERANKED - 1)
    finally:
        for f in (routing._order, routing._route, routing._routed):
            f.cache_clear()


def test_layout_regions_refuses_what_route_refuses() -> None:
    for kwargs, why in (
        ({"seed": -1}, "layout_regions: seed must be an integer >= 0; got -1"),
        ({"optimization_level": 4}, "optimization_level must be 0, 1, 2 or 3; got 4"),
    ):
        with pytest.raises(ConfigError) as e:
            routing.layout_regions(_ring(3), "ibm-hanoi", **kwargs)
        assert str(e.value) == why
    with pytest.raises(ConfigError, match=r"^routing needs a calibrated device"):
        routing.layout_regions(_ring(3), "ibm-heron")
    with pytest.raises(DeviceFitError) as e2:
        routing.layout_regions(_ring(6), "ibm-manila")
    assert str(e2.value) == "the circuit needs 6 qubits; ibm-manila has 5"


# -- a search records the region the brute force picks; export and train use it ----------
DEVICE = "ibm-cairo"
SEARCH = [
    "search", "--space", "hqnn", "--dataset", "iris", "--trials", "1", "--epochs", "1",
    "--device-profile", DEVICE, "--noise", DEVICE, "--evaluator-option", "noise_aware=true",
    "--space-option", "min_qubits=5", "--space-option", "max_qubits=5",
    "--space-option", "max_layers=1", "--space-option", "entanglements=ring",
    "--space-option", "entangling_gates=cnot", "--space-option", "embeddings=angle-y",
    "--quiet",
]  # fmt: skip


@pytest.fixture(scope=per_module)
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("order") / "run"
    assert main([*SEARCH, "--out", str(run)]) == 0
    return run


def _recorded(run: Path) -> tuple[list[int], Any]:
    """Trial 0's recorded qubits (read from the study file itself) and its circuit."""
    from quarch.spaces.hqnn.model import build_circuit
    from quarch.study import Run

    with sqlite3.connect(run / "study.db") as db:
        (raw,) = db.execute(
            "SELECT a.value_json FROM trial_user_attributes a JOIN trials t ON "
            "t.trial_id = a.trial_id WHERE a.key = 'metrics' AND t.number = 0"
        ).fetchone()
    metrics = json.loads(raw)
    region = [int(metrics[f"region_qubit_{i}"]) for i in range(5)]
    return region, build_circuit(Run.open(run).trial(0).params)


def test_a_search_records_the_region_the_brute_force_picks(searched: Path) -> None:
    region, circuit = _recorded(searched)
    assert tuple(region) == circuit_order(circuit, DEVICE, 1)[0]
    calibrated, _ = _truth("cairo", 5, 1)
    assert tuple(region) != calibrated[0]  # the premise: not the calibration's best


def test_export_and_train_route_on_the_region_the_brute_force_picks(
    searched: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    noisy_regions: list[tuple[int, ...]],  # noqa: F811
) -> None:
    """On its qubits and couplers (Qiskit's own layout of the QPY file), and the noise
    trained under is that region's; nothing is warned about."""
    from qiskit import qpy

    _, circuit = _recorded(searched)
    region = list(circuit_order(circuit, DEVICE, 1)[0])
    capsys.readouterr()
    out = tmp_path / "c.qpy"
    assert main(["export", str(searched), "--trial", "0", "--format", "qiskit",
                 "--out", str(out)]) == 0  # fmt: skip
    with open(out, "rb") as f:
        (qc,) = qpy.load(f)
    assert sorted(qc.layout.initial_index_layout(filter_ancillas=True)) == sorted(region)
    tg = _target("cairo")
    couplers = {frozenset(q) for g in ("ecr", "cx") for q in tg[g]}
    for inst in qc.data:
        qubits = [qc.find_bit(q).index for q in inst.qubits]
        assert set(qubits) <= set(region)
        assert len(qubits) < 2 or frozenset(qubits) in couplers
    run = tmp_path / "run"  # train writes into the run: a copy, the fixture is shared
    shutil.copytree(searched, run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["train", str(run), "--trial", "0", "--seeds", "1", "--epochs", "1",
                     "--quiet"]) == 0  # fmt: skip
    assert "warning" not in capsys.readouterr().err
    assert noisy_regions and set(noisy_regions) == {tuple(region)}
