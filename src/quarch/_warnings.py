"""The one place quarch emits warnings from, so they can be filtered as a group."""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["QuarchWarning", "warn"]

#: quarch's package folder: frames whose file lies under it are quarch's own.
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class QuarchWarning(UserWarning):
    """Category of every warning quarch emits."""


def warn(message: str, *, stacklevel: int | None = None) -> None:
    """Emit ``message`` as a :class:`QuarchWarning`, attributed to the code that called
    into quarch (``stacklevel``: to that many frames above the caller instead).

    A warning raised deep in a search was shown at quarch's own line
    (``.../quarch/study/_skips.py:135``), which told a notebook's user nothing of which
    cell raised it; now it names the user's call, as pandas does (its
    ``find_stack_level``). Unlike pandas, the caller of quarch's *outermost* frame is
    named, not the first frame outside it: a search calls Optuna, which calls quarch's
    sampler back, and the first frame outside quarch there is Optuna's. Python 3.12's
    ``skip_file_prefixes`` does pandas' part, but quarch runs on 3.11.
    """
    if stacklevel is None:
        stacklevel = _caller_of_quarch()
    warnings.warn(message, QuarchWarning, stacklevel=stacklevel + 1)


def _caller_of_quarch() -> int:
    """How many frames above :func:`warn`'s caller (1: the caller itself) the caller of
    quarch's outermost frame on the stack is, counted as ``warnings.warn``'s
    ``stacklevel``; the outermost frame when quarch's is the last (``python -m
    quarch``)."""
    frame = sys._getframe(2)  # warn's caller (0 is this function, 1 is warn)
    level, outermost = 1, 0
    while frame is not None:
        if frame.f_code.co_filename.startswith(_PACKAGE):
            outermost = level
        frame = frame.f_back
        level += 1
    return min(outermost + 1, level - 1)
