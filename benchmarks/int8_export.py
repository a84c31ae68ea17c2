"""Int8 export of a run's best architecture: accuracy and latency before and after.

Exports the best trial of a ``cnn`` run (lowest first objective on the Pareto set, or
``--trial N``) to ONNX and to ONNX Runtime static int8, and prints the test accuracy
of both files, their batch-1 median latency on this CPU (one thread), and their
throughput on batches of ``--batch`` images (where int8 kernels have work to amortise).
The int8 file is what ``quarch export --format onnx-int8`` writes: squeeze-excite gates
folded into their convolutions and a one-channel stem kept in float (see
``quarch.cost.onnx.quantize_int8``).

It also prints the bits of the int8 file's weights: 7 where this CPU's fused int8
kernels do not compute the 8-bit model (x86 with AVX2 but no VNNI), which the export
checks on its calibration images. A folder that is not a run, a trial it does not have,
a run with no feasible trial or a count below 1 is refused in one line (exit status 2).

    python benchmarks/int8_export.py RUN [--trial N] [--repeats 500] [--batch 64,256]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from quarch import QuarchError, RunError
from quarch.cost.onnx import ort_session, weight_bits
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


def _count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (a batch of 0 divided by zero)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1; got {n}")
    return n


def _batches(text: str) -> list[int]:
    """An argparse type: comma-separated batch sizes, each at least 1."""
    return [_count(b) for b in text.split(",") if b.strip()]


def _trial(run: Run, res: Any, asked: int | None) -> int:
    """The trial to export: ``asked``, or the best feasible one (a user's mistake when
    there is none: every trial broke a budget)."""
    if asked is not None:
        return asked
    if res.best is None:
        raise RunError(f"no feasible complete trial in {run.dir}; name one with --trial N")
    return int(res.best.number)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--trial", type=int, default=None)
    ap.add_argument("--repeats", type=_count, default=500)
    ap.add_argument("--out", default=None)
    ap.add_argument(
        "--batch", type=_batches, default=[64, 256], help="batches for the throughput figures"
    )
    args = ap.parse_args()
    try:
        measure(args)
    except QuarchError as e:  # the CLI's convention: one line, exit status 2
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


def measure(args: argparse.Namespace) -> None:
    """Export, score and time the chosen trial; print the figures."""
    run = Run.open(args.run)
    res = run.result()
    trial = _trial(run, res, args.trial)
    out = Path(args.out or Path(args.run) / "export")
    int8 = export_trial(args.run, trial, "onnx-int8", out / f"trial_{trial}_int8.onnx",
                        repeats=args.repeats)  # fmt: skip
    fp32_file = out / f"trial_{trial}.onnx"
    export_trial(args.run, trial, "onnx", fp32_file)
    r = int8.checks
    arch = run.trial(trial, result=res).params
    shape = tuple(run.evaluator(standalone=True).data.input_shape)  # type: ignore[attr-defined]
    batches = [1, *args.batch]
    files = [fp32_file, int8.path]
    per_image = {b: [ms / b for ms in interleaved_ms(files, shape, b)] for b in batches}
    loss = r["fp32_test_accuracy"] - r["int8_test_accuracy"]
    speed = r["fp32_latency_ms"] / r["int8_latency_ms"]
    bits = weight_bits(int8.path.read_bytes())
    print(json.dumps(r, indent=1))
    print(f"trial={trial} bits={arch.get('bits')} weights={r['weights']} int8_weight_bits={bits}")
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
