"""The search-quality contract: with a budget far below the space, every strategy finds
the optimum more often than random search does.

The toy is a seeded random QUBO over 6 choices of 4 options (4,096 architectures,
optimum known by brute force), scored instantly. With 100 queries, random search
without repeats finds the optimum with probability ``100 / 4096`` (2.4 %) per seed. A
strategy passes when its hits over :data:`SEEDS` seeds would happen by chance under
that rate with probability below 1 % (a one-sided binomial test): 2 hits of 5.

``tests/search/test_strategies.py`` checks the same on 81 architectures; there a
budget near the space's size cannot tell a strategy from random search.
"""

from __future__ import annotations

import itertools
import math

import optuna
import pytest

from quarch.benchmark import synthetic_qubo
from quarch.objectives import Objective
from quarch.search import STRATEGIES, make_sampler

BUDGET = 100
SPACE = 4**6
SEEDS = range(5)
#: Fewer seeds where the gap to random search is large (8-9 optima of 10 measured) and
#: a run costs seconds: 2 hits of 3 are as unlikely by chance (0.18 %).
FEW_SEEDS = {"qubo-sa": range(3), "qubo-sqa": range(3), "qubo-dimod": range(3)}
ALPHA = 0.01

#: Strategies that miss the bar today, with their measured hits on :data:`SEEDS`
#: (``evolution`` and ``grover`` pass at the bar: 2/5); strict, so a strategy that
#: starts to pass must be moved out of this table.
BELOW_RANDOM_BAR = {
    "born": "0/5 hits (seeds 0-9: 0/10)",
    "nsga2": "1/5 hits (seeds 0-9: 1/10)",
}


def _random_rate() -> float:
    return BUDGET / SPACE


def _needed(n: int, p: float) -> int:
    """Fewest hits of ``n`` with ``P(X >= k) < ALPHA`` for ``X ~ Binomial(n, p)``."""
    for k in range(n + 1):
        tail = sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(k, n + 1))
        if tail < ALPHA:
            return k
    return n + 1


def _hit(name: str, seed: int) -> bool:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space, ev, optimum = synthetic_qubo(100 + seed, n_choices=6, n_options=4)
    assert space.size == SPACE
    sampler = make_sampler(name, seed=seed, space=space, objective=Objective(["val_error"]))
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: ev.evaluate(space.suggest(t))["val_error"], n_trials=BUDGET)
    return study.best_value <= optimum + 1e-9


def test_the_bar() -> None:
    """2 of 5: one hit is too likely by chance (11 %), two are not (0.56 %); 2 of 3 too."""
    assert _needed(len(SEEDS), _random_rate()) == 2
    assert _needed(3, _random_rate()) == 2


def _cases() -> list[object]:
    out: list[object] = []
    for name in STRATEGIES.names():
        if name in ("random", "grid"):  # grid enumerates: random search's rate by design
            continue
        marks = []
        if name in BELOW_RANDOM_BAR:
            marks.append(pytest.mark.xfail(strict=True, reason=BELOW_RANDOM_BAR[name]))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


@pytest.mark.parametrize("name", _cases())
def test_beats_random_search(name: str) -> None:
    seeds = list(FEW_SEEDS.get(name, SEEDS))
    need = _needed(len(seeds), _random_rate())
    hits, ran = _decided(name, seeds, need)
    assert hits >= need, (
        f"{name}: {hits}/{ran} optima in {BUDGET} queries of {SPACE} (stopped when the "
        f"count of {len(seeds)} was decided); random search's rate "
        f"{_random_rate():.3f} gives {need} with p < {ALPHA}"
    )


def _decided(name: str, seeds: list[int], need: int) -> tuple[int, int]:
    """Hits over ``seeds`` in order, stopping as soon as whether the count over all of
    them reaches ``need`` is known (the test's verdict is the same; the seeds it skips
    cost seconds each). Returns the hits and the seeds run."""
    hits = 0
    for ran, seed in enumerate(seeds, start=1):
        hits += _hit(name, seed)
        if hits >= need or hits + len(seeds) - ran < need:
            return hits, ran
    return hits, len(seeds)


@pytest.mark.parametrize("n", [3, 5])
def test_stopping_early_gives_the_full_counts_verdict(
    n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every pattern of hits over ``n`` seeds, by brute force: the verdict from the seeds
    run before stopping is the verdict of all of them."""
    need = _needed(n, _random_rate())
    for pattern in itertools.product([False, True], repeat=n):
        monkeypatch.setattr(f"{__name__}._hit", lambda name, seed, p=pattern: p[seed])
        hits, ran = _decided("any", list(range(n)), need)
        assert (hits >= need) == (sum(pattern) >= need), pattern
        assert hits == sum(pattern[:ran]) and 1 <= ran <= n


def test_random_search_is_at_its_rate() -> None:
    """The harness itself: random search without repeats hits at about its rate, so the
    toy is not easier than its size says (0 or 1 hits of 5: 99.4 % likely)."""
    assert sum(_hit("random", s) for s in SEEDS) <= 1
