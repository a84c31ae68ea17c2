"""Trials per minute with 1 and 2 local workers, and with Ray, on the same workload.

Workload: ``mlp`` space on ``digits``, real short training (``--epochs``), random
strategy, the same seed and budget in each mode. Prints a table and each mode's ratio
to the 1-worker rate. Run: ``python benchmarks/scaling.py [--trials 48] [--epochs 100]``.

The single process is measured twice, with torch's default thread count (all cores)
and with one thread, and the ratio is taken against the *faster* of the two: small
networks often run slower on two threads than on one, and comparing 2 workers with a
badly threaded single process would overstate the speed-up.

Beside the search figures it prints the machine's own ceiling: the same small torch
training loop run in one process and then in two at once (one thread each). On a
shared virtual machine two busy processes rarely get 2x, and a search cannot scale
better than that peer; the ratio of the two is the workers' parallel efficiency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import torch

from quarch.config import SearchConfig
from quarch.study import run_search


def _peer(queue: multiprocessing.Queue, seconds: float) -> None:
    """Optimiser steps per second of a tiny MLP on one thread (the ceiling's workload)."""
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(model.parameters())
    x, y = torch.randn(1024, 64, generator=gen), torch.randint(0, 10, (1024,), generator=gen)
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for i in range(0, 1024, 32):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[i : i + 32]), y[i : i + 32]).backward()
            opt.step()
            steps += 1
    queue.put(steps / (time.perf_counter() - t0))


def machine_ceiling(seconds: float = 8.0) -> float:
    """Throughput of 2 concurrent single-thread processes / that of 1 (ideal: 2.0)."""
    ctx = multiprocessing.get_context("spawn")
    totals = []
    for k in (1, 2):
        queue = ctx.Queue()
        procs = [ctx.Process(target=_peer, args=(queue, seconds)) for _ in range(k)]
        for p in procs:
            p.start()
        totals.append(sum(queue.get() for _ in procs))
        for p in procs:
            p.join()
    return totals[1] / totals[0]


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
    ap.add_argument("--trials", type=int, default=48)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--no-ray", action="store_true")
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}  trials: {args.trials}  epochs: {args.epochs}")
    default_threads = torch.get_num_threads()
    modes: list[tuple[str, dict[str, object]]] = [
        (f"1 worker, {default_threads} thr", {"workers": 1}),
        ("1 worker, 1 thr", {"workers": 1, "_threads": 1}),
        ("2 workers", {"workers": 2}),
    ]
    try:
        import ray  # noqa: F401

        if not args.no_ray:
            modes.append(("ray (local)", {"ray": True}))
    except ImportError:
        print("ray: not installed (pip install 'quarch[ray]')")
    rates: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, kw) in enumerate(modes):
            kw = dict(kw)
            threads = int(kw.pop("_threads", default_threads))  # type: ignore[call-overload]
            torch.set_num_threads(threads)
            try:
                secs, done = _measure(Path(tmp) / f"m{i}", args.trials, args.epochs, **kw)
            finally:
                torch.set_num_threads(default_threads)
            rates[name] = done / secs * 60
            print(f"{name:>16}: {done} trials in {secs:7.2f} s = {rates[name]:7.2f} trials/min")
    base = max(rates[name] for name, _ in modes[:2])
    print(f"ratios against the faster single process ({base:.2f} trials/min):")
    for name, r in rates.items():
        print(f"{name:>16}: {r / base:5.2f}x")
    ceiling = machine_ceiling()
    two = rates["2 workers"] / base
    print(
        f"machine ceiling (2 single-thread torch processes / 1): {ceiling:.2f}x; "
        f"2-worker parallel efficiency against it: {100 * two / ceiling:.0f}%"
    )


if __name__ == "__main__":
    main()
