"""Search strategies, each an ``optuna.samplers.BaseSampler``.

:data:`STRATEGIES` maps a strategy name to a factory
``factory(*, seed, space, objective, **options) -> BaseSampler``; ``quarch
strategies`` lists it and ``quarch search --strategy NAME`` reads it. Every sampler
class is also exported here for use in a plain Optuna study. A strategy of your own is
one ``STRATEGIES.add`` (docs/ARCHITECTURE.md, "A strategy of your own"): its factory's
keyword parameters with their defaults are its options (:func:`strategy_options`).

The QUBO family (``qubo-sa``, ``qubo-sqa``, ``qubo-dimod``, ``qaoa``, ``vqe``,
``grover``) is one sampler, :class:`QUBOSampler`, with a pluggable solver
(:class:`SASolver`, :class:`SQASolver`, :class:`DimodSolver`, :class:`QAOASolver`,
:class:`VQESolver`, :class:`GroverSolver`, or your own: see
:mod:`quarch.search._qubo` for the protocol); :class:`QAOASampler`,
:class:`VQESampler` and :class:`GroverSampler` are :class:`QUBOSampler` with their
solver set.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import optuna

from quarch._errors import ConfigError, QuarchError, did_you_mean
from quarch._registry import Registry
from quarch.config import misplaced_keys_hint
from quarch.search import _born, _grover, _qaoa, _vqe
from quarch.search._annealers import DimodSolver, SASolver, SQASolver
from quarch.search._born import BornSampler
from quarch.search._circuits import Register
from quarch.search._evolution import RegEvoSampler
from quarch.search._grid import GridSampler
from quarch.search._grover import GroverSampler, GroverSolver
from quarch.search._local import LocalSearchSampler
from quarch.search._nsga2 import NSGAIISampler
from quarch.search._qaoa import QAOASampler, QAOASolver
from quarch.search._qiea import QIEASampler
from quarch.search._qpso import QPSOSampler
from quarch.search._qubo import (
    QUBO_DEFAULTS,
    QUBOProblem,
    QUBOSampler,
    Solution,
    Solver,
    make_qubo_dimod,
    make_qubo_sa,
    make_qubo_sqa,
)
from quarch.search._random import RandomSampler
from quarch.search._reinforce import ReinforceSampler
from quarch.search._vqe import VQESampler, VQESolver

if TYPE_CHECKING:
    from quarch.objectives import Objective
    from quarch.search._models import CheapMetrics
    from quarch.space import Space

__all__ = [
    "REQUIRED",
    "STRATEGIES",
    "BornSampler",
    "DimodSolver",
    "GridSampler",
    "GroverSampler",
    "GroverSolver",
    "LocalSearchSampler",
    "NSGAIISampler",
    "QAOASampler",
    "QAOASolver",
    "QIEASampler",
    "QPSOSampler",
    "QUBOProblem",
    "QUBOSampler",
    "RandomSampler",
    "RegEvoSampler",
    "Register",
    "ReinforceSampler",
    "SASolver",
    "SQASolver",
    "Solution",
    "Solver",
    "VQESampler",
    "VQESolver",
    "check_strategy_options",
    "make_sampler",
    "strategy_kind",
    "strategy_options",
    "uses_cheap_metrics",
]

SamplerFactory = Callable[..., optuna.samplers.BaseSampler]
STRATEGIES: Registry[SamplerFactory] = Registry("strategy")


#: What ``tpe`` and ``nsga2`` set over Optuna's defaults.
_TPE_DEFAULTS: dict[str, Any] = {"multivariate": True, "n_startup_trials": 10}
_NSGA2_DEFAULTS: dict[str, Any] = {"population_size": 20}


def _make_grid(*, seed: int, space: Space, objective: Objective, **options: Any) -> GridSampler:
    return GridSampler(space=space, seed=seed, **options)


def _make_random(*, seed: int, space: Space, objective: Objective, **options: Any) -> RandomSampler:
    return RandomSampler(seed=seed, **options)


def _tpe(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> optuna.samplers.TPESampler:
    opts = {**_TPE_DEFAULTS, **options}
    return optuna.samplers.TPESampler(seed=seed, **opts)


def _make_nsga2(*, seed: int, space: Space, objective: Objective, **options: Any) -> NSGAIISampler:
    opts = {**_NSGA2_DEFAULTS, **options}
    return NSGAIISampler(seed=seed, **opts)


def _make_qiea(*, seed: int, space: Space, objective: Objective, **options: Any) -> QIEASampler:
    return QIEASampler(seed=seed, search_space=space.distributions(), **options)


def _make_qpso(*, seed: int, space: Space, objective: Objective, **options: Any) -> QPSOSampler:
    return QPSOSampler(seed=seed, search_space=space.distributions(), **options)


#: Offspring (QIEA) or moves (QPSO) the surrogate screens per query in ``-sg``.
SCREEN = 8
_SCREENED: dict[str, Any] = {"screen": SCREEN}


def _qiea_sg(
    *,
    seed: int,
    space: Space,
    objective: Objective,
    cheap_metrics: CheapMetrics | None = None,
    **options: Any,
) -> QIEASampler:
    opts = {**_SCREENED, **options}
    return QIEASampler(
        seed=seed,
        search_space=space.distributions(),
        objective=objective,
        cheap_metrics=cheap_metrics,
        **opts,
    )


def _qpso_sg(
    *,
    seed: int,
    space: Space,
    objective: Objective,
    cheap_metrics: CheapMetrics | None = None,
    **options: Any,
) -> QPSOSampler:
    opts = {**_SCREENED, **options}
    return QPSOSampler(
        seed=seed,
        search_space=space.distributions(),
        objective=objective,
        cheap_metrics=cheap_metrics,
        **opts,
    )


def _make_evolution(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> RegEvoSampler:
    return RegEvoSampler(seed=seed, search_space=space.distributions(), **options)


def _make_reinforce(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> ReinforceSampler:
    return ReinforceSampler(seed=seed, search_space=space.distributions(), **options)


def _make_local(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> LocalSearchSampler:
    return LocalSearchSampler(seed=seed, search_space=space.distributions(), **options)


#: name -> (its factory, the sampler it builds, the options it sets over the sampler's
#: defaults): what :func:`strategy_options` reads for the built-in strategies.
_BUILDS: dict[str, tuple[SamplerFactory, Callable[..., Any], Mapping[str, Any]]] = {}


def _add(
    name: str,
    factory: SamplerFactory,
    description: str,
    sampler: Callable[..., Any],
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Register a built-in strategy with the sampler class its factory builds and the
    options the factory sets over that class's defaults (``quarch strategies NAME``)."""
    STRATEGIES.add(name, factory, description)
    _BUILDS[name] = (factory, sampler, defaults or {})


_add(
    "qiea",
    _make_qiea,
    "quantum-inspired evolution (Q-NAS): probability vectors observed, elitism",
    QIEASampler,
)
_add(
    "qpso",
    _make_qpso,
    "quantum-behaved particle swarm on the relaxed one-hot code (Sun et al.)",
    QPSOSampler,
)
_add(
    "qiea-sg",
    _qiea_sg,
    "QIEA whose offspring a surrogate of every metric screens (8 per query)",
    QIEASampler,
    _SCREENED,
)
_add(
    "qpso-sg",
    _qpso_sg,
    "QPSO whose moves a surrogate of every metric screens (8 per query)",
    QPSOSampler,
    _SCREENED,
)
_add(
    "evolution",
    _make_evolution,
    "regularised (ageing) evolution, Real et al. (baseline)",
    RegEvoSampler,
)
_add(
    "reinforce",
    _make_reinforce,
    "REINFORCE policy-gradient controller (baseline)",
    ReinforceSampler,
)
_add(
    "local",
    _make_local,
    "first-improvement local search with restarts (baseline)",
    LocalSearchSampler,
)
_add(
    "qubo-sa",
    make_qubo_sa,
    "quadratic surrogate (BOCS) as a QUBO, simulated annealing",
    QUBOSampler,
    QUBO_DEFAULTS["sa"],
)
_add(
    "qubo-sqa",
    make_qubo_sqa,
    "quadratic surrogate as a QUBO, simulated quantum annealing",
    QUBOSampler,
    QUBO_DEFAULTS["sqa"],
)
_add(
    "qubo-dimod",
    make_qubo_dimod,
    "quadratic surrogate as a QUBO, any dimod sampler/QPU",
    QUBOSampler,
    QUBO_DEFAULTS["dimod"],
)
_add(
    "qaoa",
    _qaoa.make,
    "QAOA on the surrogate QUBO, quarch's simulator (sub-QUBOs)",
    QAOASampler,
)
_add(
    "vqe",
    _vqe.make,
    "VQE minimising the surrogate's expected cost, then sampling",
    VQESampler,
)
_add("born", _born.make, "quantum circuit Born machine trained by REINFORCE", BornSampler)
_add(
    "grover",
    _grover.make,
    "Grover adaptive search over the surrogate (oracle calls)",
    GroverSampler,
)
_add("random", _make_random, "uniform random search (classical baseline)", RandomSampler)
_add(
    "tpe",
    _tpe,
    "Optuna's multivariate TPE (classical baseline)",
    optuna.samplers.TPESampler,
    _TPE_DEFAULTS,
)
_add(
    "grid",
    _make_grid,
    "every architecture once, in a seeded order (exhaustive; tables)",
    GridSampler,
)
_add(
    "nsga2",
    _make_nsga2,
    "Optuna's NSGA-II, multi-objective with constraints (baseline)",
    NSGAIISampler,
    _NSGA2_DEFAULTS,
)


#: What kind of algorithm each built-in strategy is; a benchmark compares every
#: strategy with the best ``"classical"`` one. A user who registers a strategy may add
#: its kind here (``quarch.search.STRATEGY_KINDS["mine"] = "quantum"``).
STRATEGY_KINDS: dict[str, str] = {
    "qiea": "quantum-inspired",
    "qpso": "quantum-inspired",
    "qiea-sg": "quantum-inspired",
    "qpso-sg": "quantum-inspired",
    "qubo-sa": "quantum",
    "qubo-sqa": "quantum",
    "qubo-dimod": "quantum",
    "qaoa": "quantum",
    "vqe": "quantum",
    "born": "quantum",
    "grover": "quantum",
    "evolution": "classical",
    "reinforce": "classical",
    "local": "classical",
    "random": "classical",
    "tpe": "classical",
    "nsga2": "classical",
    "grid": "classical",
}


def strategy_kind(name: str) -> str:
    """``"quantum"``, ``"quantum-inspired"``, ``"classical"``, or ``"other"`` for a
    strategy registered by a user without a kind in :data:`STRATEGY_KINDS`."""
    return STRATEGY_KINDS.get(name, "other")


#: What a strategy's factory sets itself, never a user's option.
_SET_BY_QUARCH = frozenset(
    {"seed", "search_space", "space", "objective", "cheap_metrics", "solver"}
)
#: What quarch passes a strategy's factory (:func:`make_sampler`): a factory's other
#: keyword parameters are its options.
_PASSED_BY_QUARCH = frozenset({"seed", "space", "objective", "cheap_metrics"})


class _Required:
    """The listed value of an option a user's factory requires (no default)."""

    def __repr__(self) -> str:
        return "(required)"


#: The value :func:`strategy_options` lists for an option without a default.
REQUIRED: Any = _Required()


def _factory_options(factory: Callable[..., Any]) -> dict[str, Any] | None:
    """A user's factory's own keyword parameters with their defaults (:data:`REQUIRED`
    for one without); ``None`` for one taking ``**options`` (or without a signature)."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):  # a builtin or C callable: nothing to read
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return {
        p.name: REQUIRED if p.default is p.empty else p.default
        for p in params
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in _PASSED_BY_QUARCH
    }


def strategy_options(name: str) -> dict[str, Any] | None:
    """The options strategy ``name`` takes (``--strategy-option KEY=VALUE``, a config's
    ``[strategy_options]``), each with the value it runs with when not given.

    For a built-in strategy they are the keyword parameters of the sampler it builds,
    less what the strategy sets itself (the seed, the space, the objective, the
    evaluator's cheap metrics, the QUBO solver), with the strategy's own defaults over
    the sampler's (``qubo-sqa``'s tuned ones, TPE's multivariate mode). For a strategy a
    user registered (or replaced) they are its factory's keyword parameters less what
    quarch passes it (``seed``, ``space``, ``objective``, ``cheap_metrics``), an option
    without a default listed as :data:`REQUIRED`. Read from the signatures, so the list
    cannot drift from what the code accepts. ``None`` for a user's factory that takes
    ``**options``: it accepts any option, and quarch passes them on unchecked.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
    """
    factory = STRATEGIES.get(name)
    built = _BUILDS.get(name)
    if built is None or built[0] is not factory:
        return _factory_options(factory)
    _, sampler, defaults = built
    return {
        p.name: defaults.get(p.name, p.default)
        for p in inspect.signature(sampler).parameters.values()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in _SET_BY_QUARCH
    }


def check_strategy_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse, in one line, an option strategy ``name`` does not take, before a run
    folder is made: anything :func:`strategy_options` does not list (the line lists
    what it does), and an option it lists as :data:`REQUIRED` that is not given; for a
    factory that takes ``**options`` (any option) only what quarch sets itself (the
    seed, the space, the objective), which would otherwise collide with quarch's own
    argument as a ``TypeError``.

    Raises:
        ConfigError: an unknown strategy, or an option it does not take or needs.
    """
    known = strategy_options(name)
    if known is None:
        unknown = sorted(set(options) & _SET_BY_QUARCH)
    else:
        unknown = sorted(set(options) - set(known))
    if unknown:
        which = ", ".join(repr(u) for u in unknown)
        if known is None:
            takes = "quarch sets those itself (--seed, --space, --objectives)"
        else:
            takes = f"its options: {', '.join(known) or 'none'} (`quarch strategies {name}`)"
        hint = misplaced_keys_hint(unknown, "strategy_options")
        if known:
            hint += did_you_mean(unknown, known)
        raise ConfigError(f"strategy {name!r} takes no option {which}; {takes}{hint}")
    missing = [k for k, v in (known or {}).items() if v is REQUIRED and k not in options]
    if missing:
        raise ConfigError(
            f"strategy {name!r} needs option{'s' if len(missing) > 1 else ''} "
            f"{', '.join(map(repr, missing))}: "
            + " ".join(f"--strategy-option {k}=VALUE" for k in missing)
        )


def uses_cheap_metrics(name: str) -> bool:
    """Whether strategy ``name``'s factory takes ``cheap_metrics`` (the metrics an
    evaluator knows without training), which :func:`make_sampler` then passes on."""
    import inspect

    return "cheap_metrics" in inspect.signature(STRATEGIES.get(name)).parameters


def make_sampler(
    name: str,
    *,
    seed: int,
    space: Space,
    objective: Objective,
    cheap_metrics: CheapMetrics | None = None,
    **options: Any,
) -> optuna.samplers.BaseSampler:
    """Build the registered strategy ``name``.

    Args:
        name: a registered strategy (:data:`STRATEGIES`).
        seed: run seed.
        space: the search space.
        objective: the run's objective (metrics, weights, budgets).
        cheap_metrics: ``cheap_metrics(arch) -> metrics`` of the evaluator (metrics known
            without training), handed to the strategies whose factory takes it
            (:func:`uses_cheap_metrics`): the QUBO family and the surrogate-guided
            QIEA and QPSO. Others ignore it.
        options: the strategy's own options.

    Raises:
        ConfigError: an unknown name (the message lists the known ones), an option the
            strategy does not take (the message lists those it does), or a value its
            constructor refuses (its own message).
    """
    factory = STRATEGIES.get(name)
    check_strategy_options(name, options)
    extra = {"cheap_metrics": cheap_metrics} if uses_cheap_metrics(name) else {}
    try:
        return factory(seed=seed, space=space, objective=objective, **extra, **options)
    except QuarchError:
        raise
    except TypeError as e:  # a user's strategy that takes fewer options than it was given
        raise ConfigError(f"strategy {name!r} rejected its options {options}: {e}") from None
    except ValueError as e:  # the constructors' checks of each value: the user's to fix
        raise ConfigError(f"strategy {name!r}: {e}") from None
