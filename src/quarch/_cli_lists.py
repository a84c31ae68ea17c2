"""The listing commands of the ``quarch`` command line: ``devices``, ``datasets``,
``strategies``, ``tasks`` and ``spaces`` (what can be named in a search)."""

from __future__ import annotations

import inspect
import json
import re
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
    """List the data sets (and the spaces' own tables) and whether each is available.

    A space's table (NAS-Bench-201's) holds no images: its rows are architectures, each
    with the accuracies it reached, so its size counts architectures, not samples (the
    column read "samples 15625", the number of cells)."""
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
            "counts": _SIZE_UNITS[i.space is not None],
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
    for col in ("for", "size", "classes", "input shape", "available"):
        table.add_column(col)
    table.add_column("location", overflow="fold")
    for r in rows:
        available = "yes" if r["available"] else "no"
        if r["problem"]:
            available = f"no: {r['problem']}"
        table.add_row(
            r["name"],
            f"--space {r['space']}" if r["space"] else "any space",
            f"{r['samples']} {r['counts']}",
            str(r["classes"]),
            "x".join(map(str, r["input_shape"])),
            available,
            r["location"] or r["source"],
        )
    _out.print(table)


#: What a row of ``quarch datasets`` counts: a data set's examples, or a space's
#: table's rows (``True``), one architecture each with its recorded accuracies.
_SIZE_UNITS = {False: "samples", True: "architectures"}


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
    docs = _option_docs(name)
    table = Table(title=f"{name}: {description}")
    table.add_column("option (`--strategy-option KEY=VALUE`)", no_wrap=True)
    table.add_column("default", overflow="fold")
    table.add_column("what it sets", overflow="fold")
    for key, value in options.items():
        text = docs.get(key, "")
        table.add_row(key, _strategy_default(value, text), _first_sentence(text))
    if not options:
        table.add_row("(none)", "", "")
    _out.print(table)


def _option_docs(name: str) -> dict[str, str]:
    """Each option's text in the ``Args:`` of what strategy ``name`` builds: the sampler
    class of a built-in strategy, else the factory a user registered."""
    from quarch.search import _BUILDS, STRATEGIES

    built = _BUILDS.get(name)
    factory = STRATEGIES.get(name)
    return _arg_docs(built[1] if built is not None and built[0] is factory else factory)


def _arg_docs(target: Any, seen: frozenset[Any] = frozenset()) -> dict[str, str]:
    """``{name: text}`` of ``target``'s ``Args:``, an entry ``a, b: see :class:`X```
    read from ``X`` (a thin subclass, ``GroverSampler``, sends its reader to the class
    it wraps) and a class's own over its bases' (quarch's ``NSGAIISampler`` documents
    none of Optuna's); ``seen``: the classes read on the way, so a loop ends."""
    docs: dict[str, str] = {}
    for owner in reversed(getattr(target, "__mro__", (target,))):
        if owner.__doc__:
            docs.update(_args_section(owner.__doc__))
    for key, text in list(docs.items()):
        ref = re.fullmatch(r"see :class:`~?([\w.]+)`\.?", text)
        other = _named_class(ref.group(1), target) if ref else None
        if other is not None and other not in seen:
            docs[key] = _arg_docs(other, seen | {target}).get(key, "")
    return docs


def _named_class(ref: str, beside: Any) -> Any:
    """The class a docstring's ``:class:`` names: dotted from its module, or bare from
    the module of ``beside`` (the class whose docstring names it); ``None`` if neither."""
    module_name, _, attr = ref.rpartition(".")
    return getattr(sys.modules.get(module_name or beside.__module__), attr, None)


def _args_section(doc: str) -> dict[str, str]:
    """``{name: text}`` of a Google-style ``Args:`` section, each text on one line:
    ``name (type): text`` (quarch's; ``a, b: text`` for several) or ``name:`` with the
    text below it (Optuna's)."""
    out: dict[str, str] = {}
    lines = doc.splitlines()
    if "Args:" not in (line.strip() for line in lines):
        return out
    start = [line.strip() for line in lines].index("Args:") + 1
    indent: int | None = None
    entries: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            continue
        depth = len(line) - len(line.lstrip())
        indent = depth if indent is None else indent
        if depth < indent:
            break  # the next section (Returns:, Example:)
        if depth == indent:
            entries.append(line.strip())
        else:  # the entry's text, or the rest of its list of names
            entries[-1] = f"{entries[-1]} {line.strip()}"
    for entry in entries:
        found = re.match(r"(\w+(?:, \w+)*)(?: \([^)]*\))?:(.*)$", entry)
        if found:
            out.update(dict.fromkeys(found.group(1).split(", "), found.group(2).strip()))
    return out


#: How a sampler's docstring says what ``None`` stands for (quarch's own phrasing):
#: ``None`` never / is 5 / means ``4 * sqrt(2**n)`` / (``None``: ``exploration``), or a
#: default given in words, ``(default 10)``.
_NONE_SAYS = (
    re.compile(r"``None``:? (?:means |is )?(.+?)(?:\.(?:\s|$)|;|\)(?:[,;.\s]|$))"),
    re.compile(r"\(default ([^)]+)\)"),
)


def _strategy_default(value: Any, text: str) -> str:
    """A default as ``quarch strategies NAME`` shows it: ``repr`` of a value; for
    ``None``, what the option's docstring says it stands for (``None: 10``, ``None:
    never``), which a bare ``None`` left to the source code to find out."""
    if value is not None:
        return repr(value)
    for pattern in _NONE_SAYS:
        found = pattern.search(text)
        if found:
            return f"None: {found.group(1).replace('``', '').strip()}"
    return "None"


def _first_sentence(text: str) -> str:
    """The first sentence of an option's docstring text (Optuna's run to paragraphs)."""
    return re.split(r"(?<=[a-z0-9)`])\. ", text)[0].removesuffix(".")


@app.command(cls=_Command)
def tasks(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A task (a name, or package.module:function): what it is and what its "
            "factory takes instead."
        ),
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the benchmark tasks (`quarch benchmark --task NAME`), or one task."""
    from quarch.benchmark._tasks import resolve_task, task_description, task_factories

    if name is None:
        rows = [
            {"name": n, "description": task_description(f)} for n, f in task_factories().items()
        ]
        if json_out:
            sys.stdout.write(json.dumps(rows) + "\n")
            return
        table = Table(title="benchmark tasks (`quarch tasks NAME` for one)")
        table.add_column("name", no_wrap=True)  # typed after --task: never cut
        table.add_column("description")
        for r in rows:
            table.add_row(r["name"], r["description"] or _NO_DESCRIPTION)
        _out.print(table)
        return
    factory = resolve_task(name)  # an unknown name: one line listing the known ones
    row = {"name": name, "description": task_description(factory), "takes": _task_takes(factory)}
    if json_out:
        sys.stdout.write(json.dumps(row) + "\n")
        return
    _out.print(f"{name}: {row['description'] or _NO_DESCRIPTION}")
    takes = ", ".join(row["takes"]) or "none of seed, data_dir, budgets"
    _out.print(f"its factory takes: {takes} (`quarch benchmark --task {name}` passes them)")


#: A task whose factory has no docstring, in ``quarch tasks``.
_NO_DESCRIPTION = "(no description: its factory has no docstring)"


def _task_takes(factory: Any) -> list[str]:
    """Which of ``seed``, ``data_dir`` and ``budgets`` (what the benchmark passes a task
    factory) ``factory`` declares: a task without ``budgets`` refuses ``--budget``, one
    without ``seed`` is the same task on every seed (a table's). A factory that takes
    ``**kwargs``, or whose signature cannot be read (a builtin), is passed them all."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return list(_PASSED)
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return list(_PASSED)
    return [k for k in _PASSED if k in params]


#: What ``quarch benchmark`` passes a task factory (those it declares).
_PASSED = ("seed", "data_dir", "budgets")


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
