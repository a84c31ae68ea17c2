"""The annealing solvers and simulated quantum annealing against independent truth.

Truth used, and why it is independent of the code under test:

* ``dimod``'s own objects: ``BinaryQuadraticModel.from_qubo`` and ``.to_ising()`` for
  :func:`bqm_from_matrix` and :func:`qubo_to_ising` (a stack of QUBOs, one by one);
* brute force over every bit string of a small QUBO for energies and optima;
* ``dimod.ExactSolver`` behind a recording ``dimod.Sampler`` for what
  :func:`_sample_dimod` passes to a sampler (the seed rule documented on
  :class:`DimodSolver`: a seed drawn from the run's generator only when the sampler's
  ``parameters`` list one) and how it orders and maps the reads;
* the documented defaults (``QUBOSampler``'s docstring: 10 reads, 1000 sweeps, 8
  slices; :func:`sqa_minimize`'s signature: 8 reads, 100 sweeps) and error messages;
* a plain-loop path-integral Monte Carlo written here from the formulas of
  :mod:`quarch.search._sqa`'s docstring (``H_eff``, ``J_perp``, the geometric schedule,
  the Metropolis rule ``accept if dE <= -T ln u``, units of the largest Ising
  coefficient), fed the same initial spins and uniforms through a generator whose
  ``choice`` and ``random`` are fixed, so that the vectorised sweep must reproduce it
  spin for spin.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, cast

import dimod
import numpy as np
import pytest

from quarch.search import DimodSolver, SASolver, SQASolver
from quarch.search._annealers import bqm_from_matrix, check_slices
from quarch.search._problem import QUBOProblem
from quarch.search._sqa import qubo_to_ising, sqa_minimize
from quarch.search._surrogate import QuadraticModel, n_features


def _all_bits(n: int) -> np.ndarray:
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=float)


def _energies(Q: np.ndarray, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    return np.einsum("bi,ij,bj->b", X, Q, X)


def _upper(seed: int, n: int) -> np.ndarray:
    return np.triu(np.random.default_rng(seed).standard_normal((n, n)))


# -- the QUBO and Ising forms, against dimod ----------------------------------------------
class TestForms:
    def test_bqm_from_matrix_is_dimods_from_qubo(self) -> None:
        Q = _upper(0, 5)
        mine = bqm_from_matrix(Q)
        ref = dimod.BinaryQuadraticModel.from_qubo(
            {(i, j): Q[i, j] for i in range(5) for j in range(i, 5) if Q[i, j] != 0}
        )
        assert mine.vartype is dimod.BINARY
        assert mine.offset == 0.0 == ref.offset
        for x in _all_bits(5):
            sample = {i: int(v) for i, v in enumerate(x)}
            assert mine.energy(sample) == pytest.approx(ref.energy(sample), abs=1e-12)

    @pytest.mark.parametrize("lead", [(3,), (2, 3)])
    def test_qubo_to_ising_of_a_stack_is_dimods_to_ising(self, lead: tuple[int, ...]) -> None:
        """Any leading axes (``(..., n, n)``), each QUBO full and non-symmetric."""
        rng = np.random.default_rng(len(lead))
        Qs = rng.standard_normal((*lead, 4, 4))
        h, J, offset = qubo_to_ising(Qs)
        assert h.shape == (*lead, 4) and J.shape == (*lead, 4, 4) and offset.shape == lead
        h, J, offset = h.reshape(-1, 4), J.reshape(-1, 4, 4), offset.reshape(-1)
        for m, Q in enumerate(Qs.reshape(-1, 4, 4)):
            bqm = dimod.BinaryQuadraticModel.from_qubo(
                {(i, j): Q[i, j] for i in range(4) for j in range(4)}
            )
            hd, Jd, od = bqm.to_ising()
            np.testing.assert_allclose(h[m], [hd.get(i, 0.0) for i in range(4)], atol=1e-12)
            for i, j in itertools.permutations(range(4), 2):
                want = Jd.get((i, j), Jd.get((j, i), 0.0))
                assert J[m, i, j] == pytest.approx(want, abs=1e-12)
            assert offset[m] == pytest.approx(od, abs=1e-12)


# -- check_slices and the solvers' options ------------------------------------------------
class TestOptions:
    def test_two_slices_are_the_smallest_valid_count(self) -> None:
        assert check_slices(2) == 2
        assert SQASolver(n_slices=2).n_slices == 2

    @pytest.mark.parametrize("bad", [4.0, 2.0, True, 0, 3, -2])
    def test_slices_must_be_an_even_int(self, bad: Any) -> None:
        with pytest.raises(ValueError, match=r"n_slices must be an even integer >= 2; got"):
            check_slices(bad)

    def test_documented_defaults(self) -> None:
        """``QUBOSampler``'s docstring: 10 reads, 1000 sweeps, 8 slices."""
        sa, sqa, dm = SASolver(), SQASolver(), DimodSolver()
        assert (sa.num_reads, sa.num_sweeps, sa.sample_kwargs) == (10, 1000, {})
        assert (sqa.num_reads, sqa.num_sweeps, sqa.n_slices) == (10, 1000, 8)
        assert (dm.sampler, dm.num_reads, dm.sample_kwargs) == (None, 10, {})

    @pytest.mark.parametrize("cls", [SASolver, SQASolver, DimodSolver])
    def test_one_read_and_one_sweep_are_valid(self, cls: Any) -> None:
        kw: dict[str, Any] = {"num_reads": 1}
        if cls is not DimodSolver:
            kw["num_sweeps"] = 1
        s = cls(**kw)
        assert s.num_reads == 1
        assert getattr(s, "num_sweeps", 1) == 1

    @pytest.mark.parametrize(
        ("cls", "name"),
        [(SASolver, "num_reads"), (SASolver, "num_sweeps"), (SQASolver, "num_reads"),
         (SQASolver, "num_sweeps"), (DimodSolver, "num_reads")],
    )  # fmt: skip
    def test_count_errors_name_the_option(self, cls: Any, name: str) -> None:
        with pytest.raises(ValueError, match=rf"^{name} must be an integer >= 1; got 0$"):
            cls(**{name: 0})

    @pytest.mark.parametrize("cls", [SASolver, DimodSolver])
    def test_sample_kwargs_must_be_a_dict(self, cls: Any) -> None:
        with pytest.raises(ValueError, match=r"sample_kwargs must be a dict or None; got \[1\]"):
            cls(sample_kwargs=[1])
        assert cls(sample_kwargs={"beta_range": (0.1, 5.0)}).sample_kwargs == {
            "beta_range": (0.1, 5.0)
        }

    def test_dimod_sampler_must_have_sample(self) -> None:
        with pytest.raises(ValueError, match=r"sampler must be a dimod.Sampler"):
            DimodSolver(cast(Any, object()))


# -- a recording dimod sampler ------------------------------------------------------------
class _Exact(dimod.Sampler):
    """``dimod.ExactSolver`` that records its keyword arguments and returns its samples
    with the variables in reverse order (so the caller must map columns by label)."""

    def __init__(self, seeded: bool) -> None:
        self.calls: list[dict[str, Any]] = []
        self._params: dict[str, list[Any]] = {"seed": []} if seeded else {}

    @property
    def parameters(self) -> dict[str, list[Any]]:
        return self._params

    @property
    def properties(self) -> dict[str, Any]:
        return {}

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kw: Any) -> dimod.SampleSet:
        self.calls.append(kw)
        ss = dimod.ExactSolver().sample(bqm)
        labels = list(ss.variables)[::-1]
        arr = np.asarray(ss.record.sample)[:, [ss.variables.index(v) for v in labels]]
        return dimod.SampleSet.from_samples((arr, labels), dimod.BINARY, ss.record.energy)


class _Bare:
    """A sampler with a ``sample`` method and no ``parameters`` attribute."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def sample(self, bqm: dimod.BinaryQuadraticModel, **kw: Any) -> dimod.SampleSet:
        self.calls.append(kw)
        return dimod.ExactSolver().sample(bqm)


class TestDimodSampling:
    def test_reads_are_every_state_lowest_energy_first_columns_by_label(self) -> None:
        Q = _upper(3, 4)
        sampler = _Exact(seeded=False)
        (reads,) = DimodSolver(sampler).minimize([Q], np.random.default_rng(0))
        X = _all_bits(4)
        E = _energies(Q, X)
        np.testing.assert_array_equal(reads, X[np.argsort(E)])
        assert sampler.calls == [{}]  # no seed parameter: no seed, no num_reads

    def test_equal_energies_keep_the_samplers_order(self) -> None:
        """32 states, half of them tied at each energy, in ExactSolver's order: a stable
        sort keeps that order (an unstable one does not, on this pattern)."""
        Q = np.zeros((5, 5))
        Q[0, 0] = 1.0
        (reads,) = DimodSolver(_Exact(seeded=False)).minimize([Q], np.random.default_rng(0))
        ss = dimod.ExactSolver().sample_qubo({(i, i): Q[i, i] for i in range(5)})
        X = np.asarray(ss.record.sample)[:, [ss.variables.index(v) for v in range(5)]]
        np.testing.assert_array_equal(reads, X[np.argsort(_energies(Q, X), kind="stable")])

    def test_a_seeded_sampler_gets_an_int_seed_from_the_runs_generator(self) -> None:
        Qs = [_upper(s, 3) for s in range(40)]
        seeds = []
        for _ in range(2):
            sampler = _Exact(seeded=True)
            rng = np.random.default_rng(7)
            before = rng.bit_generator.state
            DimodSolver(sampler, sample_kwargs={"x": 1}).minimize(Qs, rng)
            assert rng.bit_generator.state != before
            assert all(set(kw) == {"seed", "x"} for kw in sampler.calls)
            seeds.append([kw["seed"] for kw in sampler.calls])
        assert seeds[0] == seeds[1]  # a pure function of the run's seed
        assert all(isinstance(s, int) and 0 <= s < 2**31 for s in seeds[0])
        assert len(set(seeds[0])) == len(Qs)  # one per QUBO, from a wide range

    def test_a_given_seed_is_kept(self) -> None:
        sampler = _Exact(seeded=True)
        DimodSolver(sampler, sample_kwargs={"seed": 5}).minimize(
            [_upper(0, 3)], np.random.default_rng(0)
        )
        assert sampler.calls == [{"seed": 5}]

    def test_a_sampler_without_parameters_gets_no_seed(self) -> None:
        sampler = _Bare()
        solver = DimodSolver(cast(Any, sampler))
        (reads,) = solver.minimize([_upper(1, 3)], np.random.default_rng(0))
        assert sampler.calls == [{}] and reads.shape == (8, 3)

    def test_default_sampler_takes_num_reads_and_kwargs_override_it(self) -> None:
        Q = _upper(2, 5)
        (reads,) = DimodSolver().minimize([Q], np.random.default_rng(0))
        assert reads.shape == (10, 5)
        (reads,) = DimodSolver(num_reads=3).minimize([Q], np.random.default_rng(0))
        assert reads.shape == (3, 5)
        (reads,) = DimodSolver(num_reads=3, sample_kwargs={"num_reads": 2}).minimize(
            [Q], np.random.default_rng(0)
        )
        assert reads.shape == (2, 5)
        assert np.all(np.diff(_energies(Q, reads)) >= -1e-12)


class TestSimulatedAnnealing:
    def test_options_reach_the_sampler(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from dwave.samplers import SimulatedAnnealingSampler

        calls: list[dict[str, Any]] = []
        original = SimulatedAnnealingSampler.sample

        def sample(self: Any, bqm: Any, **kw: Any) -> Any:
            calls.append(dict(kw))
            return original(self, bqm, **kw)

        monkeypatch.setattr(SimulatedAnnealingSampler, "sample", sample)
        Q = _upper(4, 6)
        reads = SASolver(num_reads=3, num_sweeps=20).minimize([Q, Q], np.random.default_rng(0))
        assert [r.shape for r in reads] == [(3, 6), (3, 6)]
        assert [(kw["num_reads"], kw["num_sweeps"]) for kw in calls] == [(3, 20), (3, 20)]
        assert all(isinstance(kw["seed"], int) for kw in calls)
        calls.clear()
        SASolver(sample_kwargs={"num_sweeps": 5}).minimize([Q], np.random.default_rng(0))
        assert (calls[0]["num_reads"], calls[0]["num_sweeps"]) == (10, 5)

    def test_finds_the_brute_force_optimum(self) -> None:
        Q = _upper(5, 10)
        (reads,) = SASolver(num_reads=5, num_sweeps=200).minimize([Q], np.random.default_rng(1))
        E = _energies(Q, reads)
        assert E[0] == pytest.approx(_energies(Q, _all_bits(10)).min())
        assert np.all(np.diff(E) >= -1e-12)


# -- the solvers on QUBOProblems --------------------------------------------------------
def _problem(seed: int, sizes: Sequence[int]) -> QUBOProblem:
    w = np.random.default_rng(seed).standard_normal(n_features(sizes))
    return QUBOProblem(QuadraticModel(sizes, w), np.zeros(len(sizes), dtype=np.int64))


def _all_archs(sizes: Sequence[int]) -> np.ndarray:
    return np.array(list(itertools.product(*[range(k) for k in sizes])))


@pytest.mark.parametrize(
    "solver",
    [
        SASolver(num_reads=4, num_sweeps=100),
        SQASolver(num_reads=4, num_sweeps=60, n_slices=4),
        DimodSolver(num_reads=4),
    ],
    ids=["sa", "sqa", "dimod"],
)
def test_solvers_find_each_problems_optimum_reproducibly(solver: Any) -> None:
    """Two problems of different widths: each gets valid architectures, its brute-force
    optimum among them, the draws come from the run's generator only."""
    problems = [_problem(0, [3, 2, 3]), _problem(1, [2, 2])]
    out = []
    for _ in range(2):
        rng = np.random.default_rng(11)
        before = rng.bit_generator.state
        out.append(solver(problems, rng))
        assert rng.bit_generator.state != before
    assert len(out[0]) == 2
    for a, b in zip(out[0], out[1], strict=True):
        np.testing.assert_array_equal(a, b)
    for p, cands in zip(problems, out[0], strict=True):
        A = _all_archs(p.sizes)
        assert cands.shape[1] == len(p.sizes)
        assert ((cands >= 0) & (cands < np.array(p.sizes))).all()
        assert p.energy(cands).min() == pytest.approx(p.energy(A).min())


# -- SQASolver over sqa_minimize -------------------------------------------------------------
class TestSQASolver:
    def test_options_reach_sqa_minimize(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import quarch.search._sqa as sqa

        calls: list[dict[str, Any]] = []
        original = sqa.sqa_minimize

        def spy(Q: np.ndarray, **kw: Any) -> Any:
            calls.append({"shape": np.shape(Q), **kw})
            return original(Q, **kw)

        monkeypatch.setattr(sqa, "sqa_minimize", spy)
        rng = np.random.default_rng(0)
        reads = SQASolver(num_reads=3, num_sweeps=7, n_slices=6).minimize(
            [_upper(0, 5), _upper(1, 3)], rng
        )
        (call,) = calls
        assert call["shape"] == (2, 5, 5)  # padded to the widest, annealed together
        assert (call["n_reads"], call["n_sweeps"], call["n_slices"]) == (3, 7, 6)
        assert call["seed"] is rng
        assert [r.shape for r in reads] == [(3, 5), (3, 3)]

    def test_equal_energies_keep_the_read_order(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """30 reads tied in two energies: lowest first, ties in the order read."""
        import quarch.search._sqa as sqa

        bits = np.array([[(r >> b) & 1 for b in range(5)] for r in range(30)], dtype=np.uint8)
        energy = np.array([1.0, 0.0] * 15)

        def fake(Q: np.ndarray, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
            return bits[None], energy[None]

        monkeypatch.setattr(sqa, "sqa_minimize", fake)
        (reads,) = SQASolver().minimize([np.zeros((5, 5))], np.random.default_rng(0))
        order = [r for r in range(30) if r % 2] + [r for r in range(30) if r % 2 == 0]
        np.testing.assert_array_equal(reads, bits[order])

    def test_reads_of_each_width_lowest_energy_first_with_the_optimum(self) -> None:
        Qs = [_upper(2, 8), _upper(3, 5)]
        reads = SQASolver(num_reads=6, num_sweeps=80, n_slices=8).minimize(
            Qs, np.random.default_rng(3)
        )
        for Q, r in zip(Qs, reads, strict=True):
            E = _energies(Q, r)
            assert np.all(np.diff(E) >= -1e-12)
            assert E[0] == pytest.approx(_energies(Q, _all_bits(len(Q))).min())


# -- sqa_minimize ---------------------------------------------------------------------------
class TestSQAInputs:
    @pytest.mark.parametrize(
        ("gamma", "temperature"), [((1.0, 1.0), 0.05), ((1.0, 0.0), 0.05), ((3.0, 0.01), 0.0)]
    )
    def test_schedule_must_fall_to_a_positive_field_at_positive_t(
        self, gamma: tuple[float, float], temperature: float
    ) -> None:
        with pytest.raises(ValueError, match=r"gamma must fall \(start > end > 0\)"):
            sqa_minimize(np.eye(2), gamma=gamma, temperature=temperature)

    def test_smallest_counts_are_valid(self) -> None:
        Q = _upper(0, 3)
        bits, energy = sqa_minimize(Q, n_reads=1, n_slices=2, n_sweeps=1, seed=0)
        assert bits.shape == (1, 3) and bits.dtype == np.uint8
        np.testing.assert_allclose(energy, _energies(Q, bits))

    def test_default_reads_and_sweeps(self) -> None:
        """The signature's defaults: 8 reads; 100 sweeps, one uniform per spin, slice
        and read each."""
        rng = _Counting(np.random.PCG64(0))
        bits, energy = sqa_minimize(_upper(0, 3), seed=rng)
        assert bits.shape == (8, 3) and energy.shape == (8,)
        assert rng.uniforms == 100 * 3 * 8 * 16

    def test_a_zero_qubo_is_annealed_and_every_read_is_a_ground_state(self) -> None:
        bits, energy = sqa_minimize(np.zeros((6, 6)), n_reads=4, n_sweeps=3, seed=0)
        assert bits.shape == (4, 6)
        np.testing.assert_array_equal(energy, 0.0)

    def test_zero_field_reads_are_spread_evenly(self) -> None:
        """With no linear terms and no couplings the Hamiltonian is symmetric under
        flipping every spin and the initial state is uniform, so the bits read out are
        balanced (over 2 x 50 x 8 = 800 bits, far from a constant state)."""
        bits, _ = sqa_minimize(np.zeros((2, 8, 8)), n_reads=50, n_sweeps=1, seed=4)
        assert 0.4 < bits.mean() < 0.6


class _Counting(np.random.Generator):
    """A generator that counts the uniforms drawn by ``random``."""

    uniforms = 0

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        r = super().random(size)
        self.uniforms += int(np.size(r))
        return r


class _Scripted(np.random.Generator):
    """Initial spins and uniforms from a generator of its own, recorded for the
    reference; ``const`` makes every uniform that value."""

    def __init__(self, seed: int, const: float | None = None) -> None:
        super().__init__(np.random.PCG64(seed))
        self._src = np.random.default_rng(seed + 1000)
        self.const = const
        self.init: np.ndarray | None = None
        self.uniforms: list[np.ndarray] = []

    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None,
               axis: int = 0, shuffle: bool = True) -> Any:  # fmt: skip
        self.init = self._src.choice(np.array([-1.0, 1.0]), size=size)
        return self.init.copy()

    def random(self, size: Any = None, dtype: Any = np.float64, out: Any = None) -> Any:
        u = np.full(size, self.const) if self.const is not None else self._src.random(size)
        self.uniforms.append(u)
        return u.copy()


def _reference(
    Q: np.ndarray,
    init: np.ndarray,
    uniforms: list[np.ndarray],
    gamma: tuple[float, float],
    T: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Path-integral Monte Carlo by plain loops, from the module docstring.

    ``init[i, m, r, k % 2, k // 2]`` is spin ``i`` of slice ``k`` of read ``r`` of QUBO
    ``m`` and ``uniforms[t][i, k % 2, m, r, k // 2]`` its uniform at sweep ``t`` (the
    layout: slice ``k = 2q + parity``); each spin is updated in the even slices, then
    the odd ones, spins in order. Ising terms come from dimod.
    """
    n_sweeps = len(uniforms)
    n, M, R, _, H = init.shape
    P = 2 * H
    out_bits = np.zeros((M, R, n), dtype=np.uint8)
    out_e = np.zeros((M, R))
    for m in range(M):
        bqm = dimod.BinaryQuadraticModel.from_qubo(
            {(i, j): Q[m, i, j] for i in range(n) for j in range(n) if Q[m, i, j] != 0}
        )
        hd, Jd, _ = bqm.to_ising()
        h = np.array([hd.get(i, 0.0) for i in range(n)])
        J = np.zeros((n, n))
        for (a, b), v in Jd.items():
            J[a, b] = J[b, a] = v
        scale = max(np.abs(h).max(), np.abs(J).max())
        scale = scale if scale > 0 else 1.0
        h, J = h / scale, J / scale
        for r in range(R):
            s = np.array([[init[i, m, r, k % 2, k // 2] for i in range(n)] for k in range(P)])
            for t in range(n_sweeps):
                frac = t / max(1, n_sweeps - 1)
                G = gamma[0] * (gamma[1] / gamma[0]) ** frac
                jp = -T / 2 * math.log(math.tanh(G / (P * T)))
                for i in range(n):
                    for par in (0, 1):
                        for k in range(par, P, 2):
                            local = h[i] + J[i] @ s[k]
                            nb = s[(k - 1) % P, i] + s[(k + 1) % P, i]
                            dE = -2 * s[k, i] * (local / P - jp * nb)
                            u = uniforms[t][i, par, m, r, k // 2]
                            if dE <= -T * math.log(u):
                                s[k, i] = -s[k, i]
            E = [h @ s[k] + 0.5 * s[k] @ J @ s[k] for k in range(P)]
            best = s[int(np.argmin(E))]
            out_bits[m, r] = (best + 1) / 2
            out_e[m, r] = _energies(Q[m], out_bits[m, r][None])[0]
    return out_bits, out_e


class TestSQAAgainstAPlainLoop:
    """The vectorised sweep reproduces the plain loop spin for spin."""

    @pytest.mark.parametrize(
        ("n_sweeps", "const", "gamma", "T"),
        [
            (5, None, (3.0, 0.01), 0.05),  # the defaults' schedule, uniforms drawn
            (2, None, (2.0, 0.5), 0.3),  # both endpoints only
            (1, None, (1.0, 0.1), 0.5),  # one sweep at gamma[0]
            (4, 1.0, (3.0, 0.01), 0.05),  # u = 1: zero-temperature moves, ties flip
            (3, float(np.exp(-2.0)), (0.8, 0.2), 0.2),  # u = e^-2: accept dE <= 2T
        ],
    )
    def test_stack_of_qubos(
        self, n_sweeps: int, const: float | None, gamma: tuple[float, float], T: float
    ) -> None:
        rng0 = np.random.default_rng(5)
        # integer couplings of different sizes per QUBO: the units differ between them;
        # the third QUBO has all |coefficients| < 1, the last is all zero (ties at u = 1)
        Q = np.stack(
            [
                np.triu(rng0.integers(-3, 4, (4, 4))).astype(float),
                np.triu(rng0.integers(-9, 10, (4, 4))).astype(float),
                np.triu(rng0.integers(-3, 4, (4, 4))) / 8.0,
                np.zeros((4, 4)),
            ]
        )
        rng = _Scripted(n_sweeps, const)
        bits, energy = sqa_minimize(
            Q, n_reads=3, n_slices=6, n_sweeps=n_sweeps, gamma=gamma, temperature=T, seed=rng
        )
        assert rng.init is not None and len(rng.uniforms) == n_sweeps
        want_bits, want_e = _reference(Q, rng.init, rng.uniforms, gamma, T)
        assert bits.dtype == np.uint8
        np.testing.assert_array_equal(bits, want_bits)
        np.testing.assert_allclose(energy, want_e, atol=1e-12)

    def test_single_qubo_drops_the_leading_axis(self) -> None:
        Q = np.triu(np.random.default_rng(1).integers(-2, 3, (5, 5))).astype(float)
        rng = _Scripted(9)
        bits, energy = sqa_minimize(Q, n_reads=2, n_slices=8, n_sweeps=3, seed=rng)
        assert rng.init is not None
        want_bits, want_e = _reference(Q[None], rng.init, rng.uniforms, (3.0, 0.01), 0.05)
        assert bits.shape == (2, 5)
        np.testing.assert_array_equal(bits, want_bits[0])
        np.testing.assert_allclose(energy, want_e[0], atol=1e-12)
