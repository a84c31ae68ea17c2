"""The Python API's argument checks: a config, a space, an evaluator and overrides
of the wrong kind are refused in one line before anything is written (each failed deep
in the search loop with an ``AttributeError`` or ``ValueError``, a run folder already
written)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quarch._errors import ConfigError
from quarch.config import SearchConfig
from quarch.space import Space

__all__ = ["check_config", "check_objects", "check_overrides"]


def _a(name: str) -> str:
    """``name`` with its indefinite article (``an int``, ``a dict``)."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def check_config(config: Any, caller: str) -> None:
    """Refuse, in one line, a ``config`` that is not a :class:`SearchConfig` (a dict,
    as a TOML file reads, failed deep in the loop with ``AttributeError``)."""
    if isinstance(config, SearchConfig):
        return
    hint = (
        "build one with SearchConfig.from_dict(d), which checks the keys and their types, "
        "or SearchConfig.from_file(path) for a .toml, .json or .yaml file"
        if isinstance(config, Mapping)
        else "build one with SearchConfig(space=..., ...)"
    )
    raise ConfigError(
        f"{caller}() takes a quarch.config.SearchConfig; got {_a(type(config).__name__)}: {hint}"
    )


def _evaluator_problem(evaluator: object) -> str | None:
    """What keeps ``evaluator`` from being a :class:`~quarch.evaluate.Evaluator`, or
    ``None``."""
    if isinstance(evaluator, type):
        return (
            f"it is the class {evaluator.__name__}, not an instance: pass {evaluator.__name__}(...)"
        )
    if not callable(getattr(evaluator, "evaluate", None)):
        return f"it is {_a(type(evaluator).__name__)} with no evaluate() method"
    if not hasattr(evaluator, "fingerprint"):
        return f"{type(evaluator).__name__} has no fingerprint attribute"
    if not isinstance(evaluator.fingerprint, str):  # type: ignore[attr-defined]
        given = _a(type(evaluator.fingerprint).__name__)  # type: ignore[attr-defined]
        return f"{type(evaluator).__name__}.fingerprint is {given}, not a str"
    return None


def check_objects(space: object, evaluator: object) -> None:
    """Refuse, in one line and before anything is written, a ``space`` or ``evaluator``
    given to :func:`run_search` that is not of the kind the loop uses (they failed
    deep in the loop with ``AttributeError``, a run folder already written)."""
    if space is not None and not isinstance(space, Space):
        raise ConfigError(
            f"run_search(space=...) takes a quarch.space.Space; got {_a(type(space).__name__)}: "
            "build one with Space([Choice(name, options), ...], name=...)"
        )
    problem = None if evaluator is None else _evaluator_problem(evaluator)
    if problem is not None:
        raise ConfigError(
            f"run_search(evaluator=...) takes an object of the quarch.evaluate.Evaluator "
            f"protocol: a method evaluate(arch, *, seed) returning a dict of metrics and a "
            f'fingerprint attribute (a str naming the data it scores on, "" for none); '
            f"{problem}"
        )


def check_overrides(overrides: object) -> dict[str, Any]:
    """``overrides`` as a dict; refuse, in one line, anything but a mapping (a list of
    names failed with ``ValueError: dictionary update sequence ...``)."""
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(
            f"overrides must be a mapping of config field to its new value (such as "
            f"{{'workers': 2}}); got {_a(type(overrides).__name__)}"
        )
    return dict(overrides)
