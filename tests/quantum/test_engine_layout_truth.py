"""The block engine's compile-time layout and tables (``Engine.__init__``,
``Engine._place``, ``Engine._assign_tables`` in :mod:`quarch.quantum._compile`).

Circuits chosen to reach the branches the random circuits of
``test_compile_truth.py`` leave thin: three-wire blocks on a CNOT-mixed layout (the
local map folded into a block wider than two wires), one-qubit tables that mix
shared and per-sample rotations, generic gates and constants in one chain, and
deferred permutations that are not their own inverse. Values and gradients run with
``path="engine"`` against PennyLane; the layout claims against a brute-force reading
of the circuit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, Input, _compile, compile_circuit
from quarch.quantum._compile import Engine
from quarch.quantum.circuit import Param

from ._pennylane_truth import check_z_and_grads, pl_states

qml = pytest.importorskip("pennylane")


def _check(c: Circuit, k: int, seed: int, *, grads: bool = True) -> None:
    """States from ``|0>``, from a random start state and with per-sample weights,
    ``<Z_i>`` and gradients of ``sum_i (i+1) <Z_i>``: PennyLane's."""
    rng = np.random.default_rng(seed)
    n = c.n_qubits
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (3, max(c.n_inputs, 1)))
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
    xt = torch.tensor(x) if c.n_inputs else torch.zeros(3, 0, dtype=torch.float64)
    got = plan.state(xt, torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, x, None), rtol=0, atol=1e-10)
    psi0 = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    psi0 /= np.linalg.norm(psi0)
    got = plan.state(xt, torch.tensor(w), initial_state=torch.tensor(psi0)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, x, psi0), rtol=0, atol=1e-10)
    if c.n_weights:
        wb = rng.uniform(-3, 3, (3, c.n_weights))
        got = plan.state(xt, torch.tensor(wb)).numpy()
        np.testing.assert_allclose(got, pl_states(c, wb, x, None), rtol=0, atol=1e-10)
    if not grads:
        return
    check_z_and_grads(plan, c, w, x)


def _spy_place(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray | None]:
    """Record the local map (stored -> true, or ``None``) of every block placed."""
    maps: list[np.ndarray | None] = []
    place = _compile.place

    def spy(*args: Any) -> Any:
        out = place(*args)
        maps.append(out[4])
        return out

    monkeypatch.setattr(_compile, "place", spy)
    return maps


def test_three_wire_blocks_on_cnot_chains_fold_their_local_map(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two CNOT chains (0->1->2, 3->4->5) span six wires, wider than a 3-wire block,
    so they are deferred; the 3-wire blocks after them then run in place with the
    chain's map (8 local indices, not a bit order) on both sides of their matrices."""
    maps = _spy_place(monkeypatch)
    c = Circuit(6).cnot(0, 1).cnot(1, 2).cnot(3, 4).cnot(4, 5)
    c.crx(0, 2, c.new_weight()).ry(1, Input(0)).crz(3, 5, c.new_weight()).rx(4, Input(1))
    c.cnot(2, 3).ry(5, c.new_weight())
    eng = Engine(c, 3, with_prefix=False, weights_batched=False)
    assert len(maps) >= 2
    for m in maps[:2]:
        # the chain 0->1->2 on the block's bits: stored a -> true f(a), a bijection of 8
        assert m is not None and sorted(m.tolist()) == list(range(8))
        assert m.tolist() != list(range(8))
    assert [b.wires for b in eng.blocks][:2] == [(0, 1, 2), (3, 4, 5)]
    for b in eng.blocks[:2]:
        assert b.factors[0].kind == "C" and b.factors[-1].kind == "C"
    _check(c, 3, 11)


def _table_circuit() -> Circuit:
    """One-qubit layers (prefix and block layers) that mix shared and per-sample
    rotations, generic one-qubit gates (phase, u3) of both kinds and constants, and
    several multi-qubit parametrised gates of both kinds, one a product of inputs."""
    c = Circuit(3)
    c.ry(0, c.new_weight()).h(0).phase(0, c.new_weight(scale=0.5)).rx(0, Input(0))
    c.u3(1, c.new_weight(), Input(1, scale=-0.8), 0.3).s(1).rz(1, c.new_weight())
    c.phase(2, Input(2)).t(2).ry(2, Input(0, scale=0.5)).rx(2, 0.7)
    c.crx(0, 1, c.new_weight()).cphase(1, 2, Input(1)).rzz(0, 2, c.new_weight())
    c.crx(1, 2, Input(0, 2, scale=0.6))
    c.h(0).rx(0, c.new_weight()).phase(1, Input(0)).sx(1).ry(2, 0.4).rz(2, Input(2)).y(0)
    c.phase(0, c.new_weight()).u3(2, Input(1), c.new_weight(), Input(0))
    c.cz(0, 1).crz(1, 2, c.new_weight()).crx(0, 1, Input(2))
    return c


@pytest.mark.parametrize("k", [1, 2, 3])
def test_mixed_one_qubit_tables_equal_pennylane(k: int) -> None:
    """Every table row kind in one circuit, at every block width: values, per-sample
    weights, a start state (no prefix: all layers in blocks) and gradients."""
    _check(_table_circuit(), k, 20 + k)


def _angle(p: float | Param, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The angle of a gate parameter per sample: a constant, ``scale * w[i]`` (``w``
    per sample or not) or ``scale * prod(x[:, j])``."""
    rows = x.shape[0]
    if not isinstance(p, Param):
        return np.full(rows, float(p))
    if p.kind == "weight":
        v = w[..., p.index[0]]
        return np.broadcast_to(p.scale * v, (rows,))
    return p.scale * np.prod(x[:, list(p.index)], axis=1)


def _matrix(
    name: str, params: tuple[float | Param, ...], w: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """The gate's matrix per sample, from PennyLane's operator of the same name."""
    ops = {
        "h": qml.Hadamard, "x": qml.PauliX, "y": qml.PauliY, "z": qml.PauliZ, "s": qml.S,
        "t": qml.T, "sx": qml.SX, "rx": qml.RX, "ry": qml.RY, "rz": qml.RZ,
        "phase": qml.PhaseShift, "u3": qml.U3, "crx": qml.CRX, "crz": qml.CRZ,
        "cphase": qml.ControlledPhaseShift, "rzz": qml.IsingZZ,
    }  # fmt: skip
    op = ops[name]
    nw = op.num_wires if isinstance(op.num_wires, int) else 1
    angles = [_angle(p, w, x) for p in params]
    out = []
    for b in range(x.shape[0]):
        out.append(qml.matrix(op(*[a[b] for a in angles], wires=list(range(nw)))))
    return np.stack(out)


@pytest.mark.parametrize("prefix", [True, False])
@pytest.mark.parametrize("batched", [False, True])
def test_every_table_row_holds_its_gates_matrix(prefix: bool, batched: bool) -> None:
    """An independent reading of the tables: each one-qubit gate of a table-read chain
    finds its own matrix (PennyLane's, at its angles, per sample) at its row, in the
    shared table when it is the same for every sample and in the per-sample one
    otherwise; the shared table is rotations, generic gates, then the constant rows
    (the identity first, at ``identity_row``) and nothing else; the per-sample table
    starts with a copy of the shared one. Every multi-qubit parametrised gate finds its
    matrix at its slot."""
    from quarch.quantum._matrices import Runtime

    c = _table_circuit()
    eng = Engine(c, 2, with_prefix=prefix, weights_batched=batched)
    rng = np.random.default_rng(7)
    rows = 3
    w = rng.uniform(-3, 3, (rows, c.n_weights) if batched else c.n_weights)
    x = rng.uniform(-2, 2, (rows, c.n_inputs))
    rt = Runtime(eng, torch.complex128)
    ctx = rt.context(torch.tensor(x), torch.tensor(w), rows, torch.device("cpu"))
    one_q = [g for ch in eng.chains.values() if not ch.fast for row in ch.rows for g in row]
    assert one_q and eng.needs_table
    assert ctx.table_s is not None
    ts = ctx.table_s.numpy()
    assert ts.shape == (eng.n_shared_rows, 2, 2)
    np.testing.assert_array_equal(ts[eng.identity_row], np.eye(2))
    per_sample = [g for g in one_q if g.batched]
    assert eng.needs_batched_table == bool(per_sample)
    assert per_sample  # inputs in table-read layers
    assert ctx.table_b is not None
    tb = ctx.table_b.numpy()
    assert tb.shape == (rows, eng.n_shared_rows + len(per_sample), 2, 2)
    np.testing.assert_array_equal(
        tb[:, : eng.n_shared_rows], np.broadcast_to(ts, tb[:, : eng.n_shared_rows].shape)
    )
    shared_rows: set[int] = set()
    for g in one_q:
        if g.const is not None:
            assert eng.identity_row < g.row < eng.n_shared_rows
            np.testing.assert_allclose(ts[g.row], g.const, rtol=0, atol=0)
            want = _matrix(g.name, g.params, w, x)[0]
            np.testing.assert_allclose(ts[g.row], want, rtol=0, atol=1e-12)
            shared_rows.add(g.row)
        elif g.batched:
            assert g.row >= eng.n_shared_rows
            np.testing.assert_allclose(tb[:, g.row], _matrix(g.name, g.params, w, x), atol=1e-12)
        else:
            assert g.row < eng.identity_row
            np.testing.assert_allclose(ts[g.row], _matrix(g.name, g.params, w, x)[0], atol=1e-12)
            shared_rows.add(g.row)
    # rows are not shared between gates: each gate its own
    assert len({g.row for g in one_q}) == len(one_q)
    assert shared_rows | {eng.identity_row} == set(range(eng.n_shared_rows))
    assert {g.row for g in per_sample} == set(range(eng.n_shared_rows, tb.shape[1]))
    n_rot = [
        sum(g.name in ("rx", "ry", "rz") and g.const is None and g.batched == b for g in one_q)
        for b in (False, True)
    ]
    assert [len(eng.rot[False]), len(eng.rot[True])] == n_rot
    # the multi-qubit parametrised gates, each at its slot
    slots = [f.gate for b in eng.blocks for f in b.factors if f.kind == "P"]
    assert slots
    for pg in slots:
        assert pg is not None
        got = ctx.genk[pg.slot[0]][..., pg.slot[1], :, :].numpy()
        want = _matrix(pg.name, pg.params, w, x)
        np.testing.assert_allclose(np.broadcast_to(got, want.shape), want, rtol=0, atol=1e-12)
        assert pg.batched == (got.ndim == 3)


def _stored_state(eng: Engine, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The engine's final state in its stored order (no reordering), from ``|0>``."""
    from quarch.quantum._matrices import Runtime
    from quarch.quantum._simulate import execute

    rt = Runtime(eng, torch.complex128)
    out = execute(rt, torch.tensor(x), torch.tensor(w), None, x.shape[0], torch.device("cpu"), None)
    return np.broadcast_to(out.detach().numpy(), (x.shape[0], 2**eng.n))


@pytest.mark.parametrize(
    ("ring", "k", "identity"),
    [(True, 2, False), (True, 3, False), (False, 2, False), (False, 5, True)],
)
def test_the_stored_layout_is_sigma(ring: bool, k: int, identity: bool) -> None:
    """``sigma`` maps each stored index to its true basis index: the engine's stored
    amplitudes are PennyLane's state read at ``sigma``. A CNOT ring (deferred, wider
    than a block) or a gather leaves a permuted layout; one block of every wire and no
    deferred gate leaves the identity, and ``identity_layout`` says which."""
    n = 5
    c = Circuit(n)
    for q in range(n):
        c.ry(q, c.new_weight())
    if ring:
        for q in range(n):
            c.cnot(q, (q + 1) % n)
    c.crz(0, 1, c.new_weight()).crx(2, 4, Input(0)).rx(3, Input(1)).cz(1, 3)
    if ring:
        c.swap(0, 4).ccx(1, 2, 3)
    rng = np.random.default_rng(k)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (2, c.n_inputs))
    eng = Engine(c, k, with_prefix=True, weights_batched=False)
    want = pl_states(c, w, x, None)
    assert sorted(eng.sigma.tolist()) == list(range(2**n))
    assert eng.identity_layout == identity
    assert eng.identity_layout == bool((eng.sigma == np.arange(2**n)).all())
    np.testing.assert_allclose(_stored_state(eng, w, x), want[:, eng.sigma], rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_after_a_gather_the_next_disjoint_block_runs_in_place(seed: int) -> None:
    """The gather a block needs also puts the next block that shares no wire with it in
    place: over random chains of two-qubit gates (no deferred permutation, ``k = 2``
    on 7 wires), whenever block ``i`` gathers and block ``i + 1`` is disjoint from it,
    block ``i + 1`` runs without a gather. The states are PennyLane's."""
    rng = np.random.default_rng(seed)
    n = 7
    c = Circuit(n)
    for _ in range(12):
        a, b = (int(v) for v in rng.choice(n, 2, replace=False))
        c.crz(a, b, c.new_weight())
    eng = Engine(c, 2, with_prefix=False, weights_batched=False)
    gathered = []
    for i, st in enumerate(eng.steps):
        if st.kind == "block":
            gathered.append(i > 0 and eng.steps[i - 1].kind == "gather")
    wires = [set(b.wires) for b in eng.blocks]
    checked = 0
    for i in range(len(wires) - 1):
        if gathered[i] and not wires[i] & wires[i + 1]:
            assert not gathered[i + 1], (i, wires)
            checked += 1
    assert checked
    w = rng.uniform(-3, 3, c.n_weights)
    psi0 = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    psi0 /= np.linalg.norm(psi0)
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=2, path="engine")
    got = plan.state(weights=torch.tensor(w), initial_state=torch.tensor(psi0)).numpy()
    np.testing.assert_allclose(got, pl_states(c, w, np.zeros((1, 1)), psi0), rtol=0, atol=1e-10)
