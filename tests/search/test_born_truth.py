"""The Born machine against independent truth: its distribution over architectures
against Qiskit's probabilities of the same circuit (decoded here), its REINFORCE
update against the module's formula with ranks, normal scores and finite-difference
gradients taken here, the stored parameter chain and its resumption, its proposals
against basis states and the exact distribution (chi-square), and every refused
argument with its exact message.

Qiskit orders qubits little-endian; quarch's wire 0 is the most significant bit, so
wire ``q`` is Qiskit qubit ``n - 1 - q`` and basis indices then agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution
from optuna.study import StudyDirection
from optuna.trial import create_trial
from scipy.special import ndtri

from quarch.objectives import Objective
from quarch.search import BornSampler, make_sampler
from quarch.search._born import _probs
from quarch.search._common import History, order_trials
from quarch.search._surrogate import CircuitSizeError, single_thread
from quarch.space import Choice, Space

from ._reference import chi_square_p, ry_ring_probs

SIZES = [4, 3]
SPACE = Space([Choice("a", list(range(4))), Choice("b", list(range(3)))])


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    with single_thread(True):
        yield


# -- references written here ---------------------------------------------------------
def _decode(sizes: list[int], encoding: str) -> np.ndarray:
    """Option indices of every basis state, bit 0 the most significant: a binary code
    past the last option wraps (``code % k``), a one-hot code takes its first set bit
    (option 0 when none is set)."""
    widths = [k if encoding == "onehot" else math.ceil(math.log2(k)) for k in sizes]
    n = sum(widths)
    out = np.zeros((2**n, len(sizes)), dtype=int)
    for z in range(2**n):
        bits = [(z >> (n - 1 - w)) & 1 for w in range(n)]
        start = 0
        for j, (k, w) in enumerate(zip(sizes, widths, strict=True)):
            chunk = bits[start : start + w]
            if encoding == "onehot":
                out[z, j] = chunk.index(1) if 1 in chunk else 0
            else:
                out[z, j] = int("".join(map(str, chunk)), 2) % k
            start += w
    return out


def _arch_probs(sizes: list[int], encoding: str, layers: int, theta: np.ndarray) -> np.ndarray:
    """``p(arch)`` (mixed-radix index, first choice most significant) of one block."""
    dec = _decode(sizes, encoding)
    n = int(dec.shape[0]).bit_length() - 1
    ids = np.ravel_multi_index(tuple(dec.T), sizes)
    return np.bincount(ids, weights=ry_ring_probs(n, layers, theta), minlength=math.prod(sizes))


def _history(X: np.ndarray, values: np.ndarray) -> History:
    dists: dict[str, BaseDistribution] = dict(SPACE.distributions())
    trials = []
    for i, (x, v) in enumerate(zip(X, values, strict=True)):
        t = create_trial(params=SPACE.from_indices(x.tolist()), distributions=dists, value=float(v))
        t.number = i
        trials.append(t)
    d = [StudyDirection.MINIMIZE]
    return History(
        names=SPACE.names, sizes=list(SIZES), trials=trials, X=np.asarray(X),
        rank=order_trials(trials, d), seen={tuple(x) for x in X.tolist()}, directions=d,
    )  # fmt: skip


def _reinforce(
    blocks: list[list[int]],
    layers: int,
    theta: list[np.ndarray],
    X: np.ndarray,
    values: np.ndarray,
    lo: int,
    hi: int,
    lr: float,
    steps: int,
) -> list[np.ndarray]:
    """The module's update on trials ``[lo, hi)``: rewards are minus the normal scores
    of the ranks among the trials before ``hi`` (distinct values, smaller is better),
    ``theta += lr * mean_i (r_i - mean r) grad log p(arch_i)`` per block, the gradient
    by central differences of Qiskit's probabilities."""
    known = values[:hi]
    rank = np.argsort(np.argsort(known))
    r = -ndtri((rank + 0.5) / hi)[lo:hi]
    adv = r - r.mean()
    out = []
    for block, th in zip(blocks, theta, strict=True):
        sub = [SIZES[j] for j in block]
        ids = np.ravel_multi_index(tuple(X[lo:hi, block].T), sub)
        th = th.copy()
        for _ in range(steps):

            def objective(t: np.ndarray, sub: list[int] = sub, ids: np.ndarray = ids) -> float:
                return float(adv @ np.log(_arch_probs(sub, "binary", layers, t)[ids]) / len(adv))

            h = 1e-5
            grad = np.array(
                [(objective(th + h * e) - objective(th - h * e)) / (2 * h) for e in np.eye(th.size)]
            )
            th = th + lr * grad
        out.append(th)
    return out


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.stack([rng.integers(0, 4, n), rng.integers(0, 3, n)], axis=1)
    return X, rng.permutation(n).astype(float) + rng.uniform(0, 0.5, n)  # distinct values


# -- the circuit -----------------------------------------------------------------------
class TestDistribution:
    @pytest.mark.parametrize(
        ("sizes", "encoding", "layers"),
        [([4, 3], "binary", 1), ([4, 3], "binary", 0), ([3, 2], "onehot", 2), ([2], "binary", 1)],
    )
    def test_architecture_probabilities_match_qiskit(
        self, sizes: list[int], encoding: str, layers: int
    ) -> None:
        s = BornSampler(layers=layers, encoding=encoding, seed=0)
        plan, init, (sub, dec, ids) = s._block_setup(sizes, list(range(len(sizes))))
        assert sub == sizes
        np.testing.assert_array_equal(dec, _decode(sizes, encoding))
        np.testing.assert_array_equal(ids, np.ravel_multi_index(tuple(dec.T), sizes))
        n = int(dec.shape[0]).bit_length() - 1
        assert init.shape == (n * (layers + 1),)
        np.testing.assert_allclose(_probs(plan, init), np.full(2**n, 2.0**-n), atol=1e-6)
        theta = np.random.default_rng(len(sizes) + layers).uniform(-np.pi, np.pi, init.size)
        got = _probs(plan, theta)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, ry_ring_probs(n, layers, theta), atol=2e-6)
        np.testing.assert_allclose(
            np.bincount(ids, weights=got, minlength=math.prod(sizes)),
            _arch_probs(sizes, encoding, layers, theta),
            atol=4e-6,
        )


# -- the policy gradient -----------------------------------------------------------------
class TestUpdate:
    @pytest.mark.parametrize(("lo", "hi", "steps"), [(0, 12, 1), (4, 10, 1), (3, 9, 2)])
    def test_one_block_is_reinforce_on_the_window(self, lo: int, hi: int, steps: int) -> None:
        X, v = _data(12, 3)
        s = BornSampler(seed=0, lr=0.5, steps=steps)
        _, init, _ = s._block_setup(SIZES, [0, 1])
        theta = init + np.random.default_rng(1).normal(0, 0.4, init.size)
        got = s._update(_history(X, v), [theta], lo, hi)
        want = _reinforce([[0, 1]], 1, [theta], X, v, lo, hi, 0.5, steps)
        np.testing.assert_allclose(got[0], want[0], atol=2e-4)
        assert np.abs(got[0] - theta).max() > 1e-2  # the update moved it

    def test_blocks_follow_their_own_marginals(self) -> None:
        X, v = _data(10, 4)
        s = BornSampler(seed=0, lr=0.7, layers=1, max_qubits=2)
        assert s._blocks(SIZES) == [[0], [1]]
        rng = np.random.default_rng(2)
        theta = [np.pi / 2 + rng.normal(0, 0.4, 4) for _ in range(2)]
        got = s._update(_history(X, v), theta, 2, 10)
        want = _reinforce([[0], [1]], 1, theta, X, v, 2, 10, 0.7, 1)
        for g, w, t in zip(got, want, theta, strict=True):
            np.testing.assert_allclose(g, w, atol=2e-4)
            assert np.abs(g - t).max() > 1e-2

    def test_parameters_that_do_not_fit_the_blocks_are_refused(self) -> None:
        X, v = _data(6, 2)
        s = BornSampler(seed=0, max_qubits=2)
        with pytest.raises(ValueError, match=r"zip\(\) argument 2 is shorter than argument 1"):
            s._update(_history(X, v), [np.full(4, np.pi / 2)], 0, 6)

    def test_nothing_to_learn_leaves_the_parameters(self) -> None:
        X, _ = _data(8, 5)
        s = BornSampler(seed=0)
        _, init, _ = s._block_setup(SIZES, [0, 1])
        theta = init + 0.3
        # every value equal: ranks break the tie by number, but one trial alone has
        # no advantage over itself
        one = s._update(_history(X, np.arange(8.0)), [theta], 5, 6)
        np.testing.assert_array_equal(one[0], theta)
        empty = s._update(_history(X, np.arange(8.0)), [theta], 8, 8)
        np.testing.assert_array_equal(empty[0], theta)


# -- the parameter chain in the study ------------------------------------------------------
class TestChain:
    def test_each_batch_updates_on_the_batch_before(self) -> None:
        """Batch 0 learns from the startup trials; batch ``b`` from batch ``b - 1``'s
        trials (``n_startup + (b - 1) * batch_size`` up to the next batch's start)."""
        X, v = _data(13, 6)
        s = BornSampler(seed=0, lr=0.5, n_startup=4, batch_size=3,
                        search_space=SPACE.distributions())  # fmt: skip
        study = optuna.create_study()
        hist = _history(X, v)
        got = s.theta(study, hist, 2)
        _, init, _ = s._block_setup(SIZES, [0, 1])
        want = [init]
        for lo, hi in ((0, 4), (4, 7), (7, 10)):
            want = _reinforce([[0, 1]], 1, want, X, v, lo, hi, 0.5, 1)
        np.testing.assert_allclose(got[0], want[0], atol=5e-4)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert sorted(k for k in attrs if k.startswith("BornSampler:")) == [
            "BornSampler:theta:0", "BornSampler:theta:1", "BornSampler:theta:2",
        ]  # fmt: skip
        np.testing.assert_allclose(attrs["BornSampler:theta:2"][0], got[0], rtol=0, atol=0)

    @pytest.mark.parametrize("stored_at", [0, 1])
    def test_a_chain_resumes_from_its_newest_stored_batch(self, stored_at: int) -> None:
        """Parameters stored for batch ``c`` (here not those the trials would give) are
        read, not rebuilt, and the later batches update from them."""
        X, v = _data(13, 7)
        s = BornSampler(seed=0, lr=0.2, n_startup=4, batch_size=3,
                        search_space=SPACE.distributions())  # fmt: skip
        study = optuna.create_study()
        stored = np.random.default_rng(3).uniform(0, np.pi, 8)
        study._storage.set_study_system_attr(study._study_id, f"BornSampler:theta:{stored_at}",
                                             [stored.tolist()])  # fmt: skip
        windows = [(4, 7), (7, 10), (10, 13)][stored_at:]
        want = [stored]
        for b, (lo, hi) in enumerate(windows, start=stored_at + 1):
            want = _reinforce([[0, 1]], 1, want, X, v, lo, hi, 0.2, 1)
            got = s.theta(study, _history(X, v), b)  # one batch further each time
            np.testing.assert_allclose(got[0], want[0], atol=5e-4)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert sorted(k for k in attrs if k.startswith("BornSampler:")) == [
            f"BornSampler:theta:{b}" for b in range(stored_at, 4)
        ]
        # asking for the stored batch again reads it
        np.testing.assert_array_equal(s.theta(study, _history(X, v), stored_at)[0], stored)

    def test_a_chain_skips_back_over_missing_batches(self) -> None:
        X, v = _data(13, 9)
        s = BornSampler(seed=0, lr=0.2, n_startup=4, batch_size=3,
                        search_space=SPACE.distributions())  # fmt: skip
        study = optuna.create_study()
        stored = np.random.default_rng(4).uniform(0, np.pi, 8)
        study._storage.set_study_system_attr(study._study_id, "BornSampler:theta:1",
                                             [stored.tolist()])  # fmt: skip
        got = s.theta(study, _history(X, v), 3)  # batches 3 and 2 missing, 1 stored
        want = [stored]
        for lo, hi in ((7, 10), (10, 13)):
            want = _reinforce([[0, 1]], 1, want, X, v, lo, hi, 0.2, 1)
        np.testing.assert_allclose(got[0], want[0], atol=5e-4)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert "BornSampler:theta:0" not in attrs
        np.testing.assert_allclose(attrs["BornSampler:theta:3"][0], got[0], rtol=0, atol=0)

    def test_an_inferred_space_names_itself_in_the_key(self) -> None:
        X, v = _data(6, 8)
        s = BornSampler(seed=0, n_startup=4, batch_size=3)
        study = optuna.create_study()
        s.theta(study, _history(X, v), 0)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert [k for k in attrs if k.startswith("BornSampler:")] == [
            "BornSampler:theta:[a/4,b/3]:0"
        ]


# -- proposals -------------------------------------------------------------------------------
def _fixed(s: BornSampler, theta: list[np.ndarray], asked: list[int]) -> None:
    def theta_of(study: Any, hist: History, b: int) -> list[np.ndarray]:
        asked.append(b)
        return theta

    s.theta = theta_of  # type: ignore[method-assign]


class TestProposals:
    def test_a_basis_state_is_the_one_proposal(self) -> None:
        """RY(pi) flips a wire: bits 1001 are ``a = 0b10``, ``b = 0b01``."""
        s = BornSampler(seed=0, layers=0, n_startup=5, batch_size=4)
        asked: list[int] = []
        _fixed(s, [np.array([np.pi, 0.0, 0.0, np.pi])], asked)
        hist = _history(np.array([[0, 0]]), np.array([1.0]))
        props, info = s._batch(None, hist, np.random.default_rng(0), 4, 5 + 2 * 4)  # type: ignore[arg-type]
        assert props == [[2, 1]] and info == {}
        assert asked == [2]
        seen = _history(np.array([[2, 1]]), np.array([1.0]))
        assert s._batch(None, seen, np.random.default_rng(0), 4, 5)[0] == []  # type: ignore[arg-type]

    def test_blocks_are_sampled_into_their_own_choices(self) -> None:
        """Two blocks: wires ``11`` of ``b`` name code 3, which wraps to option 0."""
        s = BornSampler(seed=0, layers=0, max_qubits=2)
        _fixed(s, [np.array([np.pi, 0.0]), np.array([np.pi, np.pi])], [])
        hist = _history(np.array([[0, 0]]), np.array([1.0]))
        assert s._batch(None, hist, np.random.default_rng(0), 3, 10)[0] == [[2, 0]]  # type: ignore[arg-type]

    def test_parameters_that_do_not_fit_the_blocks_are_refused(self) -> None:
        """One parameter array for two blocks (e.g. stored by a run with another
        ``max_qubits``) raises instead of leaving the second block's choices at 0."""
        s = BornSampler(seed=0, layers=0, max_qubits=2)
        _fixed(s, [np.array([np.pi, 0.0])], [])
        hist = _history(np.array([[0, 0]]), np.array([1.0]))
        with pytest.raises(ValueError, match=r"zip\(\) argument 2 is shorter than argument 1"):
            s._batch(None, hist, np.random.default_rng(0), 3, 10)  # type: ignore[arg-type]

    def test_proposals_are_distinct_and_unseen(self) -> None:
        s = BornSampler(seed=0)
        _fixed(s, [np.full(8, 0.3) + np.arange(8) * 0.2], [])
        X = np.array([[0, 0], [1, 1], [2, 2], [3, 0]])
        hist = _history(X, np.arange(4.0))
        props, _ = s._batch(None, hist, np.random.default_rng(1), 6, 10)  # type: ignore[arg-type]
        assert len(props) == 6
        assert len({tuple(p) for p in props}) == 6
        assert not {tuple(p) for p in props} & {tuple(x) for x in X.tolist()}

    def test_first_proposal_follows_the_born_distribution(self) -> None:
        """With nothing seen, a batch's first proposal is one draw of ``p(arch)``: 1500
        draws against Qiskit's distribution of the same circuit (chi-square)."""
        theta = np.random.default_rng(4).uniform(0, np.pi, 8)
        exact = _arch_probs(SIZES, "binary", 1, theta)
        s = BornSampler(seed=0)
        _fixed(s, [theta], [])
        hist = _history(np.zeros((0, 2), dtype=int), np.zeros(0))
        rng = np.random.default_rng(5)
        first = [s._batch(None, hist, rng, 1, 10)[0][0] for _ in range(1500)]  # type: ignore[arg-type]
        ids = np.ravel_multi_index(tuple(np.array(first).T), SIZES)
        assert chi_square_p(ids, exact) > 1e-3
        # a sampler from the uniform distribution fails the same test
        assert chi_square_p(ids, np.full(12, 1 / 12)) < 1e-9


# -- options -------------------------------------------------------------------------------
_REFUSALS = [
    ({"layers": -1}, "layers must be an integer >= 0; got -1"),
    ({"lr": 0}, "lr must be in (0.0, 100.0]; got 0"),
    ({"lr": 100.5}, "lr must be in (0.0, 100.0]; got 100.5"),
    ({"steps": 0}, "steps must be an integer >= 1; got 0"),
    ({"encoding": "gray"}, "encoding must be one of ['binary', 'onehot']; got 'gray'"),
    ({"max_qubits": 0}, "max_qubits must be an integer [1, 24]; got 0"),
    ({"max_qubits": 25}, "max_qubits must be an integer [1, 24]; got 25"),
    ({"batch_size": 0}, "batch_size must be an integer >= 1; got 0"),
    ({"n_startup": 0}, "n_startup must be an integer >= 1; got 0"),
]


class TestOptions:
    @pytest.mark.parametrize(("kw", "message"), _REFUSALS)
    def test_refusals(self, kw: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError) as e:
            BornSampler(**kw)
        assert str(e.value) == message

    def test_boundaries_are_accepted(self) -> None:
        s = BornSampler(layers=0, lr=100.0, steps=1, max_qubits=24, batch_size=1, n_startup=1)
        assert s._blocks([2] * 24) == [list(range(24))]
        s = BornSampler(max_qubits=1, encoding="onehot")
        with pytest.raises(CircuitSizeError):
            s._blocks([2])

    def test_a_choice_wider_than_a_block_is_refused_at_construction(self) -> None:
        space = Space([Choice("a", list(range(20))), Choice("b", [0, 1])])
        with pytest.raises(CircuitSizeError) as e:
            BornSampler(encoding="onehot", max_qubits=8, search_space=space.distributions())
        assert str(e.value).startswith(
            "born simulates 2**n amplitudes and allows max_qubits=8, but one choice alone "
            "needs 20 qubits in 'onehot' encoding (22 qubits in all)"
        )

    def test_seeded_runs_repeat_and_seeds_differ(self) -> None:
        def run(seed: int) -> list[dict[str, Any]]:
            sampler = BornSampler(seed=seed, n_startup=3, batch_size=3,
                                  search_space=SPACE.distributions())  # fmt: skip
            return _trace(sampler, 9)

        assert run(1) == run(1)
        assert run(1) != run(2)

    def test_defaults(self) -> None:
        """One layer, one step of size 1 per batch of 10 after 10 uniform draws, a
        binary register of at most 12 qubits per block."""
        s = BornSampler()
        got = (s._layers, s._lr, s._steps, s._encoding, s._max_qubits, s._batch_size,
               s._n_startup)  # fmt: skip
        assert got == (1, 1.0, 1, "binary", 12, 10, 10)

    def test_registry_builds_the_sampler_over_the_space(self) -> None:
        opts: dict[str, Any] = {"layers": 2, "lr": 3.0, "n_startup": 3, "batch_size": 2}
        made = make_sampler("born", seed=2, space=SPACE, objective=Objective(["val_error"]),
                            **opts)  # fmt: skip
        assert isinstance(made, BornSampler)
        assert (made._layers, made._lr, made._n_startup, made._batch_size) == (2, 3.0, 3, 2)
        assert made._search_space == SPACE.distributions()
        direct = BornSampler(seed=2, search_space=SPACE.distributions(), **opts)
        assert _trace(made, 9) == _trace(direct, 9)


def _trace(sampler: optuna.samplers.BaseSampler, n: int) -> list[dict[str, Any]]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: float(sum(SPACE.to_indices(SPACE.suggest(t)))), n_trials=n)
    return [t.params for t in study.trials]
