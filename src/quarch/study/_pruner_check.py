"""The pruner check of a search, made before anything is written.

A pruner stops a trial on one value per epoch, so some searches cannot use one: several
objectives, an objective that training does not move, Ray tasks (no epoch reports), a
space scored by a table look-up or trained with inherited weights. ``run_search``,
``check_search`` and ``join_study`` (``_loop.py``) refuse those in one line.
"""

from __future__ import annotations

from quarch._errors import ConfigError
from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.spaces import SpaceSpec

__all__ = ["check_pruner"]


def check_pruner(config: SearchConfig, objective: Objective, spec: SpaceSpec | None) -> None:
    """Refuse, before anything is written, a pruner that could not work.

    Optuna prunes on one value per epoch, so a pruned search has one objective or a
    weighted cost, and that value must move with training (the validation error).
    """
    if config.pruner == "none":
        return
    flag = f"--pruner {config.pruner}"
    if objective.is_multi:
        raise ConfigError(
            f"{flag} needs one objective or --weights: Optuna prunes on one value per epoch, "
            "and with several objectives a trial's rank needs all of its final metrics; got "
            f"objectives {', '.join(objective.metrics)}"
        )
    trained = {"val_error", "val_accuracy"}  # a weighted cost holds no val_accuracy (maximised)
    weighted = [
        m for i, m in enumerate(objective.metrics)
        if objective.weights is None or objective.weights[i] > 0
    ]  # fmt: skip
    if not trained & set(weighted):
        raise ConfigError(
            f"{flag} stops a trial by its validation error during training; the objective "
            f"({', '.join(weighted)}) does not include val_error"
        )
    if config.ray:
        raise ConfigError(f"{flag} needs local workers (--workers); Ray tasks cannot report epochs")
    if spec is None:
        return
    if not spec.is_trainable():
        raise ConfigError(
            f"{flag}: space {spec.name!r} is scored by a table look-up; nothing is trained, "
            "so nothing can be stopped early"
        )
    if spec.weight_sharing and config.evaluator_options.get(spec.weight_sharing):
        raise ConfigError(
            f"{flag}: with inherited weights ({spec.weight_sharing}) no trial trains for "
            "epochs, so nothing can be stopped early"
        )
