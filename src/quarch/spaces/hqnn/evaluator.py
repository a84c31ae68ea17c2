"""Evaluators of the ``hqnn`` space: short training of a
:class:`~quarch.spaces.hqnn.model.HybridNet`, or weights inherited from a trained
:class:`~quarch.spaces.hqnn.supercircuit.SuperCircuit`, each with the space's costs.

Both return ``val_error``, ``test_error``, ``val_accuracy``, ``params`` (trainable,
classical + circuit weights) and the costs of :class:`~quarch.spaces.hqnn.costs.HybridCosts`.
Short training (:class:`HQNNEvaluator`) is Adam at the architecture's ``lr`` with early
stopping on validation (:func:`quarch.evaluate.train_classifier`); with ``noise_aware``
the circuit trains under the device's noise (:class:`~quarch.spaces.hqnn.noise.NoisyLayer`)
and ``val_error``/``test_error`` are then measured without noise, beside
``noisy_val_error``.

Evaluator options (``config.evaluator_options``): see :attr:`HQNNSpec.evaluator_options
<quarch.spaces.hqnn.HQNNSpec>`.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from quarch.cost.classical import count_params
from quarch.cost.device_costs import TrainingLoad
from quarch.cost.routing import RoutedCircuit
from quarch.evaluate import (
    Metrics,
    SeededRNG,
    classification_error,
    save_weights,
    torch_threads,
    train_classifier,
)
from quarch.spaces.hqnn.costs import HybridCosts
from quarch.spaces.hqnn.model import HybridNet, PCABasis, classical_ablation, fit_pca
from quarch.spaces.hqnn.noise import NoisyLayer
from quarch.spaces.hqnn.supercircuit import SuperCircuit, train_supercircuit

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.data import Dataset
    from quarch.space import Space

__all__ = [
    "DEFAULTS",
    "DEFAULT_FINETUNE_STEPS",
    "HQNNEvaluator",
    "SuperCircuitEvaluator",
    "make_hqnn_evaluator",
    "prepare_data",
    "record_epochs",
    "space_pca",
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
PCA_MAX = 256
"""Most PCA components fitted; wider amplitude embeddings are padded with zeros."""


def prepare_data(data: Dataset) -> Dataset:
    """Standardise tabular features on the training split (images stay in [0, 1])."""
    if len(data.input_shape) != 1:
        return data
    from quarch.data import standardise

    Xtr, Xva, Xte = standardise(data.X_train, data.X_val, data.X_test)
    return dataclasses.replace(data, X_train=Xtr, X_val=Xva, X_test=Xte)


def space_pca(space: Space, data: Dataset) -> PCABasis:
    """The PCA basis of the training split, wide enough for every architecture of
    ``space`` (``2**max_qubits`` components with amplitude embeddings, else
    ``max_qubits``; at most :data:`PCA_MAX`)."""
    q = max(space["qubits"].options)
    need = 2**q if "amplitude" in space["embedding"].options else q
    return fit_pca(data.X_train, min(need, PCA_MAX))


def _threads(qubits: int) -> int:
    """Torch threads for circuits of ``qubits``: one up to 10, where the tensors are too
    small to gain from more and on a loaded machine extra threads only contend (a
    SuperCircuit's 150-step iris search on a loaded 2-core machine took 26.63-28.03 s of
    CPU on two threads against 9.78-10.39 s on one, and 85.32-111.19 s of wall time
    against 51.64-52.14 s); the process's count above."""
    return 1 if qubits <= 10 else torch.get_num_threads()


class HQNNEvaluator:
    """Train a HybridNet briefly and measure accuracy and quantum costs.

    Args:
        data (Dataset): the data set (tabular sets standardised by :func:`prepare_data`).
        space (Space): the ``hqnn`` space (to size the PCA basis once).
        epochs (int): training epochs per evaluation.
        batch_size (int): minibatch size.
        device (str): torch device for training.
        weights_dir (str | Path | None): if set, :meth:`evaluate` saves each trained
            ``state_dict`` there as ``seed_<seed>.pt``, so export needs no retraining.
        noise_aware (bool): train under the noise model (needs ``noise``).
        record_epochs (Sequence[int]): also return ``val_error_e<k>`` and
            ``test_error_e<k>`` after ``k`` epochs for each ``k`` (all from the one
            training: see :func:`~quarch.evaluate.train_classifier`'s ``snapshots``) and
            the training's wall time, ``train_seconds``: a multi-fidelity table's row.
        **cost_options: the options of :class:`~quarch.spaces.hqnn.costs.HybridCosts`
            (``training`` defaults to this evaluator's own training).
    """

    def __init__(
        self,
        data: Dataset,
        space: Space,
        *,
        epochs: int = 20,
        batch_size: int = 32,
        device: str = "cpu",
        weights_dir: str | Path | None = None,
        noise_aware: bool = False,
        record_epochs: Sequence[int] = (),
        **cost_options: Any,
    ) -> None:
        self.record_epochs = tuple(sorted({int(e) for e in record_epochs}))
        if (
            self.record_epochs
            and not 1 <= self.record_epochs[0] <= self.record_epochs[-1] <= epochs
        ):
            from quarch._errors import ConfigError

            raise ConfigError(
                f"record_epochs must be epoch counts in [1, {epochs}] (the training's "
                f"epochs); got {list(self.record_epochs)}"
            )
        cost_options.setdefault("training", TrainingLoad(len(data.X_train), epochs, batch_size))
        self.costs = HybridCosts(data, batch_size=batch_size, **cost_options)
        if noise_aware and self.record_epochs:
            from quarch._errors import ConfigError

            raise ConfigError("record_epochs needs noiseless training, not noise_aware")
        if noise_aware and self.costs.noise_setup is None:
            from quarch._errors import ConfigError

            raise ConfigError("noise_aware needs a noise model: set noise (--noise DEVICE)")
        self.noise_aware = bool(noise_aware)
        self.data = data
        self.space = space
        self.fingerprint = data.fingerprint
        self._pca: PCABasis | None = None
        self.epochs = epochs
        self.batch_size = batch_size
        self.device = device
        self.weights_dir = None if weights_dir is None else Path(weights_dir)
        self.last_seconds = 0.0

    @property
    def pca(self) -> PCABasis:
        """The PCA basis of the training split (fitted once, on first use)."""
        return self._fitted_pca()

    def _fitted_pca(self) -> PCABasis:
        if self._pca is None:
            self._pca = space_pca(self.space, self.data)
        return self._pca

    def build(self, arch: Mapping[str, Any], *, seed: int) -> HybridNet:
        """The untrained model of ``arch``, initialised from ``seed``."""
        with SeededRNG(seed):
            pca = self.pca if arch["frontend"] == "pca" else None
            return HybridNet(arch, tuple(self.data.input_shape), self.data.n_classes, pca=pca)

    def cheap_metrics(self, arch: Mapping[str, Any]) -> Metrics:
        """The metrics that need no training: quantum and routed device costs,
        ``flops``, ``params``; on the threads :meth:`fit` trains on (the FLOP count runs
        a sample through the network: see ``EdgeEvaluator.cheap_metrics``)."""
        arch = self.space.validate(arch)
        with torch_threads(_threads(int(arch["qubits"]))):
            return self.costs.static(arch, self.build(arch, seed=0))

    def routed_circuit(self, arch: Mapping[str, Any]) -> RoutedCircuit | None:
        """``arch``'s circuit routed on the run's calibrated target (``None`` without
        one): what the report draws and ``quarch export --format qiskit`` writes."""
        return self.costs.routed(self.space.validate(arch))

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Metrics:
        """Train ``arch`` with ``seed`` and return its metrics (see the module docstring);
        the trained weights go to ``weights_dir`` when it is set."""
        model, metrics = self.fit(arch, seed=seed)
        save_weights(model, self.weights_dir, seed)
        return metrics

    def fit(
        self, arch: Mapping[str, Any], *, seed: int, epochs: int | None = None
    ) -> tuple[HybridNet, Metrics]:
        """Train ``arch`` with ``seed``; return the trained model (kept weights) and metrics.

        Circuits of up to 10 qubits run on one torch thread: their tensors are too small
        to gain from more, and on a loaded machine extra threads only contend.
        """
        arch = self.space.validate(arch)
        self.costs.routed(arch)  # a circuit wider than the device fails before training
        with torch_threads(_threads(int(arch["qubits"]))):
            t0 = time.perf_counter()
            model = self.build(arch, seed=seed)
            with SeededRNG(seed, self.device):
                if self.noise_aware:
                    res = self._train_noisy(model, arch, seed=seed, epochs=epochs)
                else:
                    res = self._train(model, arch, seed=seed, epochs=epochs)
            model.cpu()
            train_seconds = time.perf_counter() - t0
            metrics: Metrics = {
                "val_error": res["val_error"],
                "test_error": res["test_error"],
                "val_accuracy": 1.0 - res["val_error"],
                "params": float(count_params(model)),
            }
            if self.record_epochs:
                metrics["train_seconds"] = train_seconds
                for e in self.record_epochs:  # a shorter fit (epochs=) records fewer
                    for split in ("val", "test"):
                        if f"{split}_error_e{e}" in res:
                            metrics[f"{split}_error_e{e}"] = res[f"{split}_error_e{e}"]
            metrics.update(self.costs(arch, model, seed=seed))
            self.last_seconds = time.perf_counter() - t0
            return model, metrics

    def _train(
        self, model: nn.Module, arch: Mapping[str, Any], *, seed: int, epochs: int | None
    ) -> dict[str, float]:
        """Short training with early stopping (hybrid or ablation alike)."""
        n = self.epochs if epochs is None else epochs
        return train_classifier(
            model, self.data, epochs=n, lr=float(arch["lr"]), batch_size=self.batch_size,
            seed=seed, device=self.device, early_stopping=True,
            snapshots=[e for e in self.record_epochs if e <= n],
        )  # fmt: skip

    def _train_noisy(
        self, model: HybridNet, arch: Mapping[str, Any], *, seed: int, epochs: int | None
    ) -> dict[str, float]:
        """Train with the quantum layer run under the noise model (early stopping then
        selects on the noisy validation error), then score without noise."""
        setup = self.costs.noise_setup
        assert setup is not None
        nc, words = self.costs.noisy_circuit(arch, model.circuit)
        layer = model.quantum
        model.quantum = NoisyLayer(layer, nc, words, setup, seed=seed)  # type: ignore[assignment]
        try:
            self._train(model, arch, seed=seed, epochs=epochs)
        finally:
            model.quantum = layer
        # scored where training left the model (its device, not the CPU)
        dev = model.quantum.weights.device
        return {
            f"{split}_error": classification_error(
                model,
                torch.as_tensor(getattr(self.data, f"X_{split}"), dtype=torch.float32, device=dev),
                torch.as_tensor(getattr(self.data, f"y_{split}"), device=dev),
            )
            for split in ("val", "test")
        }

    def fit_ablation(
        self, arch: Mapping[str, Any], *, seed: int, epochs: int | None = None
    ) -> tuple[nn.Module, Metrics]:
        """Train the classical ablation of ``arch`` exactly as :meth:`fit` trains the hybrid.

        Same front-end (and PCA basis), same head, the circuit replaced by a classical
        layer with the same number of trainable parameters; same data, seed, epochs.
        """
        with torch_threads(1):
            pca = self.pca if arch["frontend"] == "pca" else None
            with SeededRNG(seed, self.device):
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


#: Fine-tuning steps per architecture by default. Inherited weights alone ranked 32
#: digits architectures against 5-epoch standalone training with Kendall tau 0.335,
#: -0.122, 0.230 and 0.065 in four runs (``benchmarks/supercircuit_rank.py``); 20
#: fine-tuning steps gave 0.657, 0.388, 0.619 and 0.640, at about 0.17 s per
#: architecture against 1.3 s for standalone training.
DEFAULT_FINETUNE_STEPS = 20


class SuperCircuitEvaluator:
    """Score architectures with weights inherited from one trained SuperCircuit.

    The SuperCircuit is built and trained (seeded by ``seed``) on the first call, so
    construction is cheap and every later evaluation reuses it. ``evaluate`` extracts
    the architecture, optionally fine-tunes it for ``finetune_steps`` minibatches, and
    returns the same metrics as :class:`~quarch.spaces.hqnn.evaluator.HQNNEvaluator`.

    Args:
        data (Dataset): prepared data set.
        space (Space): the ``hqnn`` space.
        seed (int): seed of the SuperCircuit's initialisation and training.
        steps (int | None): training steps (default: 20 epochs' worth, at least 500:
            on iris, whose 20 epochs are 60 steps, 150 steps ranked 24 architectures
            worse than 500 for each of seeds 0-2, Kendall tau after 20 fine-tuning
            steps 0.414, 0.397, 0.565 against 0.557, 0.446, 0.762;
            ``benchmarks/supercircuit_rank.py --dataset iris --epochs 20 --archs 24``).
        batch_size (int): minibatch size.
        lr (float): Adam learning rate of SuperCircuit training and fine-tuning.
        finetune_steps (int): fine-tuning steps per evaluated architecture (0: score
            the inherited weights as they are; they rank poorly, see
            :data:`DEFAULT_FINETUNE_STEPS`).
        device (str): torch device.
        **cost_options: the options of :class:`~quarch.spaces.hqnn.costs.HybridCosts`.
    """

    def __init__(
        self,
        data: Dataset,
        space: Space,
        *,
        seed: int = 0,
        steps: int | None = None,
        batch_size: int = 32,
        lr: float = 0.01,
        finetune_steps: int = DEFAULT_FINETUNE_STEPS,
        device: str = "cpu",
        **cost_options: Any,
    ) -> None:
        if finetune_steps < 0:
            raise ValueError(f"finetune_steps must be an integer >= 0; got {finetune_steps}")
        if steps is not None and steps < 1:  # at construction: training starts at trial 0
            raise ValueError(f"supercircuit_steps must be an integer >= 1; got {steps}")
        self.data = data
        self.space = space
        self.seed = seed
        self.steps = steps if steps is not None else max(500, 20 * len(data.X_train) // batch_size)
        self.batch_size = batch_size
        self.lr = lr
        self.finetune_steps = finetune_steps
        self.device = device
        self.costs = HybridCosts(data, batch_size=batch_size, **cost_options)
        self.fingerprint = data.fingerprint
        self._sc: SuperCircuit | None = None
        self.train_seconds = 0.0

    def routed_circuit(self, arch: Mapping[str, Any]) -> RoutedCircuit | None:
        """See :meth:`HQNNEvaluator.routed_circuit`."""
        return self.costs.routed(self.space.validate(arch))

    @property
    def supercircuit(self) -> SuperCircuit:
        """The trained SuperCircuit (trained on first use)."""
        return self._supercircuit()

    def _supercircuit(self) -> SuperCircuit:
        if self._sc is None:
            t0 = time.perf_counter()
            widest = max(int(q) for q in self.space["qubits"].options)
            with torch_threads(_threads(widest)), SeededRNG(self.seed, self.device):
                pca = (
                    space_pca(self.space, self.data)
                    if "pca" in self.space["frontend"].options
                    else None
                )
                sc = SuperCircuit(self.space, tuple(self.data.input_shape), self.data.n_classes,
                                  pca=pca)  # fmt: skip
                train_supercircuit(sc, self.data, steps=self.steps, batch_size=self.batch_size,
                                   lr=self.lr, seed=self.seed, device=self.device)  # fmt: skip
            self._sc = sc.cpu()
            self.train_seconds = time.perf_counter() - t0
        return self._sc

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> Metrics:
        """Metrics of ``arch`` with inherited (optionally fine-tuned) weights."""
        arch = self.space.validate(arch)
        self.costs.routed(arch)  # a circuit wider than the device fails before any work
        net = self.supercircuit.extract(arch)
        if self.finetune_steps:
            net = copy.deepcopy(net)
            with torch_threads(_threads(int(arch["qubits"]))):
                _finetune(net, self.data, self.finetune_steps, self.batch_size, self.lr, seed)
        net.eval()
        f32 = torch.float32
        Xva = torch.as_tensor(self.data.X_val, dtype=f32)
        Xte = torch.as_tensor(self.data.X_test, dtype=f32)
        val = classification_error(net, Xva, torch.as_tensor(self.data.y_val))
        metrics = {
            "val_error": val,
            "test_error": classification_error(net, Xte, torch.as_tensor(self.data.y_test)),
            "val_accuracy": 1.0 - val,
        }
        metrics.update(self.costs(arch, net, seed=seed))  # params, flops and the rest
        return metrics


def _finetune(net: HybridNet, data: Dataset, steps: int, batch: int, lr: float, seed: int) -> None:
    X = torch.as_tensor(data.X_train, dtype=torch.float32)
    y = torch.as_tensor(data.y_train, dtype=torch.long)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    net.train()
    for _ in range(steps):
        idx = torch.randint(len(X), (batch,), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss_fn(net(X[idx]), y[idx]).backward()
        opt.step()


#: Evaluator options that go to :class:`~quarch.spaces.hqnn.costs.HybridCosts`.
_COST_OPTIONS = (
    "qubit_budget", "device_profile", "noise", "cutter", "shots", "optimization_level",
    "transpile_seed", "job_overhead_s", "zne", "noise_max_qubits", "noise_samples",
)  # fmt: skip
#: Those of them that are numbers.
_INT_OPTIONS = ("noise_samples", "noise_max_qubits", "optimization_level", "transpile_seed")
_FLOAT_OPTIONS = ("noise_target_se", "job_overhead_s")


def make_hqnn_evaluator(
    space: Space, config: SearchConfig, *, weights_dir: Path | None = None
) -> HQNNEvaluator | SuperCircuitEvaluator:
    """The ``hqnn`` space's evaluator for ``config`` (loads and prepares the data set).

    With ``evaluator_options["supercircuit"]`` true it returns a
    :class:`SuperCircuitEvaluator` instead. Options are checked by the space's spec.
    """
    from quarch.data import load_dataset

    opts = dict(config.evaluator_options)
    epochs, batch, max_train = DEFAULTS.get(config.dataset or "", (10, 32, None))
    data = load_dataset(
        config.dataset or "", data_dir=config.data_dir, seed=config.seed,
        max_train=config.max_train or max_train,
    )  # fmt: skip
    data = prepare_data(data)
    common: dict[str, Any] = {k: opts[k] for k in (*_COST_OPTIONS, "noise_target_se") if k in opts}
    if common.get("noise") == "device":  # --noise device: the device profile's noise
        common["noise"] = True
    for k in _INT_OPTIONS:
        if k in common:
            common[k] = int(common[k])
    for k in _FLOAT_OPTIONS:
        if k in common:
            common[k] = float(common[k])
    n_epochs, n_batch = config.epochs or epochs, config.batch_size or batch
    common["training"] = TrainingLoad(len(data.X_train), n_epochs, n_batch)
    if opts.get("supercircuit"):
        return SuperCircuitEvaluator(
            data, space, seed=config.seed, batch_size=n_batch,
            finetune_steps=int(opts.get("finetune_steps", DEFAULT_FINETUNE_STEPS)),
            steps=int(opts.get("supercircuit_steps", 0)) or None, device=config.device,
            **common,
        )  # fmt: skip
    if not opts.get("save_weights", True):
        weights_dir = None
    return HQNNEvaluator(
        data, space, epochs=n_epochs, batch_size=n_batch, device=config.device,
        weights_dir=weights_dir, noise_aware=bool(opts.get("noise_aware", False)),
        record_epochs=record_epochs(opts), **common,
    )  # fmt: skip


def record_epochs(options: Mapping[str, Any]) -> list[int]:
    """The ``record_epochs`` evaluator option as epoch counts (a list, or a comma
    list from the command line: ``--evaluator-option record_epochs=1,2,5,10,30``).

    Raises:
        ConfigError: an entry that is not a positive integer.
    """
    from quarch._errors import ConfigError
    from quarch.space import option_list

    raw = options.get("record_epochs", ())
    try:
        out = [int(str(v)) for v in option_list(raw if raw != "" else ())]
    except (TypeError, ValueError):
        out = [0]
    if any(e < 1 for e in out):
        raise ConfigError(f"record_epochs must be a comma list of epoch counts >= 1; got {raw!r}")
    return out
