"""The scope of a fixture whose result several tests of a module read.

Such a fixture (a finished run, a trained model, a loaded data set) is built once per
module, which keeps the default suite fast. Under mutmut it is built once per test
instead, because mutmut 3 credits every call into quarch to the test that is running
when the call happens: a module-scoped fixture's calls are credited to the first test
that asks for it, and the module's other tests, which only read its result, are never
run against the mutants of the code that built it. The group's score then counts those
mutants as killed or survived on the first test alone.

mutmut sets ``MUTANT_UNDER_TEST`` in every process it runs tests in: ``"stats"`` while
it records which tests call which function, a mutant's name while it tests one. An
empty value is its clean run, where sharing costs nothing.

Use ``@pytest.fixture(scope=per_module)`` instead of ``scope="module"``;
``tests/test_layout.py`` refuses a module-scoped fixture that does not.
"""

from __future__ import annotations

import os
from typing import Literal

import pytest


def per_module(fixture_name: str, config: pytest.Config) -> Literal["module", "function"]:
    """``"module"`` normally, ``"function"`` while mutmut runs the tests (see above)."""
    del fixture_name, config  # pytest's signature for a dynamic scope
    return "function" if os.environ.get("MUTANT_UNDER_TEST") else "module"
