"""Defects found by session 33's user-path audit (helper H4), pinned as strict xfails.

Each test states what a user would expect from the README or from the rule that a
mistake is one line, exit 2, before any work is spent where it can be checked early
and with nothing written. Each fails on the code it was written against; the lead
fixes the code and removes the ``xfail`` mark. A test whose defect is settled by
changing the README instead should be deleted, not unmarked.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quarch._errors import QuarchError
from quarch.config import SearchConfig
from quarch.study import check_search, run_search

from ._fresh_cli import fresh

# --- a missing run folder costs `export` the whole torch import -------------------------
# `quarch report`, `trials`, `train`, `worker` and `search --resume` refuse it first
# (quarch._run_files; tests/test_cli_early_refusals.py); `quarch export` keeps its flag
# checks (format, extras) first, and they live in quarch.finalize, whose module-level
# `from quarch.study import` loads torch (5-6 s here, against 0.7 s for `quarch report`).


@pytest.mark.xfail(
    strict=True,
    reason="export imports torch before checking the run folder "
    "(finalize.py imports quarch.study at module level)",
)
def test_a_missing_run_folder_is_refused_without_torch(tmp_path: Path) -> None:
    args = ["export", "no-such-run", "--trial", "0", "--format", "torch", "--out", "x.pt"]
    code, loaded, err = fresh(args, tmp_path)
    assert err == (
        "error: 'no-such-run' is not a quarch run folder (config.json or run.json missing)\n"
    )
    assert (code, loaded) == (2, [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.xfail(
    strict=True,
    reason="export_trial checks the format name before training but after "
    "quarch.finalize's import of quarch.study (torch)",
)
def test_an_unknown_export_format_is_refused_without_torch(tmp_path: Path) -> None:
    args = ["export", "no-such-run", "--trial", "0", "--format", "qasm4", "--out", "x.qasm"]
    code, loaded, err = fresh(args, tmp_path)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert loaded == []


# --- an explicit SQLite URL is created by the storage check -----------------------------
# README: "`--dry-run` | check everything (config, space, storage, data), print the
# config the run would store, write nothing" and "Nothing is written before a run can
# start (...; a start that fails later removes what it wrote)". `_prepare` opens any
# storage other than "sqlite"/"journal" before the data (to refuse an unreachable
# database early); for `sqlite:///FILE` that creates FILE with Optuna's whole schema
# (114688 bytes), which a dry run and a refused start both leave behind.


@pytest.mark.xfail(
    strict=True,
    reason="_prepare's make_storage(secret_spec) creates a sqlite:/// file on a dry run",
)
def test_a_dry_run_with_a_sqlite_url_writes_no_database(tmp_path: Path) -> None:
    db = tmp_path / "study.sqlite"
    config = SearchConfig(
        space="mlp", dataset="iris", trials=1, storage=f"sqlite:///{db}",
        out=str(tmp_path / "run"),
    )  # fmt: skip
    check_search(config)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


@pytest.mark.xfail(
    strict=True,
    reason="a start refused after the storage check (here: no data) leaves the new "
    "sqlite:/// file behind",
)
def test_a_refused_start_with_a_sqlite_url_leaves_no_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUARCH_OFFLINE", "1")
    empty = tmp_path / "empty"
    empty.mkdir()
    db = tmp_path / "study.sqlite"
    config = SearchConfig(
        space="mlp", dataset="mnist", data_dir=str(empty), trials=1,
        storage=f"sqlite:///{db}", out=str(tmp_path / "run"),
    )  # fmt: skip
    with pytest.raises(QuarchError, match="mnist: missing"):
        run_search(config, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]
