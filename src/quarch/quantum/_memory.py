"""The state-vector simulator's memory refusal: a register too large for the machine is
refused in one line before anything is allocated, as Qiskit Aer refuses it, instead of
an allocator's error (or, with Linux's overcommit, a process killed mid-run)."""

from __future__ import annotations

import os

import torch

__all__ = ["LARGE_QUBITS", "device_memory_bytes", "state_memory_refusal"]

#: From this many qubits on a call checks its memory (below, a state is at most a few
#: MiB per row and the check would only cost time).
LARGE_QUBITS = 20


def device_memory_bytes(device: torch.device) -> int | None:
    """Total memory of ``device`` (physical memory for the CPU), or None if unknown."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return int(torch.cuda.get_device_properties(index).total_memory)
    if device.type == "cpu":
        try:
            return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
        except (ValueError, OSError, AttributeError):  # not POSIX
            return None
    return None


def state_memory_refusal(
    n: int, batch: int, dtype: torch.dtype, device: torch.device
) -> str | None:
    """Why a run whose two state copies (the least a forward keeps: the state and the
    buffer a gate writes into) exceed the device's whole memory is refused (the line
    the simulator raises), or None when they fit or the memory is unknown."""
    total = device_memory_bytes(device)
    itemsize = torch.empty(0, dtype=dtype).element_size()
    need = 2 * batch * 2**n * itemsize
    if total is None or need <= total:
        return None
    return (
        f"a state vector of {n} qubits for a batch of {batch} needs at least "
        f"{_size(need)} (two {str(dtype).removeprefix('torch.')} copies); "
        f"{'this machine' if device.type == 'cpu' else device} has {_size(total)}. "
        "Use fewer qubits or a smaller batch"
    )


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"
