"""The device registry against its truth: calibrated targets against the medians of
Qiskit's fake backends' own properties, the JSON rows against the profiles' fields,
and every refusal's one line against the profiles that exist."""

from __future__ import annotations

import statistics
from typing import Any

import pytest

import quarch.cost.devices as devices
from quarch._errors import ConfigError
from quarch._registry import Registry
from quarch.cost.calibration import QISKIT_HINT, CalibratedTarget
from quarch.cost.devices import (
    DEVICES,
    DeviceProfile,
    QuantumDevice,
    check_device_profile,
    default_budgets,
    get_calibration,
    get_device,
    get_quantum_device,
    is_calibrated,
    list_devices,
)

EDGE = ["cortex-m7", "raspi4", "local-cpu"]


def _names(kind: str) -> list[str]:
    """Registry names of one kind, in the listing's order (read from the entries)."""
    return [e.name for e in DEVICES.entries() if e.factory.kind == kind]


def _fake_medians(backend: Any, two: str) -> dict[str, float]:
    """Qiskit's own per-gate / per-qubit properties of a fake backend, reduced to medians
    (the definition in the module docstring), without quarch's calibration reader."""
    props = backend.properties()
    sx = [g for g in props.gates if g.gate == "sx"]
    cz = [g for g in props.gates if g.gate == two]
    err = [props.gate_error(two, g.qubits) for g in cz]
    working = [
        (e, props.gate_length(two, g.qubits)) for e, g in zip(err, cz, strict=True) if e < 1.0
    ]
    nq = backend.configuration().n_qubits
    q = [props.qubit_property(i) for i in range(nq)]
    return {
        "one_qubit_ns": statistics.median(props.gate_length("sx", g.qubits) for g in sx) * 1e9,
        "error_1q": statistics.median(props.gate_error("sx", g.qubits) for g in sx),
        "two_qubit_ns": statistics.median(d for _, d in working) * 1e9,
        "error_2q": statistics.median(e for e, _ in working),
        "readout_ns": statistics.median(p["readout_length"][0] for p in q) * 1e9,
        "readout_error": statistics.median(
            (p["prob_meas1_prep0"][0] + p["prob_meas0_prep1"][0]) / 2 for p in q
        ),
        "rep_delay_ns": backend.configuration().default_rep_delay * 1e9,
    }


class TestCalibratedTargets:
    # kolkata: a 100 us repetition delay, not the 250 us default
    @pytest.mark.parametrize(("name", "fake", "two"), [("ibm-fez", "FakeFez", "cz"),
                                                       ("ibm-sherbrooke", "FakeSherbrooke", "ecr"),
                                                       ("ibm-kolkata", "FakeKolkataV2", "cx")])  # fmt: skip
    def test_medians_equal_the_fake_backends_properties(
        self, name: str, fake: str, two: str
    ) -> None:
        fp = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
        want = _fake_medians(getattr(fp, fake)(), two)
        # the uncached builder, so that every run (mutants included) computes it
        for dev in (devices._calibrated_device_uncached(name), get_quantum_device(name)):
            assert dev.name == name
            for key, value in want.items():
                assert getattr(dev, key) == pytest.approx(value, rel=1e-12), key
            assert dev.shots == 1024
            assert dev.kind == "quantum"
            assert dev.source == f"qiskit-ibm-runtime {name[4:]} calibration snapshot"
            assert dev.calibration is not None and dev.calibration.name == name
            assert dev.description == f"quantum: {dev.source}"

    def test_hand_profiles_carry_the_documented_fake_backend_medians(self) -> None:
        fp = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
        for name, fake, two in (("ibm-eagle", "FakeSherbrooke", "ecr"),
                                ("ibm-heron", "FakeFez", "cz")):  # fmt: skip
            want = _fake_medians(getattr(fp, fake)(), two)
            dev = get_quantum_device(name)
            # the module docstring rounds the medians to three significant figures
            for key in ("one_qubit_ns", "two_qubit_ns", "readout_ns", "error_1q", "error_2q",
                        "readout_error", "rep_delay_ns"):  # fmt: skip
                assert getattr(dev, key) == pytest.approx(want[key], rel=6e-3), (name, key)
            assert dev.calibration is None and get_calibration(name) is None

    def test_is_calibrated_and_get_calibration(self) -> None:
        pytest.importorskip("qiskit_ibm_runtime.fake_provider")
        assert is_calibrated("ibm-fez")
        assert not is_calibrated("ibm-heron")  # a hand profile
        assert not is_calibrated("raspi4")
        assert not is_calibrated("ibm-nowhere")  # unknown: False, not an error
        cal = get_calibration("ibm-fez")
        assert cal is not None and cal.name == "ibm-fez"
        assert get_calibration(get_quantum_device("ibm-fez")) is cal
        with pytest.raises(ConfigError) as e:
            get_calibration("raspi4")
        quantum = [d["name"] for d in list_devices("quantum")]
        assert str(e.value) == (  # a known profile of the other kind is not "unknown"
            f"'raspi4' is an edge device profile, not a quantum one; quantum profiles: "
            f"{', '.join(quantum)}"
        )


class TestRows:
    def test_edge_rows_are_the_profiles_fields(self) -> None:
        for name in EDGE:
            p = get_device(name)
            row = p.to_dict()
            assert row == {
                "name": name, "kind": "edge", "description": p.description,
                "latency": "measured (ONNX Runtime)" if name == "local-cpu" else "analytic model",
                "fp32_macs_per_s": p.fp32_macs_per_s, "int8_speedup": p.int8_speedup,
                "dw_efficiency": p.dw_efficiency,
                "bandwidth_bytes_per_s": p.bandwidth_bytes_per_s,
                "layer_overhead_ms": p.layer_overhead_ms,
                "e_mac_pj": {"8": p.e_mac_pj[8], "32": p.e_mac_pj[32]},
                "e_byte_pj": p.e_byte_pj, "budgets": dict(p.budgets), "sources": dict(p.sources),
            }  # fmt: skip

    def test_quantum_rows_are_the_profiles_fields(self) -> None:
        d = QuantumDevice("toy", 1.0, 2.0, 3.0, 4.0, 5, 0.1, 0.2, 0.3, "made up")
        assert d.to_dict() == {
            "name": "toy", "kind": "quantum", "description": "quantum: made up",
            "one_qubit_ns": 1.0, "two_qubit_ns": 2.0, "readout_ns": 3.0, "rep_delay_ns": 4.0,
            "shots": 5, "error_1q": 0.1, "error_2q": 0.2, "readout_error": 0.3, "budgets": {},
        }  # fmt: skip

    def test_listing_by_kind(self) -> None:
        every = list_devices()
        assert [r["name"] for r in every] == DEVICES.names()
        assert [r["name"] for r in list_devices("edge")] == EDGE
        quantum = list_devices("quantum")
        assert [r["name"] for r in quantum] == _names("quantum")
        assert [r["name"] for r in quantum][:2] == ["ibm-eagle", "ibm-heron"]
        assert {r["kind"] for r in quantum} == {"quantum"}
        assert len(every) == len(quantum) + len(EDGE)

    def test_default_budgets_are_the_profiles_limits(self) -> None:
        assert default_budgets("cortex-m7") == ["memory_kb<=512", "latency_ms<=100",
                                                "energy_mj<=100"]  # fmt: skip
        assert default_budgets(get_device("raspi4"))[0] == "memory_kb<=10240"
        toy = DeviceProfile("toy", "", 1, 1, 1, 1, 0, {8: 1.0}, 1, {"latency_ms": 2.5e-3})
        assert get_device(toy) is toy  # a profile passes through
        assert default_budgets(toy) == ["latency_ms<=0.0025"]

    def test_a_quantum_profile_passes_through(self) -> None:
        d = QuantumDevice("toy", 1.0, 2.0, 3.0)
        assert get_quantum_device(d) is d
        assert get_calibration(d) is None


class TestRefusals:
    def test_unknown_edge_name_lists_every_edge_profile(self) -> None:
        with pytest.raises(ConfigError) as e:
            get_device("tpu")
        assert str(e.value) == f"unknown edge device profile 'tpu'; known: {', '.join(EDGE)}"

    def test_unknown_quantum_name_lists_every_quantum_profile(self) -> None:
        with pytest.raises(ConfigError) as e:
            get_quantum_device("cortex-m9")
        want = f"unknown quantum device profile 'cortex-m9'; known: {', '.join(_names('quantum'))}"
        assert str(e.value) == want
        with pytest.raises(ConfigError) as e:  # known, of the other kind: said so
            get_quantum_device("cortex-m7")
        assert str(e.value) == (
            "'cortex-m7' is an edge device profile, not a quantum one; quantum profiles: "
            f"{', '.join(_names('quantum'))}"
        )
        with pytest.raises(ConfigError) as e:  # (audit H4: default_budgets said "unknown")
            default_budgets("ibm-heron")
        assert str(e.value) == (
            f"'ibm-heron' is a quantum device profile, not an edge one; edge profiles: "
            f"{', '.join(EDGE)}"
        )

    def test_check_device_profile_accepts_its_kinds(self) -> None:
        check_device_profile("raspi4", ("edge",))  # no exception
        check_device_profile("ibm-heron", ("edge", "quantum"))

    def test_list_devices_refuses_an_unknown_kind(self) -> None:
        with pytest.raises(ConfigError) as e:
            list_devices("gpu")
        assert str(e.value) == "device kind must be 'edge' or 'quantum'; got 'gpu'"
        kinds = {d["kind"] for d in list_devices()}
        assert kinds == {"edge", "quantum"}
        for kind in kinds:
            assert [d["kind"] for d in list_devices(kind)] == [kind] * len(list_devices(kind))

    def test_check_device_profile_refuses_in_one_line(self) -> None:
        with pytest.raises(ConfigError) as e:
            check_device_profile("ibm-heron", ("edge",))
        assert str(e.value) == (
            "unknown device profile 'ibm-heron' for this space (edge profiles); "
            f"known: {', '.join(EDGE)}"
        )
        both = EDGE + _names("quantum")
        order = [n for n in DEVICES.names() if n in both]
        with pytest.raises(ConfigError) as e:
            check_device_profile("tpu", ("edge", "quantum"))
        assert str(e.value) == (
            "unknown device profile 'tpu' for this space (edge or quantum profiles); "
            f"known: {', '.join(order)}"
        )
        with pytest.raises(ConfigError) as e:
            check_device_profile("raspi4", ())
        assert str(e.value) == (
            "unknown device profile 'raspi4' for this space (no profiles); known: none"
        )


class TestQiskitHint:
    """Without qiskit-ibm-runtime (no snapshot listed) an ``ibm-*`` name gets the hint."""

    @pytest.fixture
    def bare(self, monkeypatch: pytest.MonkeyPatch) -> None:
        reg: Registry[Any] = Registry("device profile")
        for e in DEVICES.entries():
            if not isinstance(e.factory, CalibratedTarget):
                reg.add(e.name, e.factory, e.description)
        monkeypatch.setattr(devices, "DEVICES", reg)

    @pytest.mark.usefixtures("bare")
    def test_ibm_names_get_the_hint(self) -> None:
        quantum = "ibm-eagle, ibm-heron"
        with pytest.raises(ConfigError) as e:
            get_quantum_device("ibm-fez")
        assert str(e.value) == (
            f"unknown quantum device profile 'ibm-fez'; known: {quantum} ({QISKIT_HINT})"
        )
        with pytest.raises(ConfigError) as e:
            check_device_profile("ibm-fez", ("quantum",))
        assert str(e.value).endswith(f"known: {quantum} ({QISKIT_HINT})")
        assert not is_calibrated("ibm-fez")

    @pytest.mark.usefixtures("bare")
    def test_other_names_do_not(self) -> None:
        with pytest.raises(ConfigError) as e:
            get_quantum_device("fez")
        assert str(e.value) == "unknown quantum device profile 'fez'; known: ibm-eagle, ibm-heron"

    def test_no_hint_when_the_snapshots_are_installed(self) -> None:
        pytest.importorskip("qiskit_ibm_runtime.fake_provider")
        with pytest.raises(ConfigError) as e:
            get_quantum_device("ibm-nowhere")
        assert QISKIT_HINT not in str(e.value)
        assert str(e.value).endswith(_names("quantum")[-1])
