"""Looking for dead workers' trials writes nothing when no trial is running.

Independent truth: the bytes of Optuna's journal file. A run's storage is a journal
(``quarch.study``), and every write to it, even one Optuna refuses (a user attribute
of a finished trial), is appended to the file before it is refused, so a search that
looked at finished trials of its earlier processes on every loop would grow the
journal by one refused write per finished trial per loop. ``fail_dead_trials``'s
docstring: it fails *running* trials whose worker is gone.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from quarch.study._worker import OWNER, fail_dead_trials


def _reaped_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_finished_trials_of_a_dead_worker_are_not_written_to(tmp_path: Path) -> None:
    path = tmp_path / "journal.log"
    study = optuna.create_study(storage=JournalStorage(JournalFileBackend(str(path))))
    owner = f"{socket.gethostname()}:{_reaped_pid()}"  # an earlier process of this run
    for value in (0.5, 0.25, 0.125):
        t = study.ask()
        study._storage.set_trial_system_attr(t._trial_id, OWNER, owner)
        study.tell(t, value)
    before = path.read_bytes()
    assert fail_dead_trials(study) == 0
    assert path.read_bytes() == before
    assert [t.state for t in study.get_trials()] == [optuna.trial.TrialState.COMPLETE] * 3
