"""The layouts a search chooses among are the best regions of the device, checked against
enumerating every connected set of qubits (the truth for small widths).

A region's score, written here from the Qiskit ``Target`` alone: ``log(1 - e)`` of each
qubit's readout and ``sx`` errors plus, over a maximum spanning tree of the working
couplers inside it, ``log(1 - e_2q)`` of each edge. quarch once grew one region from each
qubit greedily and returned the best of those: on ``ibm-hanoi`` its second best region of
5 qubits (0, 1, 2, 3, 5) was never grown, so ``--space-option layouts=4`` offered a worse
one in its place.
"""

from __future__ import annotations

import functools
import math
import warnings
from typing import Any

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from quarch.cost import calibration


def _log_fid(e: float) -> float:
    return math.log(max(1e-12, 1.0 - min(e, 1.0)))


@functools.cache
def _target(snapshot: str) -> Any:
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FakeProviderForBackendV2().backend(f"fake_{snapshot}").target


def _truth(snapshot: str, size: int, k: int) -> tuple[list[tuple[int, ...]], list[float]]:
    """The ``k`` best connected sets of ``size`` qubits by brute force, and their scores."""
    import networkx as nx

    tg = _target(snapshot)
    graph = nx.Graph()
    # every two-qubit gate: ibm-cairo runs ECR on some couplers and CX on others
    for two in (g for g in ("cz", "ecr", "cx") if g in tg.operation_names):
        for (a, b), p in tg[two].items():
            if p.error < 1.0:  # a coupler broken on the day of the snapshot is no edge
                w = _log_fid(p.error)
                if not graph.has_edge(a, b) or graph[a][b]["w"] < w:
                    graph.add_edge(a, b, w=w)
    one = {q: _log_fid(tg["measure"][(q,)].error) + _log_fid(tg["sx"][(q,)].error) for q in graph}

    def score(qubits: frozenset[int]) -> float:
        tree = nx.maximum_spanning_tree(graph.subgraph(qubits), weight="w")
        return sum(one[q] for q in qubits) + sum(d["w"] for *_, d in tree.edges(data=True))

    sets = {frozenset([q]) for q in graph}
    for _ in range(size - 1):
        sets = {s | {v} for s in sets for u in s for v in graph[u] if v not in s}
    ranked = sorted(sets, key=lambda s: (-score(s), sorted(s)))[:k]
    return [tuple(sorted(s)) for s in ranked], [score(s) for s in ranked]


@pytest.mark.parametrize(
    ("device", "size"),
    [("hanoi", 2), ("hanoi", 3), ("hanoi", 4), ("hanoi", 5), ("hanoi", 6), ("fez", 4)],
)
def test_the_best_regions_are_those_of_every_connected_set(device: str, size: int) -> None:
    truth, scores = _truth(device, size, 8)
    assert len(set(scores)) == len(scores)  # no tie: the order is the scores' alone
    cal = calibration.load_calibration(f"ibm-{device}")
    assert cal.regions(size, 8) == truth
    # and the body out of its cache (what mutation testing reaches)
    assert list(calibration._regions_uncached(cal, size)[:8]) == truth


def _toy(errors: dict[tuple[int, int], float]) -> calibration.Calibration:
    """A perfect 4-qubit device whose only errors are its couplers' (CZ)."""
    n = 4
    return calibration.Calibration(
        name="toy", n_qubits=n, two_qubit_gate="cz", edges=tuple(errors),
        t1=(math.inf,) * n, t2=(math.inf,) * n, readout=((0.0, 0.0),) * n,
        readout_time=(0.0,) * n, gates={("cz", e): (err, 0.0) for e, err in errors.items()},
        rep_delay=0.0, target=None, backend=None,
    )  # fmt: skip


def test_a_region_with_a_cycle_scores_its_best_spanning_tree() -> None:
    """Triangle 0-1-2 (errors 0, .1 and .5 on 0-2) with 3 hanging off 2 (.3): {0, 1, 2}
    keeps 0-1 and 1-2 (log .9), better than {1, 2, 3} (log .9 + log .7), better than
    {0, 2, 3} (log .5 + log .7). Scoring a qubit by its worst edge in, or a region by its
    worst way of growing, puts {0, 1, 2} at log .5, below {1, 2, 3}."""
    import networkx as nx

    errors = {(0, 1): 0.0, (1, 2): 0.1, (0, 2): 0.5, (2, 3): 0.3}
    graph = nx.Graph()
    graph.add_weighted_edges_from((a, b, _log_fid(e)) for (a, b), e in errors.items())

    def score(qubits: tuple[int, ...]) -> float:
        tree = nx.maximum_spanning_tree(graph.subgraph(qubits))
        return sum(d["weight"] for *_, d in tree.edges(data=True))

    truth = sorted(((0, 1, 2), (1, 2, 3), (0, 2, 3)), key=lambda r: -score(r))
    assert truth == [(0, 1, 2), (1, 2, 3), (0, 2, 3)]
    assert calibration._regions_uncached(_toy(errors), 3) == tuple(truth)


def test_no_region_has_no_qubits() -> None:
    assert calibration._regions_uncached(_toy({(0, 1): 0.0}), 0) == ()
