"""The registries, the public ``__all__`` lists and the README name the same things."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import quarch.search
from quarch.search import STRATEGIES
from quarch.spaces import BUILTIN_SPACES, get_spec

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _table_names(title: str) -> set[str]:
    m = re.search(rf"^### {title}\n(.*?)(?=^#)", README, re.S | re.M)
    assert m, f"README has no '### {title}' table"
    return set(re.findall(r"^\| `([^`]+)` \|", m.group(1), re.M))


def test_strategies_registry_matches_readme() -> None:
    assert set(STRATEGIES.names()) == _table_names("Strategies")


def test_spaces_registry_matches_readme_and_specs() -> None:
    assert set(BUILTIN_SPACES) == _table_names("Spaces")
    for name in BUILTIN_SPACES:
        assert get_spec(name).name == name


@pytest.mark.parametrize(
    "module",
    ["quarch", "quarch.space", "quarch.search", "quarch.evaluate", "quarch.objectives",
     "quarch.study", "quarch.quantum", "quarch.data", "quarch.cost", "quarch.spaces",
     "quarch.spaces.mlp", "quarch.spaces.cnn", "quarch.spaces.hqnn", "quarch.spaces.nb201",
     "quarch.report", "quarch.finalize", "quarch.config", "quarch.benchmark"],
)  # fmt: skip
def test_every_name_in_all_exists(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [n for n in getattr(mod, "__all__", []) if not hasattr(mod, n)]
    assert not missing


def test_every_strategy_builds_a_sampler_class_exported_in_all() -> None:
    import optuna

    from quarch.objectives import Objective
    from quarch.spaces import get_space

    space = get_space("mlp")
    exported = {getattr(quarch.search, n) for n in quarch.search.__all__}
    for name in STRATEGIES.names():
        sampler = quarch.search.make_sampler(
            name, seed=0, space=space, objective=Objective(["val_error"])
        )
        assert isinstance(sampler, optuna.samplers.BaseSampler)
        if type(sampler).__module__.startswith("quarch"):
            assert type(sampler) in exported, name
