"""The search loop: where space, strategy, evaluator and objective meet.

A run is a folder (its layout: :mod:`quarch.study._run`). Every trial is asked from the Optuna study, evaluated with a seed derived from the
run seed and the trial number, and told back at once, so the study on disk is the
whole state of the run: a run killed at any point resumes from it (``resume=True``)
and ends with exactly ``config.trials`` complete trials (complete or pruned, with a
pruner). A trial that raises, or whose metrics are not finite, is recorded as failed
with its reason and the search goes on; an evaluator that returns no metric the
objective needs (or no dict) breaks its contract, which every trial would repeat: that
first trial is failed with the reason and the search stops in one line.

Nothing is written before the run can start: the config, the space's rules, the
strategy, the storage and the data are all checked first, and a start that fails after
all removes what it wrote, so the next try does not find half a run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import logging
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage

from quarch import __version__
from quarch._errors import ConfigError, RunError, RunExistsError
from quarch._paths import check_folder, writing
from quarch._run_files import CONFIG_FILE, META_FILE
from quarch._software import resumed, software
from quarch.config import SearchConfig, mask_secrets, strip_password
from quarch.evaluate import Evaluator
from quarch.objectives import Objective
from quarch.search import check_strategy_options, make_sampler, uses_cheap_metrics
from quarch.space import Space
from quarch.spaces import SPACES, SpaceSpec, get_spec, make_evaluator
from quarch.study._arguments import check_config, check_objects, check_overrides
from quarch.study._pruner_check import check_pruner
from quarch.study._result import SearchResult, TrialRecord
from quarch.study._run import Run, objective_of
from quarch.study._storage import (
    check_sqlite_url,
    close_storage,
    database_holds,
    delete_study,
    load_study,
    make_pruner,
    make_storage,
    storage_spec,
    study_exists,
)
from quarch.study._worker import fail_dead_trials, n_done, work

__all__ = [
    "check_pruner",
    "check_search",
    "join_study",
    "load_result",
    "open_study",
    "resume_config",
    "resume_search",
    "run_search",
    "space_for",
    "stored_config",
]

STUDY_NAME = "quarch"
_CONFIG_ATTR = "quarch:config"
_FINGERPRINT_ATTR = "quarch:fingerprint"
_VERSION_ATTR = "quarch:version"


# -- the loop --------------------------------------------------------------------------
ProgressHook = Callable[[int, int, TrialRecord], None]


def _n_complete(study: optuna.Study) -> int:
    return n_done(study)


def space_for(config: SearchConfig) -> Space:
    """The registered space a config names, built with its options (and data set)."""
    return get_spec(config.space).build_space(config)


def open_study(run_dir: str | Path) -> optuna.Study:
    """Load the Optuna study of a run folder (to read it, plot it, or add trials)."""
    return Run.open(run_dir).study()


def load_result(run_dir: str | Path) -> SearchResult:
    """The :class:`SearchResult` of an existing run folder."""
    return Run.open(run_dir).result()


def _spec_for(
    config: SearchConfig, space: Space | None, evaluator: Evaluator | None
) -> SpaceSpec | None:
    """The space's spec; ``None`` for an unregistered space given with its evaluator
    (the Python API's ``run_search(config, space=..., evaluator=...)``)."""
    if space is not None and evaluator is not None and config.space not in SPACES:
        return None
    return get_spec(config.space)


def _with_defaults(config: SearchConfig, spec: SpaceSpec | None) -> SearchConfig:
    """``config`` with what a run stores resolved: the space's default data set, the
    data folder as an absolute path (so the run resumes from any folder), and the
    storage URL without its password (kept in memory only; see :func:`_prepare`)."""
    changes: dict[str, Any] = {}
    if config.dataset is None and spec is not None and spec.default_dataset:
        changes["dataset"] = spec.default_dataset
    if config.data_dir:
        changes["data_dir"] = str(Path(config.data_dir).expanduser().resolve())
    if config.storage is not None:
        changes["storage"] = strip_password(config.storage)
    return dataclasses.replace(config, **changes) if changes else config


def _resolved(config: SearchConfig, spec: SpaceSpec | None) -> SearchConfig:
    """``config`` as the run stores it: :func:`_with_defaults`, then the space's own
    (:meth:`~quarch.spaces.SpaceSpec.resolve`)."""
    config = _with_defaults(config, spec)
    return spec.resolve(config) if spec is not None else config


def _remove_run(run_dir: Path, spec_storage: str, secret_storage: str, study_name: str) -> None:
    """Delete an existing run (``overwrite=True``): its study, and the files a run
    folder holds (:class:`Run`'s layout; nothing else in the folder is touched)."""
    if study_exists(spec_storage, run_dir) or Run.exists(run_dir):
        delete_study(secret_storage, run_dir, study_name)
    for name in (*Run.FILES, *Run.FOLDERS):
        path = run_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def _first_missing(path: Path) -> Path | None:
    """The outermost folder of ``path`` that does not exist yet (``runs`` for a new
    ``runs/x``), or ``None`` when ``path`` exists."""
    missing = None
    for p in [path, *path.absolute().parents]:
        if p.exists():
            break
        missing = p
    return missing


def _with_cheap_metrics(
    sampler: optuna.samplers.BaseSampler, config: SearchConfig, space: Space,
    objective: Objective, evaluator: Evaluator,
) -> optuna.samplers.BaseSampler:  # fmt: skip
    """The strategy again, handed the metrics the evaluator knows without training
    (``cheap_metrics``: NB201's tables, a CNN's memory) where it takes them (the QUBO
    family, the surrogate-screened QIEA and QPSO), as the benchmark hands them; the
    sampler made before the data were loaded (to check the options) had none."""
    cheap = getattr(evaluator, "cheap_metrics", None)
    if not callable(cheap) or not uses_cheap_metrics(config.strategy):
        return sampler
    return make_sampler(
        config.strategy, seed=config.seed, space=space, objective=objective,
        cheap_metrics=cheap, **config.strategy_options,
    )  # fmt: skip


class _Prepared:
    """What :func:`_prepare` opened, for the loop."""

    def __init__(
        self, space: Space, evaluator: Evaluator, objective: Objective, study: optuna.Study,
        config: SearchConfig, storage: str, opened: BaseStorage | str, ray_started: bool,
        target: int,
    ) -> None:  # fmt: skip
        self.space, self.evaluator, self.objective = space, evaluator, objective
        self.study, self.config, self.storage = study, config, storage
        self.opened = opened  # the storage object the study writes through
        self.ray_started = ray_started  # a Ray this search started (the loop stops it)
        self.target = target  # the trials asked for (config.trials: the run's budget)


def _prepare(
    config: SearchConfig,
    resume: bool,
    space: Space | None,
    evaluator: Evaluator | None,
    *,
    overwrite: bool = False,
    dry_run: bool = False,
) -> _Prepared | SearchConfig:
    """Check the config, then open or create the run folder and study.

    Every check that needs no file comes first; the folder is written last, and a
    failure while writing it removes what was written. ``dry_run``: check only, and
    return the config the run would store.
    """
    check_objects(space, evaluator)
    if config.workers > 1 and not config.ray:
        from quarch.study._parallel import check_main_guard

        check_main_guard(config.workers, config=config, space=space, evaluator=evaluator)
    secret_storage = config.storage  # may hold a password: used, never written
    spec = _spec_for(config, space, evaluator)
    config = _resolved(config, spec)
    objective = objective_of(config)  # unknown metrics and malformed budgets first
    if spec is not None:
        # the command line's early rule (check_names) too: a spec's check() refuses
        # more, never takes an evaluator option its table lacks
        spec.check_evaluator_option_names(config)
        spec.check(config)
        space = space if space is not None else spec.build_space(config)
    check_pruner(config, objective, spec)
    pruner = make_pruner(config.pruner, config.pruner_options)
    assert space is not None
    run_dir = config.run_dir
    check_folder(run_dir, "run folder")  # a mistyped --out, before the data is loaded
    check_strategy_options(config.strategy, config.strategy_options)
    sampler = make_sampler(
        config.strategy, seed=config.seed, space=space, objective=objective,
        **config.strategy_options,
    )  # fmt: skip
    cells = getattr(sampler, "max_trials", None)  # a sampler that enumerates (grid)
    if cells is not None and config.trials > cells:
        raise ConfigError(
            f"strategy {config.strategy!r} proposes each of {cells} architectures once; "
            f"--trials must be at most {cells}"
        )
    spec_storage = storage_spec(config.storage, config.workers)
    secret_spec = storage_spec(secret_storage, config.workers)
    old: Run | None = None
    target = config.trials  # this call's; a resume may keep the run's budget instead
    if resume:
        if not Run.exists(run_dir):
            raise RunError(f"cannot resume {str(run_dir)!r}: it is not a quarch run folder")
        old = Run.open(run_dir)
        if _names(spec_storage, old.storage, run_dir) and config.storage != old.config.storage:
            config = dataclasses.replace(config, storage=old.config.storage)  # named again
        spec_storage = old.storage
        if secret_storage is None or strip_password(secret_spec) != spec_storage:
            secret_spec = spec_storage
        # saved before its data set's name was resolved: ``Iris`` is ``iris``
        stored = spec.resolve(old.config) if spec is not None else old.config
        bad = config.incompatible_with(stored)
        if bad:
            raise RunError(
                f"cannot resume {str(run_dir)!r} with a different {', '.join(bad)}; "
                "start a new run (--out) instead"
            )
        if target != old.config.trials and target <= n_done(
            load_study(secret_spec, run_dir, config.study_name)
        ):  # no more than the trials done: nothing to run, the budget stays (run_search)
            config = dataclasses.replace(config, trials=old.config.trials)
    elif (study_exists(spec_storage, run_dir) or Run.exists(run_dir)) and not overwrite:
        raise RunExistsError(
            f"run folder {str(run_dir)!r} already holds a study; pass resume=True to continue "
            "it, overwrite=True to replace it, or choose another folder (config.out)",
            str(run_dir),
        )
    elif not overwrite and (run_dir / CONFIG_FILE).exists():  # no run's: the user's own
        raise RunError(
            f"run folder {str(run_dir)!r} holds a {CONFIG_FILE} that is no quarch run's "
            f"(there is no {META_FILE}), and a new run would replace it; move that file, "
            "or choose another folder"
        )
    if spec_storage in ("sqlite", "journal"):
        pass  # the run folder's own file, checked with the folder
    elif spec_storage.startswith("sqlite"):
        check_sqlite_url(spec_storage)  # before the data, and without creating the file
    else:
        make_storage(secret_spec, run_dir)  # an unreachable database: before the data
    if (
        old is None and spec_storage not in ("sqlite", "journal") and not Run.exists(run_dir)
        and database_holds(secret_spec, config.study_name)
    ):  # fmt: skip
        raise RunError(
            f"storage {mask_secrets(spec_storage)!r} already holds a study named "
            f"{config.study_name!r}, and it is not this run folder's (another run's, or "
            "another program's); name this run's study with --study-name NAME, or "
            "continue that run with --resume ITS_FOLDER"
        )
    if config.ray:
        from quarch.study._ray import check_ray

        check_ray(config.ray_address)  # no Ray, or nothing at its address: before the data
    if evaluator is None:
        evaluator = make_evaluator(space, config, weights_dir=Run(run_dir, config, {}).weights_dir)
    if old is not None and old.fingerprint != evaluator.fingerprint:
        raise RunError(
            f"cannot resume {str(run_dir)!r}: its data fingerprint "
            f"{str(old.fingerprint)[:12]} differs from this data set's "
            f"{evaluator.fingerprint[:12]} (was the data set or split changed?)"
        )
    resumed_check = getattr(spec, "check_resumed", None)
    if old is not None and resumed_check is not None:
        # trials scored on qubits their layout no longer names (hqnn): before any training
        then = load_study(secret_spec, run_dir, config.study_name).get_trials(deepcopy=False)
        resumed_check(evaluator, [TrialRecord.from_frozen(t) for t in then])
    sampler = _with_cheap_metrics(sampler, config, space, objective, evaluator)
    if dry_run:
        return config
    run = Run(run_dir, config, {})
    run.meta = {
        "quarch_version": __version__,
        "seed": config.seed,
        "fingerprint": evaluator.fingerprint,
        "storage": spec_storage,
        "study_name": config.study_name,
        "space": space.name,
        "space_size": space.size,
        "objective": objective.to_dict(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if old is None:
        run.meta["software"] = software()  # what the run starts with; a resume keeps it
    else:
        run.meta["created"] = old.meta.get("created", run.meta["created"])
        resumed(run.meta, old.meta, run_dir)  # other software than the start: said once
    ray_started = False
    if config.ray:  # connected before the run folder is written: a failure leaves none
        from quarch.study._ray import connect

        ray_started = connect(config)
    created = _first_missing(run_dir)  # the folder a failed start removes again
    wrote: list[Path] = []
    try:
        if overwrite and old is None:
            _remove_run(run_dir, spec_storage, secret_spec, config.study_name)
        for name in Run.FILES:
            if not (run_dir / name).exists():
                wrote.append(run_dir / name)
        with writing(run_dir, "run folder"):  # what check_folder cannot see: /proc, a full disk
            run.write()
        optuna.logging.set_verbosity(logging.WARNING)
        opened = make_storage(secret_spec, run_dir, writer=True)
        study = optuna.create_study(
            storage=opened,
            study_name=config.study_name,
            directions=objective.directions,
            sampler=sampler,
            pruner=pruner,
            load_if_exists=True,
        )
        study.set_user_attr(_CONFIG_ATTR, config.to_dict())
        study.set_user_attr(_FINGERPRINT_ATTR, evaluator.fingerprint)
        study.set_user_attr(_VERSION_ATTR, __version__)
    except BaseException:
        if ray_started:
            import ray

            ray.shutdown()
        if created is not None:  # the run folder, then each empty parent this run made
            shutil.rmtree(run_dir, ignore_errors=True)
            for parent in run_dir.absolute().parents:
                if not parent.is_relative_to(created.absolute()):
                    break
                with contextlib.suppress(OSError):  # not empty: another run's, keep it
                    parent.rmdir()
        elif old is None:
            for path in wrote:
                path.unlink(missing_ok=True)
        raise
    return _Prepared(
        space, evaluator, objective, study, config, secret_spec, opened, ray_started, target
    )  # fmt: skip


def run_search(
    config: SearchConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    space: Space | None = None,
    evaluator: Evaluator | None = None,
    on_trial: ProgressHook | None = None,
) -> SearchResult:
    """Run (or continue) a search until ``config.trials`` trials are complete.

    With ``config.workers > 1`` the trials run in that many worker processes on one
    study; with ``config.ray`` they run as Ray tasks. A custom ``space`` or
    ``evaluator`` must then be picklable.

    Args:
        config: the run's configuration; ``config.run_dir`` is the run folder.
        resume: continue the run in ``config.run_dir``. Its data fingerprint and every
            field but budgets, devices and parallelism must match what was saved. A
            ``config.trials`` at or below the trials already done runs nothing and
            changes nothing: the run keeps its saved budget (``stopped`` is
            ``"already complete"``; the result's config holds the saved budget, and a
            later resume continues to it). One above them is the run's budget from now
            on, also when it is lower than the saved one (8 done of 20, ``trials=12``:
            4 more, and 12 stays): the caller asked for it.
        overwrite: replace the run in ``config.run_dir`` (its study and the files of a
            run folder) instead of refusing; other files in the folder are kept.
        progress: show a progress bar on stderr.
        space: use this space instead of the registered ``config.space`` (Python API).
        evaluator: use this evaluator instead of the space's default.
        on_trial: called as ``on_trial(n_complete, n_target, record)`` after each trial
            finished in this process.

    Returns:
        The run's :class:`SearchResult`; its ``stopped`` says why the search ended.

    Raises:
        ConfigError: an unknown space, strategy, metric or a malformed budget; a
            ``config`` that is not a :class:`SearchConfig` (build one from a dict with
            :meth:`SearchConfig.from_dict`), a ``space`` that is not a :class:`Space`, an
            ``evaluator`` without ``evaluate`` or ``fingerprint``; ``workers > 1`` called
            from a script's top level, outside ``if __name__ == "__main__":``.
        DataError: the data set cannot be loaded.
        RunError: the run folder exists (without ``resume`` or ``overwrite``) or does
            not match; a new run's folder holds a ``config.json`` that is no run's (a
            file of the user's, which the run would replace; ``overwrite`` replaces it); a new run's database (``storage``) already holds a study of its
            ``study_name`` that is not the run folder's (another run's: joining it would
            mix the two runs' trials); or the search gave up after too many failed
            trials.
    """
    check_config(config, "run_search")
    if resume and overwrite:
        raise ConfigError("give either resume (continue the run) or overwrite (replace it)")
    custom_evaluator = evaluator is not None
    prep = _prepare(config, resume, space, evaluator, overwrite=overwrite)
    assert isinstance(prep, _Prepared)
    space, evaluator, objective, study, config = (
        prep.space, prep.evaluator, prep.objective, prep.study, prep.config
    )  # fmt: skip
    try:
        fail_dead_trials(study)
        from quarch.study._progress import SearchProgress

        t0 = time.monotonic()
        done_before = n_done(study)
        stopped = "already complete" if done_before >= prep.target else "budget"
        with SearchProgress(
            config.trials, done_before, enabled=progress and stopped == "budget",
            names=objective.names, directions=objective.directions,
        ) as bar:  # fmt: skip

            def _on(frozen: optuna.trial.FrozenTrial) -> None:
                record = TrialRecord.from_frozen(frozen)
                done = _n_complete(study)
                bar.update(done, record)
                if on_trial is not None:
                    on_trial(done, config.trials, record)

            if stopped == "already complete":
                pass
            elif config.ray:
                from quarch.study._ray import drive

                drive(study, space=space, evaluator=evaluator, objective=objective,
                      config=config, on_trial=_on)  # fmt: skip
                stopped = "budget" if n_done(study) >= config.trials else "timeout"
            elif config.workers > 1:
                from quarch.study._parallel import run_workers

                stopped = run_workers(
                    study, space=space, evaluator=evaluator, objective=objective, config=config,
                    poll=lambda: bar.update(_n_complete(study), None),
                    custom_evaluator=custom_evaluator, storage=prep.storage,
                )  # fmt: skip
            else:
                stopped = work(
                    study, space=space, evaluator=evaluator, objective=objective,
                    trials=config.trials, run_seed=config.seed, timeout=config.timeout,
                    trial_timeout=config.trial_timeout, on_trial=_on,
                )  # fmt: skip

        trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
    finally:
        close_storage(prep.opened)  # SQLite folds its WAL back into study.db
        if prep.ray_started:
            import ray

            ray.shutdown()
    return SearchResult(
        config.run_dir, config, objective, trials, study, stopped=str(stopped),
        seconds=time.monotonic() - t0,
        workers_stopped=list(getattr(stopped, "workers_stopped", ())),  # run_workers' Stopped
    )  # fmt: skip


def check_search(
    config: SearchConfig, *, resume: bool = False, overwrite: bool = False
) -> SearchConfig:
    """Make every check :func:`run_search` makes before it writes anything (the
    config, the space's rules, the strategy, the storage, loading the data) and write
    nothing; return the config as the run would store it (``quarch search --dry-run``),
    with the storage as given and the budget a resume keeps (see :func:`run_search`).

    Raises:
        QuarchError: what :func:`run_search` would raise before its first trial.
    """
    check_config(config, "check_search")
    checked = _prepare(config, resume, None, None, overwrite=overwrite, dry_run=True)
    assert isinstance(checked, SearchConfig)
    resolved = _resolved(config, _spec_for(config, None, None))
    return dataclasses.replace(resolved, trials=checked.trials)


def stored_config(config: SearchConfig) -> SearchConfig:
    """``config`` as a search of it stores it, with no check and nothing loaded: the
    space's default data set under its registered name, the space's own defaults; its
    ``run_dir`` is the folder the search writes (``--dataset Iris`` writes
    ``runs/mlp-iris-...``); a space that is not registered (given to :func:`run_search`
    as an object) keeps its names. Used where the search may be cut off before it says
    so."""
    return _resolved(config, get_spec(config.space) if config.space in SPACES else None)


def resume_config(
    run_dir: str | Path,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> SearchConfig:
    """The config that continues the run in ``run_dir`` (see :func:`resume_search`).

    A data folder the run stored that no longer exists (the run was moved to another
    machine) falls back to ``$QUARCH_DATA_DIR`` (else ``~/.cache/quarch/data``); the
    data fingerprint still has to match.
    """
    overrides = check_overrides(overrides)
    d = Path(run_dir)
    data = Run.open(d).config.to_dict()
    data["out"] = str(d)
    data["timeout"] = timeout
    if trials is not None:
        data["trials"] = trials
    bad = sorted(set(overrides) - SearchConfig.RESUMABLE_CHANGES)
    if bad:
        raise ConfigError(
            f"a resumed run keeps its saved config; only "
            f"{', '.join(sorted(SearchConfig.RESUMABLE_CHANGES - {'out'}))} may change; "
            f"got {', '.join(bad)}"
        )
    saved_dir = data.get("data_dir")
    if saved_dir and not Path(saved_dir).is_dir():  # an override below still wins
        data["data_dir"] = None
    data.update(overrides)
    return SearchConfig.from_dict(data)


def resume_search(
    run_dir: str | Path,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> SearchResult:
    """Continue the run in ``run_dir`` to its trial budget (or a new ``trials``; one at
    or below the trials done leaves the budget as it was: see :func:`run_search`).

    Args:
        overrides: fields to change, among :attr:`SearchConfig.RESUMABLE_CHANGES`
            (``data_dir``, ``workers``, ``device``, ...). A database ``storage`` URL
            holding the password the run does not store may be given here too.
    """
    overrides = check_overrides(overrides)
    storage = overrides.pop("storage", None)
    cfg = resume_config(run_dir, trials=trials, timeout=timeout, overrides=overrides)
    if storage is not None:
        cfg = dataclasses.replace(cfg, storage=storage)
    return run_search(cfg, resume=True, progress=progress)


def _names(spec: str, old: str, run_dir: Path) -> bool:
    """Whether storage ``spec`` names a run's own storage ``old``: the same spec, or a
    SQLite URL of the run folder's ``study.db`` (``sqlite:////abs/RUN/study.db``)."""
    if spec == old:
        return True
    scheme, _, rest = spec.partition("://")
    if old != "sqlite" or scheme.split("+")[0].lower() != "sqlite":
        return False
    path = rest[1:].split("?", 1)[0]  # storage_spec made it absolute
    return Path(path).resolve() == (run_dir / "study.db").resolve()


def join_study(
    storage: str | None = None,
    study_name: str = STUDY_NAME,
    *,
    run_dir: str | Path | None = None,
    data_dir: str | None = None,
    device: str | None = None,
    progress: bool = False,
) -> SearchResult:
    """Join a running study as one more worker (``quarch worker``).

    The study carries its own config (set by the run that created it), so a worker on
    another machine needs only the storage URL, the study name and, where its files
    live elsewhere, its own ``data_dir``. On the run's own machine ``run_dir`` names
    the run folder instead (its SQLite or journal file). ``progress`` shows a progress
    bar on stderr (off by default: ``quarch worker`` prints its summary).
    """
    opened: BaseStorage | str | None = None  # a run folder's own study, opened to write
    if run_dir is not None:
        run = Run.open(run_dir)
        # as the run's own process writes it (WAL for SQLite), and folded back by
        # close_storage when this worker ends: a worker that outlives its search (the
        # search stops asking at its budget while trials still run here) would otherwise
        # leave study.db in WAL mode with its last trials in study.db-wal alone
        opened = make_storage(run.storage, run.dir, writer=True)
        study = load_study(run.storage, run.dir, run.config.study_name, storage=opened)
    elif storage in ("sqlite", "journal"):  # shorthands for a run folder's own file
        raise ConfigError(
            f"--storage {storage} means a run folder's own {storage} file; join a run on "
            "this machine with --run RUN, or give a database URL"
        )
    elif storage is not None:
        study = load_study(storage_spec(storage, 1), Path("."), study_name)
    else:
        raise ConfigError("join_study needs a storage URL or a run folder")
    try:
        raw = study.user_attrs.get(_CONFIG_ATTR)
        if raw is None:
            raise RunError(f"study {study_name!r} was not created by quarch (it holds no config)")
        data = dict(raw)
        if data_dir is not None:
            data["data_dir"] = data_dir
        if device is not None:
            data["device"] = device
        data["workers"], data["ray"], data["ray_address"] = 1, False, None
        config = SearchConfig.from_dict(data)
        objective = objective_of(config)
        space = space_for(config)
        home = Path(run_dir) if run_dir is not None else config.run_dir
        evaluator = make_evaluator(space, config, weights_dir=Run(home, config, {}).weights_dir)
        if evaluator.fingerprint != study.user_attrs.get(_FINGERPRINT_ATTR):
            raise RunError(
                "this worker's data differ from the study's (fingerprint mismatch); "
                "point --data-dir at the same data set files"
            )
        resumed_check = getattr(_spec_for(config, space, evaluator), "check_resumed", None)
        if resumed_check is not None:  # trials scored on qubits this machine's layout no
            # longer names (hqnn: another quarch or Qiskit here), before any training
            then = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
            resumed_check(evaluator, then, joining=True)
        study.sampler = make_sampler(
            config.strategy, seed=config.seed, space=space, objective=objective,
            cheap_metrics=getattr(evaluator, "cheap_metrics", None), **config.strategy_options,
        )  # fmt: skip
        study.pruner = make_pruner(config.pruner, config.pruner_options)
        from quarch.study._progress import SearchProgress

        with SearchProgress(
            config.trials, n_done(study), enabled=progress, names=objective.names,
            directions=objective.directions,
        ) as bar:  # fmt: skip

            def _on(frozen: optuna.trial.FrozenTrial) -> None:
                bar.update(_n_complete(study), TrialRecord.from_frozen(frozen))

            stopped = work(
                study, space=space, evaluator=evaluator, objective=objective,
                trials=config.trials, run_seed=config.seed, trial_timeout=config.trial_timeout,
                on_trial=_on,
            )  # fmt: skip
        trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
        return SearchResult(config.run_dir, config, objective, trials, study, stopped=stopped)
    finally:
        if opened is not None:
            close_storage(opened)  # SQLite folds its WAL back into study.db
