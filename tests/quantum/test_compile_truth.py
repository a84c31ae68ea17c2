"""The block engine's compiler (:mod:`quarch.quantum._compile`) against PennyLane.

The default ``path="auto"`` runs circuits of up to ten qubits on the small path, so the
compiled engine needs its own truth: random circuits over every gate (constant, weight
and input angles, scaled and product inputs, Rot split into rotations, amplitude
embeddings), at every block width, run with ``path="engine"`` and compared with
PennyLane's state, expectations and gradients, from ``|0>`` (product-state prefix) and
from a given start state (no prefix), with shared and per-sample weights. Then what the
compiler promises about its plan's shape, against the circuit it was given.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import AmplitudeEmbedding, Circuit, Input, compile_circuit, to_pennylane
from quarch.quantum._compile import Engine
from quarch.quantum._plan import Factor, Gate

from ._pennylane_truth import check_z_and_grads, pl_states
from ._random import random_circuit

qml = pytest.importorskip("pennylane")


def _extended(seed: int) -> tuple[Circuit, np.ndarray, np.ndarray, int]:
    """A random circuit with scaled inputs, a product of inputs, Rot gates and a few
    CNOT rings (deferred permutations), its weights, inputs and a block width."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    c = random_circuit(n, rng, n_ops=int(rng.integers(6, 16)))
    for _ in range(int(rng.integers(0, 3))):
        for q in range(n):
            c.cnot(q, (q + 1) % n) if n > 2 else c.cnot(0, 1)
        c.rot(int(rng.integers(n)), c.new_weight(), 0.4, Input(0, scale=0.7))
        c.ry(int(rng.integers(n)), Input(0, n - 1, scale=1.3))
        c.rz(int(rng.integers(n)), c.new_weight(scale=-0.5))
    name = ["cz", "crx", "rzz"][int(rng.integers(3))]
    angle = [] if name == "cz" else [c.new_weight() if seed % 2 else 0.9]
    c.append(name, rng.choice(n, 2, replace=False).tolist(), angle)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (2, max(c.n_inputs, 1)))
    return c, w, x, int(rng.integers(1, n + 1))


# Nine of the first 24 seeds: together they reach every branch (arc) of
# src/quarch/quantum that all 24 reach (coverage.py, each seed in a fresh process), every
# gate, 2 to 6 qubits, block widths 1, between and n, each kind of last gate (CZ, CRX and
# RZZ of a weight or a constant) and a circuit without inputs (seed 20).
@pytest.mark.parametrize("seed", [0, 1, 6, 7, 9, 11, 17, 20, 21])
def test_random_circuits_on_the_engine_equal_pennylane(seed: int) -> None:
    """States from ``|0>`` and from a random start state, with shared and per-sample
    weights, at a random block width: PennyLane's to ``1e-10``."""
    c, w, x, k = _extended(seed)
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
    # rows without features still count: two rows either way
    xt = torch.tensor(x) if c.n_inputs else torch.zeros(2, 0, dtype=torch.float64)
    rng = np.random.default_rng(1000 + seed)
    got = plan.state(xt, torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, x, None), rtol=0, atol=1e-10)
    psi0 = rng.normal(size=2**c.n_qubits) + 1j * rng.normal(size=2**c.n_qubits)
    psi0 /= np.linalg.norm(psi0)
    got = plan.state(xt, torch.tensor(w), initial_state=torch.tensor(psi0)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, x, psi0), rtol=0, atol=1e-10)
    if c.n_weights:
        wb = rng.uniform(-3, 3, (2, c.n_weights))
        got = plan.state(xt, torch.tensor(wb)).numpy()
        np.testing.assert_allclose(got, pl_states(c, wb, x, None), rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", range(0, 24, 3))
def test_random_circuits_on_the_engine_differentiate_like_pennylane(seed: int) -> None:
    """``<Z_i>`` and the gradients of ``sum_i (i+1) <Z_i>`` with respect to the weights
    and the inputs: PennyLane's (backprop, float64)."""
    c, w, x, k = _extended(seed)
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
    check_z_and_grads(plan, c, w, x)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_an_amplitude_embedding_on_the_engine(k: int) -> None:
    """An amplitude embedding is the start state (no product prefix); the gates after
    it, at every block width, are PennyLane's."""
    c = Circuit(3).add(AmplitudeEmbedding(7, normalize=True))
    c.ry(0, c.new_weight()).rx(1, Input(2)).cnot(0, 2).h(1).crz(1, 2, c.new_weight()).x(0)
    rng = np.random.default_rng(k)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (2, c.n_inputs))
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
    got = plan.state(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, x, None), rtol=0, atol=1e-10)
    eng = plan._runtime(True, False).eng
    assert eng.prefix is None and eng.amplitude == c.ops[0].meta


# ---------------------------------------------------------------- the plan's shape


def _engine(c: Circuit, k: int, *, prefix: bool = True, batched: bool = False) -> Engine:
    return Engine(c, k, with_prefix=prefix, weights_batched=batched)


def test_the_prefix_is_each_wires_leading_one_qubit_gates() -> None:
    """Wire by wire, the one-qubit gates before the first multi-qubit gate touching the
    wire (Rot split in three); the rest are scheduled as blocks."""
    c = Circuit(3).h(0).rx(1, 0.3).rot(2, 0.1, 0.2, 0.3).cnot(0, 1)
    c.ry(0, c.new_weight()).rz(2, 0.4)
    eng = _engine(c, 2)
    assert eng.prefix is not None
    assert [[g.name for g in row] for row in eng.prefix] == [
        ["h"],
        ["rx"],
        ["rz", "ry", "rz", "rz"],
    ]
    assert [b.wires for b in eng.blocks] == [(0, 1)]
    assert [f.kind for f in eng.blocks[0].factors] == ["C", "K"]
    assert [g.name for g in _gates(eng.blocks[0].factors[1])] == ["ry"]
    assert _engine(c, 2, prefix=False).prefix is None


def _gates(f: Factor) -> list[Gate]:
    if f.kind == "P":
        assert f.gate is not None
        return [f.gate]
    if f.kind == "K":
        assert f.rows is not None
        return [g for row in f.rows for g in row]
    return []


def test_a_cnot_ring_costs_at_most_one_gather() -> None:
    """Rotations on every wire, a CNOT ring, rotations again (width 3 on 6 wires): the
    ring is deferred into the layout, and the blocks after it need one gather at most;
    the plan's pass count says so."""
    n = 6
    c = Circuit(n)
    for q in range(n):
        c.ry(q, c.new_weight())
    for q in range(n):
        c.cnot(q, (q + 1) % n)
    for q in range(n):
        c.rz(q, c.new_weight())
    eng = _engine(c, 3, prefix=False)
    blocks, gathers = eng.n_passes
    assert gathers <= 1
    assert blocks == len(eng.blocks) == sum(st.kind == "block" for st in eng.steps)
    assert gathers == sum(st.kind == "gather" for st in eng.steps)
    assert not eng.identity_layout
    assert compile_circuit(c, max_block_qubits=3).n_blocks == len(_engine(c, 3).blocks)


def test_identity_layout_when_no_permutation_is_deferred() -> None:
    """A block of a gate and CNOTs applies them; the CNOTs alone are deferred."""
    c = Circuit(3).h(0).cnot(0, 1).cnot(1, 2)
    assert _engine(c, 3, prefix=False).identity_layout
    assert not _engine(c, 3).identity_layout  # H is the prefix: the CNOTs alone


def test_blocks_on_a_cnot_mixed_layout_take_its_local_map() -> None:
    """Two CNOTs wider together than a block (``k = 2``) are deferred; the blocks on
    their wires then run in place with CNOT's permutation folded into their matrices
    on both sides (a local map, not a bit order), and the block after them gathers.
    State, expectations and gradients: PennyLane's."""
    c = Circuit(4).cnot(0, 1).cnot(2, 3)
    c.rx(0, c.new_weight()).ry(1, Input(0)).crz(2, 3, c.new_weight()).h(3).cnot(3, 0)
    c.rx(3, Input(1))
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=2, path="engine")
    eng = plan._runtime(True, False).eng
    kinds = [[f.kind for f in b.factors] for b in eng.blocks]
    assert kinds[0][0] == "C" and kinds[0][-1] == "C"  # the map on both sides
    assert eng.n_passes == (3, 1)
    rng = np.random.default_rng(2)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (3, c.n_inputs))
    got = plan.state(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, x, None), rtol=0, atol=1e-10)
    assert c.n_qubits == 4 and c.n_weights and c.n_inputs
    check_z_and_grads(plan, c, w, x, atol=1e-10, grad_atol=1e-8)


def test_gates_of_constant_angles_fold_into_constant_factors() -> None:
    """RX(0.3), CNOT, RY(0.5), CRZ(0.7): every angle is known at compile time, so the
    block is one constant matrix (PennyLane's product) and no angle is read at run
    time."""
    c = Circuit(2).rx(0, 0.3).cnot(0, 1).ry(1, 0.5).crz(1, 0, 0.7)
    eng = _engine(c, 2, prefix=False)
    assert [[f.kind for f in b.factors] for b in eng.blocks] == [["C"]]
    assert eng.angle_refs == {} and eng.consts == [] and not eng.chains
    assert not eng.blocks[0].batched and [g.batched for g in eng.groups] == [False]

    @qml.qnode(qml.device("default.qubit", wires=2))
    def run() -> object:
        to_pennylane(c)()
        return qml.state()

    want = np.asarray(run())
    const = eng.blocks[0].factors[0].const
    assert const is not None and eng.blocks[0].wires == (0, 1)
    np.testing.assert_allclose(const[:, 0], want, rtol=0, atol=1e-12)


def _gathers_before_blocks(eng: Engine) -> list[bool]:
    """Per block step, in order: whether a gather comes right before it."""
    out = []
    for i, st in enumerate(eng.steps):
        if st.kind == "block":
            out.append(i > 0 and eng.steps[i - 1].kind == "gather")
    return out


def test_a_gather_puts_the_next_disjoint_block_in_place() -> None:
    """CRZ(4,5), CRZ(1,2), CRZ(3,4) with ``k = 2`` on 6 wires: the first block runs on
    the last stored bits; the middle wires (1, 2) need a gather, and that gather puts
    the next block's wires (3, 4) first, so the third block runs without one: one
    gather in all."""
    c = Circuit(6)
    c.crz(4, 5, c.new_weight()).crz(1, 2, c.new_weight()).crz(3, 4, c.new_weight())
    eng = _engine(c, 2, prefix=False)
    assert _gathers_before_blocks(eng) == [False, True, False]
    assert eng.n_passes == (3, 1)
    assert [st.lo for st in eng.steps if st.kind == "block"] == [0, 0, 4]


def test_the_look_ahead_sees_blocks_behind_a_deferred_swap() -> None:
    """A deferred SWAP(1, 2) sits between the block on (1, 6) and the one on (1, 3):
    the gather before (1, 6) puts the next disjoint block (2, 3) first, and the SWAP
    turns those stored bits into wires (1, 3), so that block runs without a gather (a
    look-ahead that skipped blocks behind deferred gates gathered there). States equal
    PennyLane's."""
    c = Circuit(8).cnot(7, 1)
    c.crz(1, 6, c.new_weight()).swap(1, 2).crz(1, 3, c.new_weight()).crz(7, 1, c.new_weight())
    c.crz(6, 7, c.new_weight()).crz(3, 2, c.new_weight())
    eng = _engine(c, 2, prefix=False)
    assert [b.wires for b in eng.blocks][:2] == [(1, 6), (1, 3)]
    assert _gathers_before_blocks(eng)[:2] == [True, False]
    rng = np.random.default_rng(5)
    w = rng.uniform(-3, 3, c.n_weights)
    x = np.zeros((1, 1))
    psi0 = rng.normal(size=2**8) + 1j * rng.normal(size=2**8)
    psi0 /= np.linalg.norm(psi0)
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=2, path="engine")
    got = plan.state(weights=torch.tensor(w), initial_state=torch.tensor(psi0)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, x, psi0), rtol=0, atol=1e-10)


def test_rotation_chains_take_the_fast_path_and_per_sample_layers_stay_apart() -> None:
    """One-qubit layers made only of RX/RY/RZ are built from their angles (``fast``
    chains, with one generator per gate and the half-angle scale); a layer with any
    other gate reads the table. Layers of shared angles and of per-sample angles are
    separate chains (``(batched, k)`` keys), so shared ones are built once per call."""
    c = Circuit(4)
    for q in range(4):
        c.ry(q, c.new_weight())  # the prefix: fast
    c.cnot(0, 1).cnot(2, 3)
    c.rx(0, c.new_weight()).rz(1, c.new_weight(scale=0.5))  # shared rotations: fast
    c.rx(2, Input(0)).h(3)  # per-sample, with an H: the table
    c.crz(0, 1, c.new_weight()).crz(2, 3, Input(1))
    eng = _engine(c, 2)
    assert eng.chains["prefix"].fast and not eng.chains["prefix"].batched
    assert set(eng.kron) == {(False, 2), (True, 2)}
    shared, per_sample = eng.chains[(False, 2)], eng.chains[(True, 2)]
    assert shared.fast and not shared.batched
    assert not per_sample.fast and per_sample.batched
    assert shared.q is not None
    names = [g.name for row in shared.rows for g in row]
    assert names == ["rx", "rz"]
    np.testing.assert_array_equal(shared.q[0, 0], [[0, -1j], [-1j, 0]])  # RX: -iX
    np.testing.assert_array_equal(shared.q[0, 1], [[-1j, 0], [0, 1j]])  # RZ: -iZ
    assert [ref[2] for ref in shared.refs[0]] == [0.5, 0.25]  # half of each angle's scale
    assert eng.needs_table and eng.needs_batched_table
