"""Device profiles: one registry for classical (edge) and quantum targets.

``--device-profile NAME`` and ``quarch devices`` read :data:`DEVICES`. Each entry is
either an edge :class:`DeviceProfile` (the constants of the latency, energy and memory
models of edge CNNs, with default budgets) or a :class:`QuantumDevice` (gate and
readout durations and errors); ``kind`` says which, and a space's spec says which kinds
it takes (:attr:`quarch.spaces.SpaceSpec.device_kinds`).

Quantum profiles:
    **Device profiles** (:data:`QUANTUM_DEVICES`) hold median gate and readout durations and
    error rates. The IBM figures are the medians over all qubits / couplers of the
    calibration snapshots shipped with ``qiskit-ibm-runtime`` 0.51's fake backends:
    ``ibm-eagle`` = FakeSherbrooke (Eagle r3: SX 56.9 ns, ECR 533 ns, readout 1220 ns;
    errors 2.36e-4, 7.50e-3, readout 1.98e-2), ``ibm-heron`` = FakeFez (Heron r2: SX 24 ns,
    CZ 84 ns, readout 1560 ns; errors 2.29e-4, 3.82e-3, readout 7.57e-3). Two-qubit
    figures are over the working couplers (a snapshot marks a broken one with error 1, as
    the calibrated targets below leave out). The repetition delay is IBM's default
    ``rep_delay`` of 250 us.

Calibrated targets:
    Every calibration snapshot that ``qiskit-ibm-runtime``'s fake provider ships is a
    quantum target named ``ibm-<device>`` (``ibm-fez``, ``ibm-sherbrooke``, ... see
    :mod:`quarch.cost.calibration`): coupling map, basis gates, per-qubit T1/T2 and
    readout error, per-gate error and duration. They are listed without Qiskit;
    using one needs the ``qiskit`` extra. :func:`get_quantum_device` returns a
    :class:`QuantumDevice` of the snapshot's medians with the full
    :class:`~quarch.cost.calibration.Calibration` attached, so every cost that takes a
    profile takes a calibrated target too.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from quarch._errors import ConfigError, did_you_mean
from quarch._registry import Registry
from quarch.cost.calibration import QISKIT_HINT, CalibratedTarget, Calibration, calibrated_targets

__all__ = [
    "DEVICES",
    "CalibratedTarget",
    "DeviceProfile",
    "QuantumDevice",
    "check_device_profile",
    "default_budgets",
    "get_calibration",
    "get_device",
    "get_quantum_device",
    "is_calibrated",
    "list_devices",
]

DeviceKind = Literal["edge", "quantum"]


@dataclass(frozen=True)
class DeviceProfile:
    """Constants of one device class for the latency, energy and memory models.

    Args:
        name: registry name, e.g. ``"cortex-m7"``.
        description: one line for ``quarch devices``.
        fp32_macs_per_s: sustained fp32 multiply-accumulates per second of dense
            convolutions in an inference runtime on this device.
        int8_speedup: rate of int8 relative to fp32.
        dw_efficiency: fraction of the rate reached by depthwise convolutions.
        bandwidth_bytes_per_s: sustained memory bandwidth for activations and weights.
        layer_overhead_ms: fixed cost of dispatching one operator.
        e_mac_pj: energy of one MAC in picojoules, by bit-width (8, 32).
        e_byte_pj: energy of moving one byte to or from memory, in picojoules.
        budgets: default hard limits, ``metric -> upper limit``.
        measured: whether latency is measured on this machine (ONNX Runtime) rather
            than taken from the analytic model.
        sources: where each constant comes from.
    """

    name: str
    description: str
    fp32_macs_per_s: float
    int8_speedup: float
    dw_efficiency: float
    bandwidth_bytes_per_s: float
    layer_overhead_ms: float
    e_mac_pj: Mapping[int, float]
    e_byte_pj: float
    budgets: Mapping[str, float]
    measured: bool = False
    sources: Mapping[str, str] = field(default_factory=dict)
    kind: DeviceKind = "edge"

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``quarch devices --json``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "latency": "measured (ONNX Runtime)" if self.measured else "analytic model",
            "fp32_macs_per_s": self.fp32_macs_per_s,
            "int8_speedup": self.int8_speedup,
            "dw_efficiency": self.dw_efficiency,
            "bandwidth_bytes_per_s": self.bandwidth_bytes_per_s,
            "layer_overhead_ms": self.layer_overhead_ms,
            "e_mac_pj": {str(k): v for k, v in self.e_mac_pj.items()},
            "e_byte_pj": self.e_byte_pj,
            "budgets": dict(self.budgets),
            "sources": dict(self.sources),
        }


# Horowitz, "Computing's energy problem (and what we can do about it)", ISSCC 2014,
# 45 nm at 0.9 V: 8-bit int add 0.03 pJ, 8-bit mult 0.2 pJ; 32-bit fp add 0.9 pJ, fp mult
# 3.7 pJ; 64-bit read of an 8 KB SRAM 10 pJ, of a 1 MB SRAM 100 pJ, of DRAM 1.3-2.6 nJ;
# an instruction on a simple in-order core costs about 70 pJ of overhead beyond its
# arithmetic. The profiles below combine these figures as each docstring line says.
_HOROWITZ = "Horowitz, ISSCC 2014, 45 nm energy table"

CORTEX_M7 = DeviceProfile(
    name="cortex-m7",
    description="Cortex-M7 microcontroller class (STM32H743: 480 MHz, 1 MB SRAM, 2 MB flash)",
    fp32_macs_per_s=0.25 * 480e6,
    int8_speedup=2.4,
    dw_efficiency=0.5,
    bandwidth_bytes_per_s=1.0e9,
    layer_overhead_ms=0.02,
    e_mac_pj={8: 35.0, 32: 74.0},
    e_byte_pj=12.5,
    budgets={"memory_kb": 512.0, "latency_ms": 100.0, "energy_mj": 100.0},
    sources={
        "fp32_macs_per_s": "0.25 MAC/cycle at 480 MHz: single-issue FPU FMA plus two loads "
        "per MAC (ARM Cortex-M7 TRM: one FMA/cycle, dual-issue load)",
        "int8_speedup": "CMSIS-NN int8 convolutions reach ~0.6 MAC/cycle with SMLAD "
        "(2 MACs/instruction); Lai et al., 'CMSIS-NN', arXiv:1801.06601",
        "dw_efficiency": "CMSIS-NN depthwise kernels run at about half the dense rate "
        "(Lai et al. 2018)",
        "e_mac_pj": f"{_HOROWITZ}: ~70 pJ instruction overhead per MAC instruction; int8 "
        "SMLAD does 2 MACs per instruction (35 pJ/MAC), fp32 VFMA one (70 + 3.7 + 0.9 pJ)",
        "e_byte_pj": f"{_HOROWITZ}: 100 pJ per 64-bit read of a 1 MB SRAM = 12.5 pJ/byte",
        "budgets": "512 KB: STM32H743's AXI SRAM; issue seeds: latency < 100 ms, 1 W x 100 ms",
    },
)

RASPI4 = DeviceProfile(
    name="raspi4",
    description="Raspberry Pi 4 class board (BCM2711: 4x Cortex-A72 at 1.5 GHz, LPDDR4)",
    fp32_macs_per_s=6.0e9,
    int8_speedup=1.8,
    dw_efficiency=0.3,
    bandwidth_bytes_per_s=4.0e9,
    layer_overhead_ms=0.03,
    e_mac_pj={8: 50.0, 32: 100.0},
    e_byte_pj=20.0,
    budgets={"memory_kb": 10240.0, "latency_ms": 100.0, "energy_mj": 100.0},
    sources={
        "fp32_macs_per_s": "4 cores x 2 NEON FMA pipes x 4 lanes x 1.5 GHz = 48 GMAC/s peak; "
        "inference runtimes reach ~1/8 of it on small convolutions",
        "int8_speedup": "A72 has no int8 dot-product instruction; widening 16-bit NEON MACs "
        "give ~2x fp32 lanes, less the requantisation overhead",
        "dw_efficiency": "depthwise convolutions are memory bound on A72 class cores",
        "bandwidth_bytes_per_s": "LPDDR4-3200 on a 32-bit bus, ~4 GB/s sustained (STREAM)",
        "e_mac_pj": "~3.7 W dynamic power (6.4 W loaded - 2.7 W idle, Raspberry Pi 4 "
        "board measurements) over ~40 GMAC/s near peak gives ~100 pJ per fp32 MAC; "
        "half for int8",
        "e_byte_pj": f"{_HOROWITZ}: on-chip 1 MB L2 at 12.5 pJ/byte plus interconnect",
        "budgets": "issue seeds: model size < 10 MB, latency < 100 ms, 1 W x 100 ms",
    },
)

LOCAL_CPU = DeviceProfile(
    name="local-cpu",
    description="this machine's CPU, one ONNX Runtime thread (latency measured)",
    fp32_macs_per_s=2.736e10,
    int8_speedup=0.548,
    dw_efficiency=0.389,
    bandwidth_bytes_per_s=1.55e11,
    layer_overhead_ms=0.0034,
    e_mac_pj={8: 5.0, 32: 14.0},
    e_byte_pj=12.5,
    budgets={"memory_kb": 10240.0, "latency_ms": 100.0, "energy_mj": 100.0},
    measured=True,
    sources={
        "analytic constants": "fitted to ONNX Runtime timings of 30 random 28x28 "
        "architectures (benchmarks/latency_model.py --fit --seed 1) on this machine (Xeon, "
        "AVX-512 VNNI, 1 thread); int8_speedup < 1 because at batch 1 these small int8 "
        "QDQ graphs pay more in (de)quantisation than they save in arithmetic",
        "e_mac_pj": f"{_HOROWITZ}: 70 pJ instruction overhead shared by 16 fp32 lanes of an "
        "AVX-512 FMA (4.4 pJ) plus 4.6 pJ arithmetic, ~14 pJ; int8 VNNI does 4x more MACs "
        "per instruction (~5 pJ)",
        "e_byte_pj": f"{_HOROWITZ}: 100 pJ per 64-bit read of a 1 MB SRAM (L2) = 12.5 pJ/byte",
        "budgets": "issue seeds: model size < 10 MB, latency < 100 ms, 1 W x 100 ms",
    },
)


@dataclass(frozen=True)
class QuantumDevice:
    """A quantum device profile: durations (ns), error rates and shots.

    Attributes:
        name (str): profile name.
        one_qubit_ns (float): duration of one native single-qubit pulse (SX / X).
        two_qubit_ns (float): duration of the native two-qubit gate.
        readout_ns (float): measurement duration.
        rep_delay_ns (float): delay between shots (reset and repetition).
        shots (int): shots per circuit execution.
        error_1q (float): median single-qubit gate error.
        error_2q (float): median two-qubit gate error.
        readout_error (float): median readout error.
        source (str): where the figures come from.
        calibration (Calibration | None): the full snapshot of a calibrated target
            (coupling map, per-qubit and per-gate figures); ``None`` for a hand profile.
    """

    name: str
    one_qubit_ns: float
    two_qubit_ns: float
    readout_ns: float
    rep_delay_ns: float = 250_000.0
    shots: int = 1024
    error_1q: float = 0.0
    error_2q: float = 0.0
    readout_error: float = 0.0
    source: str = ""
    kind: DeviceKind = "quantum"
    calibration: Calibration | None = field(default=None, compare=False, repr=False)

    @property
    def description(self) -> str:
        """One line for ``quarch devices``."""
        return f"quantum: {self.source}"

    def to_dict(self) -> dict[str, Any]:
        """JSON form for ``quarch devices --json``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "one_qubit_ns": self.one_qubit_ns,
            "two_qubit_ns": self.two_qubit_ns,
            "readout_ns": self.readout_ns,
            "rep_delay_ns": self.rep_delay_ns,
            "shots": self.shots,
            "error_1q": self.error_1q,
            "error_2q": self.error_2q,
            "readout_error": self.readout_error,
            "budgets": {},
        }


_QUANTUM: dict[str, QuantumDevice] = {
    "ibm-eagle": QuantumDevice(
        "ibm-eagle", 56.9, 533.0, 1220.0, error_1q=2.36e-4, error_2q=7.50e-3,
        readout_error=1.98e-2,
        source="qiskit-ibm-runtime 0.51 FakeSherbrooke (Eagle r3) medians",
    ),
    "ibm-heron": QuantumDevice(
        "ibm-heron", 24.0, 84.0, 1560.0, error_1q=2.29e-4, error_2q=3.82e-3,
        readout_error=7.57e-3,
        source="qiskit-ibm-runtime 0.51 FakeFez (Heron r2) medians",
    ),
}  # fmt: skip

Profile = DeviceProfile | QuantumDevice | CalibratedTarget

#: Device profiles by name, edge and quantum (``--device-profile``, ``quarch devices``).
DEVICES: Registry[Profile] = Registry("device profile")
_ALL: tuple[DeviceProfile | QuantumDevice, ...] = (CORTEX_M7, RASPI4, LOCAL_CPU, *_QUANTUM.values())
for _p in _ALL:
    DEVICES.add(_p.name, _p, _p.description)
# listing the snapshots reads every one's JSON (0.3-0.4 s): done when the table is
# first read, not on every import of quarch.cost (every search's first second)
DEVICES.add_lazy(
    lambda: (
        (t.name, t, f"quantum, calibrated: IBM {t.snapshot} snapshot") for t in calibrated_targets()
    )
)


def _hint(name: str) -> str:
    """The qiskit-extra hint, for an ``ibm-*`` name when no snapshot is installed."""
    missing = not any(isinstance(e.factory, CalibratedTarget) for e in DEVICES.entries())
    return f" ({QISKIT_HINT})" if missing and name.startswith("ibm-") else ""


def get_device(name: str | DeviceProfile) -> DeviceProfile:
    """The edge profile named ``name`` (a profile passes through).

    Raises:
        ConfigError: an unknown name, or a quantum profile (the message lists the
            edge profiles).
    """
    if isinstance(name, DeviceProfile):
        return name
    dev = _lookup(name, "edge")
    assert isinstance(dev, DeviceProfile)
    return dev


def get_quantum_device(device: str | QuantumDevice) -> QuantumDevice:
    """The quantum profile named ``device`` (a profile passes through).

    Raises:
        ConfigError: an unknown name, or an edge profile (the message lists the
            quantum profiles).
    """
    if isinstance(device, QuantumDevice):
        return device
    dev = _lookup(device, "quantum")
    if isinstance(dev, CalibratedTarget):
        return _calibrated_device(dev.name)
    assert isinstance(dev, QuantumDevice)
    return dev


@functools.cache
def _calibrated_device(name: str) -> QuantumDevice:
    """A calibrated target as a :class:`QuantumDevice`: its medians, and the snapshot."""
    return _calibrated_device_uncached(name)


def _calibrated_device_uncached(name: str) -> QuantumDevice:
    # _calibrated_device's body, undecorated: mutmut 3 mutates no decorated function
    entry = DEVICES.get(name)
    assert isinstance(entry, CalibratedTarget)
    cal = entry.load()
    m = cal.medians()
    return QuantumDevice(
        name,
        one_qubit_ns=m["one_qubit_s"] * 1e9,
        two_qubit_ns=m["two_qubit_s"] * 1e9,
        readout_ns=m["readout_s"] * 1e9,
        rep_delay_ns=cal.rep_delay * 1e9,
        error_1q=m["error_1q"],
        error_2q=m["error_2q"],
        readout_error=m["readout_error"],
        source=f"qiskit-ibm-runtime {entry.snapshot} calibration snapshot",
        calibration=cal,
    )


def is_calibrated(name: str) -> bool:
    """Whether ``name`` is a calibrated target (reads no snapshot)."""
    return name in DEVICES and isinstance(DEVICES.get(name), CalibratedTarget)


def get_calibration(device: str | QuantumDevice) -> Calibration | None:
    """The calibration snapshot of a quantum target (``None`` for a hand profile).

    Raises:
        ConfigError: an unknown name or an edge profile.
    """
    return get_quantum_device(device).calibration


def _lookup(name: str, kind: DeviceKind) -> Profile:
    if not isinstance(name, str):  # a list or a calibration: one line, not "unhashable"
        cls = "QuantumDevice" if kind == "quantum" else "DeviceProfile"
        example = "'ibm-fez'" if kind == "quantum" else "'cortex-m7'"
        own = getattr(name, "name", None)  # a Calibration, say: the name it carries
        raise ConfigError(
            f"{'an' if kind == 'edge' else 'a'} {kind} device is a profile's name such as "
            f"{example} or a {cls}; got {type(name).__name__}"
            + (f" (its name: {own!r})" if isinstance(own, str) else "")
        )
    if name in DEVICES and DEVICES.get(name).kind == kind:
        return DEVICES.get(name)
    of_kind = [e.name for e in DEVICES.entries() if e.factory.kind == kind]
    if name in DEVICES:  # known, of the other kind: "unknown" would send the user looking
        other = DEVICES.get(name).kind
        raise ConfigError(
            f"{name!r} is {'an' if other == 'edge' else 'a'} {other} device profile, not "
            f"{'an' if kind == 'edge' else 'a'} {kind} one; {kind} profiles: {', '.join(of_kind)}"
        )
    raise ConfigError(
        f"unknown {kind} device profile {name!r}; known: {', '.join(of_kind)}{_hint(name)}"
        f"{did_you_mean([name], of_kind)}"
    )


def check_device_profile(name: str, kinds: tuple[str, ...]) -> None:
    """Refuse a profile that is unknown or of a kind the space does not take.

    Raises:
        ConfigError: one line listing the profiles of the accepted kinds.
    """
    if name in DEVICES and DEVICES.get(name).kind in kinds:
        return
    known = [e.name for e in DEVICES.entries() if e.factory.kind in kinds]
    if name not in known:
        what = " or ".join(kinds) if kinds else "no"
        raise ConfigError(
            f"unknown device profile {name!r} for this space ({what} profiles); "
            f"known: {', '.join(known) or 'none'}{_hint(name)}{did_you_mean([name], known)}"
        )


def list_devices(kind: str | None = None) -> list[dict[str, Any]]:
    """Every profile (or those of ``kind``, ``"edge"`` or ``"quantum"``) as a dict, for
    ``quarch devices``.

    Raises:
        ConfigError: another ``kind`` (it would list nothing).
    """
    if kind not in (None, "edge", "quantum"):
        raise ConfigError(f"device kind must be 'edge' or 'quantum'; got {kind!r}")
    return [e.factory.to_dict() for e in DEVICES.entries() if kind in (None, e.factory.kind)]


def default_budgets(name: str | DeviceProfile) -> list[str]:
    """The profile's default budgets as ``--budget`` strings, e.g. ``"latency_ms<=100"``."""
    return [f"{m}<={v:g}" for m, v in get_device(name).budgets.items()]


# -- the models ------------------------------------------------------------------------
