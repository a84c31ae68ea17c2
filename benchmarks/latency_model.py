"""Measured vs modelled latency: ONNX Runtime on this CPU against the analytic model.

For ``--archs`` random architectures of the ``cnn`` space (28x28 inputs, 10 classes),
prints the median batch-1 ONNX Runtime latency (one thread; int8 architectures timed
as their ONNX Runtime int8 model) next to the ``local-cpu`` profile's analytic latency,
and their Spearman and Kendall rank correlations. ``--fit`` also fits the profile's
five constants to the measurements (least squares on log latency) and prints them;
the ``local-cpu`` profile's constants came from such a fit.

    python benchmarks/latency_model.py [--archs 30] [--seed 0] [--fit]
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch
from scipy import optimize, stats

from quarch.cost.devices import get_device
from quarch.cost.onnx import measure_latency_ms, quantize_int8, to_onnx
from quarch.spaces.cnn.costs import model_latency_ms
from quarch.spaces.cnn.model import EdgeCNN, cnn_plan, layer_table
from quarch.spaces.cnn.space import cnn_space

SHAPE = (1, 28, 28)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--fit", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    space = cnn_space()
    rng = np.random.default_rng(args.seed)
    calib = rng.random((64, *SHAPE), dtype=np.float32)
    dev = get_device("local-cpu")
    rows = []
    t0 = time.perf_counter()
    print(f"{'#':>3} {'bits':>4} {'MACs':>9} {'measured_ms':>11} {'model_ms':>9}")
    for i in range(args.archs):
        arch = space.sample(rng)
        model = EdgeCNN(arch, SHAPE, 10).eval()
        blob = to_onnx(model, SHAPE)
        if arch["bits"] == 8:
            blob = quantize_int8(blob, calib)
        measured = measure_latency_ms(blob, SHAPE, repeats=args.repeats)
        table = layer_table(cnn_plan(arch, SHAPE, 10))
        modelled = model_latency_ms(table, arch["bits"], dev)
        macs = sum(r.macs for r in table)
        rows.append((arch["bits"], table, measured, modelled))
        print(f"{i:>3} {arch['bits']:>4} {macs:>9} {measured:>11.4f} {modelled:>9.4f}")
    meas = np.array([r[2] for r in rows])
    mod = np.array([r[3] for r in rows])
    rho = stats.spearmanr(meas, mod).statistic
    tau = stats.kendalltau(meas, mod).statistic
    print(f"archs={len(rows)} spearman={rho:.3f} kendall_tau={tau:.3f} "
          f"mean_abs_rel_err={np.mean(np.abs(mod - meas) / meas):.3f} "
          f"seconds={time.perf_counter() - t0:.1f}")  # fmt: skip
    if args.fit:
        names = ["fp32_macs_per_s", "int8_speedup", "dw_efficiency",
                 "bandwidth_bytes_per_s", "layer_overhead_ms"]  # fmt: skip
        x0 = np.log([getattr(dev, n) for n in names])

        def resid(logx: np.ndarray) -> np.ndarray:
            d = dataclasses.replace(dev, **dict(zip(names, np.exp(logx), strict=True)))
            pred = np.array([model_latency_ms(t, b, d) for b, t, _, _ in rows])
            return np.log(pred) - np.log(meas)

        sol = optimize.least_squares(resid, x0)
        fitted = dict(zip(names, np.exp(sol.x), strict=True))
        d = dataclasses.replace(dev, **fitted)
        pred = np.array([model_latency_ms(t, b, d) for b, t, _, _ in rows])
        print("fitted:", {k: float(f"{v:.4g}") for k, v in fitted.items()})
        print(f"fitted spearman={stats.spearmanr(meas, pred).statistic:.3f} "
              f"kendall_tau={stats.kendalltau(meas, pred).statistic:.3f} "
              f"mean_abs_rel_err={np.mean(np.abs(pred - meas) / meas):.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
