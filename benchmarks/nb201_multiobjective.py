"""Multi-objective NAS-Bench-201: 12-epoch validation error against a device's latency
(issue 18, acceptance 4), judged by the hypervolume of each run's Pareto set in true
(200-epoch test) error and latency, as a fraction of the box from the best test error
and lowest latency to the median test error and the largest latency.

The summary puts the best quantum strategy beside NSGA-II and Optuna's multi-objective
TPE; ``optimum`` is the hypervolume of the true front and the oracle pick that of the
validation front judged on test. Held out: nothing was tuned on these tasks. Usage::

    python benchmarks/nb201_multiobjective.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import time

from _nb201_common import INSPIRED, QUANTUM, best_of, print_versus, run_task

BASELINES = ["nsga2", "tpe", "evolution", "random"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--devices", default="raspi4,1080ti_1")
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--strategies", default=",".join(QUANTUM + INSPIRED + BASELINES))
    p.add_argument("--out", default="runs")
    a = p.parse_args()
    names = a.strategies.split(",")
    t0 = time.perf_counter()
    for dev in a.devices.split(","):
        r = run_task(f"nb201-{a.dataset}-mo-{dev}", names, a)
        best = best_of(r, [s for s in names if s in QUANTUM])
        if best is None:
            continue
        s, mean = best
        rivals = {k: r.summary(k)["mean"] for k in ("nsga2", "tpe") if k in names}
        print(f"{dev}: best quantum {s} hypervolume {mean:.4f}; "
              + ", ".join(f"{k} {v:.4f}" for k, v in rivals.items())
              + f"; at least both: {all(mean >= v for v in rivals.values())}")  # fmt: skip
        print_versus(r, s, list(rivals))
    print(f"total wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
