"""The simulator against PennyLane ``default.qubit`` and Qiskit ``Statevector``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AngleEmbedding,
    BasicEntanglerLayers,
    Circuit,
    CircuitError,
    EntanglingLayer,
    ExecutionPlan,
    Input,
    IQPEmbedding,
    Param,
    QuantumLayer,
    RotationLayer,
    SimulationError,
    compile_circuit,
    statevector,
    to_pennylane,
    to_qiskit,
)

from ._pennylane_truth import pl_z_and_grads
from ._random import all_gates_circuit, random_circuit


def _is_input(p: float | Param) -> bool:
    """``p`` is a feature angle (a :class:`Param` of kind ``"input"``)."""
    return isinstance(p, Param) and p.kind == "input"


def _grad(t: torch.Tensor) -> torch.Tensor:
    """``t.grad``, which the backward just run through ``t`` has set."""
    assert t.grad is not None
    return t.grad


qml = pytest.importorskip("pennylane")

N_RANDOM = 200


def _pl_state(c: Circuit, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=c.n_qubits))
    def run(w: np.ndarray, x: np.ndarray) -> object:
        f(w, x)
        return qml.state()

    out = np.asarray(run(w, x))
    return out if out.ndim == 2 else np.broadcast_to(out, (x.shape[0], out.shape[-1]))


def _case(seed: int) -> tuple[Circuit, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    c = random_circuit(int(rng.integers(1, 9)), rng)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (2, max(c.n_inputs, 1)))
    return c, w, x


class TestInputs:
    def test_wire_out_of_range(self) -> None:
        with pytest.raises(
            CircuitError, match=r"rx: wire 3 is out of range; this circuit has wires 0\.\.2"
        ):
            Circuit(3).rx(3, 0.1)

    def test_same_wire_twice(self) -> None:
        with pytest.raises(CircuitError, match=r"cnot: the same wire appears twice in \(1, 1\)"):
            Circuit(3).cnot(1, 1)

    def test_unknown_gate(self) -> None:
        with pytest.raises(CircuitError, match="unknown gate 'foo'"):
            Circuit(2).append("foo", [0])

    def test_wrong_batch_size(self) -> None:
        c = Circuit(2).rx(0, Input(0)).ry(1, c_w := Circuit(2).new_weight())
        del c_w
        plan = compile_circuit(c)
        with pytest.raises(
            SimulationError,
            match="per-sample weights have batch size 3 but inputs have batch size 4",
        ):
            plan.state(torch.zeros(4, 1), torch.zeros(3, 1))

    def test_wrong_feature_count(self) -> None:
        plan = compile_circuit(Circuit(2).rx(0, Input(1)))
        with pytest.raises(
            SimulationError,
            match=r"^inputs must have shape \[batch, 2\] or \[\.\.\., 2\]; got \(4, 3\)$",
        ):
            plan.state(torch.zeros(4, 3))

    def test_missing_weights(self) -> None:
        c = Circuit(1)
        c.rx(0, c.new_weight())
        with pytest.raises(SimulationError, match="this circuit has 1 trainable weight"):
            compile_circuit(c).state()

    def test_bad_dtype(self) -> None:
        with pytest.raises(CircuitError, match=r"dtype must be torch\.complex64 or"):
            compile_circuit(Circuit(1), dtype=torch.float32)

    def test_channels_refused(self) -> None:
        with pytest.raises(SimulationError, match="contains noise channels"):
            compile_circuit(Circuit(1).depolarizing(0, 0.1))

    def test_bad_angle(self) -> None:
        with pytest.raises(CircuitError, match="rx angle must be a number, Weight"):
            Circuit(1).rx(0, "a")  # type: ignore[arg-type]


class TestCorrectness:
    def test_random_circuits_match_pennylane_complex128(self) -> None:
        for seed in range(N_RANDOM):
            c, w, x = _case(seed)
            ref = _pl_state(c, w, x)
            psi = compile_circuit(c, dtype=torch.complex128).state(
                torch.tensor(x) if c.n_inputs else None, torch.tensor(w)
            )
            np.testing.assert_allclose(
                np.broadcast_to(psi.numpy(), ref.shape), ref, atol=1e-10, err_msg=f"seed {seed}"
            )

    def test_random_circuits_match_pennylane_complex64(self) -> None:
        for seed in range(0, N_RANDOM, 4):
            c, w, x = _case(seed)
            ref = _pl_state(c, w, x)
            plan = compile_circuit(c, dtype=torch.complex64)
            xt = torch.tensor(x) if c.n_inputs else None
            psi = plan.state(xt, torch.tensor(w))
            assert psi.dtype == torch.complex64
            np.testing.assert_allclose(
                np.broadcast_to(psi.numpy(), ref.shape), ref, atol=1e-5, err_msg=f"seed {seed}"
            )

    @pytest.mark.parametrize("seed", range(0, 40, 2))
    def test_expectations_match_pennylane(self, seed: int) -> None:
        c, w, x = _case(seed)
        n = c.n_qubits
        words = ["Z0", f"X{n - 1}", "Y0"] + (["Z0 X1", "Y0 Y1 Z" + str(n - 1)] if n > 2 else [])
        f = to_pennylane(c)
        ops = {"X": qml.PauliX, "Y": qml.PauliY, "Z": qml.PauliZ}

        def obs(word: str) -> object:
            terms = [ops[t[0]](int(t[1:])) for t in word.split()]
            return qml.prod(*terms) if len(terms) > 1 else terms[0]

        @qml.qnode(qml.device("default.qubit", wires=n))
        def run(w: np.ndarray, x: np.ndarray) -> object:
            f(w, x)
            return [qml.expval(obs(word)) for word in words]

        ref = np.stack([np.broadcast_to(np.asarray(r), (x.shape[0],)) for r in run(w, x)], -1)
        xt = torch.tensor(x) if c.n_inputs else None
        got = compile_circuit(c, dtype=torch.complex128).expval(words, xt, torch.tensor(w))
        np.testing.assert_allclose(np.broadcast_to(got.numpy(), ref.shape), ref, rtol=0, atol=1e-10)

    @pytest.mark.parametrize("seed", range(1, 60, 3))
    def test_gradients_match_pennylane(self, seed: int) -> None:
        c, w, x = _case(seed)
        if not c.n_inputs and not c.n_weights:
            pytest.skip("nothing to differentiate")
        n = c.n_qubits
        wt = torch.tensor(w, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        out = compile_circuit(c, dtype=torch.complex128).expval(
            None, xt if c.n_inputs else None, wt
        )
        (out * torch.arange(1, n + 1)).sum().backward()
        ref, gw, gx = pl_z_and_grads(c, w, x)
        np.testing.assert_allclose(np.broadcast_to(out.detach().numpy(), ref.shape), ref, atol=1e-6)
        if c.n_weights:
            np.testing.assert_allclose(_grad(wt).numpy(), gw, atol=1e-4)
        if c.n_inputs:
            np.testing.assert_allclose(_grad(xt).numpy(), gx, atol=1e-4)

    def test_every_gate_against_qiskit(self) -> None:
        pytest.importorskip("qiskit")
        from qiskit.quantum_info import Statevector

        c = all_gates_circuit(3)
        rng = np.random.default_rng(7)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-3, 3, c.n_inputs)
        bound = c.bind(w.tolist(), x.tolist())
        ref = Statevector(to_qiskit(bound)).reverse_qargs().data
        np.testing.assert_allclose(statevector(bound).numpy(), ref, rtol=0, atol=1e-10)

    def test_block_widths_agree(self) -> None:
        c, w, x = _case(11)
        xt = torch.tensor(x) if c.n_inputs else None
        states = [
            compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine").state(
                xt, torch.tensor(w)
            )
            for k in (1, 2, 3, 4, 6)
        ]
        for s in states[1:]:
            torch.testing.assert_close(s, states[0])

    def test_initial_state_is_used(self) -> None:
        c = Circuit(2).x(0)
        psi0 = torch.tensor([0, 1, 0, 0], dtype=torch.complex128)
        out = compile_circuit(c, dtype=torch.complex128).state(initial_state=psi0)
        torch.testing.assert_close(out[0], torch.tensor([0, 0, 0, 1], dtype=torch.complex128))


class TestBatching:
    def test_batch_rows_equal_single_runs(self) -> None:
        c, w, x = _case(3)
        c.rx(0, Input(0))
        x = np.random.default_rng(1).uniform(-2, 2, (5, c.n_inputs))
        plan = compile_circuit(c, dtype=torch.complex128)
        batched = plan.state(torch.tensor(x), torch.tensor(w))
        for i in range(5):
            single = plan.state(torch.tensor(x[i : i + 1]), torch.tensor(w))
            torch.testing.assert_close(batched[i], single[0])

    def test_per_sample_weights(self) -> None:
        c = Circuit(2).add(BasicEntanglerLayers(2, 2))
        w = torch.rand(3, c.n_weights, dtype=torch.float64)
        plan = compile_circuit(c, dtype=torch.complex128)
        batched = plan.state(weights=w)
        for i in range(3):
            torch.testing.assert_close(batched[i], plan.state(weights=w[i])[0])

    def test_quantum_layer_trains(self) -> None:
        torch.manual_seed(0)
        c = Circuit(3).add(AngleEmbedding(3, rotation="Y")).add(BasicEntanglerLayers(2, 3))
        layer = QuantumLayer(c, observables=["Z0"])
        x = torch.rand(16, 3)
        target = torch.full((16, 1), -0.5)
        opt = torch.optim.Adam(layer.parameters(), lr=0.1)
        first = None
        for _ in range(30):
            loss = ((layer(x) - target) ** 2).mean()
            first = first if first is not None else loss.item()
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert first is not None
        assert loss.item() < 0.5 * first

    def test_layer_seeded_by_generator(self) -> None:
        c = Circuit(2).add(BasicEntanglerLayers(1, 2))
        a = QuantumLayer(c, generator=torch.Generator().manual_seed(3))
        b = QuantumLayer(c, generator=torch.Generator().manual_seed(3))
        torch.testing.assert_close(a.weights, b.weights)
        assert a().shape == (1, 2)


def _layered(n: int, layers: int, *, reupload: bool = False) -> Circuit:
    """RY embedding + ``layers`` x (RY, RZ on each wire, CNOT ring): the HQNN shape whose
    rings the engine defers into index maps and gathers. ``reupload`` adds per-sample
    RX and CRX gates inside the layers (per-sample blocks, parametrised 2-qubit gates)."""
    from quarch.quantum import EntanglingLayer, RotationLayer

    c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
    for layer in range(layers):
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
        if reupload:
            c.rx(layer % n, Input((layer + 1) % n))
            c.crx(0, n - 1, c.new_weight())
            c.crx(1, 2, Input(0, 1))
            c.h(n - 1).cz(0, n - 1).rx(2, 0.3)
    return c


def _ran_the_engine(plan: ExecutionPlan) -> bool:
    """The plan's calls so far ran on the block engine, none on the small path (each
    path compiles its runtime on first use)."""
    return bool(plan._runtimes) and not plan._small


def _check_c128_plan(c: Circuit, w: np.ndarray, x: np.ndarray, **plan_kw: Any) -> None:
    """complex128 plan on the block engine vs PennyLane: <Z>, weight and input
    gradients, and the state (``path="auto"`` would run circuits of up to 10 qubits on
    the small path)."""
    ref, gw, gx = pl_z_and_grads(c, w, x)
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    plan = compile_circuit(c, dtype=torch.complex128, **{"path": "engine", **plan_kw})
    out = plan.expval(None, xt, wt)
    (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
    # PennyLane's torch backprop path carries ~1e-9 error on CRX circuits (its own
    # qml.state() agrees with ours to 1e-16, checked below)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-7)
    np.testing.assert_allclose(_grad(wt).numpy(), gw, atol=1e-6)
    np.testing.assert_allclose(_grad(xt).numpy(), gx, atol=1e-6)
    psi = plan.state(torch.tensor(x), torch.tensor(w))
    np.testing.assert_allclose(psi.numpy(), _pl_state(c, w, x), rtol=0, atol=1e-10)
    assert _ran_the_engine(plan)


def _check_c64_layer(c: Circuit, w: np.ndarray, x: np.ndarray, grad_rtol: float = 0.0) -> None:
    """A complex64 QuantumLayer on the block engine vs PennyLane: <Z> and the weight
    and input gradients."""
    ref, gw, gx = pl_z_and_grads(c, w, x)
    layer = QuantumLayer(c, path="engine")
    with torch.no_grad():
        layer.weights.copy_(torch.tensor(w))
    xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
    out = layer(xt)
    (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=2e-5)
    np.testing.assert_allclose(_grad(layer.weights).numpy(), gw, rtol=grad_rtol, atol=2e-3)
    np.testing.assert_allclose(_grad(xt).numpy(), gx, atol=2e-4)
    assert _ran_the_engine(layer.plan)


@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("conj", [False, True])
@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("d", [3, 5])
def test_realify_is_the_complex_product_on_interleaved_pairs(
    d: int, transpose: bool, conj: bool, lazy: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``view_as_real(x) @ realify(m) == view_as_real(x @ A)`` for ``A`` = ``m``, ``m^T``,
    ``conj(m)``, ``m^H``, per row and shared, also for a lazily conjugated ``m``. The
    gather indices' cache starts empty, so the index is built here rather than read from
    what earlier calls (in this process, or the one a mutation run forks from) filled."""
    from quarch.quantum import _apply
    from quarch.quantum._apply import realify

    monkeypatch.setattr(_apply, "_REAL_IDX", {})

    rng = np.random.default_rng(d)
    m = torch.tensor(rng.normal(size=(2, d, d)) + 1j * rng.normal(size=(2, d, d)))
    x = torch.tensor(rng.normal(size=(2, 4, d)) + 1j * rng.normal(size=(2, 4, d)))
    given = m.conj() if lazy else m  # a conjugate view: realify must resolve it
    a = given.resolve_conj()
    a = a.transpose(-1, -2) if transpose else a
    a = a.conj() if conj else a
    want = torch.view_as_real(x @ a).flatten(-2)
    got = torch.view_as_real(x).flatten(-2) @ realify(given, transpose=transpose, conj=conj)
    torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
    shared = torch.view_as_real(x).flatten(-2) @ realify(given[0], transpose=transpose, conj=conj)
    torch.testing.assert_close(shared[0], want[0], rtol=0, atol=1e-12)


class TestFusedEngine:
    """The compiled engine (deferred permutations, gathers, in-place blocks at the end,
    front or middle of the index, adjoint gradients) against PennyLane."""

    @pytest.mark.parametrize(
        ("n", "layers", "k", "reupload"),
        [(3, 2, 4, False), (5, 3, 2, False), (8, 2, 4, False), (9, 3, 3, True), (6, 4, 4, True)],
    )
    def test_layered_values_and_gradients(
        self, n: int, layers: int, k: int, reupload: bool
    ) -> None:
        c = _layered(n, layers, reupload=reupload)
        rng = np.random.default_rng(n * 10 + layers)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (4, c.n_inputs))
        _check_c128_plan(c, w, x, max_block_qubits=k)

    @pytest.mark.parametrize("k", [2, 3])
    def test_scaled_angles_keep_complex128_precision(self, k: int) -> None:
        """Angle scales that float32 cannot hold (0.3, 0.7) on inputs, input products and
        weights, through per-sample and shared blocks: the state to 1e-10 of PennyLane's
        (a scale table made in float32 would be off by about 1e-8)."""
        c = Circuit(5).add(AngleEmbedding(5, rotation="Y"))
        for q in range(5):
            c.rz(q, c.new_weight(scale=0.7)).rx(q, Input(q, scale=0.3))
        c.cnot(0, 1).cnot(2, 3).cnot(3, 4).crx(4, 0, Input(0, 2, scale=0.3))
        c.ry(1, c.new_weight(scale=0.3)).crz(1, 2, c.new_weight(scale=0.7))
        rng = np.random.default_rng(k)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (3, c.n_inputs))
        _check_c128_plan(c, w, x, max_block_qubits=k, path="engine")

    def test_a_batched_group_mixes_shared_and_per_sample_gates(self) -> None:
        """Two blocks of one batched group whose first CRX is shared in one and
        per-sample in the other (and the reverse for the second): the shared matrix is
        broadcast to the batch before the group's stack. Complex128 against PennyLane's
        state, and complex64 (the gate masks in the layer's dtype) against its
        expectations and gradients."""
        c = Circuit(4).add(AngleEmbedding(4, rotation="Y"))
        c.crx(0, 1, c.new_weight()).crx(1, 0, Input(0, scale=0.3))
        c.crx(2, 3, Input(1)).crx(3, 2, c.new_weight(scale=0.7))
        c.cnot(1, 2)
        rng = np.random.default_rng(11)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (3, c.n_inputs))
        _check_c128_plan(c, w, x, max_block_qubits=2, path="engine")
        plan = compile_circuit(c, max_block_qubits=2, path="engine")
        groups = plan._runtime(True, False).eng.groups
        assert [(g.batched, len(g.blocks)) for g in groups if g.kinds == ("P", "P")] == [(True, 2)]
        ref, gw, gx = pl_z_and_grads(c, w, x)
        wt = torch.tensor(w, dtype=torch.float32, requires_grad=True)
        xt = torch.tensor(x, dtype=torch.float32, requires_grad=True)
        out = plan.expval(None, xt, wt)
        (out * torch.arange(1, c.n_qubits + 1)).sum().backward()
        assert out.dtype == torch.float32
        np.testing.assert_allclose(out.detach().numpy(), ref, rtol=0, atol=2e-6)
        np.testing.assert_allclose(_grad(wt).numpy(), gw, rtol=0, atol=2e-5)
        np.testing.assert_allclose(_grad(xt).numpy(), gx, rtol=0, atol=2e-5)

    def test_one_plan_at_changing_batch_sizes(self) -> None:
        """The engine keeps its state buffers between calls: a call with other rows must
        get buffers of its own shape (3, 5, then 3 rows again, each against PennyLane)."""
        c = _layered(5, 2, reupload=True)
        rng = np.random.default_rng(4)
        w = rng.uniform(-3, 3, c.n_weights)
        plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=3, path="engine")
        for rows in (3, 5, 3):
            x = rng.uniform(-2, 2, (rows, c.n_inputs))
            psi = plan.state(torch.tensor(x), torch.tensor(w))
            np.testing.assert_allclose(psi.numpy(), _pl_state(c, w, x), rtol=0, atol=1e-10)

    def test_per_sample_weights_beside_constant_angles(self) -> None:
        """Weights given per row (``[rows, n_weights]``) in a circuit that also has
        constant angles (RX(0.3)): each row's state is PennyLane's with that row's
        weights."""
        c = _layered(5, 2, reupload=True)
        rng = np.random.default_rng(8)
        w = rng.uniform(-3, 3, (3, c.n_weights))
        x = rng.uniform(-2, 2, (3, c.n_inputs))
        plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=3, path="engine")
        psi = plan.state(torch.tensor(x), torch.tensor(w)).numpy()
        for b in range(3):
            want = _pl_state(c, w[b], x[b : b + 1])
            np.testing.assert_allclose(psi[b : b + 1], want, rtol=0, atol=1e-10)

    def test_complex64_gradients(self) -> None:
        c = _layered(8, 3)
        rng = np.random.default_rng(5)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (16, c.n_inputs))
        _check_c64_layer(c, w, x)

    @pytest.mark.parametrize(
        ("toffoli", "k", "local_map"),
        [(False, 2, True), (False, 3, False), (True, 3, False), (True, 4, False)],
    )
    def test_permutation_inside_narrow_block(
        self, toffoli: bool, k: int, local_map: bool, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With ``k = 2`` the two leading CNOTs are deferred (wider together than a
        block); the blocks on (0, 1) and (2, 3) then run in place with CNOT's map folded
        into their matrices (not a bit order: the local-map branch of
        ``Engine._place``), and the trailing SWAP/X/CNOT stay in the index map until
        ``state()`` puts the amplitudes back in order. A Toffoli widens every block to 3
        wires (``max_block_qubits`` is at least the widest gate), so the narrow case
        has none; with it, and at ``k = 3``, the blocks gather instead, and at ``k = 4``
        one block multiplies every gate. State, ``<Z>`` and gradients against
        PennyLane; Pauli words against the dense product of their matrices on
        PennyLane's state."""
        from quarch.quantum import _compile

        maps: list[bool] = []
        place = _compile.place

        def spy(*args: Any) -> Any:
            out = place(*args)
            maps.append(out[4] is not None)  # a local map (stored -> true) came back
            return out

        monkeypatch.setattr(_compile, "place", spy)
        c = Circuit(4).cnot(0, 1).cnot(2, 3)
        c.rx(2, c.new_weight()).ry(3, Input(0)).h(0).h(2).cnot(0, 1).cnot(2, 3)
        c.rx(0, c.new_weight()).ry(1, Input(1))
        c.rz(2, c.new_weight()).crx(3, 1, Input(0)).swap(0, 3).x(2)
        if toffoli:
            c.ccx(0, 1, 2)
        else:
            c.cnot(0, 1)
        rng = np.random.default_rng(3)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (3, c.n_inputs))
        _check_c128_plan(c, w, x, max_block_qubits=k)
        plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
        assert plan.max_block_qubits == k
        assert maps and any(maps) == local_map
        # the trailing permutations stay in the index map, unless one 4-wire block
        # multiplies them
        assert plan._runtime(True, False).eng.identity_layout == (k == 4)
        words = ["X0", "Y1 Z2", "Z0 Z3", "X1 X2 Y3"]
        got = plan.expval(words, torch.tensor(x), torch.tensor(w)).numpy()
        psi = _pl_state(c, w, x)
        pauli = {"X": qml.matrix(qml.PauliX(0)), "Y": qml.matrix(qml.PauliY(0))}
        pauli["Z"] = qml.matrix(qml.PauliZ(0))
        for j, word in enumerate(words):
            ops = {int(t[1:]): pauli[t[0]] for t in word.split()}
            m = np.eye(1)
            for q in range(4):  # wire 0 is the most significant bit
                m = np.kron(m, ops.get(q, np.eye(2)))
            want = np.einsum("bi,ij,bj->b", psi.conj(), m, psi).real
            np.testing.assert_allclose(got[:, j], want, rtol=0, atol=1e-10)
        assert _ran_the_engine(plan)

    def test_per_sample_weights_with_gathers(self) -> None:
        c = _layered(6, 2)
        x = torch.rand(3, c.n_inputs, dtype=torch.float64)
        w = torch.rand(3, c.n_weights, dtype=torch.float64, requires_grad=True)
        plan = compile_circuit(c, dtype=torch.complex128, path="engine")
        out = plan.expval(None, x, w)
        out.sum().backward()
        for i in range(3):
            wi = w[i].detach().clone().requires_grad_(True)
            oi = plan.expval(None, x[i : i + 1], wi)
            oi.sum().backward()
            torch.testing.assert_close(out[i], oi[0])
            torch.testing.assert_close(_grad(w)[i], wi.grad)
        assert _ran_the_engine(plan) and plan._runtime(True, True).eng.n_passes[1] > 0

    def test_two_forwards_then_one_backward(self) -> None:
        # The engine reuses state buffers between calls: the first graph must still
        # differentiate correctly after a second forward has overwritten them.
        c = _layered(7, 2)
        plan = compile_circuit(c, dtype=torch.complex128, path="engine")
        w = torch.rand(c.n_weights, dtype=torch.float64, requires_grad=True)
        x1, x2 = torch.rand(5, 7, dtype=torch.float64), torch.rand(5, 7, dtype=torch.float64)
        (plan.expval(None, x1, w).sum() + 2 * plan.expval(None, x2, w).sum()).backward()
        both = _grad(w).clone()
        w.grad = None
        plan.expval(None, x1, w).sum().backward()
        g1 = _grad(w).clone()
        w.grad = None
        plan.expval(None, x2, w).sum().backward()
        torch.testing.assert_close(both, g1 + 2 * _grad(w))
        assert _ran_the_engine(plan)

    def test_initial_state_gradient_matches_dense_unitary(self) -> None:
        c = _layered(4, 2)
        c_w = Circuit(4, [op for op in c.ops if not (op.name == "ry" and _is_input(op.params[0]))])
        rng = np.random.default_rng(0)
        w = rng.uniform(-3, 3, c_w.n_weights)
        u = torch.as_tensor(qml.matrix(to_pennylane(c_w), wire_order=range(4))(w, None))
        psi0 = torch.randn(2, 16, dtype=torch.complex128)
        psi0 = (psi0 / psi0.norm(dim=-1, keepdim=True)).requires_grad_(True)
        ref_in = psi0.detach().clone().requires_grad_(True)
        plan = compile_circuit(c_w, dtype=torch.complex128, path="engine")
        got = plan.expval("Z1", weights=torch.tensor(w), initial_state=psi0)
        z1 = torch.tensor([1.0 - 2 * ((i >> 2) & 1) for i in range(16)], dtype=torch.float64)
        out = ref_in @ u.T
        ref = (out.abs() ** 2 * z1).sum(-1, keepdim=True)
        torch.testing.assert_close(got, ref)
        got.sum().backward()
        ref.sum().backward()
        torch.testing.assert_close(psi0.grad, ref_in.grad)
        assert _ran_the_engine(plan)


def _hqnn_iqp_crz(n: int, ent0: str, ent1: str) -> Circuit:
    """The ``hqnn`` circuit with IQP embedding, 2 layers, re-uploading and CRZ: blocks
    of one group mix per-sample (RZZ(x_i x_j)) and shared (CRZ(w)) gates at the same
    factor position."""
    from quarch.spaces.hqnn.model import build_circuit

    arch = {"embedding": "iqp", "qubits": n, "layers": 2, "reupload": True}
    arch.update(entangler="crz", rotation_0="rot", rotation_1="ry")
    arch.update(entanglement_0=ent0, entanglement_1=ent1, measurement="z")
    return build_circuit(arch)


class TestMixedSharedBatchedFactors:
    """Regression: stacking shared ``[d, d]`` with per-sample ``[B, d, d]`` factors of
    one block group crashed ``block_matrices`` (torch.stack size mismatch)."""

    @pytest.mark.parametrize(
        ("n", "ent0", "ent1"),
        [(5, "none", "full"), (6, "ring", "even"), (7, "full", "range-2"), (8, "linear", "odd")],
    )
    def test_iqp_crz_reupload_matches_pennylane(self, n: int, ent0: str, ent1: str) -> None:
        c = _hqnn_iqp_crz(n, ent0, ent1)
        rng = np.random.default_rng(n)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (5, c.n_inputs))
        _check_c128_plan(c, w, x)

    @pytest.mark.parametrize("batch", [1, 90])
    def test_quantum_layer_batches(self, batch: int) -> None:
        c = _hqnn_iqp_crz(8, "linear", "odd")
        rng = np.random.default_rng(batch)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (batch, c.n_inputs))
        _check_c64_layer(c, w, x, grad_rtol=1e-4)


@pytest.mark.parametrize("path", ["small", "engine"])
def test_python_sequences_are_read_at_the_plans_precision(path: str) -> None:
    """Lists of floats are read as the plan's dtype, not torch's float32 default
    (which rounded 0.1234567891234567 by 1e-9 before the complex128 plan saw it)."""
    from quarch.quantum import AngleEmbedding
    from quarch.quantum.circuit import Weight

    x, w = 0.1234567891234567, 1.2345678912345678
    c = Circuit(2).add(AngleEmbedding(2, rotation="Y")).ry(0, Weight(0)).cnot(0, 1)
    plan = compile_circuit(c, dtype=torch.complex128, path=path)
    f64 = torch.float64
    xs, ws = torch.tensor([[x, 2 * x]], dtype=f64), torch.tensor([w], dtype=f64)
    psi0 = torch.tensor([0.6, 0.0, 0.0, 0.8j + 1e-12], dtype=torch.complex128)
    psi0 = psi0 / psi0.abs().square().sum().sqrt()
    want = plan.state(inputs=xs, weights=ws)
    # Python lists on purpose: state() reads them, but its signature (src) says Tensor
    assert torch.equal(plan.state(inputs=[[x, 2 * x]], weights=[w]), want)  # type: ignore[arg-type]
    want0 = plan.state(inputs=xs, weights=ws, initial_state=psi0)
    got0 = plan.state(inputs=[[x, 2 * x]], weights=[w], initial_state=psi0.tolist())  # type: ignore[arg-type]
    assert torch.equal(got0, want0)


@pytest.mark.parametrize("path", ["small", "engine"])
def test_a_used_layer_pickles(path: str) -> None:
    """A layer that has run (its plan holds compiled runtimes, replays and the dense
    variant's tables) pickles, as ``torch.save`` of a whole model does, and the copy
    gives the same values and gradients, compiling again on its first call."""
    import pickle

    c = Circuit(2)
    for _ in range(2):  # a re-uploading IQP circuit: every cache the small path has
        c.add(IQPEmbedding(2)).add(RotationLayer(2, ("Y", "Z"))).add(
            EntanglingLayer(2, "ring", "cnot")
        )
    layer = QuantumLayer(c, generator=torch.Generator().manual_seed(0), path=path)
    x = torch.rand(16, 2)
    for _ in range(4):
        layer(x).sum().backward()
    copy = pickle.loads(pickle.dumps(layer))
    assert not copy.plan._small and not copy.plan._runtimes
    for net in (layer, copy):
        net.zero_grad()
    a, b = layer(x), copy(x)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    a.sum().backward()
    b.sum().backward()
    for p, q in zip(layer.parameters(), copy.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-6)


class TestLayerPrecision:
    """``.double()`` / ``.float()`` / ``.to(dtype)`` of a model holding a QuantumLayer
    switch the circuit's precision with its weights, as for any torch module."""

    def _circuit(self) -> Circuit:
        return Circuit(3).add(AngleEmbedding(3, rotation="Y")).add(BasicEntanglerLayers(2, 3))

    def test_double_runs_the_circuit_in_float64(self) -> None:
        c = self._circuit()
        layer = QuantumLayer(c, generator=torch.Generator().manual_seed(0))
        model = torch.nn.Sequential(layer, torch.nn.Linear(3, 2)).double()
        x = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
        assert model(x).dtype == torch.float64  # the Linear after it got float64
        out = layer(x)
        assert out.dtype == torch.float64
        w = layer.weights.detach().numpy()
        want, _, _ = pl_z_and_grads(c, w, x.numpy())
        # float64 agreement, far below what a complex64 run reaches (~1e-7)
        np.testing.assert_allclose(out.detach().numpy(), want, rtol=0, atol=1e-12)
        xg = x.clone().requires_grad_()
        assert torch.autograd.gradcheck(layer, (xg,))
        assert layer.float()(x.float()).dtype == torch.float32

    def test_the_plan_keeps_its_options_across_precisions(self) -> None:
        """A switch of precision compiles the circuit again with the layer's own path and
        block size, and a layer saved whole (``torch.save(model)``) before the layer kept
        its options still switches, on its plan's path."""
        layer = QuantumLayer(self._circuit(), dtype=torch.complex128, path="engine",
                             max_block_qubits=1)  # fmt: skip
        assert layer.plan.dtype == torch.complex128  # before any call
        first = (layer.plan.path, layer.plan.max_block_qubits)
        assert first == ("engine", 2)  # not "auto" and 3, the defaults' plan
        layer.float()
        assert layer.plan.dtype == torch.complex64
        assert (layer.plan.path, layer.plan.max_block_qubits) == first
        del layer._options  # as an older quarch pickled it
        layer.double()
        assert layer.plan.dtype == torch.complex128 and layer.plan.path == "engine"

    def test_half_precision_is_refused(self) -> None:
        layer = QuantumLayer(self._circuit()).half()
        with pytest.raises(
            SimulationError, match=r"runs in float32 or float64; its weights are torch.float16"
        ):
            layer(torch.rand(2, 3).half())


class TestMemoryRefusal:
    """From 20 qubits a call checks that two state copies fit the device's memory."""

    def test_a_register_too_large_is_refused_before_allocating(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from quarch.quantum import _memory

        # 20 qubits, 3 rows of complex64: 2 * 3 * 2**20 * 8 B = 48 MiB
        plan = compile_circuit(Circuit(20).ry(0, Input(0)), dtype=torch.complex64)
        monkeypatch.setattr(_memory, "device_memory_bytes", lambda device: 2**26)
        assert plan.state(torch.zeros(3, 1), None).shape == (3, 2**20)  # 64 MiB: runs
        monkeypatch.setattr(_memory, "device_memory_bytes", lambda device: 2**25)
        with pytest.raises(
            SimulationError,
            match=r"^a state vector of 20 qubits for a batch of 3 needs at least 48 MiB \(two "
            r"complex64 copies\); this machine has 32 MiB\. Use fewer qubits or a smaller batch$",
        ):
            plan.state(torch.zeros(3, 1), None)
        layer = QuantumLayer(Circuit(20).add(AngleEmbedding(20)))  # the layer's own path too
        with pytest.raises(SimulationError, match=r"^a state vector of 20 qubits for a batch of 3"):
            layer(torch.zeros(3, 20))
        monkeypatch.setattr(_memory, "device_memory_bytes", lambda device: 2**34)
        with pytest.raises(SimulationError, match=r"needs at least 32\.0 GiB .* has 16\.0 GiB"):
            statevector(Circuit(30).h(0))  # complex128: 2 * 2**30 * 16 B

    def test_unknown_memory_is_not_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from quarch.quantum import _memory

        monkeypatch.setattr(_memory, "device_memory_bytes", lambda device: None)
        assert statevector(Circuit(20).x(19)).abs()[1] == 1.0

    def test_this_machine_reports_its_memory(self) -> None:
        from quarch.quantum._memory import device_memory_bytes

        total = device_memory_bytes(torch.device("cpu"))
        assert total is None or total > 2**28


@pytest.mark.parametrize(("n", "batch"), [(4, 16), (4, 1), (11, 3)])
def test_a_compiled_hybrid_model_equals_the_eager_one(n: int, batch: int) -> None:
    """torch.compile of a model with a quantum layer: dynamo traced into the engine and
    failed (InternalTorchDynamoError); the engine is now left out of the traced graph,
    so the model compiles around it with the same values and gradients, on the small
    path (4 qubits, batch 16 and 1) and the general engine (11 qubits).
    ``aot_eager`` traces as the default backend does, without a C++ compiler."""
    torch.manual_seed(0)
    c = Circuit(n).add(AngleEmbedding(n)).add(BasicEntanglerLayers(2, n))
    model = torch.nn.Sequential(
        torch.nn.Linear(8, n), QuantumLayer(c, dtype=torch.complex128), torch.nn.Linear(n, 3)
    ).double()
    x = torch.rand(batch, 8, dtype=torch.float64)
    want = model(x)
    want.sum().backward()
    grads = [_grad(p).clone() for p in model.parameters()]
    compiled = torch.compile(model, backend="aot_eager")
    for _ in range(3):  # the engine's third call of a shape runs as a replay
        model.zero_grad()
        got = compiled(x)
        got.sum().backward()
        torch.testing.assert_close(got, want, rtol=0, atol=1e-12)
        for g, p in zip(grads, model.parameters(), strict=True):
            torch.testing.assert_close(_grad(p), g, rtol=0, atol=1e-12)
