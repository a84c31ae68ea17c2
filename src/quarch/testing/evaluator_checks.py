"""The evaluator contract, as tests any space can run (as scikit-learn's
``estimator_checks`` are run over every estimator by its ``test_common.py``).

Every evaluator a space's spec builds must:

* return every metric the spec declares (:meth:`quarch.spaces.SpaceSpec.metrics`), each
  a finite number;
* be deterministic by seed: the same architecture and seed give the same metrics (the
  spec's :attr:`~quarch.spaces.SpaceSpec.unreproducible` measurements aside);
* when it trains, save each trial's weights where the run tells it, and the network
  rebuilt by ``evaluator.build(arch, seed=...)`` with those weights scores the trial's
  own validation error (what ``quarch export`` relies on);
* compute its ``cheap_metrics(arch)`` (the metrics that need no training, if it
  declares any) exactly as ``evaluate`` reports them, so a budget checked before
  training agrees with the trial's metrics;
* refuse a bad architecture with one clear error naming the key
  (:class:`quarch.SpaceError`), never a ``KeyError`` from deep inside a model.

Use it on a space of your own::

    import pytest
    from quarch.config import SearchConfig
    from quarch.testing import EvaluatorCase, EvaluatorTestCase

    @pytest.fixture
    def evaluator_case():
        return EvaluatorCase(SearchConfig(space="toy", dataset=None, trials=1))

    class TestToy(EvaluatorTestCase):
        pass
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch._errors import SpaceError
from quarch.config import SearchConfig
from quarch.evaluate import check_metrics

if TYPE_CHECKING:
    from quarch.evaluate import Evaluator
    from quarch.space import Space

__all__ = ["EvaluatorCase", "EvaluatorTestCase"]


@dataclass
class EvaluatorCase:
    """One space's evaluator under test: a small config for it.

    Attributes:
        config (SearchConfig): settings small enough for a test (few epochs).
        n_archs (int): how many sampled architectures each check evaluates.
        skip (str | None): a reason to skip (data files absent), or ``None``.
    """

    config: SearchConfig
    n_archs: int = 2
    skip: str | None = None
    _space: Any = field(default=None, repr=False)

    def space(self) -> Space:
        """The space the config names (built once)."""
        if self._space is None:
            from quarch.spaces import get_spec

            spec = get_spec(self.config.space)
            self._space = spec.build_space(spec.resolve(self.config))
        space: Space = self._space
        return space

    def evaluator(self, weights_dir: Path | None = None) -> Evaluator:
        """The evaluator its spec builds for the config (checks included)."""
        from quarch.spaces import get_spec, make_evaluator

        config = get_spec(self.config.space).resolve(self.config)
        return make_evaluator(self.space(), config, weights_dir=weights_dir)

    def declared(self) -> tuple[frozenset[str] | None, frozenset[str]]:
        """The metrics the spec declares, and those it calls unreproducible."""
        from quarch.spaces import get_spec

        spec = get_spec(self.config.space)
        return spec.metrics(spec.resolve(self.config)), spec.unreproducible

    def archs(self) -> list[dict[str, Any]]:
        """``n_archs`` architectures sampled with fixed seeds."""
        space = self.space()
        return [space.sample(np.random.default_rng(100 + i)) for i in range(self.n_archs)]


def _global_streams() -> dict[str, Any]:
    """The state of each global generator an evaluator could draw from, comparable with
    ``==`` (numpy's key array as bytes, torch's state as bytes)."""
    import random

    import torch

    kind, keys, pos, gauss, cached = np.random.get_state(legacy=True)  # type: ignore[misc]
    return {
        "random": random.getstate(),
        "numpy": (kind, np.asarray(keys).tobytes(), pos, gauss, cached),
        "torch": bytes(torch.get_rng_state().numpy().tobytes()),
    }


class EvaluatorTestCase:
    """The evaluator contract. Subclass it in a test module and provide an
    ``evaluator_case`` fixture returning an :class:`EvaluatorCase`."""

    @staticmethod
    def _skip(case: EvaluatorCase) -> None:
        if case.skip:
            import pytest

            pytest.skip(case.skip)

    def test_declared_metrics_returned(self, evaluator_case: EvaluatorCase) -> None:
        self._skip(evaluator_case)
        declared, _ = evaluator_case.declared()
        assert declared is not None, "the spec declares no metrics (SpaceSpec.metrics)"
        ev = evaluator_case.evaluator()
        for arch in evaluator_case.archs():
            metrics = check_metrics(ev.evaluate(arch, seed=1))
            missing = sorted(declared - set(metrics))
            assert not missing, f"declared metrics not returned: {missing}"

    def test_deterministic_by_seed(self, evaluator_case: EvaluatorCase) -> None:
        """Two evaluations with one seed agree (the unreproducible metrics aside), and
        leave the caller's global generators (``random``, numpy's, torch's) as they
        found them: an evaluator that reseeds one changes what the code around it draws
        (a strategy's or a user's own)."""
        self._skip(evaluator_case)
        _, unreproducible = evaluator_case.declared()
        ev = evaluator_case.evaluator()
        arch = evaluator_case.archs()[0]
        before = _global_streams()
        a, b = ev.evaluate(arch, seed=7), ev.evaluate(arch, seed=7)
        after = _global_streams()
        for m in unreproducible:
            a.pop(m, None), b.pop(m, None)
        differ = {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
        assert not differ, f"two evaluations with seed 7 differ (first, second): {differ}"
        moved = [name for name, state in after.items() if state != before[name]]
        assert not moved, f"evaluate() changed the caller's global generator(s): {moved}"

    def test_cheap_metrics_agree_with_evaluate(self, evaluator_case: EvaluatorCase) -> None:
        self._skip(evaluator_case)
        from quarch.evaluate import cheap_metrics

        _, unreproducible = evaluator_case.declared()
        ev = evaluator_case.evaluator()
        for arch in evaluator_case.archs():
            cheap = cheap_metrics(ev, arch)
            full = ev.evaluate(arch, seed=2)
            for name, value in cheap.items():
                if name not in unreproducible:
                    assert full[name] == value, (
                        f"{name}: {value} before training, {full[name]} after"
                    )

    def test_saved_weights_round_trip(self, evaluator_case: EvaluatorCase, tmp_path: Path) -> None:
        self._skip(evaluator_case)
        import pytest

        ev: Any = evaluator_case.evaluator(weights_dir=tmp_path)
        if not hasattr(ev, "build"):
            pytest.skip("this evaluator trains nothing (a look-up); no weights to save")
        import torch

        from quarch.evaluate import classification_error

        arch = evaluator_case.archs()[0]
        metrics = ev.evaluate(arch, seed=3)
        path = tmp_path / "seed_3.pt"
        assert path.is_file(), "the trained weights were not saved where the run said"
        model = ev.build(arch, seed=3)
        model.load_state_dict(torch.load(path, weights_only=True))
        X = torch.as_tensor(ev.data.X_val, dtype=torch.float32)
        y = torch.as_tensor(ev.data.y_val)
        assert classification_error(model, X, y) == pytest.approx(metrics["val_error"], abs=1e-9)

    def test_bad_architecture_raises_clear_error(self, evaluator_case: EvaluatorCase) -> None:
        self._skip(evaluator_case)
        import pytest

        ev = evaluator_case.evaluator()
        arch = evaluator_case.archs()[0]
        with pytest.raises(SpaceError, match=r"unknown choice\(s\) \['no_such_choice'\]"):
            ev.evaluate({**arch, "no_such_choice": 1}, seed=0)
        first = next(iter(arch))
        with pytest.raises(SpaceError, match=rf"missing choice\(s\) \['{first}'\]"):
            ev.evaluate({k: v for k, v in arch.items() if k != first}, seed=0)
