"""The ``quarch`` command line: a thin layer over the Python API.

Each subcommand turns its flags into one call of the public API (``run_search``,
``resume_search``, ``list_datasets``, the registries). Errors a user can fix print one
line ``error: ...`` on stderr and exit with code 2; Ctrl-C prints how to continue and
exits with 130; ``--debug`` (anywhere on the line) shows the traceback. A database
password in a storage URL is masked in every line printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
import typer.core

if TYPE_CHECKING:  # checked against the click that the installed typer vendors
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
else:
    try:  # typer >= 0.22 vendors click; older versions use click itself
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # pragma: no cover - older typer
        from click.exceptions import UsageError

        NoArgsIsHelpError = ()
from rich.table import Table

from quarch._cli_app import (
    _NAME,
    DataDirOption,
    JsonFlag,
    RunArg,
    _Command,
    _d,
    _EndOfFile,
    _fmt,
    _Interrupted,
    _interrupted_plainly,
    _out,
    _print_result,
    _split,
    _used_params,
    app,
)
from quarch._cli_search import _check_device_name, _interrupt_hint, search_command
from quarch._errors import ConfigError, QuarchError, did_you_mean, quiet_interrupted_imports
from quarch._paths import check_named
from quarch._plugins import import_plugins
from quarch._run_files import check_run_folder
from quarch._warnings import QuarchWarning
from quarch.config import PRUNERS, mask_secrets

__all__ = ["app", "main"]


@app.command(cls=_Command)
def search(
    space: Annotated[
        str | None, typer.Option(metavar=_NAME, help="Search space (`quarch spaces`). Required.")
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option(
            metavar=_NAME,
            help="Data set (`quarch datasets`). [default: the space's own, which "
            "`quarch spaces` lists]",
        ),
    ] = None,
    strategy: Annotated[
        str | None,
        typer.Option(metavar=_NAME, help=_d("strategy", "Search strategy (`quarch strategies`).")),
    ] = None,
    trials: Annotated[
        int | None,
        typer.Option(metavar="N", help=_d("trials", "Trials to complete (pruned ones count).")),
    ] = None,
    seed: Annotated[int | None, typer.Option(metavar="K", help=_d("seed", "Run seed."))] = None,
    out: Annotated[
        str | None,
        typer.Option(
            metavar="RUN", help="Run folder to create. [default: runs/SPACE-DATASET-STRATEGY-sSEED]"
        ),
    ] = None,
    objectives: Annotated[
        str | None,
        typer.Option(
            metavar="M1,M2", help="Comma-separated metrics to optimise. [default: val_error,params]"
        ),
    ] = None,
    weights: Annotated[
        str | None,
        typer.Option(
            metavar="W1,W2",
            help="One weight per objective: minimise their weighted sum (one cost).",
        ),
    ] = None,
    budget: Annotated[
        list[str] | None,
        typer.Option(metavar="METRIC<=NUMBER", help="Hard limit; repeatable."),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(metavar="SECONDS", help="Stop starting trials after this long."),
    ] = None,
    data_dir: DataDirOption = None,
    epochs: Annotated[
        int | None,
        typer.Option(metavar="N", help="Training epochs per trial. [default: the space's]"),
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option(metavar="N", help="Training batch size. [default: the space's]")
    ] = None,
    max_train: Annotated[
        int | None, typer.Option(metavar="N", help="Subsample the training split to N examples.")
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(metavar="DEV", help=_d("device", "Torch device: cpu, cuda, cuda:1.")),
    ] = None,
    strategy_option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE", help="Strategy option; repeatable (`quarch strategies NAME`)."
        ),
    ] = None,
    space_option: Annotated[
        list[str] | None, typer.Option(metavar="KEY=VALUE", help="Space option; repeatable.")
    ] = None,
    evaluator_option: Annotated[
        list[str] | None,
        typer.Option(
            metavar="KEY=VALUE",
            help="Evaluator option (the space's list: a wrong key names them); repeatable.",
        ),
    ] = None,
    pruner: Annotated[
        str | None,
        typer.Option(
            metavar=_NAME,
            help=_d(
                "pruner",
                f"Stop poor trials early by their validation error per epoch: "
                f"{', '.join(PRUNERS)} (one objective or --weights).",
            ),
        ),
    ] = None,
    pruner_option: Annotated[
        list[str] | None,
        typer.Option(metavar="KEY=VALUE", help="Option of the Optuna pruner; repeatable."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(metavar="N", help=_d("workers", "Worker processes sharing the study here.")),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Study storage: sqlite, journal, or a database URL (postgresql+psycopg://"
            "user@host/db; give the password in PGPASSWORD or ~/.pgpass). [default: sqlite; "
            "journal with --workers]",
        ),
    ] = None,
    study_name: Annotated[
        str | None, typer.Option(metavar=_NAME, help=_d("study_name", "Study name in the storage."))
    ] = None,
    trial_timeout: Annotated[
        float | None,
        typer.Option(metavar="SECONDS", help="Fail a trial that runs longer than this."),
    ] = None,
    ray: Annotated[bool, typer.Option("--ray", help="Run evaluations as local Ray tasks.")] = False,
    ray_address: Annotated[
        str | None, typer.Option(metavar="ADDR", help="Run evaluations on this Ray cluster.")
    ] = None,
    device_profile: Annotated[
        str | None,
        typer.Option(metavar=_NAME, help="Device profile for cost models (`quarch devices`)."),
    ] = None,
    qubit_budget: Annotated[
        int | None,
        typer.Option(metavar="N", help="hqnn: largest device (qubits) for circuit cutting."),
    ] = None,
    noise: Annotated[
        str | None,
        typer.Option(
            metavar=_NAME,
            help="hqnn: also score on the density-matrix path with this noise profile "
            "(ibm-heron, ibm-eagle) or 'device' for the device profile's.",
        ),
    ] = None,
    supercircuit: Annotated[
        bool, typer.Option("--supercircuit", help="hqnn/cnn: score with inherited weights.")
    ] = False,
    config: Annotated[
        str | None,
        typer.Option(metavar="FILE", help="TOML, JSON or YAML config file; flags override it."),
    ] = None,
    resume: Annotated[
        str | None,
        typer.Option(metavar="RUN", help="Continue the run in this folder to its budget."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the run already in --out.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check everything (config, space, data, storage), print the config, "
            "write nothing.",
        ),
    ] = False,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    report: Annotated[
        bool, typer.Option("--report", help="Write the HTML report when the search ends.")
    ] = False,
) -> None:
    """Search a space for the best architectures; write a run folder."""
    search_command(**locals())


@app.command(cls=_Command)
def benchmark(
    task: Annotated[
        str,
        typer.Option(
            metavar="TASK",
            help="Benchmark task: a name (`quarch tasks` lists them) or your own task "
            "factory as package.module:function.",
        ),
    ],
    strategies: Annotated[
        str,
        typer.Option(metavar="S1,S2", help="Comma-separated strategy names (`quarch strategies`)."),
    ] = "random",
    seeds: Annotated[int, typer.Option(metavar="N", help="Seeds per strategy.")] = 10,
    trials: Annotated[int, typer.Option(metavar="N", help="Queries per search.")] = 100,
    data_dir: Annotated[
        str | None, typer.Option(metavar="DIR", help="Folder with the nb201/ tables.")
    ] = None,
    budget: Annotated[
        list[str] | None,
        typer.Option(metavar="METRIC<=NUMBER", help="Hard limit; repeatable."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            metavar="DIR",
            help="Folder for the CSVs and plot. [default: runs/benchmark-TASK, replaced by "
            "the next benchmark of the task]",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(metavar="N", help="Processes running searches in parallel.")
    ] = 1,
    first_seed: Annotated[
        int, typer.Option(metavar="K", help="First seed (tune on seeds you do not report).")
    ] = 0,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="Start over: replace the runs a stopped benchmark kept in --out (taken "
            "when the settings are the same, refused when they differ).",
        ),
    ] = False,
    json_out: JsonFlag = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Compare strategies on a benchmark task over many seeds; print a table with each
    strategy's gap to the oracle pick and to the best classical strategy."""
    from quarch.benchmark import BENCHMARK_FILES, run_benchmark

    if seeds < 1 or trials < 1:
        raise ConfigError(f"seeds and trials must be >= 1; got seeds={seeds}, trials={trials}")
    check_named(out, "--out", "benchmark folder")
    try:
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
            overwrite=overwrite,
        )
    except KeyboardInterrupt as e:  # the runs it finished, where they are kept
        raise _Interrupted(f"interrupted; {e}" if e.args else "interrupted") from None
    if json_out:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
        return
    _out.print(result.table())
    if result.out is not None:  # the default folder is replaced by the next benchmark
        _out.print(f"wrote: {result.out}/ ({', '.join(BENCHMARK_FILES)})")


@app.command(cls=_Command)
def report(
    run: RunArg,
    out: Annotated[
        str | None, typer.Option(metavar="DIR", help="Folder to write. [default: RUN/report]")
    ] = None,
) -> None:
    """Write an HTML report (plots embedded) and its plots (PNG; circuits as SVG) of a run."""
    check_named(
        out, "--out", "report folder"
    )  # '' is Path('.'): the report would land in the working folder
    check_run_folder(run)  # before the report's modules (torch, matplotlib) are imported
    from quarch.report import write_report

    with _interrupted_plainly():
        rep = write_report(run, out_dir=None if out is None else Path(out))
    _out.print(f"report: {rep.html}  ({len(rep.images)} plots beside it)")


#: ``quarch trials --state`` spellings -> the trial states Optuna records
_TRIAL_STATES = {"complete": "COMPLETE", "pruned": "PRUNED", "fail": "FAIL", "failed": "FAIL",
                 "running": "RUNNING", "waiting": "WAITING"}  # fmt: skip


@app.command(cls=_Command)
def trials(
    run: RunArg,
    state: Annotated[
        str | None,
        typer.Option(
            metavar="STATE",
            help="Only trials in this state: complete, pruned, fail, running or waiting.",
        ),
    ] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print every trial as one JSON list.")
    ] = False,
) -> None:
    """List every trial of a run: state, metrics, duration and why it did not complete."""
    want = None if state is None else _TRIAL_STATES.get(state.lower())
    if state is not None and want is None:
        raise ConfigError(
            f"--state takes complete, pruned, fail, running or waiting; got {state!r}"
            f"{did_you_mean([state], _TRIAL_STATES)}"
        )
    check_run_folder(run)  # before the search loop is imported
    from quarch.study import Run

    result = Run.open(run).result()
    records = [t for t in result.trials if want is None or t.state == want]
    if json_out:
        sys.stdout.write(json.dumps([t.to_full_dict() for t in records]) + "\n")
        return
    names = list(result.objective.metrics)
    # a run of --weights is ranked by that one cost: the search's summary shows it, so
    # its list of trials does too (it showed the metrics alone, the cost left to sum)
    weighted = result.objective.weights is not None
    table = Table(title=f"trials of {run} ({len(records)} of {len(result.trials)})")
    for col in ("trial", "state", *names, *(["weighted cost"] if weighted else []), "seconds"):
        table.add_column(col, justify="right")
    table.add_column("why not complete / architecture")
    for t in records:
        vals = [_fmt(t.metrics[n]) if n in t.metrics else "" for n in names]
        if weighted:
            vals.append(_fmt(t.values[0]) if t.values else "")
        secs = f"{t.duration_s:.1f}" if t.duration_s is not None else ""
        if t.reason:
            what = t.reason
        else:
            used = _used_params(result.config.space, t.params)
            what = ", ".join(f"{k}={v}" for k, v in used.items())
        table.add_row(str(t.number), t.state.lower(), *vals, secs, what)
    _out.print(table)


@app.command(cls=_Command)
def worker(
    storage: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Database URL of the study (postgresql+psycopg://user@host/db; the password "
            "in PGPASSWORD or ~/.pgpass).",
        ),
    ] = None,
    study: Annotated[
        str | None,
        typer.Option(metavar=_NAME, help="Study name in --storage. [default: quarch]"),
    ] = None,
    run: Annotated[
        Path | None,
        typer.Option(metavar="RUN", help="Join the study of this local run folder instead."),
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option(metavar="DIR", help="This machine's data folder.")
    ] = None,
    device: Annotated[
        str | None, typer.Option(metavar="DEV", help="Torch device for this worker.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Join a running search as one more worker, until its budget is complete."""
    if (storage is None) == (run is None):
        raise ConfigError("give exactly one of --storage URL or --run RUN")
    if run is not None and study is not None:  # it was ignored: the run names its own
        raise ConfigError(
            "--study names a study in --storage; the run folder --run RUN holds its own "
            "(drop --study)"
        )
    if run is not None:
        check_run_folder(run)  # before the search loop is imported
    if device is not None:
        _check_device_name(device)  # search's line, before torch (2-5 s)
    from quarch.study import STUDY_NAME, Run, join_study

    with _interrupt_hint(run, worker=True) if run is not None else _interrupted_plainly():
        # a finished run: said at once, before the worker loads the data and builds its
        # evaluator; a run this cannot read is join_study's to refuse, in its own words
        read = None
        if run is not None:
            with contextlib.suppress(QuarchError):
                read = Run.open(run).result()
        joined = read is None or read.done < read.config.trials
        if read is not None and not joined:
            result = dataclasses.replace(read, stopped="already complete")
        else:
            result = join_study(
                storage, study or STUDY_NAME, run_dir=run, data_dir=data_dir, device=device
            )
    if json_out:
        sys.stdout.write(json.dumps(result.to_json()) + "\n")
    else:
        _print_result(result)
    _note_worker_idle(result, run, joined=joined)


def _note_worker_idle(result: Any, run: Path | None, *, joined: bool) -> None:
    """One line on stderr when the run's budget was complete before this worker could
    run a trial (it printed the table alone, as if it had worked): say so, and how to
    extend the budget. ``joined``: whether it joined the study; a ``--run`` worker reads
    the run first and joins only a run with trials left (``joined`` then means it had
    some to run); with ``--storage`` the study says which trials this process ran."""
    done, target = result.done, result.config.trials
    if done < target or (joined and run is not None):
        return
    if joined:
        import os
        import socket

        from quarch.study._worker import OWNER

        me = f"{socket.gethostname()}:{os.getpid()}"  # how a worker marks its trials
        if any(t.system_attrs.get(OWNER) == me for t in result.study.get_trials(deepcopy=False)):
            return
    elsewhere = "" if run is not None else " on the run's machine"
    sys.stderr.write(  # a --run worker's result is the run folder's own: its run_dir is RUN
        f"note: the run is complete: {done} trials done, its budget is {target}; nothing "
        f"for a worker to do (`quarch search --resume {result.run_dir} --trials N` extends "
        f"it{elsewhere})\n"
    )


def _error(message: str, code: int, debug: bool = False) -> int:
    """Print ``error: MESSAGE`` (one line, passwords masked) on stderr, after the
    traceback with ``--debug``; return the exit code."""
    if debug:
        import traceback

        sys.stderr.write(mask_secrets(traceback.format_exc()))
    first = mask_secrets(" ".join(str(message).split())) or "unknown error"
    sys.stderr.write(f"error: {first}\n")
    return code


@contextlib.contextmanager
def _escape_unprintable() -> Iterator[None]:
    """Print what the output's encoding lacks escaped (``r\\xfcn``), as Python's stderr
    does, instead of failing after the work: with ``PYTHONIOENCODING=ascii`` or a C
    locale, a run folder ``rün`` in the summary cost a finished search an internal
    error; so did a file name with bytes that are not UTF-8 (surrogates) anywhere. The
    streams' own error handlers are restored after, for an in-process caller."""
    changed = []
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict":
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
                changed.append(stream)
    try:
        yield
    finally:
        for stream in changed:
            with contextlib.suppress(AttributeError, ValueError, OSError):
                stream.reconfigure(errors="strict")  # type: ignore[union-attr]


@contextlib.contextmanager
def _warnings_as_lines() -> Iterator[None]:
    """Show quarch's own warnings as one line ``warning: ...`` on stderr, as its errors
    are, not as Python's two (the file, the line number and the source line of the
    call); other libraries' warnings keep Python's format."""
    with warnings.catch_warnings():  # restores showwarning for an in-process caller
        default = warnings.showwarning

        def show(
            message: Warning | str,
            category: type[Warning],
            filename: str,
            lineno: int,
            file: Any = None,
            line: str | None = None,
        ) -> None:
            if issubclass(category, QuarchWarning):
                sys.stderr.write(f"warning: {message}\n")
            else:
                default(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


@contextlib.contextmanager
def _termination_as_interrupt() -> Iterator[list[int]]:
    """SIGTERM (a batch system's time limit, ``docker stop``, ``timeout``, ``kill``)
    takes Ctrl-C's path: the running trial is failed as interrupted, workers are stopped,
    and the line says how to continue (it killed the process silently with 143, leaving
    a trial RUNNING until a resume). The yielded list receives the signal's number; the
    previous handler is restored for an in-process caller. Only the main thread can
    install a handler; elsewhere nothing changes."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def interrupt(signum: int, frame: object) -> None:
        got.append(signum)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield got
    finally:
        signal.signal(signal.SIGTERM, old)


def _end_children() -> None:
    """End the worker processes an interrupted command left running. A second Ctrl-C
    while ``search --workers N`` stopped its workers cut the stopping short: one still
    starting up (it ignores Ctrl-C until it can fail a trial cleanly) lived on, and
    Python's exit waited for it while it ran the rest of the budget, then the line said
    the run was interrupted. Ended here, its trial (if it had one) is failed when the
    run is resumed, as any dead worker's is."""
    import multiprocessing

    children = multiprocessing.active_children()
    if not children:
        return
    main_thread = threading.current_thread() is threading.main_thread()
    # one more Ctrl-C (or SIGTERM) here would end this with a traceback, children alive
    old = {s: signal.signal(s, signal.SIG_IGN) for s in _STOPS} if main_thread else {}
    try:
        for p in children:
            p.terminate()
        for p in children:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


_STOPS = (signal.SIGINT, signal.SIGTERM)


def command() -> NoReturn:
    """The ``quarch`` executable and ``python -m quarch``: :func:`main`, then Python's
    exit without its last garbage collections.

    Once ``main`` has returned, everything is written and printed; what is left is
    Python's shutdown, whose collections walk every object torch, Qiskit and PennyLane
    made (``gc_collect_main`` in every sample py-spy took of it). It took 4.10 s
    (median of 4) after a three-trial hybrid search at load average 9, and 0.68 s with
    the heap frozen first. Nothing needs those collections: quarch closes its files
    where it writes them and commits each storage write, and what must run at exit
    (Ray's, multiprocessing's) is registered with ``atexit``, which still runs.

    ``main`` leaves the heap alone, for callers that go on (tests, notebooks).
    """
    code = main()
    gc.freeze()  # the final collections then find nothing to walk
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``quarch`` command; returns the exit code."""
    with _escape_unprintable(), _warnings_as_lines(), _termination_as_interrupt() as terminated:
        code = _main(argv)
        if code == 130:  # no worker of an interrupted command lives on
            _end_children()
    return 128 + signal.SIGTERM if terminated and code == 130 else code


def _main(argv: list[str] | None) -> int:
    quiet_interrupted_imports()  # Ctrl-C's report is the one line below, never lost
    args = list(sys.argv[1:] if argv is None else argv)
    # --debug is read anywhere on the line (before '--'), after a subcommand too
    cut = args.index("--") if "--" in args else len(args)
    debug = "--debug" in args[:cut]
    if debug:
        args = ["--debug", *[a for a in args[:cut] if a != "--debug"], *args[cut:]]
    try:
        import_plugins()  # spaces, strategies and devices of the user's own, by name
        rv = app(args=args, prog_name="quarch", standalone_mode=False)
    except typer.Exit as e:
        return int(e.exit_code)
    except NoArgsIsHelpError as e:  # `quarch` alone: the help (click's way: stderr, 2)
        e.show()
        return 2
    except UsageError as e:
        return _error(e.format_message(), 2, debug)
    except typer.Abort:
        return _error("aborted", 130)
    except _Interrupted as e:
        return _error(str(e), 130)
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except QuarchError as e:
        return _error(str(e), 2, debug)
    except _EndOfFile as e:
        return _error(f"internal error (EOFError): {e} (rerun with --debug)", 1, debug)
    except Exception as e:
        return _error(f"internal error ({type(e).__name__}): {e} (rerun with --debug)", 1, debug)
    # typer returns the code of an exit it caught: 130 is Ctrl-C outside a command body
    if isinstance(rv, int) and not isinstance(rv, bool) and rv != 0:
        return _error("interrupted", 130) if rv == 130 else rv
    return 0


import quarch._cli_finish  # noqa: E402  (registers train and export on app)
import quarch._cli_lists  # noqa: E402,F401  (registers the listing commands on app)

if __name__ == "__main__":
    sys.exit(main())
