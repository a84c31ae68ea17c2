"""Templates against PennyLane's own templates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    BasicEntanglerLayers,
    Circuit,
    CircuitError,
    DataReuploading,
    IQPEmbedding,
    RotationLayer,
    StronglyEntanglingLayers,
    compile_circuit,
    entangler_pairs,
    resources,
)

qml = pytest.importorskip("pennylane")


def _state(c: Circuit, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (
        compile_circuit(c, dtype=torch.complex128)
        .state(torch.tensor(x) if c.n_inputs else None, torch.tensor(w) if c.n_weights else None)
        .numpy()
    )


class TestCorrectness:
    @pytest.mark.parametrize("n", [1, 2, 3, 4])
    def test_layers_match_pennylane(self, n: int) -> None:
        rng = np.random.default_rng(n)
        x = rng.uniform(-2, 2, (3, n))
        c = Circuit(n).add(IQPEmbedding(n, n_repeats=2)).add(AngleEmbedding(n, "Z"))
        c.add(BasicEntanglerLayers(2, n, "Y")).add(StronglyEntanglingLayers(2, n))
        w = rng.uniform(-3, 3, c.n_weights)
        b_w = w[: 2 * n].reshape(2, n)
        s_w = w[2 * n :].reshape(StronglyEntanglingLayers(2, n).shape())

        @qml.qnode(qml.device("default.qubit", wires=n))
        def run(x: np.ndarray) -> object:
            qml.IQPEmbedding(x, wires=range(n), n_repeats=2)
            qml.AngleEmbedding(x, wires=range(n), rotation="Z")
            qml.BasicEntanglerLayers(b_w, wires=range(n), rotation=qml.RY)
            qml.StronglyEntanglingLayers(s_w, wires=range(n))
            return qml.state()

        np.testing.assert_allclose(_state(c, x, w), np.asarray(run(x)), rtol=0, atol=1e-10)

    def test_amplitude_embedding_pads_and_normalises(self) -> None:
        x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.0]])
        c = Circuit(2).add(AmplitudeEmbedding(3, pad_with=0.5)).cnot(0, 1)

        @qml.qnode(qml.device("default.qubit", wires=2))
        def run(x: np.ndarray) -> object:
            qml.AmplitudeEmbedding(x, wires=range(2), pad_with=0.5, normalize=True)
            qml.CNOT(wires=[0, 1])
            return qml.state()

        np.testing.assert_allclose(
            _state(c, x, np.zeros(0)), np.asarray(run(x)), rtol=0, atol=1e-10
        )

    def test_patterns(self) -> None:
        assert entangler_pairs(4, "ring") == [(0, 1), (1, 2), (2, 3), (3, 0)]
        assert entangler_pairs(5, "even") == [(0, 1), (2, 3)]
        assert entangler_pairs(5, "odd") == [(1, 2), (3, 4)]
        assert entangler_pairs(4, "range-2") == [(0, 2), (1, 3), (2, 0), (3, 1)]
        assert len(entangler_pairs(5, "full")) == 10
        assert entangler_pairs(3, "none") == []

    def test_reuploading_reads_inputs_each_repeat(self) -> None:
        block = DataReuploading(AngleEmbedding(2), [RotationLayer(2, ("Y", "Z"))], n_repeats=3)
        c = Circuit(2).add(block)
        assert c.n_weights == block.shape()[0] == 12
        assert resources(c).gate_counts == dict(block.resources())


class TestInputs:
    def test_unknown_pattern(self) -> None:
        with pytest.raises(CircuitError, match="unknown entanglement pattern 'star'"):
            entangler_pairs(3, "star")

    def test_template_wider_than_circuit(self) -> None:
        with pytest.raises(
            CircuitError, match=r"AngleEmbedding uses wire 3; the circuit has wires 0\.\.2"
        ):
            Circuit(3).add(AngleEmbedding(4))
