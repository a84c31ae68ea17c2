"""How much wall time ``--pruner`` saves, and what it costs in final quality.

For each space (``hqnn`` on iris, ``cnn`` on digits) and seed, the same search runs
without a pruner, with ``median`` and with ``hyperband``. The strategy is ``random``
with the run's seed, so all three runs of one seed propose the same architectures in
the same order: pruning only decides how long each is trained, and a difference in
quality can only come from a good architecture stopped early. The three conditions of a
seed run back to back in one process, their order rotated from seed to seed, so machine
load drifts over all of them alike.

Printed per space and condition, over the seeds: wall seconds (mean ± std, and the
median ratio to no pruning), trials pruned, the best validation error found, and the
hypervolume of the complete trials' (val_error, params) front (reference point: error
1, and 1.1 x the largest parameter count any run saw), with the paired difference to
no pruning and a Wilcoxon signed-rank p-value where scipy is installed.

Run: ``python benchmarks/pruning.py [--seeds 5] [--spaces hqnn,cnn]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from quarch.config import SearchConfig
from quarch.objectives import hypervolume
from quarch.study import SearchResult, run_search

CONDITIONS = ("none", "median", "hyperband")

#: (data set, trials, epochs, space options, evaluator options) per space: small enough
#: that 3 conditions x 5 seeds take minutes on 2 cores, large enough to prune.
SETUPS: dict[str, tuple[str, int, int, dict[str, Any], dict[str, Any]]] = {
    "hqnn": ("iris", 24, 30, {"max_qubits": 4, "max_layers": 3}, {"save_weights": False}),
    "cnn": ("digits", 16, 6, {"n_stages": 2, "max_blocks": 2},
            {"latency": "model", "save_weights": False}),
}  # fmt: skip


def _search(space: str, seed: int, pruner: str, root: Path) -> tuple[float, SearchResult]:
    dataset, trials, epochs, space_opts, ev_opts = SETUPS[space]
    cfg = SearchConfig(
        space=space, dataset=dataset, strategy="random", seed=seed, trials=trials,
        epochs=epochs, objectives=["val_error"], pruner=pruner, space_options=space_opts,
        evaluator_options=ev_opts, out=str(root / f"{space}-{pruner}-s{seed}"),
    )  # fmt: skip
    t0 = time.perf_counter()
    result = run_search(cfg, progress=False)
    return time.perf_counter() - t0, result


def _front(result: SearchResult) -> np.ndarray:
    return np.array(
        [[t.metrics["val_error"], t.metrics["params"]] for t in result.complete], dtype=float
    ).reshape(-1, 2)


def _ms(xs: list[float], fmt: str = ".1f") -> str:
    sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
    return f"{statistics.fmean(xs):{fmt}} ± {sd:{fmt}}"


def _wilcoxon(diffs: list[float]) -> str:
    if all(d == 0 for d in diffs):
        return "all equal"
    try:
        from scipy.stats import wilcoxon
    except ImportError:
        return "n/a (no scipy)"
    return f"p={wilcoxon(diffs).pvalue:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--spaces", default="hqnn,cnn")
    args = ap.parse_args()
    spaces = [s for s in args.spaces.split(",") if s]
    with tempfile.TemporaryDirectory() as tmp:
        runs: dict[tuple[str, str], list[tuple[float, SearchResult]]] = {}
        for space in spaces:
            for seed in range(args.seeds):
                order = CONDITIONS[seed % 3 :] + CONDITIONS[: seed % 3]
                for pruner in order:
                    secs, res = _search(space, seed, pruner, Path(tmp))
                    runs.setdefault((space, pruner), []).append((secs, res))
                    print(f"{space} seed {seed} {pruner:9s} {secs:7.1f} s  complete "
                          f"{len(res.complete):2d} pruned {len(res.pruned):2d}  best "
                          f"{min(t.metrics['val_error'] for t in res.complete):.4f}",
                          flush=True)  # fmt: skip
        print()
        print(
            "| space | pruner | wall s | time / none (median) | pruned | best val_error "
            "| Δ best vs none | hypervolume | Δ HV vs none |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for space in spaces:
            base = runs[(space, "none")]
            p_max = max(t.metrics["params"] for c in CONDITIONS for _, r in runs[(space, c)]
                        for t in r.complete)  # fmt: skip
            ref = [1.0, 1.1 * p_max]

            def hv(r: SearchResult, ref: list[float] = ref) -> float:
                return hypervolume(_front(r), ["minimize", "minimize"], ref) / ref[1]

            for pruner in CONDITIONS:
                rs = runs[(space, pruner)]
                wall = [s for s, _ in rs]
                ratio = statistics.median(s / b for (s, _), (b, _) in zip(rs, base, strict=True))
                best = [min(t.metrics["val_error"] for t in r.complete) for _, r in rs]
                best0 = [min(t.metrics["val_error"] for t in r.complete) for _, r in base]
                hvs = [hv(r) for _, r in rs]
                hv0 = [hv(r) for _, r in base]
                d_best = [a - b for a, b in zip(best, best0, strict=True)]
                d_hv = [a - b for a, b in zip(hvs, hv0, strict=True)]
                pruned = [float(len(r.pruned)) for _, r in rs]
                same = pruner == "none"
                print(
                    f"| {space} | {pruner} | {_ms(wall)} | {ratio:.2f} | {_ms(pruned)} | "
                    f"{_ms(best, '.4f')} | "
                    f"{'' if same else _ms(d_best, '+.4f') + ' (' + _wilcoxon(d_best) + ')'} | "
                    f"{_ms(hvs, '.4f')} | "
                    f"{'' if same else _ms(d_hv, '+.4f') + ' (' + _wilcoxon(d_hv) + ')'} |"
                )


if __name__ == "__main__":
    main()
