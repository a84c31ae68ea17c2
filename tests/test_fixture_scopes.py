"""Shared fixtures are shared only outside mutmut (``tests/_scope.py`` says why).

A module-scoped fixture hides its callers from mutmut 3: every call into quarch that it
makes is credited to the first test that asks for it, so the other tests that read its
result never run against those mutants, and a group's score is overstated.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

TESTS = Path(__file__).resolve().parent

#: module-scoped fixtures that build nothing of quarch's, with the reason
EXEMPT = {
    "study/test_postgres.py::pg_url": "starts a PostgreSQL server, runs no quarch code",
}


def _shared_fixtures() -> dict[str, str]:
    """``file::fixture`` -> the scope its decorator names, for every fixture whose scope
    is not a plain ``"function"``."""
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if "scope" not in text:  # no keyword ``scope=`` (parsing them all took seconds)
            continue
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef):
                continue
            for dec in node.decorator_list:
                if not isinstance(dec, ast.Call):
                    continue
                for kw in dec.keywords:
                    if kw.arg == "scope" and ast.unparse(kw.value) != "'function'":
                        rel = path.relative_to(TESTS).as_posix()
                        found[f"{rel}::{node.name}"] = ast.unparse(kw.value)
    return found


def test_module_scoped_fixtures_become_per_test_under_mutmut() -> None:
    plain = {
        name: scope
        for name, scope in _shared_fixtures().items()
        if scope != "per_module" and name not in EXEMPT
    }
    # the session fixtures of conftest.py share no result: they set up the session
    plain = {
        n: s for n, s in plain.items() if not (n.startswith("conftest.py::") and s == "'session'")
    }
    assert not plain, f"use scope=per_module from tests/_scope.py: {plain}"


def test_the_exemptions_exist() -> None:
    """An exemption for a fixture that is gone would let a new one of its name slip."""
    fixtures = _shared_fixtures()
    assert set(EXEMPT) <= set(fixtures)
    assert all(fixtures[name] == "'module'" for name in EXEMPT)


_PROBE = """
import pytest
from tests._scope import per_module

BUILT = []

@pytest.fixture(scope=per_module)
def shared():
    BUILT.append(1)
    return len(BUILT)

def test_a(shared):
    pass

def test_b(shared):
    print("BUILT", len(BUILT))
"""


def _times_built(tmp_path: Path, mutant: str | None) -> int:
    probe = tmp_path / "test_probe.py"
    probe.write_text(textwrap.dedent(_PROBE))
    env = {k: v for k, v in os.environ.items() if k != "MUTANT_UNDER_TEST"}
    if mutant is not None:
        env["MUTANT_UNDER_TEST"] = mutant
    env["PYTHONPATH"] = str(TESTS.parent) + os.pathsep + env.get("PYTHONPATH", "")
    # the probe needs no third-party plugin (loading them all cost each run a second)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p", "no:randomly",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(probe)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return int(out.stdout.split("BUILT ")[1].split()[0])


def test_one_build_per_module_outside_mutmut_one_per_test_inside(tmp_path: Path) -> None:
    assert _times_built(tmp_path, None) == 1
    assert _times_built(tmp_path, "") == 1  # mutmut's clean run
    assert _times_built(tmp_path, "stats") == 2  # which tests call what: each must build
    assert _times_built(tmp_path, "quarch.x.f__mutmut_1") == 2
