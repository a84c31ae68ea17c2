"""A ``--pruner-option`` name the pruner does not take is refused in the user's terms,
naming the pruner's options, before torch (session 36; session 33's audit).

Before, ``--pruner median --pruner-option foo=1`` said Python's ``bad pruner_options
{'foo': 1}: MedianPruner.__init__() got an unexpected keyword argument 'foo'``, and an
option given without ``--pruner`` ``NopPruner() takes no arguments``. The truth for the
options each pruner takes is Optuna's own class, called with each name, and the
search's ``make_pruner``, which refuses every other.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import optuna
import pytest

from quarch._errors import ConfigError
from quarch._pruner_options import check_pruner_options
from quarch.study._storage import make_pruner

from ._fresh_cli import fresh

_CLASSES: dict[str, type] = {
    "median": optuna.pruners.MedianPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}


def _taken(cls: type) -> list[str]:
    """The keyword names ``cls`` takes, each tried on the class itself with its default."""
    names = []
    for name, param in inspect.signature(cls).parameters.items():
        cls(**{name: param.default})  # Optuna takes it
        names.append(name)
    with pytest.raises(TypeError):
        cls(foo=1)
    return names


@pytest.mark.parametrize(
    ("pruner", "option", "hint"),
    [
        ("median", "foo", ""),
        ("median", "n_startup_trial", " ('n_startup_trial': did you mean 'n_startup_trials'?)"),
        ("hyperband", "min_resourc", " ('min_resourc': did you mean 'min_resource'?)"),
    ],
)
def test_an_option_the_pruner_lacks_names_its_options_without_torch(
    pruner: str, option: str, hint: str, tmp_path: Path
) -> None:
    cls = _CLASSES[pruner]
    with pytest.raises(ConfigError, match="bad pruner_options"):
        make_pruner(pruner, {option: 1})  # the search refuses it too, later
    args = ["search", "--space", "mlp", "--objectives", "val_error", "--pruner", pruner,
            "--pruner-option", f"{option}=1", "--out", "r"]  # fmt: skip
    code, loaded, err = fresh(args, tmp_path)
    line = (  # make_pruner's line: the API's and the command line's (session 38)
        f"--pruner {pruner}: bad pruner_options {{{option!r}: 1}}: "
        f"pruner {pruner!r} takes no option {option!r}; its options: "
        f"{', '.join(_taken(cls))} (Optuna's {cls.__name__}){hint}"
    )
    assert (code, loaded, err) == (2, [], f"error: {line}\n")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError) as e:  # the same in this process
        check_pruner_options(pruner, {option: 1})
    assert str(e.value) == line


def test_an_option_without_a_pruner_says_which_pruners_take_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bad pruner_options"):
        make_pruner("none", {"n_startup_trials": 1})
    args = ["search", "--space", "mlp", "--pruner-option", "n_startup_trials=1", "--out", "r"]
    code, loaded, err = fresh(args, tmp_path)
    line = (  # make_pruner's line (session 38: the command line's own words are gone)
        "--pruner none: bad pruner_options {'n_startup_trials': 1}: pruner 'none' takes no "
        "option 'n_startup_trials'; it takes none"
    )
    assert (code, loaded, err) == (2, [], f"error: {line}\n")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError) as e:  # the same in this process; two names
        check_pruner_options("none", {"n_startup_trials": 1, "foo": 2})
    assert str(e.value) == line.replace("}", ", 'foo': 2}").replace(
        "option 'n_startup_trials'", "option 'n_startup_trials', 'foo'"
    )


def test_every_option_a_pruner_takes_passes_the_early_check() -> None:
    """Each name Optuna's class takes is left to ``make_pruner`` (which builds it)."""
    for pruner, cls in _CLASSES.items():
        options = {
            n: p.default for n, p in inspect.signature(cls).parameters.items() if n in _taken(cls)
        }
        check_pruner_options(pruner, options)
        assert isinstance(make_pruner(pruner, options), cls)
    check_pruner_options("none", {})
    check_pruner_options("nosuch", {"foo": 1})  # an unknown pruner: the config's line
