"""Reports of a run: one self-contained HTML file plus a PNG of every plot.

The HTML embeds its images as data URIs and uses no external script or style, so it
opens offline and can be mailed as one file. It holds the Pareto front(s) (pairwise
for three or more objectives), the best-so-far curve, a parallel-coordinates view of
the choices, the Pareto table with every metric, a drawing of each winner (a circuit
diagram for hybrid networks, a layer table for classical ones), the data fingerprint
and the config.

Example:
    >>> from quarch.report import write_report
    >>> rep = write_report("runs/demo")        # doctest: +SKIP
    >>> rep.html                               # doctest: +SKIP
    PosixPath('runs/demo/report/index.html')
"""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quarch._errors import QuarchError
from quarch.report._plots import (
    best_so_far,
    circuit_diagram,
    describe_layers,
    parallel_coordinates,
    pareto_fronts,
    trials_table,
)
from quarch.report._quantum import quantum_section
from quarch.study import Run

__all__ = ["Report", "write_report"]


@dataclass
class Report:
    """Where a report was written."""

    html: Path
    pngs: list[Path] = field(default_factory=list)


def _png(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = buf.getvalue()
    path.write_bytes(data)
    return base64.b64encode(data).decode()


def _table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _winner_model(run: Run, arch: dict[str, Any], seed: int) -> tuple[Any, Any]:
    """Build (untrained) the model of ``arch`` through the run's own evaluator."""
    if not run.spec.is_trainable():
        return None, None
    ev: Any = run.evaluator(standalone=True)
    return ev.build(arch, seed=seed), getattr(ev, "data", None)


def _draw_winner(run: Run, t: Any, out_dir: Path, pngs: list[Path]) -> str:
    """HTML for one winner: a circuit diagram and/or a layer table."""
    try:
        model, data = _winner_model(run, t.params, t.seed or 0)
    except Exception as e:  # a drawing must never stop the report
        return f"<p class='note'>no drawing: {html.escape(f'{type(e).__name__}: {e}')}</p>"
    if model is None:
        return "<p class='note'>this space has no model to draw (tabular benchmark)</p>"
    parts = []
    from quarch.quantum import QuantumLayer

    for name, mod in model.named_modules():
        if isinstance(mod, QuantumLayer):
            fig = circuit_diagram(mod.plan.circuit, f"trial {t.number}: {name or 'circuit'}")
            p = out_dir / f"winner_{t.number}_circuit.png"
            pngs.append(p)
            parts.append(
                f"<img class='plot' alt='circuit of trial {t.number}' "
                f"src='data:image/png;base64,{_png(fig, p)}'>"
            )
    if data is not None:
        rows = describe_layers(model, tuple(data.input_shape))
        parts.append(
            _table(
                ["layer", "type", "output", "params"],
                [[r["layer"], r["type"], r["output"], str(r["params"])] for r in rows],
            )
        )
    return "".join(parts)


_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;padding-bottom:.2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left}
th{background:#f2f2f2}img.plot{max-width:100%;margin:.5em 0;display:block}
pre{background:#f7f7f7;padding:.7em;overflow:auto;font-size:.8em}.note{color:#777}
"""

_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img.plot'), ok = 0;
  imgs.forEach(function (i) { if (i.complete && i.naturalWidth > 0) ok += 1; });
  document.body.setAttribute('data-plots-loaded', String(ok));
});
"""


def write_report(
    run_dir: str | Path, *, out_dir: str | Path | None = None, winners: int = 5
) -> Report:
    """Write ``RUN/report/index.html`` and one PNG per plot; return their paths.

    Args:
        run_dir: the run folder.
        out_dir: where to write (default ``RUN/report``).
        winners: how many Pareto architectures to draw.
    """
    run_obj = Run.open(run_dir)
    result = run_obj.result()
    run = run_obj.dir
    out = Path(out_dir) if out_dir is not None else run_obj.report_dir
    out.mkdir(parents=True, exist_ok=True)
    meta = run_obj.meta
    pngs: list[Path] = []
    sections: list[str] = []

    def img(name: str, fig: Any, alt: str) -> str:
        p = out / f"{name}.png"
        pngs.append(p)
        return f"<img class='plot' alt='{html.escape(alt)}' src='data:image/png;base64,{_png(fig, p)}'>"

    if result.complete:
        sections.append(
            "<h2>Pareto front</h2>"
            + "".join(img(name, fig, name.replace("_", " ")) for name, fig in pareto_fronts(result))
        )
        sections.append(
            "<h2>Best so far</h2>" + img("best_so_far", best_so_far(result), "best so far")
        )
        try:
            choices = list(run_obj.space.choices)
        except QuarchError:  # a custom space given to run_search: rebuild it from the trials
            from quarch.space import Choice

            names = list(result.complete[0].params)
            choices = [
                Choice(n, list(dict.fromkeys(t.params[n] for t in result.complete))) for n in names
            ]
        sections.append(
            "<h2>Choices</h2>"
            + img("parallel_coordinates", parallel_coordinates(result, choices), "choices")
        )
    else:
        sections.append("<p class='note'>no complete trials yet</p>")
    metrics = sorted({m for t in result.pareto for m in t.metrics})
    sections.append(
        f"<h2>Pareto architectures ({len(result.pareto)})</h2>"
        + _table(["trial", *metrics, "architecture"], trials_table(result.pareto, metrics))
    )
    for t in result.pareto[:winners]:
        sections.append(f"<h3>Trial {t.number}</h3>" + _draw_winner(run_obj, t, out, pngs))
    sections.append(quantum_section(run_obj, result.pareto[:winners], img))
    failed = [[str(t.number), t.fail_reason or ""] for t in result.failed]
    if failed:
        sections.append("<h2>Failed trials</h2>" + _table(["trial", "reason"], failed))
    sections.append(
        "<h2>Run</h2>"
        + _table(
            ["", ""],
            [
                ["run folder", str(run.resolve())],
                [
                    "trials",
                    f"{len(result.trials)} ({len(result.complete)} complete, "
                    f"{len(result.failed)} failed, {len(result.skipped)} over a budget "
                    "before training, never trained)",
                ],
                ["data fingerprint", str(meta.get("fingerprint", ""))],
                ["quarch version", str(meta.get("quarch_version", ""))],
                ["seed", str(meta.get("seed", ""))],
            ],
        )
        + "<h3>Config</h3><pre>"
        + html.escape(json.dumps(result.config.to_dict(), indent=2, sort_keys=True))
        + "</pre>"
    )
    title = f"quarch run {run.name}: {result.config.space} on {result.config.dataset}"
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body data-plots-expected='{len(pngs)}'><h1>{html.escape(title)}</h1>"
        f"<p>strategy <b>{html.escape(result.config.strategy)}</b>, objectives "
        f"<b>{html.escape(', '.join(result.objective.names))}</b></p>"
        + "".join(sections)
        + f"<script>{_SCRIPT}</script></body></html>"
    )
    path = out / "index.html"
    path.write_text(page)
    return Report(path, pngs)
