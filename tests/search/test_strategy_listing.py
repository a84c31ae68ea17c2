"""What ``quarch strategies NAME`` lists is what each strategy takes and runs with.

``strategy_options`` reads the samplers' signatures; these tests hold it to the
samplers' behaviour: a search given every listed option at its listed default proposes
exactly what a search given none proposes (so the defaults shown are the ones in use,
the strategies' own included), and an option not listed is refused in one line.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import optuna
import pytest

from quarch._errors import ConfigError
from quarch.objectives import Objective
from quarch.search import STRATEGIES, check_strategy_options, make_sampler, strategy_options
from quarch.search._surrogate import single_thread
from quarch.space import Choice, Space

SPACE = Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate((4, 3, 5, 3))])
OBJ = Objective(["val_error", "params"], weights=[1.0, 1e-4])


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def _cheap(arch: Mapping[str, Any]) -> dict[str, float]:
    return {"params": 100.0 * sum((j + 1) * int(arch[f"c{j}"]) for j in range(len(arch)))}


def _trace(name: str, n: int, **options: Any) -> list[tuple[int, ...]]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = make_sampler(name, seed=3, space=SPACE, objective=OBJ, cheap_metrics=_cheap,
                           **options)  # fmt: skip
    study = optuna.create_study(sampler=sampler)

    def value(trial: optuna.Trial) -> float:
        idx = SPACE.to_indices(SPACE.suggest(trial))
        return float(sum((i * 7 + j * 3) % 5 for j, i in enumerate(idx)))

    study.optimize(value, n_trials=n)
    return [tuple(SPACE.to_indices(SPACE.from_params(t.params))) for t in study.trials]


BUILT_IN = [n for n in STRATEGIES.names() if n != "qubo-dimod"] + ["qubo-dimod"]


@pytest.mark.parametrize("name", BUILT_IN)
def test_every_listed_default_is_the_one_in_use(name: str) -> None:
    pytest.importorskip("dimod") if name.startswith("qubo") else None
    options = strategy_options(name)
    assert options is not None
    # past every strategy's random start (qubo-sqa's 20 draws), where its own choices begin
    n = 23
    assert _trace(name, n, **options) == _trace(name, n)


def test_the_strategies_own_defaults_override_the_samplers() -> None:
    sqa, sa = strategy_options("qubo-sqa"), strategy_options("qubo-sa")
    assert sqa is not None and sa is not None
    assert (sqa["n_startup"], sqa["batch_size"], sa["batch_size"]) == (20, 2, 3)
    assert strategy_options("qiea-sg")["screen"] == 8 != strategy_options("qiea")["screen"]  # type: ignore[index]
    assert strategy_options("tpe")["multivariate"] is True  # type: ignore[index]


@pytest.mark.parametrize("name", BUILT_IN)
def test_what_quarch_sets_is_never_listed(name: str) -> None:
    listed = strategy_options(name)
    assert listed is not None
    assert not {"seed", "search_space", "space", "objective", "cheap_metrics", "solver"} & set(
        listed
    )


def test_a_changed_listed_default_changes_the_search() -> None:
    """The trace test above can fail: a listed value that differs from the one in use
    changes what the strategy proposes."""
    assert _trace("qiea", 12, n_quantum=2) != _trace("qiea", 12)


def test_an_option_not_listed_is_refused_with_the_list() -> None:
    with pytest.raises(ConfigError) as e:
        make_sampler("evolution", seed=0, space=SPACE, objective=OBJ, tournament=3, bogus=1)
    assert str(e.value) == (
        "strategy 'evolution' takes no option 'bogus', 'tournament'; its options: "
        "population_size, tournament_size (`quarch strategies evolution`) "
        "('tournament': did you mean 'tournament_size'?)"
    )
    with pytest.raises(ConfigError, match=r"^strategy 'random' takes no option 'x'; its "
                       r"options: none \(`quarch strategies random`\)$"):  # fmt: skip
        check_strategy_options("random", {"x": 1})
    with pytest.raises(ConfigError, match=r"^unknown strategy 'nope'; choose from: qiea, "):
        strategy_options("nope")


def test_a_users_strategy_takes_its_own_options_but_not_quarchs() -> None:
    seen: dict[str, Any] = {}

    def factory(*, seed: int, space: Space, objective: Objective, **options: Any) -> Any:
        seen.update(options)
        return optuna.samplers.RandomSampler(seed=seed)

    STRATEGIES.add("mine", factory, "a user's strategy")
    try:
        assert strategy_options("mine") is None
        make_sampler("mine", seed=0, space=SPACE, objective=OBJ, anything=2)
        assert seen == {"anything": 2}
        with pytest.raises(ConfigError, match=r"^strategy 'mine' takes no option 'seed'; "
                           r"quarch sets those itself"):  # fmt: skip
            check_strategy_options("mine", {"seed": 1, "anything": 2})
    finally:
        STRATEGIES.remove("mine")


def test_a_replaced_built_in_is_a_users_strategy() -> None:
    """A user who registers their own ``tpe`` gets their options passed, not TPE's list."""
    entry = next(e for e in STRATEGIES.entries() if e.name == "tpe")
    STRATEGIES.remove("tpe")
    try:
        STRATEGIES.add("tpe", lambda **kw: optuna.samplers.RandomSampler(), "mine")
        assert strategy_options("tpe") is None
        check_strategy_options("tpe", {"anything": 1})
    finally:
        STRATEGIES.remove("tpe")
        STRATEGIES.add(entry.name, entry.factory, entry.description)
    assert strategy_options("tpe") is not None
