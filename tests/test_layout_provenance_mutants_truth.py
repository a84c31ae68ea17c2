"""Placing a trial's width and layout on its recorded qubits (``HybridCosts.place``, for
``quarch train``) moves that layout alone, and only the noise of the routed device.

What ``tests/test_layout_provenance_train_truth.py`` left unchecked (found by mutation
runs of ``HybridCosts.place``, ``_placement`` and ``noisy_circuit``): its runs have one
layout per width and an ``arch`` that always names its layout.

Truth: the circuit's own order of a device's regions by brute force
(``tests/_region_truth.py``), and the physical qubits of every routed
circuit whose device noise is built (a spy on
:func:`quarch.cost.device_costs.device_noise`).
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

pytest.importorskip("qiskit_ibm_runtime")

from quarch._warnings import QuarchWarning
from quarch.data import load_dataset
from quarch.spaces.hqnn import hqnn_space
from quarch.spaces.hqnn.costs import HybridCosts
from quarch.spaces.hqnn.model import build_circuit
from quarch.spaces.hqnn.provenance import place_trial, region_metrics

from ._region_truth import circuit_order
from .test_layout_provenance_train_truth import noisy_regions as _noisy_regions

noisy_regions = _noisy_regions  # the train tests' fixture: the regions of each noise built
DEVICE = "ibm-hanoi"
OTHER = "ibm-kolkata"  # another calibrated device of 27 qubits, ranked apart
SPACE = hqnn_space(min_qubits=3, max_qubits=3, max_layers=1, layouts=4, frontends=("linear",))


def _arch(layout: int | None) -> dict[str, Any]:
    """A 3-qubit architecture on ``layout`` (``None``: a space without the choice)."""
    arch = SPACE.sample(np.random.default_rng(3))
    arch = {**arch, "layout": layout, "embedding": "angle-y", "entanglement_0": "ring"}
    return arch if layout is not None else {k: v for k, v in arch.items() if k != "layout"}


def _order(device: str, k: int) -> list[tuple[int, ...]]:
    """The first ``k`` regions of ``_arch``'s circuit's order on ``device`` (one circuit
    at every layout; the costs route with seed 0 at level 2)."""
    return circuit_order(build_circuit(_arch(0)), device, k)


def _key(arch: dict[str, Any]) -> tuple[Any, ...]:
    """A placement's key: the circuit (width, weights, gates) and its layout."""
    c = build_circuit(arch)
    return c.n_qubits, c.n_weights, tuple(c.ops), int(arch.get("layout", 0))


def test_a_placed_layout_moves_alone() -> None:
    """Layout 2 placed on the region the circuit's order names for layout 3: layout 2
    routes there, every other layout of the circuit where its order puts it."""
    truth = _order(DEVICE, 4)
    costs = HybridCosts(load_dataset("iris", seed=0), device_profile=DEVICE)
    costs.place(_arch(2), truth[3])
    assert costs.placed == {_key(_arch(2)): truth[3]}
    for layout, want in [(2, truth[3]), (0, truth[0]), (1, truth[1]), (3, truth[3])]:
        routed = costs.routed(_arch(layout))
        assert routed is not None and routed.region == want, layout


def test_an_architecture_without_a_layout_is_placed_as_layout_0() -> None:
    """A space without ``layouts`` routes every circuit on layout 0 (``route``'s
    default): placing its architecture places layout 0, and nothing else."""
    truth = _order(DEVICE, 2)
    costs = HybridCosts(load_dataset("iris", seed=0), device_profile=DEVICE)
    costs.place(_arch(None), truth[1])
    assert costs.placed == {_key(_arch(0)): truth[1]}
    for arch, want in [(_arch(None), truth[1]), (_arch(0), truth[1]), (_arch(1), truth[1])]:
        routed = costs.routed(arch)
        assert routed is not None and routed.region == want
    costs.place(_arch(1), truth[0])
    routed = costs.routed(_arch(None))
    assert routed is not None and routed.region == truth[1]  # layout 1's place is its own


def test_a_placed_circuit_moves_alone() -> None:
    """A layout names a region of its circuit's own order: placing one circuit's layout 0
    leaves another circuit of the same width and layout 0 on its own order's first
    region (keyed by width and layout, as before, it moved too)."""
    placed, other = _arch(0), {**_arch(0), "entanglement_0": "linear", "entangler": "cz"}
    assert build_circuit(other).ops != build_circuit(placed).ops  # the premise
    own = circuit_order(build_circuit(other), DEVICE, 1)[0]
    region = next(r for r in _order(DEVICE, 4) if r != own)
    costs = HybridCosts(load_dataset("iris", seed=0), device_profile=DEVICE)
    costs.place(placed, region)
    moved, kept = costs.routed(placed), costs.routed(other)
    assert moved is not None and moved.region == region
    assert kept is not None and kept.region == own


def test_the_noise_of_another_device_is_not_placed(
    noisy_regions: list[tuple[int, ...]],
) -> None:
    """The record names qubits of the routed device; a noise of another device routes
    on the circuit's order of that device's regions, placed or not (the routed device's placement moves
    only its own noise)."""
    hanoi = _order(DEVICE, 2)
    kolkata = _order(OTHER, 1)
    assert kolkata[0] != hanoi[1]  # else the test could not tell them apart
    arch = _arch(0)
    other = HybridCosts(load_dataset("iris", seed=0), device_profile=DEVICE, noise=OTHER)
    other.place(arch, hanoi[1])
    other.noisy_circuit(arch, build_circuit(arch))
    assert noisy_regions == [kolkata[0]]
    noisy_regions.clear()
    same = HybridCosts(load_dataset("iris", seed=0), device_profile=DEVICE, noise=DEVICE)
    same.noisy_circuit(arch, build_circuit(arch))
    same.place(arch, hanoi[1])
    same.noisy_circuit(arch, build_circuit(arch))
    assert noisy_regions == [hanoi[0], hanoi[1]]


def test_a_trial_is_placed_only_under_the_routed_device_s_own_noise() -> None:
    """``place_trial`` places a moved trial (with its warning) when the evaluator trains
    under the routed device's noise; under another device's noise, or none, the record's
    qubits are not the noise's, and nothing is placed or said."""
    hanoi = _order(DEVICE, 2)
    trial = SimpleNamespace(number=4, params=_arch(0), metrics=region_metrics(hanoi[1]))
    iris = load_dataset("iris", seed=0)
    for noise in (OTHER, None):
        costs = HybridCosts(iris, device_profile=DEVICE, noise=noise)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            place_trial(SimpleNamespace(costs=costs, space=SPACE, noise_aware=True), trial)
        assert costs.placed == {}, noise
    costs = HybridCosts(iris, device_profile=DEVICE, noise=DEVICE)
    with pytest.warns(QuarchWarning, match="using the recorded qubits"):
        place_trial(SimpleNamespace(costs=costs, space=SPACE, noise_aware=True), trial)
    assert costs.placed == {_key(_arch(0)): hanoi[1]}


def test_the_spec_places_nothing_for_an_evaluator_of_another_kind() -> None:
    """``HQNNSpec.place_trial`` asks a standalone hqnn evaluator (its ``costs`` and its
    ``noise_aware``); the supercircuit's (costs, no ``noise_aware``) and a custom one
    (no costs) are left alone, without an error, even for a moved trial."""
    from quarch.spaces import get_spec
    from quarch.spaces.hqnn.evaluator import SuperCircuitEvaluator

    hanoi = _order(DEVICE, 2)
    trial = SimpleNamespace(number=4, params=_arch(0), metrics=region_metrics(hanoi[1]))
    iris = load_dataset("iris", seed=0)
    spec: Any = get_spec("hqnn")
    shared = SuperCircuitEvaluator(iris, SPACE, device_profile=DEVICE, noise=DEVICE)
    custom = SimpleNamespace(space=SPACE, noise_aware=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec.place_trial(shared, trial)
        spec.place_trial(custom, trial)
    assert shared.costs.placed == {}
    assert not hasattr(custom, "costs")
