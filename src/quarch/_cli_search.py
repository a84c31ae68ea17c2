"""The body of ``quarch search`` and what it alone uses: flags and a config file to a
:class:`~quarch.config.SearchConfig` (or a resume's changes), the dry run, the lines
said at an interrupt or an early stop.

Split from :mod:`quarch.cli` so the body is a plain function (mutmut 3 mutates no
function under a decorator such as typer's ``@app.command``) and ``cli.py`` stays short.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from quarch._cli_app import _Interrupted, _kv, _out, _print_result, _split
from quarch._errors import ConfigError, QuarchError, RunExistsError, did_you_mean
from quarch._paths import check_named
from quarch._pruner_options import check_pruner_options
from quarch._run_files import check_run_folder, saved_space
from quarch.config import SearchConfig

__all__ = ["search_command"]


def search_command(
    *, space: str | None, dataset: str | None, strategy: str | None, trials: int | None,
    seed: int | None, out: str | None, objectives: str | None, weights: str | None,
    budget: list[str] | None, timeout: float | None, data_dir: str | None,
    epochs: int | None, batch_size: int | None, max_train: int | None, device: str | None,
    strategy_option: list[str] | None, space_option: list[str] | None,
    evaluator_option: list[str] | None, pruner: str | None, pruner_option: list[str] | None,
    workers: int | None, storage: str | None, study_name: str | None,
    trial_timeout: float | None, ray: bool, ray_address: str | None,
    device_profile: str | None, qubit_budget: int | None, noise: str | None,
    supercircuit: bool, config: str | None, resume: str | None, overwrite: bool,
    dry_run: bool, json_out: bool, quiet: bool, report: bool,
) -> None:  # fmt: skip
    """What ``quarch search`` does with its flags (each parameter is the flag's value)."""
    for text, option, what in (
        (out, "--out", "run folder"), (resume, "--resume", "run folder to continue"),
        (config, "--config", "config file"), (data_dir, "--data-dir", "data folder"),
    ):  # fmt: skip
        check_named(text, option, what)  # Path('') is '.': refused as a folder or a run
    resume_dir = None if resume is None else Path(resume)  # typed as text for that check
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
    given["pruner"] = pruner
    given["pruner_options"] = _kv(pruner_option, "--pruner-option") or None
    given = {k: v for k, v in given.items() if v is not None}
    flags = {"device_profile": device_profile, "qubit_budget": qubit_budget, "noise": noise,
             "supercircuit": True if supercircuit else None}  # fmt: skip
    given_ev = _kv(evaluator_option, "--evaluator-option")
    for k, v in flags.items():  # the flag is a shorthand: two values for one option is a slip
        if v is not None and k in given_ev and given_ev[k] != v:
            shown = _flag(k) if v is True else f"{_flag(k)} {v}"
            raise ConfigError(
                f"{shown} and --evaluator-option {k}={given_ev[k]} set the same option; give one"
            )
    ev_opts = {**given_ev, **{k: v for k, v in flags.items() if v is not None}}
    if ev_opts:
        given["evaluator_options"] = ev_opts
    progress = not (quiet or json_out)
    if resume_dir is not None:
        if "out" in given and Path(given["out"]).absolute() == resume_dir.absolute():
            del given["out"]  # the run's own folder: nothing changes
        extra = set(given) - (SearchConfig.RESUMABLE_CHANGES - {"out"}) - {"storage"}
        extra |= {"config"} if config is not None else set()
        if extra or overwrite:
            allowed = sorted(SearchConfig.RESUMABLE_CHANGES - {"out"})
            raise ConfigError(
                "--resume continues a run with its saved config; only "
                f"{', '.join(_flag(k) for k in allowed)} may change; got "
                f"{', '.join(_flag(k) for k in sorted(extra | ({'overwrite'} if overwrite else set())))}"
            )
        trials_ = given.pop("trials", None)
        timeout_ = given.pop("timeout", None)
        run_dir = check_run_folder(resume_dir)  # before the search loop is imported
        if "device" in given:
            _check_device_name(given["device"])
        space = saved_space(run_dir)
        if space is not None:  # a space of the user's own, not loaded: say how to load it
            from quarch.spaces import check_run_space

            check_run_space(run_dir, space)
        from quarch.study import check_search, resume_config, resume_search

        if dry_run:
            storage_ = given.pop("storage", None)
            cfg = resume_config(resume_dir, trials=trials_, timeout=timeout_, overrides=given)
            if storage_ is not None:
                cfg = dataclasses.replace(cfg, storage=storage_)
            _print_dry_run(check_search(cfg, resume=True), json_out)
            return
        with _interrupt_hint(run_dir, trials=trials_):
            result = resume_search(
                resume_dir, trials=trials_, timeout=timeout_, progress=progress, overrides=given
            )
    else:
        base = SearchConfig.read_file(config) if config is not None else {}
        for key in ("evaluator_options", "space_options", "strategy_options", "pruner_options"):
            if key in given:  # a flag adds to the file's table, key by key
                given[key] = {**base.get(key, {}), **given[key]}
        base.update(given)
        cfg = SearchConfig.from_dict(base)
        _check_names(cfg, [k for k, v in flags.items() if v is not None])
        from quarch.study import check_search, run_search

        try:
            if dry_run:
                _print_dry_run(check_search(cfg, overwrite=overwrite), json_out)
                return
            with _interrupt_hint(None, cfg):
                result = run_search(cfg, progress=progress, overwrite=overwrite)
        except RunExistsError as e:
            raise ConfigError(
                f"run folder {e.run_dir!r} already holds a study; continue it with "
                f"`quarch search --resume {e.run_dir}`, replace it with --overwrite, or choose "
                "another --out"
            ) from None
    summary = result.to_json()
    if report:
        from quarch.report import write_report

        try:
            summary["report"] = str(write_report(result.run_dir).html)
        except KeyboardInterrupt:  # the search itself is done: say so, and how to finish
            raise _Interrupted(
                f"interrupted while writing the report; the search ended with {result.done} "
                f"of {result.config.trials} trials done; write the report with "
                f"`quarch report {result.run_dir}`"
            ) from None
    if json_out:
        sys.stdout.write(json.dumps(summary) + "\n")
    else:
        _print_result(result)
        if report:
            _out.print(f"report: {summary['report']}")
    _note_stop(result)


#: Config fields whose flag is not the field's name (a repeatable flag is singular).
_FLAGS = {
    "budgets": "--budget",
    "evaluator_options": "--evaluator-option",
    "pruner_options": "--pruner-option",
    "space_options": "--space-option",
    "strategy_options": "--strategy-option",
}


def _flag(field: str) -> str:
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


def _print_dry_run(config: SearchConfig, json_out: bool) -> None:
    """What ``--dry-run`` prints: the config the run would store."""
    data = config.to_dict()
    if json_out:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    # soft_wrap: a long path is not broken across lines (in a pipe rich wraps at 80
    # columns, which split the JSON's strings and made the config unreadable)
    _out.print(
        f"ok: the search can start; it would write {config.run_dir} with this config:",
        highlight=False, soft_wrap=True,
    )  # fmt: skip
    _out.print(json.dumps(data, indent=2, sort_keys=True), highlight=False, soft_wrap=True)


def _check_names(config: SearchConfig, flags: list[str] | tuple[str, ...] = ()) -> None:
    """Refuse a mistyped space, space option, evaluator option, device profile, metric,
    budget, weight, strategy, strategy option or torch device type, and an evaluator
    flag (``flags``: ``--noise`` and the like, by their option's name) the space has no
    option for, before the search loop is imported (torch, Optuna's storages and
    SQLAlchemy: about 2 s on a laptop, 5-6 s on a loaded one), so the commonest
    mistakes cost a fraction.

    Each but the flag and the device type is the check the search makes itself
    (:func:`~quarch.study.check_search` makes them all again, in its own order), so the
    line is the one the search would print. A space's own checks of values (its
    options', data set) may depend on what the search resolves, or need its
    evaluator's modules, and stay with the search.
    """
    from quarch.objectives import Objective
    from quarch.spaces import get_spec

    spec = get_spec(config.space)
    _check_flags(config.space, spec.evaluator_options, flags)
    spec.check_names(config)
    Objective(config.objectives, weights=config.weights, budgets=config.budgets)
    _check_device_name(config.device)
    from quarch.search import check_strategy_options  # Optuna and SciPy: after the above

    check_strategy_options(config.strategy, config.strategy_options)
    check_pruner_options(config.pruner, config.pruner_options)  # make_pruner's line


def _check_flags(space: str, options: Any, flags: list[str] | tuple[str, ...]) -> None:
    """Refuse a flag that sets an evaluator option ``space`` does not take, in the
    flag's terms and naming the spaces that take it (the search's line, "takes no
    evaluator option 'noise'", names an option the user never typed)."""
    from quarch.spaces import SPACES, get_spec

    for key in flags:
        if key in options:
            continue
        takers = [n for n in SPACES.names() if key in get_spec(n).evaluator_options]
        where = (
            f"space {takers[0]} only" if len(takers) == 1
            else f"spaces {', '.join(takers)}" if takers
            else "no registered space"
        )  # fmt: skip
        raise ConfigError(f"{_flag(key)} applies to {where}; space {space!r} has no such option")


#: The device types ``torch.device`` parses (c10's list, which a test compares with the
#: installed torch's), so ``--device gpu`` is refused without importing torch.
_TORCH_DEVICE_TYPES = (
    "cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip", "ve", "fpga",
    "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia", "privateuseone",
)  # fmt: skip


def _check_device_name(device: str) -> None:
    """Refuse a ``--device`` whose type torch has no name for (``gpu``) before torch is
    imported (the search's own check, :func:`quarch.evaluate.check_device`, imports it
    first: seconds). A backend that a plugin renamed (torch's ``privateuse1``) exists
    only once torch is imported: then torch's check decides."""
    kind = device.split(":", 1)[0]
    if kind in _TORCH_DEVICE_TYPES or "torch" in sys.modules:
        return
    hint = (
        "; for a GPU: cuda (NVIDIA, AMD) or mps (Apple)"
        if kind.lower() == "gpu"
        else did_you_mean([kind], _TORCH_DEVICE_TYPES)
    )
    raise ConfigError(
        f"--device {device!r} is not a torch device: torch has no device type {kind!r} "
        f"(cpu, cuda, cuda:1, mps, xpu, ...){hint}"
    )


@contextlib.contextmanager
def _interrupt_hint(
    run_dir: Path | None,
    config: SearchConfig | None = None,
    trials: int | None = None,
    *,
    worker: bool = False,
) -> Iterator[None]:
    """Turn Ctrl-C during a search into one line saying how far the run got and how to
    continue it (typer alone would turn it into a bare exit status). ``trials``: the
    budget a resume asked for, which the run folder may not hold yet. ``worker``: for
    ``quarch worker --run``, whose search may go on without it: the line says how to
    join it again too."""
    try:
        yield
    except KeyboardInterrupt:
        line = _interrupted_line(run_dir, config, trials)
        if worker and "continue with" in line:  # the search it joined may still be running
            line += f"; while its search still runs, `quarch worker --run {run_dir}` joins it again"
        raise _Interrupted(line) from None


def _interrupted_line(
    run_dir: Path | None, config: SearchConfig | None, trials: int | None = None
) -> str:
    from quarch.study import Run, stored_config

    if run_dir is None and config is not None:
        try:  # the folder the search writes: the default data set, its registered name
            run_dir = stored_config(config).run_dir
        except QuarchError:  # a config not checked yet: nothing was written either
            return "interrupted before the run started; nothing was written"
    if run_dir is None or not Run.exists(run_dir):
        return "interrupted before the run started; nothing was written"
    try:
        res = Run.open(run_dir).result()
    except QuarchError:
        return f"interrupted; continue with `quarch search --resume {run_dir}`"
    target = res.config.trials if trials is None else trials
    if res.done >= target:  # stopped after its last trial: nothing to resume
        return (
            f"interrupted with all {target} trials done; nothing is left to run; "
            f"see them with `quarch trials {run_dir}`"
        )
    more = "" if trials is None or trials == res.config.trials else f" --trials {trials}"
    return (
        f"interrupted with {res.done} of {target} trials done; continue with "
        f"`quarch search --resume {run_dir}{more}`"
    )


def _note_stop(result: Any) -> None:
    """One line on stderr when the search ended before its budget, or had nothing to do."""
    done, target = result.done, result.config.trials
    if result.stopped == "timeout":
        secs = f"{result.config.timeout:g} s" if result.config.timeout else "its time"
        sys.stderr.write(
            f"note: stopped by --timeout after {secs} with {done} of {target} trials done; "
            f"continue with `quarch search --resume {result.run_dir}`\n"
        )
    elif result.stopped == "already complete" and done < target:
        # --trials at or below the trials done: nothing ran, the run keeps its budget
        sys.stderr.write(
            f"note: the run already has {done} trials done, no fewer than --trials asks; "
            f"nothing to do, and its budget stays {target} (`quarch search --resume "
            f"{result.run_dir}` continues to it)\n"
        )
    elif result.stopped == "already complete":
        sys.stderr.write(
            f"note: the run already has {done} trials done, its budget is {target}; nothing "
            f"to do (`quarch search --resume {result.run_dir} --trials N` extends it)\n"
        )


def _float(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"{flag} takes numbers; got {text!r}") from None
