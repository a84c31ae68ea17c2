"""The uncached bodies of quarch's calibration tables against their sources.

``calibration.py`` caches its snapshot scan, its summaries, its loaded calibrations, its
regions and its sub-targets; the tests here call the undecorated builders
(``_scan_uncached``, ``_summary_uncached``, ``_load_calibration``, ``_regions_uncached``,
``_sub_target_uncached``) so that a cached result cannot hide a wrong one. Expected values
come from the snapshot files read here with :mod:`json`, from a fresh fake backend's Qiskit
``Target``, from small hand-made snapshot folders whose right answer is plain, or from
closed forms (``log(1 - e)`` sums on a hand-made three-qubit calibration).
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

import pytest

from quarch._errors import ConfigError
from quarch.cost import calibration
from quarch.cost.calibration import QISKIT_HINT, CalibratedTarget, Calibration

from ._snapshots import fresh_backend, props_file, qubit_values, snapshot_root

pytest.importorskip("qiskit_ibm_runtime")

_SKIPPED = ("measure", "reset", "delay", "id")


# -- _summary_uncached -------------------------------------------------------------------
class TestSummary:
    @pytest.mark.parametrize("name", ["manila", "cairo", "algiers"])
    def test_every_field_matches_the_properties_file(self, name: str) -> None:
        """Each summary field is the median (or count, or date) the properties file
        gives; ``algiers`` has a broken coupler (error 1) that must not count."""
        path = props_file(name)
        props = json.loads(path.read_text())
        e2 = [
            float(p["value"])
            for g in props["gates"]
            if g["gate"] in ("cz", "ecr", "cx") and len(g["qubits"]) == 2
            for p in g["parameters"]
            if p["name"] == "gate_error" and float(p["value"]) < 1.0
        ]
        s = calibration._summary_uncached(str(path))
        assert s["qubits"] == len(props["qubits"])
        assert s["working_couplers"] == len(e2)
        assert s["median_2q_error"] == pytest.approx(statistics.median(e2))
        assert s["median_t1_us"] == pytest.approx(statistics.median(qubit_values(props, "T1")))
        assert s["median_t2_us"] == pytest.approx(statistics.median(qubit_values(props, "T2")))
        assert s["median_readout_error"] == pytest.approx(
            statistics.median(qubit_values(props, "readout_error"))
        )
        assert s["date"] == props["last_update_date"] != ""

    def test_filters_on_a_hand_made_file(self, tmp_path: Path) -> None:
        """Only working (error < 1) two-qubit gates of the native kinds count: a broken
        ``cz`` (error exactly 1), a two-qubit ``rzz``, a one-qubit ``sx`` and a
        ``gate_length`` below 1 are left out; a qubit without T2 or readout error is
        skipped for that median; no date gives ``""``."""

        def gate(name: str, qubits: list[int], err: float, length: float) -> dict[str, Any]:
            return {
                "gate": name,
                "qubits": qubits,
                "parameters": [
                    {"name": "gate_error", "value": err},
                    {"name": "gate_length", "value": length},
                ],
            }

        props = {
            "qubits": [
                [
                    {"name": "T1", "value": 100.0},
                    {"name": "T2", "value": 50.0},
                    {"name": "readout_error", "value": 0.02},
                ],
                [{"name": "T1", "value": 200.0}, {"name": "T2", "value": 70.0}],
                [{"name": "T1", "value": 300.0}, {"name": "readout_error", "value": 0.04}],
            ],
            "gates": [
                gate("cz", [0, 1], 0.02, 0.5),
                gate("cz", [1, 2], 0.04, 0.5),
                gate("cz", [2, 1], 1.0, 0.5),
                gate("rzz", [0, 2], 0.5, 0.5),
                gate("sx", [0], 0.9, 0.5),
            ],
        }
        path = tmp_path / "props_x.json"
        path.write_text(json.dumps(props))
        s = calibration._summary_uncached(str(path))
        assert s == {
            "qubits": 3,
            "working_couplers": 2,
            "median_2q_error": pytest.approx(0.03),
            "median_t1_us": 200.0,
            "median_t2_us": 60.0,
            "median_readout_error": pytest.approx(0.03),
            "date": "",
        }


# -- _scan_uncached ----------------------------------------------------------------------
def _snapshot(
    root: Path,
    name: str,
    *,
    basis: list[str] | None,
    errors: tuple[float, ...] = (0.01,),
    init: bool = True,
    props: bool = True,
    conf: bool = True,
) -> Path:
    folder = root / name
    folder.mkdir()
    if init:
        (folder / "__init__.py").write_text("")
    p = folder / f"props_{name}.json"
    if props:
        gates = [
            {"gate": "cz", "qubits": [0, 1], "parameters": [{"name": "gate_error", "value": e}]}
            for e in errors
        ]
        p.write_text(json.dumps({"qubits": [[], []], "gates": gates}))
    if conf:
        c = {} if basis is None else {"basis_gates": basis}
        (folder / f"conf_{name}.json").write_text(json.dumps(c))
    return p


class TestScan:
    def test_only_complete_modern_working_snapshots_are_listed(self, tmp_path: Path) -> None:
        """A folder is a target only if it is a package with both files, not excluded,
        has ``rz`` and ``sx`` in its basis (exactly those two are enough) and at least
        one working coupler; each entry points at its own properties file."""
        good = _snapshot(tmp_path, "good", basis=["rz", "sx"])
        also = _snapshot(tmp_path, "also", basis=["cz", "rz", "sx", "x"], errors=(1.0, 0.2))
        _snapshot(tmp_path, "armonk", basis=["rz", "sx", "cz"])  # excluded by name
        _snapshot(tmp_path, "noconf", basis=["rz", "sx"], conf=False)
        _snapshot(tmp_path, "noprops", basis=["rz", "sx"], props=False)
        _snapshot(tmp_path, "noinit", basis=["rz", "sx"], init=False)
        _snapshot(tmp_path, "nobasis", basis=None)
        _snapshot(tmp_path, "oldbasis", basis=["u1", "u2", "u3", "cx"])
        _snapshot(tmp_path, "broken", basis=["rz", "sx", "cz"], errors=(1.0, 1.0))
        (tmp_path / "loose.txt").write_text("")
        got = calibration._scan_uncached(str(tmp_path))
        assert got == (
            CalibratedTarget("ibm-also", "also", str(also)),
            CalibratedTarget("ibm-good", "good", str(good)),
        )


# -- _load_calibration -------------------------------------------------------------------
class TestLoadCalibration:
    def test_unknown_name_lists_the_known_ones_without_the_hint(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The message names the device and lists every known target, comma-separated;
        the install hint is only for an empty list."""
        known = [CalibratedTarget("ibm-a", "a", "pa"), CalibratedTarget("ibm-b", "b", "pb")]
        monkeypatch.setattr(calibration, "calibrated_targets", lambda: known)
        with pytest.raises(ConfigError) as err:
            calibration._load_calibration("ibm-nowhere")
        assert str(err.value) == "unknown calibrated device 'ibm-nowhere'; known: ibm-a, ibm-b"

    def test_unknown_name_without_targets_says_none_and_hints(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without any snapshot (the extra missing) the list reads ``none`` and the
        message ends with the install hint."""
        monkeypatch.setattr(calibration, "calibrated_targets", lambda: [])
        with pytest.raises(ConfigError) as err:
            calibration._load_calibration("ibm-fez")
        assert str(err.value) == f"unknown calibrated device 'ibm-fez'; known: none; {QISKIT_HINT}"

    @pytest.mark.parametrize("name", ["manila", "cairo", "algiers", "kolkata", "melbourne"])
    def test_every_field_matches_the_target_and_files(self, name: str) -> None:
        """Gates, their (error, duration), the two-qubit gate, working edges, T1/T2,
        readout errors and durations and the rep delay, against a fresh ``Target`` and
        the snapshot's JSON files (``cairo`` mixes ECR and CX, ``algiers`` has broken
        couplers, ``kolkata``'s rep delay is 100 us, ``melbourne``'s conf has none, so
        IBM's usual 250 us stands in)."""
        cal = calibration._load_calibration(f"ibm-{name}")
        backend = fresh_backend(name)
        tg = backend.target
        props = json.loads(props_file(name).read_text())
        conf = json.loads((snapshot_root() / name / f"conf_{name}.json").read_text())

        expected_gates = {}
        for g in tg.operation_names:
            if g in _SKIPPED:
                continue
            for qargs, p in tg[g].items():
                if qargs is None or p is None:
                    continue
                err = 0.0 if p.error is None else float(p.error)
                dur = 0.0 if p.duration is None else float(p.duration)
                expected_gates[(g, tuple(qargs))] = (err, dur)
        assert dict(cal.gates) == expected_gates
        assert not {g for g, _ in cal.gates} & set(_SKIPPED)
        assert cal.gate("rz", (0,)) == (0.0, 0.0)  # virtual: the Target says 0 and 0

        counts = {g: len(tg[g]) for g in ("cz", "ecr", "cx") if g in tg.operation_names}
        assert cal.two_qubit_gate == max(counts, key=counts.__getitem__)
        two_q = {
            (g["gate"], tuple(g["qubits"])): float(p["value"])
            for g in props["gates"]
            if g["gate"] in counts
            for p in g["parameters"]
            if p["name"] == "gate_error"
        }
        assert cal.edges == tuple(sorted({q for (_, q), e in two_q.items() if e < 1.0}))
        assert cal.name == f"ibm-{name}"
        assert cal.n_qubits == len(props["qubits"]) == tg.num_qubits
        assert cal.t1 == pytest.approx([v * 1e-6 for v in qubit_values(props, "T1")])
        assert cal.t2 == pytest.approx([v * 1e-6 for v in qubit_values(props, "T2")])
        # the Target's measure properties carry no prob_meas* attributes, so (like Aer's
        # basic_device_readout_errors) both flips take the snapshot's readout_error
        ro = qubit_values(props, "readout_error")
        assert [r[0] for r in cal.readout] == pytest.approx(ro)
        assert [r[1] for r in cal.readout] == pytest.approx(ro)
        assert cal.readout_time == pytest.approx(
            [v * 1e-9 for v in qubit_values(props, "readout_length")]
        )
        rep_delay_us = float(conf.get("default_rep_delay", 250.0))
        assert cal.rep_delay == pytest.approx(rep_delay_us * 1e-6)
        assert cal.target.num_qubits == tg.num_qubits
        assert cal.backend.name == backend.name


# -- _regions_uncached -------------------------------------------------------------------
def _cal(
    readout: tuple[float, ...],
    sx: tuple[float, ...],
    cz: dict[tuple[int, int], float],
    sx_duration: tuple[float, ...] | None = None,
) -> Calibration:
    """A hand-made calibration (no Target): mean readout error, sx error and duration
    per qubit, cz error per coupler."""
    n = len(readout)
    dur = sx_duration or (0.0,) * n
    gates: dict[tuple[str, tuple[int, ...]], tuple[float, float]] = {
        ("sx", (q,)): (sx[q], dur[q]) for q in range(n)
    }
    gates |= {("cz", pair): (e, 1e-7) for pair, e in cz.items()}
    return Calibration(
        name="toy",
        n_qubits=n,
        two_qubit_gate="cz",
        edges=tuple(cz),
        t1=(1.0,) * n,
        t2=(1.0,) * n,
        readout=tuple((r, r) for r in readout),
        readout_time=(1e-6,) * n,
        gates=gates,
        rep_delay=250e-6,
        target=None,
        backend=None,
    )


_RO, _SX, _CZ = (0.2, 0.0, 0.01), (0.0, 0.15, 0.3), {(0, 1): 0.3, (1, 2): 0.2}


def _toy() -> Calibration:
    """Three qubits on a path 0-1-2; sx durations ordered unlike sx errors."""
    return _cal(_RO, _SX, _CZ, sx_duration=(0.0, 0.5, 0.0))


def _qubit_score(q: int) -> float:
    """Closed form of the toy's qubit score: log(1 - mean readout) + log(1 - e_sx)."""
    return math.log(1 - _RO[q]) + math.log(1 - _SX[q])


class TestRegions:
    def test_single_qubits_rank_by_readout_and_sx_fidelity(self) -> None:
        """Size 1: each qubit's score is its mean readout and sx log-fidelity (not the
        sx duration): on the toy that ranks 1, 0, 2."""
        want = tuple((q,) for q in sorted(range(3), key=lambda q: -_qubit_score(q)))
        assert want == ((1,), (0,), (2,))  # the toy is built to need both terms
        assert calibration._regions_uncached(_toy(), 1) == want

    def test_pairs_rank_by_both_qubits_and_the_edge(self) -> None:
        """Size 2 on a path: each edge's score is both qubit scores plus the edge's
        log-fidelity, the start qubit included."""
        scores = {
            pair: _qubit_score(pair[0]) + _qubit_score(pair[1]) + math.log(1 - e)
            for pair, e in _CZ.items()
        }
        want = tuple(sorted(scores, key=lambda p: -scores[p]))
        assert want == ((0, 1), (1, 2))
        assert calibration._regions_uncached(_toy(), 2) == want

    def test_a_region_keeps_its_best_joining(self) -> None:
        """Qubits 0-3 with couplers 0-1 (error .5), 0-2, 1-2, 2-3 (0) and 0-3 (.2), qubit
        errors 0, .2, .2, .1 (readout). Region {0, 2, 3} joined over couplers 0-2 and
        2-3 scores log(.8) + log(.9); joined over 3-0 and 0-2, log(.9) + log(.8) +
        log(.8), worse than {0, 1, 2}'s 2 log(.8). The region counts with its best
        joining, so it ranks first; then {1, 2, 3} (2 log(.8) + log(.9)) and {0, 1, 3}
        (over 0-1 and 0-3)."""
        cal = _cal(
            (0.0, 0.2, 0.2, 0.1),
            (0.0,) * 4,
            {(0, 1): 0.5, (0, 2): 0.0, (0, 3): 0.2, (1, 2): 0.0, (2, 3): 0.0},
        )
        best = math.log(0.8) + math.log(0.9)
        other = 2 * math.log(0.8)
        assert best > other > best + math.log(0.8)
        want = ((0, 2, 3), (0, 1, 2), (1, 2, 3), (0, 1, 3))
        assert calibration._regions_uncached(cal, 3) == want

    def test_ties_rank_by_their_qubits(self) -> None:
        """A ring 0-1-3-2-0, coupler 0-1 perfect and the others error .2, qubit errors
        .1, .3, .3, .3. Every pair is a region; {1, 3} and {2, 3} tie exactly
        (log .8 + 2 log .7) and rank by their qubits, the lower first, so the ranking
        is the same on every run."""
        cal = _cal(
            (0.1, 0.3, 0.3, 0.3),
            (0.0,) * 4,
            {(0, 1): 0.0, (0, 2): 0.2, (1, 3): 0.2, (2, 3): 0.2},
        )
        s = [math.log(0.9), math.log(0.7)]
        scores = {(0, 1): s[0] + s[1], (0, 2): math.log(0.8) + s[0] + s[1]}
        scores[(1, 3)] = scores[(2, 3)] = math.log(0.8) + 2 * s[1]
        want = tuple(sorted(scores, key=lambda p: (-scores[p], p)))
        assert calibration._regions_uncached(cal, 2) == want
        assert want == ((0, 1), (0, 2), (1, 3), (2, 3))

    def test_best_real_pair_is_the_brute_force_best(self) -> None:
        """On ``manila`` (a path of five) the top pair maximises readout, sx and edge
        log-fidelity over all coupled pairs, computed from the properties file, and the
        pairs found are ranked by that score."""
        props = json.loads(props_file("manila").read_text())
        ro = dict(enumerate(qubit_values(props, "readout_error")))
        err: dict[tuple[str, tuple[int, ...]], float] = {
            (g["gate"], tuple(g["qubits"])): float(p["value"])
            for g in props["gates"]
            for p in g["parameters"]
            if p["name"] == "gate_error"
        }

        def q_score(q: int) -> float:
            return math.log(1 - ro[q]) + math.log(1 - err[("sx", (q,))])

        pair_scores = {
            tuple(sorted(q)): q_score(q[0]) + q_score(q[1]) + math.log(1 - e)
            for (g, q), e in err.items()
            if g == "cx"
        }
        cal = calibration.load_calibration("ibm-manila")
        got = calibration._regions_uncached(cal, 2)
        assert got[0] == max(pair_scores, key=pair_scores.__getitem__)
        assert set(got) <= set(pair_scores)
        assert list(got) == sorted(got, key=lambda p: -pair_scores[p])


# -- _sub_target_uncached ----------------------------------------------------------------
class TestSubTarget:
    def test_region_target_keeps_working_gates_measure_delay_and_qubits(self) -> None:
        """``algiers``'s coupler 15-18 is broken (cx error 1 both ways in the Target):
        the region's Target has every native gate, measure and delay on the region's
        qubits (renumbered), leaves that coupler out, and carries the qubits' T1/T2."""
        cal = calibration.load_calibration("ibm-algiers")
        tg = fresh_backend("algiers").target
        assert tg["cx"][(15, 18)].error == tg["cx"][(18, 15)].error == 1.0
        region = (12, 15, 18, 21)
        index = {q: i for i, q in enumerate(region)}
        sub = calibration._sub_target_uncached(cal, region)
        assert sub.num_qubits == len(region)
        assert sorted(sub.operation_names) == sorted(["cx", "delay", "measure", "rz", "sx", "x"])
        for name in sub.operation_names:
            want = {
                tuple(index[q] for q in qargs)
                for qargs, p in tg[name].items()
                if qargs is not None
                and all(q in index for q in qargs)
                and not (len(qargs) == 2 and p.error >= 1.0)
            }
            assert set(sub[name]) == want, name
        assert (index[15], index[18]) not in sub["cx"]
        assert sub["cx"]  # 12-15 and 18-21 work
        for i, q in enumerate(region):
            assert sub.qubit_properties[i].t1 == tg.qubit_properties[q].t1
            assert sub.qubit_properties[i].t2 == tg.qubit_properties[q].t2
