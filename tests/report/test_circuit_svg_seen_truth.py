"""What a reader sees of a circuit drawing: every text (the title, the wire labels, the
gates' labels) lies inside the drawing, each gate's label inside its own box, each wire's
label before its wire, and no two texts overlap. Text extents are measured with the
metrics of DejaVu Sans (matplotlib's bundled font, the usual ``sans-serif`` on Linux and
wider than Helvetica or Arial): a text is ``text-anchor='middle'`` (its width split
either side of x) and ``dominant-baseline='central'`` (its em box split either side of
y), or exactly ``textLength`` wide where the SVG says so."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from functools import cache

import pytest
from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from quarch.quantum import Circuit
from quarch.quantum.circuit import CHANNELS, GATES
from quarch.report._circuit_svg import circuit_svg

NS = "{http://www.w3.org/2000/svg}"


@cache
def _width(text: str, size: float) -> float:
    prop = FontProperties(family="DejaVu Sans", size=size)  # size in px gives px
    return float(TextToPath().get_text_width_height_descent(text, prop, ismath=False)[0])


def _f(e: ET.Element, key: str) -> float:
    return float(e.get(key, "nan"))


def _box(e: ET.Element) -> tuple[float, float, float, float]:
    """A text's (x0, y0, x1, y1) as drawn."""
    size = _f(e, "font-size")
    assert e.get("text-anchor") == "middle" and e.get("dominant-baseline") == "central"
    w = _width(e.text or "", size)
    if e.get("textLength"):
        # squeezed: only "spacingAndGlyphs" narrows the glyphs themselves; with the
        # default ("spacing") the letters would be drawn over each other (SVG 1.1, 10.5)
        assert e.get("lengthAdjust") == "spacingAndGlyphs"
        # and only squeezed, never stretched (a one-letter "X" drawn box-wide)
        assert 0 < _f(e, "textLength") <= w, (e.text, e.get("textLength"), w)
        w = _f(e, "textLength")
    x, y = _f(e, "x"), _f(e, "y")
    return x - w / 2, y - size / 2, x + w / 2, y + size / 2


def _apart(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def _check(c: Circuit, title: str) -> None:
    root = ET.fromstring(circuit_svg(c, title))
    els = list(root.iter())
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    texts = [(i, e, _box(e)) for i, e in enumerate(els) if e.tag == NS + "text"]
    for _, e, (x0, y0, x1, y1) in texts:  # inside the drawing
        assert x0 >= 0 and x1 <= width and y0 >= 0 and y1 <= height, (e.text, width, height)
    for k, (_, e1, b1) in enumerate(texts):  # no two texts overlap
        for _, e2, b2 in texts[k + 1 :]:
            assert _apart(b1, b2), (e1.text, e2.text)
    wires = {_f(e, "y1"): e for e in els if e.tag == NS + "line" and e.get("class") == "wire"}
    assert len(wires) == c.n_qubits
    for i, e, (x0, y0, x1, y1) in texts:
        if els[i - 1].get("class") in ("gate", "target"):  # a gate's label in its box
            r = els[i - 1]
            assert _f(r, "x") <= x0 and x1 <= _f(r, "x") + _f(r, "width"), e.text
            assert _f(r, "y") <= y0 and y1 <= _f(r, "y") + _f(r, "height"), e.text
        elif (e.text or "").startswith("q") and _f(e, "y") in wires:  # before its wire
            assert x1 < _f(wires[_f(e, "y")], "x1"), e.text
        else:  # the title, above every wire's marks
            assert e.text == title
            marks = [_f(m, "y") for m in els if m.get("class") in ("gate", "target")]
            assert y1 <= min(marks, default=height), title


def _every_gate(n: int) -> Circuit:
    """Each gate and channel of the circuit model once, in turn on the first wires."""
    c = Circuit(n)
    for name, spec in GATES.items():
        c.append(name, list(range(spec.n_wires)), [0.1] * spec.n_params)
    for name in CHANNELS:
        c.append(name, [0], [0.1])
    return c


def test_every_gate_and_channel_label_fits_its_box() -> None:
    """ "CPHASE" at 8 px is 32 px of DejaVu Sans in a 30.8 px box, and the noise
    channels' names (DEPOLARIZING: 60 px) ran over the neighbouring columns: labels of
    more than 5 capitals are squeezed into their box."""
    _check(_every_gate(3), "trial 1: every gate")


@pytest.mark.parametrize("n", [1, 2, 16, 30])
def test_wire_labels_and_title_fit(n: int) -> None:
    """Up to the 30 wires a circuit may have ("q29" is 19 px at 10 px, centred 15 px
    in: it starts inside the drawing and ends before the wire starts at 30 px)."""
    c = Circuit(n).h(0).rx(n - 1, 0.2)
    if n > 1:
        c.cnot(0, n - 1)
    _check(c, "")
    _check(c, f"trial {n}: quantum")


@pytest.mark.parametrize("title", ["trial 3: circuit", "trial 12345: circuit", "t"])
def test_a_long_title_over_a_one_column_circuit(title: str) -> None:
    """A one-column circuit's drawing was 86 px wide whatever its title; "trial 12345:
    circuit" (116 px) was cut off at both sides. The drawing widens for its title."""
    _check(Circuit(2).h(0), title)
