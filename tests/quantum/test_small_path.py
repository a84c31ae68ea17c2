"""The small-circuit path (``path="small"``) against PennyLane, and the path choice.

The small path is a second engine with a hand-written backward, so it gets its own
random-circuit tests over every gate (values and gradients, 1-6 qubits), at the batch
sizes where its run time changes strategy: one row, a few rows, and enough rows to
fold shared segments into one matrix (``max(FOLD_ROWS, 2^(n+1))``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    Input,
    IQPEmbedding,
    QuantumLayer,
    RotationLayer,
    SimulationError,
    compile_circuit,
    to_pennylane,
)
from quarch.quantum._small_cost import FOLD_ROWS
from quarch.quantum.simulator import PATHS

from ._pennylane_truth import pl_z_and_grads
from ._random import all_gates_circuit, random_circuit

qml = pytest.importorskip("pennylane")


def _pl(c: Circuit, w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """PennyLane (backprop, float64): the state, <Z_i>, and d/dw, d/dx of
    ``sum_i (i+1) <Z_i> + sum_i <X_i> / (i+2)``."""
    n = c.n_qubits
    f = to_pennylane(c)
    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def run(w: torch.Tensor, x: torch.Tensor) -> object:
        f(w, x)
        return [qml.expval(qml.PauliZ(i)) for i in range(n)] + [
            qml.expval(qml.PauliX(i)) for i in range(n)
        ]

    @qml.qnode(dev)
    def state(w: np.ndarray, x: np.ndarray) -> object:
        f(w, x)
        return qml.state()

    wr = torch.tensor(w, requires_grad=True)
    xr = torch.tensor(x, requires_grad=True)
    out = torch.stack([torch.as_tensor(r).expand(x.shape[0]) for r in run(wr, xr)], -1)
    if out.requires_grad:
        _loss(out[:, :n], out[:, n:]).backward()
    psi = np.asarray(state(w, x))
    psi = psi if psi.ndim == 2 else np.broadcast_to(psi, (x.shape[0], psi.shape[-1]))
    gw = np.zeros_like(w) if wr.grad is None else wr.grad.numpy()
    gx = np.zeros_like(x) if xr.grad is None else xr.grad.numpy()
    return psi, out.detach().numpy(), gw, gx


def _grad(t: torch.Tensor) -> torch.Tensor:
    """``t.grad``, which the backward just run through ``t`` has set."""
    assert t.grad is not None
    return t.grad


def _loss(z: torch.Tensor, xs: torch.Tensor) -> torch.Tensor:
    n = z.shape[1]
    return (z * torch.arange(1, n + 1)).sum() + (xs / torch.arange(2, n + 2)).sum()


def _check(c: Circuit, w: np.ndarray, x: np.ndarray, path: str = "small") -> None:
    """``path`` in complex128 against PennyLane: state, Z and X expectations, gradients."""
    n = c.n_qubits
    psi, ref, gw, gx = _pl(c, w, x)
    plan = compile_circuit(c, dtype=torch.complex128, path=path)
    assert plan.path == path
    wt = torch.tensor(w, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True) if c.n_inputs else None
    words = [f"Z{i}" for i in range(n)] + [f"X{i}" for i in range(n)]
    out = plan.expval(words, xt, wt)
    with torch.no_grad():  # the forward-only call (no autograd node): the same numbers
        quiet = plan.expval(words, xt, wt)
    assert quiet.grad_fn is None and torch.equal(quiet, out.detach())
    out = out.expand(x.shape[0], -1)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-7)
    if not (c.n_weights or c.n_inputs):
        return
    _loss(out[:, :n], out[:, n:]).backward()
    if c.n_weights:
        np.testing.assert_allclose(_grad(wt).numpy(), gw, rtol=1e-6, atol=1e-6)
    if xt is not None:
        np.testing.assert_allclose(_grad(xt).numpy(), gx, rtol=1e-6, atol=1e-6)
    got = plan.state(torch.tensor(x) if c.n_inputs else None, torch.tensor(w)).numpy()
    np.testing.assert_allclose(np.broadcast_to(got, psi.shape), psi, rtol=0, atol=1e-10)


def _random_case(seed: int, batch: int) -> tuple[Circuit, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1000 + seed)
    c = random_circuit(int(rng.integers(1, 7)), rng, n_ops=int(rng.integers(4, 20)))
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (batch, max(c.n_inputs, 1)))
    return c, w, x


def _check_z(c: Circuit, w: np.ndarray, x: np.ndarray) -> None:
    """``<Z_i>`` only, the words a hybrid network measures: the run time then folds
    trailing permutations into the sign table and drops trailing phases. Values and
    the gradients of ``sum_i (i+1) <Z_i>`` against PennyLane."""
    n = c.n_qubits
    ref, gw, gx = pl_z_and_grads(c, w, x)
    wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    out = plan.expval([f"Z{i}" for i in range(n)], xt, wt).expand(x.shape[0], -1)
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-7)
    (out * torch.arange(1, n + 1)).sum().backward()
    np.testing.assert_allclose(_grad(wt).numpy(), gw, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(_grad(xt).numpy(), gx, rtol=1e-6, atol=1e-6)


def _layered(n: int, layers: int, embedding: str, entangler: str) -> Circuit:
    """A circuit as the ``hqnn`` space and the simulator benchmark build them: an
    embedding, then per layer trainable rotations and an entangling layer. Its leading
    one-qubit layers become the product state (several prefix layers, per-sample and
    shared), the path a random circuit rarely takes."""
    c = Circuit(n)
    if embedding == "iqp":
        c.add(IQPEmbedding(n))
    else:
        c.add(AngleEmbedding(n, rotation=embedding))
    for _ in range(layers):
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", entangler))
    return c


def _z_and_all_words(c: Circuit, seed: int, batch: int) -> None:
    """Random weights and inputs: ``<Z>`` only (:func:`_check_z`) and, below 300 rows
    (PennyLane's state is slow there), Z and X words with the state (:func:`_check`)."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-3, 3, (batch, c.n_inputs))
    _check_z(c, w, x)
    if batch < 300:
        _check(c, w, x)


class TestLayeredCircuitsAgainstPennyLane:
    @pytest.mark.parametrize(
        ("n", "layers", "embedding", "entangler"),
        [(1, 1, "Y", "cnot"), (2, 2, "Y", "cnot"), (3, 2, "X", "cz"), (4, 2, "Y", "crz"),
         (5, 1, "iqp", "cnot"), (6, 3, "Y", "cnot"), (4, 3, "iqp", "rzz")],
    )  # fmt: skip
    @pytest.mark.parametrize("batch", [1, 3, 300])
    def test_values_and_gradients(
        self, n: int, layers: int, embedding: str, entangler: str, batch: int
    ) -> None:
        c = _layered(n, layers, embedding, entangler)
        _z_and_all_words(c, n * 100 + layers * 10 + batch, batch)

    @pytest.mark.parametrize("batch", [1, 3, 300])
    @pytest.mark.parametrize("n", [2, 4])
    @pytest.mark.parametrize("first", [True, False])
    def test_inputs_after_a_trainable_layer(self, n: int, batch: int, first: bool) -> None:
        # the inputs (again, or only) after a trainable layer: a per-sample Kronecker
        # layer whose partial traces are kept per row, grouped with the product state's
        # when that is per sample too, else alone
        c = _layered(n, 1, "Y", "cnot") if first else Circuit(n)
        if not first:
            c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
        c.add(AngleEmbedding(n, rotation="X"))
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cz"))
        _z_and_all_words(c, 11 * n + batch, batch)

    @pytest.mark.parametrize("batch", [1, 3, 300])
    @pytest.mark.parametrize("n", [2, 3, 5])
    def test_complex_phase_gates_between_layers(self, n: int, batch: int) -> None:
        # one-qubit constants (Y, S) go into the layers' rows; two-qubit ones after a
        # shared whole-register layer go into its matrix (n <= 3 here), and a constant
        # CPHASE makes that layer's partial trace carry complex phases (CZ's are +-1)
        c = _layered(n, 2, "Y", "cnot")  # the second rotation layer: a Kronecker layer
        c.y(0).s(n - 1).cphase(0, 1, 0.7).cy(0, 1).sdg(1)
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cz"))
        c.cphase(n - 1, 0, -1.3).cy(n - 1, 0).y(1)
        _z_and_all_words(c, 7 * n + batch, batch)


class TestSmallPathAgainstPennyLane:
    @pytest.mark.parametrize("seed", range(40))
    def test_random_circuits(self, seed: int) -> None:
        c, w, x = _random_case(seed, batch=1 + seed % 3)
        _check(c, w, x)

    @pytest.mark.parametrize("seed", range(0, 40, 5))
    def test_random_circuits_folded(self, seed: int) -> None:
        # enough rows that shared segments run as one matrix (run time's fold)
        c, w, x = _random_case(seed, batch=max(FOLD_ROWS, 2 ** (6 + 1)))
        _check(c, w, x)

    @pytest.mark.parametrize(("n", "batch"), [(3, 1), (3, 2), (4, 1), (5, 70), (6, 3)])
    def test_every_gate(self, n: int, batch: int) -> None:
        c = all_gates_circuit(n)
        rng = np.random.default_rng(n)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-3, 3, (batch, c.n_inputs))
        _check(c, w, x)

    def test_per_sample_weights_equal_single_rows(self) -> None:
        c = all_gates_circuit(4)
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        x = torch.rand(3, c.n_inputs, dtype=torch.float64)
        w = torch.rand(3, c.n_weights, dtype=torch.float64, requires_grad=True)
        out = plan.expval(["Z0", "X1 Y2"], x, w)
        (out * torch.tensor([1.0, -2.0], dtype=torch.float64)).sum().backward()
        for i in range(3):
            wi = w[i].detach().clone().requires_grad_(True)
            oi = plan.expval(["Z0", "X1 Y2"], x[i : i + 1], wi)
            (oi * torch.tensor([1.0, -2.0], dtype=torch.float64)).sum().backward()
            torch.testing.assert_close(out[i], oi[0])
            torch.testing.assert_close(_grad(w)[i], wi.grad)

    @pytest.mark.parametrize("batch", [1, 4])
    def test_angles_from_products_of_inputs_only(self, batch: int) -> None:
        # every input angle a product of features, of two arities (IQP's RZZ(x_i x_j)
        # reads pairs only): the products are gathered per arity, then joined
        c = Circuit(3).ry(0, Input(0, 1)).rz(1, Input(0, 1, 2)).h(2).crx(2, 0, Input(1, 2))
        c.rx(1, Input(0, 2, scale=0.5)).add(RotationLayer(3, ("Y",))).cnot(0, 2)
        c.rz(2, Input(0, 1, scale=-1.5))  # a product read twice: more angles than products
        if batch == 4:  # a third arity: each group's gradients start past the previous ones'
            c.ry(1, Input(0, 1, 2, 3)).cry(1, 2, Input(1, 3))
        rng = np.random.default_rng(batch)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-2, 2, (batch, c.n_inputs))
        _check(c, w, x)
        _check_z(c, w, x)

    def test_per_sample_weights_without_inputs_equal_single_rows(self) -> None:
        # weights per sample and no input features: the angles come from the weights alone
        c = Circuit(3).add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "crz"))
        assert c.n_inputs == 0
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        w = torch.rand(4, c.n_weights, dtype=torch.float64, requires_grad=True)
        out = plan.expval(["Z0", "Z2"], None, w)
        (out * torch.tensor([1.0, -2.0], dtype=torch.float64)).sum().backward()
        for i in range(4):
            wi = w[i].detach().clone().requires_grad_(True)
            oi = plan.expval(["Z0", "Z2"], None, wi)
            (oi * torch.tensor([1.0, -2.0], dtype=torch.float64)).sum().backward()
            torch.testing.assert_close(out[i], oi[0])
            torch.testing.assert_close(_grad(w)[i], wi.grad)

    @pytest.mark.parametrize("seed", range(12))
    def test_one_row_equals_a_row_of_a_batch(self, seed: int) -> None:
        # one row runs a program where inputs and per-sample weights are shared
        # sources (one kind of rows); it must equal that row computed in a batch, where
        # they are per-sample, for values and for the gradients of weights and inputs
        rng = np.random.default_rng(50 + seed)
        c = random_circuit(int(rng.integers(1, 7)), rng, n_ops=int(rng.integers(4, 20)))
        if seed % 3 == 0:  # products of inputs, of two arities, among the angles
            c.rz(0, Input(0, 1)).ry(c.n_qubits - 1, Input(0, 1, 2, scale=0.5))
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        words = ["Z0", f"X{c.n_qubits - 1}"]
        scale = torch.tensor([1.0, -2.0], dtype=torch.float64)
        ni = max(c.n_inputs, 1)
        x = torch.tensor(rng.uniform(-3, 3, (3, ni)), requires_grad=True)
        for batched_w in (False, True):
            if not (c.n_inputs or batched_w):
                continue  # nothing per sample: one program serves every batch
            wb = torch.tensor(rng.uniform(-3, 3, (3, c.n_weights)), requires_grad=True)
            xi = x if c.n_inputs else None
            out = plan.expval(words, xi, wb if batched_w else wb[1])
            (out[1] * scale).sum().backward()
            w1 = (wb[1:2] if batched_w else wb[1]).detach().clone().requires_grad_(True)
            x1 = x[1:2].detach().clone().requires_grad_(True)
            o1 = plan.expval(words, x1 if c.n_inputs else None, w1)
            (o1[0] * scale).sum().backward()
            torch.testing.assert_close(o1[0], out[1])
            if c.n_weights:
                torch.testing.assert_close(_grad(w1).view(-1), _grad(wb)[1])
            if c.n_inputs:
                torch.testing.assert_close(x1.grad, _grad(x)[1:2])
            x.grad = None
            one_row = plan._small[(True, batched_w, torch.device("cpu"), True)].prog
            assert not one_row.batched and not one_row.n_angles["b"]

    def test_one_row_amplitude_embedding_with_input_angles(self) -> None:
        # a start state from the inputs and angles from the same inputs, one row
        rng = np.random.default_rng(7)
        c = Circuit(3).add(AmplitudeEmbedding(8, pad_with=0.0, normalize=True))
        c.ry(0, Input(1)).rz(2, Input(0, 3)).cnot(0, 1).crx(1, 2, c.new_weight())
        c.add(RotationLayer(3, ("Y",)))
        _check(c, rng.uniform(-3, 3, c.n_weights), rng.uniform(-1, 1, (1, 8)))

    def test_non_contiguous_initial_state(self) -> None:
        c = Circuit(2).add(RotationLayer(2, ("Y",))).cnot(0, 1)
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        w = torch.tensor([0.3, -1.1], dtype=torch.float64)
        base = torch.randn(4, 3, dtype=torch.complex128)
        psi0 = (base / base.norm(dim=0, keepdim=True)).mT  # [3, 4], not contiguous
        assert not psi0.is_contiguous()
        got = plan.expval(["Z0", "Z1"], weights=w, initial_state=psi0)
        ref = plan.expval(["Z0", "Z1"], weights=w, initial_state=psi0.contiguous())
        torch.testing.assert_close(got, ref)

    def test_initial_state_gradient_matches_dense_unitary(self) -> None:
        rng = np.random.default_rng(3)
        c = random_circuit(3, rng, n_ops=15)
        c = Circuit(
            3, [op for op in c.ops if all(getattr(p, "kind", "") != "input" for p in op.params)]
        )
        w = rng.uniform(-3, 3, c.n_weights)
        u = torch.as_tensor(qml.matrix(to_pennylane(c), wire_order=range(3))(w, None))
        psi0 = torch.randn(2, 8, dtype=torch.complex128)
        psi0 = (psi0 / psi0.norm(dim=-1, keepdim=True)).requires_grad_(True)
        ref_in = psi0.detach().clone().requires_grad_(True)
        got = compile_circuit(c, dtype=torch.complex128, path="small").expval(
            "Z1", weights=torch.tensor(w), initial_state=psi0
        )
        z1 = torch.tensor([1.0 - 2 * ((i >> 1) & 1) for i in range(8)], dtype=torch.float64)
        ref = ((ref_in @ u.T).abs() ** 2 * z1).sum(-1, keepdim=True)
        torch.testing.assert_close(got, ref)
        got.sum().backward()
        ref.sum().backward()
        torch.testing.assert_close(psi0.grad, ref_in.grad)

    def test_one_initial_state_for_a_batch(self) -> None:
        """A single start state under a batch of inputs: its gradient sums the rows'."""
        c = Circuit(2).ry(0, Input(0)).add(RotationLayer(2, ("Y",))).cnot(0, 1).rx(1, Input(1))
        plan = compile_circuit(c, dtype=torch.complex128, path="small")
        w = torch.tensor([0.3, -1.1], dtype=torch.float64)
        x = torch.rand(4, 2, dtype=torch.float64)
        base = torch.randn(1, 4, dtype=torch.complex128)
        psi0 = (base / base.norm()).requires_grad_(True)
        ref_in = psi0.detach().clone().requires_grad_(True)
        got = plan.expval(["Z0", "Z1"], x, w, initial_state=psi0)
        ref = plan.expval(["Z0", "Z1"], x, w, initial_state=ref_in.expand(4, -1))
        torch.testing.assert_close(got, ref)
        (got * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum().backward()
        (ref * torch.tensor([1.0, 2.0], dtype=torch.float64)).sum().backward()
        torch.testing.assert_close(psi0.grad, ref_in.grad)

    def test_amplitude_embedding(self) -> None:
        rng = np.random.default_rng(4)
        c = Circuit(3).add(AmplitudeEmbedding(8, pad_with=0.0, normalize=True))
        for q in range(3):
            c.ry(q, c.new_weight()).rz(q, c.new_weight())
        c.cnot(0, 1).crx(1, 2, c.new_weight()).cz(2, 0)
        w = rng.uniform(-3, 3, c.n_weights)
        x = rng.uniform(-1, 1, (4, 8))
        _check(c, w, x)


def test_one_plan_at_changing_batch_sizes() -> None:
    """One plan called at batch sizes that change its run time's strategy (a few rows,
    folded rows, per-sample weights) in turn: each call equals a fresh plan's, values
    and gradients. The run time caches per-shape work (the backward's trace grouping,
    the replays); a cache keyed too coarsely would reuse one shape's for another."""
    rng = np.random.default_rng(11)
    words = ["Z0", "Z1", "Z2", "X0 Y1"]
    amplitude = Circuit(3).add(AmplitudeEmbedding(8, pad_with=0.0, normalize=True))
    amplitude.add(RotationLayer(3, ("Y", "Z"))).add(EntanglingLayer(3, "ring", "crz"))
    for k in range(4):  # three with a product state, one from amplitudes (no product state)
        c = random_circuit(3, rng, n_ops=16) if k < 3 else amplitude
        c.add(AngleEmbedding(3, rotation="Y")).add(RotationLayer(3, ("Y", "Z")))
        c.add(EntanglingLayer(3, "ring", "cnot"))
        shared = compile_circuit(c, dtype=torch.complex128, path="small")
        for batch in (3, 70, 5, 70, 3, 2, 70, 3):
            w = rng.uniform(-3, 3, c.n_weights)
            x = rng.uniform(-3, 3, (batch, c.n_inputs))
            got: list[torch.Tensor | None] = []
            ref: list[torch.Tensor | None] = []
            for plan, out in (
                (shared, got),
                (compile_circuit(c, dtype=torch.complex128, path="small"), ref),
            ):
                wt, xt = torch.tensor(w, requires_grad=True), torch.tensor(x, requires_grad=True)
                z = plan.expval(words, xt, wt)
                (z * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
                out += [z.detach(), wt.grad, xt.grad]
            for a, b in zip(got, ref, strict=True):
                torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


class TestPathChoice:
    def test_bad_path_is_one_clear_error(self) -> None:
        with pytest.raises(SimulationError, match="path must be one of"):
            compile_circuit(Circuit(2).h(0), path="fast")
        with pytest.raises(SimulationError, match="at most"):
            compile_circuit(Circuit(11).h(0), path="small")
        assert set(PATHS) == {"auto", "small", "engine"}

    def test_paths_agree(self) -> None:
        c = all_gates_circuit(5)
        rng = np.random.default_rng(9)
        w = torch.tensor(rng.uniform(-3, 3, c.n_weights))
        x = torch.tensor(rng.uniform(-3, 3, (5, c.n_inputs)))
        states = [compile_circuit(c, dtype=torch.complex128, path=p).state(x, w) for p in PATHS]
        for s in states[1:]:
            torch.testing.assert_close(s, states[0])

    def test_cost_model_choice(self) -> None:
        # the benchmark layer: the small path at one row (every n measured), the block
        # engine at n = 8 and 256 rows (it was 4-5x faster there)
        from quarch.quantum import AngleEmbedding, EntanglingLayer, RotationLayer

        def layer(n: int) -> QuantumLayer:
            c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
            for _ in range(2):
                c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
            return QuantumLayer(c)

        small, large = layer(4), layer(8)
        cpu = torch.device("cpu")
        assert small.plan._small_wins(True, False, 1, cpu)
        assert small.plan._small_wins(True, False, 32, cpu)
        assert not large.plan._small_wins(True, False, 256, cpu)
        # a re-uploading 3-qubit hybrid of the README's iris search: one engine block
        # of 14 matrix products, which the model without that feature sent to the
        # engine at batches 16 and 30, 3.6x slower there (benchmarks/path_cost.py)
        from quarch.spaces.hqnn.model import build_circuit

        arch = {"embedding": "angle-y", "qubits": 3, "layers": 5, "rotation_0": "ry",
                "entanglement_0": "even", "rotation_1": "ry", "entanglement_1": "odd",
                "rotation_2": "ry", "entanglement_2": "ring", "rotation_3": "rot",
                "entanglement_3": "full", "rotation_4": "ry", "entanglement_4": "linear",
                "entangler": "crz", "reupload": True, "measurement": "zz"}  # fmt: skip
        hybrid = QuantumLayer(build_circuit(arch))
        assert hybrid.plan.path_features(True, False, cpu).engine_factors == 14
        assert hybrid.plan._small_wins(True, False, 16, cpu)
        assert hybrid.plan._small_wins(True, False, 30, cpu)
        assert compile_circuit(Circuit(11).h(0)).path == "engine"
        assert compile_circuit(Circuit(3).h(0), max_block_qubits=2).path == "engine"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("path", ["small", "engine"])
def test_cuda_matches_cpu(path: str) -> None:
    c = all_gates_circuit(5)
    rng = np.random.default_rng(2)
    w = torch.tensor(rng.uniform(-3, 3, c.n_weights), requires_grad=True)
    x = torch.tensor(rng.uniform(-3, 3, (70, c.n_inputs)), requires_grad=True)
    wc = w.detach().cuda().requires_grad_(True)
    xc = x.detach().cuda().requires_grad_(True)
    plan = compile_circuit(c, dtype=torch.complex128, path=path)
    out = plan.expval(["Z0", "X1 Y2", "Z3 Z4"], x, w)
    out_c = plan.expval(["Z0", "X1 Y2", "Z3 Z4"], xc, wc)
    out.sum().backward()
    out_c.sum().backward()
    torch.testing.assert_close(out_c.cpu(), out.detach())
    torch.testing.assert_close(_grad(wc).cpu(), w.grad)
    torch.testing.assert_close(_grad(xc).cpu(), x.grad)


@pytest.mark.parametrize("batch", [1, 16])  # the one-row program, the dense variant
@pytest.mark.parametrize("path", ["small", "engine"])  # the node, the adjoint method
def test_a_second_derivative_raises_and_plain_backward_works(batch: int, path: str) -> None:
    """The nodes differentiate once: a backward that records a graph through them
    (``create_graph=True``: a gradient penalty, a Hessian) is refused in one line,
    never a gradient without a graph that trains as a constant (session 37: torch gave
    ``g.requires_grad == False`` where the cotangent needed no gradient); the usual
    backward (grad mode off inside) gives the first derivatives of PennyLane."""
    from quarch.quantum._second_order import SECOND_ORDER_REFUSAL
    from quarch.quantum.simulator import SimulationError

    c = Circuit(2).add(AngleEmbedding(2)).add(RotationLayer(2, ("Y", "Z")))
    c.add(EntanglingLayer(2, "ring", "cnot")).add(RotationLayer(2, ("Y",)))
    layer = QuantumLayer(c, path=path, dtype=torch.complex128)
    x = torch.rand(batch, 2, dtype=torch.float64, requires_grad=True)
    for _ in range(4):  # past the recording and the checked replay
        for v in (None, torch.ones(batch, 2, dtype=torch.float64, requires_grad=True)):
            y = layer(x)
            with pytest.raises(SimulationError) as e:
                torch.autograd.grad(y, (x, layer.weights), grad_outputs=v if v is not None
                                    else torch.ones_like(y), create_graph=True)  # fmt: skip
            assert str(e.value) == SECOND_ORDER_REFUSAL
    x.grad = None
    (layer(x) * torch.arange(1, 3)).sum().backward()  # the weights pl_z_and_grads uses
    pytest.importorskip("pennylane")
    _, _, gx = pl_z_and_grads(c, layer.weights.detach().numpy(), x.detach().numpy())
    np.testing.assert_allclose(_grad(x).numpy(), gx, rtol=1e-7, atol=1e-9)
