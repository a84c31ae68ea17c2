"""NAS-Bench-201 benchmark of every strategy (issue 4's acceptance run).

Runs ``quarch.benchmark.run_benchmark`` on nb201-cifar10 and nb201-cifar100 (30 seeds x
100 queries by default) and prints each table, the JSON summary and the wall time.
The search sees only the 12-epoch validation accuracy; the tables report the 200-epoch
test accuracy of each run's pick. Usage::

    python benchmarks/nb201.py --data-dir ../shared/data [--seeds 30] [--trials 100]
"""

from __future__ import annotations

import argparse
import json
import time

from rich.console import Console

from quarch.benchmark import run_benchmark

STRATEGIES = ["qiea", "qpso", "evolution", "reinforce", "local", "random", "tpe"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--strategies", default=",".join(STRATEGIES))
    p.add_argument("--tasks", default="nb201-cifar10,nb201-cifar100")
    p.add_argument("--out", default="runs")
    a = p.parse_args()
    console = Console(width=120)
    t0 = time.perf_counter()
    for task in a.tasks.split(","):
        r = run_benchmark(
            task=task,
            strategies=a.strategies.split(","),
            seeds=a.seeds,
            trials=a.trials,
            data_dir=a.data_dir,
            out=f"{a.out}/benchmark-{task}",
            progress=False,
            workers=a.workers,
        )
        console.print(r.table())
        console.print(f"wall time {r.wall_seconds:.1f} s; files in {r.out}")
        print(json.dumps(r.to_json()))
    print(f"total wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
