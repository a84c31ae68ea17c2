"""quarch: quantum and quantum-inspired neural architecture search.

Importing quarch has no side effects and does not import torch, Qiskit or PennyLane;
subpackages load what they need when they are used.
"""

from __future__ import annotations

from quarch._errors import ConfigError, DataError, QuarchError, RunError, SpaceError

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataError",
    "QuarchError",
    "RunError",
    "SpaceError",
    "__version__",
]
