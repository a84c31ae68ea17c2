"""Circuit diagrams of the report's winners, written as SVG text.

Why not matplotlib, which draws the report's other plots: a diagram is boxes, lines and
labels on a grid, and matplotlib spent about 90 ms on each (a figure, a text artist per
gate, Agg rasterisation, PNG encoding), half a second of the README's first command for
its five winners. Written as SVG elements a diagram takes about a millisecond, stays
sharp at any zoom (long circuits are scaled down to the page), and its gate labels are
text a reader can search for in the page.

Layout: wires left to right, one column per *moment* (a gate goes into the first column
after every gate already on the wires it spans), one-qubit and uncontrolled gates as
labelled boxes over the wires they act on, two-qubit controlled gates as a dot on the
control joined to a rounded box on the target naming the gate (``X`` for CNOT).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quarch.quantum import Circuit

__all__ = ["CONTROLLED", "circuit_svg", "moments"]

#: gates drawn as a control dot and a target box: name -> the target's label
CONTROLLED = {"cnot": "X", "cz": "Z", "cy": "Y", "crx": "RX", "cry": "RY", "crz": "RZ", "ch": "H"}

_COL = 44.0  # px per moment
_ROW = 36.0  # px per wire
_LEFT = 34.0  # room for the wire labels
_TITLE = 22.0  # room for the title line
_BOX = "fill='#f6e3c5' stroke='#4d4d4d'"
_TARGET = "fill='#dbe9f6' stroke='#4d4d4d'"
_FONT = "font-family='sans-serif' text-anchor='middle' dominant-baseline='central'"


def moments(circuit: Circuit) -> list[list[Any]]:
    """The circuit's operations by column: each in the first column after every
    operation already on the wires it spans (an operation without wires spans all)."""
    n = circuit.n_qubits
    cols: list[list[Any]] = []
    level = [0] * n
    for op in circuit.ops:
        ws = list(op.wires) or list(range(n))
        span = range(min(ws), max(ws) + 1)
        col = max(level[w] for w in span)
        while len(cols) <= col:
            cols.append([])
        cols[col].append(op)
        for w in span:
            level[w] = col + 1
    return cols


def _label(name: str) -> str:
    return "AMP" if name == "amplitude_embedding" else name.upper()


def circuit_svg(circuit: Circuit, title: str = "") -> str:
    """The diagram of ``circuit`` as a standalone SVG document (``width``/``height`` in
    px, so an ``<img>`` knows its size before it is laid out)."""
    n = circuit.n_qubits
    cols = moments(circuit)
    top = _TITLE if title else 6.0
    # as wide as the columns need, or the title: about 0.6 em a character at 12 px
    # (a one-column circuit's 86 px held no more than "trial 3: circuit")
    width = max(_LEFT + _COL * max(len(cols), 1) + 8.0, 7.2 * len(title) + 8.0)
    height = top + _ROW * n + 4.0

    def x(col: float) -> float:
        return _LEFT + _COL * (col + 0.5)

    def y(wire: float) -> float:
        return top + _ROW * (wire + 0.5)

    out = [
        "<svg xmlns='http://www.w3.org/2000/svg' "
        f"width='{width:.0f}' height='{height:.0f}' viewBox='0 0 {width:.0f} {height:.0f}'>",
        f"<rect width='{width:.0f}' height='{height:.0f}' fill='white'/>",
    ]
    if title:
        out.append(
            f"<text x='{width / 2:.1f}' y='{_TITLE / 2 + 2:.1f}' font-size='12' {_FONT}>"
            f"{html.escape(title)}</text>"
        )
    for w in range(n):
        out.append(
            f"<line class='wire' x1='{_LEFT - 4:.1f}' y1='{y(w):.1f}' "
            f"x2='{width - 6:.1f}' y2='{y(w):.1f}' stroke='#4d4d4d' stroke-width='1'/>"
        )
        out.append(
            f"<text x='{_LEFT / 2 - 2:.1f}' y='{y(w):.1f}' font-size='10' {_FONT}>q{w}</text>"
        )
    for c, ops in enumerate(cols):
        for op in ops:
            ws = list(op.wires) or list(range(n))
            if len(ws) >= 2 and op.name in CONTROLLED:
                ctrl, tgt = ws[0], ws[-1]
                out.append(
                    f"<line x1='{x(c):.1f}' y1='{y(ctrl):.1f}' x2='{x(c):.1f}' "
                    f"y2='{y(tgt):.1f}' stroke='#333' stroke-width='1.2'/>"
                )
                out.append(
                    f"<circle class='control' cx='{x(c):.1f}' cy='{y(ctrl):.1f}' r='3.5' fill='#1a1a1a'/>"
                )
                label = CONTROLLED[op.name]
                bw = 8.0 + 6.5 * len(label)
                out.append(
                    f"<rect class='target' x='{x(c) - bw / 2:.1f}' y='{y(tgt) - 8:.1f}' "
                    f"width='{bw:.1f}' height='16' rx='4' {_TARGET}/>"
                )
                out.append(
                    f"<text x='{x(c):.1f}' y='{y(tgt):.1f}' font-size='8' {_FONT}>{label}</text>"
                )
                continue
            lo, hi = min(ws), max(ws)
            out.append(
                f"<rect class='gate' x='{x(c) - 0.35 * _COL:.1f}' "
                f"y='{y(lo) - 0.3 * _ROW:.1f}' width='{0.7 * _COL:.1f}' "
                f"height='{(hi - lo + 0.6) * _ROW:.1f}' {_BOX}/>"
            )
            label = _label(op.name)
            # a label of more than 5 capitals is wider than its box at 8 px ("CPHASE",
            # the noise channels' names): squeezed into the box instead of over the
            # neighbouring columns
            fit = f" textLength='{0.7 * _COL - 4:.1f}' lengthAdjust='spacingAndGlyphs'"
            out.append(
                f"<text x='{x(c):.1f}' y='{(y(lo) + y(hi)) / 2:.1f}' font-size='8' "
                f"{_FONT}{fit if len(label) > 5 else ''}>{html.escape(label)}</text>"
            )
    out.append("</svg>")
    return "".join(out)
