"""Trials per minute with 1 and 2 local workers, and with Ray, on the same workload.

Workload: ``mlp`` space on ``digits``, real short training (``--epochs``), random
strategy, the same seed and budget in each mode. Prints a table and the 2-worker /
1-worker ratio. Run: ``python benchmarks/scaling.py [--trials 24] [--epochs 100]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from quarch.config import SearchConfig
from quarch.study import run_search


def _measure(out: Path, trials: int, epochs: int, **kw: object) -> tuple[float, int]:
    cfg = SearchConfig(
        space="mlp", dataset="digits", strategy="random", trials=trials, epochs=epochs,
        seed=0, out=str(out), **kw,  # type: ignore[arg-type]
    )  # fmt: skip
    t0 = time.perf_counter()
    res = run_search(cfg, progress=False)
    return time.perf_counter() - t0, len(res.complete)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}  trials: {args.trials}  epochs: {args.epochs}")
    modes: list[tuple[str, dict[str, object]]] = [("1 worker", {"workers": 1}),
                                                   ("2 workers", {"workers": 2})]  # fmt: skip
    try:
        import ray  # noqa: F401

        if not args.no_ray:
            modes.append(("ray (local)", {"ray": True}))
    except ImportError:
        print("ray: not installed (pip install 'quarch[ray]')")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, kw) in enumerate(modes):
            secs, done = _measure(Path(tmp) / f"m{i}", args.trials, args.epochs, **kw)
            rates[name] = done / secs * 60
            print(f"{name:>12}: {done} trials in {secs:7.2f} s = {rates[name]:7.2f} trials/min")
    base = rates["1 worker"]
    for name, r in rates.items():
        print(f"{name:>12}: {r / base:5.2f}x the 1-worker rate")


if __name__ == "__main__":
    main()
