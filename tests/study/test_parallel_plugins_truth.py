"""The modules a spawned worker imports to find the run's space and strategy
(``quarch.study._parallel._plugin_env``), in this process, where mutmut sees them.

A spawned worker fills its space and strategy tables by imports alone. The modules in
the user's ``QUARCH_PLUGINS``, and the module that defines the run's space spec and
strategy where it is neither quarch's nor the main script's, are named in the workers'
``QUARCH_PLUGINS``; the end-to-end runs (two real workers that each evaluate trials)
are in ``tests/test_notebook_workers_truth.py``.

Truth: the name of the module this test writes and imports, and the user's variable
as typed; the environment the workers start with, recorded at ``Process.start``.
"""

from __future__ import annotations

import dataclasses
import importlib
import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from quarch.config import SearchConfig
from quarch.study import _parallel as par

_MODULE = """
from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec, register_space
from quarch.search import STRATEGIES, make_sampler


class Spec(SpaceSpec):
    name = "{space}"
    description = "toy"
    needs_dataset = False

    def space(self, **options):
        return Space([Choice("depth", [1, 2, 3])], name="{space}")

    def make_evaluator(self, space, config, *, weights_dir=None):
        raise NotImplementedError


def factory(*, seed, space, objective, **options):
    return make_sampler("random", seed=seed, space=space, objective=objective)


register_space(Spec(), replace=True)
if "{strategy}" in STRATEGIES:
    STRATEGIES.remove("{strategy}")
STRATEGIES.add("{strategy}", factory, "random, of a plug-in")
"""

SPACE, STRATEGY = "plug-env-toy", "plug-env-random"


@pytest.fixture
def plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module of the user's (``hb_plug_env``, in a package ``hb_plugs`` so that its
    name has a dot) that registers :data:`SPACE` and :data:`STRATEGY`; unregistered
    after the test."""
    from quarch.search import STRATEGIES
    from quarch.spaces import SPACES

    package = tmp_path / "hb_plugs"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "hb_plug_env.py").write_text(_MODULE.format(space=SPACE, strategy=STRATEGY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("QUARCH_PLUGINS", raising=False)
    importlib.import_module("hb_plugs.hb_plug_env")
    yield "hb_plugs.hb_plug_env"
    for name in ("hb_plugs.hb_plug_env", "hb_plugs"):
        sys.modules.pop(name, None)
    if STRATEGY in STRATEGIES:
        STRATEGIES.remove(STRATEGY)
    SPACES.remove(SPACE)


def test_quarchs_own_space_and_strategy_need_no_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """No variable is set for the workers (not even an empty one)."""
    monkeypatch.delenv("QUARCH_PLUGINS", raising=False)
    assert par._plugin_env(SearchConfig(space="mlp", strategy="random")) == {}


def test_the_users_modules_are_passed_on_as_typed_without_blanks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QUARCH_PLUGINS", " mine.a , ,mine.b,,mine.a")
    got = par._plugin_env(SearchConfig(space="mlp", strategy="random"))
    assert got == {"QUARCH_PLUGINS": "mine.a,mine.b"}


def test_the_module_of_a_plugin_space_and_strategy_is_named_once(plugin: str) -> None:
    """Both come from one module: named once, whole (its package too)."""
    config = SearchConfig(space=SPACE, strategy=STRATEGY)
    assert par._plugin_env(config) == {"QUARCH_PLUGINS": plugin}
    # the space alone, the strategy alone
    assert par._plugin_env(SearchConfig(space=SPACE)) == {"QUARCH_PLUGINS": plugin}
    assert par._plugin_env(SearchConfig(space="mlp", strategy=STRATEGY)) == {
        "QUARCH_PLUGINS": plugin
    }


def test_the_users_modules_come_first_and_a_module_is_named_once(
    plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUARCH_PLUGINS", f"other,{plugin}")
    config = SearchConfig(space=SPACE, strategy=STRATEGY)
    assert par._plugin_env(config) == {"QUARCH_PLUGINS": f"other,{plugin}"}
    monkeypatch.setenv("QUARCH_PLUGINS", "other")
    assert par._plugin_env(config) == {"QUARCH_PLUGINS": f"other,{plugin}"}


@pytest.mark.parametrize(
    ("module", "named"),
    [("__main__", False), ("__mp_main__", False), ("quarch.spaces.mine", False),
     ("quarchish.mine", True), ("mine.quarch", True)],
)  # fmt: skip
def test_only_a_module_a_worker_would_not_import_itself_is_named(
    plugin: str, monkeypatch: pytest.MonkeyPatch, module: str, named: bool
) -> None:
    """quarch's modules (a worker imports quarch) and the main script's (a worker runs
    it again) are left out; a module whose name merely starts with ``quarch`` is not
    quarch's."""
    from quarch.spaces import get_spec

    monkeypatch.setattr(type(get_spec(SPACE)), "__module__", module)
    got = par._plugin_env(SearchConfig(space=SPACE))
    assert got == ({"QUARCH_PLUGINS": module} if named else {})


def test_spawned_workers_start_with_the_plugins_and_the_variable_is_put_back(
    plugin: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``run_workers``: each spawned worker starts with ``QUARCH_PLUGINS`` naming the
    module (recorded at ``Process.start``); afterwards this process's variable is as
    it was (unset here, then the user's)."""
    from quarch.study import run_search
    from quarch.study._run import Run
    from quarch.testing.evaluators import ArithmeticEvaluator

    run_search(SearchConfig(space="mlp", dataset="iris", trials=1, workers=2,
                            out=str(tmp_path / "run"), objectives=["val_error", "params"]),
               evaluator=ArithmeticEvaluator(), progress=False)  # fmt: skip
    run = Run.open(tmp_path / "run")
    seen: list[str | None] = []

    class _Recorded:
        pid = None

        def __init__(self, **kw: Any) -> None:
            pass

        def start(self) -> None:
            seen.append(os.environ.get("QUARCH_PLUGINS"))

        def is_alive(self) -> bool:
            return False

        def join(self, timeout: float | None = None) -> None:
            pass

        def terminate(self) -> None:
            pass

    monkeypatch.setattr(multiprocessing.get_context("spawn"), "Process", _Recorded)
    monkeypatch.setattr(par, "_cores", lambda: 3)
    # the run's space is mlp (its trials are ArithmeticEvaluator's); the strategy is
    # the plug-in's, which the workers must find by name
    config = dataclasses.replace(run.config, trials=2, workers=3, strategy=STRATEGY)
    for before in (None, "user.mod"):
        if before is not None:
            monkeypatch.setenv("QUARCH_PLUGINS", before)
        seen.clear()
        par.run_workers(run.study(), space=run.space, evaluator=ArithmeticEvaluator(),
                        objective=run.objective, config=config, poll=lambda: None)  # fmt: skip
        want = plugin if before is None else f"{before},{plugin}"
        assert seen == [want]  # one spawned worker: trials=2 caps the workers at 2
        assert os.environ.get("QUARCH_PLUGINS") == before


def test_a_strategy_registered_as_a_partial_names_its_functions_module(plugin: str) -> None:
    """``STRATEGIES.add(name, functools.partial(factory, ...))`` (a factory with some
    options fixed): the worker must import the module of the partial's function, not
    ``functools`` (which it named, and the worker found no such strategy)."""
    import functools

    from quarch.search import STRATEGIES

    factory = STRATEGIES.get(STRATEGY)
    fixed = functools.partial(functools.partial(factory), seed=0)
    STRATEGIES.add("plug-env-partial", fixed, "random with a fixed seed")
    try:
        got = par._plugin_env(SearchConfig(space="mlp", strategy="plug-env-partial"))
    finally:
        STRATEGIES.remove("plug-env-partial")
    assert got == {"QUARCH_PLUGINS": plugin}
