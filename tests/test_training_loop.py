"""The training loop's shortcuts change nothing: train/eval switching and weight copies.

``train_classifier`` validates after every step on a small split; it switches the
model's mode by setting flags on a list made once and copies the best weights by
cloning tensors. These tests pin what that must equal: eval mode in every validation
pass and training mode in every step (dropout and batch norm depend on it), a module
with its own ``train`` still called, and the same numbers as the generic path.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from quarch.data import Dataset
from quarch.evaluate import train_classifier
from quarch.evaluate import training as T


def _data(n: int = 60, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    third = n // 3
    return Dataset(
        name="toy",
        X_train=X[:third],
        y_train=y[:third],
        X_val=X[third : 2 * third],
        y_val=y[third : 2 * third],
        X_test=X[2 * third :],
        y_test=y[2 * third :],
        n_classes=2,
        input_shape=(4,),
        fingerprint="toy",
    )


class _Recorder(nn.Module):
    """Records (training flag, grad enabled) at every forward."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled()))
        return x


class _OwnTrain(nn.Module):
    """A module whose ``train`` does more than set the flag (as some user modules do)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def train(self, mode: bool = True) -> _OwnTrain:
        self.calls += 1
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _net(extra: nn.Module) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Dropout(0.2), nn.Tanh(), extra, nn.Linear(8, 2)
    )


def test_every_step_trains_in_training_mode_and_every_validation_in_eval_mode() -> None:
    rec = _Recorder()
    train_classifier(_net(rec), _data(), epochs=3, lr=0.05, batch_size=5, seed=0,
                     early_stopping=True)  # fmt: skip
    steps = [s for s in rec.seen if s[1]]
    checks = [s for s in rec.seen if not s[1]]
    assert len(steps) == 3 * 4  # 20 samples in batches of 5, three epochs
    assert all(training for training, _ in steps)
    assert len(checks) >= len(steps) - 1  # a validation pass after every step
    assert not any(training for training, _ in checks)


def test_a_module_with_its_own_train_is_still_called() -> None:
    own = _OwnTrain()
    train_classifier(_net(own), _data(), epochs=2, lr=0.05, batch_size=5, seed=0,
                     early_stopping=True)  # fmt: skip
    # one switch to eval and one back per validation pass, at least
    assert own.calls >= 2 * 2 * 4


@pytest.mark.parametrize("snapshots", [(), (1, 2, 4)])
def test_the_fast_path_gives_the_generic_paths_numbers(
    monkeypatch: pytest.MonkeyPatch, snapshots: tuple[int, ...]
) -> None:
    def run() -> tuple[dict[str, float], dict[str, torch.Tensor]]:
        model = _net(nn.Identity())
        out = train_classifier(model, _data(), epochs=4, lr=0.05, batch_size=5, seed=3,
                               early_stopping=True, snapshots=snapshots)  # fmt: skip
        return out, model.state_dict()

    fast, fast_state = run()
    # the generic path: Module.train and copy.deepcopy, as the loop did before
    monkeypatch.setattr(T._ModeSwitch, "set", lambda self, mode: self.model.train(mode))
    monkeypatch.setattr(T, "_copy_state", lambda m: copy.deepcopy(m.state_dict()))
    slow, slow_state = run()
    assert fast == slow
    assert fast_state.keys() == slow_state.keys()
    for k in fast_state:
        assert torch.equal(fast_state[k], slow_state[k]), k


def test_a_copied_state_does_not_follow_the_model() -> None:
    model = _net(nn.Identity())
    state = T._copy_state(model)
    before = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.load_state_dict(state)
    for k, v in before.items():
        assert torch.equal(model.state_dict()[k], v), k
    assert getattr(state, "_metadata", None) is not None  # versions kept for loading


def test_a_double_model_trains_on_float64_data() -> None:
    """A ``.double()`` model (a float64 QuantumLayer with float64 layers around it) is
    fed float64 data; the loop used to cast the data to float32, and the first layer
    refused it. It trains as its float32 twin does."""
    from quarch.quantum import AngleEmbedding, BasicEntanglerLayers, Circuit, QuantumLayer

    def model() -> nn.Module:
        torch.manual_seed(0)
        c = Circuit(2).add(AngleEmbedding(2)).add(BasicEntanglerLayers(1, 2))
        return nn.Sequential(nn.Linear(4, 2), QuantumLayer(c), nn.Linear(2, 2))

    kw = {"epochs": 3, "lr": 0.05, "batch_size": 8, "seed": 0}
    single = train_classifier(model(), _data(), **kw)  # type: ignore[arg-type]
    double = model().double()
    got = train_classifier(double, _data(), **kw)  # type: ignore[arg-type]
    assert all(p.dtype == torch.float64 for p in double.parameters())
    assert got["train_loss"] == pytest.approx(single["train_loss"], rel=1e-4)
    assert abs(got["val_error"] - single["val_error"]) <= 1 / 20  # one of 20 at most
