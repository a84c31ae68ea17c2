"""Cost models: what an architecture costs to store, run and simulate."""

from __future__ import annotations

from quarch.cost.classical import count_flops, count_params
from quarch.cost.edge import (
    DEVICE_PROFILES,
    DeviceProfile,
    default_budgets,
    edge_costs,
    get_device,
    list_devices,
)

__all__ = [
    "DEVICE_PROFILES",
    "DeviceProfile",
    "count_flops",
    "count_params",
    "default_budgets",
    "edge_costs",
    "get_device",
    "list_devices",
]
