"""Search spaces, one room each, and the registry the rest of quarch reads them from.

Each built-in space lives in its own package, ``quarch.spaces.<name>``: its choices
(``space.py``), its torch model(s), its weight sharing, its evaluator(s) and the costs
only it has. Its :class:`SpaceSpec` tells the search loop, the CLI, export, train and
the report what it offers, so no code outside a space's folder tests its name.

:data:`SPACES` maps a name to its spec. Built-in specs are imported on first use (the
registry names their modules), so ``import quarch`` stays light. A user's own space
registers the same way::

    from quarch.spaces import SpaceSpec, register_space

    class ToySpec(SpaceSpec):
        name = "toy"
        ...

    register_space(ToySpec())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from quarch._errors import ConfigError
from quarch._registry import Registry
from quarch.spaces._spec import SpaceSpec

if TYPE_CHECKING:
    from pathlib import Path

    from quarch.config import SearchConfig
    from quarch.evaluate import Evaluator
    from quarch.space import Space

__all__ = [
    "BUILTIN_SPACES",
    "SPACES",
    "SpaceSpec",
    "check_run_space",
    "get_space",
    "get_spec",
    "make_evaluator",
    "register_space",
]

SPACES: Registry[Callable[[], SpaceSpec]] = Registry("space")


def _builtin(module: str) -> Callable[[], SpaceSpec]:
    """The spec of a built-in space, its module imported only when first asked for."""

    def load() -> SpaceSpec:
        spec: SpaceSpec = importlib.import_module(module).SPEC
        return spec

    return load


# The one place that names the built-in spaces (their rooms are quarch/spaces/<name>/).
SPACES.add(
    "mlp",
    _builtin("quarch.spaces.mlp"),
    "fully connected classifier: 1-3 hidden layers, widths, activation, lr",
)
SPACES.add(
    "nb201",
    _builtin("quarch.spaces.nb201"),
    "NAS-Bench-201 cell: 5 operations on 6 edges (15625 cells, tabular)",
)
SPACES.add(
    "cnn",
    _builtin("quarch.spaces.cnn"),
    "edge CNN (MobileNetV2/MCUNet family): kernel, expansion, width, depth, SE, act, bits",
)
SPACES.add(
    "hqnn",
    _builtin("quarch.spaces.hqnn"),
    "hybrid quantum-classical net: embedding, qubits, layers, rotations, entanglement",
)

_CACHE: dict[str, SpaceSpec] = {}


def get_spec(name: str) -> SpaceSpec:
    """The spec registered as ``name``.

    Raises:
        ConfigError: an unknown name (the message lists the registered ones).
    """
    if name not in _CACHE:
        _CACHE[name] = SPACES.get(name)()
    return _CACHE[name]


def check_run_space(run_dir: str | Path, space: str) -> None:
    """Refuse a run whose space is not registered in this process, in one line that says
    how a space of your own is loaded (``QUARCH_PLUGINS``): a run made from Python with
    :func:`register_space` is resumed, trained or exported by a new ``quarch`` process,
    which has never imported the module that registers it.

    Raises:
        ConfigError: ``space`` is not registered.
    """
    if space not in SPACES:
        from quarch._plugins import plugin_hint

        raise ConfigError(
            f"run {str(run_dir)!r} was made with space {space!r}, which is not registered "
            f"here (registered: {', '.join(SPACES.names())}){plugin_hint('space')}"
        )


def get_space(name: str, **options: Any) -> Space:
    """Build the registered space ``name`` with ``options``.

    Example:
        >>> get_space("mlp", max_layers=2).names[:3]
        ['n_layers', 'width_0', 'width_1']
    """
    return get_spec(name).space(**options)


def make_evaluator(
    space: Space, config: SearchConfig, *, weights_dir: Path | None = None
) -> Evaluator:
    """The evaluator of ``config.space`` for a run with ``config``, after the checks that
    need no data: the space's own (:meth:`SpaceSpec.check`) and the torch device.

    Args:
        space: the space the run searches (``get_spec(config.space).build_space(config)``).
        config: the run's config, with the space's defaults resolved.
        weights_dir: where a trainable evaluator saves each trial's weights.

    Raises:
        ConfigError: the config asks what the space cannot do, an unusable device, or an
            evaluator option whose value the evaluator refuses (its own message, with
            the options given: a user's mistake, not an internal error).
    """
    from quarch._errors import ConfigError, QuarchError
    from quarch.evaluate import check_device

    spec = get_spec(config.space)
    spec.check(config)
    check_device(config.device)
    try:
        return spec.make_evaluator(space, config, weights_dir=weights_dir)
    except QuarchError:
        raise
    except (TypeError, ValueError) as e:
        given = dict(config.evaluator_options)
        raise ConfigError(
            f"space {config.space!r} refused its evaluator options {given}: {e}"
        ) from None


def register_space(spec: SpaceSpec, *, replace: bool = False) -> SpaceSpec:
    """Register a user's space so that ``SearchConfig(space=spec.name)`` finds it.

    Args:
        spec: an instance of a :class:`SpaceSpec` subclass with ``name`` and
            ``description`` set.
        replace: allow replacing a space registered earlier under the same name
            (a notebook that re-runs its cell); built-in spaces are never replaced.

    Returns:
        ``spec``, so the call can wrap a definition.

    Raises:
        ValueError: no name or description, or the name is taken.
    """
    if not spec.name or not spec.description:
        raise ValueError("a SpaceSpec needs a name and a one-line description")
    if spec.name in SPACES:
        if not replace or spec.name in BUILTIN_SPACES:
            raise ValueError(f"space {spec.name!r} is already registered")
        SPACES.remove(spec.name)
    SPACES.add(spec.name, lambda: spec, spec.description)
    _CACHE[spec.name] = spec
    return spec


#: The spaces that come with quarch (a user may register more).
BUILTIN_SPACES: tuple[str, ...] = tuple(SPACES.names())
