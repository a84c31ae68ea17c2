"""The figures of a run report, drawn with matplotlib (Agg, no display needed)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from quarch.study import SearchResult, TrialRecord

__all__ = [
    "best_so_far",
    "choices_grid",
    "importance_bars",
    "pareto_fronts",
]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _margins(fig: Any, left: float, bottom: float, right: float = 0.15, top: float = 0.35) -> None:
    """Margins in inches (tick labels, axis label, title), instead of ``tight_layout``:
    that draws the figure once more to measure it, and the report's few fixed-size
    plots do not need it. Wider at the left where the y axis' own labels need it
    (measured on that axis alone, about 9 ms): 7-character ticks such as ``0.00045``
    pushed the axis' name off the figure's left edge."""
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=left / w, right=1 - right / w, bottom=bottom / h, top=1 - top / h)
    renderer = fig.canvas.get_renderer()
    gap = 0.05 * fig.dpi  # px kept free at the figure's left edge
    out = max((gap - ax.yaxis.get_tightbbox(renderer).x0 for ax in fig.axes), default=0.0)
    if out > 0:
        fig.subplots_adjust(left=(left + out / fig.dpi) / w)


def _log_if_spread(ax: Any, axis: str, values: Sequence[float]) -> None:
    """A log axis when ``values`` span two decades or more (params, FLOPs, latencies);
    symlog when some are zero, so they stay on the plot."""
    vals = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    if vals.size < 2 or vals.min() < 0:
        return
    pos = vals[vals > 0]
    if pos.size == 0 or pos.max() / pos.min() < 100:
        return
    setter = ax.set_xscale if axis == "x" else ax.set_yscale
    if vals.min() > 0:
        setter("log")
    else:
        setter("symlog", linthresh=float(pos.min()))


def _budget_lines(ax: Any, result: SearchResult, x: str, y: str) -> None:
    """Dashed red lines at the budgets on the plotted metrics (feasible side: below/left)."""
    for b in result.objective.budgets:
        for metric, line in ((x, ax.axvline), (y, ax.axhline)):
            if b.metric == metric:
                line(b.limit, color="tab:red", ls="--", lw=1, label=f"budget {b}")


def pareto_fronts(result: SearchResult) -> list[tuple[str, Figure]]:
    """One scatter per pair of objective metrics, Pareto points highlighted, trials
    over a budget marked apart, budgets drawn, and log axes where values span decades."""
    plt = _plt()
    names = list(result.objective.metrics)
    done = [t for t in result.complete if all(n in t.metrics for n in names)]
    front = {t.number for t in result.pareto}
    pairs = list(itertools.combinations(names, 2)) or [(names[0], names[0])]
    figs = []
    for x, y in pairs:
        fig, ax = plt.subplots(figsize=(5.2, 4.0), dpi=110)
        for feasible, marker in ((True, "o"), (False, "x")):
            pts = [t for t in done if t.feasible == feasible and t.number not in front]
            if pts:
                ax.scatter(
                    [t.metrics[x] for t in pts],
                    [t.metrics[y] for t in pts],
                    s=18,
                    marker=marker,
                    color="0.6" if feasible else "tab:red",
                    alpha=0.7,
                    label="trial" if feasible else "over budget",
                )
        fr = sorted((t for t in done if t.number in front), key=lambda t: t.metrics[x])
        if fr:
            ax.plot(
                [t.metrics[x] for t in fr],
                [t.metrics[y] for t in fr],
                "-o",
                color="tab:blue",
                ms=5,
                label="Pareto set",
            )
        _budget_lines(ax, result, x, y)
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        _log_if_spread(ax, "x", [t.metrics[x] for t in done])
        _log_if_spread(ax, "y", [t.metrics[y] for t in done])
        ax.set_title(f"{y} vs {x}")
        ax.legend(fontsize=8)
        _margins(fig, left=0.85, bottom=0.55)
        figs.append((f"pareto_{x}_vs_{y}", fig))
    return figs


def best_so_far(result: SearchResult) -> Figure:
    """Best feasible value of the first objective (or the weighted cost) by trial number;
    every complete trial as a dot, those over a budget as red crosses (they never
    count as best)."""
    plt = _plt()
    obj = result.objective
    name = obj.names[0]
    sign = 1.0 if obj.directions[0] == "minimize" else -1.0
    xs, ys, best = [], [], None
    for t in sorted(result.complete, key=lambda t: t.number):
        if not t.feasible or t.values is None:
            continue
        v = t.values[0]
        best = v if best is None else (min(best, v) if sign > 0 else max(best, v))
        xs.append(t.number)
        ys.append(best)
    fig, ax = plt.subplots(figsize=(5.2, 3.6), dpi=110)
    if xs:
        ax.step(xs, ys, where="post", color="tab:blue", label="best feasible so far")
    for feasible, marker, color, label in (
        (True, "o", "0.6", "trial"), (False, "x", "tab:red", "over budget (infeasible)")
    ):  # fmt: skip
        pts = [t for t in result.complete if t.values is not None and t.feasible == feasible]
        if pts:
            ys_ = [t.values[0] for t in pts if t.values is not None]
            ax.scatter([t.number for t in pts], ys_, s=14 if feasible else 22,
                       marker=marker, color=color, alpha=0.7, label=label)  # fmt: skip
    _log_if_spread(ax, "y", [t.values[0] for t in result.complete if t.values is not None])
    ax.set_xlabel("trial")
    ax.set_ylabel(name)
    ax.set_title(f"best {name} so far")
    ax.legend(fontsize=8)
    _margins(fig, left=0.85, bottom=0.55)
    return fig


def choices_grid(result: SearchResult, choices: Sequence[Any], used: Any = None) -> Figure:
    """One panel per choice: the first objective metric of every complete trial
    against the option it took (Optuna's slice plot), so each axis reads in the
    options' own names. Trials that do not use a choice (``used(params)`` lacks it:
    the width of a layer the net does not have) are left out of its panel."""
    plt = _plt()
    metric = result.objective.metrics[0]
    trials = [t for t in result.complete if metric in t.metrics]
    cols = 4
    rows = max(1, -(-len(choices) // cols))
    # each panel's option labels, flat or (more text than a panel's width holds flat)
    # turned 60 degrees, smaller for 8 options or more
    ticks = []
    for c in choices:
        labels = [_short(str(o)) for o in c.options]
        ticks.append((labels, 7 if len(labels) < 8 else 6, sum(map(len, labels)) > 24))
    # panels 2.7 x 1.25 in, rows 0.85 in apart, 0.7 in below the last row, or more where
    # the longest label reaches further down (a rotated "nor_conv_3x3" does: it ran into
    # the next row's titles and off the figure's bottom): the labels and a panel title
    # fit between rows. One y scale for all (the same metric), labelled on the left.
    # Margins in inches instead of tight_layout, which drew the figure once more to
    # measure it: half of the report's time for a space of 21 choices.
    depth = max((_labels_depth(*t) for t in ticks), default=0.0)
    panel_w, panel_h, gap_w = 2.7, 1.25, 0.3
    gap_h = max(0.85, depth + 0.3)  # a panel title: 8 pt and its 6 pt pad, and a gap
    left, right, top, bottom = 0.8, 0.15, 0.75, max(0.7, depth + 0.1)
    width = left + right + cols * panel_w + (cols - 1) * gap_w
    height = top + bottom + rows * panel_h + (rows - 1) * gap_h
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, height), dpi=100, squeeze=False, sharey=True
    )
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=gap_w / panel_w,
        hspace=gap_h / panel_h,
    )
    rng = np.random.default_rng(0)
    for ax, c, (labels, size, crowded) in zip(axes.flat, choices, ticks, strict=False):
        opts = list(c.options)
        pts = [t for t in trials if c.name in (used(t.params) if used else t.params)]
        xs = [opts.index(t.params[c.name]) if t.params[c.name] in opts else -1 for t in pts]
        keep = [(x, t) for x, t in zip(xs, pts, strict=True) if x >= 0]
        if keep:
            jitter = rng.uniform(-0.15, 0.15, len(keep))
            ax.scatter([x + j for (x, _), j in zip(keep, jitter, strict=True)],
                       [t.metrics[metric] for _, t in keep], s=10, alpha=0.6, color="tab:blue")  # fmt: skip
        ax.set_xticks(range(len(opts)))
        ax.set_xticklabels(labels, fontsize=size, rotation=60 if crowded else 0,
                           ha="right" if crowded else "center")  # fmt: skip
        ax.set_xlim(-0.6, len(opts) - 0.4)
        ax.set_title(c.name, fontsize=8)
        if ax.get_subplotspec().is_first_col():
            ax.tick_params(axis="y", labelsize=7)
        else:  # the shared y scale is read on the left column; the hidden axes' tick
            # objects took ~60 ms of the ~0.33 s this figure takes to draw, for no label
            ax.yaxis.set_visible(False)
    for ax in list(axes.flat)[len(choices) :]:
        ax.axis("off")
    fig.supylabel(metric, fontsize=9, x=0.15 / width)
    fig.suptitle(
        f"{metric} of every complete trial by the option each choice took",
        fontsize=10,
        y=1 - 0.2 / height,
    )
    return fig


def _labels_depth(labels: Sequence[str], size: float, rotated: bool) -> float:
    """How far (inches) a panel's option labels reach below its axes: the tick and its
    pad, then the deepest label's box, turned 60 degrees when ``rotated``. Measured
    with the font's own metrics (no figure is drawn)."""
    import matplotlib
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    prop, ttp = FontProperties(size=size), TextToPath()
    # a line is at least as tall as "lp" (matplotlib's own rule for a text's box)
    line = ttp.get_text_width_height_descent("lp", prop, ismath=False)[1]
    deepest = 0.0
    for label in labels:
        w, h, _ = ttp.get_text_width_height_descent(label, prop, ismath=False)
        h = max(h, line)
        deepest = max(deepest, w * np.sin(np.pi / 3) + h / 2 if rotated else h)
    rc = matplotlib.rcParams
    return (float(rc["xtick.major.size"]) + float(rc["xtick.major.pad"]) + deepest) / 72


def _short(label: str, limit: int = 14) -> str:
    """An option's label cut to ``limit`` characters (``...`` at the end), so a rotated
    label fits the gap between panel rows; the table names every option in full."""
    return label if len(label) <= limit else label[: limit - 3] + "..."


def importance_bars(importances: dict[str, float], target: str) -> Figure:
    """Horizontal bars of Optuna's parameter importances (largest on top)."""
    plt = _plt()
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(5.6, 0.3 * len(items) + 1.2), dpi=110)
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    ax.set_xlabel(f"importance for {target} (fANOVA, sums to 1)")
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("what mattered")
    # the longest choice name at 8 pt (about 0.075 in per character) and a gap
    _margins(fig, left=0.25 + 0.075 * max((len(k) for k, _ in items), default=4), bottom=0.55)
    return fig


def describe_layers(model: Any, input_shape: Sequence[int]) -> list[dict[str, Any]]:
    """Leaf layers of a torch model with output shapes and parameter counts."""
    import torch

    rows: list[dict[str, Any]] = []
    hooks = []

    def hook(name: str) -> Any:
        def fn(mod: Any, inp: Any, out: Any) -> None:
            shape = tuple(out.shape[1:]) if hasattr(out, "shape") else ()
            rows.append(
                {
                    "layer": name,
                    "type": type(mod).__name__,
                    "output": "x".join(map(str, shape)),
                    "params": sum(p.numel() for p in mod.parameters(recurse=False)),
                }
            )

        return fn

    for name, mod in model.named_modules():
        if name and not list(mod.children()):
            hooks.append(mod.register_forward_hook(hook(name)))
    try:
        model.eval()
        with torch.no_grad():
            dev = next((p.device for p in model.parameters()), torch.device("cpu"))
            model(torch.zeros((2, *input_shape), device=dev))
    finally:
        for h in hooks:
            h.remove()
    return rows


def trials_table(
    trials: Sequence[TrialRecord], metrics: Sequence[str], used: Any = None
) -> list[list[str]]:
    """Rows (trial, metrics..., the choices the architecture uses) for the HTML table;
    ``used(params)`` drops the choices an architecture ignores."""
    rows = []
    for t in trials:
        cells = [str(t.number)]
        cells += [f"{t.metrics[m]:.4g}" if m in t.metrics else "" for m in metrics]
        params = used(t.params) if used is not None else t.params
        cells.append(", ".join(f"{k}={v}" for k, v in params.items()))
        rows.append(cells)
    return rows
