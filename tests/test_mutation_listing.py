"""The mutation benchmark's list of equivalent mutants must not hide mutants.

``benchmarks/mutation.py`` is how the project measures what its tests catch; an entry of
``mutation_equivalent.txt`` that outlived its function's rewrite names another mutant
(mutmut numbers them afresh), so the score must not honour it blindly
(``tests/test_mutation_listings.py`` checks the pins that keep it from doing so).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def _mutation() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_mutation", ROOT / "benchmarks" / "mutation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_list_parses_to_mutant_names() -> None:
    listed = _mutation().equivalent_mutants()
    assert listed and all("__mutmut_" in name and reason for name, reason in listed.items())


def test_every_listed_mutant_names_a_function_that_exists() -> None:
    """An entry whose function was renamed, moved or deleted is left over from old code."""
    mutation = _mutation()
    missing = []
    for name in mutation.equivalent_mutants():
        module, qualname = mutation.mutated_function(name)
        obj: object = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part, None)
        if not callable(obj):
            missing.append(name)
    assert not missing
