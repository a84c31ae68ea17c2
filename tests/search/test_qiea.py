"""QIEA: generations, elitism and the bounded quantum update."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quarch.benchmark import synthetic_qubo
from quarch.search import QIEASampler


def indices(space: Any, trial: Any) -> np.ndarray:
    """Option indices of a trial's architecture."""
    return np.array(space.to_indices(space.from_params(trial.params)))


def _dists() -> Any:
    return synthetic_qubo(0, n_choices=4, n_options=3)[0].distributions()


class TestInputs:
    @pytest.mark.parametrize(
        ("kw", "match"),
        [
            ({"n_quantum": 0}, r"n_quantum must be an integer >= 1; got 0"),
            ({"observations": 0}, r"observations must be an integer >= 1; got 0"),
            ({"step": 0.0}, r"step must be in \(0.0, 1.0\]; got 0.0"),
            ({"step": 1.5}, r"step must be in \(0.0, 1.0\]; got 1.5"),
            ({"crossover": -0.1}, r"crossover must be in \[0.0, 1.0\]; got -0.1"),
            ({"update_every": 0}, r"update_every must be an integer >= 1; got 0"),
        ],
    )
    def test_bad_arguments(self, kw: dict[str, Any], match: str) -> None:
        with pytest.raises(ValueError, match=match):
            QIEASampler(**kw)


class TestCorrectness:
    def test_full_step_copies_the_elite(self, qubo_study: Any) -> None:
        """With step 1 and no crossover, generation 1 observes exactly the elite of
        generation 0: quantum individual i collapses onto the i-th best trial."""
        s = QIEASampler(
            n_quantum=3, observations=2, step=1.0, crossover=0.0, seed=0, search_space=_dists()
        )
        study, _, _ = qubo_study(s, 12)
        gen0 = study.trials[:6]
        best = sorted(gen0, key=lambda t: (t.value, t.number))[:3]
        for i, b in enumerate(best):
            for t in study.trials[6 + 2 * i : 8 + 2 * i]:
                assert t.params == b.params
        attrs = study._storage.get_study_system_attrs(study._study_id)
        assert attrs["QIEASampler:generation:1"]["elite"] == [t.number for t in best]

    def test_update_is_bounded_and_normalised(self, qubo_study: Any) -> None:
        step = 0.2
        s = QIEASampler(n_quantum=2, observations=3, step=step, seed=1, search_space=_dists())
        study, space, _ = qubo_study(s, 30)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        by_number = {t.number: t for t in study.trials}
        for g in range(1, 5):
            prev = attrs[f"QIEASampler:generation:{g - 1}"]["q"]
            cur = attrs[f"QIEASampler:generation:{g}"]
            for i, number in enumerate(cur["elite"]):
                x = indices(space, by_number[number])
                for j, (p0, p1) in enumerate(zip(prev[i], cur["q"][i], strict=True)):
                    expected = (1 - step) * np.asarray(p0)
                    expected[x[j]] += step
                    assert np.allclose(p1, expected)
                    assert np.isclose(sum(p1), 1.0)

    def test_elitism_keeps_the_best(self, qubo_study: Any) -> None:
        s = QIEASampler(n_quantum=2, observations=2, seed=2, search_space=_dists())
        study, _, _ = qubo_study(s, 20)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        for g in range(1, 5):
            done = [t for t in study.trials if t.number < 4 * g]
            best = sorted(done, key=lambda t: (t.value, t.number))[:2]
            elite = attrs[f"QIEASampler:generation:{g}"]["elite"]
            assert [by.value for by in best] == [study.trials[n].value for n in elite]

    def test_update_every(self, qubo_study: Any) -> None:
        s = QIEASampler(n_quantum=1, observations=2, update_every=2, seed=3, search_space=_dists())
        study, _, _ = qubo_study(s, 8)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        q = [attrs[f"QIEASampler:generation:{g}"]["q"] for g in range(4)]
        assert q[1] == q[0] and q[2] != q[1] and q[3] == q[2]
