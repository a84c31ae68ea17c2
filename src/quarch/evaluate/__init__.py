"""What every evaluator shares: the contract, the one training loop, the device check.

A space's own evaluators live in its room (``quarch.spaces.<name>``) and are built by
its spec (:meth:`quarch.spaces.SpaceSpec.make_evaluator`); this package holds what they
share, so no two of them train, check metrics or guard threads their own way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quarch.evaluate._base import Evaluator, Metrics, cheap_metrics, check_metrics
from quarch.evaluate._hooks import EpochHook, epoch_hook

if TYPE_CHECKING:
    from quarch.evaluate.training import (
        SeededRNG,
        TrainingEvaluator,
        check_lr,
        classification_error,
        save_weights,
        torch_threads,
        train_classifier,
        weights_file,
    )

#: Names read from :mod:`quarch.evaluate.training` on first use (PEP 562), not at import:
#: it imports torch (about 2 s), which the search loop, the worker and a table-scored
#: space (``nb201``) never need; what they do need (the contract, the metric checks and
#: the epoch hook) is imported above without it.
_TRAINING = frozenset(
    {"SeededRNG", "TrainingEvaluator", "check_lr", "classification_error", "save_weights",
     "torch_threads", "train_classifier", "weights_file"}
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _TRAINING:
        from quarch.evaluate import training

        return getattr(training, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "EpochHook",
    "Evaluator",
    "Metrics",
    "SeededRNG",
    "TrainingEvaluator",
    "cheap_metrics",
    "check_device",
    "check_lr",
    "check_metrics",
    "classification_error",
    "epoch_hook",
    "save_weights",
    "torch_threads",
    "train_classifier",
    "weights_file",
]


def check_device(device: str) -> None:
    """Fail at once, in one line, on a torch device this machine cannot use.

    Without this a ``--device cuda`` search on a CPU-only torch failed every trial
    (``AssertionError: Torch not compiled with CUDA enabled``) until the run gave up.

    Raises:
        ConfigError: an unreadable device string, a CUDA/MPS device that is absent, the
            meta device, or another backend on which this torch cannot make a tensor.
    """
    if device == "cpu":  # always there: a table-scored search need not import torch to know
        return
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
    elif dev.type == "meta":
        raise ConfigError(f"--device {device}: meta tensors hold no data to train on")
    elif dev.type != "cpu":
        # any other backend (xla, xpu, hip, ...): a tensor made there says whether this
        # torch has it, here, rather than in every trial
        try:
            torch.empty(1, device=dev)
        except Exception as e:  # each backend fails with its own type
            why = (str(e).strip().splitlines() or [""])[0].split(". ")[0]
            raise ConfigError(
                f"--device {device}: this torch cannot make tensors there "
                f"({type(e).__name__}: {why}); use --device cpu"
            ) from None
