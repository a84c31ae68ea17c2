"""The mutation benchmark's list of equivalent mutants must not hide mutants.

``benchmarks/mutation.py`` is how the project measures what its tests catch; an entry of
``mutation_equivalent.txt`` that outlived its function's rewrite names another mutant
(mutmut numbers them afresh), so the score must not honour it blindly.
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


M = "quarch.search._grover.x_amplified_probs__mutmut_"
OTHER = "quarch.cost.cutting.x_plan__mutmut_"


def test_only_surviving_listed_mutants_count_as_equivalent() -> None:
    status = {f"{M}1": "survived", f"{M}2": "killed", f"{M}3": "timeout", f"{M}4": "no tests"}
    listed = {f"{M}{i}": "reason" for i in (1, 2, 3, 4, 9)} | {f"{OTHER}1": "reason"}
    honoured, stale = _mutation().listed_equivalents(
        status, listed, ["src/quarch/search/_grover.py"]
    )
    assert honoured == {f"{M}1", f"{M}4"}
    # killed, timed out or gone: stale; another module's entry is not this run's business
    assert stale == [f"{M}2", f"{M}3", f"{M}9"]


def test_a_package_module_is_matched_by_its_package_name() -> None:
    name = "quarch.quantum.x_f__mutmut_1"
    honoured, stale = _mutation().listed_equivalents(
        {}, {name: "reason"}, ["src/quarch/quantum/__init__.py"]
    )
    assert (honoured, stale) == (set(), [name])


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


def test_mutated_function_reads_mutmut_names() -> None:
    read = _mutation().mutated_function
    assert read("quarch.search._qiea.x\u01c1QIEASampler\u01c1_propose__mutmut_44") == (
        "quarch.search._qiea",
        "QIEASampler._propose",
    )
    assert read("quarch.search._grover.x_amplified_probs__mutmut_7") == (
        "quarch.search._grover",
        "amplified_probs",
    )
    assert read("quarch.quantum._dense_shared.x__segment__mutmut_3") == (
        "quarch.quantum._dense_shared",
        "_segment",
    )
