"""SuperCircuit: one weight-shared hybrid network from which every ``hqnn`` architecture
is a sub-network (QuantumNAS-style weight sharing, Wang et al. 2022).

Per embedding family (angle-x, angle-y, angle-z, amplitude, IQP) there is one flat
weight vector holding, for the widest and deepest circuit of the space, three rotation
angles per (layer, qubit) and one CRZ angle per (layer, ordered pair). An architecture's
circuit (:func:`~quarch.spaces.hqnn.model.build_circuit`, the same function a standalone
model uses) reads its slice: rotation ``RY`` reads the middle angle, ``RX-RY-RZ`` and
``Rot`` all three, so architectures that share a layer share its weights. Front-ends
and heads are shared per kind too: a sub-network uses the first ``k`` outputs of the
widest front-end and the first ``m`` input columns of the widest head.

Training samples one architecture per minibatch (uniformly from the space) and steps
Adam on the shared weights; :meth:`SuperCircuit.extract` then copies an
architecture's inherited weights into a standalone
:class:`~quarch.spaces.hqnn.model.HybridNet` that computes exactly the same function, which
:class:`~quarch.spaces.hqnn.evaluator.SuperCircuitEvaluator` scores (optionally after a
few fine-tuning steps).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from quarch.quantum import compile_circuit
from quarch.spaces.hqnn.model import (
    HybridNet,
    PCABasis,
    _encode,
    _frontend,
    build_circuit,
    n_embedding_features,
    observables_of,
)
from quarch.spaces.hqnn.space import layer_choice

if TYPE_CHECKING:
    from quarch.data import Dataset
    from quarch.space import Space

__all__ = ["SuperCircuit", "train_supercircuit"]

_PLAN_CACHE = 256


class SuperCircuit(nn.Module):
    """Weight-shared hybrid network over an ``hqnn`` space.

    Args:
        space (Space): an ``hqnn`` space; its widest qubit count and deepest layer
            count size the shared weights.
        input_shape (tuple[int, ...]): one sample's shape.
        n_classes (int): number of classes.
        pca (PCABasis | None): basis of the ``pca`` front-end (as for HybridNet).
        dtype (torch.dtype): simulator dtype.

    Example:
        >>> from quarch.spaces.hqnn.space import hqnn_space
        >>> s = hqnn_space(max_qubits=3, max_layers=2)
        >>> sc = SuperCircuit(s, (4,), 3)
        >>> sc(torch.rand(2, 4), s.sample(0)).shape
        torch.Size([2, 3])
    """

    def __init__(
        self,
        space: Space,
        input_shape: tuple[int, ...],
        n_classes: int,
        *,
        pca: PCABasis | None = None,
        dtype: torch.dtype = torch.complex64,
    ) -> None:
        super().__init__()
        self.space = space
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.pca = pca
        self.dtype = dtype
        self.max_q = int(max(space["qubits"].options))
        self.max_l = int(max(space["layers"].options))
        self.n_rot = self.max_l * self.max_q * 3
        size = self.n_rot + self.max_l * self.max_q * self.max_q
        self.weights = nn.ParameterDict(
            {
                _key(f): nn.Parameter(torch.rand(size) * (2 * torch.pi))
                for f in space["embedding"].options
            }
        )
        self.frontends = nn.ModuleDict()
        for f in space["embedding"].options:
            width = n_embedding_features({"qubits": self.max_q, "embedding": f})
            pad = "zero" if f == "amplitude" else "cycle"
            for fe in space["frontend"].options:
                key = _fe_key(fe, f)
                if key not in self.frontends:
                    self.frontends[key] = _frontend(fe, self.input_shape, width, pca, pad)
        self.heads = nn.ModuleDict()
        for h in space["head"].options:
            for m in space["measurement"].options:
                width = self.max_q if m == "z" else self.max_q - 1
                self.heads[f"{h}|{m}"] = _super_head(h, width, n_classes)
        self._plans: OrderedDict[tuple[Any, ...], Any] = OrderedDict()

    # -- weight numbering --------------------------------------------------------------
    def index(self, kind: str, layer: int, a: int, b: int, slot: int) -> int:
        """Position of one angle in its family's shared weight vector."""
        if kind == "rot":
            return (layer * self.max_q + a) * 3 + slot
        return self.n_rot + (layer * self.max_q + a) * self.max_q + b

    def _plan(self, arch: Mapping[str, Any]) -> Any:
        key = _circuit_key(arch)
        plan = self._plans.get(key)
        if plan is None:
            plan = compile_circuit(build_circuit(arch, self.index), dtype=self.dtype)
            self._plans[key] = plan
            if len(self._plans) > _PLAN_CACHE:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(key)
        return plan

    # -- forward -----------------------------------------------------------------------
    def forward(self, x: torch.Tensor, arch: Mapping[str, Any]) -> torch.Tensor:
        """Logits ``[batch, n_classes]`` of sub-network ``arch`` with shared weights."""
        emb = str(arch["embedding"])
        k = n_embedding_features(arch)
        z = self.frontends[_fe_key(str(arch["frontend"]), emb)](x)[:, :k]
        plan = self._plan(arch)
        w = self.weights[_key(emb)][: plan.n_weights]
        q = plan.expval(observables_of(arch), _encode(emb, z), w)
        head = self.heads[f"{arch['head']}|{arch['measurement']}"]
        return _head_forward(head, q.to(x.dtype))

    def extract(self, arch: Mapping[str, Any]) -> HybridNet:
        """A standalone HybridNet of ``arch`` carrying the inherited weights.

        Its output equals ``self(x, arch)`` for every ``x``.
        """
        arch = dict(arch)
        # every weight is overwritten below: built in a fork, extracting draws nothing
        # from the caller's generator (a search's next draws stay its own)
        with torch.random.fork_rng(devices=[]):
            net = HybridNet(arch, self.input_shape, self.n_classes, pca=self.pca,
                            dtype=self.dtype)  # fmt: skip
        order: list[int] = []

        def record(kind: str, layer: int, a: int, b: int, slot: int) -> int:
            order.append(self.index(kind, layer, a, b, slot))
            return order[-1]

        build_circuit(arch, record)
        emb = str(arch["embedding"])
        with torch.no_grad():
            src = self.weights[_key(emb)]
            net.quantum.weights.copy_(src[torch.as_tensor(order, dtype=torch.long)])
            sup_fe = self.frontends[_fe_key(str(arch["frontend"]), emb)]
            _copy_prefix(sup_fe, net.frontend)
            head = self.heads[f"{arch['head']}|{arch['measurement']}"]
            _copy_head(head, net.head, len(net.observables))
        return net


def _key(family: str) -> str:
    return family.replace("-", "_")


def _fe_key(frontend: str, family: str) -> str:
    kind = "amp" if family == "amplitude" else "angle"
    return f"{frontend.replace('-', '_')}_{kind}"


def _circuit_key(arch: Mapping[str, Any]) -> tuple[Any, ...]:
    layers = int(arch["layers"])
    per = tuple(
        (layer_choice(arch, "rotation", i), layer_choice(arch, "entanglement", i))
        for i in range(layers)
    )
    return (arch["embedding"], int(arch["qubits"]), layers, per, arch["entangler"],
            bool(arch["reupload"]))  # fmt: skip


def _super_head(kind: str, width: int, n_classes: int) -> nn.Module:
    from quarch.spaces.hqnn.model import _head

    return _head(kind, width, n_classes)


def _first_linear(head: nn.Module) -> nn.Linear:
    return head if isinstance(head, nn.Linear) else head[0]  # type: ignore[return-value,index]


def _head_forward(head: nn.Module, q: torch.Tensor) -> torch.Tensor:
    first = _first_linear(head)
    m = q.shape[1]
    out = nn.functional.linear(q, first.weight[:, :m], first.bias)
    if isinstance(head, nn.Sequential):
        for layer in list(head)[1:]:
            out = layer(out)
    return out


def _copy_head(src: nn.Module, dst: nn.Module, m: int) -> None:
    s, d = _first_linear(src), _first_linear(dst)
    d.weight.copy_(s.weight[:, :m])
    d.bias.copy_(s.bias)
    if isinstance(src, nn.Sequential):
        # heads of one kind share their structure, so ``dst`` is a Sequential too
        dst_seq = cast(nn.Sequential, dst)
        for a, b in zip(list(src)[1:], list(dst_seq)[1:], strict=True):
            b.load_state_dict(a.state_dict())


def _copy_prefix(src: nn.Module, dst: nn.Module) -> None:
    """Copy a front-end whose last layer is ``k`` rows of the super front-end's."""
    sd = src.state_dict()
    dd = dst.state_dict()
    out = {}
    for name, t in dd.items():
        s = sd[name]
        if s.shape == t.shape:
            out[name] = s
        elif (s.dim() == 2 and s.shape[1] == t.shape[1]) or s.dim() == 1:
            # last Linear (first k rows), its bias and BatchNorm statistics (first k)
            out[name] = s[: t.shape[0]]
        else:  # PCA projection: first k columns (load_state_dict refuses any other shape)
            out[name] = s[:, : t.shape[1]]
    dst.load_state_dict(out)


def train_supercircuit(
    sc: SuperCircuit,
    data: Dataset,
    *,
    steps: int,
    batch_size: int = 32,
    lr: float = 0.01,
    seed: int = 0,
    device: str = "cpu",
) -> list[float]:
    """Train the shared weights: one uniformly sampled architecture per minibatch.

    Returns:
        list[float]: the loss of every step.
    """
    if steps < 0:
        raise ValueError(f"steps must be an integer >= 0; got {steps}")
    dev = torch.device(device)
    sc.to(dev)
    X = torch.as_tensor(data.X_train, dtype=torch.float32, device=dev)
    y = torch.as_tensor(data.y_train, dtype=torch.long, device=dev)
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(sc.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    perm = torch.randperm(len(X), generator=gen)
    pos = 0
    sc.train()
    for _ in range(steps):
        if pos + batch_size > len(X):
            perm, pos = torch.randperm(len(X), generator=gen), 0
        idx = perm[pos : pos + batch_size].to(dev)
        pos += batch_size
        arch = sc.space.sample(rng)
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(sc(X[idx], arch), y[idx])
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses
