"""The plug-in recipes of docs/ARCHITECTURE.md, followed literally.

"A strategy of your own" and "A device profile of your own" are code blocks a user
copies: the module (a block whose info string names its file), its use from Python, the
command lines with ``QUARCH_PLUGINS``, and a test file over :mod:`quarch.testing`'s
contract. Each test reads the blocks from the document (so the recipe cannot drift from
what works), writes the named files into a fresh folder per block, and runs the rest
there in fresh processes at the same time, as a user would: the Python block as a
script, every command line of the shell block with ``bash -e`` (so the recipe's own
``export QUARCH_PLUGINS`` is the only place the variable is set), and the test file
under pytest.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md"
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.M | re.S)


def recipe_blocks(title: str) -> list[tuple[str, str, str]]:
    """The code blocks of the recipe whose paragraph starts ``**title**``: (language,
    the file it names or "", its text), up to the next recipe or section."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"\n**{title}**")
    ends = [i for i in (text.find("\n**A ", start + 1), text.find("\n## ", start)) if i > 0]
    section = text[start : min(ends)]
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in BLOCK.finditer(section)]


def _env() -> dict[str, str]:
    """This environment less ``QUARCH_PLUGINS``, with this Python's scripts (``quarch``)
    first on the path."""
    env = {k: v for k, v in os.environ.items() if k != "QUARCH_PLUGINS"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _start(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        cmd, cwd=cwd, env=env or _env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _finish(proc: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        out, err = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def follow(
    title: str, folder: Path, extra: dict[str, list[str]] | None = None, plugins: str = ""
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Write the recipe's files and run its other blocks; return each run by language
    ("python", "sh") and "pytest", and each of ``extra``'s commands by its key (run with
    ``QUARCH_PLUGINS=plugins``).

    The blocks are independent (each imports the module itself, or the shell block
    exports the variable), so each runs at the same time as the others, in its own
    folder (``folder/python``, ``folder/sh``, ``folder/pytest``, ``folder/KEY``) holding
    the recipe's files: the Python block and the shell block both write ``bench``.
    pytest runs without third-party plugins (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``:
    Hypothesis alone took 1.5 s to import) and, as before, in a fixed order."""
    blocks = recipe_blocks(title)
    files = [(name, code) for lang, name, code in blocks if name]
    assert [lang for lang, name, _ in blocks if not name] == ["python", "sh"], blocks
    tests = [name for name, _ in files if name.startswith("test_")]
    assert len(tests) == 1, files

    def room(key: str) -> Path:
        where = folder / key
        where.mkdir()
        for name, code in files:
            (where / name).write_text(code, encoding="utf-8")
        return where

    started: dict[str, subprocess.Popen[str]] = {}
    for lang, name, code in blocks:
        if name:
            continue
        if lang == "python":
            where = room("python")
            (where / "use_it.py").write_text(code, encoding="utf-8")
            started["python"] = _start([sys.executable, "use_it.py"], where)
        else:
            # every line echoed first (so the output says which command printed what)
            started["sh"] = _start(["bash", "-e", "-x", "-c", code], room("sh"))
    started["pytest"] = _start(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         tests[0]],
        room("pytest"), {**_env(), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )  # fmt: skip
    for key, cmd in (extra or {}).items():
        started[key] = _start(cmd, room(key), {**_env(), "QUARCH_PLUGINS": plugins})
    done = {key: _finish(proc) for key, proc in started.items()}
    for what in ("python", "sh", "pytest"):
        proc = done[what]
        assert proc.returncode == 0, (
            f"{title} {what}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return done


def test_the_strategy_recipe_works_from_python_the_cli_and_its_contract(tmp_path: Path) -> None:
    # the recipe's promise: a mistyped option is refused before the run folder is made
    typo = ["quarch", "search", "--space", "mlp", "--strategy", "keep-best", "--strategy-option",
            "kep=0.8", "--out", "never"]  # fmt: skip
    done = follow("A strategy of your own.", tmp_path, {"typo": typo}, "my_strategy")
    # Python: the benchmark ran the user's strategy under its kind, every query made
    summary = done["python"].stdout.strip().splitlines()[-1]
    assert "'kind': 'classical'" in summary and "'queries': 8.0" in summary, summary
    # the command line: the option listed with its default, the dry run accepted it,
    # and the benchmark wrote its table with a row per seed of each strategy (as the
    # Python block's did)
    sh = done["sh"].stdout
    assert re.search(r"│ keep\s+│ 0\.7\s+│", sh), sh
    assert "ok: the search can start" in sh and "runs/mlp-iris-keep-best-s0" in sh
    for block in ("sh", "python"):
        assert not (tmp_path / block / "runs").exists()  # a dry run writes nothing
        rows = (tmp_path / block / "bench" / "results.csv").read_text().splitlines()
        assert sorted(r.split(",")[0] for r in rows[1:]) == ["keep-best"] * 2 + ["random"] * 2
    from quarch.testing import StrategyTestCase

    _every_check_passed(done["pytest"], StrategyTestCase, 1)
    env_typo = done["typo"]
    assert env_typo.returncode == 2
    assert env_typo.stderr == (
        "error: strategy 'keep-best' takes no option 'kep'; its options: keep "
        "(`quarch strategies keep-best`) ('kep': did you mean 'keep'?)\n"
    )
    assert not (tmp_path / "typo" / "never").exists()


def test_the_device_recipe_works_from_python_the_cli_and_its_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.cost import DEVICES

    listing = {"listed": ["quarch", "devices", "--json"]}
    done = follow("A device profile of your own.", tmp_path, listing, "my_device")
    # the module's own figures (run here with DEVICES.add recording, not registering)
    added: dict[str, Any] = {}
    monkeypatch.setattr(DEVICES, "add", lambda name, profile, _: added.setdefault(name, profile))
    exec((tmp_path / "python" / "my_device.py").read_text(encoding="utf-8"), {})
    board, qpu = added["my-board"], added["my-qpu"]
    assert (board.name, qpu.name) == ("my-board", "my-qpu")  # each under its own name
    budgets = [f"{m}<={v:g}" for m, v in board.budgets.items()]
    out = done["python"].stdout.strip().splitlines()
    assert out[0] == (
        f"{budgets!r} NoiseModel(gate_errors={{'1q': ('depolarizing', {qpu.error_1q}), "
        f"'2q': ('depolarizing', {qpu.error_2q})}}, readout_error={qpu.readout_error})"
    ), out
    # a Bell pair: H on qubit 0 is one SX pulse (RZ is virtual), then CNOT = H CZ H on
    # the target, two pulses around one two-qubit gate, all on one critical path
    assert float(out[1]) == 3 * qpu.one_qubit_ns + qpu.two_qubit_ns, out
    assert out[2] == repr(budgets), out  # check_search filled in the board's budgets
    # the command line: listed with its figures, and a dry run with the board's budgets
    sh = done["sh"].stdout
    assert "my-board" in sh and "my-qpu" in sh, sh
    assert "ok: the search can start" in sh and all(f'"{b}"' in sh for b in budgets), sh
    rows = {row["name"]: row for row in json.loads(done["listed"].stdout)}
    assert rows["my-board"]["budgets"] == board.budgets
    assert (rows["my-qpu"]["kind"], rows["my-qpu"]["error_2q"]) == ("quantum", qpu.error_2q)
    from quarch.testing import DeviceProfileTestCase

    _every_check_passed(done["pytest"], DeviceProfileTestCase, 2)


def _every_check_passed(proc: subprocess.CompletedProcess[str], case: type, cases: int) -> None:
    """The recipe's test file ran every check of the contract class, for each case."""
    checks = sum(name.startswith("test_") for name in dir(case))
    last = proc.stdout.strip().splitlines()[-1]
    assert re.match(rf"{checks * cases} passed in ", last), proc.stdout


@pytest.mark.parametrize("title", ["A strategy of your own.", "A device profile of your own."])
def test_each_recipe_has_its_module_its_uses_and_its_test(title: str) -> None:
    """What ``follow`` relies on: one module, one Python use, one shell block, one test."""
    blocks = recipe_blocks(title)
    named = [name for _, name, _ in blocks if name]
    assert len(named) == 2 and named[1] == f"test_{named[0]}", named
    assert [lang for lang, _, _ in blocks] == ["python", "python", "sh", "python"]
