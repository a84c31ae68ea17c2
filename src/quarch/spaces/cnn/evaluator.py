"""Evaluators of the ``cnn`` space: short training or weight sharing, plus edge costs.

Both evaluators return the same metrics, so a search can switch between them:

* ``val_error``, ``test_error``, ``val_accuracy``: from short training from scratch
  (:class:`EdgeEvaluator`) or from weights inherited from a trained
  :class:`~quarch.spaces.cnn.supernet.SuperNet` with recalibrated batch-norm
  (:class:`SuperNetEvaluator`);
* ``params``, ``flops`` and ``macs`` (``flops / 2``, from torch's flop counter);
* ``weights_kb``, ``activation_kb``, ``memory_kb``, ``energy_mj`` and
  ``latency_model_ms`` from :func:`quarch.spaces.cnn.costs.edge_costs` on the device profile;
* ``latency_ms``: measured with ONNX Runtime (batch 1, one thread, median after
  warm-up; int8 architectures are timed as their ONNX Runtime int8 model) when the
  profile is ``local-cpu``, else the analytic model of the profile.

Measured latency varies between runs with machine load; every other metric is a
deterministic function of the architecture, data and seed. Pass
``latency="model"`` for fully reproducible metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from quarch._errors import ConfigError
from quarch.cost.classical import count_flops, count_params
from quarch.cost.devices import default_budgets, get_device
from quarch.cost.onnx import measure_latency_ms, quantize_int8, to_onnx
from quarch.evaluate import (
    Metrics,
    SeededRNG,
    TrainingEvaluator,
    check_lr,
    classification_error,
    save_weights,
    torch_threads,
)
from quarch.objectives import Budget
from quarch.spaces.cnn.costs import edge_costs
from quarch.spaces.cnn.model import EdgeCNN
from quarch.spaces.cnn.supernet import SuperNet, recalibrate_bn

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.data import Dataset
    from quarch.space import Space

__all__ = [
    "DEFAULT_EPOCHS",
    "DEFAULT_MAX_TRAIN",
    "MIN_STEPS",
    "EdgeEvaluator",
    "SuperNetEvaluator",
    "default_epochs",
    "make_cnn_evaluator",
    "with_profile_budgets",
]

#: Defaults sized so 40 Fashion-MNIST trials take about 45 minutes on 2 CPU cores.
DEFAULT_EPOCHS = 2
#: Optimiser steps a trial takes at least without ``--epochs`` (:func:`default_epochs`).
MIN_STEPS = 100
DEFAULT_MAX_TRAIN = 10_000
DEFAULT_BATCH_SIZE = 128
DEFAULT_LR = 3e-3
_LATENCY_MODES = ("auto", "measured", "model")
_N_CALIBRATION = 256


class _EdgeMetrics:
    """The cost half shared by both evaluators."""

    def __init__(
        self,
        data: Dataset,
        device_profile: str,
        latency: str,
        latency_repeats: int,
        threads: int,
    ) -> None:
        if latency not in _LATENCY_MODES:
            raise ConfigError(f"latency must be one of {list(_LATENCY_MODES)}; got {latency!r}")
        if latency_repeats < 1:
            raise ValueError(f"latency_repeats must be >= 1; got {latency_repeats}")
        self.data = data
        self.profile = get_device(device_profile)
        self.latency = latency
        self.latency_repeats = latency_repeats
        self.threads = threads

    @property
    def measures(self) -> bool:
        """Whether ``latency_ms`` is measured (else modelled)."""
        return self._measures()

    def _measures(self) -> bool:
        if self.latency == "auto":
            return self.profile.measured
        return self.latency == "measured"

    def static(self, arch: Mapping[str, Any]) -> dict[str, float]:
        """The costs read from the architecture alone (and ``latency_ms`` when it is
        the analytic model's): what a budget can be checked on before training."""
        out = edge_costs(arch, tuple(self.data.input_shape), self.data.n_classes, self.profile)
        if not self.measures:
            out["latency_ms"] = out["latency_model_ms"]
        return out

    def __call__(self, arch: Mapping[str, Any], model: nn.Module) -> dict[str, float]:
        shape = tuple(self.data.input_shape)
        out = self.static(arch)
        if self.measures:
            onnx_model = to_onnx(model, shape)
            if int(arch["bits"]) == 8:
                # timing only: 7- and 8-bit weights run the same kernels, so no check
                onnx_model = quantize_int8(
                    onnx_model, self.data.X_train[:_N_CALIBRATION], reduce_range=False
                )
            out["latency_ms"] = measure_latency_ms(
                onnx_model, shape, repeats=self.latency_repeats, threads=self.threads
            )
        return out


class EdgeEvaluator:
    """Train each architecture briefly from scratch and measure its edge costs.

    Args:
        data (Dataset): images ``(n, C, H, W)``.
        device_profile (str): an edge profile in :data:`quarch.cost.devices.DEVICES`.
        epochs (int): training epochs per trial.
        batch_size (int): minibatch size.
        lr (float): Adam learning rate.
        latency (str): ``auto`` (measure on ``local-cpu``, model elsewhere),
            ``measured`` or ``model``.
        latency_repeats (int): timed ONNX Runtime runs per architecture.
        threads (int): ONNX Runtime intra-op threads for timing.
        torch_threads (int): torch threads while training (restored afterwards).
        weights_dir (str | Path | None): if set, each trained ``state_dict`` is saved as
            ``seed_<seed>.pt`` there, so export needs no retraining.
        device (str): torch device for training.
        space (Space | None): validate each architecture against it first.

    Example:
        >>> from quarch.data import load_dataset
        >>> from quarch.spaces.cnn.space import cnn_space
        >>> ev = EdgeEvaluator(load_dataset("digits"), epochs=1, latency="model")
        >>> m = ev.evaluate(cnn_space(n_stages=1, max_blocks=1).sample(0), seed=0)
        >>> 0 <= m["val_error"] <= 1 and m["memory_kb"] > 0
        True
    """

    def __init__(
        self,
        data: Dataset,
        *,
        device_profile: str = "local-cpu",
        epochs: int = DEFAULT_EPOCHS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lr: float = DEFAULT_LR,
        latency: str = "auto",
        latency_repeats: int = 50,
        threads: int = 1,
        torch_threads: int = 1,
        weights_dir: str | Path | None = None,
        device: str = "cpu",
        space: Space | None = None,
    ) -> None:
        if torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1; got {torch_threads}")
        self.torch_threads = torch_threads
        self.costs = _EdgeMetrics(data, device_profile, latency, latency_repeats, threads)
        self.trainer = TrainingEvaluator(
            EdgeCNN,
            data,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            device=device,
            extra_metrics=self._extra,
            space=space,
        )
        self.data = data
        self.fingerprint = data.fingerprint
        self.weights_dir = None if weights_dir is None else Path(weights_dir)

    # what ``quarch train`` / ``quarch export`` (quarch.finalize) read
    @property
    def epochs(self) -> int:
        """Training epochs per trial."""
        return self.trainer.epochs

    @property
    def batch_size(self) -> int:
        """Training minibatch size."""
        return self.trainer.batch_size

    @property
    def lr(self) -> float:
        """Adam learning rate."""
        return self.trainer.lr

    @property
    def device(self) -> str:
        """Torch device for training."""
        return self.trainer.device

    def build(self, arch: Mapping[str, Any], *, seed: int) -> nn.Module:
        """The untrained network of ``arch``, initialised from ``seed``."""
        return self.trainer.build(arch, seed=seed)

    def _extra(self, arch: Mapping[str, Any], model: nn.Module) -> dict[str, float]:
        return self.costs(arch, model.cpu())

    def cheap_metrics(self, arch: Mapping[str, Any]) -> Metrics:
        """Every metric that needs no training: params, FLOPs, MACs, memory, energy and
        the modelled latency (``latency_ms`` too unless it is measured).

        On ``torch_threads`` threads, as training: the FLOP count runs one sample
        through the network, and on two threads of a loaded 2-core machine that took
        5.9 times as long as on one (median of 3 rounds of 8 digits architectures, load
        5-7: 892.0 against 151.6 ms), which every architecture skipped over a budget
        pays before the next is proposed."""
        with torch_threads(self.torch_threads):
            out = self.trainer.cheap_metrics(arch)
            out.update(self.costs.static(arch))  # macs too: edge_costs' count, flops / 2
        return out

    def fit(
        self, arch: Mapping[str, Any], *, seed: int, epochs: int | None = None
    ) -> tuple[nn.Module, Metrics]:
        """Train ``arch`` with ``seed``; return the trained model and its metrics.

        The search's own procedure (thread count included), so the weights are those the
        trial's metrics came from; used by ``quarch train`` and ``quarch export``. It
        never writes ``weights_dir`` (only :meth:`evaluate` does).
        """
        with torch_threads(self.torch_threads):
            model, m = self.trainer.fit(arch, seed=seed, epochs=epochs)
        m["macs"] = m["flops"] / 2.0
        return model, m

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Metrics:
        """Train ``arch`` with ``seed`` and return accuracy and cost metrics; the trained
        weights go to ``weights_dir`` when it is set."""
        model, metrics = self.fit(arch, seed=seed)
        save_weights(model, self.weights_dir, seed)
        return metrics


class SuperNetEvaluator:
    """Score architectures with weights inherited from one trained :class:`SuperNet`.

    The supernet trains once, on the first call (``supernet_epochs`` epochs of
    single-path uniform sampling, seeded by ``seed``); each evaluation then extracts
    the architecture, recalibrates its batch-norm on training images and scores it on
    the validation and test splits. Orders of magnitude cheaper per trial than
    training, at the price of a noisier ranking (see ``benchmarks/supernet_rank.py``).

    Args:
        space (Space): the ``cnn`` space the supernet covers.
        data (Dataset): images ``(n, C, H, W)``.
        supernet_epochs (int): supernet training epochs.
        seed (int): supernet training seed.
        recalibration_batches (int): batches of 256 training images for batch-norm.
        Other arguments as for :class:`EdgeEvaluator`.
    """

    def __init__(
        self,
        space: Space,
        data: Dataset,
        *,
        device_profile: str = "local-cpu",
        supernet_epochs: int = 10,
        seed: int = 0,
        batch_size: int = DEFAULT_BATCH_SIZE,
        lr: float = DEFAULT_LR,
        recalibration_batches: int = 8,
        latency: str = "auto",
        latency_repeats: int = 50,
        threads: int = 1,
        torch_threads: int = 1,
        device: str = "cpu",
    ) -> None:
        if torch_threads < 1:
            raise ValueError(f"torch_threads must be >= 1; got {torch_threads}")
        self.torch_threads = torch_threads
        if supernet_epochs < 1:
            raise ValueError(f"supernet_epochs must be >= 1; got {supernet_epochs}")
        check_lr(lr)
        if isinstance(recalibration_batches, bool) or recalibration_batches < 1:
            raise ValueError(f"recalibration_batches must be >= 1; got {recalibration_batches}")
        self.costs = _EdgeMetrics(data, device_profile, latency, latency_repeats, threads)
        self.space = space
        self.data = data
        self.fingerprint = data.fingerprint
        self.supernet_epochs = supernet_epochs
        self.seed = seed
        self.batch_size = batch_size
        self.lr = lr
        self.recalibration_batches = recalibration_batches
        self.device = device
        self._net: SuperNet | None = None

    @property
    def supernet(self) -> SuperNet:
        """The trained supernet (trained on first use)."""
        return self._supernet()

    def _supernet(self) -> SuperNet:
        if self._net is None:
            with SeededRNG(self.seed, self.device), torch_threads(self.torch_threads):
                net = SuperNet(self.space, tuple(self.data.input_shape), self.data.n_classes)
                net.fit(
                    self.data.X_train,
                    self.data.y_train,
                    epochs=self.supernet_epochs,
                    seed=self.seed,
                    batch_size=self.batch_size,
                    lr=self.lr,
                    device=self.device,
                )
            self._net = net.cpu()
        return self._net

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Metrics:
        """Inherit ``arch``'s weights, recalibrate batch-norm and score it.

        ``seed`` picks the recalibration images, so repeated calls agree.
        """
        arch = self.space.validate(arch)
        net = self.supernet
        with torch_threads(self.torch_threads):
            return self._score(net, arch, seed)

    def _score(self, net: SuperNet, arch: Mapping[str, Any], seed: int) -> Metrics:
        model = net.extract(arch)
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(self.data.X_train))[: 256 * self.recalibration_batches]
        recalibrate_bn(
            model, self.data.X_train[np.sort(idx)], max_batches=self.recalibration_batches
        )
        out: Metrics = {}
        for split in ("val", "test"):
            X = torch.as_tensor(getattr(self.data, f"X_{split}"), dtype=torch.float32)
            y = torch.as_tensor(getattr(self.data, f"y_{split}"), dtype=torch.long)
            out[f"{split}_error"] = classification_error(model, X, y, 1024)
        model.eval()
        out["val_accuracy"] = 1.0 - out["val_error"]
        out["params"] = float(count_params(model))
        out["flops"] = float(count_flops(model, tuple(self.data.input_shape)))
        out.update(self.costs(arch, model))  # macs too: edge_costs' count, flops / 2
        return out


def _load_data(config: SearchConfig) -> Dataset:
    from quarch.data import load_dataset

    if not config.dataset:
        raise ConfigError("space 'cnn' needs --dataset (digits, mnist or fashion-mnist)")
    data = load_dataset(
        config.dataset,
        data_dir=config.data_dir,
        seed=config.seed,
        max_train=config.max_train or DEFAULT_MAX_TRAIN,
    )
    if len(data.input_shape) != 3:
        raise ConfigError(
            f"space 'cnn' needs an image data set (C, H, W); {config.dataset!r} has "
            f"input shape {tuple(data.input_shape)}"
        )
    return data


def default_epochs(n_train: int, batch_size: int) -> int:
    """Epochs of a trial run without ``--epochs``: :data:`DEFAULT_EPOCHS`, or as many
    more as make at least :data:`MIN_STEPS` optimiser steps of ``batch_size``.

    Two epochs suit the image sets the defaults were sized on (10000 MNIST images at
    batch 128 make 158 steps), but the space's default data set, digits, has 1079
    training images: 9 steps an epoch, and after 18 every network of a search was at
    chance (val accuracy 0.100, 0.097 and 0.100 for three trials). Counting steps
    keeps the larger sets as they were and gives digits 12 epochs.

    Example:
        >>> default_epochs(10_000, 128), default_epochs(1079, 128)
        (2, 12)
    """
    steps = -(-n_train // batch_size)  # the last, short batch is a step too
    return max(DEFAULT_EPOCHS, -(-MIN_STEPS // steps))


def with_profile_budgets(budgets: list[str], device_profile: str) -> list[str]:
    """``budgets`` plus the device profile's default budget for every metric they miss.

    A user's own budget on a metric wins over the profile's (``memory_kb<=2048`` on
    ``cortex-m7`` relaxes its 512 KB default); the profile fills in the rest, so
    ``--device-profile cortex-m7`` alone already keeps the search to what fits.
    """
    given = {Budget.parse(b).metric for b in budgets}
    extra = [b for b in default_budgets(device_profile) if Budget.parse(b).metric not in given]
    return [*budgets, *extra]


def make_cnn_evaluator(
    space: Space, config: SearchConfig, *, weights_dir: Path | None = None
) -> EdgeEvaluator | SuperNetEvaluator:
    """The ``cnn`` space's evaluator for ``config`` (options checked by its spec).

    ``config.evaluator_options`` may hold ``device_profile`` (default ``local-cpu``),
    ``latency`` (auto, measured, model), ``latency_repeats``, ``threads`` (ONNX
    Runtime), ``torch_threads`` (training, default 1), ``lr``,
    ``save_weights`` (default true: trained weights go to ``weights_dir``), and
    ``supernet`` (true: weight-sharing evaluation) with ``supernet_epochs`` and
    ``recalibration_batches``. Defaults: 10000 training images, batch 128, and 2 epochs
    or as many as make 100 steps (:func:`default_epochs`: digits gets 12).
    """
    opts = dict(config.evaluator_options)
    if "supercircuit" in opts:  # runs before 0.2 wrote --supercircuit under this name
        opts["supernet"] = opts.pop("supercircuit")
    data = _load_data(config)
    common: dict[str, Any] = {
        "device_profile": opts.get("device_profile", "local-cpu"),
        "latency": opts.get("latency", "auto"),
        "latency_repeats": int(opts.get("latency_repeats", 50)),
        "threads": int(opts.get("threads", 1)),
        "torch_threads": int(opts.get("torch_threads", 1)),
        "lr": check_lr(opts.get("lr", DEFAULT_LR)),
        "batch_size": config.batch_size or DEFAULT_BATCH_SIZE,
        "device": config.device,
    }
    get_device(common["device_profile"])  # fail before any training on a bad name
    if opts.get("supernet", False):
        return SuperNetEvaluator(
            space,
            data,
            supernet_epochs=int(opts.get("supernet_epochs", config.epochs or 10)),
            seed=config.seed,
            recalibration_batches=int(opts.get("recalibration_batches", 8)),
            **common,
        )
    if not opts.get("save_weights", True):
        weights_dir = None
    return EdgeEvaluator(
        data, epochs=config.epochs or default_epochs(len(data.y_train), common["batch_size"]),
        weights_dir=weights_dir, space=space,
        **common,
    )  # fmt: skip
