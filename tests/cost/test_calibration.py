"""Calibrated targets: the listing against the fake backends' Qiskit targets, regions,
sub-targets, and the errors a user meets."""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest

from quarch._errors import ConfigError
from quarch.cost import calibration, devices
from quarch.cost.calibration import load_calibration
from quarch.cost.devices import (
    CalibratedTarget,
    check_device_profile,
    get_quantum_device,
    is_calibrated,
    list_devices,
)

pytest.importorskip("qiskit_ibm_runtime")


def _backend(name: str) -> Any:  # the fake backend itself: the independent source
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    return FakeProviderForBackendV2().backend(f"fake_{name}")


class TestListing:
    def test_at_least_five_calibrated_targets_with_their_figures(self) -> None:
        rows = [r for r in list_devices("quantum") if r.get("calibrated")]
        assert len(rows) >= 5
        for r in rows:
            assert r["qubits"] >= 2 and 0 < r["median_2q_error"] < 1 and r["median_t1_us"] > 0
            assert "median 2q error" in r["description"] and "median T1" in r["description"]
        assert {"ibm-fez", "ibm-sherbrooke", "ibm-manila"} <= {r["name"] for r in rows}

    @pytest.mark.parametrize("name", ["fez", "sherbrooke"])
    def test_listing_equals_the_backend_target(self, name: str) -> None:
        row = next(r for r in list_devices("quantum") if r["name"] == f"ibm-{name}")
        tg = _backend(name).target
        two = next(g for g in ("cz", "ecr", "cx") if g in tg.operation_names)
        errs = [p.error for p in tg[two].values() if p.error < 1]  # 1: broken that day
        assert row["qubits"] == tg.num_qubits
        assert row["median_2q_error"] == pytest.approx(statistics.median(errs))
        t1 = [q.t1 for q in tg.qubit_properties]
        assert row["median_t1_us"] == pytest.approx(1e6 * statistics.median(t1))

    def test_calibration_equals_the_backend_target(self) -> None:
        cal = load_calibration("ibm-fez")
        tg = _backend("fez").target
        assert cal.n_qubits == 156 and cal.two_qubit_gate == "cz"
        for q in (0, 77, 155):
            assert cal.t1[q] == tg.qubit_properties[q].t1
            assert cal.readout[q] == (tg["measure"][(q,)].error,) * 2
            assert cal.gate("sx", (q,)) == (tg["sx"][(q,)].error, tg["sx"][(q,)].duration)
        working = [qa for qa, p in tg["cz"].items() if p.error < 1]
        assert sorted(working) == sorted(cal.edges)
        assert len(working) < len(tg["cz"])  # the snapshot marks some couplers broken
        assert get_quantum_device("ibm-fez").error_2q == pytest.approx(
            statistics.median(tg["cz"][e].error for e in working)
        )

    def test_old_u1_u2_u3_snapshots_are_left_out(self) -> None:
        names = {t.name for t in calibration.calibrated_targets()}
        assert "ibm-almaden" not in names and "ibm-fez" in names
        assert "ibm-kyoto" not in names  # its snapshot has every coupler at error 1
        assert is_calibrated("ibm-fez") and not is_calibrated("ibm-heron")


class TestRegions:
    def test_regions_are_connected_distinct_and_ranked(self) -> None:
        import networkx as nx

        cal = load_calibration("ibm-fez")
        regions = cal.regions(5, 8)
        assert len(regions) == 8 and len(set(regions)) == 8
        g = nx.Graph(list(cal.edges))
        for r in regions:
            assert len(r) == 5 and nx.is_connected(g.subgraph(r))

    def test_bad_qubits_rank_last(self) -> None:
        cal = load_calibration("ibm-torino")
        worst = max(range(cal.n_qubits), key=lambda q: sum(cal.readout[q]))
        assert sum(cal.readout[worst]) / 2 > 0.1  # a qubit that misreads one shot in ten
        best = cal.regions(3, 10)
        assert all(worst not in r for r in best)
        mean_ro = [statistics.fmean(sum(cal.readout[q]) / 2 for q in r) for r in best]
        everyone = statistics.fmean(sum(r) / 2 for r in cal.readout)
        assert max(mean_ro) < everyone

    def test_small_device_has_few_regions(self) -> None:
        cal = load_calibration("ibm-manila")  # a line of 5 qubits
        assert cal.regions(5, 4) == [(0, 1, 2, 3, 4)]
        assert sorted(cal.regions(4, 4)) == [(0, 1, 2, 3), (1, 2, 3, 4)]
        with pytest.raises(ConfigError, match="has 5 qubits; asked for 6"):
            cal.regions(6, 1)

    def test_sub_target_keeps_the_region_calibration(self) -> None:
        cal = load_calibration("ibm-sherbrooke")
        region = cal.regions(4, 1)[0]
        sub = cal.sub_target(region)
        assert sub.num_qubits == 4
        for (a, b), p in sub["ecr"].items():
            assert p.error == cal.gate("ecr", (region[a], region[b]))[0]
        assert set(sub.operation_names) <= {"ecr", "rz", "sx", "x", "measure", "delay"}


class TestErrors:
    def test_unknown_device_lists_the_known_ones_in_one_line(self) -> None:
        with pytest.raises(ConfigError) as e:
            check_device_profile("ibm-nowhere", ("quantum",))
        msg = str(e.value)
        assert "\n" not in msg and "known: ibm-eagle, ibm-heron, " in msg and "ibm-fez" in msg

    def test_without_the_extra_the_error_says_how_to_install(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # one swap of the whole table: deleting entry by entry would restore them in
        # reverse order and change the registry's listing for later tests
        devices.DEVICES.names()  # the snapshots are listed on first read
        kept = {
            name: entry
            for name, entry in devices.DEVICES._entries.items()
            if not isinstance(devices.DEVICES.get(name), CalibratedTarget)
        }
        monkeypatch.setattr(devices.DEVICES, "_entries", kept)
        with pytest.raises(ConfigError, match=r"pip install 'quarch\[qiskit\]'"):
            get_quantum_device("ibm-fez")
        monkeypatch.setattr(calibration, "_backends_dir", lambda: None)
        load_calibration.cache_clear()
        try:
            with pytest.raises(ConfigError, match=r"unknown calibrated device 'ibm-fez'.*qiskit"):
                load_calibration("ibm-fez")
        finally:
            load_calibration.cache_clear()

    def test_summary_reads_json_only(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        props = {
            "qubits": [[{"name": "T1", "value": 100.0}, {"name": "readout_error", "value": 0.02}]]
            * 3,
            "gates": [
                {"gate": "cz", "qubits": [0, 1], "parameters": [{"name": "gate_error", "value": e}]}
                for e in (0.01, 0.03, 0.02)
            ],
        }
        path = tmp_path / "props_x.json"
        path.write_text(json.dumps(props))
        s = CalibratedTarget("ibm-x", "x", str(path)).summary()
        assert s["qubits"] == 3 and s["median_2q_error"] == 0.02 and s["median_t1_us"] == 100
