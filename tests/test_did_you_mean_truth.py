"""A misspelt name gets "did you mean" whatever its case (the README's promise), for the
names session 33's user-path audit found without one: metrics (in ``--objectives`` and
``--budget``), pruners, export formats, device profiles of either kind and ``quarch
trials --state``. The truth is the name a user meant; a name close to none gets the
plain line, without a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from quarch._errors import QuarchError
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.cost.devices import check_device_profile, get_device
from quarch.finalize import export_trial
from quarch.objectives import Objective


@pytest.mark.parametrize(
    ("make", "typed", "meant"),
    [
        (lambda: Objective(["val_eror"]), "val_eror", "val_error"),
        (lambda: Objective(["val_error"], budgets=["parms<=500"]), "parms", "params"),
        (lambda: SearchConfig(space="mlp", pruner="Median"), "Median", "median"),
        (lambda: export_trial("no-such-run", 0, "pennylan", "x.py"), "pennylan", "pennylane"),
        (lambda: export_trial("no-such-run", 0, "QASM", "x.qasm"), "QASM", "qasm"),
        (lambda: get_device("Cortex-M7"), "Cortex-M7", "cortex-m7"),
        (lambda: check_device_profile("ibm-fes", ("quantum",)), "ibm-fes", "ibm-fez"),
    ],
    ids=["objective", "budget", "pruner", "export-format", "format-case", "edge", "quantum"],
)
def test_a_misspelt_name_gets_the_name_meant(
    make: Callable[[], object],
    typed: str,
    meant: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # the export's relative paths: nothing in the checkout
    with pytest.raises(QuarchError) as e:
        make()
    assert str(e.value).endswith(f" ({typed!r}: did you mean {meant!r}?)")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "make",
    [
        lambda: Objective(["zzz"]),
        lambda: SearchConfig(space="mlp", pruner="zzz"),
        lambda: export_trial("no-such-run", 0, "zzz", "x"),
        lambda: get_device("zzz"),
        lambda: check_device_profile("zzz", ("edge",)),
    ],
    ids=["objective", "pruner", "export-format", "edge", "either"],
)
def test_a_name_close_to_none_gets_no_guess(
    make: Callable[[], object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(QuarchError) as e:
        make()
    assert "did you mean" not in str(e.value) and "'zzz'" in str(e.value)


def test_trials_state(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trials", "no-such-run", "--state", "completed"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "error: --state takes complete, pruned, fail, running or waiting; got 'completed' "
        "('completed': did you mean 'complete'?)\n"
    )
