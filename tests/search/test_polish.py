"""The QUBO strategies' local polish: the first proposal of each batch is the untried
architecture near the best trial that the posterior mean ranks best, checked against
brute force over a small space and an independent fit of the mean."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import optuna
import pytest

from quarch.search import QUBOSampler
from quarch.search._problem import INFEASIBLE, QUBOProblem
from quarch.search._qubo import _ball
from quarch.search._surrogate import QuadraticModel, fit_quadratic, n_features, rank_scores

from ._near_budget import OneMean, budget_broken_by_a_hair

SIZES = [3, 4, 3, 2]  # 72 architectures


def _archs() -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in SIZES))))


@pytest.mark.parametrize(
    ("centre", "radius"), [((0, 0, 0, 0), 1), ((2, 3, 1, 1), 2), ((1, 2, 0, 1), 3)]
)
def test_ball_is_every_architecture_within_the_radius(centre: tuple[int, ...], radius: int) -> None:
    X = _archs()
    d = (np.array(centre) != X).sum(1)
    truth = {tuple(x) for x in X[(d >= 1) & (d <= radius)]}
    got = [tuple(x) for x in _ball(SIZES, np.array(centre), radius)]
    assert len(got) == len(set(got)) and set(got) == truth


@pytest.mark.parametrize("seed", range(2))
def test_first_proposal_of_each_batch_is_the_means_best_untried_neighbour(seed: int) -> None:
    """Recomputed from the trials before each batch: the best trial, the BOCS posterior
    mean fitted to their rank scores, and its argmin over the untried architectures
    one choice away (brute force over the 72)."""
    table = np.random.default_rng(seed).standard_normal(SIZES)
    dists = {
        f"c{j}": optuna.distributions.CategoricalDistribution(list(range(k)))
        for j, k in enumerate(SIZES)
    }
    s = QUBOSampler(solver="sa", num_reads=2, num_sweeps=50, n_startup=6, batch_size=2,
                    polish_after=6, seed=seed, search_space=dists)  # fmt: skip
    study = optuna.create_study(sampler=s)
    xs: list[list[int]] = []

    def objective(t: optuna.Trial) -> float:
        x = [int(t.suggest_categorical(f"c{j}", list(range(k)))) for j, k in enumerate(SIZES)]
        xs.append(x)
        return float(table[tuple(x)])

    study.optimize(objective, n_trials=20)
    X, y, all_x = np.array(xs), np.array([table[tuple(x)] for x in xs]), _archs()
    checked = 0
    for start in range(6, 20, 2):
        before, yb = X[:start], y[:start]
        best = before[int(np.argmin(yb))]
        mean = QuadraticModel(SIZES, fit_quadratic(before, rank_scores(yb), SIZES).mean)
        near = [x for x in all_x if (x != best).sum() == 1 and not (before == x).all(1).any()]
        if not near:
            continue
        expect = near[int(np.argmin(mean.energy(np.array(near))))]
        assert X[start].tolist() == expect.tolist()
        checked += 1
    assert checked >= 5


def test_off_by_default_and_checked() -> None:
    assert QUBOSampler()._polish_after is None
    with pytest.raises(ValueError, match=r"polish_radius must be an integer \[1, 3\]; got 4"):
        QUBOSampler(polish_radius=4)
    with pytest.raises(ValueError, match=r"polish_after must be an integer >= 0; got -1"):
        QUBOSampler(polish_after=-1)


def _table_model(f: list[np.ndarray]) -> QuadraticModel:
    """The model ``sum_j f[j][x_j]`` (no pair terms)."""
    w = np.zeros(n_features(SIZES))
    w[: sum(SIZES)] = np.concatenate(f)
    return QuadraticModel(SIZES, w)


@pytest.mark.parametrize("seed", range(4))
def test_polish_takes_the_best_neighbour_that_meets_the_budgets(seed: int) -> None:
    """Brute force over the ball: the least energy among the untried neighbours that
    meet an exact budget. The neighbour of least energy overall breaks it by 1e-7 at a
    negative energy, so its cost is below INFEASIBLE: it must still be passed over."""
    rng = np.random.default_rng(seed)
    f = [rng.uniform(-3.0, -1.0, k) for k in SIZES]
    centre = np.array([int(rng.integers(k)) for k in SIZES])
    ball = np.array(_ball(SIZES, centre, 2))
    energy = sum(f[j][ball[:, j]] for j in range(len(SIZES)))
    trap = tuple(int(v) for v in ball[int(np.argmin(energy))])
    blocked = {trap} | {tuple(int(v) for v in x) for x in ball[rng.random(len(ball)) < 0.3]}
    mean = QUBOProblem(_table_model(f), centre, (budget_broken_by_a_hair(SIZES, blocked),))
    assert mean.cost(np.array([trap]))[0] < INFEASIBLE  # the trap is set
    s = QUBOSampler(polish_radius=2)
    s._models = OneMean(mean)  # type: ignore[assignment]
    hist = SimpleNamespace(best=lambda: 0, sizes=SIZES, X=np.array([centre]))
    taken = {tuple(int(v) for v in centre)}
    taken |= {tuple(int(v) for v in x) for x in ball[rng.random(len(ball)) < 0.2]}
    free = [x for x in ball if tuple(x) not in taken and tuple(x) not in blocked]
    expect = free[int(np.argmin([sum(f[j][x[j]] for j in range(len(SIZES))) for x in free]))]
    assert s._polish(hist, rng, taken) == expect.tolist()  # type: ignore[arg-type]
    # every untried neighbour breaks the budget: nothing to polish
    everything = {tuple(int(v) for v in x) for x in ball}
    s._models = OneMean(
        QUBOProblem(mean.model, centre, (budget_broken_by_a_hair(SIZES, everything),))
    )  # type: ignore[assignment]
    assert s._polish(hist, rng, set()) is None  # type: ignore[arg-type]
