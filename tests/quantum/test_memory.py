"""The memory the refusal of a too-large register reads, against the operating system.

``device_memory_bytes`` is what decides whether a 20-qubit-or-wider call runs or is
refused (``test_simulator.py::TestMemoryRefusal`` checks the refusal with the number
patched). Truth here: Linux's ``/proc/meminfo`` (``MemTotal``, the kernel's count of
usable RAM, which ``sysconf`` multiplies out from pages) and, for CUDA, the properties
torch reports for the device the call names (patched: no GPU here). The refusal's
boundary and its units are checked against sizes computed by hand.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from quarch.quantum import _memory
from quarch.quantum._memory import device_memory_bytes, state_memory_refusal


@pytest.mark.skipif(not Path("/proc/meminfo").is_file(), reason="needs Linux's /proc")
def test_the_cpu_s_memory_is_memtotal() -> None:
    text = Path("/proc/meminfo").read_text()
    match = re.search(r"^MemTotal:\s+(\d+) kB$", text, re.M)
    assert match is not None
    assert device_memory_bytes(torch.device("cpu")) == int(match.group(1)) * 1024


@pytest.mark.parametrize("error", [ValueError, OSError, AttributeError])
def test_without_posix_sysconf_the_memory_is_unknown(
    monkeypatch: pytest.MonkeyPatch, error: type[Exception]
) -> None:
    def sysconf(name: str) -> int:
        raise error(name)

    monkeypatch.setattr(os, "sysconf", sysconf)
    assert device_memory_bytes(torch.device("cpu")) is None
    # unknown memory refuses nothing, however large the register
    assert state_memory_refusal(40, 1, torch.complex128, torch.device("cpu")) is None


def test_other_devices_are_unknown() -> None:
    assert device_memory_bytes(torch.device("meta")) is None


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> dict[int, int]:
    """Two fake GPUs of different sizes; device 1 is the current one."""
    sizes = {0: 80 * 2**30, 1: 24 * 2**30}
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)
    monkeypatch.setattr(
        torch.cuda,
        "get_device_properties",
        lambda index: SimpleNamespace(total_memory=sizes[int(index)]),
    )
    return sizes


def test_a_gpu_s_memory_is_that_device_s(two_gpus: dict[int, int]) -> None:
    assert device_memory_bytes(torch.device("cuda", 0)) == two_gpus[0]
    assert device_memory_bytes(torch.device("cuda", 1)) == two_gpus[1]
    # "cuda" without an index is the current device, as torch allocates there
    assert device_memory_bytes(torch.device("cuda")) == two_gpus[1]


def test_the_gpu_line_names_the_device(two_gpus: dict[int, int]) -> None:
    # 30 qubits, complex64, one row: 2 * 2**30 * 8 B = 16 GiB fits 24 GiB, 2 rows do not
    assert state_memory_refusal(30, 1, torch.complex64, torch.device("cuda", 1)) is None
    line = state_memory_refusal(30, 2, torch.complex64, torch.device("cuda", 1))
    assert line == (
        "a state vector of 30 qubits for a batch of 2 needs at least 32.0 GiB (two complex64 "
        "copies); cuda:1 has 24.0 GiB. Use fewer qubits or a smaller batch"
    )


@pytest.mark.parametrize(
    ("dtype", "itemsize"), [(torch.complex64, 8), (torch.complex128, 16), (torch.float32, 4)]
)
def test_the_boundary_is_two_copies_exactly(
    monkeypatch: pytest.MonkeyPatch, dtype: torch.dtype, itemsize: int
) -> None:
    need = 2 * 3 * 2**20 * itemsize  # 20 qubits, 3 rows
    cpu = torch.device("cpu")
    monkeypatch.setattr(_memory, "device_memory_bytes", lambda device: need)
    assert state_memory_refusal(20, 3, dtype, cpu) is None  # exactly enough runs
    monkeypatch.setattr(_memory, "device_memory_bytes", lambda device: need - 1)
    line = state_memory_refusal(20, 3, dtype, cpu)
    assert line is not None and line.startswith(
        f"a state vector of 20 qubits for a batch of 3 needs at least {need // 2**20} MiB "
        f"(two {str(dtype).removeprefix('torch.')} copies); this machine has "
    )


@pytest.mark.parametrize(
    ("nbytes", "shown"),
    [(2**30, "1.0 GiB"), (2**30 - 2**20, "1023 MiB"), (3 * 2**29, "1.5 GiB"), (2**21, "2 MiB")],
)
def test_sizes_switch_to_gib_at_one_gib(
    monkeypatch: pytest.MonkeyPatch, nbytes: int, shown: str
) -> None:
    monkeypatch.setattr(_memory, "device_memory_bytes", lambda device: nbytes)
    line = state_memory_refusal(40, 1, torch.complex128, torch.device("cpu"))
    assert line is not None and line.endswith(
        f"this machine has {shown}. Use fewer qubits or a smaller batch"
    )
