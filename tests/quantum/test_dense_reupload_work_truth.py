"""A re-uploading program's chain work counts every segment, and decides the dense
variant by the documented line.

Why: :data:`~quarch.quantum._small_dense.DENSE_WORK` says the dense variant is taken
for a call that wants the weights' gradient only while the chains' work
(:attr:`DenseTables.work`, complex multiply-adds per call) stays under
``620,000 + 1,800 rows``. A re-uploading program runs one chain set per shared segment,
so its work is the sum over the segments; :data:`REUPLOAD_SPAN` bounds the segments
times ``2^n``, not the layers in a segment, so a deep first segment alone can pass the
line. The truth here is the work formula of the module's docstrings, written out:
``chains x layers x (d^3 + n d^2)`` per segment (no trainable diagonals), with one
chain per trainable slot plus one.
"""

from __future__ import annotations

import torch

from quarch.quantum import (
    Circuit,
    EntanglingLayer,
    IQPEmbedding,
    RotationLayer,
    _small_dense,
    compile_circuit,
)
from quarch.quantum._small_dense import DENSE_WORK, DENSE_WORK_PER_ROW, DenseTables
from quarch.quantum._small_runtime import SmallRuntime


def _reuploaded(first: int, second: int) -> Circuit:
    """Two wires: IQP, ``first`` layers of (RY, RZ on each wire, CNOT ring), IQP again,
    ``second`` such layers (two shared segments, per-sample phases between them)."""
    c = Circuit(2)
    for layers in (first, second):
        c.add(IQPEmbedding(2))
        for _ in range(layers):
            c.add(RotationLayer(2, ("Y", "Z"))).add(EntanglingLayer(2, "ring", "cnot"))
    return c


def _segment_work(layers: int, n: int = 2) -> int:
    """The docstring's formula for one segment of ``layers`` layers of two rotations per
    wire: ``(2 n layers + 1)`` chains, each ``layers (d^3 + n d^2)``."""
    d = 2**n
    return (2 * n * layers + 1) * layers * (d**3 + n * d * d)


def _runtime(c: Circuit) -> SmallRuntime:
    """The small run time of ``c`` for batched calls, after one call of 32 rows."""
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    plan.expval(["Z0", "Z1"], torch.zeros(32, c.n_inputs), torch.zeros(c.n_weights))
    (rt,) = [rt for rt in plan._small.values() if not rt.one_row]
    assert isinstance(rt.dense, DenseTables) and rt.dense.reupload is not None
    return rt


def test_the_work_is_the_sum_over_the_segments() -> None:
    for first, second in ((1, 1), (2, 1), (1, 3), (3, 2)):
        tab = _runtime(_reuploaded(first, second)).dense
        assert tab.work == _segment_work(first) + _segment_work(second), (first, second)


def test_a_deep_first_segment_decides_by_the_rows() -> None:
    """41 layers in the first segment (649,440) and one in the second (480): 649,920 in
    all, above the line at 8 and 16 rows (634,400; 648,800), below it from 32 rows on
    (677,600): the general method runs the short calls, the dense variant the others."""
    rt = _runtime(_reuploaded(41, 1))
    total = _segment_work(41) + _segment_work(1)
    assert rt.dense.work == total == 649_920
    for rows in (8, 16, 32, 64):
        takes = total <= DENSE_WORK + DENSE_WORK_PER_ROW * rows
        assert takes == (rows >= 32)
        assert (_small_dense.dense_tables(rt, rows, True) is not None) == takes, rows
