"""The SuperCircuit's forward pass, extraction and training against independent truth.

The module docstring says what a sub-network computes: the first ``k`` outputs of the
widest front-end of its kind (angle embeddings share one, amplitude has its own), its
circuit reading the shared weight vector of its embedding family (three rotation
angles per (layer, qubit), then one CRZ angle per (layer, ordered pair); ``RY`` reads
the middle one), and the first ``m`` input columns of the widest head of its kind and
measurement. Here that function is written out by hand: the front-end and head with
``torch.nn.functional`` on the SuperCircuit's own parameters, the circuit gate by gate
in PennyLane (``default.qubit``) with the angles taken at the positions the docstring
names. ``forward`` and ``extract`` must both compute it, for every embedding, rotation,
entangler, measurement and head, and for architectures that differ in one choice only
(one after the other, so a cached circuit of the wrong architecture is caught).

Training: Adam's first step moves every weight that has a gradient by the learning
rate (``m / sqrt(v) = g / |g|``), a step moves only the sampled sub-network's
weights, minibatches walk a permutation of the training set without repeats, the
architectures are the space's draws from ``numpy.random.default_rng(seed)``, and the
returned losses are the cross entropies of those minibatches before each step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quarch.spaces.hqnn import supercircuit as sc_module
from quarch.spaces.hqnn.model import fit_pca
from quarch.spaces.hqnn.space import hqnn_space
from quarch.spaces.hqnn.supercircuit import SuperCircuit, train_supercircuit

from ._patterns import pairs, pl_embed

qml = pytest.importorskip("pennylane")

MAX_Q, MAX_L, D, C = 4, 3, 5, 3
SPACE = hqnn_space(
    max_qubits=MAX_Q, max_layers=MAX_L, frontends=["linear"], heads=["linear", "mlp"],
    entangling_gates=["cnot", "cz", "crz"],
)  # fmt: skip
N_ROT = MAX_L * MAX_Q * 3


def _randomised(space: Any = SPACE, seed: int = 0) -> SuperCircuit:
    """A SuperCircuit with every parameter and BatchNorm statistic random, in eval mode."""
    torch.manual_seed(seed)
    sc = SuperCircuit(space, (D,), C, dtype=torch.complex128).double()
    with torch.no_grad():
        for p in sc.parameters():  # float32 values: extract's float32 copies are exact
            p.copy_(p.uniform_(-1.0, 1.0).float().double())
        for name, b in sc.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(b.uniform_(-0.5, 0.5).float().double())
            elif name.endswith("running_var"):
                b.copy_(b.uniform_(0.5, 2.0).float().double())
    return sc.eval()


def _linear_frontend(sc: SuperCircuit, width: int) -> tuple[nn.Linear, nn.BatchNorm1d | None]:
    """The widest linear front-end with ``width`` outputs, found by its shape."""
    found = []
    for fe in sc.frontends.values():
        lin = [m for m in fe.modules() if isinstance(m, nn.Linear)]
        bn = [m for m in fe.modules() if isinstance(m, nn.BatchNorm1d)]
        if lin and lin[-1].out_features == width:
            found.append((lin[-1], bn[0] if bn else None))
    assert len(found) == 1, width
    return found[0]


def _head_layers(sc: SuperCircuit, kind: str, width: int) -> list[nn.Linear]:
    found = []
    for h in sc.heads.values():
        lin = [m for m in h.modules() if isinstance(m, nn.Linear)]
        if lin[0].in_features == width and (len(lin) == 2) == (kind == "mlp"):
            found.append(lin)
    assert len(found) == 1, (kind, width)
    return found[0]


def _pennylane_expvals(arch: dict, z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The circuit of ``arch`` on inputs ``z`` with the shared vector ``w``."""
    n, emb = int(arch["qubits"]), str(arch["embedding"])
    dev = qml.device("default.qubit", wires=n)

    def embed(x: np.ndarray) -> None:
        pl_embed(emb, n, x)

    def rot(layer: int, q: int, slot: int) -> float:
        return float(w[(layer * MAX_Q + q) * 3 + slot])

    @qml.qnode(dev)
    def circuit(x: np.ndarray) -> Any:
        embed(x)
        for layer in range(int(arch["layers"])):
            if layer and arch["reupload"] and emb != "amplitude":
                embed(x)
            kind = arch[f"rotation_{layer}"]
            for q in range(n):
                if kind == "ry":
                    qml.RY(rot(layer, q, 1), q)
                elif kind == "rx-ry-rz":
                    qml.RX(rot(layer, q, 0), q)
                    qml.RY(rot(layer, q, 1), q)
                    qml.RZ(rot(layer, q, 2), q)
                else:
                    qml.Rot(rot(layer, q, 0), rot(layer, q, 1), rot(layer, q, 2), q)
            for a, b in pairs(n, str(arch[f"entanglement_{layer}"])):
                if arch["entangler"] == "cnot":
                    qml.CNOT([a, b])
                elif arch["entangler"] == "cz":
                    qml.CZ([a, b])
                else:
                    qml.CRZ(float(w[N_ROT + (layer * MAX_Q + a) * MAX_Q + b]), [a, b])
        if arch["measurement"] == "z":
            return [qml.expval(qml.PauliZ(q)) for q in range(n)]
        return [qml.expval(qml.PauliZ(q) @ qml.PauliZ(q + 1)) for q in range(n - 1)]

    return np.array([np.asarray(circuit(row), dtype=float) for row in z])


def _truth(sc: SuperCircuit, arch: dict, x: torch.Tensor) -> np.ndarray:
    """Logits of ``arch`` as the module docstring describes them (eval mode)."""
    n, emb = int(arch["qubits"]), str(arch["embedding"])
    amp = emb == "amplitude"
    k = 2**n if amp else n
    lin, bn = _linear_frontend(sc, 2**MAX_Q if amp else MAX_Q)
    assert (bn is None) == amp  # angle front-ends end in a parameter-free BatchNorm
    with torch.no_grad():
        z = F.linear(x, lin.weight, lin.bias)
        if bn is not None:
            assert bn.running_mean is not None and bn.running_var is not None
            z = (z - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps)
        z = z[:, :k]
        z = z / z.norm(dim=1, keepdim=True) if amp else math.pi * torch.tanh(z)
        w = dict(sc.weights.items())[emb.replace("-", "_")].detach().numpy()
        q = torch.as_tensor(_pennylane_expvals(arch, z.numpy(), w))
        m = q.shape[1]
        layers = _head_layers(
            sc, str(arch["head"]), MAX_Q if arch["measurement"] == "z" else MAX_Q - 1
        )
        out = F.linear(q, layers[0].weight[:, :m], layers[0].bias)
        if len(layers) == 2:
            out = F.linear(F.relu(out), layers[1].weight, layers[1].bias)
    return out.numpy()


def _check(sc: SuperCircuit, arch: dict, x: torch.Tensor) -> None:
    want = _truth(sc, arch, x)
    with torch.no_grad():
        np.testing.assert_allclose(sc(x, arch).numpy(), want, atol=1e-9, rtol=0)
        net = sc.extract(arch).double().eval()
        np.testing.assert_allclose(net(x).numpy(), want, atol=1e-9, rtol=0)


def _x(seed: int = 0) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(seed).normal(size=(3, D)))


@pytest.mark.parametrize("seed", range(8))
def test_forward_and_extract_compute_the_documented_function(seed: int) -> None:
    sc = _randomised(seed=seed)
    for j in range(3):
        _check(sc, dict(SPACE.sample(10 * seed + j)), _x(seed))


BASE: dict[str, Any] = {
    "embedding": "angle-x", "qubits": 3, "layers": 2, "rotation_0": "ry",
    "entanglement_0": "ring", "rotation_1": "rot", "entanglement_1": "linear",
    "rotation_2": "ry", "entanglement_2": "full", "entangler": "crz", "reupload": True,
    "measurement": "zz", "frontend": "linear", "head": "mlp", "lr": SPACE.sample(0)["lr"],
}  # fmt: skip
ONE_CHANGE: list[dict[str, Any]] = [
    {"embedding": "angle-y"}, {"embedding": "angle-z"}, {"embedding": "iqp"},
    {"embedding": "amplitude"}, {"qubits": 4}, {"qubits": 2}, {"layers": 3}, {"layers": 1},
    {"rotation_0": "rx-ry-rz"}, {"rotation_1": "ry"}, {"entanglement_0": "full"},
    {"entanglement_1": "ring"}, {"entangler": "cnot"}, {"entangler": "cz"},
    {"reupload": False}, {"measurement": "z"}, {"head": "linear"},
]  # fmt: skip


def test_architectures_one_choice_apart_one_after_the_other() -> None:
    """Each variant right after the base architecture on one SuperCircuit: a circuit
    cached under a key that misses the changed choice would be reused, and be wrong."""
    sc = _randomised(seed=11)
    x = _x(1)
    assert set(BASE) == set(SPACE.names)
    _check(sc, BASE, x)
    for change in ONE_CHANGE:
        with torch.no_grad():
            sc(x, BASE)  # cached now
            got = sc(x, {**BASE, **change}).numpy()
        np.testing.assert_allclose(got, _truth(sc, {**BASE, **change}, x), atol=1e-9, rtol=0)


def test_the_shared_parameters_have_the_documented_shapes() -> None:
    """One weight vector per family, sized for the widest, deepest circuit, drawn
    uniformly in [0, 2 pi); one front-end per kind for angle embeddings and one for
    amplitude; one head per kind and measurement, as wide as its widest observable set."""
    space = hqnn_space(max_qubits=MAX_Q, max_layers=MAX_L, frontends=["linear", "mlp-256"])
    torch.manual_seed(0)
    sc = SuperCircuit(space, (D,), C)
    families = list(space["embedding"].options)
    assert len(sc.weights) == len(families) == 5
    everything = torch.cat([p.detach() for p in sc.weights.values()])
    assert everything.numel() == 5 * (N_ROT + MAX_L * MAX_Q * MAX_Q)
    assert float(everything.min()) >= 0 and float(everything.max()) < 2 * math.pi
    assert float(everything.max()) > 1.5 * math.pi and float(everything.min()) < 0.5 * math.pi
    widths = sorted(
        [m for m in fe.modules() if isinstance(m, nn.Linear)][-1].out_features
        for fe in sc.frontends.values()
    )
    assert widths == [MAX_Q, MAX_Q, 2**MAX_Q, 2**MAX_Q]  # two kinds x (angle, amplitude)
    linears = [[m for m in h.modules() if isinstance(m, nn.Linear)] for h in sc.heads.values()]
    head_shapes = sorted((len(lin), lin[0].in_features) for lin in linears)
    assert head_shapes == [(1, MAX_Q - 1), (1, MAX_Q), (2, MAX_Q - 1), (2, MAX_Q)]


def test_extract_draws_nothing_from_the_callers_generator() -> None:
    sc = _randomised()
    torch.manual_seed(7)
    want = torch.rand(4)
    torch.manual_seed(7)
    sc.extract(BASE)
    assert torch.equal(torch.rand(4), want)


def test_the_circuit_cache_keeps_the_most_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compiled circuits are cached, least recently used dropped first (here with room
    for two): a hit moves a circuit to the front, and a cached circuit is reused."""
    monkeypatch.setattr(sc_module, "_PLAN_CACHE", 2)
    sc = _randomised()
    x = _x()
    a, b, c = BASE, {**BASE, "qubits": 2}, {**BASE, "layers": 1}
    compiled: list[int] = []
    real = sc_module.compile_circuit

    def counting(*args: Any, **kwargs: Any) -> Any:
        compiled.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sc_module, "compile_circuit", counting)
    with torch.no_grad():
        for arch in (a, b, a, c):  # a is used again before c arrives: b goes
            sc(x, arch)
        assert len(compiled) == 3
        sc(x, a)
        sc(x, c)
        assert len(compiled) == 3  # both still cached
        sc(x, b)
        assert len(compiled) == 4  # b was dropped
    _check(sc, b, x)


def test_the_pca_front_end_is_shared_as_its_first_columns() -> None:
    """A fitted basis with three components: angle embeddings read its z-scores cycled
    (components 0, 1, 2, 0 for four wires), amplitude embeddings zero-padded; a
    sub-network reads the first ``k`` of the widest front-end's."""
    rng = np.random.default_rng(0)
    basis = fit_pca(rng.normal(size=(40, D)), 3)
    space = hqnn_space(max_qubits=MAX_Q, max_layers=MAX_L, frontends=["pca"], heads=["linear"],
                       embeddings=["angle-y", "amplitude"])  # fmt: skip
    torch.manual_seed(0)
    sc = SuperCircuit(space, (D,), C, pca=basis, dtype=torch.complex128).double().eval()
    x = _x(2)
    comps = basis.components.astype(np.float64) / basis.scale.astype(np.float64)[:, None]
    scores = (x.numpy() - basis.mean.astype(np.float64)) @ comps.T  # [batch, 3]
    for emb, n in (("angle-y", 4), ("angle-y", 2), ("amplitude", 2), ("amplitude", 3)):
        arch = {**dict(space.sample(1)), "embedding": emb, "qubits": n, "layers": 2}
        if emb == "amplitude":
            z = np.zeros((len(x), 2**n))
            z[:, :3] = scores
            z = z / np.linalg.norm(z, axis=1, keepdims=True)
        else:
            z = math.pi * np.tanh(scores[:, [i % 3 for i in range(n)]])
        w = dict(sc.weights.items())[emb.replace("-", "_")].detach().numpy()
        q = torch.as_tensor(_pennylane_expvals(arch, z, w))
        width = MAX_Q if arch["measurement"] == "z" else MAX_Q - 1
        (head,) = _head_layers(sc, "linear", width)
        with torch.no_grad():
            want = F.linear(q, head.weight[:, : q.shape[1]], head.bias).numpy()
            np.testing.assert_allclose(sc(x, arch).numpy(), want, atol=1e-6, rtol=0)
            net = sc.extract(arch).double().eval()
            np.testing.assert_allclose(net(x).numpy(), want, atol=1e-6, rtol=0)


def test_a_double_precision_circuit_in_a_single_precision_model() -> None:
    """``dtype=complex128`` with float32 parameters and inputs: float32 logits, the
    same as the extracted network's."""
    torch.manual_seed(0)
    sc = SuperCircuit(SPACE, (D,), C, dtype=torch.complex128).eval()
    x = torch.rand(2, D)
    with torch.no_grad():
        out = sc(x, BASE)
        assert out.dtype == torch.float32
        net = sc.extract(BASE).eval()
        assert net.quantum.weights.dtype == torch.float64  # the circuit's precision
        torch.testing.assert_close(out, net(x))


# ---------------------------------------------------------------------- training
@dataclass
class _Data:
    X_train: np.ndarray
    y_train: np.ndarray


def _data(n: int = 12) -> _Data:
    rng = np.random.default_rng(3)
    return _Data(rng.normal(size=(n, D)).astype(np.float32), rng.integers(0, C, size=n))


TRAIN_SPACE = hqnn_space(
    max_qubits=3, max_layers=2, frontends=["linear"], heads=["linear"],
    embeddings=["angle-y", "iqp"],
)  # fmt: skip


def _recorded(sc: SuperCircuit) -> list[tuple[torch.Tensor, dict, dict[str, torch.Tensor]]]:
    """Wrap ``sc.forward`` to record each step's batch, architecture and the
    parameters it started from."""
    calls: list[tuple[torch.Tensor, dict, dict[str, torch.Tensor]]] = []
    forward = sc.forward

    def spy(x: torch.Tensor, arch: Any) -> torch.Tensor:
        params = {k: v.detach().clone() for k, v in sc.named_parameters()}
        calls.append((x.detach().clone(), dict(arch), params))
        return forward(x, arch)

    sc.forward = spy  # type: ignore[method-assign]
    return calls


def test_training_walks_the_data_and_the_space_as_documented() -> None:
    data = _data(12)
    torch.manual_seed(0)
    sc = SuperCircuit(TRAIN_SPACE, (D,), C)
    calls = _recorded(sc)
    losses = train_supercircuit(sc, data, steps=4, batch_size=6, lr=0.01, seed=5)  # type: ignore[arg-type]
    assert len(losses) == len(calls) == 4
    rows = {tuple(r): i for i, r in enumerate(data.X_train.tolist())}
    seen = [[rows[tuple(r)] for r in x.tolist()] for x, _, _ in calls]
    assert all(len(s) == 6 for s in seen)
    for epoch in (seen[:2], seen[2:]):  # 12 samples, 6 a batch: each epoch all of them once
        assert sorted(i for batch in epoch for i in batch) == list(range(12))
    rng = np.random.default_rng(5)
    assert [a for _, a, _ in calls] == [dict(TRAIN_SPACE.sample(rng)) for _ in range(4)]
    # each loss is the cross entropy of its batch under the weights before the step
    for (x, arch, params), loss in zip(calls, losses, strict=True):
        probe = SuperCircuit(TRAIN_SPACE, (D,), C)
        probe.load_state_dict({**sc.state_dict(), **params})
        y = torch.as_tensor(data.y_train[[rows[tuple(r)] for r in x.tolist()]])
        with torch.no_grad():
            probe.train()  # batch statistics, as during training
            want = float(F.cross_entropy(probe(x, arch), y))
        assert loss == pytest.approx(want, rel=1e-5)


def test_a_step_moves_the_sampled_sub_network_by_the_learning_rate() -> None:
    """Adam's first step moves a weight with a nonzero gradient by ``lr`` (to 1e-3
    relative, Adam's eps); a later step leaves the weights of another family alone."""
    data = _data(12)
    torch.manual_seed(1)
    sc = SuperCircuit(TRAIN_SPACE, (D,), C)
    sc.eval()  # training must switch to train mode (BatchNorm statistics then move)
    calls = _recorded(sc)
    lr = 0.01  # the default
    train_supercircuit(sc, data, steps=8, batch_size=4, seed=2)  # type: ignore[arg-type]
    moved = torch.cat([(calls[1][2][k] - v).abs().flatten() for k, v in calls[0][2].items()])
    moved = moved[moved > 0]
    assert len(moved) >= 10
    assert float(moved.max()) <= lr * (1 + 1e-4)
    assert float(moved.median()) == pytest.approx(lr, rel=1e-3)
    # steps whose family differs from the previous one's: the previous family rests
    checked = 0
    for i in range(1, len(calls) - 1):
        prev, cur = calls[i - 1][1]["embedding"], calls[i][1]["embedding"]
        if prev != cur:
            key = f"weights.{str(prev).replace('-', '_')}"
            assert torch.equal(calls[i][2][key], calls[i + 1][2][key])
            checked += 1
    assert checked > 0
    bn = [m for m in sc.modules() if isinstance(m, nn.BatchNorm1d)]
    assert any(int(m.num_batches_tracked or 0) > 0 for m in bn)


def test_training_is_reproducible_and_refuses_negative_steps() -> None:
    """The seed alone fixes the minibatches and the architectures (not torch's global
    generator); the default seed is 0 and the default batch 32 samples. Inputs of
    any float dtype and integer labels of any width are taken."""
    rng = np.random.default_rng(3)
    data = _Data(rng.normal(size=(40, D)), rng.integers(0, C, size=40).astype(np.int32))
    torch.manual_seed(0)
    start = SuperCircuit(TRAIN_SPACE, (D,), C).state_dict()
    runs = []
    for seed, global_seed in ((4, 1), (4, 2), (5, 1), (None, 3), (0, 4)):
        sc = SuperCircuit(TRAIN_SPACE, (D,), C)
        sc.load_state_dict(start)
        calls = _recorded(sc)
        torch.manual_seed(global_seed)
        kw = {} if seed is None else {"seed": seed}
        runs.append(train_supercircuit(sc, data, steps=2, **kw))  # type: ignore[arg-type]
        assert [len(x) for x, _, _ in calls] == [32, 32]
    assert runs[0] == runs[1] != runs[2]
    assert runs[3] == runs[4] != runs[0]
    sc = SuperCircuit(TRAIN_SPACE, (D,), C)
    state = {k: v.clone() for k, v in sc.state_dict().items()}
    assert train_supercircuit(sc, data, steps=0) == []  # type: ignore[arg-type]
    assert all(torch.equal(state[k], v) for k, v in sc.state_dict().items())
    with pytest.raises(ValueError) as err:
        train_supercircuit(sc, data, steps=-1)  # type: ignore[arg-type]
    assert str(err.value) == "steps must be an integer >= 0; got -1"
