"""Two-qubit gate costs against Qiskit's own decomposition.

The brute-force cut check in ``test_cutting.py`` counts CNOTs with the code under test
(:func:`cnot_skeleton`), so a wrong CNOT count for a gate passes it. Here every
two-qubit gate quarch has is exported to Qiskit and transpiled to ``{cx, u}``
(optimisation level 0: Qiskit's standard decompositions, nothing merged or elided);
the ``cx`` count Qiskit reports is the truth for the CNOT skeleton, the
``two_qubit_gates`` cost and the cuts (and ``9**cuts`` overhead) of a circuit split
one qubit per device.
"""

from __future__ import annotations

import numpy as np
import pytest

from quarch.cost.cutting import CNOT_GAMMA, cnot_skeleton, estimate_cuts
from quarch.cost.quantum import native_two_qubit_gates
from quarch.quantum import Circuit
from quarch.quantum.export import to_qiskit

pytest.importorskip("qiskit")

FIXED = ["cnot", "cz", "cy", "ch", "swap"]
ROTATIONS = ["crx", "cry", "crz", "cphase", "rxx", "ryy", "rzz"]


def _qiskit_cx(circuit: Circuit) -> int:
    from qiskit import transpile

    qc = transpile(
        to_qiskit(circuit), basis_gates=["cx", "u"], optimization_level=0, seed_transpiler=0
    )
    return int(qc.count_ops().get("cx", 0))


def _with(circuit: Circuit, name: str, a: int, b: int, angle: float) -> Circuit:
    gate = getattr(circuit, name)
    return gate(a, b, angle) if name in ROTATIONS else gate(a, b)


@pytest.mark.parametrize("name", FIXED + ROTATIONS)
def test_each_gate_costs_what_qiskit_decomposes_it_into(name: str) -> None:
    c = _with(Circuit(2), name, 0, 1, 0.7)
    want = _qiskit_cx(c)
    assert want >= 1
    assert sum(k == "cx" for k, _ in cnot_skeleton(c)) == want
    assert native_two_qubit_gates(c) == want
    cut = estimate_cuts(c, 1)  # one qubit per device: every CNOT is cut
    assert (cut.subcircuits, cut.gate_cuts) == (2, want)
    assert cut.overhead == pytest.approx((CNOT_GAMMA**2) ** want)


@pytest.mark.parametrize("seed", range(3))
def test_mixed_circuits(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c = Circuit(4)
    for _ in range(8):
        a, b = (int(v) for v in rng.choice(4, 2, replace=False))
        c = _with(c, str(rng.choice(FIXED + ROTATIONS)), a, b, float(rng.uniform(0.3, 2.5)))
        c = c.ry(int(rng.integers(4)), float(rng.uniform(0.3, 2.5)))
    want = _qiskit_cx(c)
    assert sum(k == "cx" for k, _ in cnot_skeleton(c)) == want
    assert native_two_qubit_gates(c) == want


def test_noise_channels_are_not_gates() -> None:
    """A channel between gates changes neither the skeleton nor the cuts (it is skipped,
    not the end of the circuit)."""
    plain = Circuit(3).cnot(0, 1).crz(1, 2, 0.4).swap(0, 2)
    noisy = Circuit(3).cnot(0, 1).depolarizing(1, 0.1).crz(1, 2, 0.4).bit_flip(0, 0.2).swap(0, 2)
    assert cnot_skeleton(noisy) == cnot_skeleton(plain)
    assert estimate_cuts(noisy, 1) == estimate_cuts(plain, 1)


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_gray_code_controls(k: int) -> None:
    """Mottonen's uniformly controlled RY on target ``k`` (quant-ph/0407010, fig. 2):
    ``2**k`` CNOTs, the ``i``-th controlled by the bit in which the reflected Gray code
    words ``g(i)`` and ``g(i+1)`` (cyclically) differ; bit ``b`` is wire ``k-1-b``."""
    from quarch.cost.cutting import _gray_pairs

    pairs = _gray_pairs(k)
    assert len(pairs) == 2**k and all(t == k for _, t in pairs)
    gray = [i ^ (i >> 1) for i in range(2**k)]
    flips = [(gray[i] ^ gray[(i + 1) % 2**k]).bit_length() - 1 for i in range(2**k)]
    assert [c for c, _ in pairs] == [k - 1 - b for b in flips]
