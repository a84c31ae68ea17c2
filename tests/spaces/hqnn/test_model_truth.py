"""``HybridNet``, its circuit and its classical control against independent truth: the
circuit of an architecture (tied layers included) against Qiskit's ``Statevector`` of
the same architecture written in Qiskit; every front-end and head against the layers
the module docstrings describe, run with ``torch.nn.functional`` on the module's own
weights; parameter counts by hand formulas; the PCA front-end against scikit-learn;
``ParamMatchedLayer`` against its docstring (the smallest hidden width, exactly
``n_params`` free entries, the rest zero)."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from quarch.cost.classical import count_params
from quarch.quantum import QuantumLayer
from quarch.spaces.hqnn.model import (
    HEAD_HIDDEN,
    HybridNet,
    ParamMatchedLayer,
    build_circuit,
    classical_ablation,
    fit_pca,
    n_embedding_features,
    observables_of,
)
from quarch.spaces.hqnn.space import hqnn_space

qiskit = pytest.importorskip("qiskit")
from qiskit import QuantumCircuit  # noqa: E402
from qiskit.quantum_info import SparsePauliOp, Statevector  # noqa: E402

from ._patterns import pairs as _pairs  # noqa: E402


# ------------------------------------------------------------------ circuit vs Qiskit
def _qiskit(arch: dict, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``<Z_i>`` or ``<Z_i Z_i+1>`` of the architecture built gate by gate in Qiskit."""
    n, emb = arch["qubits"], arch["embedding"]
    qc = QuantumCircuit(n)
    k = iter(w.tolist())

    def choice(kind: str, layer: int) -> str:
        return str(arch.get(f"{kind}_{layer}", arch.get(kind)))

    def embed() -> None:
        if emb == "amplitude":
            v = np.zeros(2**n)
            v[: len(x)] = x
            # quarch (as PennyLane) reads wire 0 as the most significant bit
            qc.initialize(v / np.linalg.norm(v), list(reversed(range(n))))
        elif emb == "iqp":
            for q in range(n):
                qc.h(q)
                qc.rz(x[q], q)
            for a in range(n):
                for b in range(a + 1, n):
                    qc.rzz(x[a] * x[b], a, b)
        else:
            for q in range(n):
                if emb == "angle-z":
                    qc.h(q)
                getattr(qc, "r" + emb[-1])(x[q], q)

    embed()
    for layer in range(arch["layers"]):
        if layer and arch["reupload"] and emb != "amplitude":
            embed()
        rot = choice("rotation", layer)
        for q in range(n):
            if rot == "ry":
                qc.ry(next(k), q)
            elif rot == "rx-ry-rz":
                qc.rx(next(k), q)
                qc.ry(next(k), q)
                qc.rz(next(k), q)
            else:  # Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)
                phi, theta, omega = next(k), next(k), next(k)
                qc.rz(phi, q)
                qc.ry(theta, q)
                qc.rz(omega, q)
        for a, b in _pairs(n, choice("entanglement", layer), arch["entangler"]):
            if arch["entangler"] == "cnot":
                qc.cx(a, b)
            elif arch["entangler"] == "cz":
                qc.cz(a, b)
            else:
                qc.crz(next(k), a, b)
    assert next(k, None) is None  # every weight used
    state = Statevector(qc)
    if arch["measurement"] == "z":
        terms = [[("Z", [q], 1.0)] for q in range(n)]
    else:
        terms = [[("ZZ", [q, q + 1], 1.0)] for q in range(n - 1)]
    return np.array(
        [state.expectation_value(SparsePauliOp.from_sparse_list(t, n)).real for t in terms]
    )


def _check_against_qiskit(arch: dict, seed: int) -> None:
    c = build_circuit(arch)
    layer = QuantumLayer(c, observables_of(arch), dtype=torch.complex128)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, size=(2, n_embedding_features(arch)))
    w = rng.uniform(0, 2 * math.pi, size=c.n_weights)
    with torch.no_grad():
        layer.weights.copy_(torch.as_tensor(w))
        got = layer(torch.as_tensor(x)).numpy()
    want = np.array([_qiskit(arch, xi, w) for xi in x])
    np.testing.assert_allclose(got, want, atol=1e-9, rtol=0)


@pytest.mark.parametrize("seed", range(10))
def test_tied_architectures_against_qiskit(seed: int) -> None:
    space = hqnn_space(max_qubits=4, max_layers=3, tied_layers=True)
    arch = dict(space.sample(seed))
    arch["embedding"] = ["angle-x", "angle-y", "angle-z", "amplitude", "iqp"][seed % 5]
    arch["reupload"] = seed % 2 == 0
    _check_against_qiskit(arch, seed)


@pytest.mark.parametrize("rotation", ["ry", "rx-ry-rz", "rot"])
@pytest.mark.parametrize("entangler", ["cnot", "cz", "crz"])
def test_each_rotation_and_entangler_against_qiskit(rotation: str, entangler: str) -> None:
    arch = dict(hqnn_space(max_qubits=4, max_layers=3).sample(0))
    arch.update(qubits=4, layers=3, embedding="angle-y", reupload=True, entangler=entangler,
                measurement="zz", rotation_0=rotation, rotation_1="ry", rotation_2=rotation,
                entanglement_0="range-5", entanglement_1="ring", entanglement_2="full")  # fmt: skip
    _check_against_qiskit(arch, 3)


@pytest.mark.parametrize("embedding", ["angle-x", "angle-z", "amplitude", "iqp"])
def test_reuploading_repeats_the_embedding_except_amplitude(embedding: str) -> None:
    arch = dict(hqnn_space(max_qubits=3, max_layers=3).sample(1))
    arch.update(qubits=3, layers=3, embedding=embedding, reupload=True, rotation_0="rot",
                rotation_1="rx-ry-rz", rotation_2="ry", entangler="crz", measurement="z",
                entanglement_0="linear", entanglement_1="odd", entanglement_2="range-2")  # fmt: skip
    _check_against_qiskit(arch, 5)
    names = [op.name for op in build_circuit(arch).ops]
    if embedding == "amplitude":  # only first: a state preparation needs |0...0>
        assert names.count("amplitude_embedding") == 1
    elif embedding == "iqp":
        assert names.count("rzz") == 3 * 3  # three pairs, three copies
    else:
        assert names.count("h") == (9 if embedding == "angle-z" else 0)


def test_weight_count_by_hand_formula() -> None:
    space = hqnn_space(max_qubits=6, max_layers=4)
    rng = np.random.default_rng(1)
    for _ in range(60):
        arch = space.sample(rng)
        n, n_layers = arch["qubits"], arch["layers"]
        want = 0
        for layer in range(n_layers):
            want += n * (1 if arch[f"rotation_{layer}"] == "ry" else 3)
            if arch["entangler"] == "crz":
                want += len(_pairs(n, arch[f"entanglement_{layer}"]))
        assert build_circuit(arch).n_weights == want
        assert HybridNet(arch, (3,), 2).quantum.weights.numel() == want


def test_features_and_observables_by_hand() -> None:
    for n in range(2, 7):
        for emb in ("angle-x", "angle-y", "angle-z", "iqp"):
            assert n_embedding_features({"qubits": n, "embedding": emb}) == n
        assert n_embedding_features({"qubits": n, "embedding": "amplitude"}) == 2**n
        z = observables_of({"qubits": n, "measurement": "z"})
        zz = observables_of({"qubits": n, "measurement": "zz"})
        assert z == [f"Z{q}" for q in range(n)]
        assert zz == [f"Z{q} Z{q + 1}" for q in range(n - 1)]


# --------------------------------------------------------------- front-ends and heads
def _arch(**kw: object) -> dict:
    arch = dict(hqnn_space(max_qubits=5, max_layers=2).sample(0))
    arch.update(kw)
    return arch


def _linears(module: nn.Module) -> list[Any]:
    return [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d))]


def _bn(z: torch.Tensor) -> torch.Tensor:
    """BatchNorm1d without affine parameters, in training mode: batch z-scores."""
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)


@pytest.mark.parametrize(("embedding", "qubits"), [("angle-y", 3), ("amplitude", 3), ("iqp", 4)])
@pytest.mark.parametrize("head", ["linear", "mlp"])
def test_linear_and_mlp_front_ends_by_hand(embedding: str, qubits: int, head: str) -> None:
    k = 2**qubits if embedding == "amplitude" else qubits
    n_obs = qubits
    d, n_cls = 6, 3
    torch.manual_seed(0)
    x = torch.randn(7, 2, 3)
    for frontend in ("linear", "mlp-256"):
        arch = _arch(embedding=embedding, qubits=qubits, frontend=frontend, head=head,
                     measurement="z")  # fmt: skip
        net = HybridNet(arch, (2, 3), n_cls).train()
        mods = _linears(net.frontend)
        if frontend == "linear":
            assert [(m.in_features, m.out_features) for m in mods] == [(d, k)]
            z = F.linear(x.flatten(1), mods[0].weight, mods[0].bias)
            want_front = d * k + k
        else:
            assert [(m.in_features, m.out_features) for m in mods] == [(d, 256), (256, k)]
            h = F.relu(F.linear(x.flatten(1), mods[0].weight, mods[0].bias))
            z = F.linear(h, mods[1].weight, mods[1].bias)
            want_front = d * 256 + 256 + 256 * k + k
        if embedding != "amplitude":  # angles: parameter-free batch z-scores first
            z = _bn(z)
        torch.testing.assert_close(net.frontend(x), z, atol=1e-5, rtol=1e-5)
        # circuit inputs: pi * tanh for angles, a unit vector for amplitude
        want_in = (
            z / z.norm(dim=1, keepdim=True) if embedding == "amplitude" else math.pi * torch.tanh(z)
        )
        torch.testing.assert_close(net.features(x), want_in, atol=1e-5, rtol=1e-5)
        q = net.quantum(want_in)
        hm = _linears(net.head)
        if head == "linear":
            assert [(m.in_features, m.out_features) for m in hm] == [(n_obs, n_cls)]
            logits = F.linear(q, hm[0].weight, hm[0].bias)
            want_head = n_obs * n_cls + n_cls
        else:
            assert HEAD_HIDDEN == 32
            assert [(m.in_features, m.out_features) for m in hm] == [(n_obs, 32), (32, n_cls)]
            logits = F.linear(
                F.relu(F.linear(q, hm[0].weight, hm[0].bias)), hm[1].weight, hm[1].bias
            )
            want_head = n_obs * 32 + 32 + 32 * n_cls + n_cls
        torch.testing.assert_close(net(x), logits, atol=1e-5, rtol=1e-5)
        assert net(x).dtype == torch.float32
        n_w = build_circuit(arch).n_weights
        assert count_params(net.frontend) == want_front
        assert count_params(net.head) == want_head
        assert count_params(net) == want_front + n_w + want_head


def test_cnn_front_end_on_images_by_hand() -> None:
    """16 and 32 channels of 3x3 convolutions (padding 1), each ReLU then 2x2 max-pool
    (the second rounding up), an adaptive 4x4 average and a linear map from 512."""
    for shape in [(1, 8, 8), (3, 7, 5), (2, 3, 3)]:
        arch = _arch(embedding="angle-x", qubits=4, frontend="cnn", head="linear")
        net = HybridNet(arch, shape, 2).train()
        c1, c2, lin = _linears(net.frontend)
        assert (c1.in_channels, c1.out_channels, c1.kernel_size, c1.padding) == (
            shape[0],
            16,
            (3, 3),
            (1, 1),
        )
        assert (c2.in_channels, c2.out_channels, c2.kernel_size, c2.padding) == (
            16,
            32,
            (3, 3),
            (1, 1),
        )
        assert (lin.in_features, lin.out_features) == (512, 4)
        x = torch.randn(5, *shape)
        h = F.max_pool2d(F.relu(F.conv2d(x, c1.weight, c1.bias, padding=1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, c2.weight, c2.bias, padding=1)), 2, ceil_mode=True)
        z = F.linear(F.adaptive_avg_pool2d(h, 4).flatten(1), lin.weight, lin.bias)
        torch.testing.assert_close(net.frontend(x), _bn(z), atol=1e-5, rtol=1e-5)
        want = shape[0] * 16 * 9 + 16 + 16 * 32 * 9 + 32 + 512 * 4 + 4
        assert count_params(net.frontend) == want


def test_cnn_front_end_on_tables_by_hand() -> None:
    """A table is a one-channel signal: 8 and 16 channels of width-3 convolutions
    (padding 1) with ReLU, an adaptive average to 4 and a linear map from 64."""
    arch = _arch(embedding="amplitude", qubits=2, frontend="cnn", head="mlp")
    net = HybridNet(arch, (5,), 3).train()
    c1, c2, lin = _linears(net.frontend)
    assert (c1.in_channels, c1.out_channels, c1.kernel_size, c1.padding) == (1, 8, (3,), (1,))
    assert (c2.in_channels, c2.out_channels, c2.kernel_size, c2.padding) == (8, 16, (3,), (1,))
    assert (lin.in_features, lin.out_features) == (64, 4)
    x = torch.randn(6, 5)
    h = F.relu(F.conv1d(x[:, None, :], c1.weight, c1.bias, padding=1))
    h = F.relu(F.conv1d(h, c2.weight, c2.bias, padding=1))
    z = F.linear(F.adaptive_avg_pool1d(h, 4).flatten(1), lin.weight, lin.bias)
    torch.testing.assert_close(net.frontend(x), z, atol=1e-5, rtol=1e-5)  # amplitude: no BN
    assert count_params(net.frontend) == 1 * 8 * 3 + 8 + 8 * 16 * 3 + 16 + 64 * 4 + 4


def test_cnn_front_end_flattens_a_sample_that_is_not_an_image() -> None:
    """A sample of shape (2, 3) is not an image (no channel axis): the convolutions
    read its six features as one flat signal, as for a table of six columns."""
    arch = _arch(embedding="amplitude", qubits=2, frontend="cnn", head="linear")
    net = HybridNet(arch, (2, 3), 3).eval()
    flat = HybridNet(arch, (6,), 3).eval()
    flat.frontend.load_state_dict(net.frontend.state_dict())
    x = torch.randn(5, 2, 3)
    with torch.no_grad():
        torch.testing.assert_close(net.frontend(x), flat.frontend(x.reshape(5, 6)))


def test_pca_front_end_against_scikit_learn() -> None:
    """z-scores of the leading components; an angle embedding wider than the basis
    cycles them, an amplitude one pads zeros; no trainable parameters."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(0)
    X = (rng.normal(size=(80, 3)) @ np.diag([3.0, 1.0, 0.3])).astype(np.float32)
    basis = fit_pca(X, 16)
    assert basis.components.shape == (3, 3)  # min(k, d, n)
    ref = PCA(3).fit(X.astype(np.float64))
    z = ref.transform(X[:6]) / np.sqrt(ref.explained_variance_)
    sign = np.sign((basis.components * ref.components_).sum(1))
    z = z * sign
    cases = [("angle-y", 5, [0, 1, 2, 0, 1], None), ("amplitude", 2, [0, 1, 2], 1),
             ("iqp", 2, [0, 1], None)]  # fmt: skip
    for emb, n, cols, pad in cases:
        arch = _arch(embedding=emb, qubits=n, frontend="pca")
        net = HybridNet(arch, (3,), 2, pca=basis)
        got = net.frontend(torch.as_tensor(X[:6])).detach().numpy()
        want = z[:, cols]
        if pad:
            want = np.hstack([want, np.zeros((6, pad))])
        np.testing.assert_allclose(got, want, atol=2e-4, rtol=1e-3)
        assert count_params(net.frontend) == 0
        enc = net.features(torch.as_tensor(X[:6])).numpy()
        if emb == "amplitude":
            np.testing.assert_allclose(enc, want / np.linalg.norm(want, axis=1, keepdims=True),
                                       atol=1e-4)  # fmt: skip
        else:
            np.testing.assert_allclose(enc, np.pi * np.tanh(want), atol=1e-3)


def test_fit_pca_keeps_at_least_one_component_and_a_positive_scale() -> None:
    X = np.tile(np.array([[1.0, 2.0, 3.0]]), (5, 1))
    X[:, 0] += np.arange(5)  # variance along one axis only
    b = fit_pca(X, 3)
    assert b.components.shape[0] == 3
    np.testing.assert_allclose(b.scale[0], np.std(np.arange(5), ddof=1), rtol=1e-5)
    np.testing.assert_allclose(b.scale[1:], 1e-6, rtol=1e-3)  # sqrt(1e-12), not 0
    assert fit_pca(X, 0).components.shape[0] == 1
    assert fit_pca(X[:2], 3).components.shape[0] == 2  # at most n
    assert b.mean.dtype == b.components.dtype == b.scale.dtype == np.float32
    np.testing.assert_allclose(b.mean, X.mean(0), rtol=1e-6)


def test_fit_pca_is_fitted_in_double_precision() -> None:
    """float32 features far from the origin: a PCA fitted in float32 loses the small
    components to cancellation; the basis must be float64's, rounded at the end."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(3)
    X = (3000.0 + rng.normal(size=(200, 3)) * [2.0, 1.0, 0.01]).astype(np.float32)
    b = fit_pca(X, 3)
    ref = PCA(3, svd_solver="full").fit(X.astype(np.float64))
    np.testing.assert_allclose(b.scale, np.sqrt(ref.explained_variance_), rtol=1e-5)
    np.testing.assert_allclose(b.mean, ref.mean_, rtol=1e-7)


def test_fit_pca_is_exact_and_repeatable_on_wide_data() -> None:
    """On data wide enough for scikit-learn's ``auto`` solver to go randomised (and
    unseeded), the basis is still the exact, deterministic one."""
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(5)
    X = rng.normal(size=(510, 502)).astype(np.float32)
    a = fit_pca(X, 8)  # randomised: about 2 % off on this flat spectrum
    ref = PCA(8, svd_solver="full").fit(X.astype(np.float64))
    np.testing.assert_allclose(a.scale, np.sqrt(ref.explained_variance_), rtol=1e-5)


def test_pca_front_end_cycles_or_pads_a_narrow_basis() -> None:
    """A basis of 2 components for 5 features: 3 angles read components 0, 1, 0; an
    amplitude embedding of 2 qubits reads 0, 1 and two zeros."""
    rng = np.random.default_rng(6)
    X = (rng.normal(size=(50, 5)) * [4.0, 3.0, 2.0, 1.0, 0.5]).astype(np.float32)
    basis = fit_pca(X, 2)
    assert basis.components.shape == (2, 5)
    z = (X[:4] - basis.mean) @ (basis.components / basis.scale[:, None]).T
    x = torch.as_tensor(X[:4])
    angles = HybridNet(_arch(embedding="angle-x", qubits=3, frontend="pca"), (5,), 2, pca=basis)
    np.testing.assert_allclose(angles.frontend(x).numpy(), z[:, [0, 1, 0]], atol=1e-4)
    amp = HybridNet(_arch(embedding="amplitude", qubits=2, frontend="pca"), (5,), 2, pca=basis)
    want = np.hstack([z, np.zeros((4, 2))])
    np.testing.assert_allclose(amp.frontend(x).numpy(), want, atol=1e-4)


def test_pca_front_end_without_data_is_an_orthonormal_projection() -> None:
    arch = _arch(embedding="angle-y", qubits=3, frontend="pca")
    net = HybridNet(arch, (2, 4), 2)
    x = torch.randn(4, 2, 4)
    front: Any = net.frontend
    P = front.proj
    assert P.shape == (8, 3)
    torch.testing.assert_close(P.T @ P, torch.eye(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(net.frontend(x), x.flatten(1) @ P, atol=1e-6, rtol=0)
    again = HybridNet(arch, (2, 4), 2)
    again_front: Any = again.frontend
    assert torch.equal(again_front.proj, P)


def test_amplitude_inputs_of_zero_stay_finite() -> None:
    arch = _arch(embedding="amplitude", qubits=2, frontend="pca")
    rng = np.random.default_rng(2)
    basis = fit_pca(rng.normal(size=(20, 4)).astype(np.float32), 4)
    net = HybridNet(arch, (4,), 2, pca=basis)
    f = net.features(torch.as_tensor(basis.mean[None]))
    assert torch.equal(f, torch.zeros_like(f))


def test_n_classes_is_checked() -> None:
    for bad in (1, 0, True, 2.0, "3"):
        with pytest.raises(
            ValueError, match=re.escape(f"n_classes must be an integer >= 2; got {bad!r}")
        ):
            HybridNet(_arch(), (4,), bad)  # type: ignore[arg-type]
    assert HybridNet(_arch(), (4,), 2)(torch.rand(2, 4)).shape == (2, 2)


def test_unknown_front_end_or_head_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^frontend must be one of linear, mlp-256, cnn, pca; got 'rnn'$"
    ):
        HybridNet(_arch(frontend="rnn"), (4,), 2)
    with pytest.raises(ValueError, match=r"^head must be one of linear, mlp; got 'svm'$"):
        HybridNet(_arch(head="svm"), (4,), 2)


def test_the_model_keeps_its_architecture_and_dtype() -> None:
    arch = _arch(embedding="iqp", qubits=3, measurement="zz")
    net = HybridNet(arch, (4,), 2, dtype=torch.complex128)
    assert net.arch == arch and net.arch is not arch
    assert net.embedding == "iqp"
    assert net.observables == observables_of(arch)
    assert net.circuit.ops == build_circuit(arch).ops
    assert net.quantum.weights.dtype == torch.float64
    assert net.quantum(torch.rand(2, 3, dtype=torch.float64)).shape == (2, 2)
    # float64 expectations meet the float32 head in the input's dtype
    x = torch.rand(3, 4)
    logits = net(x)
    assert logits.dtype == torch.float32
    q = net.quantum(net.features(x))
    assert q.dtype == torch.float64
    torch.testing.assert_close(logits, net.head(q.float()), atol=1e-6, rtol=1e-6)
    assert HybridNet(arch, (4,), 2).quantum.weights.dtype == torch.float32


# ------------------------------------------------------------------ the classical control
def _hidden_by_hand(n_in: int, n_out: int, p: int) -> int | None:
    if p <= (n_in + 1) * n_out:
        return None
    return min(h for h in range(1, p + 1) if (n_in + 1) * h + (h + 1) * n_out >= p)


@pytest.mark.parametrize(
    ("n_in", "n_out", "p"),
    [(4, 4, 1), (4, 4, 20), (4, 4, 21), (3, 2, 8), (3, 2, 9), (3, 2, 13), (3, 2, 14), (16, 2, 34),
     (5, 3, 200), (1, 1, 3), (1, 1, 4), (2, 1, 4), (2, 1, 5)],
)  # fmt: skip
def test_param_matched_layer_against_its_docstring(n_in: int, n_out: int, p: int) -> None:
    layer = ParamMatchedLayer(n_in, n_out, p)
    h = _hidden_by_hand(n_in, n_out, p)
    shapes = [(n_in + 1, n_out)] if h is None else [(n_in + 1, h), (h + 1, n_out)]
    assert layer.shapes == shapes
    assert layer.total == sum(a * b for a, b in shapes)
    assert [t.numel() for t in layer.parameters()] == [p]
    free = layer.free.tolist()
    assert len(free) == len(set(free)) == p and free == sorted(free)
    assert free[0] >= 0 and free[-1] < layer.total
    bound = 1 / math.sqrt(n_in + 1)
    assert layer.theta.abs().max() <= bound
    # tanh(x W + b) per layer, W and b read from the flat vector with theta in `free`
    flat = torch.zeros(layer.total)
    flat[layer.free] = layer.theta.detach()
    x = torch.randn(5, n_in)
    want, start = x, 0
    for a, b in shapes:
        wb = flat[start : start + a * b].reshape(a, b)
        start += a * b
        want = torch.tanh(want @ wb[:-1] + wb[-1])
    torch.testing.assert_close(layer(x), want, atol=1e-6, rtol=1e-6)
    assert layer(x).shape == (5, n_out)
    (layer(x).sum()).backward()
    assert layer.theta.grad is not None and layer.theta.grad.abs().sum() > 0


def test_param_matched_layer_initial_range_and_seeded_choice() -> None:
    torch.manual_seed(0)
    layer = ParamMatchedLayer(3, 2, 4000)
    bound = 0.5  # 1 / sqrt(3 + 1)
    assert layer.theta.abs().max() <= bound
    assert layer.theta.abs().max() > 0.99 * bound
    assert abs(float(layer.theta.detach().mean())) < 0.05
    torch.manual_seed(1)
    assert torch.equal(ParamMatchedLayer(3, 2, 4000).free, layer.free)  # seeded, not global
    with pytest.raises(ValueError, match=r"^n_params must be an integer >= 1; got -2$"):
        ParamMatchedLayer(3, 2, -2)


def test_param_matched_layer_follows_its_parameters_dtype_and_device() -> None:
    layer = ParamMatchedLayer(3, 2, 13).double()
    x = torch.rand(4, 3, dtype=torch.float64)
    assert layer(x).dtype == torch.float64
    meta = ParamMatchedLayer(3, 2, 13).to("meta")
    out = meta(torch.empty(4, 3, device="meta"))
    assert out.device.type == "meta" and out.shape == (4, 2)


def test_classical_ablation_keeps_the_pca_basis() -> None:
    rng = np.random.default_rng(4)
    X = (rng.normal(size=(40, 5)) * [5.0, 4.0, 3.0, 2.0, 1.0]).astype(np.float32)
    basis = fit_pca(X, 3)
    arch = _arch(embedding="angle-y", qubits=3, frontend="pca")
    abl = classical_ablation(arch, (5,), 2, pca=basis)
    net = HybridNet(arch, (5,), 2, pca=basis)
    x = torch.as_tensor(X[:4])
    front: Any = abl.frontend
    torch.testing.assert_close(front(x), net.frontend(x), atol=0, rtol=0)
    z = (X[:4] - basis.mean) @ (basis.components / basis.scale[:, None]).T
    np.testing.assert_allclose(front(x).numpy(), z, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("seed", range(4))
def test_classical_ablation_by_hand(seed: int) -> None:
    arch = dict(hqnn_space(max_qubits=4, max_layers=2).sample(seed))
    arch["embedding"] = ["amplitude", "angle-z", "iqp", "angle-x"][seed]
    arch["measurement"] = ["zz", "z"][seed % 2]
    torch.manual_seed(seed)
    abl = classical_ablation(arch, (5,), 3)
    torch.manual_seed(seed)
    net = HybridNet(arch, (5,), 3)
    n_w = build_circuit(arch).n_weights
    middle = abl.middle  # type: ignore[union-attr]
    assert isinstance(middle, ParamMatchedLayer)
    assert count_params(middle) == n_w
    k = n_embedding_features(arch)
    assert middle.shapes[0][0] == k + 1 and middle.shapes[-1][1] == len(observables_of(arch))
    assert count_params(abl) == count_params(net)
    x = torch.randn(6, 5)
    abl.train()
    z = abl.frontend(x)  # type: ignore[operator]
    enc = (
        z / z.norm(dim=1, keepdim=True)
        if arch["embedding"] == "amplitude"
        else math.pi * torch.tanh(z)
    )
    torch.testing.assert_close(abl(x), abl.head(middle(enc)), atol=1e-6, rtol=1e-6)  # type: ignore[operator]


def test_integer_inputs_through_the_pca_front_end() -> None:
    """Raw integer pixels (uint8 images) pass the fixed PCA front-end, whose centring
    makes them floats: the logits are those of the same pixels as floats."""
    arch = _arch(embedding="angle-y", qubits=3, frontend="pca", head="mlp")
    net = HybridNet(arch, (1, 4, 4), 2)
    x = torch.randint(0, 256, (3, 1, 4, 4), dtype=torch.uint8)
    logits = net(x)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, net(x.float()), atol=1e-5, rtol=1e-5)
