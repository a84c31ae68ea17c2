"""The search loop: where space, strategy, evaluator and objective meet.

A run is a folder::

    RUN/
      config.json   the SearchConfig it was started with
      run.json      quarch version, seed, data fingerprint, storage, objective, time
      study.db      the Optuna study (SQLite; journal.log for several local workers,
                    or a database named by ``--storage``)

Every trial is asked from the Optuna study, evaluated with a seed derived from the
run seed and the trial number, and told back at once, so the study on disk is the
whole state of the run: a run killed at any point resumes from it (``resume=True``)
and ends with exactly ``config.trials`` complete trials. A trial that raises, or whose
metrics are not finite, is recorded as failed with its reason and the search goes on.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from quarch import __version__
from quarch._errors import ConfigError, RunError
from quarch._storage import load_study, make_storage, storage_spec, study_exists
from quarch._worker import FAIL_REASON, METRICS, SEED, fail_dead_trials, trial_seed, work
from quarch.config import SearchConfig
from quarch.evaluate import Evaluator, make_evaluator
from quarch.objectives import Objective, pareto_mask
from quarch.search import make_sampler
from quarch.space import Space, get_space

__all__ = [
    "SearchResult",
    "TrialRecord",
    "join_study",
    "load_result",
    "open_study",
    "resume_search",
    "run_search",
    "space_for",
    "trial_seed",
]

STUDY_NAME = "quarch"
_CONFIG_ATTR = "quarch:config"
_FINGERPRINT_ATTR = "quarch:fingerprint"
_VERSION_ATTR = "quarch:version"


@dataclass
class TrialRecord:
    """One trial as a user sees it."""

    number: int
    state: str
    params: dict[str, Any]
    metrics: dict[str, float]
    values: list[float] | None
    feasible: bool
    seed: int | None
    fail_reason: str | None = None

    @classmethod
    def from_frozen(cls, t: optuna.trial.FrozenTrial) -> TrialRecord:
        """Build from an Optuna trial recorded by :func:`run_search`."""
        return cls(
            number=t.number,
            state=t.state.name,
            params=dict(t.params),
            metrics=dict(t.user_attrs.get(METRICS, {})),
            values=list(t.values) if t.values is not None else None,
            feasible=all(g <= 0 for g in t.constraints.values()),
            seed=t.user_attrs.get(SEED),
            fail_reason=t.user_attrs.get(FAIL_REASON),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form: number, params and metrics (plus the reason of a failure)."""
        d: dict[str, Any] = {"number": self.number, "params": self.params, "metrics": self.metrics}
        if self.fail_reason:
            d["fail_reason"] = self.fail_reason
        return d


@dataclass
class SearchResult:
    """The outcome of a run: its trials, Pareto set and best trial."""

    run_dir: Path
    config: SearchConfig
    objective: Objective
    trials: list[TrialRecord]
    study: optuna.Study | None = field(default=None, repr=False)

    @property
    def complete(self) -> list[TrialRecord]:
        """Trials that finished with metrics."""
        return [t for t in self.trials if t.state == "COMPLETE"]

    @property
    def failed(self) -> list[TrialRecord]:
        """Trials that failed (with their ``fail_reason``)."""
        return [t for t in self.trials if t.state == "FAIL"]

    @property
    def pareto(self) -> list[TrialRecord]:
        """Feasible complete trials not dominated in the objective's metrics.

        For a weighted cost this is the Pareto set of the weighted metrics themselves,
        which shows the trade-off the weights chose from.
        """
        cands = [t for t in self.complete if t.feasible]
        if not cands:
            return []
        names = list(self.objective.metrics)
        dirs = [self.objective.direction_of(m) for m in names]
        vals = np.array([[t.metrics[m] for m in names] for t in cands], dtype=float)
        mask = pareto_mask(vals, dirs)
        front = [t for t, keep in zip(cands, mask, strict=True) if keep]
        return sorted(
            front,
            key=lambda t: [
                t.metrics[m] * (1 if d == "minimize" else -1)
                for m, d in zip(names, dirs, strict=True)
            ],
        )

    @property
    def best(self) -> TrialRecord | None:
        """The best feasible trial: lowest weighted cost / best single value, or for
        several objectives the Pareto trial best in the first one (ties: the next)."""
        front = self.pareto
        if not front:
            return None
        if self.objective.weights is not None:
            return min(front, key=lambda t: t.values[0] if t.values else math.inf)
        return front[0]

    def to_json(self) -> dict[str, Any]:
        """The object ``quarch search --json`` prints."""
        best = self.best
        return {
            "run": str(self.run_dir),
            "trials": len(self.trials),
            "complete": len(self.complete),
            "failed": len(self.failed),
            "objectives": list(self.objective.names),
            "pareto": [t.to_dict() for t in self.pareto],
            "best": best.to_dict() if best is not None else None,
        }


# -- run folder ------------------------------------------------------------------------
def _read_run(run_dir: Path) -> tuple[SearchConfig, dict[str, Any]]:
    cfg_path, meta_path = run_dir / "config.json", run_dir / "run.json"
    if not cfg_path.is_file() or not meta_path.is_file():
        raise RunError(
            f"{str(run_dir)!r} is not a quarch run folder (config.json or run.json missing)"
        )
    try:
        cfg = SearchConfig.from_dict(json.loads(cfg_path.read_text()))
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as e:
        raise RunError(f"run folder {str(run_dir)!r} has a corrupt JSON file: {e}") from None
    return cfg, meta


def open_study(run_dir: str | Path) -> optuna.Study:
    """Load the Optuna study of a run folder (to read it, plot it, or add trials)."""
    d = Path(run_dir)
    cfg, meta = _read_run(d)
    return load_study(meta.get("storage", "sqlite"), d, cfg.study_name)


#: Spaces whose defaults depend on the data set (e.g. hqnn's qubit range for tiny tables).
_DATASET_AWARE_SPACES = frozenset({"hqnn"})


def space_for(config: SearchConfig) -> Space:
    """The registered space a config names, built with its options (and data set)."""
    opts = dict(config.space_options)
    if config.space in _DATASET_AWARE_SPACES and config.dataset:
        opts.setdefault("dataset", config.dataset)
    return get_space(config.space, **opts)


def _with_device_budgets(config: SearchConfig) -> SearchConfig:
    """``config`` with the edge device profile's default budgets filled in (``cnn``).

    Resolved before the config is saved, so the run folder shows the budgets in force.
    """
    profile = config.evaluator_options.get("device_profile")
    if config.space != "cnn" or not profile:
        return config
    from quarch.evaluate.edge import with_profile_budgets

    return dataclasses.replace(config, budgets=with_profile_budgets(config.budgets, profile))


def _objective(config: SearchConfig) -> Objective:
    return Objective(config.objectives, weights=config.weights, budgets=config.budgets)


def load_result(run_dir: str | Path) -> SearchResult:
    """The :class:`SearchResult` of an existing run folder."""
    d = Path(run_dir)
    cfg, _ = _read_run(d)
    study = open_study(d)
    trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
    return SearchResult(d, cfg, _objective(cfg), trials, study)


# -- the loop --------------------------------------------------------------------------
ProgressHook = Callable[[int, int, TrialRecord], None]


def _n_complete(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def _prepare(
    config: SearchConfig, resume: bool, space: Space | None, evaluator: Evaluator | None
) -> tuple[Space, Evaluator, Objective, optuna.samplers.BaseSampler, optuna.Study]:
    """Check the config, open or create the run folder and study."""
    objective = _objective(config)
    run_dir = config.run_dir
    space = space if space is not None else space_for(config)
    sampler = make_sampler(
        config.strategy, seed=config.seed, space=space, objective=objective,
        **config.strategy_options,
    )  # fmt: skip
    spec = storage_spec(config.storage, config.workers, run_dir)
    if resume:
        if not (run_dir / "run.json").exists():
            raise RunError(f"cannot resume {str(run_dir)!r}: it is not a quarch run folder")
        old_cfg, old = _read_run(run_dir)
        spec = old.get("storage", spec)
        bad = config.incompatible_with(old_cfg)
        if bad:
            raise RunError(
                f"cannot resume {str(run_dir)!r} with a different {', '.join(bad)}; "
                "start a new run (--out) instead"
            )
    elif study_exists(spec, run_dir) or (run_dir / "run.json").exists():
        raise RunError(
            f"run folder {str(run_dir)!r} already holds a study; resume it with "
            f"`quarch search --resume {run_dir}` or choose another --out"
        )
    evaluator = evaluator if evaluator is not None else make_evaluator(space, config)
    meta = {
        "quarch_version": __version__,
        "seed": config.seed,
        "fingerprint": evaluator.fingerprint,
        "storage": spec,
        "study_name": config.study_name,
        "space": space.name,
        "space_size": space.size,
        "objective": objective.to_dict(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if resume:
        if old.get("fingerprint") != evaluator.fingerprint:
            raise RunError(
                f"cannot resume {str(run_dir)!r}: its data fingerprint "
                f"{str(old.get('fingerprint'))[:12]} differs from this data set's "
                f"{evaluator.fingerprint[:12]} (was the data set or split changed?)"
            )
        meta["created"] = old.get("created", meta["created"])
    run_dir.mkdir(parents=True, exist_ok=True)
    config.save(run_dir / "config.json")
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        storage=make_storage(spec, run_dir),
        study_name=config.study_name,
        directions=objective.directions,
        sampler=sampler,
        load_if_exists=True,
    )
    study.set_user_attr(_CONFIG_ATTR, config.to_dict())
    study.set_user_attr(_FINGERPRINT_ATTR, evaluator.fingerprint)
    study.set_user_attr(_VERSION_ATTR, __version__)
    return space, evaluator, objective, sampler, study


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
    config = _with_device_budgets(config)
    space, evaluator, objective, _, study = _prepare(config, resume, space, evaluator)
    fail_dead_trials(study)
    from quarch._progress import SearchProgress

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
            from quarch._ray import drive

            drive(study, space=space, evaluator=evaluator, objective=objective,
                  config=config, on_trial=_on)  # fmt: skip
        elif config.workers > 1:
            from quarch._parallel import run_workers

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
    cfg, _ = _read_run(d)
    data = cfg.to_dict()
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
    objective = _objective(config)
    space = space_for(config)
    evaluator = make_evaluator(space, config)
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
