"""A user's own modules, imported by name: benchmark task factories and plug-ins.

A space, strategy or device profile of your own is registered by importing the module
that registers it (``register_space``, ``STRATEGIES.add``, ``DEVICES.add``). From
Python that is your own ``import``; the ``quarch`` command imports the modules named
in ``QUARCH_PLUGINS`` (comma-separated, as pytest reads ``PYTEST_PLUGINS``) before it
reads any flag, so ``quarch search --space yours``, ``quarch strategies yours`` and
``quarch search --resume`` of a run made with them work as for the built-in ones.
``quarch benchmark --task package.module:function`` imports its module the same way.

A module is looked up as Python would, then in the current folder (the command is
usually run from the project that holds it); an import that fails is one line naming
the module and why.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Mapping
from types import ModuleType

from quarch._errors import ConfigError

__all__ = ["PLUGINS_VARIABLE", "import_plugins", "import_user_module", "plugin_hint"]

#: The environment variable naming the modules ``quarch`` imports first.
PLUGINS_VARIABLE = "QUARCH_PLUGINS"


def import_user_module(name: str, what: str) -> ModuleType:
    """Import module ``name`` (a ``what``, for the error line), from the current folder
    when Python's path lacks it.

    Raises:
        ConfigError: it cannot be found, or it failed while it was imported.
    """
    try:
        return _import_from_path_or_folder(name)
    except ModuleNotFoundError as e:
        raise ConfigError(f"cannot import {what} {name!r}: {e}") from None
    except Exception as e:  # the user's module failed on import: say which and why
        raise ConfigError(f"importing {what} {name!r} failed: {type(e).__name__}: {e}") from None


def _import_from_path_or_folder(name: str) -> ModuleType:
    """``import_module(name)``, tried again with the current folder on the path when
    the module itself (not one it imports) was not found there. The installed
    ``quarch`` command has its own folder on the path, not the current one (``python
    -m quarch`` has both), so a plug-in beside the user is found this second time,
    and what it raises while it runs must reach the same refusal as the first."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        cwd = os.getcwd()
        if cwd in sys.path or e.name != name.split(".")[0]:
            raise
        sys.path.insert(0, cwd)
        return importlib.import_module(name)


def import_plugins(environ: Mapping[str, str] | None = None) -> list[str]:
    """Import every module ``QUARCH_PLUGINS`` names; return their names.

    Raises:
        ConfigError: a module that cannot be imported (named, with the variable).
    """
    env = os.environ if environ is None else environ
    names = [n.strip() for n in env.get(PLUGINS_VARIABLE, "").split(",") if n.strip()]
    for name in names:
        import_user_module(name, f"module (from {PLUGINS_VARIABLE})")
    return names


def plugin_hint(kind: str) -> str:
    """What to add to the line refusing an unknown ``kind`` (space, strategy, device
    profile) that a run or a file names: how a plug-in of that kind is loaded."""
    return (
        f"; a {kind} of your own is registered by importing its module: name it in "
        f"{PLUGINS_VARIABLE} ({PLUGINS_VARIABLE}=mypkg.plugins quarch ...)"
    )
