"""How a run and its result read as a notebook cell's last expression.

A :class:`~quarch.study.SearchResult` is a dataclass: its generated ``repr`` printed
the whole config and every trial with every field (some 5,000 characters for 12
trials), and :class:`~quarch.study.Run` printed ``<quarch.study._run.Run at 0x...>``.
As PennyLane's ``<QNode: device=..., interface=..., diff_method=...>`` names what a
QNode is, these name what a run is (its folder, space, strategy, budget) and what a
result holds (trial counts, the Pareto set, the best trial); a notebook also gets the
Pareto set as a small HTML table. Nothing here reads a file.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quarch.config import SearchConfig

# A result and its trials are ``Any`` here, not ``SearchResult``/``TrialRecord``: their
# module imports this one (their reprs), and tests/test_imports.py counts an import under
# TYPE_CHECKING in a cycle too.

__all__ = ["result_html", "result_repr", "run_repr"]

#: Pareto trials an HTML table shows before it says how many more there are.
HTML_ROWS = 10


def run_repr(path: str, config: SearchConfig) -> str:
    """``<Run 'runs/x': space='mlp', strategy='qiea', trials=6, objectives=...>``."""
    return (
        f"<Run {path!r}: space={config.space!r}, strategy={config.strategy!r}, "
        f"trials={config.trials}, objectives={','.join(config.objectives)}>"
    )


def _number(x: float) -> str:
    """A metric as a person reads it: a count as an integer (16384, not 1.638e+04),
    anything else to 4 significant digits."""
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.4g}"


def _metrics(t: Any, names: list[str]) -> str:
    return " ".join(f"{m}={_number(t.metrics[m])}" for m in names if m in t.metrics)


def result_repr(result: Any) -> str:
    """One line: the run, its trials by state, the Pareto set's size and the best
    trial with its metrics and architecture."""
    counts = [f"{len(result.complete)} complete"]
    for word, group in (("pruned", result.pruned), ("failed", result.failed)):
        if group:
            counts.append(f"{len(group)} {word}")
    best = result.best
    names = list(result.objective.metrics)
    told = (
        "no feasible trial"
        if best is None
        else f"best #{best.number} {_metrics(best, names)} {best.params}"
    )
    return (
        f"<SearchResult {str(result.run_dir)!r}: {len(result.trials)}/{result.config.trials}"
        f" trials ({', '.join(counts)}), {len(result.pareto)} Pareto; {told}>"
    )


def result_html(result: Any) -> str:
    """:func:`result_repr` as a heading, and the Pareto trials as a table (the first
    :data:`HTML_ROWS`; a line says how many more)."""
    names = list(result.objective.metrics)
    front = result.pareto
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["trial", *names, "architecture"])
    rows = []
    for t in front[:HTML_ROWS]:
        cells = [str(t.number), *(_number(t.metrics[m]) for m in names)]  # a Pareto trial has all
        arch = ", ".join(f"{k}={v}" for k, v in t.params.items())
        tds = "".join(f"<td>{html.escape(c)}</td>" for c in [*cells, arch])
        rows.append(f"<tr>{tds}</tr>")
    more = len(front) - HTML_ROWS
    tail = f"<p>{more} more Pareto trials: <code>result.pareto</code></p>" if more > 0 else ""
    table = (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else ""
    )
    return f"<p><code>{html.escape(result_repr(result))}</code></p>{table}{tail}"
