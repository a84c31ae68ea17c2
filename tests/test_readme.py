"""The README's quick start, CI command and Python examples stay true."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    """Each example runs; what it registers (the README's ``toy`` space) is removed after,
    so tests that list the registries in this process see the built-in names only."""
    from quarch._registry import Registry
    from quarch.cost.devices import DEVICES
    from quarch.search import STRATEGIES
    from quarch.spaces import SPACES

    registries: tuple[Registry[Any], ...] = (SPACES, STRATEGIES, DEVICES)
    before = [set(r.names()) for r in registries]
    monkeypatch.chdir(tmp_path)
    try:
        exec(compile(code, "README.md", "exec"), {"__name__": "__readme__"})
    finally:
        for registry, names in zip(registries, before, strict=True):
            for name in set(registry.names()) - names:
                registry.remove(name)


def _complete_search_commands() -> list[str]:
    """The README's `quarch search ...` examples written out in full (no `...`, no
    placeholder such as RUN or N)."""
    cmds = re.findall(r"`(quarch search [^`]*)`", _section("Command line"))
    full = [c for c in cmds if "..." not in c and not re.search(r"\b[A-Z]{1,4}\b", c)]
    return [c for c in full if "--config" not in c]  # the config file: tested below


@pytest.mark.parametrize("cmd", _complete_search_commands())
def test_command_line_examples_run_as_written(
    cmd: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """Each full example passes every check a search makes before its first trial
    (`--dry-run`: config, space, strategy, storage, data)."""
    import shlex

    from quarch.cli import main

    monkeypatch.chdir(tmp_path)
    code = main([*shlex.split(cmd)[1:], "--dry-run", "--quiet"])
    assert code == 0, capfd.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_there_are_complete_examples() -> None:
    assert any("--weights" in c for c in _complete_search_commands())
    assert any("--pruner" in c for c in _complete_search_commands())


def test_config_file_example_is_a_valid_config(tmp_path: Path) -> None:
    from quarch.config import SearchConfig
    from quarch.spaces import get_spec
    from quarch.study._run import objective_of

    (block,) = _blocks(_section("Command line"), "toml")
    path = tmp_path / "search.toml"
    path.write_text(block)
    cfg = SearchConfig.from_file(path)
    objective_of(cfg)
    get_spec(cfg.space).check(cfg)
