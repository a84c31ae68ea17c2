"""Which path runs a plan: a cost model measured on the two engines.

Why a model and not a qubit cut-off: the small-circuit path
(:mod:`~quarch.quantum._small_run`) costs few torch calls but moves every state
``n`` times per Kronecker layer in its backward (the partial traces), the block engine
(:mod:`~quarch.quantum._compile`) costs more calls per block but fewer passes. Which
wins depends on the qubits, the batch *and* how the circuit was written: at n = 7 a
re-uploading circuit ran 2.5x faster on the small path at batch 256 while a plain
layered one ran 2x faster on the block engine; at batch 1 the small path
won at every n up to 10 (2-3x), at batch 256 up to n = 4-6.

Each path's forward+backward time is modelled as a linear function (milliseconds) of
features read off the compiled plans (:meth:`ExecutionPlan.path_features
<quarch.quantum.simulator.ExecutionPlan.path_features>`):

* small path: ``a0 + a1 * instructions + a2 * rows * 2^n * (n * (kron + 1) +
  instructions) / 1e6`` (``kron`` Kronecker layers, each with an ``n``-fold partial
  trace);
* block engine: ``a0 + a1 * (blocks + gathers) + a2 * rows * 2^n * (6 blocks + 4
  gathers + 6) / 1e6 + a3 * per-sample gates * rows / 1e3 + a4 * factors``, where
  ``factors`` counts the matrices multiplied into its blocks (a Kronecker layer, a
  constant, one embedded gate: a few torch calls each, per call).

``factors`` was added after the README's iris search sent 3 of its 18 plans to the
block engine at the training batch: re-uploading 2-3-qubit circuits make one engine
block of 14-18 matrix products, 1.9-3.6x slower there than on the small path
(forward+backward at batch 16, load average 5: 12.14 ms against 3.46 ms, 11.60 against
3.26, 14.82 against 7.84), which ``blocks + gathers`` (1) did not see.

The coefficients are a non-negative least-squares fit (relative error), by
``python benchmarks/path_cost.py``, to 255 measurements: the simulator benchmark's
layer (n = 2..10, L = 1, 3, 6) and 24 random ``hqnn`` circuits (2-8 qubits),
batches 1, 8, 32, 128, 256, complex64, one thread, on the shared 2-core development
machine; fitted on every other circuit, scored on the rest. Refitted in session 16
(load average 0.8-1.0) on the code with the replays and the dense variant, whose
small path had become 1.5-3x cheaper than the constants before said (their median
error on the small path: 58.9 %, now 22.2 %): the old constants sent the simulator
benchmark's n = 8, L = 2 layer to the block engine at batch 32, where the small path
took 0.75x its time (2.024 against 2.574 ms in alternating rounds; tensorcircuit-ng
2.006). On the held-out circuits the new picks were more than 10 % slower than the
other path in 7 of 125 cases (old constants: 11) and took 1.179x the time of always
picking the faster path (old: 1.200; on all 255: 1.092 against 1.106); most of that
excess is one re-uploading 7-qubit circuit whose block engine the model underrates
2.7x at 128-256 rows (a feature ``per-sample gates x rows x 2^n`` did not help). A
second measurement run gave the same constants within 4 %. Absolute times of a loaded
machine are about twice an idle one's; the choice depends on the ratio of the two
models, which load shifts much less.

On CUDA the model is not used: every torch call is a kernel launch costing the host
10-20 us, the arithmetic of these states takes microseconds, and the small path makes
the fewest calls (and, replayed, is one CUDA graph: :mod:`~quarch.quantum._cuda_graph`),
so it runs every circuit up to :data:`SMALL_MAX_QUBITS`. Measured on an NVIDIA H200
(``benchmarks/cuda.sh``, before the graphs), where the CPU model had sent the
simulator benchmark's layer to the block engine: n = 8, L = 2: 5.135 ms (batch 32) and
4.986 ms (256) on the engine against 1.611 ms on the small path (batch 1); n = 8, L = 6:
8.549 and 8.767 against 2.884; n = 6, L = 6, batch 256: 6.569 against 3.140 at batch 32.
With the graphs, forced paths timed in one process (``simulator.py --device cuda
--graphs``): the small path was 5.4-16.2x faster than the engine at n = 2..8 and 1.51x
(L = 2) and 1.88x (L = 6) at n = 10, batch 256, its worst case.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ENGINE_COEF",
    "FOLD_ROWS",
    "SINGLE_STATE",
    "SMALL_COEF",
    "SMALL_MARGIN",
    "SMALL_MAX_QUBITS",
    "WHOLE_REGISTER",
    "PlanFeatures",
    "small_is_faster",
]

SMALL_MAX_QUBITS = 10
"""Widest circuit the small path runs: it keeps one state per instruction for its
backward and its partial traces read ``n`` copies of the state, so beyond ten qubits
the block engine (adjoint gradients) is always the better choice."""

WHOLE_REGISTER = 4
"""Kronecker layers up to this many qubits are one ``2^n x 2^n`` matrix; wider ones are
applied on the register's two halves (measured: 4 beat 6 and 8 at n = 6 and 8)."""

FOLD_ROWS = 64
"""Fold shared segments into one matrix from ``max(FOLD_ROWS, 2^(n+1))`` rows on
(measured: at n = 6, L = 6, batch 256, 2.5 ms folded against 4.5 ms unfolded)."""

SINGLE_STATE = 4096
"""Build the product state in one gather up to this many entries (``rows * n * 2^n``)."""

SMALL_COEF = (0.4738, 0.041, 7.2885)
"""Small path: ms per call, per instruction, per 1e6 amplitude updates (see above)."""

ENGINE_COEF = (0.972, 0.1335, 1.2733, 0.6604, 0.1782)
"""Block engine: ms per call, per block or gather, per 1e6 amplitude passes, per 1e3
per-sample gate rows, per matrix multiplied into a block (see above)."""

SMALL_MARGIN = 0.9
"""The small path runs only where the model expects it to take at most this share of
the block engine's time: near-ties go to the block engine, whose passes suffer less
from a loaded machine's cache contention (at load average 8-9 the small path ran the
n = 8, L = 2, batch-32 layer 1.39x slower than the previous engine, a tie when idle).
Scored on session 16's measurements, 1.0 would have been slightly better (5 misses of
125 held out, 1.170x) and 0.8 slightly worse (7, 1.181x): too close to move it."""


@dataclass(frozen=True)
class PlanFeatures:
    """What the cost model reads off one compiled circuit (both paths)."""

    n_qubits: int
    small_instructions: int
    small_kron_layers: int
    engine_blocks: int
    engine_gathers: int
    per_sample_gates: int
    engine_factors: int = 0  # matrices multiplied into the blocks (each a few torch calls)

    def small_ms(self, rows: int) -> float:
        """Modelled forward+backward time of the small path at ``rows`` rows."""
        a0, a1, a2 = SMALL_COEF
        n, code = self.n_qubits, self.small_instructions
        work = rows * 2**n * (n * (self.small_kron_layers + 1) + code) / 1e6
        return a0 + a1 * code + a2 * work

    def engine_ms(self, rows: int) -> float:
        """Modelled forward+backward time of the block engine at ``rows`` rows."""
        a0, a1, a2, a3, a4 = ENGINE_COEF
        blocks, gathers = self.engine_blocks, self.engine_gathers
        work = rows * 2**self.n_qubits * (6 * blocks + 4 * gathers + 6) / 1e6
        per_sample = a3 * self.per_sample_gates * rows / 1e3
        return a0 + a1 * (blocks + gathers) + a2 * work + per_sample + a4 * self.engine_factors


def small_is_faster(features: PlanFeatures, rows: int, device_type: str = "cpu") -> bool:
    """Whether the small path should run a call of ``rows`` rows on a device of
    ``device_type``: on CUDA up to :data:`SMALL_MAX_QUBITS`, elsewhere where the model
    expects it to beat the block engine by :data:`SMALL_MARGIN` (see above)."""
    if features.n_qubits > SMALL_MAX_QUBITS:
        return False
    if device_type == "cuda":
        return True
    return features.small_ms(rows) <= SMALL_MARGIN * features.engine_ms(rows)
