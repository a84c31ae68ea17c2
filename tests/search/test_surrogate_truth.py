"""The Bayesian quadratic surrogate, its QUBO, the register encodings and the batch
helpers of ``quarch.search._surrogate`` against independent truth.

Independent truth: every bit vector of a small register (brute force) for the QUBO and
its ``dimod`` model; the model's polynomial over one-hot bits written out from the
documented coefficient layout; scipy's multivariate normal density for the evidence
and a brute-force search over the hyperparameter grid for the fit; numpy's
least squares (minimum norm) for the fit of a known metric; scipy's normal quantiles
and ordinal ranks for the rank targets; :meth:`quarch.space.Space.from_bits` and
``Space.n_bits`` (a separate implementation) for the register encodings;
``numpy.ravel_multi_index`` for the mixed-radix ids; threadpoolctl and torch for the
thread limits.
"""

from __future__ import annotations

import itertools
import sys
from typing import Any, Literal

import dimod
import numpy as np
import optuna
import pytest
from optuna.trial import FrozenTrial
from scipy.stats import multivariate_normal, norm, rankdata

from quarch.search._common import History, PopulationSampler, order_trials
from quarch.search._surrogate import (
    QuadraticModel,
    _before,
    _fill,
    _Posterior,
    arch_ids,
    decode_codes,
    features,
    fit_known,
    fit_quadratic,
    n_features,
    n_qubits,
    normal_scores,
    propose_batched,
    rank_scores,
    rank_targets,
    single_thread,
)
from quarch.space import Choice, Space

SIZES = [3, 2, 3]  # 8 one-hot bits: 256 bit vectors, 18 architectures


def _archs(sizes: list[int]) -> np.ndarray:
    return np.array(list(itertools.product(*(range(k) for k in sizes))))


def _model(seed: int, sizes: list[int] = SIZES) -> QuadraticModel:
    return QuadraticModel(sizes, np.random.default_rng(seed).standard_normal(n_features(sizes)))


def _bit_vectors(n: int) -> np.ndarray:
    """Every vector of ``n`` bits, ``(2**n, n)``, bit 0 most significant."""
    return ((np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(float)


def _polynomial(sizes: list[int], w: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """The model on arbitrary bit vectors, from the documented layout of ``w``: the
    one-hot bits' coefficients, then per pair of choices ``j < k`` the products
    row-major over ``(option_j, option_k)``."""
    off = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = bits @ w[: sum(sizes)]
    pos = sum(sizes)
    for j, k in itertools.combinations(range(len(sizes)), 2):
        for a in range(sizes[j]):
            for b in range(sizes[k]):
                out = out + w[pos] * bits[:, off[j] + a] * bits[:, off[k] + b]
                pos += 1
    assert pos == len(w)
    return out


def _onehot_violation(sizes: list[int], bits: np.ndarray) -> np.ndarray:
    """``sum_choices (sum of the choice's bits - 1)**2`` per bit vector."""
    off = np.concatenate([[0], np.cumsum(sizes)])
    return sum((bits[:, off[j] : off[j + 1]].sum(1) - 1.0) ** 2 for j in range(len(sizes)))


class TestQUBO:
    @pytest.mark.parametrize("seed", range(3))
    @pytest.mark.parametrize("penalty", [None, 0.7, 5.0])
    def test_qubo_is_the_penalised_polynomial_on_every_bit_vector(
        self, seed: int, penalty: float | None
    ) -> None:
        m = _model(seed)
        Q, offset = m.qubo(penalty)
        P = m.penalty() if penalty is None else penalty
        bits = _bit_vectors(sum(SIZES))
        truth = _polynomial(SIZES, m.w, bits) + P * _onehot_violation(SIZES, bits)
        np.testing.assert_allclose(((bits @ Q) * bits).sum(1) + offset, truth, atol=1e-10)
        assert np.array_equal(Q, np.triu(Q))  # upper triangular

    @pytest.mark.parametrize("seed", range(3))
    def test_penalty_is_one_plus_the_largest_possible_gain_of_a_bit(self, seed: int) -> None:
        """The gain of bit ``i`` is bounded by ``|a_i| + sum_j |b_ij|`` with ``a`` and
        ``b`` read off the polynomial by inclusion-exclusion on unit vectors; the
        penalty is 1 plus the largest bound, and the QUBO's minimisers are then valid
        codes of the best architecture."""
        sizes = [3, 3, 2]
        m = QuadraticModel(
            sizes,
            np.random.default_rng(seed).standard_normal(n_features(sizes)) * [1, -3][seed % 2],
        )
        n = sum(sizes)
        eye = np.eye(n)

        def f(b: np.ndarray) -> float:
            return float(_polynomial(sizes, m.w, b[None])[0])

        a = np.array([f(eye[i]) for i in range(n)])
        b = np.array([[f(eye[i] + eye[j]) - a[i] - a[j] if i != j else 0.0 for j in range(n)]
                      for i in range(n)])  # fmt: skip
        assert m.penalty() == pytest.approx(1.0 + float((np.abs(a) + np.abs(b).sum(1)).max()))
        bits = _bit_vectors(n)
        Q, offset = m.qubo()
        E = ((bits @ Q) * bits).sum(1) + offset
        ground = bits[np.flatnonzero(np.isclose(E, E.min()))]
        assert (_onehot_violation(sizes, ground) == 0).all()
        assert E.min() == pytest.approx(m.energy(_archs(sizes)).min())

    def test_integer_coefficients_and_float_indices(self) -> None:
        """Coefficients given as integers and option indices given as floats: the
        same model as floats and integers."""
        w = np.random.default_rng(0).integers(-3, 4, n_features(SIZES))
        m, ref = QuadraticModel(SIZES, w), QuadraticModel(SIZES, w.astype(float))
        X = _archs(SIZES)
        np.testing.assert_array_equal(m.energy(X.astype(float)), ref.energy(X))
        np.testing.assert_array_equal(m.shifted(0.5).energy(X), ref.energy(X) + 0.5)

    def test_penalty_of_a_model_without_bits(self) -> None:
        """No bit can gain anything: the penalty is 1 plus the empty maximum, 0."""
        assert QuadraticModel([], np.zeros(0)).penalty() == 1.0

    @pytest.mark.parametrize("penalty", [None, 2.5])
    def test_bqm_energies_are_the_qubo_on_every_bit_vector(self, penalty: float | None) -> None:
        m = _model(4)
        bqm = m.to_bqm(penalty)
        n = sum(SIZES)
        assert set(bqm.variables) == set(range(n)) and bqm.vartype is dimod.BINARY
        bits = _bit_vectors(n)
        P = m.penalty() if penalty is None else penalty
        truth = _polynomial(SIZES, m.w, bits) + P * _onehot_violation(SIZES, bits)
        np.testing.assert_allclose(bqm.energies((bits.astype(np.int8), range(n))), truth, atol=1e-9)

    def test_features_are_the_products_of_one_hot_bits(self) -> None:
        space = Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(SIZES)])
        X = _archs(SIZES)
        bits = np.stack([space.to_bits(space.from_indices(list(x))) for x in X]).astype(float)
        Phi = features(X, SIZES)
        assert Phi.shape == (len(X), n_features(SIZES))
        assert n_features(SIZES) == 8 + 3 * 2 + 3 * 3 + 2 * 3
        # column c of Phi is the polynomial of the unit coefficient vector e_c
        for c in range(Phi.shape[1]):
            e = np.zeros(Phi.shape[1])
            e[c] = 1.0
            np.testing.assert_array_equal(Phi[:, c], _polynomial(SIZES, e, bits))


def _data(seed: int, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.integers(0, SIZES, size=(n, len(SIZES)))
    truth = _model(seed + 100)
    y = truth.energy(X) + 0.3 * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std()


def _evidence(Phi: np.ndarray, y: np.ndarray, d: np.ndarray, s2: float) -> float:
    """log N(y; 0, Phi diag(d) Phi^T + s2 I) by scipy."""
    C = (Phi * d) @ Phi.T + s2 * np.eye(len(y))
    return float(multivariate_normal(np.zeros(len(y)), C).logpdf(y))


class TestPosterior:
    def test_log_evidence_is_the_marginal_density(self) -> None:
        X, y = _data(0)
        Phi = features(X, SIZES)
        d = np.asarray(np.random.default_rng(1).uniform(0.1, 1.0, Phi.shape[1]))
        post = _Posterior(Phi, y, d, 0.3, (Phi * d) @ Phi.T)
        assert post.log_evidence() == pytest.approx(_evidence(Phi, y, d, 0.3), abs=1e-9)

    @pytest.mark.parametrize("seed", range(4))
    def test_fit_takes_the_grid_point_of_largest_evidence(self, seed: int) -> None:
        """Brute force over the grid with scipy's density; the posterior is then the
        closed-form Gaussian of that point (weight-space mean)."""
        X, y = _data(seed, n=8 + 3 * seed)
        rng = np.random.default_rng(seed)
        taus = tuple(np.sort(rng.uniform(0.02, 1.5, 3)))
        noises = tuple(np.sort(rng.uniform(0.01, 1.5, 4)))
        post = fit_quadratic(X, y, SIZES, prior_pair=taus, noise=noises)
        Phi = features(X, SIZES)
        n_lin = sum(SIZES)

        def prior(tau: float) -> np.ndarray:
            d = np.full(Phi.shape[1], tau**2)
            d[:n_lin] = 1.0
            return d

        evs = {(t, s): _evidence(Phi, y, prior(t), s) for t in taus for s in noises}
        tau, s2 = max(evs, key=lambda k: evs[k])
        assert post.s2 == s2
        np.testing.assert_allclose(post.d, prior(tau))
        assert post.log_evidence() == pytest.approx(evs[tau, s2], abs=1e-9)
        A = Phi.T @ Phi / s2 + np.diag(1 / prior(tau))
        np.testing.assert_allclose(post.mean, np.linalg.solve(A, Phi.T @ y / s2), atol=1e-9)

    def test_default_grid(self) -> None:
        """The documented default grids: pair prior scales and noise variances."""
        X, y = _data(5, n=15)
        post = fit_quadratic(X, y, SIZES)
        ref = fit_quadratic(X, y, SIZES, prior_pair=(0.05, 0.15, 0.4), noise=(0.02, 0.1, 0.3, 0.8))
        assert post.s2 == ref.s2
        np.testing.assert_array_equal(post.d, ref.d)
        for tau, s2 in itertools.product((0.05, 0.15, 0.4), (0.02, 0.1, 0.3, 0.8)):
            one = fit_quadratic(X, y, SIZES, prior_pair=(tau,), noise=(s2,))
            assert one.log_evidence() <= post.log_evidence() + 1e-12

    def test_draws_have_the_closed_form_predictive_covariance(self) -> None:
        """Independent noise per trial in Bhattacharya et al.'s sampler: the draws'
        covariance of every architecture's value is ``Phi A^-1 Phi^T`` with ``A`` the
        weight-space posterior precision (a large noise variance makes the noise
        term matter)."""
        sizes = [2, 3]
        rng = np.random.default_rng(0)
        X = rng.integers(0, sizes, size=(8, 2))
        y = rng.standard_normal(8)
        Phi = features(X, sizes)
        d = np.full(Phi.shape[1], 0.3)
        post = _Posterior(Phi, y, d, 0.5, (Phi * d) @ Phi.T)
        cov = np.linalg.inv(Phi.T @ Phi / 0.5 + np.diag(1 / d))
        F = features(_archs(sizes), sizes)
        r = np.random.default_rng(1)
        draws = np.stack([post.draw(r) for _ in range(8000)]) @ F.T
        np.testing.assert_allclose(np.cov(draws.T), F @ cov @ F.T, atol=0.05)
        np.testing.assert_allclose(draws.mean(0), F @ post.mean, atol=0.05)

    def test_draw_spread_scales_around_the_mean(self) -> None:
        """``scale`` multiplies the deviation of the same underlying sample."""
        X, y = _data(2)
        post = fit_quadratic(X, y, SIZES)
        one = post.draw(np.random.default_rng(3))
        np.testing.assert_allclose(
            post.draw(np.random.default_rng(3), 2.5) - post.mean, 2.5 * (one - post.mean)
        )
        np.testing.assert_allclose(post.draw(np.random.default_rng(3), 0.0), post.mean)
        assert not np.allclose(one, post.mean)


class TestFitKnown:
    @pytest.mark.parametrize("n", [5, 12, 18])
    def test_fit_is_the_minimum_norm_least_squares_fit(self, n: int) -> None:
        """Fewer architectures than coefficients (the dual solve) and all of them
        (the primal solve): numpy's minimum-norm least squares, values and weights."""
        X = _archs(SIZES)[np.random.default_rng(n).permutation(18)[:n]]
        y = np.random.default_rng(n + 1).standard_normal(n)
        fit = fit_known(X, y, SIZES)
        Phi = features(X, SIZES)
        ref = np.linalg.lstsq(Phi, y, rcond=None)[0]
        np.testing.assert_allclose(fit.energy(X), Phi @ ref, atol=1e-5)
        np.testing.assert_allclose(fit.w, ref, atol=1e-4)

    def test_many_architectures_in_the_primal_form(self) -> None:
        """More rows than coefficients (each architecture twice, noisy): the normal
        equations' minimum-norm solution."""
        X = np.concatenate([_archs(SIZES)] * 2)
        y = _model(8).energy(X) + np.random.default_rng(0).standard_normal(len(X))
        fit = fit_known(X, y, SIZES)
        ref = np.linalg.lstsq(features(X, SIZES), y, rcond=None)[0]
        np.testing.assert_allclose(fit.w, ref, atol=1e-4)


class TestRankScores:
    @pytest.mark.parametrize("n", [1, 2, 7, 300])
    def test_normal_scores_are_normal_quantiles_of_ordinal_ranks(self, n: int) -> None:
        loss = np.random.default_rng(n).integers(0, 3, n).astype(float)  # with ties
        ref = norm.ppf((rankdata(loss, method="ordinal") - 0.5) / n)
        np.testing.assert_allclose(normal_scores(loss), ref, atol=1e-12)

    def test_no_losses(self) -> None:
        assert normal_scores(np.zeros(0)).shape == (0,)
        assert rank_scores(np.zeros(0)).shape == (0,)
        assert rank_targets([], [optuna.study.StudyDirection.MINIMIZE]).shape == (0,)

    @pytest.mark.parametrize("n", [1, 2, 9])
    def test_rank_scores_are_the_standardised_normal_scores(self, n: int) -> None:
        loss = np.random.default_rng(n).standard_normal(n)
        z = norm.ppf((rankdata(loss, method="ordinal") - 0.5) / n)
        ref = (z - z.mean()) / z.std() if n > 1 else z
        np.testing.assert_allclose(rank_scores(loss), ref, atol=1e-12)

    def test_rank_targets_of_one_trial(self) -> None:
        (t,) = [optuna.trial.create_trial(value=4.0)]
        t.number = 0
        assert rank_targets([t], [optuna.study.StudyDirection.MINIMIZE]).tolist() == [0.0]

    @pytest.mark.parametrize("direction", ["minimize", "maximize"])
    def test_rank_targets_of_trials(self, direction: str) -> None:
        values = [3.0, -1.0, 2.0, 7.5, 0.0]
        trials = [optuna.trial.create_trial(value=v) for v in values]
        for i, t in enumerate(trials):
            t.number = i
        d = optuna.study.StudyDirection.MINIMIZE
        if direction == "maximize":
            d = optuna.study.StudyDirection.MAXIMIZE
        sign = 1.0 if direction == "minimize" else -1.0
        ref = norm.ppf((rankdata(sign * np.array(values), method="ordinal") - 0.5) / 5)
        np.testing.assert_allclose(rank_targets(trials, [d]), ref, atol=1e-12)


#: sizes with a one-option choice and options counts that are not powers of two
ENCODED = [[3, 1, 2, 5], [4, 2, 3], [1, 6]]


class TestEncodings:
    @pytest.fixture(autouse=True)
    def _fresh_cache(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Decode from scratch: a register decoded before this test is cached."""
        import quarch.search._surrogate as surrogate

        monkeypatch.setattr(surrogate, "_DECODE_CACHE", {})

    @pytest.mark.parametrize("encoding", ["onehot", "binary"])
    @pytest.mark.parametrize("sizes", ENCODED, ids=lambda s: "x".join(map(str, s)))
    def test_register_width_and_decoding_match_the_space(
        self, sizes: list[int], encoding: str
    ) -> None:
        space = Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(sizes)])
        n = space.n_bits(encoding)  # type: ignore[arg-type]
        assert n_qubits(sizes, encoding) == n
        codes = decode_codes(sizes, encoding)
        assert codes.shape == (2**n, len(sizes)) and codes.dtype.kind == "i"  # indices
        ref = [
            space.to_indices(space.from_bits(b, encoding))  # type: ignore[arg-type]
            for b in _bit_vectors(n).astype(int)
        ]
        np.testing.assert_array_equal(codes, ref)

    def test_binary_width_is_the_bits_of_the_largest_index(self) -> None:
        for k in range(1, 40):
            assert n_qubits([k], "binary") == (k - 1).bit_length()
            assert n_qubits([k, 3], "onehot") == k + 3

    def test_decoding_stays_right_past_the_cache(self) -> None:
        """More registers than the cache holds, decoded twice in turn, each against
        the space's own decoding."""
        keys: list[tuple[list[int], Literal["onehot", "binary"]]] = [
            ([k, 2], e) for k in range(2, 9) for e in ("onehot", "binary")
        ]
        refs = []
        for s, e in keys:
            space = Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(s)])
            bits = _bit_vectors(space.n_bits(e)).astype(int)
            refs.append([space.to_indices(space.from_bits(b, e)) for b in bits])
        for _ in range(2):
            for (s, e), ref in zip(keys, refs, strict=True):
                np.testing.assert_array_equal(decode_codes(s, e), ref)
                np.testing.assert_array_equal(decode_codes(tuple(s), e), ref)

    @pytest.mark.parametrize("sizes", [[3, 1, 2, 5], [7], [2, 2, 2]], ids=["3125", "7", "222"])
    def test_arch_ids_are_mixed_radix(self, sizes: list[int]) -> None:
        X = _archs(sizes)
        ids = arch_ids(X, sizes)
        assert ids.dtype == np.int64  # ids index tables of the whole space
        np.testing.assert_array_equal(ids, np.ravel_multi_index(tuple(X.T), sizes))
        np.testing.assert_array_equal(ids, np.arange(len(X)))  # product order is row-major
        assert arch_ids(X[-1], sizes).tolist() == [len(X) - 1]  # one row, flat


class TestSingleThread:
    def test_blas_and_torch_run_on_one_thread_then_restore(self) -> None:
        torch = pytest.importorskip("torch")
        from threadpoolctl import threadpool_info

        old = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            with single_thread(uses_torch=True):
                assert torch.get_num_threads() == 1
                assert all(p["num_threads"] == 1 for p in threadpool_info()
                           if p["user_api"] == "blas")  # fmt: skip
            assert torch.get_num_threads() == 2
            with pytest.raises(RuntimeError, match="inside"), single_thread():
                assert torch.get_num_threads() == 1
                raise RuntimeError("inside")
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(old)


def _history(sizes: list[int], rows: list[tuple[int, ...]], seen: set[tuple[int, ...]]) -> History:
    """Completed trials of ``rows`` (value = row position), numbered in order."""
    dists: dict[str, Any] = {
        f"c{j}": optuna.distributions.CategoricalDistribution(list(range(k)))
        for j, k in enumerate(sizes)
    }
    trials = []
    for i, x in enumerate(rows):
        t = optuna.trial.create_trial(
            value=float((i * 7) % 5),
            params={f"c{j}": int(v) for j, v in enumerate(x)},
            distributions=dists,
        )
        t.number = i
        trials.append(t)
    directions = [optuna.study.StudyDirection.MINIMIZE]
    return History(
        names=list(dists),
        sizes=sizes,
        trials=trials,
        X=np.array(rows, dtype=np.int64).reshape(len(rows), len(sizes)),
        rank=order_trials(trials, directions),
        seen=set(seen) | set(rows),
        directions=directions,
        choices=[tuple(range(k)) for k in sizes],
    )


class TestBatchHelpers:
    def test_fill_keeps_the_unseen_proposals_in_order(self) -> None:
        sizes = [3, 3, 2]
        hist = _history(sizes, [(0, 0, 0), (1, 1, 1)], {(2, 2, 0)})
        props = [[1, 1, 1], [0, 2, 1], [2, 2, 0], [0, 2, 1], [1, 0, 0], [2, 1, 1]]
        out = _fill(props, hist, np.random.default_rng(0), 3)  # type: ignore[arg-type]
        assert out == [[0, 2, 1], [1, 0, 0], [2, 1, 1]]
        assert _fill(props, hist, np.random.default_rng(0), 2) == [[0, 2, 1], [1, 0, 0]]

    @pytest.mark.parametrize("seed", range(4))
    def test_fill_tops_up_with_distinct_unseen_architectures(self, seed: int) -> None:
        sizes = [3, 3, 2]
        rows = [tuple(x) for x in _archs(sizes)[np.random.default_rng(seed).permutation(18)[:6]]]
        hist = _history(sizes, rows, set())
        out = _fill([[int(v) for v in rows[0]]], hist, np.random.default_rng(seed), 12)
        assert len(out) == 12 == len({tuple(p) for p in out})
        assert not {tuple(p) for p in out} & hist.seen
        assert all(0 <= v < k for p in out for v, k in zip(p, sizes, strict=True))

    @pytest.mark.parametrize("seed", range(3))
    def test_fill_finds_the_last_unseen_architecture(self, seed: int) -> None:
        """1023 of 1024 architectures seen: random tries mostly miss the last one, and
        the exhaustive fallback must return it."""
        sizes = [2] * 10
        every = [tuple(int(v) for v in x) for x in _archs(sizes)]
        last = every[np.random.default_rng(seed).integers(len(every))]
        hist = _history(sizes, every[:3], {x for x in every if x != last})
        assert _fill([], hist, np.random.default_rng(seed), 1) == [list(last)]

    def test_fill_of_an_exhausted_space_still_gives_the_batch(self) -> None:
        sizes = [2, 2]
        every = [tuple(int(v) for v in x) for x in _archs(sizes)]
        hist = _history(sizes, every, set())
        out = _fill([], hist, np.random.default_rng(0), 3)
        assert len(out) == 3 and all(tuple(p) in set(every) for p in out)

    def test_fill_tops_up_half_with_one_choice_changes_of_the_previous(self) -> None:
        """The documented top-up rule, by its law: about half of the top-ups (the
        redraw of a choice may give the same option, then a seen one) are one choice
        away from the previous proposal, or from the first trial for the first one;
        uniform draws almost never are (33 of 390625 architectures)."""
        sizes = [5] * 8
        rows: list[tuple[int, ...]] = [(0,) * 8, (4,) * 8, (2,) * 8]
        hist = _history(sizes, rows, set())
        first: list[bool] = []
        later: list[bool] = []
        for seed in range(150):
            out = _fill([], hist, np.random.default_rng(seed), 3)
            dist = [int((np.array(b) != np.array(a)).sum())
                    for a, b in zip([rows[0], *out[:2]], out, strict=True)]  # fmt: skip
            first.append(dist[0] == 1)
            later += [d == 1 for d in dist[1:]]
        # one-choice change accepted first: 1/2 * 4/5; a uniform draw: 1/2
        p = 0.4 / 0.9
        for hits in (first, later):
            assert abs(np.mean(hits) - p) < 4 * np.sqrt(p * (1 - p) / len(hits))

    def test_fill_without_trials(self) -> None:
        hist = _history([3, 4], [], set())
        out = _fill([], hist, np.random.default_rng(1), 12)
        assert sorted(map(tuple, out)) == [tuple(x) for x in _archs([3, 4])]

    def test_before_keeps_the_trials_numbered_before_start(self) -> None:
        sizes = [3, 3, 2]
        rows = [tuple(int(v) for v in x) for x in _archs(sizes)[[5, 0, 17, 9, 3, 11]]]
        hist = _history(sizes, rows, {(2, 2, 0)})
        dists = {n: optuna.distributions.CategoricalDistribution(list(range(k)))
                 for n, k in zip(hist.names, sizes, strict=True)}  # fmt: skip
        skipped = []
        for number, x in ((1, (1, 2, 0)), (3, (0, 1, 1))):
            t = optuna.trial.create_trial(
                state=optuna.trial.TrialState.PRUNED,
                params={f"c{j}": v for j, v in enumerate(x)},
                distributions=dict(dists),
                constraints={"g": 1.0},
            )
            t.number = number
            skipped.append(t)
        hist.skipped = skipped
        hist.X_skipped = np.array([[1, 2, 0], [0, 1, 1]])
        # trials out of number order: keep by number, not position
        order = [3, 0, 5, 1, 4, 2]
        hist.trials = [hist.trials[i] for i in order]
        hist.X = hist.X[order]
        sub = _before(hist, 3)
        assert [t.number for t in sub.trials] == [0, 1, 2]
        np.testing.assert_array_equal(sub.X, [rows[0], rows[1], rows[2]])
        # ranks of the kept trials among themselves: values 0, 2, 4 -> places 0, 1, 2
        np.testing.assert_array_equal(sub.rank, rankdata([0.0, 2.0, 4.0], method="ordinal") - 1)
        assert [t.number for t in sub.skipped] == [1]
        assert sub.X_skipped is not None
        np.testing.assert_array_equal(sub.X_skipped, [[1, 2, 0]])
        assert sub.seen == hist.seen and sub.names == hist.names and sub.sizes == sizes
        assert sub.directions == hist.directions and sub.choices == hist.choices
        assert _before(hist, 0).trials == [] and len(_before(hist, 0).X) == 0
        plain = _history(sizes, rows, set())  # no skipped trials recorded
        assert plain.X_skipped is None and _before(plain, 3).X_skipped is None


class _Batcher(PopulationSampler):
    """The smallest batch strategy: ``make_batch`` decides, ``propose_batched`` serves."""

    def __init__(self, make_batch: Any, *, n_startup: int, batch_size: int, seed: int = 0,
                 uses_torch: bool = False) -> None:  # fmt: skip
        super().__init__(seed=seed, search_space=dict(_BATCH_DISTS))
        self.make_batch, self.n_startup, self.batch_size = make_batch, n_startup, batch_size
        self.uses_torch = uses_torch

    def _propose(self, study: optuna.Study, trial: Any, hist: History) -> list[int]:
        return propose_batched(
            self, study, trial, hist, batch_size=self.batch_size, n_startup=self.n_startup,
            make_batch=self.make_batch, uses_torch=self.uses_torch,
        )  # fmt: skip


_BATCH_SIZES = [3, 3, 2]
_BATCH_DISTS = {
    f"c{j}": optuna.distributions.CategoricalDistribution(list(range(k)))
    for j, k in enumerate(_BATCH_SIZES)
}


class _Recorder:
    """A ``make_batch`` that records its calls and proposes the first unseen
    architectures in product order, one short of the batch (``_fill`` completes it)."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(
        self, study: Any, hist: History, rng: np.random.Generator, size: int, start: int
    ) -> tuple[list[list[int]], dict[str, Any]]:
        torch = sys.modules.get("torch")
        self.calls.append({
            "study": study, "numbers": [t.number for t in hist.trials], "start": start,
            "size": size, "draw": float(rng.random()),
            "threads": None if torch is None else torch.get_num_threads(),
        })  # fmt: skip
        unseen = [list(x) for x in _archs(_BATCH_SIZES).tolist() if tuple(x) not in hist.seen]
        return unseen[: size - 1], {"score": [10 * start + i for i in range(size)], "note": "x"}


def _params(t: FrozenTrial) -> list[int]:
    return [int(t.params[n]) for n in _BATCH_DISTS]


def _objective(t: optuna.Trial) -> float:
    total = 0
    for n, d in _BATCH_DISTS.items():
        v = t.suggest_categorical(n, d.choices)
        assert isinstance(v, int)
        total += v
    return float(total)


def _batch_study(make: _Recorder, n: int, **kw: Any) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=_Batcher(make, **kw))
    study.optimize(_objective, n_trials=n)
    return study


class TestProposeBatched:
    def test_each_batch_is_made_once_from_the_trials_before_it(self) -> None:
        make = _Recorder()
        study = _batch_study(make, 15, n_startup=3, batch_size=4)
        assert [c["start"] for c in make.calls] == [3, 7, 11]
        for c in make.calls:
            assert c["study"] is study and c["size"] == 4
            assert c["numbers"] == list(range(c["start"]))
        assert len({c["draw"] for c in make.calls}) == 3  # a stream per batch
        attrs = study._storage.get_study_system_attrs(study._study_id)
        trials = study.get_trials()
        assert len({tuple(_params(t)) for t in trials}) == 15
        for b, c in enumerate(make.calls):
            batch = attrs[f"_Batcher:batch:{b}"]
            assert len(batch["proposals"]) == 4
            seen = {tuple(_params(t)) for t in trials[: c["start"]]}
            first = [list(x) for x in _archs(_BATCH_SIZES).tolist() if tuple(x) not in seen][:3]
            assert batch["proposals"][:3] == first
            for pos in range(4):
                t = trials[c["start"] + pos]
                assert _params(t) == batch["proposals"][pos]
                assert t.system_attrs["_Batcher:score"] == 10 * c["start"] + pos
                assert "_Batcher:note" not in t.system_attrs
                assert "_Batcher:proposals" not in t.system_attrs
        again = _batch_study(_Recorder(), 15, n_startup=3, batch_size=4)
        assert [_params(t) for t in again.get_trials()] == [_params(t) for t in trials]

    def test_each_batch_and_its_top_up_draw_from_the_documented_streams(self) -> None:
        """``make_batch``'s generator is ``numpy.random.default_rng([seed, start, 1])``
        and the top-up (here the batch's last proposal) is ``_fill`` with
        ``default_rng([seed, start, 2])``: streams apart from the trials' own
        ``[seed, number]``, which draw the startup trials."""
        make = _Recorder()
        study = _batch_study(make, 15, n_startup=3, batch_size=4, seed=5)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        trials = study.get_trials()
        for b, c in enumerate(make.calls):
            start = c["start"]
            assert c["draw"] == np.random.default_rng([5, start, 1]).random()
            assert c["draw"] != np.random.default_rng([5, start]).random()
            rows = [tuple(_params(t)) for t in trials[:start]]
            sub = _history(_BATCH_SIZES, rows, set())
            props = attrs[f"_Batcher:batch:{b}"]["proposals"]
            want = _fill(props[:3], sub, np.random.default_rng([5, start, 2]), 4)
            assert props == want

    def test_a_batch_with_no_trials_before_it_is_uniform(self) -> None:
        make = _Recorder()
        study = _batch_study(make, 9, n_startup=0, batch_size=3)
        assert [c["start"] for c in make.calls] == [3, 6]
        assert len({tuple(_params(t)) for t in study.get_trials()}) == 9

    def test_a_trial_added_at_the_batch_start_is_not_before_it(self) -> None:
        make = _Recorder()
        study = _batch_study(make, 2, n_startup=2, batch_size=3)
        study.add_trial(optuna.trial.create_trial(
            params={"c0": 2, "c1": 2, "c2": 1}, distributions=dict(_BATCH_DISTS), value=5.0))  # fmt: skip
        study.optimize(_objective, n_trials=1)
        assert [c["numbers"] for c in make.calls] == [[0, 1]]

    def test_a_proposal_another_worker_took_is_changed_in_one_choice(self) -> None:
        make = _Recorder()
        study = _batch_study(make, 3, n_startup=2, batch_size=3)
        batch = study._storage.get_study_system_attrs(study._study_id)["_Batcher:batch:0"]
        taken = batch["proposals"][2]
        study.add_trial(optuna.trial.create_trial(  # number 3, position 1
            params=dict(zip(_BATCH_DISTS, taken, strict=True)),
            distributions=dict(_BATCH_DISTS), value=1.0))  # fmt: skip
        study.optimize(_objective, n_trials=1)
        *before, last = study.get_trials()
        got = _params(last)
        assert sum(a != b for a, b in zip(got, taken, strict=True)) == 1
        assert tuple(got) not in {tuple(_params(t)) for t in before}

    def test_a_torch_strategy_imports_torch_before_its_batch(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``uses_torch=True``: torch is imported before the pools are limited (so a
        strategy that first imports torch inside its batch still runs on one thread);
        without it, nothing is imported."""
        import importlib

        from quarch.search import _surrogate

        asked: list[str] = []

        class _Spy:
            @staticmethod
            def import_module(name: str) -> Any:
                asked.append(name)
                return importlib.import_module(name)

        monkeypatch.setattr(_surrogate, "importlib", _Spy)
        _batch_study(_Recorder(), 4, n_startup=2, batch_size=2)
        assert asked == []
        _batch_study(_Recorder(), 4, n_startup=2, batch_size=2, uses_torch=True)
        assert asked == ["torch"]

    def test_a_torch_strategy_runs_its_batch_on_one_thread(self) -> None:
        torch = pytest.importorskip("torch")
        old = torch.get_num_threads()
        torch.set_num_threads(2)
        try:
            make = _Recorder()
            _batch_study(make, 4, n_startup=2, batch_size=2, uses_torch=True)
            assert [c["threads"] for c in make.calls] == [1]
            assert torch.get_num_threads() == 2
        finally:
            torch.set_num_threads(old)
