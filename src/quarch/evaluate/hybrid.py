"""The ``hqnn`` evaluator: short training of a :class:`~quarch.models.hybrid.HybridNet`
plus the costs that matter on quantum hardware.

Metrics (all per architecture):

* ``val_error``, ``test_error``, ``val_accuracy`` after short training (Adam, the
  architecture's ``lr``) with early stopping on validation (:func:`train_hybrid`);
* ``params`` (trainable, classical + circuit weights) and ``flops`` = classical FLOPs
  of the front-end and head (torch's counter) + the circuit's simulation FLOPs
  (:func:`~quarch.cost.quantum.quantum_flops`), per sample;
* ``qubits``, ``depth``, ``two_qubit_gates`` (native two-qubit gates after
  decomposition), ``runtime_proxy`` (seconds per sample on ``device_profile``);
* ``subcircuits`` and ``cut_overhead`` (``log10`` of the sampling overhead, since
  overheads of wide circuits overflow a float) for a device of ``qubit_budget`` qubits;
* ``sim_time_ms``: measured wall time of one forward pass of the quantum layer on one
  batch. It is the only metric that is **not reproducible** (machine load, threads);
* ``noisy_val_error`` when ``noise`` is set: the trained model re-scored on the
  density-matrix path with the profile's noise model (first ``noise_samples``
  validation samples; circuits above ``noise_max_qubits`` qubits score 1.0).

Evaluator options (``config.evaluator_options``): ``qubit_budget`` (int),
``device_profile`` (``ibm-heron``/``ibm-eagle``), ``noise`` (``True`` for the device
profile's noise, or a profile name), ``supercircuit`` (bool: score with weights inherited
from a trained SuperCircuit), ``cutter`` (``builtin``/``qiskit``), ``shots``,
``save_weights`` (default true: trained weights go to ``RUN/weights/``),
``finetune_steps`` (default 20 with ``supercircuit``, see
:data:`quarch.models.supercircuit.DEFAULT_FINETUNE_STEPS`), ``supercircuit_steps``,
``noise_samples``, ``noise_max_qubits``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from quarch._errors import ConfigError
from quarch.cost.classical import count_flops, count_params
from quarch.cost.cutting import estimate_cuts, find_cuts_qiskit
from quarch.cost.quantum import (
    get_quantum_device,
    native_two_qubit_gates,
    noise_model,
    quantum_flops,
    runtime_proxy,
)
from quarch.evaluate._base import Metrics
from quarch.evaluate.training import classification_error
from quarch.models.hybrid import HybridNet, PCABasis, build_circuit, fit_pca, observables_of
from quarch.quantum import resources

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.data import Dataset
    from quarch.space import Space

__all__ = [
    "DEFAULTS",
    "HQNNEvaluator",
    "make_hqnn_evaluator",
    "prepare_data",
    "quantum_cost_metrics",
    "train_hybrid",
]

#: Per data set defaults: (epochs, batch size, max training samples).
DEFAULTS: dict[str, tuple[int, int, int | None]] = {
    "iris": (30, 16, None),
    "wine": (40, 16, None),
    "breast-cancer": (20, 32, None),
    "digits": (15, 32, None),
    "mnist": (3, 64, 10_000),
    "fashion-mnist": (3, 64, 10_000),
}
_OPTIONS = frozenset(
    {"qubit_budget", "device_profile", "noise", "supercircuit", "cutter", "shots",
     "finetune_steps", "supercircuit_steps", "noise_samples", "noise_max_qubits",
     "save_weights"}
)  # fmt: skip
PCA_MAX = 256
"""Most PCA components fitted; wider amplitude embeddings are padded with zeros."""


def prepare_data(data: Dataset) -> Dataset:
    """Standardise tabular features on the training split (images stay in [0, 1])."""
    if len(data.input_shape) != 1:
        return data
    from quarch.data import standardise

    Xtr, Xva, Xte = standardise(data.X_train, data.X_val, data.X_test)
    return dataclasses.replace(data, X_train=Xtr, X_val=Xva, X_test=Xte)


def quantum_cost_metrics(
    arch: Mapping[str, Any],
    *,
    qubit_budget: int | None = None,
    device_profile: str = "ibm-heron",
    cutter: str = "builtin",
    shots: int | None = None,
) -> dict[str, float]:
    """The deterministic quantum costs of ``arch`` (no training needed)."""
    circuit = build_circuit(arch)
    res = resources(circuit)
    out = {
        "qubits": float(circuit.n_qubits),
        "depth": float(res.depth),
        "two_qubit_gates": float(native_two_qubit_gates(circuit)),
        "runtime_proxy": runtime_proxy(circuit, device_profile, shots=shots),
        "quantum_flops": quantum_flops(circuit, len(observables_of(arch))),
    }
    if qubit_budget is None:
        out["subcircuits"], out["cut_overhead"] = 1.0, 0.0
    else:
        if cutter == "qiskit":
            cut = find_cuts_qiskit(circuit, int(qubit_budget))
        else:
            cut = estimate_cuts(circuit, int(qubit_budget))
        out["subcircuits"], out["cut_overhead"] = float(cut.subcircuits), cut.log10_overhead
    return out


class HQNNEvaluator:
    """Train a HybridNet briefly and measure accuracy and quantum costs.

    Args:
        data (Dataset): the data set (tabular sets standardised by :func:`prepare_data`).
        space (Space): the ``hqnn`` space (to size the PCA basis once).
        epochs (int): training epochs per evaluation.
        batch_size (int): minibatch size.
        qubit_budget (int | None): device size for ``subcircuits`` / ``cut_overhead``.
        device_profile (str): quantum device profile for ``runtime_proxy`` and noise.
        noise (bool | str | None): also compute ``noisy_val_error`` (a profile name
            picks that profile's noise).
        cutter (str): ``"builtin"`` (fast estimator) or ``"qiskit"`` (find_cuts).
        shots (int | None): shots per execution (default: the profile's).
        device (str): torch device for training.
        noise_samples (int): validation samples scored on the noisy path.
        noise_max_qubits (int): widest circuit simulated with density matrices.
        weights_dir (str | Path | None): if set, :meth:`evaluate` saves each trained
            ``state_dict`` there as ``seed_<seed>.pt``, so export needs no retraining.
    """

    def __init__(
        self,
        data: Dataset,
        space: Space,
        *,
        epochs: int = 20,
        batch_size: int = 32,
        qubit_budget: int | None = None,
        device_profile: str = "ibm-heron",
        noise: bool | str | None = None,
        cutter: str = "builtin",
        shots: int | None = None,
        device: str = "cpu",
        noise_samples: int = 200,
        noise_max_qubits: int = 8,
        weights_dir: str | Path | None = None,
    ) -> None:
        if qubit_budget is not None and (
            isinstance(qubit_budget, bool) or not isinstance(qubit_budget, int) or qubit_budget < 1
        ):
            raise ConfigError(f"qubit_budget must be an integer >= 1; got {qubit_budget!r}")
        if cutter not in ("builtin", "qiskit"):
            raise ConfigError(f"cutter must be 'builtin' or 'qiskit'; got {cutter!r}")
        get_quantum_device(device_profile)
        if isinstance(noise, str):
            get_quantum_device(noise)
        self.data = data
        self.space = space
        self.qubit_budget = qubit_budget
        self.device_profile = device_profile
        self.noise = noise
        self.cutter = cutter
        self.shots = shots
        self.noise_samples = noise_samples
        self.noise_max_qubits = noise_max_qubits
        self.fingerprint = data.fingerprint
        self._pca: PCABasis | None = None
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = device
        self.weights_dir = None if weights_dir is None else Path(weights_dir)
        self.last_seconds = 0.0

    # -- model -------------------------------------------------------------------------
    @property
    def pca(self) -> PCABasis:
        """The PCA basis of the training split (fitted once, on first use)."""
        if self._pca is None:
            need = 1
            for c in self.space.choices:
                if c.name == "qubits":
                    q = max(c.options)
                    amp = "amplitude" in self.space["embedding"].options
                    need = 2**q if amp else q
            self._pca = fit_pca(self.data.X_train, min(need, PCA_MAX))
        return self._pca

    def build_model(
        self, arch: Mapping[str, Any], input_shape: tuple[int, ...], n_classes: int
    ) -> HybridNet:
        """``HybridNet`` with this data set's PCA basis."""
        pca = self.pca if arch["frontend"] == "pca" else None
        return HybridNet(arch, input_shape, n_classes, pca=pca)

    # -- metrics -----------------------------------------------------------------------
    def _extra(self, arch: Mapping[str, Any], model: nn.Module) -> dict[str, float]:
        assert isinstance(model, HybridNet)
        out = quantum_cost_metrics(
            arch, qubit_budget=self.qubit_budget, device_profile=self.device_profile,
            cutter=self.cutter, shots=self.shots,
        )  # fmt: skip
        shape = tuple(self.data.input_shape)
        classical = count_flops(model.frontend, shape)
        classical += count_flops(model.head, (len(model.observables),))
        out["flops"] = float(classical) + out.pop("quantum_flops")
        out["sim_time_ms"] = self._sim_time(model)
        if self.noise:
            out["noisy_val_error"] = self.noisy_error(model)
        return out

    def _sim_time(self, model: HybridNet) -> float:
        X = torch.as_tensor(self.data.X_val[: self.batch_size], dtype=torch.float32)
        with torch.no_grad():
            feats = model.features(X.to(model.quantum.weights.device))
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                model.quantum(feats)
                times.append(time.perf_counter() - t0)
        return 1000.0 * float(np.median(times))

    def noisy_error(self, model: HybridNet) -> float:
        """Validation error of the trained model on the noisy density-matrix path."""
        from quarch.quantum import noisy_expval

        if model.circuit.n_qubits > self.noise_max_qubits:
            return 1.0
        prof = self.noise if isinstance(self.noise, str) else self.device_profile
        nm = noise_model(prof)
        X = torch.as_tensor(self.data.X_val[: self.noise_samples], dtype=torch.float32)
        y = torch.as_tensor(self.data.y_val[: self.noise_samples])
        wrong = 0
        chunk = max(1, int(2**28 // (3 * 8 * 4**model.circuit.n_qubits)))
        with torch.no_grad():
            for i in range(0, len(X), chunk):
                feats = model.features(X[i : i + chunk])
                q = noisy_expval(
                    model.circuit, model.observables, inputs=feats,
                    weights=model.quantum.weights, noise_model=nm,
                    dtype=torch.complex64,
                )  # fmt: skip
                logits = model.head(q.float())
                wrong += int((logits.argmax(1) != y[i : i + chunk]).sum())
        return wrong / max(len(X), 1)

    def build(self, arch: Mapping[str, Any], *, seed: int) -> HybridNet:
        """The untrained model of ``arch``, initialised from ``seed``."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.build_model(arch, tuple(self.data.input_shape), self.data.n_classes)

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Metrics:
        """Train ``arch`` with ``seed`` and return its metrics (see the module docstring);
        the trained weights go to ``weights_dir`` when it is set."""
        model, metrics = self.fit(arch, seed=seed)
        if self.weights_dir is not None:
            self.weights_dir.mkdir(parents=True, exist_ok=True)
            torch.save(model.state_dict(), self.weights_dir / f"seed_{seed}.pt")
        return metrics

    def fit(
        self, arch: Mapping[str, Any], *, seed: int, epochs: int | None = None
    ) -> tuple[HybridNet, Metrics]:
        """Train ``arch`` with ``seed``; return the trained model (kept weights) and metrics.

        Circuits of up to 10 qubits run on one torch thread: their tensors are too small
        to gain from more, and on a loaded machine extra threads only contend.
        """
        with _threads(1 if int(arch["qubits"]) <= 10 else torch.get_num_threads()):
            t0 = time.perf_counter()
            model = self.build(arch, seed=seed)
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                res = self._train(model, arch, seed=seed, epochs=epochs)
            model.cpu()
            metrics: Metrics = {
                "val_error": res["val_error"],
                "test_error": res["test_error"],
                "val_accuracy": 1.0 - res["val_error"],
                "params": float(count_params(model)),
            }
            metrics.update(self._extra(arch, model))
            self.last_seconds = time.perf_counter() - t0
            return model, metrics

    def _train(
        self, model: nn.Module, arch: Mapping[str, Any], *, seed: int, epochs: int | None
    ) -> dict[str, float]:
        """:func:`train_hybrid` with this evaluator's data and settings (hybrid or ablation)."""
        return train_hybrid(
            model, self.data, epochs=self.epochs if epochs is None else epochs,
            lr=float(arch["lr"]), batch_size=self.batch_size, seed=seed, device=self.device,
        )  # fmt: skip

    def fit_ablation(
        self, arch: Mapping[str, Any], *, seed: int, epochs: int | None = None
    ) -> tuple[nn.Module, Metrics]:
        """Train the classical ablation of ``arch`` exactly as :meth:`fit` trains the hybrid.

        Same front-end (and PCA basis), same head, the circuit replaced by a classical
        layer with the same number of trainable parameters; same data, seed, epochs.
        """
        from quarch.models.hybrid import classical_ablation

        with _threads(1):
            pca = self.pca if arch["frontend"] == "pca" else None
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                model = classical_ablation(
                    arch, tuple(self.data.input_shape), self.data.n_classes, pca=pca
                )
                res = self._train(model, arch, seed=seed, epochs=epochs)
            model.cpu()
            return model, {
                "val_error": res["val_error"],
                "test_error": res["test_error"],
                "params": float(count_params(model)),
            }


@contextlib.contextmanager
def _threads(n: int) -> Iterator[None]:
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train_hybrid(
    model: nn.Module,
    data: Dataset,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    seed: int,
    device: str | torch.device = "cpu",
    eval_every: int | None = None,
    cosine: bool = False,
) -> dict[str, float]:
    """Adam + cross-entropy with early stopping on the validation split.

    With ``cosine`` the learning rate decays from ``lr`` to 0 over all steps (cosine
    annealing), which final training of image networks needs to settle: constant-rate
    Adam left Fashion-MNIST hybrids oscillating by several points between epochs.

    Every ``eval_every`` optimiser steps and at the end of every epoch the validation
    error is measured; the first weights with the lowest validation error are kept
    (early stopping, as QNAS reports best validation accuracy), and the test error is
    measured on those weights only. ``None`` checks after every step when the
    validation split has at most 256 samples (cheaper than a training step there),
    else once per epoch. Training stops once the validation error reaches 0.

    Returns:
        dict: ``val_error``, ``test_error``, ``train_loss`` and ``best_epoch``.

    Raises:
        ValueError: the loss became non-finite.
    """
    import copy

    dev = torch.device(device)
    model.to(dev)
    f32 = torch.float32
    Xtr = torch.as_tensor(data.X_train, dtype=f32, device=dev)
    ytr = torch.as_tensor(data.y_train, dtype=torch.long, device=dev)
    Xva = torch.as_tensor(data.X_val, dtype=f32, device=dev)
    yva = torch.as_tensor(data.y_val, dtype=torch.long, device=dev)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    total = epochs * math.ceil(len(Xtr) / batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(total, 1)) if cosine else None
    loss_fn = nn.CrossEntropyLoss()
    best = (math.inf, -1)
    best_state = copy.deepcopy(model.state_dict())
    loss_val = float("nan")
    every = eval_every or (1 if len(Xva) <= 256 else 10**12)
    step = 0
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(Xtr), generator=gen).to(dev)
        for i in range(0, len(Xtr), batch_size):
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
            step += 1
            last = i + batch_size >= len(Xtr)
            if step % every == 0 or last:
                err = classification_error(model, Xva, yva)
                if err < best[0]:
                    best = (err, epoch)
                    best_state = copy.deepcopy(model.state_dict())
            if best[0] == 0.0:  # nothing left to gain on validation
                break
        if best[0] == 0.0:
            break
    model.load_state_dict(best_state)
    model.eval()
    Xte = torch.as_tensor(data.X_test, dtype=f32, device=dev)
    yte = torch.as_tensor(data.y_test, dtype=torch.long, device=dev)
    return {
        "val_error": float(best[0]),
        "test_error": classification_error(model, Xte, yte),
        "train_loss": loss_val,
        "best_epoch": float(best[1]),
    }


def _options(config: SearchConfig) -> dict[str, Any]:
    opts = dict(config.evaluator_options)
    unknown = sorted(set(opts) - _OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown hqnn evaluator option(s) {unknown}; allowed: {', '.join(sorted(_OPTIONS))}"
        )
    return opts


def make_hqnn_evaluator(space: Space, config: SearchConfig) -> Any:
    """The ``hqnn`` space's evaluator for ``config`` (loads and prepares the data set).

    With ``evaluator_options["supercircuit"]`` true it returns a
    :class:`~quarch.models.supercircuit.SuperCircuitEvaluator` instead.
    """
    from quarch.data import load_dataset

    if not config.dataset:
        raise ConfigError(f"space {config.space!r} needs --dataset")
    opts = _options(config)
    epochs, batch, max_train = DEFAULTS.get(config.dataset, (10, 32, None))
    data = load_dataset(
        config.dataset, data_dir=config.data_dir, seed=config.seed,
        max_train=config.max_train or max_train,
    )  # fmt: skip
    data = prepare_data(data)
    common: dict[str, Any] = {
        k: opts[k]
        for k in ("qubit_budget", "device_profile", "noise", "cutter", "shots")
        if k in opts
    }
    if opts.get("supercircuit"):
        from quarch.models.supercircuit import DEFAULT_FINETUNE_STEPS, SuperCircuitEvaluator

        return SuperCircuitEvaluator(
            data, space, seed=config.seed, batch_size=config.batch_size or batch,
            finetune_steps=int(opts.get("finetune_steps", DEFAULT_FINETUNE_STEPS)),
            steps=int(opts.get("supercircuit_steps", 0)) or None, device=config.device,
            **common,
        )  # fmt: skip
    for k in ("noise_samples", "noise_max_qubits"):
        if k in opts:
            common[k] = int(opts[k])
    weights_dir = config.run_dir / "weights" if opts.get("save_weights", True) else None
    return HQNNEvaluator(
        data, space, epochs=config.epochs or epochs, batch_size=config.batch_size or batch,
        device=config.device, weights_dir=weights_dir, **common,
    )  # fmt: skip
