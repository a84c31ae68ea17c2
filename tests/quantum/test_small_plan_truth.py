"""The small-circuit program's compile-time pieces against PennyLane and their docstrings.

:mod:`quarch.quantum._small_plan` turns every one-angle gate into ``A + cos(s t) B +
sin(s t) C`` and every diagonal one into ``diag(exp(i c t))``; both forms are read off
the gate table's builder, so a wrong term would reach every value of the small path.
Truth here is PennyLane's matrix of the same gate at several angles. The cached
wrappers (``gate_terms``, ``_diag_coef``) hold the process's first answer, so these
tests call the uncached builders (``_gate_terms``, ``_diag_coef_of``) the wrappers
return.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import torch

from quarch.quantum import AngleEmbedding, Circuit, Input, RotationLayer
from quarch.quantum._small_plan import (
    SmallProgram,
    _diag_coef,
    _diag_coef_of,
    _gate_terms,
    gate_terms,
    kron_parts,
)
from quarch.quantum.gates import GATES, GateSpec

qml = pytest.importorskip("pennylane")

#: quarch's one-angle gates, PennyLane's operation and the ``s`` of ``cos(s t)``
#: (``1/2`` for rotations, ``1`` for phase gates, as ``gate_terms`` documents)
ONE_ANGLE: dict[str, tuple[Callable[..., object], float]] = {
    "rx": (qml.RX, 0.5),
    "ry": (qml.RY, 0.5),
    "rz": (qml.RZ, 0.5),
    "phase": (qml.PhaseShift, 1.0),
    "crx": (qml.CRX, 0.5),
    "cry": (qml.CRY, 0.5),
    "crz": (qml.CRZ, 0.5),
    "cphase": (qml.ControlledPhaseShift, 1.0),
    "rxx": (qml.IsingXX, 0.5),
    "ryy": (qml.IsingYY, 0.5),
    "rzz": (qml.IsingZZ, 0.5),
}
DIAGONAL = {"rz", "phase", "crz", "cphase", "rzz"}
ANGLES = (0.0, 0.41, -1.3, 2.2, math.pi, -5.9)


def _pl_matrix(name: str, t: float) -> np.ndarray:
    op, _ = ONE_ANGLE[name]
    wires = [0] if name in ("rx", "ry", "rz", "phase") else [0, 1]
    return np.asarray(qml.matrix(op(t, wires=wires)))


@pytest.mark.parametrize("name", sorted(ONE_ANGLE))
def test_gate_terms_are_pennylane_s_matrices(name: str) -> None:
    s, terms = _gate_terms(name)
    assert s == ONE_ANGLE[name][1]
    assert terms.shape == (3, *_pl_matrix(name, 0.0).shape)
    a, b, c = terms
    for t in ANGLES:
        m = a + math.cos(s * t) * b + math.sin(s * t) * c
        np.testing.assert_allclose(m, _pl_matrix(name, t), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(ONE_ANGLE))
def test_the_cached_terms_are_the_builder_s(name: str) -> None:
    s, terms = gate_terms(name)
    s2, terms2 = _gate_terms(name)
    assert s == s2
    np.testing.assert_array_equal(terms, terms2)


@pytest.mark.parametrize("name", sorted(ONE_ANGLE))
def test_diagonal_coefficients_are_pennylane_s_phases(name: str) -> None:
    coef = _diag_coef_of(name)
    if name not in DIAGONAL:
        assert coef is None
        assert _diag_coef(name) is None
        return
    assert coef is not None
    np.testing.assert_array_equal(coef, _diag_coef(name))
    for t in ANGLES:
        np.testing.assert_allclose(
            np.diag(np.exp(1j * coef * t)), _pl_matrix(name, t), rtol=0, atol=1e-12
        )


def test_a_gate_outside_the_form_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A one-angle gate added to the table that is not ``A + cos B + sin C`` (here
    ``diag(1, exp(i t^2))``) stops the compile with its name, never a wrong matrix."""

    def squared(t: torch.Tensor) -> torch.Tensor:
        one = torch.ones_like(t, dtype=torch.complex128)
        return torch.diag_embed(torch.stack([one, torch.exp(1j * t**2)], -1))

    monkeypatch.setitem(GATES, "squared", GateSpec("squared", 1, 1, builder=squared))
    with pytest.raises(AssertionError, match=r"gate 'squared' is not A \+ cos B \+ sin C"):
        _gate_terms("squared")


@pytest.mark.parametrize("n", range(1, 11))
def test_kron_parts_are_the_register_or_its_two_halves_last_first(n: int) -> None:
    assert kron_parts(n, True) == [(0, n)]
    parts = kron_parts(n, False)
    if n < 2:  # one wire has no halves
        assert parts == [(0, n)]
        return
    assert len(parts) == 2
    (a1, b1), (a0, b0) = parts
    assert (a0, b1) == (0, n) and b0 == a1  # the whole register, the last half first
    assert abs((b1 - a1) - (b0 - a0)) <= 1  # halves


@pytest.mark.parametrize("whole_register", [2, 4])
@pytest.mark.parametrize("n", range(1, 7))
def test_layers_are_whole_up_to_whole_register_and_per_sample_up_to_two(
    n: int, whole_register: int
) -> None:
    """``whole_register``: the widest register a shared Kronecker layer is applied on as
    one matrix; per-sample layers take two halves from 3 wires on."""
    c = Circuit(n).add(AngleEmbedding(n)).add(RotationLayer(n, ("Y",)))
    prog = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=whole_register)
    assert prog.parts["s"] == kron_parts(n, n <= whole_register)
    assert (len(prog.parts["s"]) == 1) is (n <= whole_register)
    assert (len(prog.parts["b"]) == 1) is (n <= 2)


def _pl_state(c: Circuit, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """PennyLane's state of each row of ``x``."""
    from quarch.quantum import to_pennylane

    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=c.n_qubits))
    def state(w: np.ndarray, x: np.ndarray) -> object:
        f(w, x)
        return qml.state()

    return np.stack([np.asarray(state(w, row)) for row in x])


def test_constants_on_both_sides_of_a_shared_layer_fold_into_it() -> None:
    """Unmerged runs of constant permutations and phases (CNOT, CZ, SWAP, CPHASE,
    Toffoli alternate, so no two neighbours merge) before and after a shared
    whole-register layer all go into its matrix, each composed with the ones folded
    before it: the program keeps no constant instruction, and the state and the
    gradients are PennyLane's."""
    from quarch.quantum import compile_circuit

    from ._pennylane_truth import pl_z_and_grads

    n = 3
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y")).cnot(0, 1)
    c.add(AngleEmbedding(n, rotation="X"))  # per sample: the constants below follow no shared layer
    c.cnot(0, 1).cz(1, 2).swap(0, 2).cphase(0, 2, 0.7).cnot(2, 1)  # -> its columns
    c.add(RotationLayer(n, ("Y", "Z")))
    c.cnot(0, 1).cz(1, 2).swap(0, 2).cphase(0, 2, -0.4).ccx(2, 1, 0)  # -> its rows
    c.crx(0, 1, c.new_weight())
    prog = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=4)
    assert [(i.op, i.kind) for i in prog.instrs[1:]] == [
        ("kron", "b"),
        ("kron", "s"),
        ("dense", "s"),
    ]
    assert prog.instrs[2].pre_index is not None and prog.instrs[2].post_index is not None
    rng = np.random.default_rng(21)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (3, c.n_inputs))
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    got = plan.state(torch.tensor(x), torch.tensor(w)).numpy()
    np.testing.assert_allclose(got, _pl_state(c, w, x), rtol=0, atol=1e-10)
    ref, gw, gx = pl_z_and_grads(c, w, x)
    wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
    out = plan.expval([f"Z{i}" for i in range(n)], xt, wt)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-9)
    (out * torch.arange(1, n + 1)).sum().backward()
    assert wt.grad is not None and xt.grad is not None
    np.testing.assert_allclose(wt.grad.numpy(), gw, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(xt.grad.numpy(), gx, rtol=1e-7, atol=1e-9)


#: the module docstring's instruction of each multi-qubit gate
MULTI_OP = {
    "cnot": "perm", "swap": "perm", "ccx": "perm", "cswap": "perm",
    "cz": "diag", "crz": "diag", "cphase": "diag", "rzz": "diag",
    "crx": "dense", "cry": "dense", "rxx": "dense", "ryy": "dense", "cy": "dense", "ch": "dense",
}  # fmt: skip


@pytest.mark.parametrize("angle", ["weight", "constant"])
@pytest.mark.parametrize("name", sorted(MULTI_OP))
def test_each_multi_qubit_gate_is_the_documented_instruction(name: str, angle: str) -> None:
    """Permutations, diagonal gates and general ones as the module docstring sorts them
    (with a trainable or a fixed angle): the run time reads ``op`` to pick the code."""
    c = Circuit(3)
    spec = GATES[name]
    params = [c.new_weight() if angle == "weight" else 0.8] * spec.n_params
    c.append(name, list(range(spec.n_wires))[::-1], params)
    prog = SmallProgram(c, with_prefix=False, weights_batched=False, whole_register=4)
    assert [i.op for i in prog.instrs] == [MULTI_OP[name]]
    ins = prog.instrs[0]
    assert ins.kind == "s" and ins.segment == 0
    assert ins.angles == ([0] if spec.n_params and angle == "weight" else [])


@pytest.mark.parametrize("n", [2, 3])
def test_a_whole_register_takes_only_the_first_pure_layer_into_the_product_state(n: int) -> None:
    """Where shared layers are one ``2^n`` matrix, only the first pure layer of the
    leading gates is the product state and the later ones are Kronecker layers (one
    matmul each, taking their neighbours' permutations for free); on two halves every
    leading pure layer joins the product state as a per-wire chain."""
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y")).add(RotationLayer(n, ("Y",)))
    c.cnot(0, n - 1).add(RotationLayer(n, ("X",)))
    whole = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=n)
    assert whole.prefix is not None and [k for k, _ in whole.prefix] == ["b"]
    assert [(i.op, i.kind) for i in whole.instrs][:1] == [("kron", "s")]
    halves = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=n - 1)
    assert halves.prefix is not None and [k for k, _ in halves.prefix] == ["b", "s"]
    assert halves.instrs[0].op == "perm"


def test_a_program_without_product_state_has_no_prefix() -> None:
    """``prefix`` is None without product state (the call brings its start state):
    every gate is then an instruction, the leading ones a Kronecker layer."""
    c = Circuit(3).add(AngleEmbedding(3, rotation="Y")).cnot(0, 2).add(RotationLayer(3, ("X",)))
    for whole_register in (0, 3):
        prog = SmallProgram(
            c, with_prefix=False, weights_batched=False, whole_register=whole_register
        )
        assert prog.prefix is None
        assert (prog.instrs[0].op, prog.instrs[0].kind) == ("kron", "b")


def test_runs_merge_and_shared_runs_are_numbered_segments() -> None:
    """Runs of permutations compose into one (PennyLane's product of the CNOTs), runs
    of diagonals (constant or shared) add into one; ``segment`` numbers the maximal
    runs of shared instructions from 0 (-1 for per-sample ones) and ``segments``
    counts them (two halves at four wires: nothing folds into a layer)."""
    c = Circuit(4).add(RotationLayer(4, ("Y",))).cnot(0, 1).cnot(1, 2).cnot(2, 3)
    c.cz(0, 1).cz(2, 3).crz(0, 1, c.new_weight())
    c.add(AngleEmbedding(4, rotation="X")).add(RotationLayer(4, ("Z",))).cnot(0, 3)
    prog = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=0)
    got = [(i.op, i.kind, i.segment) for i in prog.instrs]
    want = [("perm", "s", 0), ("diag", "s", 0), ("kron", "b", -1), ("kron", "s", 1)]
    assert got == [*want, ("perm", "s", 1)]
    assert prog.segments == 2
    perm = prog.instrs[0].index
    assert perm is not None
    u = qml.matrix(
        qml.prod(*(qml.CNOT(wires=w) for w in ((2, 3), (1, 2), (0, 1)))), wire_order=range(4)
    )
    psi = np.arange(16.0)
    np.testing.assert_array_equal(psi[perm], (u @ psi).real)
    diag = prog.instrs[1]
    assert diag.coef is not None and diag.theta0 is not None
    assert len(diag.angles) == 1 and diag.coef.shape == (1, 16)  # CRZ's one angle
    cz = np.diag(qml.matrix(qml.CZ(wires=[0, 1]) @ qml.CZ(wires=[2, 3]), wire_order=range(4)))
    np.testing.assert_allclose(np.exp(1j * diag.theta0), cz, atol=1e-15)


def test_a_constant_diagonal_merges_into_the_next_per_sample_one() -> None:
    """A constant diagonal adds into the next diagonal of either kind (the merged one
    takes that kind), and diagonals of one kind add up: CZ, CRZ(x0), CRZ(x1) is one
    per-sample phase instruction of two angles, PennyLane's CZ as its constant part."""
    c = Circuit(4).add(RotationLayer(4, ("Y",))).cz(0, 1)
    c.crz(1, 2, Input(0)).crz(2, 3, Input(1))
    prog = SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=0)
    assert [(i.op, i.kind, len(i.angles)) for i in prog.instrs] == [("diag", "b", 2)]
    (diag,) = prog.instrs
    assert diag.theta0 is not None and diag.coef is not None and diag.coef.shape == (2, 16)
    cz = np.diag(qml.matrix(qml.CZ(wires=[0, 1]), wire_order=range(4)))
    np.testing.assert_allclose(np.exp(1j * diag.theta0), cz, atol=1e-15)
