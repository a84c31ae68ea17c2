"""``quarch train``, ``export`` and ``worker`` refuse a ``--device`` that torch has no
type for before torch is imported, in the words of ``quarch search`` (session 36).

Before, ``train RUN --trial 0 --device gpu`` imported torch and opened the study first
(3.5-5.6 s at load 2-3) and said torch's own message, listing twenty device types;
``search`` said it in a fraction of a second since session 35. The truth for each line is
``quarch search``'s own refusal of the same value, run the same way, and torch's parser.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ._fresh_cli import fresh


def _fake_run(where: Path) -> Path:
    """The two files that make a folder a run (the device is refused before the study is
    read, so no study is needed)."""
    run = where / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"space": "mlp", "trials": 4}))
    (run / "run.json").write_text("{}")
    return run


@pytest.mark.parametrize(
    ("device", "command"),
    [
        ("gpu", ["train", "run", "--trial", "0"]),
        ("nope", ["export", "run", "--trial", "0", "--format", "torch", "--out", "x.pt"]),
        ("GPU:1", ["worker", "--run", "run"]),
    ],
)
def test_a_device_torch_has_no_type_for_is_searchs_line_without_torch(
    device: str, command: list[str], tmp_path: Path
) -> None:
    run = _fake_run(tmp_path)
    with pytest.raises(RuntimeError, match="Expected one of"):
        torch.device(device)  # truth: torch has no such device type
    code, loaded, err = fresh([*command, "--device", device], tmp_path)
    s_code, s_loaded, s_err = fresh(["search", "--space", "mlp", "--device", device], tmp_path)
    assert (s_code, s_loaded) == (2, [])
    assert err.startswith(f"error: --device {device!r} is not a torch device: torch has no")
    assert (code, loaded, err) == (2, [], s_err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing written
    assert sorted(p.name for p in run.iterdir()) == ["config.json", "run.json"]


def test_a_device_type_torch_has_is_left_to_torch(tmp_path: Path) -> None:
    """``cuda:9`` parses: whether this machine has it is torch's to say, after the study
    is read (``train`` on this fake run then fails on the study, not on the device)."""
    torch.device("cuda:9")  # parses
    _fake_run(tmp_path)
    code, loaded, err = fresh(["train", "run", "--trial", "0", "--device", "cuda:9"], tmp_path)
    assert code == 2 and "quarch.study" in loaded  # the study was opened: not refused early
    assert "is not a torch device" not in err and "cuda" not in err
