"""The HTML report: files, embedded plots, and a render in headless Chromium."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from quarch.config import SearchConfig
from quarch.report import write_report
from quarch.study import run_search

from .._scope import per_module

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope=per_module)
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rep") / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", trials=5, epochs=2, out=str(out),
                       objectives=["val_error", "params", "flops"])  # fmt: skip
    run_search(cfg, progress=False)
    return out


def test_report_files_and_embedded_plots(run_dir: Path) -> None:
    rep = write_report(run_dir)
    page = rep.html.read_text()
    # 3 objectives -> 3 pairwise fronts, + best-so-far + the choices grid
    assert sum(p.name.startswith("pareto_") for p in rep.pngs) == 3
    assert {"best_so_far.png", "choices.png"} <= {p.name for p in rep.pngs}
    for p in rep.pngs:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    imgs = re.findall(r"<img class='plot'[^>]*src='data:image/png;base64,", page)
    assert len(imgs) == len(rep.pngs)
    assert "http://" not in page and "https://" not in page  # opens offline
    assert "data fingerprint" in page and '"space": "mlp"' in html.unescape(page)
    assert "Pareto architectures" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_report_renders_in_headless_chromium(run_dir: Path, tmp_path: Path) -> None:
    assert CHROMIUM is not None  # (the skipif above)
    rep = write_report(run_dir, out_dir=tmp_path / "r")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]  # fmt: skip
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", rep.html.resolve().as_uri()],
        capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    expected = re.search(r'data-plots-expected="(\d+)"', dom)
    loaded = re.search(r'data-plots-loaded="(\d+)"', dom)
    assert expected and loaded, dom[:500]
    assert int(expected.group(1)) == len(rep.pngs) >= 5
    assert loaded.group(1) == expected.group(1)  # every plot decoded and laid out
