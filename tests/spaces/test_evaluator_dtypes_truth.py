"""The evaluators on a :class:`~quarch.data.Dataset` built from NumPy's default dtypes.

``Dataset`` documents float32 features and int64 labels but does not enforce them: a
user who builds one from their own arrays gets float64 features (NumPy's default) and,
on some platforms or from some readers, int32 labels. Training
(:func:`quarch.evaluate.train_classifier`, the supernet's and the supercircuit's loops)
casts both, so such a data set trains; the scoring and fine-tuning steps must cast too,
or a float32 model meets float64 features (a dtype error) or ``cross_entropy`` meets
int32 targets. The truth each test holds to: the same data in the documented dtypes,
evaluated with the same seed, gives the same metrics (the casts are exact: the float64
arrays are the float32 values widened).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from quarch.data import Dataset, load_dataset
from quarch.spaces.cnn.evaluator import SuperNetEvaluator
from quarch.spaces.cnn.space import cnn_space
from quarch.spaces.hqnn.evaluator import HQNNEvaluator, SuperCircuitEvaluator, prepare_data
from quarch.spaces.hqnn.space import hqnn_space

from .._scope import per_module

CNN_SPACE = cnn_space(n_stages=1, max_blocks=1, width_mults=[0.5])
CNN_ARCH: dict[str, Any] = {**CNN_SPACE.sample(0), "bits": 32, "kernel_0_0": 3, "expand_0_0": 3}
HQNN_SPACE = hqnn_space(max_qubits=3, max_layers=2, frontends=["linear", "pca"])
HQNN_ARCH: dict[str, Any] = {
    **HQNN_SPACE.sample(0), "embedding": "angle-y", "qubits": 2, "layers": 1,
    "entanglement_0": "linear", "reupload": False, "measurement": "z", "frontend": "linear",
    "head": "linear", "lr": 0.1,
}  # fmt: skip


def _numpy_defaults(d: Dataset) -> Dataset:
    """``d`` with float64 features and int32 labels: the same values, other dtypes."""
    wide = {f"X_{s}": getattr(d, f"X_{s}").astype(np.float64) for s in ("train", "val", "test")}
    narrow = {f"y_{s}": getattr(d, f"y_{s}").astype(np.int32) for s in ("train", "val", "test")}
    return Dataset(**{**d.__dict__, **wide, **narrow})


@pytest.fixture(scope=per_module)
def digits() -> Dataset:
    d = load_dataset("digits", seed=1)
    n = 200
    return Dataset(**{**d.__dict__, "X_train": d.X_train[:n], "y_train": d.y_train[:n]})


@pytest.fixture(scope=per_module)
def iris() -> Dataset:
    return prepare_data(load_dataset("iris", seed=0))


def _errors(m: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in m.items() if k.endswith("_error") or k.endswith("_accuracy")}


def test_the_supernet_scores_float64_features_as_their_float32_values(digits: Dataset) -> None:
    def run(data: Dataset) -> dict[str, float]:
        ev = SuperNetEvaluator(CNN_SPACE, data, supernet_epochs=1, seed=2, batch_size=64,
                               lr=0.01, recalibration_batches=1, latency="model")  # fmt: skip
        return ev.evaluate(CNN_ARCH, seed=3)

    want = run(digits)
    got = run(_numpy_defaults(digits))
    assert _errors(got) == _errors(want) and set(_errors(want)) >= {"val_error", "test_error"}


def test_the_supercircuit_fine_tunes_and_scores_numpy_default_dtypes(iris: Dataset) -> None:
    """Fine-tuning (float64 features, int32 targets for ``cross_entropy``) and scoring."""

    def run(data: Dataset) -> dict[str, float]:
        ev = SuperCircuitEvaluator(data, HQNN_SPACE, steps=2, finetune_steps=3, seed=1)
        return ev.evaluate(HQNN_ARCH, seed=4)

    want = run(iris)
    assert _errors(run(_numpy_defaults(iris))) == _errors(want)


def test_a_noise_aware_fit_scores_float64_features_as_their_float32_values(
    iris: Dataset,
) -> None:
    """The noise-aware path scores the model itself after training (trajectories on one
    qubit keep it cheap)."""
    opts: dict[str, Any] = {"noise": True, "noise_max_qubits": 1, "noise_samples": 3,
                            "noise_target_se": 0.2}  # fmt: skip

    def run(data: Dataset) -> dict[str, float]:
        ev = HQNNEvaluator(data, HQNN_SPACE, epochs=1, batch_size=64, noise_aware=True, **opts)
        return ev.fit(HQNN_ARCH, seed=5)[1]

    want = run(iris)
    assert _errors(run(_numpy_defaults(iris))) == _errors(want)


@pytest.mark.parametrize("raw", ["XXXX", "x", "two"])
def test_record_epochs_refuses_any_word_that_is_not_a_count(raw: str) -> None:
    """Only the empty string stands for "none"; every other word is refused, whatever
    it spells (the blank's stand-in must not swallow some other text)."""
    from quarch._errors import ConfigError
    from quarch.spaces.hqnn.evaluator import record_epochs

    with pytest.raises(ConfigError, match=rf"epoch counts >= 1; got '{raw}'"):
        record_epochs({"record_epochs": raw})
    assert record_epochs({"record_epochs": ""}) == []
