"""The path cost model (:mod:`quarch.quantum._small_cost`) against its own documentation.

The model picks the engine that runs a call and never changes a value, so no value
test notices a wrong feature weight or a flipped comparison: only the picks do. The
truth here is the module docstring's formulas, evaluated by hand on written-out
features with the documented coefficients, and its stated rules: nothing beyond
``SMALL_MAX_QUBITS`` runs small, CUDA runs everything up to it small, and elsewhere the
small path runs where it is modelled at most ``SMALL_MARGIN`` times the engine's time
(ties included, near-ties not).
"""

from __future__ import annotations

import pytest

from quarch.quantum import _small_cost as cost
from quarch.quantum._small_cost import PlanFeatures, small_is_faster

#: (n, instructions, kron layers, blocks, gathers, per-sample gates, factors), varied
#: so that each term of each formula moves the total
FEATURES = [
    (3, 7, 2, 4, 1, 3, 5),
    (6, 12, 3, 9, 4, 6, 0),
    (8, 20, 5, 11, 2, 16, 14),
]


def _features(f: tuple[int, ...]) -> PlanFeatures:
    n, code, kron, blocks, gathers, per_sample, factors = f
    return PlanFeatures(
        n_qubits=n,
        small_instructions=code,
        small_kron_layers=kron,
        engine_blocks=blocks,
        engine_gathers=gathers,
        per_sample_gates=per_sample,
        engine_factors=factors,
    )


@pytest.mark.parametrize("f", FEATURES, ids=lambda f: f"n{f[0]}")
@pytest.mark.parametrize("rows", [1, 37, 256])
def test_small_ms_is_the_documented_formula(f: tuple[int, ...], rows: int) -> None:
    # a0 + a1 * instructions + a2 * rows * 2^n * (n * (kron + 1) + instructions) / 1e6
    n, code, kron = f[:3]
    want = 0.4738 + 0.041 * code + 7.2885 * rows * 2**n * (n * (kron + 1) + code) / 1e6
    assert _features(f).small_ms(rows) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("f", FEATURES, ids=lambda f: f"n{f[0]}")
@pytest.mark.parametrize("rows", [1, 37, 256])
def test_engine_ms_is_the_documented_formula(f: tuple[int, ...], rows: int) -> None:
    # a0 + a1 (blocks + gathers) + a2 rows 2^n (6 blocks + 4 gathers + 6) / 1e6
    #    + a3 per-sample gates rows / 1e3 + a4 factors
    n, _, _, blocks, gathers, per_sample, factors = f
    want = (
        0.972
        + 0.1335 * (blocks + gathers)
        + 1.2733 * rows * 2**n * (6 * blocks + 4 * gathers + 6) / 1e6
        + 0.6604 * per_sample * rows / 1e3
        + 0.1782 * factors
    )
    assert _features(f).engine_ms(rows) == pytest.approx(want, rel=1e-12)


def test_factors_default_to_none() -> None:
    """Features built without ``engine_factors`` (the model before that feature) add
    nothing for it."""
    f = PlanFeatures(8, 20, 5, 11, 2, 16)
    assert f.engine_factors == 0
    assert f.engine_ms(32) == _features((8, 20, 5, 11, 2, 16, 0)).engine_ms(32)


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_nothing_beyond_the_widest_runs_small(device: str) -> None:
    # a circuit the model finds far cheaper on the small path, one qubit too wide
    wide = PlanFeatures(cost.SMALL_MAX_QUBITS + 1, 1, 0, 500, 500, 500, 500)
    assert wide.small_ms(1) < cost.SMALL_MARGIN * wide.engine_ms(1)
    assert not small_is_faster(wide, 1, device)


def test_cuda_runs_every_circuit_up_to_the_widest_small() -> None:
    # the model would send this one to the engine on a CPU
    f = PlanFeatures(cost.SMALL_MAX_QUBITS, 60, 30, 1, 0, 0, 0)
    assert f.small_ms(256) > f.engine_ms(256)
    assert not small_is_faster(f, 256, "cpu")
    assert small_is_faster(f, 256, "cuda")
    assert small_is_faster(f, 256) is small_is_faster(f, 256, "cpu")  # the default: a CPU


def test_the_widest_runs_small_where_the_model_says_so() -> None:
    f = PlanFeatures(cost.SMALL_MAX_QUBITS, 1, 0, 40, 40, 40, 40)
    assert f.small_ms(1) < cost.SMALL_MARGIN * f.engine_ms(1)
    assert small_is_faster(f, 1, "cpu")


def test_a_modelled_tie_at_the_margin_runs_small(monkeypatch: pytest.MonkeyPatch) -> None:
    """``at most this share``: equal to the margin times the engine's time is small."""
    monkeypatch.setattr(cost, "SMALL_COEF", (0.9, 0.0, 0.0))
    monkeypatch.setattr(cost, "ENGINE_COEF", (1.0, 0.0, 0.0, 0.0, 0.0))
    monkeypatch.setattr(cost, "SMALL_MARGIN", 0.9)
    f = PlanFeatures(4, 3, 1, 2, 1, 1, 1)
    assert f.small_ms(8) == 0.9 * f.engine_ms(8)
    assert small_is_faster(f, 8, "cpu")


def test_a_near_tie_goes_to_the_engine() -> None:
    """Modelled 0.95x the engine's time: inside the margin, so the block engine runs."""
    f = PlanFeatures(4, 18, 0, 1, 0, 1, 1)
    rows = 8
    small, engine = f.small_ms(rows), f.engine_ms(rows)
    assert small < engine  # cheaper by the model, but not by the margin:
    assert small > cost.SMALL_MARGIN * engine
    assert not small_is_faster(f, rows, "cpu")
