"""A trap the QUBO strategies' local moves must not fall into (shared by the polish and
escape tests): a budget broken by a hair on some architectures, where an infeasible cost
(``energy + INFEASIBLE * (1 + violation)``) at a negative energy is below INFEASIBLE,
and a stand-in for the surrogates that hands back one fixed posterior mean."""

from __future__ import annotations

import numpy as np

from quarch.search._problem import Constraint, QUBOProblem
from quarch.search._surrogate import QuadraticModel, n_features


def budget_broken_by_a_hair(sizes: list[int], blocked: set[tuple[int, ...]]) -> Constraint:
    """An exact budget broken by 1e-7 on ``blocked``, met by 1 elsewhere (its model
    says nothing)."""

    def g(X: np.ndarray) -> np.ndarray:
        return np.array([1e-7 if tuple(x) in blocked else -1.0 for x in X])

    return Constraint("g", QuadraticModel(sizes, np.zeros(n_features(sizes))), exact=g)


class OneMean:
    """Stands in for the surrogates: every call returns the same posterior mean."""

    def __init__(self, mean: QUBOProblem) -> None:
        self.mean = mean

    def problems(self, *args: object, **kwargs: object) -> list[QUBOProblem]:
        return [self.mean]
