"""The report's circuit diagrams (SVG): well-formed, one mark per gate, columns as deep
as Qiskit counts the circuit, labels escaped."""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET

import pytest

from quarch.quantum import Circuit, to_qiskit
from quarch.report._circuit_svg import CONTROLLED, circuit_svg, moments

NS = "{http://www.w3.org/2000/svg}"
ONE = ["h", "x", "s", "t", "sx"]
ROT = ["rx", "ry", "rz"]
TWO = ["cnot", "cz", "cy", "crx", "cry", "crz", "ch", "rzz", "rxx", "swap"]


def _random_circuit(n: int, depth: int, rng: random.Random) -> Circuit:
    """Random gates; two-qubit ones on neighbouring wires, either order (a gate then spans
    only its own wires, so the diagram's columns are the circuit's depth)."""
    c = Circuit(n)
    for _ in range(depth):
        kind = rng.random()
        if kind < 0.3:
            getattr(c, rng.choice(ONE))(rng.randrange(n))
        elif kind < 0.6 or n == 1:
            getattr(c, rng.choice(ROT))(rng.randrange(n), rng.uniform(-3, 3))
        else:
            name = rng.choice(TWO)
            a = rng.randrange(n - 1)
            wires = (a, a + 1) if rng.random() < 0.5 else (a + 1, a)
            args = (rng.uniform(-3, 3),) if name in {"crx", "cry", "crz", "rzz", "rxx"} else ()
            getattr(c, name)(*wires, *args)
    return c


def _count(root: ET.Element, tag: str, cls: str) -> int:
    return sum(e.get("class") == cls for e in root.iter(NS + tag))


@pytest.mark.parametrize("seed", range(8))
def test_one_mark_per_gate_and_qiskit_depth(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 5)
    c = _random_circuit(n, rng.randint(1, 30), rng)
    root = ET.fromstring(circuit_svg(c, "trial 1: quantum"))
    controlled = [op for op in c.ops if op.name in CONTROLLED]
    assert _count(root, "circle", "control") == len(controlled)
    assert _count(root, "rect", "target") == len(controlled)
    assert _count(root, "rect", "gate") == len(c.ops) - len(controlled)
    assert _count(root, "line", "wire") == n
    assert len(moments(c)) == to_qiskit(c).depth()
    # every gate's label is on the page, the controlled ones by their target's name
    labels = [e.text for e in root.iter(NS + "text")]
    for op in c.ops:
        assert (CONTROLLED.get(op.name) or op.name.upper()) in labels
    width = float(root.get("width", 0))
    assert width >= 34 + 44 * len(moments(c))  # every column fits inside


def test_a_gate_spanning_wires_moves_every_wire_it_crosses() -> None:
    c = Circuit(3).h(1).rzz(0, 2, 0.1).h(1)  # the rzz box covers wire 1 too
    cols = moments(c)
    assert [[op.name for op in col] for col in cols] == [["h"], ["rzz"], ["h"]]


def test_title_is_escaped() -> None:
    svg = circuit_svg(Circuit(1).h(0), "a <b> & 'c'")
    root = ET.fromstring(svg)  # would not parse if the title were not escaped
    assert next(e.text for e in root.iter(NS + "text")) == "a <b> & 'c'"
