"""A compiled plan (``compile_circuit``) and the gate table used as a torch user's
library: what such a user passes, checked against closed forms and numpy.

The circuit ``RY(x0) on wire 0, RY(x1) on wire 1, CNOT(0, 1)`` has ``<Z0> = cos x0`` and
``<Z1> = cos x0 cos x1``, and the state ``(c0 c1, c0 s1, s0 s1, s0 c1)`` with
``ck = cos(xk/2)``, ``sk = sin(xk/2)`` (wire 0 the most significant bit; the CNOT swaps
``|10>`` and ``|11>``), so every value below has an answer written by hand. Each refusal
used to be a silent wrong answer (a complex number cut to its real part, a real gate
built from float32 angles, RX cut to ``cos(t/2) I``) or a traceback deep in torch.
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    Circuit,
    CircuitError,
    Input,
    QuantumLayer,
    SimulationError,
    Weight,
    compile_circuit,
    gate_matrix,
)
from quarch.quantum.simulator import ExecutionPlan


def _any(value: object) -> Any:
    """``value``, typed as anything: the calls below pass what the signatures refuse."""
    return value


def _circuit() -> Circuit:
    return Circuit(2).ry(0, Input(0)).ry(1, Input(1)).cnot(0, 1)


def _expvals(x: np.ndarray) -> np.ndarray:
    """``[rows, 2]`` features -> ``<Z0>, <Z1>`` by the closed form."""
    c0, c1 = np.cos(x[:, 0]), np.cos(x[:, 1])
    return np.stack([c0, c0 * c1], axis=-1)


def _state(x: np.ndarray) -> np.ndarray:
    c0, s0 = np.cos(x[:, 0] / 2), np.sin(x[:, 0] / 2)
    c1, s1 = np.cos(x[:, 1] / 2), np.sin(x[:, 1] / 2)
    return np.stack([c0 * c1, c0 * s1, s0 * s1, s0 * c1], axis=-1).astype(np.complex128)


def _raises(
    kind: type[Exception], line: str, fn: Callable[..., object], *args: Any, **kwargs: Any
) -> None:
    """``fn(*args, **kwargs)`` raises exactly ``kind`` (a quarch class) whose message is
    ``line``."""
    with pytest.raises(kind) as info:
        fn(*args, **kwargs)
    assert type(info.value) is kind, f"{type(info.value).__name__}: {info.value}"
    assert str(info.value) == line


_COMPLEX_INPUTS = (
    "inputs are features, real numbers; got a {} tensor: pass its .real (or .abs()) if "
    "that is what the circuit should read"
)


# ---------------------------------------------------------------- complex numbers


@pytest.mark.parametrize("path", ["small", "engine"])
@pytest.mark.parametrize("entry", ["expval", "state", "probs"])
def test_complex_inputs_are_refused_at_every_entry(path: str, entry: str) -> None:
    """A complex tensor, array or list of features ran as its real part (torch warns
    once per process, then never again); a list said it was not numbers."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    call = {
        "expval": lambda x: plan.expval(None, x),
        "state": lambda x: plan.state(x),
        "probs": lambda x: plan.probs(x),
    }[entry]
    rows = [[0.3 + 2.0j, 0.1 - 1.0j]]
    for given, dtype in [
        (torch.tensor(rows, dtype=torch.complex128), "torch.complex128"),
        (torch.tensor(rows, dtype=torch.complex64), "torch.complex64"),
        # a leaf needing grad, which numpy cannot read
        (torch.tensor(rows, dtype=torch.complex128, requires_grad=True), "torch.complex128"),
        (np.array(rows), "torch.complex128"),
        (rows, "torch.complex64"),  # torch reads Python's complex numbers so
    ]:
        _raises(SimulationError, _COMPLEX_INPUTS.format(dtype), call, given)
    # real numbers of every kind still run, by the closed form
    real = [[0.3, 0.1], [-1.2, 2.5]]
    for given in (real, np.array(real), torch.tensor(real, dtype=torch.float64)):
        out = call(given).numpy()
        want = {"expval": _expvals, "state": _state, "probs": lambda x: np.abs(_state(x)) ** 2}
        np.testing.assert_allclose(out, want[entry](np.array(real)), rtol=0, atol=1e-12)


def test_complex_weights_are_refused() -> None:
    """``RX(w)`` of complex ``w`` ran as ``RX(Re w)``: ``<Z> = cos(Re w)``."""
    plan = compile_circuit(Circuit(1).rx(0, Weight(0)), dtype=torch.complex128)
    line = (
        "weights are angles, real numbers; got a {} tensor: pass its .real (or .abs()) if "
        "that is what the circuit should read"
    )
    for given, dtype in [
        (torch.tensor([0.4 + 1j]), "torch.complex64"),
        (torch.tensor([[0.4 + 1j]], dtype=torch.complex128), "torch.complex128"),
        (torch.tensor([0.4 + 1j], requires_grad=True), "torch.complex64"),  # a complex Parameter
        (np.array([0.4 + 1j]), "torch.complex128"),
        ([0.4 + 1j], "torch.complex64"),
    ]:
        _raises(SimulationError, line.format(dtype), plan.expval, None, None, given)
    got = plan.expval(None, None, _any(np.array([0.4]))).item()
    assert got == pytest.approx(math.cos(0.4), abs=1e-15)
    # a list holding a tensor that needs grad (numpy cannot read it) is still numbers,
    # a Python float in it read in float64 as any other (float32 would be 3e-9 off)
    two = compile_circuit(Circuit(2).rx(0, Weight(0)).rx(1, Weight(1)), dtype=torch.complex128)
    w0 = 0.1234567890123
    pair = two.expval(None, None, _any([w0, torch.tensor(0.4, requires_grad=True)]))
    np.testing.assert_allclose(pair[0, 0].item(), math.cos(w0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(pair[0, 1].item(), math.cos(0.4), rtol=0, atol=1e-7)


def test_complex_inputs_beside_real_weights_are_refused() -> None:
    """Weights of the plan's real dtype beside inputs of another dtype leave the fast
    path: complex inputs are refused there, float32 ones read in float64 (``RY(x)`` then
    ``RX(w)`` on ``|0>``: ``<Z> = cos x cos w``)."""
    plan = compile_circuit(Circuit(1).ry(0, Input(0)).rx(0, Weight(0)), dtype=torch.complex128)
    w = torch.tensor([0.3], dtype=torch.float64)
    x = torch.tensor([[0.7 + 0.5j]], dtype=torch.complex128)
    _raises(SimulationError, _COMPLEX_INPUTS.format("torch.complex128"), plan.expval, None, x, w)
    x32 = torch.tensor([[0.1234567], [-1.5]], dtype=torch.float32)
    got = plan.expval(None, x32, w)
    assert got.dtype == torch.float64
    want = np.cos(x32.double().numpy()) * math.cos(0.3)
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-15)


def test_a_complex_array_given_to_a_layer_is_refused() -> None:
    """A complex tensor was refused; a numpy complex array ran as its real part."""
    layer = QuantumLayer(_circuit(), ["Z0", "Z1"], dtype=torch.complex128)
    line = _COMPLEX_INPUTS.format("torch.complex128")
    _raises(SimulationError, line, layer, np.array([[0.3 + 2j, 0.1]]))
    x = np.array([[0.3, 0.1]])
    np.testing.assert_allclose(layer(_any(x)).detach().numpy(), _expvals(x), atol=1e-12)


def test_a_complex_start_state_is_still_a_state() -> None:
    """Only features and angles must be real: ``|11>`` as a start state gives
    ``<Z0> = <Z1> = -1`` at x = 0, ``i|11>`` the same."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    for amp in (1.0, 1j):
        start = torch.tensor([0, 0, 0, amp], dtype=torch.complex128)
        out = plan.expval(["Z0", "Z1"], torch.zeros(1, 2), initial_state=start)
        np.testing.assert_allclose(out.numpy(), [[-1.0, 1.0]], atol=1e-15)


# ---------------------------------------------------------------- tracing


def test_jit_trace_of_a_plan_call_is_one_line() -> None:
    plan = compile_circuit(_circuit())
    line = (
        "torch.jit.trace cannot record quarch's simulator (it picks its path from values at "
        "run time); use torch.compile, which runs the circuit eagerly, or call the model "
        "untraced"
    )
    entries: list[Callable[[torch.Tensor], torch.Tensor]] = [
        lambda x: plan.expval(None, x),
        plan.state,
        plan.probs,
    ]
    for entry in entries:
        _raises(SimulationError, line, torch.jit.trace, entry, torch.rand(3, 2))
    # untraced, the same function runs
    x = np.array([[0.5, -0.25]])
    np.testing.assert_allclose(plan.expval(None, _any(x)).numpy(), _expvals(x), atol=1e-6)


# ---------------------------------------------------------------- the plan's circuit


@pytest.mark.parametrize("path", ["small", "engine"])
def test_editing_plan_circuit_does_not_change_what_runs(path: str) -> None:
    """``plan.circuit.h(0)`` before the first call ran the edited circuit (the plan
    compiles lazily); after it, not. The plan runs the circuit it was given."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128, path=path)
    plan.circuit.h(0)
    x = np.array([[0.4, -0.9], [1.1, 0.2]])
    np.testing.assert_allclose(plan.expval(None, _any(x)).numpy(), _expvals(x), atol=1e-12)
    plan.circuit.x(1)
    np.testing.assert_allclose(plan.expval(None, _any(x)).numpy(), _expvals(x), atol=1e-12)
    assert [op.name for op in plan.circuit.ops] == ["ry", "ry", "cnot"]
    with pytest.raises(AttributeError):
        plan.circuit = Circuit(2)  # type: ignore[misc]


def test_a_plan_pickled_with_its_circuit_public_still_runs() -> None:
    """A plan saved before the circuit became private (its state names ``circuit``)
    loads, runs and shows that circuit."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    state = plan.__getstate__()
    state["circuit"] = state.pop("_circuit")
    old = ExecutionPlan.__new__(ExecutionPlan)
    old.__setstate__(state)
    x = np.array([[0.7, 1.3]])
    np.testing.assert_allclose(old.expval(None, _any(x)).numpy(), _expvals(x), atol=1e-12)
    assert [op.name for op in old.circuit.ops] == ["ry", "ry", "cnot"]
    again = pickle.loads(pickle.dumps(old))
    np.testing.assert_allclose(again.expval(None, _any(x)).numpy(), _expvals(x), atol=1e-12)


# ---------------------------------------------------------------- what else a user passes


def test_integer_and_bool_features_are_numbers() -> None:
    """Integers are angles in radians; True and False are 1 and 0."""
    plan = compile_circuit(_circuit(), dtype=torch.complex128)
    got = plan.expval(None, torch.tensor([[1, 2], [0, -3]])).numpy()
    np.testing.assert_allclose(got, _expvals(np.array([[1.0, 2.0], [0.0, -3.0]])), atol=1e-12)
    got = plan.expval(None, torch.tensor([[True, False]])).numpy()
    np.testing.assert_allclose(got, _expvals(np.array([[1.0, 0.0]])), atol=1e-12)


def test_float32_weights_train_a_double_precision_plan() -> None:
    """A float32 leaf with ``requires_grad`` gets a float32 gradient, the double
    precision value of its float32 angle: ``d<Z>/dw = -sin w`` for ``RX(w)``."""
    plan = compile_circuit(Circuit(1).rx(0, Weight(0)), dtype=torch.complex128)
    w = torch.tensor([0.4], requires_grad=True)
    out = plan.expval(None, None, w)
    assert out.dtype == torch.float64
    angle = float(w.detach().double())
    assert out.item() == pytest.approx(math.cos(angle), abs=1e-15)
    out.sum().backward()
    assert w.grad is not None and w.grad.dtype == torch.float32
    assert w.grad.item() == pytest.approx(-math.sin(angle), abs=1e-7)


# ---------------------------------------------------------------- gate_matrix's dtype


def test_real_gates_in_float64_keep_their_angles_in_float64() -> None:
    """``RY`` and ``CRY`` in float64 were built from float32 angles (errors of 1e-8)."""
    t = np.array([0.1234567890123, -2.718281828459045])
    c, s = np.cos(t / 2), np.sin(t / 2)
    ry = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
    got = gate_matrix("ry", torch.tensor(t[:, None]), dtype=torch.float64)
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), ry, rtol=0, atol=1e-16)
    cry = np.zeros((2, 4, 4))
    cry[:, 0, 0] = cry[:, 1, 1] = 1
    cry[:, 2:, 2:] = ry
    got = gate_matrix("cry", _any(t[:, None].tolist()), dtype=torch.float64)
    np.testing.assert_allclose(got.numpy(), cry, rtol=0, atol=1e-16)
    # float32 and the half precisions are their rounding of the same matrices
    for dtype, atol in ((torch.float32, 1e-7), (torch.float16, 1e-3), (torch.bfloat16, 1e-2)):
        got = gate_matrix("ry", torch.tensor(t[:, None]), dtype=dtype)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.double().numpy(), ry, rtol=0, atol=atol)


@pytest.mark.parametrize("name", ["rx", "rz", "phase", "rot", "u3", "crx", "crz", "rxx", "ryy"])
def test_a_real_dtype_refuses_a_gate_with_complex_entries(name: str) -> None:
    """RX(t) in float64 was ``cos(t/2) I``: its ``-i sin(t/2)`` cut away."""
    n = 3 if name in ("rot", "u3") else 1
    for dtype in (torch.float64, torch.float32):
        line = f"gate {name!r} has complex entries; a real dtype ({dtype}) cannot hold it"
        _raises(CircuitError, line, gate_matrix, name, torch.full((n,), 0.3), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, "complex64", None])
def test_a_dtype_that_is_neither_complex_nor_floating_is_one_line(dtype: object) -> None:
    """``int64`` gave an integer matrix (RY(0.3) as the identity), a str failed in torch."""
    for name, params in (("ry", [0.3]), ("h", None)):
        line = f"dtype must be a complex or floating-point torch.dtype; got {dtype!r}"
        _raises(CircuitError, line, gate_matrix, name, params, dtype=dtype)


def test_complex_dtypes_read_angles_at_their_precision() -> None:
    """complex128 from float64 angles, complex64 from float32 ones: RX against numpy."""
    t = 0.1234567890123
    c, s = math.cos(t / 2), math.sin(t / 2)
    rx = np.array([[c, -1j * s], [-1j * s, c]])
    wide = gate_matrix("rx", torch.tensor([t], dtype=torch.float64))
    assert wide.dtype == torch.complex128
    np.testing.assert_allclose(wide.numpy(), rx, rtol=0, atol=1e-16)
    low = gate_matrix("rx", torch.tensor([t], dtype=torch.float64), dtype=torch.complex64)
    assert low.dtype == torch.complex64
    np.testing.assert_allclose(low.numpy(), rx, rtol=0, atol=1e-7)


def test_rows_without_features_on_the_engine_are_the_batch_whatever_the_width() -> None:
    """Rows of no features give one row per sample even where the number of words
    equals the batch: ``RY(w)|0>`` has ``<Z> = cos w``, ``<X> = sin w`` in every row."""
    plan = compile_circuit(Circuit(1).ry(0, Weight(0)), dtype=torch.complex128, path="engine")
    got = plan.expval(["Z0", "X0"], torch.zeros(2, 0), torch.tensor([0.3]))
    want = np.tile([math.cos(0.3), math.sin(0.3)], (2, 1))
    np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-7)
