"""What the NAS-Bench-201 benchmark scripts share: the strategy lists, running one task
and printing its table, and the lines that compare the best (quantum or
quantum-inspired) strategy with the classical ones. Not a benchmark itself."""

from __future__ import annotations

import json
import time
from typing import Any

QUANTUM = ["qubo-sa", "qubo-sqa", "qaoa", "vqe", "grover", "born"]
INSPIRED = ["qiea", "qiea-sg", "qpso", "qpso-sg"]
CLASSICAL = ["evolution", "reinforce", "local", "random", "tpe"]


def run_task(task: str, strategies: list[str], args: Any) -> Any:
    """Run ``task`` and print its table, wall time and JSON summary."""
    from rich.console import Console

    from quarch.benchmark import run_benchmark

    t0 = time.perf_counter()
    r = run_benchmark(
        task=task,
        strategies=strategies,
        seeds=args.seeds,
        trials=args.trials,
        data_dir=args.data_dir,
        out=f"{args.out}/benchmark-{task}",
        progress=False,
        workers=args.workers,
        first_seed=args.first_seed,
    )
    Console(width=220).print(r.table())
    print(f"{task}: wall {time.perf_counter() - t0:.0f} s; files in {r.out}")
    print(json.dumps(r.to_json()))
    return r


def best_of(r: Any, names: list[str]) -> tuple[str, float] | None:
    """The strategy of ``names`` with the best mean score in ``r``, and that mean."""
    means = {s: r.summary(s)["mean"] for s in names if s in r.strategies}
    means = {s: m for s, m in means.items() if m is not None}
    if not means:
        return None
    pick = max if r.maximize else min
    s = pick(means, key=lambda k: means[k])
    return s, means[s]


def versus(r: Any, a: str, rivals: list[str]) -> list[tuple[str, Any]]:
    """``(rival, Comparison)`` of ``a`` against each rival."""
    out = []
    for b in rivals:
        if b in r.strategies and b != a:
            c = r.compare(a, b)
            if c is not None:
                out.append((b, c))
    return out


def print_versus(r: Any, a: str, rivals: list[str]) -> bool:
    """Print ``a`` against each rival; whether ``a`` is significantly ahead of all
    (rank-sum p < 0.05 and the bootstrap interval above 0: ``Comparison.significant``)."""
    pairs = versus(r, a, rivals)
    ok = bool(pairs) and len(pairs) == len([b for b in rivals if b in r.strategies and b != a])
    for b, c in pairs:
        d, lo, hi, p = c.difference, c.low, c.high, c.p_value
        sig = d > 0 and c.significant
        ok &= sig
        print(f"  {a} vs {b}: {d:+.3f} [{lo:+.3f}, {hi:+.3f}], rank-sum p = {p:.3g}"
              f"{' (significant)' if sig else ''}")  # fmt: skip
    return ok


def tuning_study(inst: Any, strategy: str, seed: int, options: dict[str, Any] | None = None) -> Any:
    """An Optuna study driven by ``strategy`` on a built task instance, as the benchmark
    harness makes it (the evaluator's metrics known without training passed on): the
    search loop of the tuning tools (``nb201_diagnose.py``, ``nb201_surrogates.py``)."""
    import optuna

    from quarch.search import make_sampler

    cheap = getattr(inst.evaluator, "cheap_metrics", None)
    sampler = make_sampler(
        strategy,
        seed=seed,
        space=inst.space,
        objective=inst.objective,
        cheap_metrics=cheap if callable(cheap) else None,
        **(options or {}),
    )
    return optuna.create_study(directions=inst.objective.directions, sampler=sampler)
