"""The report's circuit drawings read back against the circuit: each gate's mark sits on
exactly the wires it acts on (a control dot on the control wire, the target box on the
target, a plain box over the wires it spans and no others), in a column after every
earlier gate that shares a wire with it and as early as that allows (the module's
documented layout, recomputed here pairwise), with its own label; everything inside the
document's stated size."""

from __future__ import annotations

import itertools
import random
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from quarch.quantum import Circuit
from quarch.report._circuit_svg import CONTROLLED, circuit_svg, moments

NS = "{http://www.w3.org/2000/svg}"
ONE = ["h", "x", "s", "t", "sx"]
ROT = ["rx", "ry", "rz"]
TWO = ["cnot", "cz", "cy", "crx", "cry", "crz", "ch", "rzz", "rxx", "swap"]
PARAM = {"crx", "cry", "crz", "rzz", "rxx"}


def _random_circuit(n: int, depth: int, rng: random.Random) -> Circuit:
    """Random gates; two-qubit ones on any two wires, either order (far apart too, so a
    box or a control line crosses wires it does not act on)."""
    c = Circuit(n)
    for _ in range(depth):
        kind = rng.random()
        if kind < 0.25 or n == 1:
            getattr(c, rng.choice(ONE))(rng.randrange(n))
        elif kind < 0.5:
            getattr(c, rng.choice(ROT))(rng.randrange(n), rng.uniform(-3, 3))
        else:
            name = rng.choice(TWO)
            a, b = rng.sample(range(n), 2)
            args = (rng.uniform(-3, 3),) if name in PARAM else ()
            getattr(c, name)(a, b, *args)
    return c


def _expected_columns(c: Circuit) -> list[int]:
    """Column of each op: one after the latest earlier op whose wire span overlaps its
    own (an op covers every wire between its lowest and highest), else 0."""
    n = c.n_qubits
    spans = []
    for op in c.ops:
        ws = list(op.wires) or list(range(n))
        spans.append(set(range(min(ws), max(ws) + 1)))
    cols: list[int] = []
    for i, s in enumerate(spans):
        cols.append(max((cols[j] + 1 for j in range(i) if spans[j] & s), default=0))
    return cols


def _f(e: ET.Element, key: str) -> float:
    return float(e.get(key, "nan"))


def _read(svg: str) -> dict[str, Any]:
    """The drawing's wires, marks and texts, in document order."""
    root = ET.fromstring(svg)
    els = list(root.iter())
    # nothing but elements: no stray text between them (only <text> holds text)
    assert all(not (e.tail or "").strip() for e in els)
    assert all(not (e.text or "").strip() for e in els if e.tag != NS + "text")
    texts = [(e, e.text) for e in els if e.tag == NS + "text"]
    return {"root": root, "els": els, "texts": texts}


def _wire_ys(d: dict[str, Any], n: int) -> list[float]:
    lines = [e for e in d["els"] if e.tag == NS + "line" and e.get("class") == "wire"]
    assert len(lines) == n
    ys = [_f(e, "y1") for e in lines]
    assert all(_f(e, "y2") == y for e, y in zip(lines, ys, strict=True))  # horizontal
    # each wire is labelled q<w> at its own height, left of the first column
    for w, y in enumerate(ys):
        (label,) = [e for e, t in d["texts"] if t == f"q{w}"]
        assert _f(label, "y") == y
    assert ys == sorted(ys) and len(set(ys)) == n  # q0 on top, one height per wire
    return ys


def _marks(d: dict[str, Any], ys: list[float]) -> list[dict[str, Any]]:
    """One mark per gate, in document order: its x centre, the wires it touches, kind
    and label."""
    els = d["els"]
    out = []
    wire_of = {y: w for w, y in enumerate(ys)}
    for i, e in enumerate(els):
        cls = e.get("class")
        if e.tag == NS + "rect" and cls == "gate":
            x, y, w, h = (_f(e, k) for k in ("x", "y", "width", "height"))
            covered = [k for k, yy in enumerate(ys) if y < yy < y + h]
            text = els[i + 1]
            assert text.tag == NS + "text"
            assert abs(_f(text, "x") - (x + w / 2)) < 0.11  # the label centred on the box
            assert abs(_f(text, "y") - (y + h / 2)) < 0.11
            out.append({"x": x + w / 2, "wires": covered, "kind": "box", "label": text.text})
        elif e.tag == NS + "circle" and cls == "control":
            line, target, text = els[i - 1], els[i + 1], els[i + 2]
            assert line.tag == NS + "line" and target.get("class") == "target"
            cx, cy = _f(e, "cx"), _f(e, "cy")
            ctrl = wire_of[cy]
            tx, ty, tw, th = (_f(target, k) for k in ("x", "y", "width", "height"))
            tgt = [k for k, yy in enumerate(ys) if ty < yy < ty + th]
            assert len(tgt) == 1 and abs(ty + th / 2 - ys[tgt[0]]) < 0.11  # centred on it
            assert abs(tx + tw / 2 - cx) < 0.11
            # the vertical line joins the control dot to the target box
            assert _f(line, "x1") == _f(line, "x2") == cx
            assert {_f(line, "y1"), _f(line, "y2")} == {cy, ys[tgt[0]]}
            assert _f(text, "x") == cx and _f(text, "y") == ys[tgt[0]]
            # the label fits in its box (about 6.5 px a character at 8 px)
            assert tw >= 6.5 * len(text.text or "")
            out.append({"x": cx, "wires": [ctrl, tgt[0]], "kind": "controlled",
                        "label": text.text})  # fmt: skip
    return out


def _check(c: Circuit, title: str) -> None:
    svg = circuit_svg(c, title)
    d = _read(svg)
    n = c.n_qubits
    ys = _wire_ys(d, n)
    marks = _marks(d, ys)
    assert len(marks) == len(c.ops)
    cols = _expected_columns(c)
    xs_of_col: dict[int, set[float]] = {}
    # document order is column order, then circuit order within a column
    order = sorted(range(len(c.ops)), key=lambda i: (cols[i], i))
    for mark, i in zip(marks, order, strict=True):
        op = c.ops[i]
        ws = list(op.wires) or list(range(n))
        if len(ws) >= 2 and op.name in CONTROLLED:
            assert mark["kind"] == "controlled"
            assert mark["wires"] == [ws[0], ws[-1]]
            assert mark["label"] == CONTROLLED[op.name]
        else:
            assert mark["kind"] == "box"
            assert mark["wires"] == list(range(min(ws), max(ws) + 1))
            label = "AMP" if op.name == "amplitude_embedding" else op.name.upper()
            assert mark["label"] == label
        xs_of_col.setdefault(cols[i], set()).add(mark["x"])
    # one x per column, columns left to right, evenly spaced, wider than a box
    assert all(len(v) == 1 for v in xs_of_col.values())
    centres = [next(iter(xs_of_col[k])) for k in sorted(xs_of_col)]
    assert sorted(xs_of_col) == list(range(len(centres)))
    steps = {round(b - a, 6) for a, b in itertools.pairwise(centres)}
    assert len(steps) <= 1 and all(s > 0 for s in steps)
    boxes = [e for e in d["els"] if e.get("class") in ("gate", "target")]
    step = steps.pop() if steps else None
    for b in boxes:  # neighbouring columns' boxes do not overlap
        if step is not None:
            assert _f(b, "width") < step
    # everything inside the stated size, which the viewBox repeats
    root = d["root"]
    width, height = float(root.get("width", 0)), float(root.get("height", 0))
    assert root.get("viewBox") == f"0 0 {width:.0f} {height:.0f}"
    (bg,) = [e for e in d["els"] if e.tag == NS + "rect" and e.get("fill") == "white"]
    assert (_f(bg, "width"), _f(bg, "height")) == (width, height)
    for e in d["els"]:
        if e.tag == NS + "rect" and e.get("class") in ("gate", "target"):
            assert _f(e, "x") >= 0 and _f(e, "x") + _f(e, "width") <= width
            assert _f(e, "y") >= 0 and _f(e, "y") + _f(e, "height") <= height
        if e.tag == NS + "line" and e.get("class") == "wire":
            assert 0 < _f(e, "x1") < _f(e, "x2") <= width
            # the wire runs under every column
            if centres:
                assert _f(e, "x1") < centres[0] and centres[-1] < _f(e, "x2")
        if e.tag == NS + "circle":
            assert 0 < _f(e, "cx") < width and 0 < _f(e, "cy") < height
    wire_labels = [e for e, t in d["texts"] if t and t.startswith("q") and t[1:].isdigit()]
    first_left = min(
        (_f(e, "x") for e in d["els"] if e.get("class") in ("gate", "target")), default=width
    )
    assert all(0 < _f(e, "x") < first_left for e in wire_labels)  # labels left of gates
    # the title, escaped, centred above the first wire; none when not given
    if title:
        t = d["texts"][0][0]
        assert d["texts"][0][1] == title
        assert _f(t, "x") == pytest.approx(width / 2, abs=0.06)
        assert 0 < _f(t, "y") < ys[0] - 16  # above the first wire's boxes
    else:
        assert not any(tx == title for _, tx in d["texts"])
        assert ys[0] - 0.3 * (ys[1] - ys[0] if n > 1 else 36) > 0
    # the document is no larger than its content needs (a column's width right of the
    # last centre, a row's height below the last wire)
    if centres:
        assert width - centres[-1] <= 44
    assert height - ys[-1] <= 36


@pytest.mark.parametrize("seed", range(6))
def test_marks_sit_on_the_circuits_wires_in_its_order(seed: int) -> None:
    rng = random.Random(100 + seed)
    n = rng.randint(2, 5)
    _check(_random_circuit(n, rng.randint(1, 25), rng), "" if seed % 2 else "trial 3: q <&>")


def test_moments_against_the_pairwise_rule() -> None:
    rng = random.Random(7)
    for _ in range(30):
        n = rng.randint(1, 5)
        c = _random_circuit(n, rng.randint(0, 20), rng)
        cols = _expected_columns(c)
        got = moments(c)
        assert len(got) == (max(cols) + 1 if cols else 0)
        for k, col in enumerate(got):
            # each column holds its ops in circuit order (identity, not equality)
            idx = [next(i for i, op in enumerate(c.ops) if op is o) for o in col]
            assert idx == sorted(i for i, ck in enumerate(cols) if ck == k)


def test_an_operation_without_wires_spans_every_wire() -> None:
    """An amplitude embedding on every wire (and any op without wires) takes a whole
    column and is boxed over all wires, labelled AMP."""
    c = Circuit(3).amplitude_embedding(8).h(0).cnot(2, 1)
    assert [[op.name for op in col] for col in moments(c)] == [
        ["amplitude_embedding"],
        ["h", "cnot"],
    ]
    _check(c, "amp")
    from quarch.quantum.circuit import Op

    wireless = Circuit(3)
    wireless.ops += [Op("h", (1,)), Op("barrier", ()), Op("x", (0,))]
    assert [[op.name for op in col] for col in moments(wireless)] == [["h"], ["barrier"], ["x"]]
    _check(wireless, "")


def test_one_wire_and_empty_circuits() -> None:
    _check(Circuit(1).h(0).rx(0, 0.3).t(0), "one wire")
    _check(Circuit(2).h(0), "one column")
    _check(Circuit(3).cz(2, 0), "")
    _check(Circuit(2), "")
    d = _read(circuit_svg(Circuit(2)))
    root = d["root"]
    assert float(root.get("width", 0)) > 44  # room for one (empty) column


def test_room_for_a_title_only_when_there_is_one() -> None:
    c = Circuit(2).h(0).cnot(0, 1)
    plain = circuit_svg(c)
    assert plain == circuit_svg(c, "")  # no title by default
    titled = circuit_svg(c, "t")

    def height(svg: str) -> float:
        return float(ET.fromstring(svg).get("height", "nan"))

    assert height(plain) < height(titled)
    assert len(_read(titled)["texts"]) == len(_read(plain)["texts"]) + 1
