"""Short training: score an architecture by training it briefly from scratch.

This is the reference evaluator every cheaper one (weight sharing, surrogates) is
measured against. Training is seeded end to end (initialisation, shuffling), so a
repeated evaluation gives the same numbers on the same device and thread count.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from quarch.cost.classical import count_flops, count_params
from quarch.evaluate._base import Metrics

if TYPE_CHECKING:
    from quarch.data import Dataset

__all__ = ["TrainingEvaluator", "classification_error", "train_classifier"]

ModelBuilder = Callable[[Mapping[str, Any], tuple[int, ...], int], nn.Module]


def classification_error(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 1024
) -> float:
    """Fraction of ``X`` that ``model`` misclassifies, scored in eval mode.

    The model's train/eval mode is restored afterwards, so training loops can call it
    between steps.
    """
    was_training = model.training
    model.eval()
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            pred = model(X[i : i + batch_size]).argmax(dim=1)
            wrong += int((pred != y[i : i + batch_size]).sum())
    model.train(was_training)
    return wrong / max(len(X), 1)


def train_classifier(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device: str | torch.device = "cpu",
    weight_decay: float = 0.0,
) -> dict[str, float]:
    """Train ``model`` with Adam and cross-entropy; return its final errors.

    Returns:
        dict: ``val_error``, ``test_error`` (fractions in [0, 1]) and ``train_loss``.

    Raises:
        ValueError: the loss became non-finite (the trial fails with this message).
    """
    dev = torch.device(device)
    model.to(dev)
    Xtr = torch.as_tensor(data.X_train, dtype=torch.float32, device=dev)
    ytr = torch.as_tensor(data.y_train, dtype=torch.long, device=dev)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    n = len(Xtr)
    loss_val = float("nan")
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen).to(dev)
        for i in range(0, n, batch_size):
            idx = perm[i : i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            loss_val = float(loss.detach())
            if not math.isfinite(loss_val):
                raise ValueError(f"training loss became non-finite ({loss_val})")
    out = {"train_loss": loss_val}
    for split in ("val", "test"):
        X = torch.as_tensor(getattr(data, f"X_{split}"), dtype=torch.float32, device=dev)
        y = torch.as_tensor(getattr(data, f"y_{split}"), dtype=torch.long, device=dev)
        out[f"{split}_error"] = classification_error(model, X, y)
    return out


class TrainingEvaluator:
    """Build a model from an architecture, train it briefly, and measure it.

    Args:
        build_model (Callable): ``(arch, input_shape, n_classes) -> nn.Module``.
        data (Dataset): the data set with its train/val/test splits.
        epochs (int): training epochs per evaluation.
        batch_size (int): minibatch size.
        lr (float): learning rate when the architecture has no ``lr`` choice.
        device (str): torch device.
        extra_metrics (Callable | None): ``(arch, model) -> dict`` of further metrics
            (quantum costs, latency, ...), computed after training.

    Example:
        >>> from quarch.data import load_dataset
        >>> from quarch.models import MLP
        >>> ev = TrainingEvaluator(MLP, load_dataset("iris"), epochs=5)
        >>> arch = {"n_layers": 1, "width_0": 8, "activation": "relu"}
        >>> sorted(ev.evaluate(arch, seed=0))[:3]
        ['flops', 'params', 'test_error']
    """

    def __init__(
        self,
        build_model: ModelBuilder,
        data: Dataset,
        *,
        epochs: int = 60,
        batch_size: int = 32,
        lr: float = 0.01,
        device: str = "cpu",
        extra_metrics: Callable[[Mapping[str, Any], nn.Module], Mapping[str, float]] | None = None,
    ) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1; got {epochs}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        self.build_model = build_model
        self.data = data
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.extra_metrics = extra_metrics
        self.fingerprint = data.fingerprint
        self.last_seconds = 0.0

    def build(self, arch: Mapping[str, Any], *, seed: int) -> nn.Module:
        """The untrained model of ``arch``, initialised from ``seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            return self.build_model(arch, tuple(self.data.input_shape), self.data.n_classes)

    def fit(
        self, arch: Mapping[str, Any], *, seed: int, epochs: int | None = None
    ) -> tuple[nn.Module, Metrics]:
        """Train ``arch`` from scratch with ``seed``; return the trained model and metrics.

        ``quarch train`` and ``quarch export`` call this to get the weights a trial's
        metrics came from (same seed, same data, same epochs unless ``epochs`` is given).
        """
        t0 = time.perf_counter()
        model = self.build(arch, seed=seed)
        params = count_params(model)
        flops = count_flops(model, tuple(self.data.input_shape))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            res = train_classifier(
                model,
                self.data,
                epochs=self.epochs if epochs is None else epochs,
                lr=float(arch.get("lr", self.lr)),
                batch_size=self.batch_size,
                seed=seed,
                device=self.device,
            )
        metrics: Metrics = {
            "val_error": res["val_error"],
            "test_error": res["test_error"],
            "val_accuracy": 1.0 - res["val_error"],
            "params": float(params),
            "flops": float(flops),
        }
        if self.extra_metrics is not None:
            metrics.update({k: float(v) for k, v in self.extra_metrics(arch, model).items()})
        self.last_seconds = time.perf_counter() - t0  # wall time is not a metric: not reproducible
        return model, metrics

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Metrics:
        """Train ``arch`` from scratch with ``seed`` and return its metrics."""
        return self.fit(arch, seed=seed)[1]
