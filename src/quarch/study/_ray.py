"""Ray as the engine that runs evaluations (``--ray`` or ``--ray-address``).

The driver keeps the study and the sampler; Ray runs ``evaluate(arch, seed)`` as
tasks, one CPU each. Because an evaluation depends only on its architecture and seed,
a trial gives the same metrics as in a local worker; with a stateless sampler (such as
``random``) the whole run is the same as a local run of the same seed and budget.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from quarch._errors import ConfigError, RunError
from quarch.study import _worker
from quarch.study._signals import held_signals
from quarch.study._skips import SkipStreak
from quarch.study._worker import (
    INTERRUPTED,
    SEED,
    BrokenContract,
    OverBudget,
    check_before_training,
    claim,
    finish,
    gave_up_failing,
    n_done,
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
#: The reason of a trial still running on Ray when the driver gave up.
GAVE_UP = "interrupted: the search gave up before this trial ended"


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
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "log_to_driver": False,
        # the "ray" logger at WARNING: its INFO line ("Started a local Ray instance.",
        # or the cluster it connected to) was printed under the search's bar on every
        # `quarch search --ray`; Ray's warnings and errors still reach the terminal
        "logging_level": logging.WARNING,
    }
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
    loop connects before it writes the run folder, and stops what it started).

    It gives up as the serial loop does (:func:`~quarch.study._worker.work`): after
    too many trials in a row failed, or architectures in a row were over budget. The
    trials still on Ray then, or on Ctrl-C, are failed (interrupted).

    Args:
        on_trial: called with each trial the driver closes, as ``work`` calls it: a
            trained one, and one skipped or failed before it was sent to Ray.

    Raises:
        RunError: it gave up (the message says how far the run got), or the evaluator
            broke its contract (the search stops at the first such trial, as
            :func:`~quarch.study._worker.work` does).
    """
    import ray
    from optuna.trial import TrialState

    started_here = connect(config)
    in_flight: dict[Any, optuna.Trial] = {}
    pending: optuna.Trial | None = None  # claimed, not yet sent, skipped or failed
    try:
        slots = max(1, int(ray.cluster_resources().get("CPU", 1)))
        remote = ray.remote(num_cpus=1, max_retries=0)(_evaluate)
        ev_ref = ray.put(evaluator)
        t0 = time.monotonic()
        failures = 0
        skips = SkipStreak()  # as work's: one warning after 50 in a row, then give up

        def complete() -> int:
            return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

        def out_of_time() -> bool:  # asked before each trial, as work asks: a run of
            # skips, each computing cheap metrics, ran on for up to 500 past --timeout
            return config.timeout is not None and time.monotonic() - t0 >= config.timeout

        while True:
            while (
                not out_of_time()
                and len(in_flight) < slots
                and complete() + len(in_flight) < config.trials
            ):
                trial = pending = claim(study)
                seed = trial_seed(config.seed, trial.number)
                trial.set_user_attr(SEED, seed)
                try:
                    arch = space.suggest(trial)
                    check_before_training(trial, arch, evaluator, objective)
                except OverBudget as e:
                    with held_signals():
                        skip(study, trial, str(e))
                        pending = None
                    skips.add(e.checked, _worker.MAX_CONSECUTIVE_SKIPS)
                    if skips.count >= _worker.MAX_CONSECUTIVE_SKIPS:  # as work's
                        raise skips.give_up(n_done(study), config.trials) from None
                    _heard(study, trial, on_trial)
                    continue
                except Exception as e:
                    failed = f"{type(e).__name__}: {e}"
                    with held_signals():
                        finish(study, trial, None, failed)
                        pending = None
                    skips.reset()
                    failures = _failed_in_a_row(study, config.trials, failures, failed)
                    _heard(study, trial, on_trial)
                    continue
                skips.reset()
                with held_signals():
                    in_flight[remote.remote(ev_ref, arch, seed, config.trial_timeout)] = trial
                    pending = None
            if not in_flight:
                return
            ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
            for ref in ready:
                trial = in_flight[ref]
                values: list[float] | None
                reason: str | None
                try:
                    raw = ray.get(ref)
                except Exception as e:  # the task raised: unwrap Ray's wrapper
                    cause = getattr(e, "cause", None) or e
                    values, reason = None, f"{type(cause).__name__}: {cause}"
                else:
                    try:
                        values, reason = record_metrics(trial, raw, objective)
                    except BrokenContract as e:  # every trial would fail alike: as work
                        with held_signals():
                            finish(study, trial, None, e.reason)
                            del in_flight[ref]
                        raise e.error(evaluator, trial.number) from None
                with held_signals():  # a Ctrl-C now leaves it told, and out of in_flight
                    reason = finish(study, trial, values, reason)
                    del in_flight[ref]
                failures = _failed_in_a_row(study, config.trials, failures, reason)
                _heard(study, trial, on_trial)
    except (KeyboardInterrupt, RunError) as e:
        why = INTERRUPTED if isinstance(e, KeyboardInterrupt) else GAVE_UP
        with held_signals():  # none is left RUNNING, owned by a process still alive
            for trial in [*in_flight.values(), *([pending] if pending is not None else [])]:
                finish(study, trial, None, why)
        raise
    finally:
        if started_here:
            ray.shutdown()


def _heard(
    study: optuna.Study,
    trial: optuna.Trial,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None,
) -> None:
    """Tell ``on_trial`` of a trial the driver closed: one trained on Ray, and one closed
    before it was sent (skipped over a budget known before training, or failed in
    ``suggest`` or the cheap metrics), as :func:`~quarch.study._worker.work` tells of
    each. Ray's driver told of trained trials only: under a budget that skips most
    architectures, a caller's hook heard nothing while the driver skipped."""
    if on_trial is not None:
        on_trial(study._storage.get_trial(trial._trial_id))


def _failed_in_a_row(study: optuna.Study, trials: int, failures: int, reason: str | None) -> int:
    """Trials failed in a row once one more finished (``reason``: why it failed, or
    ``None``); give up, as :func:`~quarch.study._worker.work` does, at too many."""
    if reason is None:
        return 0
    failures += 1
    if failures >= _worker.MAX_CONSECUTIVE_FAILURES:
        raise gave_up_failing(study, trials, failures, reason)
    return failures
