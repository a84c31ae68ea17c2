"""Optuna's NSGA-II, made picklable again on every Optuna that quarch supports.

Optuna 5.1 gave its genetic-algorithm base (``optuna/samplers/_ga/_base.py``) a
``threading.Lock`` that guards a cache of each generation's trial numbers. A lock
cannot be pickled, so an ``NSGAIISampler`` of Optuna 5.1 no longer pickles, and a
study that sends its sampler to another process (``n_jobs`` with processes, Ray,
``copy.deepcopy``) fails with ``cannot pickle '_thread.lock' object``.

Both the lock and the cache guard derived data: the cache is rebuilt from the
study's stored trials on the next call (as Optuna's own samplers expect of any state
that lives in storage). So the pickled form drops them, and unpickling starts with a
new lock and an empty cache, exactly as a freshly constructed sampler would, while the
configuration and the random state travel as before.

The class keeps Optuna's name, ``NSGAIISampler``: Optuna keys each trial's generation
in storage by the class name (``"NSGAIISampler:generation"``), so runs written before
this class existed resume with it unchanged.
"""

from __future__ import annotations

import threading
from typing import Any

import optuna

__all__ = ["NSGAIISampler"]

#: Attributes of Optuna's GA base that only cache what the study's trials already say.
_DERIVED = {
    "_cached_study_id": None,
    "_cached_generation": 0,
    "_cached_generation_numbers": list,
    "_cached_unfinished_numbers": list,
    "_cached_unseen_trial_start": 0,
}


class NSGAIISampler(optuna.samplers.NSGAIISampler):
    """:class:`optuna.samplers.NSGAIISampler` that pickles on Optuna 5.0 and 5.1.

    Example:
        >>> import pickle
        >>> s = NSGAIISampler(seed=0, population_size=4)
        >>> type(pickle.loads(pickle.dumps(s))).__name__
        'NSGAIISampler'
    """

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        if "_thread_lock" in state:  # Optuna >= 5.1: a lock and the cache it guards
            state["_thread_lock"] = None
            for name, default in _DERIVED.items():
                state[name] = default() if callable(default) else default
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if "_thread_lock" in state:
            self._thread_lock = threading.Lock()
