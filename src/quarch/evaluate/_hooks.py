"""The epoch hook: how the search loop and ``quarch train`` see every epoch of the one
training loop, whichever evaluator runs it.

Kept apart from :mod:`quarch.evaluate.training` (which imports torch) so that the
search loop can install a hook without importing torch: a search of a space scored by
a table look-up (``nb201``) never trains and never needs it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

__all__ = ["EpochHook", "epoch_hook"]

#: ``hook(epoch, val_error)`` after every epoch of :func:`~quarch.evaluate.train_classifier` (``epoch``
#: counts from 0; ``val_error`` is what the run would return if it stopped there). It
#: may raise to stop training (a pruned trial raises ``optuna.TrialPruned``).
EpochHook = Callable[[int, float], None]

_EPOCH_HOOK: contextvars.ContextVar[EpochHook | None] = contextvars.ContextVar(
    "quarch_epoch_hook", default=None
)


@contextlib.contextmanager
def epoch_hook(hook: EpochHook | None) -> Iterator[None]:
    """Call ``hook`` after every epoch of every :func:`~quarch.evaluate.train_classifier` run
    in the block.

    The search loop (pruning) and ``quarch train`` (its progress bar) sit above an
    evaluator that calls :func:`train_classifier` somewhere inside ``evaluate`` or
    ``fit``. A context variable reaches the one training loop through any evaluator,
    a user's own included, without a callback argument in the evaluator contract.
    """
    token = _EPOCH_HOOK.set(hook)
    try:
        yield
    finally:
        _EPOCH_HOOK.reset(token)
