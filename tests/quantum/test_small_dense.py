"""The small path's dense variant (``quantum/_small_dense.py``) against PennyLane.

The variant computes the same ``<Z>`` and gradients as the general method by other
means (derivative chains instead of partial traces), so it gets its own random
circuits of the form it takes (per-sample angle embedding, then trainable one-qubit
gates of every kind and constant gates of every kind, weights shared between gates),
values and gradients against PennyLane at 1-4 qubits, and a check that it ran. Then:
it against the general method on the simulator benchmark's layer, the calls it must
leave to the general method, and only one of the two gradients wanted.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    ExecutionPlan,
    Input,
    IQPEmbedding,
    RotationLayer,
    _dense_fourier,
    _dense_shared,
    _small_dense,
    _small_run,
    compile_circuit,
)
from quarch.quantum._dense_fourier import SineTables
from quarch.quantum._small_dense import DENSE_ROWS, DenseTables, _qualifies
from quarch.quantum._small_runtime import SmallRuntime

from ._pennylane_truth import pl_z_and_grads
from ._random import dense_form_circuit, reuploading_circuit


def _grad(t: torch.Tensor) -> torch.Tensor:
    """``t.grad``, which the backward just run through ``t`` has set."""
    assert t.grad is not None
    return t.grad


def _runtime(plan: ExecutionPlan) -> SmallRuntime:
    """The plan's small run time for batched calls (made by its first call)."""
    rts = [rt for rt in plan._small.values() if not rt.one_row]
    assert len(rts) == 1
    return rts[0]


class _Count:
    """Counts the dense variant's forward calls (``monkeypatch``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = _small_run.dense_forward

        def counted(*args: object) -> torch.Tensor:
            self.calls += 1
            return real(*args)  # type: ignore[arg-type]

        monkeypatch.setattr(_small_run, "dense_forward", counted)


def _z(plan: object, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    n = plan.n_qubits  # type: ignore[attr-defined]
    return plan.expval([f"Z{i}" for i in range(n)], x, w)  # type: ignore[attr-defined]


def _against_pennylane(
    c: Circuit, w: np.ndarray, x: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, int]:
    """Four calls of ``c`` on the small path (the node, its recording, the checked
    replay, the replay), each value and gradient against PennyLane; returns the plan's
    run time and how many calls the dense variant made."""
    n = c.n_qubits
    ref, gw, gx = pl_z_and_grads(c, w, x)
    count = _Count(monkeypatch)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    for call in range(4):
        wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = _z(plan, xt, wt)
        np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-9, err_msg=f"call {call}")
        (out * torch.arange(1, n + 1)).sum().backward()
        np.testing.assert_allclose(_grad(wt).numpy(), gw, rtol=1e-7, atol=1e-9)
        np.testing.assert_allclose(_grad(xt).numpy(), gx, rtol=1e-7, atol=1e-9)
    return _runtime(plan), count.calls


def _takes(rt: Any, rows: int) -> bool:
    """Whether a call of ``rows`` rows wanting the weights' gradient takes the variant."""
    return _qualifies(rt) and _small_dense.dense_tables(rt, rows, True) is not None


def _random_form(kind: str, seed: int) -> tuple[Circuit, np.random.Generator]:
    """The random circuit of seed ``seed`` of the PennyLane tests of ``kind`` (an
    angle embedding, an amplitude embedding, trainable diagonals, per-sample phases),
    and its generator."""
    if kind == "angle":
        rng = np.random.default_rng(7000 + seed)
        return dense_form_circuit(1 + seed % 4, rng), rng
    if kind == "amplitude":
        rng = np.random.default_rng(8000 + seed)
        return dense_form_circuit(1 + seed % 4, rng, amplitude=True), rng
    if kind == "phase":
        rng = np.random.default_rng(10000 + seed)
        return dense_form_circuit(1 + seed % 4, rng, phases=True, diagonals=seed % 3 == 0), rng
    if kind == "reupload":
        rng = np.random.default_rng(12000 + seed)
        n = 2 + seed % 2  # within the bound on segments times 2^n (REUPLOAD_SPAN)
        return reuploading_circuit(n, rng, 2 + (seed // 2) % 2), rng
    rng = np.random.default_rng(9000 + seed)
    amplitude = seed % 2 == 1
    return dense_form_circuit(2 + seed % 3, rng, amplitude=amplitude, diagonals=True), rng


@pytest.mark.parametrize(
    ("kind", "seed"), [("angle", s) for s in range(40)] + [("reupload", s) for s in range(24)]
)
def test_random_circuits_against_pennylane(
    kind: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random circuits of the variant's form: an angle embedding then a trainable part,
    or re-uploading ones (an embedding before every trainable block: per-sample
    Kronecker layers and phases between shared segments, weights shared across
    blocks)."""
    pytest.importorskip("pennylane")
    c, rng = _random_form(kind, seed)
    batch = int(rng.choice([DENSE_ROWS, 16, 40]))
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (batch, c.n_inputs))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    # the node, its recording, its check beside the replay
    assert calls == (3 if _qualifies(rt) else 0)


def test_leading_permutation_and_constant_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    """A permutation right after the embedding that no layer absorbs (a constant dense
    gate follows) goes into the product state's gather; the segment then begins with
    the constant gate."""
    pytest.importorskip("pennylane")
    c = Circuit(3).add(AngleEmbedding(3, rotation="X")).cnot(0, 1).append("ch", [2, 0])
    c.add(RotationLayer(3, ("Y", "Z"))).cnot(1, 2).append("ch", [0, 1])
    c.add(RotationLayer(3, ("X",)))
    rng = np.random.default_rng(11)
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (16, 3))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    assert calls == 3 and rt.lead == 1


@pytest.mark.parametrize(
    ("kind", "seeds", "least"),
    [
        ("angle", 40, 30),
        ("amplitude", 16, 12),
        ("diagonal", 16, 10),
        ("phase", 24, 14),
        ("reupload", 24, 18),
    ],
)
def test_most_random_circuits_take_the_variant(kind: str, seeds: int, least: int) -> None:
    """Each random form of the PennyLane tests mostly has the variant's form (with
    trainable diagonals in it, for that kind), so those tests check the variant, not
    the general method (a circuit can fall outside, e.g. a permutation after an
    amplitude embedding)."""
    took = 0
    for seed in range(seeds):
        c, _ = _random_form(kind, seed)
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        _z(plan, torch.ones(DENSE_ROWS, c.n_inputs), torch.zeros(c.n_weights))
        tab = _runtime(plan).dense
        took += isinstance(tab, DenseTables) and (
            (kind != "diagonal" or tab.n_diag > 0)
            and (kind != "phase" or tab.phase is not None)
            and (kind != "reupload" or tab.reupload is not None)
        )
    assert took >= least


@pytest.mark.parametrize("seed", range(16))
def test_amplitude_embeddings_against_pennylane(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A start state given to the node (an amplitude embedding, normalised, maybe
    padded), then the variant's shared form: values and the gradients of the weights
    and of the features (through the normalisation) against PennyLane; with too few
    rows the general method runs from the same real start state."""
    pytest.importorskip("pennylane")
    c, rng = _random_form("amplitude", seed)
    batch = int(rng.choice([DENSE_ROWS - 1, DENSE_ROWS, 24]))
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-1, 1, (batch, c.n_inputs))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    took = _takes(rt, batch)
    assert calls == (3 if took else 0)
    if took:
        assert rt.dense.start and rt.dense.real_state


@pytest.mark.parametrize(
    ("kind", "seed"), [("diagonal", s) for s in range(16)] + [("phase", s) for s in range(24)]
)
def test_diagonals_and_phases_against_pennylane(
    kind: str, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values and both gradients against PennyLane of random circuits with
    ``"diagonal"``: trainable diagonal gates in the shared segment (CRZ, CPHASE, RZZ; one
    chain per angle, the gate's derivative in its place), after an angle embedding or
    (odd seeds) an amplitude embedding; ``"phase"``: per-sample diagonal gates of inputs
    and their products after the product state (an IQP embedding's RZZ, scaled CRZ,
    CPHASE, RZZ of inputs), after an IQP or an H-RZ embedding (a phase state: no
    product state) or an angle embedding (the product state times the phases); some
    with trainable diagonals after them."""
    pytest.importorskip("pennylane")
    c, rng = _random_form(kind, seed)
    batch = int(rng.choice([DENSE_ROWS, 24]))
    span = 1.5 if kind == "phase" else 1.0
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-span, span, (batch, c.n_inputs))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    assert calls == (3 if _takes(rt, batch) else 0)


@pytest.mark.parametrize("rotation", ["Y", "Z"])  # a product state times phases; a phase state
def test_per_sample_phases_after_a_permutation(
    rotation: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CNOT that no layer absorbs between the embedding and the per-sample diagonals
    goes into the product state's gather (and the phase state's bits); the phases then
    act on the permuted state."""
    pytest.importorskip("pennylane")
    c = Circuit(3).add(AngleEmbedding(3, rotation=rotation, hadamard=rotation == "Z"))
    c.cnot(0, 1).crz(1, 2, Input(0, 2, scale=0.7)).rzz(0, 1, Input(1))
    c.append("ch", [2, 0]).add(RotationLayer(3, ("Y", "Z"))).cnot(1, 2)
    c.add(RotationLayer(3, ("X",)))
    rng = np.random.default_rng(12)
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-1.5, 1.5, (16, 3))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    assert calls == 3 and rt.lead == 1 and rt.dense.phase is not None
    assert rt.dense.phase.pure == (rotation == "Z")


def _per_wire(n: int, *gates: str) -> Circuit:
    """Per wire the named gates; ``"x"`` after a name gives it the wire's input."""
    c = Circuit(n)
    for q in range(n):
        for g in gates:
            name = g.removesuffix("(x)")
            c.append(name, [q], [Input(q, scale=0.9)] if g.endswith("(x)") else [])
    return c


@pytest.mark.parametrize(
    ("build", "form"),
    [
        # a phase gate between two H: each entry mixes a constant and e^{ia}
        (lambda: _per_wire(3, "h", "phase(x)", "h"), "product"),
        # a phase gate after H: one constant entry, one e^{ia}: a phase state
        (lambda: _per_wire(3, "h", "phase(x)"), "state"),
        # IQP, a fixed-angle CPHASE merged into its diagonal (a constant theta0) and
        # a CRZ of a product of three inputs (products of two arities)
        (
            lambda: (
                Circuit(3)
                .add(IQPEmbedding(3))
                .cphase(0, 1, 0.7)
                .crz(1, 2, Input(0, 1, 2, scale=0.8))
            ),
            "state",
        ),
    ],
    ids=["h-phase-h", "h-phase", "iqp-arities"],
)
def test_phase_forms_against_pennylane(
    build: Any, form: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("pennylane")
    c = build().add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "cnot"))
    c.add(RotationLayer(3, ("X",)))
    rng = np.random.default_rng(13)
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-1.5, 1.5, (16, 3))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    tab = rt.dense
    assert calls == 3 and not tab.real_state
    assert (tab.phase is not None and tab.phase.pure) == (form == "state")


def test_iqp_in_closed_form() -> None:
    """Two qubits: IQP (H, RZ(x_i), RZZ(x_0 x_1)), then RY(w_i), CNOT, RX(w_2) on wire
    1: ``<Z>`` and both gradients from numpy matrices (central differences)."""
    c = Circuit(2).add(IQPEmbedding(2)).ry(0, Circuit(2).new_weight())
    w1, w2 = c.new_weight(), c.new_weight()
    c.ry(1, w1).cnot(0, 1).rx(1, w2)
    eye, z = np.eye(2), np.diag([1.0, -1.0])
    h = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    cnot = np.eye(4)[[0, 1, 3, 2]]

    def rz(t: float) -> np.ndarray:
        return np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)])

    def ry(t: float) -> np.ndarray:
        return np.array([[np.cos(t / 2), -np.sin(t / 2)], [np.sin(t / 2), np.cos(t / 2)]])

    def rx(t: float) -> np.ndarray:
        return np.array(
            [[np.cos(t / 2), -1j * np.sin(t / 2)], [-1j * np.sin(t / 2), np.cos(t / 2)]]
        )

    def expz(w: np.ndarray, x: np.ndarray) -> np.ndarray:
        zz = np.exp(-0.5j * x[0] * x[1] * np.array([1, -1, -1, 1]))  # RZZ's phases
        psi = np.diag(zz) @ np.kron(rz(x[0]) @ h, rz(x[1]) @ h) @ np.array([1, 0, 0, 0])
        psi = np.kron(eye, rx(w[2])) @ cnot @ np.kron(ry(w[0]), ry(w[1])) @ psi
        return np.array([np.vdot(psi, o @ psi).real for o in (np.kron(z, eye), np.kron(eye, z))])

    rng = np.random.default_rng(3)
    w0, x0 = rng.uniform(-3, 3, 3), rng.uniform(-2, 2, (DENSE_ROWS, 2))
    ref = np.array([expz(w0, r) for r in x0])
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    w, x = torch.tensor(w0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    out = _z(plan, x, w)
    (out * torch.tensor([1.0, 2.0])).sum().backward()
    tab = _runtime(plan).dense
    assert isinstance(tab, DenseTables) and tab.phase is not None and tab.phase.pure
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=1e-12)
    with torch.no_grad():  # a validation call: the phases without any derivative
        np.testing.assert_allclose(
            _z(plan, x.detach(), w.detach()).numpy(), ref, rtol=0, atol=1e-12
        )

    def loss(wv: np.ndarray, xv: np.ndarray) -> float:
        return float(sum((expz(wv, r) * [1.0, 2.0]).sum() for r in xv))

    eps = 1e-6
    for v, grad, other in ((w0, _grad(w), None), (x0, _grad(x), w0)):
        num = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            up, down = v.copy(), v.copy()
            up[i] += eps
            down[i] -= eps
            args = (up, x0) if other is None else (w0, up)
            args_d = (down, x0) if other is None else (w0, down)
            num[i] = (loss(*args) - loss(*args_d)) / (2 * eps)
        np.testing.assert_allclose(grad.numpy(), num, atol=1e-7)


def test_the_phase_state_of_h_and_rz() -> None:
    """H then RZ(s x) on each wire: ``phi_k = 2^(-n/2) e^{i (x @ P)_k}`` with ``P[q, k]
    = s (bit_q(k) - 1/2)`` (RZ's half angles), nothing per wire; RX then RZ is no phase
    state (its entries' moduli change with the angle)."""
    from quarch.quantum._dense_diagonal import phase_state

    c = Circuit(2)
    for q, s in enumerate((1.0, 0.5)):
        c.h(q).rz(q, Input(q, scale=s))
    plan = compile_circuit(c.add(RotationLayer(2, ("Y",))), path="small")
    _z(plan, torch.zeros(DENSE_ROWS, 2), torch.zeros(c.n_weights))
    p, const = phase_state(_runtime(plan))  # type: ignore[misc]
    bits = np.array([[(k >> (1 - q)) & 1 for k in range(4)] for q in range(2)])
    np.testing.assert_allclose(p, np.array([[1.0], [0.5]]) * (bits - 0.5), rtol=0, atol=1e-12)
    np.testing.assert_allclose(const, np.full(4, 0.5), rtol=0, atol=1e-12)
    c = Circuit(2)
    for q in range(2):
        c.rx(q, Input(q)).rz(q, Input(q))
    plan = compile_circuit(c.add(RotationLayer(2, ("Y",))), path="small")
    _z(plan, torch.zeros(DENSE_ROWS, 2), torch.zeros(c.n_weights))
    assert phase_state(_runtime(plan)) is None


def test_diagonals_in_closed_form() -> None:
    """A CRZ between two trainable RY on its target, after an RX embedding: ``<Z>``
    against the gates' matrices written out in numpy."""
    rng = np.random.default_rng(1)
    c = Circuit(2).add(AngleEmbedding(2, rotation="X"))
    a, b, g = c.new_weight(), c.new_weight(), c.new_weight()
    c.ry(1, a).crz(0, 1, g).ry(1, b)
    w = rng.uniform(-3, 3, 3)
    x = rng.uniform(-3, 3, (DENSE_ROWS, 2))
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    got = _z(plan, torch.tensor(x), torch.tensor(w)).numpy()
    assert _runtime(plan).dense.n_diag == 1

    def rx(t: float) -> np.ndarray:
        return np.array(
            [[np.cos(t / 2), -1j * np.sin(t / 2)], [-1j * np.sin(t / 2), np.cos(t / 2)]]
        )

    def ry(t: float) -> np.ndarray:
        return np.array([[np.cos(t / 2), -np.sin(t / 2)], [np.sin(t / 2), np.cos(t / 2)]])

    crz = np.diag([1, 1, np.exp(-0.5j * w[2]), np.exp(0.5j * w[2])])
    z = np.diag([1.0, -1.0])
    for row, (x0, x1) in enumerate(x):
        psi = np.kron(rx(x0), rx(x1))[:, 0]
        psi = np.kron(np.eye(2), ry(w[1])) @ crz @ np.kron(np.eye(2), ry(w[0])) @ psi
        want = [
            np.vdot(psi, np.kron(z, np.eye(2)) @ psi).real,
            np.vdot(psi, np.kron(np.eye(2), z) @ psi).real,
        ]
        np.testing.assert_allclose(got[row], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("gate", ["cz", "cphase"])  # phases +-1, or e^{0.7i}
@pytest.mark.parametrize("fourier", [True, False], ids=["fourier", "chains"])
def test_a_constant_diagonal_no_layer_absorbs(
    fourier: bool, gate: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CZ or a fixed-angle CPHASE between two constant dense gates stays a constant
    diagonal in the segment: its phases multiply the columns of every chain (and the
    trigonometric form's terms), against PennyLane; its host copy is the device's."""
    pytest.importorskip("pennylane")
    if not fourier:
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 0)
    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y",))).append("ch", [0, 1])
    c.append(gate, [0, 1], [0.7] if gate == "cphase" else [])
    c.append("ch", [1, 0]).add(RotationLayer(2, ("Z", "Y")))
    rng = np.random.default_rng(4)
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (DENSE_ROWS, 2))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    tab = rt.dense
    assert calls == 3 and (tab.fourier is not None) == fourier
    kinds = [k for k, _ in tab.segment]
    assert "p" in kinds and "p" in [k for k, _ in tab.host.segment]
    for (kind, a), (_, b) in zip(tab.host.segment, tab.segment, strict=True):
        if kind == "p":
            np.testing.assert_array_equal(a, b.numpy())


@pytest.mark.parametrize(
    ("first", "kinds"),
    [
        (lambda c: c.crz(0, 1, c.new_weight()), ["d", "k"]),
        (lambda c: c.cz(0, 1).append("ch", [0, 1]), ["p", "c", "k"]),
    ],
    ids=["trainable", "constant"],
)
@pytest.mark.parametrize("fourier", [True, False], ids=["fourier", "chains"])
def test_a_diagonal_first_in_the_segment(
    first: Any, kinds: list[str], fourier: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A diagonal right after the embedding begins ``U^T`` (a diagonal matrix per
    chain), against PennyLane."""
    pytest.importorskip("pennylane")
    if not fourier:
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 0)
    c = Circuit(2).add(AngleEmbedding(2))
    first(c)
    c.add(RotationLayer(2, ("Y", "Z")))
    rng = np.random.default_rng(6)
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (DENSE_ROWS, 2))
    rt, calls = _against_pennylane(c, w, x, monkeypatch)
    tab = rt.dense
    assert calls == 3 and [k for k, _ in tab.segment] == kinds
    # the trigonometric form does not take trainable diagonals (half angles)
    assert (tab.fourier is not None) == (fourier and "d" not in kinds)


def _amplitude(n: int, layers: int, rotations: tuple[str, ...] = ("Y", "Z")) -> Circuit:
    c = Circuit(n).add(AmplitudeEmbedding(2**n, normalize=True))
    for _ in range(layers):
        c.add(RotationLayer(n, rotations)).add(EntanglingLayer(n, "ring", "cnot"))
    return c


class TestFromAStartState:
    def test_equals_the_general_method_single_precision(self) -> None:
        """complex64 (a float32 start state): the variant against the general method
        on the same plan, values and both gradients, with and without ``no_grad``."""
        c = _amplitude(3, 2, ("X", "Y", "Z"))
        rng = np.random.default_rng(5)
        w0, x0 = rng.uniform(-3, 3, c.n_weights), rng.uniform(-1, 1, (32, 8))
        got = []
        for dense in (True, False):
            plan = compile_circuit(c, dtype=torch.complex64, path="small")
            _z(plan, torch.ones(32, 8), torch.zeros(c.n_weights))
            rt = _runtime(plan)
            assert isinstance(rt.dense, DenseTables) and rt.dense.start
            if not dense:
                rt.dense = False
            w = torch.tensor(w0, dtype=torch.float32, requires_grad=True)
            x = torch.tensor(x0, dtype=torch.float32, requires_grad=True)
            out = _z(plan, x, w)
            assert out.dtype == torch.float32
            (out * torch.arange(1, 4)).sum().backward()
            with torch.no_grad():
                quiet = _z(plan, x, w)
            got.append((out.detach(), quiet, w.grad, x.grad))
        for a, b in zip(*got, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=2e-5)

    def test_the_choice_of_rows_and_work(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Its own bound (:data:`DENSE_START_WORK`, lower than the product state's)."""
        plan = compile_circuit(_amplitude(4, 4), path="small")
        _z(plan, torch.ones(DENSE_ROWS, 16), torch.zeros(plan.n_weights))
        tab = _runtime(plan).dense
        assert isinstance(tab, DenseTables) and tab.start
        assert tab.work < _small_dense.DENSE_WORK + _small_dense.DENSE_WORK_PER_ROW * 32
        assert _took(_amplitude(4, 4), 256, monkeypatch) == 0
        assert _took(_amplitude(4, 4), 1024, monkeypatch) == 1
        assert _took(_amplitude(4, 3, ("X", "Y", "Z")), DENSE_ROWS, monkeypatch) == 0
        assert _took(_amplitude(4, 3, ("X", "Y", "Z")), 256, monkeypatch) == 1
        assert _took(_amplitude(4, 3), DENSE_ROWS, monkeypatch) == 1
        assert _took(_amplitude(2, 2), DENSE_ROWS - 1, monkeypatch) == 0

    def test_a_complex_start_state_runs_the_general_method(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``initial_state`` (complex) is not the variant's; the amplitude embedding's
        real start state is the same state: the same values either way."""
        rng = np.random.default_rng(2)
        feats = torch.tensor(rng.uniform(-1, 1, (16, 8)))
        w = torch.tensor(rng.uniform(-3, 3, 12))
        body = Circuit(3)
        for _ in range(2):
            body.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "cnot"))
        count = _Count(monkeypatch)
        plan = compile_circuit(body, dtype=torch.complex128, path="small")
        state = (feats / feats.norm(dim=1, keepdim=True)).to(torch.complex128)
        z = plan.expval(["Z0", "Z1", "Z2"], None, w, initial_state=state)
        assert count.calls == 0
        amp = compile_circuit(_amplitude(3, 2), dtype=torch.complex128, path="small")
        torch.testing.assert_close(_z(amp, feats, w), z, rtol=0, atol=1e-12)
        assert count.calls == 1

    def test_a_leading_permutation_runs_the_general_method(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        c = Circuit(2).add(AmplitudeEmbedding(4)).swap(0, 1).append("ch", [0, 1])
        c.add(RotationLayer(2, ("Y",)))
        plan = compile_circuit(c, path="small")
        _z(plan, torch.ones(DENSE_ROWS, 4), torch.zeros(c.n_weights))
        assert _runtime(plan).lead and not _qualifies(_runtime(plan))


def _layered(n: int, layers: int, rotation: str = "Y", entangler: str = "cnot") -> Circuit:
    c = Circuit(n).add(AngleEmbedding(n, rotation=rotation))
    for _ in range(layers):
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", entangler))
    return c


def _reuploaded(n: int, layers: int, embedding: str = "Y", entangler: str = "cnot") -> Circuit:
    """``_layered`` with the embedding (an angle one, or ``"iqp"``) before every layer."""
    c = Circuit(n)
    for _ in range(layers):
        c.add(IQPEmbedding(n) if embedding == "iqp" else AngleEmbedding(n, rotation=embedding))
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", entangler))
    return c


@pytest.mark.parametrize("embedding", ["Y", "iqp"])
def test_which_re_uploading_programs_take_the_variant(embedding: str) -> None:
    """With per-sample phases between the segments (IQP on two wires or more), segments
    times ``2^n`` up to :data:`REUPLOAD_SPAN` take the variant and one segment more does
    not, and the values and gradients equal the general method's; without (an angle
    embedding, IQP on one wire: no pairs) none does."""
    for n in (1, 2, 3):
        most = _small_dense.REUPLOAD_SPAN // 2**n
        for layers in (2, most, most + 1):
            c = _reuploaded(n, layers, embedding)
            plan = compile_circuit(c, dtype=torch.complex128, path="small")
            _z(plan, torch.zeros(32, c.n_inputs), torch.zeros(c.n_weights))
            tab = _runtime(plan).dense
            takes = embedding == "iqp" and n > 1 and layers <= most
            assert isinstance(tab, DenseTables) == takes, (n, layers)
            if takes and layers == most:
                assert tab.reupload is not None and len(tab.reupload.parts) == layers - 1
                # the chains, never the trigonometric form (module docstring)
                assert tab.fourier is None and all(p.fourier is None for p in tab.reupload.parts)
                for a, b in zip(_both(c, 32, dense=True), _both(c, 32, dense=False), strict=True):
                    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def _re_uploaded_around(middle: Any) -> Circuit:
    """IQP on two wires and a layer of RY, ``middle(circuit)`` (per-sample gates: with
    phases, so that only the form they break can refuse them), a layer of RY."""
    c = Circuit(2).add(IQPEmbedding(2)).add(RotationLayer(2, ("Y",)))
    return middle(c).add(RotationLayer(2, ("Y",)))


def _both(c: Circuit, batch: int, seed: int = 0, *, dense: bool) -> tuple[np.ndarray, ...]:
    """``<Z>`` and gradients with the variant (``dense``) or the general method."""
    rng = np.random.default_rng(seed)
    w = torch.tensor(rng.uniform(-3, 3, c.n_weights), requires_grad=True)
    x = torch.tensor(rng.uniform(-3, 3, (batch, c.n_inputs)), requires_grad=True)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    _z(plan, x.detach()[:DENSE_ROWS], w.detach())
    if not dense:
        _runtime(plan).dense = False
    outs = []
    for _ in range(3):
        w.grad = x.grad = None
        with torch.no_grad():  # the forward alone (no autograd node): the same numbers,
            quiet = _z(plan, x, w)  # the variant's to rounding (no derivative rows made)
        out = _z(plan, x, w)
        assert quiet.grad_fn is None
        if dense:
            torch.testing.assert_close(quiet, out.detach(), rtol=0, atol=1e-13)
        else:
            assert torch.equal(quiet, out.detach())
        (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
        outs.append((out.detach().numpy(), _grad(w).numpy().copy(), _grad(x).numpy().copy()))
    for later in outs[1:]:  # replays compute the same numbers bit for bit
        for a, b in zip(outs[0], later, strict=True):
            np.testing.assert_array_equal(a, b)
    return outs[0]


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
def test_equals_the_general_method(n: int, layers: int, rotation: str) -> None:
    c = _layered(n, layers, rotation, "cz" if layers == 3 else "cnot")
    for batch in (DENSE_ROWS, 64):
        got = _both(c, batch, dense=True)
        want = _both(c, batch, dense=False)
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def _took(c: Circuit, batch: int, monkeypatch: pytest.MonkeyPatch, words: str = "Z") -> int:
    count = _Count(monkeypatch)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    w = torch.zeros(c.n_weights, requires_grad=True)
    x = torch.ones(batch, max(c.n_inputs, 1))  # an amplitude embedding's norm is not 0
    plan.expval([f"{words}{i}" for i in range(c.n_qubits)], x, w).sum().backward()
    return count.calls


class TestWhereTheGeneralMethodRuns:
    def test_the_choice_of_rows_and_work(self, monkeypatch: pytest.MonkeyPatch) -> None:
        c = _layered(2, 2)
        assert _took(c, DENSE_ROWS, monkeypatch) == 1
        assert _took(c, DENSE_ROWS - 1, monkeypatch) == 0
        plan = compile_circuit(_layered(4, 4), path="small")
        _z(plan, torch.zeros(DENSE_ROWS, 4), torch.zeros(plan.n_weights))
        tab = _runtime(plan).dense
        assert isinstance(tab, DenseTables)
        bound = _small_dense.DENSE_WORK + _small_dense.DENSE_WORK_PER_ROW * DENSE_ROWS
        assert tab.work > bound  # n = 4, L = 4: the chains' work decides by the rows
        assert _took(_layered(4, 4), DENSE_ROWS, monkeypatch) == 0
        assert _took(_layered(4, 4), 256, monkeypatch) == 1
        assert _took(_layered(4, 6), 256, monkeypatch) == 0
        assert _took(_layered(4, 6), 1024, monkeypatch) == 1
        assert _took(_layered(4, 2), DENSE_ROWS, monkeypatch) == 1

    def test_calls_without_the_weights_gradient_ignore_the_chains_work(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Under ``no_grad``, or wanting only the inputs' gradient, a call makes
        ``U^T`` alone, so the chains' bound does not apply (the rows' does); the
        values and the inputs' gradient are the general method's."""
        c = _layered(4, 6)
        assert _took(c, 256, monkeypatch) == 0  # over the chains' bound
        rng = np.random.default_rng(0)
        w = torch.tensor(rng.uniform(-3, 3, c.n_weights))
        x0 = rng.uniform(-3, 3, (DENSE_ROWS, 4))
        got = []
        for dense in (True, False):
            plan = compile_circuit(c, dtype=torch.complex128, path="small")
            _z(plan, torch.zeros(DENSE_ROWS, 4), w)
            count = _Count(monkeypatch)
            if not dense:
                _runtime(plan).dense = False
            with torch.no_grad():
                quiet = _z(plan, torch.tensor(x0), w)
                few = _z(plan, torch.tensor(x0[: DENSE_ROWS - 1]), w)
            x = torch.tensor(x0, requires_grad=True)
            out = _z(plan, x, w)
            (out * torch.arange(1, 5)).sum().backward()
            assert count.calls == (2 if dense else 0)  # not the call of too few rows
            got.append((quiet, few, out.detach(), x.grad))
        for a, b in zip(*got, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-12)

    @pytest.mark.parametrize(
        "circuit",
        [
            pytest.param(
                lambda: (
                    Circuit(2)
                    .add(AngleEmbedding(2))
                    .add(RotationLayer(2, ("Y",)))
                    .crx(0, 1, Circuit(2).new_weight())
                    .add(RotationLayer(2, ("Y",)))
                ),
                id="trainable-non-diagonal-entangler",
            ),
            pytest.param(
                lambda: _re_uploaded_around(lambda c: c.rzz(0, 1, Input(0, 1)).ry(0, Input(0, 1))),
                id="input-products-in-a-re-uploaded-slot",
            ),
            pytest.param(
                lambda: _re_uploaded_around(
                    lambda c: c.cnot(0, 1).rzz(0, 1, Input(0, 1)).ry(0, Input(0)).ry(0, Input(1))
                ),
                id="a-re-uploaded-row-two-slots-deep",
            ),
            pytest.param(
                lambda: _re_uploaded_around(
                    lambda c: c.cnot(0, 1).add(IQPEmbedding(2)).crx(0, 1, 0.7).add(IQPEmbedding(2))
                ),
                id="a-shared-segment-without-a-layer",
            ),
            pytest.param(
                lambda: (
                    Circuit(2)
                    .ry(0, Input(0))
                    .ry(0, Input(1))
                    .cnot(0, 1)
                    .add(RotationLayer(2, ("Y",)))
                ),
                id="two-input-slots-on-a-wire",
            ),
            pytest.param(
                lambda: (
                    Circuit(2)
                    .ry(0, Input(0))
                    .cnot(0, 1)
                    .ry(1, Input(1))
                    .add(RotationLayer(2, ("Y",)))
                ),
                id="input-after-an-entangler",
            ),
        ],
    )
    def test_programs_of_other_forms(
        self, circuit: object, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert _took(circuit(), 64, monkeypatch) == 0  # type: ignore[operator]

    @pytest.mark.parametrize(
        "circuit",
        [
            pytest.param(lambda: _layered(5, 1), id="five-qubits"),
            pytest.param(lambda: Circuit(2).add(AngleEmbedding(2)).cnot(0, 1), id="no-weights"),
            pytest.param(
                lambda: (
                    Circuit(2)
                    .add(AmplitudeEmbedding(4, normalize=True))
                    .add(RotationLayer(2, ("Y",)))
                    .crx(0, 1, Circuit(2).new_weight())
                ),
                id="amplitude-then-a-trainable-non-diagonal-gate",
            ),
            pytest.param(
                lambda: Circuit(2).ry(0, Input(0, 1)).ry(1, Input(1)).add(RotationLayer(2, ("Y",))),
                id="a-product-of-inputs-in-a-slot",
            ),
            pytest.param(
                lambda: (
                    Circuit(2)
                    .ry(0, Input(0, 1))
                    .rx(1, Input(0, 1, scale=0.5))
                    .add(RotationLayer(2, ("Y",)))
                ),
                id="products-of-inputs-in-every-slot",
            ),
            pytest.param(
                lambda: (
                    Circuit(2)
                    .ry(0, Input(0, 1))
                    .ry(1, Input(1))
                    .rzz(0, 1, Input(0, 1))
                    .add(RotationLayer(2, ("Y",)))
                ),
                id="a-product-of-inputs-in-a-slot-and-in-a-phase",
            ),
            pytest.param(
                lambda: (
                    Circuit(2)
                    .add(AngleEmbedding(2))
                    .add(RotationLayer(2, ("Y",)))
                    .append("ch", [0, 1])
                    .cnot(0, 1)
                    .append("ch", [1, 0])
                    .add(RotationLayer(2, ("Z", "Y")))
                ),
                id="a-permutation-no-layer-absorbs",
            ),
            pytest.param(
                lambda: (
                    Circuit(2)
                    .add(RotationLayer(2, ("Y",)))
                    .cnot(0, 1)
                    .add(RotationLayer(2, ("Y",)))
                ),
                id="no-inputs",
            ),
        ],
    )
    def test_more_forms(self, circuit: object, monkeypatch: pytest.MonkeyPatch) -> None:
        c = circuit()  # type: ignore[operator]
        count = _Count(monkeypatch)
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        w = torch.zeros(c.n_weights, requires_grad=True)
        x = torch.rand(64, c.n_inputs)
        plan.expval([f"Z{i}" for i in range(c.n_qubits)], x, w).sum().backward()
        assert count.calls == 0

    def test_per_sample_weights(self, monkeypatch: pytest.MonkeyPatch) -> None:
        c = _layered(2, 1)
        count = _Count(monkeypatch)
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        w = torch.zeros(64, c.n_weights, requires_grad=True)
        plan.expval(["Z0", "Z1"], torch.rand(64, 2), w).sum().backward()
        assert count.calls == 0

    def test_a_state_or_non_diagonal_words(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert _took(_layered(2, 2), 64, monkeypatch, words="X") == 0
        count = _Count(monkeypatch)
        plan = compile_circuit(_layered(2, 2), path="small")
        plan.state(torch.zeros(64, 2), torch.zeros(plan.n_weights))
        assert count.calls == 0


@pytest.mark.parametrize("rotation", ["Y", "Z", "reupload"])  # real, complex, re-uploading
@pytest.mark.parametrize("wanted", ["weights", "inputs"])
def test_one_gradient_wanted(wanted: str, rotation: str, monkeypatch: pytest.MonkeyPatch) -> None:
    c = _reuploaded(3, 2, "iqp", "crz") if rotation == "reupload" else _layered(3, 2, rotation)
    rng = np.random.default_rng(3)
    w0, x0 = rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (16, 3))
    ref, gw, gx = _both(c, 16, seed=3, dense=False)
    count = _Count(monkeypatch)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    for _ in range(4):
        w = torch.tensor(w0, requires_grad=wanted == "weights")
        x = torch.tensor(x0, requires_grad=wanted == "inputs")
        out = _z(plan, x, w)
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=1e-12)
        (out * torch.arange(1, 4)).sum().backward()
        got = w.grad if wanted == "weights" else x.grad
        other = x.grad if wanted == "weights" else w.grad
        assert got is not None
        np.testing.assert_allclose(
            got.numpy(), gw if wanted == "weights" else gx, rtol=0, atol=1e-12
        )
        assert other is None
    assert count.calls == 3


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize(
    "build",
    [
        lambda: _layered(3, 2),
        lambda: _layered(3, 2, entangler="crz"),  # trainable diagonals
        lambda: _amplitude(3, 2),  # a start state
        lambda: Circuit(3).add(IQPEmbedding(3)).add(RotationLayer(3, ("Y", "Z"))),  # phases
        lambda: _reuploaded(2, 4, "iqp", "crz"),  # per-sample layers and phases, segments
        lambda: _reuploaded(3, 2, "iqp"),
    ],
    ids=["angle", "diagonals", "amplitude", "iqp", "reupload", "reupload-iqp"],
)
def test_cuda_equals_cpu(build: Any) -> None:
    device = torch.device(os.environ.get("QUARCH_TEST_DEVICE", "cuda"))
    c = build()
    rng = np.random.default_rng(5)
    w0, x0 = rng.uniform(-3, 3, c.n_weights), rng.uniform(-1, 1, (64, c.n_inputs))
    res = []
    for dev in (torch.device("cpu"), device):
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        for _ in range(5):  # through recording, check and (on CUDA) graph capture
            w = torch.tensor(w0, requires_grad=True, device=dev)
            x = torch.tensor(x0, requires_grad=True, device=dev)
            out = _z(plan, x, w)
            (out * torch.arange(1, 4, device=dev)).sum().backward()
        assert isinstance(_runtime(plan).dense, DenseTables)
        res.append([t.detach().cpu().numpy() for t in (out, _grad(w), _grad(x))])
    for a, b in zip(*res, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_single_precision(seed: int) -> None:
    """complex64 (the default of a QuantumLayer) stays at float32's rounding against
    complex128: the derivative chains' products add no error of their own."""
    rng = np.random.default_rng(9000 + seed)
    if seed < 6:
        c = dense_form_circuit(1 + seed % 4, rng, phases=seed % 2 == 1)
    else:  # re-uploading
        c = reuploading_circuit(2, rng, 3)
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (32, c.n_inputs))
    res = []
    for dtype, real in ((torch.complex64, torch.float32), (torch.complex128, torch.float64)):
        plan = compile_circuit(c, dtype=dtype, path="small")
        wt = torch.tensor(w, dtype=real, requires_grad=True)
        xt = torch.tensor(x, dtype=real, requires_grad=True)
        out = _z(plan, xt, wt)
        (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
        res.append([t.detach().double().numpy() for t in (out, _grad(wt), _grad(xt))])
    for a, b in zip(*res, strict=True):  # (most of these circuits take the variant)
        np.testing.assert_allclose(a, b, atol=1e-5 * max(1.0, float(np.abs(b).max())))


def _tables(c: Circuit) -> DenseTables:
    plan = compile_circuit(c, path="small")
    _z(plan, torch.zeros(DENSE_ROWS, c.n_inputs), torch.zeros(c.n_weights))
    tab = _runtime(plan).dense
    assert isinstance(tab, DenseTables)
    return tab


@pytest.mark.parametrize("built", [True, False], ids=["form", "no-form"])
def test_the_form_built_is_the_form_run(built: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the trigonometric form was built the chains never run (forward with and
    without derivatives), and where it was not they do."""
    if not built:
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 0)
    chains = []
    real = _dense_shared._chains

    def counted(*args: Any) -> Any:
        chains.append(args[3])
        return real(*args)

    monkeypatch.setattr(_dense_shared, "_chains", counted)
    tab = _tables(_layered(2, 1))
    assert (tab.fourier is not None) == built
    plan = compile_circuit(_layered(2, 1), path="small")
    w = torch.zeros(plan.n_weights, requires_grad=True)
    _z(plan, torch.ones(DENSE_ROWS, 2), w).sum().backward()
    with torch.no_grad():
        _z(plan, torch.ones(DENSE_ROWS, 2), w)
    assert chains == ([] if built else [False, True, False])


def _complex_embedding(n: int) -> Circuit:
    """Per wire H, T, RY(x): a complex product state that is not a phase state."""
    c = Circuit(n)
    for q in range(n):
        c.h(q).append("t", [q]).ry(q, Input(q))
    return c


def test_which_form_each_embedding_takes() -> None:
    """RY's states are real; RX's real up to the phases (1, -i) per wire, which go
    into U^T's rows; RZ after H is a phase state (no product state, its constants
    1/sqrt(2) per wire in U^T's rows); H, T, RY is complex and not a phase state; a
    CNOT ring folds into the layers' gather without phases, a CZ ring with them."""
    y, x = _tables(_layered(2, 1, "Y")), _tables(_layered(2, 1, "X"))
    assert y.real_state and y.row_phase is None
    assert x.real_state and x.row_phase is not None
    np.testing.assert_allclose(
        x.row_phase.flatten().numpy(), np.kron([1, -1j], [1, -1j]), atol=1e-7
    )
    hz = Circuit(2).add(AngleEmbedding(2, rotation="Z", hadamard=True))
    z = _tables(hz.add(RotationLayer(2, ("Y",))))
    assert not z.real_state and z.phase is not None and z.phase.pure
    assert z.row_phase is not None
    np.testing.assert_allclose(z.row_phase.flatten().numpy(), np.full(4, 0.5), atol=1e-7)
    htr = _tables(_complex_embedding(2).add(RotationLayer(2, ("Y",))))
    assert not htr.real_state and htr.phase is None and htr.row_phase is None
    assert y.kron_phase is None
    assert _tables(_layered(2, 1, entangler="cz")).kron_phase is not None


def test_work_is_the_chains_multiply_adds() -> None:
    """``work``: chains x layers x (d^3 products + n d^2 gathered factors); n = 4, L = 2
    is the bound's documented cell (174,080); n = 2, L = 1 has 5 chains (4 slots)."""
    assert _tables(_layered(4, 2)).work == 17 * 2 * 16**3 + 4 * 17 * 2 * 16**2 == 174080
    assert _tables(_layered(2, 1)).work == 5 * 1 * 4**3 + 2 * 5 * 1 * 4**2
    # and d^2 column products per trainable diagonal: n = 3, L = 2 of CRZ rings: 12
    # slots and 3 angles in the segment (the last ring is dropped: |psi|^2 does not see it)
    tab = _tables(_layered(3, 2, entangler="crz"))
    assert tab.n_diag == 1 and tab.n_chains == 16
    assert tab.work == 16 * (2 * 8**3 + 3 * 2 * 8**2 + 1 * 8**2)


def test_a_phase_gate_after_the_embedding_keeps_the_state_real() -> None:
    """RX then T: wire vectors (cos, -i e^{i pi/4} sin), real up to the phases (1,
    e^{-i pi/4}), whose squares are not real (the phase test must divide, not multiply)."""
    c = Circuit(2)
    for q in range(2):
        c.rx(q, Input(q)).append("t", [q])
    tab = _tables(c.add(RotationLayer(2, ("Y",))))
    assert tab.real_state and tab.row_phase is not None


def test_five_qubits_without_entanglers_stay_general(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only registers of at most four qubits (the range the variant was measured on)
    take it: a wider one's program makes every leading layer part of its product state."""
    c = Circuit(5).add(AngleEmbedding(5)).add(RotationLayer(5, ("Y",)))
    assert _took(c, 64, monkeypatch) == 0
    # constant dense gates on every wire first: one product-state layer and a segment
    # of the variant's form
    c = Circuit(5).add(AngleEmbedding(5))
    for a, b in ((0, 1), (2, 3), (4, 0)):
        c.append("ch", [a, b])
    c.add(RotationLayer(5, ("Y",)))
    assert _took(c, 64, monkeypatch) == 0


def _with_and_without_fourier(
    c: Circuit, batch: int, seed: int
) -> tuple[list[np.ndarray], list[np.ndarray], SineTables | None]:
    """``<Z>`` and gradients with the trigonometric form (where the tables have it) and
    with the chains (the same tables, ``fourier = None``), complex128."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (batch, c.n_inputs))
    res: list[list[np.ndarray]] = []
    fourier: SineTables | None = None
    for use in (True, False):
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        _z(plan, torch.tensor(x), torch.tensor(w))
        tab = _runtime(plan).dense
        if isinstance(tab, DenseTables):
            if use:
                fourier = tab.fourier
            else:
                tab.fourier = None
                _runtime(plan).replays.entries.clear()
        wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = _z(plan, xt, wt)
        (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
        res.append([out.detach().numpy(), _grad(wt).numpy(), _grad(xt).numpy()])
    return res[0], res[1], fourier


def test_the_trigonometric_form_equals_the_chains() -> None:
    """The random circuits of the PennyLane test (every one-angle gate, ``rot``, ``u3``,
    shared weights, constant angles, constant gates folded in, real and complex product
    states): where their tables have the trigonometric form, it gives the chains'
    values and gradients; most of the 1-2 qubit ones have it."""
    took = 0
    for seed in range(40):
        rng = np.random.default_rng(7000 + seed)
        c = dense_form_circuit(1 + seed % 4, rng)
        got, want, fourier = _with_and_without_fourier(c, 16, seed)
        took += fourier is not None
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11, err_msg=f"seed {seed}")
    assert took >= 12  # 18 with the bound of session 16


@pytest.mark.parametrize(("n", "layers"), [(1, 1), (1, 3), (2, 1), (2, 2), (3, 1)])
@pytest.mark.parametrize("rotation", ["X", "Y", "Z"])
def test_the_trigonometric_form_on_the_benchmark_layer(n: int, layers: int, rotation: str) -> None:
    """The simulator benchmark's layer (RX, RY, or H + RZ embedding; RY, RZ layers; CNOT
    ring) where the form is taken: the chains' numbers, and its size: rotations have no
    constant term, so 2^k sines for k angles and no bias."""
    got, want, fourier = _with_and_without_fourier(_layered(n, layers, rotation), 32, 3)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)
    assert fourier is not None
    k = 2 * n * layers
    assert fourier.coef.shape[1] == 2**k
    assert fourier.work == (1 + k) * 2 * 4**n * 2**k
    assert not fourier.bias.any()


def test_one_rotation_in_closed_form() -> None:
    """One qubit, ``RY(x)`` then ``RY(w)``: ``U^T = cos(w/2) I + sin(w/2) [[0, 1], [-1,
    0]]``, one pair of sines of ``w/2``; ``dU^T/dw`` doubled (the chains' convention:
    the backward's factor 2 sits in the constants) is ``-sin I + cos [[0, 1], [-1,
    0]]``. A phase shift has a constant term: a bias, and 3 - 1 sines."""
    tab = _tables(Circuit(1).ry(0, Input(0)).add(RotationLayer(1, ("Y",))))
    f = tab.fourier
    assert f is not None and f.coef.shape == (2 * 8, 2)
    np.testing.assert_allclose(f.angles.flatten().numpy(), [0.5, 0.5])
    np.testing.assert_allclose(f.shift.numpy(), [np.pi / 2, 0], atol=1e-7)
    for wv in (0.3, -2.0):
        m = (f.bias + f.coef @ torch.sin(f.angles @ torch.tensor([wv]) + f.shift)).double()
        u = torch.view_as_complex(m[:8].view(2, 2, 2)).numpy()
        c, s = np.cos(wv / 2), np.sin(wv / 2)
        np.testing.assert_allclose(u, [[c, s], [-s, c]], atol=1e-6)
        du = torch.view_as_complex(m[8:].view(2, 2, 2)).numpy()
        np.testing.assert_allclose(du, [[-s, c], [-c, -s]], atol=1e-6)
    p = Circuit(1).ry(0, Input(0))
    p.append("phase", [0], [p.new_weight()])
    f = _tables(p).fourier
    assert f is not None and f.coef.shape[1] == 2 and f.bias.abs().max() > 0.5


def test_the_trigonometric_form_where_it_pays() -> None:
    """Taken up to FOURIER_WORK multiply-adds (n = 2, L = 2: 73,728; n = 2, five RY
    layers: 360,448), declined above (n = 3, three RY layers: 655,360; n = 4, L = 1:
    1,179,648), the cells ``benchmarks/dense_variant.py --fourier`` measured."""
    assert _tables(_layered(2, 2)).fourier.work == 73728  # type: ignore[union-attr]

    def ry_layers(n: int, layers: int) -> Circuit:
        c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
        for _ in range(layers):
            c.add(RotationLayer(n, ("Y",))).add(EntanglingLayer(n, "ring", "cnot"))
        return c

    assert _tables(ry_layers(2, 5)).fourier.work == 360448  # type: ignore[union-attr]
    assert _tables(ry_layers(3, 3)).fourier is None
    assert _tables(_layered(4, 1)).fourier is None


def _product_both(c: Circuit, seed: int) -> tuple[list, list, bool]:
    """``<Z>`` and gradients with the product state as a trigonometric polynomial
    (where the tables have it) and by the gather (``product = None``), complex128."""
    rng = np.random.default_rng(seed)
    w, x = rng.uniform(-3, 3, c.n_weights), rng.uniform(-3, 3, (24, c.n_inputs))
    res, took = [], False
    for use in (True, False):
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        _z(plan, torch.tensor(x), torch.tensor(w))
        rt = _runtime(plan)
        tab = rt.dense
        assert isinstance(tab, DenseTables)
        if use:
            took = tab.product is not None
        else:
            tab.product = None
            rt.replays.entries.clear()
        wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
        out = _z(plan, xt, wt)
        (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
        res.append([out.detach().numpy(), _grad(wt).numpy(), _grad(xt).numpy()])
    return res[0], res[1], took


@pytest.mark.parametrize("n", [1, 2, 3, 4])
@pytest.mark.parametrize("embedding", ["X", "Y", "X+T", "CNOT first"])
def test_the_product_state_polynomial_equals_the_gather(n: int, embedding: str) -> None:
    """RX and RY embeddings (real states; RX's up to the phases in U^T's rows), a phase
    gate after each wire's angle, a permutation before the first layer (the bits of the
    amplitudes permuted), input scales: the polynomial's values and gradients are the
    gather's, and it is taken (up to four wires: 16 sines)."""
    c = Circuit(n)
    for q in range(n):
        c.append("rx" if embedding != "Y" else "ry", [q], [Input(q, scale=0.5 + 0.3 * q)])
        if embedding == "X+T":
            c.append("t", [q])
    if embedding == "CNOT first" and n > 1:
        c.cnot(0, 1).append("ch", [1, 0])
    c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
    got, want, took = _product_both(c, n)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert took


def test_the_product_state_polynomial_in_closed_form() -> None:
    """One wire, ``RY(x)`` on ``|0>``: ``(cos a, sin a)`` in the slot's own angle ``a =
    x/2``, one pair of sines of ``x/2``, no constant; the derivative row is ``(-sin a,
    cos a)``, in that angle as the gather's. A complex state (RZ after H) is left to the
    gather; four wires of RY take 16 sines, the bound."""
    tab = _tables(Circuit(1).ry(0, Input(0)).add(RotationLayer(1, ("Y",))))
    pt = tab.product
    assert pt is not None and pt.coef.shape == (2 * 2, 2) and pt.bias.abs().max() < 1e-12
    np.testing.assert_allclose(pt.angles.flatten().numpy(), [0.5, 0.5])
    for xv in (0.4, -2.5):
        s = torch.sin(pt.angles * xv + pt.shift)
        phis = (pt.bias + pt.coef @ s).double().view(2, 2).numpy()
        c, s_ = np.cos(xv / 2), np.sin(xv / 2)
        np.testing.assert_allclose(phis, [[c, s_], [-s_, c]], atol=1e-6)
    hz = Circuit(2).add(AngleEmbedding(2, rotation="Z", hadamard=True))
    assert _tables(hz.add(RotationLayer(2, ("Y",)))).product is None
    assert _tables(_layered(4, 1)).product is not None  # 16 sines


def test_the_product_state_polynomial_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """At most PRODUCT_TERMS sines: three RY wires (8) at a bound of 8, four (16) not."""
    from quarch.quantum import _dense_fourier

    monkeypatch.setattr(_dense_fourier, "PRODUCT_TERMS", 8)
    pt = _tables(_layered(3, 1)).product
    assert pt is not None and pt.coef.shape[1] == 8
    assert _tables(_layered(4, 1)).product is None


def test_constant_terms_and_folded_phases_in_the_trigonometric_form() -> None:
    """Gates with a constant term (phase gates: frequencies 0 and +1 only, so a pair
    can lack its ``e^{-i a}`` half and ``U^T`` has a constant part) and a constant
    controlled phase folded into a layer as complex phases: the chains' numbers."""
    only_phases = Circuit(2).add(AngleEmbedding(2, rotation="Y"))
    only_phases.append("phase", [0], [only_phases.new_weight()])
    only_phases.append("phase", [1], [only_phases.new_weight()])
    mixed = Circuit(2).add(AngleEmbedding(2, rotation="X")).add(RotationLayer(2, ("Y",)))
    mixed.append("phase", [0], [mixed.new_weight()]).append("cphase", [0, 1], [0.7])
    mixed.add(RotationLayer(2, ("Y", "Z")))  # not diagonal: the phases are seen
    for c in (only_phases, mixed):
        got, want, fourier = _with_and_without_fourier(c, 16, 5)
        assert fourier is not None
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11)
    tab = _tables(only_phases)
    assert tab.fourier is not None and tab.fourier.bias.abs().max() > 0.5
    assert tab.kron_phase is None
    assert _tables(mixed).kron_phase is not None  # the cphase, folded


class TestTheTrigonometricFormsBounds:
    """Each bound at its exact value (monkeypatched): ``FOURIER_WORK`` against the work
    after the build and against the estimate before it ((3 or 2 per angle) - 1
    sines, never below the work), ``_MAX_TERMS``, ``_GRID_LIMIT`` (3^angles of the
    widest layer x d^2)."""

    @staticmethod
    def _one_wire(*gates: str) -> Circuit:
        c = Circuit(1).ry(0, Input(0))
        for g in gates:
            c.append(g, [0], [c.new_weight()])
        return c

    def test_the_work_after_the_build(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from quarch.quantum import _dense_fourier

        c = self._one_wire("ry")  # rows (1 + 1) 2 d^2 = 16, 2 sines: work 32
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 32)
        assert _tables(c).fourier.work == 32  # type: ignore[union-attr]
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 31)
        assert _tables(c).fourier is None
        two = self._one_wire("ry", "rz")  # rows 24, two pairs (4 sines): work 96
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 96)
        assert _tables(two).fourier.work == 96  # type: ignore[union-attr]
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 95)
        assert _tables(two).fourier is None

    def test_the_estimate_before_it(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Two phase gates: estimate 24 x (3^2 - 1) = 192; the build finds one pair
        (``e^{i(a+b)}``): work 48."""
        from quarch.quantum import _dense_fourier

        c = self._one_wire("phase", "phase")
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 192)
        assert _tables(c).fourier.work == 48  # type: ignore[union-attr]
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 191)
        assert _tables(c).fourier is None
        two = self._one_wire("ry", "rz")  # 24 x (2^2 - 1) = 72 estimated, 24 x 4 built
        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", 96)
        assert _tables(two).fourier.work == 96  # type: ignore[union-attr]

    def test_terms_and_grid(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from quarch.quantum import _dense_fourier

        monkeypatch.setattr(_dense_fourier, "FOURIER_WORK", float("inf"))
        two = self._one_wire("ry", "ry")  # 4 terms, one layer of 2 angles: grid 9 x 4
        monkeypatch.setattr(_dense_fourier, "_MAX_TERMS", 4)
        assert _tables(two).fourier is not None
        monkeypatch.setattr(_dense_fourier, "_MAX_TERMS", 3)
        assert _tables(two).fourier is None
        monkeypatch.setattr(_dense_fourier, "_MAX_TERMS", 4096)
        monkeypatch.setattr(_dense_fourier, "_GRID_LIMIT", 36)
        assert _tables(two).fourier is not None
        monkeypatch.setattr(_dense_fourier, "_GRID_LIMIT", 35)
        assert _tables(two).fourier is None


def test_the_product_state_polynomial_with_more_inputs_than_wires() -> None:
    """Angles read from inputs 1 and 2 of three (scaled): the polynomial's angles are
    per input, and its numbers the gather's."""
    c = Circuit(2)
    c.ry(0, Input(2, scale=0.7)).rx(1, Input(1, scale=1.3))
    c.add(RotationLayer(2, ("Y", "Z"))).add(EntanglingLayer(2, "ring", "cnot"))
    assert c.n_inputs == 3
    got, want, took = _product_both(c, 9)
    assert took
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("want_w", [False, True])
@pytest.mark.parametrize("want_x", [False, True])
def test_derivatives_only_for_the_gradients_wanted(
    want_w: bool, want_x: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The forward makes the derivative rows only for the gradients the call wants
    (none under ``no_grad``): the product state's ``n`` derivatives for the inputs',
    ``dU^T/dw`` for the weights', in every form (the trigonometric ``U^T`` and the
    chains, one slot deep and two, the product polynomial and the gather, real and
    complex states); the values are those of the full forward to rounding, and the
    derivative rows it does make are the full forward's."""
    from types import SimpleNamespace

    one_deep = Circuit(4).add(AngleEmbedding(4, rotation="Y"))
    for _ in range(2):
        one_deep.add(RotationLayer(4, ("Y",))).add(EntanglingLayer(4, "ring", "cnot"))
    forms = [
        _layered(2, 2),  # trigonometric U^T, product polynomial, rows two slots deep
        _layered(3, 2, "X"),  # chains, rows two slots deep
        one_deep,  # chains, rows one slot deep
        _complex_embedding(2)
        .add(RotationLayer(2, ("Y", "Z")))
        .add(EntanglingLayer(2, "ring", "cz")),
    ]
    seen = set()
    rng = np.random.default_rng(5)
    for c in forms:
        n = c.n_qubits
        plan = compile_circuit(c, path="small")
        _z(plan, torch.zeros(DENSE_ROWS, n), torch.zeros(c.n_weights))
        rt = _runtime(plan)
        tab = rt.dense
        assert isinstance(tab, DenseTables)
        seen |= {
            "fourier" if tab.fourier is not None else "chains",
            "product" if tab.product is not None else "gather",
            "deep" if tab.row_index is not None else "one deep",
        }
        signs = rt.signs(np.array([[1 - 2 * ((k >> (n - 1)) & 1)] for k in range(2**n)]))
        w = torch.tensor(rng.uniform(-3, 3, c.n_weights), dtype=torch.float32)
        x = torch.tensor(rng.uniform(-3, 3, (16, n)), dtype=torch.float32)
        full = SimpleNamespace(needs_input_grad=(False,) * 3 + (True, True) + (False,) * 2)
        part = SimpleNamespace(needs_input_grad=(False,) * 3 + (want_w, want_x) + (False,) * 2)
        ref = _small_dense.dense_forward(full, tab, signs, w, x)
        out = _small_dense.dense_forward(part, tab, signs, w, x)
        torch.testing.assert_close(out, ref, rtol=0, atol=1e-6)
        phis, d_w = part.dense[2], part.dense[5]
        assert phis.shape[0] == (n + 1 if want_x else 1)
        torch.testing.assert_close(phis, full.dense[2][: phis.shape[0]], rtol=0, atol=1e-6)
        if want_w:
            torch.testing.assert_close(d_w, full.dense[5], rtol=0, atol=1e-6)
        else:
            assert d_w is None
    assert seen == {"fourier", "chains", "product", "gather", "deep", "one deep"}


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128], ids=["c64", "c128"])
def test_host_copies_are_the_device_tables(dtype: torch.dtype) -> None:
    """The trigonometric forms are built from host copies of the tables, not by reading
    the device back (``HostTables``, ``SmallRuntime.host``): the copies must be exactly
    the numbers the device holds, rounded to its dtype (the slot terms, the folded
    phases of the layers and of the rows, the gathers, the constant gates, the
    signs), so the forms equal the chains they replace."""
    c = Circuit(2).add(AngleEmbedding(2, rotation="X"))  # real up to phases: row phases
    c.append("t", [0])  # a row phase e^{i pi/4}, rounded in complex64
    c.add(RotationLayer(2, ("Y", "Z"))).add(EntanglingLayer(2, "ring", "cz"))  # layer phases
    c.append("crx", [0, 1], [0.7])  # a constant dense gate in the segment
    c.add(RotationLayer(2, ("Y",)))
    plan = compile_circuit(c, dtype=dtype, path="small")
    _z(plan, torch.zeros(DENSE_ROWS, 2), torch.zeros(c.n_weights))
    rt = _runtime(plan)
    tab, h = rt.dense, rt.dense.host

    def same(host: np.ndarray, device: torch.Tensor) -> None:
        wide = torch.complex128 if device.is_complex() else device.dtype
        wide = torch.float64 if wide == torch.float32 else wide
        np.testing.assert_array_equal(host, device.to(wide).numpy())

    for name in ("m_base", "m_mat", "kron_index", "kron_phase", "row_phase", "conj_matrix"):
        same(getattr(h, name), getattr(tab, name))
    assert h.row_index is not None and len(h.row_index) == len(tab.row_index) == 2
    for a, b in zip(h.row_index, tab.row_index, strict=True):
        same(a, b)
    assert [k for k, _ in h.segment] == [k for k, _ in tab.segment]
    assert "c" in [k for k, _ in h.segment]
    for (kind, a), (_, b) in zip(h.segment, tab.segment, strict=True):
        if kind == "c":
            same(a, b)
        else:
            assert a == b
    same(rt.host(rt.prefix[0][1]), rt.prefix[0][1])
    # a phase state's constants in U^T's rows (1/sqrt(2) e^{i pi/4} per wire: rounded)
    hrt = Circuit(2)
    for q in range(2):
        hrt.h(q).rz(q, Input(q)).append("t", [q])
    plan = compile_circuit(hrt.add(RotationLayer(2, ("Y",))), dtype=dtype, path="small")
    _z(plan, torch.zeros(DENSE_ROWS, 2), torch.zeros(2))
    tab = _runtime(plan).dense
    assert tab.phase is not None and tab.phase.pure
    same(tab.host.row_phase, tab.row_phase)
