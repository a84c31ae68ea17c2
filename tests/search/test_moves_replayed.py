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
            elite = sorted(pool, key=lambda n: trials[n].value)[:n_q]
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
                k: min((s for s in before if s.number % S == k), key=lambda s: s.value).number
                for k in range(S)
            }
            P = {k: pos[b] for k, b in pbest.items()}
            gbest = P[min(range(S), key=lambda k: trials[pbest[k]].value)]
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
