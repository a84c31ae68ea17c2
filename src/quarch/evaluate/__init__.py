"""Evaluators: short training, weight sharing, tabular look-up, surrogates.

:data:`EVALUATORS` maps a space name to a factory ``factory(space, config) -> Evaluator``
that builds the space's default evaluator (loading the data set it needs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from quarch._registry import Registry
from quarch.evaluate._base import Evaluator, Metrics, check_metrics
from quarch.evaluate.training import TrainingEvaluator, train_classifier

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.data import Dataset
    from quarch.space import Space

__all__ = [
    "EVALUATORS",
    "Evaluator",
    "Metrics",
    "TrainingEvaluator",
    "check_device",
    "check_metrics",
    "make_evaluator",
    "train_classifier",
]

EvaluatorFactory = Callable[["Space", "SearchConfig"], Evaluator]
EVALUATORS: Registry[EvaluatorFactory] = Registry("evaluator")


def _load(config: SearchConfig) -> Dataset:
    from quarch._errors import ConfigError
    from quarch.data import load_dataset

    if not config.dataset:
        raise ConfigError(f"space {config.space!r} needs --dataset")
    return load_dataset(
        config.dataset, data_dir=config.data_dir, seed=config.seed, max_train=config.max_train
    )


def _mlp_evaluator(space: Space, config: SearchConfig) -> Evaluator:
    from quarch.data import standardise
    from quarch.models import MLP

    data = _load(config)
    if len(data.input_shape) == 1:  # tabular: standardise features on the training split
        import dataclasses

        Xtr, Xva, Xte = standardise(data.X_train, data.X_val, data.X_test)
        data = dataclasses.replace(data, X_train=Xtr, X_val=Xva, X_test=Xte)
    return TrainingEvaluator(
        MLP,
        data,
        epochs=config.epochs or 60,
        batch_size=config.batch_size or 32,
        device=config.device,
        **config.evaluator_options,
    )


EVALUATORS.add("mlp", _mlp_evaluator, "short training of the MLP from scratch")


def _lazy(module: str, attr: str) -> EvaluatorFactory:
    def make(space: Space, config: SearchConfig) -> Evaluator:
        import importlib

        return getattr(importlib.import_module(module), attr)(space, config)

    make.__name__ = attr
    return make


EVALUATORS.add(
    "nb201",
    _lazy("quarch.evaluate.tabular", "make_nb201_evaluator"),
    "look-up of NAS-Bench-201's 12-epoch validation accuracy and device latencies",
)
EVALUATORS.add(
    "cnn",
    _lazy("quarch.evaluate.edge", "make_cnn_evaluator"),
    "short training of the edge CNN with latency, memory and energy costs",
)
EVALUATORS.add(
    "hqnn",
    _lazy("quarch.evaluate.hybrid", "make_hqnn_evaluator"),
    "short training of the hybrid quantum-classical net with quantum costs",
)


def check_device(device: str) -> None:
    """Fail at once, in one line, on a torch device this machine cannot use.

    Without this a ``--device cuda`` search on a CPU-only torch failed every trial
    (``AssertionError: Torch not compiled with CUDA enabled``) until the run gave up.

    Raises:
        ConfigError: an unreadable device string, or a CUDA/MPS device that is absent.
    """
    import torch

    from quarch._errors import ConfigError

    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ConfigError(f"--device {device!r} is not a torch device ({e})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {device}: this torch has no usable CUDA device "
                "(torch.cuda.is_available() is False); use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {device}: there are {torch.cuda.device_count()} CUDA devices "
                f"(cuda:0 .. cuda:{torch.cuda.device_count() - 1})"
            )
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"--device {device}: MPS is not available here; use --device cpu")


def make_evaluator(space: Space, config: SearchConfig) -> Evaluator:
    """The default evaluator of ``config.space`` (after :func:`check_device`)."""
    check_device(config.device)
    return EVALUATORS.get(config.space)(space, config)
