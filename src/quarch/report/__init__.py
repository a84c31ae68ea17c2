"""Reports of a run: one self-contained HTML file plus each of its images as a file
(the plots as PNG, the winners' circuit diagrams as SVG).

The HTML embeds its images as data URIs and uses no external script or style, so it
opens offline and can be mailed as one file. It holds the Pareto front(s) (pairwise
for three or more objectives; budgets drawn, log axes where values span decades), the
best-so-far curve (infeasible trials marked apart), the metric by each choice's
options, Optuna's parameter importances, the Pareto table (each architecture as the
choices it uses), a drawing of each winner (a circuit diagram for hybrid networks, a
layer table for classical ones) beside its classical ablation when ``quarch train``
has made one, every trial with its state, duration and failure reason, the run's
duration, the data fingerprint and the config (a storage password masked).

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
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quarch._errors import ConfigError, QuarchError
from quarch._paths import check_folder, writing
from quarch.config import mask_secrets
from quarch.report._circuit_svg import circuit_svg
from quarch.report._plots import (
    best_so_far,
    choices_grid,
    describe_layers,
    importance_bars,
    pareto_fronts,
    trials_table,
)
from quarch.report._quantum import quantum_section
from quarch.study import Run, SearchResult

__all__ = ["Report", "write_report"]


@dataclass
class Report:
    """Where a report was written: the page and every image embedded in it (the plots
    as PNG, the winners' circuit diagrams as SVG; see :mod:`quarch.report._circuit_svg`)."""

    html: Path
    images: list[Path] = field(default_factory=list)

    @property
    def pngs(self) -> list[Path]:
        """The PNG images (every plot but the circuit diagrams)."""
        return [p for p in self.images if p.suffix == ".png"]


def _png(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    data = buf.getvalue()
    path.write_bytes(data)
    return base64.b64encode(data).decode()


def _table(head: list[str], rows: list[list[str]], wrap: int | None = None) -> str:
    """An HTML table; column ``wrap`` (the architecture, a failure reason) wraps."""
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)

    def td(i: int, c: str) -> str:
        cls = " class='wrap'" if i == wrap else ""
        return f"<td{cls}>{html.escape(c)}</td>"

    body = "".join("<tr>" + "".join(td(i, c) for i, c in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _winner_model(run: Run, arch: dict[str, Any], seed: int) -> tuple[Any, Any]:
    """Build (untrained) the model of ``arch`` through the run's own evaluator."""
    if not run.spec.is_trainable():
        return None, None
    ev: Any = run.evaluator(standalone=True, device="cpu")  # a drawing trains nothing
    return ev.build(arch, seed=seed), getattr(ev, "data", None)


def _draw_winner(run: Run, t: Any, out_dir: Path, images: list[Path]) -> str:
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
            svg = circuit_svg(mod.plan.circuit, f"trial {t.number}: {name or 'circuit'}")
            p = out_dir / f"winner_{t.number}_circuit.svg"
            p.write_text(svg, encoding="utf-8")
            images.append(p)
            b64 = base64.b64encode(svg.encode()).decode()
            parts.append(
                f"<img class='plot' alt='circuit of trial {t.number}' "
                f"src='data:image/svg+xml;base64,{b64}'>"
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
table{border-collapse:collapse;font-size:.85em;margin:.5em 0;max-width:100%}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
td.wrap{overflow-wrap:anywhere;min-width:18em}
th{background:#f2f2f2}img.plot{max-width:100%;margin:.5em 0;display:block}
pre{background:#f7f7f7;padding:.7em;overflow:auto;font-size:.8em;white-space:pre-wrap}
.note{color:#777}tr.infeasible td{color:#b00}
"""

# Marks what a browser test reads back: how many plots decoded, and whether the page
# fits its window (no table or plot wider than the page).
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img.plot'), ok = 0;
  imgs.forEach(function (i) { if (i.complete && i.naturalWidth > 0) ok += 1; });
  document.body.setAttribute('data-plots-loaded', String(ok));
  var root = document.documentElement;
  document.body.setAttribute('data-page-fits', String(root.scrollWidth <= root.clientWidth));
});
"""


def _used(run: Run) -> Any:
    """``used(params)``: the choices an architecture uses, from the space's spec (all of
    them for a space that is not registered)."""
    try:
        spec = run.spec
    except QuarchError:
        return dict
    return spec.used_params


def _importances(result: SearchResult) -> tuple[dict[str, float], str] | None:
    """Optuna's fANOVA parameter importances for the study's first value, or ``None``
    when there are too few complete trials to say anything."""
    import optuna

    study = result.study
    if study is None or len(result.complete) < 4:
        return None
    target_name = result.objective.names[0]
    try:
        with warnings.catch_warnings():  # Optuna's experimental-feature warnings
            warnings.simplefilter("ignore")
            imp = optuna.importance.get_param_importances(
                study,
                evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0),
                target=lambda t: float(t.values[0]),
            )
    except (ValueError, RuntimeError, ZeroDivisionError):  # a constant target, one option
        return None
    return {k: float(v) for k, v in imp.items()}, target_name


def _ablation(run: Run, number: int) -> str:
    """The hybrid beside its classical ablation, from ``RUN/train/trial_<N>.json``
    (written by ``quarch train``), or a note saying how to make it."""
    path = run.train_dir / f"trial_{number}.json"
    if not path.is_file():
        return (
            f"<p class='note'>final training and its classical ablation: "
            f"<code>quarch train {html.escape(str(run.dir))} --trial {number}</code></p>"
        )
    try:
        data = json.loads(path.read_text())

        def ms(d: dict[str, Any]) -> str:
            return f"{d['mean']:.2f} ± {d['std']:.2f}"

        rows = [["searched", f"{data['params']:g}", ms(data["val_accuracy"]),
                 ms(data["test_accuracy"])]]  # fmt: skip
        if "classical_ablation" in data:
            a = data["classical_ablation"]
            rows.append(["classical ablation (same parameter count)", f"{a['params']:g}",
                         ms(a["val_accuracy"]), ms(a["test_accuracy"])])  # fmt: skip
    except (ValueError, KeyError, TypeError) as e:
        return f"<p class='note'>{html.escape(path.name)} is unreadable: {html.escape(str(e))}</p>"
    caption = (
        f"<p>trained {data.get('epochs', '?')} epochs with {len(data.get('seeds', []))} "
        "seeds (mean ± std, %)</p>"
    )
    return caption + _table(["model", "params", "val accuracy", "test accuracy"], rows)


def _duration(result: SearchResult) -> str:
    """First trial start to last trial end, and the sum of trial durations."""
    study = result.study
    if study is None:
        return ""
    frozen = study.get_trials(deepcopy=False)
    starts = [t.datetime_start for t in frozen if t.datetime_start is not None]
    ends = [t.datetime_complete for t in frozen if t.datetime_complete is not None]
    if not starts or not ends:
        return "no finished trial yet"
    wall = (max(ends) - min(starts)).total_seconds()
    busy = sum(t.duration_s or 0.0 for t in result.trials)
    return (
        f"{_hms(wall)} from the first trial's start to the last one's end "
        f"({min(starts):%Y-%m-%d %H:%M} to {max(ends):%Y-%m-%d %H:%M}, resumes included); "
        f"trials ran {_hms(busy)} in all"
    )


def _software_rows(meta: dict[str, Any]) -> list[list[str]]:
    """The run table's rows for the software the run started with and each resume with
    other software (``run.json``'s ``software`` and ``software_changes``); none for a
    run made before quarch recorded them."""
    rows = []
    start = meta.get("software")
    if isinstance(start, dict):
        rows.append(["software", ", ".join(f"{k} {v}" for k, v in start.items())])
    for change in meta.get("software_changes") or []:
        if isinstance(change, dict) and isinstance(change.get("changed"), dict):
            listed = "; ".join(f"{k} {v[0]} -> {v[1]}" for k, v in change["changed"].items())
            rows.append([f"resumed {change.get('resumed', '')} with", listed])
    return rows


def _hms(seconds: float) -> str:
    s = round(seconds)
    return (
        f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"
    )


def _all_trials(result: SearchResult, used: Any) -> str:
    """Every trial: state, the objective metrics, seconds, and why it did not complete."""
    names = list(result.objective.metrics)
    rows = []
    for t in result.trials:
        vals = [f"{t.metrics[n]:.4g}" if n in t.metrics else "" for n in names]
        state = t.state.lower() + ("" if t.feasible or t.state != "COMPLETE" else ", over budget")
        secs = f"{t.duration_s:.1f}" if t.duration_s is not None else ""
        what = t.reason or ", ".join(f"{k}={v}" for k, v in used(t.params).items())
        rows.append([str(t.number), state, *vals, secs, what])
    head = ["trial", "state", *names, "seconds", "reason it did not complete / architecture"]
    return _table(head, rows, wrap=len(head) - 1)


#: The page while it is written; renamed to ``index.html`` when whole.
_PART = "index.html.part"


def write_report(
    run_dir: str | Path, *, out_dir: str | Path | None = None, winners: int = 5
) -> Report:
    """Write ``RUN/report/index.html`` and each image beside it; return their paths.

    Args:
        run_dir: the run folder.
        out_dir: where to write (default ``RUN/report``).
        winners: how many Pareto architectures to draw.

    Raises:
        RunError: ``run_dir`` is not a run folder.
        OutputError: ``out_dir`` cannot be written.
    """
    if isinstance(winners, bool) or not isinstance(winners, int) or winners < 0:
        raise ConfigError(f"winners must be an integer >= 0 (Pareto trials drawn); got {winners!r}")
    run_obj = Run.open(run_dir)
    out = check_folder(out_dir if out_dir is not None else run_obj.report_dir, "report folder")
    made = _outermost_missing(out)
    with writing(out, "report folder"):
        try:
            return _write(run_obj, out, winners)
        except BaseException:  # Ctrl-C or an error: no half-written folder is left
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
            else:
                (out / _PART).unlink(missing_ok=True)
            raise


def _outermost_missing(path: Path) -> Path | None:
    """The outermost folder writing into ``path`` creates (``path`` itself or a missing
    folder above it), or ``None`` when ``path`` exists."""
    if path.exists():
        return None
    while not path.parent.exists():  # ends: "." and "/" exist (even a deleted cwd's ".")
        path = path.parent
    return path


def _write(run_obj: Run, out: Path, winners: int) -> Report:
    result = run_obj.result()
    run = run_obj.dir
    out.mkdir(parents=True, exist_ok=True)
    meta = run_obj.meta
    used = _used(run_obj)
    images: list[Path] = []
    sections: list[str] = []

    def img(name: str, fig: Any, alt: str) -> str:
        p = out / f"{name}.png"
        images.append(p)
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
            "<h2>Choices</h2>" + img("choices", choices_grid(result, choices, used), "choices")
        )
        imp = _importances(result)
        if imp is not None:
            values, target = imp
            sections.append(
                "<h2>Parameter importances</h2>"
                f"<p>Optuna's fANOVA importance of each choice for {html.escape(target)} over "
                f"the {len(result.complete)} complete trials (seed 0; few trials give a rough "
                "estimate)</p>" + img("importances", importance_bars(values, target), "importances")
            )
    else:
        sections.append("<p class='note'>no complete trials yet</p>")
    # the objective's and the budgets' metrics as columns; every other metric of a
    # winner is listed under its drawing, so the table stays as wide as the page
    metrics = list(dict.fromkeys([*result.objective.metrics,
                                  *(b.metric for b in result.objective.budgets)]))  # fmt: skip
    weighted = result.objective.weights is not None
    rows = trials_table(result.pareto, metrics, used)
    if weighted:
        rows = [[r[0], *r[1:-1], f"{t.values[0]:.4g}" if t.values else "", r[-1]]
                for r, t in zip(rows, result.pareto, strict=True)]  # fmt: skip
    head = ["trial", *metrics, *(["weighted cost"] if weighted else []),
            "architecture (the choices it uses)"]  # fmt: skip
    sections.append(
        f"<h2>Pareto architectures ({len(result.pareto)})</h2>"
        + _table(head, rows, wrap=len(head) - 1)
    )
    try:
        trainable = run_obj.spec.is_trainable()
    except QuarchError:
        trainable = False
    for t in result.pareto[:winners]:
        ablation = _ablation(run_obj, t.number) if trainable else ""
        sections.append(
            f"<h3>Trial {t.number}</h3>" + _draw_winner(run_obj, t, out, images) + ablation
        )
    sections.append(quantum_section(run_obj, result.pareto[:winners], img))
    sections.append(f"<h2>All trials ({len(result.trials)})</h2>" + _all_trials(result, used))
    config_text = mask_secrets(json.dumps(result.config.to_dict(), indent=2, sort_keys=True))
    sections.append(
        "<h2>Run</h2>"
        + _table(
            ["", ""],
            [
                ["run folder", str(run.resolve())],
                [
                    "trials",
                    f"{len(result.trials)} ({len(result.complete)} complete, "
                    f"{len(result.pruned)} pruned, {len(result.failed)} failed, "
                    f"{len(result.skipped)} over a budget before training, never trained)",
                ],
                ["duration", _duration(result)],
                ["storage", mask_secrets(run_obj.storage)],
                ["data fingerprint", str(meta.get("fingerprint", ""))],
                ["quarch version", str(meta.get("quarch_version", ""))],
                *_software_rows(meta),
                ["seed", str(meta.get("seed", ""))],
            ],
        )
        + "<h3>Config</h3><pre>"
        + html.escape(config_text)
        + "</pre>"
    )
    title = f"quarch run {run.name}: {result.config.space} on {result.config.dataset}"
    page = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>"
        f"<body data-plots-expected='{len(images)}'><h1>{html.escape(title)}</h1>"
        f"<p>strategy <b>{html.escape(result.config.strategy)}</b>, objectives "
        f"<b>{html.escape(_objective_text(result.objective))}</b></p>"
        + "".join(sections)
        + f"<script>{_SCRIPT}</script></body></html>"
    )
    path = out / "index.html"
    part = out / _PART  # a report stopped while writing keeps its old page
    part.write_text(page)
    part.replace(path)
    return Report(path, images)


def _objective_text(objective: Any) -> str:
    """The objectives as the search's summary states them: a weighted cost with its
    weights and metrics (the page said "objectives weighted_cost", a name the user
    never gave)."""
    if objective.weights is None:
        return ", ".join(objective.names)
    terms = " + ".join(
        f"{w:g}*{m}" for w, m in zip(objective.weights, objective.metrics, strict=True)
    )
    return f"weighted cost = {terms}"
