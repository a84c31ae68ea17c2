"""A claim of :class:`quarch.search.QUBOSampler`'s batches that the tests of
``test_qubo.py`` reach only where a mutant cannot change it.

Independent truth: :func:`quarch.search._surrogate.propose_batched`'s documented
top-up (``_fill``: with probability 1/2 the previous proposal with one choice redrawn,
else a uniform draw, on the batch's own stream ``sampler._rng(start, 2)``), which a
batch short of proposals gets when no metric is known without training: QUBOSampler's
own top-up of draws known to meet the budgets is only for a study with such metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import optuna

from quarch.search import QUBOSampler
from quarch.search._problem import QUBOProblem
from quarch.search._surrogate import _fill
from quarch.space import Choice, Space

SIZES = [2, 2, 2]
#: the startup trials: 000 and its three neighbours, so nothing near 000 is untried
START = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]


def _origin(problems: Sequence[QUBOProblem], rng: np.random.Generator) -> list[np.ndarray]:
    """A solver that finds only 000 for every problem: tried, and so are all its
    neighbours, so the batch has no proposal of its own."""
    return [np.zeros((1, len(SIZES)), dtype=np.int64) for _ in problems]


def test_a_short_batch_without_known_metrics_gets_the_generic_top_up() -> None:
    space = Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(SIZES)])
    sampler = QUBOSampler(solver=_origin, batch_size=3, n_startup=4, seed=5)
    study = optuna.create_study(sampler=sampler)
    for x in START:
        study.enqueue_trial({f"c{j}": v for j, v in enumerate(x)})
    study.optimize(lambda t: float(sum(space.to_indices(space.suggest(t)))), n_trials=7)
    trials = sorted(study.trials, key=lambda t: t.number)
    assert [space.to_indices(t.params) for t in trials[:4]] == START
    batch = [space.to_indices(t.params) for t in trials[4:7]]

    # the history of the four trials before the batch, as the sampler reads it
    before = optuna.create_study()
    for t in trials[:4]:
        before.add_trial(t)
    asked = before.ask()
    space.suggest(asked)
    frozen = before.get_trials(deepcopy=False)[asked.number]
    hist = QUBOSampler(seed=0)._history(before, frozen, frozen.distributions)
    assert hist.X.tolist() == START
    assert batch == _fill([], hist, np.random.default_rng([5, 4, 2]), 3)
