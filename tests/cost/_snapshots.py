"""The calibration snapshots of ``qiskit-ibm-runtime``'s fake provider, read here
independently of quarch (the truth the calibration tests compare with)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any


def snapshot_root() -> Path:
    """The folder holding one sub-folder per fake backend."""
    import qiskit_ibm_runtime

    return Path(qiskit_ibm_runtime.__file__).parent / "fake_provider" / "backends"


def props_file(name: str) -> Path:
    return snapshot_root() / name / f"props_{name}.json"


def read_props(name: str) -> dict[str, Any]:
    """A snapshot's properties JSON, read with ``json``."""
    return json.loads(props_file(name).read_text())  # type: ignore[no-any-return]


def fresh_backend(name: str) -> Any:
    """A fresh fake backend, loaded here (not quarch's copy)."""
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FakeProviderForBackendV2().backend(f"fake_{name}")


def qubit_values(props: dict[str, Any], key: str) -> list[float]:
    """Every qubit's value of ``key`` (``T1``, ``readout_error``, ...), where it has one."""
    out = []
    for q in props["qubits"]:
        vals = {p["name"]: p["value"] for p in q}
        if key in vals:
            out.append(float(vals[key]))
    return out
