"""The report's section on a calibrated device, read back against the routed circuit:
the layout drawing's bold couplers are the ones the routed Qiskit circuit uses (mapped
through the region), every device qubit is drawn, the region's qubits larger and
labelled with the logical qubit measured there, components of the coupling map side by
side; the table's cells are the trial's stored metrics (accuracy = 1 - error) and the
measured layout, and a failure of one trial or one drawing stays in its place."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any, ClassVar

import matplotlib

matplotlib.use("Agg", force=True)
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pytest

from quarch.cost.devices import get_calibration
from quarch.cost.routing import RoutedCircuit, route
from quarch.quantum import Circuit
from quarch.report._quantum import _fmt, _positions, layout_figure, quantum_section

from .._scope import per_module

DEVICE = "ibm-manila"  # five qubits on a line: 0-1-2-3-4


@pytest.fixture(scope=per_module)
def routed() -> RoutedCircuit:
    """Three qubits all coupled: on a line the router needs a SWAP, so the measured
    layout differs from the initial one."""
    c = Circuit(3).h(0).cnot(0, 1).cnot(1, 2).cnot(0, 2).ry(1, 0.3)
    return route(c, DEVICE)


def _used_couplers(r: RoutedCircuit) -> set[tuple[int, int]]:
    """Physical couplers of the routed Qiskit circuit's two-qubit gates."""
    qc = r.qiskit
    out = set()
    for inst in qc.data:
        if len(inst.qubits) == 2:
            a, b = (r.region[qc.find_bit(q).index] for q in inst.qubits)
            out.add((min(a, b), max(a, b)))
    return out


def _hex(c: Any) -> str:
    return matplotlib.colors.to_hex(c)


def test_layout_figure_against_the_routed_circuit(routed: RoutedCircuit) -> None:
    cal = get_calibration(DEVICE)
    assert cal is not None
    fig = layout_figure(routed, "the title")
    (ax,) = fig.axes
    assert ax.get_title() == "the title" and not ax.axison
    pos = _positions(sorted({(min(a, b), max(a, b)) for a, b in cal.edges}), cal.n_qubits)
    # one line per undirected coupler, between its qubits' positions
    couplers = sorted({(min(a, b), max(a, b)) for a, b in cal.edges})
    assert len(ax.lines) == len(couplers)
    bold = _used_couplers(routed)
    assert bold and bold < set(couplers)
    for ln, (a, b) in zip(ax.lines, couplers, strict=True):
        assert list(ln.get_xdata()) == [pos[a][0], pos[b][0]]
        assert list(ln.get_ydata()) == [pos[a][1], pos[b][1]]
        if (a, b) in bold:
            assert _hex(ln.get_color()) == "#d62728" and ln.get_linewidth() == 2.5
        else:
            assert _hex(ln.get_color()) == "#bbbbbb" and ln.get_linewidth() == 0.8
        assert ln.get_zorder() < 2  # under the qubits' dots
    # one dot per device qubit, at its position; the region's larger and orange
    assert len(ax.collections) == cal.n_qubits
    for q, coll in zip(sorted(pos), ax.collections, strict=True):
        assert tuple(np.asarray(coll.get_offsets())[0]) == pos[q]
        inside = q in routed.region
        assert coll.get_sizes()[0] == (140 if inside else 18)
        assert _hex(coll.get_facecolor()[0]) == ("#ff7f0e" if inside else "#888888")
        assert coll.get_zorder() == 2
    # the region's qubits: the logical qubit measured there on the dot, the physical
    # number beside it; no label outside the region
    measured = {p: str(i) for i, p in enumerate(r for r in _final_physical(routed))}
    texts = [(t.get_text(), tuple(t.xy), t.get_position()) for t in ax.texts]
    on_dot = [(s, xy) for s, xy, off in texts if off == xy]
    beside = [(s, xy) for s, xy, off in texts if off != xy]
    assert sorted(on_dot) == sorted((measured.get(q, ""), pos[q]) for q in routed.region)
    assert sorted(beside) == sorted((str(q), pos[q]) for q in routed.region)
    for t in ax.texts:
        if tuple(t.get_position()) != tuple(t.xy):
            assert tuple(t.get_position()) == (4, 4) and t.get_fontsize() == 6
            assert t.anncoords == "offset points"  # beside the dot, not at (4, 4)
        else:
            assert t.get_zorder() == 3 and t.get_fontsize() == 7
            assert t.get_ha() == "center" and t.get_va() == "center"
    assert list(fig.get_size_inches()) == [5.0, 4.0]  # a small device: 4 in (+1 wide)
    plt.close(fig)


def _final_physical(r: RoutedCircuit) -> list[int]:
    """Physical qubit each logical qubit is measured on, from the routed fields."""
    return [r.region[w] for w in r.final]


def test_a_large_device_gets_a_larger_figure() -> None:
    r = route(Circuit(2).cnot(0, 1), "ibm-fez")
    fig = layout_figure(r, "fez")
    assert list(fig.get_size_inches()) == [7.0, 6.0]
    (ax,) = fig.axes
    bold = [ln for ln in ax.lines if ln.get_linewidth() == 2.5]
    assert len(bold) == 1
    (a, b) = r.region
    pos = _positions(sorted({(min(x, y), max(x, y)) for x, y in get_calibration("ibm-fez").edges}),  # type: ignore[union-attr]
                     156)  # fmt: skip
    assert {tuple(bold[0].get_xdata()), tuple(bold[0].get_xdata())[::-1]} >= {
        (pos[min(a, b)][0], pos[max(a, b)][0])
    }
    plt.close(fig)


def test_positions_lay_components_side_by_side() -> None:
    edges = [(0, 1), (1, 2), (2, 0), (2, 3), (4, 5), (7, 8)]
    n = 9  # 6 alone; components {0,1,2,3}, {4,5}, {7,8}, {6}
    pos = _positions(edges, n)
    assert sorted(pos) == list(range(n))
    assert all(isinstance(q, int) for q in pos)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(edges)
    parts = sorted(nx.connected_components(g), key=len, reverse=True)
    left = 0.0
    for part in parts:
        xs = [pos[q][0] for q in part]
        assert min(xs) == pytest.approx(left)  # starts where the last one ended + 0.3
        if len(part) > 1:  # Kamada-Kawai of the component alone, shifted along x
            kk = nx.kamada_kawai_layout(g.subgraph(part))
            shift = min(float(p[0]) for p in kk.values())
            for q in part:
                assert pos[q][0] == pytest.approx(float(kk[q][0]) - shift + left)
                assert pos[q][1] == pytest.approx(float(kk[q][1]))
        else:
            assert pos[next(iter(part))] == (left, 0.0)
        left += max(xs) - min(xs) + 0.3
    assert all(isinstance(v, float) for p in pos.values() for v in p)


def test_fmt() -> None:
    assert _fmt(0.123456) == "0.1235"
    assert _fmt(12345678) == "1.235e+07"
    assert _fmt(3) == "3"
    assert _fmt(0.98765, pct=True) == "98.77 %"
    assert _fmt(1, pct=True) == "100.00 %"
    assert _fmt(None) == "" and _fmt("0.5") == "" and _fmt(None, pct=True) == ""


@dataclass
class _Trial:
    number: int
    params: dict[str, Any]
    metrics: dict[str, float] | None = field(default_factory=dict)


class _Evaluator:
    def __init__(self, routes: dict[int, Any]) -> None:
        self.routes = routes

    def routed_circuit(self, params: dict[str, Any]) -> Any:
        r = self.routes[params["k"]]
        if isinstance(r, Exception):
            raise r
        return r


class _Run:
    def __init__(self, ev: Any) -> None:
        self.ev = ev
        self.calls: list[dict[str, Any]] = []

    def evaluator(self, **kw: Any) -> Any:
        self.calls.append(kw)
        if isinstance(self.ev, Exception):
            raise self.ev
        return self.ev


def _rows(page: str) -> list[list[str]]:
    table = page.split("<table>")[1].split("</table>")[0]
    return [
        [html.unescape(c) for c in re.findall(r"<t[dh]>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", table)
    ]


def _no_loose_text(fragment: str) -> None:
    """Every element closed in order; no text between elements (outside a heading, a
    paragraph or a cell)."""
    stack: list[str] = []
    loose: list[str] = []

    class P(HTMLParser):
        def handle_starttag(self, tag: str, attrs: Any) -> None:
            if tag != "img":
                stack.append(tag)

        def handle_endtag(self, tag: str) -> None:
            assert stack and stack.pop() == tag

        def handle_data(self, data: str) -> None:
            if data.strip() and (not stack or stack[-1] in {"table", "thead", "tbody", "tr"}):
                loose.append(data)

    P().feed(fragment)
    assert stack == [] and loose == []


class _Broken:
    """A routed circuit whose drawing fails (no such device)."""

    device = "no-such-device"
    region = (0, 1)
    physical_layout: ClassVar[dict[int, int]] = {0: 1, 1: 0}


def test_quantum_section_rows_against_the_trials(routed: RoutedCircuit) -> None:
    images: list[tuple[str, Any, str]] = []

    def image(name: str, fig: Any, alt: str) -> str:
        images.append((name, fig, alt))
        return f"<img alt='{alt}'>"

    trials = [
        _Trial(
            4,
            {"k": 0},
            {
                "success_probability": 0.8123456,
                "swaps": 1.0,
                "routed_two_qubit_gates": 6.0,
                "val_error": 0.125,
                "noisy_val_error": 0.25,
                "zne_val_error": 0.2,
            },
        ),
        _Trial(7, {"k": 1}, {"val_error": 0.5}),
        _Trial(9, {"k": 2}, None),
        _Trial(11, {"k": 3}, {"swaps": 2.0}),
    ]
    ev = _Evaluator({0: routed, 1: ValueError("too <wide>"), 2: routed, 3: _Broken()})
    run = _Run(ev)
    page = quantum_section(run, trials, image)
    assert run.calls == [{"standalone": True, "device": "cpu"}]  # trains nothing
    _no_loose_text(page)
    heading = re.search(r"<h2>(.*?)</h2>", page)
    assert heading and html.unescape(heading.group(1)) == "On the device: no-such-device"
    rows = _rows(page)
    assert rows[0] == ["trial", "logical->physical (measured)", "success probability", "SWAPs",
                       "routed 2q gates", "val accuracy", "noisy val accuracy",
                       "ZNE val accuracy"]  # fmt: skip
    layout = ", ".join(f"{i}->{p}" for i, p in enumerate(_final_physical(routed)))
    assert rows[1] == ["4", layout, "0.8123", "1", "6", "87.50 %", "75.00 %", "80.00 %"]
    assert rows[2] == ["7", "not routed: ValueError: too <wide>", "", "", "", "", "", ""]
    assert rows[3] == ["9", layout, "", "", "", "", "", ""]
    assert rows[4] == ["11", "0->1, 1->0", "", "2", "", "", "", ""]
    assert len(rows) == 5
    # a drawing per routed trial, in order; the broken one's note in its place
    assert [(n, a) for n, _, a in images] == [("layout_4", "layout of trial 4"),
                                             ("layout_9", "layout of trial 9")]  # fmt: skip
    assert images[0][1].axes[0].get_title() == (
        f"trial 4 on {DEVICE}: region {list(routed.region)}\nsuccess probability 0.8123"
    )
    assert images[1][1].axes[0].get_title().endswith("\nsuccess probability ")
    tail = page.split("</table>")[1]
    assert tail.index("layout of trial 4") < tail.index("layout of trial 9")
    assert tail.index("layout of trial 9") < tail.index("<p class='note'>no layout drawing: ")
    for _, fig, _ in images:
        plt.close(fig)


def test_quantum_section_is_empty_without_a_router(routed: RoutedCircuit) -> None:
    def image(name: str, fig: Any, alt: str) -> str:  # pragma: no cover - never called
        raise AssertionError

    t = [_Trial(0, {"k": 0})]
    assert quantum_section(_Run(RuntimeError("no data")), t, image) == ""
    assert quantum_section(_Run(object()), t, image) == ""
    assert quantum_section(_Run(_Evaluator({0: routed})), [], image) == ""
    # an evaluator whose router returns None (no device for this run): no section, even
    # after a trial that failed to route
    ev = _Evaluator({0: ValueError("x"), 1: None, 2: routed})
    trials = [_Trial(0, {"k": 0}), _Trial(1, {"k": 1}), _Trial(2, {"k": 2})]
    assert quantum_section(_Run(ev), trials, image) == ""


@pytest.mark.parametrize(("n", "size"), [(40, [5.0, 4.0]), (41, [7.0, 6.0])])
def test_devices_over_forty_qubits_get_the_larger_figure(
    n: int, size: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line of ``n`` qubits (a device of the user's): the figure grows past 40."""
    import types

    import quarch.cost.devices as devices
    from quarch.quantum.circuit import Op

    cal = types.SimpleNamespace(n_qubits=n, edges=tuple((i, i + 1) for i in range(n - 1)))
    monkeypatch.setattr(devices, "get_calibration", lambda name: cal)
    routed = types.SimpleNamespace(
        device="line", region=(3, 4), ops=(Op("cz", (0, 1)),), physical_layout={0: 4, 1: 3}
    )
    fig = layout_figure(routed, "line")
    assert list(fig.get_size_inches()) == size
    (ax,) = fig.axes
    assert [ln.get_linewidth() for ln in ax.lines].count(2.5) == 1  # the 3-4 coupler
    plt.close(fig)


def test_layout_figure_draws_qiskits_own_coupling_map() -> None:
    """The couplers and qubits drawn for ibm-manila are those of Qiskit's fake backend
    (``FakeManilaV2``), read independently of quarch's calibration table."""
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    backend = FakeManilaV2()
    want = {(min(a, b), max(a, b)) for a, b in backend.coupling_map.get_edges()}
    r = route(Circuit(2).cnot(0, 1), DEVICE)
    fig = layout_figure(r, "manila")
    (ax,) = fig.axes
    pos = {tuple(np.asarray(c.get_offsets())[0]): q for q, c in enumerate(ax.collections)}
    assert len(ax.collections) == backend.num_qubits == len(pos)
    drawn = set()
    for ln in ax.lines:
        a, b = (pos[(x, y)] for x, y in zip(ln.get_xdata(), ln.get_ydata(), strict=True))
        drawn.add((min(a, b), max(a, b)))
    assert drawn == want and len(ax.lines) == len(want)
    # the one bold coupler joins the two region qubits the CNOT ran on
    (bold,) = [ln for ln in ax.lines if ln.get_linewidth() == 2.5]
    ends = {pos[(x, y)] for x, y in zip(bold.get_xdata(), bold.get_ydata(), strict=True)}
    assert ends == set(r.region) and tuple(sorted(ends)) in want
    plt.close(fig)


def test_every_trial_failing_to_route_keeps_its_row(routed: RoutedCircuit) -> None:
    """No trial routed: the section still lists each with its error, says so where the
    device's name would be (none was reached) and draws nothing."""

    def image(name: str, fig: Any, alt: str) -> str:  # pragma: no cover - never called
        raise AssertionError

    ev = _Evaluator({0: ValueError("a"), 1: KeyError("b")})
    page = quantum_section(_Run(ev), [_Trial(3, {"k": 0}), _Trial(5, {"k": 1})], image)
    _no_loose_text(page)
    assert page.startswith("<h2>On the device: no winner was routed</h2><p class='note'>")
    assert _rows(page)[1:] == [
        ["3", "not routed: ValueError: a", "", "", "", "", "", ""],
        ["5", "not routed: KeyError: 'b'", "", "", "", "", "", ""],
    ]
    assert page.endswith("</table>")


def test_the_note_names_the_drawings_colours(routed: RoutedCircuit) -> None:
    """The note under the heading says what the drawing shows, and the colours it names
    are matplotlib's ``tab:`` colours the drawing uses: orange for the region's qubits,
    red for the couplers the routed circuit uses."""
    drawn: list[Any] = []

    def image(name: str, fig: Any, alt: str) -> str:
        drawn.append(fig)
        return ""

    page = quantum_section(_Run(_Evaluator({0: routed})), [_Trial(1, {"k": 0})], image)
    note = re.search(r"</h2><p class='note'>(.*?)</p>", page)
    assert note is not None
    text = html.unescape(note.group(1))
    assert text == (
        "Each winner's circuit routed on the calibrated device (orange: the region, "
        "labelled with the logical qubit measured there; red: couplers the routed circuit "
        "uses). Success probability is the estimate from calibrated gate and readout errors "
        "and T1/T2 decay; noisy accuracy is simulated with the device's noise model."
    )
    (fig,) = drawn
    (ax,) = fig.axes
    cal = get_calibration(DEVICE)
    assert cal is not None
    pos = _positions(sorted({(min(a, b), max(a, b)) for a, b in cal.edges}), cal.n_qubits)
    at = {xy: q for q, xy in pos.items()}
    region = [c for c in ax.collections
              if at[tuple(np.asarray(c.get_offsets())[0])] in routed.region]  # fmt: skip
    assert len(region) == len(routed.region)
    assert {_hex(c.get_facecolor()[0]) for c in region} == {_hex("tab:orange")}
    bold = [ln for ln in ax.lines if ln.get_linewidth() > 1]
    assert bold and {_hex(ln.get_color()) for ln in bold} == {_hex("tab:red")}
    plt.close(fig)


class _NoOps:
    """A routed circuit on a real device whose drawing fails with a message."""

    device = DEVICE
    region = (0, 1)
    physical_layout: ClassVar[dict[int, int]] = {0: 0, 1: 1}


def test_a_failed_drawing_says_why() -> None:
    """The note in place of a drawing carries the error that stopped it."""
    with pytest.raises(AttributeError, match="ops") as info:
        layout_figure(_NoOps(), "t")
    reason = str(info.value)

    def image(name: str, fig: Any, alt: str) -> str:  # pragma: no cover - never called
        raise AssertionError

    page = quantum_section(_Run(_Evaluator({0: _NoOps()})), [_Trial(2, {"k": 0})], image)
    assert page.endswith(f"</table><p class='note'>no layout drawing: {html.escape(reason)}</p>")


class _HandProfile:
    """A routed circuit made by hand on a quantum profile without a calibration
    (``ibm-eagle`` is a hand profile: error rates, no coupling map)."""

    device = "ibm-eagle"
    region = (0, 1)
    physical_layout: ClassVar[dict[int, int]] = {0: 0, 1: 1}
    ops = ()


def test_a_device_without_a_calibration_is_refused_in_words() -> None:
    """No coupling map to draw on: a ConfigError that names the device and says why,
    and the report's note carries that line (it was an empty ``assert``)."""
    from quarch._errors import ConfigError
    from quarch.cost.devices import get_quantum_device

    assert get_quantum_device("ibm-eagle").calibration is None  # the premise
    with pytest.raises(ConfigError) as info:
        layout_figure(_HandProfile(), "t")
    reason = str(info.value)
    assert reason == (
        "device 'ibm-eagle' is a hand profile without a calibration: it has no coupling "
        "map to draw the layout on"
    )

    def image(name: str, fig: Any, alt: str) -> str:  # pragma: no cover - never called
        raise AssertionError

    page = quantum_section(_Run(_Evaluator({0: _HandProfile()})), [_Trial(2, {"k": 0})], image)
    assert page.endswith(f"</table><p class='note'>no layout drawing: {html.escape(reason)}</p>")
    assert html.unescape(re.findall(r"<h2>(.*?)</h2>", page)[0]) == "On the device: ibm-eagle"


def test_the_widest_regions_title_stays_inside_the_figure() -> None:
    """The hqnn space's widest circuit (16 qubits) on a 27-qubit device: the drawing's
    title (the trial, the device and the region's 16 qubits) lies inside the saved
    figure and above every qubit's dot. It was cut off at both sides (its text ran
    from x = -21 to 521 px in a 500 px figure) before the title wrapped."""
    import io
    import types

    from quarch.spaces.hqnn.space import hqnn_space

    with pytest.raises(Exception, match="16"):
        hqnn_space(max_qubits=17)  # 16 is the widest the space builds
    region = tuple(range(10, 26))
    routed = types.SimpleNamespace(device="ibm-montreal", region=region, ops=(),
                                   physical_layout=dict(enumerate(region)))  # fmt: skip
    drawn: list[Any] = []

    def image(name: str, fig: Any, alt: str) -> str:
        drawn.append(fig)
        return ""

    metrics = {"success_probability": 0.123456}
    quantum_section(_Run(_Evaluator({0: routed})), [_Trial(1234, {"k": 0}, metrics)], image)
    (fig,) = drawn
    (ax,) = fig.axes
    assert ax.get_title() == (
        f"trial 1234 on ibm-montreal: region {list(region)}\nsuccess probability 0.1235"
    )
    fig.savefig(io.BytesIO(), format="png")  # laid out as the report saves it
    renderer = fig.canvas.get_renderer()
    box = ax.title.get_window_extent(renderer)
    width, height = fig.canvas.get_width_height()
    assert 0 <= box.x0 < box.x1 <= width and box.y1 <= height
    dots = np.concatenate([ax.transData.transform(c.get_offsets()) for c in ax.collections])
    assert len(dots) == 27 and dots[:, 1].max() < box.y0
    plt.close(fig)
