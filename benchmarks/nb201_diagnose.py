"""Why a QUBO strategy misses NAS-Bench-201's best cell: per tuning seed, whether the run
found the cell with the best 12-epoch validation accuracy (the oracle pick) and at
which query, and how well the BOCS surrogate fitted to the run's trials so far ranks
the cells the run has not tried (Spearman and Kendall correlation with the validation
accuracy, and where the oracle cell stands in the posterior mean's order) at a few
checkpoints.

A tuning tool (issue 18): run it on seeds you do not report (1000 and above), on
CIFAR-10's validation signal only. ``--options`` passes strategy options as JSON, so
settings can be compared on the same seeds (paired). Usage::

    python benchmarks/nb201_diagnose.py --data-dir ../shared/data --seeds 40 \
        [--first-seed 1000] [--strategy qubo-sqa] [--options '{"batch_size": 2}'] \
        [--jsonl runs.jsonl]
    python benchmarks/nb201_diagnose.py --compare runs.jsonl  # paired, against the first
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import time
from typing import Any

import numpy as np
from _nb201_common import tuning_study


def run_seed(
    seed: int, strategy: str, options: dict[str, Any], trials: int, checks: list[int], data: str
) -> dict[str, Any]:
    """One diagnosed run (the benchmark's own search loop, without budgets)."""
    import optuna
    from scipy.stats import kendalltau, spearmanr

    from quarch.benchmark._tasks import build_task
    from quarch.search._surrogate import QuadraticModel, fit_quadratic, rank_scores
    from quarch.spaces.nb201.evaluator import load_nb201

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    inst = build_task("nb201-cifar10", seed=seed, data_dir=data, budgets=())
    table = load_nb201("cifar10", data)
    space = inst.space
    sizes = [len(d.choices) for d in space.distributions().values()]
    cells = np.array(list(itertools.product(*(range(k) for k in sizes))))
    rows = np.array([table.row(space.from_indices(list(x))) for x in cells])
    val = table.val_12ep[rows]
    test = table.test_200ep[rows]
    oracle = int(np.argmax(val))
    study = tuning_study(inst, strategy, seed, options)
    ids = {tuple(int(v) for v in x): i for i, x in enumerate(cells)}
    seen: list[int] = []
    found_at: int | None = None
    out: dict[str, Any] = {"seed": seed}
    t0 = time.perf_counter()
    while len(seen) < trials:
        trial = study.ask()
        arch = space.suggest(trial)
        metrics = inst.evaluator.evaluate(arch, seed=seed)
        study.tell(trial, inst.objective.values(metrics))
        i = ids[tuple(space.to_indices(arch))]
        seen.append(i)
        if i == oracle and found_at is None:
            found_at = len(seen)
            if len(seen) > 1:  # how far the incumbent was from the oracle cell then
                inc = seen[int(np.argmax(val[seen[:-1]]))]
                out["hamming_before"] = int((cells[inc] != cells[oracle]).sum())
        if len(seen) in checks:
            X = cells[seen]
            post = fit_quadratic(X, rank_scores(-val[seen]), sizes)
            pred = -QuadraticModel(sizes, post.mean).energy(cells)
            unseen = np.ones(len(cells), dtype=bool)
            unseen[seen] = False
            q = len(seen)
            inc = seen[int(np.argmax(val[seen]))]
            out[f"hamming{q}"] = int((cells[inc] != cells[oracle]).sum())
            out[f"rho{q}"] = float(spearmanr(pred[unseen], val[unseen])[0])
            out[f"tau{q}"] = float(kendalltau(pred[unseen], val[unseen])[0])
            order = np.argsort(-pred[unseen], kind="stable")
            # the unseen oracle cell's place in the posterior mean's order (0 = first)
            out[f"oracle_rank{q}"] = (
                int(np.flatnonzero(np.flatnonzero(unseen)[order] == oracle)[0])
                if unseen[oracle]
                else -1
            )
            # the best validation accuracy among the mean's 5 favourite untried cells
            out[f"top5_val{q}"] = float(val[np.flatnonzero(unseen)[order[:5]]].max())
    pick = seen[int(np.argmax(val[seen]))]
    out.update(
        found_at=found_at,
        pick_val=float(val[pick]),
        pick_test=float(test[pick]),
        hamming=int((cells[pick] != cells[oracle]).sum()),
        seconds=time.perf_counter() - t0,
    )
    return out


def compare(path: str) -> None:
    """Paired comparison of the settings recorded in a ``--jsonl`` file against the
    first one recorded: on the seeds both ran, how often each found the oracle cell,
    the mean 200-epoch test accuracy of the picks, and the paired difference with a
    95 % bootstrap interval and a Wilcoxon signed-rank p-value."""
    from scipy.stats import bootstrap, wilcoxon

    runs: dict[str, dict[int, dict[str, Any]]] = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            key = json.dumps(r.get("options", {}), sort_keys=True)
            runs.setdefault(key, {})[int(r["seed"])] = r
    keys = list(runs)
    base = keys[0]
    for key in keys[1:]:
        seeds = sorted(set(runs[base]) & set(runs[key]))
        if len(seeds) < 2:
            continue
        a = np.array([runs[base][s]["pick_test"] for s in seeds])
        b = np.array([runs[key][s]["pick_test"] for s in seeds])
        fa = sum(runs[base][s]["found_at"] is not None for s in seeds)
        fb = sum(runs[key][s]["found_at"] is not None for s in seeds)
        d = b - a
        ci = bootstrap((d,), np.mean, n_resamples=10000, rng=np.random.default_rng(0))
        lo, hi = ci.confidence_interval
        p = float(wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
        print(f"{key} against {base}, seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}): found the "
              f"oracle cell {fb} against {fa}; test {b.mean():.3f} ± {b.std(ddof=1):.3f} "
              f"against {a.mean():.3f} ± {a.std(ddof=1):.3f}; paired difference "
              f"{d.mean():+.3f} [{lo:+.3f}, {hi:+.3f}], Wilcoxon p = {p:.3g}")  # fmt: skip
        both = [s for s in seeds if runs[base][s]["found_at"] and runs[key][s]["found_at"]]
        if len(both) >= 2:
            qa = np.array([runs[base][s]["found_at"] for s in both])
            qb = np.array([runs[key][s]["found_at"] for s in both])
            pq = float(wilcoxon(qb - qa).pvalue) if np.any(qb != qa) else 1.0
            print(f"  query that found it, on the {len(both)} seeds both found it: median "
                  f"{np.median(qb):.0f} against {np.median(qa):.0f}, mean "
                  f"{qb.mean():.1f} against {qa.mean():.1f}, Wilcoxon p = {pq:.3g}")  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--seeds", type=int, default=40)
    p.add_argument("--first-seed", type=int, default=1000)
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--strategy", default="qubo-sqa")
    p.add_argument("--options", default="{}")
    p.add_argument("--checks", default="20,50,80")
    p.add_argument("--jsonl", default=None, help="append one JSON line per seed here")
    p.add_argument("--compare", default=None, help="compare the settings in this JSONL")
    a = p.parse_args()
    if a.compare:
        compare(a.compare)
        return
    if a.first_seed < 1000:
        raise SystemExit("error: tune on seeds 1000 and above (0-29 are the reported seeds)")
    options = json.loads(a.options)
    checks = [int(c) for c in a.checks.split(",") if c]
    res = []
    for s in range(a.first_seed, a.first_seed + a.seeds):
        r = run_seed(s, a.strategy, options, a.trials, checks, a.data_dir)
        r["options"] = options
        res.append(r)
        print(json.dumps(r), flush=True)
        if a.jsonl:
            with open(a.jsonl, "a") as f:
                f.write(json.dumps(r) + "\n")
    found = [r["found_at"] for r in res if r["found_at"] is not None]
    tests = np.array([r["pick_test"] for r in res])
    vals = np.array([r["pick_val"] for r in res])
    print(f"{a.strategy} {options}: found the oracle cell in {len(found)} of {len(res)} runs "
          f"(median query {np.median(found) if found else math.nan:.0f}); pick val "
          f"{vals.mean():.3f} ± {vals.std(ddof=1) if len(res) > 1 else 0:.3f}, test "
          f"{tests.mean():.3f} ± {tests.std(ddof=1) if len(res) > 1 else 0:.3f}")  # fmt: skip
    for q in checks:
        rho = [r[f"rho{q}"] for r in res if f"rho{q}" in r]
        tau = [r[f"tau{q}"] for r in res if f"tau{q}" in r]
        rk = [r[f"oracle_rank{q}"] for r in res if r.get(f"oracle_rank{q}", -1) >= 0]
        if rho:
            print(f"  after {q}: Spearman {np.mean(rho):.3f} ± {np.std(rho):.3f}, Kendall "
                  f"{np.mean(tau):.3f}; oracle cell untried in {len(rk)} runs, its rank by "
                  f"the posterior mean: median {np.median(rk) if rk else math.nan:.0f}, "
                  f"top-5 in {sum(k < 5 for k in rk)}, top-50 in {sum(k < 50 for k in rk)}")  # fmt: skip


if __name__ == "__main__":
    main()
