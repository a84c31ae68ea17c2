"""A user's hqnn search with a layout choice on ``ibm-hanoi``, exported, reported and
resumed from the command line, with its recorded regions edited the way an older
quarch (another region ranking) or another Qiskit (another calibration file) would
have left them.

Truth: each trial's circuit's own order of the device's regions by brute force
(``tests/_region_truth.py``), Qiskit's own ``circuit.layout`` of the
exported QPY file, and Qiskit's couplers; exit codes and the one-line warnings.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from quarch.cli import main

from ._region_truth import circuit_order
from ._scope import per_module
from .test_hardware_regions_truth import _target

DEVICE = "ibm-hanoi"
LAYOUTS = 3
SEARCH = [
    "search", "--space", "hqnn", "--dataset", "iris", "--trials", "3", "--epochs", "1",
    "--device-profile", DEVICE, "--space-option", f"layouts={LAYOUTS}",
    "--space-option", "min_qubits=3", "--space-option", "max_qubits=3",
    "--space-option", "max_layers=1", "--quiet",
]  # fmt: skip


@pytest.fixture(scope=per_module)
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("prov") / "run"
    assert main([*SEARCH, "--out", str(run)]) == 0
    return run


def _trials(run: Path) -> dict[int, dict[str, Any]]:
    """Each complete trial's params and metrics, read from the study file itself."""
    with sqlite3.connect(run / "study.db") as db:
        rows = db.execute(
            "SELECT t.number, a.value_json FROM trial_user_attributes a JOIN trials t "
            "ON t.trial_id = a.trial_id WHERE a.key = 'metrics' AND t.state = 'COMPLETE'"
        ).fetchall()
        params = db.execute(
            "SELECT t.number, p.param_name, p.param_value FROM trial_params p JOIN trials t "
            "ON t.trial_id = p.trial_id WHERE p.param_name = 'layout'"
        ).fetchall()
    layout = {n: int(v) for n, _, v in params}
    return {n: {"metrics": json.loads(v), "layout": layout[n]} for n, v in rows}


def _edit(run: Path, number: int, change: Callable[[dict[str, Any]], None]) -> None:
    """Rewrite trial ``number``'s stored metrics as an older run would have them."""
    with sqlite3.connect(run / "study.db") as db:
        (tid,) = db.execute("SELECT trial_id FROM trials WHERE number = ?", (number,)).fetchone()
        (raw,) = db.execute(
            "SELECT value_json FROM trial_user_attributes WHERE trial_id = ? AND key = 'metrics'",
            (tid,),
        ).fetchone()
        metrics = json.loads(raw)
        change(metrics)
        db.execute(
            "UPDATE trial_user_attributes SET value_json = ? "
            "WHERE trial_id = ? AND key = 'metrics'",
            (json.dumps(metrics), tid),
        )


def _drop_region(metrics: dict[str, Any]) -> None:
    """The metrics as quarch wrote them before it recorded regions."""
    for k in [k for k in metrics if k.startswith("region_qubit_")]:
        del metrics[k]


def _copy(searched: Path, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(searched, run)
    return run


def _circuit(run: Path, number: int) -> Any:
    """Trial ``number``'s circuit, built from its stored architecture."""
    from quarch.spaces.hqnn.model import build_circuit
    from quarch.study import Run

    return build_circuit(Run.open(run).trial(number).params)


def _region(metrics: dict[str, Any]) -> list[int]:
    return [int(metrics[f"region_qubit_{i}"]) for i in range(3)]


def _exported(run: Path, number: int, out: Path) -> Any:
    from qiskit import qpy

    assert main(["export", str(run), "--trial", str(number), "--format", "qiskit",
                 "--out", str(out)]) == 0  # fmt: skip
    with open(out, "rb") as f:
        (qc,) = qpy.load(f)
    return qc


def _on_qubits(qc: Any, region: list[int]) -> None:
    """Qiskit's layout of the exported circuit is on ``region``, and so is every gate
    (two-qubit ones on the device's couplers)."""
    assert sorted(qc.layout.initial_index_layout(filter_ancillas=True)) == sorted(region)
    final = qc.layout.final_index_layout(filter_ancillas=True)
    assert sorted(final) == sorted(region)
    assert {int(k): v for k, v in qc.metadata["final_layout"].items()} == dict(enumerate(final))
    tg = _target("hanoi")
    two = next(g for g in ("cz", "ecr", "cx") if g in tg.operation_names)
    edges = {frozenset(q) for q in tg[two]}
    for inst in qc.data:
        qubits = [qc.find_bit(q).index for q in inst.qubits]
        assert set(qubits) <= set(region)
        if len(qubits) == 2:
            assert frozenset(qubits) in edges


def test_each_trial_records_the_brute_force_region_of_its_layout(searched: Path) -> None:
    trials = _trials(searched)
    assert trials
    for number, t in trials.items():
        truth = circuit_order(_circuit(searched, number), DEVICE, LAYOUTS)
        assert tuple(_region(t["metrics"])) == truth[t["layout"]]


def test_the_exported_circuit_keeps_its_layout_on_the_recorded_qubits(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    number, t = next(iter(_trials(searched).items()))
    capsys.readouterr()
    qc = _exported(searched, number, tmp_path / "c.qpy")
    assert "warning" not in capsys.readouterr().err
    _on_qubits(qc, _region(t["metrics"]))


def test_an_edited_region_is_warned_about_and_used(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The record says the trial ran on the region another layout names now (what an
    older ranking would have recorded): export warns in one line and writes the
    circuit on the recorded qubits; the report warns too; resume refuses, exit 2,
    before any training."""
    run = _copy(searched, tmp_path)
    number, t = next(iter(_trials(run).items()))
    truth = circuit_order(_circuit(run, number), DEVICE, LAYOUTS)
    now = list(truth[t["layout"]])
    then = list(truth[(t["layout"] + 1) % LAYOUTS])
    _edit(run, number, lambda m: m.update({f"region_qubit_{i}": q for i, q in enumerate(then)}))
    want = (
        f"warning: trial {number} was scored on qubits {then}, but its layout {t['layout']} "
        f"names qubits {now} of {DEVICE} now (quarch's region ranking or the installed "
        "Qiskit's calibration changed since the search); using the recorded qubits"
    )
    capsys.readouterr()
    qc = _exported(run, number, tmp_path / "c.qpy")
    assert [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln] == [want]
    _on_qubits(qc, then)
    weights = sorted(p.name for p in (run / "weights").iterdir())
    assert main(["search", "--resume", str(run), "--trials", "5", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: cannot resume: trial {number} was scored on qubits {then}, but its layout "
        f"{t['layout']} names qubits {now} of {DEVICE} now; quarch's region ranking or the "
        "installed Qiskit's calibration changed since the search, so new trials would be "
        "scored on other qubits than the old ones: start a new run folder (--out)\n"
    )
    assert set(_trials(run)) == set(_trials(searched))  # no trial was added
    assert sorted(p.name for p in (run / "weights").iterdir()) == weights


def test_the_report_says_which_trial_moved(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from quarch.study import Run

    run = _copy(searched, tmp_path)
    pareto = Run.open(run).result().pareto
    number = pareto[0].number
    t = _trials(run)[number]
    truth = circuit_order(_circuit(run, number), DEVICE, LAYOUTS)
    then = list(truth[(t["layout"] + 2) % LAYOUTS])
    _edit(run, number, lambda m: m.update({f"region_qubit_{i}": q for i, q in enumerate(then)}))
    capsys.readouterr()
    assert main(["report", str(run)]) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning")]
    assert lines == [
        f"warning: trial {number} was scored on qubits {then}, but its layout {t['layout']} "
        f"names qubits {list(truth[t['layout']])} of {DEVICE} now (quarch's region ranking "
        "or the installed Qiskit's calibration changed since the search); using the recorded "
        "qubits"
    ]
    page = html.unescape((run / "report" / "index.html").read_text())
    row = re.search(rf"<tr><td>{number}</td><td>([^<]*)</td>", page.split("On the device")[1])
    assert row is not None
    measured = [int(pair.split("->")[1]) for pair in row.group(1).split(", ")]
    assert sorted(measured) == sorted(then)  # drawn and listed on the recorded qubits


def test_an_old_run_is_checked_by_its_success_probability(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run of an older quarch records no region: with its success probability as the
    region named now gives it, export is silent and a resume goes on; with another one
    (the region moved), export warns and a resume refuses."""
    run = _copy(searched, tmp_path)
    trials = _trials(run)
    for n in trials:
        _edit(run, n, _drop_region)
    number, t = next(iter(trials.items()))
    capsys.readouterr()
    qc = _exported(run, number, tmp_path / "c.qpy")
    assert "warning" not in capsys.readouterr().err
    truth = circuit_order(_circuit(run, number), DEVICE, LAYOUTS)
    _on_qubits(qc, list(truth[t["layout"]]))
    p = t["metrics"]["success_probability"]
    _edit(run, number, lambda m: m.update(success_probability=p * 0.99))
    _exported(run, number, tmp_path / "d.qpy")
    assert [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln] == [
        f"warning: trial {number} records no region (an older quarch's run, or stopped "
        f"before training), and its success probability {p * 0.99:.6g} is {p:.6g} on "
        f"qubits {list(truth[t['layout']])} of {DEVICE}, which its layout {t['layout']} "
        "names now (quarch's region ranking or the installed Qiskit's calibration changed "
        "since the search); using the current ones"
    ]
    assert main(["search", "--resume", str(run), "--trials", "4", "--quiet"]) == 2
    assert capsys.readouterr().err.startswith(
        f"error: cannot resume: trial {number} records no region"
    )
    _edit(run, number, lambda m: m.update(success_probability=p))
    assert main(["search", "--resume", str(run), "--trials", "4", "--quiet"]) == 0
    assert len(_trials(run)) == len(trials) + 1


def _more_trials(run: Path, trials: int) -> None:
    """Raise the run's budget to ``trials``, in ``config.json`` and in the study (what a
    worker reads), so that a worker has trials left to join for."""
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "trials": trials}))
    with sqlite3.connect(run / "study.db") as db:
        (raw,) = db.execute(
            "SELECT value_json FROM study_user_attributes WHERE key = 'quarch:config'"
        ).fetchone()
        db.execute(
            "UPDATE study_user_attributes SET value_json = ? WHERE key = 'quarch:config'",
            (json.dumps({**json.loads(raw), "trials": trials}),),
        )


def test_a_worker_whose_layout_names_other_qubits_does_not_join(
    searched: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A worker on a machine where a trial's layout names other qubits than it recorded
    (another quarch or Qiskit there) refuses to join, exit 2, before any training; with
    the record intact the same worker joins and adds trials."""
    run = _copy(searched, tmp_path)
    _more_trials(run, 4)
    number, t = next(iter(_trials(run).items()))
    truth = circuit_order(_circuit(run, number), DEVICE, LAYOUTS)
    now = list(truth[t["layout"]])
    then = list(truth[(t["layout"] + 1) % LAYOUTS])
    recorded = _region(t["metrics"])
    _edit(run, number, lambda m: m.update({f"region_qubit_{i}": q for i, q in enumerate(then)}))
    capsys.readouterr()
    assert main(["worker", "--run", str(run)]) == 2
    assert capsys.readouterr().err == (
        f"error: this worker cannot join: trial {number} was scored on qubits {then}, but "
        f"its layout {t['layout']} names qubits {now} of {DEVICE} now on this machine; its "
        "quarch or Qiskit (the device's calibration) differs from the run's, so its trials "
        "would be scored on other qubits: install the run's versions here\n"
    )
    assert set(_trials(run)) == set(_trials(searched))
    _edit(run, number, lambda m: m.update({f"region_qubit_{i}": q for i, q in enumerate(recorded)}))
    assert main(["worker", "--run", str(run)]) == 0
    assert len(_trials(run)) == len(_trials(searched)) + 1
