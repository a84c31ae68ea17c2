"""A device profile given as something other than its name or its profile object is
refused in one line by the lookup every cost function shares (``get_device``,
``get_quantum_device``, and through them ``circuit_duration_ns``, ``runtime_proxy``,
``get_calibration``), instead of Python's ``unhashable type: 'list'`` from the registry."""

from __future__ import annotations

import pytest

from quarch._errors import ConfigError
from quarch.cost.devices import (
    DEVICES,
    get_calibration,
    get_device,
    get_quantum_device,
    is_calibrated,
)
from quarch.cost.quantum import circuit_duration_ns
from quarch.quantum import Circuit

QUANTUM = "a quantum device is a profile's name such as 'ibm-fez' or a QuantumDevice; got "
EDGE = "an edge device is a profile's name such as 'cortex-m7' or a DeviceProfile; got "


@pytest.mark.parametrize(("value", "kind"), [([[0, 1]], "list"), (None, "NoneType"), (3, "int")])
def test_quantum_lookups_refuse_what_is_not_a_name(value: object, kind: str) -> None:
    c = Circuit(2)
    c.h(0)
    for call in (
        lambda: get_quantum_device(value),  # type: ignore[arg-type]
        lambda: get_calibration(value),  # type: ignore[arg-type]
        lambda: circuit_duration_ns(c, value),  # type: ignore[arg-type]
    ):
        with pytest.raises(ConfigError) as e:
            call()
        assert str(e.value) == QUANTUM + kind


@pytest.mark.parametrize(("value", "kind"), [(["cortex-m7"], "list"), (7, "int")])
def test_edge_lookup_refuses_what_is_not_a_name(value: object, kind: str) -> None:
    with pytest.raises(ConfigError) as e:
        get_device(value)  # type: ignore[arg-type]
    assert str(e.value) == EDGE + kind


def test_names_and_profiles_still_pass() -> None:
    """Registered names of each kind resolve, and a profile object passes through.

    Every edge name and hand-written quantum profile; of the calibrated targets (one
    lookup path for all, each a 0.3-1 s snapshot load) the first and last listed and
    the three the other device tests load (cached in the process)."""
    quantum = [e.name for e in DEVICES.entries() if e.factory.kind == "quantum"]
    calibrated = [n for n in quantum if is_calibrated(n)]
    sample = {*calibrated[:1], *calibrated[-1:], "ibm-fez", "ibm-sherbrooke", "ibm-kolkata"}
    assert sample <= set(calibrated) and len(calibrated) < len(quantum)
    for entry in DEVICES.entries():
        if entry.factory.kind == "quantum" and (
            entry.name in sample or not is_calibrated(entry.name)
        ):
            dev = get_quantum_device(entry.name)
            assert dev.name == entry.name and get_quantum_device(dev) is dev
        elif entry.factory.kind == "edge":
            prof = get_device(entry.name)
            assert prof.name == entry.name and get_device(prof) is prof


def test_a_calibration_given_for_its_device_is_named() -> None:
    """A ``Calibration`` (what ``get_calibration`` returns) given where the device goes:
    the line names the profile it belongs to, the name the call wanted."""
    cal = get_calibration("ibm-fez")
    assert cal is not None
    with pytest.raises(ConfigError) as e:
        get_quantum_device(cal)  # type: ignore[arg-type]
    assert str(e.value) == QUANTUM + f"{type(cal).__name__} (its name: 'ibm-fez')"
