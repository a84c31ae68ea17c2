"""A circuit's own order of a device's regions (what ``route``'s ``layout`` indexes), by
brute force: every connected set of the circuit's width ranked by its calibration
(``tests/test_hardware_regions_truth.py``'s enumeration, from Qiskit's ``Target``
alone), the best :data:`RERANKED` of them routed one by one on their qubits
(``route(..., region=)``) and sorted by the success probability each reaches (ties: the
calibration's order), then the rest in the calibration's order.
"""

from __future__ import annotations

from quarch.cost.device_costs import success_probability
from quarch.cost.routing import route
from quarch.quantum import Circuit

from .test_hardware_regions_truth import _truth

#: ``quarch.cost.routing.RERANKED`` written out, so that a change of it is seen here.
RERANKED = 8


def circuit_order(
    circuit: Circuit, device: str, k: int, *, seed: int = 0, level: int = 2
) -> list[tuple[int, ...]]:
    """The first ``k`` regions of ``circuit``'s own order on ``device`` (``ibm-<snapshot>``)
    for the router's ``seed`` and optimisation ``level``."""
    calibrated, _ = _truth(device.removeprefix("ibm-"), circuit.n_qubits, max(k, RERANKED))
    top = calibrated[:RERANKED]
    p = [
        success_probability(route(circuit, device, region=r, seed=seed, optimization_level=level))
        for r in top
    ]
    best = sorted(range(len(top)), key=lambda j: (-p[j], j))
    return ([top[j] for j in best] + calibrated[RERANKED:])[:k]
