"""The block engine's adjoint backward (:mod:`quarch.quantum._adjoint`) against PennyLane.

Circuits of up to 10 qubits run on the small path under ``path="auto"``, so the random
circuit tests of ``test_simulator.py`` rarely reach the engine's backward. Here every
plan is forced onto the engine (``path="engine"``) at block widths 1 to 4, so its
blocks sit at the low bits (``lo == 0``, realified GEMM) and above them (``lo > 0``),
shared and per-sample, with gathers in between; and every way out of the node is
differentiated: ``<Z-words>`` fused into the node (its sign tables), the state itself
(no signs), X/Y words measured on the returned state, a start state given by the
caller (one for the batch or one per row), per-sample weights, and the product start
state the engine builds from the first one-qubit gates (per sample, or one row).

The truth is PennyLane's ``default.qubit`` with torch backprop: its state, and the
same loss computed from it, differentiated by torch through PennyLane's own
simulation; for a caller's start state, the dense unitary PennyLane builds.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, Input, compile_circuit, to_pennylane

from ._random import random_circuit

qml = pytest.importorskip("pennylane")

Loss = Callable[[torch.Tensor], torch.Tensor]


def _grad(t: torch.Tensor) -> torch.Tensor:
    """``t.grad``, which the backward just run through ``t`` has set."""
    assert t.grad is not None
    return t.grad


def _pl_state_and_grads(
    c: Circuit, w: np.ndarray, x: np.ndarray, loss: Loss
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PennyLane's states ``[rows, 2^n]`` and the gradients of ``loss(states)`` with
    respect to the weights and the inputs (backprop through ``default.qubit``)."""
    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=c.n_qubits), interface="torch")
    def run(w: torch.Tensor, x: torch.Tensor) -> object:
        f(w, x)
        return qml.state()

    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    psi = torch.as_tensor(run(wt, xt))
    rows = x.shape[0] if x.ndim == 2 else w.shape[0]
    if psi.dim() == 1:  # nothing per-sample: PennyLane returns one state
        psi = psi.expand(rows, -1)
    loss(psi).backward()
    gw = np.zeros_like(w) if wt.grad is None else wt.grad.numpy()
    gx = np.zeros_like(x) if xt.grad is None else xt.grad.numpy()
    return psi.detach().numpy(), gw, gx


def _z_signs(n: int, words: list[list[int]]) -> torch.Tensor:
    """``[2^n, n_words]``: the eigenvalue of each product of Z on each basis state
    (wire 0 = most significant bit), written from the bit strings."""
    out = torch.ones(2**n, len(words), dtype=torch.float64)
    for k in range(2**n):
        for j, wires in enumerate(words):
            for q in wires:
                if (k >> (n - 1 - q)) & 1:
                    out[k, j] *= -1
    return out


def _compare(
    c: Circuit,
    w: np.ndarray,
    x: np.ndarray,
    k: int,
    got_loss: Callable[[object, torch.Tensor | None, torch.Tensor], torch.Tensor],
    ref_loss: Loss,
) -> None:
    """The engine plan (width ``k``) vs PennyLane: the loss and both gradients."""
    _, gw, gx = _pl_state_and_grads(c, w, x, ref_loss)
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    got = got_loss(plan, xt if c.n_inputs else None, wt)
    got.backward()
    if c.n_weights:
        np.testing.assert_allclose(_grad(wt).numpy(), gw, rtol=0, atol=1e-9)
    if c.n_inputs:
        np.testing.assert_allclose(_grad(xt).numpy(), gx, rtol=0, atol=1e-9)


def _random_case(seed: int, n: int) -> tuple[Circuit, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = random_circuit(n, rng, n_ops=14)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (3, max(c.n_inputs, 1)))
    return c, w, x


CASES = [
    (seed, n, k) for seed, (n, k) in enumerate([(3, 1), (4, 2), (4, 3), (5, 2), (5, 4), (3, 3)])
]


@pytest.mark.parametrize(("seed", "n", "k"), CASES, ids=[f"s{s}-n{n}-k{k}" for s, n, k in CASES])
def test_z_words_fused_in_the_node(seed: int, n: int, k: int) -> None:
    """``<Z-words>`` with a different coefficient per row and word: the node's fused
    forward and its seeded backward, against the same sum over PennyLane's state."""
    c, w, x = _random_case(seed, n)
    words = [[0], [n - 1], [0, n - 1], list(range(n))]
    text = ["Z0", f"Z{n - 1}", f"Z0 Z{n - 1}", " ".join(f"Z{q}" for q in range(n))]
    coef = torch.tensor(np.random.default_rng(100 + seed).normal(size=(3, len(words))))
    signs = _z_signs(n, words)

    def ref(psi: torch.Tensor) -> torch.Tensor:
        return ((psi.abs() ** 2 @ signs) * coef).sum()

    def got(plan: object, xt: torch.Tensor | None, wt: torch.Tensor) -> torch.Tensor:
        out = plan.expval(text, xt, wt)  # type: ignore[attr-defined]
        assert isinstance(out, torch.Tensor)
        psi, _, _ = _pl_state_and_grads(c, w, x, lambda p: p.abs().sum())
        want = (torch.as_tensor(psi).abs() ** 2 @ signs).numpy()
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=0, atol=1e-10)
        return (out * coef).sum()

    _compare(c, w, x, k, got, ref)


@pytest.mark.parametrize(("seed", "n", "k"), CASES, ids=[f"s{s}-n{n}-k{k}" for s, n, k in CASES])
def test_the_state_itself(seed: int, n: int, k: int) -> None:
    """A loss of the complex state (no sign table: the node's gradient is the state's
    cotangent as given): ``Re <v|psi>`` plus a weighted ``|psi|^2``, per row."""
    c, w, x = _random_case(seed, n)
    rng = np.random.default_rng(200 + seed)
    v = torch.tensor(rng.normal(size=(3, 2**n)) + 1j * rng.normal(size=(3, 2**n)))
    r = torch.tensor(rng.normal(size=(3, 2**n)))

    def ref(psi: torch.Tensor) -> torch.Tensor:
        return (v.conj() * psi).real.sum() + (psi.abs() ** 2 * r).sum()

    def got(plan: object, xt: torch.Tensor | None, wt: torch.Tensor) -> torch.Tensor:
        psi = plan.state(xt, wt)  # type: ignore[attr-defined]
        assert isinstance(psi, torch.Tensor)
        return ref(psi.expand(3, -1))

    _compare(c, w, x, k, got, ref)


def test_x_and_y_words_measured_on_the_state() -> None:
    """Words with X or Y have no sign table: the node returns the state and the words
    are measured on it; their gradients are PennyLane's."""
    c, w, x = _random_case(7, 4)
    ops = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}
    words = ["X0", "Y1 Z3", "X2 Y3"]

    def mat(word: str) -> torch.Tensor:
        terms = [ops[t[0]](int(t[1:])) for t in word.split()]
        op = qml.prod(*terms) if len(terms) > 1 else terms[0]
        return torch.as_tensor(qml.matrix(op, wire_order=range(4)), dtype=torch.complex128)

    mats = [mat(word) for word in words]

    def ref(psi: torch.Tensor) -> torch.Tensor:
        vals = [torch.einsum("bi,ij,bj->b", psi.conj(), m, psi).real for m in mats]
        return sum((i + 1) * v.sum() for i, v in enumerate(vals))  # type: ignore[return-value]

    def got(plan: object, xt: torch.Tensor | None, wt: torch.Tensor) -> torch.Tensor:
        out = plan.expval(words, xt, wt)  # type: ignore[attr-defined]
        assert isinstance(out, torch.Tensor)
        return (out * torch.arange(1, 4)).sum()

    for k in (1, 2, 3):
        _compare(c, w, x, k, got, ref)


def _half_circuit(n: int, inputs_on: str) -> Circuit:
    """A first layer of one-qubit gates (the engine's product start state, split into
    the wires ``0..h-1`` and ``h..n-1``, ``h = ceil(n/2)``) reading inputs on the
    ``inputs_on`` half (``"low"``, ``"high"``) and weights elsewhere, then an
    entangling body."""
    h = (n + 1) // 2
    c = Circuit(n)
    for q in range(n):
        lower = q < h
        if inputs_on != "none" and (inputs_on == "low") == lower:
            c.ry(q, Input(q))
        else:
            c.ry(q, c.new_weight())
        c.rz(q, c.new_weight())
    for q in range(n - 1):
        c.cnot(q, q + 1)
    c.crx(n - 1, 0, c.new_weight()).rx(1, Input(0)).ry(n - 1, c.new_weight())
    return c


@pytest.mark.parametrize(
    ("n", "inputs_on"), [(4, "high"), (5, "low"), (5, "none")], ids=["n4-high", "n5-low", "n5-none"]
)
def test_product_start_state(n: int, inputs_on: str) -> None:
    """The engine's product start state (two halves, built from the first one-qubit
    gates) and its gradient back to their angles: per sample when a half reads inputs,
    and shared by the rows (its gradient summed over them) when only later gates do."""
    c = _half_circuit(n, inputs_on)
    rng = np.random.default_rng(n)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (3, c.n_inputs))
    coef = torch.tensor(rng.normal(size=(3, n)))
    signs = _z_signs(n, [[q] for q in range(n)])

    def ref(psi: torch.Tensor) -> torch.Tensor:
        return ((psi.abs() ** 2 @ signs) * coef).sum()

    def got(plan: object, xt: torch.Tensor | None, wt: torch.Tensor) -> torch.Tensor:
        out = plan.expval(None, xt, wt)  # type: ignore[attr-defined]
        assert isinstance(out, torch.Tensor)
        return (out * coef).sum()

    for k in (2, 3):
        _compare(c, w, x, k, got, ref)


def test_per_sample_weights() -> None:
    """Weights ``[rows, n_weights]``: every block is per-sample; each row's gradient
    is PennyLane's for that row alone."""
    c, _, x = _random_case(11, 4)
    rng = np.random.default_rng(11)
    w = rng.uniform(-3, 3, (3, c.n_weights))
    coef = torch.tensor(rng.normal(size=(3, 4)))
    signs = _z_signs(4, [[q] for q in range(4)])
    for k in (1, 2, 4):
        plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
        wt = torch.tensor(w, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        (plan.expval(None, xt if c.n_inputs else None, wt) * coef).sum().backward()
        for b in range(3):

            def ref(psi: torch.Tensor, b: int = b) -> torch.Tensor:
                return ((psi.abs() ** 2 @ signs) * coef[b]).sum()

            _, gw, gx = _pl_state_and_grads(c, w[b], x[b : b + 1], ref)
            np.testing.assert_allclose(_grad(wt)[b].numpy(), gw, rtol=0, atol=1e-9)
            if c.n_inputs:
                np.testing.assert_allclose(_grad(xt)[b].numpy(), gx[0], rtol=0, atol=1e-9)


def _unitaries(c: Circuit, w: np.ndarray, x: np.ndarray) -> torch.Tensor:
    """PennyLane's dense unitary ``[rows, 2^n, 2^n]`` of ``c`` for each row of ``x``."""
    f = to_pennylane(c)
    return torch.stack(
        [torch.as_tensor(qml.matrix(f, wire_order=range(c.n_qubits))(w, xr)) for xr in x]
    )


@pytest.mark.parametrize("per_row", [False, True], ids=["one-start", "start-per-row"])
@pytest.mark.parametrize("signs", [True, False], ids=["z-words", "state"])
def test_start_state_gradient(per_row: bool, signs: bool) -> None:
    """A caller's start state: one vector for the whole batch (its gradient summed
    over the rows) or one per row, through ``<Z>`` or the state; the truth is
    ``U(x) psi0`` with PennyLane's dense unitary, differentiated by torch."""
    n = 4
    c = Circuit(n)
    for q in range(n):
        c.ry(q, c.new_weight()).rx(q, Input(q))
    c.cnot(0, 1).cnot(2, 3).crz(1, 2, c.new_weight()).cnot(3, 0).ry(2, Input(1))
    rng = np.random.default_rng(5)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (3, n))
    shape = (3, 2**n) if per_row else (2**n,)
    p = torch.tensor(rng.normal(size=shape) + 1j * rng.normal(size=shape))
    p = p / p.norm(dim=-1, keepdim=True)
    v = torch.tensor(rng.normal(size=(3, 2**n)) + 1j * rng.normal(size=(3, 2**n)))
    coef = torch.tensor(rng.normal(size=(3, n)))
    zs = _z_signs(n, [[q] for q in range(n)])
    u = _unitaries(c, w, x)

    def loss_of(psi: torch.Tensor) -> torch.Tensor:
        if signs:
            return ((psi.abs() ** 2 @ zs) * coef).sum()
        return (v.conj() * psi).real.sum()

    ref_in = p.clone().requires_grad_(True)
    loss_of((u @ ref_in.expand(3, -1)[..., None])[..., 0]).backward()
    for k in (1, 2, 4):
        plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
        psi0 = p.clone().requires_grad_(True)
        xt, wt = torch.tensor(x), torch.tensor(w)
        if signs:
            got = (plan.expval(None, xt, wt, initial_state=psi0) * coef).sum()
        else:
            got = loss_of(plan.state(xt, wt, initial_state=psi0))
        got.backward()
        assert _grad(psi0).shape == p.shape
        torch.testing.assert_close(_grad(psi0), _grad(ref_in), rtol=0, atol=1e-10)


def test_only_the_start_state_differentiated() -> None:
    """Weights and inputs without gradients, only the start state with one: its
    gradient is still the adjoint of the circuit applied to the cotangent."""
    n = 3
    c = Circuit(n).h(0).cnot(0, 1).ry(2, 0.7).crx(2, 0, 1.1).rz(1, -0.4)
    u = torch.as_tensor(qml.matrix(to_pennylane(c), wire_order=range(n))(np.zeros(0), None))
    rng = np.random.default_rng(9)
    p = torch.tensor(rng.normal(size=(2, 2**n)) + 1j * rng.normal(size=(2, 2**n)))
    v = torch.tensor(rng.normal(size=(2, 2**n)) + 1j * rng.normal(size=(2, 2**n)))
    for k in (1, 2, 3):
        plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
        psi0 = p.clone().requires_grad_(True)
        (v.conj() * plan.state(initial_state=psi0)).real.sum().backward()
        # d Re<v|U p> / d p (torch's conjugate convention): U^H v
        torch.testing.assert_close(_grad(psi0), v @ u.conj(), rtol=0, atol=1e-12)


def _weights_only(n: int, rng: np.random.Generator, n_ops: int = 16) -> Circuit:
    """A random circuit of trainable and constant gates only (no inputs), so every block
    is shared by the batch: one-angle gates of a weight, CRX/CRZ of a weight, CNOT,
    CZ, SWAP and fixed angles, on random wires (so blocks sit above the low bits too)."""
    c = Circuit(n)
    for _ in range(n_ops):
        r = rng.random()
        a, b = (int(q) for q in rng.choice(n, 2, replace=False))
        if r < 0.4:
            c.append(["rx", "ry", "rz"][int(rng.integers(3))], [a], [c.new_weight()])
        elif r < 0.6:
            c.append(["crx", "crz"][int(rng.integers(2))], [a, b], [c.new_weight()])
        elif r < 0.85:
            c.append(["cnot", "cz", "swap"][int(rng.integers(3))], [a, b])
        else:
            c.append("ry", [a], [float(rng.uniform(-3, 3))])
    return c


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shared_blocks_under_start_states_per_row(k: int) -> None:
    """Weights only and a start state per row: the blocks are shared (one matrix for
    all rows) while the state has rows, so each block's gradient sums over the rows.
    Truth: PennyLane's dense unitary ``U(w)``, differentiated by torch."""
    n = 5
    rng = np.random.default_rng(40 + k)
    c = _weights_only(n, rng)
    w = rng.uniform(-3, 3, c.n_weights)
    p = torch.tensor(rng.normal(size=(3, 2**n)) + 1j * rng.normal(size=(3, 2**n)))
    p = p / p.norm(dim=-1, keepdim=True)
    v = torch.tensor(rng.normal(size=(3, 2**n)) + 1j * rng.normal(size=(3, 2**n)))
    coef = torch.tensor(rng.normal(size=(3, n)))
    zs = _z_signs(n, [[q] for q in range(n)])
    ref_w = torch.tensor(w, requires_grad=True)
    ref_p = p.clone().requires_grad_(True)
    u = qml.matrix(to_pennylane(c), wire_order=range(n))(ref_w, None)
    psi = ref_p @ u.mT
    (((psi.abs() ** 2 @ zs) * coef).sum() + (v.conj() * psi).real.sum()).backward()
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
    wt = torch.tensor(w, requires_grad=True)
    p1 = p.clone().requires_grad_(True)
    p2 = p.clone().requires_grad_(True)
    z = plan.expval(None, weights=wt, initial_state=p1)
    s = plan.state(weights=wt, initial_state=p2)
    ((z * coef).sum() + (v.conj() * s).real.sum()).backward()
    torch.testing.assert_close(_grad(wt), _grad(ref_w), rtol=0, atol=1e-10)
    torch.testing.assert_close(_grad(p1) + _grad(p2), _grad(ref_p), rtol=0, atol=1e-10)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_shared_blocks_without_inputs(k: int) -> None:
    """Weights only, no start state: one row for the whole run (the product start state
    and every block shared), Z-words and the state against PennyLane."""
    n = 5
    rng = np.random.default_rng(50 + k)
    c = _weights_only(n, rng)
    w = rng.uniform(-3, 3, c.n_weights)
    x = np.zeros((1, 1))
    coef = torch.tensor(rng.normal(size=(1, n)))
    zs = _z_signs(n, [[q] for q in range(n)])
    v = torch.tensor(rng.normal(size=(1, 2**n)) + 1j * rng.normal(size=(1, 2**n)))

    def ref(psi: torch.Tensor) -> torch.Tensor:
        return ((psi.abs() ** 2 @ zs) * coef).sum() + (v.conj() * psi).real.sum()

    def got(plan: object, xt: torch.Tensor | None, wt: torch.Tensor) -> torch.Tensor:
        z = plan.expval(None, xt, wt)  # type: ignore[attr-defined]
        s = plan.state(xt, wt)  # type: ignore[attr-defined]
        assert isinstance(z, torch.Tensor) and isinstance(s, torch.Tensor)
        return (z * coef).sum() + (v.conj() * s).real.sum()

    _compare(c, w, x, k, got, ref)


@pytest.mark.parametrize("order", ["first-first", "second-first"])
@pytest.mark.parametrize("start", ["product", "given"])
def test_backward_after_other_forwards(order: str, start: str) -> None:
    """The engine keeps one set of state buffers per plan and thread: a forward that
    ran after this one (or a backward that ran before) has overwritten them, and the
    backward must recompute its final state first. Two forwards at different inputs,
    then their backwards one at a time in either order; each gradient equals the one
    of a lone run, which PennyLane gives."""
    n = 4
    c = _half_circuit(n, "low")
    rng = np.random.default_rng(61)
    w = rng.uniform(-3, 3, c.n_weights)
    xs = [rng.uniform(-3, 3, (3, c.n_inputs)) for _ in range(2)]
    coef = torch.tensor(rng.normal(size=(3, n)))
    zs = _z_signs(n, [[q] for q in range(n)])
    p = torch.tensor(rng.normal(size=(3, 2**n)) + 1j * rng.normal(size=(3, 2**n)))
    p = p / p.norm(dim=-1, keepdim=True)

    def ref(psi: torch.Tensor) -> torch.Tensor:
        return ((psi.abs() ** 2 @ zs) * coef).sum()

    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=2, path="engine")
    wts = [torch.tensor(w, requires_grad=True) for _ in range(2)]
    outs = []
    for x, wt in zip(xs, wts, strict=True):
        init = p if start == "given" else None
        outs.append((plan.expval(None, torch.tensor(x), wt, initial_state=init) * coef).sum())
    for i in [0, 1] if order == "first-first" else [1, 0]:
        outs[i].backward()
    for x, wt in zip(xs, wts, strict=True):
        if start == "given":
            ref_w = torch.tensor(w, requires_grad=True)
            u = torch.stack(
                [qml.matrix(to_pennylane(c), wire_order=range(n))(ref_w, xr) for xr in x]
            )
            ref((u @ p[..., None])[..., 0]).backward()
            gw = _grad(ref_w).numpy()
        else:
            _, gw, _ = _pl_state_and_grads(c, w, x, ref)
        np.testing.assert_allclose(_grad(wt).numpy(), gw, rtol=0, atol=1e-9)


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_qubits(n: int) -> None:
    """One qubit: the product start state has a single non-trivial half (the other is
    the constant ``[1]``), so only the first half carries a gradient; two qubits: one
    wire each. Weights and inputs in the first layer (a U3 first, so the start state
    comes from the gate table, not from rotation angles) and after it."""
    c = Circuit(n)
    c.append("u3", [0], [c.new_weight(), 0.3, c.new_weight()])  # not RX/RY/RZ: a table
    for q in range(n):
        c.ry(q, c.new_weight()).rx(q, Input(q))
    if n == 2:
        c.cnot(0, 1).crz(1, 0, c.new_weight())
    c.rz(0, c.new_weight()).ry(n - 1, Input(0, scale=0.5))
    rng = np.random.default_rng(70 + n)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (3, c.n_inputs))
    coef = torch.tensor(rng.normal(size=(3, n)))
    zs = _z_signs(n, [[q] for q in range(n)])

    def ref(psi: torch.Tensor) -> torch.Tensor:
        return ((psi.abs() ** 2 @ zs) * coef).sum()

    def got(plan: object, xt: torch.Tensor | None, wt: torch.Tensor) -> torch.Tensor:
        out = plan.expval(None, xt, wt)  # type: ignore[attr-defined]
        assert isinstance(out, torch.Tensor)
        return (out * coef).sum()

    _compare(c, w, x, 1, got, ref)


def test_a_start_state_without_gradient() -> None:
    """A caller's start state that needs no gradient, weights that do: the weight
    gradient is PennyLane's dense unitary's, and the start state gets none."""
    n = 3
    rng = np.random.default_rng(80)
    c = _weights_only(n, rng, n_ops=10)
    w = rng.uniform(-3, 3, c.n_weights)
    p = torch.tensor(rng.normal(size=(2, 2**n)) + 1j * rng.normal(size=(2, 2**n)))
    v = torch.tensor(rng.normal(size=(2, 2**n)) + 1j * rng.normal(size=(2, 2**n)))
    ref_w = torch.tensor(w, requires_grad=True)
    u = qml.matrix(to_pennylane(c), wire_order=range(n))(ref_w, None)
    (v.conj() * (p @ u.mT)).real.sum().backward()
    for k in (1, 2):
        plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
        wt = torch.tensor(w, requires_grad=True)
        psi0 = p.clone()
        (v.conj() * plan.state(weights=wt, initial_state=psi0)).real.sum().backward()
        torch.testing.assert_close(_grad(wt), _grad(ref_w), rtol=0, atol=1e-10)
        assert psi0.grad is None


def test_a_run_without_per_sample_parts_runs_one_row() -> None:
    """``execute`` runs one row when nothing in the call is per-sample (a start state
    shared by the batch, shared weights, no per-sample gate), ``batch`` rows as soon as
    the start state or a gate is per-sample; the values are PennyLane's either way."""
    from quarch.quantum._simulate import execute

    n = 3
    rng = np.random.default_rng(90)
    c = _weights_only(n, rng, n_ops=10)
    w = rng.uniform(-3, 3, c.n_weights)
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=2, path="engine")
    cpu = torch.device("cpu")
    f = to_pennylane(c)
    u = torch.as_tensor(qml.matrix(f, wire_order=range(n))(w, None))
    wt = torch.tensor(w)
    shared = plan._runtime(True, False)
    out = execute(shared, None, wt, None, 4, cpu, None)
    assert out.shape == (1, 2**n)
    canon = out[:, np.argsort(shared.eng.sigma)]
    torch.testing.assert_close(canon[0], u[:, 0], rtol=0, atol=1e-12)
    given = plan._runtime(False, False)
    one = torch.tensor(rng.normal(size=(1, 2**n)) + 1j * rng.normal(size=(1, 2**n)))
    out = execute(given, None, wt, one, 4, cpu, None)
    assert out.shape == (1, 2**n)
    per_row = torch.tensor(rng.normal(size=(4, 2**n)) + 1j * rng.normal(size=(4, 2**n)))
    out = execute(given, None, wt, per_row, 4, cpu, None)
    assert out.shape == (4, 2**n)
    canon = out[:, np.argsort(given.eng.sigma)]
    torch.testing.assert_close(canon, per_row @ u.T, rtol=0, atol=1e-12)
    # a per-sample gate after a shared start: one row per sample
    c2 = Circuit(n).h(0).cnot(0, 1).rx(2, Input(0)).crz(2, 0, 0.4)
    plan2 = compile_circuit(c2, dtype=torch.complex128, max_block_qubits=2, path="engine")
    rt2 = plan2._runtime(False, False)
    x = torch.tensor(rng.uniform(-2, 2, (4, 1)))
    out = execute(rt2, x, torch.zeros(0, dtype=torch.float64), one, 4, cpu, None)
    assert out.shape == (4, 2**n)


def test_backward_emits_no_warnings() -> None:
    """Forward and backward through gathers and blocks of both kinds raise no warning
    (torch warns when an ``out=`` tensor has to be resized, which the adjoint pass must
    never ask of it: its gathers write into views of the exact shape)."""
    c = _half_circuit(4, "low")
    c.cnot(0, 2).crx(1, 3, c.new_weight()).cnot(3, 0).crz(2, 1, c.new_weight())
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=2, path="engine")
    assert any(s.kind == "gather" for s in plan._runtime(True, False).eng.steps)
    w = torch.rand(c.n_weights, dtype=torch.float64, requires_grad=True)
    x = torch.rand(3, c.n_inputs, dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        plan.expval(None, x, w).sum().backward()
        plan.state(x, w).abs().sum().backward()
    assert [str(r.message) for r in caught] == []


def test_a_recomputed_final_state_stays_on_the_device() -> None:
    """A backward that must recompute its final state (another forward ran since)
    builds its buffers on the tensors' device. Checked without a GPU, as
    ``test_device_placement.py`` does: fake ``meta`` tensors that raise when a host
    tensor meets a device one (that module's fake mode, which the engine's caches of
    device constants share)."""
    from .test_device_placement import DEV, MODE

    c = _half_circuit(4, "low")
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=2, path="engine")
    w = torch.zeros(c.n_weights, dtype=torch.float64, requires_grad=True)
    plan.expval(None, torch.zeros(3, c.n_inputs, dtype=torch.float64), w).sum().backward()
    with MODE:
        w = torch.zeros(c.n_weights, dtype=torch.float64, device=DEV, requires_grad=True)
        x1, x2 = (torch.zeros(3, c.n_inputs, dtype=torch.float64, device=DEV) for _ in "ab")
        first = plan.expval(None, x1, w)
        plan.expval(None, x2, w)
        first.sum().backward()
        assert _grad(w).device.type == DEV
