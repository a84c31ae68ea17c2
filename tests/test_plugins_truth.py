"""``QUARCH_PLUGINS``: a space (or strategy, or device profile) of the user's own, loaded
by the ``quarch`` command by module name, as pytest loads ``PYTEST_PLUGINS``.

Found by session 34's plug-in audit: a space registered from Python could be searched
from Python only, and ``quarch search --resume`` of its run said "unknown space" with
nothing on how to load it. Each case runs ``quarch`` in a fresh process (a new command
has registered nothing), from a folder holding the plug-in module, and reads its exit
status, output and the run folder it wrote.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = """
from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec, register_space
from quarch.search import STRATEGIES


class _Eval:
    fingerprint = "plugin-toy-v1"

    def __init__(self, space):
        self.space = space

    def evaluate(self, arch, *, seed):
        arch = self.space.validate(arch)
        return {"val_error": 1 / (arch["depth"] * arch["width"]), "params": float(arch["depth"])}


class ToySpec(SpaceSpec):
    name = "plugin-toy"
    description = "a toy space of the user's own"
    needs_dataset = False

    def space(self, **options):
        return Space([Choice("depth", [1, 2, 3]), Choice("width", [8, 16])], name=self.name)

    def make_evaluator(self, space, config, *, weights_dir=None):
        return _Eval(space)

    def metrics(self, config):
        return frozenset({"val_error", "params"})


register_space(ToySpec())
"""

HINT = (
    "; a space of your own is registered by importing its module: name it in "
    "QUARCH_PLUGINS (QUARCH_PLUGINS=mypkg.plugins quarch ...)"
)


def _quarch(cwd: Path, *args: str, plugins: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "QUARCH_PLUGINS"}
    if plugins is not None:
        env["QUARCH_PLUGINS"] = plugins
    return subprocess.run(
        [sys.executable, "-m", "quarch", *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


def test_a_plugin_space_is_listed_searched_and_resumed(tmp_path: Path) -> None:
    (tmp_path / "my_plugin.py").write_text(PLUGIN)
    listed = _quarch(tmp_path, "spaces", plugins="my_plugin")
    assert listed.returncode == 0, listed.stderr
    assert "plugin-toy" in listed.stdout and "a toy space of the user's own" in listed.stdout
    done = _quarch(tmp_path, "search", "--space", "plugin-toy", "--trials", "2", "--quiet",
                   "--out", "run", plugins=" my_plugin , ")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["space"] == "plugin-toy"
    # a new process without the plug-in: the run cannot be resumed, and the line says why
    bare = _quarch(tmp_path, "search", "--resume", "run", "--trials", "4")
    assert bare.returncode == 2
    assert bare.stderr == (
        "error: run 'run' was made with space 'plugin-toy', which is not registered here "
        f"(registered: mlp, nb201, cnn, hqnn){HINT}\n"
    )
    for args in (["train", "run", "--trial", "0"],
                 ["export", "run", "--trial", "0", "--format", "torch", "--out", "m.pt"]):  # fmt: skip
        refused = _quarch(tmp_path, *args)
        assert (refused.returncode, refused.stderr) == (2, bare.stderr), args
    resumed = _quarch(tmp_path, "search", "--resume", "run", "--trials", "4", "--quiet",
                      plugins="my_plugin")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((tmp_path / "run" / "config.json").read_text())["trials"] == 4
    written = sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__")
    assert written == ["my_plugin.py", "run"]


def test_a_plugin_that_cannot_be_imported_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text("raise RuntimeError('no licence')\n")
    missing = _quarch(tmp_path, "spaces", plugins="no_such_plugin")
    assert (missing.returncode, missing.stdout) == (2, "")
    assert missing.stderr == (
        "error: cannot import module (from QUARCH_PLUGINS) 'no_such_plugin': "
        "No module named 'no_such_plugin'\n"
    )
    broken = _quarch(tmp_path, "search", "--space", "mlp", "--dry-run", plugins="boom")
    assert (broken.returncode, broken.stdout) == (2, "")
    assert broken.stderr == (
        "error: importing module (from QUARCH_PLUGINS) 'boom' failed: RuntimeError: no licence\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "__pycache__") == ["boom.py"]
