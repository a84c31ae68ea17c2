"""Which tasks ``quarch benchmark --task`` knows, and how a task is built.

Every task, built-in or a user's, is a task factory (:mod:`quarch.evaluate.task`):
``factory(*, seed, data_dir, budgets) -> Task``. ``--task`` takes either a registered
name (the spaces' :meth:`~quarch.spaces.SpaceSpec.benchmark_tasks` and
``synthetic-qubo``) or ``package.module:function``, imported as NASLib and HPOBench
users name their benchmarks (the current directory is searched too, as ``uvicorn``
does, so a module beside you works without installing it).
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from quarch._errors import ConfigError, QuarchError, did_you_mean
from quarch._plugins import import_user_module
from quarch.evaluate._base import Metrics
from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

__all__ = [
    "SYNTHETIC_QUBO",
    "QUBOEvaluator",
    "build_task",
    "resolve_task",
    "synthetic_qubo",
    "synthetic_qubo_task",
    "task_description",
    "task_factories",
    "task_names",
]

#: The task every install has (the spaces add theirs, :func:`task_names`).
SYNTHETIC_QUBO = "synthetic-qubo"


class QUBOEvaluator:
    """Energy ``b^T Q b`` of an architecture's one-hot bits ``b``, as ``val_error``.

    Args:
        space (Space): the space whose one-hot code ``b`` indexes ``Q``.
        Q (np.ndarray): coefficients, shape ``(n_bits, n_bits)``.
    """

    def __init__(self, space: Space, Q: np.ndarray) -> None:
        n = space.n_bits("onehot")
        if Q.shape != (n, n):
            raise ValueError(f"Q must have shape ({n}, {n}) for this space; got {Q.shape}")
        self.space = space
        self.Q = np.asarray(Q, dtype=float)
        self.fingerprint = ""

    def energy(self, bits: np.ndarray) -> np.ndarray:
        """Energies of bit vectors, shape ``(n, n_bits)`` -> ``(n,)``."""
        b = np.atleast_2d(np.asarray(bits, dtype=float))
        return np.einsum("ni,ij,nj->n", b, self.Q, b)

    def evaluate(self, arch: Mapping[str, Any], *, seed: int = 0) -> Metrics:
        """``{"val_error": energy}`` of ``arch``."""
        return {"val_error": float(self.energy(self.space.to_bits(arch))[0])}


def synthetic_qubo(
    seed: int, *, n_choices: int = 6, n_options: int = 4
) -> tuple[Space, QUBOEvaluator, float]:
    """A seeded random QUBO over one-hot choices and its brute-forced optimum.

    ``Q`` is upper triangular with standard normal entries (the diagonal is the linear
    term); only products of bits from different choices matter beyond the diagonal,
    since one-hot groups have a single bit set.

    Returns:
        ``(space, evaluator, optimum energy)``.
    """
    if n_options**n_choices > 1_000_000:
        raise ValueError(
            f"n_options**n_choices must be <= 1000000 for brute force; got {n_options**n_choices}"
        )
    space = Space([Choice(f"x{i}", list(range(n_options))) for i in range(n_choices)], name="qubo")
    n = n_choices * n_options
    Q = np.triu(np.random.default_rng([seed, 4201]).standard_normal((n, n)))
    ev = QUBOEvaluator(space, Q)
    grids = np.stack(
        np.meshgrid(*[np.arange(n_options)] * n_choices, indexing="ij"), axis=-1
    ).reshape(-1, n_choices)
    bits = np.zeros((len(grids), n))
    bits[np.arange(len(grids))[:, None], grids + np.arange(n_choices) * n_options] = 1.0
    return space, ev, float(ev.energy(bits).min())


def synthetic_qubo_task(*, seed: int = 0, budgets: Sequence[str] = ()) -> Task:
    """``synthetic-qubo``: a new random QUBO per seed; the search sees its energy as
    ``val_error`` and is judged by that energy (the optimum found by brute force)."""
    space, ev, opt = synthetic_qubo(seed)
    objective = task_objective(budgets, ev.evaluate(space.sample(0)))
    if objective.budgets:
        raise ConfigError("synthetic-qubo takes no budgets (its only metric is val_error)")

    def judge(arch: Mapping[str, Any]) -> float:
        return ev.evaluate(arch)["val_error"]

    return Task(
        name=SYNTHETIC_QUBO,
        space=space,
        evaluator=ev,
        objective=objective,
        judge=judge,
        maximize=False,
        optimum=opt,
        target=opt + 1e-9,
        score_name="QUBO energy",
        oracle=opt,  # the search sees the judged score itself
        oracle_label="the ground state",
    )


def task_factories() -> dict[str, Callable[..., Task]]:
    """Every registered task by name: the spaces' tasks, then ``synthetic-qubo``."""
    from quarch.spaces import SPACES, get_spec

    out: dict[str, Callable[..., Task]] = {}
    for name in SPACES.names():
        out.update(get_spec(name).benchmark_tasks())
    out[SYNTHETIC_QUBO] = synthetic_qubo_task
    return out


def task_names() -> list[str]:
    """Every task ``quarch benchmark --task`` knows by name (``module:function`` too)."""
    return list(task_factories())


def task_description(factory: Callable[..., Any]) -> str:
    """The first paragraph of a task factory's docstring, on one line (of the function a
    ``functools.partial`` wraps when the partial has none): what ``quarch tasks`` says
    about it, as ``quarch strategies`` shows each strategy's description. ``""`` for a
    factory without one (a task is then known by its name alone).

    Example:
        >>> task_description(synthetic_qubo_task)
        'a new random QUBO per seed; the search sees its energy as val_error and is judged by that energy (the optimum found by brute force)'
    """
    while isinstance(factory, functools.partial) and factory.__doc__ == functools.partial.__doc__:
        factory = factory.func
    text = " ".join((inspect.getdoc(factory) or "").split("\n\n")[0].split())
    first = re.split(r"(?<=[a-z0-9)`])\. (?=[A-Z])", text)[0].removesuffix(".")
    # a docstring that starts by naming its task (``synthetic-qubo``: ...): the name is
    # the table's first column already; then reST's roles and code marks, for a terminal
    first = re.sub(r"^``[^`]+``: ", "", first)
    return re.sub(r":\w+:`~?([^`]+)`", r"\1", first).replace("``", "")


def resolve_task(task: str) -> Callable[..., Task]:
    """The task factory of a registered name or of ``package.module:function``.

    Raises:
        ConfigError: an unknown name, a module that cannot be imported, or a name in it
            that is not a function.
    """
    factories = task_factories()
    if task in factories:
        return factories[task]
    if ":" not in task:
        raise ConfigError(
            f"unknown benchmark task {task!r}; choose from: {', '.join(factories)}, "
            f"or name your own as package.module:function{did_you_mean([task], factories)}"
        )
    module_name, _, attr = task.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"malformed task {task!r}; expected package.module:function")
    module = import_user_module(module_name, "task module")
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ConfigError(f"task module {module_name!r} has no function {attr!r}")
    return factory  # type: ignore[no-any-return]


def build_task(
    task: str, *, seed: int = 0, data_dir: str | None = None, budgets: Sequence[str] = ()
) -> Task:
    """The :class:`Task` of ``task`` for run seed ``seed``.

    The factory receives ``seed``, ``data_dir`` and ``budgets`` as keywords, those it
    declares (all of them when it takes ``**kwargs``).

    Raises:
        ConfigError: an unknown task, a budget the task cannot take, or a factory that
            does not return a Task.
        DataError: a task's data files are missing.
    """
    factory = resolve_task(task)
    given: dict[str, Any] = {"seed": seed, "data_dir": data_dir, "budgets": tuple(budgets)}
    params: Mapping[str, inspect.Parameter] | None
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C callable: pass everything
        params = None
    required = [
        name for name, p in (params or {}).items()
        if p.default is inspect.Parameter.empty and name not in given
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]  # fmt: skip
    if required:
        raise ConfigError(
            f"task {task!r}: its factory requires {', '.join(map(repr, required))}, which "
            "quarch cannot give; it passes seed, data_dir and budgets as keywords (give "
            "the others defaults)"
        )
    if params is not None and not any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()
    ):  # a factory of no parameters gets none
        if budgets and "budgets" not in params:
            raise ConfigError(f"task {task!r} takes no budgets (its factory has no 'budgets')")
        given = {k: v for k, v in given.items() if k in params}
    try:
        out = factory(**given)
    except QuarchError:
        raise
    except Exception as e:
        if ":" not in task:  # quarch's own task (a registered name has no ':'): a bug
            raise
        # the user's factory (package.module:function) failed: whose and why, in one line
        raise ConfigError(f"task {task!r}: its factory raised {type(e).__name__}: {e}") from None
    if not isinstance(out, Task):
        raise ConfigError(
            f"task {task!r} returned {type(out).__name__}, not a quarch.evaluate.Task"
        )
    return out
