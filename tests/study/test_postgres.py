"""Several workers on a real PostgreSQL server: the documented way to run on a cluster.

A throw-away server is started in a temporary folder with the machine's ``initdb`` and
``pg_ctl`` (Debian's ``postgresql`` package; ``.ci/run`` installs it), on a free
local port. The tests skip, saying why, where the server binaries or the ``psycopg``
driver are missing.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import TrialState

from quarch.config import SearchConfig
from quarch.study import join_study, run_search, trial_seed
from quarch.testing.evaluators import ArithmeticEvaluator

from ._worker_first import worker_first


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    hits = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return hits[-1] if hits else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="the psycopg driver is not installed")
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    # PostgreSQL refuses to run as root: run the server as the 'postgres' user then.
    prefix: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser to start PostgreSQL as 'postgres'")
        prefix = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="quarch-pg-"))
    if prefix:
        shutil.chown(root, "postgres")
    data, port = root / "data", _free_port()
    env = {**os.environ, "LC_ALL": "C"}
    run: dict[str, Any] = {"check": True, "capture_output": True, "env": env}
    # UTF8 explicitly: under the C locale initdb picks SQL_ASCII, whose text psycopg
    # returns as bytes
    cmd = [initdb, "-D", str(data), "-A", "trust", "-U", "quarch", "-N", "-E", "UTF8"]
    subprocess.run([*prefix, *cmd, "--locale=C"], **run)
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*prefix, pg_ctl, "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"],
        **run,
    )
    try:
        yield f"postgresql+psycopg://quarch@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], env=env,
                       capture_output=True)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def _cfg(tmp_path: Path, url: str, study: str, **kw: Any) -> SearchConfig:
    base: dict[str, Any] = {
        "space": "mlp", "dataset": "iris", "strategy": "random", "out": str(tmp_path / "run"),
        "objectives": ["val_error", "params"], "storage": url, "study_name": study,
    }  # fmt: skip
    base.update(kw)
    return SearchConfig(**base)


def test_two_workers_share_a_postgres_study(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = _cfg(tmp_path, pg_url, "two-workers", trials=10, workers=2)
    # the main process's trials wait for the spawned worker's first (with 20 trials of
    # 0.2 s the main process once finished all 20 before the worker started, under a
    # full test run beside other work; 0.6 s a trial then cost 12 s)
    evaluator = worker_first(monkeypatch, 0.3, tmp_path / "started")
    res = run_search(cfg, evaluator=evaluator, progress=False)
    import optuna

    study = optuna.load_study(study_name="two-workers", storage=pg_url)
    trials = study.get_trials(deepcopy=False)
    assert sum(t.state == TrialState.COMPLETE for t in trials) == 10
    assert len({t.number for t in trials}) == len(trials)
    assert len({t.system_attrs["quarch:owner"] for t in trials}) >= 2
    ev = ArithmeticEvaluator()
    for t in res.complete:
        assert t.seed == trial_seed(0, t.number)
        assert t.metrics == ev.evaluate(t.params, seed=t.seed)


def test_cli_worker_joins_by_url_and_completes_a_raised_budget(tmp_path: Path, pg_url: str) -> None:
    """`quarch search --storage URL`, then `quarch worker --storage URL --study NAME`."""
    quarch = [sys.executable, "-m", "quarch"]
    common: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 300}
    first = subprocess.run(
        [*quarch, "search", "--space", "mlp", "--dataset", "iris", "--strategy", "random",
         "--trials", "3", "--epochs", "2", "--storage", pg_url, "--study-name", "joined",
         "--out", str(tmp_path / "run"), "--quiet"],
        **common,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    import optuna

    study = optuna.load_study(study_name="joined", storage=pg_url)
    study.set_user_attr("quarch:config", dict(study.user_attrs["quarch:config"], trials=5))
    joined = subprocess.run(
        [*quarch, "worker", "--storage", pg_url, "--study", "joined", "--json"], **common
    )
    assert joined.returncode == 0, joined.stderr
    states = [t.state for t in study.get_trials(deepcopy=False)]
    assert states.count(TrialState.COMPLETE) == 5
    # a second joiner finds the budget complete and evaluates nothing more
    assert len(join_study(pg_url, "joined", progress=False).complete) == 5
    assert len(study.get_trials(deepcopy=False)) == 5


def test_a_password_in_the_url_leaves_no_trace(
    tmp_path: Path, pg_url: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """A database password given in --storage is used, and never written or printed:
    not in the run folder, the study's attributes, the report, --json output or an
    error message. Later commands reopen the study without it (here the server trusts
    local connections; elsewhere PGPASSWORD or ~/.pgpass give it)."""
    import optuna

    from quarch.cli import main

    secret = "s3cret-Pw_42"
    url = pg_url.replace("quarch@", f"quarch:{secret}@")
    out = tmp_path / "run"
    code = main(["search", "--space", "mlp", "--dataset", "iris", "--trials", "2", "--epochs",
                 "1", "--storage", url, "--study-name", "secret", "--out", str(out), "--json",
                 "--report"])  # fmt: skip
    printed = capfd.readouterr()
    assert code == 0, printed.err
    assert main(["trials", str(out), "--json"]) == 0
    assert main(["report", str(out)]) == 0
    bad = url.rsplit(":", 1)[0] + ":9/postgres"  # nothing listens on port 9
    assert main(["search", "--space", "mlp", "--storage", bad, "--out", str(tmp_path / "b")]) == 2
    printed2 = capfd.readouterr()
    assert "error: cannot open storage 'postgresql+psycopg://quarch:***@127.0.0.1:9/postgres'" in (
        printed2.err
    )
    for text in (printed.out, printed.err, printed2.out, printed2.err):
        assert secret not in text
    files = [f for f in out.rglob("*") if f.is_file()]
    assert any(f.name == "index.html" for f in files)
    for f in files:
        assert secret.encode() not in f.read_bytes(), f
    assert json.loads((out / "run.json").read_text())["storage"] == pg_url
    study = optuna.load_study(study_name="secret", storage=pg_url)
    assert secret not in json.dumps(study.user_attrs)
    assert not (tmp_path / "b").exists()
