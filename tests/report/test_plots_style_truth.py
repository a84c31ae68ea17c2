"""The report's bar colour under a user's matplotlib style.

The report draws in the process that asks for it, so a user's ``matplotlibrc`` (or a
style they set) is in force: its colour cycle must not recolour the report's bars,
which the report names explicitly. Truth: matplotlib's own ``tab:blue`` RGBA.
"""

from __future__ import annotations

import matplotlib
from cycler import cycler
from matplotlib.colors import to_rgba

from quarch.report._plots import importance_bars


def test_importance_bars_are_tab_blue_under_any_colour_cycle() -> None:
    with matplotlib.rc_context({"axes.prop_cycle": cycler(color=["#00ff00", "#ff00ff"])}):
        fig = importance_bars({"depth": 0.7, "width": 0.3}, "val_error")
    try:
        bars = fig.axes[0].patches
        assert len(bars) == 2
        assert all(b.get_facecolor() == to_rgba("tab:blue") for b in bars)
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
