"""``quarch.testing.DeviceProfileTestCase`` can fail: each check run on a profile broken
in the one way it looks for (and passing on the same profile unbroken)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from quarch.cost import DEVICES, DeviceProfile, QuantumDevice
from quarch.cost.devices import CORTEX_M7
from quarch.testing import DeviceProfileTestCase

EDGE = dataclasses.replace(CORTEX_M7, name="edge-check", description="an edge profile")
QPU = QuantumDevice("qpu-check", 40.0, 300.0, 1000.0, error_1q=1e-4, error_2q=1e-2)
CASE = DeviceProfileTestCase()


@pytest.fixture
def registered() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        DEVICES.remove(name)


def _add(registered: list[str], name: str, profile: Any) -> None:
    DEVICES.add(name, profile, "a profile under test")
    registered.append(name)


def test_sound_profiles_pass_every_check(registered: list[str]) -> None:
    _add(registered, EDGE.name, EDGE)
    _add(registered, QPU.name, QPU)
    for name in (EDGE.name, QPU.name):
        CASE.test_registered_under_its_name_and_listed(name)
        CASE.test_constants(name)
        CASE.test_default_budgets(name)
        CASE.test_quantum_costs(name)


def test_a_profile_under_another_name_is_caught(registered: list[str]) -> None:
    _add(registered, "alias-check", EDGE)
    with pytest.raises(AssertionError, match="registered as 'alias-check' but named 'edge-check'"):
        CASE.test_registered_under_its_name_and_listed("alias-check")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dw_efficiency": 2.0}, "dw_efficiency is a fraction"),
        ({"fp32_macs_per_s": 0.0}, "fp32_macs_per_s must be a finite number > 0; got 0.0"),
        ({"bandwidth_bytes_per_s": float("inf")}, "bandwidth_bytes_per_s must be a finite"),
        ({"e_byte_pj": "12"}, "e_byte_pj must be a finite number > 0; got '12'"),
        ({"e_mac_pj": {32: 74.0}}, r"e_mac_pj needs the energy of an 8-bit and a 32-bit MAC"),
        ({"e_mac_pj": {8: -1.0, 32: 74.0}}, r"e_mac_pj\[8\] = -1.0"),
    ],
)
def test_an_edge_constant_a_model_cannot_use_is_caught(
    registered: list[str], change: dict[str, Any], message: str
) -> None:
    bad = dataclasses.replace(EDGE, name="bad-edge-check", **change)
    _add(registered, bad.name, bad)
    with pytest.raises(AssertionError, match=message):
        CASE.test_constants(bad.name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"error_2q": 1.5}, "error_2q is a probability below 1; got 1.5"),
        ({"two_qubit_ns": -3.0}, "two_qubit_ns must be a finite number > 0"),
        ({"shots": 0}, None),
    ],
)
def test_a_quantum_constant_out_of_range_is_caught(
    registered: list[str], change: dict[str, Any], message: str | None
) -> None:
    bad = dataclasses.replace(QPU, name="bad-qpu-check", **change)
    _add(registered, bad.name, bad)
    with pytest.raises(AssertionError, match=message):
        CASE.test_constants(bad.name)


def test_budgets_that_do_not_parse_back_are_caught(registered: list[str]) -> None:
    bad: DeviceProfile = dataclasses.replace(
        EDGE, name="bad-budget-check", budgets={"latency ms": 5.0}
    )
    _add(registered, bad.name, bad)
    with pytest.raises(Exception, match="malformed budget 'latency ms<=5'"):
        CASE.test_default_budgets(bad.name)


@pytest.mark.parametrize(
    "change",
    [
        {"dw_efficiency": 1.0},  # a fraction may be whole
        {"layer_overhead_ms": 0.0},  # no dispatch cost is a cost
        {"e_mac_pj": {8: 0.5, 32: 0.9}},  # below one picojoule
        {"int8_speedup": 0.5},  # int8 slower than fp32 on some devices
        {"budgets": {"latency_ms": 0.5}},
    ],
)
def test_edge_values_on_the_border_pass(registered: list[str], change: dict[str, Any]) -> None:
    ok = dataclasses.replace(EDGE, name="border-edge-check", **change)
    _add(registered, ok.name, ok)
    CASE.test_constants(ok.name)
    CASE.test_default_budgets(ok.name)


@pytest.mark.parametrize(
    "change",
    [{"rep_delay_ns": 0.0}, {"shots": 1}, {"error_1q": 0.0, "error_2q": 0.0, "readout_error": 0.0}],
)
def test_quantum_values_on_the_border_pass(registered: list[str], change: dict[str, Any]) -> None:
    ok = dataclasses.replace(QPU, name="border-qpu-check", **change)
    _add(registered, ok.name, ok)
    CASE.test_constants(ok.name)
    CASE.test_quantum_costs(ok.name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layer_overhead_ms": float("nan")}, None),
        ({"layer_overhead_ms": -0.5}, None),
        ({"int8_speedup": 0.0}, "int8_speedup must be a finite number > 0"),
        ({"dw_efficiency": 0.0}, "dw_efficiency must be a finite number > 0"),
        ({"e_mac_pj": {8: 0.0, 32: 74.0}}, r"e_mac_pj\[8\] = 0.0"),
    ],
)
def test_more_edge_constants_are_caught(
    registered: list[str], change: dict[str, Any], message: str | None
) -> None:
    bad = dataclasses.replace(EDGE, name="more-edge-check", **change)
    _add(registered, bad.name, bad)
    with pytest.raises(AssertionError, match=message):
        CASE.test_constants(bad.name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"one_qubit_ns": 0.0}, "one_qubit_ns must be a finite number > 0"),
        ({"readout_ns": 0.0}, "readout_ns must be a finite number > 0"),
        ({"rep_delay_ns": float("nan")}, None),
        ({"rep_delay_ns": -1.0}, None),
        ({"readout_error": 1.0}, "readout_error is a probability below 1; got 1.0"),
        ({"shots": True}, None),
    ],
)
def test_more_quantum_constants_are_caught(
    registered: list[str], change: dict[str, Any], message: str | None
) -> None:
    bad = dataclasses.replace(QPU, name="more-qpu-check", **change)
    _add(registered, bad.name, bad)
    with pytest.raises(AssertionError, match=message):
        CASE.test_constants(bad.name)


def test_a_quantum_profile_whose_costs_do_not_add_up_is_caught(registered: list[str]) -> None:
    bad = dataclasses.replace(QPU, name="nan-qpu-check", rep_delay_ns=float("nan"))
    _add(registered, bad.name, bad)
    with pytest.raises(AssertionError):
        CASE.test_quantum_costs(bad.name)


def test_budgets_that_are_not_upper_limits_above_zero_are_caught(registered: list[str]) -> None:
    for i, budgets in enumerate(({"latency_ms": 0.0}, {"latency_ms": -2.0})):
        bad = dataclasses.replace(EDGE, name=f"zero-budget-check-{i}", budgets=budgets)
        _add(registered, bad.name, bad)
        with pytest.raises(AssertionError):
            CASE.test_default_budgets(bad.name)


def test_a_calibrated_target_is_checked_by_its_medians() -> None:
    """A calibrated target is registered as its snapshot; its constants are the medians."""
    from quarch.cost import is_calibrated

    name = next((e.name for e in DEVICES.entries() if is_calibrated(e.name)), None)
    if name is None:
        pytest.skip("no qiskit-ibm-runtime snapshot installed")
    CASE.test_constants(name)
    CASE.test_quantum_costs(name)
