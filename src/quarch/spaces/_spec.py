"""`SpaceSpec`: what one search space offers the rest of quarch.

The search loop, the CLI, ``quarch train``, ``quarch export``, the report and the
benchmark never test a space's name; they ask its spec. A spec builds the space from a
config, builds its evaluator, says which evaluator options, device profiles and export
formats it accepts, and resolves defaults that depend on them (the ``cnn`` device
profile's budgets). A user's own space is one subclass registered with
:func:`quarch.spaces.register_space`, exactly as the built-in ones are.

The hooks follow Optuna's ``BaseSampler`` habit: two are required
(:meth:`SpaceSpec.space`, :meth:`SpaceSpec.make_evaluator`), every other one has a
default that suits a space with no options, so a small space overrides two methods.

Example:
    >>> from quarch.space import Choice, Space
    >>> class ToySpec(SpaceSpec):
    ...     name = "toy-doc"
    ...     description = "two choices"
    ...     needs_dataset = False
    ...     def space(self, **options):
    ...         return Space([Choice("depth", [1, 2]), Choice("width", [8, 16])], name=self.name)
    ...     def make_evaluator(self, space, config, *, weights_dir=None):
    ...         raise NotImplementedError
    >>> ToySpec().build_space(None).size
    4
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from quarch._errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.data import DatasetInfo
    from quarch.evaluate import Evaluator
    from quarch.evaluate.task import Task
    from quarch.space import Space

__all__ = ["SpaceSpec"]


class _SpaceOptionsError(ConfigError):
    """A refusal of a space's options; ``unknown_names`` when it names options the
    space does not take (decided without the data set, see
    :meth:`SpaceSpec.check_option_names`)."""

    def __init__(self, message: str, *, unknown_names: bool = False) -> None:
        super().__init__(message)
        self.unknown_names = unknown_names


class SpaceSpec:
    """One registered search space: its builder, evaluator and what it accepts.

    Attributes:
        name (str): the name ``--space`` takes.
        description (str): one line for ``quarch spaces`` (read by
            :func:`~quarch.spaces.register_space`; the built-in spaces' lines are in
            their registration).
        needs_dataset (bool): whether a run must name a data set (``--dataset``).
        default_dataset (str | None): the data set a run without ``--dataset`` uses
            (filled in when it starts and saved with it); ``None``: it must be named.
        dataset_aware (bool): whether the space's own options depend on the data set;
            :meth:`build_space` then receives it as the ``dataset`` option.
        evaluator_options (Mapping[str, str]): the keys ``[evaluator_options]`` may
            hold, each with a one-line description. Anything else is refused before
            the run starts, with this list: by ``quarch search`` before it imports the
            search loop (:meth:`check_names`), whatever :meth:`check` would say, so a
            space lists every option it takes here; its :meth:`check` may refuse more,
            not take more (a space whose option names no table can list overrides
            :meth:`check_evaluator_option_names`, which both ask).
        flag_options (tuple[str, ...]): those of them that are true or false; any other
            value is refused before the run starts (``save_weights=no`` is a non-empty
            string, which Python reads as true: the opposite of what it says).
        weight_sharing (str | None): the evaluator option that scores with inherited
            weights (``--supercircuit``), or ``None`` when the space has no weight
            sharing.
        device_kinds (tuple[str, ...]): kinds of device profile ``--device-profile``
            may name for this space (``"edge"``, ``"quantum"``); empty: none.
        export_formats (tuple[str, ...]): what ``quarch export`` can write for it.
        unreproducible (frozenset[str]): metrics that are measurements (wall times), so
            a repeated evaluation need not reproduce them.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    needs_dataset: ClassVar[bool] = True
    default_dataset: ClassVar[str | None] = None
    dataset_aware: ClassVar[bool] = False
    evaluator_options: ClassVar[Mapping[str, str]] = {}
    flag_options: ClassVar[tuple[str, ...]] = ()
    weight_sharing: ClassVar[str | None] = None
    device_kinds: ClassVar[tuple[str, ...]] = ()
    export_formats: ClassVar[tuple[str, ...]] = ()
    unreproducible: ClassVar[frozenset[str]] = frozenset()

    # -- required ----------------------------------------------------------------------
    def space(self, **options: Any) -> Space:
        """The space built with ``options`` (a run's ``space_options``).

        Raises:
            TypeError or ValueError: an option the space does not take, or a bad value.
        """
        raise NotImplementedError

    def make_evaluator(
        self, space: Space, config: SearchConfig, *, weights_dir: Path | None = None
    ) -> Evaluator:
        """The evaluator of a run with ``config`` (loads the data set it needs).

        Args:
            space: the space :meth:`build_space` made for ``config``.
            config: the run's config, already through :meth:`resolve`.
            weights_dir: where a trainable evaluator saves each trial's trained
                weights (``RUN/weights``, owned by :class:`quarch.study.Run`), or
                ``None`` to save nothing.
        """
        raise NotImplementedError

    # -- optional ----------------------------------------------------------------------
    def build_space(self, config: SearchConfig | None) -> Space:
        """The space a run with ``config`` searches (``None``: the defaults).

        Raises:
            ConfigError: an option the space does not take, or a bad value.
        """
        opts = self.space_options(config)
        try:
            return self.space(**opts)
        except (TypeError, ValueError) as e:
            raise self._refusal(e, config) from None

    def check_option_names(self, config: SearchConfig) -> None:
        """Refuse an option name the space does not take, with :meth:`build_space`'s
        line, and leave every other check to it.

        The CLI asks this before it imports the search loop (torch and Optuna's
        storages), so a mistyped ``--space-option`` costs a fraction of a second. A name
        does not depend on the data set or devices the search resolves later; a value
        may, so a builder's other refusals (and anything else it raises) wait for the
        search, which builds the space from the resolved config.
        """
        if not config.space_options:
            return
        try:
            self.space(**self.space_options(config))
        except TypeError as e:
            refusal = self._refusal(e, config)
            if refusal.unknown_names:
                raise refusal from None
        except Exception:  # a value: the search refuses it, with the resolved config
            return

    def check_names(self, config: SearchConfig) -> None:
        """Refuse, with :meth:`check`'s own lines, what is wrong with ``config``'s names
        alone: a space option or an evaluator option the space does not take, or a
        device profile it cannot use (unknown, or of another kind).

        The CLI asks this before it imports the search loop (torch and Optuna's
        storages): none of these needs the data set, torch or the space's costs, so a
        mistyped ``--device-profile`` costs a fraction of a second rather than the
        seconds torch takes to import.
        """
        self.check_option_names(config)
        self.check_evaluator_option_names(config)
        self._check_device_profiles(config)

    def check_evaluator_option_names(self, config: SearchConfig) -> None:
        """Refuse an evaluator option that is not one of :attr:`evaluator_options`
        (the line lists them); a space whose options have a reason to refuse one says it
        here. Both :meth:`check_names` (the command line's early check) and
        :meth:`check` ask this, so a space that takes option names a table cannot list
        overrides this method, not :meth:`check`.

        Raises:
            ConfigError: one line naming the options the space takes; where the
            space's :meth:`check` is the user's own, also the table to add one to.
        """
        unknown = sorted(set(config.evaluator_options) - set(self.evaluator_options))
        if unknown:
            known = ", ".join(sorted(self.evaluator_options)) or "none"
            from quarch.config import misplaced_keys_hint

            own = ""
            if type(self).check.__module__.split(".")[0] != "quarch":  # a user's check()
                own = (
                    f"; a space takes the evaluator options its spec lists (its check() "
                    f"cannot take more): add one to {type(self).__qualname__}.evaluator_options"
                )
            raise ConfigError(
                f"space {self.name!r} takes no evaluator option {', '.join(map(repr, unknown))}; "
                f"it takes: {known}{misplaced_keys_hint(unknown, 'evaluator_options')}"
                f"{did_you_mean(unknown, self.evaluator_options)}{own}"
            )

    def device_profiles(self, config: SearchConfig) -> list[str]:
        """The device profile names ``config``'s evaluator options give, each to be one of
        :attr:`device_kinds` in :data:`quarch.cost.DEVICES`. The default: the
        ``device_profile`` option, for a space that takes it."""
        value = config.evaluator_options.get("device_profile")
        if value is None or "device_profile" not in self.evaluator_options:
            return []
        return [str(value)]

    def _check_device_profiles(self, config: SearchConfig) -> None:
        names = self.device_profiles(config)
        if names:  # quarch.cost.devices reads no torch: a fraction of a second
            from quarch.cost.devices import check_device_profile

            for name in names:
                check_device_profile(name, self.device_kinds)

    def _refusal(self, e: BaseException, config: SearchConfig | None) -> _SpaceOptionsError:
        """The line refusing ``config``'s space options, from the builder's error."""
        import re

        from quarch.config import misplaced_keys_hint

        known = self.space_option_names(e)
        # the user's options only: the data set a dataset-aware space receives is
        # quarch's doing, and a bad value (no names known) names no wrong key
        given = dict(config.space_options) if config is not None else {}
        wrong = sorted(set(given) - set(known)) if known else []
        hint = misplaced_keys_hint(wrong, "space_options") + did_you_mean(wrong, known)
        if wrong:  # the builder's TypeError names a Python function: say it in the user's terms
            what = "option" if len(wrong) == 1 else "options"
            return _SpaceOptionsError(
                f"space {self.name!r} takes no {what} {', '.join(map(repr, wrong))}; "
                f"it takes: {', '.join(known)}{hint}",
                unknown_names=True,
            )
        unexpected = re.match(r"\S+\(\) got an unexpected keyword argument '(\w+)'", str(e))
        if not known and unexpected and unexpected.group(1) in given:  # a space of no options
            key = unexpected.group(1)  # (or a builder not found): the one name it refused
            none = "; it takes none" if self._builder(e) is not None else ""
            return _SpaceOptionsError(
                f"space {self.name!r} takes no option {key!r}{none}"
                f"{misplaced_keys_hint([key], 'space_options')}",
                unknown_names=True,
            )
        takes = f"; it takes: {', '.join(known)}" if known else ""
        return _SpaceOptionsError(
            f"space {self.name!r} rejected its options {given}: {e}{takes}{hint}"
        )

    def space_option_names(self, error: BaseException | None = None) -> list[str]:
        """The keyword options :meth:`space` takes, for the message that refuses an
        unknown one: the keyword parameters of :meth:`space` itself or, when it passes
        ``**options`` on, of the module-level builder the ``TypeError`` names (the
        built-in specs call ``mlp_space(**options)`` and friends)."""
        import inspect

        def keywords(fn: Any) -> list[str]:
            try:
                params = inspect.signature(fn).parameters.values()
            except (TypeError, ValueError):
                return []
            kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
            return [p.name for p in params if p.kind in kinds]  # bound: no `self`

        names = keywords(self.space)
        if names or error is None:
            return names
        builder = self._builder(error)
        return keywords(builder) if builder is not None else []

    def _builder(self, error: BaseException) -> Callable[..., Any] | None:
        """The module-level function an unexpected-keyword ``TypeError`` names, looked up
        in this spec's module (``mlp_space`` for ``mlp_space() got an unexpected ...``)."""
        import re
        import sys

        m = re.match(r"(\w+)\(\) got an unexpected keyword argument", str(error))
        module = sys.modules.get(type(self).__module__)
        builder = getattr(module, m.group(1), None) if m and module else None
        return builder if callable(builder) else None

    def space_options(self, config: SearchConfig | None) -> dict[str, Any]:
        """The keyword options :meth:`build_space` applies: the config's, plus the
        data set for a :attr:`dataset_aware` space."""
        if config is None:
            return {}
        opts = dict(config.space_options)
        if self.dataset_aware and config.dataset:
            given = opts.setdefault("dataset", config.dataset)
            if given != config.dataset:  # the space shaped for one set, trained on another
                raise ConfigError(
                    f"space option dataset={given!r} contradicts --dataset "
                    f"{config.dataset!r}; the space takes its data set from --dataset "
                    "(drop the option)"
                )
        return opts

    def check(self, config: SearchConfig) -> None:
        """Refuse, before anything is written, what this space cannot do with ``config``.

        The default checks the data set is named when needed, every evaluator option is
        one of :attr:`evaluator_options` (:meth:`check_evaluator_option_names`), and
        every objective and budget names a metric of :meth:`metrics` (so a run never
        trains 25 models to find a metric missing); a space adds its own rules. An
        override refuses more, never takes more: the command line refuses an evaluator
        option name outside :attr:`evaluator_options` before this is asked.

        Raises:
            ConfigError: one line naming what is accepted.
        """
        if self.needs_dataset and not config.dataset:
            raise ConfigError(
                f"space {self.name!r} needs --dataset NAME (`quarch datasets` lists them)"
            )
        self.check_evaluator_option_names(config)
        for key in self.flag_options:
            value = config.evaluator_options.get(key)
            if value is not None and not isinstance(value, bool):
                raise ConfigError(
                    f"space {self.name!r}: evaluator option {key!r} must be true or false; "
                    f"got {value!r}"
                )
        self._check_device_profiles(config)
        produced = self.metrics(config)
        if produced is not None:
            from quarch.objectives import Budget

            needed = [*config.objectives, *(Budget.parse(b).metric for b in config.budgets)]
            missing = [m for m in dict.fromkeys(needed) if m not in produced]
            if missing:
                raise ConfigError(
                    f"space {self.name!r} does not produce metric(s) "
                    f"{', '.join(map(repr, missing))} with this config; it produces: "
                    f"{', '.join(sorted(produced))}"
                )

    def resolve(self, config: SearchConfig) -> SearchConfig:
        """``config`` with the defaults this space fills in (saved with the run, so the
        run folder shows what was in force).

        The default saves a data set of :mod:`quarch.data` under its registered name:
        ``--dataset Iris``, which :func:`~quarch.data.load_dataset` reads as ``iris``,
        becomes ``iris``, so every spelling gives one run folder name and the defaults a
        space keeps per data set. A ``dataset`` space option spelled as ``--dataset``
        follows. Any other name is left as given; a space whose data sets are its own
        and spelled otherwise overrides this (and calls it, if it also reads
        :mod:`quarch.data`).
        """
        from quarch.data._dataset import registered_name

        name = registered_name(config.dataset) if config.dataset else None
        if name is None or name == config.dataset:
            return config
        options = dict(config.space_options)
        if options.get("dataset") == config.dataset:
            options["dataset"] = name
        return dataclasses.replace(config, dataset=name, space_options=options)

    def metrics(self, config: SearchConfig) -> frozenset[str] | None:
        """The metrics the evaluator of a run with ``config`` returns, so objectives and
        budgets are checked before any trial; ``None`` when the space cannot say."""
        return None

    def used_params(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """The choices ``arch`` uses, for people to read (tables, the report): a
        fixed-length space carries choices an architecture ignores (the width of a
        third layer of a one-layer net). The default: all of them."""
        return dict(arch)

    def datasets(self, data_dir: str | Path | None) -> list[DatasetInfo]:
        """Data sets this space brings itself (tables it reads instead of
        :mod:`quarch.data`'s sets), for ``quarch datasets``. The default: none."""
        return []

    def benchmark_tasks(self) -> dict[str, Callable[..., Task]]:
        """Benchmark tasks this space offers ``quarch benchmark --task``, by name; each
        is called as ``factory(*, seed, data_dir, budgets)``. The default: none."""
        return {}

    def is_trainable(self) -> bool:
        """Whether trials have a model to train, draw and export (not a table look-up)."""
        return bool(self.export_formats)
