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


ROUTED_TASK = """
from qiskit import QuantumCircuit, transpile
from qiskit.transpiler import CouplingMap

from quarch.evaluate.task import Task, task_objective
from quarch.space import Choice, Space

SPACE = Space([Choice("a", list(range(4))), Choice("b", list(range(4)))], name="routed")
LINE = CouplingMap.from_line(6)


def swaps(arch):
    qc = QuantumCircuit(6)
    for q in range(1, 6):
        qc.cx(0, q)
    qc.cx(arch["a"], 5 - arch["b"] if arch["a"] != 5 - arch["b"] else 5)
    out = transpile(qc, coupling_map=LINE, optimization_level=1, seed_transpiler=arch["a"])
    return out.count_ops().get("swap", 0)


class Routed:
    def evaluate(self, arch, *, seed):
        return {"val_error": float(swaps(arch))}


def routed(*, seed=0):
    swaps({"a": 0, "b": 0})  # the parent transpiles before the workers are forked
    return Task(
        name="routed", space=SPACE, evaluator=Routed(),
        objective=task_objective([], {"val_error": 0.0}), judge=lambda a: -swaps(a),
        maximize=True, optimum=0.0, target=0.0, score_name="minus swaps",
    )
"""


def test_workers_forked_after_qiskit_transpiled_do_not_hang(tmp_path: Path) -> None:
    """Qiskit's Rust thread pool does not survive a fork: a task that transpiles in the
    parent and in each forked worker hung at the workers' first transpile."""
    pytest.importorskip("qiskit")
    import os
    import subprocess
    import sys

    (tmp_path / "routed_task.py").write_text(ROUTED_TASK)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    env.pop("QISKIT_IN_PARALLEL", None)
    argv = [sys.executable, "-m", "quarch.cli", "benchmark", "--task", "routed_task:routed",
            "--strategies", "random,local", "--seeds", "2", "--trials", "4", "--workers", "2",
            "--json", "--out", str(tmp_path / "out")]  # fmt: skip
    try:
        proc = subprocess.run(
            argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the forked workers hung")
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "out" / "results.csv").exists()
