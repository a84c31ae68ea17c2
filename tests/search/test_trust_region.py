"""The QUBO strategies' trust region: the Hamming ball around the best trial as one more
linear inequality of the QUBO, checked against brute force over a small space."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import optuna
import pytest

from quarch.search import QUBOSampler
from quarch.search._models import hamming_constraint
from quarch.search._problem import UNITS, QUBOProblem
from quarch.search._surrogate import QuadraticModel, n_features

SIZES = [3, 4, 3, 2]  # 72 architectures


def _archs(sizes: list[int] = SIZES) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


def _hamming(X: np.ndarray, c: np.ndarray) -> np.ndarray:
    return np.array([sum(int(a != b) for a, b in zip(x, c, strict=True)) for x in X])


@pytest.mark.parametrize(("centre", "radius"), [((0, 0, 0, 0), 1), ((2, 3, 1, 1), 2)])
def test_hamming_constraint_is_exact_in_the_qubo(centre: tuple[int, ...], radius: int) -> None:
    """Its exact values and the QUBO's integer linear form both equal the Hamming
    distance minus the radius, architecture by architecture (brute force)."""
    X = _archs()
    c = hamming_constraint(SIZES, np.array(centre), radius)
    truth = _hamming(X, np.array(centre)) - radius
    np.testing.assert_array_equal(c.values(X), truth)
    np.testing.assert_allclose(c.linear_units(X) / UNITS, truth)


def test_slack_qubo_ground_state_is_the_best_inside_the_ball() -> None:
    """Brute force over every bit vector of the penalised QUBO (one-hot and slack bits)
    of a random objective in a trust region: its ground state decodes to the best
    architecture within the radius, not the unconstrained best."""
    sizes = [3, 2, 3]
    X = _archs(sizes)
    rng = np.random.default_rng(3)
    f = QuadraticModel(sizes, rng.standard_normal(n_features(sizes)))
    e = f.energy(X)
    centre = X[int(np.argmax(e))]  # the worst cell: the free optimum lies outside
    ball = _hamming(X, centre) <= 1
    assert not ball[int(np.argmin(e))]
    p = QUBOProblem(f, centre, (hamming_constraint(sizes, centre, 1),), strength=50.0)
    N = len(p.Q)
    bits = ((np.arange(2**N)[:, None] >> np.arange(N - 1, -1, -1)) & 1).astype(float)
    E = ((bits @ p.Q) * bits).sum(1)
    ground = p.decode(bits[[int(np.argmin(E))]])[0]
    assert tuple(ground) == tuple(X[ball][int(np.argmin(e[ball]))])


def _run(trust_after: int | None, seed: int) -> list[tuple[list[int], float]]:
    table = np.random.default_rng(seed).standard_normal(SIZES)
    dists = {
        f"c{j}": optuna.distributions.CategoricalDistribution(list(range(k)))
        for j, k in enumerate(SIZES)
    }
    kw: dict[str, Any] = {"trust_after": trust_after} if trust_after is not None else {}
    s = QUBOSampler(
        solver="sa", num_reads=4, num_sweeps=100, n_startup=5, batch_size=1, exploration=2.0,
        seed=seed, search_space=dists, trust_radius=1, **kw,
    )  # fmt: skip
    study = optuna.create_study(sampler=s)
    out: list[tuple[list[int], float]] = []

    def objective(t: optuna.Trial) -> float:
        x = [int(t.suggest_categorical(f"c{j}", list(range(k)))) for j, k in enumerate(SIZES)]
        v = float(table[tuple(x)])
        out.append((x, v))
        return v

    study.optimize(objective, n_trials=30)
    return out


@pytest.mark.parametrize("seed", range(2))
def test_proposals_stay_near_the_best_after_trust_after(seed: int) -> None:
    """From trial ``trust_after`` on, each proposal differs from the best trial so far
    in at most ``trust_radius`` choices whenever an untried architecture that close
    exists; the same sampler without the region strays further."""

    def strays(runs: list[tuple[list[int], float]], start: int) -> int:
        n = 0
        for i in range(start, len(runs)):
            best = np.array(min(runs[:i], key=lambda r: r[1])[0])
            tried = {tuple(x) for x, _ in runs[:i]}
            close = [x for x in _archs() if _hamming(x[None], best)[0] <= 1]
            if any(tuple(x) not in tried for x in close):
                n += int(_hamming(np.array([runs[i][0]]), best)[0] > 1)
        return n

    assert strays(_run(10, seed), 10) == 0
    assert strays(_run(None, seed), 10) > 0


def test_trust_options_are_checked() -> None:
    with pytest.raises(ValueError, match="trust_radius"):
        QUBOSampler(trust_radius=0)
    with pytest.raises(ValueError, match="trust_after"):
        QUBOSampler(trust_after=-1)
    with pytest.raises(ValueError, match="trust_exploration"):
        QUBOSampler(trust_exploration=11.0)
