"""``train_trial(..., progress=True)``'s bar in a Jupyter kernel: one line of the cell.

Before, it was rich's live display, which in a kernel needs ``ipywidgets``: without
them the cell showed rich's ``install "ipywidgets" for Jupyter support`` warning and no
bar. The truth: the trainings and epochs asked for (counted here), and rich's own test
of a kernel, faked as in ``tests/test_notebook_progress_truth.py``.
"""

from __future__ import annotations

import warnings

import pytest

from quarch import finalize

from .test_notebook_progress_truth import _fake_kernel


def test_in_a_kernel_the_training_bar_is_one_line_that_ends_at_every_epoch(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    displayed, shown = _fake_kernel(monkeypatch)
    runs, epochs = 2, 3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with finalize._training_bar(True, runs, epochs, "train trial 0") as begin:
            for k in range(runs):
                begin(f"seed {k + 1}/{runs}")
    assert [str(w.message) for w in caught if "ipywidgets" in str(w.message)] == []
    assert len(displayed) == 1  # one output, created once
    last = shown[-1]
    assert len(last.splitlines()) == 1 and "\x1b" not in last
    assert last.startswith("train trial 0") and f"{runs * epochs}/{runs * epochs}" in last
    assert "seed 2/2" in last
    assert "ipywidgets" not in capsys.readouterr().err
