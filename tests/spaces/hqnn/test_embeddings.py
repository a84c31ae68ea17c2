"""``build_circuit`` builds its embeddings from the templates, gate for gate as before.

``spaces.hqnn.model._embed`` used to write the IQP and angle embeddings by hand; it now
adds :class:`~quarch.quantum.IQPEmbedding`, :class:`~quarch.quantum.AngleEmbedding`
(``hadamard=True`` for angle-z) and :class:`~quarch.quantum.AmplitudeEmbedding`. Saved
weights, supercircuit slices and cost figures of existing runs depend on the exact op
list, so this test compares it, op by op (name, wires, angles, weight numbering),
against a copy of the hand-written builder as it was (the independent reference).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from quarch.quantum import AngleEmbedding, Circuit, Input, Weight, resources
from quarch.spaces.hqnn.model import WeightIndex, build_circuit
from quarch.spaces.hqnn.space import EMBEDDINGS, hqnn_space

from ._patterns import pairs as _pairs


# ---- the builder as it was before the templates (reference; do not "fix" it)
def _reference_embed(c: Circuit, kind: str, n: int) -> None:
    if kind == "amplitude":
        c.amplitude_embedding(2**n, pad_with=0.0, normalize=True)
    elif kind == "iqp":
        for w in range(n):
            c.h(w)
            c.rz(w, Input(w))
        for a in range(n):
            for b in range(a + 1, n):
                c.rzz(a, b, Input(a, b))
    else:
        axis = kind[-1]
        for w in range(n):
            if axis == "z":  # RZ on |0> is only a phase: H first makes it an embedding
                c.h(w)
            getattr(c, "r" + axis)(w, Input(w))


def _reference_build(arch: Mapping[str, Any], index: WeightIndex | None = None) -> Circuit:
    n = int(arch["qubits"])
    emb = str(arch["embedding"])
    c = Circuit(n)

    def weight(kind: str, layer: int, a: int, b: int, slot: int) -> Any:
        return c.new_weight() if index is None else Weight(index(kind, layer, a, b, slot))

    _reference_embed(c, emb, n)
    for layer in range(int(arch["layers"])):
        if layer > 0 and arch["reupload"] and emb != "amplitude":
            _reference_embed(c, emb, n)
        rot = arch[f"rotation_{layer}"]
        for w in range(n):
            if rot == "ry":
                c.ry(w, weight("rot", layer, w, -1, 1))
            elif rot == "rx-ry-rz":
                c.rx(w, weight("rot", layer, w, -1, 0))
                c.ry(w, weight("rot", layer, w, -1, 1))
                c.rz(w, weight("rot", layer, w, -1, 2))
            else:
                c.rot(
                    w,
                    weight("rot", layer, w, -1, 0),
                    weight("rot", layer, w, -1, 1),
                    weight("rot", layer, w, -1, 2),
                )
        gate = arch["entangler"]
        # one CZ per pair since session 35 (a pair named in both orders: the two cancelled)
        for a, b in _pairs(n, arch[f"entanglement_{layer}"], gate):
            if gate == "crz":
                c.crz(a, b, weight("ent", layer, a, b, 0))
            else:
                c.append(gate, [a, b])
    return c


def _super_index(kind: str, layer: int, a: int, b: int, slot: int) -> int:
    """A numbering unlike the standalone one, as the SuperCircuit passes."""
    return 7 + 1000 * layer + 40 * a + 3 * (b + 1) + slot + (500 if kind == "ent" else 0)


def _same(arch: Mapping[str, Any], index: WeightIndex | None) -> None:
    got, want = build_circuit(arch, index), _reference_build(arch, index)
    assert got.n_qubits == want.n_qubits
    assert got.ops == want.ops  # names, wires, angles (kind, indices, scale), meta
    assert (got.n_weights, got.n_inputs) == (want.n_weights, want.n_inputs)


@pytest.mark.parametrize("embedding", EMBEDDINGS)
@pytest.mark.parametrize("reupload", [False, True])
def test_every_embedding_builds_the_same_ops(embedding: str, reupload: bool) -> None:
    space = hqnn_space(min_qubits=2, max_qubits=7, max_layers=4)
    for seed in range(12):
        arch = space.sample(seed)
        arch.update(embedding=embedding, reupload=reupload)
        for index in (None, _super_index):
            _same(arch, index)


def test_sampled_architectures_build_the_same_ops() -> None:
    space = hqnn_space(min_qubits=2, max_qubits=10, max_layers=6)
    rng = np.random.default_rng(0)
    seen: set[str] = set()
    for _ in range(300):
        arch = space.sample(rng)
        seen.add(str(arch["embedding"]))
        _same(arch, None)
        _same(arch, _super_index)
    assert seen == set(EMBEDDINGS)


def test_angle_embedding_hadamard_option() -> None:
    c = Circuit(3).add(AngleEmbedding(3, rotation="Z", hadamard=True))
    assert [(op.name, op.wires) for op in c.ops] == [
        ("h", (0,)), ("rz", (0,)), ("h", (1,)), ("rz", (1,)), ("h", (2,)), ("rz", (2,)),
    ]  # fmt: skip
    assert resources(c).gate_counts == dict(AngleEmbedding(3, "Z", hadamard=True).resources())
    assert AngleEmbedding(3, "Z").resources() == {"rz": 3}
