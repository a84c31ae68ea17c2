"""The QUBO strategies' local polish: the first proposal of each batch is the untried
architecture near the best trial that the posterior mean ranks best, checked against
brute force over a small space and an independent fit of the mean."""

from __future__ import annotations

import itertools

import numpy as np
import optuna
import pytest

from quarch.search import QUBOSampler
from quarch.search._qubo import _ball
from quarch.search._surrogate import QuadraticModel, fit_quadratic, rank_scores

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
