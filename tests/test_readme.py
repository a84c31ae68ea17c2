"""The README's quick start, CI command and Python examples stay true."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _section(title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.S | re.M)
    assert m, f"README has no section {title!r}"
    return m.group(1)


def _blocks(text: str, lang: str) -> list[str]:
    return [b.strip() for b in re.findall(rf"```{lang}\n(.*?)```", text, re.S)]


def test_quick_start_has_exactly_two_pinned_commands() -> None:
    cmds = _blocks(_section("Quick start"), "bash")
    assert len(cmds) == 2
    for c in cmds:
        assert "\n" not in c
        assert "torch==2.13.0" in c
        assert not re.search(r"\btorch(?!==2\.13\.0)\b[<>=~]", c)


def test_ci_runs_the_readme_test_command() -> None:
    test_cmd = _blocks(_section("Quick start"), "bash")[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in [line.strip() for line in ci]


@pytest.mark.parametrize("code", _blocks(README, "python"))
def test_python_examples_run(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
