"""``record_epochs``: every fidelity of a multi-fidelity table from one training.

The truth is a separate training stopped at each epoch count: a snapshot after ``e``
epochs must equal what ``epochs=e`` returns with the same seed (early stopping keeps
the best weights so far, so the test error is that of the kept weights).
"""

from __future__ import annotations

import pytest

from quarch import ConfigError
from quarch.config import SearchConfig
from quarch.data import load_dataset
from quarch.evaluate import train_classifier
from quarch.spaces import get_spec
from quarch.spaces.hqnn.evaluator import HQNNEvaluator, prepare_data
from quarch.spaces.hqnn.model import HybridNet
from quarch.spaces.hqnn.space import hqnn_space

from ..._scope import per_module

SPACE = hqnn_space(max_qubits=3, max_layers=2, tied_layers=True, frontends=["linear"])


@pytest.fixture(scope=per_module)
def wine():  # type: ignore[no-untyped-def]
    return prepare_data(load_dataset("wine", seed=0))


def _train(arch: dict, data, epochs: int, early: bool, snaps=()) -> dict:  # type: ignore[no-untyped-def]
    import torch

    torch.manual_seed(3)
    model = HybridNet(arch, tuple(data.input_shape), data.n_classes)
    return train_classifier(
        model, data, epochs=epochs, lr=0.03, batch_size=16, seed=7,
        early_stopping=early, snapshots=snaps,
    )  # fmt: skip


@pytest.mark.parametrize("early", [False, True])
def test_a_snapshot_equals_training_stopped_there(wine, early: bool) -> None:  # type: ignore[no-untyped-def]
    arch = SPACE.sample(1)
    full = _train(arch, wine, 4, early, snaps=(1, 2, 4))
    for e in (1, 2, 4):
        short = _train(arch, wine, e, early)
        assert full[f"val_error_e{e}"] == short["val_error"]
        assert full[f"test_error_e{e}"] == short["test_error"]
    # the snapshots changed nothing: the run itself ends as one without them
    plain = _train(arch, wine, 4, early)
    assert (full["val_error"], full["test_error"]) == (plain["val_error"], plain["test_error"])


def test_snapshots_after_an_early_stop_get_the_final_errors(wine) -> None:  # type: ignore[no-untyped-def]
    # amplitude embedding, 3 qubits: wine's validation split is learnt perfectly early
    arch = {**SPACE.sample(0), "embedding": "amplitude", "qubits": 3, "layers": 2}
    out = _train(arch, wine, 30, True, snaps=(1, 30))
    assert out["val_error"] == 0.0, "the case needs a run that stops early"
    assert out["best_epoch"] < 29
    assert out["val_error_e30"] == 0.0 and out["test_error_e30"] == out["test_error"]


def test_bad_snapshots_are_refused(wine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="snapshots"):
        _train(SPACE.sample(0), wine, 2, False, snaps=(3,))


def test_the_evaluator_returns_every_fidelity(wine) -> None:  # type: ignore[no-untyped-def]
    ev = HQNNEvaluator(wine, SPACE, epochs=3, batch_size=16, record_epochs=[3, 1])
    m = ev.evaluate(SPACE.sample(2), seed=4)
    assert m["val_error_e3"] == m["val_error"] and m["test_error_e3"] == m["test_error"]
    assert {"val_error_e1", "test_error_e1"} <= set(m) and m["train_seconds"] > 0
    cfg = SearchConfig(space="hqnn", dataset="wine", epochs=3,
                       evaluator_options={"record_epochs": "1,3"})  # fmt: skip
    metrics = get_spec("hqnn").metrics(cfg)
    assert metrics is not None
    assert metrics >= {"val_error_e1", "test_error_e3", "train_seconds"}
    # a shorter fit (as final training may ask) records the fidelities it reaches
    _, short = ev.fit(SPACE.sample(2), seed=4, epochs=2)
    assert "val_error_e1" in short and "val_error_e3" not in short


@pytest.mark.parametrize(
    ("value", "epochs", "match", "extra"),
    [("0,2", 3, "epoch counts >= 1", {}), ("x", 3, "epoch counts >= 1", {}),
     ("1,5", 3, "--epochs 5", {}), ("1,2", 3, "noiseless", {"noise_aware": True})],
)  # fmt: skip
def test_the_spec_refuses_bad_record_epochs(
    value: str, epochs: int, match: str, extra: dict
) -> None:
    cfg = SearchConfig(space="hqnn", dataset="wine", epochs=epochs,
                       evaluator_options={"record_epochs": value, **extra})  # fmt: skip
    with pytest.raises(ConfigError, match=match):
        get_spec("hqnn").check(cfg)
