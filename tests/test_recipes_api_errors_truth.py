"""A wrong type given to a public function is one quarch error line, not a traceback
from inside torch.

docs/ARCHITECTURE.md, Conventions: "Errors a user can cause are ``QuarchError``
subclasses with one line saying what to change". Found in session 35 (each line is what
a user saw before):

* ``quarch.cost.count_params("model")``: ``AttributeError: 'str' object has no attribute
  'parameters'``; ``count_flops(model, 4)`` (an int for the shape tuple): ``TypeError:
  Value after * must be an iterable, not int``;
* ``statevector(circuit, "0.1")`` (weights as a str): ``TypeError: new(): invalid data
  type 'str'``; ``["0.1"]``: ``ValueError: too many dimensions 'str'``; the same for a
  plan's ``inputs`` and ``initial_state``; ``statevector("c")``: ``AttributeError: 'str'
  object has no attribute 'n_inputs'``; ``compile_circuit("c")``: a bare ``TypeError``;
* ``plan.state(initial_state=[1, 0, 0])`` on two qubits (a list of the wrong length):
  ``AttributeError: 'list' object has no attribute 'shape'``, raised while the refusal
  line was being written.

Each check is made where the argument enters, once per call: the simulator's common
call (a layer's tensors) takes its fast path before any of them (the timing is in the
session report: ``benchmarks``-style alternating rounds, new/old 0.98-1.00).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from quarch import QuarchError
from quarch.cost import count_flops, count_params
from quarch.quantum import (
    Circuit,
    CircuitError,
    ExecutionPlan,
    QuantumLayer,
    SimulationError,
    Weight,
    compile_circuit,
    statevector,
)

BELL = Circuit(2).ry(0, Weight(0)).cnot(0, 1)  # RY(w) on wire 0, then CNOT


def _line(error: pytest.ExceptionInfo[BaseException]) -> str:
    assert isinstance(error.value, QuarchError) and isinstance(error.value, ValueError)
    text = str(error.value)
    assert "\n" not in text
    return text


# -- quarch.cost.classical ----------------------------------------------------------------
def test_the_documented_counts() -> None:
    """The docstrings' claims, on models whose counts are known by hand: a (1, k) x (k, n)
    matmul is 2kn FLOPs (the bias add is elementwise: none); a size of 1 is a size."""
    assert count_flops(nn.Linear(1, 2), (1,)) == 2 * 1 * 2
    # fed at the model's dtype: a float32 input would not run a .double() model
    assert count_flops(nn.Linear(4, 2).double(), (4,)) == 16
    # and on its device: CPU zeros would not run a model on the meta device
    assert count_flops(nn.Linear(4, 2).to("meta"), (4,)) == 16
    # no parameters at all: fed on the CPU at torch's default dtype, and nothing counted
    assert count_flops(nn.Flatten(), (3,)) == 0
    frozen = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    frozen[0].requires_grad_(False)
    assert count_params(frozen) == 3 * 2 + 2
    assert count_params(frozen, trainable_only=False) == 4 * 3 + 3 + 3 * 2 + 2


@pytest.mark.parametrize("model", ["model", None, [nn.Linear(2, 2)], nn.Linear])
def test_count_params_and_flops_take_a_module(model: Any) -> None:
    got = type(model).__name__
    with pytest.raises(QuarchError) as e:
        count_params(model)
    assert _line(e) == f"count_params takes a torch.nn.Module; got {got}"
    with pytest.raises(QuarchError) as e:
        count_flops(model, (4,))
    assert _line(e) == f"count_flops takes a torch.nn.Module; got {got}"


@pytest.mark.parametrize("shape", [4, "4", None, (4.0,), (0,), (True,), (4, -1), {4: 1}])
def test_count_flops_takes_a_tuple_of_sizes(shape: Any) -> None:
    with pytest.raises(QuarchError) as e:
        count_flops(nn.Linear(4, 2), shape)
    assert _line(e) == (
        "count_flops: input_shape must be a tuple of sizes >= 1 without the batch axis, "
        f"e.g. (4,) or (3, 32, 32); got {shape!r}"
    )


@pytest.mark.parametrize("shape", [(4,), [4], torch.Size([4]), (np.int64(4),)])
def test_a_shape_of_sizes_is_counted(shape: Any) -> None:
    # a (1, 4) x (4, 2) matmul: 2 * 1 * 4 * 2 FLOPs (the bias add is elementwise: none)
    assert count_flops(nn.Linear(4, 2), shape) == 16
    assert count_params(nn.Linear(4, 2)) == 4 * 2 + 2


# -- quarch.quantum.simulator -------------------------------------------------------------
def test_statevector_compile_circuit_and_a_layer_take_a_circuit() -> None:
    for given in ("c", None, 3):
        got = type(given).__name__
        with pytest.raises(CircuitError) as e:
            statevector(given)  # type: ignore[arg-type]
        assert _line(e) == f"statevector takes a quarch Circuit; got {got}"
        for build in (compile_circuit, ExecutionPlan, QuantumLayer):
            with pytest.raises(CircuitError) as e:
                build(given)  # type: ignore[arg-type]
            assert _line(e) == f"circuit must be a quarch Circuit; got {got}"
    layer = QuantumLayer(BELL)
    with pytest.raises(CircuitError) as e:
        statevector(layer)  # type: ignore[arg-type]
    assert _line(e) == (
        "statevector takes a quarch Circuit; got QuantumLayer; for a QuantumLayer call "
        "statevector(layer.circuit, layer.weights)"
    )
    with pytest.raises(CircuitError) as e:
        compile_circuit(layer)  # type: ignore[arg-type]
    assert _line(e) == (
        "circuit must be a quarch Circuit; got QuantumLayer; for a QuantumLayer pass layer.circuit"
    )


@pytest.mark.parametrize(
    ("weights", "shown"),
    [
        ("0.1", "str '0.1'"),
        (["0.1"], "list ['0.1']"),
        ({"w": 0.1}, "dict {'w': 0.1}"),
        ([None], "list [None]"),
        ([[0.1], [0.1, 0.2]], "list [[0.1], [0.1, 0.2]]"),
        ("0." + "1" * 60, "str '0." + "1" * 34 + "..."),
        ("x" * 38, "str '" + "x" * 38 + "'"),  # a repr of 40 characters is shown whole
        ("x" * 39, "str '" + "x" * 36 + "..."),  # one of 41 is cut to 37 and "..."
    ],
)
def test_weights_that_are_not_numbers_are_one_line(weights: Any, shown: str) -> None:
    line = (
        "weights must be numbers of shape [1], [batch, 1] or [..., 1] (a tensor, an array or a list); "
        f"got {shown}"
    )
    with pytest.raises(SimulationError) as e:
        statevector(BELL, weights)
    assert _line(e) == line
    for call in ("state", "probs"):
        with pytest.raises(SimulationError) as e:
            getattr(compile_circuit(BELL), call)(weights=weights)
        assert _line(e) == line
    with pytest.raises(SimulationError) as e:
        compile_circuit(BELL).expval(None, weights=weights)
    assert _line(e) == line


@pytest.mark.parametrize(
    ("weights", "atol"),
    # a list, tuple or float64 array is read at the plan's precision (complex128 here); a
    # float32 tensor keeps its own
    [([0.3], 1e-15), ((0.3,), 1e-15), (np.array([0.3]), 1e-15), (torch.tensor([0.3]), 1e-7)],
)
def test_weights_as_numbers_still_run(weights: Any, atol: float) -> None:
    # RY(w)|00> = cos(w/2)|00> + sin(w/2)|10>, then CNOT(0, 1): cos|00> + sin|11>
    got = statevector(BELL, weights).numpy()
    want = [math.cos(0.15), 0, 0, math.sin(0.15)]
    np.testing.assert_allclose(got, want, rtol=0, atol=atol)


def test_inputs_and_initial_state_that_are_not_numbers_are_one_line() -> None:
    from quarch.quantum import Input

    reads = compile_circuit(Circuit(1).ry(0, Input(0)))
    with pytest.raises(SimulationError) as e:
        reads.state(inputs="x")  # type: ignore[arg-type]
    assert _line(e) == (
        "inputs must be numbers of shape [batch, 1] or [..., 1] (a tensor, an array or a list); got str 'x'"
    )
    plain = compile_circuit(Circuit(2).h(0))
    with pytest.raises(SimulationError) as e:
        plain.state(inputs="x")  # type: ignore[arg-type]
    assert _line(e) == (
        "inputs must be numbers of shape [batch, 0] (or None) (a tensor, an array or a list); "
        "got str 'x'"
    )
    with pytest.raises(SimulationError) as e:
        compile_circuit(Circuit(3).h(0)).state(initial_state="x")  # type: ignore[arg-type]
    assert _line(e) == (
        "initial_state must be numbers of shape [8], [batch, 8] or [..., 8] (a tensor, an array or a "
        "list); got str 'x'"
    )


def test_an_initial_state_list_of_the_wrong_length_is_named() -> None:
    plain = compile_circuit(Circuit(2).h(0))
    for given, shape in (([1, 0, 0], "(3,)"), ([[1, 0]], "(1, 2)")):
        with pytest.raises(SimulationError) as e:
            plain.state(initial_state=given)  # type: ignore[arg-type]
        assert _line(e) == f"initial_state must have shape [4], [batch, 4] or [..., 4]; got {shape}"
    # a list of the right length runs: H on wire 0 of |01> is (|01> + |11>) / sqrt(2)
    got = plain.state(initial_state=[0, 1, 0, 0])[0].numpy()  # type: ignore[arg-type]
    np.testing.assert_allclose(got, [0, 2**-0.5, 0, 2**-0.5], atol=1e-6)
