"""Every option of every pruner is checked by ``make_pruner`` before Optuna sees it, in one
line that names the key, the value and what is allowed, the same line from the API, a
new run's ``--pruner-option`` and a resumed run's (session 37).

Before, ``--pruner median --pruner-option n_startup_trials=abc`` said Python's ``'<' not
supported between instances of 'str' and 'int'``, and ``n_startup_trials=2.5`` or
``n_min_trials=true`` were taken (Optuna checks the ranges of its integer options, not
their type); a name a pruner lacks was refused in a resumed run and from the API with
``MedianPruner.__init__() got an unexpected keyword argument``. The truth for which
options are integers is Optuna's own signature (annotated ``int``), for the names each
pruner takes its classes.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import optuna
import pytest

from quarch._errors import ConfigError
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.study import check_search
from quarch.study._storage import make_pruner

_CLASSES: dict[str, type] = {
    "none": optuna.pruners.NopPruner,
    "median": optuna.pruners.MedianPruner,
    "hyperband": optuna.pruners.HyperbandPruner,
}
#: Values no integer option takes: a word, fractions, JSON's true and null.
_NOT_INTEGERS: tuple[object, ...] = ("abc", 2.5, 2.0, True, False, None, [1])


def _integer_options(cls: type) -> list[str]:
    """The options Optuna annotates as ``int`` alone (``max_resource`` is ``str | int``)."""
    return [
        name for name, p in inspect.signature(cls).parameters.items()
        if p.annotation in (int, "int")
    ]  # fmt: skip


def test_optuna_documents_these_integer_options() -> None:
    """The truth the cases below read, pinned so that an Optuna that renamed one is seen."""
    assert _integer_options(optuna.pruners.NopPruner) == []
    assert _integer_options(optuna.pruners.MedianPruner) == [
        "n_startup_trials", "n_warmup_steps", "interval_steps", "n_min_trials",
    ]  # fmt: skip
    assert _integer_options(optuna.pruners.HyperbandPruner) == [
        "min_resource", "reduction_factor", "bootstrap_count",
    ]  # fmt: skip


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
@pytest.mark.parametrize("value", _NOT_INTEGERS, ids=repr)
def test_an_integer_option_that_is_no_integer_is_one_line(pruner: str, value: object) -> None:
    for key in _integer_options(_CLASSES[pruner]):
        with pytest.raises(ConfigError) as e:
            make_pruner(pruner, {key: value})
        assert str(e.value) == (
            f"--pruner {pruner}: bad pruner_options {{{key!r}: {value!r}}}: {key} must be an "
            f"integer; got {value!r}"
        )


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_each_integer_option_given_as_an_integer_reaches_optuna(pruner: str) -> None:
    """Every integer option at a value in its range, all at once, is Optuna's pruner with
    those values (read back from its attributes, ``_<name>``)."""
    cls = _CLASSES[pruner]
    values: dict[str, object] = {key: 2 + i for i, key in enumerate(_integer_options(cls))}
    if pruner == "hyperband":
        values["max_resource"] = 40  # bootstrap_count > 0 needs one
    made = make_pruner(pruner, values)
    assert type(made) is cls
    for key, v in values.items():
        assert getattr(made, f"_{key}") == v


@pytest.mark.parametrize(
    ("pruner", "options", "reason"),
    [
        ("median", {"patience": 3},
         "pruner 'median' takes no option 'patience'; its options: n_startup_trials, "
         "n_warmup_steps, interval_steps, n_min_trials (Optuna's MedianPruner)"),
        ("hyperband", {"min_resourc": 1, "eta": 3},
         "pruner 'hyperband' takes no option 'min_resourc', 'eta'; its options: min_resource, "
         "max_resource, reduction_factor, bootstrap_count (Optuna's HyperbandPruner) "
         "('min_resourc': did you mean 'min_resource'?)"),
        ("none", {"n_startup_trials": 1}, "pruner 'none' takes no option 'n_startup_trials'; "
         "it takes none"),
    ],
)  # fmt: skip
def test_an_option_the_pruner_lacks_is_named_with_its_options(
    pruner: str, options: dict[str, Any], reason: str
) -> None:
    cls = _CLASSES[pruner]
    for key in options:  # Optuna's class refuses it: the truth for "lacks"
        with pytest.raises(TypeError):
            cls(**{key: 1})
    with pytest.raises(ConfigError) as e:
        make_pruner(pruner, options)
    assert str(e.value) == f"--pruner {pruner}: bad pruner_options {options}: {reason}"


_LINE = (
    "--pruner median: bad pruner_options {'n_startup_trials': 'abc'}: n_startup_trials "
    "must be an integer; got 'abc'"
)


def test_the_api_the_command_line_and_a_resume_say_the_same_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    base = ["search", "--space", "mlp", "--objectives", "val_error", "--pruner", "median"]
    cfg = SearchConfig(space="mlp", objectives=["val_error"], pruner="median",
                       pruner_options={"n_startup_trials": "abc"}, out="api")  # fmt: skip
    with pytest.raises(ConfigError) as e:
        check_search(cfg)
    assert str(e.value) == _LINE
    capsys.readouterr()
    code = main([*base, "--pruner-option", "n_startup_trials=abc", "--out", "new"])
    assert (code, capsys.readouterr().err) == (2, f"error: {_LINE}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # refused before any folder
    # a run whose saved options are fine, resumed with a bad one (it replaces them)
    code = main([*base, "--pruner-option", "n_startup_trials=1", "--trials", "1", "--epochs",
                 "1", "--max-train", "30", "--out", "run", "--quiet"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    capsys.readouterr()
    code = main(["search", "--resume", "run", "--pruner-option", "n_startup_trials=abc",
                 "--trials", "2", "--quiet"])  # fmt: skip
    assert (code, capsys.readouterr().err) == (2, f"error: {_LINE}\n")
    code = main(["search", "--resume", "run", "--pruner-option", "n_startup_trial=1",
                 "--trials", "2", "--quiet"])  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == (
        "error: --pruner median: bad pruner_options {'n_startup_trial': 1}: pruner 'median' "
        "takes no option 'n_startup_trial'; its options: n_startup_trials, n_warmup_steps, "
        "interval_steps, n_min_trials (Optuna's MedianPruner) ('n_startup_trial': did you "
        "mean 'n_startup_trials'?)\n"
    )
