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
        with pytest.raises(ConfigError, match=r"^'cortex-m7' is an edge device profile, not a "):
            get_quantum_device("cortex-m7")
        with pytest.raises(ConfigError, match=r"^'ibm-heron' is a quantum device profile, not an "):
            get_device("ibm-heron")
        check_device_profile("ibm-eagle", ("quantum",))
        with pytest.raises(ConfigError, match=r"known: ibm-eagle, ibm-heron, ibm-aachen, "):
            check_device_profile("raspi4", ("quantum",))


def test_built_in_profiles_are_found_without_listing_the_snapshots() -> None:
    # a fresh process, the snapshot scan made to fail: every search's first second
    # looked up ibm-heron, and listing the snapshots read all of their JSON files
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent(
        """
        import quarch.cost.calibration as calibration

        def scan(root):
            raise RuntimeError("scanned")

        calibration._scan = scan
        from quarch.cost.devices import (
            DEVICES, check_device_profile, get_device, get_quantum_device, is_calibrated,
        )

        assert get_quantum_device("ibm-heron").name == "ibm-heron"
        assert get_device("raspi4").name == "raspi4"
        assert not is_calibrated("ibm-heron")
        check_device_profile("ibm-heron", ("quantum",))
        try:
            DEVICES.names()
        except RuntimeError as e:
            print(e)
        """
    )
    got = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    assert got.stdout.strip() == "scanned"  # listing every name does scan


def test_the_listing_keeps_built_in_profiles_before_the_snapshots() -> None:
    names = DEVICES.names()
    calibrated = [n for n in names if DEVICES.get(n).kind == "quantum" and n.startswith("ibm-")]
    first_snapshot = min(names.index(n) for n in calibrated if n not in ("ibm-eagle", "ibm-heron"))
    assert names.index("ibm-heron") < first_snapshot
    assert names.index("local-cpu") < first_snapshot
