"""A user's strategy's options, read from its factory (``strategy_options``).

Before session 35 ``strategy_options`` returned ``None`` for every strategy a user
registered, so ``quarch strategies NAME`` listed nothing for it and a search passed a
mistyped option straight to the factory: a factory with a default for the option ran
with that default and said nothing (``--strategy-option kep=0.8`` for ``keep``), one
without ``**options`` failed on the first trial's sampler with Python's ``TypeError``
text. Now the factory's own keyword parameters (those besides what quarch passes it:
``seed``, ``space``, ``objective``, ``cheap_metrics``) are its options, listed and checked
as a built-in's; a factory taking ``**options`` accepts anything (``None``, as before).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest

from quarch import ConfigError
from quarch.cli import main
from quarch.config import SearchConfig
from quarch.objectives import Objective
from quarch.search import (
    REQUIRED,
    STRATEGIES,
    check_strategy_options,
    make_sampler,
    strategy_options,
    uses_cheap_metrics,
)
from quarch.space import Choice, Space

SPACE = Space([Choice("a", [1, 2, 3]), Choice("b", ["x", "y"])], name="opts")
OBJ = Objective(["val_error"])
seen: dict[str, Any] = {}


class _Sampler(optuna.samplers.RandomSampler):
    """What the factories below build: a random sampler that remembers its options."""

    def __init__(self, *, seed: int, **options: Any) -> None:
        super().__init__(seed=seed)
        seen.clear()
        seen.update(options)


def tempered(
    *, seed: int, space: Space, objective: Objective, temperature: float = 0.5, restarts: int = 3
) -> _Sampler:
    return _Sampler(seed=seed, temperature=temperature, restarts=restarts)


def needs_rate(*, seed: int, space: Space, objective: Objective, rate: float) -> _Sampler:
    return _Sampler(seed=seed, rate=rate)


def needs_two(*, seed: int, space: Space, objective: Objective, lo: int, hi: int) -> _Sampler:
    return _Sampler(seed=seed, lo=lo, hi=hi)


def screened(
    *, seed: int, space: Space, objective: Objective, cheap_metrics: Any = None, screen: int = 4
) -> _Sampler:
    return _Sampler(seed=seed, cheap_metrics=cheap_metrics, screen=screen)


def anything(
    *, seed: int, space: Space, objective: Objective, depth: int = 2, **options: Any
) -> Any:
    return _Sampler(seed=seed, depth=depth, **options)


class ClassFactory(_Sampler):
    """A sampler class registered as its own factory."""

    def __init__(self, *, seed: int, space: Space, objective: Objective, beta: float = 1.0) -> None:
        super().__init__(seed=seed, beta=beta)


FACTORIES: dict[str, Callable[..., Any]] = {
    "tempered-user": tempered,
    "needs-rate-user": needs_rate,
    "needs-two-user": needs_two,
    "screened-user": screened,
    "anything-user": anything,
    "class-user": ClassFactory,
}


@pytest.fixture(autouse=True)
def registered() -> Iterator[None]:
    for name, factory in FACTORIES.items():
        STRATEGIES.add(name, factory, f"a user's strategy ({name})")
    try:
        yield
    finally:
        for name in FACTORIES:
            STRATEGIES.remove(name)


def test_a_users_options_are_its_factorys_keywords_less_quarchs() -> None:
    assert strategy_options("tempered-user") == {"temperature": 0.5, "restarts": 3}
    assert strategy_options("class-user") == {"beta": 1.0}
    # ``cheap_metrics`` is quarch's to pass, not an option; the factory still gets it
    assert strategy_options("screened-user") == {"screen": 4}
    assert uses_cheap_metrics("screened-user")

    def cheap(arch: Mapping[str, Any]) -> Mapping[str, float]:
        return {"params": 1.0}

    make_sampler("screened-user", seed=0, space=SPACE, objective=OBJ, cheap_metrics=cheap)
    assert seen == {"cheap_metrics": cheap, "screen": 4}


def test_a_listed_option_reaches_the_factory_and_a_typo_is_refused() -> None:
    make_sampler("tempered-user", seed=0, space=SPACE, objective=OBJ, temperature=2.0)
    assert seen == {"temperature": 2.0, "restarts": 3}
    line = (
        "strategy 'tempered-user' takes no option 'temprature'; its options: temperature, "
        "restarts (`quarch strategies tempered-user`) ('temprature': did you mean "
        "'temperature'?)"
    )
    with pytest.raises(ConfigError) as e:
        check_strategy_options("tempered-user", {"temprature": 2.0})
    assert str(e.value) == line
    seen.clear()
    with pytest.raises(ConfigError) as e:  # before the factory is called
        make_sampler("tempered-user", seed=0, space=SPACE, objective=OBJ, temprature=2.0)
    assert str(e.value) == line and seen == {}
    # what quarch passes is not the user's to give, even where the factory names it; a
    # config key written below [strategy_options] is told so, beside the spelling hint
    with pytest.raises(ConfigError) as e:
        check_strategy_options("tempered-user", {"seed": 3, "temprature": 2.0})
    assert str(e.value) == (
        "strategy 'tempered-user' takes no option 'seed', 'temprature'; its options: "
        "temperature, restarts (`quarch strategies tempered-user`) ('seed' is a config key: "
        "in a TOML file, keys below [strategy_options] belong to it; put them above it) "
        "('temprature': did you mean 'temperature'?)"
    )
    with pytest.raises(ConfigError, match=r"takes no option 'x'; its options: beta \("):
        check_strategy_options("class-user", {"x": 1})


def test_an_option_without_a_default_is_required() -> None:
    assert strategy_options("needs-rate-user") == {"rate": REQUIRED}
    assert repr(REQUIRED) == "(required)"
    with pytest.raises(ConfigError) as e:
        check_strategy_options("needs-rate-user", {})
    assert str(e.value) == (
        "strategy 'needs-rate-user' needs option 'rate': --strategy-option rate=VALUE"
    )
    with pytest.raises(ConfigError) as e:
        check_strategy_options("needs-two-user", {"lo": 1})
    assert str(e.value) == (
        "strategy 'needs-two-user' needs option 'hi': --strategy-option hi=VALUE"
    )
    with pytest.raises(ConfigError) as e:
        check_strategy_options("needs-two-user", {})
    assert str(e.value) == (
        "strategy 'needs-two-user' needs options 'lo', 'hi': --strategy-option lo=VALUE "
        "--strategy-option hi=VALUE"
    )
    check_strategy_options("needs-rate-user", {"rate": 0.1})
    make_sampler("needs-rate-user", seed=0, space=SPACE, objective=OBJ, rate=0.1)
    assert seen == {"rate": 0.1}


def test_a_factory_taking_any_option_is_checked_only_for_quarchs() -> None:
    assert strategy_options("anything-user") is None
    check_strategy_options("anything-user", {"whatever": 1})
    make_sampler("anything-user", seed=0, space=SPACE, objective=OBJ, whatever=1)
    assert seen == {"depth": 2, "whatever": 1}
    with pytest.raises(ConfigError, match=r"takes no option 'objective'; quarch sets those"):
        check_strategy_options("anything-user", {"objective": 1})


def test_a_replaced_built_in_lists_the_replacements_options() -> None:
    entry = next(e for e in STRATEGIES.entries() if e.name == "tpe")
    assert "multivariate" in (strategy_options("tpe") or {})
    STRATEGIES.remove("tpe")
    try:
        STRATEGIES.add("tpe", tempered, "mine")
        assert strategy_options("tpe") == {"temperature": 0.5, "restarts": 3}
        with pytest.raises(ConfigError, match=r"takes no option 'multivariate'"):
            check_strategy_options("tpe", {"multivariate": True})
    finally:
        STRATEGIES.remove("tpe")
        STRATEGIES.add(entry.name, entry.factory, entry.description)


def test_the_cli_lists_a_users_options_and_a_search_refuses_a_typo(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    capsys.readouterr()
    assert main(["strategies", "tempered-user", "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["options"] == {"temperature": 0.5, "restarts": 3}
    assert main(["strategies", "needs-rate-user", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["options"] == {"rate": "(required)"}
    assert main(["strategies", "tempered-user"]) == 0
    table = capsys.readouterr().out
    assert "temperature" in table and "0.5" in table and "restarts" in table
    out = tmp_path / "run"
    code = main(["search", "--space", "mlp", "--strategy", "tempered-user",
                 "--strategy-option", "temprature=2", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(
        "error: strategy 'tempered-user' takes no option 'temprature'"
    )
    assert not out.exists()
    # the Python search refuses it the same way, before anything is written
    from quarch.study import check_search

    config = SearchConfig(space="mlp", strategy="tempered-user", out=str(out),
                          strategy_options={"restart": 2})  # fmt: skip
    with pytest.raises(
        ConfigError, match=r"no option 'restart'; its options: temperature, restarts"
    ):
        check_search(config)
    assert not out.exists()
