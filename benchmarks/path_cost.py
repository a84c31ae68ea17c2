"""Measure both simulator paths and fit the cost model that chooses between them.

``quarch.quantum._small_cost`` sends each (plan, batch) to the small-circuit path or the
block engine by a linear model of each path's forward+backward time. This script makes
the measurements that model is fitted on and prints the fit, so the constants in that
module can be re-derived (and checked) on any machine:

* circuits: the simulator benchmark's layer (RY embedding, L x (RY, RZ, CNOT ring),
  n = 2..10, L = 1, 3, 6) and random ``hqnn`` circuits (every embedding, rotation set,
  entangler and pattern, re-uploading or not, 2-8 qubits, 1-6 layers; seeded);
* batches 1, 8, 32, 128, 256; complex64; one thread; both paths timed in alternating
  rounds in one process (medians);
* the fit: non-negative least squares on relative error, per path, on every other
  circuit; the rest are held out. It prints the coefficients, the median model error,
  and on the held-out circuits how often the model (with ``SMALL_MARGIN``) picks the
  slower path and the time of its picks against always picking the faster one. With
  ``--current`` it also scores the constants in ``_small_cost.py`` on the same data.

``--save FILE`` keeps the measurements (JSON) and ``--load FILE`` refits and rescores
them without measuring again; ``--misses`` lists the cases where the fitted model's
pick is more than 10 % slower than the other path.

Run: ``python benchmarks/path_cost.py [--hqnn 24] [--rounds 5] [--current] [--save FILE
| --load FILE] [--misses]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import dataclasses
import json
import statistics
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import nnls

from quarch.quantum import AngleEmbedding, Circuit, EntanglingLayer, QuantumLayer, RotationLayer
from quarch.quantum._small_cost import (
    ENGINE_COEF,
    SMALL_COEF,
    SMALL_MARGIN,
    SMALL_MAX_QUBITS,
    PlanFeatures,
)
from quarch.spaces.hqnn.model import build_circuit, observables_of
from quarch.spaces.hqnn.space import hqnn_space

BATCHES = (1, 8, 32, 128, 256)


@dataclass
class Case:
    name: str
    features: PlanFeatures
    rows: int
    small_ms: float
    engine_ms: float


def layer_circuit(n: int, layers: int) -> Circuit:
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
    for _ in range(layers):
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
    return c


def circuits(n_hqnn: int) -> list[tuple[str, Circuit, Any]]:
    out: list[tuple[str, Circuit, Any]] = []
    for n in range(2, SMALL_MAX_QUBITS + 1):
        for layers in (1, 3, 6):
            out.append((f"layer n={n} L={layers}", layer_circuit(n, layers), None))
    space = hqnn_space(max_qubits=8)
    rng = np.random.default_rng(0)
    for i in range(n_hqnn):
        arch = space.sample(rng)
        name = f"hqnn{i} n={arch['qubits']} {arch['embedding']} reupload={arch['reupload']}"
        out.append((name, build_circuit(arch), observables_of(arch)))
    return out


def step(layer: QuantumLayer, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    layer.zero_grad()
    x.grad = None
    layer(x).sum().backward()
    return (time.perf_counter() - t0) * 1e3


def measure(name: str, circuit: Circuit, obs: Any, rounds: int) -> list[Case]:
    gen = torch.Generator().manual_seed(0)
    small = QuantumLayer(circuit, obs, path="small", generator=gen)
    engine = QuantumLayer(circuit, obs, path="engine", generator=gen)
    auto = QuantumLayer(circuit, obs)
    feats = auto.plan.path_features(True, False, torch.device("cpu"))
    cases = []
    for rows in BATCHES:
        x = torch.rand(rows, circuit.n_inputs, requires_grad=True)
        for layer in (small, engine):
            step(layer, x), step(layer, x)
        t: dict[str, list[float]] = {"s": [], "e": []}
        for _ in range(rounds):
            t["s"].append(step(small, x))
            t["e"].append(step(engine, x))
        cases.append(Case(name, feats, rows, statistics.median(t["s"]), statistics.median(t["e"])))
    return cases


def small_row(f: PlanFeatures, rows: int) -> list[float]:
    n = f.n_qubits
    work = rows * 2**n * (n * (f.small_kron_layers + 1) + f.small_instructions) / 1e6
    return [1.0, f.small_instructions, work]


def engine_row(f: PlanFeatures, rows: int) -> list[float]:
    work = rows * 2**f.n_qubits * (6 * f.engine_blocks + 4 * f.engine_gathers + 6) / 1e6
    return [1.0, f.engine_blocks + f.engine_gathers, work, f.per_sample_gates * rows / 1e3,
            f.engine_factors]  # fmt: skip


def fit(rows: list[list[float]], y: np.ndarray) -> np.ndarray:
    a = np.asarray(rows) / y[:, None]
    coef, _ = nnls(a, np.ones(len(y)))
    return coef


def score(
    label: str, cases: list[Case], cs: np.ndarray, ce: np.ndarray, misses: bool = False
) -> None:
    wrong, chosen, best = 0, 0.0, 0.0
    err_s, err_e = [], []
    for c in cases:
        ps = float(np.dot(small_row(c.features, c.rows), cs))
        pe = float(np.dot(engine_row(c.features, c.rows)[: len(ce)], ce))
        err_s.append(abs(ps - c.small_ms) / c.small_ms)
        err_e.append(abs(pe - c.engine_ms) / c.engine_ms)
        pick_small = c.features.n_qubits <= SMALL_MAX_QUBITS and ps <= SMALL_MARGIN * pe
        took = c.small_ms if pick_small else c.engine_ms
        chosen += took
        best += min(c.small_ms, c.engine_ms)
        miss = took > min(c.small_ms, c.engine_ms) * 1.1  # more than 10 % slower
        wrong += miss
        if miss and misses:
            pick = "small" if pick_small else "engine"
            print(f"  miss: {c.name} rows {c.rows}: picked {pick}, small {c.small_ms:.3f} ms "
                  f"(model {ps:.3f}), engine {c.engine_ms:.3f} ms (model {pe:.3f})")  # fmt: skip
    print(f"{label}: median model error small {np.median(err_s):.1%}, engine "
          f"{np.median(err_e):.1%}; picks >10 % slower than the other path: {wrong} of "
          f"{len(cases)}; time of the picks / always the faster path: {chosen / best:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hqnn", type=int, default=24, help="random hqnn circuits")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--current", action="store_true", help="also score the shipped constants")
    parser.add_argument("--save", help="write the measurements to this JSON file")
    parser.add_argument("--load", help="fit measurements saved by --save (no timing)")
    parser.add_argument("--misses", action="store_true", help="list the fitted model's misses")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases: list[Case] = []
    if args.load:
        with open(args.load) as f:
            saved = json.load(f)
        for c in saved["cases"]:
            c["features"] = PlanFeatures(**c["features"])
            cases.append(Case(**c))
        print(f"{len(cases)} cases from {args.load} (load average then: {saved['load']})")
    else:
        start = os.getloadavg()
        print(f"load average at the start: {start}")
        for i, (name, circuit, obs) in enumerate(circuits(args.hqnn)):
            got = measure(name, circuit, obs, args.rounds)
            cases += got
            ratios = " ".join(f"{c.rows}:{c.small_ms / c.engine_ms:.2f}" for c in got)
            print(f"{i:>3} {name:<44} small/engine {ratios}", flush=True)
        if args.save:
            load = [start, os.getloadavg()]
            with open(args.save, "w") as f:
                json.dump({"load": load, "cases": [dataclasses.asdict(c) for c in cases]}, f)
    train = [c for i, c in enumerate(cases) if (i // len(BATCHES)) % 2 == 0]
    held = [c for i, c in enumerate(cases) if (i // len(BATCHES)) % 2 == 1]
    cs = fit([small_row(c.features, c.rows) for c in train], np.array([c.small_ms for c in train]))
    ce = fit(
        [engine_row(c.features, c.rows) for c in train], np.array([c.engine_ms for c in train])
    )
    print(f"SMALL_COEF = {tuple(round(float(v), 4) for v in cs)}")
    print(f"ENGINE_COEF = {tuple(round(float(v), 4) for v in ce)}")
    score("fit, on the held-out circuits", held, cs, ce, args.misses)
    score("fit, on all circuits", cases, cs, ce)
    if args.current:
        score("shipped constants, held-out", held, np.array(SMALL_COEF), np.array(ENGINE_COEF))
        score("shipped constants, all", cases, np.array(SMALL_COEF), np.array(ENGINE_COEF))
    if not args.load:
        print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
