"""Short training: score an architecture by training it briefly from scratch.

This is the reference evaluator every cheaper one (weight sharing, surrogates) is
measured against. Training is seeded end to end (initialisation, shuffling), so a
repeated evaluation gives the same numbers on the same device and thread count.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from quarch._eager import no_dynamo_import
from quarch.cost.classical import count_flops, count_params
from quarch.evaluate._base import Metrics
from quarch.evaluate._flat_adam import FlatAdam
from quarch.evaluate._hooks import _EPOCH_HOOK, EpochHook, epoch_hook

if TYPE_CHECKING:
    from quarch.data import Dataset
    from quarch.space import Space

__all__ = [
    "EpochHook",
    "SeededRNG",
    "TrainingEvaluator",
    "classification_error",
    "epoch_hook",
    "save_weights",
    "torch_threads",
    "train_classifier",
    "weights_file",
]

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
    wrong = _count_wrong(model, X, y, batch_size)
    model.train(was_training)
    return wrong / max(len(X), 1)


def _count_wrong(model: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int) -> int:
    wrong = 0
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            pred = model(X[i : i + batch_size]).argmax(dim=1)
            wrong += int((pred != y[i : i + batch_size]).sum())
    return wrong


class _ModeSwitch:
    """Train/eval switching for a loop that validates after every step.

    ``nn.Module.train`` walks the module tree through Python generators; on a
    30-sample validation split after every step of a 3-module hybrid that walk cost
    more than the validation forward itself. When no module overrides ``train``, the
    flags are set on a list made once (the same effect); otherwise ``train`` is called.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.modules = list(model.modules())
        self.plain = all(type(m).train is nn.Module.train for m in self.modules)

    def set(self, training: bool) -> None:
        if not self.plain:
            self.model.train(training)
            return
        for m in self.modules:  # what ``train`` sets, past ``Module.__setattr__``'s checks
            m.__dict__["training"] = training

    def error(self, X: torch.Tensor, y: torch.Tensor) -> float:
        """:func:`classification_error` of the model, leaving it in training mode."""
        self.set(False)
        wrong = _count_wrong(self.model, X, y, 1024)
        self.set(True)
        return wrong / max(len(X), 1)


def _copy_state(model: nn.Module) -> dict[str, Any]:
    """The model's weights, copied (what ``copy.deepcopy(model.state_dict())`` gives,
    at a fraction of its Python cost: the tensors are cloned, the metadata kept)."""
    state = model.state_dict()
    out: Any = type(state)((k, v.detach().clone()) for k, v in state.items())
    meta = getattr(state, "_metadata", None)
    if meta is not None:
        out._metadata = meta
    return out  # type: ignore[no-any-return]


def check_lr(lr: Any) -> float:
    """``lr`` as a float if it is a finite number > 0; else ``ValueError`` naming it.

    Checked when an evaluator is made, so a bad ``--evaluator-option lr=...`` stops the
    run before its first trial instead of failing every trial in Adam's constructor.
    """
    if isinstance(lr, bool) or not isinstance(lr, Real) or not 0 < float(lr) < math.inf:
        raise ValueError(f"lr must be a number > 0; got {lr!r}")
    return float(lr)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the old count.

    On a shared 2-core machine one thread per process trained quarch's small networks
    several times faster than two (the threads of concurrent processes spin against
    each other), so the evaluators train on one thread by default.
    """
    if n < 1:
        raise ValueError(f"torch_threads must be >= 1; got {n}")
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


class SeededRNG:
    """Run a block under torch's generators seeded with ``seed``; give the caller's back.

    ``with SeededRNG(seed, device):`` seeds torch's CPU generator (and numpy's global one
    with ``numpy=True``) and, when ``device`` is a CUDA device, that device's generator;
    on exit every generator it touched is restored, so evaluating a trial neither
    depends on nor changes the random streams of the code around it.

    Why not ``fork_rng(devices=[])`` + ``torch.manual_seed(seed)``, the usual spelling:
    ``manual_seed`` reseeds every CUDA generator (before CUDA starts, it queues the seed
    for when it does), while ``fork_rng(devices=[])`` restores only the CPU one, so a
    trial left the caller's CUDA streams reseeded. Forking every CUDA device instead
    would start CUDA (seconds, and device memory) for a run that trains on the CPU.
    Other accelerators (MPS, XPU) are seeded by ``torch.manual_seed``, as before, and
    their generators are not restored.
    """

    def __init__(self, seed: int, device: str | torch.device | None = None, *,
                 numpy: bool = False) -> None:  # fmt: skip
        self.seed = int(seed)
        self.device = torch.device("cpu" if device is None else device)
        self.numpy = numpy
        self._fork: contextlib.AbstractContextManager[Any] | None = None
        self._numpy_state: Any = None

    def __enter__(self) -> SeededRNG:
        cuda = self.device.type == "cuda"
        index = (self.device.index if self.device.index is not None
                 else torch.cuda.current_device()) if cuda else None  # fmt: skip
        self._fork = torch.random.fork_rng(devices=[] if index is None else [index])
        self._fork.__enter__()
        if index is not None:
            torch.cuda.default_generators[index].manual_seed(self.seed)
        if self.device.type in ("cpu", "cuda"):
            torch.random.default_generator.manual_seed(self.seed)
        else:  # MPS, XPU, ...: seeded as torch seeds them (and, like torch, not restored)
            torch.manual_seed(self.seed)
        if self.numpy:
            self._numpy_state = np.random.get_state()
            np.random.seed(self.seed % 2**32)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.numpy:
            np.random.set_state(self._numpy_state)
        assert self._fork is not None
        self._fork.__exit__(*exc)


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
    early_stopping: bool = False,
    eval_every: int | None = None,
    cosine: bool = False,
    on_epoch: EpochHook | None = None,
    snapshots: Sequence[int] = (),
) -> dict[str, float]:
    """Train ``model`` with Adam and cross-entropy on shuffled minibatches.

    The one training loop of quarch's evaluators. Without ``early_stopping`` the
    final weights are scored. With it, the validation error is measured every
    ``eval_every`` optimiser steps and at the end of every epoch, the first weights with
    the lowest validation error are kept (as QNAS reports best validation accuracy), the
    test error is measured on those, and training stops once the validation error is 0.
    ``eval_every=None`` then checks after every step when the validation split has at
    most 256 samples (cheaper than a training step there), else once per epoch.

    With ``cosine`` the learning rate decays from ``lr`` to 0 over all steps (cosine
    annealing), which final training of image networks needs to settle: constant-rate
    Adam left Fashion-MNIST hybrids oscillating by several points between epochs.

    ``on_epoch`` (else the hook of an enclosing :func:`epoch_hook` block) is called
    after every epoch with the validation error the run would return if it stopped
    there (the best so far with ``early_stopping``); without a hook no extra
    validation pass is made.

    ``snapshots`` (epoch counts, 1-based) also records, after each of those epochs, the
    validation and test error of the weights the run would return had it been called
    with ``epochs=e``, as ``val_error_e<e>`` and ``test_error_e<e>``: the same numbers,
    since no snapshot draws a random number or changes a weight. A run that stops early
    (validation error 0) gives its final errors to the snapshots it did not reach. This
    is how a multi-fidelity table (``hqnn-bench``) gets every fidelity from one training.

    The data are fed as float32, or as float64 where every floating parameter of
    ``model`` is float64 (a ``.double()`` model).

    Returns:
        dict: ``val_error``, ``test_error`` (fractions in [0, 1]), ``train_loss``,
        with ``early_stopping`` ``best_epoch``, and the snapshots' errors.

    Raises:
        ValueError: the loss became non-finite (the trial fails with this message).
    """
    # torch._dynamo is not imported on the way (3.3 s once per process; see _eager);
    # a block, not a decorator, so that mutation testing reaches the loop
    with no_dynamo_import():
        dev = torch.device(device)
        model.to(dev)
        # the data at the model's precision: float64 for a .double() model, else float32
        kinds = {p.dtype for p in model.parameters() if p.is_floating_point()}
        f32 = torch.float64 if kinds == {torch.float64} else torch.float32
        Xtr = torch.as_tensor(data.X_train, dtype=f32, device=dev)
        ytr = torch.as_tensor(data.y_train, dtype=torch.long, device=dev)
        Xva = torch.as_tensor(data.X_val, dtype=f32, device=dev)
        yva = torch.as_tensor(data.y_val, dtype=torch.long, device=dev)
        gen = torch.Generator().manual_seed(seed)
        # torch's Adam update on one flat buffer: bit-identical on the CPU, a few torch calls
        # per step instead of a dozen per tensor group (see _flat_adam)
        opt = FlatAdam(model.parameters(), lr=lr, weight_decay=weight_decay)
        n = len(Xtr)
        total = epochs * math.ceil(n / batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total, 1)) if cosine else None
        loss_fn = nn.CrossEntropyLoss()
        best = (math.inf, -1)
        best_state = _copy_state(model) if early_stopping else None
        mode = _ModeSwitch(model)
        every = eval_every or (1 if len(Xva) <= 256 else 10**12)
        loss_val = float("nan")
        step = 0
        hook = on_epoch if on_epoch is not None else _EPOCH_HOOK.get()
        snaps = sorted({int(e) for e in snapshots})
        if snaps and not 1 <= snaps[0] <= snaps[-1] <= epochs:
            raise ValueError(f"snapshots must be epoch counts in [1, {epochs}]; got {snaps}")
        Xte = torch.as_tensor(data.X_test, dtype=f32, device=dev) if snaps else None
        yte = torch.as_tensor(data.y_test, dtype=torch.long, device=dev) if snaps else None
        recorded: dict[str, float] = {}

        def snapshot(e: int) -> None:
            assert Xte is not None and yte is not None
            if best_state is None:
                val = classification_error(model, Xva, yva)
                test = classification_error(model, Xte, yte)
            else:  # the kept (best-so-far) weights, as a run stopping here returns
                current = _copy_state(model)
                model.load_state_dict(best_state)
                val, test = float(best[0]), classification_error(model, Xte, yte)
                model.load_state_dict(current)
            recorded[f"val_error_e{e}"], recorded[f"test_error_e{e}"] = val, test

        try:
            model.train()
            for epoch in range(epochs):
                model.train()
                # drawn on the CPU, where the generator lives, whatever torch's default
                # device (torch.set_default_device("cuda") would ask the CPU generator
                # for a CUDA permutation and fail)
                perm = torch.randperm(n, generator=gen, device="cpu").to(dev)
                for i in range(0, n, batch_size):
                    idx = perm[i : i + batch_size]
                    opt.zero_grad(set_to_none=True)
                    loss = loss_fn(model(Xtr[idx]), ytr[idx])
                    loss.backward()
                    opt.step()
                    if sched is not None:
                        sched.step()
                    loss_val = float(loss.detach())
                    if not math.isfinite(loss_val):
                        raise ValueError(f"training loss became non-finite ({loss_val})")
                    if not early_stopping:
                        continue
                    step += 1
                    if step % every == 0 or i + batch_size >= n:
                        err = mode.error(Xva, yva)
                        if err < best[0]:
                            best = (err, epoch)
                            best_state = _copy_state(model)
                    if best[0] == 0.0:  # nothing left to gain on validation
                        break
                if hook is not None:
                    hook(
                        epoch, best[0] if early_stopping else classification_error(model, Xva, yva)
                    )
                if epoch + 1 in snaps:
                    snapshot(epoch + 1)
                if best[0] == 0.0:
                    break
        finally:
            opt.release()  # every parameter its own storage again
        out = {"train_loss": loss_val}
        if best_state is not None:
            model.load_state_dict(best_state)
            out["best_epoch"] = float(best[1])
        model.eval()
        for split in ("val", "test"):
            # the kept weights' validation error, unless no check was made (no training
            # step: epochs=0), when the untrained weights kept are scored like the test split
            if split == "val" and early_stopping and math.isfinite(best[0]):
                out["val_error"] = float(best[0])
                continue
            X = torch.as_tensor(getattr(data, f"X_{split}"), dtype=f32, device=dev)
            y = torch.as_tensor(getattr(data, f"y_{split}"), dtype=torch.long, device=dev)
            out[f"{split}_error"] = classification_error(model, X, y)
        for e in snaps:  # epochs after an early stop: the final weights
            out[f"val_error_e{e}"] = recorded.get(f"val_error_e{e}", out["val_error"])
            out[f"test_error_e{e}"] = recorded.get(f"test_error_e{e}", out["test_error"])
        return out


def weights_file(weights_dir: str | Path, seed: int) -> Path:
    """Where the weights of the trial evaluated with ``seed`` are saved in ``weights_dir``
    (the one place that names the file; :class:`quarch.study.Run` reads it back)."""
    return Path(weights_dir) / f"seed_{seed}.pt"


def save_weights(model: nn.Module, weights_dir: str | Path | None, seed: int) -> None:
    """Save ``model``'s ``state_dict`` (on the CPU) for the trial with ``seed``, so that
    ``quarch export`` loads it instead of retraining; nothing when ``weights_dir`` is
    ``None``."""
    if weights_dir is None:
        return
    path = weights_file(weights_dir, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save(state, path)


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
        space (Space | None): when given, each architecture is validated against it
            first (a bad one raises :class:`~quarch.SpaceError` naming the key).
        weights_dir (str | Path | None): if set, :meth:`evaluate` saves each trained
            ``state_dict`` there (:func:`weights_file`), so export needs no retraining.

    Example:
        >>> from quarch.data import load_dataset
        >>> from quarch.spaces.mlp.model import MLP
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
        space: Space | None = None,
        weights_dir: str | Path | None = None,
    ) -> None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1; got {epochs}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {batch_size}")
        check_lr(lr)
        self.build_model = build_model
        self.data = data
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.extra_metrics = extra_metrics
        self.space = space
        self.weights_dir = weights_dir
        self.fingerprint = data.fingerprint
        self.last_seconds = 0.0

    def build(self, arch: Mapping[str, Any], *, seed: int) -> nn.Module:
        """The untrained model of ``arch``, initialised from ``seed``."""
        with SeededRNG(seed, numpy=True):
            return self.build_model(arch, tuple(self.data.input_shape), self.data.n_classes)

    def cheap_metrics(self, arch: Mapping[str, Any]) -> Metrics:
        """``params`` and ``flops`` of ``arch``'s network, counted without training."""
        if self.space is not None:
            arch = self.space.validate(arch)
        model = self.build(arch, seed=0)
        return {
            "params": float(count_params(model)),
            "flops": float(count_flops(model, tuple(self.data.input_shape))),
        }

    def fit(
        self, arch: Mapping[str, Any], *, seed: int, epochs: int | None = None
    ) -> tuple[nn.Module, Metrics]:
        """Train ``arch`` from scratch with ``seed``; return the trained model and metrics.

        ``quarch train`` and ``quarch export`` call this to get the weights a trial's
        metrics came from (same seed, same data, same epochs unless ``epochs`` is given).
        """
        t0 = time.perf_counter()
        if self.space is not None:
            arch = self.space.validate(arch)
        model = self.build(arch, seed=seed)
        params = count_params(model)
        flops = count_flops(model, tuple(self.data.input_shape))
        with SeededRNG(seed, self.device):
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
        """Train ``arch`` from scratch with ``seed`` and return its metrics; the trained
        weights go to ``weights_dir`` when it is set."""
        model, metrics = self.fit(arch, seed=seed)
        save_weights(model, self.weights_dir, seed)
        return metrics
