"""The core types of a search space: `Choice`, `Space` and their encodings.

The spaces themselves live in :mod:`quarch.spaces` (one room each); this package holds
only what every space, strategy and benchmark shares, and imports nothing else of
quarch's, so any layer can use it.
"""

from __future__ import annotations

from quarch.space._space import Arch, Choice, Encoding, Space, option_list

__all__ = ["Arch", "Choice", "Encoding", "Space", "option_list"]
