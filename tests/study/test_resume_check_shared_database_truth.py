"""A space spec's ``check_resumed`` is given the trials of the run being resumed, also
when its database holds other runs' studies (``quarch.study._loop._prepare``).

A spec may refuse a resume by the trials already scored (the hybrid space: trials
scored on qubits its layout no longer names). The loop loads the run's own study, by
its name, to give them: in a database shared by two runs, the study of no name is
none of them.

Truth: the trials each run stored, read back with Optuna by study name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import optuna
import pytest

from quarch.config import SearchConfig
from quarch.space import Choice, Space
from quarch.spaces import SPACES, SpaceSpec, register_space
from quarch.study import run_search

NAME = "hb-resume-check-toy"


class _Ev:
    fingerprint = "hb-toy"

    def evaluate(self, arch: dict[str, Any], *, seed: int) -> dict[str, float]:
        return {"val_error": 1 / arch["depth"], "params": float(arch["depth"])}


class _Spec(SpaceSpec):
    name = NAME
    description = "toy"
    needs_dataset = False
    heard: ClassVar[list[tuple[list[tuple[int, dict[str, Any]]], bool]]] = []

    def space(self, **options: Any) -> Space:
        return Space([Choice("depth", [1, 2, 3, 4, 5, 6])], name=NAME)

    def make_evaluator(self, space: Space, config: Any, *, weights_dir: Any = None) -> Any:
        return _Ev()

    def check_resumed(self, evaluator: Any, trials: Any, *, joining: bool = False) -> None:
        self.heard.append(([(t.number, dict(t.params)) for t in trials], joining))


@pytest.fixture
def spec() -> Iterator[type[_Spec]]:
    _Spec.heard = []
    register_space(_Spec(), replace=True)
    yield _Spec
    SPACES.remove(NAME)


def _config(tmp_path: Path, study: str, trials: int) -> SearchConfig:
    return SearchConfig(space=NAME, trials=trials, seed=7, objectives=["val_error"],
                        storage=f"sqlite:///{tmp_path / 'shared.db'}", study_name=study,
                        out=str(tmp_path / study))  # fmt: skip


def test_a_resume_checks_its_own_studys_trials_in_a_shared_database(
    spec: type[_Spec], tmp_path: Path
) -> None:
    run_search(_config(tmp_path, "first", 3), progress=False)
    run_search(_config(tmp_path, "second", 2), progress=False)
    assert spec.heard == []  # new runs have nothing to check
    run_search(_config(tmp_path, "second", 4), resume=True, progress=False)
    stored = optuna.load_study(study_name="second", storage=f"sqlite:///{tmp_path / 'shared.db'}")
    want = [(t.number, dict(t.params)) for t in stored.get_trials()[:2]]
    assert spec.heard == [(want, False)]
    assert len(stored.get_trials()) == 4
