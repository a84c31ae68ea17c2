"""The one place quarch emits warnings from, so they can be filtered as a group."""

from __future__ import annotations

import os
import sys
import warnings
from types import FrameType

__all__ = ["QuarchWarning", "warn"]

#: quarch's package folder: frames whose file lies under it are quarch's own.
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class QuarchWarning(UserWarning):
    """Category of every warning quarch emits."""


def warn(message: str) -> None:
    """Emit ``message`` as a :class:`QuarchWarning`, attributed to the code that called
    into quarch: the caller of quarch's outermost frame on the stack.

    A warning raised deep in a search was shown at quarch's own line
    (``.../quarch/study/_skips.py:135``), which told a notebook's user nothing of which
    cell raised it; now it names the user's call, as pandas does (its
    ``find_stack_level``). Unlike pandas, the caller of quarch's *outermost* frame is
    named, not the first frame outside it: a search calls Optuna, which calls quarch's
    sampler back, and the first frame outside quarch there is Optuna's. Python 3.12's
    ``skip_file_prefixes`` does pandas' part, but quarch runs on 3.11. The frames are
    counted here, in the function that calls ``warnings.warn``, so the count holds
    whatever wraps this function (mutmut's trampolines do).
    """
    frame: FrameType | None = sys._getframe(0)
    level, outermost = 1, 1  # warnings.warn's stacklevel of each frame; this one is 1
    while frame is not None:
        if frame.f_code.co_filename.startswith(_PACKAGE):
            outermost = level
        frame = frame.f_back
        level += 1
    # its caller; quarch's own outermost frame when nothing called it (python -m quarch)
    warnings.warn(message, QuarchWarning, stacklevel=min(outermost + 1, level - 1))
