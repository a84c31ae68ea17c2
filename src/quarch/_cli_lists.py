"""The listing commands of the ``quarch`` command line: ``devices``, ``datasets``,
``strategies``, ``tasks`` and ``spaces`` (what can be named in a search)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import typer
import typer.core
from rich.table import Table

from quarch._cli_app import DataDirOption, _Command, _out, app

__all__: list[str] = []


@app.command(cls=_Command)
def devices(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
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
    name: Annotated[
        str | None,
        typer.Argument(help="A space: list its space and evaluator options instead."),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the search spaces, or one space's options (`--space-option`,
    `--evaluator-option`)."""
    from quarch.spaces import SPACES, get_spec

    if name is None:
        _registry_table(
            SPACES, "spaces", json_out, {"default_dataset": lambda n: get_spec(n).default_dataset}
        )
        return
    spec = get_spec(name)  # an unknown name: one line listing the known ones
    row = {
        "name": spec.name,
        "description": next(e.description for e in SPACES.entries() if e.name == spec.name),
        "default_dataset": spec.default_dataset,
        "space_options": _space_option_defaults(spec),
        "evaluator_options": dict(spec.evaluator_options),
        "export_formats": list(spec.export_formats),
    }
    if json_out:
        sys.stdout.write(json.dumps(row, default=repr) + "\n")
        return
    _print_space(row)


def _print_space(row: dict[str, Any]) -> None:
    """``quarch spaces NAME``: its two kinds of option, each a table."""
    data = row["default_dataset"] or "none"
    formats = ", ".join(row["export_formats"]) or "none (no model)"
    _out.print(f"{row['name']}: {row['description']}")
    _out.print(f"default data set: {data}; export formats: {formats}")
    options = Table(title="space options: what is searched")
    options.add_column("option (`--space-option KEY=VALUE`)", no_wrap=True)
    options.add_column("default", overflow="fold")  # typed back as a value: never cut
    for key, value in row["space_options"].items():
        options.add_row(key, _default_text(value))
    if not row["space_options"]:
        options.add_row("(none)", "")
    _out.print(options)
    evaluator = Table(title="evaluator options: how each architecture is scored")
    evaluator.add_column("option (`--evaluator-option KEY=VALUE`)", no_wrap=True)
    evaluator.add_column("what it sets", overflow="fold")
    for key, text in row["evaluator_options"].items():
        evaluator.add_row(key, text)
    if not row["evaluator_options"]:
        evaluator.add_row("(none)", "")
    _out.print(evaluator)


def _default_text(value: Any) -> str:
    """A default as ``--space-option`` takes it: a list comma-separated, ``true`` and
    ``false`` as JSON writes them; ``None`` (the builder decides) as not set."""
    if isinstance(value, (list, tuple)):
        return ",".join(_default_text(v) for v in value)
    if value is None:
        return "(not set)"
    return json.dumps(value) if isinstance(value, bool) else str(value)


def _space_option_defaults(spec: Any) -> dict[str, Any]:
    """Each option the space takes with its default, read from the signature of what
    builds it: :meth:`~quarch.spaces.SpaceSpec.space` or, when that passes
    ``**options`` on, the builder its refusal of an unknown keyword names (the one
    way the option names were shown before: a mistyped ``--space-option``)."""
    import inspect

    names = spec.space_option_names()
    builder = spec.space
    if not names:
        try:
            spec.space(**{"--": None})  # no keyword is named so: the builder refuses it
        except TypeError as e:
            names = spec.space_option_names(e)
            builder = spec._builder(e) or builder
        except Exception:  # a space of the user's own that fails otherwise: no list
            return {}
    try:
        params = inspect.signature(builder).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    empty = inspect.Parameter.empty
    return {
        n: (params[n].default if n in params and params[n].default is not empty else None)
        for n in names
    }


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
