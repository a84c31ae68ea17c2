"""A budget that no architecture meets, by one unit of its integer linear form, in
:class:`quarch.search._problem.QUBOProblem`'s QUBO.

Independent truth: brute force over every bit vector, one-hot bits and slack bits
(the docstring of ``QUBOProblem.Q``: minimised over the slack bits, ``x^T Q x`` plus
:attr:`offset` is :meth:`energy` on every valid code), and :meth:`energy` against the
penalty written out (``strength`` times the squared violation of the linear form).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from quarch.search._problem import UNITS, Constraint, QUBOProblem
from quarch.search._surrogate import QuadraticModel, n_features

SIZES = [2, 3]


def _model(w_lin: list[float]) -> QuadraticModel:
    w = np.zeros(n_features(SIZES))
    w[: len(w_lin)] = w_lin
    return QuadraticModel(SIZES, w)


@pytest.mark.parametrize("const", [1, 2])
def test_a_budget_broken_everywhere_by_a_few_units(const: int) -> None:
    """``g``'s smallest value is ``const / UNITS > 0``: every architecture breaks the
    budget, by ``const`` units at best. The QUBO still has the cost of every code."""
    g = _model([const / UNITS, 3 / UNITS, 0.0, 1 / UNITS, 2 / UNITS])
    objective = _model([0.3, -0.2, 0.1, 0.5, -0.4])
    p = QUBOProblem(objective, np.zeros(2, dtype=np.int64), (Constraint("g", g),), 2.0)
    a, c = p.constraints[0].terms
    assert c == const and a.min() == 0  # the linear form, in units: > 0 everywhere
    archs = np.array(list(itertools.product(*(range(k) for k in SIZES))))
    units = np.array([const + (3 - const) * x[0] + x[1] for x in archs])
    np.testing.assert_allclose(
        p.energy(archs), objective.energy(archs) + 2.0 * (units / UNITS) ** 2, atol=1e-12
    )
    n = p.model.n_bits
    slack = list(itertools.product([0, 1], repeat=p.n_slack))
    for x, e in zip(archs, p.energy(archs), strict=True):
        bits = np.zeros(n)
        bits[x[0]] = 1.0
        bits[2 + x[1]] = 1.0
        best = min(
            float(np.concatenate([bits, s]) @ p.Q @ np.concatenate([bits, s])) for s in slack
        )
        assert best + p.offset == pytest.approx(e, abs=1e-9)
