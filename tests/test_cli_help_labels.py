"""Every option in every command's ``--help`` is labelled in the user's terms.

typer labels an option without a ``metavar`` by its Python type (``--seeds <int>``,
``--budget <list[str]>``); quarch's commands name what the value is (``N``, ``DIR``,
``METRIC<=NUMBER``). The truth is click's own list of each command's parameters (the
copy of click that typer carries).
"""

from __future__ import annotations

import re

import pytest
import typer
import typer.core
import typer.main

from quarch.cli import app

_command = typer.main.get_command(app)
assert isinstance(_command, typer.core.TyperGroup)
COMMAND: typer.core.TyperGroup = _command
NAMES = sorted(COMMAND.commands)


@pytest.mark.parametrize("name", NAMES)
def test_no_option_is_labelled_by_its_python_type(name: str) -> None:
    cmd = COMMAND.commands[name]
    ctx = typer.Context(cmd, info_name=name)
    options = [p for p in cmd.params if p.param_type_name == "option"]
    assert options, name
    for param in options:
        if getattr(param, "is_flag", False) or getattr(param, "hidden", False):
            continue
        record = param.get_help_record(ctx)
        assert record is not None, param.name
        label = record[0]
        assert not re.search(r"<[\w\[\], ]+>", label), (name, label)
        assert re.fullmatch(r"--[\w-]+ [A-Z][A-Z0-9_,<=]*", label), (name, label)


def test_every_command_is_checked() -> None:
    assert {"search", "benchmark", "export", "train", "worker", "report", "trials"} <= set(NAMES)
