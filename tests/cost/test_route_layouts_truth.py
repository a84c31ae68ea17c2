"""``_route_uncached`` (the body of quarch's cached router) against Qiskit's own result.

The cached ``route`` would hand back an earlier result; calling the builder directly
checks that the seed and level it records are the ones asked for and that its layouts
are the ones Qiskit's routed circuit carries. ``_walsh_gray_matrix`` (the body of the
cached ``_walsh_gray``) is checked against Sylvester's Hadamard matrix.
"""

from __future__ import annotations

import numpy as np
import pytest

from quarch.cost import routing
from quarch.cost.calibration import load_calibration
from quarch.quantum import Circuit, Weight

pytest.importorskip("qiskit_ibm_runtime")


def test_route_records_seed_level_and_qiskits_layouts() -> None:
    """A three-qubit circuit with a CNOT between its outer wires needs a SWAP on a
    path: the record keeps seed 7 and level 1, and its initial/final layouts are the
    routed Qiskit circuit's own (filtered of ancillas, which a region never has)."""
    c = Circuit(3).h(0).ry(1, Weight(0)).cnot(0, 2).cnot(1, 2).cnot(0, 2)
    key = (c.n_qubits, c.n_weights, tuple(c.ops))
    cal = load_calibration("ibm-manila")
    rc = routing._route_uncached(key, cal, cal.regions(3, 64)[0], 0, 7, 1)
    assert rc.seed == 7
    assert rc.optimization_level == 1
    lay = rc.qiskit.layout
    assert rc.initial == tuple(lay.initial_index_layout(filter_ancillas=True))
    assert rc.final == tuple(lay.final_index_layout(filter_ancillas=True))
    assert sorted(rc.initial) == sorted(rc.final) == [0, 1, 2]
    assert rc.region == tuple(cal.regions(3, 64)[0])


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_walsh_gray_matrix_is_gray_ordered_hadamard(k: int) -> None:
    """Row ``i`` is row ``gray(i) = i ^ (i >> 1)`` of the Sylvester Hadamard matrix
    ``H[a, j] = (-1)**popcount(a & j)`` (Kronecker powers of [[1, 1], [1, -1]]), over
    ``2**k``; so ``2**k M`` is orthogonal up to ``2**k``."""
    h = np.ones((1, 1))
    for _ in range(k):
        h = np.kron(h, np.array([[1.0, 1.0], [1.0, -1.0]]))
    size = 2**k
    gray = [i ^ (i >> 1) for i in range(size)]
    m = routing._walsh_gray_matrix(k)
    assert m.shape == (size, size)
    np.testing.assert_array_equal(m, h[gray] / size)
    np.testing.assert_allclose(m @ m.T, np.eye(size) / size, atol=1e-15)
