"""The short-training evaluator against independent truth.

``train_classifier`` is compared number for number with a training loop written here in
plain torch (``torch.optim.Adam``, the same seeded shuffles, the same check schedule);
errors are compared with scikit-learn's accuracy; parameter and FLOP counts with the
closed form of a linear layer; saved weights with the trained model's own tensors.
"""

from __future__ import annotations

import copy
import math
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.metrics import accuracy_score
from torch import nn

from quarch.data import Dataset
from quarch.evaluate import training as T
from quarch.evaluate.training import (
    TrainingEvaluator,
    check_lr,
    classification_error,
    epoch_hook,
    save_weights,
    torch_threads,
    train_classifier,
    weights_file,
)

# -- data and models -----------------------------------------------------------------


def _iris(n_val: int = 30) -> Dataset:
    """Iris, standardised on its training part, shuffled once with a fixed seed."""
    X, y = load_iris(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))
    X, y = X[order].astype(np.float32), y[order].astype(np.int64)
    X = (X - X[:90].mean(0)) / X[:90].std(0)
    return _dataset(X[:90], y[:90], X[90 : 90 + n_val], y[90 : 90 + n_val], X[120:], y[120:])


def _dataset(
    Xtr: np.ndarray, ytr: np.ndarray, Xva: np.ndarray, yva: np.ndarray,
    Xte: np.ndarray, yte: np.ndarray, n_classes: int = 3,
) -> Dataset:  # fmt: skip
    return Dataset(
        name="toy", X_train=Xtr, y_train=ytr, X_val=Xva, y_val=yva, X_test=Xte, y_test=yte,
        n_classes=n_classes, input_shape=tuple(Xtr.shape[1:]), fingerprint="toy-fp",
    )  # fmt: skip


def _blobs(n_val: int, seed: int = 0) -> Dataset:
    """Two noisy blobs in 2-D with ``n_val`` validation samples (for the >256 rule)."""
    rng = np.random.default_rng(seed)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n)
        X = rng.normal(size=(n, 2)) + 0.8 * (2 * y[:, None] - 1)
        return X.astype(np.float32), y.astype(np.int64)

    return _dataset(*part(40), *part(n_val), *part(50), n_classes=2)


def _net(seed: int = 0, n_in: int = 4, n_out: int = 3) -> nn.Sequential:
    """Batch norm and dropout: both behave differently in training and eval mode."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(n_in, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Dropout(0.2), nn.Linear(12, n_out)
    )


def _error(
    model: nn.Module, X: np.ndarray, y: np.ndarray, dtype: torch.dtype = torch.float32
) -> float:
    """The fraction scikit-learn counts wrong among the model's eval-mode predictions."""
    was = model.training
    model.eval()
    with torch.no_grad():
        pred = model(torch.as_tensor(X, dtype=dtype)).argmax(1).numpy()
    model.train(was)
    return (len(y) - int(accuracy_score(y, pred, normalize=False))) / len(y)


# -- the reference loop ----------------------------------------------------------------


def _reference(
    model: nn.Module, data: Dataset, *, epochs: int, lr: float, batch_size: int, seed: int,
    weight_decay: float = 0.0, cosine: bool = False, early: bool = False,
    check_every: int = 1, snaps: Sequence[int] = (), dtype: torch.dtype = torch.float32,
) -> tuple[dict[str, float], list[float]]:  # fmt: skip
    """What ``train_classifier`` documents, in plain torch: Adam on cross-entropy over
    minibatches of ``torch.randperm(n, generator=Generator().manual_seed(seed))``; with
    ``early``, the validation error checked every ``check_every`` steps and at each
    epoch's end, the first best weights kept, a stop at validation error 0. Returns the
    metrics and the value an epoch hook sees after each epoch. The inputs are fed as
    ``dtype``."""
    Xtr = torch.as_tensor(data.X_train, dtype=dtype)
    ytr = torch.as_tensor(data.y_train, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    n = len(Xtr)
    steps = epochs * math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if cosine else None
    best, best_epoch, best_state = math.inf, -1, copy.deepcopy(model.state_dict())
    hooked: list[float] = []
    out: dict[str, float] = {"train_loss": float("nan")}
    step = 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            out["train_loss"] = loss.item()
            if not early:
                continue
            step += 1
            if step % check_every == 0 or i + batch_size >= n:
                err = _error(model, data.X_val, data.y_val, dtype)
                if err < best:
                    best, best_epoch = err, epoch
                    best_state = copy.deepcopy(model.state_dict())
            if best == 0.0:
                break
        hooked.append(best if early else _error(model, data.X_val, data.y_val, dtype))
        if epoch + 1 in snaps:
            if early:
                now = copy.deepcopy(model.state_dict())
                model.load_state_dict(best_state)
                out[f"val_error_e{epoch + 1}"] = best
                out[f"test_error_e{epoch + 1}"] = _error(model, data.X_test, data.y_test, dtype)
                model.load_state_dict(now)
            else:
                out[f"val_error_e{epoch + 1}"] = _error(model, data.X_val, data.y_val, dtype)
                out[f"test_error_e{epoch + 1}"] = _error(model, data.X_test, data.y_test, dtype)
        if best == 0.0:
            break
    if early:
        model.load_state_dict(best_state)
        out["best_epoch"] = float(best_epoch)  # -1: no check made (no epoch)
        out["val_error"] = best if math.isfinite(best) else _error(model, data.X_val, data.y_val)
    else:
        out["val_error"] = _error(model, data.X_val, data.y_val, dtype)
    out["test_error"] = _error(model, data.X_test, data.y_test, dtype)
    for e in snaps:
        out.setdefault(f"val_error_e{e}", out["val_error"])
        out.setdefault(f"test_error_e{e}", out["test_error"])
    return out, hooked


def _assert_same_weights(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-6, atol=1e-7, msg=k)


def _both(
    data: Dataset, kw: dict[str, Any], ref_kw: dict[str, Any], model_seed: int = 0
) -> tuple[dict[str, float], list[float], nn.Module, dict[str, float], list[float], nn.Module]:
    """quarch's loop and the reference on twin models, from the same global RNG state
    (dropout draws from it)."""
    n_in, n_out = data.input_shape[0], data.n_classes
    ours, theirs = _net(model_seed, n_in, n_out), _net(model_seed, n_in, n_out)
    seen: list[float] = []
    torch.manual_seed(123)
    got = train_classifier(ours, data, on_epoch=lambda e, err: seen.append(err), **kw)
    torch.manual_seed(123)
    want, hooked = _reference(theirs, data, **ref_kw)
    return got, seen, ours, want, hooked, theirs


# -- train_classifier -------------------------------------------------------------------

_PLAIN = {
    "last-batch-short": {"epochs": 3, "lr": 0.02, "batch_size": 16, "seed": 0},
    "batches-divide-n": {"epochs": 2, "lr": 0.05, "batch_size": 15, "seed": 4},
    "weight-decay": {"epochs": 3, "lr": 0.02, "batch_size": 32, "seed": 1, "weight_decay": 0.1},
    "cosine": {"epochs": 4, "lr": 0.05, "batch_size": 32, "seed": 2, "cosine": True},
    "one-batch": {"epochs": 2, "lr": 0.05, "batch_size": 200, "seed": 3},
}


@pytest.mark.parametrize("case", sorted(_PLAIN))
def test_training_equals_the_plain_torch_loop(case: str) -> None:
    kw = _PLAIN[case]
    ref_kw = {**kw, "snaps": (1, 2)}
    got, seen, ours, want, hooked, theirs = _both(_iris(), {**kw, "snapshots": (2, 1, 2)}, ref_kw)
    _assert_same_weights(ours, theirs)
    assert set(got) == {"train_loss", "val_error", "test_error", "val_error_e1",
                        "test_error_e1", "val_error_e2", "test_error_e2"}  # fmt: skip
    assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
    for k in ("val_error", "test_error", "val_error_e1", "test_error_e1", "val_error_e2"):
        assert got[k] == want[k], k
    assert got["test_error_e2"] == want["test_error_e2"]
    assert seen == hooked  # the hook saw each epoch's validation error
    assert not ours.training  # scored (and returned) in eval mode


_EARLY = {
    # 30 validation samples: checked after every step
    "small-val": (
        {"epochs": 4, "lr": 0.03, "batch_size": 16, "seed": 0}, 1, 30,
    ),
    "eval-every-3": (
        {"epochs": 4, "lr": 0.03, "batch_size": 16, "seed": 1, "eval_every": 3}, 3, 30,
    ),
    # an even period: a check every 2 steps, not every step
    "eval-every-2": (
        {"epochs": 4, "lr": 0.05, "batch_size": 15, "seed": 0, "eval_every": 2}, 2, 30,
    ),
    "eval-every-5-divides": (
        {"epochs": 3, "lr": 0.03, "batch_size": 15, "seed": 2, "eval_every": 5}, 5, 30,
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(_EARLY))
def test_early_stopping_equals_the_plain_torch_loop(case: str) -> None:
    kw, every, n_val = _EARLY[case]
    got, seen, ours, want, hooked, theirs = _both(
        _iris(n_val), {**kw, "early_stopping": True, "snapshots": (1, 3)},
        {k: v for k, v in kw.items() if k != "eval_every"}
        | {"early": True, "check_every": every, "snaps": (1, 3)},
    )  # fmt: skip
    _assert_same_weights(ours, theirs)  # the kept weights are loaded
    assert set(got) == set(want) | {"best_epoch"} == set(want)
    for k in want:
        if k != "train_loss":
            assert got[k] == want[k], k
    assert got["train_loss"] == pytest.approx(want["train_loss"], rel=1e-5)
    assert seen == hooked


@pytest.mark.parametrize("n_val", [256, 257])
def test_validation_runs_every_step_up_to_256_samples_else_once_an_epoch(n_val: int) -> None:
    data = _blobs(n_val)
    kw = {"epochs": 3, "lr": 0.01, "batch_size": 8, "seed": 0, "early_stopping": True}
    got, _, ours, want, _, theirs = _both(
        data, kw, {"epochs": 3, "lr": 0.01, "batch_size": 8, "seed": 0, "early": True,
                   "check_every": 1 if n_val <= 256 else 10**9},
    )  # fmt: skip
    _assert_same_weights(ours, theirs)
    assert got["val_error"] == want["val_error"] and got["best_epoch"] == want["best_epoch"]
    # count the validation passes: forwards without autograd, on the validation split
    model = _net(0, 2, 2)
    passes: list[int] = []
    model.register_forward_hook(lambda m, x, y: passes.append(1) if len(x[0]) == n_val else None)
    train_classifier(model, data, epochs=1, lr=1e-6, batch_size=8, seed=0, early_stopping=True)
    assert len(passes) == (5 if n_val <= 256 else 1)  # 40 samples in batches of 8


def test_early_stopping_stops_once_the_validation_error_is_zero() -> None:
    """Separable blobs: the validation split is learnt within the first epoch; training
    stops at that step (the reference stops there too) and reports error 0."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 120)
    X = (rng.normal(size=(120, 2)) * 0.1 + 3.0 * (2 * y[:, None] - 1)).astype(np.float32)
    data = _dataset(X[:80], y[:80], X[80:100], y[80:100], X[100:], y[100:], n_classes=2)
    kw = {"epochs": 5, "lr": 0.05, "batch_size": 8, "seed": 0}
    got, seen, ours, want, hooked, theirs = _both(
        data, {**kw, "early_stopping": True, "snapshots": (1, 5)},
        {**kw, "early": True, "snaps": (1, 5)},
    )  # fmt: skip
    assert want["val_error"] == 0.0 and len(hooked) < 5, "the case needs an early stop"
    _assert_same_weights(ours, theirs)
    assert got == pytest.approx(want, rel=1e-5)
    assert seen == hooked
    steps: list[int] = []
    model = _net(0, 2, 2)
    model.register_forward_hook(
        lambda m, x, y: steps.append(1) if torch.is_grad_enabled() else None
    )
    torch.manual_seed(123)
    train_classifier(model, data, **kw, early_stopping=True)  # type: ignore[arg-type]
    assert len(steps) < 10  # 10 steps per epoch: the first epoch did not finish


def test_a_one_sample_validation_split_scores_zero_or_one() -> None:
    """A validation split of one misclassified sample has error 1 (not 1/2)."""
    data = _iris()
    model = _net(0)
    with torch.no_grad():
        pred = int(model.eval()(torch.as_tensor(data.X_val[:1])).argmax(1))
    y1 = np.array([(pred + 1) % 3], dtype=np.int64)
    one = _dataset(data.X_train, data.y_train, data.X_val[:1], y1, data.X_test, data.y_test)
    out = train_classifier(model.train(), one, epochs=1, lr=1e-9, batch_size=90, seed=0,
                           early_stopping=True)  # fmt: skip
    assert out["val_error"] == 1.0 and out["best_epoch"] == 0.0


def test_no_epochs_scores_the_untrained_model() -> None:
    data = _iris()
    model, twin = _net(5), _net(5)
    out = train_classifier(model, data, epochs=0, lr=0.1, batch_size=8, seed=0)
    _assert_same_weights(model, twin)
    assert math.isnan(out["train_loss"])
    assert out["val_error"] == _error(twin, data.X_val, data.y_val)
    assert out["test_error"] == _error(twin, data.X_test, data.y_test)


def test_no_epochs_with_early_stopping_keeps_and_scores_the_untrained_model() -> None:
    """No training step, so no validation check: the kept weights are the untrained
    ones, from before the first epoch (``best_epoch`` -1), and both splits are scored
    on them (the validation error is a fraction, not the infinity no check leaves)."""
    data = _iris()
    model, twin = _net(5), _net(5)
    out = train_classifier(model, data, epochs=0, lr=0.1, batch_size=8, seed=0,
                           early_stopping=True, cosine=True)  # fmt: skip
    _assert_same_weights(model, twin)
    assert set(out) == {"train_loss", "best_epoch", "val_error", "test_error"}
    assert math.isnan(out["train_loss"]) and out["best_epoch"] == -1.0
    assert out["val_error"] == _error(twin, data.X_val, data.y_val)
    assert out["test_error"] == _error(twin, data.X_test, data.y_test)
    assert 0 < out["val_error"] < 1, "the case needs an untrained model that is not trivial"


@pytest.mark.parametrize("early", [False, True], ids=["final", "early-stopping"])
def test_a_double_model_is_fed_float64_in_every_split(early: bool) -> None:
    """A ``.double()`` model gets the float32 data set as float64 for training,
    validation checks, the epoch hook, snapshots and the final scores alike (any split
    left in float32 fails in the model's first layer)."""
    kw = {"epochs": 3, "lr": 0.03, "batch_size": 16, "seed": 1}
    data = _iris()
    ours, theirs = _net(2).double(), _net(2).double()
    seen: list[float] = []
    torch.manual_seed(7)
    got = train_classifier(ours, data, on_epoch=lambda e, err: seen.append(err),
                           early_stopping=early, snapshots=(1, 3), **kw)  # type: ignore[arg-type]  # fmt: skip
    torch.manual_seed(7)
    want, hooked = _reference(theirs, data, early=early, snaps=(1, 3), dtype=torch.float64, **kw)  # type: ignore[arg-type]
    assert all(p.dtype == torch.float64 for p in ours.parameters())
    _assert_same_weights(ours, theirs)
    assert got == pytest.approx(want, rel=1e-9) and seen == hooked


def test_labels_of_any_integer_dtype_are_class_indices() -> None:
    """int32 labels (numpy's default integer on Windows before numpy 2) train like the
    int64 ones: cross-entropy takes its class indices as int64 only."""
    base = _iris()
    data = _dataset(
        base.X_train, base.y_train.astype(np.int32), base.X_val, base.y_val.astype(np.int32),
        base.X_test, base.y_test.astype(np.int32),
    )  # fmt: skip
    kw = {"epochs": 2, "lr": 0.02, "batch_size": 16, "seed": 0}
    for early in (False, True):
        got, seen, ours, want, hooked, theirs = _both(
            data, {**kw, "early_stopping": early, "snapshots": (1,)},
            {**kw, "early": early, "snaps": (1,)},
        )  # fmt: skip
        _assert_same_weights(ours, theirs)
        assert got == pytest.approx(want, rel=1e-5) and seen == hooked


class _Placed(nn.Sequential):
    """A network that records the device it is moved to (as a module whose simulator
    must follow its weights would)."""

    def __init__(self, *modules: nn.Module) -> None:
        super().__init__(*modules)
        self.moved_to: list[torch.device | None] = []

    def to(self, *args: Any, **kw: Any) -> _Placed:  # type: ignore[override]
        self.moved_to.append(torch._C._nn._parse_to(*args, **kw)[0])
        return cast(_Placed, super().to(*args, **kw))


@pytest.mark.parametrize("early", [False, True], ids=["final", "early-stopping"])
def test_everything_goes_to_the_training_device_not_torchs_default(early: bool) -> None:
    """Under another default device (``torch.set_default_device("cuda")``, or a ``with
    torch.device(...)`` block) the model, the data of every split and the shuffles
    are on ``device``. The meta device stands in for a GPU here: any tensor left on the
    default device has no values, and the run fails."""
    kw = {"epochs": 2, "lr": 0.02, "batch_size": 16, "seed": 3}
    data = _iris()
    ours, theirs = _Placed(*_net(4)), _net(4)
    seen: list[float] = []
    torch.manual_seed(5)
    with torch.device("meta"):
        got = train_classifier(ours, data, device="cpu", on_epoch=lambda e, err: seen.append(err),
                               early_stopping=early, snapshots=(1,), cosine=True, **kw)  # type: ignore[arg-type]  # fmt: skip
    torch.manual_seed(5)
    want, hooked = _reference(theirs, data, early=early, snaps=(1,), cosine=True, **kw)  # type: ignore[arg-type]
    assert ours.moved_to == [torch.device("cpu")]
    _assert_same_weights(ours, theirs)
    assert got == pytest.approx(want, rel=1e-5) and seen == hooked


class _Branch(nn.Module):
    """A network with a branch used only on full batches (as a weight-sharing
    supernet leaves paths out): on the last, short batch of each epoch the branch's
    bias gets no gradient, and Adam must leave it alone then."""

    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.body = _net(6)
        self.extra = nn.Parameter(torch.zeros(3))
        self.batch_size = batch_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(x)
        return out + self.extra if len(x) == self.batch_size else out


def test_a_parameter_without_a_gradient_at_a_step_is_not_updated_then() -> None:
    kw = {"epochs": 3, "lr": 0.05, "batch_size": 16, "seed": 2}  # 90 = 5 * 16 + 10
    data = _iris()
    ours, theirs = _Branch(16), _Branch(16)
    torch.manual_seed(9)
    got = train_classifier(ours, data, **kw)  # type: ignore[arg-type]
    torch.manual_seed(9)
    want, _ = _reference(theirs, data, **kw)  # type: ignore[arg-type]
    assert not torch.equal(theirs.extra, torch.zeros(3)), "the case needs a trained branch"
    _assert_same_weights(ours, theirs)
    assert got == pytest.approx(want, rel=1e-5)


def test_over_256_validation_samples_are_checked_once_an_epoch_however_long_it_is() -> None:
    """300 validation samples and epochs of 130 steps: one validation pass at the end of
    each epoch and none in between, however many steps have been taken."""
    rng = np.random.default_rng(0)

    def part(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 2, n)
        X = rng.normal(size=(n, 2)) + 0.5 * (2 * y[:, None] - 1)
        return X.astype(np.float32), y.astype(np.int64)

    data = _dataset(*part(130), *part(300), *part(10), n_classes=2)
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    passes: list[int] = []
    model.register_forward_hook(lambda m, x, y: passes.append(1) if len(x[0]) == 300 else None)
    out = train_classifier(model, data, epochs=2, lr=1e-6, batch_size=1, seed=0,
                           early_stopping=True)  # fmt: skip
    assert out["val_error"] > 0, "the case needs a run that does not stop early"
    assert len(passes) == 2


class _Nan(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * float("nan")


def test_a_non_finite_loss_stops_training_and_frees_the_flat_buffer() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 3), _Nan())
    with pytest.raises(ValueError, match=r"non-finite \(nan\)"):
        train_classifier(model, _iris(), epochs=2, lr=0.01, batch_size=16, seed=0)
    params = list(model.parameters())
    assert len({p.untyped_storage().data_ptr() for p in params}) == len(params)


@pytest.mark.parametrize(
    ("snaps", "epochs"), [((0,), 3), ((3,), 2), ((1, 4), 3), ((-1, 2), 3)],
    ids=["zero", "past-end", "one-past", "negative"],
)  # fmt: skip
def test_snapshots_outside_the_run_are_refused(snaps: tuple[int, ...], epochs: int) -> None:
    with pytest.raises(ValueError, match=rf"snapshots must be epoch counts in \[1, {epochs}\]"):
        train_classifier(_net(), _iris(), epochs=epochs, lr=0.01, batch_size=32, seed=0,
                         snapshots=snaps)  # fmt: skip


# -- hooks ---------------------------------------------------------------------------------


def _train_briefly(**kw: Any) -> dict[str, float]:
    return train_classifier(_net(), _iris(), epochs=2, lr=0.01, batch_size=45, seed=0, **kw)


def test_epoch_hook_blocks_nest_and_restore() -> None:
    outer: list[int] = []
    inner: list[int] = []
    with epoch_hook(lambda e, err: outer.append(e)):
        with epoch_hook(lambda e, err: inner.append(e)):
            _train_briefly()
        _train_briefly()
        with epoch_hook(None):  # no hook inside
            _train_briefly()
    _train_briefly()  # no hook after the block
    assert inner == [0, 1] and outer == [0, 1]


def test_on_epoch_overrides_the_enclosing_hook_and_a_raising_hook_stops_training() -> None:
    block: list[int] = []
    mine: list[int] = []
    with epoch_hook(lambda e, err: block.append(e)):
        _train_briefly(on_epoch=lambda e, err: mine.append(e))
    assert (block, mine) == ([], [0, 1])

    class Stop(Exception):
        pass

    calls: list[int] = []

    def stop(epoch: int, err: float) -> None:
        calls.append(epoch)
        raise Stop

    with pytest.raises(Stop), epoch_hook(stop):
        _train_briefly()
    assert calls == [0]  # training stopped at the first epoch's end
    _train_briefly()  # the block was reset on the way out: its hook is gone
    assert calls == [0]


# -- classification_error, the mode switch, state copies -----------------------------------


class _Recorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.modes: list[bool] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.modes.append(self.training)
        return x


@pytest.mark.parametrize("batch_size", [1, 7, 30, 1024])
@pytest.mark.parametrize("training", [True, False])
def test_classification_error_is_one_minus_sklearns_accuracy(
    batch_size: int, training: bool
) -> None:
    data = _iris()
    rec = _Recorder()
    model = nn.Sequential(_net(2), rec).train(training)
    X, y = torch.as_tensor(data.X_val), torch.as_tensor(data.y_val)
    got = classification_error(model, X, y, batch_size=batch_size)
    assert rec.modes == [False] * math.ceil(30 / batch_size)  # in eval mode, in batches
    assert model.training is training  # the mode is restored
    assert got == _error(model, data.X_val, data.y_val)
    assert 0 < got < 1, "the case needs some of both"


def test_classification_error_of_one_sample_and_of_none() -> None:
    model = nn.Linear(2, 2)
    x = torch.ones(1, 2)
    with torch.no_grad():
        wrong = 1 - int(model(x).argmax(1))
    assert classification_error(model, x, torch.tensor([wrong])) == 1.0
    assert classification_error(model, x, torch.tensor([1 - wrong])) == 0.0
    assert classification_error(model, torch.ones(0, 2), torch.ones(0, dtype=torch.long)) == 0.0


def test_the_mode_switch_sets_flags_without_calling_train_on_a_plain_model() -> None:
    model = _net()
    calls: list[bool] = []
    plain_train = model.train

    def counted(mode: bool = True) -> nn.Module:
        calls.append(mode)
        return plain_train(mode)

    model.train = counted  # type: ignore[method-assign,assignment]
    switch = T._ModeSwitch(model)
    switch.set(False)
    assert not any(m.training for m in model.modules())
    switch.set(True)
    assert all(m.training for m in model.modules())
    assert calls == []  # the flags were set directly


# -- check_lr, torch_threads -----------------------------------------------------------------


@pytest.mark.parametrize(
    "lr",
    [0, -0.1, math.inf, math.nan, True, "0.1", None],
    ids=["zero", "negative", "inf", "nan", "bool", "str", "none"],
)
def test_check_lr_refuses_what_is_not_a_positive_finite_number(lr: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(f"lr must be a number > 0; got {lr!r}")):
        check_lr(lr)


@pytest.mark.parametrize("lr", [1, 1e-12, 0.5, 2.5, np.float32(0.25)], ids=str)
def test_check_lr_returns_the_float(lr: Any) -> None:
    got = check_lr(lr)
    assert type(got) is float and got == float(lr)


def test_torch_threads_sets_and_restores_the_count() -> None:
    before = torch.get_num_threads()
    other = 2 if before == 1 else 1
    with torch_threads(other):
        assert torch.get_num_threads() == other
    assert torch.get_num_threads() == before
    with pytest.raises(KeyError), torch_threads(other):
        raise KeyError
    assert torch.get_num_threads() == before
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"torch_threads must be >= 1; got {bad}"):
            torch_threads(bad).__enter__()
    assert torch.get_num_threads() == before


# -- weights files -------------------------------------------------------------------------


def test_weights_file_names_the_seed(tmp_path: Path) -> None:
    assert weights_file(tmp_path, 7) == tmp_path / "seed_7.pt"
    assert weights_file(str(tmp_path / "w"), -3) == tmp_path / "w" / "seed_-3.pt"


def test_save_weights_writes_the_state_on_the_cpu(tmp_path: Path) -> None:
    model = _net(3)
    where = tmp_path / "a" / "b"  # folders made as needed
    save_weights(model, where, 5)
    save_weights(_net(4), where, 6)  # the folder exists already
    got = torch.load(where / "seed_5.pt")
    assert sorted(p.name for p in where.iterdir()) == ["seed_5.pt", "seed_6.pt"]
    assert type(got) is dict and got.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(got[k], v) and got[k].device.type == "cpu"
        assert not got[k].requires_grad
    save_weights(model, None, 5)  # nothing to do


# -- TrainingEvaluator ---------------------------------------------------------------------


def _mlp(arch: Mapping[str, Any], input_shape: tuple[int, ...], n_classes: int) -> nn.Module:
    """An MLP whose first bias is drawn from numpy's global generator (so the evaluator's
    numpy seeding shows) and which checks the shapes it is given."""
    assert type(input_shape) is tuple
    width = int(arch["width"])
    net = nn.Sequential(
        nn.Linear(input_shape[0], width), nn.ReLU(), nn.Dropout(0.25), nn.Linear(width, n_classes)
    )
    first = cast(nn.Linear, net[0])
    with torch.no_grad():
        first.bias.copy_(torch.as_tensor(np.random.standard_normal(width)))
    return net


def _by_hand(seed: int, width: int) -> nn.Module:
    """``_mlp`` initialised as documented: torch and numpy seeded with ``seed``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    return _mlp({"width": width}, (4,), 3)


def _expected(seed: int, width: int, epochs: int, lr: float, batch_size: int) -> tuple[
    nn.Module, dict[str, float]
]:  # fmt: skip
    model = _by_hand(seed, width)
    params = 4 * width + width + width * 3 + 3
    flops = 2 * (4 * width + width * 3)  # a linear layer: one multiply and one add a weight
    torch.manual_seed(seed)
    want, _ = _reference(model, _iris(), epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    return model, {
        "val_error": want["val_error"], "test_error": want["test_error"],
        "val_accuracy": 1 - want["val_error"], "params": params, "flops": flops,
    }  # fmt: skip


def test_the_evaluator_trains_as_documented() -> None:
    ev = TrainingEvaluator(_mlp, _iris(), epochs=3, batch_size=16, lr=0.02)
    assert (ev.epochs, ev.batch_size, ev.lr, ev.device) == (3, 16, 0.02, "cpu")
    assert ev.fingerprint == "toy-fp" and ev.last_seconds == 0.0
    state = torch.random.get_rng_state()
    t0 = time.perf_counter()
    model, metrics = ev.fit({"width": 6}, seed=11)
    wall = time.perf_counter() - t0
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG untouched
    assert 0 < ev.last_seconds <= wall
    ref, want = _expected(11, 6, epochs=3, lr=0.02, batch_size=16)
    _assert_same_weights(model, ref)
    assert metrics == want
    # the architecture's own lr and a shorter run
    model, metrics = ev.fit({"width": 6, "lr": 0.05}, seed=2**32 + 3, epochs=2)
    ref, want = _expected(2**32 + 3, 6, epochs=2, lr=0.05, batch_size=16)
    _assert_same_weights(model, ref)
    assert metrics == want


def test_the_evaluators_defaults_are_60_epochs_of_32_at_rate_001() -> None:
    ev = TrainingEvaluator(_mlp, _iris())
    model, metrics = ev.fit({"width": 3}, seed=1)
    ref, want = _expected(1, 3, epochs=60, lr=0.01, batch_size=32)
    _assert_same_weights(model, ref)
    assert metrics == want


def test_evaluate_saves_the_trained_weights_and_adds_extra_metrics(tmp_path: Path) -> None:
    seen: list[tuple[Mapping[str, Any], nn.Module]] = []

    def extra(arch: Mapping[str, Any], model: nn.Module) -> dict[str, float]:
        seen.append((arch, model))
        return {"bias_sum": np.float32(model[0].bias.sum().item()), "n": 2}  # type: ignore[dict-item,index]

    ev = TrainingEvaluator(_mlp, _iris(), epochs=2, batch_size=16, lr=0.02,
                           extra_metrics=extra, weights_dir=tmp_path / "w")  # fmt: skip
    metrics = ev.evaluate({"width": 5}, seed=4)
    ref, want = _expected(4, 5, epochs=2, lr=0.02, batch_size=16)
    saved = torch.load(tmp_path / "w" / "seed_4.pt")
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(saved[k], v, rtol=1e-6, atol=1e-7)
    bias_sum = float(np.float32(ref[0].bias.sum().item()))  # type: ignore[index]
    assert metrics == pytest.approx({**want, "bias_sum": bias_sum, "n": 2.0}, rel=1e-6)
    assert type(metrics["bias_sum"]) is float and type(metrics["n"]) is float
    assert len(seen) == 1 and seen[0][0] == {"width": 5}
    before = sorted(Path.cwd().rglob("*"))
    TrainingEvaluator(_mlp, _iris(), epochs=1).evaluate({"width": 2}, seed=0)
    assert sorted(Path.cwd().rglob("*")) == before  # no weights_dir: no file


class _Space:
    """A space whose ``validate`` fills in the width (and refuses a bad one)."""

    def validate(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        if arch.get("width", 4) < 1:
            raise ValueError("width must be >= 1")
        return {"width": 4, **arch}


def test_cheap_metrics_count_the_validated_architecture() -> None:
    ev = TrainingEvaluator(_mlp, _iris(), epochs=1, space=cast(Any, _Space()))
    for width in (4, 9):
        arch = {} if width == 4 else {"width": width}
        assert ev.cheap_metrics(arch) == {
            "params": float(4 * width + width + 3 * width + 3),
            "flops": float(2 * (4 * width + 3 * width)),
        }
    with pytest.raises(ValueError, match="width"):
        ev.cheap_metrics({"width": 0})
    model, metrics = ev.fit({}, seed=0)  # fit validates too
    assert model[0].out_features == 4 and metrics["params"] == 4 * 4 + 4 + 3 * 4 + 3  # type: ignore[index]
    with pytest.raises(ValueError, match="width"):
        ev.evaluate({"width": 0}, seed=0)


def test_build_seeds_torch_and_numpy_and_leaves_the_global_torch_rng() -> None:
    ev = TrainingEvaluator(_mlp, _iris(), epochs=1)
    state = torch.random.get_rng_state()
    built = ev.build({"width": 5}, seed=2**32 + 9)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(2**32 + 9)
    assert torch.equal(built[0].weight, nn.Linear(4, 5).weight)  # type: ignore[index]
    # numpy takes seeds below 2**32: seeded with the seed mod 2**32
    bias = np.random.RandomState(9).standard_normal(5).astype(np.float32)
    assert torch.equal(built[0].bias, torch.as_tensor(bias))  # type: ignore[index]


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"epochs": 0}, "epochs must be >= 1; got 0"),
     ({"batch_size": 0}, "batch_size must be >= 1; got 0"),
     ({"lr": 0.0}, "lr must be a number > 0; got 0.0")],
    ids=["epochs", "batch_size", "lr"],
)  # fmt: skip
def test_the_evaluator_refuses_bad_settings(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TrainingEvaluator(_mlp, _iris(), **kw)


def test_the_smallest_settings_are_accepted() -> None:
    ev = TrainingEvaluator(_mlp, _iris(), epochs=1, batch_size=1, lr=1e-3)
    _, metrics = ev.fit({"width": 2}, seed=0)
    _, want = _expected(0, 2, epochs=1, lr=1e-3, batch_size=1)
    assert metrics == want


def test_the_evaluator_trains_on_its_device(monkeypatch: pytest.MonkeyPatch) -> None:
    """The evaluator hands its device to the training loop (the CPU here: a model left
    on the default device would score the same)."""
    devices: list[Any] = []
    real = T.train_classifier

    def spy(model: nn.Module, data: Dataset, **kw: Any) -> dict[str, float]:
        devices.append(kw.get("device"))
        return real(model, data, **kw)

    monkeypatch.setattr(T, "train_classifier", spy)
    TrainingEvaluator(_mlp, _iris(), epochs=1, device="cpu").fit({"width": 2}, seed=0)
    assert devices == ["cpu"]


class _PlainState(nn.Linear):
    """A module whose ``state_dict`` is a plain dict (no ``_metadata`` to keep)."""

    def state_dict(self, *args: Any, **kw: Any) -> dict[str, Any]:  # type: ignore[override]
        return dict(super().state_dict(*args, **kw))


def test_a_state_without_metadata_is_copied_too() -> None:
    model = _PlainState(4, 3)
    state = T._copy_state(model)
    assert type(state) is dict and state.keys() == {"weight", "bias"}
    before = {k: v.clone() for k, v in state.items()}
    with torch.no_grad():
        model.weight.add_(1.0)
    assert all(torch.equal(state[k], before[k]) for k in state)  # a copy, not a view
    torch.manual_seed(0)
    twin = nn.Linear(4, 3)
    twin.load_state_dict(model.state_dict())
    got = train_classifier(model, _iris(), epochs=2, lr=0.05, batch_size=16, seed=0,
                           early_stopping=True)  # fmt: skip
    want, _ = _reference(twin, _iris(), epochs=2, lr=0.05, batch_size=16, seed=0, early=True)
    assert got == pytest.approx(want, rel=1e-5)
    _assert_same_weights(model, twin)  # the kept weights, loaded back
