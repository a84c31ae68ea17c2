"""Stopping quarch at the worst moment: a Ctrl-C (or the command line's SIGTERM) that
lands while a worker asks Optuna for a trial and records itself as its owner, and a run
that holds a RUNNING trial nobody owns.

The truth is the product's promise (README): a stopped search can be resumed, and the
resumed run ends with its budget of complete trials. A trial left RUNNING without an
owner broke that: no check could tell its worker was gone, so every later run counted
it as running and, with the rest of the budget done, waited for it forever.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from quarch.cli import _termination_as_interrupt
from quarch.objectives import Objective
from quarch.space import Choice, Space
from quarch.study._worker import (
    FAIL_REASON,
    INTERRUPTED,
    OWNER,
    UNOWNED,
    UNOWNED_SECONDS,
    _pid_alive,
    fail_dead_trials,
    work,
)
from quarch.testing.evaluators import ArithmeticEvaluator

from ._dropped_ctrl_c import ctrl_c_inside_a_weakref_callback

SPACE = Space([Choice("n_layers", [1, 2, 3]), Choice("width_0", [8, 16, 32])], name="t")
POSIX = pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM and raise_signal are POSIX")


def _study(path: Path) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(
        storage=RDBStorage(f"sqlite:///{path}"), sampler=optuna.samplers.RandomSampler(seed=0)
    )


@pytest.fixture
def ctrl_c_handler() -> Iterator[None]:
    """Python's own Ctrl-C handler, whatever the test runner installed; restored after."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


@pytest.fixture
def signal_inside_ask(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[signal.Signals]]:
    """Deliver the signal put in the yielded list once Optuna has created the trial,
    before ``Study.ask`` returns it: the moment a terminal's Ctrl-C can land."""
    which: list[signal.Signals] = []
    ask = optuna.Study.ask

    def ask_then_signal(self: optuna.Study, *args: Any, **kwargs: Any) -> optuna.Trial:
        trial = ask(self, *args, **kwargs)
        if which:
            signal.raise_signal(which.pop())  # handled at the next bytecode: still in ask
        return trial

    monkeypatch.setattr(optuna.Study, "ask", ask_then_signal)
    yield which


@POSIX
@pytest.mark.usefixtures("ctrl_c_handler")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_while_a_trial_is_asked_fails_that_trial_as_interrupted(
    tmp_path: Path, signal_inside_ask: list[signal.Signals], sig: signal.Signals
) -> None:
    study = _study(tmp_path / "s.db")
    signal_inside_ask.append(sig)
    # the command line's handlers: Ctrl-C's KeyboardInterrupt, SIGTERM taken as Ctrl-C
    with _termination_as_interrupt() as terminated, pytest.raises(KeyboardInterrupt):
        work(study, space=SPACE, evaluator=ArithmeticEvaluator(), objective=Objective(
            ["val_error"]), trials=3, run_seed=0)  # fmt: skip
    assert terminated == ([signal.SIGTERM] if sig == signal.SIGTERM else [])  # exit code 143
    (trial,) = study.get_trials()  # nothing was evaluated after the signal
    # failed with the interrupt's reason; the old code left it RUNNING with no owner
    assert trial.state == TrialState.FAIL, trial.state
    assert trial.user_attrs[FAIL_REASON] == INTERRUPTED
    assert OWNER in trial.system_attrs


def _age(db: Path, trial_id: int, seconds: float) -> None:
    """Move a trial's start ``seconds`` into the past, in the SQLite file itself."""
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "UPDATE trials SET datetime_start = datetime(datetime_start, ?) WHERE trial_id = ?",
            (f"-{seconds:g} seconds", trial_id),
        )
    con.close()


def test_a_resumed_run_with_a_trial_nobody_owns_reaches_its_budget(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    study = _study(db)
    lost = study.ask()  # its worker was stopped before it recorded itself as the owner
    _age(db, lost._trial_id, UNOWNED_SECONDS + 5)
    study.tell(study.ask(), 0.5)  # and one trial of the budget that did complete
    stopped = work(
        study, space=SPACE, evaluator=ArithmeticEvaluator(), objective=Objective(["val_error"]),
        trials=3, run_seed=0, timeout=6.0,
    )  # fmt: skip
    # the old code counted the lost trial as running: with 2 done + 1 "running" it
    # polled until the timeout (without one, forever)
    assert stopped == "budget"
    got = study.get_trials()
    assert got[0].state == TrialState.FAIL and got[0].user_attrs[FAIL_REASON] == UNOWNED
    assert [t.state for t in got[1:]] == [TrialState.COMPLETE] * 3
    # another worker's trial asked just now has no owner yet for a moment: kept
    fresh = study.ask()
    assert fail_dead_trials(study) == 0
    assert study.get_trials()[fresh.number].state == TrialState.RUNNING
    # two more lost ones past the limit: both failed and counted, the fresh one kept
    for lost in (study.ask(), study.ask()):
        _age(db, lost._trial_id, UNOWNED_SECONDS + 5)
    assert fail_dead_trials(study) == 2
    assert [t.state for t in study.get_trials()[-3:]] == [
        TrialState.RUNNING,
        TrialState.FAIL,
        TrialState.FAIL,
    ]


# A search whose spawned worker is still starting (it ignores Ctrl-C until it can fail
# a trial cleanly) when a second Ctrl-C cuts the parent's stopping of it short: the
# worker stands in for it, the search for ``run_search`` that raises the second Ctrl-C.
LATE_WORKER = """
import multiprocessing as mp, os, signal, sys, time
from pathlib import Path


def starting_worker(pid_file):
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a spawned worker before its trial
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(600)  # the rest of the budget: longer than the test waits for the command


def search_cut_short(config, **kwargs):
    mp.get_context("spawn").Process(target=starting_worker, args=(sys.argv[1],)).start()
    while not Path(sys.argv[1]).exists():
        time.sleep(0.05)
    raise KeyboardInterrupt  # the second Ctrl-C, while the worker is being stopped


if __name__ == "__main__":
    import quarch.cli
    import quarch.study

    quarch.study.run_search = search_cut_short
    sys.exit(quarch.cli.main(["search", "--space", "mlp", "--dataset", "iris",
                              "--out", sys.argv[2], "--quiet"]))
"""


@POSIX
def test_an_interrupted_command_leaves_no_worker_process_running(tmp_path: Path) -> None:
    script, pid_file = tmp_path / "late_worker.py", tmp_path / "worker.pid"
    script.write_text(LATE_WORKER)
    try:  # the old code's exit waited for the worker's 600 s: TimeoutExpired here
        proc = subprocess.run(
            [sys.executable, str(script), str(pid_file), str(tmp_path / "run")],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
        )  # fmt: skip
        alive = _pid_alive(int(pid_file.read_text()))
    finally:  # never left behind by the test either
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert proc.returncode == 130, proc.stderr
    assert proc.stderr.splitlines() == [
        "error: interrupted before the run started; nothing was written"
    ], proc.stderr
    assert not alive, "the worker lives on after the command ended"


# -- the report: stopped while it is written -----------------------------------------------
def _stop_at_quantum_section(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C once the plots are written, before the page is."""
    import quarch.report

    def stopped(*args: Any, **kwargs: Any) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(quarch.report, "quantum_section", stopped)


def test_a_report_stopped_while_written_leaves_no_folder(
    tiny_hqnn_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.report import write_report

    _stop_at_quantum_section(monkeypatch)
    out = tmp_path / "rep"
    with pytest.raises(KeyboardInterrupt):
        write_report(tiny_hqnn_run, out_dir=out)
    assert not out.exists(), sorted(p.name for p in out.iterdir())  # old: plots, no page


def test_a_report_stopped_while_its_page_is_written_keeps_the_old_page(
    tiny_hqnn_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.report import write_report

    out = tmp_path / "rep"
    page = write_report(tiny_hqnn_run, out_dir=out).html
    before = page.read_text()
    write_text = Path.write_text

    def cut_short(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if self.parent == out and data.startswith("<!DOCTYPE html>"):
            write_text(self, data[: len(data) // 2], *args, **kwargs)
            raise KeyboardInterrupt
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", cut_short)
    with pytest.raises(KeyboardInterrupt):
        write_report(tiny_hqnn_run, out_dir=out)
    assert page.read_text() == before  # the old code left half a page
    assert not (out / "index.html.part").exists()  # nothing half-written beside it


def test_search_report_stopped_says_the_search_is_done_and_how_to_write_it(
    tiny_hqnn_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from quarch.cli import main

    _stop_at_quantum_section(monkeypatch)
    code = main(["search", "--resume", str(tiny_hqnn_run), "--report", "--quiet", "--json"])
    err = capsys.readouterr().err.splitlines()
    assert code == 130
    # the old line was "error: interrupted": nothing said the 2 trials were safe
    assert err[-1] == (
        f"error: interrupted while writing the report; the search ended with 2 of 2 trials "
        f"done; write the report with `quarch report {tiny_hqnn_run}`"
    ), err
    assert not (tiny_hqnn_run / "report").exists()


# -- a Ctrl-C that Python has to drop ----------------------------------------------------
@pytest.mark.usefixtures("ctrl_c_handler")
def test_a_ctrl_c_python_drops_in_a_callback_still_stops_the_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import quarch._cli_lists
    from quarch.cli import main

    went_on: list[int] = []

    def listing(*args: Any, **kwargs: Any) -> None:
        ctrl_c_inside_a_weakref_callback()
        for i in range(100):  # the rest of the command's work
            time.sleep(0.01)
            went_on.append(i)
        sys.stdout.write("listed\n")

    monkeypatch.setattr(quarch._cli_lists, "_registry_table", listing)
    hook = sys.unraisablehook
    try:
        code = main(["spaces"])
    finally:
        sys.unraisablehook = hook
    out, err = capsys.readouterr()
    # the old code finished the work and exited 0, the Ctrl-C silently lost
    assert (code, err, out) == (130, "error: interrupted\n", "")
    assert len(went_on) < 5
