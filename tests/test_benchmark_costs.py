"""The benchmark sums what its evaluations would cost on the real evaluator.

A tabular evaluator returns the measured training time of the row it looks up as
``train_seconds``; each run reports the total and the part spent until the target was
first reached. Truth: an evaluator whose ``k``-th distinct architecture costs ``k``
seconds, so the sums are known in closed form from the run's own query order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from quarch.benchmark._run import run_one

TASK = """
from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

SPACE = Space([Choice("a", list(range(8))), Choice("b", list(range(8)))], name="toy")
SEEN = []


class Costly:
    def evaluate(self, arch, *, seed):
        SEEN.append(dict(arch))
        err = ((arch["a"] - 5) ** 2 + (arch["b"] - 2) ** 2) / 100
        return {"val_error": err, "train_seconds": float(arch["a"] + 1)}


def toy(*, seed=0):
    ev = Costly()
    return Task(
        name="costly", space=SPACE, evaluator=ev,
        objective=task_objective([], {"val_error": 0.0}), judge=lambda a: -(
            (a["a"] - 5) ** 2 + (a["b"] - 2) ** 2),
        maximize=True, optimum=0.0, target=-1.0, score_name="minus distance",
    )
"""


@pytest.mark.parametrize("strategy", ["random", "qiea"])
def test_training_time_to_target_is_the_sum_over_the_queries_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    (tmp_path / "costly_task.py").write_text(TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    import costly_task  # type: ignore[import-not-found]

    costly_task.SEEN.clear()
    row = run_one("costly_task:toy", strategy, 3, 40, None, ())
    seen = costly_task.SEEN
    assert len(seen) == row["queries"] == 40
    assert row["train_seconds"] == pytest.approx(sum(a["a"] + 1 for a in seen))
    q = row["queries_to_target"]
    assert q is not None, "the toy target is reached in 40 queries"
    # the pick first reaches the target at query q: the q-th evaluation found it
    assert row["train_seconds_to_target"] == pytest.approx(sum(a["a"] + 1 for a in seen[:q]))
