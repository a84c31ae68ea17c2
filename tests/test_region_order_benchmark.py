"""``benchmarks/region_order.py --quick``: its figures against a brute force of its own.

The benchmark's tables are what docs/RESULTS.md quotes for a circuit's region on a
device. Here its quick run (ibm-fez, widths 2-4) is checked against success
probabilities taken region by region, over the calibration's own ranking
(:meth:`~quarch.cost.calibration.Calibration.regions`) and the circuit's order
(``route(c, device, layout=i)``), with circuits built here by hand; and its refusals.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import statistics
import sys
from pathlib import Path
from types import ModuleType

import pytest

from quarch.cost.device_costs import success_probability
from quarch.cost.devices import get_calibration
from quarch.cost.routing import route
from quarch.quantum import Circuit
from quarch.spaces.hqnn.model import build_circuit
from quarch.spaces.hqnn.space import hqnn_space

from ._scope import per_module

ROOT = Path(__file__).resolve().parents[1]
DEVICE = "ibm-fez"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "_region_order", ROOT / "benchmarks/region_order.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks its module up by name
    spec.loader.exec_module(mod)
    return mod


def _run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.argv", ["region_order.py", *args])
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                _bench().main()
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope=per_module)
def quick() -> str:
    code, out, err = _run("--quick", "--each")
    assert code == 0, err
    return out


def _ring(n: int) -> Circuit:
    """Two layers of CNOT i -> i+1 around the ring, written out (one CNOT at 2 qubits)."""
    pairs = [(0, 1)] if n == 2 else [(i, (i + 1) % n) for i in range(n)]
    c = Circuit(n)
    for a, b in pairs + pairs:
        c.cnot(a, b)
    return c


def _probs(c: Circuit, k: int = 16) -> list[float]:
    """Success probability on each of the calibration's first ``k`` regions."""
    cal = get_calibration(DEVICE)
    assert cal is not None
    regions = cal.regions(c.n_qubits, 64)[:k]
    return [success_probability(route(c, DEVICE, region=r)) for r in regions]


def _line(out: str, name: str) -> tuple[str, dict[str, float]]:
    """The ``--each`` line of circuit ``name`` (before its ``:``): its full name and its
    figures by label."""
    (line,) = [ln for ln in out.splitlines() if ln.split()[1:2] and
               ln.split()[1].split(":")[0] == name and ln.startswith(DEVICE)]  # fmt: skip
    figures = re.findall(r"(first|best8|best16|layout0) (\d\.\d{4})", line)
    return line.split()[1], {k: float(v) for k, v in figures}


def _table_row(out: str, kind: str, k: int) -> list[float]:
    """first, best-of-K, gain %, max x of the success table's row (ibm-fez, ``kind``, K)."""
    for ln in out.splitlines():
        f = ln.split()
        if f[:2] == [DEVICE, kind] and len(f) == 8 and f[3] == str(k):
            return [float(v) for v in f[4:]]
    raise AssertionError(f"no row {kind} K={k} in:\n{out}")


def _hqnn_arch(n: int) -> dict[str, object]:
    """The quick run's hqnn architecture of width ``n`` (seed 0 of the benchmark's draw)."""
    return dict(hqnn_space(min_qubits=n, max_qubits=n, max_layers=3).sample(1000 * n + 5))


@pytest.mark.parametrize("name", ["ring4", "hqnn4s0"])  # hqnn4s0: first < best8 < best16
def test_each_circuits_figures_are_the_brute_force_over_its_regions(quick: str, name: str) -> None:
    full, line = _line(quick, name)
    if name == "ring4":
        c = _ring(4)
    else:
        arch = _hqnn_arch(4)
        assert full == f"hqnn4s0:{arch['embedding']}/{arch['entangler']}/L{arch['layers']}"
        c = build_circuit(arch)
    probs = _probs(c)
    assert line["first"] == pytest.approx(probs[0], abs=5e-5)
    assert line["best8"] == pytest.approx(max(probs[:8]), abs=5e-5)
    assert line["best16"] == pytest.approx(max(probs), abs=5e-5)
    # the circuit's order holds the 8 first regions: its best layout is their best
    by_layout = [success_probability(route(c, DEVICE, layout=i)) for i in range(8)]
    assert line["layout0"] == pytest.approx(max(by_layout), abs=5e-5)
    assert max(by_layout) == max(probs[:8])


def _quick_circuits(kind: str) -> list[Circuit]:
    """The quick run's circuits of ``kind``: widths 2-4, one of each."""
    if kind == "ring":
        return [_ring(n) for n in (2, 3, 4)]
    return [build_circuit(_hqnn_arch(n)) for n in (2, 3, 4)]


@pytest.mark.parametrize("kind", ["ring", "hqnn"])
def test_the_rows_aggregate_the_circuits(quick: str, kind: str) -> None:
    circuits = _quick_circuits(kind)
    per = [_probs(c) for c in circuits]
    for k in (1, 2, 4, 8, 16):
        best = [max(p[:k]) for p in per]
        ratios = [b / p[0] for b, p in zip(best, per, strict=True)]
        first, best_k, gain, top = _table_row(quick, kind, k)
        assert first == pytest.approx(statistics.fmean(p[0] for p in per), abs=5e-5)
        assert best_k == pytest.approx(statistics.fmean(best), abs=5e-5)
        assert gain == pytest.approx(100 * (statistics.fmean(ratios) - 1), abs=0.05)
        assert top == pytest.approx(max(ratios), abs=5e-4)
    hits = sum(1 for p, c in zip(per, circuits, strict=True)
               if success_probability(route(c, DEVICE)) == max(p))  # fmt: skip
    (row,) = [
        ln.split() for ln in quick.splitlines() if re.match(rf"{DEVICE}\s+{kind}\s+3\s+\d+/", ln)
    ]
    assert row[3] == f"{hits}/3" and row[4] == "0"  # no region failed to route
    assert "layout 0 as shipped vs best of 16;" in quick


@pytest.mark.parametrize(
    "args, said",
    [
        (("--devices", "ibm-eagle"), "'ibm-eagle' is a hand profile, not a calibrated device"),
        (("--devices", "nope"), "unknown quantum device profile 'nope'"),
        (("--min-qubits", "1"), "need 2 <= --min-qubits <= --max-qubits <= 16"),
        (("--max-qubits", "17"), "need 2 <= --min-qubits <= --max-qubits <= 16"),
        (("--seeds", "0"), "--seeds and --regions must be >= 1"),
        (
            ("--devices", "ibm-belem", "--max-qubits", "6"),
            "the circuit needs 6 qubits; ibm-belem has 5",
        ),
    ],
)
def test_bad_settings_are_refused_in_one_line(args: tuple[str, ...], said: str) -> None:
    code, out, err = _run(*args)
    assert code == 2 and out == ""
    (line,) = err.strip().splitlines()
    assert line.startswith("error: ") and said in line
