"""Strategy moves replayed from their stored state and the seeded generator.

Statistical trends ("the swarm gets closer to the best") pass for many wrong moves; a
replay does not. Each test re-derives a trial's proposal from what the study stored
before it (QIEA's generation state, QPSO's positions) and the documented seeding
(``numpy.random.default_rng([seed, trial_number])``), with the update rule written out
from the papers' formulas, and requires the sampler's proposal to match exactly.
Grover's oracle calls are counted where they happen (each oracle application is one
``apply_diagonal`` call) and summed by hand against what the trials record.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import optuna
import pytest

from quarch.search import GroverSampler, QIEASampler, QPSOSampler
from quarch.search._grover import grover_adaptive_search
from quarch.space import Choice, Space

SEED = 3
SIZES = (4, 3, 5, 4, 3)  # 720 architectures: repeats (and their redraws) are rare


def _space() -> Space:
    return Space([Choice(f"c{j}", list(range(k))) for j, k in enumerate(SIZES)])


def _value(idx: tuple[int, ...]) -> float:
    """A fixed, tie-free value per architecture (independent of any strategy)."""
    return float(np.random.default_rng([97, *idx]).random())


def _run(sampler: optuna.samplers.BaseSampler, n: int) -> tuple[optuna.Study, Space]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = _space()
    study = optuna.create_study(sampler=sampler)
    study.optimize(lambda t: _value(tuple(space.to_indices(space.suggest(t)))), n_trials=n)
    return study, space


def _score(t: optuna.trial.FrozenTrial) -> float:
    """The objective value of a completed trial (every trial here completes)."""
    assert t.value is not None
    return t.value


def _idx(space: Space, t: optuna.trial.FrozenTrial) -> tuple[int, ...]:
    return tuple(space.to_indices(space.from_params(t.params)))


class TestQIEACrossover:
    @pytest.mark.parametrize("crossover", [0.5, 0.8])
    def test_observations_replay(self, crossover: float) -> None:
        """Each observation: draw every choice from the quantum individual's vector, then
        with probability ``crossover`` take the paired elite's option (Q-NAS)."""
        n_q = 4
        sampler = QIEASampler(
            n_quantum=n_q, crossover=crossover, seed=SEED, search_space=_space().distributions()
        )
        study, space = _run(sampler, 48)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        trials = study.trials
        replayed = copied = 0
        for t in trials[n_q:]:
            gen, i = divmod(t.number, n_q)
            state = attrs[f"QIEASampler:generation:{gen}"]
            q = state["q"][i]
            partner = _idx(space, trials[state["elite"][i]]) if i < len(state["elite"]) else None
            rng = np.random.default_rng([SEED, t.number])
            seen = {_idx(space, s) for s in trials[: t.number]}
            for _ in range(25):  # the sampler redraws a repeat, up to 25 draws in all
                want = []
                for j, p in enumerate(q):
                    o = int(rng.choice(len(p), p=np.asarray(p) / np.sum(p)))
                    if partner is not None and rng.random() < crossover:
                        o = partner[j]
                        copied += 1
                    want.append(o)
                if tuple(want) not in seen:
                    break
            assert _idx(space, t) == tuple(want), f"trial {t.number}"
            replayed += 1
        assert replayed == len(trials) - n_q and copied > 0

    def test_full_crossover_copies_the_partner(self) -> None:
        """Boundary: ``crossover=1`` observes exactly the paired elite individual (a
        repeat, so every redraw gives it again)."""
        n_q = 3
        sampler = QIEASampler(n_quantum=n_q, crossover=1.0, seed=SEED,
                              search_space=_space().distributions())  # fmt: skip
        study, space = _run(sampler, 12)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        for t in study.trials[n_q:]:
            gen, i = divmod(t.number, n_q)
            elite = attrs[f"QIEASampler:generation:{gen}"]["elite"]
            assert _idx(space, t) == _idx(space, study.trials[elite[i]])

    def test_update_replay(self) -> None:
        """Generation ``g``'s quantum vectors are generation ``g-1``'s moved toward the
        ``i``-th best of the previous elite and generation: ``(1-s) p + s onehot``."""
        n_q, step = 3, 0.3
        sampler = QIEASampler(n_quantum=n_q, step=step, seed=SEED,
                              search_space=_space().distributions())  # fmt: skip
        study, space = _run(sampler, 15)
        attrs, trials = study._storage.get_study_system_attrs(study._study_id), study.trials
        for g in range(1, 5):
            old, new = (
                attrs[f"QIEASampler:generation:{g - 1}"],
                attrs[f"QIEASampler:generation:{g}"],
            )
            pool = set(old["elite"]) | set(range((g - 1) * n_q, g * n_q))
            elite = sorted(pool, key=lambda n: _score(trials[n]))[:n_q]
            assert new["elite"] == elite
            for i, e in enumerate(elite):
                for j, o in enumerate(_idx(space, trials[e])):
                    want = (1 - step) * np.asarray(old["q"][i][j])
                    want[o] += step
                    assert np.allclose(new["q"][i][j], want)


class TestQPSOAttractor:
    def test_positions_replay(self) -> None:
        """``x' = clip(P +/- beta |mbest - x| ln(1/u))`` with ``P = phi pbest + (1-phi)
        gbest``: personal bests by value among each particle's trials, their mean, and the
        particle's previous position, all read from the stored positions."""
        S, beta = 4, 0.7
        sampler = QPSOSampler(swarm_size=S, beta=beta, seed=SEED,
                              search_space=_space().distributions())  # fmt: skip
        study, space = _run(sampler, 40)
        trials = study.trials
        dim = sum(SIZES)
        pos = [np.asarray(t.system_attrs["QPSOSampler:x"]) for t in trials]
        replayed = 0
        for t in trials[S:]:
            n, p = t.number, t.number % S
            before = trials[:n]
            pbest = {
                k: min((s for s in before if s.number % S == k), key=_score).number
                for k in range(S)
            }
            P = {k: pos[b] for k, b in pbest.items()}
            gbest = P[min(range(S), key=lambda k: _score(trials[pbest[k]]))]
            mbest = np.mean([P[k] for k in range(S)], axis=0)
            rng = np.random.default_rng([SEED, n])
            starts = np.cumsum((0, *SIZES[:-1]))
            seen = {_idx(space, s) for s in before}
            for _ in range(11):  # the sampler moves again from a repeat, 11 moves in all
                phi = rng.random(dim)
                u = 1.0 - rng.random(dim)
                attractor = phi * P[p] + (1 - phi) * gbest
                sign = np.where(rng.random(dim) < 0.5, -1.0, 1.0)
                step = beta * np.abs(mbest - pos[n - S]) * np.log(1 / u)
                want = np.clip(attractor + sign * step, 0, 1)
                decoded = tuple(
                    int(np.argmax(want[a : a + k])) for a, k in zip(starts, SIZES, strict=True)
                )
                if decoded not in seen:
                    break
            else:
                continue  # nudged to a neighbour (another rule); not replayed here
            assert np.allclose(pos[n], want), f"trial {n}"
            assert _idx(space, t) == decoded
            replayed += 1
        assert replayed >= 30


class TestGroverOracleCalls:
    @staticmethod
    def _count_oracles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
        """Count oracle applications where they happen: one ``apply_diagonal`` each."""
        import quarch.quantum as qq

        calls: list[int] = []
        real = qq.apply_diagonal

        def counted(*a: Any, **k: Any) -> Any:
            calls.append(1)
            return real(*a, **k)

        monkeypatch.setattr(qq, "apply_diagonal", counted)
        return calls

    @pytest.mark.parametrize("seed", [0, 1])
    def test_search_reports_the_oracles_it_applied(
        self, seed: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        calls = self._count_oracles(monkeypatch)
        C = np.random.default_rng(seed).standard_normal(64)
        _, reported = grover_adaptive_search(C, float(C.max()), max_oracle_calls=25, seed=seed)
        assert reported == len(calls) and 0 < reported <= 25

    def test_sampler_records_each_batch_calls(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The calls recorded on a batch's trials are the oracles applied while that
        batch was proposed; the run's total is their sum over batches."""
        calls = self._count_oracles(monkeypatch)
        per_batch: list[int] = []
        space = Space([Choice(f"c{j}", list(range(4))) for j in range(3)])
        sampler = GroverSampler(seed=SEED, n_startup=4, batch_size=4, max_oracle_calls=12)
        study = optuna.create_study(sampler=sampler)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        for n in range(16):
            before = len(calls)
            t = study.ask()
            idx = space.to_indices(space.suggest(t))
            study.tell(t, float(np.random.default_rng([5, *idx]).random()))
            if n >= 4 and n % 4 == 0:
                per_batch.append(len(calls) - before)  # the batch is proposed at its first trial
        recorded = [t.system_attrs.get("GroverSampler:oracle_calls") for t in study.trials]
        assert recorded[:4] == [None] * 4
        for b, applied in enumerate(per_batch):
            batch = recorded[4 + 4 * b : 8 + 4 * b]
            assert batch == [applied] * 4, f"batch {b}"
        assert sum(per_batch) == len(calls) > 0


def test_space_has_no_ties() -> None:
    """The replays order trials by value: every architecture's value is distinct."""
    vals = [_value(idx) for idx in itertools.product(*(range(k) for k in SIZES))]
    assert len(set(vals)) == len(vals)


class TestGroverSchedule:
    """Grover adaptive search replayed round by round (Boyer, Brassard, Hoyer and Tapp's
    schedule as the module documents it) from the same seeded generator."""

    @staticmethod
    def _replay(
        C: np.ndarray, y: float, budget: int, lam: float, seed: int
    ) -> tuple[list[int], int]:
        import math

        from quarch.search._circuits import sample_codes
        from quarch.search._grover import amplified_probs

        rng = np.random.default_rng(seed)
        m, calls, rounds, measured = 1.0, 0, 0, []
        while calls < budget and rounds < 2 * budget + 16:
            rounds += 1
            k = min(int(rng.integers(math.ceil(m))), budget - calls)  # k uniform in [0, m)
            calls += k
            x = int(
                sample_codes(amplified_probs(np.less(C, y), k), 1, int(rng.integers(2**31 - 1)))[0]
            )
            measured.append(x)
            if C[x] < y:  # strictly better: new threshold, bound back to 1
                y, m = float(C[x]), 1.0
            else:  # failed round: the bound grows by lam, at most sqrt(N)
                m = min(lam * m, math.sqrt(len(C)))
        return measured, calls

    @pytest.mark.parametrize(("seed", "lam"), [(0, 1.2), (1, 2.0), (2, 1.5)])
    def test_rounds_replay(self, seed: int, lam: float) -> None:
        # few distinct values, so ties with the threshold happen
        C = np.random.default_rng(seed).integers(0, 6, 64).astype(float)
        got, calls = grover_adaptive_search(C, 4.0, max_oracle_calls=40, lam=lam, seed=seed)
        want, want_calls = self._replay(C, 4.0, 40, lam, seed)
        assert list(got) == want and calls == want_calls
        assert got.dtype == np.int64

    def test_same_seed_same_search(self) -> None:
        C = np.random.default_rng(4).standard_normal(128)
        a = grover_adaptive_search(C, 0.5, max_oracle_calls=30, seed=9)
        b = grover_adaptive_search(C, 0.5, max_oracle_calls=30, seed=9)
        assert list(a[0]) == list(b[0]) and a[1] == b[1]

    @pytest.mark.parametrize("n", [4, 6])
    def test_default_budget_is_four_sqrt_n(self, n: int) -> None:
        """Without ``max_oracle_calls`` a block spends ``int(4 sqrt(2**n))`` oracle calls
        when nothing is below the threshold (each call a failed search)."""
        import math

        from quarch.search import GroverSolver

        C = np.arange(2.0**n)
        solver = GroverSolver(lam=1.5)
        codes, counters = solver._circuit(C, 0.0, np.random.default_rng(0))
        assert counters == {"oracle_calls": int(4 * math.sqrt(2**n))}
        again = solver._circuit(C, 0.0, np.random.default_rng(0))[0]
        assert list(codes) == list(again)  # the block's generator drives it

    def test_sampler_passes_its_options_on(self) -> None:
        s = GroverSampler(max_oracle_calls=9, lam=1.7, encoding="onehot", max_qubits=10,
                          decompose=False, rounds=2, batch_size=3, n_startup=5, seed=1)  # fmt: skip
        solver = s.solver
        assert (solver.max_oracle_calls, solver.lam) == (9, 1.7)  # type: ignore[attr-defined]
        reg = solver.register  # type: ignore[attr-defined]
        assert (reg.encoding, reg.max_qubits, reg.decompose, reg.rounds) == (
            "onehot",
            10,
            False,
            2,
        )


class TestQPSOEncode:
    @pytest.mark.parametrize("seed", range(6))
    def test_encode_into_decodes_to_the_proposal(self, seed: int) -> None:
        """Raising a proposal into a position: every group's argmax becomes the proposed
        option, values stay in [0, 1], groups already right are left alone."""
        from quarch.search._common import History

        rng = np.random.default_rng(seed)
        hist = History.__new__(History)
        hist.sizes = list(SIZES)
        x = rng.random(sum(SIZES))
        x[rng.integers(sum(SIZES))] = 1.0  # a group whose max is already 1.0
        x[rng.integers(sum(SIZES))] = 1.0
        prop = [int(rng.integers(k)) for k in SIZES]
        y = QPSOSampler._encode_into(x, prop, hist)
        assert QPSOSampler._decode(y, hist) == prop
        assert np.all((y >= 0) & (y <= 1))
        starts = np.cumsum((0, *SIZES[:-1]))
        for a, k, o in zip(starts, SIZES, prop, strict=True):
            g, h = x[a : a + k], y[a : a + k]
            if int(np.argmax(g)) == o:
                assert np.array_equal(g, h)
            else:  # the chosen option rises to the top; no other option rises
                others = np.arange(k) != o
                assert h[o] == h.max() and h[o] > g[o]
                assert np.all(h[others] <= g[others])
