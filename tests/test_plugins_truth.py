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
from typing import Any

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


def _quarch(
    cwd: Path, *args: str, plugins: str | None = None, installed: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python -m quarch ARGS`` in ``cwd``; ``installed``: with ``-P``, so that, as for
    the installed ``quarch`` command, the current folder is not on Python's path."""
    env = {k: v for k, v in os.environ.items() if k not in ("QUARCH_PLUGINS", "PYTHONPATH")}
    if "PYTHONPATH" in os.environ:  # a source tree under test, never the current folder
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in os.environ["PYTHONPATH"].split(os.pathsep) if p not in ("", ".")
        )
    if plugins is not None:
        env["QUARCH_PLUGINS"] = plugins
    flags = ["-P"] if installed else []
    return subprocess.run(
        [sys.executable, *flags, "-m", "quarch", *args], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300, check=False,
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


def test_a_plugin_beside_the_installed_command_fails_in_one_line(tmp_path: Path) -> None:
    """Found by session 37's user-path audit: the installed ``quarch`` command (the
    current folder not on Python's path) imported a plug-in beside the user a second
    time, outside the refusal, so what it raised came out as "internal error", exit 1."""
    (tmp_path / "boom.py").write_text("raise RuntimeError('no licence')\n")
    (tmp_path / "needs.py").write_text("import no_such_dependency\n")
    broken = _quarch(tmp_path, "spaces", plugins="boom", installed=True)
    assert (broken.returncode, broken.stdout) == (2, "")
    assert broken.stderr == (
        "error: importing module (from QUARCH_PLUGINS) 'boom' failed: RuntimeError: no licence\n"
    )
    needs = _quarch(tmp_path, "spaces", plugins="needs", installed=True)
    assert (needs.returncode, needs.stdout) == (2, "")
    assert needs.stderr == (
        "error: cannot import module (from QUARCH_PLUGINS) 'needs': "
        "No module named 'no_such_dependency'\n"
    )
    found = _quarch(tmp_path, "spaces", plugins="boom_free", installed=True)
    assert found.returncode == 2
    (tmp_path / "fine.py").write_text("VALUE = 1\n")
    assert _quarch(tmp_path, "spaces", plugins="fine", installed=True).returncode == 0


def test_import_user_module_in_process(tmp_path: Path, monkeypatch: Any) -> None:
    """The same refusals in this process, the current folder off Python's path first,
    as the installed command has it (a fresh process is out of a mutation run's sight)."""
    import pytest

    from quarch._errors import ConfigError
    from quarch._plugins import import_user_module

    folder = tmp_path / "plugins_here"
    folder.mkdir()
    (folder / "s37_boom.py").write_text("raise RuntimeError('no licence')\n")
    (folder / "s37_needs.py").write_text("import s37_no_such_dependency\n")
    (folder / "s37_fine.py").write_text("VALUE = 7\n")
    monkeypatch.chdir(folder)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".", str(folder))])
    for name in ("s37_boom", "s37_needs", "s37_fine"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    with pytest.raises(ConfigError) as e:
        import_user_module("s37_boom", "plug-in")
    assert str(e.value) == "importing plug-in 's37_boom' failed: RuntimeError: no licence"
    assert sys.path[0] == str(folder)  # the folder was put on the path to find it
    with pytest.raises(ConfigError) as e:
        import_user_module("s37_needs", "plug-in")
    assert str(e.value) == (
        "cannot import plug-in 's37_needs': No module named 's37_no_such_dependency'"
    )
    with pytest.raises(ConfigError) as e:
        import_user_module("s37_absent", "plug-in")
    assert str(e.value) == "cannot import plug-in 's37_absent': No module named 's37_absent'"
    assert import_user_module("s37_fine", "plug-in").VALUE == 7
    assert sys.path.count(str(folder)) == 1
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(folder)])
    with pytest.raises(ConfigError) as e:  # a module of a package that is nowhere
        import_user_module("s37_pkg_absent.mod", "plug-in")
    assert str(e.value) == (
        "cannot import plug-in 's37_pkg_absent.mod': No module named 's37_pkg_absent'"
    )
    (folder / "s37_pkg").mkdir()
    (folder / "s37_pkg" / "__init__.py").write_text("")
    (folder / "s37_pkg" / "mod.py").write_text("VALUE = 8\n")
    assert import_user_module("s37_pkg.mod", "plug-in").VALUE == 8  # a package beside you
    for name in ("s37_boom", "s37_needs", "s37_fine", "s37_pkg", "s37_pkg.mod"):
        sys.modules.pop(name, None)
