"""Where the small path's dense variant pays: it against the general method, per cell.

The dense variant (``quantum/_small_dense.py``) trades torch calls for arithmetic: it
builds ``1 + angles`` copies of the circuit's shared matrix (one per derivative) and
``n + 1`` product states per row. This script times one forward+backward of the
simulator benchmark's layer (``simulator.py``: RY embedding, L x (RY, RZ, CNOT ring),
``<Z>``) with the variant and without it (the same plan with ``rt.dense = False``:
the general method), in alternating rounds in one process, for n = 1..4, L = 1, 2, 4,
6 and batches 8 to 1024, and prints per cell the medians, their ratio and the
variant's extra work per call (:attr:`DenseTables.work`), then the largest work at which it
won and the smallest at which it lost; :data:`~quarch.quantum._small_dense.DENSE_WORK`
(with its per-row part) and ``DENSE_ROWS`` are set from the cells.

Run: ``python benchmarks/dense_variant.py [--budget 1]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simulator as sim  # the layer and the alternating timer

from quarch.quantum import QuantumLayer, _small_dense
from quarch.quantum._small_dense import DenseTables


def _step(n: int, layers: int, batch: int, dense: bool) -> tuple[sim.Step, DenseTables | None]:
    """A forward+backward of the layer on the small path; ``dense=False`` marks the
    plan's run time as not having the variant before its first call."""
    layer = QuantumLayer(
        sim.build(n, layers), generator=torch.Generator().manual_seed(0), path="small"
    )
    x = torch.rand(batch, n, requires_grad=True)
    layer(x)  # makes the run time
    rt = next(iter(layer.plan._small.values()))
    tab = rt.dense if isinstance(rt.dense, DenseTables) else None
    if not dense:
        rt.dense = False
        rt.replays.entries.clear()

    def step() -> None:
        layer.zero_grad()
        x.grad = None
        layer(x).sum().backward()

    return step, tab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per cell")
    args = parser.parse_args()
    torch.set_num_threads(1)
    # the variant wherever a program qualifies, to see where it should not be taken
    _small_dense.DENSE_WORK, _small_dense.DENSE_ROWS = float("inf"), 1  # (per row: moot)
    print(f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()}")
    print(f"{'n':>2} {'L':>2} {'batch':>5} {'work':>9} {'dense':>8} {'general':>8} {'ratio':>6}")
    won: list[int] = []
    lost: list[int] = []
    for n in (1, 2, 3, 4):
        for layers in (1, 2, 4, 6):
            for batch in (8, 16, 32, 64, 256, 1024):
                on, tab = _step(n, layers, batch, True)
                off, _ = _step(n, layers, batch, False)
                if tab is None:
                    print(f"{n:>2} {layers:>2} {batch:>5}  (program does not qualify)")
                    continue
                t = sim.rounds_of({"on": on, "off": off}, args.budget)
                a, b = statistics.median(t["on"]) * 1e3, statistics.median(t["off"]) * 1e3
                ratio = statistics.median(x / y for x, y in zip(t["on"], t["off"], strict=True))
                work = tab.work
                (won if ratio < 1 else lost).append(work)
                print(
                    f"{n:>2} {layers:>2} {batch:>5} {work:>9} {a:>8.3f} {b:>8.3f} {ratio:>6.3f}",
                    flush=True,
                )
    print(f"largest work where the variant won: {max(won, default=0)}")
    print(f"smallest work where it lost: {min(lost, default=0)}")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
