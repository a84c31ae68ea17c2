"""HybridNet and its classical ablation, checked against PennyLane and counting by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from quarch.cost.classical import count_params
from quarch.quantum import QuantumLayer
from quarch.spaces.hqnn.model import (
    HybridNet,
    ParamMatchedLayer,
    build_circuit,
    classical_ablation,
    fit_pca,
    n_embedding_features,
)
from quarch.spaces.hqnn.space import hqnn_space

from ._patterns import pairs as _pairs
from ._patterns import pl_embed

qml = pytest.importorskip("pennylane")


def _pennylane(arch: dict, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    n = arch["qubits"]
    dev = qml.device("default.qubit", wires=n)
    emb = arch["embedding"]

    def embed(xs: np.ndarray) -> None:
        pl_embed(emb, n, xs)

    @qml.qnode(dev)
    def circuit(xs: np.ndarray) -> list:
        k = iter(w)
        embed(xs)
        for layer in range(arch["layers"]):
            if layer and arch["reupload"] and emb != "amplitude":
                embed(xs)
            for q in range(n):
                rot = arch[f"rotation_{layer}"]
                if rot == "ry":
                    qml.RY(next(k), q)
                elif rot == "rx-ry-rz":
                    qml.RX(next(k), q)
                    qml.RY(next(k), q)
                    qml.RZ(next(k), q)
                else:
                    qml.Rot(next(k), next(k), next(k), q)
            for a, b in _pairs(n, arch[f"entanglement_{layer}"], arch["entangler"]):
                gate = arch["entangler"]
                if gate == "cnot":
                    qml.CNOT([a, b])
                elif gate == "cz":
                    qml.CZ([a, b])
                else:
                    qml.CRZ(next(k), [a, b])
        if arch["measurement"] == "z":
            return [qml.expval(qml.PauliZ(q)) for q in range(n)]
        return [qml.expval(qml.PauliZ(q) @ qml.PauliZ(q + 1)) for q in range(n - 1)]

    return np.array([np.array(circuit(xi)) for xi in x])


class TestCorrectness:
    @pytest.mark.parametrize("seed", range(8))
    def test_circuit_matches_pennylane(self, seed: int) -> None:
        space = hqnn_space(max_qubits=4, max_layers=3)
        arch = space.sample(seed)
        arch["embedding"] = ["angle-x", "angle-y", "angle-z", "amplitude", "iqp"][seed % 5]
        c = build_circuit(arch)
        layer = QuantumLayer(c, observables=None, dtype=torch.complex128)
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1, 1, size=(3, n_embedding_features(arch)))
        net = HybridNet(arch, (4,), 3)
        words = net.observables
        got = layer.plan.expval(words, torch.as_tensor(x), layer.weights.detach())
        want = _pennylane(arch, x, layer.weights.detach().numpy())
        np.testing.assert_allclose(got.numpy(), want, atol=1e-8)

    def test_weight_count_by_hand(self) -> None:
        arch = hqnn_space(max_qubits=5, max_layers=3).sample(0)
        arch.update(qubits=5, layers=3, entangler="crz", rotation_0="ry",
                    rotation_1="rot", rotation_2="rx-ry-rz", entanglement_0="ring",
                    entanglement_1="full", entanglement_2="range-5")  # fmt: skip
        # rotations 5*(1+3+3); CRZ pairs: ring 5, full 10, range-5 -> range-1 on 5 wires: 5
        assert build_circuit(arch).n_weights == 5 * 7 + 5 + 10 + 5

    @pytest.mark.parametrize("seed", range(6))
    def test_ablation_has_equal_parameters(self, seed: int) -> None:
        arch = hqnn_space(max_qubits=6, max_layers=3).sample(seed)
        for shape in [(4,), (1, 8, 8)]:
            net = HybridNet(arch, shape, 3)
            abl = classical_ablation(arch, shape, 3)
            assert count_params(abl) == count_params(net)
            x = torch.rand(4, *shape)
            out = abl(x)
            assert out.shape == (4, 3) and torch.isfinite(out).all()

    def test_param_matched_layer_exact_count(self) -> None:
        for n_in, n_out, p in [(4, 4, 3), (4, 4, 20), (4, 3, 200), (16, 2, 34)]:
            layer = ParamMatchedLayer(n_in, n_out, p)
            assert sum(t.numel() for t in layer.parameters()) == p
            assert layer(torch.rand(2, n_in)).abs().max() <= 1.0

    def test_pca_frontend_matches_sklearn(self) -> None:
        from sklearn.decomposition import PCA

        rng = np.random.default_rng(0)
        X = rng.normal(size=(60, 6)).astype(np.float32) @ rng.normal(size=(6, 6)).astype(np.float32)
        arch = hqnn_space(max_qubits=3, max_layers=1).sample(0)
        arch.update(frontend="pca", embedding="angle-y", qubits=3)
        net = HybridNet(arch, (6,), 2, pca=fit_pca(X, 3))
        ref = PCA(3).fit(X)
        z = ref.transform(X[:5]) / np.sqrt(ref.explained_variance_)
        got = net.frontend(torch.as_tensor(X[:5])).detach().numpy()
        np.testing.assert_allclose(np.abs(got), np.abs(z), rtol=1e-3, atol=1e-4)

    def test_trains_and_backpropagates(self) -> None:
        arch = hqnn_space(max_qubits=3, max_layers=2).sample(1)
        net = HybridNet(arch, (1, 8, 8), 4)
        loss = net(torch.rand(5, 1, 8, 8)).logsumexp(1).sum()
        loss.backward()
        assert net.quantum.weights.grad is not None
        assert torch.isfinite(net.quantum.weights.grad).all()


@pytest.mark.parametrize("seed", range(12))
def test_a_trained_model_saves_and_loads_whole(seed: int) -> None:
    """``torch.save`` of a whole trained ``HybridNet`` (not only its ``state_dict``), as a
    user keeps a winner: the loaded copy gives the same logits and gradients and trains on.
    Training fills the simulator's caches (compiled plans, replays, dense tables), which
    must not break pickling."""
    import io

    arch = hqnn_space(max_qubits=5, max_layers=3).sample(seed)
    torch.manual_seed(seed)
    net = HybridNet(arch, (6,), 3)
    x, y = torch.rand(16, 6), torch.arange(16) % 3
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    copy = torch.load(buffer, weights_only=False)
    assert isinstance(copy, HybridNet) and copy.arch == net.arch
    for model in (net, copy):
        model.zero_grad()
    a, b = net(x), copy(x)
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    torch.nn.functional.cross_entropy(a, y).backward()
    torch.nn.functional.cross_entropy(b, y).backward()
    for p, q in zip(net.parameters(), copy.parameters(), strict=True):
        assert p.grad is not None and q.grad is not None
        torch.testing.assert_close(p.grad, q.grad, rtol=0, atol=1e-6)


class TestInputs:
    def test_bad_classes(self) -> None:
        arch = hqnn_space(max_qubits=3).sample(0)
        with pytest.raises(ValueError, match=r"n_classes must be an integer >= 2; got 1"):
            HybridNet(arch, (4,), 1)

    def test_bad_param_count(self) -> None:
        with pytest.raises(ValueError, match=r"n_params must be an integer >= 1; got 0"):
            ParamMatchedLayer(3, 3, 0)


def test_amplitude_reads_power_of_two_features() -> None:
    arch = hqnn_space(max_qubits=4).sample(0)
    arch.update(embedding="amplitude", qubits=4)
    assert n_embedding_features(arch) == 16 == build_circuit(arch).n_inputs
    assert math.isclose(n_embedding_features({**arch, "embedding": "iqp"}), 4)
