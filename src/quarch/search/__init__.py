"""Search strategies, each an ``optuna.samplers.BaseSampler``.

:data:`STRATEGIES` maps a strategy name to a factory
``factory(*, seed, space, objective, **options) -> BaseSampler``; ``quarch
strategies`` lists it and ``quarch search --strategy NAME`` reads it. Every sampler
class is also exported here for use in a plain Optuna study.

The QUBO family (``qubo-sa``, ``qubo-sqa``, ``qubo-dimod``, ``qaoa``, ``vqe``,
``grover``) is one sampler, :class:`QUBOSampler`, with a pluggable solver
(:class:`SASolver`, :class:`SQASolver`, :class:`DimodSolver`, :class:`QAOASolver`,
:class:`VQESolver`, :class:`GroverSolver`, or your own: see
:mod:`quarch.search._qubo` for the protocol); :class:`QAOASampler`,
:class:`VQESampler` and :class:`GroverSampler` are :class:`QUBOSampler` with their
solver set.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import optuna

from quarch._registry import Registry
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
    from quarch.space import Space

__all__ = [
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
    "make_sampler",
]

SamplerFactory = Callable[..., optuna.samplers.BaseSampler]
STRATEGIES: Registry[SamplerFactory] = Registry("strategy")


def _grid(*, seed: int, space: Space, objective: Objective, **options: Any) -> GridSampler:
    return GridSampler(space=space, seed=seed, **options)


def _random(*, seed: int, space: Space, objective: Objective, **options: Any) -> RandomSampler:
    return RandomSampler(seed=seed, **options)


def _tpe(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> optuna.samplers.TPESampler:
    opts = {"multivariate": True, "n_startup_trials": 10, **options}
    return optuna.samplers.TPESampler(seed=seed, **opts)


def _nsga2(*, seed: int, space: Space, objective: Objective, **options: Any) -> NSGAIISampler:
    opts = {"population_size": 20, **options}
    return NSGAIISampler(seed=seed, **opts)


def _qiea(*, seed: int, space: Space, objective: Objective, **options: Any) -> QIEASampler:
    return QIEASampler(seed=seed, search_space=space.distributions(), **options)


def _qpso(*, seed: int, space: Space, objective: Objective, **options: Any) -> QPSOSampler:
    return QPSOSampler(seed=seed, search_space=space.distributions(), **options)


def _evolution(*, seed: int, space: Space, objective: Objective, **options: Any) -> RegEvoSampler:
    return RegEvoSampler(seed=seed, search_space=space.distributions(), **options)


def _reinforce(
    *, seed: int, space: Space, objective: Objective, **options: Any
) -> ReinforceSampler:
    return ReinforceSampler(seed=seed, search_space=space.distributions(), **options)


def _local(*, seed: int, space: Space, objective: Objective, **options: Any) -> LocalSearchSampler:
    return LocalSearchSampler(seed=seed, search_space=space.distributions(), **options)


STRATEGIES.add(
    "qiea", _qiea, "quantum-inspired evolution (Q-NAS): probability vectors observed, elitism"
)
STRATEGIES.add(
    "qpso", _qpso, "quantum-behaved particle swarm on the relaxed one-hot code (Sun et al.)"
)
STRATEGIES.add("evolution", _evolution, "regularised (ageing) evolution, Real et al. (baseline)")
STRATEGIES.add("reinforce", _reinforce, "REINFORCE policy-gradient controller (baseline)")
STRATEGIES.add("local", _local, "first-improvement local search with restarts (baseline)")
STRATEGIES.add("qubo-sa", make_qubo_sa, "quadratic surrogate (BOCS) as a QUBO, simulated annealing")
STRATEGIES.add(
    "qubo-sqa", make_qubo_sqa, "quadratic surrogate as a QUBO, simulated quantum annealing"
)
STRATEGIES.add(
    "qubo-dimod", make_qubo_dimod, "quadratic surrogate as a QUBO, any dimod sampler/QPU"
)
STRATEGIES.add("qaoa", _qaoa.make, "QAOA on the surrogate QUBO, quarch's simulator (sub-QUBOs)")
STRATEGIES.add("vqe", _vqe.make, "VQE minimising the surrogate's expected cost, then sampling")
STRATEGIES.add("born", _born.make, "quantum circuit Born machine trained by REINFORCE")
STRATEGIES.add("grover", _grover.make, "Grover adaptive search over the surrogate (oracle calls)")
STRATEGIES.add("random", _random, "uniform random search (classical baseline)")
STRATEGIES.add("tpe", _tpe, "Optuna's multivariate TPE (classical baseline)")
STRATEGIES.add("grid", _grid, "every architecture once, in a seeded order (exhaustive; tables)")
STRATEGIES.add("nsga2", _nsga2, "Optuna's NSGA-II, multi-objective with constraints (baseline)")


def make_sampler(
    name: str, *, seed: int, space: Space, objective: Objective, **options: Any
) -> optuna.samplers.BaseSampler:
    """Build the registered strategy ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the known ones).
        ValueError: options the strategy does not accept.
    """
    factory = STRATEGIES.get(name)
    try:
        return factory(seed=seed, space=space, objective=objective, **options)
    except TypeError as e:
        from quarch._errors import ConfigError

        raise ConfigError(f"strategy {name!r} rejected its options {options}: {e}") from None
