"""The run folder's SQLite study: WAL while a search writes, one file when it ends.

WAL mode with ``synchronous=NORMAL`` is why a search's ~770 commits cost no ``fsync``
(``quarch/study/_storage.py``). What a user sees must not change: a finished run folder
holds ``study.db`` alone in SQLite's default mode (so reading it writes nothing), and a
run killed while writing keeps every finished trial and resumes.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quarch.config import SearchConfig
from quarch.study import run_search


class Arithmetic:
    """Metrics from the architecture alone (instant, reproducible)."""

    fingerprint = "arith"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        err = 0.1 * arch["n_layers"] + 0.001 * arch["width_0"]
        return {"val_error": err, "params": float(arch["width_0"] * arch["n_layers"])}


def _mode(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as con:  # a reader left open would
        return str(con.execute("PRAGMA journal_mode").fetchone()[0])  # keep the WAL


def _cfg(out: Path, trials: int) -> SearchConfig:
    return SearchConfig(space="mlp", dataset="iris", strategy="random", trials=trials,
                        seed=3, out=str(out))  # fmt: skip


def test_wal_while_writing_one_file_after(tmp_path: Path) -> None:
    seen: list[tuple[str, bool]] = []

    def on_trial(done: int, target: int, record: Any) -> None:
        seen.append((_mode(tmp_path / "run" / "study.db"),
                     (tmp_path / "run" / "study.db-wal").exists()))  # fmt: skip

    run_search(_cfg(tmp_path / "run", 3), progress=False, evaluator=Arithmetic(),
               on_trial=on_trial)  # fmt: skip
    assert seen == [("wal", True)] * 3
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert files == ["config.json", "run.json", "study.db"]
    assert _mode(tmp_path / "run" / "study.db") == "delete"


_KILLED = """
import os, sys
sys.path.insert(0, {here!r})
from test_storage_wal import Arithmetic, _cfg
from pathlib import Path
from quarch.study import run_search

def on_trial(done, target, record):
    if done == 2:
        os._exit(7)  # no clean-up at all: as a kill -9 after the second commit

run_search(_cfg(Path({out!r}), 5), progress=False, evaluator=Arithmetic(), on_trial=on_trial)
"""


def test_killed_while_writing_keeps_its_trials_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = textwrap.dedent(_KILLED.format(here=str(Path(__file__).parent), out=str(out)))
    proc = subprocess.run([sys.executable, "-c", code], env=dict(os.environ), timeout=300)
    assert proc.returncode == 7
    assert (out / "study.db-wal").exists()  # the trials are in the WAL, not yet folded in
    result = run_search(_cfg(out, 5), resume=True, progress=False, evaluator=Arithmetic())
    assert len(result.complete) == 5
    fresh = run_search(_cfg(tmp_path / "fresh", 5), progress=False, evaluator=Arithmetic())
    assert [t.params for t in result.complete][:2] == [t.params for t in fresh.complete][:2]
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "run.json", "study.db"]
    assert _mode(out / "study.db") == "delete"
