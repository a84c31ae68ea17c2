"""The report's section on quantum winners placed on a calibrated device.

For a run whose evaluator routes circuits on a calibrated target (its
``routed_circuit(arch)`` returns a :class:`~quarch.cost.routing.RoutedCircuit`), each
Pareto architecture gets its layout drawn on the device's coupling map (the region's
qubits labelled with the logical qubit measured there, the couplers it uses drawn
bold; the qubits the trial was scored on: an hqnn trial's recorded region), and a
table of its success probability, SWAPs and routed two-qubit gates with its noisy
accuracy beside the noiseless one. Runs without such an evaluator get no section.

The coupling map is laid out by Kamada-Kawai (``networkx``, which torch installs):
Qiskit's own gate-map plot needs the Graphviz binaries.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["layout_figure", "quantum_section"]

Image = Callable[[str, Any, str], str]


def _positions(edges: Sequence[tuple[int, int]], n: int) -> dict[int, tuple[float, float]]:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    parts = [g.subgraph(c) for c in nx.connected_components(g)]
    pos: dict[int, tuple[float, float]] = {}
    offset = 0.0
    for part in sorted(parts, key=len, reverse=True):
        sub = nx.kamada_kawai_layout(part) if len(part) > 1 else {next(iter(part)): (0.0, 0.0)}
        xs = [p[0] for p in sub.values()]
        for q, (x, y) in sub.items():
            pos[int(q)] = (float(x) - min(xs) + offset, float(y))
        offset += max(xs) - min(xs) + 0.3
    return pos


def layout_figure(routed: Any, title: str) -> Any:
    """A matplotlib figure of the device's coupling map with ``routed``'s region.

    Raises:
        ConfigError: ``routed.device`` is unknown, or a hand profile (no calibration,
            so no coupling map to draw on).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from quarch._errors import ConfigError
    from quarch.cost.devices import get_calibration

    cal = get_calibration(routed.device)
    if cal is None:
        raise ConfigError(
            f"device {routed.device!r} is a hand profile without a calibration: it has no "
            "coupling map to draw the layout on"
        )
    undirected = sorted({(min(a, b), max(a, b)) for a, b in cal.edges})
    pos = _positions(undirected, cal.n_qubits)
    used = {
        tuple(sorted(routed.region[w] for w in op.wires)) for op in routed.ops if len(op.wires) == 2
    }
    size = 6 if cal.n_qubits > 40 else 4
    fig, ax = plt.subplots(figsize=(size + 1, size))
    for a, b in undirected:
        (xa, ya), (xb, yb) = pos[a], pos[b]
        bold = (a, b) in used
        ax.plot([xa, xb], [ya, yb], color="#d62728" if bold else "#bbbbbb",
                lw=2.5 if bold else 0.8, zorder=1)  # fmt: skip
    logical = {p: i for i, p in routed.physical_layout.items()}
    for q, (x, y) in pos.items():
        inside = q in routed.region
        ax.scatter([x], [y], s=140 if inside else 18, color="#ff7f0e" if inside else "#888888",
                   zorder=2)  # fmt: skip
        if inside:
            label = f"{logical[q]}" if q in logical else ""
            ax.annotate(label, (x, y), ha="center", va="center", fontsize=7, zorder=3)
            ax.annotate(str(q), (x, y), xytext=(4, 4), textcoords="offset points", fontsize=6)
    ax.set_title(title, fontsize=9, wrap=True)  # a long region wraps, never cut off
    ax.set_axis_off()
    fig.tight_layout()
    return fig


def _fmt(v: Any, pct: bool = False) -> str:
    if not isinstance(v, int | float):
        return ""
    return f"{100 * v:.2f} %" if pct else f"{v:.4g}"


def _router(run: Any, ev: Any) -> Callable[[Any], Any] | None:
    """How a trial's routed circuit is found: the space's ``routed_trial`` (hqnn routes
    on the qubits the trial recorded, and warns when its ``layout`` names others now),
    else the evaluator's ``routed_circuit`` of the trial's architecture; ``None`` when
    neither exists."""
    try:
        own = getattr(getattr(run, "spec", None), "routed_trial", None)
    except Exception:  # a custom space given to run_search: no spec to ask
        own = None
    if own is not None:
        return lambda t: own(ev, t)
    plain = getattr(ev, "routed_circuit", None)
    return None if plain is None else (lambda t: plain(t.params))


def quantum_section(run: Any, trials: Sequence[Any], image: Image) -> str:
    """HTML for ``trials`` (Pareto winners) on the run's calibrated device, or ``""``.

    Args:
        run: the :class:`~quarch.study.Run`.
        trials: the trials to show.
        image: ``image(name, figure, alt) -> html`` (saves the PNG, embeds it).
    """
    try:
        ev = run.evaluator(standalone=True, device="cpu")  # routes circuits, trains nothing
    except Exception:  # a section must never stop the report
        return ""
    routed_of = _router(run, ev)
    if routed_of is None or not trials:
        return ""
    rows, figs = [], []
    device = ""
    for t in trials:
        try:
            routed = routed_of(t)
        except Exception as e:
            rows.append([str(t.number), f"not routed: {type(e).__name__}: {e}"] + [""] * 6)
            continue
        if routed is None:
            return ""
        device = routed.device
        m = t.metrics or {}
        val = m.get("val_error")
        noisy = m.get("noisy_val_error")
        zne = m.get("zne_val_error")
        layout = ", ".join(f"{i}->{p}" for i, p in sorted(routed.physical_layout.items()))
        rows.append([
            str(t.number), layout, _fmt(m.get("success_probability")), _fmt(m.get("swaps")),
            _fmt(m.get("routed_two_qubit_gates")),
            _fmt(None if val is None else 1 - val, pct=True),
            _fmt(None if noisy is None else 1 - noisy, pct=True),
            _fmt(None if zne is None else 1 - zne, pct=True),
        ])  # fmt: skip
        title = (
            f"trial {t.number} on {routed.device}: region {list(routed.region)}"
            f"\nsuccess probability {_fmt(m.get('success_probability'))}"
        )
        try:
            fig = layout_figure(routed, title)
            figs.append(image(f"layout_{t.number}", fig, f"layout of trial {t.number}"))
        except Exception as e:
            figs.append(f"<p class='note'>no layout drawing: {html.escape(str(e))}</p>")
    head = [
        "trial", "logical->physical (measured)", "success probability", "SWAPs",
        "routed 2q gates", "val accuracy", "noisy val accuracy", "ZNE val accuracy",
    ]  # fmt: skip
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    heading = f"On the device: {device}" if device else "On the device: no winner was routed"
    return (
        f"<h2>{html.escape(heading)}</h2>"
        "<p class='note'>Each winner's circuit routed on the calibrated device (orange: the "
        "region, labelled with the logical qubit measured there; red: couplers the routed "
        "circuit uses). Success probability is the estimate from calibrated gate and readout "
        "errors and T1/T2 decay; noisy accuracy is simulated with the device's noise model.</p>"
        f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>" + "".join(figs)
    )
