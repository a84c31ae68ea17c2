"""Search spaces: `Choice`, `Space`, encodings, and the built-in spaces.

Built-in spaces are listed in :data:`SPACES`, a registry of name -> builder taking
keyword options; ``quarch search --space NAME`` reads it.
"""

from __future__ import annotations

from collections.abc import Callable

from quarch._registry import Registry
from quarch.space._space import Arch, Choice, Encoding, Space
from quarch.space.mlp import mlp_space

__all__ = ["SPACES", "Arch", "Choice", "Encoding", "Space", "get_space", "mlp_space"]

SPACES: Registry[Callable[..., Space]] = Registry("space")
SPACES.add(
    "mlp", mlp_space, "fully connected classifier: 1-3 hidden layers, widths, activation, lr"
)


def _lazy(module: str, attr: str) -> Callable[..., Space]:
    """A builder that imports its module only when a space is built (keeps import light)."""

    def build(**options: object) -> Space:
        import importlib

        return getattr(importlib.import_module(module), attr)(**options)

    build.__name__ = attr
    return build


SPACES.add(
    "nb201",
    _lazy("quarch.space.nb201", "nb201_space"),
    "NAS-Bench-201 cell: 5 operations on 6 edges (15625 cells, tabular)",
)
SPACES.add(
    "cnn",
    _lazy("quarch.space.cnn", "cnn_space"),
    "edge CNN (MobileNetV2/MCUNet family): kernel, expansion, width, depth, SE, act, bits",
)
SPACES.add(
    "hqnn",
    _lazy("quarch.space.hqnn", "hqnn_space"),
    "hybrid quantum-classical net: embedding, qubits, layers, rotations, entanglement",
)


def get_space(name: str, **options: object) -> Space:
    """Build the registered space ``name`` with ``options``."""
    return SPACES.get(name)(**options)
