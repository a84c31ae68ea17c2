"""`HybridNet`: classical front-end -> variational quantum layer -> classical head.

The quantum layer runs on quarch's batched state-vector simulator
(:class:`~quarch.quantum.QuantumLayer`), so a whole minibatch is one call and
gradients come from torch autograd. :func:`build_circuit` turns an ``hqnn``
architecture into a :class:`~quarch.quantum.Circuit`; the SuperCircuit uses the same
function with its own weight numbering, so a sub-circuit and a standalone circuit of
one architecture are the same gates.

:func:`classical_ablation` builds the control every hybrid result is reported with:
the same front-end and head, and in place of the circuit a classical layer with exactly
as many trainable parameters as the circuit has weights.

Example:
    >>> import torch
    >>> from quarch.spaces.hqnn.space import hqnn_space
    >>> arch = hqnn_space(max_qubits=4, max_layers=2).sample(0)
    >>> net = HybridNet(arch, (4,), 3)
    >>> net(torch.rand(5, 4)).shape
    torch.Size([5, 3])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    IQPEmbedding,
    QuantumLayer,
    Weight,
    z_each,
    zz_neighbors,
)
from quarch.quantum.templates import entangler_pairs, gate_pairs
from quarch.spaces.hqnn.space import effective_pattern, layer_choice

__all__ = [
    "HEAD_HIDDEN",
    "HybridNet",
    "PCABasis",
    "ParamMatchedLayer",
    "build_circuit",
    "classical_ablation",
    "cz_pairs_changed",
    "fit_pca",
    "n_embedding_features",
    "observables_of",
]

HEAD_HIDDEN = 32
"""Hidden width of the ``mlp`` head."""

#: ``index(kind, layer, a, b, slot) -> weight index``; kind is ``"rot"`` (a = qubit,
#: b = -1, slot 0..2) or ``"ent"`` (a, b = the pair, slot 0).
WeightIndex = Callable[[str, int, int, int, int], int]


def n_embedding_features(arch: Mapping[str, Any]) -> int:
    """Input features the circuit reads: ``2**qubits`` for amplitude, else ``qubits``."""
    n = int(arch["qubits"])
    return 2**n if arch["embedding"] == "amplitude" else n


def observables_of(arch: Mapping[str, Any]) -> list[str]:
    """``Z`` on every qubit (``"z"``) or ``ZZ`` on neighbouring qubits (``"zz"``)."""
    n = int(arch["qubits"])
    return z_each(n) if arch["measurement"] == "z" else zz_neighbors(n)


def _embed(c: Circuit, kind: str, n: int) -> None:
    if kind == "amplitude":
        c.add(AmplitudeEmbedding(2**n, pad_with=0.0, normalize=True))
    elif kind == "iqp":
        c.add(IQPEmbedding(n))
    else:
        # RZ on |0> is only a phase: H first makes angle-z an embedding
        c.add(AngleEmbedding(n, rotation=kind[-1].upper(), hadamard=kind == "angle-z"))


def build_circuit(
    arch: Mapping[str, Any], index: WeightIndex | None = None, *, cz_both_orders: bool = False
) -> Circuit:
    """The variational circuit of an ``hqnn`` architecture.

    Layout: embedding (angle-z puts H before RZ; IQP is H, RZ(x_i), then RZZ(x_i x_j)
    on all pairs), then per layer ``l < layers``: the embedding again when
    ``reupload`` (not for amplitude), the rotation set on every wire (``ry``;
    ``rx-ry-rz``; ``rot`` = PennyLane's Rot), and the entangling gate on the pairs of
    :func:`~quarch.spaces.hqnn.space.effective_pattern` (CRZ carries one weight per pair;
    :func:`~quarch.quantum.templates.gate_pairs`: ``range-r`` on ``2r`` wires lists each
    pair in both orders, and CZ is applied once per pair).

    Args:
        arch (Mapping): an architecture of :func:`~quarch.spaces.hqnn.space.hqnn_space`.
        index (Callable | None): weight numbering; ``None`` numbers weights in the
            order they appear (a standalone model). The SuperCircuit passes its own so
            a sub-circuit reads its slice of the shared weights.
        cz_both_orders (bool): the circuit as quarch built it before session 35, with a
            CZ on each pair in every order the pattern names (the two cancel); only to
            run weights saved then (:class:`HybridNet` switches to it by itself).

    Returns:
        Circuit: reads :func:`n_embedding_features` input features.
    """
    n = int(arch["qubits"])
    emb = str(arch["embedding"])
    c = Circuit(n)

    def weight(kind: str, layer: int, a: int, b: int, slot: int) -> Any:
        return c.new_weight() if index is None else Weight(index(kind, layer, a, b, slot))

    _embed(c, emb, n)
    for layer in range(int(arch["layers"])):
        if layer > 0 and arch["reupload"] and emb != "amplitude":
            _embed(c, emb, n)
        rot = layer_choice(arch, "rotation", layer)
        for w in range(n):
            if rot == "ry":
                c.ry(w, weight("rot", layer, w, -1, 1))
            elif rot == "rx-ry-rz":
                c.rx(w, weight("rot", layer, w, -1, 0))
                c.ry(w, weight("rot", layer, w, -1, 1))
                c.rz(w, weight("rot", layer, w, -1, 2))
            else:
                c.rot(
                    w,
                    weight("rot", layer, w, -1, 0),
                    weight("rot", layer, w, -1, 1),
                    weight("rot", layer, w, -1, 2),
                )
        gate = arch["entangler"]
        pattern = effective_pattern(layer_choice(arch, "entanglement", layer), n)
        pairs = entangler_pairs(n, pattern) if cz_both_orders else gate_pairs(n, pattern, gate)
        for a, b in pairs:
            if gate == "crz":
                c.crz(a, b, weight("ent", layer, a, b, 0))
            else:
                c.append(gate, [a, b])
    return c


def cz_pairs_changed(arch: Mapping[str, Any]) -> bool:
    """Whether session 35's fix changed this architecture's circuit: a CZ layer whose
    pattern names a pair in both orders (``range-r`` on ``2r`` qubits, any range on 2),
    which quarch built as two CZs that cancelled."""
    if arch["entangler"] != "cz":
        return False
    n = int(arch["qubits"])
    for layer in range(int(arch["layers"])):
        pattern = effective_pattern(layer_choice(arch, "entanglement", layer), n)
        if gate_pairs(n, pattern, "cz") != entangler_pairs(n, pattern):
            return True
    return False


# ---------------------------------------------------------------------- front-ends
@dataclass(frozen=True)
class PCABasis:
    """A PCA fitted on training data: ``z = (x - mean) @ components.T / scale``.

    Attributes:
        mean (np.ndarray): ``(d,)`` training mean of the flattened inputs.
        components (np.ndarray): ``(K, d)`` principal directions, largest variance first.
        scale (np.ndarray): ``(K,)`` standard deviation of each component (z-scores out).
    """

    mean: np.ndarray
    components: np.ndarray
    scale: np.ndarray


def fit_pca(X_train: np.ndarray, k: int) -> PCABasis:
    """Fit a :class:`PCABasis` of ``min(k, d, n)`` components on ``X_train``.

    Components are nested (the first ``j`` of a ``k``-fit are the ``j``-fit), so one fit
    serves every architecture of a search.
    """
    from sklearn.decomposition import PCA

    flat = np.asarray(X_train, dtype=np.float64).reshape(len(X_train), -1)
    k = max(1, min(int(k), flat.shape[1], flat.shape[0]))
    model = PCA(n_components=k, svd_solver="full").fit(flat)
    scale = np.sqrt(np.maximum(model.explained_variance_, 1e-12))
    return PCABasis(
        model.mean_.astype(np.float32),
        model.components_.astype(np.float32),
        scale.astype(np.float32),
    )


class _PCAFrontEnd(nn.Module):
    """Fixed (untrained) projection onto ``k`` PCA z-scores; more than the basis holds
    are padded with zeros (``pad="zero"``, amplitude) or cycled (``"cycle"``, angles)."""

    mean: torch.Tensor
    proj: torch.Tensor

    def __init__(self, basis: PCABasis, k: int, pad: str) -> None:
        super().__init__()
        avail = basis.components.shape[0]
        rows = [i % avail for i in range(k)] if pad == "cycle" else list(range(min(k, avail)))
        comps = basis.components[rows] / basis.scale[rows, None]
        self.register_buffer("mean", torch.as_tensor(basis.mean))
        self.register_buffer("proj", torch.as_tensor(comps.T.copy()))
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x.flatten(1) - self.mean) @ self.proj
        if z.shape[1] < self.k:
            z = nn.functional.pad(z, (0, self.k - z.shape[1]))
        return z


def _random_basis(d: int, k: int) -> PCABasis:
    """Stand-in when no training data were given: a fixed orthonormal projection."""
    gen = np.random.default_rng(0)
    q, _ = np.linalg.qr(gen.normal(size=(d, min(k, d))))
    return PCABasis(
        np.zeros(d, np.float32), q.T.astype(np.float32), np.ones(q.shape[1], np.float32)
    )


def _frontend(
    kind: str, input_shape: tuple[int, ...], k: int, pca: PCABasis | None, pad: str
) -> nn.Module:
    """The front-end; trained ones feeding angles end in a parameter-free BatchNorm,
    which keeps their outputs near unit scale so ``pi * tanh`` does not saturate
    (without it, MNIST front-ends grew to std ~15 and the circuit saw only +-pi)."""
    net = _frontend_body(kind, input_shape, k, pca, pad)
    if kind != "pca" and pad == "cycle":
        return nn.Sequential(net, nn.BatchNorm1d(k, affine=False))
    return net


def _frontend_body(
    kind: str, input_shape: tuple[int, ...], k: int, pca: PCABasis | None, pad: str
) -> nn.Module:
    d = math.prod(input_shape)
    if kind == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(d, k))
    if kind == "mlp-256":
        return nn.Sequential(nn.Flatten(), nn.Linear(d, 256), nn.ReLU(), nn.Linear(256, k))
    if kind == "cnn":
        if len(input_shape) == 3:
            c = input_shape[0]
            # 16 and 32 channels, pooled twice: an 8/16-channel version capped a 5-qubit
            # hybrid at ~84 % on Fashion-MNIST (the front-end, not the circuit, was the
            # bottleneck: its equal-parameter classical ablation scored the same)
            return nn.Sequential(
                nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
                nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(512, k),
            )  # fmt: skip
        # Tabular input: the features as a one-channel 1-D signal.
        return nn.Sequential(
            nn.Flatten(), nn.Unflatten(1, (1, d)),
            nn.Conv1d(1, 8, 3, padding=1), nn.ReLU(),
            nn.Conv1d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool1d(4),
            nn.Flatten(), nn.Linear(64, k),
        )  # fmt: skip
    if kind == "pca":
        return _PCAFrontEnd(pca if pca is not None else _random_basis(d, k), k, pad)
    raise ValueError(f"frontend must be one of linear, mlp-256, cnn, pca; got {kind!r}")


def _head(kind: str, n_in: int, n_classes: int) -> nn.Module:
    if kind == "linear":
        return nn.Linear(n_in, n_classes)
    if kind == "mlp":
        return nn.Sequential(
            nn.Linear(n_in, HEAD_HIDDEN), nn.ReLU(), nn.Linear(HEAD_HIDDEN, n_classes)
        )
    raise ValueError(f"head must be one of linear, mlp; got {kind!r}")


def _encode(kind: str, z: torch.Tensor) -> torch.Tensor:
    """Front-end output -> circuit input: angles in (-pi, pi), or a unit vector."""
    if kind == "amplitude":
        return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return math.pi * torch.tanh(z)


class HybridNet(nn.Module):
    """Front-end -> quantum layer -> head, built from an ``hqnn`` architecture.

    Args:
        arch (Mapping): an architecture of :func:`~quarch.spaces.hqnn.space.hqnn_space`.
        input_shape (tuple[int, ...]): one sample's shape, e.g. ``(4,)`` or ``(1, 28, 28)``.
        n_classes (int): number of classes (>= 2).
        pca (PCABasis | None): fitted basis for the ``pca`` front-end; without it a
            fixed random orthonormal projection stands in (pass :func:`fit_pca` of
            the training split for real use).
        dtype (torch.dtype): simulator dtype, ``torch.complex64`` (default) or 128.

    Attributes:
        circuit (Circuit): the variational circuit.
        observables (list[str]): what is measured.
        quantum (QuantumLayer): the circuit with its weights.
    """

    cz_once: torch.Tensor  # only where the fix changed the circuit: cz_pairs_changed

    def __init__(
        self,
        arch: Mapping[str, Any],
        input_shape: tuple[int, ...],
        n_classes: int,
        *,
        pca: PCABasis | None = None,
        dtype: torch.dtype = torch.complex64,
    ) -> None:
        super().__init__()
        if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}")
        self.arch = dict(arch)
        self.embedding = str(arch["embedding"])
        k = n_embedding_features(arch)
        pad = "zero" if self.embedding == "amplitude" else "cycle"
        self.frontend = _frontend(str(arch["frontend"]), tuple(input_shape), k, pca, pad)
        self._dtype = dtype
        self.circuit = build_circuit(arch)
        self.observables = observables_of(arch)
        self.quantum = QuantumLayer(self.circuit, self.observables, dtype=dtype)
        self.head = _head(str(arch["head"]), len(self.observables), n_classes)
        if cz_pairs_changed(arch):  # the state says which circuit its weights ran
            self.register_buffer("cz_once", torch.tensor(True))

    def _load_from_state_dict(
        self,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Weights saved by quarch before session 35 (no ``cz_once`` entry) or from a
        network that ran that circuit (``cz_once`` false) load into that circuit, so
        an old run's network scores (and exports) as its trial did. torch loads a
        module's own state before its children's, so the quantum layer swapped in
        here receives the saved weights (CZ has none: their number is the same)."""
        key = prefix + "cz_once"
        if hasattr(self, "cz_once") and not bool(state_dict.get(key, False)):
            device = self.quantum.weights.device
            self.circuit = build_circuit(self.arch, cz_both_orders=True)
            self.quantum = QuantumLayer(
                self.circuit, self.observables, dtype=self._dtype, device=device
            )
            state_dict[key] = torch.zeros_like(self.cz_once)  # false, on its device
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The circuit's inputs ``[batch, n_inputs]`` for samples ``x``."""
        return _encode(self.embedding, self.frontend(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits ``[batch, n_classes]``."""
        q = self.quantum(self.features(x))
        return self.head(q.to(x.dtype) if x.is_floating_point() else q)


# ---------------------------------------------------------------------- ablation
class ParamMatchedLayer(nn.Module):
    """A classical layer ``k -> m`` with exactly ``n_params`` trainable parameters.

    It is ``tanh(x W + b)`` (outputs in [-1, 1] like expectation values), or with a
    hidden tanh layer when one linear layer has fewer than ``n_params`` entries. Only
    ``n_params`` entries of the weights and biases are free (a fixed, seeded choice);
    the rest are zero, so the parameter count matches the circuit's exactly.

    Args:
        n_in (int): input width ``k``.
        n_out (int): output width ``m``.
        n_params (int): trainable parameters, >= 1.
    """

    free: torch.Tensor

    def __init__(self, n_in: int, n_out: int, n_params: int) -> None:
        super().__init__()
        if n_params < 1:
            raise ValueError(f"n_params must be an integer >= 1; got {n_params}")
        shapes: list[tuple[int, int]] = [(n_in + 1, n_out)]
        if n_params > (n_in + 1) * n_out:
            h = 1
            while (n_in + 1) * h + (h + 1) * n_out < n_params:
                h += 1
            shapes = [(n_in + 1, h), (h + 1, n_out)]
        self.shapes = shapes
        total = sum(a * b for a, b in shapes)
        gen = torch.Generator().manual_seed(0)
        free = torch.randperm(total, generator=gen)[:n_params].sort().values
        self.register_buffer("free", free)
        self.total = total
        bound = 1.0 / math.sqrt(n_in + 1)
        self.theta = nn.Parameter(torch.empty(n_params).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = torch.zeros(self.total, dtype=self.theta.dtype, device=self.theta.device)
        flat = flat.index_put((self.free,), self.theta)
        start = 0
        for a, b in self.shapes:
            wb = flat[start : start + a * b].reshape(a, b)
            start += a * b
            x = torch.tanh(x @ wb[:-1] + wb[-1])
        return x


class _AblationNet(nn.Module):
    def __init__(self, net: HybridNet) -> None:
        super().__init__()
        self.embedding = net.embedding
        self.frontend = net.frontend
        n_q = net.circuit.n_weights
        self.middle = ParamMatchedLayer(n_embedding_features(net.arch), len(net.observables), n_q)
        self.head = net.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.middle(_encode(self.embedding, self.frontend(x))))


def classical_ablation(
    arch: Mapping[str, Any],
    input_shape: tuple[int, ...],
    n_classes: int,
    *,
    pca: PCABasis | None = None,
) -> nn.Module:
    """The classical control of ``HybridNet(arch, ...)``.

    Same front-end, same input encoding and same head; the quantum layer is replaced
    by a :class:`ParamMatchedLayer` with as many trainable parameters as the circuit has
    weights, so ``count_params`` of both models is equal. Train it the same way.
    """
    net = HybridNet(arch, input_shape, n_classes, pca=pca)
    return _AblationNet(net)
