"""The SuperCircuit's weight sharing, read from its docstring.

Per embedding family one flat vector holds three rotation angles per (layer, qubit)
and then one CRZ angle per (layer, ordered pair) of the widest, deepest circuit; an
architecture reads its slice: ``RY`` the middle angle, ``RX-RY-RZ`` and ``Rot`` all
three, CRZ its pair's. So architectures that share a layer share its weights. Here the
shared vector holds each position's own index, and the weights a sub-network extracts
are compared with the positions that layout names, worked out from the docstring and
the circuit's gate order (per layer: the rotations wire by wire, then the entangling
pairs, written out by hand in ``_patterns``), not from the SuperCircuit's own numbering.
"""

from __future__ import annotations

import math

import pytest
import torch

from quarch.spaces.hqnn.model import HybridNet
from quarch.spaces.hqnn.space import hqnn_space
from quarch.spaces.hqnn.supercircuit import SuperCircuit

from ._patterns import pairs

MAX_Q, MAX_L = 4, 3


def _expected(arch: dict, n_rot: int) -> list[int]:
    """The shared positions an architecture reads, in its circuit's weight order."""
    n, out = int(arch["qubits"]), []
    for layer in range(int(arch["layers"])):
        rot = arch[f"rotation_{layer}"]
        for w in range(n):
            base = (layer * MAX_Q + w) * 3
            out += [base + 1] if rot == "ry" else [base, base + 1, base + 2]
        if arch["entangler"] == "crz":
            pattern = str(arch[f"entanglement_{layer}"])
            out += [n_rot + (layer * MAX_Q + a) * MAX_Q + b for a, b in pairs(n, pattern)]
    return out


@pytest.mark.parametrize("seed", range(12))
def test_a_sub_network_reads_the_slice_the_docstring_names(seed: int) -> None:
    space = hqnn_space(max_qubits=MAX_Q, max_layers=MAX_L)
    sc = SuperCircuit(space, (4,), 3, dtype=torch.complex128)
    n_rot = MAX_L * MAX_Q * 3
    size = n_rot + MAX_L * MAX_Q * MAX_Q
    with torch.no_grad():
        for p in sc.weights.values():
            assert p.numel() == size
            p.copy_(torch.arange(size, dtype=p.dtype))
    arch = dict(space.sample(seed))
    net = sc.extract(arch)
    got = [round(float(v)) for v in net.quantum.weights.detach()]
    assert got == _expected(arch, n_rot)


@pytest.mark.parametrize("rotation", ["ry", "rx-ry-rz", "rot"])
@pytest.mark.parametrize("entangler", ["crz", "cnot"])
def test_every_rotation_reads_its_own_angles(rotation: str, entangler: str) -> None:
    """Each rotation kind on its own (random draws may miss one), with and without
    CRZ weights; and two architectures that share a layer read the same weights."""
    space = hqnn_space(max_qubits=MAX_Q, max_layers=MAX_L)
    sc = SuperCircuit(space, (4,), 3, dtype=torch.complex128)
    n_rot = MAX_L * MAX_Q * 3
    with torch.no_grad():
        for p in sc.weights.values():
            p.copy_(torch.arange(p.numel(), dtype=p.dtype))
    arch = dict(space.sample(0))
    arch.update(embedding="angle-y", qubits=3, layers=2, entangler=entangler)
    arch.update({f"rotation_{i}": rotation for i in range(MAX_L)})
    arch.update({f"entanglement_{i}": "full" for i in range(MAX_L)})
    net = sc.extract(arch)
    assert isinstance(net, HybridNet)
    got = [round(float(v)) for v in net.quantum.weights.detach()]
    assert got == _expected(arch, n_rot)
    per_wire = 1 if rotation == "ry" else 3
    assert len(got) == len(set(got))  # no shared angle read twice by one circuit
    assert got[:per_wire] == ([1] if rotation == "ry" else [0, 1, 2])
    # the first layer of a deeper architecture is the same slice
    deeper = net if arch["layers"] == MAX_L else sc.extract({**arch, "layers": MAX_L})
    got_deep = [round(float(v)) for v in deeper.quantum.weights.detach()]
    assert got_deep[: 3 * per_wire] == got[: 3 * per_wire]
    with torch.no_grad():
        assert math.isfinite(float(net(torch.randn(2, 4)).sum()))
