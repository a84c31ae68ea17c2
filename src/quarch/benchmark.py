"""`quarch benchmark`: every strategy on every seed of a task, judged honestly.

A *task* is a space, an evaluator (what the search sees), an objective (``val_error``
plus optional budgets) and a *judge*: a score per architecture that the search never
sees. Each (strategy, seed) run asks ``trials`` architectures from an in-memory Optuna
study; the architecture a run *picks* after ``q`` queries is its best feasible trial by
the objective, and the judge scores that pick. Tasks:

* tasks that spaces declare (:meth:`quarch.spaces.SpaceSpec.benchmark_tasks`), such as
  NAS-Bench-201's: the search sees the 12-epoch validation error (and latencies, for
  budgets such as ``raspi4<=20``); the judge is the 200-epoch test accuracy (%);
* ``synthetic-qubo``: a QUBO with Gaussian coefficients on the one-hot bits of 6
  choices of 4 options (4096 architectures), a new instance per seed; the search sees
  the energy as ``val_error`` and the judge is that energy, lower is better, with the
  optimum found by brute force.

Per strategy the result holds the mean and standard deviation of the judged score of
the final pick, the regret to the (feasible) optimum, the queries until the pick first
reached the target (the 99th percentile of the judged score over the feasible space,
or the optimum for QUBOs), the strategy's own wall time and the energy its runs used:
measured by CodeCarbon when it is installed and runs are sequential, otherwise CPU
time x :data:`CPU_WATTS`, and the result says which.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch._errors import ConfigError
from quarch.evaluate._base import Metrics
from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

#: The name this module used before tasks moved to :mod:`quarch.evaluate.task`.
TaskInstance = Task

if TYPE_CHECKING:
    from rich.table import Table

__all__ = [
    "CPU_WATTS",
    "BenchmarkResult",
    "QUBOEvaluator",
    "Task",
    "TaskInstance",
    "build_task",
    "run_benchmark",
    "synthetic_qubo",
    "task_names",
]

#: The task every install has (the spaces add theirs, :func:`task_names`).
SYNTHETIC_QUBO = "synthetic-qubo"
#: Power assumed per busy core when no energy meter is readable (W).
CPU_WATTS = 10.0


# -- tasks ---------------------------------------------------------------------------
class QUBOEvaluator:
    """Energy ``b^T Q b`` of an architecture's one-hot bits ``b``, as ``val_error``.

    Args:
        space (Space): the space whose one-hot code ``b`` indexes ``Q``.
        Q (np.ndarray): coefficients, shape ``(n_bits, n_bits)``.
    """

    def __init__(self, space: Space, Q: np.ndarray) -> None:
        n = space.n_bits("onehot")
        if Q.shape != (n, n):
            raise ValueError(f"Q must have shape ({n}, {n}) for this space; got {Q.shape}")
        self.space = space
        self.Q = np.asarray(Q, dtype=float)
        self.fingerprint = ""

    def energy(self, bits: np.ndarray) -> np.ndarray:
        """Energies of bit vectors, shape ``(n, n_bits)`` -> ``(n,)``."""
        b = np.atleast_2d(np.asarray(bits, dtype=float))
        return np.einsum("ni,ij,nj->n", b, self.Q, b)

    def evaluate(self, arch: Mapping[str, Any], *, seed: int = 0) -> Metrics:
        """``{"val_error": energy}`` of ``arch``."""
        return {"val_error": float(self.energy(self.space.to_bits(arch))[0])}


def synthetic_qubo(
    seed: int, *, n_choices: int = 6, n_options: int = 4
) -> tuple[Space, QUBOEvaluator, float]:
    """A seeded random QUBO over one-hot choices and its brute-forced optimum.

    ``Q`` is upper triangular with standard normal entries (the diagonal is the linear
    term); only products of bits from different choices matter beyond the diagonal,
    since one-hot groups have a single bit set.

    Returns:
        ``(space, evaluator, optimum energy)``.
    """
    if n_options**n_choices > 1_000_000:
        raise ValueError(
            f"n_options**n_choices must be <= 1000000 for brute force; got {n_options**n_choices}"
        )
    space = Space([Choice(f"x{i}", list(range(n_options))) for i in range(n_choices)], name="qubo")
    n = n_choices * n_options
    Q = np.triu(np.random.default_rng([seed, 4201]).standard_normal((n, n)))
    ev = QUBOEvaluator(space, Q)
    grids = np.stack(
        np.meshgrid(*[np.arange(n_options)] * n_choices, indexing="ij"), axis=-1
    ).reshape(-1, n_choices)
    bits = np.zeros((len(grids), n))
    bits[np.arange(len(grids))[:, None], grids + np.arange(n_choices) * n_options] = 1.0
    return space, ev, float(ev.energy(bits).min())


def _qubo_task(seed: int, budgets: Sequence[str]) -> Task:
    space, ev, opt = synthetic_qubo(seed)
    objective = task_objective(budgets, ev.evaluate(space.sample(0)))
    if objective.budgets:
        raise ConfigError("synthetic-qubo takes no budgets (its only metric is val_error)")

    def judge(arch: Mapping[str, Any]) -> float:
        return ev.evaluate(arch)["val_error"]

    return Task(
        name=SYNTHETIC_QUBO,
        space=space,
        evaluator=ev,
        objective=objective,
        judge=judge,
        maximize=False,
        optimum=opt,
        target=opt + 1e-9,
        score_name="QUBO energy",
    )


def _space_tasks() -> dict[str, Callable[..., Task]]:
    """The benchmark tasks the registered spaces declare, by name."""
    from quarch.spaces import SPACES, get_spec

    out: dict[str, Callable[..., Task]] = {}
    for name in SPACES.names():
        out.update(get_spec(name).benchmark_tasks())
    return out


def task_names() -> list[str]:
    """Every task ``quarch benchmark --task`` knows."""
    return [*_space_tasks(), SYNTHETIC_QUBO]


def build_task(
    task: str, *, seed: int = 0, data_dir: str | None = None, budgets: Sequence[str] = ()
) -> Task:
    """The :class:`Task` of ``task`` for run seed ``seed``.

    ``synthetic-qubo`` draws a new QUBO per seed; a space's task decides for itself
    (NAS-Bench-201's are the same for every seed, and cached).

    Raises:
        ConfigError: an unknown task or a budget the task cannot evaluate.
        DataError: a task's data files are missing.
    """
    if task == SYNTHETIC_QUBO:
        return _qubo_task(seed, budgets)
    tasks = _space_tasks()
    if task not in tasks:
        raise ConfigError(
            f"unknown benchmark task {task!r}; choose from: {', '.join(task_names())}"
        )
    return tasks[task](seed=seed, data_dir=data_dir, budgets=budgets)


# -- one run ---------------------------------------------------------------------------
def _run_one(
    task: str, strategy: str, seed: int, trials: int, data_dir: str | None, budgets: tuple[str, ...]
) -> dict[str, Any]:
    import optuna
    from optuna.trial import TrialState

    from quarch.search import make_sampler
    from quarch.study import trial_seed

    inst = build_task(task, seed=seed, data_dir=data_dir, budgets=budgets)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0, c0 = time.perf_counter(), time.process_time()
    sampler = make_sampler(strategy, seed=seed, space=inst.space, objective=inst.objective)
    study = optuna.create_study(directions=inst.objective.directions, sampler=sampler)
    sign = 1.0 if inst.objective.directions[0] == "minimize" else -1.0
    best_loss, best_arch = math.inf, None
    picks: list[dict[str, Any] | None] = []
    for _ in range(trials):
        trial = study.ask()
        try:
            arch = inst.space.suggest(trial)
            metrics = inst.evaluator.evaluate(arch, seed=trial_seed(seed, trial.number))
            values = inst.objective.values(metrics)
            cons = inst.objective.constraints(metrics)
        except Exception as e:  # a trial's failure is a wasted query, not the end of a run
            trial.set_user_attr("fail_reason", f"{type(e).__name__}: {e}")
            study.tell(trial, state=TrialState.FAIL)
            picks.append(best_arch)
            continue
        trial.set_user_attr("metrics", metrics)
        for k, g in cons.items():
            trial.set_constraint(k, g)
        study.tell(trial, values)
        loss = sign * values[0]
        if all(g <= 0 for g in cons.values()) and loss < best_loss:
            best_loss, best_arch = loss, arch
        picks.append(best_arch)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # Judging happens after the search, on the picks only.
    curve = [inst.judge(a) if a is not None else math.nan for a in picks]
    reach = [
        q + 1
        for q, s in enumerate(curve)
        if not math.isnan(s) and (s >= inst.target if inst.maximize else s <= inst.target)
    ]
    score = curve[-1] if curve else math.nan
    regret = (inst.optimum - score) if inst.maximize else (score - inst.optimum)
    return {
        "strategy": strategy,
        "seed": seed,
        "score": score,
        "regret": regret,
        "queries_to_target": reach[0] if reach else None,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "picked": "" if best_arch is None else _arch_label(best_arch),
        "optimum": inst.optimum,
        "curve": curve,
    }


def _arch_label(arch: Mapping[str, Any]) -> str:
    if all(str(k).startswith("edge_") for k in arch):
        from quarch.spaces.nb201.space import nb201_arch_str

        return nb201_arch_str(arch)
    return ",".join(f"{k}={v}" for k, v in arch.items())


def _run_job(job: tuple[str, str, int, int, str | None, tuple[str, ...]]) -> dict[str, Any]:
    return _run_one(*job)


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


# -- the result ------------------------------------------------------------------------
@dataclass
class BenchmarkResult:
    """Everything a benchmark measured.

    Attributes:
        task (str): the task name.
        strategies (list[str]): strategies in the order given.
        seeds (int): seeds per strategy (``0..seeds-1``).
        trials (int): queries per run.
        budgets (list[str]): budgets of the objective.
        maximize (bool): whether a larger judged score is better.
        score_name (str): what the judged score is.
        target (float): the judged score counted as reaching the target.
        energy_method (str): how energy was obtained.
        rows (list[dict]): one dict per (strategy, seed) run, without its curve.
        curves (dict[str, np.ndarray]): judged score of the pick after each query,
            shape ``(seeds, trials)`` per strategy (NaN before a feasible pick).
        energy_j (dict[str, float]): energy per strategy (J).
        wall_seconds (float): wall time of the whole benchmark.
        out (Path | None): folder with ``results.csv``, ``curves.csv`` and the plot.
    """

    task: str
    strategies: list[str]
    seeds: int
    trials: int
    budgets: list[str]
    maximize: bool
    score_name: str
    target: float
    energy_method: str
    rows: list[dict[str, Any]]
    curves: dict[str, np.ndarray]
    energy_j: dict[str, float]
    wall_seconds: float
    out: Path | None = None
    optima: list[float] = field(default_factory=list)

    def summary(self, strategy: str) -> dict[str, Any]:
        """Aggregates of one strategy's runs (NaN-safe; infeasible runs are left out)."""
        rs = [r for r in self.rows if r["strategy"] == strategy]
        scores = np.array([r["score"] for r in rs], dtype=float)
        ok = ~np.isnan(scores)
        regrets = np.array([r["regret"] for r in rs], dtype=float)[ok]
        reach = [r["queries_to_target"] for r in rs if r["queries_to_target"] is not None]
        seconds = float(sum(r["seconds"] for r in rs))

        def f(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        return {
            "mean": f(float(scores[ok].mean())) if ok.any() else None,
            "std": f(float(scores[ok].std(ddof=1))) if ok.sum() > 1 else 0.0,
            "regret": f(float(regrets.mean())) if ok.any() else None,
            "seconds": seconds,
            "queries_to_target": float(np.mean(reach)) if reach else None,
            "reached": len(reach),
            "feasible": int(ok.sum()),
            "runs": len(rs),
            "energy_j": self.energy_j.get(strategy, 0.0),
        }

    def to_json(self) -> dict[str, Any]:
        """``{"task", "strategies": {NAME: {mean, std, regret, seconds, ...}}, ...}``."""
        return {
            "task": self.task,
            "strategies": {s: self.summary(s) for s in self.strategies},
            "score": self.score_name,
            "maximize": self.maximize,
            "seeds": self.seeds,
            "trials": self.trials,
            "budgets": list(self.budgets),
            "optimum": float(np.mean(self.optima)) if self.optima else None,
            "target": self.target,
            "energy_method": self.energy_method,
            "wall_seconds": self.wall_seconds,
            "out": None if self.out is None else str(self.out),
        }

    def table(self) -> Table:
        """A rich table with one row per strategy."""
        from rich.table import Table

        tgt = "optimum" if self.task == "synthetic-qubo" else f"{self.target:.2f}"
        budget = f", budgets {', '.join(self.budgets)}" if self.budgets else ""
        t = Table(
            title=f"{self.task}: {self.seeds} seeds x {self.trials} queries{budget}",
            caption=(
                f"score = {self.score_name} of the pick (search sees only val_error); "
                f"energy: {self.energy_method}"
            ),
        )
        for col in (
            "strategy",
            "mean",
            "std",
            "regret",
            f"queries to {tgt}",
            "seconds",
            "energy J",
        ):
            t.add_column(col, justify="left" if col == "strategy" else "right")
        for s in self.strategies:
            m = self.summary(s)
            fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            q = m["queries_to_target"]
            qs = "-" if q is None else f"{q:.1f} ({m['reached']}/{m['runs']})"
            feas = "" if m["feasible"] == m["runs"] else f" [{m['feasible']} feasible]"
            t.add_row(
                s + feas,
                fmt(m["mean"]),
                fmt(m["std"]),
                fmt(m["regret"]),
                qs,
                f"{m['seconds']:.1f}",
                f"{m['energy_j']:.0f}",
            )
        return t


# -- energy ----------------------------------------------------------------------------
class _Meter:
    """CodeCarbon's tracker when installed (sequential runs), else CPU time x watts."""

    def __init__(self, use_codecarbon: bool) -> None:
        self.tracker: Any = None
        if use_codecarbon:
            try:
                from codecarbon import OfflineEmissionsTracker

                self.tracker = OfflineEmissionsTracker(
                    country_iso_code="USA", save_to_file=False, log_level="error"
                )
            except Exception:  # not installed or no readable meter: fall back
                self.tracker = None

    @property
    def method(self) -> str:
        if self.tracker is not None:
            return "CodeCarbon (measured)"
        return f"CPU time x {CPU_WATTS:g} W (no CodeCarbon meter)"

    def measure(self, fn: Callable[[], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], float]:
        if self.tracker is not None:
            try:
                self.tracker.start()
                rows = fn()
                self.tracker.stop()
                return rows, float(self.tracker._total_energy.kWh) * 3.6e6
            except Exception:
                self.tracker = None
        rows = fn()
        return rows, sum(r["cpu_seconds"] for r in rows) * CPU_WATTS


# -- the harness -----------------------------------------------------------------------
def run_benchmark(
    *,
    task: str,
    strategies: Sequence[str],
    seeds: int,
    trials: int,
    data_dir: str | None = None,
    budgets: Sequence[str] = (),
    out: str | None = None,
    progress: bool = True,
    workers: int = 1,
) -> BenchmarkResult:
    """Run every strategy on seeds ``0..seeds-1`` of ``task`` for ``trials`` queries each.

    Args:
        task: one of :func:`task_names`.
        strategies: registered strategy names (``quarch.search.STRATEGIES``).
        seeds: runs per strategy, >= 1.
        trials: queries per run, >= 1.
        data_dir: folder holding ``nb201/`` (nb201 tasks).
        budgets: hard limits such as ``raspi4<=20``; picks must meet them.
        out: folder for ``results.csv``, ``curves.csv`` and ``best_so_far.png``
            (default ``runs/benchmark-<task>``).
        progress: show a progress bar on stderr.
        workers: processes running (strategy, seed) pairs in parallel (each with one
            thread); 1 runs them in this process.

    Returns:
        The :class:`BenchmarkResult`.

    Raises:
        ConfigError: an unknown task or strategy, a malformed budget, or bad counts.
        DataError: the nb201 table files are missing.
    """
    from quarch.search import STRATEGIES

    if task not in task_names():
        raise ConfigError(
            f"unknown benchmark task {task!r}; choose from: {', '.join(task_names())}"
        )
    names = list(strategies)
    if not names:
        raise ConfigError(f"no strategies given; choose from: {', '.join(STRATEGIES.names())}")
    unknown = [s for s in names if s not in STRATEGIES]
    if unknown:
        raise ConfigError(
            f"unknown strategy {', '.join(map(repr, unknown))}; "
            f"choose from: {', '.join(STRATEGIES.names())}"
        )
    for label, v in (("seeds", seeds), ("trials", trials), ("workers", workers)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ConfigError(f"{label} must be a positive integer; got {v!r}")
    bud = tuple(budgets)
    # Build (and cache) the task here: errors surface before any run, and forked
    # workers inherit the loaded table.
    base = build_task(task, seed=0, data_dir=data_dir, budgets=bud)

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn(f"[bold]benchmark {task}"),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(file=sys.stderr),
        disable=not progress,
    )
    jobs = {s: [(task, s, k, trials, data_dir, bud) for k in range(seeds)] for s in names}
    rows: list[dict[str, Any]] = []
    energy: dict[str, float] = {}
    t0 = time.perf_counter()
    with bar:
        tid = bar.add_task("", total=len(names) * seeds)
        if workers == 1:
            meter = _Meter(use_codecarbon=True)
            for s in names:
                bar.update(tid, description=s)

                def run_all(s: str = s) -> list[dict[str, Any]]:
                    out_rows = []
                    for job in jobs[s]:
                        out_rows.append(_run_job(job))
                        bar.advance(tid)
                    return out_rows

                got, energy[s] = meter.measure(run_all)
                rows += got
            method = meter.method
        else:
            import multiprocessing as mp

            method_ctx = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
            ctx = mp.get_context(method_ctx)
            all_jobs = [j for s in names for j in jobs[s]]
            with ctx.Pool(workers, initializer=_init_worker) as pool:
                for r in pool.imap_unordered(_run_job, all_jobs):
                    rows.append(r)
                    bar.update(tid, description=r["strategy"], advance=1)
            for s in names:
                energy[s] = sum(r["cpu_seconds"] for r in rows if r["strategy"] == s) * CPU_WATTS
            method = f"CPU time x {CPU_WATTS:g} W (no CodeCarbon meter in parallel runs)"
    wall = time.perf_counter() - t0
    order = {s: i for i, s in enumerate(names)}
    rows.sort(key=lambda r: (order[r["strategy"]], r["seed"]))
    curves = {
        s: np.array([r["curve"] for r in rows if r["strategy"] == s], dtype=float) for s in names
    }
    optima = sorted({r["optimum"] for r in rows})
    for r in rows:
        del r["curve"]
    result = BenchmarkResult(
        task=task,
        strategies=names,
        seeds=seeds,
        trials=trials,
        budgets=list(bud),
        maximize=base.maximize,
        score_name=base.score_name,
        target=base.target,
        energy_method=method,
        rows=rows,
        curves=curves,
        energy_j=energy,
        wall_seconds=wall,
        optima=optima,
    )
    out_dir = Path(out) if out else Path("runs") / f"benchmark-{task}"
    _write(result, out_dir)
    result.out = out_dir
    return result


def _write(result: BenchmarkResult, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = list(result.rows[0]) if result.rows else []
    with open(out_dir / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(result.rows)
    with open(out_dir / "curves.csv", "w", newline="") as f:
        w2 = csv.writer(f)
        w2.writerow(["strategy", "query", "mean", "ci95_low", "ci95_high", "runs"])
        for s, c in result.curves.items():
            mean, lo, hi, n = _band(c)
            for q in range(c.shape[1]):
                w2.writerow([s, q + 1, mean[q], lo[q], hi[q], n[q]])
    _plot(result, out_dir / "best_so_far.png")


def _band(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% normal confidence band per query, ignoring NaN (no pick yet)."""
    n = np.sum(~np.isnan(c), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(n > 0, np.nansum(c, axis=0), np.nan)
        mean = s / np.where(n > 0, n, 1)
        var = np.nansum((c - mean) ** 2, axis=0) / np.maximum(n - 1, 1)
        half = 1.96 * np.sqrt(var / np.maximum(n, 1))
    return mean, mean - half, mean + half, n


def _plot(result: BenchmarkResult, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        from quarch._warnings import warn

        warn("matplotlib is not installed; the benchmark plot was skipped")
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for s, c in result.curves.items():
        mean, lo, hi, _ = _band(c)
        x = np.arange(1, c.shape[1] + 1)
        ax.plot(x, mean, label=s)
        ax.fill_between(x, lo, hi, alpha=0.2)
    ax.set_xlabel("queries")
    ax.set_ylabel(f"{result.score_name} of the pick")
    budget = f" ({', '.join(result.budgets)})" if result.budgets else ""
    ax.set_title(f"{result.task}{budget}: mean best-so-far, 95% band, {result.seeds} seeds")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
