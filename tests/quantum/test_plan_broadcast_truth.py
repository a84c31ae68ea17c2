"""A compiled plan given what a torch user gives a ``torch.nn.Linear``: arguments with
leading dimensions ``[*, k]``, a ``[1, n_weights]`` row for a batch, ``.to(device)``.

Before (session 38), the plan refused ``[*, n_inputs]`` inputs that a ``QuantumLayer``
of the same circuit took, refused a ``[1, n_weights]`` row beside three input rows
("must agree") while a ``[1, 2**n]`` start state served any batch, and had no ``.to``
(a bare ``AttributeError``). Truth: PennyLane (``default.qubit``, backprop, float64)
run one row at a time on the circuit written out by hand below, values and gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pennylane as qml
import pytest
import torch

from quarch.quantum import Circuit, Input, QuantumLayer, SimulationError, Weight, compile_circuit
from quarch.quantum.noise import density_matrix

WORDS = ["Z0", "X1", "Z0 Z1"]


def _any(value: object) -> Any:
    """``value``, typed as anything: the calls below pass what the signatures refuse."""
    return value


def _circuit() -> Circuit:
    """RY(x0) RY(x1), CNOT(0, 1), RX(w0) on 0, RZ(w1) then RY(w0) on 1."""
    c = Circuit(2).ry(0, Input(0)).ry(1, Input(1)).cnot(0, 1)
    return c.rx(0, Weight(0)).rz(1, Weight(1)).ry(1, Weight(0))


def _pl_gates(x: torch.Tensor, w: torch.Tensor) -> None:
    qml.RY(x[0], wires=0)
    qml.RY(x[1], wires=1)
    qml.CNOT(wires=[0, 1])
    qml.RX(w[0], wires=0)
    qml.RZ(w[1], wires=1)
    qml.RY(w[0], wires=1)


_DEV = qml.device("default.qubit", wires=2)


@qml.qnode(_DEV, interface="torch", diff_method="backprop")
def _pl_expvals(x: torch.Tensor, w: torch.Tensor) -> Any:
    _pl_gates(x, w)
    z0, x1 = qml.PauliZ(0), qml.PauliX(1)
    return [qml.expval(z0), qml.expval(x1), qml.expval(qml.PauliZ(0) @ qml.PauliZ(1))]


@qml.qnode(_DEV, interface="torch", diff_method="backprop")
def _pl_state(x: torch.Tensor, w: torch.Tensor) -> Any:
    _pl_gates(x, w)
    return qml.state()


def _truth(x: torch.Tensor, w: torch.Tensor, entry: str) -> torch.Tensor:
    """PennyLane's answer ``[*lead, width]`` for inputs ``x [*lead, 2]`` and weights
    ``w [*lead, 2]`` (already broadcast), one row at a time, on autograd's graph."""
    lead = x.shape[:-1]
    xs, ws = x.reshape(-1, 2), w.reshape(-1, 2)
    rows = []
    for i in range(xs.shape[0]):
        if entry == "expval":
            rows.append(torch.stack(list(_pl_expvals(xs[i], ws[i]))))
        else:
            psi = _pl_state(xs[i], ws[i])
            rows.append(psi if entry == "state" else psi.real**2 + psi.imag**2)
    return torch.stack(rows).reshape(*lead, -1)


def _call(plan: Any, entry: str) -> Callable[..., torch.Tensor]:
    if entry == "expval":
        return lambda *a, **k: plan.expval(WORDS, *a, **k)
    return getattr(plan, entry)  # type: ignore[no-any-return]


def _loss(out: torch.Tensor) -> torch.Tensor:
    """A real number that reads every entry (the state's phases too) with its own weight."""
    if out.is_complex():
        out = torch.cat([out.real, out.imag], dim=-1)
    return (out * torch.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)).sum()


def _leaf(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-3, 3, size=shape)


def _check(
    entry: str, path: str, x_shape: tuple[int, ...], w_shape: tuple[int, ...], lead: tuple[int, ...]
) -> None:
    """The plan's answer and gradients for inputs ``x_shape`` and weights ``w_shape``
    against PennyLane's on the arguments broadcast to ``lead`` by hand."""
    xv, wv = _leaf(x_shape, 1), _leaf(w_shape, 2)
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    x = torch.tensor(xv, requires_grad=True)
    w = torch.tensor(wv, requires_grad=True)
    got = _call(plan, entry)(x, w)
    assert got.shape == (*lead, {"expval": 3}.get(entry, 4))
    _loss(got).backward()
    xr = torch.tensor(xv, requires_grad=True)
    wr = torch.tensor(wv, requires_grad=True)
    want = _truth(xr.expand(*lead, 2), wr.expand(*lead, 2), entry)
    _loss(want).backward()
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=0, atol=1e-12)
    assert x.grad is not None and xr.grad is not None and w.grad is not None
    assert wr.grad is not None and x.grad.shape == x.shape and w.grad.shape == w.shape
    np.testing.assert_allclose(x.grad.numpy(), xr.grad.numpy(), rtol=0, atol=1e-11)
    np.testing.assert_allclose(w.grad.numpy(), wr.grad.numpy(), rtol=0, atol=1e-11)


# ---------------------------------------------------------------- leading dimensions


@pytest.mark.parametrize("path", ["small", "engine"])
@pytest.mark.parametrize("entry", ["expval", "state", "probs"])
def test_inputs_with_leading_dimensions_give_answers_with_them(entry: str, path: str) -> None:
    """``[2, 3, 2]`` features with shared weights: ``[2, 3, width]``, each row
    PennyLane's, gradients too (the layer took these, the plan refused them)."""
    _check(entry, path, (2, 3, 2), (2,), (2, 3))


@pytest.mark.parametrize("path", ["small", "engine"])
@pytest.mark.parametrize(
    ("x_shape", "w_shape", "lead"),
    [
        ((2, 3, 2), (2, 3, 2), (2, 3)),  # one weight vector per sample
        ((2, 3, 2), (2, 1, 2), (2, 3)),  # one per outer row, broadcast over the inner
        ((3, 1, 2), (1, 4, 2), (3, 4)),  # both broadcast
        ((3, 2), (1, 2), (3,)),  # a [1, n_weights] row beside three input rows
        ((1, 2), (4, 2), (4,)),  # one input row beside four weight rows
        ((4, 2), (2, 1, 2), (2, 4)),  # weights with more leading dimensions
    ],
)
def test_leading_shapes_broadcast_as_torch_broadcasts(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], lead: tuple[int, ...], path: str
) -> None:
    """Weights ``[*, n_weights]`` beside inputs ``[*, n_inputs]`` take torch's
    broadcasting rule; a broadcast row's gradient is the sum over the rows it served."""
    _check("expval", path, x_shape, w_shape, lead)


@pytest.mark.parametrize("path", ["small", "engine"])
def test_a_weight_row_for_a_batch_is_the_shared_weights(path: str) -> None:
    """``[1, n_weights]`` beside three rows gives what ``[n_weights]`` gives, bit for
    bit (it runs as shared weights), and the same gradient."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    x = torch.tensor(_leaf((3, 2), 3))
    row = torch.tensor(_leaf((1, 2), 4), requires_grad=True)
    flat = row.detach()[0].clone().requires_grad_(True)
    got, want = plan.expval(WORDS, x, row), plan.expval(WORDS, x, flat)
    assert torch.equal(got, want)
    _loss(got).backward()
    _loss(want).backward()
    assert row.grad is not None and flat.grad is not None
    assert torch.equal(row.grad[0], flat.grad)


def test_start_states_with_leading_dimensions() -> None:
    """A circuit of weights only, from start states ``[2, 3, 4]``: row by row the
    state PennyLane evolves from that start (``StatePrep``); ``[1, 1, 4]`` serves the
    per-sample weights' ``[2, 3]`` rows."""
    c = Circuit(2).rx(0, Weight(0)).cnot(0, 1).ry(1, Weight(1))

    @qml.qnode(_DEV, interface="torch")
    def run(psi: torch.Tensor, w: torch.Tensor) -> Any:
        qml.StatePrep(psi, wires=[0, 1])
        qml.RX(w[0], wires=0)
        qml.CNOT(wires=[0, 1])
        qml.RY(w[1], wires=1)
        return qml.state()

    rng = np.random.default_rng(5)
    raw = rng.normal(size=(2, 3, 4)) + 1j * rng.normal(size=(2, 3, 4))
    psi = torch.tensor(raw / np.linalg.norm(raw, axis=-1, keepdims=True))
    plan = compile_circuit(c, dtype=torch.complex128)
    w = torch.tensor([0.4, -1.3], dtype=torch.float64)
    got = plan.state(weights=w, initial_state=psi)
    want = torch.stack([run(p, w) for p in psi.reshape(6, 4)]).reshape(2, 3, 4)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-12)
    ws = torch.tensor(_leaf((2, 3, 2), 6))
    one = psi[:1, :1]
    got = plan.state(weights=ws, initial_state=one)
    want = torch.stack([run(psi[0, 0], r) for r in ws.reshape(6, 2)]).reshape(2, 3, 4)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-12)


def test_no_rows_with_leading_dimensions_are_empty_and_backpropagate() -> None:
    plan = compile_circuit(_circuit())
    x = torch.zeros(0, 3, 2, requires_grad=True)
    w = torch.zeros(2, requires_grad=True)
    out = plan.expval(WORDS, x, w)
    assert out.shape == (0, 3, 3)
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == (0, 3, 2)
    assert w.grad is not None and torch.equal(w.grad, torch.zeros(2))


def test_rows_without_features_keep_their_leading_shape() -> None:
    """A circuit that reads no features given ``[2, 3, 0]``: six rows of ``RY(w)|0>``,
    ``<Z> = cos w`` (a ``[2, 3, 0]`` used to give one row)."""
    plan = compile_circuit(Circuit(1).ry(0, Weight(0)), dtype=torch.complex128)
    got = plan.expval(["Z0"], torch.zeros(2, 3, 0), torch.tensor([0.3], dtype=torch.float64))
    assert got.shape == (2, 3, 1)
    np.testing.assert_allclose(got.numpy(), np.full((2, 3, 1), np.cos(0.3)), rtol=0, atol=1e-15)


def test_a_list_with_leading_dimensions_is_read_as_a_tensor() -> None:
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    rows = _leaf((2, 2, 2), 7)
    w = [0.2, -0.7]
    got = plan.expval(WORDS, _any(rows.tolist()), w)
    want = _truth(
        torch.tensor(rows), torch.tensor(w, dtype=torch.float64).expand(2, 2, 2), "expval"
    )
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=1e-12)


def _refused(fn: Callable[[], object], line: str) -> None:
    with pytest.raises(SimulationError) as info:
        fn()
    assert type(info.value) is SimulationError and str(info.value) == line


def test_leading_shapes_that_do_not_broadcast_are_one_line() -> None:
    plan = compile_circuit(_circuit())
    x = torch.zeros(2, 3, 2)
    _refused(
        lambda: plan.expval(WORDS, x, torch.zeros(2, 2)),
        "per-sample weights have batch size 2 but inputs have batch size (2, 3); they must agree",
    )
    _refused(
        lambda: plan.expval(WORDS, torch.zeros(3, 2), torch.zeros(2, 2)),
        "per-sample weights have batch size 2 but inputs have batch size 3; they must agree",
    )
    _refused(
        lambda: plan.state(x, torch.zeros(2), initial_state=torch.ones(4, 4) / 2),
        "initial_state has batch size 4 but inputs/weights have batch size (2, 3); they must agree",
    )
    _refused(
        lambda: plan.state(x, torch.zeros(2, 3, 1, 2)),
        "per-sample weights have batch size (2, 3, 1) but inputs have batch size (2, 3); "
        "they must agree",
    )
    # a scalar is no row of anything
    _refused(lambda: plan.state(torch.tensor(0.5), [0.1, 0.2]), "inputs must have shape "
             "[batch, 2] or [..., 2]; got ()")  # fmt: skip
    _refused(
        lambda: plan.state(x, torch.tensor(0.5)),
        "weights must have shape [2], [batch, 2] or [..., 2]; got ()",
    )
    free = compile_circuit(Circuit(2).rx(0, Weight(0)))
    _refused(
        lambda: free.state(weights=[0.1], initial_state=torch.tensor(1.0 + 0j)),
        "initial_state must have shape [4], [batch, 4] or [..., 4]; got ()",
    )


def test_the_density_matrix_takes_what_the_plan_takes() -> None:
    """``noise.density_matrix`` checks its arguments with a plan and returns ``[*, d,
    d]`` for ``[*, n]`` inputs (session 40; against ``default.mixed`` in
    ``test_noise_broadcast_truth.py``); a ``[1, n_weights]`` row serves the batch, each
    matrix PennyLane's ``|psi><psi|``."""
    c = _circuit()
    rho = density_matrix(c, inputs=torch.zeros(2, 3, 2), weights=torch.zeros(1, 3, 2))
    assert rho.shape == (2, 3, 4, 4)
    free = Circuit(1).rx(0, Weight(0))
    assert density_matrix(free, weights=torch.zeros(2, 1, 1)).shape == (2, 1, 2, 2)
    x, w = torch.tensor(_leaf((3, 2), 8)), torch.tensor(_leaf((1, 2), 9))
    rho = density_matrix(c, inputs=x, weights=w)
    psi = _truth(x, w.expand(3, 2), "state").detach()
    want = psi[:, :, None] * psi.conj()[:, None, :]
    np.testing.assert_allclose(rho.numpy(), want.numpy(), rtol=0, atol=1e-12)


def test_a_layer_and_its_plan_answer_leading_dimensions_alike() -> None:
    layer = QuantumLayer(_circuit(), WORDS, dtype=torch.complex128)
    x = torch.tensor(_leaf((2, 3, 2), 10))
    got = layer(x)
    want = _truth(x, layer.weights.detach().expand(2, 3, 2), "expval")
    np.testing.assert_allclose(got.detach().numpy(), want.numpy(), rtol=0, atol=1e-12)
    torch.testing.assert_close(got, layer.plan.expval(WORDS, x, layer.weights), rtol=0, atol=0)


# ---------------------------------------------------------------- .to


def test_to_a_device_is_the_plan_itself_and_it_runs_where_its_inputs_are() -> None:
    """The meta device plays a GPU: after ``.to("meta")`` a call on meta tensors runs
    there and one on host tensors on the host, as before the call."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    for args, kwargs in [
        (("meta",), {}),
        ((torch.device("cpu"),), {}),
        ((), {"device": "meta"}),
        ((torch.float64,), {}),  # the plan's real dtype, as its inputs have
        ((torch.complex128,), {}),
        (("meta", torch.complex128), {}),
        ((torch.zeros(1, dtype=torch.float64),), {}),  # a tensor: its device and dtype
    ]:
        assert plan.to(*args, **kwargs) is plan
    moved = plan.to("meta")
    on_meta = moved.expval(WORDS, torch.zeros(4, 2, device="meta"), torch.zeros(2, device="meta"))
    assert on_meta.device.type == "meta" and on_meta.shape == (4, 3)
    x, w = torch.tensor(_leaf((2, 2), 11)), torch.tensor([0.5, 1.5], dtype=torch.float64)
    np.testing.assert_allclose(
        moved.expval(WORDS, x, w).numpy(),
        _truth(x, w.expand(2, 2), "expval").detach().numpy(),
        rtol=0,
        atol=1e-12,
    )


def test_to_another_precision_or_no_device_is_one_line() -> None:
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    for dtype in (torch.complex64, torch.float32, torch.float16):
        _refused(
            lambda d=dtype: plan.to(d),  # type: ignore[misc]
            f"ExecutionPlan.to: this plan runs in torch.complex128, not {dtype}; compile "
            "another plan for it: compile_circuit(plan.circuit, dtype=...)",
        )
    single = compile_circuit(_circuit())
    assert single.to(torch.float32) is single and single.to(torch.complex64) is single
    _refused(
        lambda: single.to(torch.zeros(1, dtype=torch.float64)),
        "ExecutionPlan.to: this plan runs in torch.complex64, not torch.float64; compile "
        "another plan for it: compile_circuit(plan.circuit, dtype=...)",
    )
    takes = "ExecutionPlan.to takes a device, a dtype or a tensor, as torch.nn.Module.to does: "
    with pytest.raises(SimulationError) as info:
        plan.to("bogus")
    line = str(info.value)
    assert type(info.value) is SimulationError and "\n" not in line
    assert line.startswith(takes + "Expected one of cpu, cuda")
    assert line.endswith("device type at start of device string: bogus")
    _refused(
        lambda: plan.to(_any([1])),
        takes + "to() received an invalid combination of arguments - got (list)",
    )


@pytest.mark.parametrize("path", ["small", "engine"])
def test_a_list_beside_a_tensor_is_read_on_the_tensor_s_device(path: str) -> None:
    """The meta device plays a GPU: a list of inputs, of weights or a start state
    beside a tensor on it is read there, so the call runs there (on the host it would
    meet the tensor on another device); so is the empty weight vector of a circuit
    without weights, which a batch of no rows answers with."""
    meta = torch.device("meta")
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    w_meta = torch.zeros(2, dtype=torch.float64, device=meta)
    x_meta = torch.zeros(3, 2, dtype=torch.float64, device=meta)
    for out in (
        plan.expval(WORDS, _any([[0.1, 0.2]]), w_meta),
        plan.expval(WORDS, x_meta, [0.1, 0.2]),
        compile_circuit(Circuit(2).rx(0, Weight(0)), path=path).state(
            weights=torch.zeros(1, device=meta), initial_state=_any([1, 0, 0, 0])
        ),
        compile_circuit(Circuit(2).ry(0, Input(0)), path=path).expval(
            WORDS, torch.zeros(0, 1, device=meta)
        ),
    ):
        assert out.device == meta


def test_the_density_matrix_counts_rows_of_no_features_and_refuses_more_axes() -> None:
    """A circuit without inputs: ``[2, 0]`` is two rows (``RX(w)|0>``'s matrix twice,
    ``[[c^2, i c s], [-i c s, s^2]]`` with ``c = cos(w/2)``, ``s = sin(w/2)``); ``[2, 3,
    0]`` is six, ``[2, 3]`` in front, as the plan counts them; ``[2, 3, 1]`` is refused."""
    free = Circuit(1).rx(0, Weight(0))
    w = torch.tensor([0.3], dtype=torch.float64)
    rho = density_matrix(free, inputs=torch.zeros(2, 0), weights=w)
    c, s = np.cos(0.15), np.sin(0.15)
    want = np.array([[c * c, 1j * c * s], [-1j * c * s, s * s]])
    np.testing.assert_allclose(rho.numpy(), np.stack([want, want]), rtol=0, atol=1e-15)
    rho = density_matrix(free, inputs=torch.zeros(2, 3, 0), weights=w)
    np.testing.assert_allclose(rho.numpy(), np.broadcast_to(want, (2, 3, 2, 2)), atol=1e-15)
    _refused(
        lambda: density_matrix(free, inputs=torch.zeros(2, 3, 1), weights=w),
        "this circuit reads no input features; got inputs of shape (2, 3, 1)",
    )


def test_to_reads_keywords() -> None:
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    assert plan.to(device="meta", dtype=torch.float64) is plan
    _refused(
        lambda: plan.to(dtype=torch.complex64),
        "ExecutionPlan.to: this plan runs in torch.complex128, not torch.complex64; compile "
        "another plan for it: compile_circuit(plan.circuit, dtype=...)",
    )


def test_the_arguments_check_reads_a_start_state_as_rows() -> None:
    """``_arguments`` (what ``noise.density_matrix`` and the noisy circuits check their
    arguments with) gives a start state as the plan's rows: one state ``[4]`` as one row
    beside three rows of weights, ``[3, 4]`` as three; more axes of weights lead."""
    plan = compile_circuit(Circuit(2).rx(0, Weight(0)), dtype=torch.complex128)
    start = torch.tensor([0, 1j, 0, 0], dtype=torch.complex128)
    w = torch.tensor([[0.1], [0.2], [0.3]], dtype=torch.float64)
    _, weights, init, lead, _ = plan._arguments(None, w, start)
    assert lead == (3,) and torch.equal(weights, w)
    assert init is not None and torch.equal(init, start[None])
    _, _, init, lead, _ = plan._arguments(None, w, start.expand(3, 4))
    assert lead == (3,) and init is not None and torch.equal(init, start.expand(3, 4))
    _, weights, _, lead, _ = plan._arguments(None, w[None], start)
    assert lead == (1, 3) and torch.equal(weights, w)
