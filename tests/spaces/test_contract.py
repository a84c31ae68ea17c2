"""The evaluator contract (:mod:`quarch.testing.evaluator_checks`) over every built-in
space and over the README's own-space example, as scikit-learn's ``test_common.py``
runs its estimator checks over every estimator."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from quarch.config import SearchConfig
from quarch.spaces import BUILTIN_SPACES
from quarch.testing import EvaluatorCase, EvaluatorTestCase

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data"

#: Small settings per built-in space (a test must stay fast).
CASES: dict[str, EvaluatorCase] = {
    "mlp": EvaluatorCase(SearchConfig(space="mlp", dataset="iris", epochs=2)),
    "cnn": EvaluatorCase(
        SearchConfig(
            space="cnn",
            dataset="digits",
            epochs=1,
            max_train=300,
            space_options={"n_stages": 1, "max_blocks": 1},
            evaluator_options={"latency": "model"},
        )
    ),
    "hqnn": EvaluatorCase(
        SearchConfig(
            space="hqnn",
            dataset="iris",
            epochs=1,
            space_options={"max_qubits": 3, "max_layers": 1},
        )
    ),
    "nb201": EvaluatorCase(
        SearchConfig(space="nb201", dataset="cifar10", data_dir=str(DATA)),
        skip=None if (DATA / "nb201").is_dir() else "shared nb201 table absent",
    ),
}


def _readme_space() -> EvaluatorCase:
    """Register the README's ToySpec by running its example's definitions."""
    readme = (ROOT / "README.md").read_text()
    (code,) = [b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "ToySpec" in b]
    definitions = code.split("result = run_search")[0]  # everything up to the search
    exec(compile(definitions, "README.md", "exec"), {"__name__": "__readme__"})
    return EvaluatorCase(SearchConfig(space="toy", dataset=None))


def test_every_builtin_space_has_a_case() -> None:
    assert set(CASES) == set(BUILTIN_SPACES)


@pytest.fixture(params=[*CASES, "readme-toy"])
def evaluator_case(request: pytest.FixtureRequest) -> Iterator[EvaluatorCase]:
    if request.param != "readme-toy":
        yield CASES[request.param]
        return
    from quarch.spaces import SPACES

    had = "toy" in SPACES
    yield _readme_space()
    if not had:  # later tests that list the spaces see the built-in ones only
        SPACES.remove("toy")


class TestEvaluatorContract(EvaluatorTestCase):
    """Declared metrics, determinism by seed, saved weights, clear errors."""
