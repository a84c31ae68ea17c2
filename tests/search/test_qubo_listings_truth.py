"""A claim of :class:`quarch.search.QUBOSampler`'s batches that the tests of
``test_qubo.py`` reach only where a mutant cannot change it.

Independent truth: :func:`quarch.search._surrogate.propose_batched`'s documented
top-up, written out again here from ``_fill``'s docstring (:func:`_documented_top_up`:
with probability 1/2 the previous proposal with one choice redrawn, else a uniform
draw, until one is unseen, at most 50 tries, then the first unseen architecture in
product order), on the batch's own stream ``sampler._rng(start, 2)``, which a batch
short of proposals gets when no metric is known without training: QUBOSampler's own
top-up of draws known to meet the budgets is only for a study with such metrics.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from quarch.search import QUBOSampler
from quarch.search._problem import QUBOProblem
from quarch.search._surrogate import _fill
from quarch.space import Choice, Space

SIZES = [2, 2, 2]
#: the startup trials: 000 and its three neighbours, so nothing near 000 is untried
START = [[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]


def _documented_top_up(
    props: list[list[int]], seen: set[tuple[int, ...]], first: list[int] | None,
    sizes: list[int], rng: np.random.Generator, size: int,
) -> list[list[int]]:  # fmt: skip
    """The top-up as ``_fill``'s docstring states it, draw by draw on ``rng``."""
    out = [list(p) for p in dict.fromkeys(tuple(p) for p in props) if p not in seen]
    out = out[:size]
    taken = seen | {tuple(p) for p in out}
    while len(out) < size:
        previous = out[-1] if out else first
        pick = None
        for _ in range(50):
            if previous is not None and rng.random() < 0.5:
                c = list(previous)
                j = int(rng.integers(len(sizes)))
                c[j] = int(rng.integers(sizes[j]))
            else:
                c = [int(rng.integers(k)) for k in sizes]
            if tuple(c) not in taken:
                pick = c
                break
        if pick is None:
            pick = [int(rng.integers(k)) for k in sizes]  # drawn whether used or not
            unseen = [list(i) for i in itertools.product(*map(range, sizes)) if i not in taken]
            pick = unseen[0] if unseen else pick
        out.append(pick)
        taken.add(tuple(pick))
    return out


@pytest.mark.parametrize("seed", range(60))
def test_the_top_up_is_the_documented_one(seed: int) -> None:
    """``_fill`` against the docstring's rule on random histories, from an empty one to
    a space with every architecture seen (the fallbacks)."""
    rng = np.random.default_rng(seed)
    sizes = [int(k) for k in rng.integers(1, 4, size=int(rng.integers(1, 4)))]
    every = list(itertools.product(*map(range, sizes)))
    n_seen = int(rng.integers(0, len(every) + 1))
    seen = [list(every[i]) for i in rng.permutation(len(every))[:n_seen]]
    props = [[int(rng.integers(k)) for k in sizes] for _ in range(int(rng.integers(0, 4)))]
    size = int(rng.integers(1, math.prod(sizes) + 2))
    hist = SimpleNamespace(seen={tuple(x) for x in seen}, sizes=sizes,
                           X=np.array(seen, dtype=np.int64).reshape(len(seen), len(sizes)))  # fmt: skip
    got = _fill([list(p) for p in props], hist, np.random.default_rng([seed, 1]), size)  # type: ignore[arg-type]
    want = _documented_top_up(props, set(hist.seen), seen[0] if seen else None, sizes,
                              np.random.default_rng([seed, 1]), size)  # fmt: skip
    assert got == want


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
    expected = _documented_top_up([], set(map(tuple, START)), START[0], SIZES,
                                  np.random.default_rng([5, 4, 2]), 3)  # fmt: skip
    assert batch == expected
