"""The circuit solvers' shared helpers against independent truth.

* :func:`hardware_efficient` and :func:`shift_probs` against the documented RY/CNOT-ring
  circuit built in Qiskit (``Statevector``), at the weights and at every +-pi/2 shift;
* :func:`shift_gradient` against central finite differences of Qiskit's probabilities
  in double precision;
* :func:`sample_codes` / :func:`measure` against point masses (the bit order) and a
  chi-square test at a significance level fixed in advance;
* :func:`adam` step by step against ``torch.optim.Adam``;
* :class:`Register`'s costs against every basis state decoded here from its bit string,
  and its qbsolv-style loop against the loop its docstring describes, with a circuit
  that records what it is given;
* :func:`split_blocks` against hand-worked splits and the properties it promises, and
  every message a bad argument gets, in full.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
from optuna.distributions import CategoricalDistribution
from scipy import stats

from quarch.search._circuits import (
    Register,
    adam,
    hardware_efficient,
    measure,
    sample_codes,
    shift_gradient,
    shift_probs,
    split_blocks,
    standardize,
)
from quarch.search._problem import Constraint, QUBOProblem
from quarch.search._surrogate import CircuitSizeError, QuadraticModel, n_features, single_thread

from ._reference import chi_square_p, ry_ring_probs

#: The chance that a correct sampler fails the chi-square test below, fixed in advance.
ALPHA = 1e-3


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


def exactly(message: str) -> str:
    return f"^{re.escape(message)}$"


def widths_of(sizes: list[int], encoding: str) -> list[int]:
    """Qubits per choice, written from the docstring: ``k`` one-hot, else the fewest bits
    that count ``k`` codes."""
    if encoding == "onehot":
        return list(sizes)
    return [next(b for b in range(64) if 2**b >= k) for k in sizes]


def decode(z: int, sizes: list[int], encoding: str) -> tuple[list[int], float]:
    """Option indices of basis state ``z`` (wire 0 the most significant bit) and the
    one-hot penalty count ``sum (ones - 1)**2`` (0 in binary)."""
    widths = widths_of(sizes, encoding)
    bits = format(z, f"0{sum(widths)}b") if sum(widths) else ""
    out, pen, start = [], 0.0, 0
    for k, w in zip(sizes, widths, strict=True):
        group = bits[start : start + w]
        start += w
        if encoding == "onehot":
            out.append(group.index("1") if "1" in group else 0)
            pen += (group.count("1") - 1) ** 2
        else:
            out.append(int(group, 2) % k if group else 0)
    return out, pen


def problem(sizes: list[int], seed: int, incumbent: list[int] | None = None) -> QUBOProblem:
    w = np.random.default_rng(seed).standard_normal(n_features(sizes))
    inc = np.zeros(len(sizes), dtype=np.int64) if incumbent is None else np.array(incumbent)
    return QUBOProblem(QuadraticModel(sizes, w), inc)


# -- the circuit -------------------------------------------------------------------------
class TestAnsatzAgainstQiskit:
    @pytest.mark.parametrize(
        ("n", "layers"), [(1, 0), (1, 2), (2, 1), (2, 2), (3, 1), (3, 2), (4, 2)]
    )
    def test_probabilities_and_shifts(self, n: int, layers: int) -> None:
        plan, init = hardware_efficient(n, layers)
        assert init.shape == (n * (layers + 1),)
        assert init.tolist() == [math.pi / 2] * n + [0.0] * (n * layers)
        uniform = shift_probs(plan, init)[0]
        np.testing.assert_allclose(uniform, np.full(2**n, 2.0**-n), atol=1e-6)
        theta = np.random.default_rng(10 * n + layers).uniform(-np.pi, np.pi, init.size)
        rows = shift_probs(plan, theta)
        assert rows.shape == (2 * theta.size + 1, 2**n) and rows.dtype == np.float64
        np.testing.assert_allclose(rows[0], ry_ring_probs(n, layers, theta), atol=2e-6)
        for i in range(theta.size):
            for row, sign in ((1 + 2 * i, 1), (2 + 2 * i, -1)):
                shifted = theta.copy()
                shifted[i] += sign * math.pi / 2
                np.testing.assert_allclose(
                    rows[row], ry_ring_probs(n, layers, shifted), atol=2e-6, err_msg=f"row {row}"
                )

    @pytest.mark.parametrize(("n", "layers"), [(1, 1), (2, 1), (3, 2)])
    def test_gradient_is_the_derivative(self, n: int, layers: int) -> None:
        """Exact for RY gates: agrees with Qiskit's central differences in float64 to
        the float32 rounding of the simulated rows."""
        plan, init = hardware_efficient(n, layers)
        theta = np.random.default_rng(n).uniform(-np.pi, np.pi, init.size)
        grad = shift_gradient(shift_probs(plan, theta))
        assert grad.shape == (theta.size, 2**n)
        eps = 1e-6
        for i in range(theta.size):
            up, dn = theta.copy(), theta.copy()
            up[i] += eps
            dn[i] -= eps
            fd = (ry_ring_probs(n, layers, up) - ry_ring_probs(n, layers, dn)) / (2 * eps)
            np.testing.assert_allclose(grad[i], fd, atol=3e-6, err_msg=f"parameter {i}")


# -- sampling ----------------------------------------------------------------------------
class TestSampling:
    @pytest.mark.parametrize("n", [1, 2, 3])
    def test_point_masses_give_their_index(self, n: int) -> None:
        """Wire 0 is the most significant bit: a point mass at ``z`` measures ``z``."""
        for z in range(2**n):
            probs = np.zeros(2**n)
            probs[z] = 1.0
            codes = sample_codes(probs, 5, seed=z)
            assert codes.tolist() == [z] * 5

    def test_frequencies(self) -> None:
        probs = np.random.default_rng(3).dirichlet(np.ones(16))
        codes = sample_codes(probs, 4000, seed=11)
        assert codes.shape == (4000,) and codes.min() >= 0 and codes.max() < 16
        assert chi_square_p(codes, probs) > ALPHA

    def test_seeded(self) -> None:
        probs = np.full(8, 1 / 8)
        a = sample_codes(probs, 50, seed=4)
        assert np.array_equal(a, sample_codes(probs, 50, seed=4))
        assert not np.array_equal(a, sample_codes(probs, 50, seed=5))

    def test_measure_draws_its_seed_from_the_generator(self) -> None:
        """The documented seed ``rng.integers(2**31 - 1)``, one draw: what the replays
        of the strategies' moves rely on."""
        probs = np.random.default_rng(0).dirichlet(np.ones(8))
        rng, twin = np.random.default_rng(9), np.random.default_rng(9)
        for _ in range(8):  # bounds a little off often draw the same seed: draw several
            got = measure(probs, 30, rng)
            assert np.array_equal(got, sample_codes(probs, 30, int(twin.integers(2**31 - 1))))
        assert rng.random() == twin.random()  # exactly one draw taken each time


# -- Adam --------------------------------------------------------------------------------
def _bumpy(x: np.ndarray) -> tuple[float, np.ndarray]:
    """A function with a quadratic bowl and ripples (so Adam overshoots and climbs)."""
    a = np.arange(1, x.size + 1, dtype=float)
    f = float(np.sum(a * (x - 0.3) ** 2) + np.sum(np.sin(3 * x)))
    return f, 2 * a * (x - 0.3) + 3 * np.cos(3 * x)


class TestAdam:
    @pytest.mark.parametrize(("steps", "lr"), [(0, 0.1), (1, 0.1), (25, 0.05), (40, 0.9)])
    def test_against_torch(self, steps: int, lr: float) -> None:
        x0 = np.array([1.0, -0.5, 2.0])
        seen: list[tuple[np.ndarray, float]] = []

        def grad_fn(x: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = _bumpy(x)
            seen.append((x.copy(), f))
            return f, g

        best_x, best_f, start, f0 = adam(grad_fn, x0, steps, lr)
        # torch's Adam with its defaults (betas 0.9, 0.999, eps 1e-8), in float64
        p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr)
        path = [x0.copy()]
        for _ in range(steps):
            opt.zero_grad()
            p.grad = torch.as_tensor(_bumpy(p.detach().numpy())[1])
            opt.step()
            path.append(p.detach().numpy().copy())
        assert len(seen) == steps + 1  # every step's point, and the last one, evaluated
        for (x, _), want in zip(seen, path, strict=True):
            np.testing.assert_allclose(x, want, rtol=1e-12, atol=1e-12)
        values = [f for _, f in seen]  # the path's values (torch's agree to rounding)
        i = int(np.argmin(values))
        assert best_f == values[i] and np.array_equal(best_x, seen[i][0])
        assert f0 == values[0] and start is x0 and x0.tolist() == [1.0, -0.5, 2.0]
        assert best_f <= f0

    def test_best_is_the_first_of_equal_values(self) -> None:
        """A flat function: nothing beats the start, which is returned (a copy)."""
        x0 = np.array([1, 2])  # integers are read as floats
        best_x, best_f, _, f0 = adam(lambda x: (5.0, np.ones_like(x)), x0, 3, 0.5)
        assert best_f == f0 == 5.0 and best_x.tolist() == [1.0, 2.0] and best_x.dtype == float

    def test_large_overshoot_keeps_the_best(self) -> None:
        """lr 0.9 on a narrow bowl: the last point is worse than the best seen."""
        seen: list[float] = []

        def grad_fn(x: np.ndarray) -> tuple[float, np.ndarray]:
            f, g = _bumpy(x)
            seen.append(f)
            return f, g

        _, best_f, _, _ = adam(grad_fn, np.array([1.0, -0.5, 2.0]), 40, 0.9)
        assert best_f == min(seen) < seen[-1]


def test_standardize() -> None:
    C = np.random.default_rng(2).standard_normal(16) * 3 + 7
    np.testing.assert_allclose(standardize(C), stats.zscore(C), atol=1e-12)
    flat = standardize(np.full(4, 2.5))  # std 0: no division, no NaN
    assert flat.tolist() == [0.0] * 4


# -- blocks ------------------------------------------------------------------------------
class TestSplitBlocks:
    @pytest.mark.parametrize(
        ("sizes", "encoding", "max_qubits", "want"),
        [
            # fits (n == max_qubits): one block of every choice
            ([4, 4, 2], "binary", 5, [[0, 1, 2]]),
            # 6 qubits, 2 blocks of target 3 (a greedy fill to 4 would give 4 + 2)
            ([2] * 6, "binary", 4, [[0, 1, 2], [3, 4, 5]]),
            # 12 qubits of 2, 3 blocks of target 4
            ([4] * 6, "binary", 4, [[0, 1], [2, 3], [4, 5]]),
            # 10 one-qubit choices, 3 blocks: close at >= 10/3 qubits, so 4, 4, 2
            ([2] * 10, "binary", 4, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]),
            # a block closes before overflowing: 2 + 3 > 4 qubits
            ([4, 8, 8], "binary", 4, [[0], [1], [2]]),
            # one-option choices (0 qubits) join the open block, first or not
            ([1, 2, 2, 1, 2, 2, 1], "binary", 2, [[0, 1, 2, 3], [4, 5, 6]]),
            ([3, 1, 2], "binary", 2, [[0, 1], [2]]),
            # one-hot: k qubits per choice (3 + 2 + 3 = 8, 2 blocks of target 4)
            ([3, 2, 3], "onehot", 5, [[0, 1], [2]]),
        ],
        ids=str,
    )
    def test_hand_worked(
        self, sizes: list[int], encoding: str, max_qubits: int, want: list[list[int]]
    ) -> None:
        got = split_blocks(sizes, encoding, max_qubits, decompose=True, strategy="s")
        assert got == want
        assert Register(encoding=encoding, max_qubits=max_qubits).blocks(sizes, "s") == want
        if len(want) == 1:  # fits: no decomposition needed, so none refused
            assert split_blocks(sizes, encoding, max_qubits, decompose=False, strategy="s") == want

    def test_properties(self) -> None:
        """Contiguous blocks covering every choice once, each within ``max_qubits``, no
        block of only one-option choices, and never more blocks than one per
        ``max_qubits / 2`` qubits plus one (each block but the last is over half full)."""
        rng = np.random.default_rng(0)
        for _ in range(300):
            sizes = rng.integers(1, 9, size=int(rng.integers(1, 9))).tolist()
            encoding = str(rng.choice(["binary", "onehot"]))
            widths = widths_of(sizes, encoding)
            max_q = int(rng.integers(max([*widths, 1]), 13))
            blocks = split_blocks(sizes, encoding, max_q, decompose=True, strategy="s")
            assert [j for b in blocks for j in b] == list(range(len(sizes)))
            assert all(b for b in blocks)
            assert all(sum(widths[j] for j in b) <= max_q for b in blocks)
            assert all(sum(widths[j] for j in b) > 0 for b in blocks[1:])
            assert len(blocks) >= math.ceil(sum(widths) / max_q)
            if sum(widths) <= max_q:
                assert len(blocks) == 1

    @pytest.mark.parametrize(
        ("sizes", "encoding", "decompose", "why", "hint"),
        [
            ([4, 4, 4], "binary", False,
             "decompose=False and the register needs n=6 qubits in 'binary' encoding (6 qubits in all)",
             "use decompose=True (sub-QUBOs over a few choices at a time)"),
            ([5, 4, 3], "onehot", False,
             "decompose=False and the register needs n=12 qubits in 'onehot' encoding (12 qubits in all)",
             "use encoding='binary' (7 qubits)"),
            ([2, 32, 2], "binary", True,
             "one choice alone needs 5 qubits in 'binary' encoding (7 qubits in all)",
             "use decompose=True (sub-QUBOs over a few choices at a time)"),
            ([2, 5, 3], "onehot", True,
             "one choice alone needs 5 qubits in 'onehot' encoding (10 qubits in all)",
             "use encoding='binary' (6 qubits)"),
        ],
        ids=["binary-whole", "onehot-whole", "binary-one-choice", "onehot-one-choice"],
    )  # fmt: skip
    def test_refusals(
        self, sizes: list[int], encoding: str, decompose: bool, why: str, hint: str
    ) -> None:
        message = (
            f"vqe simulates 2**n amplitudes and allows max_qubits=4, but {why}; {hint}, raise "
            "max_qubits, or use 'qubo-sa' / 'qubo-sqa', which scale to any number of bits"
        )
        with pytest.raises(CircuitSizeError, match=exactly(message)):
            split_blocks(sizes, encoding, 4, decompose=decompose, strategy="vqe")
        reg = Register(encoding=encoding, max_qubits=4, decompose=decompose)
        dists = {f"c{j}": CategoricalDistribution(list(range(k))) for j, k in enumerate(sizes)}
        with pytest.raises(CircuitSizeError, match=exactly(message)):
            reg.check(dists, "vqe")
        reg.check(None, "vqe")  # no space yet: nothing to check
        reg.check({"a": CategoricalDistribution([1, 2, 3, 4])}, "vqe")  # fits


# -- the register ------------------------------------------------------------------------
class TestRegisterArguments:
    def test_defaults(self) -> None:
        reg = Register()
        assert (reg.encoding, reg.max_qubits, reg.decompose, reg.rounds) == (
            "binary", 12, True, 1,
        )  # fmt: skip
        assert repr(reg) == "Register(encoding='binary', max_qubits=12, decompose=True, rounds=1)"
        other = Register(encoding="onehot", max_qubits=24, decompose=False, rounds=3)
        assert repr(other) == (
            "Register(encoding='onehot', max_qubits=24, decompose=False, rounds=3)"
        )
        assert Register(max_qubits=1).max_qubits == 1

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"encoding": "gray"}, "encoding must be one of ['binary', 'onehot']; got 'gray'"),
            ({"max_qubits": 0}, "max_qubits must be an integer [1, 24]; got 0"),
            ({"max_qubits": 25}, "max_qubits must be an integer [1, 24]; got 25"),
            ({"max_qubits": 4.0}, "max_qubits must be an integer [1, 24]; got 4.0"),
            ({"decompose": 1}, "decompose must be a bool; got 1"),
            ({"decompose": None}, "decompose must be a bool; got None"),
            ({"rounds": 0}, "rounds must be an integer >= 1; got 0"),
        ],
        ids=str,
    )
    def test_refusals(self, kwargs: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=exactly(message)):
            Register(**kwargs)


class TestCosts:
    @pytest.mark.parametrize(
        ("sizes", "encoding", "block", "incumbent"),
        [
            ([3, 2, 4], "binary", [0, 1, 2], [0, 0, 0]),
            ([3, 2, 4], "binary", [2], [2, 1, 0]),
            ([5, 1, 3], "binary", [0, 1], [1, 0, 2]),
            ([2, 3], "onehot", [0, 1], [1, 2]),
            ([2, 3, 2], "onehot", [1], [1, 0, 1]),
            # three one-hot groups in one register: the third starts after 2 + 3 bits
            ([2, 3, 2], "onehot", [0, 1, 2], [1, 2, 0]),
        ],
        ids=str,
    )
    def test_every_basis_state(
        self, sizes: list[int], encoding: str, block: list[int], incumbent: list[int]
    ) -> None:
        """State ``z`` of the block's register: the choices its bits name (decoded here
        from ``format(z, "b")``), the others at the incumbent, at the problem's energy,
        plus the one-hot penalty times ``(ones - 1)**2`` per choice."""
        p = problem(sizes, seed=len(block), incumbent=incumbent)
        C, X = Register(encoding=encoding).costs(p, np.array(incumbent), block)
        sub = [sizes[j] for j in block]
        n = sum(widths_of(sub, encoding))
        assert C.shape == (2**n,) and X.shape == (2**n, len(sizes)) and X.dtype == np.int64
        # option indices as floats (from a float array) give the same integer rows
        C2, X2 = Register(encoding=encoding).costs(p, np.array(incumbent, dtype=float), block)
        assert X2.dtype == np.int64 and np.array_equal(X2, X) and np.array_equal(C2, C)
        for z in range(2**n):
            opts, pen = decode(z, sub, encoding)
            want = list(incumbent)
            for j, o in zip(block, opts, strict=True):
                want[j] = o
            assert X[z].tolist() == want, z
            energy = float(p.energy(np.array([want]))[0])
            assert C[z] == pytest.approx(energy + p.penalty * pen, abs=1e-12), z


class _Recorder:
    """A circuit that records what it is given and measures fixed picks of the states."""

    def __init__(self, pick: str) -> None:
        self.pick = pick
        self.calls: list[tuple[np.ndarray, float]] = []

    def __call__(
        self, C: np.ndarray, threshold: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, dict[str, float]]:
        self.calls.append((C.copy(), threshold))
        assert torch.get_num_threads() == 1
        if self.pick == "none":
            codes = np.zeros(0, dtype=np.int64)
        elif self.pick == "all":
            codes = np.arange(C.size)[::-1]
        else:  # the block's best state and a random one
            codes = np.array([int(np.argmin(C)), int(rng.integers(C.size))])
        return codes, {"calls": 1.0, "states": float(C.size)}


def _documented_loop(
    p: QUBOProblem, reg: Register, pick: str, rng: np.random.Generator
) -> tuple[list[list[int]], list[tuple[list[float], float]]]:
    """The module docstring's loop, written here: for each round and block (skipping a
    block without qubits) the circuit gets the block's costs with the other choices at
    the incumbent and the incumbent's energy; every measured state is a candidate; the
    incumbent moves to the best measured one by the problem's cost when it is better."""
    inc = [int(v) for v in p.incumbent]
    found: list[list[int]] = []
    given: list[tuple[list[float], float]] = []
    for _ in range(reg.rounds):
        for block in reg.blocks(p.sizes, "s"):
            sub = [p.sizes[j] for j in block]
            n = sum(widths_of(sub, reg.encoding))
            if n == 0:
                continue
            states = []
            for z in range(2**n):
                arch = list(inc)
                for j, o in zip(block, decode(z, sub, reg.encoding)[0], strict=True):
                    arch[j] = o
                states.append(arch)
            C, _ = reg.costs(p, np.array(inc), block)
            given.append((C.tolist(), float(p.energy(np.array([inc]))[0])))
            if pick == "none":
                continue
            codes = (
                list(range(2**n))[::-1]
                if pick == "all"
                else [int(np.argmin(C)), int(rng.integers(2**n))]
            )
            measured = [states[c] for c in codes]
            found += measured
            costs = p.cost(np.array(measured))
            best = int(np.argmin(costs))
            if costs[best] < p.cost(np.array([inc]))[0]:
                inc = list(measured[best])
    return found, given


class TestSearch:
    @pytest.mark.parametrize(
        ("sizes", "encoding", "max_qubits", "rounds", "pick"),
        [
            ([3, 2, 4], "binary", 2, 1, "all"),
            ([3, 2, 4], "binary", 2, 3, "best"),
            ([4, 1, 4, 3, 1], "binary", 2, 2, "best"),
            ([2, 3, 2], "onehot", 3, 2, "best"),
            ([3, 3], "binary", 4, 2, "all"),
            # one-hot gives a one-option choice a qubit: the block [1, 2] runs
            ([3, 1, 1, 2], "onehot", 3, 1, "all"),
            ([3, 2, 4], "binary", 2, 2, "none"),
        ],
        ids=str,
    )
    def test_the_documented_loop(
        self, sizes: list[int], encoding: str, max_qubits: int, rounds: int, pick: str
    ) -> None:
        p = problem(sizes, seed=sum(sizes) + rounds, incumbent=[k - 1 for k in sizes])
        reg = Register(encoding=encoding, max_qubits=max_qubits, rounds=rounds)
        circuit = _Recorder(pick)
        X, counters = reg.search(p, circuit, np.random.default_rng(5), "s")
        want, given = _documented_loop(p, reg, pick, np.random.default_rng(5))
        assert X.dtype == np.int64 and X.shape == (len(want), len(sizes))
        assert X.tolist() == want
        assert len(circuit.calls) == len(given)
        for (C, threshold), (C_want, t_want) in zip(circuit.calls, given, strict=True):
            np.testing.assert_allclose(C, C_want, atol=1e-12)
            assert threshold == pytest.approx(t_want, abs=1e-12)
        assert counters == {
            "calls": float(len(given)),
            "states": float(sum(len(C) for C, _ in given)),
        }

    def test_the_incumbent_moves_by_cost_not_energy(self) -> None:
        """A budget known exactly rules out the block's lowest-energy state: the circuit
        still minimises energy, but the incumbent must not move there."""
        sizes = [4, 4]
        p0 = problem(sizes, seed=3, incumbent=[0, 0])
        E = {(a, b): float(p0.energy(np.array([[a, b]]))[0]) for a in range(4) for b in range(4)}
        banned = min(E, key=E.__getitem__)

        def exact(X: np.ndarray) -> np.ndarray:
            return np.array([1.0 if tuple(x) == banned else -1.0 for x in X.tolist()])

        budget = Constraint("b", QuadraticModel(sizes, np.zeros(n_features(sizes))), exact)
        p = QUBOProblem(p0.model, np.array([0, 0]), (budget,))
        reg = Register(max_qubits=2, rounds=2)
        circuit = _Recorder("best")
        X, _ = reg.search(p, circuit, np.random.default_rng(1), "s")
        want, given = _documented_loop(p, reg, "best", np.random.default_rng(1))
        assert X.tolist() == want
        assert [t for _, t in given] == pytest.approx([t for _, t in circuit.calls])
        assert list(banned) in want  # measured (a candidate) but never the incumbent
        for _, t in circuit.calls[1:]:
            assert t != pytest.approx(E[banned])

    def test_ties_keep_the_incumbent(self) -> None:
        """A flat problem (every cost 0): no measured state is better, so the incumbent
        never moves and every block's states keep the other choices at the start."""
        sizes = [3, 2, 4]
        p = QUBOProblem(QuadraticModel(sizes, np.zeros(n_features(sizes))), np.array([2, 1, 3]))
        reg = Register(max_qubits=2, rounds=2)
        X, _ = reg.search(p, _Recorder("all"), np.random.default_rng(0), "s")
        assert X.tolist() == _documented_loop(p, reg, "all", np.random.default_rng(0))[0]
        blocks = [[0], [1], [2]] * 2
        assert reg.blocks(sizes, "s") == blocks[:3]
        rows = iter(X.tolist())
        for block in blocks:
            for _ in range(2 ** widths_of([sizes[block[0]]], "binary")[0]):
                row = next(rows)
                assert [row[j] for j in range(3) if j not in block] == [
                    [2, 1, 3][j] for j in range(3) if j not in block
                ]

    def test_only_one_option_choices(self) -> None:
        """No qubits at all: the circuit is never run and nothing is found."""
        circuit = _Recorder("all")
        X, counters = Register().search(problem([1, 1], 0), circuit, np.random.default_rng(0), "s")
        assert circuit.calls == [] and counters == {}
        assert X.shape == (0, 2) and X.dtype == np.int64

    def test_refuses_a_register_that_cannot_run(self) -> None:
        with pytest.raises(CircuitSizeError, match=r"^grover simulates 2\*\*n"):
            Register(max_qubits=2, decompose=False).search(
                problem([4, 4], 0), _Recorder("all"), np.random.default_rng(0), "grover"
            )

    def test_solve_asks_for_torch_on_one_thread(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``single_thread(True)`` imports torch before limiting it: in a process that
        has not imported torch yet (the circuits import it lazily), ``False`` would leave
        the circuits' torch on all cores. torch is loaded here, so the call is checked."""
        import quarch.search._circuits as circuits

        asked: list[object] = []

        def spy(uses_torch: bool = False) -> Any:
            asked.append(uses_torch)
            return single_thread(uses_torch)

        monkeypatch.setattr(circuits, "single_thread", spy)
        Register().solve([problem([2, 3], 0)], _Recorder("best"), np.random.default_rng(0), "s")
        assert asked == [True]

    def test_solve_each_problem(self) -> None:
        """One candidate array per problem, the counters summed over problems, torch on
        one thread inside (the recorder checks) and its thread count restored after."""
        problems = [problem([3, 2, 4], 1), problem([3, 2, 4], 2, [1, 1, 1])]
        reg = Register(max_qubits=2, rounds=2)
        before = torch.get_num_threads()
        circuit = _Recorder("best")
        with single_thread(False):
            torch.set_num_threads(2)
            out = reg.solve(problems, circuit, np.random.default_rng(4), "s")
            assert torch.get_num_threads() == 2
        torch.set_num_threads(before)
        rng = np.random.default_rng(4)
        wants = [_documented_loop(q, reg, "best", rng)[0] for q in problems]
        assert [X.tolist() for X in out.candidates] == wants
        assert out.counters == {"calls": 12.0, "states": 2.0 * (4 + 2 + 4 + 4 + 2 + 4)}


def test_the_references() -> None:
    """The bit decoder here reads as Python reads binary numbers."""
    assert decode(0b1011, [4, 3], "binary") == ([2, 0], 0.0)
    assert decode(0b01100, [2, 3], "onehot") == ([1, 0], 0.0)
    assert decode(0b11000, [2, 3], "onehot") == ([0, 0], 2.0)
    assert decode(0, [1, 1], "binary") == ([0, 0], 0.0)
    assert widths_of([1, 2, 3, 4, 5, 9], "binary") == [0, 1, 2, 2, 3, 4]
    assert list(itertools.accumulate(widths_of([2, 3], "onehot"))) == [2, 5]
