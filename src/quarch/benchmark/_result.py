"""What a benchmark measured: per-strategy aggregates, comparisons with the best
classical strategy, the table, and the files (CSV, plot)."""

from __future__ import annotations

import csv
import functools
import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch._software import software
from quarch.benchmark._stats import ALPHA, Comparison, compare

if TYPE_CHECKING:
    from rich.table import Table

__all__ = ["BENCHMARK_FILES", "BenchmarkResult"]

#: What :meth:`BenchmarkResult.write` puts in a benchmark's folder: the tables, the
#: plot, and ``benchmark.json`` (what ``--json`` prints, the software that made the runs
#: included), so that a folder of results says what made them without its terminal.
BENCHMARK_FILES = ("results.csv", "curves.csv", "best_so_far.png", "benchmark.json")


@dataclass
class BenchmarkResult:
    """Everything a benchmark measured.

    Attributes:
        task (str): the task name.
        strategies (list[str]): strategies in the order given.
        seeds (int): seeds per strategy (``first_seed .. first_seed + seeds - 1``).
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
        optima (list[float]): the distinct optima of the runs (one per seed for tasks
            that draw an instance per seed).
        oracle (float | None): judged score of the best pick by the search's signal.
        oracle_label (str): what that pick is.
        kinds (dict[str, str]): each strategy's kind (``quarch.search.strategy_kind``).
        first_seed (int): the first seed.
        software (dict | None): the software that made the runs
            (:func:`quarch._software.software`; by default this process's): that of the
            first runs when a stopped benchmark's kept runs were taken, ``None`` when
            runs kept by a quarch that did not record it were.
        software_changes (list[dict]): each rerun with other software, as ``run.json``
            records a resume's (``{"resumed": time, "changed": {name: [then, now]}}``).
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
    oracle: float | None = None
    oracle_label: str = ""
    kinds: dict[str, str] = field(default_factory=dict)
    first_seed: int = 0
    software: dict[str, str | None] | None = field(default_factory=software)
    software_changes: list[dict[str, Any]] = field(default_factory=list)

    def scores(self, strategy: str) -> np.ndarray:
        """Final judged score of each of ``strategy``'s runs, by seed."""
        return np.array([r["score"] for r in self.rows if r["strategy"] == strategy], dtype=float)

    def summary(self, strategy: str) -> dict[str, Any]:
        """Aggregates of one strategy's runs (NaN-safe; infeasible runs are left out)."""
        rs = [r for r in self.rows if r["strategy"] == strategy]
        scores = self.scores(strategy)
        ok = ~np.isnan(scores)
        regrets = np.array([r["regret"] for r in rs], dtype=float)[ok]
        reach = [r["queries_to_target"] for r in rs if r["queries_to_target"] is not None]

        def f(x: float) -> float | None:
            return None if math.isnan(x) else float(x)

        def total(key: str) -> float:
            return float(sum(r.get(key, 0.0) for r in rs))

        out: dict[str, Any] = {
            "kind": self.kinds.get(strategy, "other"),
            "mean": f(float(scores[ok].mean())) if ok.any() else None,
            # one feasible run has no spread to measure: None ("-"), not a spread of 0
            "std": f(float(scores[ok].std(ddof=1))) if ok.sum() > 1 else None,
            "regret": f(float(regrets.mean())) if ok.any() else None,
            "oracle_gap": (
                None
                if self.oracle is None or not ok.any()
                else float(
                    (scores[ok].mean() - self.oracle)
                    if self.maximize
                    else (self.oracle - scores[ok].mean())
                )
            ),
            "seconds": total("seconds"),
            "sampler_seconds": total("sampler_seconds"),
            "eval_seconds": total("eval_seconds"),
            "queries": total("queries") / max(len(rs), 1),
            "skipped": total("skipped") / max(len(rs), 1),
            "queries_to_target": float(np.mean(reach)) if reach else None,
            "reached": len(reach),
            "feasible": int(ok.sum()),
            "runs": len(rs),
            "energy_j": self.energy_j.get(strategy, 0.0),
        }
        ref = self.reference
        cmp = self.comparisons.get(strategy)
        if ref is not None and cmp is not None:
            out["vs"] = {
                "reference": ref,
                "difference": cmp.difference,
                "ci95": [cmp.low, cmp.high],
                "p_value": cmp.p_value,
                "significant": cmp.significant,
            }
        return out

    @property
    def reference(self) -> str | None:
        """The best classical strategy of the run by mean final score, if any."""
        return self._reference()

    def _reference(self) -> str | None:
        # reference's body, undecorated: mutmut 3 mutates no decorated function
        classical = [s for s in self.strategies if self.kinds.get(s) == "classical"]
        means = {
            s: np.nanmean(self.scores(s)) for s in classical if np.isfinite(self.scores(s)).any()
        }
        if not means:
            return None
        pick = max if self.maximize else min
        return pick(means, key=lambda s: means[s])

    @functools.cached_property
    def comparisons(self) -> dict[str, Comparison]:
        """Every other strategy against :attr:`reference` (bootstrap CI, rank-sum)."""
        return self._comparisons()

    def _comparisons(self) -> dict[str, Comparison]:
        # comparisons's body, undecorated: mutmut 3 mutates no decorated function
        ref = self.reference
        if ref is None:
            return {}
        out = {}
        for s in self.strategies:
            if s == ref:
                continue
            c = compare(self.scores(s), self.scores(ref), maximize=self.maximize)
            if c is not None:
                out[s] = c
        return out

    def compare(self, a: str, b: str) -> Comparison | None:
        """Strategy ``a`` against strategy ``b`` (positive difference: ``a`` is better)."""
        return compare(self.scores(a), self.scores(b), maximize=self.maximize)

    def to_json(self) -> dict[str, Any]:
        """``{"task", "strategies": {NAME: {mean, std, regret, vs, ...}}, ...}``, and
        ``software_changes`` when a rerun with other software took kept runs."""
        out = {
            "task": self.task,
            "strategies": {s: self.summary(s) for s in self.strategies},
            "score": self.score_name,
            "maximize": self.maximize,
            "seeds": self.seeds,
            "first_seed": self.first_seed,
            "trials": self.trials,
            "budgets": list(self.budgets),
            "optimum": float(np.mean(self.optima)) if self.optima else None,
            "oracle": self.oracle,
            "oracle_label": self.oracle_label,
            "reference": self.reference,
            "target": self.target,
            "energy_method": self.energy_method,
            "wall_seconds": self.wall_seconds,
            "out": None if self.out is None else str(self.out),
            "software": self.software,  # what made the numbers (as a run's run.json)
        }
        if self.software_changes:
            out["software_changes"] = self.software_changes
        return out

    def table(self) -> Table:
        """A rich table with one row per strategy; ``*`` marks a gap to the best
        classical strategy with a rank-sum p-value below 0.05. Scores show the smallest
        one to three significant digits (:func:`_decimals`)."""
        from rich.table import Table

        summaries = {s: self.summary(s) for s in self.strategies}
        d = _decimals([*(m["mean"] for m in summaries.values()), *self.optima, self.oracle])
        tgt = "optimum" if self.task == "synthetic-qubo" else f"{self.target:.3g}"
        budget = f", budgets {', '.join(self.budgets)}" if self.budgets else ""
        opt = float(np.mean(self.optima)) if self.optima else math.nan
        oracle = "" if self.oracle is None else f"; oracle pick {self.oracle:.{d}f}"
        if self.oracle_label and self.oracle is not None:
            oracle += f" ({self.oracle_label})"
        ref = self.reference
        # both signed so that positive is better, whichever way the score points
        ahead = "mean minus {}" if self.maximize else "{} minus mean"
        gap = "" if self.oracle is None else f"oracle gap = {ahead.format('the oracle pick')}; "
        t = Table(
            title=f"{self.task}: {self.seeds} seeds x {self.trials} queries{budget}",
            caption=(
                f"score = {self.score_name} of the pick (the search never sees it); "
                f"optimum {opt:.{d}f}{oracle}. {gap}"
                + (
                    f"diff = {ahead.format(f'the mean of {ref}')} ({ref}: the best "
                    f"classical; positive: better), 95% bootstrap CI; "
                    f"p = rank-sum; * p < {ALPHA} and the CI excludes 0. "
                    if ref
                    else ""
                )
                + "seconds = sampler + evaluations (all seeds); queries (+ skipped before "
                f"training) per run; energy: {self.energy_method}"
            ),
        )
        cols = ["strategy", "kind", "mean", "std", "oracle gap", "diff [95% CI]", "p"]
        cols += [f"queries to {tgt}", "seconds", "queries (+skipped)", "energy J"]
        for col in cols:
            t.add_column(col, justify="left" if col in ("strategy", "kind") else "right")
        fmt = lambda v: "-" if v is None else f"{v:.{d}f}"  # noqa: E731
        for s in self.strategies:
            m = summaries[s]
            q = m["queries_to_target"]
            qs = "-" if q is None else f"{q:.1f} ({m['reached']}/{m['runs']})"
            feas = "" if m["feasible"] == m["runs"] else f" [{m['feasible']} feasible]"
            cmp = self.comparisons.get(s)
            if s == ref:
                diff, p = "(reference)", ""
            elif cmp is None:
                diff, p = "-", "-"
            else:
                mark = "*" if cmp.significant else ""
                low, mid, high = (_signed(v, d) for v in (cmp.low, cmp.difference, cmp.high))
                diff = f"{mid}{mark} [{low}, {high}]"
                p = f"{cmp.p_value:.3g}"
            t.add_row(
                s + feas,
                m["kind"],
                fmt(m["mean"]),
                fmt(m["std"]),
                fmt(m["oracle_gap"]),
                diff,
                p,
                qs,
                f"{m['sampler_seconds']:.1f} + {m['eval_seconds']:.1f}",
                f"{m['queries']:.0f} (+{m['skipped']:.1f})",
                f"{m['energy_j']:.0f}",
            )
        return t

    # -- files ---------------------------------------------------------------------------
    def write(self, out_dir: Path) -> None:
        """``results.csv`` (one row per run), ``curves.csv`` (mean and 95% band per
        query), ``best_so_far.png`` and ``benchmark.json`` (:meth:`to_json`, ``out``
        naming ``out_dir``) in ``out_dir``, replacing a previous benchmark's.

        The four are written into a hidden folder inside ``out_dir`` and moved into
        place only when all are whole, so a Ctrl-C or an error while they are written
        leaves the previous benchmark's files as they were (or, in a folder this call
        made, nothing), never new tables beside an old plot. Other files in ``out_dir``
        are left alone.
        """
        made = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        part = Path(tempfile.mkdtemp(prefix=".writing-", dir=out_dir))
        try:
            self._write_files(part)
            record = {**self.to_json(), "out": str(out_dir)}
            (part / "benchmark.json").write_text(json.dumps(record, indent=2) + "\n")
            for name in BENCHMARK_FILES:  # a file the new write lacks (no plot) goes too
                if (part / name).exists():
                    os.replace(part / name, out_dir / name)
                else:
                    (out_dir / name).unlink(missing_ok=True)
        finally:
            shutil.rmtree(part, ignore_errors=True)
            if made and not any(out_dir.iterdir()):
                out_dir.rmdir()

    def _write_files(self, out_dir: Path) -> None:
        keys = list(self.rows[0]) if self.rows else []
        with open(out_dir / "results.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            w.writerows(self.rows)
        with open(out_dir / "curves.csv", "w", newline="") as f:
            w2 = csv.writer(f)
            w2.writerow(["strategy", "query", "mean", "ci95_low", "ci95_high", "runs"])
            for s, c in self.curves.items():
                mean, lo, hi, n = _band(c)
                for q in range(c.shape[1]):
                    w2.writerow([s, q + 1, mean[q], lo[q], hi[q], n[q]])
        self._plot(out_dir / "best_so_far.png")

    def _plot(self, path: Path) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            from quarch._warnings import warn

            warn("matplotlib is not installed; the benchmark plot was skipped")
            return
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for s, c in self.curves.items():
            mean, lo, hi, _ = _band(c)
            x = np.arange(1, c.shape[1] + 1)
            ax.plot(x, mean, label=s)
            ax.fill_between(x, lo, hi, alpha=0.2)
        if self.oracle is not None:
            ax.axhline(self.oracle, color="k", ls=":", lw=1, label="oracle pick")
        ax.set_xlabel("queries")
        ax.set_ylabel("score of the pick")
        budget = f" ({', '.join(self.budgets)})" if self.budgets else ""
        ax.set_title(f"{self.task}{budget}: mean best-so-far, 95% band, {self.seeds} seeds")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)


def _signed(value: float, decimals: int) -> str:
    """``value`` with its sign at ``decimals`` places; one that rounds to zero is
    ``+0.000``, never ``-0.000`` (a difference too small to show has no side)."""
    return f"{round(value, decimals) + 0.0:+.{decimals}f}"


def _decimals(values: list[float | None]) -> int:
    """Decimals that show the smallest nonzero score among ``values`` to three
    significant digits, and never fewer than three: a task scored in fractions of a
    percent (an error of 0.00123) would print as 0.001 beside 0.002 with three alone.

    Example:
        >>> _decimals([12.5, 0.5, None]), _decimals([0.00123, 0.5]), _decimals([0.0, None])
        (3, 5, 3)
    """
    small = [abs(v) for v in values if v is not None and math.isfinite(v) and v != 0]
    if not small:
        return 3
    return max(3, 2 - math.floor(math.log10(min(small))))


def _band(c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% normal confidence band per query, ignoring NaN (no pick yet)."""
    n = np.sum(~np.isnan(c), axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = np.where(n > 0, np.nansum(c, axis=0), np.nan)
        mean = s / np.where(n > 0, n, 1)
        var = np.nansum((c - mean) ** 2, axis=0) / np.maximum(n - 1, 1)
        half = 1.96 * np.sqrt(var / np.maximum(n, 1))
        return mean, mean - half, mean + half, n
