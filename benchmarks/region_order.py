"""Which region of a calibrated device a circuit runs best on, and what finding it costs.

A calibration ranks a device's regions of ``n`` qubits by their qubits and couplers
alone (:meth:`~quarch.cost.calibration.Calibration.regions`), blind to the SWAPs a
circuit's entanglers need there, so its first region is often not where a circuit runs
best. :func:`quarch.cost.routing.route` therefore routes a circuit on the calibration's
:data:`~quarch.cost.routing.RERANKED` best regions and takes the one of highest success
probability as layout 0 (the circuit's own order,
:func:`~quarch.cost.routing.layout_regions`). This benchmark asks how much that buys and
what it costs: per device and circuit kind,

* the mean success probability (:func:`~quarch.cost.device_costs.success_probability`,
  routed at level 2, seed 0) on the calibration's first region and the mean of the best
  over its first K regions (K = 1, 2, 4, 8, 16; each routed with ``route(c, device,
  region=r)``);
* the mean gain of best-of-K over the first region in % and the largest ratio;
* how often layout 0 as shipped (``route(c, device)``) reaches the best of the 16;
* the routing time, cold: the routing caches (``routing._routed``, ``_order``,
  ``_route``) are emptied before each circuit, in one process; Qiskit and each device's
  calibration are loaded by a warm-up routing first, the calibration's region lists are
  built before the clock starts, and its per-region targets stay cached after their
  first use, as in a search. *ms/region* is the time of all 16 routings over 16;
  *ms/circuit* is ``route(c, device)`` alone (the re-ranked regions routed and sorted),
  where one routing sufficed before the re-ranking.

Circuits: ``hqnn`` architectures sampled from
:func:`~quarch.spaces.hqnn.space.hqnn_space` (one width at a time, at most 3 layers,
``--seeds`` per width), and 2-layer CNOT rings. An amplitude embedding wider than 6
qubits is swapped for angle-y, as in the measurement that chose ``RERANKED``: Möttönen's
preparation of 7-8 qubits is 127-255 RY and 126-254 CNOTs, routed 5-10 times slower
than the others (0.1-0.3 s a region) to a success probability of a few %. A region Qiskit cannot route counts as no region
(it is left out of the best, and counted).

    python benchmarks/region_order.py [--devices ibm-fez,...] [--min-qubits 2]
        [--max-qubits 8] [--seeds 3] [--each] [--quick]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

from quarch._errors import ConfigError, QuarchError
from quarch.cost import routing
from quarch.cost.device_costs import success_probability
from quarch.cost.devices import get_calibration
from quarch.cost.routing import DeviceFitError, regions_for, route
from quarch.quantum import Circuit
from quarch.spaces.hqnn.model import build_circuit
from quarch.spaces.hqnn.space import hqnn_space

DEVICES = "ibm-fez,ibm-torino,ibm-cairo,ibm-sherbrooke,ibm-hanoi,ibm-kingston"
KS = (1, 2, 4, 8, 16)
#: Widest amplitude embedding kept; wider ones are swapped for angle-y (slow to route).
AMPLITUDE_MAX = 6
#: Widest circuit the hqnn space samples.
MAX_QUBITS = 16


@dataclass(frozen=True)
class Measured:
    """One circuit on one device: success probability per calibration region (``nan``
    where Qiskit cannot route it), layout 0's, and the cold routing times (s)."""

    name: str
    kind: str
    probs: tuple[float, ...]
    layout0: float
    t_circuit: float
    t_regions: float


def ring(n: int, layers: int = 2) -> Circuit:
    """CNOT ``i -> i+1 mod n`` for every wire, ``layers`` times (one CNOT a layer at 2
    qubits): every qubit entangled with two others, a shape a line of qubits lacks."""
    c = Circuit(n)
    for _ in range(layers):
        for i in range(n if n > 2 else 1):
            c.cnot(i, (i + 1) % n)
    return c


def circuits(widths: Sequence[int], seeds: int) -> list[tuple[str, str, Circuit]]:
    """(name, kind, circuit): per width a ring and ``seeds`` sampled hqnn circuits."""
    out: list[tuple[str, str, Circuit]] = []
    for n in widths:
        out.append((f"ring{n}", "ring", ring(n)))
        space = hqnn_space(min_qubits=n, max_qubits=n, max_layers=3)
        for s in range(seeds):
            arch = space.sample(1000 * n + 17 * s + 5)
            if arch["embedding"] == "amplitude" and n > AMPLITUDE_MAX:
                arch = dict(arch, embedding="angle-y")
            name = f"hqnn{n}s{s}:{arch['embedding']}/{arch['entangler']}/L{arch['layers']}"
            out.append((name, "hqnn", build_circuit(arch)))
    return out


def _clear_routing_caches() -> None:
    """Empty the process's routing caches so the next circuit is routed cold."""
    for cached in (routing._routed, routing._order, routing._route):
        cached.cache_clear()


def _probability(c: Circuit, device: str, region: tuple[int, ...]) -> float:
    try:
        return success_probability(route(c, device, region=region))
    except DeviceFitError:
        return math.nan


def measure(name: str, kind: str, c: Circuit, device: str, k: int) -> Measured:
    """Route ``c`` on the first ``k`` regions of ``device``'s calibration and as
    shipped, cold. The regions past the re-ranked ones are routed (and timed) first, one
    routing each; then ``route(c, device)`` routes the re-ranked ones, which the
    ``region=`` calls after it find cached."""
    cal = get_calibration(device)
    assert cal is not None
    regions = regions_for(cal, c.n_qubits)[:k]
    _clear_routing_caches()
    probs: dict[int, float] = {}
    t0 = time.perf_counter()
    for i in range(routing.RERANKED, len(regions)):
        probs[i] = _probability(c, device, regions[i])
    t1 = time.perf_counter()
    try:
        shipped = route(c, device)
    except DeviceFitError:  # Qiskit failed on the circuit's best region
        shipped = None
    t2 = time.perf_counter()
    layout0 = math.nan if shipped is None else success_probability(shipped)
    for i in range(min(routing.RERANKED, len(regions))):
        probs[i] = _probability(c, device, regions[i])
    return Measured(
        name, kind, tuple(probs[i] for i in range(len(regions))), layout0, t2 - t1, t2 - t0
    )


def best_of(m: Measured, k: int) -> float:
    """Highest success probability over the first ``k`` regions (``nan``: none routed)."""
    ok = [p for p in m.probs[:k] if not math.isnan(p)]
    return max(ok) if ok else math.nan


def kind_rows(device: str, kind: str, ms: Sequence[Measured]) -> list[str]:
    """The K rows of one device and circuit kind (circuits whose first region routes)."""
    ms = [m for m in ms if not math.isnan(m.probs[0])]
    if not ms:
        return [f"{device:15s} {kind:5s}   0  (no circuit routes on the first region)"]
    first = [m.probs[0] for m in ms]
    rows = []
    for k in KS:
        best = [best_of(m, k) for m in ms]
        ratios = [b / f for b, f in zip(best, first, strict=True)]
        rows.append(
            f"{device:15s} {kind:5s} {len(ms):3d} {k:3d}  {statistics.fmean(first):8.4f}  "
            f"{statistics.fmean(best):8.4f}  {100 * (statistics.fmean(ratios) - 1):7.1f}  "
            f"{max(ratios):7.3f}"
        )
    return rows


def cost_row(device: str, kind: str, ms: Sequence[Measured]) -> str:
    """Layout 0 against the best of all regions, and the cold routing times."""
    hits = sum(1 for m in ms if m.layout0 == best_of(m, len(m.probs)))
    failed = sum(1 for m in ms for p in m.probs if math.isnan(p))
    per_region = statistics.fmean(m.t_regions / len(m.probs) for m in ms)
    per_circuit = [m.t_circuit for m in ms]
    return (
        f"{device:15s} {kind:5s} {len(ms):3d}  {hits:3d}/{len(ms):<3d}  {failed:6d}  "
        f"{1e3 * per_region:9.0f}  {1e3 * statistics.fmean(per_circuit):10.0f}  "
        f"{1e3 * max(per_circuit):7.0f}"
    )


def _check(a: argparse.Namespace, devices: Sequence[str]) -> None:
    """Refuse, before any routing, the settings the run cannot use (one line each)."""
    if not 2 <= a.min_qubits <= a.max_qubits <= MAX_QUBITS:
        raise ConfigError(f"need 2 <= --min-qubits <= --max-qubits <= {MAX_QUBITS} (the "
                          f"hqnn space's); got {a.min_qubits}, {a.max_qubits}")  # fmt: skip
    if a.seeds < 1 or a.regions < 1:
        raise ConfigError(f"--seeds and --regions must be >= 1; got {a.seeds}, {a.regions}")
    for d in devices:
        cal = get_calibration(d)  # an unknown name: get_calibration says so
        if cal is None:
            raise ConfigError(f"{d!r} is a hand profile, not a calibrated device; use one "
                              "`quarch devices` marks calibrated, e.g. ibm-fez")  # fmt: skip
        for n in range(a.min_qubits, a.max_qubits + 1):
            regions_for(cal, n)  # too narrow a device refused here, not mid-run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--devices", default=DEVICES, help="calibrated devices, comma-separated")
    p.add_argument("--min-qubits", type=int, default=2)
    p.add_argument("--max-qubits", type=int, default=8)
    p.add_argument("--seeds", type=int, default=3, help="hqnn circuits per width")
    p.add_argument("--regions", type=int, default=max(KS), help="calibration regions routed")
    p.add_argument("--each", action="store_true", help="also print one line per circuit")
    p.add_argument("--quick", action="store_true", help="ibm-fez, widths 2-4, 1 seed")
    a = p.parse_args()
    if a.quick:
        a.devices, a.min_qubits, a.max_qubits, a.seeds = "ibm-fez", 2, 4, 1
    devices = a.devices.split(",")
    try:
        _check(a, devices)
    except QuarchError as e:  # the CLI's convention: one line, exit status 2
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    todo = circuits(range(a.min_qubits, a.max_qubits + 1), a.seeds)
    print(f"load average {os.getloadavg()}; {len(todo)} circuits per device, "
          f"widths {a.min_qubits}-{a.max_qubits}, level 2, seed 0, RERANKED = "
          f"{routing.RERANKED}")  # fmt: skip
    results: dict[str, list[Measured]] = {}
    t_all = time.perf_counter()
    for d in devices:
        route(ring(2), d, seed=1)  # warm-up: Qiskit and the calibration loaded
        results[d] = []
        for name, kind, c in todo:
            m = measure(name, kind, c, d, a.regions)
            results[d].append(m)
            if a.each:
                print(f"{d:15s} {name:36s} first {m.probs[0]:.4f}  best8 {best_of(m, 8):.4f}  "
                      f"best16 {best_of(m, 16):.4f}  layout0 {m.layout0:.4f}  "
                      f"{1e3 * m.t_circuit:6.0f} ms", flush=True)  # fmt: skip
    report(results, a.regions)
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s; load average {os.getloadavg()}")


def report(results: dict[str, list[Measured]], regions: int) -> None:
    """The two tables: success probability by K, then layout 0's hits and the times."""
    print()
    print("success probability: first region of the calibration vs best of its first K")
    print("device          kind    #   K     first  best-of-K   gain %  max x")
    for d, ms in results.items():
        for kind in ("hqnn", "ring"):
            print("\n".join(kind_rows(d, kind, [m for m in ms if m.kind == kind])))
    print()
    print(f"layout 0 as shipped vs best of {regions}; cold routing time (ms)")
    print("device          kind    #  l0=best  failed  ms/region  ms/circuit  max ms")
    for d, ms in results.items():
        for kind in ("hqnn", "ring"):
            print(cost_row(d, kind, [m for m in ms if m.kind == kind]))


if __name__ == "__main__":
    main()
