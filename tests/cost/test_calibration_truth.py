"""Calibration snapshots against their sources: the fake backend's Qiskit ``Target`` and
the snapshot's properties JSON, read here with :mod:`statistics` and :mod:`json`.

Every expected value is computed in the test from those two sources (the ``Target``
Qiskit builds from the snapshot, and the raw file it was built from), never from numbers
quarch printed: the medians quarch's profiles of calibrated targets are made of, the
``quarch devices --json`` row, edge errors, and what happens without the package.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import statistics
import sys
from pathlib import Path

import pytest

from quarch._errors import ConfigError
from quarch.cost import calibration
from quarch.cost.calibration import CalibratedTarget, load_calibration
from quarch.cost.devices import DEVICES

from ._snapshots import fresh_backend, qubit_values, read_props

pytest.importorskip("qiskit_ibm_runtime")


class TestMedians:
    @pytest.mark.parametrize(("name", "two"), [("manila", "cx"), ("kingston", "cz")])
    def test_medians_equal_the_targets_statistics(self, name: str, two: str) -> None:
        tg = fresh_backend(name).target
        working = [p for p in tg[two].values() if p.error < 1]  # 1: broken that day
        qp = tg.qubit_properties
        want = {
            "error_1q": statistics.median(p.error for p in tg["sx"].values()),
            "one_qubit_s": statistics.median(p.duration for p in tg["sx"].values()),
            "error_2q": statistics.median(p.error for p in working),
            "two_qubit_s": statistics.median(p.duration for p in working),
            # the fake backends give one readout error per qubit: P(1|0) = P(0|1)
            "readout_error": statistics.median(p.error for p in tg["measure"].values()),
            "readout_s": statistics.median(p.duration for p in tg["measure"].values()),
            "t1": statistics.median(q.t1 for q in qp if q.t1 is not None),
            "t2": statistics.median(q.t2 for q in qp if q.t2 is not None),
        }
        got = load_calibration(f"ibm-{name}").medians()
        assert set(got) == set(want)
        for key, value in want.items():
            assert got[key] == pytest.approx(value, rel=1e-12), key

    def test_a_qubit_without_t1_is_left_out_of_the_median(self) -> None:
        qp = fresh_backend("kingston").target.qubit_properties
        missing = [i for i, q in enumerate(qp) if q.t1 is None]
        assert missing  # the snapshot has a qubit without T1/T2
        cal = load_calibration("ibm-kingston")
        assert all(math.isinf(cal.t1[i]) and math.isinf(cal.t2[i]) for i in missing)
        assert math.isfinite(cal.medians()["t1"]) and math.isfinite(cal.medians()["t2"])


class TestListingRow:
    @pytest.mark.parametrize("name", ["manila", "fez"])
    def test_json_row_equals_the_properties_file(self, name: str) -> None:
        entry = DEVICES.get(f"ibm-{name}")
        assert isinstance(entry, CalibratedTarget)
        row = entry.to_dict()
        props = read_props(name)
        assert set(row) == {
            "name", "kind", "description", "calibrated", "snapshot", "qubits",
            "median_2q_error", "median_t1_us", "median_t2_us", "median_readout_error",
            "snapshot_date", "budgets", "sources",
        }  # fmt: skip
        assert row["name"] == f"ibm-{name}" and row["snapshot"] == name
        assert row["kind"] == "quantum" and row["calibrated"] is True and row["budgets"] == {}
        assert row["qubits"] == len(props["qubits"])
        assert row["median_t1_us"] == pytest.approx(statistics.median(qubit_values(props, "T1")))
        assert row["median_t2_us"] == pytest.approx(statistics.median(qubit_values(props, "T2")))
        ro = qubit_values(props, "readout_error")
        assert row["median_readout_error"] == pytest.approx(statistics.median(ro))
        assert row["snapshot_date"] == props["last_update_date"]
        # the folder the row names holds the snapshot
        import qiskit_ibm_runtime

        src = row["sources"]["calibration"]
        assert src == f"qiskit-ibm-runtime fake_provider/backends/{name}"
        folder = Path(qiskit_ibm_runtime.__file__).parent / src.split(" ", 1)[1]
        assert (folder / f"props_{name}.json").is_file()

    def test_row_figures_equal_the_target(self) -> None:
        row = DEVICES.get("ibm-manila").to_dict()
        tg = fresh_backend("manila").target
        t2 = [q.t2 for q in tg.qubit_properties]
        assert row["median_t2_us"] == pytest.approx(1e6 * statistics.median(t2))
        ro = [p.error for p in tg["measure"].values()]
        assert row["median_readout_error"] == pytest.approx(statistics.median(ro))

    def test_load_gives_the_snapshot_of_the_entry(self) -> None:
        entry = DEVICES.get("ibm-manila")
        assert isinstance(entry, CalibratedTarget)
        cal = entry.load()
        tg = fresh_backend("manila").target
        assert cal.name == "ibm-manila" and cal.n_qubits == tg.num_qubits == 5


class TestGatesAndEdges:
    def test_edge_error_is_the_better_direction(self) -> None:
        tg = fresh_backend("manila").target
        cal = load_calibration("ibm-manila")
        for a, b in [(0, 1), (1, 2), (3, 4)]:
            want = min(tg["cx"][(a, b)].error, tg["cx"][(b, a)].error)
            assert cal.edge_error(a, b) == want == cal.edge_error(b, a)
        assert (0, 2) not in tg["cx"]
        assert cal.edge_error(0, 2) == 1.0  # no coupler: never chosen

    def test_a_gate_the_target_lacks_costs_nothing(self) -> None:
        tg = fresh_backend("manila").target
        cal = load_calibration("ibm-manila")
        assert (0, 2) not in tg["cx"] and "cz" not in tg.operation_names
        assert cal.gate("cx", (0, 2)) == (0.0, 0.0)
        assert cal.gate("cz", (0, 1)) == (0.0, 0.0)
        p = tg["cx"][(1, 2)]
        assert cal.gate("cx", (1, 2)) == (p.error, p.duration)

    def test_k_regions_are_returned(self) -> None:
        cal = load_calibration("ibm-manila")  # a line of 5 qubits
        tg = fresh_backend("manila").target
        assert len(cal.regions(2, 1)) == 1
        assert len(cal.regions(2, 3)) == 3
        assert all(r in tg["cx"] for r in cal.regions(2, 10))  # each one a coupler

    @pytest.mark.parametrize("e", [0.0, 0.1, 0.5, 0.999])
    def test_log_fidelity(self, e: float) -> None:
        assert calibration._log_fid(e) == pytest.approx(math.log(1 - e), rel=1e-12)

    def test_log_fidelity_of_a_broken_gate_is_floored(self) -> None:
        assert calibration._log_fid(1.0) == pytest.approx(math.log(1e-12))


class TestMixedTwoQubitGates:
    """``cairo``'s snapshot runs ECR on 14 couplers and CX on 12: the device is every
    working pair of either gate (quarch once kept only the gate listed last, a coupling
    map of 12 pairs whose largest connected part had 8 of 27 qubits)."""

    def _working(self) -> dict[tuple[int, int], list[float]]:
        tg = fresh_backend("cairo").target
        out: dict[tuple[int, int], list[float]] = {}
        for g in ("ecr", "cx", "cz"):
            if g not in tg.operation_names:
                continue
            for q, p in tg[g].items():
                if q is not None and len(q) == 2 and p is not None and (p.error or 0.0) < 1:
                    out.setdefault((int(q[0]), int(q[1])), []).append(float(p.error or 0.0))
        return out

    def test_edges_are_the_working_pairs_of_every_native_gate(self) -> None:
        import networkx as nx

        working = self._working()
        tg = fresh_backend("cairo").target
        kinds = {g for g in ("ecr", "cx") if any(q in working for q in tg[g] if q)}
        assert kinds == {"ecr", "cx"}  # the case this class is about
        cal = load_calibration("ibm-cairo")
        assert set(cal.edges) == set(working) and len(cal.edges) == len(set(cal.edges))
        graph = nx.Graph(list(working))
        biggest = max(len(c) for c in nx.connected_components(graph))
        assert biggest > 8
        assert len(cal.regions(biggest, 1)[0]) == biggest
        for a, b in working:
            assert cal.edge_error(a, b) == min(
                e for q in ((a, b), (b, a)) for e in working.get(q, [])
            )

    def test_median_two_qubit_error_is_the_listing_s(self) -> None:
        cal = load_calibration("ibm-cairo")
        errors = [e for es in self._working().values() for e in es]
        assert cal.medians()["error_2q"] == pytest.approx(statistics.median(errors), abs=0)
        # the properties file, read by the listing without Qiskit, says the same
        row = next(t for t in calibration.calibrated_targets() if t.name == "ibm-cairo")
        assert cal.medians()["error_2q"] == pytest.approx(row.summary()["median_2q_error"])

    def test_a_region_keeps_both_gates(self) -> None:
        cal = load_calibration("ibm-cairo")
        region = cal.regions(len(cal.regions(20, 1)[0]), 1)[0]
        sub = cal.sub_target(region)
        inside = {(a, b) for a, b in self._working() if a in region and b in region}
        got = {
            (region[q[0]], region[q[1]])
            for g in ("ecr", "cx")
            if g in sub.operation_names
            for q in sub[g]
            if q is not None
        }
        assert got == inside


class TestWithoutThePackage:
    def test_no_spec_no_targets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
        assert calibration._backends_dir() is None
        assert calibration.calibrated_targets() == []

    def test_a_spec_without_origin_no_targets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        spec = importlib.machinery.ModuleSpec("qiskit_ibm_runtime", None)
        assert spec.origin is None
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
        assert calibration._backends_dir() is None

    def test_a_package_without_backends_no_targets(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        pkg = tmp_path / "qiskit_ibm_runtime"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        spec = importlib.machinery.ModuleSpec(
            "qiskit_ibm_runtime", None, origin=str(pkg / "__init__.py")
        )
        monkeypatch.setattr(importlib.util, "find_spec", lambda name: spec)
        assert not (pkg / "fake_provider" / "backends").exists()
        assert calibration._backends_dir() is None
        assert calibration.calibrated_targets() == []

    def test_the_backend_loader_says_how_to_install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "qiskit_ibm_runtime.fake_provider", None)
        with pytest.raises(ConfigError, match=r"pip install 'quarch\[qiskit\]'"):
            calibration._backend("manila")
