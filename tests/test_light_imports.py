"""What does not train does not import torch.

torch costs about 2 s to import on a laptop (5-6 s on a loaded 2-core machine). The
search loop, its workers and a space scored by a table look-up (``nb201``) never train,
so ``quarch.evaluate`` gives them its contract, metric checks and epoch hook without
it, and reads its training names from :mod:`quarch.evaluate.training` on first use.
Each claim runs in a fresh interpreter, which reports the modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import quarch.evaluate
import quarch.evaluate.training as training

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def _fresh(code: str, cwd: Path) -> dict[str, object]:
    probe = code + "\nimport json, sys\nprint(json.dumps({'torch': 'torch' in sys.modules}))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=300,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def test_the_contract_hook_and_cpu_check_need_no_torch(tmp_path: Path) -> None:
    got = _fresh(
        "from quarch.evaluate import Evaluator, Metrics, cheap_metrics, check_metrics, "
        "epoch_hook, check_device\n"
        "import quarch.study._worker\n"
        "check_device('cpu')\n"
        "with epoch_hook(print): pass",
        tmp_path,
    )
    assert got == {"torch": False}
    assert _fresh("from quarch.evaluate import train_classifier", tmp_path) == {"torch": True}


@pytest.mark.skipif(not (DATA / "nb201").is_dir(), reason="shared nb201 tables absent")
def test_an_nb201_search_never_imports_torch(tmp_path: Path) -> None:
    got = _fresh(
        "from quarch.cli import main\n"
        f"assert main(['search', '--space', 'nb201', '--trials', '3', '--quiet', "
        f"'--data-dir', {str(DATA)!r}, '--out', 'run']) == 0",
        tmp_path,
    )
    assert got == {"torch": False}
    assert json.loads((tmp_path / "run" / "config.json").read_text())["trials"] == 3


def test_the_training_names_are_trainings_own() -> None:
    """Read on first use, they are the very objects of :mod:`quarch.evaluate.training`
    (and the hook the training loop reads is the one ``epoch_hook`` sets)."""
    for name in quarch.evaluate._TRAINING:
        assert getattr(quarch.evaluate, name) is getattr(training, name), name
    assert set(quarch.evaluate._TRAINING) <= set(quarch.evaluate.__all__)
    assert quarch.evaluate.epoch_hook is training.epoch_hook
    seen: list[object] = []
    with quarch.evaluate.epoch_hook(lambda e, v: seen.append((e, v))):
        hook = training._EPOCH_HOOK.get()
        assert hook is not None
        hook(0, 0.5)
    assert seen == [(0, 0.5)] and training._EPOCH_HOOK.get() is None
    with pytest.raises(AttributeError, match=r"module 'quarch\.evaluate' has no attribute 'nope'"):
        _ = quarch.evaluate.nope  # type: ignore[attr-defined]
