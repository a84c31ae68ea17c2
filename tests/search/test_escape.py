"""The QUBO strategies' escape by swaps: once the best trial is ``escape_patience``
trials old, the first proposal of each batch exchanges the options of two choices of
the best trial, checked against brute force over a small space and an independent fit
of the posterior mean."""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import numpy as np
import optuna
import pytest

from quarch.search import QUBOSampler
from quarch.search._problem import INFEASIBLE, QUBOProblem
from quarch.search._qubo import _swaps
from quarch.search._surrogate import QuadraticModel, fit_quadratic, n_features, rank_scores

from ._near_budget import OneMean, budget_broken_by_a_hair

OPS = ("a", "b", "c")
SIZES = [3, 3, 3, 3]  # 81 architectures, every choice over the same options


def _archs(sizes: list[int] = SIZES) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


@pytest.mark.parametrize("x", [(0, 1, 0, 2), (2, 2, 1, 0), (1, 1, 1, 1)])
def test_swaps_exchange_two_choices_with_the_same_options(x: tuple[int, ...]) -> None:
    """Brute force: the architectures that differ from ``x`` in exactly two choices
    with the same option list, each holding the other's option of ``x``. Choice 2 has
    other options, so it never takes part."""
    choices = [OPS, OPS, ("p", "q", "r"), OPS]
    c = np.array(x)
    truth = set()
    for y in _archs():
        d = np.flatnonzero(y != c)
        if len(d) == 2 and 2 not in d and y[d[0]] == c[d[1]] and y[d[1]] == c[d[0]]:
            truth.add(tuple(int(v) for v in y))
    got = [tuple(v) for v in _swaps(choices, c)]
    assert len(got) == len(set(got)) and set(got) == truth
    if x == (1, 1, 1, 1):
        assert got == []  # nothing to exchange


def _run(seed: int, **options: Any) -> list[list[int]]:
    table = np.random.default_rng(seed).standard_normal(SIZES)
    dists = {f"c{j}": optuna.distributions.CategoricalDistribution(OPS) for j in range(4)}
    s = QUBOSampler(solver="sa", num_reads=2, num_sweeps=50, n_startup=6, batch_size=2,
                    seed=seed, search_space=dists, **options)  # fmt: skip
    study = optuna.create_study(sampler=s)
    xs: list[list[int]] = []

    def objective(t: optuna.Trial) -> float:
        x = [OPS.index(t.suggest_categorical(f"c{j}", OPS)) for j in range(4)]
        xs.append(x)
        return float(table[tuple(x)])

    study.optimize(objective, n_trials=30)
    return xs


@pytest.mark.parametrize("seed", range(3))
def test_first_proposal_when_stalled_is_the_means_best_untried_swap(seed: int) -> None:
    """Recomputed from the trials before each batch: when the best trial is at least
    ``escape_patience`` trials old, the first proposal is the untried swap of the best
    trial (else of the next best, up to ``escape_top``) that the BOCS posterior mean
    fitted to their rank scores ranks best; the run stalls often enough to check."""
    table = np.random.default_rng(seed).standard_normal(SIZES)
    X = np.array(_run(seed, escape_after=6, escape_patience=2, escape_top=3))
    y = np.array([table[tuple(x)] for x in X])
    checked = 0
    for start in range(6, 30, 2):
        before, yb = X[:start], y[:start]
        if start - 1 - int(np.argmin(yb)) < 2:
            continue
        mean = QuadraticModel(SIZES, fit_quadratic(before, rank_scores(yb), SIZES).mean)
        tried = {tuple(x) for x in before.tolist()}
        for i in np.argsort(yb, kind="stable")[:3]:
            cands = [s for s in _swaps([OPS] * 4, before[i]) if tuple(s) not in tried]
            if cands:
                expect = cands[int(np.argmin(mean.energy(np.array(cands))))]
                break
        else:
            continue
        assert X[start].tolist() == expect
        checked += 1
    assert checked >= 3


def test_off_by_default_and_unchanged_when_off() -> None:
    """Off by default; a run with ``escape_after=None`` and other escape options is
    the default run, trial for trial; with the escape on the run differs."""
    assert QUBOSampler()._escape_after is None
    base = _run(0)
    assert _run(0, escape_after=None, escape_patience=1, escape_top=5) == base
    assert _run(0, escape_after=6, escape_patience=1) != base


def test_escape_options_are_checked() -> None:
    with pytest.raises(ValueError, match=r"escape_after must be an integer >= 0; got -1"):
        QUBOSampler(escape_after=-1)
    with pytest.raises(ValueError, match=r"escape_patience must be an integer >= 0; got -2"):
        QUBOSampler(escape_patience=-2)
    with pytest.raises(ValueError, match=r"escape_top must be an integer >= 1; got 0"):
        QUBOSampler(escape_top=0)


def test_several_objectives_never_escape() -> None:
    """Two objectives have no single best trial to be stuck on: the run with the escape
    on is the run without it, trial for trial."""
    rng = np.random.default_rng(5)
    tables = rng.standard_normal((2, *SIZES))
    dists = {f"c{j}": optuna.distributions.CategoricalDistribution(OPS) for j in range(4)}

    def run(**options: Any) -> list[list[int]]:
        s = QUBOSampler(solver="sa", num_reads=2, num_sweeps=50, n_startup=6, batch_size=2,
                        seed=1, search_space=dists, **options)  # fmt: skip
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=s)
        xs: list[list[int]] = []

        def objective(t: optuna.Trial) -> tuple[float, float]:
            x = [OPS.index(t.suggest_categorical(f"c{j}", OPS)) for j in range(4)]
            xs.append(x)
            return float(tables[0][tuple(x)]), float(tables[1][tuple(x)])

        study.optimize(objective, n_trials=24)
        return xs

    assert run(escape_after=6, escape_patience=0) == run()


@pytest.mark.parametrize("seed", range(4))
def test_swap_takes_the_best_swap_that_meets_the_budgets(seed: int) -> None:
    """Brute force: trials by rank, the first with an untried swap that meets an exact
    budget gives its swap of least energy. The best trial's swaps all break the budget
    by 1e-7 at negative energies (costs below INFEASIBLE): they must be passed over for
    the next trial's."""
    rng = np.random.default_rng(seed)
    f = [rng.uniform(-3.0, -1.0, 3) for _ in SIZES]
    w = np.zeros(n_features(SIZES))
    w[: sum(SIZES)] = np.concatenate(f)
    X = np.array([[*rng.permutation(3).tolist(), int(rng.integers(3))] for _ in range(3)])
    rank = rng.permutation(3).astype(float)
    order = np.argsort(rank, kind="stable")
    first = {tuple(s) for s in _swaps([OPS] * 4, X[order[0]])}
    mean = QUBOProblem(
        QuadraticModel(SIZES, w), X[order[0]], (budget_broken_by_a_hair(SIZES, first),)
    )
    trap = min(first, key=lambda x: float(mean.energy(np.array([x]))[0]))
    assert mean.cost(np.array([trap]))[0] < INFEASIBLE  # the trap is set
    s = QUBOSampler(escape_top=2)
    s._models = OneMean(mean)  # type: ignore[assignment]
    hist = SimpleNamespace(rank=rank, choices=[OPS] * 4, X=X)
    taken = {tuple(int(v) for v in x) for x in X}
    cands = [c for c in _swaps([OPS] * 4, X[order[1]]) if tuple(c) not in taken | first]
    e = [sum(f[j][c[j]] for j in range(4)) for c in cands]
    assert s._swap(hist, rng, taken) == cands[int(np.argmin(e))]  # type: ignore[arg-type]
    # the second trial's swaps taken as well: escape_top=2 stops there
    taken |= {tuple(c) for c in cands}
    assert s._swap(hist, rng, taken) is None  # type: ignore[arg-type]
