"""The quantum-algorithmic strategies beside the population strategies and the classical
baselines on NAS-Bench-201 (issue 6, acceptance 2).

Runs :func:`quarch.benchmark.run_benchmark` (what ``quarch benchmark`` runs) for each
task and prints its table, the wall time, and whether the best quantum strategy beat
``evolution`` and ``tpe`` at the last query with a mean of at least ``--goal``.
Also times one proposal step of each quantum strategy (mean seconds per trial).

Run::

    python benchmarks/quantum_strategies.py --data-dir ../shared/data \
        [--tasks nb201-cifar10,nb201-cifar100] [--seeds 30] [--trials 100] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import time

QUANTUM = ["qubo-sa", "qubo-sqa", "qaoa", "vqe", "born", "grover"]
DEFAULT = [*QUANTUM, "qiea", "evolution", "tpe", "random"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--tasks", default="nb201-cifar10,nb201-cifar100")
    ap.add_argument("--strategies", default=",".join(DEFAULT))
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--goal", type=float, default=94.0, help="mean to reach (CIFAR-10)")
    ap.add_argument("--out", default=None, help="folder for the results (default runs/)")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    import numpy as np
    from rich.console import Console

    from quarch.benchmark import run_benchmark

    console = Console(width=140)
    names = args.strategies.split(",")
    print(f"cores: {os.cpu_count()}  workers: {args.workers}  seeds: {args.seeds}  "
          f"trials: {args.trials}")  # fmt: skip
    for task in args.tasks.split(","):
        t0 = time.perf_counter()
        out = None if args.out is None else os.path.join(args.out, task)
        res = run_benchmark(
            task=task,
            strategies=names,
            seeds=args.seeds,
            trials=args.trials,
            data_dir=args.data_dir,
            workers=args.workers,
            out=out,
            progress=False,
        )
        wall = time.perf_counter() - t0
        console.print(res.table())
        print(f"{task}: wall {wall:.0f} s ({wall / 60:.1f} min)")
        means = {s: res.summary(s)["mean"] for s in names}
        quantum = {s: m for s, m in means.items() if s in QUANTUM and m is not None}
        if quantum:
            best = max(quantum, key=lambda s: quantum[s])
            rivals = {s: means[s] for s in ("evolution", "tpe") if means.get(s) is not None}
            beats = all(quantum[best] > v for v in rivals.values())
            print(
                f"best quantum strategy: {best} {quantum[best]:.3f}; "
                + ", ".join(f"{s} {v:.3f}" for s, v in rivals.items())
                + f"; beats them: {beats}"
                + (
                    f"; mean >= {args.goal}: {quantum[best] >= args.goal}"
                    if task.endswith("cifar10")
                    else ""
                )
            )
        per_trial = {
            s: float(np.mean([r["seconds"] for r in res.rows if r["strategy"] == s])) / args.trials
            for s in names
        }
        print(
            "mean seconds per trial (sampler + lookup): "
            + ", ".join(f"{s} {v * 1e3:.1f} ms" for s, v in per_trial.items())
        )


if __name__ == "__main__":
    main()
