"""What the path cost model reads off a plan, against the circuit it was compiled from.

``ExecutionPlan.path_features`` decides (through :mod:`quarch.quantum._small_cost`)
which engine runs a call; a wrong feature sends calls to the slower engine without
changing a value, so no value test notices. Truth here is the circuit itself: the
gates whose angles differ per row are counted by hand, and a trainable weight batched
per row must look exactly like an input (the engines treat both as per-row angles).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from quarch.quantum import Circuit, Input, Weight, compile_circuit
from quarch.quantum.circuit import Param

CPU = torch.device("cpu")


def _pair() -> tuple[Circuit, Circuit]:
    """Two inputs and two weights; the same circuit with the weights as inputs 2, 3."""
    weights = Circuit(3).ry(0, Input(0)).ry(1, Input(1)).rx(2, Weight(0)).cnot(0, 1)
    weights.rz(1, Weight(1)).h(2)
    inputs = Circuit(3).ry(0, Input(0)).ry(1, Input(1)).rx(2, Input(2)).cnot(0, 1)
    inputs.rz(1, Input(3)).h(2)
    return weights, inputs


@pytest.mark.parametrize("with_prefix", [True, False])
def test_per_sample_gates_are_counted_as_written(with_prefix: bool) -> None:
    weights, _ = _pair()
    plan = compile_circuit(weights)
    assert plan.path_features(with_prefix, False, CPU).per_sample_gates == 2  # the RY inputs
    assert plan.path_features(with_prefix, True, CPU).per_sample_gates == 4  # and RX, RZ


@pytest.mark.parametrize("with_prefix", [True, False])
def test_batched_weights_look_like_inputs(with_prefix: bool) -> None:
    weights, inputs = _pair()
    assert compile_circuit(weights).path_features(with_prefix, True, CPU) == compile_circuit(
        inputs
    ).path_features(with_prefix, False, CPU)


def test_an_amplitude_embedding_has_no_product_prefix() -> None:
    """The small path's prefix is a product-state embedding; an amplitude embedding's
    state is given whole, so asking for the prefix changes nothing."""
    plan = compile_circuit(Circuit(2).amplitude_embedding(4).ry(0, Weight(0)).cnot(0, 1))
    assert plan.path_features(True, False, CPU) == plan.path_features(False, False, CPU)
    product = compile_circuit(Circuit(2).ry(0, Input(0)).ry(1, Input(1)).ry(0, Weight(0)))
    with_prefix = product.path_features(True, False, CPU)
    without = product.path_features(False, False, CPU)
    assert with_prefix != without  # it does matter there:
    # the embedding becomes the prefix's product state, one instruction fewer to run
    assert with_prefix.small_instructions < without.small_instructions


@pytest.mark.parametrize("max_block_qubits", [2, 3])
def test_batched_weights_look_like_inputs_to_the_general_engine(max_block_qubits: int) -> None:
    """Blocks of shared weights and blocks of inputs fall in different groups of the
    general engine; batched weights join the inputs' groups, as inputs in their place
    would (two groups become one here, and the factor count follows)."""

    def circuit(weight: Callable[[int], Param]) -> Circuit:
        c = Circuit(4).ry(0, Input(0)).ry(1, Input(1)).cnot(0, 1)
        c.ry(2, weight(2)).ry(3, weight(3)).cnot(2, 3).cnot(1, 2)
        return c.ry(1, weight(4)).ry(2, weight(5))

    mixed = compile_circuit(circuit(Weight), max_block_qubits=max_block_qubits)
    inputs = compile_circuit(circuit(Input), max_block_qubits=max_block_qubits)
    batched = mixed.path_features(False, True, CPU)
    assert batched == inputs.path_features(False, False, CPU)
    assert batched.engine_factors < mixed.path_features(False, False, CPU).engine_factors
