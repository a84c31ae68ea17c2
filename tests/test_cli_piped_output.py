"""What ``quarch ... > file`` and ``quarch ... | less`` get: every cell whole.

rich sizes output to a terminal, else to 80 columns, and cut table cells to fit
(``ran…``, ``breast-c…``). ``quarch._cli_app._Console`` prints as wide as a table needs
where stdout is not a terminal; the names a user types after a flag are never cut, even
on a narrow terminal (``COLUMNS=60``). The truth for each table is the registry or the
benchmark's own JSON, read in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quarch.cost.devices import list_devices
from quarch.data import list_datasets
from quarch.search import STRATEGIES


def _piped(args: list[str], cwd: Path, columns: int | None = None) -> str:
    """Stdout of ``quarch ARGS`` sent to a pipe (no terminal; ``COLUMNS`` as given)."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    if columns is not None:
        env["COLUMNS"] = str(columns)
    done = subprocess.run(
        [sys.executable, "-m", "quarch", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_piped_benchmark_table_keeps_every_cell_and_says_where_it_wrote(
    tmp_path: Path,
) -> None:
    args = ["benchmark", "--task", "synthetic-qubo", "--strategies", "qubo-sa,random"]
    out = _piped([*args, "--seeds", "2", "--trials", "3", "--quiet"], tmp_path)
    assert "…" not in out
    folder = Path("runs") / "benchmark-synthetic-qubo"
    assert sorted(p.name for p in (tmp_path / folder).iterdir()) == [
        "benchmark.json", "best_so_far.png", "curves.csv", "results.csv",
    ]  # fmt: skip
    want = f"wrote: {folder}/ (results.csv, curves.csv, best_so_far.png, benchmark.json)"
    assert out.splitlines()[-1] == want
    summary = json.loads(
        _piped([*args, "--seeds", "2", "--trials", "3", "--json", "--out", "j"], tmp_path)
    )
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    for name, s in summary["strategies"].items():
        assert f"{s['mean']:.3f}" in rows[name], name  # the same seeds: the same scores


def test_a_json_benchmark_prints_only_json(tmp_path: Path) -> None:
    args = ["benchmark", "--task", "synthetic-qubo", "--strategies", "random", "--seeds", "1"]
    out = _piped([*args, "--trials", "2", "--json"], tmp_path)
    assert json.loads(out)["out"] == str(Path("runs") / "benchmark-synthetic-qubo")


@pytest.mark.parametrize("columns", [None, 60], ids=["pipe", "60-columns"])
def test_the_listings_name_each_entry_whole(tmp_path: Path, columns: int | None) -> None:
    datasets = _piped(["datasets", "--data-dir", str(tmp_path)], tmp_path, columns)
    for info in list_datasets(tmp_path):
        assert f"│ {info.name} " in datasets, info.name
    devices = _piped(["devices"], tmp_path, columns)
    for row in list_devices():
        assert f"│ {row['name']} " in devices, row["name"]
    strategies = _piped(["strategies"], tmp_path, columns)
    for entry in STRATEGIES.entries():
        assert f"│ {entry.name} " in strategies, entry.name
    if columns is None:  # a pipe: nothing cut anywhere
        assert "…" not in datasets + devices + strategies


def test_a_narrow_console_keeps_the_names_whole_in_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same claim in this process (what mutation testing sees): at 25 columns every
    strategy's and space's name is printed whole, on its own row."""
    import quarch._cli_app
    from quarch.cli import main
    from quarch.spaces import SPACES

    # the raw attribute: monkeypatch restores what it read, and `width` reads the
    # computed width (80 on an 80-column terminal), which the setter then fixes for
    # every later test of this worker
    monkeypatch.setattr(quarch._cli_app._out, "_width", 25)
    for command, registry in (("strategies", STRATEGIES), ("spaces", SPACES)):
        capsys.readouterr()
        assert main([command]) == 0
        out = capsys.readouterr().out
        for entry in registry.entries():
            assert f"│ {entry.name} " in out, (command, entry.name)
