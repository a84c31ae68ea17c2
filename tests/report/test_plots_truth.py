"""The report's plots read back from matplotlib's artists against the trials they draw:
the Pareto line is the brute-force Pareto set, the other dots are the other trials split
by feasibility, budgets are lines at their limits, the best-so-far curve is a running
minimum (maximum) recomputed here, each choice's panel holds exactly the trials that use
it at its option's position, importances are bars in order, log axes where values span
two decades; the layer table against hand-counted shapes and parameters."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.report._plots import (
    _log_if_spread,
    _margins,
    _short,
    best_so_far,
    choices_grid,
    describe_layers,
    importance_bars,
    pareto_fronts,
    trials_table,
)
from quarch.space import Choice
from quarch.study import SearchResult, TrialRecord

CHOICES = [
    Choice("depth", [1, 2, 3]),
    Choice("width", [8, 16, 32, 64]),
    Choice("act", ["relu", "a-very-long-activation-name"]),
]


def _result(objective: Objective, seed: int = 0, n: int = 24, spread: bool = False) -> SearchResult:
    """Random trials: complete (feasible or not per the objective's budgets), failed,
    pruned; metrics from the architecture plus noise (``spread``: params over decades)."""
    rng = random.Random(seed)
    trials = []
    for i in range(n):
        params = {c.name: rng.choice(list(c.options)) for c in CHOICES}
        m = {
            "val_error": round(rng.uniform(0.05, 0.6), 3),
            "params": float(
                params["width"] * params["depth"] * (rng.choice([1, 1000]) if spread else 1)
            ),
            "latency_ms": round(rng.uniform(1, 9), 2),
            "val_accuracy": round(rng.uniform(0.3, 0.95), 3),
        }
        state = rng.choice(["COMPLETE"] * 6 + ["FAIL", "PRUNED"])
        if state != "COMPLETE":
            trials.append(TrialRecord(i, state, params, {}, None, True, i,
                                      fail_reason="boom" if state == "FAIL" else None,
                                      prune_reason="slow" if state == "PRUNED" else None))  # fmt: skip
            continue
        values = objective.values(m)
        feasible = objective.is_feasible(m)
        trials.append(TrialRecord(i, state, params, m, values, feasible, i,
                                  duration_s=rng.uniform(0, 5)))  # fmt: skip
    cfg = SearchConfig(space="mlp", dataset="iris", objectives=list(objective.metrics))
    return SearchResult(Path("."), cfg, objective, trials)


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def _brute_front(res: SearchResult) -> set[int]:
    names = list(res.objective.metrics)
    sign = [1 if res.objective.direction_of(m) == "minimize" else -1 for m in names]
    cands = [t for t in res.trials if t.state == "COMPLETE" and t.feasible]
    key = {t.number: [s * t.metrics[m] for s, m in zip(sign, names, strict=True)] for t in cands}
    return {a for a in key if not any(_dominates(key[b], key[a]) for b in key)}


def _points(coll: Any) -> list[tuple[float, float]]:
    return sorted(map(tuple, np.asarray(coll.get_offsets(), dtype=float).tolist()))


def _spec(ax: Any) -> Any:
    ss = ax.get_subplotspec()
    assert ss is not None
    return ss


def _legend(ax: Any) -> list[str]:
    leg = ax.get_legend()
    assert leg is not None
    return [t.get_text() for t in leg.get_texts()]


OBJECTIVES = [
    Objective(["val_error", "params"], budgets=["params<=100"]),
    Objective(["val_error", "params", "latency_ms"], budgets=["latency_ms<=6", "params<=150"]),
    Objective(["val_accuracy", "params"], budgets=["val_accuracy>=0.4"]),
    Objective(["val_error"]),
]


@pytest.mark.parametrize("k", range(len(OBJECTIVES)))
@pytest.mark.parametrize("spread", [False, True])
def test_pareto_fronts_against_brute_force(k: int, spread: bool) -> None:
    obj = OBJECTIVES[k]
    res = _result(obj, seed=k, spread=spread)
    names = list(obj.metrics)
    front = _brute_front(res)
    assert front  # the instance has a front to draw
    complete = [t for t in res.trials if t.state == "COMPLETE"]
    assert any(not t.feasible for t in complete) == bool(obj.budgets)
    figs = pareto_fronts(res)
    pairs = list(itertools.combinations(names, 2)) or [(names[0], names[0])]
    assert [name for name, _ in figs] == [f"pareto_{x}_vs_{y}" for x, y in pairs]
    for (x, y), (_, fig) in zip(pairs, figs, strict=True):
        (ax,) = fig.axes
        assert ax.get_xlabel() == x and ax.get_ylabel() == y
        assert ax.get_title() == f"{y} vs {x}"
        by_label = {c.get_label(): c for c in ax.collections}
        rest = [t for t in complete if t.number not in front]
        for feasible, label in ((True, "trial"), (False, "over budget")):
            want = sorted((t.metrics[x], t.metrics[y]) for t in rest if t.feasible == feasible)
            if want:
                assert _points(by_label.pop(label)) == want
            else:
                assert label not in by_label
        assert not by_label  # no other scatter
        (line,) = [ln for ln in ax.lines if ln.get_label() == "Pareto set"]
        fr = sorted((t for t in complete if t.number in front), key=lambda t: t.metrics[x])
        assert np.asarray(line.get_xdata()).tolist() == [t.metrics[x] for t in fr]
        assert np.asarray(line.get_ydata()).tolist() == [t.metrics[y] for t in fr]
        assert line.get_marker() == "o" and line.get_linestyle() == "-"
        # a budget on a plotted metric is a line at its limit (vertical on x,
        # horizontal on y); budgets on other metrics are not drawn
        budgets = [ln for ln in ax.lines if str(ln.get_label()).startswith("budget ")]
        want_b = []
        for b in obj.budgets:
            if b.metric == x:
                want_b.append((f"budget {b}", "x", b.limit))
            if b.metric == y:
                want_b.append((f"budget {b}", "y", b.limit))
        got_b = []
        for ln in budgets:
            xs = np.asarray(ln.get_xdata(), dtype=float).tolist()
            ys = np.asarray(ln.get_ydata(), dtype=float).tolist()
            if xs[0] == xs[1] and ys == [0, 1]:
                got_b.append((ln.get_label(), "x", float(xs[0])))
            else:
                assert xs == [0, 1] and ys[0] == ys[1]
                got_b.append((ln.get_label(), "y", float(ys[0])))
            assert ln.get_linestyle() == "--"
        assert sorted(got_b) == sorted(want_b)
        assert sorted(_legend(ax)) == sorted(
            [str(c.get_label()) for c in ax.collections] + ["Pareto set"] + [b[0] for b in want_b]
        )
        # log axes where the plotted values span two decades
        for axis, metric in (("x", x), ("y", y)):
            vals = [t.metrics[metric] for t in complete]
            scale = ax.get_xscale() if axis == "x" else ax.get_yscale()
            assert scale == ("log" if max(vals) / min(vals) >= 100 else "linear")
        plt.close(fig)


def test_pareto_colours_and_markers_tell_trials_apart() -> None:
    res = _result(OBJECTIVES[0], seed=0)
    ((_, fig),) = pareto_fronts(res)
    (ax,) = fig.axes
    by_label = {c.get_label(): c for c in ax.collections}
    ok, over = by_label["trial"], by_label["over budget"]
    assert not np.allclose(ok.get_facecolor()[0], over.get_facecolor()[0])
    assert matplotlib.colors.to_hex(
        np.asarray(over.get_facecolor())[0][:3]
    ) == matplotlib.colors.to_hex("tab:red")
    (line,) = [ln for ln in ax.lines if ln.get_label() == "Pareto set"]
    assert matplotlib.colors.to_hex(line.get_color()) == matplotlib.colors.to_hex("tab:blue")
    # the page's margins fit the labels: the axes sit 0.85 in from the left, 0.55 in
    # from the bottom, 0.15 in from the right and 0.35 in from the top
    _check_margins(fig, 0.85, 0.55, 0.15, 0.35)
    plt.close(fig)


def _check_margins(fig: Any, left: float, bottom: float, right: float, top: float) -> None:
    w, h = fig.get_size_inches()
    sp = fig.subplotpars
    assert sp.left * w == pytest.approx(left)
    assert sp.bottom * h == pytest.approx(bottom)
    assert (1 - sp.right) * w == pytest.approx(right)
    assert (1 - sp.top) * h == pytest.approx(top)


def test_margins_in_inches() -> None:
    fig = plt.figure(figsize=(5.0, 4.0))
    _margins(fig, left=1.0, bottom=0.5)
    _check_margins(fig, 1.0, 0.5, 0.15, 0.35)
    _margins(fig, left=0.2, bottom=0.8, right=0.4, top=0.6)
    _check_margins(fig, 0.2, 0.8, 0.4, 0.6)
    plt.close(fig)


@pytest.mark.parametrize("k", range(len(OBJECTIVES)))
def test_best_so_far_is_a_running_best_of_feasible_trials(k: int) -> None:
    obj = OBJECTIVES[k]
    res = _result(obj, seed=10 + k, spread=k == 1)
    fig = best_so_far(res)
    (ax,) = fig.axes
    name = obj.names[0]
    maximize = obj.directions[0] == "maximize"
    complete = sorted((t for t in res.trials if t.state == "COMPLETE"), key=lambda t: t.number)
    xs: list[int] = []
    ys: list[float] = []
    for t in complete:
        if t.feasible:
            assert t.values is not None
            prev = ys[-1] if ys else None
            v = t.values[0]
            ys.append(v if prev is None else (max(prev, v) if maximize else min(prev, v)))
            xs.append(t.number)
    (step,) = ax.lines
    assert step.get_label() == "best feasible so far"
    assert step.get_drawstyle() == "steps-post"
    assert (
        np.asarray(step.get_xdata()).tolist() == xs and np.asarray(step.get_ydata()).tolist() == ys
    )
    by_label = {c.get_label(): c for c in ax.collections}
    for feasible, label in ((True, "trial"), (False, "over budget (infeasible)")):
        want = sorted((float(t.number), t.values[0]) for t in complete  # type: ignore[index]
                      if t.feasible == feasible)  # fmt: skip
        if want:
            assert _points(by_label.pop(label)) == want
        else:
            assert label not in by_label
    assert not by_label
    assert ax.get_xlabel() == "trial" and ax.get_ylabel() == name
    assert ax.get_title() == f"best {name} so far"
    vals = [t.values[0] for t in complete if t.values is not None]
    assert ax.get_yscale() == ("log" if max(vals) / min(vals) >= 100 else "linear")
    assert _legend(ax)[0] == "best feasible so far"
    _check_margins(fig, 0.85, 0.55, 0.15, 0.35)
    plt.close(fig)


@pytest.mark.parametrize("spread", [False, True])
def test_best_so_far_of_a_metric_over_decades_gets_a_log_axis(spread: bool) -> None:
    """The log-axis rule applies to the running best's own axis: a first objective
    whose values span two decades or more (params) is drawn on a log axis."""
    res = _result(Objective(["params", "val_error"]), seed=3, spread=spread)
    vals = [t.values[0] for t in res.trials if t.values is not None]
    assert (max(vals) / min(vals) >= 100) == spread  # the data are what the case needs
    fig = best_so_far(res)
    (ax,) = fig.axes
    assert ax.get_yscale() == ("log" if spread else "linear")
    assert ax.get_xscale() == "linear"
    plt.close(fig)


def test_best_so_far_of_a_weighted_cost_and_of_no_feasible_trial() -> None:
    obj = Objective(["val_error", "params"], weights=[1.0, 0.01])
    res = _result(obj, seed=3)
    fig = best_so_far(res)
    (ax,) = fig.axes
    assert ax.get_ylabel() == "weighted_cost"
    costs = [t.values[0] for t in sorted(res.complete, key=lambda t: t.number)]  # type: ignore[index]
    assert np.asarray(ax.lines[0].get_ydata()).tolist() == np.minimum.accumulate(costs).tolist()
    plt.close(fig)
    obj2 = Objective(["val_error"], budgets=["params<=0"])
    res2 = _result(obj2, seed=4)
    assert res2.complete and not any(t.feasible for t in res2.complete)
    fig = best_so_far(res2)
    (ax,) = fig.axes
    assert not ax.lines  # no feasible trial: no curve
    assert [c.get_label() for c in ax.collections] == ["over budget (infeasible)"]
    plt.close(fig)


def _used(params: dict[str, Any]) -> dict[str, Any]:
    """The widths a net of ``depth`` 1 does not have are unused (as a space's spec says)."""
    return {k: v for k, v in params.items() if not (k == "width" and params["depth"] == 1)}


@pytest.mark.parametrize("used", [None, _used])
@pytest.mark.parametrize("n_choices", [3, 5])
def test_choices_grid_panels_hold_the_trials_that_use_each_choice(
    used: Any, n_choices: int
) -> None:
    obj = Objective(["val_error", "params"])
    res = _result(obj, seed=5, n=30)
    choices = list(CHOICES)
    if n_choices == 5:  # a second row; an option no trial took; a value not an option
        choices += [Choice("extra", ["only"]), Choice("lr", [0.1, 0.01])]
        for t in res.trials:
            t.params["extra"] = "only"
            t.params["lr"] = 0.5 if t.number % 3 == 0 else 0.01
    fig = choices_grid(res, choices, used)
    cols, rows = 4, -(-n_choices // 4)
    assert len(fig.axes) == cols * rows
    panels, spare = fig.axes[:n_choices], fig.axes[n_choices:]
    assert all(not ax.axison for ax in spare)  # the spare panels are hidden
    complete = [t for t in res.trials if t.state == "COMPLETE"]
    for ax, c in zip(panels, choices, strict=True):
        assert ax.get_title() == c.name
        opts = list(c.options)
        want = sorted(
            (opts.index(t.params[c.name]), t.metrics["val_error"]) for t in complete
            if c.name in (used(t.params) if used else t.params) and t.params[c.name] in opts
        )  # fmt: skip
        if want:
            (coll,) = ax.collections
            pts = np.asarray(coll.get_offsets(), dtype=float)
            got = sorted((round(float(px)), float(py)) for px, py in pts)
            assert got == want
            jitter = pts[:, 0] - np.round(pts[:, 0])
            assert np.all(np.abs(jitter) <= 0.15) and len(set(jitter.tolist())) > 1
        else:
            assert not ax.collections
        assert list(ax.get_xticks()) == list(range(len(opts)))
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == [_short(str(o)) for o in opts]
        assert ax.get_xlim() == pytest.approx((-0.6, len(opts) - 0.4))
        crowded = sum(map(len, labels)) > 24
        for lbl in ax.get_xticklabels():
            assert lbl.get_rotation() == (60 if crowded else 0)
            assert lbl.get_horizontalalignment() == ("right" if crowded else "center")
            assert lbl.get_fontsize() == (7 if len(labels) < 8 else 6)
        # the y scale (shared) is read on the left column only
        assert ax.yaxis.get_visible() == _spec(ax).is_first_col()
    assert any(_spec(ax).is_first_col() for ax in panels[1:]) == (n_choices > 4)
    # one y scale for every panel (one metric)
    lims = {tuple(ax.get_ylim()) for ax in panels}
    assert len(lims) == 1
    assert fig._suptitle is not None and fig._supylabel is not None  # type: ignore[attr-defined]
    assert fig._suptitle.get_text() == (  # type: ignore[attr-defined]
        "val_error of every complete trial by the option each choice took"
    )
    assert fig._supylabel.get_text() == "val_error"  # type: ignore[attr-defined]
    # the layout the comments give: panels 2.7 x 1.25 in, 0.3 in apart side by side and
    # 0.85 in between rows, margins 0.8 in left, 0.15 right, 0.75 top, 0.7 bottom
    w, h = fig.get_size_inches()
    assert w == pytest.approx(0.8 + 0.15 + 4 * 2.7 + 3 * 0.3)
    assert h == pytest.approx(0.75 + 0.7 + rows * 1.25 + (rows - 1) * 0.85)
    for ax in fig.axes:
        ss = _spec(ax)
        r, col = ss.rowspan.start, ss.colspan.start
        box = ax.get_position()
        assert box.x0 * w == pytest.approx(0.8 + col * 3.0)
        assert box.width * w == pytest.approx(2.7)
        assert (1 - box.y1) * h == pytest.approx(0.75 + r * 2.1)
        assert box.height * h == pytest.approx(1.25)
    # the titles sit inside the figure, the y label left of the panels
    assert 0 < fig._supylabel.get_position()[0] < 0.8 / w  # type: ignore[attr-defined]
    assert 1 - 0.75 / h < fig._suptitle.get_position()[1] < 1  # type: ignore[attr-defined]
    plt.close(fig)


def test_choices_grid_with_no_choice_and_jitter_is_seeded() -> None:
    res = _result(Objective(["val_error"]), seed=6)
    a = choices_grid(res, CHOICES)
    b = choices_grid(res, CHOICES)
    for x, y in zip(a.axes[:3], b.axes[:3], strict=True):
        assert np.array_equal(x.collections[0].get_offsets(), y.collections[0].get_offsets())
    plt.close(a)
    plt.close(b)
    fig = choices_grid(res, [])
    assert len(fig.axes) == 4 and not any(ax.axison for ax in fig.axes)
    plt.close(fig)


def test_short_labels() -> None:
    assert _short("a" * 14) == "a" * 14
    assert _short("a" * 15) == "a" * 11 + "..."
    assert len(_short("x" * 40)) == 14
    assert _short("abcdefgh", limit=5) == "ab..."


def test_importance_bars_in_order_largest_on_top() -> None:
    # not in alphabetical order by value, so sorting by name would show
    imp = {"width": 0.1, "depth": 0.5, "a_rather_long_choice_name": 0.3, "act": 0.1}
    fig = importance_bars(imp, "val_error")
    (ax,) = fig.axes
    bars: list[Any] = list(ax.patches)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    # bottom to top: ascending, so the largest is drawn on top
    heights = [b.get_y() for b in bars]
    assert heights == sorted(heights)
    widths = [b.get_width() for b in bars]
    assert widths == sorted(imp.values())
    assert {lbl: w for lbl, w in zip(labels, widths, strict=True)} == imp
    assert labels == ["width", "act", "a_rather_long_choice_name", "depth"]
    assert ax.get_xlabel() == "importance for val_error (fANOVA, sums to 1)"
    assert ax.get_title() == "what mattered"
    for t in ax.get_yticklabels():
        assert t.get_fontsize() == 8
    _, h = fig.get_size_inches()
    assert h == pytest.approx(0.3 * len(imp) + 1.2)
    # the longest name fits left of the bars (0.075 in a character at 8 pt, 0.25 in gap)
    _check_margins(fig, 0.25 + 0.075 * len("a_rather_long_choice_name"), 0.55, 0.15, 0.35)
    plt.close(fig)
    fig = importance_bars({}, "x")
    _check_margins(fig, 0.25 + 0.075 * 4, 0.55, 0.15, 0.35)
    assert not fig.axes[0].patches
    plt.close(fig)


def test_log_axis_rule() -> None:
    cases = [
        ([1.0, 99.0], "linear"),
        ([1.0, 100.0], "log"),
        ([2.0, 3.0, 250.0], "log"),
        ([0.0, 1.0, 100.0], "symlog"),
        ([0.0, 1.0, 99.0], "linear"),
        ([-1.0, 1.0, 1000.0], "linear"),  # negatives: no log axis
        ([5.0], "linear"),
        ([0.0, 0.0], "linear"),
        ([1.0, float("nan"), float("inf"), 50.0], "linear"),  # non-finite values ignored
        ([float("nan"), 1.0, 500.0], "log"),
        ([float("inf"), 5.0], "linear"),
    ]
    for vals, want in cases:
        for axis in ("x", "y"):
            fig, ax = plt.subplots()
            _log_if_spread(ax, axis, vals)
            assert (ax.get_xscale() if axis == "x" else ax.get_yscale()) == want, vals
            other = ax.get_yscale() if axis == "x" else ax.get_xscale()
            assert other == "linear"
            if want == "symlog":
                axis_obj: Any = ax.xaxis if axis == "x" else ax.yaxis
                scale = axis_obj._scale
                pos = [v for v in vals if v > 0]
                assert scale._transform.linthresh == min(pos)
            plt.close(fig)


def test_trials_table_rows() -> None:
    obj = Objective(["val_error", "params"])
    res = _result(obj, seed=8)
    trials = res.complete
    rows = trials_table(trials, ["val_error", "params", "missing"], _used)
    for r, t in zip(rows, trials, strict=True):
        assert r[0] == str(t.number)
        assert float(r[1]) == pytest.approx(t.metrics["val_error"], rel=1e-3)
        assert r[2] == f"{t.metrics['params']:.4g}" and r[3] == ""
        assert r[4] == ", ".join(f"{k}={v}" for k, v in _used(t.params).items())
    rows = trials_table(trials, ["params"])
    for r, t in zip(rows, trials, strict=True):
        assert r[-1] == ", ".join(f"{k}={v}" for k, v in t.params.items())
    assert trials_table([], ["params"]) == []
    # 4 significant digits
    t = TrialRecord(0, "COMPLETE", {"a": 1}, {"x": 123456.0, "y": 0.000123456}, [1.0], True, 0)
    assert trials_table([t], ["x", "y"]) == [["0", "1.235e+05", "0.0001235", "a=1"]]


class _Pair(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = torch.nn.Linear(4, 6)
        self.b = torch.nn.Linear(4, 2, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.a(x), self.b(x)


class _Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 3, 3)  # 1x5x5 -> 3x3x3
        self.body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(27, 4),
                                        torch.nn.ReLU())  # fmt: skip
        self.pair = _Pair()
        self.drop = torch.nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> Any:
        h = self.drop(self.body(self.conv(x)))
        a, b = self.pair(h)
        return torch.cat([a, b], dim=1)


def test_describe_layers_against_hand_counts() -> None:
    model = _Net()
    model.train()
    rows = describe_layers(model, (1, 5, 5))
    assert [r["layer"] for r in rows] == ["conv", "body.0", "body.1", "body.2", "drop",
                                          "pair.a", "pair.b"]  # fmt: skip
    assert [r["type"] for r in rows] == ["Conv2d", "Flatten", "Linear", "ReLU", "Dropout",
                                         "Linear", "Linear"]  # fmt: skip
    assert [r["output"] for r in rows] == ["3x3x3", "27", "4", "4", "4", "6", "2"]
    assert [r["params"] for r in rows] == [1 * 3 * 9 + 3, 0, 27 * 4 + 4, 0, 0, 4 * 6 + 6, 8]
    # no hook is left on the model, and no gradient was recorded
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())
    assert not model.training  # drawn in eval mode


def test_describe_layers_of_a_layer_with_tuple_output_and_no_parameters() -> None:
    class Split(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            return tuple(x.split(1, dim=1))

    model = torch.nn.Sequential(torch.nn.Identity(), Split())
    rows = describe_layers(model, (3,))
    assert rows == [
        {"layer": "0", "type": "Identity", "output": "3", "params": 0},
        {"layer": "1", "type": "Split", "output": "", "params": 0},
    ]


def test_describe_layers_counts_only_a_layers_own_parameters() -> None:
    inner = torch.nn.Linear(3, 3)
    model = torch.nn.Sequential(inner, torch.nn.Sequential(torch.nn.Linear(3, 2)))
    rows = describe_layers(model, (3,))
    assert [(r["layer"], r["params"]) for r in rows] == [("0", 12), ("1.0", 8)]
    assert sum(r["params"] for r in rows) == sum(p.numel() for p in model.parameters())


def test_describe_layers_runs_on_the_models_device() -> None:
    """The zeros go to the model's device (the meta device here: a CPU tensor fails)."""
    model = torch.nn.Sequential(torch.nn.Linear(2, 3)).to("meta")
    rows = describe_layers(model, (2,))
    assert rows == [{"layer": "0", "type": "Linear", "output": "3", "params": 9}]
