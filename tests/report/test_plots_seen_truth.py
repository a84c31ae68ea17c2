"""What a reader sees in the report's plots, read back from the drawn figure: in the
choices grid every text (titles, the y label, option and value labels) lies inside the
figure, no two texts overlap (a turned label as the turned box it is, not its upright
bounding box), no text runs into a panel, and each option's label points at its own
tick; the marks the docstrings name (trials over a budget as red crosses, budgets as
red dashed lines) are what is drawn, and the Pareto line and the running best keep
their blue under a user's matplotlibrc whose colour cycle starts with red (they would
otherwise take the over-budget trials' colour)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt
import numpy as np
import pytest
from cycler import cycler
from matplotlib.colors import to_hex
from matplotlib.markers import MarkerStyle

from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.report._plots import best_so_far, choices_grid, importance_bars, pareto_fronts
from quarch.space import Choice
from quarch.spaces import get_space
from quarch.study import SearchResult, TrialRecord


def _result(choices: list[Choice], objective: Objective, seed: int = 0,
            n: int = 24, top: float = 5) -> SearchResult:  # fmt: skip
    """Complete trials with random options, ``val_error`` in [0.05, 0.6] and ``params``
    from 10 to 10^top (so every choice's panel has points and some trials break a
    ``params`` budget)."""
    rng = random.Random(seed)
    trials = []
    for i in range(n):
        params = {c.name: rng.choice(list(c.options)) for c in choices}
        m = {"val_error": round(rng.uniform(0.05, 0.6), 3),
             "params": float(10 ** rng.uniform(1, top))}  # fmt: skip
        trials.append(TrialRecord(i, "COMPLETE", params, m, objective.values(m),
                                  objective.is_feasible(m), i))  # fmt: skip
    cfg = SearchConfig(space="mlp", dataset="iris", objectives=list(objective.metrics))
    return SearchResult(Path("."), cfg, objective, trials)


def _inset(pts: np.ndarray, px: float = 1.0) -> np.ndarray:
    """The polygon moved ``px`` towards its centre (boxes that only touch do not overlap)."""
    c = pts.mean(axis=0)
    d = pts - c
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return np.asarray(c + d * np.maximum(n - px, 0) / np.where(n > 0, n, 1))


def _outline(t: Any, r: Any) -> np.ndarray:
    """The corners of the box a text covers, in pixels: its bounding box when upright (or at 90 degrees);
    when turned by 0 < a < 90 degrees, the turned w x h rectangle inscribed in that
    bounding box (w, h: the text's upright size)."""
    bb = t.get_window_extent(r)
    rot = float(t.get_rotation()) % 360
    if rot in (0, 90):  # upright or on its side: the box is its bounding box
        return np.array([(bb.x0, bb.y0), (bb.x1, bb.y0), (bb.x1, bb.y1), (bb.x0, bb.y1)])
    assert 0 < rot < 90, rot
    t.set_rotation(0)
    flat = t.get_window_extent(r)
    t.set_rotation(rot)
    w, h = flat.width, flat.height
    s = np.sin(np.radians(rot))
    # the turned rectangle touches each side of its bounding box once
    assert bb.width == pytest.approx(w * np.cos(np.radians(rot)) + h * s, abs=1.0)
    return np.array([(bb.x0 + h * s, bb.y0), (bb.x1, bb.y0 + w * s),
                     (bb.x1 - h * s, bb.y1), (bb.x0, bb.y1 - w * s)])  # fmt: skip


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two convex polygons (boxes) share area, by the separating-axis theorem:
    they do not when their projections on some edge's normal are apart."""
    a, b = _inset(a), _inset(b)
    for poly in (a, b):
        for p, q in zip(poly, np.roll(poly, -1, axis=0), strict=True):
            normal = np.array([p[1] - q[1], q[0] - p[0]])
            pa, pb = a @ normal, b @ normal
            if pa.max() <= pb.min() or pb.max() <= pa.min():
                return False
    return True


def _seen_texts(fig: Any) -> list[tuple[str, Any]]:
    """Every text drawn: the figure's title and y label, each shown panel's title and
    the tick labels it shows (those of ticks inside the axis' view)."""
    out = [("figure", t) for t in fig.texts if t.get_visible() and t.get_text()]
    for i, ax in enumerate(fig.axes):
        if not ax.axison:
            continue
        out.append((f"title {i}", ax.title))
        for name, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            if not axis.get_visible():
                continue
            if axis.label.get_text():  # the axis' name
                out.append((f"{name} name {i}", axis.label))
            off = axis.get_offset_text()  # "1e6" above a y axis of large values
            if off.get_visible() and off.get_text():
                out.append((f"{name} offset {i}", off))
            lo, hi = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                lab = tick.label1
                if (
                    lab.get_visible()
                    and lab.get_text()
                    and lo - 1e-9 <= tick.get_loc() <= hi + 1e-9
                ):
                    out.append((f"{name} {i}", lab))
    return out


def _check_texts(fig: Any) -> Any:
    """Every text inside the figure, no two overlapping, none over an axes; the
    renderer."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    texts = _seen_texts(fig)
    boxes = [(k, t, _outline(t, r)) for k, t in texts]
    for k, t, b in boxes:  # nothing cut off at the figure's edges
        assert b[:, 0].min() >= -0.5 and b[:, 0].max() <= W + 0.5, (k, t.get_text())
        assert b[:, 1].min() >= -0.5 and b[:, 1].max() <= H + 0.5, (k, t.get_text())
    for i, (k1, t1, b1) in enumerate(boxes):  # no two texts overlap
        for k2, t2, b2 in boxes[i + 1 :]:
            assert not _overlap(b1, b2), (k1, t1.get_text(), k2, t2.get_text())
    for ax in fig.axes:  # and none runs into a panel
        if not ax.axison:
            continue
        e = ax.get_window_extent(r)
        frame = np.array([(e.x0, e.y0), (e.x1, e.y0), (e.x1, e.y1), (e.x0, e.y1)])
        for k, t, b in boxes:
            assert not _overlap(frame, b), (k, t.get_text(), ax.get_title())
    return r


def _check_seen(fig: Any, choices: list[Choice]) -> None:
    r = _check_texts(fig)
    panels = [ax for ax in fig.axes if ax.axison]
    # each option's label at its own tick: centred under it when upright, its end at
    # the tick when turned
    assert [ax.get_title() for ax in panels] == [c.name for c in choices]
    for ax, c in zip(panels, choices, strict=True):
        labels = ax.get_xticklabels()
        assert len(labels) == len(c.options)
        for i, lab in enumerate(labels):
            tick_x = ax.transData.transform((i, 0))[0]
            bb = lab.get_window_extent(r)
            if lab.get_rotation() == 0:
                assert (bb.x0 + bb.x1) / 2 == pytest.approx(tick_x, abs=1.0)
            else:
                assert bb.x1 == pytest.approx(tick_x, abs=1.0)


WIDE = ["MAXPOOL-3X3-WIDE", "AVGPOOL-3X3-WIDE", "SKIP"]
MANY = [f"option-{i:02d}-long" for i in range(9)]
CASES = {
    "nb201": list(get_space("nb201").choices),
    "hqnn": list(get_space("hqnn").choices)[:9],  # 11 options a panel, turned; 3 rows
    "mlp": list(get_space("mlp").choices),
    "wide-and-many": [Choice("pool", WIDE), Choice("many", MANY), Choice("few", [1, 2]),
                      Choice("act", ["relu", "a-very-long-activation-name"]),
                      Choice("opt", ["adam-with-warmup", "sgd", "rmsprop-centred-eps"])],
    "one-turned": [Choice("op", ["conv_3x3_dilated_2", "sep_conv_5x5_x", "skip"])],
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_choices_grid_texts_fit_and_do_not_overlap(case: str) -> None:
    """nb201's labels ("nor_conv_3x3", turned) ran into the next row's panel titles and
    off the figure's bottom before the rows' gap and the bottom margin made room for
    the deepest label."""
    choices = CASES[case]
    fig = choices_grid(_result(choices, Objective(["val_error", "params"])), choices)
    _check_seen(fig, choices)
    plt.close(fig)


def _marker_of(coll: Any) -> str:
    """The marker of a scatter, by its path against matplotlib's own marker paths."""
    (path,) = coll.get_paths()
    for m in ("o", "x", "X", "+", "s", "^", "v", "D", "*", "."):
        ms = MarkerStyle(m)
        want = ms.get_path().transformed(ms.get_transform())
        if np.array_equal(want.vertices, path.vertices):
            return m
    return "?"


def _colour(coll: Any) -> str:
    return to_hex(np.asarray(coll.get_facecolor())[0][:3])


def _budgeted() -> SearchResult:
    res = _result([Choice("a", [1, 2])], Objective(["val_error", "params"],
                  budgets=["params<=3000"]), seed=1)  # fmt: skip
    assert {t.feasible for t in res.trials} == {True, False}
    return res


def test_over_budget_trials_are_red_crosses_in_both_plots() -> None:
    """best_so_far's docstring: every complete trial as a dot, those over a budget as
    red crosses; the Pareto plot marks them the same way (one legend for both)."""
    res = _budgeted()
    fig = best_so_far(res)
    (ax,) = fig.axes
    by = {c.get_label(): c for c in ax.collections}
    assert _marker_of(by["trial"]) == "o"
    assert _marker_of(by["over budget (infeasible)"]) == "x"
    assert _colour(by["over budget (infeasible)"]) == to_hex("tab:red")
    assert _colour(by["trial"]) != to_hex("tab:red")
    plt.close(fig)
    ((_, fig),) = pareto_fronts(res)
    (ax,) = fig.axes
    by = {c.get_label(): c for c in ax.collections}
    assert _marker_of(by["trial"]) == "o"
    assert _marker_of(by["over budget"]) == "x"
    assert _colour(by["over budget"]) == to_hex("tab:red")
    # the budget: a red dashed line (_budget_lines' docstring) at its limit
    (budget,) = [ln for ln in ax.lines if str(ln.get_label()).startswith("budget")]
    assert to_hex(budget.get_color()) == to_hex("tab:red")
    assert budget.get_linestyle() == "--"
    assert np.asarray(budget.get_ydata(), dtype=float).tolist() == [3000.0, 3000.0]
    plt.close(fig)


def test_lines_keep_their_blue_under_a_red_first_colour_cycle() -> None:
    """A user's matplotlibrc applies to the report (it draws with pyplot); with a colour
    cycle that starts with red, a line left to the cycle would be drawn in the
    over-budget trials' red. The Pareto line and the running best stay blue."""
    res = _budgeted()
    red_first = cycler(color=["tab:red", "tab:orange", "tab:green"])
    with matplotlib.rc_context({"axes.prop_cycle": red_first}):
        ((_, fig),) = pareto_fronts(res)
        fig2 = best_so_far(res)
    (ax,) = fig.axes
    (front,) = [ln for ln in ax.lines if ln.get_label() == "Pareto set"]
    assert to_hex(front.get_color()) == to_hex("tab:blue")
    (ax2,) = fig2.axes
    (step,) = ax2.lines
    assert to_hex(step.get_color()) == to_hex("tab:blue")
    for f in (fig, fig2):
        plt.close(f)


def _two(lo: tuple[float, float], hi: tuple[float, float]) -> SearchResult:
    """Trials of two metrics drawn uniformly in [lo[k], hi[k]]."""
    obj = Objective(["latency_ms", "params"])
    rng = random.Random(0)
    trials = []
    for i in range(20):
        m = {"latency_ms": rng.uniform(lo[0], hi[0]), "params": rng.uniform(lo[1], hi[1])}
        trials.append(TrialRecord(i, "COMPLETE", {"a": 1}, m, obj.values(m), True, i))
    cfg = SearchConfig(space="mlp", dataset="iris", objectives=list(obj.metrics))
    return SearchResult(Path("."), cfg, obj, trials)


@pytest.mark.parametrize(
    ("lo", "hi"),
    [((1.0, 10.0), (9.0, 90.0)),  # short ticks
     ((0.00011, 100000.0), (0.0005, 900000.0)),  # 7-character ticks: 0.00045, 900000
     ((0.001, 10.0), (100.0, 10000.0))],  # log axes
)  # fmt: skip
def test_single_plots_texts_fit_whatever_the_ticks(
    lo: tuple[float, float], hi: tuple[float, float]
) -> None:
    """The Pareto and best-so-far plots keep every text (ticks, the axes' names, the
    title) inside the figure and apart: the y axis' name of a metric whose ticks read
    0.00045 was cut off at the figure's left edge before the margin was measured."""
    res = _two(lo, hi)
    figs = [fig for _, fig in pareto_fronts(res)] + [best_so_far(res)]
    for fig in figs:
        _check_texts(fig)
        plt.close(fig)


def test_importance_bars_names_fit() -> None:
    """Every choice's name lies inside the figure, left of the bars (hqnn's choices)."""
    names = [c.name for c in get_space("hqnn").choices]
    imp = {n: (k + 1) / 231 for k, n in enumerate(names)}
    fig = importance_bars(imp, "val_error")
    _check_texts(fig)
    (ax,) = fig.axes
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == sorted(names)
    plt.close(fig)
