"""The ``RUN`` argument reads ``RUN <path>`` in every command's ``--help``, and a blank
run folder is still refused as blank.

Since a ``parser=`` refused a blank ``RUN`` (session 40), typer no longer knew the
argument for a path and labelled it by its annotation's class name: ``RUN <Path>``
(``<path>`` before, as typer labels any path argument). The blank check moved to the
command's parsing, where the text the user gave is still text.

Truth: typer's own label for a path argument, rendered from a one-command app of its
own; the commands taking a run folder, found from click's list of each command's
parameters; the lines the refusals must give, written out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
import typer
import typer.core
import typer.main
from typer.testing import CliRunner

from quarch.cli import app, main

_command = typer.main.get_command(app)
assert isinstance(_command, typer.core.TyperGroup)
COMMAND: typer.core.TyperGroup = _command
#: The commands with a ``RUN`` argument, by click's own list of their parameters.
WITH_RUN = sorted(
    name
    for name, cmd in COMMAND.commands.items()
    if any(p.param_type_name == "argument" and p.name == "run" for p in cmd.params)
)


def _typers_path_line() -> str:
    """The argument line typer renders for a plain path argument with ``metavar RUN``."""
    own = typer.Typer(rich_markup_mode=None, add_completion=False)

    @own.command()
    def show(run: Annotated[Path, typer.Argument(metavar="RUN", help="The run folder.")]) -> None:
        """A command of typer's own."""

    @own.command()
    def other() -> None:
        """A second command, so that ``show`` is a subcommand as quarch's are."""

    text = CliRunner().invoke(own, ["show", "--help"]).output
    (line,) = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("RUN ")]
    return line


def test_the_commands_with_a_run_argument_are_found() -> None:
    assert WITH_RUN == ["export", "report", "train", "trials"]


@pytest.mark.parametrize("name", WITH_RUN)
def test_the_run_argument_reads_as_typers_path_arguments_do(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``RUN <path>  The run folder.  [required]``, as typer labels a path argument;
    never the class name ``<Path>``."""
    truth = _typers_path_line()
    assert truth == "RUN <path>  The run folder.  [required]"
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    lines = [ln.strip() for ln in out.splitlines() if ln.strip().startswith("RUN ")]
    assert lines == [truth]
    assert "<Path>" not in out


@pytest.mark.parametrize("name", WITH_RUN)
def test_help_after_a_blank_run_is_still_help(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--help`` wins over a blank ``RUN`` given before it, as click's eager option
    did when the check was the argument's parser."""
    assert main([name, "", "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"Usage: quarch {name} [OPTIONS] RUN")


@pytest.mark.parametrize("text", ["", " ", "\t"])
def test_worker_run_blank_is_refused_by_its_option(
    text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``quarch worker --run "$RUN"`` with ``RUN`` unset said "'.' is not a quarch run
    folder" (the working folder, never typed); it names the option now, as
    ``search --out ''`` does."""
    monkeypatch.chdir(tmp_path)
    code = main(["worker", "--run", text])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err == f"error: --run must name the run folder; got {text!r}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_blank_run_after_an_option_is_refused_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The argument found among the options (``export --trial 0 ''``), not only first."""
    monkeypatch.chdir(tmp_path)
    code = main(["export", "--trial", "0", "--format", "torch", "--out", "m.pt", " "])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err == "error: Invalid value for 'RUN': must name the run folder; got ' '\n"


@pytest.mark.parametrize("name", WITH_RUN)
def test_a_missing_run_is_still_clicks_missing_argument(
    name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """No ``RUN`` at all: click's own line, as before (the parser lists a missing
    argument with no text: the blank check must pass over it)."""
    code = main([name])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err == "error: Missing argument 'RUN'.\n"
