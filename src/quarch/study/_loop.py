"""The search loop: where space, strategy, evaluator and objective meet.

A run is a folder (its layout: :mod:`quarch.study._run`). Every trial is asked from the Optuna study, evaluated with a seed derived from the
run seed and the trial number, and told back at once, so the study on disk is the
whole state of the run: a run killed at any point resumes from it (``resume=True``)
and ends with exactly ``config.trials`` complete trials. A trial that raises, or whose
metrics are not finite, is recorded as failed with its reason and the search goes on.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from quarch import __version__
from quarch._errors import ConfigError, RunError
from quarch.config import SearchConfig
from quarch.evaluate import Evaluator
from quarch.objectives import Objective
from quarch.search import make_sampler
from quarch.space import Space
from quarch.spaces import SPACES, SpaceSpec, get_spec, make_evaluator
from quarch.study._result import SearchResult, TrialRecord
from quarch.study._run import Run, objective_of
from quarch.study._storage import load_study, make_storage, storage_spec, study_exists
from quarch.study._worker import fail_dead_trials, work

__all__ = [
    "join_study",
    "load_result",
    "open_study",
    "resume_search",
    "run_search",
    "space_for",
]

STUDY_NAME = "quarch"
_CONFIG_ATTR = "quarch:config"
_FINGERPRINT_ATTR = "quarch:fingerprint"
_VERSION_ATTR = "quarch:version"


# -- the loop --------------------------------------------------------------------------
ProgressHook = Callable[[int, int, TrialRecord], None]


def _n_complete(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


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


def _prepare(
    config: SearchConfig, resume: bool, space: Space | None, evaluator: Evaluator | None
) -> tuple[Space, Evaluator, Objective, optuna.samplers.BaseSampler, optuna.Study, SearchConfig]:
    """Check the config, open or create the run folder and study."""
    spec = _spec_for(config, space, evaluator)
    if spec is not None:
        config = spec.resolve(config)
    objective = objective_of(config)  # unknown metrics and malformed budgets first
    if spec is not None:
        spec.check(config)
        space = space if space is not None else spec.build_space(config)
    assert space is not None
    run_dir = config.run_dir
    sampler = make_sampler(
        config.strategy, seed=config.seed, space=space, objective=objective,
        **config.strategy_options,
    )  # fmt: skip
    spec_storage = storage_spec(config.storage, config.workers, run_dir)
    old: Run | None = None
    if resume:
        if not Run.exists(run_dir):
            raise RunError(f"cannot resume {str(run_dir)!r}: it is not a quarch run folder")
        old = Run.open(run_dir)
        spec_storage = old.storage
        bad = config.incompatible_with(old.config)
        if bad:
            raise RunError(
                f"cannot resume {str(run_dir)!r} with a different {', '.join(bad)}; "
                "start a new run (--out) instead"
            )
    elif study_exists(spec_storage, run_dir) or Run.exists(run_dir):
        raise RunError(
            f"run folder {str(run_dir)!r} already holds a study; resume it with "
            f"`quarch search --resume {run_dir}` or choose another --out"
        )
    run = Run(run_dir, config, {})
    if evaluator is None:
        evaluator = make_evaluator(space, config, weights_dir=run.weights_dir)
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
    if old is not None:
        if old.fingerprint != evaluator.fingerprint:
            raise RunError(
                f"cannot resume {str(run_dir)!r}: its data fingerprint "
                f"{str(old.fingerprint)[:12]} differs from this data set's "
                f"{evaluator.fingerprint[:12]} (was the data set or split changed?)"
            )
        run.meta["created"] = old.meta.get("created", run.meta["created"])
    run.write()
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        storage=make_storage(spec_storage, run_dir),
        study_name=config.study_name,
        directions=objective.directions,
        sampler=sampler,
        load_if_exists=True,
    )
    study.set_user_attr(_CONFIG_ATTR, config.to_dict())
    study.set_user_attr(_FINGERPRINT_ATTR, evaluator.fingerprint)
    study.set_user_attr(_VERSION_ATTR, __version__)
    return space, evaluator, objective, sampler, study, config


def run_search(
    config: SearchConfig,
    *,
    resume: bool = False,
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
            field but budgets, devices and parallelism must match what was saved.
        progress: show a progress bar on stderr.
        space: use this space instead of the registered ``config.space`` (Python API).
        evaluator: use this evaluator instead of the space's default.
        on_trial: called as ``on_trial(n_complete, n_target, record)`` after each trial
            finished in this process.

    Returns:
        The run's :class:`SearchResult`.

    Raises:
        ConfigError: an unknown space, strategy, metric or a malformed budget.
        DataError: the data set cannot be loaded.
        RunError: the run folder exists (without ``resume``) or does not match.
    """
    custom_evaluator = evaluator is not None
    space, evaluator, objective, _, study, config = _prepare(config, resume, space, evaluator)
    fail_dead_trials(study)
    from quarch.study._progress import SearchProgress

    with SearchProgress(
        config.trials, _n_complete(study), enabled=progress, names=objective.names,
        directions=objective.directions,
    ) as bar:  # fmt: skip

        def _on(frozen: optuna.trial.FrozenTrial) -> None:
            record = TrialRecord.from_frozen(frozen)
            done = _n_complete(study)
            bar.update(done, record)
            if on_trial is not None:
                on_trial(done, config.trials, record)

        if config.ray:
            from quarch.study._ray import drive

            drive(study, space=space, evaluator=evaluator, objective=objective,
                  config=config, on_trial=_on)  # fmt: skip
        elif config.workers > 1:
            from quarch.study._parallel import run_workers

            run_workers(
                study, space=space, evaluator=evaluator, objective=objective, config=config,
                poll=lambda: bar.update(_n_complete(study), None),
                custom_evaluator=custom_evaluator,
            )  # fmt: skip
        else:
            work(
                study, space=space, evaluator=evaluator, objective=objective,
                trials=config.trials, run_seed=config.seed, timeout=config.timeout,
                trial_timeout=config.trial_timeout, on_trial=_on,
            )  # fmt: skip

    trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
    return SearchResult(config.run_dir, config, objective, trials, study)


def resume_search(
    run_dir: str | Path,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    progress: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> SearchResult:
    """Continue the run in ``run_dir`` to its trial budget (or a new ``trials``)."""
    d = Path(run_dir)
    data = Run.open(d).config.to_dict()
    data["out"] = str(d)
    data["timeout"] = timeout
    if trials is not None:
        data["trials"] = trials
    data.update(overrides or {})
    return run_search(SearchConfig.from_dict(data), resume=True, progress=progress)


def join_study(
    storage: str | None = None,
    study_name: str = STUDY_NAME,
    *,
    run_dir: str | Path | None = None,
    data_dir: str | None = None,
    device: str | None = None,
    progress: bool = True,
) -> SearchResult:
    """Join a running study as one more worker (``quarch worker``).

    The study carries its own config (set by the run that created it), so a worker on
    another machine needs only the storage URL, the study name and, where its files
    live elsewhere, its own ``data_dir``. On the run's own machine ``run_dir`` names
    the run folder instead (its SQLite or journal file).
    """
    if run_dir is not None:
        study = open_study(run_dir)
    elif storage is not None:
        study = load_study(storage_spec(storage, 1, Path(".")), Path("."), study_name)
    else:
        raise ConfigError("join_study needs a storage URL or a run folder")
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
    study.sampler = make_sampler(
        config.strategy, seed=config.seed, space=space, objective=objective,
        **config.strategy_options,
    )  # fmt: skip
    work(
        study, space=space, evaluator=evaluator, objective=objective, trials=config.trials,
        run_seed=config.seed, trial_timeout=config.trial_timeout,
    )  # fmt: skip
    trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
    return SearchResult(config.run_dir, config, objective, trials, study)
