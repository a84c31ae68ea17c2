"""The strategy registry (``quarch.search``) against what its docstrings and the README
say each name builds, takes, is and is handed.

The references are built independently of the registry: each strategy is compared,
trial by trial on one small study, with its sampler constructed directly as documented
(Optuna's own ``TPESampler`` and ``NSGAIISampler`` for ``tpe`` and ``nsga2``, quarch's
samplers over the run's space for the others), with and without options, so a seed,
space, objective, known metric or option the registry failed to hand on shows as a
different search. Option names come from the samplers' documented ``Args`` (and
Optuna's own signatures), kinds from the README's benchmark table, and the refusals are
checked as the whole line a user reads. The mutation benchmark (``benchmarks/mutation.py
--module search-registry``) found the builders' arguments and options, the kinds, the
refusals' hints and ``_add`` untested.
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest

import quarch.search as search
from quarch._errors import ConfigError
from quarch.objectives import Objective
from quarch.search import (
    STRATEGIES,
    STRATEGY_KINDS,
    BornSampler,
    GridSampler,
    GroverSampler,
    LocalSearchSampler,
    NSGAIISampler,
    QAOASampler,
    QIEASampler,
    QPSOSampler,
    QUBOSampler,
    RandomSampler,
    RegEvoSampler,
    ReinforceSampler,
    VQESampler,
    check_strategy_options,
    make_sampler,
    strategy_kind,
    strategy_options,
    uses_cheap_metrics,
)
from quarch.search._surrogate import single_thread
from quarch.space import Choice, Space

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
RESULTS = (Path(__file__).resolve().parents[2] / "docs" / "RESULTS.md").read_text()
SPACE = Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate((4, 3, 5, 3))])
DISTS = SPACE.distributions()
LIMIT = 1500.0
OBJ = Objective(["val_error", "params"], weights=[1.0, 1e-3], budgets=[f"params<={LIMIT:g}"])
SEED = 3
N = 26  # past NSGA-II's first generation of 20 and every random start but qubo-sqa's

#: What quarch sets itself, never a user's option (``strategy_options``' docstring: the
#: seed, the space, the objective, the evaluator's cheap metrics, the QUBO solver).
SET_BY_QUARCH = {"seed", "search_space", "space", "objective", "cheap_metrics", "solver"}


@pytest.fixture(autouse=True)
def _quiet() -> Iterator[None]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with single_thread(True), warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _cheap(arch: Mapping[str, Any]) -> dict[str, float]:
    """A metric known without training."""
    return {"params": 100.0 * sum((j + 1) * int(arch[f"c{j}"]) for j in range(len(arch)))}


def _trace(sampler: optuna.samplers.BaseSampler, n: int = N) -> list[tuple[int, ...]]:
    """The architectures one study with ``sampler`` proposes, in order; each trial
    records its metrics as quarch's evaluators do (``user_attrs["metrics"]``)."""
    study = optuna.create_study(sampler=sampler)

    def value(trial: optuna.Trial) -> float:
        arch = SPACE.suggest(trial)
        idx = SPACE.to_indices(arch)
        metrics = {"val_error": float(sum((i * 7 + j * 3) % 5 for j, i in enumerate(idx))),
                   **_cheap(arch)}  # fmt: skip
        trial.set_user_attr("metrics", metrics)
        return metrics["val_error"] + 1e-3 * metrics["params"]

    study.optimize(value, n_trials=n)
    return [tuple(SPACE.to_indices(SPACE.from_params(t.params))) for t in study.trials]


def _made(name: str, seed: int = SEED, **options: Any) -> optuna.samplers.BaseSampler:
    return make_sampler(name, seed=seed, space=SPACE, objective=OBJ, cheap_metrics=_cheap,
                        **options)  # fmt: skip


# -- each name builds the documented sampler -------------------------------------------
#: The module docstring and the README's strategy table: the QUBO family is one
#: ``QUBOSampler`` (QAOA, VQE and Grover its subclasses with their solver set).
DOCUMENTED_CLASS: dict[str, type] = {
    "qiea": QIEASampler, "qpso": QPSOSampler, "qiea-sg": QIEASampler,
    "qpso-sg": QPSOSampler, "evolution": RegEvoSampler, "reinforce": ReinforceSampler,
    "local": LocalSearchSampler, "qubo-sa": QUBOSampler, "qubo-sqa": QUBOSampler,
    "qubo-dimod": QUBOSampler, "qaoa": QAOASampler, "vqe": VQESampler,
    "born": BornSampler, "grover": GroverSampler, "random": RandomSampler,
    "tpe": optuna.samplers.TPESampler, "grid": GridSampler, "nsga2": NSGAIISampler,
}  # fmt: skip


def test_the_registry_names_the_documented_strategies() -> None:
    assert sorted(STRATEGIES.names()) == sorted(DOCUMENTED_CLASS)


@pytest.mark.parametrize("name", sorted(DOCUMENTED_CLASS))
def test_each_name_builds_its_documented_class(name: str) -> None:
    assert type(_made(name)) is DOCUMENTED_CLASS[name]
    if name == "nsga2":  # Optuna's, made picklable
        assert issubclass(NSGAIISampler, optuna.samplers.NSGAIISampler)


#: name -> (the sampler built directly as documented, from a seed and options).
Direct = Callable[..., optuna.samplers.BaseSampler]
DIRECT: dict[str, Direct] = {
    "qiea": lambda seed, **o: QIEASampler(seed=seed, search_space=DISTS, **o),
    "qpso": lambda seed, **o: QPSOSampler(seed=seed, search_space=DISTS, **o),
    # "(8 per query)": the surrogates of the run's objective and known metrics screen
    "qiea-sg": lambda seed, **o: QIEASampler(
        seed=seed, search_space=DISTS, objective=OBJ, cheap_metrics=_cheap, **{"screen": 8, **o}
    ),
    "qpso-sg": lambda seed, **o: QPSOSampler(
        seed=seed, search_space=DISTS, objective=OBJ, cheap_metrics=_cheap, **{"screen": 8, **o}
    ),
    "evolution": lambda seed, **o: RegEvoSampler(seed=seed, search_space=DISTS, **o),
    "reinforce": lambda seed, **o: ReinforceSampler(seed=seed, search_space=DISTS, **o),
    "local": lambda seed, **o: LocalSearchSampler(seed=seed, search_space=DISTS, **o),
    "random": lambda seed, **o: RandomSampler(seed=seed, **o),
    "grid": lambda seed, **o: GridSampler(space=SPACE, seed=seed, **o),
    # "Optuna's multivariate TPE": Optuna's own sampler, multivariate, 10 random trials
    "tpe": lambda seed, **o: optuna.samplers.TPESampler(
        seed=seed, **{"multivariate": True, "n_startup_trials": 10, **o}
    ),
    # "Optuna's NSGA-II": Optuna's own sampler, with a population of 20
    "nsga2": lambda seed, **o: optuna.samplers.NSGAIISampler(
        seed=seed, **{"population_size": 20, **o}
    ),
}

#: A non-default option per strategy that changes this search (checked below).
OPTION: dict[str, dict[str, Any]] = {
    "qiea": {"n_quantum": 2}, "qpso": {"swarm_size": 3}, "qiea-sg": {"screen": 3},
    "qpso-sg": {"swarm_size": 3}, "evolution": {"population_size": 4},
    "reinforce": {"lr": 5.0}, "tpe": {"n_startup_trials": 4}, "nsga2": {"population_size": 6},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(DIRECT))
def test_each_strategy_searches_as_its_sampler_built_directly(name: str) -> None:
    """``make_sampler`` hands the sampler the run's seed and space (and, for ``-sg``,
    objective and known metrics) and the strategy's documented defaults: the study
    proposes exactly what the directly built sampler proposes."""
    got = _trace(_made(name))
    assert got == _trace(DIRECT[name](SEED))
    assert got == _trace(_made(name))  # seeded: the same run twice
    assert got != _trace(_made(name, seed=SEED + 1))


@pytest.mark.parametrize("name", sorted(OPTION))
def test_each_strategy_hands_its_options_to_its_sampler(name: str) -> None:
    options = OPTION[name]
    want = _trace(DIRECT[name](SEED, **options))
    assert want != _trace(DIRECT[name](SEED))  # the option changes this search
    assert _trace(_made(name, **options)) == want


@pytest.mark.parametrize("name", sorted(DOCUMENTED_CLASS))
def test_each_factory_hands_every_option_to_its_sampler(name: str) -> None:
    """A factory (``factory(*, seed, space, objective, **options)``, the module
    docstring) called directly passes every option on, so one its sampler does not take
    is refused by the sampler itself, never dropped in silence (for the strategies that
    take none as for the others)."""
    with pytest.raises(TypeError) as direct:
        DOCUMENTED_CLASS[name](bogus_option=1)
    with pytest.raises(TypeError) as e:
        STRATEGIES.get(name)(seed=0, space=SPACE, objective=OBJ, bogus_option=1)
    assert str(e.value) == str(direct.value)


@pytest.mark.parametrize("name", ["qiea-sg", "qpso-sg"])
def test_screening_reads_the_runs_objective_space_and_known_metrics(name: str) -> None:
    """The comparison above can fail for ``-sg``: without the objective, the known
    metrics, the space or the screening the directly built sampler searches otherwise."""
    cls = DOCUMENTED_CLASS[name]
    full: dict[str, Any] = {"seed": SEED, "search_space": DISTS, "objective": OBJ,
                            "cheap_metrics": _cheap, "screen": 8}  # fmt: skip
    want = _trace(cls(**full))
    for left_out in full:
        if left_out != "seed":
            kw = {k: v for k, v in full.items() if k != left_out}
            assert _trace(cls(**kw)) != want, left_out


def test_the_space_matters_to_every_population_strategy() -> None:
    """Without ``search_space`` a population sampler infers the space from completed
    trials (its docstring), so its first trial is drawn otherwise: the comparison with
    the sampler built over the space would catch a registry that forgot it."""
    for name in ("qiea", "qpso", "evolution", "reinforce", "local"):
        cls = DOCUMENTED_CLASS[name]
        assert _trace(cls(seed=SEED), 6) != _trace(cls(seed=SEED, search_space=DISTS), 6), name


# -- the options each strategy takes ----------------------------------------------------
def _documented_args(cls: type) -> list[str]:
    """The names of a sampler's ``Args:`` section, in order (``a, b, c: ...`` too)."""
    doc = inspect.getdoc(cls) or ""
    block = re.search(r"^Args:\n(.*?)(?:\n\S|\Z)", doc, re.S | re.M)
    assert block, cls
    names: list[str] = []
    for line in block.group(1).splitlines():
        m = re.match(r"^    ([a-z_][a-z_0-9]*(?:, [a-z_][a-z_0-9]*)*)(?: \([^)]*\))?: ", line)
        if m:
            names += m.group(1).split(", ")
    return names


@pytest.mark.parametrize(
    "name", ["qiea", "qpso", "qiea-sg", "qpso-sg", "evolution", "reinforce", "local", "random",
             "grid"],
)  # fmt: skip
def test_quarchs_samplers_take_their_documented_args(name: str) -> None:
    want = [a for a in _documented_args(DOCUMENTED_CLASS[name]) if a not in SET_BY_QUARCH]
    options = strategy_options(name)
    assert options is not None and list(options) == want


def test_the_documented_defaults_and_the_strategies_own() -> None:
    """``screen``: 1 is plain QIEA/QPSO (their docstrings), 8 per query for ``-sg``
    (the strategy table); TPE multivariate with 10 random trials, NSGA-II a population
    of 20; every other option of Optuna's samplers at Optuna's own default."""
    screens = [strategy_options(n)["screen"] for n in ("qiea", "qpso", "qiea-sg", "qpso-sg")]  # type: ignore[index]
    assert screens == [1, 1, 8, 8]
    for name, cls, own in [
        ("tpe", optuna.samplers.TPESampler, {"multivariate": True, "n_startup_trials": 10}),
        ("nsga2", optuna.samplers.NSGAIISampler, {"population_size": 20}),
    ]:
        params = inspect.signature(cls).parameters.values()
        want = {p.name: own.get(p.name, p.default) for p in params if p.name != "seed"}
        assert strategy_options(name) == want


CONFIG_HINT = (
    " ('trials' is a config key: in a TOML file, keys below [strategy_options] belong to it; "
    "put them above it)"
)


def test_a_refused_option_names_what_the_strategy_takes_and_what_was_meant() -> None:
    """One line: the refused options, the documented ones, then which refused key is a
    config key written below ``[strategy_options]``, then the typo's nearest option."""
    listed = ", ".join(a for a in _documented_args(QIEASampler) if a not in SET_BY_QUARCH)
    with pytest.raises(ConfigError) as e:
        check_strategy_options("qiea", {"trials": 5, "n_quantm": 2})
    assert str(e.value) == (
        f"strategy 'qiea' takes no option 'n_quantm', 'trials'; its options: {listed} "
        f"(`quarch strategies qiea`){CONFIG_HINT} ('n_quantm': did you mean 'n_quantum'?)"
    )
    with pytest.raises(ConfigError) as e:
        make_sampler("local", seed=0, space=SPACE, objective=OBJ, trials=5)
    assert str(e.value) == (
        f"strategy 'local' takes no option 'trials'; its options: none "
        f"(`quarch strategies local`){CONFIG_HINT}"
    )


def test_a_users_strategy_is_refused_only_what_quarch_sets() -> None:
    seen: dict[str, Any] = {}

    def mine(*, seed: int, space: Space, objective: Objective, **options: Any) -> Any:
        seen.update(options)
        return optuna.samplers.RandomSampler(seed=seed)

    STRATEGIES.add("mine-truth", mine, "a user's strategy")
    try:
        check_strategy_options("mine-truth", {"trials": 1, "anything": 2})  # its own business
        with pytest.raises(ConfigError) as e:
            check_strategy_options("mine-truth", {"seed": 1, "objective": 2, "anything": 3})
        assert str(e.value) == (
            "strategy 'mine-truth' takes no option 'objective', 'seed'; quarch sets those "
            "itself (--seed, --space, --objectives) ('seed' is a config key: in a TOML file, "
            "keys below [strategy_options] belong to it; put them above it)"
        )
        # no ``cheap_metrics`` in its signature: make_sampler hands it none
        assert not uses_cheap_metrics("mine-truth")
        make_sampler("mine-truth", seed=0, space=SPACE, objective=OBJ, cheap_metrics=_cheap)
        assert seen == {}
    finally:
        STRATEGIES.remove("mine-truth")


# -- make_sampler's refusals -------------------------------------------------------------
def test_a_value_the_sampler_refuses_is_its_own_line_under_the_strategys_name() -> None:
    with pytest.raises(ValueError) as direct:
        QIEASampler(n_quantum=0)
    with pytest.raises(ConfigError) as e:
        make_sampler("qiea", seed=0, space=SPACE, objective=OBJ, n_quantum=0)
    assert str(e.value) == f"strategy 'qiea': {direct.value}"
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_a_users_strategy_that_takes_fewer_options_is_refused_with_them() -> None:
    def narrow(*, seed: int, space: Space, objective: Objective, depth: int = 1) -> Any:
        return optuna.samplers.RandomSampler(seed=seed)

    def passes_on(*, seed: int, space: Space, objective: Objective, **options: Any) -> Any:
        return narrow(seed=seed, space=space, objective=objective, **options)

    with pytest.raises(TypeError) as direct:
        narrow(seed=0, space=SPACE, objective=OBJ, width=2)  # type: ignore[call-arg]
    STRATEGIES.add("narrow-truth", narrow, "a user's strategy")
    STRATEGIES.add("passes-truth", passes_on, "a user's strategy")
    try:
        # its signature lists its options: refused before the factory runs, with them
        with pytest.raises(ConfigError) as e:
            make_sampler("narrow-truth", seed=0, space=SPACE, objective=OBJ, width=2)
        assert str(e.value) == (
            "strategy 'narrow-truth' takes no option 'width'; its options: depth "
            "(`quarch strategies narrow-truth`)"
        )
        # **options takes anything: the factory's own TypeError is the line
        with pytest.raises(ConfigError) as e:
            make_sampler("passes-truth", seed=0, space=SPACE, objective=OBJ, width=2)
        assert str(e.value) == (
            f"strategy 'passes-truth' rejected its options {{'width': 2}}: {direct.value}"
        )
        assert e.value.__cause__ is None and e.value.__suppress_context__
    finally:
        STRATEGIES.remove("narrow-truth")
        STRATEGIES.remove("passes-truth")


def test_quarchs_own_errors_pass_unchanged() -> None:
    def refuses(**kw: Any) -> Any:
        raise ConfigError("the space is too large for this strategy")

    STRATEGIES.add("refuses-truth", refuses, "a user's strategy")
    try:
        with pytest.raises(ConfigError) as e:
            make_sampler("refuses-truth", seed=0, space=SPACE, objective=OBJ)
        assert str(e.value) == "the space is too large for this strategy"
    finally:
        STRATEGIES.remove("refuses-truth")


# -- kinds and known metrics --------------------------------------------------------------
def _readme_kinds() -> dict[str, str]:
    """The NAS-Bench-201 table of ``docs/RESULTS.md``: ``| strategy | kind | ...`` rows."""
    m = re.search(r"^\| strategy \| kind \|.*?\n\|[-|]+\|\n(.*?)\n\n", RESULTS, re.S | re.M)
    assert m, "docs/RESULTS.md has no '| strategy | kind |' table"
    return dict(re.findall(r"^\| ([a-z0-9-]+) \| ([a-z-]+) \|", m.group(1), re.M))


def test_kinds_are_the_readmes() -> None:
    """The benchmark table's kinds (docs/RESULTS.md); the strategies it does not run: ``qubo-dimod`` is
    the QUBO family's (quantum), ``nsga2`` a "(baseline)" and ``grid`` an enumeration
    (classical)."""
    kinds = _readme_kinds()
    assert len(kinds) >= 15
    kinds |= {"qubo-dimod": "quantum", "nsga2": "classical", "grid": "classical"}
    assert {n: strategy_kind(n) for n in STRATEGIES.names()} == kinds
    baselines = set(re.findall(r"^\| `([a-z0-9-]+)` \|[^\n]*\(baseline\) \|$", README, re.M))
    assert baselines and all(strategy_kind(n) == "classical" for n in baselines)


def test_a_users_strategy_is_other_until_given_a_kind() -> None:
    assert strategy_kind("not-registered") == "other"
    STRATEGY_KINDS["mine-kind"] = "quantum"
    try:
        assert strategy_kind("mine-kind") == "quantum"
    finally:
        del STRATEGY_KINDS["mine-kind"]
    assert strategy_kind("mine-kind") == "other"


#: ``make_sampler``'s docstring: the QUBO family and the surrogate-guided QIEA and QPSO.
USES_CHEAP = {"qubo-sa", "qubo-sqa", "qubo-dimod", "qaoa", "vqe", "grover", "qiea-sg", "qpso-sg"}


def test_the_strategies_handed_the_known_metrics() -> None:
    assert {n for n in STRATEGIES.names() if uses_cheap_metrics(n)} == USES_CHEAP


def test_a_users_strategy_that_takes_known_metrics_gets_them() -> None:
    seen: dict[str, Any] = {}

    def mine(*, seed: int, space: Space, objective: Objective, cheap_metrics: Any = None) -> Any:
        seen["cheap_metrics"] = cheap_metrics
        return optuna.samplers.RandomSampler(seed=seed)

    STRATEGIES.add("cheap-truth", mine, "a user's strategy")
    try:
        assert uses_cheap_metrics("cheap-truth")
        make_sampler("cheap-truth", seed=0, space=SPACE, objective=OBJ, cheap_metrics=_cheap)
        assert seen == {"cheap_metrics": _cheap}
    finally:
        STRATEGIES.remove("cheap-truth")


# -- registering a built-in ----------------------------------------------------------------
def test_add_registers_the_factory_and_what_it_builds() -> None:
    """``_add`` (how each built-in is registered): the name, factory and description in
    :data:`STRATEGIES`, and ``strategy_options`` reads the sampler's signature with the
    strategy's own defaults over the sampler's (none given: the sampler's own)."""

    def factory(**kw: Any) -> optuna.samplers.BaseSampler:
        return RegEvoSampler(**kw)

    try:
        search._add("evo-truth", factory, "ageing evolution, larger", RegEvoSampler,
                    {"population_size": 30})  # fmt: skip
        search._add("evo-plain-truth", factory, "ageing evolution", RegEvoSampler)
        entries = {e.name: e for e in STRATEGIES.entries()}
        entry = entries["evo-truth"]
        assert (entry.factory, entry.description) == (factory, "ageing evolution, larger")
        assert STRATEGIES.get("evo-truth") is factory
        params = inspect.signature(RegEvoSampler).parameters
        assert strategy_options("evo-truth") == {
            "population_size": 30, "tournament_size": params["tournament_size"].default
        }  # fmt: skip
        assert strategy_options("evo-plain-truth") == {
            "population_size": params["population_size"].default,
            "tournament_size": params["tournament_size"].default,
        }
    finally:
        for name in ("evo-truth", "evo-plain-truth"):
            if name in STRATEGIES.names():
                STRATEGIES.remove(name)
            search._BUILDS.pop(name, None)
