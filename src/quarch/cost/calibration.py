"""Calibrated quantum targets: IBM devices from the snapshots ``qiskit-ibm-runtime`` ships.

``qiskit-ibm-runtime``'s fake provider holds an offline calibration snapshot of about 70
IBM devices (``fake_provider/backends/<name>/``: a configuration and a properties
file). Each becomes a quarch quantum target named ``ibm-<name>`` (``ibm-fez``,
``ibm-sherbrooke``, ...) in :data:`quarch.cost.devices.DEVICES`:

* :class:`CalibratedTarget` is the registry entry. It reads nothing until asked, so
  ``import quarch`` stays fast and works without the ``qiskit`` extra; its listing
  (:meth:`CalibratedTarget.summary`: qubits, median two-qubit error, median T1, read
  from the snapshot's properties file with :mod:`json`) needs no Qiskit either.
* :class:`Calibration` is the loaded snapshot: the coupling map, the basis, per-qubit
  T1/T2 and readout error, per-gate error and duration, taken from the fake backend's
  ``Target`` (the object ``qiskit-aer``'s ``NoiseModel.from_backend`` reads, so
  quarch's device noise and Aer's are built from the same numbers).
* :meth:`Calibration.regions` ranks connected regions of ``n`` qubits, the layouts a
  search can choose among; :meth:`Calibration.sub_target` is the Qiskit ``Target`` of
  one region, so routing stays inside it and a routed circuit of ``n`` logical qubits
  touches exactly ``n`` physical ones (Qiskit's router would otherwise borrow ancillas,
  and a 10-qubit circuit routed on 14 qubits needs a 4**14 density matrix).

Edges the snapshot marks with error 1 (not working on the day of the snapshot) are left
out of the coupling map.
"""

from __future__ import annotations

import functools
import heapq
import importlib.util
import json
import math
import operator
import statistics
import warnings
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quarch._errors import ConfigError

__all__ = [
    "QISKIT_HINT",
    "CalibratedTarget",
    "Calibration",
    "calibrated_targets",
    "load_calibration",
]

#: Appended to errors about calibrated targets when the extra is missing.
QISKIT_HINT = "calibrated IBM targets need the qiskit extra: pip install 'quarch[qiskit]'"

#: Snapshots left out: a synthetic test device, one IBM flags as not representative, and
#: one-qubit devices (no two-qubit gate to route on). Snapshots whose basis is the
#: retired ``u1/u2/u3`` set, or whose couplers all have error 1 (``kyoto``), are left
#: out too (see :func:`calibrated_targets`).
_EXCLUDED = frozenset({"fractional", "nighthawk", "armonk"})
_TWO_QUBIT_GATES = ("cz", "ecr", "cx")
#: The gates routed circuits are made of (fractional gates such as ``rzz`` are not used).
NATIVE_GATES = frozenset({"rz", "sx", "x", *_TWO_QUBIT_GATES})


def _backends_dir() -> Path | None:
    """``qiskit_ibm_runtime/fake_provider/backends`` without importing the package."""
    spec = importlib.util.find_spec("qiskit_ibm_runtime")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "fake_provider" / "backends"
    return path if path.is_dir() else None


def calibrated_targets() -> list[CalibratedTarget]:
    """One :class:`CalibratedTarget` per snapshot of the installed ``qiskit-ibm-runtime``
    (empty without it)."""
    root = _backends_dir()
    if root is None:
        return []
    return list(_scan(str(root)))


@functools.lru_cache(maxsize=4)
def _scan(root: str) -> tuple[CalibratedTarget, ...]:
    return _scan_uncached(root)


def _scan_uncached(root: str) -> tuple[CalibratedTarget, ...]:
    # _scan's body, undecorated: mutmut 3 mutates no decorated function
    out = []
    for folder in sorted(p for p in Path(root).iterdir() if (p / "__init__.py").is_file()):
        props = folder / f"props_{folder.name}.json"
        conf = folder / f"conf_{folder.name}.json"
        if folder.name in _EXCLUDED or not props.is_file() or not conf.is_file():
            continue
        basis = set(json.loads(conf.read_text()).get("basis_gates", ()))
        if not {"rz", "sx"} <= basis or not _summary(str(props))["working_couplers"]:
            continue  # the retired u1/u2/u3 basis, or every coupler broken that day
        out.append(CalibratedTarget(f"ibm-{folder.name}", folder.name, str(props)))
    return tuple(out)


@dataclass(frozen=True)
class CalibratedTarget:
    """A registry entry for one calibration snapshot; loads nothing until asked.

    Attributes:
        name (str): quarch's name, ``ibm-<snapshot>``.
        snapshot (str): the folder name in ``qiskit-ibm-runtime`` (``fez``).
        props_file (str): the snapshot's properties JSON (for the listing).
    """

    name: str
    snapshot: str
    props_file: str
    kind: str = "quantum"

    @property
    def description(self) -> str:
        """One line for ``quarch devices``: qubits, median two-qubit error, median T1."""
        s = self.summary()
        return (
            f"calibrated (IBM {self.snapshot} snapshot): {s['qubits']} qubits, "
            f"median 2q error {s['median_2q_error']:.2e}, median T1 {s['median_t1_us']:.0f} us"
        )

    def summary(self) -> dict[str, Any]:
        """Qubits, median two-qubit error (working couplers) and median T1 (us) from the
        properties file."""
        return _summary(self.props_file)

    def load(self) -> Calibration:
        """The full snapshot (needs ``qiskit-ibm-runtime``; cached per process)."""
        return load_calibration(self.name)

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``quarch devices --json``."""
        s = self.summary()
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "calibrated": True,
            "snapshot": self.snapshot,
            "qubits": s["qubits"],
            "median_2q_error": s["median_2q_error"],
            "median_t1_us": s["median_t1_us"],
            "median_t2_us": s["median_t2_us"],
            "median_readout_error": s["median_readout_error"],
            "snapshot_date": s["date"],
            "budgets": {},
            "sources": {
                "calibration": f"qiskit-ibm-runtime fake_provider/backends/{self.snapshot}"
            },
        }


@functools.cache
def _summary(props_file: str) -> dict[str, Any]:
    return _summary_uncached(props_file)


def _summary_uncached(props_file: str) -> dict[str, Any]:
    # _summary's body, undecorated: mutmut 3 mutates no decorated function
    props = json.loads(Path(props_file).read_text())

    def med(values: list[float]) -> float:
        return float(statistics.median(values)) if values else math.nan

    t1, t2, ro = [], [], []
    for q in props["qubits"]:
        vals = {p["name"]: p["value"] for p in q}
        if "T1" in vals:
            t1.append(float(vals["T1"]))
        if "T2" in vals:
            t2.append(float(vals["T2"]))
        if "readout_error" in vals:
            ro.append(float(vals["readout_error"]))
    e2 = [
        float(p["value"])
        for g in props["gates"]
        if g["gate"] in _TWO_QUBIT_GATES and len(g["qubits"]) == 2
        for p in g["parameters"]
        if p["name"] == "gate_error" and float(p["value"]) < 1.0  # 1: broken that day
    ]
    return {
        "qubits": len(props["qubits"]),
        "working_couplers": len(e2),
        "median_2q_error": med(e2),
        "median_t1_us": med(t1),
        "median_t2_us": med(t2),
        "median_readout_error": med(ro),
        "date": str(props.get("last_update_date", "")),
    }


@dataclass(frozen=True, eq=False)
class Calibration:
    """One device's calibration snapshot, in SI units (seconds).

    Attributes:
        name (str): quarch's name (``ibm-fez``).
        n_qubits (int): physical qubits.
        two_qubit_gate (str): the native two-qubit gate (``cz``, ``ecr`` or ``cx``) on
            most pairs; a few snapshots mix two (``cairo``: ECR on 14 couplers, CX on 12),
            and every attribute and method below reads all of them.
        edges (tuple[tuple[int, int], ...]): directed pairs a native two-qubit gate runs
            on (working edges only).
        t1 (tuple[float, ...]): T1 per qubit (``inf`` when the snapshot has none).
        t2 (tuple[float, ...]): T2 per qubit (``inf`` when none).
        readout (tuple[tuple[float, float], ...]): per qubit ``(P(1|0), P(0|1))``, as
            the ``Target`` carries them: its measure error twice (the fake backends'
            targets hold no asymmetric ``prob_meas*`` values; qiskit-aer's
            ``basic_device_readout_errors(target=...)`` reads the same numbers).
        readout_time (tuple[float, ...]): measurement duration per qubit.
        gates (Mapping[tuple[str, tuple[int, ...]], tuple[float, float]]): ``(name,
            qubits) -> (error, duration)`` for every calibrated gate.
        rep_delay (float): delay between shots (the device's default ``rep_delay``).
        target (Any): the fake backend's Qiskit ``Target``.
        backend (Any): the fake backend itself (drawing, Aer comparisons).
    """

    name: str
    n_qubits: int
    two_qubit_gate: str
    edges: tuple[tuple[int, int], ...]
    t1: tuple[float, ...]
    t2: tuple[float, ...]
    readout: tuple[tuple[float, float], ...]
    readout_time: tuple[float, ...]
    gates: Mapping[tuple[str, tuple[int, ...]], tuple[float, float]]
    rep_delay: float
    target: Any = field(repr=False)
    backend: Any = field(repr=False)

    @property
    def basis_gates(self) -> tuple[str, ...]:
        """Gate names the device runs natively."""
        return tuple(sorted({name for name, _ in self.gates}))

    def gate(self, name: str, qubits: tuple[int, ...]) -> tuple[float, float]:
        """``(error, duration)`` of a native gate on physical ``qubits`` (0, 0 for a
        gate the snapshot does not calibrate, such as the virtual ``rz``)."""
        return self.gates.get((name, tuple(qubits)), (0.0, 0.0))

    def edge_error(self, a: int, b: int) -> float:
        """Two-qubit gate error on the pair, its best native gate in its better direction
        (1.0 if absent)."""
        pairs = ((g, e) for g in _TWO_QUBIT_GATES for e in ((a, b), (b, a)))
        return min((self.gates[k][0] for k in pairs if k in self.gates), default=1.0)

    def neighbours(self) -> dict[int, set[int]]:
        """Working coupling map as an undirected adjacency table."""
        out: dict[int, set[int]] = {q: set() for q in range(self.n_qubits)}
        for a, b in self.edges:
            out[a].add(b)
            out[b].add(a)
        return out

    def medians(self) -> dict[str, float]:
        """Median single- and two-qubit errors and durations, readout, T1 and T2."""
        one = [(e, d) for (n, q), (e, d) in self.gates.items() if n == "sx"]
        two = [v for (n, q), v in self.gates.items() if n in _TWO_QUBIT_GATES and v[0] < 1.0]
        return {
            "error_1q": statistics.median(e for e, _ in one),
            "one_qubit_s": statistics.median(d for _, d in one),
            "error_2q": statistics.median(e for e, _ in two),
            "two_qubit_s": statistics.median(d for _, d in two),
            "readout_error": statistics.median(sum(r) / 2 for r in self.readout),
            "readout_s": statistics.median(self.readout_time),
            "t1": statistics.median(t for t in self.t1 if math.isfinite(t)),
            "t2": statistics.median(t for t in self.t2 if math.isfinite(t)),
        }

    def regions(self, size: int, k: int) -> list[tuple[int, ...]]:
        """The ``k`` best connected regions of ``size`` qubits (fewer if the device has
        fewer), best first.

        A region's score is the sum of ``log(1 - e_readout) + log(1 - e_sx)`` over its
        qubits and of ``log(1 - e_2q)`` over the edges of its best spanning tree (each
        qubit joined by its best edge, the best order of joining them kept; a heavy-hex
        region below 12 qubits is a tree, all of its edges). Regions are grown a qubit
        at a time keeping the :data:`REGION_BEAM` best of each width (a beam search):
        growing each qubit's region greedily, as quarch did before, missed regions
        among the best (on ``ibm-hanoi`` the second best of 5 qubits, on ``ibm-fez``
        the fourth of 4, and at 12 qubits its best was the fourth best found now). The
        8 best are those of enumerating every connected set on ``ibm-hanoi`` (2-6
        qubits) and ``ibm-fez`` (4) (``tests/test_hardware_regions_truth.py``; by hand
        also ``ibm-fez`` and ``ibm-torino`` at 2-6).
        The score reads only the calibration, so this ranking is the same for every
        circuit of that width; it cannot see the SWAPs a circuit's entanglers need in a
        region. :func:`~quarch.cost.routing.route` therefore re-ranks the first
        :data:`~quarch.cost.routing.RERANKED` of them for each circuit by the success
        probability the circuit routes to on each (the circuit's own order, which a
        search's layout choice indexes), and Qiskit places and routes the circuit
        inside the chosen one.

        Raises:
            ConfigError: ``size`` is larger than the device.
        """
        if size > self.n_qubits:
            raise ConfigError(f"{self.name} has {self.n_qubits} qubits; asked for {size}")
        return list(_regions(self, size))[: max(k, 1)]

    def sub_target(self, region: tuple[int, ...]) -> Any:
        """The Qiskit ``Target`` of ``region``: qubit ``i`` is ``region[i]``, with its
        calibrated gates, durations, errors, T1/T2 and the working edges inside it."""
        return _sub_target(self, tuple(region))


#: Regions of each width kept while growing them (:meth:`Calibration.regions`): four
#: times the 64 a search chooses among, so that one among the best is not dropped on
#: the way (256 found the 8 best of every connected set up to 6 qubits on three devices;
#: 40 qubits of ``ibm-fez`` take about 0.9 s, 100 about 5 s, once per process and width).
REGION_BEAM = 256


def _log_fid(e: float) -> float:
    return math.log(max(1e-12, 1.0 - min(e, 1.0)))


@functools.lru_cache(maxsize=256)
def _regions(cal: Calibration, size: int) -> tuple[tuple[int, ...], ...]:
    return _regions_uncached(cal, size)


def _regions_uncached(cal: Calibration, size: int) -> tuple[tuple[int, ...], ...]:
    # _regions's body, undecorated: mutmut 3 mutates no decorated function
    if size < 1:  # no region of no qubits (the beam would start at one)
        return ()
    nb = cal.neighbours()
    qubit = [
        _log_fid(sum(cal.readout[q]) / 2) + _log_fid(cal.gate("sx", (q,))[0])
        for q in range(cal.n_qubits)
    ]
    join = {(u, v): _log_fid(cal.edge_error(u, v)) for u in nb for v in nb[u]}
    beam = {frozenset([q]): qubit[q] for q in range(cal.n_qubits)}
    for _ in range(size - 1):
        grown = _grown(nb, qubit, join, beam)
        # the beam's cut by score alone (a sort by qubits too costs seconds at 100 wide)
        beam = dict(heapq.nlargest(REGION_BEAM, grown.items(), key=operator.itemgetter(1)))
    ranked = sorted(beam.items(), key=lambda kv: (-kv[1], sorted(kv[0])))
    return tuple(tuple(sorted(r)) for r, _ in ranked)


def _grown(
    nb: dict[int, set[int]],
    qubit: list[float],
    join: dict[tuple[int, int], float],
    beam: dict[frozenset[int], float],
) -> dict[frozenset[int], float]:
    """Every region one qubit wider than one of ``beam``'s, with its score (the new
    qubit's plus its best edge into the region; the best over the ways to reach it). A
    region with no neighbour left (its component is full) grows into nothing."""
    out: dict[frozenset[int], float] = {}
    for region, score in beam.items():
        for v in {v for u in region for v in nb[u]} - region:
            s = score + qubit[v] + max(join[(u, v)] for u in nb[v] & region)
            key = region | {v}
            if s > out.get(key, -math.inf):
                out[key] = s
    return out


@functools.lru_cache(maxsize=256)
def _sub_target(cal: Calibration, region: tuple[int, ...]) -> Any:
    return _sub_target_uncached(cal, region)


def _sub_target_uncached(cal: Calibration, region: tuple[int, ...]) -> Any:
    # _sub_target's body, undecorated: mutmut 3 mutates no decorated function
    from qiskit.circuit import Measure
    from qiskit.transpiler import Target

    tg = cal.target
    index = {q: i for i, q in enumerate(region)}
    working = {k for k, (e, _) in cal.gates.items() if len(k[1]) == 2 and e < 1.0}
    sub = Target(
        num_qubits=len(region),
        dt=tg.dt,
        qubit_properties=[tg.qubit_properties[q] for q in region],
    )
    for name in tg.operation_names:
        op = tg.operation_from_name(name)
        if name not in NATIVE_GATES and not isinstance(op, Measure) and name != "delay":
            continue  # control flow, reset and fractional gates: not used here
        props = {}
        for qargs, p in tg[name].items():
            if qargs is None or not all(q in index for q in qargs):
                continue
            if len(qargs) == 2 and (name, tuple(qargs)) not in working:
                continue
            props[tuple(index[q] for q in qargs)] = p
        if props:
            sub.add_instruction(op, props, name=name)
    return sub


def _backend(snapshot: str) -> Any:
    try:
        from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2
    except ImportError:
        raise ConfigError(QISKIT_HINT) from None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not intended to represent typical errors"
        return FakeProviderForBackendV2().backend(f"fake_{snapshot}")


@functools.cache
def load_calibration(name: str) -> Calibration:
    """The :class:`Calibration` of target ``name`` (``ibm-fez``), loaded once per process.

    Raises:
        ConfigError: an unknown name (the message lists the calibrated targets), or the
            ``qiskit`` extra is missing.
    """
    return _load_calibration(name)


def _load_calibration(name: str) -> Calibration:
    # load_calibration's body, undecorated: mutmut 3 mutates no decorated function
    known = {t.name: t for t in calibrated_targets()}
    if name not in known:
        hint = f"; {QISKIT_HINT}" if not known else ""
        raise ConfigError(
            f"unknown calibrated device {name!r}; known: {', '.join(known) or 'none'}{hint}"
        )
    backend = _backend(known[name].snapshot)
    tg = backend.target
    gates: dict[tuple[str, tuple[int, ...]], tuple[float, float]] = {}
    pairs: Counter[str] = Counter()
    for gname in tg.operation_names:
        if gname in ("measure", "reset", "delay", "id"):
            continue
        for qargs, p in tg[gname].items():
            if qargs is None or p is None:
                continue
            gates[(gname, tuple(qargs))] = (float(p.error or 0.0), float(p.duration or 0.0))
            if len(qargs) == 2 and gname in _TWO_QUBIT_GATES:
                pairs[gname] += 1
    two = pairs.most_common(1)[0][0] if pairs else ""
    edges = tuple(
        sorted({q for (g, q), (e, _) in gates.items() if g in pairs and len(q) == 2 and e < 1.0})
    )
    inf = math.inf
    qp = tg.qubit_properties or [None] * tg.num_qubits
    meas = tg["measure"] if "measure" in tg.operation_names else {}
    readout, rtime = [], []
    for q in range(tg.num_qubits):
        p = meas.get((q,)) if meas else None
        e = float(p.error or 0.0) if p is not None else 0.0
        # qiskit-aer's basic_device_readout_errors reads these when present, else error
        readout.append(
            (float(getattr(p, "prob_meas1_prep0", e)), float(getattr(p, "prob_meas0_prep1", e)))
        )
        rtime.append(float(p.duration or 0.0) if p is not None else 0.0)
    conf = backend.configuration()
    return Calibration(
        name=name,
        n_qubits=int(tg.num_qubits),
        two_qubit_gate=two,
        edges=edges,
        t1=tuple(inf if p is None or p.t1 is None else float(p.t1) for p in qp),
        t2=tuple(inf if p is None or p.t2 is None else float(p.t2) for p in qp),
        readout=tuple(readout),
        readout_time=tuple(rtime),
        gates=gates,
        rep_delay=float(getattr(conf, "default_rep_delay", None) or 250e-6),
        target=tg,
        backend=backend,
    )
