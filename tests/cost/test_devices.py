"""Device profiles: one registry for edge and quantum targets."""

from __future__ import annotations

import pytest

from quarch._errors import ConfigError
from quarch.cost.devices import (
    DEVICES,
    check_device_profile,
    default_budgets,
    get_device,
    get_quantum_device,
    list_devices,
)
from quarch.objectives import Budget


class TestDevices:
    def test_required_profiles(self) -> None:
        assert {"cortex-m7", "raspi4", "local-cpu"} <= {r["name"] for r in list_devices("edge")}
        assert get_device("local-cpu").measured
        assert not get_device("cortex-m7").measured

    def test_unknown_profile(self) -> None:
        with pytest.raises(
            ConfigError, match="unknown edge device profile 'tpu'; known: cortex-m7"
        ):
            get_device("tpu")

    def test_list_and_budgets(self) -> None:
        rows = list_devices("edge")
        assert [r["name"] for r in rows] == ["cortex-m7", "raspi4", "local-cpu"]
        for r in rows:
            assert r["sources"], r["name"]
            for text in default_budgets(r["name"]):
                b = Budget.parse(text)
                assert b.limit == r["budgets"][b.metric]
        assert get_device("raspi4").budgets["memory_kb"] == 10240  # < 10 MB from the seeds


class TestOneRegistry:
    def test_both_kinds_listed(self) -> None:
        kinds = {r["name"]: r["kind"] for r in list_devices()}
        assert kinds["cortex-m7"] == "edge" and kinds["ibm-heron"] == "quantum"
        assert list(kinds) == DEVICES.names()

    def test_kind_is_checked(self) -> None:
        with pytest.raises(ConfigError, match="unknown quantum device profile 'cortex-m7'"):
            get_quantum_device("cortex-m7")
        with pytest.raises(ConfigError, match="unknown edge device profile 'ibm-heron'"):
            get_device("ibm-heron")
        check_device_profile("ibm-eagle", ("quantum",))
        with pytest.raises(ConfigError, match=r"known: ibm-eagle, ibm-heron, ibm-aachen, "):
            check_device_profile("raspi4", ("quantum",))
