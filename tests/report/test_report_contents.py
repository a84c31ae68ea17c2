"""What a person reads in the report of a hybrid run (issue 20): the choices each winner
uses, log axes, budgets, importances, every trial with its reason, the duration, the
classical ablation beside a trained winner; and that the page fits a browser window."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from quarch.config import SearchConfig
from quarch.finalize import train_trial
from quarch.report import write_report
from quarch.report._plots import _log_if_spread
from quarch.study import Run, run_search

from .._scope import per_module

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope=per_module)
def hybrid_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten small hybrid trials under a parameter budget, pruned by the median rule on a
    weighted cost, and the best one trained with its classical ablation."""
    out = tmp_path_factory.mktemp("rep") / "hqnn"
    cfg = SearchConfig(
        space="hqnn", dataset="iris", trials=12, epochs=3, seed=1, out=str(out),
        objectives=["val_error", "params"], weights=[1.0, 0.001], budgets=["params<=60"],
        pruner="median", pruner_options={"n_startup_trials": 4, "n_warmup_steps": 1},
        space_options={"max_qubits": 3, "max_layers": 2, "frontends": ["linear"],
                       "heads": ["linear"]},
    )  # fmt: skip
    res = run_search(cfg, progress=False)
    best = res.best
    assert best is not None
    train_trial(out, best.number, epochs=2, seeds=2)
    return out


def _text(page: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_sections_a_person_reads(hybrid_run: Path) -> None:
    rep = write_report(hybrid_run)
    page = rep.html.read_text()
    text = _text(page)
    res = Run.open(hybrid_run).result()
    assert {"choices.png", "importances.png", "best_so_far.png"} <= {p.name for p in rep.pngs}
    # a circuit diagram (SVG, as a file and embedded) for every drawn winner
    svgs = sorted(p.name for p in rep.images if p.suffix == ".svg")
    drawn = re.findall(r"<h3>Trial (\d+)</h3>", page)
    assert drawn and svgs == sorted(f"winner_{n}_circuit.svg" for n in drawn)
    assert page.count("src='data:image/svg+xml;base64,") == len(svgs)
    assert "Parameter importances" in text
    assert f"All trials ({len(res.trials)})" in text
    for t in res.failed + res.pruned + res.skipped:
        assert html.escape(str(t.reason))[:40] in page
    assert "from the first trial's start to the last one's end" in text
    best = res.best
    assert best is not None
    trained = json.loads((hybrid_run / "train" / f"trial_{best.number}.json").read_text())
    abl = trained["classical_ablation"]
    assert "classical ablation (same parameter count)" in text
    assert f"{abl['test_accuracy']['mean']:.2f} ± {abl['test_accuracy']['std']:.2f}" in text


def test_a_run_searched_on_a_device_this_machine_lacks_still_draws(
    hybrid_run: Path, tmp_path: Path
) -> None:
    """The report builds its models on the CPU (it trains nothing): a run whose config
    names ``cuda:63`` gets the same circuit diagrams here, not a 'no drawing' note."""
    moved = tmp_path / "run"
    shutil.copytree(hybrid_run, moved)
    shutil.rmtree(moved / "report", ignore_errors=True)
    cfg = json.loads((moved / "config.json").read_text())
    (moved / "config.json").write_text(json.dumps({**cfg, "device": "cuda:63"}))
    rep = write_report(moved)
    page = rep.html.read_text()
    assert "no drawing" not in page
    assert re.findall(r"<h3>Trial (\d+)</h3>", page)
    assert any(p.suffix == ".svg" for p in rep.images)


def test_pareto_table_shows_only_the_choices_used(hybrid_run: Path) -> None:
    page = write_report(hybrid_run).html.read_text()
    table = page.split("<h2>Pareto architectures")[1].split("</table>")[0]
    res = Run.open(hybrid_run).result()
    for t in res.pareto:
        row = next(r for r in table.split("<tr>") if r.startswith(f"<td>{t.number}</td>"))
        for i in range(2):
            assert (f"rotation_{i}=" in row) == (i < t.params["layers"]), (t.params, row)


def test_log_axes_where_values_span_decades() -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    _log_if_spread(ax, "x", [10.0, 50.0, 5000.0])
    _log_if_spread(ax, "y", [0.1, 0.3, 0.5])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "linear"
    _log_if_spread(ax, "y", [0.0, 1.0, 1000.0])
    assert ax.get_yscale() == "symlog"
    plt.close(fig)


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_report_fits_a_browser_window(hybrid_run: Path, tmp_path: Path) -> None:
    """Rendered at 1280 pixels wide, every plot decodes and nothing is wider than the
    page (long architectures wrap); a screenshot is taken as a person would see it."""
    assert CHROMIUM is not None  # (the skipif above)
    rep = write_report(hybrid_run, out_dir=tmp_path / "r")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
             "--window-size=1280,2400", "--hide-scrollbars"]  # fmt: skip
    uri = rep.html.resolve().as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", uri], capture_output=True, text=True,
                         timeout=120).stdout  # fmt: skip
    assert re.search(r'data-page-fits="true"', dom), re.findall(r"data-page-fits=\S+", dom)
    loaded = re.search(r'data-plots-loaded="(\d+)"', dom)
    assert loaded and int(loaded.group(1)) == len(rep.images)
    shot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", uri], capture_output=True,
                   timeout=120)  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
