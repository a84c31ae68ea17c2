"""A brute-force 2-D hypervolume, shared by the truth tests of NB201's multi-objective
tasks and of the benchmark harness (independent of Optuna's and quarch's code)."""

from __future__ import annotations

import itertools


def strip_area(points: list[tuple[float, float]]) -> float:
    """Area of the union of ``[e, 1] x [t, 1]`` over 2-D points (both minimised) inside
    the unit box: a fine grid would do; strips between the points' edges are exact."""
    pts = [(e, t) for e, t in points if e < 1 and t < 1]
    if not pts:
        return 0.0
    xs = sorted({max(e, 0.0) for e, _ in pts} | {1.0})
    area = 0.0
    for a, b in itertools.pairwise(xs):
        low = min(max(t, 0.0) for e, t in pts if max(e, 0.0) <= a)
        area += (b - a) * (1.0 - low)
    return area
