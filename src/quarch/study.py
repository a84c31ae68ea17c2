"""The search loop: where space, strategy, evaluator and objective meet.

A run is a folder::

    RUN/
      config.json   the SearchConfig it was started with
      run.json      quarch version, seed, data fingerprint, objective, creation time
      study.db      the Optuna study (SQLite)

Every trial is asked from the Optuna study, evaluated with a seed derived from the
run seed and the trial number, and told back at once, so the study on disk is the
whole state of the run: a run killed at any point resumes from it (``resume=True``)
and ends with exactly ``config.trials`` complete trials. A trial that raises, or whose
metrics are not finite, is recorded as failed with its reason and the search goes on.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import TrialState

from quarch import __version__
from quarch._errors import RunError
from quarch.config import SearchConfig
from quarch.evaluate import Evaluator, check_metrics, make_evaluator
from quarch.objectives import Objective, pareto_mask
from quarch.search import make_sampler
from quarch.space import Space, get_space

__all__ = [
    "SearchResult",
    "TrialRecord",
    "load_result",
    "open_study",
    "resume_search",
    "run_search",
    "trial_seed",
]

STUDY_NAME = "quarch"
_FAIL_REASON = "fail_reason"
_METRICS = "metrics"
_SEED = "seed"
#: Stop a run whose trials keep failing instead of spinning through the budget.
MAX_CONSECUTIVE_FAILURES = 25


def trial_seed(run_seed: int, number: int) -> int:
    """Seed of trial ``number`` in a run seeded ``run_seed`` (stable across versions)."""
    return int(np.random.SeedSequence([run_seed, number]).generate_state(1)[0])


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
            metrics=dict(t.user_attrs.get(_METRICS, {})),
            values=list(t.values) if t.values is not None else None,
            feasible=all(g <= 0 for g in t.constraints.values()),
            seed=t.user_attrs.get(_SEED),
            fail_reason=t.user_attrs.get(_FAIL_REASON),
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
def _storage_url(run_dir: Path) -> str:
    return f"sqlite:///{(run_dir / 'study.db').resolve()}"


def open_study(run_dir: str | Path) -> optuna.Study:
    """Load the Optuna study of a run folder (read it, plot it, or add trials)."""
    d = Path(run_dir)
    if not (d / "study.db").is_file():
        raise RunError(f"{str(d)!r} is not a quarch run folder (no study.db)")
    return optuna.load_study(study_name=STUDY_NAME, storage=_storage_url(d))


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


def _objective(config: SearchConfig) -> Objective:
    return Objective(config.objectives, weights=config.weights, budgets=config.budgets)


def load_result(run_dir: str | Path) -> SearchResult:
    """The :class:`SearchResult` of an existing run folder."""
    d = Path(run_dir)
    cfg, _ = _read_run(d)
    study = open_study(d)
    trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
    return SearchResult(d, cfg, _objective(cfg), trials, study)


def _fail_stale_trials(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a killed process as failed; return how many."""
    n = 0
    storage = study._storage
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(
            t._trial_id, _FAIL_REASON, "interrupted: the process stopped during this trial"
        )
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
        n += 1
    return n


# -- the loop --------------------------------------------------------------------------
ProgressHook = Callable[[int, int, "TrialRecord"], None]


def _evaluate_trial(
    trial: optuna.Trial, space: Space, evaluator: Evaluator, objective: Objective, run_seed: int
) -> tuple[list[float] | None, str | None]:
    """Suggest, evaluate and record one trial; return (values, failure reason)."""
    seed = trial_seed(run_seed, trial.number)
    trial.set_user_attr(_SEED, seed)
    try:
        arch = space.suggest(trial)
        metrics = check_metrics(evaluator.evaluate(arch, seed=seed))
        values = objective.values(metrics)
        constraints = objective.constraints(metrics)
        if not all(math.isfinite(v) for v in values):
            raise ValueError(f"objective values are not finite: {values}")
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # a trial's failure must never end the run
        return None, f"{type(e).__name__}: {e}"
    trial.set_user_attr(_METRICS, metrics)
    for key, g in constraints.items():
        trial.set_constraint(key, g)
    return values, None


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

    Args:
        config: the run's configuration; ``config.run_dir`` is the run folder.
        resume: continue the run in ``config.run_dir`` (its saved data fingerprint must
            match); without it, an existing run folder is an error.
        progress: show a progress bar on stderr.
        space: use this space instead of the registered ``config.space`` (Python API).
        evaluator: use this evaluator instead of the space's default.
        on_trial: called as ``on_trial(n_complete, n_target, record)`` after each trial.

    Returns:
        The run's :class:`SearchResult`.

    Raises:
        ConfigError: an unknown space, strategy, metric or a malformed budget.
        DataError: the data set cannot be loaded.
        RunError: the run folder exists (without ``resume``) or does not match.
    """
    objective = _objective(config)
    run_dir = config.run_dir
    space = space if space is not None else get_space(config.space, **config.space_options)
    sampler = make_sampler(
        config.strategy,
        seed=config.seed,
        space=space,
        objective=objective,
        **config.strategy_options,
    )
    exists = (run_dir / "study.db").exists()
    if exists and not resume:
        raise RunError(
            f"run folder {str(run_dir)!r} already holds a study; resume it with "
            f"`quarch search --resume {run_dir}` or choose another --out"
        )
    if resume and not exists:
        raise RunError(f"cannot resume {str(run_dir)!r}: it holds no study.db")
    evaluator = evaluator if evaluator is not None else make_evaluator(space, config)

    run_dir.mkdir(parents=True, exist_ok=True)
    meta = {
        "quarch_version": __version__,
        "seed": config.seed,
        "fingerprint": evaluator.fingerprint,
        "space": space.name,
        "space_size": space.size,
        "objective": objective.to_dict(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    if resume:
        _, old = _read_run(run_dir)
        if old.get("fingerprint") != evaluator.fingerprint:
            raise RunError(
                f"cannot resume {str(run_dir)!r}: its data fingerprint "
                f"{str(old.get('fingerprint'))[:12]} differs from this data set's "
                f"{evaluator.fingerprint[:12]} (was the data set or split changed?)"
            )
        meta["created"] = old.get("created", meta["created"])
    config.save(run_dir / "config.json")
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2) + "\n")

    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        storage=_storage_url(run_dir),
        study_name=STUDY_NAME,
        directions=objective.directions,
        sampler=sampler,
        load_if_exists=True,
    )
    if resume:
        _fail_stale_trials(study)

    def n_complete() -> int:
        return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    done = n_complete()
    t_start = time.monotonic()
    failures = 0
    from quarch._progress import SearchProgress

    with SearchProgress(
        config.trials,
        done,
        enabled=progress,
        names=objective.names,
        directions=objective.directions,
    ) as bar:
        while done < config.trials:
            if config.timeout is not None and time.monotonic() - t_start >= config.timeout:
                break
            trial = study.ask()
            try:
                values, reason = _evaluate_trial(trial, space, evaluator, objective, config.seed)
            except KeyboardInterrupt:
                trial.set_user_attr(_FAIL_REASON, "interrupted by the user")
                study.tell(trial, state=TrialState.FAIL)
                raise
            if reason is not None:
                trial.set_user_attr(_FAIL_REASON, reason)
                study.tell(trial, state=TrialState.FAIL)
                failures += 1
                if failures >= MAX_CONSECUTIVE_FAILURES:
                    raise RunError(f"{failures} trials in a row failed; the last with: {reason}")
            else:
                study.tell(trial, values)
                failures = 0
                done += 1
            record = TrialRecord.from_frozen(study._storage.get_trial(trial._trial_id))
            bar.update(done, record)
            if on_trial is not None:
                on_trial(done, config.trials, record)

    trials = [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]
    return SearchResult(run_dir, config, objective, trials, study)


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
    for k, v in (overrides or {}).items():
        data[k] = v
    return run_search(SearchConfig.from_dict(data), resume=True, progress=progress)
