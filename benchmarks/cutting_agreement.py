"""Built-in cut estimator vs qiskit-addon-cutting's ``find_cuts`` on hqnn circuits.

Samples circuits from the ``hqnn`` space that are wider than the qubit budget, counts
subcircuits and sampling overhead both ways, and prints how often they agree.

    python benchmarks/cutting_agreement.py [--circuits 60] [--seed 0]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from typing import Any

import numpy as np

from quarch.cost.cutting import CutEstimate, estimate_cuts, find_cuts_qiskit
from quarch.spaces.hqnn.model import build_circuit
from quarch.spaces.hqnn.space import hqnn_space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--circuits", type=int, default=60)
    p.add_argument("--max-qubits", type=int, default=6)
    p.add_argument("--max-layers", type=int, default=2)
    p.add_argument("--max-backjumps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    space = hqnn_space(min_qubits=3, max_qubits=a.max_qubits, max_layers=a.max_layers)
    rng = np.random.default_rng(a.seed)
    rows: list[tuple[dict[str, Any], int, CutEstimate, CutEstimate]] = []
    t_b = t_q = 0.0
    while len(rows) < a.circuits:
        arch = space.sample(rng)
        n = arch["qubits"]
        budget = int(rng.integers(2, n))  # 2 .. n-1: the circuit never fits
        c = build_circuit(arch)
        t = time.perf_counter()
        b = estimate_cuts(c, budget)
        t_b += time.perf_counter() - t
        t = time.perf_counter()
        try:
            q = find_cuts_qiskit(c, budget, seed=a.seed, max_backjumps=a.max_backjumps)
        except ValueError as e:  # no cut found under max_gamma
            print(f"skip {arch['embedding']} n={n} budget={budget}: {e}")
            continue
        t_q += time.perf_counter() - t
        rows.append((arch, budget, b, q))
        same = "=" if b.subcircuits == q.subcircuits else "!"
        print(
            f"{len(rows):3d} {arch['embedding']:9s} n={n} L={arch['layers']} "
            f"budget={budget} sub {b.subcircuits}{same}{q.subcircuits} "
            f"log10(overhead) builtin={b.log10_overhead:7.2f} qiskit={q.log10_overhead:7.2f} "
            f"(gate cuts {b.gate_cuts}/{q.gate_cuts}, wire cuts -/{q.wire_cuts})",
            flush=True,
        )
    n = len(rows)
    sub = sum(b.subcircuits == q.subcircuits for _, _, b, q in rows)
    tol = 1e-9
    eq = sum(abs(b.log10_overhead - q.log10_overhead) < tol for _, _, b, q in rows)
    lower = sum(b.log10_overhead < q.log10_overhead - tol for _, _, b, q in rows)
    higher = sum(b.log10_overhead > q.log10_overhead + tol for _, _, b, q in rows)
    diff = [b.log10_overhead - q.log10_overhead for _, _, b, q in rows]
    within = sum(abs(d) <= math.log10(9) + tol for d in diff)
    print(
        f"\ncircuits: {n} (hqnn, qubits 3-{a.max_qubits}, layers 1-{a.max_layers}, budget 2..n-1)"
    )
    print(f"subcircuit count agrees:        {sub}/{n} ({100 * sub / n:.0f}%)")
    print(f"overhead equal:                 {eq}/{n} ({100 * eq / n:.0f}%)")
    print(f"overhead within one gate cut:   {within}/{n} ({100 * within / n:.0f}%)")
    print(f"builtin lower / higher:         {lower} / {higher}")
    print(f"median log10 ratio (builtin/qiskit): {np.median(diff):.2f}")
    print(f"time: builtin {1000 * t_b / n:.2f} ms/circuit, find_cuts {t_q / n:.2f} s/circuit")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
