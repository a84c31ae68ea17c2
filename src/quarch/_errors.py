"""Errors a user can cause.

Every error that the user can fix derives from :class:`QuarchError`; the CLI prints
its message as one line (``error: ...``) and exits with code 2. Messages say what was
given and what is allowed, so the user knows what to change.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DataError",
    "QuarchError",
    "RunError",
    "RunExistsError",
    "SpaceError",
]


class QuarchError(Exception):
    """Base class of every error a user of quarch can cause and fix."""


class SpaceError(QuarchError, ValueError):
    """An architecture or a search-space definition is invalid."""


class ConfigError(QuarchError, ValueError):
    """A search configuration (CLI flag, config file, argument) is invalid."""


class DataError(QuarchError):
    """A data set is unknown, missing, corrupt or cannot be downloaded."""


class RunError(QuarchError):
    """A run folder is missing, incompatible or cannot be resumed."""


class RunExistsError(RunError):
    """A new run was asked for in a folder that already holds one.

    Attributes:
        run_dir (str): the folder, so the command line can word its own advice.
    """

    def __init__(self, message: str, run_dir: str) -> None:
        super().__init__(message)
        self.run_dir = run_dir
