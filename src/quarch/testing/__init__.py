"""Reusable contract tests for quarch plug-ins.

:class:`StrategyTestCase` checks any registered search strategy; a test module
subclasses it and provides a ``strategy`` fixture (a name in
``quarch.search.STRATEGIES``), so strategies added later are checked by the same code.
"""

from __future__ import annotations

from quarch.testing.strategies import (
    StrategyTestCase,
    contract_objective,
    contract_space,
    param_sequence,
    run_contract_study,
)

__all__ = [
    "StrategyTestCase",
    "contract_objective",
    "contract_space",
    "param_sequence",
    "run_contract_study",
]
