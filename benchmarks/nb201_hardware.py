"""NAS-Bench-201 under a latency budget on each of the six devices (issue 18,
acceptance 3): the budget is the device's 25th-percentile latency over the 15625 cells.

The latency needs no training, so an architecture over the budget is skipped without
spending a query (every strategy runs under that rule; the QUBO strategies and the
surrogate-guided QIEA/QPSO also know the latency table and never propose such a cell).
Each table reports the 200-epoch test accuracy of the picks and their gap to the oracle
pick (the feasible cell with the best 12-epoch validation accuracy); the summary puts
the best quantum strategy beside the oracle, TPE and evolution. Held out: nothing was
tuned on these tasks. Usage::

    python benchmarks/nb201_hardware.py --data-dir ../shared/data [--dataset cifar10]
"""

from __future__ import annotations

import argparse
import time

from _nb201_common import CLASSICAL, INSPIRED, QUANTUM, best_of, run_task

DEVICES = ["raspi4", "pixel3", "eyeriss", "fpga", "gold_6226", "1080ti_1"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--devices", default=",".join(DEVICES))
    p.add_argument("--seeds", type=int, default=30)
    p.add_argument("--first-seed", type=int, default=0)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--strategies", default=",".join(QUANTUM + INSPIRED + CLASSICAL))
    p.add_argument("--out", default="runs")
    a = p.parse_args()
    names = a.strategies.split(",")
    t0 = time.perf_counter()
    lines = []
    for dev in a.devices.split(","):
        r = run_task(f"nb201-{a.dataset}-{dev}", names, a)
        best = best_of(r, [s for s in names if s in QUANTUM])
        if best is None or r.oracle is None:
            continue
        s, mean = best
        rivals = {k: r.summary(k)["mean"] for k in ("tpe", "evolution") if k in names}
        above = all(mean > v for v in rivals.values())
        within = r.oracle - mean <= 0.3
        lines.append(
            f"{dev:10s} {r.budgets[0]:28s} oracle {r.oracle:.3f}  best quantum {s} {mean:.3f} "
            f"(oracle - mean {r.oracle - mean:+.3f}, within 0.3: {within})  "
            + "  ".join(f"{k} {v:.3f}" for k, v in rivals.items())
            + f"  above both: {above}"
        )
    print("\n".join(lines))
    print(f"total wall time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
