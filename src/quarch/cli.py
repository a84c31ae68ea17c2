"""The ``quarch`` command line: a thin layer over the Python API.

Each subcommand turns its flags into one call of the public API (``run_search``,
``resume_search``, ``list_datasets``, the registries). Errors a user can fix print one
line ``error: ...`` on stderr and exit with code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # checked against the click that the installed typer vendors
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
else:
    try:  # typer >= 0.22 vendors click; older versions use click itself
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # pragma: no cover - older typer
        from click.exceptions import UsageError

        NoArgsIsHelpError = ()
from rich.console import Console
from rich.table import Table

from quarch._errors import ConfigError, QuarchError

__all__ = ["app", "main"]

app = typer.Typer(
    name="quarch",
    help="Quantum and quantum-inspired neural architecture search.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_state: dict[str, bool] = {"debug": False}
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object at the end.")]
_out = Console()


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
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
        if "=" not in item:
            raise ConfigError(f"{flag} takes KEY=VALUE; got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = _parse_value(v.strip())
    return out


@app.command()
def search(
    space: Annotated[str | None, typer.Option(help="Search space (see `quarch spaces`).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Data set (see `quarch datasets`).")] = None,
    strategy: Annotated[
        str | None, typer.Option(help="Search strategy (see `quarch strategies`).")
    ] = None,
    trials: Annotated[int | None, typer.Option(help="Complete trials to reach.")] = None,
    seed: Annotated[int | None, typer.Option(help="Run seed.")] = None,
    out: Annotated[str | None, typer.Option(help="Run folder to create.")] = None,
    objectives: Annotated[
        str | None, typer.Option(help="Comma-separated metrics, e.g. val_error,params.")
    ] = None,
    weights: Annotated[
        str | None, typer.Option(help="Comma-separated weights: one weighted cost.")
    ] = None,
    budget: Annotated[
        list[str] | None, typer.Option(help="Hard limit METRIC<=NUMBER; repeatable.")
    ] = None,
    timeout: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    data_dir: Annotated[str | None, typer.Option(help="Folder with data set files.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per trial.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Training batch size.")] = None,
    max_train: Annotated[int | None, typer.Option(help="Subsample the training split.")] = None,
    device: Annotated[str | None, typer.Option(help="Torch device: cpu, cuda, cuda:1.")] = None,
    strategy_option: Annotated[
        list[str] | None, typer.Option(help="Strategy option KEY=VALUE; repeatable.")
    ] = None,
    space_option: Annotated[
        list[str] | None, typer.Option(help="Space option KEY=VALUE; repeatable.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes on this machine sharing the study.")
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(help="Study storage: sqlite, journal, or a database URL (postgresql://...)."),
    ] = None,
    study_name: Annotated[str | None, typer.Option(help="Study name in the storage.")] = None,
    trial_timeout: Annotated[
        float | None, typer.Option(help="Fail a trial that runs longer than this (seconds).")
    ] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run evaluations as local Ray tasks.")] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="Run evaluations on this Ray cluster.")
    ] = None,
    device_profile: Annotated[
        str | None, typer.Option(help="Device profile for cost models (see `quarch devices`).")
    ] = None,
    qubit_budget: Annotated[
        int | None, typer.Option(help="hqnn: largest device (qubits) for circuit cutting.")
    ] = None,
    noise: Annotated[
        str | None,
        typer.Option(
            help="hqnn: score on the density-matrix path with this noise profile "
            "(ibm-heron, ibm-eagle) or 'device' for the device profile's."
        ),
    ] = None,
    supercircuit: Annotated[
        bool, typer.Option("--supercircuit", help="hqnn/cnn: score with inherited weights.")
    ] = False,
    config: Annotated[
        Path | None, typer.Option(help="TOML/JSON config file; flags override it.")
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue the run in this folder to its budget.")
    ] = None,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    report: Annotated[
        bool, typer.Option("--report", help="Write the HTML report when the search ends.")
    ] = False,
) -> None:
    """Search a space for the best architectures; write a run folder."""
    from quarch.config import SearchConfig
    from quarch.study import resume_search, run_search

    given: dict[str, Any] = {
        "space": space,
        "dataset": dataset,
        "strategy": strategy,
        "trials": trials,
        "seed": seed,
        "out": out,
        "objectives": _split(objectives),
        "weights": None
        if weights is None
        else [_float(w, "--weights") for w in _split(weights) or []],
        "budgets": budget or None,
        "timeout": timeout,
        "data_dir": data_dir,
        "epochs": epochs,
        "batch_size": batch_size,
        "max_train": max_train,
        "device": device,
        "strategy_options": _kv(strategy_option, "--strategy-option") or None,
        "space_options": _kv(space_option, "--space-option") or None,
        "workers": workers,
        "storage": storage,
        "study_name": study_name,
        "trial_timeout": trial_timeout,
        "ray": True if ray else None,
        "ray_address": ray_address,
    }
    given = {k: v for k, v in given.items() if v is not None}
    flags = {"device_profile": device_profile, "qubit_budget": qubit_budget, "noise": noise,
             "supercircuit": True if supercircuit else None}  # fmt: skip
    ev_opts = {k: v for k, v in flags.items() if v is not None}
    if ev_opts:
        given["evaluator_options"] = ev_opts
    progress = not (quiet or json_out)
    if resume is not None:
        extra = set(given) - SearchConfig.RESUMABLE_CHANGES
        if extra:
            raise ConfigError(
                "--resume continues a run with its saved config; only "
                f"{', '.join('--' + k.replace('_', '-') for k in sorted(SearchConfig.RESUMABLE_CHANGES - {'out'}))} "
                f"may change; got {', '.join('--' + k.replace('_', '-') for k in sorted(extra))}"
            )
        trials_ = given.pop("trials", None)
        timeout_ = given.pop("timeout", None)
        result = resume_search(
            resume, trials=trials_, timeout=timeout_, progress=progress, overrides=given
        )
    else:
        base = SearchConfig.from_file(config).to_dict() if config is not None else {}
        if "evaluator_options" in given:
            given["evaluator_options"] = {
                **base.get("evaluator_options", {}),
                **given["evaluator_options"],
            }
        base.update(given)
        result = run_search(SearchConfig.from_dict(base), progress=progress)
    summary = result.to_json()
    if report:
        from quarch.report import write_report

        summary["report"] = str(write_report(result.run_dir).html)
    if json_out:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    _print_result(result)
    if report:
        _out.print(f"report: {summary['report']}")


def _float(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{flag} takes numbers; got {text!r}") from None


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _print_result(result: Any) -> None:
    names = list(result.objective.metrics)
    table = Table(title=f"Pareto set ({len(result.pareto)} of {len(result.complete)} complete)")
    table.add_column("trial", justify="right")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column("architecture")
    for t in result.pareto:
        arch = ", ".join(f"{k}={v}" for k, v in t.params.items())
        table.add_row(str(t.number), *[_fmt(t.metrics[n]) for n in names], arch)
    _out.print(table)
    skipped = f"  skipped (over budget before training): {len(result.skipped)}"
    _out.print(
        f"run: {result.run_dir}  trials: {len(result.trials)}  complete: {len(result.complete)}"
        f"  failed: {len(result.failed)}" + (skipped if result.skipped else "")
    )


@app.command()
def benchmark(
    task: Annotated[
        str,
        typer.Option(
            help="Benchmark task: a name (`quarch tasks` lists them) or your own task "
            "factory as package.module:function."
        ),
    ],
    strategies: Annotated[str, typer.Option(help="Comma-separated strategy names.")] = "random",
    seeds: Annotated[int, typer.Option(help="Seeds per strategy.")] = 10,
    trials: Annotated[int, typer.Option(help="Queries per search.")] = 100,
    data_dir: Annotated[str | None, typer.Option(help="Folder with the nb201/ tables.")] = None,
    budget: Annotated[
        list[str] | None, typer.Option(help="Hard limit METRIC<=NUMBER; repeatable.")
    ] = None,
    out: Annotated[str | None, typer.Option(help="Folder for the CSV and plot.")] = None,
    workers: Annotated[int, typer.Option(help="Processes running searches in parallel.")] = 1,
    first_seed: Annotated[
        int, typer.Option(help="First seed (tune on seeds you do not report).")
    ] = 0,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Compare strategies on a benchmark task over many seeds; print a table with each
    strategy's gap to the oracle pick and to the best classical strategy."""
    from quarch.benchmark import run_benchmark

    if seeds < 1 or trials < 1:
        raise ConfigError(f"seeds and trials must be >= 1; got seeds={seeds}, trials={trials}")
    result = run_benchmark(
        task=task,
        strategies=_split(strategies) or [],
        seeds=seeds,
        trials=trials,
        data_dir=data_dir,
        budgets=budget or (),
        out=out,
        progress=not (quiet or json_out),
        workers=workers,
        first_seed=first_seed,
    )
    if json_out:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
        return
    _out.print(result.table())


@app.command()
def report(
    run: Annotated[Path, typer.Argument(help="The run folder.")],
    out: Annotated[Path | None, typer.Option(help="Folder to write (default RUN/report).")] = None,
) -> None:
    """Write an HTML report (plots embedded) and PNG plots of a run."""
    from quarch.report import write_report
    from quarch.study import Run

    Run.open(run)  # a clear error for a folder that is not a run
    rep = write_report(run, out_dir=out)
    _out.print(f"report: {rep.html}  ({len(rep.pngs)} plots as PNG beside it)")


@app.command()
def train(
    run: Annotated[Path, typer.Argument(help="The run folder.")],
    trial: Annotated[int, typer.Option(help="Trial number to train.")],
    epochs: Annotated[int | None, typer.Option(help="Training epochs.")] = None,
    seeds: Annotated[int, typer.Option(help="Seeds to train with.")] = 3,
    json_out: JsonFlag = False,
) -> None:
    """Train a trial's architecture to completion with several seeds (+ classical ablation)."""
    from quarch.finalize import train_trial

    res = train_trial(run, trial, epochs=epochs, seeds=seeds)
    summary = res.to_json()
    if json_out:
        sys.stdout.write(json.dumps(summary) + "\n")
        return
    table = Table(title=f"trial {trial}: {res.epochs} epochs, {len(res.seeds)} seeds")
    for col in ("model", "params", "val accuracy %", "test accuracy %"):
        table.add_column(col)

    def ms(d: dict[str, Any]) -> str:
        return f"{d['mean']:.2f} ± {d['std']:.2f}"

    table.add_row(
        "searched", f"{res.params:g}", ms(summary["val_accuracy"]), ms(summary["test_accuracy"])
    )
    if "classical_ablation" in summary:
        a = summary["classical_ablation"]
        table.add_row(
            "classical ablation", f"{a['params']:g}", ms(a["val_accuracy"]), ms(a["test_accuracy"])
        )
    _out.print(table)


@app.command()
def export(
    run: Annotated[Path, typer.Argument(help="The run folder.")],
    trial: Annotated[int, typer.Option(help="Trial number to export.")],
    format: Annotated[
        str, typer.Option("--format", help="torch, onnx, onnx-int8, qasm, qiskit or pennylane.")
    ],
    out: Annotated[Path, typer.Option(help="File to write.")],
    epochs: Annotated[int | None, typer.Option(help="Train this many epochs first.")] = None,
    full_int8: Annotated[
        bool,
        typer.Option(
            "--full-int8",
            help="onnx-int8: quantise every node, the one-channel stem kept in float by "
            "default included (integer-only targets such as microcontrollers).",
        ),
    ] = False,
    json_out: JsonFlag = False,
) -> None:
    """Export a trial's trained architecture for the next tool."""
    from quarch.finalize import export_trial

    res = export_trial(run, trial, format, out, epochs=epochs, full_int8=full_int8)
    if json_out:
        sys.stdout.write(
            json.dumps({"path": str(res.path), "format": res.format, **res.checks}) + "\n"
        )
        return
    _out.print(f"wrote {res.path} ({res.format})")
    for k, v in res.checks.items():
        _out.print(f"  {k}: {v}")
    f32_ms, i8_ms = res.checks.get("fp32_latency_ms"), res.checks.get("int8_latency_ms")
    if f32_ms is not None and i8_ms is not None and i8_ms > f32_ms:
        _out.print(
            f"  note: the int8 model is slower than the float one here ({i8_ms:.4f} vs "
            f"{f32_ms:.4f} ms at batch 1): for networks this small ONNX Runtime's per-node "
            "cost outweighs its int8 kernels' gain; int8 pays off on batches and saves memory "
            "(python benchmarks/int8_export.py RUN compares both)"
        )


@app.command()
def devices(json_out: JsonFlag = False) -> None:
    """List device profiles with their default budgets."""
    from quarch.cost.devices import list_devices

    rows = list_devices()
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="device profiles (`--json` for every constant and its source)")
    for col in ("name", "kind", "description", "latency", "default budgets"):
        table.add_column(col)
    for r in rows:
        budgets = ", ".join(f"{k}<={v:g}" for k, v in r.get("budgets", {}).items())
        table.add_row(
            r["name"], r["kind"], r.get("description", ""), str(r.get("latency", "")), budgets
        )
    _out.print(table)


@app.command()
def worker(
    storage: Annotated[
        str | None, typer.Option(help="Database URL of the study (postgresql://...).")
    ] = None,
    study: Annotated[str, typer.Option(help="Study name in the storage.")] = "quarch",
    run: Annotated[
        Path | None, typer.Option(help="Join the study of this local run folder instead.")
    ] = None,
    data_dir: Annotated[str | None, typer.Option(help="This machine's data folder.")] = None,
    device: Annotated[str | None, typer.Option(help="Torch device for this worker.")] = None,
    json_out: JsonFlag = False,
) -> None:
    """Join a running search as one more worker, until its budget is complete."""
    from quarch.study import join_study

    if (storage is None) == (run is None):
        raise ConfigError("give exactly one of --storage URL or --run RUN")
    result = join_study(storage, study, run_dir=run, data_dir=data_dir, device=device)
    if json_out:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
        return
    _print_result(result)


@app.command()
def datasets(
    data_dir: Annotated[str | None, typer.Option(help="Folder with data set files.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the data sets and whether each is available."""
    from quarch.data import list_datasets

    infos = list_datasets(data_dir)
    rows: list[dict[str, Any]] = [
        {
            "name": i.name,
            "samples": i.n_samples,
            "classes": i.n_classes,
            "input_shape": list(i.input_shape),
            "source": i.source,
            "available": i.available,
            "location": str(i.location) if i.location else None,
        }
        for i in infos
    ]
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title="data sets")
    for col in ("name", "samples", "classes", "input shape", "available", "location"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            str(r["samples"]),
            str(r["classes"]),
            "x".join(map(str, r["input_shape"])),
            "yes" if r["available"] else "no",
            r["location"] or r["source"],
        )
    _out.print(table)


@app.command()
def strategies(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the search strategies."""
    from quarch.search import STRATEGIES

    _registry_table(STRATEGIES, "strategies", json_out)


@app.command()
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
    table.add_column("name")
    for r in rows:
        table.add_row(r["name"])
    _out.print(table)


@app.command()
def spaces(
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the search spaces."""
    from quarch.spaces import SPACES

    _registry_table(SPACES, "spaces", json_out)


def _registry_table(registry: Any, title: str, json_out: bool) -> None:
    rows = [{"name": e.name, "description": e.description} for e in registry.entries()]
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    table = Table(title=title)
    table.add_column("name")
    table.add_column("description")
    for r in rows:
        table.add_row(r["name"], r["description"])
    _out.print(table)


def _error(message: str, code: int) -> int:
    first = " ".join(str(message).split()) or "unknown error"
    sys.stderr.write(f"error: {first}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``quarch`` command; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="quarch", standalone_mode=False)
    except typer.Exit as e:
        return int(e.exit_code)
    except NoArgsIsHelpError:
        return 2
    except UsageError as e:
        if debug:
            raise
        return _error(e.format_message(), 2)
    except typer.Abort:
        return _error("aborted", 130)
    except KeyboardInterrupt:
        return _error("interrupted; continue with `quarch search --resume RUN`", 130)
    except QuarchError as e:
        if debug:
            raise
        return _error(str(e), 2)
    except Exception as e:
        if debug:
            raise
        return _error(f"internal error ({type(e).__name__}): {e} (rerun with --debug)", 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
