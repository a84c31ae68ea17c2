"""Surrogate-screened QIEA and QPSO (``qiea-sg``, ``qpso-sg``) replayed from stored state.

``screen > 1`` makes each query draw several offspring (QIEA) or moves (QPSO) from the
seeded generator and evaluate the one a Thompson sample of the surrogates ranks best.
Each test re-derives, trial by trial, from what the study stored and the documented
seeding (``numpy.random.default_rng([seed, trial_number])``):

* the candidates the surrogate is shown (the offspring or moves, repeats of seen
  architectures removed as the module says) and the generator's state at that moment;
* which candidate the surrogate picks, from a :class:`~quarch.search._models.Surrogates`
  built here with the documented arguments (objective, known metrics, surrogate name):
  its Thompson sample's energies are recomputed by hand from the sampled coefficients
  in matrix form (one-hot bits, linear and pair terms) and the budget is checked on the
  exact metric;
* the proposal the sampler makes of it (and QPSO's stored position).

The run's objective carries a budget on a metric known without training, so a sampler
that lost its objective or its known metrics screens differently. The mutation
benchmark (``benchmarks/mutation.py --module strategies``) found these paths untested.
Also replayed: the plain paths never consult the surrogate, the fallback once every
architecture is seen, QPSO's collapsed swarm (its nudge to a neighbour), studies that
start with trials added by hand, and a QIEA generation state that a late trial must not
rewrite.
"""

from __future__ import annotations

import copy
import importlib
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import optuna
import pytest

from quarch.objectives import Objective
from quarch.search import QIEASampler, QPSOSampler
from quarch.search._common import History
from quarch.search._models import Surrogates
from quarch.search._problem import INFEASIBLE
from quarch.space import Choice, Space

#: the modules (``quarch.search`` binds ``_qiea`` and ``_qpso`` to its registry factories)
_qiea = importlib.import_module("quarch.search._qiea")
_qpso = importlib.import_module("quarch.search._qpso")

SEED = 5
SIZES = (4, 3, 5, 4, 3)  # 720 architectures
LIMIT = 2050.0  # about half the space; params are multiples of 100, none sits on it
OBJ = Objective(["val_error"], budgets=[f"params<={LIMIT:g}"])


def _space(sizes: tuple[int, ...] = SIZES) -> Space:
    return Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(sizes)])


def _value(idx: tuple[int, ...]) -> float:
    """A fixed, tie-free value per architecture (independent of any strategy)."""
    return float(np.random.default_rng([97, *idx]).random())


def _params(idx: tuple[int, ...] | list[int]) -> float:
    return 100.0 * sum((j + 1) * int(i) for j, i in enumerate(idx))


def _cheap(arch: Mapping[str, Any]) -> dict[str, float]:
    """The run's metric known without training (linear in the one-hot bits)."""
    return {"params": _params([arch[f"c{j}"] for j in range(len(arch))])}


def _run(
    sampler: optuna.samplers.BaseSampler, n: int, sizes: tuple[int, ...] = SIZES
) -> tuple[optuna.Study, Space]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = _space(sizes)
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: _value(tuple(space.to_indices(space.suggest(t)))), n_trials=n)
    return study, space


def _score(t: optuna.trial.FrozenTrial) -> float:
    """The objective value of a completed trial (every trial here completes)."""
    assert t.value is not None
    return t.value


def _idx(space: Space, t: optuna.trial.FrozenTrial) -> tuple[int, ...]:
    return tuple(space.to_indices(space.from_params(t.params)))


@dataclass
class _Call:
    models: Any
    hist: History
    state: Mapping[str, Any]  # the generator's state when the surrogate was consulted
    candidates: list[list[int]]
    pick: int


def _spy(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[_Call]:
    """Record every consultation of the surrogate (the real ``screen`` still decides)."""
    calls: list[_Call] = []
    real = module.screen

    def spy(models: Any, hist: History, rng: np.random.Generator, candidates: Any) -> int:
        state = copy.deepcopy(rng.bit_generator.state)
        cands = [[int(v) for v in c] for c in candidates]
        pick = real(models, hist, rng, candidates)
        calls.append(_Call(models, hist, state, cands, pick))
        return pick

    monkeypatch.setattr(module, "screen", spy)
    return calls


def _generator(state: Mapping[str, Any]) -> np.random.Generator:
    rng = np.random.default_rng()
    rng.bit_generator.state = copy.deepcopy(state)
    return rng


def _energy_by_hand(model: Any, X: np.ndarray) -> np.ndarray:
    """``b . lin + b^T Q b`` of the one-hot codes ``b``: the sampled model's value."""
    B = np.zeros((len(X), sum(model.sizes)))
    offsets = np.concatenate([[0], np.cumsum(model.sizes)[:-1]])
    for r, x in enumerate(X):
        B[r, offsets + x] = 1.0
    return B @ model.linear() + np.einsum("ri,ij,rj->r", B, model.quadratic(), B)


def _reference_pick(
    hist: History, state: Mapping[str, Any], candidates: list[list[int]], surrogate: str
) -> tuple[int, np.random.Generator]:
    """The candidate the documented surrogates rank best, and the generator after them."""
    rng = _generator(state)
    X = np.asarray(candidates, dtype=np.int64)
    feasible = np.array([_params(x) <= LIMIT for x in candidates])
    if len(hist.trials) < 2:  # nothing to fit: the first candidate known to fit the budget
        return (int(np.argmax(feasible)) if feasible.any() else 0), rng
    ref = Surrogates(objective=OBJ, cheap_metrics=_cheap, surrogate=surrogate)
    (problem,) = ref.problems(hist, rng, 1)
    cost = problem.cost(X)
    if feasible.any():  # feasible ones first, by the sampled objective alone
        energy = _energy_by_hand(problem.model, X)
        mine = int(np.flatnonzero(feasible)[np.argmin(energy[feasible])])
        assert int(np.argmin(cost)) == mine
        assert np.all(cost[~feasible] > INFEASIBLE)
        return mine, rng
    return int(np.argmin(cost)), rng


# -- QIEA ----------------------------------------------------------------------------
def _qiea_observer(
    q: list[list[float]], partner: tuple[int, ...] | None, crossover: float, rng: Any
) -> Callable[[], list[int]]:
    def observe() -> list[int]:
        out = []
        for j, p in enumerate(q):
            o = int(rng.choice(len(p), p=np.asarray(p) / np.sum(p)))
            if partner is not None and rng.random() < crossover:
                o = partner[j]
            out.append(o)
        return out

    return observe


def _unique(draw: Callable[[], list[int]], taken: set[tuple[int, ...]]) -> list[int]:
    """Draw until unseen, 25 draws at most (the last draw is kept)."""
    prop = draw()
    for _ in range(24):
        if tuple(prop) not in taken:
            break
        prop = draw()
    return prop


def _qiea_offspring(
    observe: Callable[[], list[int]], seen: set[tuple[int, ...]], n: int
) -> list[list[int]] | None:
    """``n`` observations, each redrawn while it repeats a seen one or an earlier
    offspring; the repeats left after 25 draws are dropped (``None``: all were)."""
    taken, out = set(seen), []
    for _ in range(n):
        child = _unique(observe, taken)
        if tuple(child) not in taken:
            out.append(child)
            taken.add(tuple(child))
    return out or None


def _qiea_setup(
    study: optuna.Study, space: Space, n: int, n_q: int, obs: int = 1
) -> tuple[list[list[float]], tuple[int, ...] | None]:
    attrs = study._storage.get_study_system_attrs(study._study_id)
    gen, pos = divmod(n, n_q * obs)
    i = pos // obs
    state = attrs[f"QIEASampler:generation:{gen}"]
    elite = state["elite"]
    partner = _idx(space, study.trials[elite[i]]) if i < len(elite) else None
    return state["q"][i], partner


class TestQIEAScreened:
    @pytest.mark.parametrize(
        ("screen", "surrogate", "n_trials"), [(3, "bocs", 14), (2, None, 8), (4, "fm", 6)]
    )
    def test_offspring_and_pick_replay(
        self, screen: int, surrogate: str | None, n_trials: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """(``surrogate=None``: the default, BOCS.)"""
        calls = _spy(monkeypatch, _qiea)
        n_q, crossover = 3, 0.5
        chosen: dict[str, Any] = {} if surrogate is None else {"surrogate": surrogate}
        sampler = QIEASampler(
            n_quantum=n_q, screen=screen, objective=OBJ, cheap_metrics=_cheap, seed=SEED,
            search_space=_space().distributions(), **chosen,
        )  # fmt: skip
        study, space = _run(sampler, n_trials)
        assert len(calls) == n_trials  # one consultation per query
        picked_other = 0
        for t, call in zip(study.trials, calls, strict=True):
            n = t.number
            q, partner = _qiea_setup(study, space, n, n_q)
            rng = np.random.default_rng([SEED, n])
            seen = {_idx(space, s) for s in study.trials[:n]}
            offspring = _qiea_offspring(_qiea_observer(q, partner, crossover, rng), seen, screen)
            assert offspring is not None and len(offspring) == screen
            assert call.candidates == offspring, f"trial {n}"
            assert call.state == rng.bit_generator.state, f"trial {n}"
            assert [s.number for s in call.hist.trials] == list(range(n))
            pick, _ = _reference_pick(call.hist, call.state, offspring, surrogate or "bocs")
            assert call.pick == pick, f"trial {n}"
            assert _idx(space, t) == tuple(offspring[pick])
            picked_other += pick != 0
        assert picked_other > 0  # the surrogate's choice, not the first offspring

    def test_plain_qiea_never_consults_the_surrogate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """``screen=1`` is Q-NAS: no surrogate is fitted (each fit costs a query's time)."""
        calls = _spy(monkeypatch, _qiea)
        _run(QIEASampler(n_quantum=2, seed=SEED, objective=OBJ, cheap_metrics=_cheap,
                         search_space=_space().distributions()), 8)  # fmt: skip
        assert calls == []

    def test_exhausted_space_falls_back_to_one_observation(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Once every architecture is seen no offspring survives the repeat filter: the
        query is one observation (redrawn up to 25 times) and the surrogate is skipped."""
        calls = _spy(monkeypatch, _qiea)
        sizes = (2, 2)
        n_q = 2
        sampler = QIEASampler(n_quantum=n_q, screen=3, seed=SEED, objective=OBJ,
                              cheap_metrics=_cheap, search_space=_space(sizes).distributions())  # fmt: skip
        study, space = _run(sampler, 10, sizes)
        screened = iter(calls)
        fallbacks = 0
        for t in study.trials:
            n = t.number
            q, partner = _qiea_setup(study, space, n, n_q)
            rng = np.random.default_rng([SEED, n])
            seen = {_idx(space, s) for s in study.trials[:n]}
            observe = _qiea_observer(q, partner, 0.5, rng)
            offspring = _qiea_offspring(observe, seen, 3)
            if offspring is None:
                assert _idx(space, t) == tuple(_unique(observe, seen)), f"trial {n}"
                fallbacks += 1
                continue
            call = next(screened)
            assert call.candidates == offspring, f"trial {n}"
            assert _idx(space, t) == tuple(offspring[call.pick])
        assert fallbacks >= 5 and next(screened, None) is None


# -- QPSO ----------------------------------------------------------------------------
def _decode(x: np.ndarray, sizes: tuple[int, ...]) -> tuple[int, ...]:
    starts = np.cumsum((0, *sizes[:-1]))
    return tuple(int(np.argmax(x[a : a + k])) for a, k in zip(starts, sizes, strict=True))


def _mutate(x: tuple[int, ...], sizes: tuple[int, ...], rng: Any) -> list[int]:
    """One choice (of those with options to spare) moved to another option."""
    out = list(x)
    free = [j for j, k in enumerate(sizes) if k > 1]
    j = free[int(rng.integers(len(free)))]
    new = int(rng.integers(sizes[j] - 1))
    out[j] = new + (new >= out[j])
    return out


def _raise_into(x: np.ndarray, prop: list[int], sizes: tuple[int, ...]) -> np.ndarray:
    """The documented encoding of a nudged proposal: each chosen coordinate goes just
    above its group's maximum (by 1e-3, at most 1.0); where that leaves an earlier
    option at 1.0 too (argmax takes the first), the others at 1.0 drop to 0.999."""
    y = x.copy()
    start = 0
    for k, o in zip(sizes, prop, strict=True):
        g = y[start : start + k]
        if int(np.argmax(g)) != o:
            g[o] = min(1.0, g.max() + 1e-3)
            if int(np.argmax(g)) != o:  # an earlier option is at 1.0 as well
                g[g >= 1.0] = 0.999
                g[o] = 1.0
        start += k
    return y


def _qpso_replay(
    study: optuna.Study,
    space: Space,
    n: int,
    *,
    S: int,
    beta: float,
    sizes: tuple[int, ...],
    seed: int,
    screen: int = 1,
    consult: Callable[[list[list[int]], Mapping[str, Any]], tuple[int, np.random.Generator]]
    | None = None,
) -> tuple[np.ndarray, tuple[int, ...]]:
    """Trial ``n``'s position and architecture, from the stored positions of the trials
    before it (trials without a position of the right length have none)."""
    dim = sum(sizes)
    trials = study.trials
    pos: dict[int, np.ndarray] = {}
    for t in trials[:n]:
        x = t.system_attrs.get("QPSOSampler:x")
        if x is not None and len(x) == dim:
            pos[t.number] = np.asarray(x, dtype=float)
    before = [t for t in trials[:n] if t.state == optuna.trial.TrialState.COMPLETE]
    seen = {_idx(space, t) for t in trials[:n]}
    rng = np.random.default_rng([seed, n])
    x_prev = pos.get(n - S) if n >= S else None
    pbest: dict[int, int] = {}  # particle -> its best trial, when that trial has a position
    for p in range(S):
        mine = [t for t in before if t.number % S == p]
        if mine:
            b = min(mine, key=lambda t: (t.value, t.number)).number
            if b in pos:
                pbest[p] = b
    if x_prev is None or not pbest:
        x = rng.random(dim)
    else:
        gbest = pos[min(pbest.values(), key=lambda b: (trials[b].value, b))]
        mbest = np.mean([pos[b] for b in pbest.values()], axis=0)
        own = pos[pbest[n % S]] if n % S in pbest else x_prev

        def move() -> np.ndarray:
            phi = rng.random(dim)
            u = 1.0 - rng.random(dim)
            attractor = phi * own + (1 - phi) * gbest
            sign = np.where(rng.random(dim) < 0.5, -1.0, 1.0)
            step = beta * np.abs(mbest - x_prev) * np.log(1 / u)
            return np.clip(attractor + sign * step, 0, 1)

        x = move()
        for _ in range(10):  # 11 moves at most until one decodes to an unseen cell
            if _decode(x, sizes) not in seen:
                break
            x = move()
        if screen > 1:
            moves = [x] + [move() for _ in range(screen - 1)]
            moves = [m for m in moves if _decode(m, sizes) not in seen] or moves
            assert consult is not None
            pick, rng = consult([list(_decode(m, sizes)) for m in moves], rng.bit_generator.state)
            x = moves[pick]
    prop = _decode(x, sizes)
    if prop in seen:  # collapsed onto seen cells: a neighbour, up to 25 draws
        prop = tuple(_unique(lambda: _mutate(prop, sizes, rng), seen))
        x = _raise_into(x, list(prop), sizes)
    return x, prop


class TestQPSOScreened:
    @pytest.mark.parametrize(
        ("screen", "surrogate", "n_trials"), [(2, "bocs", 10), (4, None, 14), (4, "fm", 8)]
    )
    def test_moves_and_pick_replay(
        self, screen: int, surrogate: str | None, n_trials: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """(``surrogate=None``: the default, BOCS.)"""
        calls = _spy(monkeypatch, _qpso)
        S, beta = 3, 0.6
        chosen: dict[str, Any] = {} if surrogate is None else {"surrogate": surrogate}
        sampler = QPSOSampler(
            swarm_size=S, beta=beta, screen=screen, objective=OBJ, cheap_metrics=_cheap,
            seed=SEED, search_space=_space().distributions(), **chosen,
        )  # fmt: skip
        study, space = _run(sampler, n_trials)
        assert len(calls) == n_trials - S  # the first move of each particle is random
        pending = iter(calls)
        picked_other = 0

        def consult(
            cands: list[list[int]], state: Mapping[str, Any]
        ) -> tuple[int, np.random.Generator]:
            nonlocal picked_other
            call = next(pending)
            assert call.candidates == cands and call.state == state
            pick, rng = _reference_pick(call.hist, state, cands, surrogate or "bocs")
            assert call.pick == pick
            picked_other += pick != 0
            return pick, rng

        for t in study.trials:
            x, prop = _qpso_replay(study, space, t.number, S=S, beta=beta, sizes=SIZES,
                                   seed=SEED, screen=screen, consult=consult)  # fmt: skip
            np.testing.assert_allclose(t.system_attrs["QPSOSampler:x"], x, rtol=0, atol=1e-12)
            assert _idx(space, t) == prop, f"trial {t.number}"
        assert next(pending, None) is None and picked_other > 0

    def test_plain_qpso_never_consults_the_surrogate(self, monkeypatch: pytest.MonkeyPatch) -> None:
        calls = _spy(monkeypatch, _qpso)
        _run(QPSOSampler(swarm_size=2, seed=SEED, objective=OBJ, cheap_metrics=_cheap,
                         search_space=_space().distributions()), 8)  # fmt: skip
        assert calls == []

    def test_collapsed_swarm_moves_eleven_times_then_nudges(self) -> None:
        """On an exhausted space every move decodes to a seen cell: 11 moves, then a
        neighbour of the last one (25 draws at most), raised into the position."""
        sizes, S, beta = (2, 3), 2, 0.5
        sampler = QPSOSampler(swarm_size=S, beta=beta, seed=SEED,
                              search_space=_space(sizes).distributions())  # fmt: skip
        study, space = _run(sampler, 14, sizes)
        for t in study.trials:
            x, prop = _qpso_replay(study, space, t.number, S=S, beta=beta, sizes=sizes,
                                   seed=SEED)  # fmt: skip
            np.testing.assert_allclose(t.system_attrs["QPSOSampler:x"], x, rtol=0, atol=1e-12)
            assert _idx(space, t) == prop, f"trial {t.number}"

    def test_trials_added_by_hand_have_no_position(self) -> None:
        """A study that starts with trials added by hand (or from another space): they
        count as seen and as a particle's trials, but have no position, so a particle
        whose best trial is one of them has no personal best (it is attracted from its
        own previous position) and the global best is the best that has a position."""
        S, beta = 3, 0.7
        space = _space()
        dists = space.distributions()
        study = optuna.create_study(
            sampler=QPSOSampler(swarm_size=S, beta=beta, seed=SEED, search_space=dists)
        )
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        hand = [((0, 0, 0, 0, 0), -1.0, None), ((1, 1, 1, 1, 1), -2.0, None),
                ((2, 2, 2, 2, 2), 5.0, [0.5] * 3)]  # fmt: skip
        for idx, value, pos in hand:
            params = {f"c{j}": int(i) for j, i in enumerate(idx)}
            study.add_trial(optuna.trial.create_trial(
                params=params, distributions=dict(dists), value=value,
                system_attrs={} if pos is None else {"QPSOSampler:x": pos},
            ))  # fmt: skip
        study.optimize(lambda t: _value(tuple(space.to_indices(space.suggest(t)))), n_trials=15)
        for t in study.trials[S:]:
            x, prop = _qpso_replay(study, space, t.number, S=S, beta=beta, sizes=SIZES,
                                   seed=SEED)  # fmt: skip
            np.testing.assert_allclose(t.system_attrs["QPSOSampler:x"], x, rtol=0, atol=1e-12)
            assert _idx(space, t) == prop, f"trial {t.number}"


@pytest.mark.parametrize(
    ("x", "prop", "want"),
    [
        ([0.2, 0.9, 0.5, 0.1, 0.3], [0, 1], [0.901, 0.9, 0.5, 0.1, 0.3]),
        ([0.2, 0.9995, 0.5, 0.3, 0.1], [0, 1], [1.0, 0.9995, 0.5, 0.3, 0.301]),
        ([1.0, 0.2, 1.0, 0.4, 1.0], [1, 0], [0.999, 1.0, 0.999, 1.0, 1.0]),
        ([0.0, 0.0, 0.0, 0.7, 0.2], [2, 0], [0.0, 0.0, 0.001, 0.7, 0.2]),
    ],
)
def test_encoding_of_a_nudged_proposal(x: list[float], prop: list[int], want: list[float]) -> None:
    """The exact coordinates (groups of 3 and 2 options): the chosen one 1e-3 above its
    group's maximum, capped at 1.0; where an earlier option is at 1.0 too, the others
    at 1.0 step down to 0.999 (a later one may stay tied: argmax takes the first);
    groups already decoding right are left alone."""
    hist = History.__new__(History)
    hist.sizes = [3, 2]
    got = QPSOSampler._encode_into(np.array(x), prop, hist)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(_raise_into(np.array(x), prop, (3, 2)), want, rtol=0, atol=1e-15)


# -- QIEA's generation state -----------------------------------------------------------
class TestQIEAGenerationState:
    def test_study_started_by_hand(self) -> None:
        """QIEA continuing a study whose first two generations were added by hand:
        generation 1's elite is the best of generation 0 alone (trial 3, the best of all,
        belongs to generation 1), generation 2's the best of that elite and trials 3-5."""
        n_q, step = 3, 0.25
        space = _space()
        dists = space.distributions()
        sampler = QIEASampler(n_quantum=n_q, step=step, seed=SEED, search_space=dists)
        study = optuna.create_study(sampler=sampler)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        values = [0.5, 0.3, 0.7, 0.01, 0.6, 0.2]
        archs = [tuple(int(v) for v in np.random.default_rng([11, k]).integers(SIZES))
                 for k in range(6)]  # fmt: skip
        for idx, value in zip(archs, values, strict=True):
            study.add_trial(optuna.trial.create_trial(
                params={f"c{j}": i for j, i in enumerate(idx)}, distributions=dict(dists),
                value=value,
            ))  # fmt: skip
        study.optimize(lambda t: _value(tuple(space.to_indices(space.suggest(t)))), n_trials=1)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert attrs["QIEASampler:generation:1"]["elite"] == [1, 0, 2]
        assert attrs["QIEASampler:generation:2"]["elite"] == [3, 5, 1]
        q = [[np.full(k, 1 / k) for k in SIZES] for _ in range(n_q)]
        for g, elite in ((1, [1, 0, 2]), (2, [3, 5, 1])):
            for i, e in enumerate(elite):
                for j, o in enumerate(archs[e]):
                    q[i][j] = (1 - step) * q[i][j]
                    q[i][j][o] += step
            for i in range(n_q):
                for j in range(len(SIZES)):
                    got = attrs[f"QIEASampler:generation:{g}"]["q"][i][j]
                    np.testing.assert_allclose(got, q[i][j], rtol=0, atol=1e-15)

    def test_a_late_trial_does_not_rewrite_a_generation(self) -> None:
        """Workers sharing a study agree on a generation's state once it is stored: a
        trial of generation 0 that completes after generation 1 began neither rewrites
        generation 1 nor enters generation 2's elite (the previous elite and the new
        generation's trials only)."""
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space = _space()
        study = optuna.create_study(
            sampler=QIEASampler(n_quantum=2, seed=SEED, search_space=space.distributions())
        )
        t0, t1 = study.ask(), study.ask()
        for t in (t0, t1):
            space.suggest(t)
        study.tell(t0, 0.5)
        t2 = study.ask()  # generation 1 starts while trial 1 still runs
        space.suggest(t2)
        attrs = study._storage.get_study_system_attrs
        gen1 = copy.deepcopy(attrs(study._study_id)["QIEASampler:generation:1"])
        assert gen1["elite"] == [0]
        study.tell(t1, 0.1)  # late, and the best of all
        study.tell(t2, 0.4)
        t3 = study.ask()
        space.suggest(t3)
        study.tell(t3, 0.6)
        space.suggest(study.ask())  # generation 2
        now = attrs(study._study_id)
        assert now["QIEASampler:generation:1"] == gen1
        assert now["QIEASampler:generation:2"]["elite"] == [2, 0]

    def test_vectors_stay_normalised_over_a_long_run(self) -> None:
        """Each update renormalises: after 60 generations every stored vector still sums
        to 1 (a drift would grow by ``2 (1 - step)`` per generation without it)."""
        sampler = QIEASampler(n_quantum=1, step=0.1, seed=SEED,
                              search_space=_space().distributions())  # fmt: skip
        study, _ = _run(sampler, 61)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        sums = [sum(p) for g in range(61) for p in attrs[f"QIEASampler:generation:{g}"]["q"][0]]
        assert max(abs(s - 1.0) for s in sums) < 1e-12


class TestDefaults:
    """The defaults, replayed from trial 0: five quantum individuals observed once per
    generation (step 0.2, crossover 0.5, an update every generation); ten particles with
    beta 0.5."""

    def test_qiea(self) -> None:
        n_q, step = 5, 0.2
        study, space = _run(QIEASampler(seed=SEED, search_space=_space().distributions()), 16)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert sorted(k for k in attrs if k.startswith("QIEASampler:")) == [
            f"QIEASampler:generation:{g}" for g in range(4)
        ]
        trials = study.trials
        elite: list[int] = []
        for g in range(1, 4):
            pool = set(elite) | set(range((g - 1) * n_q, g * n_q))
            elite = sorted(pool, key=lambda n: _score(trials[n]))[:n_q]
            assert attrs[f"QIEASampler:generation:{g}"]["elite"] == elite, f"generation {g}"
            prev = attrs[f"QIEASampler:generation:{g - 1}"]["q"]
            for i, e in enumerate(elite):
                for j, o in enumerate(_idx(space, trials[e])):
                    want = (1 - step) * np.asarray(prev[i][j])
                    want[o] += step
                    got = attrs[f"QIEASampler:generation:{g}"]["q"][i][j]
                    np.testing.assert_allclose(got, want, rtol=0, atol=1e-15)
        for t in trials:
            q, partner = _qiea_setup(study, space, t.number, n_q)
            rng = np.random.default_rng([SEED, t.number])
            seen = {_idx(space, s) for s in trials[: t.number]}
            want_idx = _unique(_qiea_observer(q, partner, 0.5, rng), seen)
            assert _idx(space, t) == tuple(want_idx), f"trial {t.number}"

    def test_qpso(self) -> None:
        study, space = _run(QPSOSampler(seed=SEED, search_space=_space().distributions()), 25)
        for t in study.trials:
            x, prop = _qpso_replay(study, space, t.number, S=10, beta=0.5, sizes=SIZES,
                                   seed=SEED)  # fmt: skip
            np.testing.assert_allclose(t.system_attrs["QPSOSampler:x"], x, rtol=0, atol=1e-12)
            assert _idx(space, t) == prop, f"trial {t.number}"


def test_space_has_no_ties() -> None:
    """The replays order trials by value: every architecture's value is distinct."""
    vals = [_value(idx) for idx in itertools.product(*(range(k) for k in SIZES))]
    assert len(set(vals)) == len(vals)
