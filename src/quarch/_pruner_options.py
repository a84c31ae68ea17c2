"""The one check of ``--pruner-option`` (a config's ``pruner_options``): names and integer
types, in one line that the API, a new run's command line and a resumed run share.

It lives below the search loop (Optuna alone, no SQLAlchemy, no torch) so that
``quarch search`` can refuse a mistyped option before it imports the loop, as it
refuses a mistyped strategy option, while :func:`quarch.study._storage.make_pruner`
(which every run and the API pass) calls the same function. The command line had a
check of its own in other words (``--pruner-option 'x' needs --pruner median or
hyperband``) that the API never said.
"""

from __future__ import annotations

import inspect

from quarch._errors import ConfigError, did_you_mean

__all__ = [
    "INTEGER_OPTIONS",
    "PRUNER_CLASSES",
    "bad_pruner_options",
    "check_pruner_options",
    "option_problems",
]

#: Optuna's pruner class (in ``optuna.pruners``) for each ``--pruner`` name.
PRUNER_CLASSES = {"none": "NopPruner", "median": "MedianPruner", "hyperband": "HyperbandPruner"}

#: The options Optuna annotates ``int`` (it checks their ranges, not their type: 2.5 and
#: ``true`` were taken, ``"abc"`` failed at the first comparison).
INTEGER_OPTIONS = frozenset(
    {"n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials",
     "min_resource", "reduction_factor", "bootstrap_count"}
)  # fmt: skip


def bad_pruner_options(name: str, options: dict[str, object], why: Exception) -> ConfigError:
    """The one line of options pruner ``name`` refuses, with the reason ``why``."""
    return ConfigError(f"--pruner {name}: bad pruner_options {options}: {why}")


def check_pruner_options(name: str, options: dict[str, object]) -> None:
    """Refuse an option pruner ``name`` does not take, named with the ones it does
    (Optuna said ``MedianPruner.__init__() got an unexpected keyword argument``), and an
    integer option that is no integer. An unknown ``name`` is left to the caller (the
    config's line, or :func:`~quarch.study._storage.make_pruner`'s).

    Raises:
        ConfigError: :func:`bad_pruner_options`'s line.
    """
    if name not in PRUNER_CLASSES:
        return
    try:
        option_problems(name, options)
    except ValueError as e:
        raise bad_pruner_options(name, options, e) from None


def option_problems(name: str, options: dict[str, object]) -> None:
    """:func:`check_pruner_options`'s reasons, as ``ValueError`` (``make_pruner`` joins
    them with Optuna's own refusals into one line)."""
    import optuna

    cls = getattr(optuna.pruners, PRUNER_CLASSES[name])
    takes = list(inspect.signature(cls).parameters)
    unknown = [k for k in options if k not in takes]
    if unknown:
        names = ", ".join(map(repr, unknown))
        known = f"its options: {', '.join(takes)} (Optuna's {cls.__name__})" if takes else (
            "it takes none"
        )  # fmt: skip
        raise ValueError(
            f"pruner {name!r} takes no option {names}; {known}{did_you_mean(unknown, takes)}"
        )
    for key, value in options.items():
        if key in INTEGER_OPTIONS and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{key} must be an integer; got {value!r}")
