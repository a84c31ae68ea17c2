"""Quantum core: circuits, a fast batched differentiable simulator, noise, metrics, export.

Wire 0 is the most significant bit of a basis-state index (PennyLane's convention);
states are ``[batch, 2**n]`` with the batch axis first.

Build a circuit, compile it once, run it on batches::

    import torch
    from quarch.quantum import (Circuit, AngleEmbedding, BasicEntanglerLayers,
                                QuantumLayer, compile_circuit)

    c = Circuit(4).add(AngleEmbedding(4, rotation="Y")).add(BasicEntanglerLayers(2, 4))
    layer = QuantumLayer(c, observables=None)      # <Z> on each qubit, Adam-ready
    out = layer(torch.rand(32, 4))                  # [32, 4] real, differentiable

    plan = compile_circuit(c, dtype=torch.complex128)
    psi = plan.state(inputs=torch.rand(8, 4), weights=layer.weights.detach().double())

Angles are numbers, trainable weights (``Weight(i)`` or ``circuit.new_weight()``) or
input features (``Input(j)``; ``Input(i, j)`` is ``x_i * x_j``). Templates with
PennyLane's names (``AngleEmbedding``, ``AmplitudeEmbedding``, ``IQPEmbedding``,
``BasicEntanglerLayers``, ``StronglyEntanglingLayers``) plus ``RotationLayer``,
``EntanglingLayer`` (patterns none/linear/ring/full/odd/even/range-r) and
``DataReuploading`` are added with ``circuit.add(...)``.

QAOA / Grover on a diagonal cost ``C`` (length ``2**n``)::

    psi = apply_diagonal(psi, C, gamma)          # exp(-i gamma C) psi
    psi = mixer_plan.state(weights=..., initial_state=psi)
    bits = sample_bitstrings(psi[0], shots=1000, seed=0)

Noise (density matrices, up to ~10 qubits): ``density_matrix``, ``noisy_expval``,
``noisy_probs`` and ``NoiseModel``; a circuit whose gates carry their own noise (a
calibrated device's, see :mod:`quarch.cost.device_costs`) is a ``NoisyCircuit``
(``PauliNoise``, ``Relaxation``), run exactly by ``noisy_circuit_expval`` or, past ~8
qubits, by quantum trajectories with standard errors (``trajectory_expval``). Metrics: ``resources(circuit)`` and, with the
``qiskit`` extra, ``transpiled_metrics``. Reference state of a circuit without inputs:
``statevector(circuit, weights)``. Export: ``to_qasm(circuit, weights)``,
``from_qasm(text)``, ``to_qiskit(circuit, weights)``, ``to_pennylane(circuit)`` and
``pennylane_source(circuit, weights)`` (a standalone PennyLane file). These are
functions of the module that owns them, not methods of ``Circuit``, so the IR
(:mod:`quarch.quantum.circuit`) imports none of them.
"""

from __future__ import annotations

from quarch.quantum.circuit import (
    CHANNELS,
    Circuit,
    CircuitError,
    Input,
    Op,
    Param,
    Weight,
)
from quarch.quantum.export import pennylane_source, to_pennylane, to_qiskit
from quarch.quantum.gates import GATES, gate_matrix
from quarch.quantum.layer import QuantumLayer
from quarch.quantum.measurements import (
    MeasurementError,
    PauliWord,
    apply_diagonal,
    estimate_expvals,
    expval,
    probabilities,
    sample_bitstrings,
    z_each,
    zz_neighbors,
)
from quarch.quantum.metrics import Resources, resources, transpiled_metrics
from quarch.quantum.noise import NoiseModel, density_matrix, noisy_expval, noisy_probs
from quarch.quantum.noisy_circuit import (
    NoisyCircuit,
    PauliNoise,
    Relaxation,
    noisy_circuit_expval,
    noisy_density_matrix,
)
from quarch.quantum.qasm import from_qasm, to_qasm
from quarch.quantum.simulator import (
    ExecutionPlan,
    SimulationError,
    compile_circuit,
    statevector,
)
from quarch.quantum.templates import (
    ENTANGLEMENT_PATTERNS,
    AmplitudeEmbedding,
    AngleEmbedding,
    BasicEntanglerLayers,
    DataReuploading,
    EntanglingLayer,
    IQPEmbedding,
    RotationLayer,
    StronglyEntanglingLayers,
    entangler_pairs,
    gate_pairs,
)
from quarch.quantum.trajectories import TrajectoryResult, trajectory_expval

__all__ = [
    "CHANNELS",
    "ENTANGLEMENT_PATTERNS",
    "GATES",
    "AmplitudeEmbedding",
    "AngleEmbedding",
    "BasicEntanglerLayers",
    "Circuit",
    "CircuitError",
    "DataReuploading",
    "EntanglingLayer",
    "ExecutionPlan",
    "IQPEmbedding",
    "Input",
    "MeasurementError",
    "NoiseModel",
    "NoisyCircuit",
    "Op",
    "Param",
    "PauliNoise",
    "PauliWord",
    "QuantumLayer",
    "Relaxation",
    "Resources",
    "RotationLayer",
    "SimulationError",
    "StronglyEntanglingLayers",
    "TrajectoryResult",
    "Weight",
    "apply_diagonal",
    "compile_circuit",
    "density_matrix",
    "entangler_pairs",
    "estimate_expvals",
    "expval",
    "from_qasm",
    "gate_matrix",
    "gate_pairs",
    "noisy_circuit_expval",
    "noisy_density_matrix",
    "noisy_expval",
    "noisy_probs",
    "pennylane_source",
    "probabilities",
    "resources",
    "sample_bitstrings",
    "statevector",
    "to_pennylane",
    "to_qasm",
    "to_qiskit",
    "trajectory_expval",
    "transpiled_metrics",
    "z_each",
    "zz_neighbors",
]
