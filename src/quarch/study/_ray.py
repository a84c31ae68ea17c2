"""Ray as the engine that runs evaluations (``--ray`` or ``--ray-address``).

The driver keeps the study and the sampler; Ray runs ``evaluate(arch, seed)`` as
tasks, one CPU each. Because an evaluation depends only on its architecture and seed,
a trial gives the same metrics as in a local worker; with a stateless sampler (such as
``random``) the whole run is the same as a local run of the same seed and budget.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from quarch._errors import ConfigError
from quarch.study._worker import (
    SEED,
    OverBudget,
    check_before_training,
    claim,
    finish,
    record_metrics,
    skip,
    time_limit,
    trial_seed,
)

if TYPE_CHECKING:
    import optuna

    from quarch.config import SearchConfig
    from quarch.evaluate import Evaluator
    from quarch.objectives import Objective
    from quarch.space import Space

__all__ = ["drive"]


def _evaluate(evaluator: Evaluator, arch: dict[str, Any], seed: int, timeout: float | None) -> Any:
    import torch

    torch.set_num_threads(1)
    with time_limit(timeout):
        return evaluator.evaluate(arch, seed=seed)


def drive(
    study: optuna.Study,
    *,
    space: Space,
    evaluator: Evaluator,
    objective: Objective,
    config: SearchConfig,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> None:
    """Run the study's remaining trials as Ray tasks until the budget is complete."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'quarch[ray]'") from None
    from optuna.trial import TrialState

    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if config.ray_address:
            kwargs["address"] = config.ray_address
        else:
            kwargs["num_cpus"] = os.cpu_count() or 1
        ray.init(**kwargs)
    try:
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=0)(_evaluate)
        ev_ref = ray.put(evaluator)
        in_flight: dict[Any, optuna.Trial] = {}
        t0 = time.monotonic()

        def complete() -> int:
            return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

        while True:
            out_of_time = config.timeout is not None and time.monotonic() - t0 >= config.timeout
            while (
                not out_of_time
                and len(in_flight) < slots
                and complete() + len(in_flight) < config.trials
            ):
                trial = claim(study)
                seed = trial_seed(config.seed, trial.number)
                trial.set_user_attr(SEED, seed)
                try:
                    arch = space.suggest(trial)
                    check_before_training(trial, arch, evaluator, objective)
                except OverBudget as e:
                    skip(study, trial, str(e))
                    continue
                except Exception as e:
                    finish(study, trial, None, f"{type(e).__name__}: {e}")
                    continue
                in_flight[remote.remote(ev_ref, arch, seed, config.trial_timeout)] = trial
            if not in_flight:
                return
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                trial = in_flight.pop(ref)
                try:
                    raw = ray.get(ref)
                except Exception as e:  # the task raised: unwrap Ray's wrapper
                    cause = getattr(e, "cause", None) or e
                    finish(study, trial, None, f"{type(cause).__name__}: {cause}")
                else:
                    values, reason = record_metrics(trial, raw, objective)
                    finish(study, trial, values, reason)
                if on_trial is not None:
                    on_trial(study._storage.get_trial(trial._trial_id))
    finally:
        if started_here:
            ray.shutdown()
