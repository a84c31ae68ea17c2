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

__all__ = ["check_ray", "connect", "drive"]

#: Seconds the address probe waits for a TCP answer.
PROBE_SECONDS = 5.0


def check_ray(address: str | None) -> None:
    """Refuse, before anything is written, a Ray that cannot run the search: Ray not
    installed, or nothing listening at ``address`` (``host:port`` or
    ``ray://host:port``). ``ray.init`` itself retries an unreachable address for
    minutes before it fails, after the run folder exists; a TCP connection answers in
    milliseconds, or is refused, or times out after :data:`PROBE_SECONDS`. Other forms
    (``auto``) are left to Ray, which answers at once.

    Raises:
        ConfigError: one line naming the address and the reason.
    """
    import importlib.util
    import socket

    if importlib.util.find_spec("ray") is None:
        raise ConfigError("--ray needs Ray: pip install 'quarch[ray]'")
    if not address:
        return
    rest = address.removeprefix("ray://")
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), PROBE_SECONDS):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__.replace("Error", "").lower() or str(e)
        raise ConfigError(f"cannot reach a Ray cluster at {address!r}: {reason}") from None


def _evaluate(evaluator: Evaluator, arch: dict[str, Any], seed: int, timeout: float | None) -> Any:
    import torch

    torch.set_num_threads(1)
    with time_limit(timeout):
        return evaluator.evaluate(arch, seed=seed)


def connect(config: SearchConfig) -> bool:
    """Start a local Ray or connect to ``config.ray_address``, unless Ray runs already;
    ``True`` when this call started it (its caller shuts it down).

    Raises:
        ConfigError: Ray is not installed, or no cluster answers at the address.
    """
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'quarch[ray]'") from None
    if ray.is_initialized():  # joined already (the search loop connects before drive)
        return False
    check_ray(config.ray_address)
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if config.ray_address:
        kwargs["address"] = config.ray_address
    else:
        kwargs["num_cpus"] = os.cpu_count() or 1
    try:
        ray.init(**kwargs)
    except (ConnectionError, ValueError) as e:  # "auto" with no cluster running
        where = f" at {config.ray_address!r}" if config.ray_address else ""
        raise ConfigError(f"cannot start Ray{where}: {str(e).splitlines()[0]}") from None
    return True


def drive(
    study: optuna.Study,
    *,
    space: Space,
    evaluator: Evaluator,
    objective: Objective,
    config: SearchConfig,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> None:
    """Run the study's remaining trials as Ray tasks until the budget is complete
    (Ray started here, and stopped at the end, unless it runs already: the search
    loop connects before it writes the run folder, and stops what it started)."""
    import ray
    from optuna.trial import TrialState

    started_here = connect(config)
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
