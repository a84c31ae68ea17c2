"""Which surrogate ranks NAS-Bench-201's untried cells best along a real search: BOCS
(quarch's default) against wider BOCS grids, BOCS averaged over its grid, a Gaussian
process with a Hamming kernel (COMBO / CASMOPOLITAN), that process projected onto the
quadratic model the annealers minimise, and ensembles.

A tuning tool (issue 18): run it on seeds you do not report (1000 and above), on
CIFAR-10's 12-epoch validation signal only. For each seed it runs one search with
``--strategy`` (default ``qubo-sqa`` at its defaults; its first 20 trials are uniform
draws) and records which cells it tried; at each checkpoint every candidate surrogate
is fitted to the trials so far (normal scores of the ranks of the validation accuracy,
as the QUBO strategies fit them) and scored on every untried cell: Spearman correlation
with the validation accuracy, the place of the best-validation cell (the oracle) in the
model's order, and the best validation accuracy among the model's 5 and 20 favourite
untried cells (what the next proposals would get). Usage::

    python benchmarks/nb201_surrogates.py --data-dir ../shared/data --seeds 60 \
        [--first-seed 1000] [--checks 20,50,80] [--trajectories traj.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from _nb201_common import tuning_study

Fit = Callable[[np.ndarray, np.ndarray, list[int], np.ndarray, np.random.Generator], np.ndarray]


def trajectory(seed: int, strategy: str, trials: int, data: str, cells: np.ndarray) -> list[int]:
    """Cell ids a search tried, in order (the benchmark's own loop, no budgets)."""
    import optuna

    from quarch.benchmark._tasks import build_task

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    inst = build_task("nb201-cifar10", seed=seed, data_dir=data, budgets=())
    space = inst.space
    study = tuning_study(inst, strategy, seed)
    ids = {tuple(int(v) for v in x): i for i, x in enumerate(cells)}
    seen: list[int] = []
    while len(seen) < trials:
        trial = study.ask()
        arch = space.suggest(trial)
        metrics = inst.evaluator.evaluate(arch, seed=seed)
        study.tell(trial, inst.objective.values(metrics))
        seen.append(ids[tuple(space.to_indices(arch))])
    return seen


def candidates() -> dict[str, Fit]:
    """Each candidate: ``fit(X, y, sizes, cells, rng) -> predicted cost of every cell``
    (lower is better, as the QUBO's energy)."""
    from quarch.search._gp import fit_gp, fit_gp_quadratic
    from quarch.search._surrogate import QuadraticModel, fit_quadratic

    def bocs(X: np.ndarray, y: np.ndarray, sizes: list[int], cells: np.ndarray, rng: Any) -> Any:
        return QuadraticModel(sizes, fit_quadratic(X, y, sizes).mean).energy(cells)

    def bocs_wide(X: Any, y: Any, sizes: list[int], cells: Any, rng: Any) -> Any:
        post = fit_quadratic(
            X,
            y,
            sizes,
            prior_pair=(0.02, 0.05, 0.1, 0.15, 0.25, 0.4, 0.6, 1.0),
            noise=(0.005, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2),
        )
        return QuadraticModel(sizes, post.mean).energy(cells)

    def gp(X: Any, y: Any, sizes: list[int], cells: Any, rng: Any) -> Any:
        return fit_gp(X, y).mean(cells)

    def gp_ard(X: Any, y: Any, sizes: list[int], cells: Any, rng: Any) -> Any:
        return fit_gp(X, y, ard=True).mean(cells)

    def gp_q(X: Any, y: Any, sizes: list[int], cells: Any, rng: Any) -> Any:
        return QuadraticModel(sizes, fit_gp_quadratic(X, y, sizes, rng).mean).energy(cells)

    def gp_ard_q(X: Any, y: Any, sizes: list[int], cells: Any, rng: Any) -> Any:
        q = fit_gp_quadratic(X, y, sizes, rng, ard=True)
        return QuadraticModel(sizes, q.mean).energy(cells)

    def z(v: np.ndarray) -> np.ndarray:
        return (v - v.mean()) / (v.std() or 1.0)

    def ens(X: Any, y: Any, sizes: list[int], cells: Any, rng: Any) -> Any:
        return z(bocs(X, y, sizes, cells, rng)) + z(gp(X, y, sizes, cells, rng))

    return {
        "bocs": bocs,
        "bocs-wide": bocs_wide,
        "gp": gp,
        "gp-ard": gp_ard,
        "gp-q": gp_q,
        "gp-ard-q": gp_ard_q,
        "bocs+gp": ens,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--seeds", type=int, default=60)
    p.add_argument("--first-seed", type=int, default=1000)
    p.add_argument("--trials", type=int, default=80)
    p.add_argument("--strategy", default="qubo-sqa")
    p.add_argument("--checks", default="20,50,80")
    p.add_argument("--only", default="", help="comma-separated candidate names")
    p.add_argument("--trajectories", default=None, help="JSONL cache of the searches' cells")
    a = p.parse_args()
    if a.first_seed < 1000:
        raise SystemExit("error: tune on seeds 1000 and above (0-29 are the reported seeds)")

    from scipy.stats import spearmanr

    from quarch.search._surrogate import rank_scores, single_thread
    from quarch.spaces.nb201.evaluator import load_nb201
    from quarch.spaces.nb201.space import nb201_space

    space = nb201_space()
    sizes = [len(d.choices) for d in space.distributions().values()]
    cells = np.array(list(itertools.product(*(range(k) for k in sizes))))
    table = load_nb201("cifar10", a.data_dir)
    val = table.val_12ep[np.array([table.row(space.from_indices(list(x))) for x in cells])]
    oracle = int(np.argmax(val))
    checks = [int(c) for c in a.checks.split(",") if c]
    fits = candidates()
    if a.only:
        fits = {k: fits[k] for k in a.only.split(",")}
    cache: dict[int, list[int]] = {}
    if a.trajectories and os.path.exists(a.trajectories):
        with open(a.trajectories) as f:
            for line in f:
                r = json.loads(line)
                if r["strategy"] == a.strategy:
                    cache[int(r["seed"])] = r["cells"]
    res: dict[tuple[str, int], list[dict[str, float]]] = {}
    secs: dict[str, float] = {k: 0.0 for k in fits}
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        if seed not in cache or len(cache[seed]) < max(checks):
            cache[seed] = trajectory(
                seed, a.strategy, max(a.trials, max(checks)), a.data_dir, cells
            )
            if a.trajectories:
                with open(a.trajectories, "a") as f:
                    f.write(
                        json.dumps({"seed": seed, "strategy": a.strategy, "cells": cache[seed]})
                    )
                    f.write("\n")
        seen_all = cache[seed]
        for q in checks:
            seen = seen_all[:q]
            unseen = np.ones(len(cells), dtype=bool)
            unseen[seen] = False
            idx = np.flatnonzero(unseen)
            y = rank_scores(-val[seen])
            for name, fit in fits.items():
                t0 = time.perf_counter()
                with single_thread():
                    pred = -fit(cells[seen], y, sizes, cells, np.random.default_rng(seed))
                secs[name] += time.perf_counter() - t0
                order = idx[np.argsort(-pred[idx], kind="stable")]
                rec = {
                    "rho": float(spearmanr(pred[idx], val[idx])[0]),
                    "oracle_rank": float(np.flatnonzero(order == oracle)[0])
                    if unseen[oracle]
                    else np.nan,
                    "top5": float(val[order[:5]].max()),
                    "top20": float(val[order[:20]].max()),
                }
                res.setdefault((name, q), []).append(rec)
        print(f"seed {seed} done", flush=True)
    n = a.seeds
    print(f"\n{a.strategy} trajectories, seeds {a.first_seed}-{a.first_seed + n - 1} "
          f"(CIFAR-10 12-epoch validation; oracle cell val {val[oracle]:.3f})")  # fmt: skip
    print(f"{'surrogate':10s} {'q':>3s} {'Spearman':>15s} {'oracle rank med':>16s} "
          f"{'top-5 val':>16s} {'top-20 val':>16s} {'fit s':>7s}")  # fmt: skip
    for q in checks:
        for name in fits:
            rs = res[(name, q)]
            rho = np.array([r["rho"] for r in rs])
            rk = np.array([r["oracle_rank"] for r in rs])
            t5 = np.array([r["top5"] for r in rs])
            t20 = np.array([r["top20"] for r in rs])
            print(f"{name:10s} {q:3d} {rho.mean():7.3f} ± {rho.std(ddof=1):5.3f} "
                  f"{np.nanmedian(rk) if (~np.isnan(rk)).any() else np.nan:16.0f} "
                  f"{t5.mean():8.3f} ± {t5.std(ddof=1):5.3f} {t20.mean():8.3f} ± "
                  f"{t20.std(ddof=1):5.3f} {secs[name] / (n * len(checks)):7.3f}")  # fmt: skip
    base = (
        {q: np.array([r["rho"] for r in res[("bocs", q)]]) for q in checks}
        if "bocs" in fits
        else {}
    )
    if base:
        from scipy.stats import wilcoxon

        print("\npaired Spearman difference against bocs (mean, Wilcoxon p)")
        for q in checks:
            for name in fits:
                if name == "bocs":
                    continue
                d = np.array([r["rho"] for r in res[(name, q)]]) - base[q]
                pv = float(wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
                print(f"  {name:10s} after {q:3d}: {d.mean():+.3f}  p = {pv:.3g}")


if __name__ == "__main__":
    main()
