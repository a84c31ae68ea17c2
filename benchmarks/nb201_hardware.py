"""Hardware-aware NAS-Bench-201: each strategy's best feasible pick under a latency budget.

The search sees the 12-epoch validation error and the raspi4 latency; a trial over the
budget is infeasible, and a run's pick is its best feasible trial. The budget defaults
to the median raspi4 latency over the 15625 cells, so half of the space is feasible.
The table reports the 200-epoch test accuracy of the picks and the regret to the best
feasible cell. Usage::

    python benchmarks/nb201_hardware.py --data-dir ../shared/data [--device raspi4]
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from rich.console import Console

from quarch.benchmark import run_benchmark
from quarch.spaces.nb201.evaluator import load_nb201

STRATEGIES = ["qiea", "qpso", "evolution", "reinforce", "local", "random", "tpe", "nsga2"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--device", default="raspi4")
    p.add_argument("--limit", type=float, default=None, help="ms; default: the median")
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default="runs")
    a = p.parse_args()
    table = load_nb201(a.dataset, a.data_dir)
    limit = a.limit if a.limit is not None else float(np.median(table.latency[a.device]))
    budget = f"{a.device}<={limit:.4f}"
    r = run_benchmark(
        task=f"nb201-{a.dataset}",
        strategies=STRATEGIES,
        seeds=a.seeds,
        trials=a.trials,
        data_dir=a.data_dir,
        budgets=[budget],
        out=f"{a.out}/benchmark-nb201-{a.dataset}-{a.device}",
        progress=False,
        workers=a.workers,
    )
    Console(width=120).print(r.table())
    print(f"budget {budget} ms (median); wall time {r.wall_seconds:.1f} s")
    print(json.dumps(r.to_json()))


if __name__ == "__main__":
    main()
