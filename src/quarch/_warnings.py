"""The one place quarch emits warnings from, so they can be filtered as a group."""

from __future__ import annotations

import warnings

__all__ = ["QuarchWarning", "warn"]


class QuarchWarning(UserWarning):
    """Category of every warning quarch emits."""


def warn(message: str, *, stacklevel: int = 2) -> None:
    """Emit ``message`` as a :class:`QuarchWarning` attributed to the caller."""
    warnings.warn(message, QuarchWarning, stacklevel=stacklevel + 1)
