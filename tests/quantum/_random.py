"""Seeded random circuits over every gate, shared by the correctness tests."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from quarch.quantum import GATES, AmplitudeEmbedding, Circuit, Input, IQPEmbedding

_ONE_ANGLE = [g for g, s in GATES.items() if s.n_wires == 1 and s.n_params == 1]
_ONE_CONST = [g for g, s in GATES.items() if s.n_wires == 1 and s.n_params == 0]
_MULTI_CONST = [g for g, s in GATES.items() if s.n_wires > 1 and s.n_params == 0]
_MULTI_ANGLE = [g for g, s in GATES.items() if s.n_wires > 1 and s.n_params == 1]


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


_DIAGONAL = ["crz", "cphase", "rzz"]  # two-qubit gates diagonal in the basis


def dense_form_circuit(
    n: int,
    rng: np.random.Generator,
    *,
    amplitude: bool = False,
    normalize: bool = True,
    diagonals: bool = False,
    phases: bool = False,
) -> Circuit:
    """A random circuit of the dense variant's form: each wire's embedding (maybe a
    constant gate, then a one-angle gate of an input with a random scale), or with
    ``amplitude`` an amplitude embedding of ``2^n`` or fewer features (padded with
    zeros), then a random mix of trainable one-qubit gates (``rot`` and ``u3``
    included; some weights used twice, some angles constant) and constant multi-qubit
    gates (fixed-angle ones included); with ``diagonals``, most two-qubit gates are
    trainable diagonal ones (CRZ, CPHASE, RZZ; some weights shared). With ``phases``
    the embedding is an IQP one (a random pattern of pairs), H then a scaled RZ on
    every wire (maybe a constant phase gate after), or the one above, followed by one
    to three per-sample diagonal gates of an input or a product of two, scaled."""
    c = Circuit(n)
    if amplitude:
        c.add(AmplitudeEmbedding(int(rng.integers(2 ** (n - 1), 2**n)) + 1, normalize=normalize))
    _embedding(c, rng, phases, amplitude)
    _trainable(c, rng, [c.new_weight()], diagonals)
    return c


def reuploading_circuit(n: int, rng: np.random.Generator, blocks: int) -> Circuit:
    """A random re-uploading circuit: ``blocks`` times an embedding of
    :func:`dense_form_circuit` with ``phases`` (a random one each time; the inputs read
    by a random wire each time) and a trainable part (trainable diagonal gates in
    about half of them; weights sometimes shared across blocks), each block ending in
    a constant entangler so the next embedding starts a new per-sample layer."""
    c = Circuit(n)
    used: list[object] = []
    for _ in range(blocks):
        _embedding(c, rng, True, False, inputs=rng.permutation(n).tolist())
        shared = used and rng.random() < 0.3
        used.append(used[int(rng.integers(len(used)))] if shared else c.new_weight())
        _trainable(c, rng, used, bool(rng.random() < 0.5))
        if n > 1:
            c.append(["cnot", "cz", "swap"][int(rng.integers(3))], [n - 1, 0])
    return c


def _embedding(
    c: Circuit,
    rng: np.random.Generator,
    phases: bool,
    amplitude: bool,
    inputs: list[int] | None = None,
) -> None:
    """:func:`dense_form_circuit`'s embedding after an amplitude embedding (if any);
    ``inputs``: the input each wire reads (wire ``q``: input ``q``)."""
    n = c.n_qubits
    src = list(range(n)) if inputs is None else inputs
    kind = int(rng.integers(3)) if phases else 2
    if kind == 0:
        pairs = [p for p in combinations(range(n), 2) if rng.random() < 0.7]
        c.add(IQPEmbedding(n, pattern=pairs or None))
    elif kind == 1:
        for q in range(n):
            c.h(q).rz(q, Input(src[q], scale=float(rng.uniform(0.5, 2))))
            if rng.random() < 0.3:
                c.append(["s", "t", "z"][int(rng.integers(3))], [q])
    for q in range(0 if amplitude or kind < 2 else n):
        if rng.random() < 0.4:
            c.append(_ONE_CONST[int(rng.integers(len(_ONE_CONST)))], [q])
        name = _ONE_ANGLE[int(rng.integers(len(_ONE_ANGLE)))]
        c.append(name, [q], [Input(src[q], scale=float(rng.uniform(0.5, 2)))])
    for _ in range(int(rng.integers(1, 4)) if phases and n > 1 else 0):
        wires = rng.choice(n, 2, replace=False).tolist()
        inputs = rng.choice(n, int(rng.integers(1, 3)), replace=False).tolist()
        angle = Input(*inputs, scale=float(rng.uniform(0.5, 2)))
        c.append(_DIAGONAL[int(rng.integers(len(_DIAGONAL)))], wires, [angle])


def _trainable(c: Circuit, rng: np.random.Generator, used: list[object], diagonals: bool) -> None:
    """:func:`dense_form_circuit`'s trainable part: a gate of ``used[-1]`` (so there is
    at least one), then 3-13 random gates (weights of ``used`` sometimes read again)."""
    n = c.n_qubits
    c.append(_ONE_ANGLE[int(rng.integers(len(_ONE_ANGLE)))], [int(rng.integers(n))], [used[-1]])
    for _ in range(int(rng.integers(3, 14))):
        r = rng.random()
        if r < 0.55 or n == 1:
            name = [*_ONE_ANGLE, "rot", "u3"][int(rng.integers(len(_ONE_ANGLE) + 2))]
            params: list[object] = []
            for _ in range(GATES[name].n_params):
                if used and rng.random() < 0.15:
                    params.append(used[int(rng.integers(len(used)))])  # a shared weight
                elif rng.random() < 0.1:
                    params.append(float(rng.uniform(-3, 3)))
                else:
                    params.append(c.new_weight())
                    used.append(params[-1])
            c.append(name, [int(rng.integers(n))], params)
        elif r < 0.65:
            c.append(_ONE_CONST[int(rng.integers(len(_ONE_CONST)))], [int(rng.integers(n))])
        elif diagonals and rng.random() < 0.7:
            wires = rng.choice(n, 2, replace=False).tolist()
            shared = used and rng.random() < 0.2
            weight = used[int(rng.integers(len(used)))] if shared else c.new_weight()
            c.append(_DIAGONAL[int(rng.integers(len(_DIAGONAL)))], wires, [weight])
        else:
            pool = [g for g in _MULTI_CONST + _MULTI_ANGLE if GATES[g].n_wires <= n]
            name = pool[int(rng.integers(len(pool)))]
            wires = rng.choice(n, GATES[name].n_wires, replace=False).tolist()
            c.append(name, wires, [float(rng.uniform(-3, 3))] * GATES[name].n_params)
