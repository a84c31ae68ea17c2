"""Defects found by the session-34 user-path audit (H3), each first failing on purpose.

A test here starts as ``xfail(strict=True)``: it states what a user may expect and fails
on the code of its day, so the suite stays green until the defect is fixed; the fix then
makes the test pass, strict xfail turns that into a failure, and whoever fixed it removes
the mark, keeping the test as the fix's regression test (both are fixed: the worker's
SQLite file in session 34, the CZ layer in session 35). The truth in each test is
independent of quarch: Qiskit's operators, SQLite's own ``journal_mode``, the files on
disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from quarch.config import SearchConfig
from quarch.study import run_search


def _toy_space() -> str:
    """A registered space whose evaluation is instant (the README's own example)."""
    from quarch.space import Choice, Space
    from quarch.spaces import SpaceSpec, register_space

    class _Eval:
        fingerprint = "h3-toy-v1"

        def __init__(self, space: Space) -> None:
            self.space = space

        def evaluate(self, arch: dict[str, Any], *, seed: int) -> dict[str, float]:
            arch = self.space.validate(arch)
            return {
                "val_error": 1 / (arch["depth"] * arch["width"]),
                "params": float(arch["depth"]),
            }

    class _Spec(SpaceSpec):
        name = "h3-open-toy"
        description = "toy"
        needs_dataset = False

        def space(self, **options: Any) -> Space:
            return Space(
                [Choice("depth", [1, 2, 3, 4]), Choice("width", [16, 32, 64])], name=self.name
            )

        def make_evaluator(
            self, space: Space, config: SearchConfig, *, weights_dir: Any = None
        ) -> Any:
            return _Eval(space)

        def metrics(self, config: SearchConfig) -> frozenset[str]:
            return frozenset({"val_error", "params"})

    register_space(_Spec(), replace=True)
    return _Spec.name


@pytest.fixture
def toy_space() -> Iterator[str]:
    """The toy space, registered for one test and removed after it (the registry is
    global: other tests list its names)."""
    from quarch.spaces import _CACHE, SPACES

    name = _toy_space()
    yield name
    if name in SPACES:
        SPACES.remove(name)
    _CACHE.pop(name, None)


def test_a_worker_that_ends_a_sqlite_run_leaves_one_file(toy_space: str, tmp_path: Path) -> None:
    from quarch.study import join_study

    space = toy_space
    out = tmp_path / "run"
    # the search stops at once (timeout) with trials left, as when a worker joined it and
    # the search's own process ended first
    first = run_search(
        SearchConfig(space=space, dataset=None, trials=4, timeout=1e-9, out=str(out)),
        progress=False,
    )
    assert len(first.complete) < 4
    db = out / "study.db"
    # the state the search leaves when another process still holds the file as it ends:
    # its PRAGMA journal_mode=DELETE fails (suppressed) and the file stays in WAL mode
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    res = join_study(run_dir=out)
    assert len(res.complete) == 4
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
        mode = con.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "delete"  # the run ends as one file, as after `quarch search`


def test_a_cz_range_layer_is_not_the_identity() -> None:
    pytest.importorskip("qiskit")
    from qiskit.quantum_info import Operator

    from quarch.quantum import to_qiskit
    from quarch.spaces.hqnn.model import build_circuit

    base = {
        "embedding": "angle-y", "qubits": 2, "layers": 1, "rotation_0": "ry",
        "entangler": "cz", "reupload": False, "measurement": "z",
    }  # fmt: skip
    ops = {}
    for pattern in ("none", "range-1", "ring"):
        c = build_circuit({**base, "entanglement_0": pattern})
        w = np.linspace(0.3, 1.1, c.n_weights).tolist()
        qc = to_qiskit(c, w)
        qc = qc.assign_parameters({p: 0.4 + 0.3 * i for i, p in enumerate(qc.parameters)})
        ops[pattern] = Operator(qc)
    assert not ops["ring"].equiv(ops["none"])  # one CZ entangles
    assert not ops["range-1"].equiv(ops["none"])  # range-1 is the ring here
    assert ops["range-1"].equiv(ops["ring"])
