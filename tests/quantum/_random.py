"""Seeded random circuits over every gate, shared by the correctness tests."""

from __future__ import annotations

import numpy as np

from quarch.quantum import GATES, Circuit, Input


def random_circuit(n_qubits: int, rng: np.random.Generator, n_ops: int = 12) -> Circuit:
    """A circuit of ``n_ops`` random gates whose angles are constants, weights or inputs."""
    c = Circuit(n_qubits)
    names = [g for g, spec in GATES.items() if spec.n_wires <= n_qubits]
    for _ in range(n_ops):
        name = names[int(rng.integers(len(names)))]
        spec = GATES[name]
        wires = rng.choice(n_qubits, spec.n_wires, replace=False).tolist()
        params: list[object] = []
        for _ in range(spec.n_params):
            r = rng.random()
            if r < 0.3:
                params.append(float(rng.uniform(-3, 3)))
            elif r < 0.65:
                params.append(c.new_weight())
            else:
                params.append(Input(int(rng.integers(n_qubits))))
        c.append(name, wires, params)
    return c


def all_gates_circuit(n_qubits: int = 3) -> Circuit:
    """Every gate once, so coverage of the gate table never depends on luck."""
    c = Circuit(n_qubits)
    for i, (name, spec) in enumerate(GATES.items()):
        wires = [(i + k) % n_qubits for k in range(spec.n_wires)]
        params = [
            c.new_weight() if k % 2 == 0 else Input(k % n_qubits) for k in range(spec.n_params)
        ]
        c.append(name, wires, params)
    return c
