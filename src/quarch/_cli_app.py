"""The ``quarch`` Typer application and what every command module shares: the command
class, the console, the ``--json`` flag and the parsing of ``KEY=VALUE`` flags.

Split from :mod:`quarch.cli` so the listing commands (:mod:`quarch._cli_lists`) can add
themselves to the same application without importing the search command.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console, ConsoleDimensions
from rich.table import Table

from quarch._errors import ConfigError
from quarch.config import SearchConfig

__all__ = ["DataDirOption", "JsonFlag", "RunArg", "app"]


class _Command(typer.core.TyperCommand):
    """A command whose usage line names its arguments plainly (``RUN``; typer writes
    ``{RUN}`` for a required argument, which reads like a template)."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]

    def get_short_help_str(self, limit: int = 45) -> str:
        """The command's line in ``quarch --help``: click cut 7 of the 12 mid-clause
        (``Write an HTML report (plots embedded) and its plots (PNG;...``)."""
        return _short_help(self.help or "", limit)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """click's parsing, after a refusal of an option given twice (click keeps the
        last: ``--trials 2 --trials 3`` ran 3 trials, the 2 silently dropped) and of a
        blank ``RUN`` (:func:`_refuse_blank_run`)."""
        given, _, order = self.make_parser(ctx).parse_args(args=list(args))
        _refuse_repeats(ctx, order)
        _refuse_blank_run(ctx, given, order)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except EOFError as e:
            raise _EndOfFile(str(e) or "a file ended too early") from e


def _refuse_repeats(ctx: Any, order: list[Any]) -> None:
    """One line for an option of one value given more than once, named as declared.

    ``order`` is every parameter in the order the parser met it, once per time it was
    given. A repeatable option (``--budget``, ``--space-option``: ``multiple``) and a
    flag (given twice it says the same thing twice) are left alone; so is a positional
    argument."""
    seen: set[str] = set()
    for param in order:
        if param.param_type_name != "option" or param.multiple or param.is_flag:
            continue
        if param.name in seen:
            ctx.fail(
                f"{param.opts[0]} is given twice; give it once (the last value would "
                "silently replace the first)"
            )
        seen.add(param.name)


def _refuse_blank_run(ctx: Any, given: dict[str, Any], order: list[Any]) -> None:
    """Refuse a blank run folder (the ``RUN`` argument, ``worker --run``) as the text the
    user gave: typed as a path, ``''`` is ``Path('')``, which is ``.``, so ``quarch
    trials "$RUN"`` with ``RUN`` unset said "'.' is not a quarch run folder", naming a
    folder the user never typed (``worker --run ''`` still did).

    Here, not in a ``parser=`` of the argument: a parser hides from typer that the
    argument is a path, and the help read ``RUN <Path>`` (the annotation's class name)
    instead of typer's ``RUN <path>``. Skipped when ``--help`` (or another eager
    option) was given, which click handles before any argument, as it did."""
    if any(p.is_eager for p in order):
        return
    for param in order:  # a missing argument is there too, with None for its text
        text = given.get(param.name)
        if param.name != "run" or not isinstance(text, str) or text.strip():
            continue
        if param.param_type_name == "argument":
            raise typer.BadParameter(f"must name the run folder; got {text!r}", ctx, param)
        ctx.fail(f"{param.opts[0]} must name the run folder; got {text!r}")


def _short_help(text: str, limit: int) -> str:
    """The first sentence of ``text`` (no full stop: a list of names, as git's) when it
    fits in ``limit`` characters; else without its parentheses; else its first clause
    (up to ``;``, ``:`` or ``,``) that fits; a cut with ``...`` only when even that is
    too long."""
    first = " ".join(inspect.cleandoc(text).split("\n\n")[0].split()).rstrip(".")
    if len(first) <= limit:
        return first
    plain = re.sub(r" \([^)]*\)", "", first)
    if len(plain) <= limit:
        return plain
    for sep in (";", ":", ","):
        head = plain.split(sep)[0]
        if len(head) <= limit:
            return head
    return plain[: max(limit - 3, 0)].rsplit(" ", 1)[0] + "..."


class _EndOfFile(Exception):
    """An ``EOFError`` in a command's work (``torch.load`` of a weights file cut short):
    typer turns it into an abort, which printed a blank line and ``error: aborted`` with
    Ctrl-C's status 130; re-raised as this, it is an internal error's one line."""


app = typer.Typer(
    name="quarch",
    help="Quantum and quantum-inspired neural architecture search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: no '<bool>' after flags, the texts as written
)
_state: dict[str, bool] = {"debug": False}
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object at the end.")]
DataDirOption = Annotated[
    str | None,
    typer.Option(
        metavar="DIR",
        help="Folder with data set files. [default: $QUARCH_DATA_DIR, else ~/.cache/quarch/data]",
    ),
]


class _Console(Console):
    """rich's console, as wide as its tables need where stdout is not a terminal.

    rich sizes its output to the first standard stream that is a terminal, else to 80
    columns, and cuts table cells to fit (``qub…``, ``breast-c…``): a benchmark's table
    sent to a file lost its strategies' names and scores, and ``quarch datasets | less``
    the names a user types. A file or a pipe has no width to fit; ``COLUMNS`` still
    sets one.
    """

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is not None or self.is_terminal or "COLUMNS" in self._environ:
            return size  # a width set by hand, a terminal's, or the user's
        return ConsoleDimensions(_PIPE_WIDTH, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


#: Columns of output to a file or a pipe: wider than any table quarch prints.
_PIPE_WIDTH = 1000

# no markup: a folder named `runs/[test]` was printed `runs/` (rich read `[test]` as a
# style tag), in every line and table that shows a path or a user's text
_out = _Console(markup=False)
_DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(SearchConfig)
    if f.default is not dataclasses.MISSING
}


def _d(field: str, text: str) -> str:
    """``text`` with the SearchConfig default of ``field`` (the flags default to "not
    given", so a config file can set the field; typer cannot show that default)."""
    return f"{text} [default: {_DEFAULTS[field]}]"


class _Interrupted(Exception):
    """Ctrl-C, with the line that says how far the command got."""


@contextlib.contextmanager
def _interrupted_plainly() -> Iterator[None]:
    """Ctrl-C in a command that leaves nothing to resume: one line, exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        raise _Interrupted("interrupted") from None


#: A command's run folder; refused when blank by :func:`_refuse_blank_run` (a command of
#: :class:`_Command`), with no ``parser=``, so that its help reads ``RUN <path>``.
RunArg = Annotated[Path, typer.Argument(metavar="RUN", help="The run folder.")]


def _print_version(value: bool) -> None:
    if value:
        from quarch import __version__

        _out.print(f"quarch {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks of errors (anywhere on the line).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print quarch's version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Quantum and quantum-inspired neural architecture search."""
    _state["debug"] = debug


def _split(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [p.strip() for p in text.split(",") if p.strip()]


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _kv(items: list[str] | None, flag: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or []:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ConfigError(f"{flag} takes KEY=VALUE; got {item!r}")
        if k.strip() in out:  # the last would silently win
            raise ConfigError(f"{flag} {k.strip()} is given twice")
        out[k.strip()] = _parse_value(v.strip())
    return out


_NAME = "NAME"


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _used_params(space: str, params: dict[str, Any]) -> dict[str, Any]:
    """The choices an architecture uses (its space's spec knows), for tables."""
    from quarch.spaces import SPACES, get_spec

    if space not in SPACES:
        return params
    return get_spec(space).used_params(params)


def _print_result(result: Any) -> None:
    names = list(result.objective.metrics)
    table = Table(title=f"Pareto set ({len(result.pareto)} of {len(result.complete)} complete)")
    table.add_column("trial", justify="right")
    for n in names:
        table.add_column(n, justify="right")
    weighted = result.objective.weights is not None
    if weighted:
        table.add_column("weighted cost", justify="right")
    table.add_column("architecture (the choices it uses)")
    for t in result.pareto:
        used = _used_params(result.config.space, t.params)
        arch = ", ".join(f"{k}={v}" for k, v in used.items())
        cost = [_fmt(t.values[0]) if t.values else ""] if weighted else []
        table.add_row(str(t.number), *[_fmt(t.metrics[n]) for n in names], *cost, arch)
    _out.print(table)
    best = result.best
    if weighted and best is not None and best.values:
        terms = " + ".join(
            f"{w:g}*{m}" for w, m in zip(result.objective.weights, names, strict=True)
        )
        _out.print(
            f"chosen: trial {best.number}, weighted cost {_fmt(best.values[0])} "
            f"(= {terms}, lowest of the feasible trials)"
        )
    extra = ""
    if result.pruned:
        extra += f"  pruned: {len(result.pruned)}"
    if result.skipped:
        extra += f"  skipped (over budget before training): {len(result.skipped)}"
    # a stopped search fails its running trials ("interrupted: ..."): not the
    # architectures' fault, and a resume runs them again
    stopped = sum((t.fail_reason or "").startswith("interrupted") for t in result.failed)
    _out.print(
        f"run: {result.run_dir}  trials: {len(result.trials)}  complete: {len(result.complete)}"
        f"  failed: {len(result.failed)}" + (f" ({stopped} interrupted)" if stopped else "") + extra
    )
    if result.failed:
        _out.print(f"  failed trials and their reasons: quarch trials {result.run_dir}")
    _print_workers_stopped(result)


def _print_workers_stopped(result: Any) -> None:
    """One line where some of ``--workers N`` did not run to the end (stopped at their
    start, killed, hung and ended): their warnings scroll away above the progress bar,
    and the timings mean fewer workers than asked. Nothing where all ran."""
    gone = result.workers_stopped
    if not gone:
        return
    n = min(result.config.workers, result.config.trials)  # run_workers starts no more
    # one line at any width (each reason may be long): the terminal wraps it, rich not
    _out.print(f"finished on {n - len(gone)} of {n} workers: " + "; ".join(gone), soft_wrap=True)
