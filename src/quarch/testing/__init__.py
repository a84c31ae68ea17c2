"""Reusable contract tests for quarch plug-ins.

:class:`StrategyTestCase` checks any registered search strategy; a test module
subclasses it and provides a ``strategy`` fixture (a name in
``quarch.search.STRATEGIES``), so strategies added later are checked by the same code.
:class:`EvaluatorTestCase` does the same for the evaluator of any registered space (an
``evaluator_case`` fixture returning an :class:`EvaluatorCase`), and
:class:`DeviceProfileTestCase` for a registered device profile (a ``device`` fixture).
"""

from __future__ import annotations

from quarch.testing.devices import DeviceProfileTestCase
from quarch.testing.evaluator_checks import EvaluatorCase, EvaluatorTestCase
from quarch.testing.strategies import (
    StrategyTestCase,
    contract_objective,
    contract_space,
    param_sequence,
    run_contract_study,
)

__all__ = [
    "DeviceProfileTestCase",
    "EvaluatorCase",
    "EvaluatorTestCase",
    "StrategyTestCase",
    "contract_objective",
    "contract_space",
    "param_sequence",
    "run_contract_study",
]
