"""The listing commands of the ``quarch`` command line: ``devices``, ``datasets``,
``strategies``, ``tasks`` and ``spaces`` (what can be named in a search)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
import typer.core
from rich.table import Table

from quarch._cli_app import DataDirOption, JsonFlag, _Command, _out, app

__all__: list[str] = []


@app.command(cls=_Command)
def devices(json_out: JsonFlag = False) -> None:
    """List device profiles with their default budgets."""
    from quarch.cost.devices import list_devices

    rows = list_devices()
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="device profiles (`--json` for every constant and its source)")
    table.add_column("name", no_wrap=True)  # typed after --device-profile: never cut
    for col in ("kind", "description", "latency"):
        table.add_column(col)
    table.add_column("default budgets", overflow="fold")  # numbers: wrapped, never cut
    for r in rows:
        budgets = ", ".join(f"{k}<={v:g}" for k, v in r.get("budgets", {}).items())
        table.add_row(
            r["name"], r["kind"], r.get("description", ""), str(r.get("latency", "")), budgets
        )
    _out.print(table)


@app.command(cls=_Command)
def datasets(
    data_dir: DataDirOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the data sets (and the spaces' own tables) and whether each is available."""
    from quarch.data import list_datasets
    from quarch.spaces import SPACES, get_spec

    infos = list(list_datasets(data_dir))
    for name in SPACES.names():
        infos += get_spec(name).datasets(data_dir)
    rows: list[dict[str, Any]] = [
        {
            "name": i.name,
            "space": i.space,
            "samples": i.n_samples,
            "classes": i.n_classes,
            "input_shape": list(i.input_shape),
            "source": i.source,
            "available": i.available,
            "problem": i.problem,
            "location": str(i.location) if i.location else None,
        }
        for i in infos
    ]
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="data sets")
    table.add_column("name", no_wrap=True)  # typed after --dataset: never cut
    for col in ("for", "samples", "classes", "input shape", "available"):
        table.add_column(col)
    table.add_column("location", overflow="fold")
    for r in rows:
        available = "yes" if r["available"] else "no"
        if r["problem"]:
            available = f"no: {r['problem']}"
        table.add_row(
            r["name"],
            f"--space {r['space']}" if r["space"] else "any space",
            str(r["samples"]),
            str(r["classes"]),
            "x".join(map(str, r["input_shape"])),
            available,
            r["location"] or r["source"],
        )
    _out.print(table)


@app.command(cls=_Command)
def strategies(
    name: Annotated[
        str | None,
        typer.Argument(help="A strategy: list its options and their defaults instead."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the search strategies, or one strategy's options (`--strategy-option`)."""
    from quarch.search import STRATEGIES, strategy_kind, strategy_options

    if name is None:
        _registry_table(STRATEGIES, "strategies", json_out, {"kind": strategy_kind})
        return
    options = strategy_options(name)  # an unknown name: one line listing the known ones
    description = next(e.description for e in STRATEGIES.entries() if e.name == name)
    if json_out:
        row = {"name": name, "description": description, "options": options}
        sys.stdout.write(json.dumps(row, default=repr) + "\n")  # an object default as text
        return
    if options is None:
        _out.print(
            f"{name}: {description}\nits options are not known to quarch: its factory takes "
            "**options, so any option is passed on unchecked"
        )
        return
    table = Table(title=f"{name}: {description}")
    table.add_column("option (`--strategy-option KEY=VALUE`)", no_wrap=True)
    table.add_column("default")
    for key, value in options.items():
        table.add_row(key, repr(value))
    if not options:
        table.add_row("(none)", "")
    _out.print(table)


@app.command(cls=_Command)
def tasks(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the benchmark tasks (`quarch benchmark --task NAME`)."""
    from quarch.benchmark import task_names

    rows = [{"name": n} for n in task_names()]
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="benchmark tasks")
    table.add_column("name", no_wrap=True)
    for r in rows:
        table.add_row(r["name"])
    _out.print(table)


@app.command(cls=_Command)
def spaces(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the search spaces."""
    from quarch.spaces import SPACES, get_spec

    _registry_table(
        SPACES, "spaces", json_out, {"default_dataset": lambda n: get_spec(n).default_dataset}
    )


def _registry_table(
    registry: Any, title: str, json_out: bool, extra: dict[str, Any] | None = None
) -> None:
    """A table of a registry's names and descriptions, plus ``extra`` columns
    (``{column: function(name) -> text}``)."""
    extra = extra or {}
    rows = [
        {"name": e.name, "description": e.description, **{k: f(e.name) for k, f in extra.items()}}
        for e in registry.entries()
    ]
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title=title)
    table.add_column("name", no_wrap=True)  # the name a flag takes: never cut
    for col in ("description", *extra):
        table.add_column(col.replace("_", " "))
    for r in rows:
        table.add_row(
            *[str(r[c] if r[c] is not None else "") for c in ("name", "description", *extra)]
        )
    _out.print(table)
