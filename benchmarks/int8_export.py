"""Int8 export of a run's best architecture: accuracy and latency before and after.

Exports the best trial of a ``cnn`` run (lowest first objective on the Pareto set, or
``--trial N``) to ONNX and to ONNX Runtime static int8, and prints the test accuracy
of both files, their batch-1 median latency on this CPU (one thread), and their
throughput on batches of ``--batch`` images (where int8 kernels have work to amortise).
The int8 file is what ``quarch export --format onnx-int8`` writes: squeeze-excite gates
folded into their convolutions and a one-channel stem kept in float (see
``quarch.cost.onnx.quantize_int8``).

    python benchmarks/int8_export.py RUN [--trial N] [--repeats 500] [--batch 64,256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from quarch.cost.onnx import ort_session
from quarch.finalize import export_trial
from quarch.study import Run


def interleaved_ms(
    paths: list[Path], shape: tuple[int, ...], batch: int, rounds: int = 20
) -> list[float]:
    """Median milliseconds per run of each model, timed in alternating rounds.

    Timing one file after the other let machine drift decide the ratio (the same two
    files measured 1.08x one way and 0.91x the other); alternating rounds (about 320
    images per file each), and the median over rounds, expose both files to the same
    conditions.
    """
    sessions = [ort_session(str(p)) for p in paths]
    feed = np.random.default_rng(0).random((batch, *shape), dtype=np.float32)
    runs = max(5, 6400 // (batch * rounds))
    per_round: list[list[float]] = [[] for _ in paths]
    for _ in range(rounds):
        for sess, out in zip(sessions, per_round, strict=True):
            name = sess.get_inputs()[0].name
            for _ in range(3):
                sess.run(None, {name: feed})
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                sess.run(None, {name: feed})
                times.append(time.perf_counter() - t0)
            out.append(statistics.median(times))
    return [1000 * statistics.median(r) for r in per_round]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--trial", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=500)
    ap.add_argument("--out", default=None)
    ap.add_argument("--batch", default="64,256", help="batches for the throughput figures")
    args = ap.parse_args()
    run = Run.open(args.run)
    res = run.result()
    if args.trial is None:
        best = res.best
        if best is None:
            raise SystemExit(f"no feasible complete trial in {args.run}")
        trial = best.number
    else:
        trial = args.trial
    out = Path(args.out or Path(args.run) / "export")
    int8 = export_trial(args.run, trial, "onnx-int8", out / f"trial_{trial}_int8.onnx",
                        repeats=args.repeats)  # fmt: skip
    fp32_file = out / f"trial_{trial}.onnx"
    export_trial(args.run, trial, "onnx", fp32_file)
    r = int8.checks
    arch = run.trial(trial, result=res).params
    shape = tuple(run.evaluator(standalone=True).data.input_shape)  # type: ignore[attr-defined]
    batches = [1, *(int(b) for b in args.batch.split(",") if b)]
    files = [fp32_file, int8.path]
    per_image = {b: [ms / b for ms in interleaved_ms(files, shape, b)] for b in batches}
    loss = r["fp32_test_accuracy"] - r["int8_test_accuracy"]
    speed = r["fp32_latency_ms"] / r["int8_latency_ms"]
    print(json.dumps(r, indent=1))
    print(f"trial={trial} bits={arch['bits']} weights={r['weights']}")
    print(
        f"fp32_acc={r['fp32_test_accuracy']:.2f}% int8_acc={r['int8_test_accuracy']:.2f}% "
        f"loss_points={loss:.2f} fp32_ms={r['fp32_latency_ms']:.4f} "
        f"int8_ms={r['int8_latency_ms']:.4f} speedup={speed:.2f}x"
    )
    print("interleaved (alternating rounds, median):")
    for b, (f, i) in per_image.items():
        print(f"batch {b}: fp32 {f:.4f} ms/image, int8 {i:.4f} ms/image, speedup={f / i:.2f}x")


if __name__ == "__main__":
    main()
