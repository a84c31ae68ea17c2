"""The ``hqnn-bench`` table: export it from its generation runs, and measure on it.

    python benchmarks/hqnn_bench.py export RUN [RUN ...]   # the four grid runs
    python benchmarks/hqnn_bench.py refresh-costs --why W  # costs re-made by this code
    python benchmarks/hqnn_bench.py fidelity               # few-epoch rank correlation
    python benchmarks/hqnn_bench.py importance             # Optuna's importances
    python benchmarks/hqnn_bench.py strategies [--seeds 30 --trials 100 --workers 2]
    python benchmarks/hqnn_bench.py supercircuit [--finetune 20]

``export`` writes ``src/quarch/spaces/hqnn/hqnn_bench.csv.gz`` and its record
``hqnn_bench.json`` (the generation commands, quarch's version, the file's SHA-256, the
wall time of the trainings, one thread each) from the runs ``benchmarks/hqnn_bench.toml`` describes;
it refuses runs that do not cover the sub-space exactly once per data set and seed.
``refresh-costs`` recomputes the columns known without training
(:data:`~quarch.spaces.hqnn.bench.CHEAP_COLUMNS`: parameters, FLOPs, quantum and routed
costs) with the installed quarch and the configuration that made the table, rewrites
the cells that changed beyond the file's six significant digits, and appends what it
changed to the record (``costs_refreshed``); the trainings' errors and times stay as
measured. A test checks the shipped table against the code, so a cost model's change
that this was not run after fails there.
The others print their figures (the table is read through :mod:`quarch.spaces.hqnn.bench`).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import hashlib
import io
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import kendalltau, spearmanr

import quarch
from quarch.spaces.hqnn.bench import (
    ARCH_COLUMNS,
    BENCH_DATASETS,
    BENCH_EPOCHS,
    BENCH_FILE,
    BENCH_META,
    BENCH_SPACE,
    CHEAP_COLUMNS,
    bench_space,
    load_hqnn_bench,
)
from quarch.study import Run

COMMAND = (
    "quarch search --config benchmarks/hqnn_bench.toml --dataset {dataset} --seed {seed} "
    "--out runs/hqnn-bench-{dataset}-s{seed}"
)


def _fmt(v: float) -> str:
    return "" if not np.isfinite(v) else format(float(v), ".6g")


def export(runs: list[str], out: Path, meta_out: Path) -> None:
    space = bench_space()
    keys = {tuple(str(a[c]) for c in ARCH_COLUMNS) for a in space}
    rows: list[list[str]] = []
    metrics: list[str] | None = None
    commands, seconds = [], 0.0
    for path in runs:
        run = Run.open(path)
        cfg = run.config
        if cfg.space_options != BENCH_SPACE and dict(cfg.space_options) != BENCH_SPACE:
            sys.exit(f"error: {path} searched other space options than BENCH_SPACE")
        done: dict[tuple[str, ...], list[str]] = {}
        for t in run.result().trials:
            if t.state != "COMPLETE":
                continue
            arch = space.from_params(t.params)
            key = tuple(str(arch[c]) for c in ARCH_COLUMNS)
            if metrics is None:
                # sim_time_ms is a noisy per-call timing; qubits is an architecture column
                metrics = sorted(m for m in t.metrics if m not in ("sim_time_ms", *ARCH_COLUMNS))
            done.setdefault(key, [
                str(cfg.dataset), str(cfg.seed), str(t.number), *key,
                *(_fmt(t.metrics.get(m, float("nan"))) for m in metrics),
            ])  # fmt: skip
            seconds += float(t.metrics.get("train_seconds", 0.0))
        missing = keys - set(done)
        if missing:
            sys.exit(f"error: {path} lacks {len(missing)} of {len(keys)} architectures")
        rows += [done[k] for k in sorted(done)]
        commands.append(COMMAND.format(dataset=cfg.dataset, seed=cfg.seed))
    assert metrics is not None
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "seed", "trial", *ARCH_COLUMNS, *metrics])
    ordered = sorted(rows, key=lambda r: (r[0], int(r[1]), r[3:]))
    w.writerows(ordered)
    raw = gzip.compress(buf.getvalue().encode(), compresslevel=9, mtime=0)
    out.write_bytes(raw)
    meta = {
        "table": out.name,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "rows": len(rows),
        "quarch_version": quarch.__version__,
        "commands": commands,
        "config": "benchmarks/hqnn_bench.toml",
        "space_options": BENCH_SPACE,
        "epochs": list(BENCH_EPOCHS),
        "training_wall_seconds": round(seconds, 1),
        "machine": f"{platform.machine()}, {platform.python_version()}",
        "exported": time.strftime("%Y-%m-%d"),
    }
    meta_out.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {out} ({len(raw) / 1e6:.2f} MB, {len(rows)} rows, sha256 {meta['sha256']})")
    print(
        f"training time of the table: {seconds / 3600:.2f} hours "
        "(sum of each training's wall time, one thread each)"
    )


def _key(arch: Any) -> tuple[str, ...]:
    return tuple(str(arch[c]) for c in ARCH_COLUMNS)


def refresh_costs(table: Path, meta_path: Path, data_dir: str, why: str) -> None:
    from quarch.config import SearchConfig
    from quarch.spaces.hqnn.evaluator import HQNNEvaluator, make_hqnn_evaluator

    rows = list(csv.reader(io.StringIO(gzip.decompress(table.read_bytes()).decode())))
    header, body = rows[0], rows[1:]
    col = {c: i for i, c in enumerate(header)}
    config = SearchConfig.from_file(Path(__file__).with_name("hqnn_bench.toml"))
    space = bench_space()
    changed: dict[str, int] = {}
    for dataset in BENCH_DATASETS:
        cfg = dataclasses.replace(config, dataset=dataset, data_dir=data_dir)
        ev = make_hqnn_evaluator(space, cfg)
        assert isinstance(ev, HQNNEvaluator)  # the table's config has no supercircuit
        archs = {_key(a): a for a in load_hqnn_bench(dataset).archs}
        made: dict[tuple[str, ...], Any] = {}
        for r in body:
            if r[col["dataset"]] != dataset:
                continue
            key = tuple(r[col[c]] for c in ARCH_COLUMNS)
            if key not in made:
                made[key] = ev.cheap_metrics(archs[key])
            for c in CHEAP_COLUMNS:
                new = made[key][c]
                old = float(r[col[c]]) if r[col[c]] else float("nan")
                if not np.isclose(old, new, rtol=1e-5, atol=0.0, equal_nan=True):
                    r[col[c]] = _fmt(new)
                    changed[c] = changed.get(c, 0) + 1
    if not changed:
        print(f"{table}: every cost column agrees with this code; nothing written")
        return
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])
    raw = gzip.compress(buf.getvalue().encode(), compresslevel=9, mtime=0)
    table.write_bytes(raw)
    meta = json.loads(meta_path.read_text())
    meta["sha256"] = hashlib.sha256(raw).hexdigest()
    meta.setdefault("costs_refreshed", []).append(
        {"quarch_version": quarch.__version__, "date": time.strftime("%Y-%m-%d"),
         "why": why, "cells_changed": changed}
    )  # fmt: skip
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"wrote {table} (sha256 {meta['sha256']}); cells changed: {changed}")


def fidelity() -> None:
    """Seed 002's question: how well do few-epoch scores rank converged accuracy?"""
    print("few-epoch validation accuracy against 30-epoch test accuracy (mean of 2 seeds)")
    print(f"{'data set':8} {'epochs':>6} {'Kendall':>8} {'Spearman':>9} {'top-10% overlap':>16}")
    for d in BENCH_DATASETS:
        t = load_hqnn_bench(d)
        truth = t.accuracy("test", BENCH_EPOCHS[-1])
        k = max(1, len(truth) // 10)
        top = set(np.argsort(-truth)[:k])
        for e in BENCH_EPOCHS:
            sig = t.accuracy("val", e)
            tau = kendalltau(sig, truth)[0]
            rho = spearmanr(sig, truth)[0]
            overlap = len(top & set(np.argsort(-sig, kind="stable")[:k])) / k
            print(f"{d:8} {e:>6} {tau:>8.3f} {rho:>9.3f} {overlap:>16.2f}")
        a, b = (100 * (1 - t.values["test_error_e30"][:, j]) for j in range(2))
        print(f"{d:8} seed 0 against seed 1 at 30 epochs (test): Kendall {kendalltau(a, b)[0]:.3f}")


def importance() -> None:
    """Which choices matter: Optuna's fANOVA importances of the 30-epoch test accuracy."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = bench_space()
    dists = {n: d for n, d in space.distributions().items() if len(d.choices) > 1}
    for d in BENCH_DATASETS:
        t = load_hqnn_bench(d)
        acc = t.accuracy("test", BENCH_EPOCHS[-1])
        study = optuna.create_study(direction="maximize")
        study.add_trials([
            optuna.trial.create_trial(
                params={n: a[n] for n in dists}, distributions=dict(dists), value=float(v)
            )
            for a, v in zip(t.archs, acc, strict=True)
        ])  # fmt: skip
        imp = optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
        )
        print(f"{d}: " + ", ".join(f"{k} {v:.3f}" for k, v in imp.items()))
        for name in ("embedding", "qubits", "layers", "measurement"):
            parts = []
            for opt in dists[name].choices:
                sel = np.array([a[name] == opt for a in t.archs])
                parts.append(f"{opt}: {acc[sel].mean():.1f}")
            print(f"   mean test accuracy by {name}: " + ", ".join(parts))


def strategies(seeds: int, trials: int, workers: int, names: str, out: str) -> None:
    from rich.console import Console

    from quarch.benchmark import run_benchmark

    for d in BENCH_DATASETS:
        t0 = time.perf_counter()
        res = run_benchmark(
            task=f"hqnn-bench-{d}", strategies=names.split(","), seeds=seeds, trials=trials,
            workers=workers, progress=False, out=f"{out}/hqnn-bench-{d}",
        )  # fmt: skip
        Console(width=200).print(res.table())
        print(f"({time.perf_counter() - t0:.0f} s)\n")


def supercircuit(finetune: int, steps: int | None, seed: int) -> None:
    """The SuperCircuit's ranking over the whole table (one SuperCircuit per data set)."""
    import torch

    from quarch.data import load_dataset
    from quarch.spaces.hqnn.evaluator import SuperCircuitEvaluator, prepare_data

    torch.set_num_threads(1)
    space = bench_space()
    for d in BENCH_DATASETS:
        t = load_hqnn_bench(d)
        truth = t.accuracy("test", BENCH_EPOCHS[-1])
        val30 = t.accuracy("val", BENCH_EPOCHS[-1])
        data = prepare_data(load_dataset(d, seed=seed))
        t0 = time.perf_counter()
        inh = SuperCircuitEvaluator(data, space, seed=seed, steps=steps, lr=0.03, finetune_steps=0)
        _ = inh.supercircuit
        t_sc = time.perf_counter() - t0
        ft = SuperCircuitEvaluator(
            data, space, seed=seed, steps=steps, lr=0.03, finetune_steps=finetune
        )
        ft._sc = inh.supercircuit
        k = max(1, len(truth) // 10)
        top = set(np.argsort(-truth)[:k])
        for label, ev in (("inherited", inh), (f"fine-tuned {finetune} steps", ft)):
            t1 = time.perf_counter()
            score = np.array([1 - ev.evaluate(a, seed=seed)["val_error"] for a in t.archs])
            dt = time.perf_counter() - t1
            tau_t = kendalltau(score, truth)[0]
            tau_v = kendalltau(score, val30)[0]
            overlap = len(top & set(np.argsort(-score, kind="stable")[:k])) / k
            print(
                f"{d} {label}: Kendall tau {tau_t:.3f} against 30-epoch test, {tau_v:.3f} "
                f"against 30-epoch validation; top-10% overlap {overlap:.2f}; "
                f"{dt / len(t.archs) * 1e3:.0f} ms per architecture "
                f"(SuperCircuit training {t_sc:.0f} s)"
            )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("runs", nargs="+")
    e.add_argument("--out", default=str(BENCH_FILE))
    e.add_argument("--meta", default=str(BENCH_META))
    r = sub.add_parser("refresh-costs")
    r.add_argument("--table", default=str(BENCH_FILE))
    r.add_argument("--meta", default=str(BENCH_META))
    r.add_argument("--data-dir", default="../shared/data")
    r.add_argument("--why", required=True, help="the cost model's change, for the record")
    sub.add_parser("fidelity")
    sub.add_parser("importance")
    s = sub.add_parser("strategies")
    s.add_argument("--seeds", type=int, default=30)
    s.add_argument("--trials", type=int, default=100)
    s.add_argument("--workers", type=int, default=1)
    s.add_argument("--out", default="runs/claims", help="results per task (claims.py reads them)")
    s.add_argument(
        "--strategies",
        default="qiea,qpso,qiea-sg,qpso-sg,qubo-sa,qubo-sqa,qaoa,vqe,born,grover,"
        "random,evolution,reinforce,local,tpe,nsga2",
    )
    c = sub.add_parser("supercircuit")
    c.add_argument("--finetune", type=int, default=20)
    c.add_argument("--steps", type=int, default=None)
    c.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    if a.cmd == "export":
        export(a.runs, Path(a.out), Path(a.meta))
    elif a.cmd == "refresh-costs":
        refresh_costs(Path(a.table), Path(a.meta), a.data_dir, a.why)
    elif a.cmd == "fidelity":
        fidelity()
    elif a.cmd == "importance":
        importance()
    elif a.cmd == "strategies":
        strategies(a.seeds, a.trials, a.workers, a.strategies, a.out)
    else:
        supercircuit(a.finetune, a.steps, a.seed)


if __name__ == "__main__":
    main()
