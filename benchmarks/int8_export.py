"""Int8 export of a run's best architecture: accuracy and latency before and after.

Exports the best trial of a ``cnn`` run (lowest first objective on the Pareto set, or
``--trial N``) to ONNX and to ONNX Runtime static int8, and prints the test accuracy
of both files, their batch-1 median latency on this CPU (one thread), and their
throughput on batches of ``--batch`` images (where int8 kernels have work to amortise).

    python benchmarks/int8_export.py RUN [--trial N] [--repeats 500] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from quarch.evaluate.edge import export_trial
from quarch.models.onnx_export import measure_latency_ms
from quarch.study import load_result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--trial", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=500)
    ap.add_argument("--out", default=None)
    ap.add_argument("--batch", type=int, default=64, help="batch for the throughput figure")
    args = ap.parse_args()
    res = load_result(args.run)
    if args.trial is None:
        best = res.best
        if best is None:
            raise SystemExit(f"no feasible complete trial in {args.run}")
        trial = best.number
    else:
        trial = args.trial
    out = Path(args.out or Path(args.run) / "export")
    r = export_trial(args.run, trial, out / f"trial_{trial}_int8.onnx", int8=True,
                     repeats=args.repeats)  # fmt: skip
    fp32_file = out / f"trial_{trial}.onnx"
    export_trial(args.run, trial, fp32_file, repeats=10)
    shape = tuple(r["input_shape"])
    per_image = {
        kind: measure_latency_ms(str(path), shape, batch=args.batch, repeats=50) / args.batch
        for kind, path in (("fp32", fp32_file), ("int8", Path(r["out"])))
    }
    loss = 100 * (r["fp32_accuracy"] - r["int8_accuracy"])
    speed = r["fp32_latency_ms"] / r["int8_latency_ms"]
    print(json.dumps({k: v for k, v in r.items() if k != "arch"}, indent=1))
    print(f"trial={trial} bits={r['arch']['bits']} weights={r['weights']}")
    print(
        f"fp32_acc={r['fp32_accuracy']:.4f} int8_acc={r['int8_accuracy']:.4f} "
        f"loss_points={loss:.2f} fp32_ms={r['fp32_latency_ms']:.4f} "
        f"int8_ms={r['int8_latency_ms']:.4f} speedup={speed:.2f}x"
    )
    print(
        f"batch {args.batch}: fp32 {per_image['fp32']:.4f} ms/image, int8 "
        f"{per_image['int8']:.4f} ms/image, speedup={per_image['fp32'] / per_image['int8']:.2f}x"
    )


if __name__ == "__main__":
    main()
