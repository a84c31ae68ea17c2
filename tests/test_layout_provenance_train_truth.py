"""``quarch train`` of a noise-aware hqnn trial, on the qubits the trial was scored on.

A noise-aware search trains every architecture under the routed device's noise, on the
region its ``layout`` names, and records that region (``region_qubit_<i>``). Training
the trial again (``quarch train``) must run under the same qubits' noise, even when
quarch's ranking of regions (or Qiskit's calibration file) names other qubits for that
layout now: as ``quarch export`` and the report do, it warns in one line and uses the
recorded qubits. Before, it trained on whatever the layout named now, without a word.

Truth: the circuit's own order of ``ibm-hanoi``'s regions by brute force
(``tests/_region_truth.py``) and the region of every routed circuit whose device noise
the training simulated (a spy on :func:`quarch.cost.device_costs.device_noise`, which
builds the noise of a routed circuit's physical qubits).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("qiskit_ibm_runtime")

from quarch.cli import main

from ._region_truth import circuit_order
from ._scope import per_module
from .test_layout_provenance_run_truth import (
    DEVICE,
    LAYOUTS,
    _circuit,
    _copy,
    _drop_region,
    _edit,
    _trials,
)

SEARCH = [
    "search", "--space", "hqnn", "--dataset", "iris", "--trials", "1", "--epochs", "1",
    "--device-profile", DEVICE, "--noise", DEVICE, "--evaluator-option", "noise_aware=true",
    "--space-option", f"layouts={LAYOUTS}", "--space-option", "min_qubits=3",
    "--space-option", "max_qubits=3", "--space-option", "max_layers=1", "--quiet",
]  # fmt: skip
TRAIN = ["--trial", "0", "--seeds", "1", "--epochs", "1", "--quiet"]


@pytest.fixture(scope=per_module)
def searched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("prov_train") / "run"
    assert main([*SEARCH, "--out", str(run)]) == 0
    return run


@pytest.fixture
def noisy_regions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The physical qubits of every routed circuit whose noise is built from now on."""
    from quarch.cost import device_costs

    seen: list[tuple[int, ...]] = []
    real = device_costs.device_noise

    def spy(routed: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(tuple(routed.region))
        return real(routed, *args, **kwargs)

    monkeypatch.setattr(device_costs, "device_noise", spy)
    return seen


def _layout_now_then(run: Path) -> tuple[list[int], list[int], int]:
    """Trial 0's layout, the region its circuit's order names for it (brute force) and
    another region of that order."""
    layout = _trials(run)[0]["layout"]
    truth = circuit_order(_circuit(run, 0), DEVICE, LAYOUTS)
    return list(truth[layout]), list(truth[(layout + 1) % LAYOUTS]), layout


def _warnings(err: str) -> list[str]:
    return [ln for ln in err.splitlines() if "warning" in ln]


def test_a_moved_trial_is_trained_under_its_recorded_qubits_noise(
    searched: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    noisy_regions: list[tuple[int, ...]],
) -> None:
    run = _copy(searched, tmp_path)
    now, then, layout = _layout_now_then(run)
    _edit(run, 0, lambda m: m.update({f"region_qubit_{i}": q for i, q in enumerate(then)}))
    capsys.readouterr()
    assert main(["train", str(run), *TRAIN]) == 0
    assert _warnings(capsys.readouterr().err) == [
        f"warning: trial 0 was scored on qubits {then}, but its layout {layout} names "
        f"qubits {now} of {DEVICE} now (quarch's region ranking or the installed Qiskit's "
        "calibration changed since the search); using the recorded qubits"
    ]
    assert noisy_regions and set(noisy_regions) == {tuple(then)}
    assert (run / "train" / "trial_0.json").is_file()


def test_a_trial_where_its_layout_still_is_trains_there_without_a_word(
    searched: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    noisy_regions: list[tuple[int, ...]],
) -> None:
    run = _copy(searched, tmp_path)
    now, _, _ = _layout_now_then(run)
    capsys.readouterr()
    assert main(["train", str(run), *TRAIN]) == 0
    assert _warnings(capsys.readouterr().err) == []
    assert noisy_regions and set(noisy_regions) == {tuple(now)}


def test_an_old_trial_whose_costs_moved_trains_on_the_current_qubits_with_a_warning(
    searched: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    noisy_regions: list[tuple[int, ...]],
) -> None:
    """A run of an older quarch records no region; a success probability that differs
    on the region the layout names now proves it moved. Nothing says where it ran, so
    the current qubits are used, and the warning says so."""
    run = _copy(searched, tmp_path)
    now, _, layout = _layout_now_then(run)
    p = _trials(run)[0]["metrics"]["success_probability"]

    def older(m: dict[str, Any]) -> None:
        _drop_region(m)
        m["success_probability"] = p / 2

    _edit(run, 0, older)
    capsys.readouterr()
    assert main(["train", str(run), *TRAIN]) == 0
    (line,) = _warnings(capsys.readouterr().err)
    assert line.startswith("warning: trial 0 records no region (an older quarch's run")
    assert line.endswith(f"on qubits {now} of {DEVICE}, which its layout {layout} names now "
                         "(quarch's region ranking or the installed Qiskit's calibration "
                         "changed since the search); using the current ones")  # fmt: skip
    assert noisy_regions and set(noisy_regions) == {tuple(now)}


def test_noiseless_training_places_nothing_and_says_nothing(searched: Path, tmp_path: Path) -> None:
    """Training without the noise does not depend on the qubits: a moved trial is not
    warned about and nothing is placed (the layout routes as in a search); with the
    noise, the trial's width and layout are placed on the recorded qubits."""
    from quarch._warnings import QuarchWarning
    from quarch.study import Run

    run = _copy(searched, tmp_path)
    _, then, layout = _layout_now_then(run)
    _edit(run, 0, lambda m: m.update({f"region_qubit_{i}": q for i, q in enumerate(then)}))
    opened = Run.open(run)
    spec: Any = opened.spec
    ev: Any = opened.evaluator(standalone=True)
    ev.noise_aware = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec.place_trial(ev, opened.trial(0))
    assert ev.costs.placed == {}
    ev.noise_aware = True
    with pytest.warns(QuarchWarning, match="using the recorded qubits"):
        spec.place_trial(ev, opened.trial(0))
    c = _circuit(run, 0)
    assert ev.costs.placed == {(3, c.n_weights, tuple(c.ops), layout): tuple(then)}
