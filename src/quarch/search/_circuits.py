"""What the circuit solvers (QAOA, VQE, Grover adaptive search) share: registers,
sub-QUBO decomposition, parameter-shift gradients and sampling. Helpers the solvers
call, not a base class.

A circuit solver minimises a Thompson sample of the quadratic surrogate (a
:class:`~quarch.search.QUBOProblem`) over a register of qubits that encodes
architectures (``encoding="binary"``: ``ceil(log2 k)`` qubits per choice, codes that
name no option repaired; ``"onehot"``: ``k`` qubits per choice with the one-hot penalty
in the cost). A state vector holds ``2**n`` amplitudes, so a register wider than
``max_qubits`` is split into sub-QUBOs over a few whole choices at a time, as qbsolv
does (:meth:`Register.search`): each block's circuit minimises the cost with the other
choices held at the incumbent (the model's best tried architecture), the incumbent
moves to the best sampled block state, and this repeats over the blocks ``rounds``
times. Every sampled architecture is a candidate; :class:`~quarch.search.QUBOSampler`
proposes the best untried ones.

A circuit is a function ``circuit(C, threshold, rng) -> (codes, counters)``: the cost
``C`` of every basis state of one block's register, the incumbent's cost, and the
generator for every random draw; it returns the measured basis indices and counters
to report (e.g. oracle calls).

Gradients of circuit parameters use the parameter-shift rule, evaluated as one batched
execution of the plan (a row of weights per shifted parameter), as hardware would.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._common import check_int
from quarch.search._problem import Solution
from quarch.search._surrogate import CircuitSizeError, decode_codes, n_qubits, single_thread

if TYPE_CHECKING:
    from optuna.distributions import CategoricalDistribution

    from quarch.quantum import ExecutionPlan
    from quarch.search._problem import QUBOProblem

__all__ = [
    "Circuit",
    "Register",
    "adam",
    "hardware_efficient",
    "measure",
    "sample_codes",
    "shift_gradient",
    "shift_probs",
    "split_blocks",
    "standardize",
]

_ENCODINGS = ("binary", "onehot")

#: ``circuit(C, threshold, rng) -> (measured basis indices, counters)``.
Circuit = Callable[[np.ndarray, float, np.random.Generator], tuple[np.ndarray, dict[str, float]]]


def split_blocks(
    sizes: Sequence[int], encoding: str, max_qubits: int, *, decompose: bool, strategy: str
) -> list[list[int]]:
    """Choices grouped into contiguous blocks of at most ``max_qubits`` qubits, balanced.

    Raises:
        CircuitSizeError: the register is too wide and ``decompose`` is off, or one
            choice alone needs more than ``max_qubits`` qubits.
    """
    widths = [n_qubits([k], encoding) for k in sizes]
    n = sum(widths)
    if n > max_qubits and (not decompose or max(widths) > max_qubits):
        why = (
            f"one choice alone needs {max(widths)} qubits"
            if decompose
            else f"decompose=False and the register needs n={n} qubits"
        )
        alt = sum((k - 1).bit_length() for k in sizes)  # ceil(log2 k) qubits per choice
        hint = (
            f"use encoding='binary' ({alt} qubits)"
            if encoding == "onehot"
            else "use decompose=True (sub-QUBOs over a few choices at a time)"
        )
        raise CircuitSizeError(
            f"{strategy} simulates 2**n amplitudes and allows max_qubits={max_qubits}, but "
            f"{why} in {encoding!r} encoding ({n} qubits in all); {hint}, raise max_qubits, "
            "or use 'qubo-sa' / 'qubo-sqa', which scale to any number of bits"
        )
    # A block closes once it holds its share n / n_blocks of the qubits (in integers:
    # width * n_blocks >= n), or when the next choice would overflow it. Every block
    # fits: a choice joins a non-empty block only within max_qubits, and opens a block
    # alone only when it fits by itself (checked above). One block when n <= max_qubits.
    n_blocks = math.ceil(n / max_qubits)
    blocks: list[list[int]] = [[]]
    width = 0
    for j, w in enumerate(widths):
        # a one-option choice needs no qubit: it joins the open block rather than
        # opening a one-state block of its own (nothing to search there)
        if blocks[-1] and w > 0 and (width + w > max_qubits or width * n_blocks >= n):
            blocks.append([])
            width = 0
        blocks[-1].append(j)
        width += w
    return blocks


def hardware_efficient(n: int, layers: int) -> tuple[ExecutionPlan, np.ndarray]:
    """RY layer, then ``layers`` x (CNOT ring, RY layer): real amplitudes, enough to
    reach any basis state and to correlate bits. Returns the compiled plan and the
    weights that make it the uniform superposition (first layer pi/2, the rest 0)."""
    from quarch.quantum import Circuit, Weight, compile_circuit

    c = Circuit(n)
    k = 0
    for q in range(n):
        c.ry(q, Weight(k))
        k += 1
    for _ in range(layers):
        if n > 1:
            for q in range(n if n > 2 else 1):
                c.cnot(q, (q + 1) % n)
        for q in range(n):
            c.ry(q, Weight(k))
            k += 1
    init = np.zeros(k)
    init[:n] = math.pi / 2
    return compile_circuit(c), init


def shift_probs(plan: ExecutionPlan, theta: np.ndarray) -> np.ndarray:
    """Probabilities at ``theta`` and at every +-pi/2 shift, ``(2 * P + 1, 2**n)``.

    Row 0 is ``theta``; rows ``1 + 2i`` and ``2 + 2i`` shift parameter ``i`` up and down.
    """
    import torch

    P = theta.size
    W = np.repeat(theta[None], 2 * P + 1, axis=0)
    idx = np.arange(P)
    W[1 + 2 * idx, idx] += math.pi / 2
    W[2 + 2 * idx, idx] -= math.pi / 2
    with torch.no_grad():
        probs = plan.probs(weights=torch.as_tensor(W, dtype=torch.float32))
    return probs.double().numpy()


def shift_gradient(probs: np.ndarray) -> np.ndarray:
    """d p / d theta from :func:`shift_probs` rows, ``(P, 2**n)`` (RY gates: exact)."""
    return 0.5 * (probs[1::2] - probs[2::2])


def sample_codes(probs: np.ndarray, shots: int, seed: int) -> np.ndarray:
    """``shots`` basis indices drawn from ``probs`` with quarch's sampler."""
    import torch

    from quarch.quantum import sample_bitstrings

    bits = sample_bitstrings(torch.as_tensor(probs), shots, seed=seed, probs=True)
    n = bits.shape[1]
    weights = 1 << np.arange(n - 1, -1, -1)
    return bits.numpy() @ weights


def adam(
    grad_fn: Any, x0: np.ndarray, steps: int, lr: float
) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Adam on ``grad_fn(x) -> (value, grad)``; returns the best and the start points
    with their values (the best is never worse than the start)."""
    x = np.array(x0, dtype=float)  # a copy: x0 is returned as given
    f0, g = grad_fn(x)
    best_x, best_f = x.copy(), f0
    m = np.zeros(x.shape)
    v = np.zeros(x.shape)
    for t in range(1, steps + 1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        x = x - lr * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        f, g = grad_fn(x)
        if f < best_f:  # the first of equal values stays
            best_x, best_f = x.copy(), f
    return best_x, best_f, x0, f0


def measure(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """``shots`` basis indices drawn from ``probs`` by :func:`sample_codes`, seeded with
    one draw ``rng.integers(2**31 - 1)`` (so a replay of a strategy's moves draws the same)."""
    return sample_codes(probs, shots, int(rng.integers(2**31 - 1)))


class Register:
    """How a circuit solver lays architectures on qubits, and splits a wide register.

    Args:
        encoding (str): ``"binary"`` or ``"onehot"``.
        max_qubits (int): widest register simulated, in ``[1, 24]``.
        decompose (bool): split wider registers into sub-QUBOs (else raise
            :class:`~quarch.search._surrogate.CircuitSizeError`).
        rounds (int): passes over the blocks, >= 1.
    """

    def __init__(
        self,
        *,
        encoding: str = "binary",
        max_qubits: int = 12,
        decompose: bool = True,
        rounds: int = 1,
    ) -> None:
        if encoding not in _ENCODINGS:
            raise ValueError(f"encoding must be one of {list(_ENCODINGS)}; got {encoding!r}")
        self.encoding = encoding
        self.max_qubits = check_int("max_qubits", max_qubits, 1, 24)
        if not isinstance(decompose, bool):
            raise ValueError(f"decompose must be a bool; got {decompose!r}")
        self.decompose = decompose
        self.rounds = check_int("rounds", rounds, 1)

    def __repr__(self) -> str:
        return (
            f"Register(encoding={self.encoding!r}, max_qubits={self.max_qubits}, "
            f"decompose={self.decompose}, rounds={self.rounds})"
        )

    def blocks(self, sizes: Sequence[int], strategy: str) -> list[list[int]]:
        """Choices grouped into blocks that fit (see :func:`split_blocks`); ``strategy``
        names the algorithm in the error."""
        return split_blocks(
            sizes, self.encoding, self.max_qubits, decompose=self.decompose, strategy=strategy
        )

    def check(self, search_space: dict[str, CategoricalDistribution] | None, strategy: str) -> None:
        """Raise at construction, not at the first batch, for a space that cannot run."""
        if search_space is not None:
            self.blocks([len(d.choices) for d in search_space.values()], strategy)

    def costs(
        self, problem: QUBOProblem, incumbent: np.ndarray, block: Sequence[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Cost of every basis state of ``block``'s register with the other choices at
        ``incumbent``, and the architectures the states decode to ``(2**nb, n_choices)``."""
        sub = [problem.sizes[j] for j in block]
        dec = decode_codes(sub, self.encoding).astype(np.int64)
        X = np.repeat(np.asarray(incumbent, dtype=np.int64)[None], dec.shape[0], axis=0)
        X[:, list(block)] = dec
        C = problem.energy(X)
        if self.encoding == "onehot":
            nb = sum(sub)
            z = np.arange(2**nb)  # nb <= 24 bits: any default integer holds them
            pen = np.zeros(2**nb)
            start = 0
            for k in sub:
                cnt = np.zeros(2**nb)
                for b in range(start, start + k):
                    cnt += (z >> (nb - 1 - b)) & 1
                pen += (cnt - 1) ** 2
                start += k
            C = C + problem.penalty * pen
        return C, X

    def search(
        self, problem: QUBOProblem, circuit: Circuit, rng: np.random.Generator, strategy: str
    ) -> tuple[np.ndarray, dict[str, float]]:
        """The qbsolv-style loop of the module docstring on one problem.

        Returns:
            Every sampled architecture ``(m, n_choices)``, in the order measured, and
            the circuits' counters summed.
        """
        blocks = self.blocks(problem.sizes, strategy)
        inc = np.asarray(problem.incumbent, dtype=np.int64)
        found: list[np.ndarray] = []
        counters: dict[str, float] = {}
        for _ in range(self.rounds):
            for block in blocks:
                if n_qubits([problem.sizes[j] for j in block], self.encoding) == 0:
                    continue  # one state (only one-option choices): the incumbent holds it
                C, X = self.costs(problem, inc, block)
                c_inc = float(problem.energy(inc[None])[0])
                codes, info = circuit(C, c_inc, rng)
                for k, v in info.items():
                    counters[k] = counters.get(k, 0.0) + v
                if codes.size == 0:
                    continue
                found.append(X[codes])
                # the incumbent moves by the problem's cost (budgets checked exactly),
                # the circuits minimise its QUBO energy
                E = problem.cost(X[codes])
                best = int(np.argmin(E))
                if E[best] < float(problem.cost(inc[None])[0]):
                    inc = X[codes][best].copy()
        n = len(problem.sizes)
        return (np.concatenate(found) if found else np.zeros((0, n), dtype=np.int64)), counters

    def solve(
        self,
        problems: Sequence[QUBOProblem],
        circuit: Circuit,
        rng: np.random.Generator,
        strategy: str,
    ) -> Solution:
        """:meth:`search` on each problem in turn, torch and BLAS on one thread: the
        body of a circuit solver's ``__call__``."""
        out = Solution([])
        with single_thread(True):
            for p in problems:
                X, info = self.search(p, circuit, rng, strategy)
                out.candidates.append(X)
                for k, v in info.items():
                    out.counters[k] = out.counters.get(k, 0.0) + v
        return out


def standardize(C: np.ndarray) -> np.ndarray:
    """``(C - mean) / std`` (std 1 when ``C`` is constant): angle scales stay O(1)."""
    sd = float(C.std())
    return (C - C.mean()) / (sd if sd > 0 else 1.0)
