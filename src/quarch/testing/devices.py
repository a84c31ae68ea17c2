"""The contract every device profile meets, as reusable pytest checks.

A profile is registered in :data:`quarch.cost.DEVICES` under its own name, either an edge
:class:`~quarch.cost.DeviceProfile` (the constants of the edge latency, energy and
memory models) or a :class:`~quarch.cost.QuantumDevice` (durations, error rates,
shots). The checks assert that

* the registry holds it under its own name, ``quarch devices`` lists it with its kind,
  and its row is JSON (``quarch devices --json``);
* every constant a cost model divides by or multiplies with is a finite positive
  number (a fraction where it is one: the depthwise efficiency, the error rates), an
  edge profile has the energy of an 8-bit and a 32-bit MAC, and its default budgets
  are ``--budget`` lines that parse back to its own limits;
* a quantum profile gives a circuit a duration, a runtime and a noise model.

Use it on a profile of your own::

    import pytest
    import my_device  # registers "my-board"
    from quarch.testing import DeviceProfileTestCase

    @pytest.fixture(params=["my-board"])
    def device(request):
        return request.param

    class TestMyBoard(DeviceProfileTestCase):
        pass
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["DeviceProfileTestCase"]


def _profile(name: str) -> Any:
    from quarch.cost.devices import DEVICES, get_quantum_device

    entry = DEVICES.get(name)
    return get_quantum_device(name) if entry.kind == "quantum" else entry


def _positive(profile: Any, *fields: str) -> None:
    for f in fields:
        value = getattr(profile, f)
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        assert ok and math.isfinite(value) and value > 0, (
            f"{profile.name}: {f} must be a finite number > 0; got {value!r}"
        )


class DeviceProfileTestCase:
    """Contract tests for one registered device profile.

    Subclass it in a test module and provide a ``device`` fixture returning the
    profile's name (parametrize it to check several).
    """

    def test_registered_under_its_name_and_listed(self, device: str) -> None:
        from quarch.cost.devices import DEVICES, list_devices

        entry = DEVICES.get(device)
        assert entry.name == device, f"registered as {device!r} but named {entry.name!r}"
        assert entry.kind in ("edge", "quantum"), f"{device}: kind {entry.kind!r}"
        rows = [r for r in list_devices(entry.kind) if r["name"] == device]
        assert len(rows) == 1, f"`quarch devices` lists {device!r} {len(rows)} times"
        assert json.loads(json.dumps(rows[0])) == rows[0], f"{device}: its row is not JSON"
        assert rows[0]["kind"] == entry.kind

    def test_constants(self, device: str) -> None:
        profile = _profile(device)
        if profile.kind == "edge":
            _positive(profile, "fp32_macs_per_s", "int8_speedup", "dw_efficiency")
            _positive(profile, "bandwidth_bytes_per_s", "e_byte_pj")
            assert profile.dw_efficiency <= 1, f"{device}: dw_efficiency is a fraction"
            assert math.isfinite(profile.layer_overhead_ms) and profile.layer_overhead_ms >= 0
            assert {8, 32} <= set(profile.e_mac_pj), (
                f"{device}: e_mac_pj needs the energy of an 8-bit and a 32-bit MAC "
                f"(int8 and fp32 models); got {sorted(profile.e_mac_pj)}"
            )
            for bits in (8, 32):
                e = profile.e_mac_pj[bits]
                assert math.isfinite(e) and e > 0, f"{device}: e_mac_pj[{bits}] = {e!r}"
        else:
            _positive(profile, "one_qubit_ns", "two_qubit_ns", "readout_ns")
            assert math.isfinite(profile.rep_delay_ns) and profile.rep_delay_ns >= 0
            shots = profile.shots
            assert isinstance(shots, int) and not isinstance(shots, bool) and shots >= 1
            for f in ("error_1q", "error_2q", "readout_error"):
                rate = getattr(profile, f)
                assert 0 <= rate < 1, f"{device}: {f} is a probability below 1; got {rate!r}"

    def test_default_budgets(self, device: str) -> None:
        from quarch.cost.devices import default_budgets
        from quarch.objectives import Budget

        profile = _profile(device)
        if profile.kind != "edge":
            assert profile.to_dict()["budgets"] == {}
            return
        parsed = [Budget.parse(text) for text in default_budgets(device)]
        assert {(b.metric, b.limit) for b in parsed} == set(profile.budgets.items())
        assert all(b.op == "<=" and b.limit > 0 for b in parsed), parsed

    def test_quantum_costs(self, device: str) -> None:
        from quarch.cost.quantum import circuit_duration_ns, noise_model, runtime_proxy
        from quarch.quantum import Circuit

        profile = _profile(device)
        if profile.kind != "quantum":
            return
        bell = Circuit(2).h(0).cnot(0, 1)
        # H is two native one-qubit pulses here at most, CNOT one two-qubit gate and a
        # few pulses: the critical path is at least the two-qubit gate
        assert circuit_duration_ns(bell, device) >= profile.two_qubit_ns
        per_shot = circuit_duration_ns(bell, device) + profile.readout_ns + profile.rep_delay_ns
        assert math.isclose(runtime_proxy(bell, device, shots=3), 3 * per_shot * 1e-9)
        noise_model(device)  # builds from the profile's rates
