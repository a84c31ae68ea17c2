"""The ``hqnn`` room's noisy path (:mod:`quarch.spaces.hqnn.noise`) against independent truth.

* a hand profile (``ibm-heron``): the logical circuit with depolarising noise after
  every gate (the single- or two-qubit rate on each of its wires) and the profile's
  readout error, written gate by gate in PennyLane's ``default.mixed``
  (``DepolarizingChannel(p)`` is quarch's ``(1 - p, p/3, p/3, p/3)``); a symmetric
  readout flip ``r`` on each measured bit scales every ``Z`` factor by ``1 - 2 r``;
* a calibrated target (``ibm-manila``): the circuit routed on the region its ``layout``
  names, with the routing seed and level of the setup, under qiskit-aer's
  ``NoiseModel.from_backend`` (:func:`quarch.testing.aer.aer_expvals`);
* trajectories: within a few standard errors of the exact density-matrix value, every
  standard error at most ``target_se``;
* Richardson coefficients: the Lagrange weights at zero, solved from the Vandermonde
  system with numpy; zero-noise extrapolation: those weights on the folded circuits'
  exact values;
* the memory check and every refusal of :func:`check_noise_options`: the whole
  one-line message, the sizes from the docstring's formulas worked by hand.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import pytest
import torch

from quarch import ConfigError
from quarch.cost.devices import get_quantum_device
from quarch.quantum.noise import NoiseError, check_memory
from quarch.quantum.noisy_circuit import noisy_circuit_expval
from quarch.quantum.trajectories import trajectory_expval
from quarch.spaces.hqnn import noise as hnoise
from quarch.spaces.hqnn.model import HybridNet, build_circuit, observables_of
from quarch.spaces.hqnn.noise import (
    NoiseSetup,
    NoisyLayer,
    check_noise_options,
    machine_memory_gb,
    richardson,
    zne_expvals,
)
from quarch.spaces.hqnn.space import hqnn_space

from ._patterns import pairs

qml = pytest.importorskip("pennylane")

SPACE = hqnn_space(max_qubits=3, max_layers=2)
ARCH: dict[str, Any] = {
    **SPACE.sample(0), "embedding": "angle-y", "qubits": 2, "layers": 2,
    "rotation_0": "rot", "entanglement_0": "linear", "rotation_1": "ry",
    "entanglement_1": "linear", "entangler": "crz", "reupload": True, "measurement": "z",
}  # fmt: skip


def _inputs(arch: dict, batch: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    c = build_circuit(arch)
    x = torch.as_tensor(rng.uniform(-2, 2, size=(batch, int(arch["qubits"]))))
    w = torch.as_tensor(rng.uniform(0, 2 * math.pi, size=c.n_weights))
    return x.float(), w.float()


def _heron_truth(arch: dict, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``arch`` (angle or IQP embedding) under ``ibm-heron``'s median rates, by hand."""
    dev_rates = get_quantum_device("ibm-heron")
    p1, p2, r = dev_rates.error_1q, dev_rates.error_2q, dev_rates.readout_error
    n, emb = int(arch["qubits"]), str(arch["embedding"])
    dev = qml.device("default.mixed", wires=n)

    def g1(op: Any, *args: Any, wire: int) -> None:
        op(*args, wires=wire)
        qml.DepolarizingChannel(p1, wires=wire)

    def g2(op: Any, *args: Any, wires: list[int]) -> None:
        op(*args, wires=wires)
        for q in wires:
            qml.DepolarizingChannel(p2, wires=q)

    def embed(row: np.ndarray) -> None:
        if emb == "iqp":
            for q in range(n):
                g1(qml.Hadamard, wire=q)
                g1(qml.RZ, row[q], wire=q)
            for a in range(n):
                for b in range(a + 1, n):
                    g2(qml.IsingZZ, row[a] * row[b], wires=[a, b])
            return
        for q in range(n):
            if emb == "angle-z":
                g1(qml.Hadamard, wire=q)
            g1(getattr(qml, "R" + emb[-1].upper()), row[q], wire=q)

    @qml.qnode(dev)
    def circuit(row: np.ndarray) -> Any:
        k = iter(w.tolist())
        embed(row)
        for layer in range(int(arch["layers"])):
            if layer and arch["reupload"]:
                embed(row)
            kind = arch[f"rotation_{layer}"]
            for q in range(n):
                if kind == "ry":
                    g1(qml.RY, next(k), wire=q)
                elif kind == "rx-ry-rz":
                    g1(qml.RX, next(k), wire=q)
                    g1(qml.RY, next(k), wire=q)
                    g1(qml.RZ, next(k), wire=q)
                else:
                    g1(qml.Rot, next(k), next(k), next(k), wire=q)
            for a, b in pairs(n, str(arch[f"entanglement_{layer}"])):
                gate = {"cnot": qml.CNOT, "cz": qml.CZ, "crz": qml.CRZ}[arch["entangler"]]
                if arch["entangler"] == "crz":
                    g2(gate, next(k), wires=[a, b])
                else:
                    g2(gate, wires=[a, b])
        if arch["measurement"] == "z":
            return [qml.expval(qml.PauliZ(q)) for q in range(n)]
        return [qml.expval(qml.PauliZ(q) @ qml.PauliZ(q + 1)) for q in range(n - 1)]

    ideal = np.array([np.asarray(circuit(row), dtype=float) for row in x])
    factors = 1 - 2 * r if arch["measurement"] == "z" else (1 - 2 * r) ** 2
    return ideal * factors


# ----------------------------------------------------------------- the two noise kinds
@pytest.mark.parametrize(
    "change",
    [{}, {"embedding": "iqp", "qubits": 3, "measurement": "zz", "rotation_0": "rx-ry-rz"},
     {"entangler": "cz", "embedding": "angle-z", "entanglement_1": "none"}],
)  # fmt: skip
def test_a_hand_profile_is_its_median_rates_after_every_gate(change: dict) -> None:
    arch = {**ARCH, **change}
    setup = NoiseSetup("ibm-heron")
    assert not setup.calibrated
    nc, words = setup.circuit(arch, build_circuit(arch))
    assert words == observables_of(arch)
    x, w = _inputs(arch)
    got, se = setup.expvals(nc, words, x, w)
    assert got.dtype == torch.float32 and torch.equal(se, torch.zeros_like(got))
    want = _heron_truth(arch, x.double().numpy(), w.double().numpy())
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5, rtol=0)


def test_the_density_path_splits_a_batch_without_changing_it() -> None:
    """``memory_gb`` just above one 2-qubit sample's need: the batch runs in chunks."""
    arch = ARCH
    need = 3 * 4**2 * 16 / 2**30
    small = NoiseSetup("ibm-heron", memory_gb=2.5 * need)
    nc, words = small.circuit(arch, build_circuit(arch))
    x, w = _inputs(arch, batch=7)
    got, _ = small.expvals(nc, words, x, w)
    want = _heron_truth(arch, x.double().numpy(), w.double().numpy())
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5, rtol=0)


pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")


def _device(measurement: str = "z", **kw: Any) -> tuple[NoiseSetup, Any, Any, list[Any]]:
    from quarch.cost.device_costs import observables_on_device
    from quarch.cost.routing import route

    setup = NoiseSetup("ibm-manila", **kw)
    arch = {**ARCH, "layout": 1, "measurement": measurement}
    circ = build_circuit(arch)
    routed = route(circ, "ibm-manila", layout=1, seed=setup.transpile_seed,
                   optimization_level=setup.optimization_level)  # fmt: skip
    nc, words = setup.circuit(arch, circ)
    assert words == observables_on_device(routed, observables_of(arch))
    return setup, nc, routed, words


def test_a_calibrated_target_is_the_routed_circuit_under_aers_device_noise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from quarch.cost import routing
    from quarch.testing.aer import aer_expvals

    setup, nc, routed, words = _device(transpile_seed=3, optimization_level=0)
    assert setup.calibrated
    x, w = _inputs(ARCH)
    got, se = setup.expvals(nc, words, x, w)
    want = aer_expvals(routed, w.double().numpy(), x.double().numpy(), words)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5, rtol=0)
    assert not se.any()
    # the layout is read from the architecture: another region is another answer
    other, _ = setup.expvals(*setup.circuit({**ARCH, "layout": 0}, build_circuit(ARCH)), x, w)
    assert float((other - got).abs().max()) > 1e-4
    # no layout choice in the space: the first region
    plain = {k: v for k, v in ARCH.items() if k != "layout"}
    first, _ = setup.expvals(*setup.circuit(plain, build_circuit(ARCH)), x, w)
    torch.testing.assert_close(first, other)
    # the routing's level and seed are the setup's (level 2 routes it differently)
    level2, _ = NoiseSetup("ibm-manila", transpile_seed=3).expvals(
        *NoiseSetup("ibm-manila", transpile_seed=3).circuit(
            {**ARCH, "layout": 1}, build_circuit(ARCH)
        ),
        x,
        w,
    )
    assert float((level2 - got).abs().max()) > 1e-5
    # the routing is asked for the setup's seed (a circuit this small routes the same
    # under any seed, so the seed is checked where it is handed over)
    asked: list[dict[str, Any]] = []
    real = routing.route

    def spy(*args: Any, **kw: Any) -> Any:
        asked.append(kw)
        return real(*args, **kw)

    monkeypatch.setattr(routing, "route", spy)
    setup.circuit({**ARCH, "layout": 1}, build_circuit(ARCH))
    assert asked == [{"layout": 1, "region": None, "seed": 3, "optimization_level": 0}]


def test_wider_circuits_run_on_trajectories_to_the_target_error() -> None:
    from quarch.testing.aer import aer_expvals

    setup, nc, routed, words = _device(max_density_qubits=1, target_se=0.03)
    x, w = _inputs(ARCH, batch=2)
    mean, se = setup.expvals(nc, words, x, w, seed=4)
    exact = aer_expvals(routed, w.double().numpy(), x.double().numpy(), words)
    assert bool((se > 0).all()) and float(se.max()) <= 0.03
    assert np.all(np.abs(mean.numpy() - exact) <= 5 * se.numpy())
    # the first round is 64 trajectories, seeded as asked
    same = trajectory_expval(nc, words, inputs=x, weights=w, target_se=0.03, trajectories=64,
                             seed=4)  # fmt: skip
    torch.testing.assert_close(mean, same.mean.float())
    torch.testing.assert_close(se, same.stderr.float())
    # the default seed is 0
    m0, _ = setup.expvals(nc, words, x, w)
    zero = trajectory_expval(nc, words, inputs=x, weights=w, target_se=0.03, trajectories=64)
    torch.testing.assert_close(m0, zero.mean.float())
    # with gradients: a fixed four trajectories, differentiable in the weights
    wg = w.clone().requires_grad_(True)
    m4, _ = setup.expvals(nc, words, x, wg, seed=4, grad=True)
    four = trajectory_expval(nc, words, inputs=x, weights=w, trajectories=4, seed=4, grad=True)
    torch.testing.assert_close(m4.detach(), four.mean.float())
    m4.sum().backward()
    assert wg.grad is not None and float(wg.grad.abs().sum()) > 0


def test_the_memory_each_simulation_is_handed(monkeypatch: pytest.MonkeyPatch) -> None:
    """One sample needs three complex64 matrices of ``4**n`` entries on the density path
    (three copies of ``first + 1`` states of ``2**n`` on trajectories: 64 trajectories,
    4 with gradients); a batch is split into chunks of ``floor(work / one)`` samples
    with ``work = min(memory_gb, max(WORKING_GB, one))``; the path is exact up to
    ``max_density_qubits`` wires inclusive."""
    seen: list[tuple[str, int, float, int]] = []
    real_dm, real_tr = hnoise.noisy_circuit_expval, hnoise.trajectory_expval

    def dm(nc: Any, words: Any, *, inputs: torch.Tensor, max_memory_gb: float, **kw: Any) -> Any:
        seen.append(("dm", len(inputs), max_memory_gb, 0))
        return real_dm(nc, words, inputs=inputs, max_memory_gb=max_memory_gb, **kw)

    def tr(nc: Any, words: Any, **kw: Any) -> Any:
        seen.append(("tr", len(kw["inputs"]), kw["max_memory_gb"], kw["trajectories"]))
        return real_tr(nc, words, **kw)

    monkeypatch.setattr(hnoise, "noisy_circuit_expval", dm)
    monkeypatch.setattr(hnoise, "trajectory_expval", tr)
    x, w = _inputs(ARCH, batch=12)
    one = 3 * 4**2 * 8 / 2**30  # two qubits on density matrices
    for working, memory, chunks in [
        (one, 1.0, [1] * 12),  # work = one sample
        (np.nextafter(5 * one, 0), 1.0, [4, 4, 4]),  # just under five samples: four
        (2.0, 7 * one, [7, 5]),  # the limit binds
        (2.0, 1.0, [12]),
    ]:
        monkeypatch.setattr(hnoise, "WORKING_GB", float(working))
        setup = NoiseSetup("ibm-heron", max_density_qubits=2, memory_gb=memory)
        nc, words = setup.circuit(ARCH, build_circuit(ARCH))
        seen.clear()
        out, se = setup.expvals(nc, words, x, w)
        assert [c for _, c, _, _ in seen] == chunks
        work = min(memory, max(working, one))
        assert all(k == "dm" and m == work for k, _, m, _ in seen)
        want = _heron_truth(ARCH, x.double().numpy(), w.double().numpy())
        np.testing.assert_allclose(out.numpy(), want, atol=2e-5, rtol=0)
        assert not se.any()
    # one qubit past max_density_qubits: trajectories, handed the same budget
    for grad, first in ((False, 64), (True, 4)):
        one = 3 * (first + 1) * 2**2 * 8 / 2**30
        for working, memory in ((one, 1.0), (one / 4, 1.0), (2.0, 1.0), (2.0, 3.0)):
            monkeypatch.setattr(hnoise, "WORKING_GB", float(working))
            setup = NoiseSetup("ibm-heron", max_density_qubits=1, memory_gb=memory, target_se=0.2)
            nc, words = setup.circuit(ARCH, build_circuit(ARCH))
            seen.clear()
            setup.expvals(nc, words, x[:2], w, grad=grad)
            assert seen == [("tr", 2, min(memory, max(working, one)), first)]


# ------------------------------------------------------------- zero-noise extrapolation
@pytest.mark.parametrize("scales", [(1, 3, 5), (1, 3), (1, 2, 4, 8), (1.0, 1.5, 2.5)])
def test_richardson_weights_are_lagrange_at_zero(scales: tuple[float, ...]) -> None:
    s = np.array(scales, dtype=float)
    want = np.linalg.solve(np.vander(s, increasing=True).T, np.eye(len(s))[0])
    np.testing.assert_allclose(richardson(scales), want, rtol=1e-12, atol=1e-12)


def test_zne_is_the_richardson_combination_of_the_folded_circuits() -> None:
    setup, nc, _, words = _device(measurement="zz")
    x, w = _inputs(ARCH)
    assert len(words) == 1
    mean, se = zne_expvals(setup, nc, words, x, w)
    folds = [
        noisy_circuit_expval(nc.folded(s), words, inputs=x, weights=w).numpy() for s in (1, 3, 5)
    ]
    want = 1.875 * folds[0] - 1.25 * folds[1] + 0.375 * folds[2]
    np.testing.assert_allclose(mean.numpy(), want, atol=5e-5, rtol=0)
    assert not se.any()
    # extrapolating moves the answer away from the unfolded (noisy) one
    assert float(np.abs(want - folds[0]).max()) > 1e-3


def test_zne_on_trajectories_combines_the_scales_errors() -> None:
    setup, nc, _, words = _device(max_density_qubits=1, target_se=0.05)
    x, w = _inputs(ARCH, batch=1)
    mean, se = zne_expvals(setup, nc, words, x, w, scales=(1, 3))  # seeds 0 and 1
    m1, s1 = setup.expvals(nc, words, x, w, seed=0)
    m3, s3 = setup.expvals(nc.folded(3), words, x, w, seed=1)
    torch.testing.assert_close(mean, 1.5 * m1 - 0.5 * m3)
    torch.testing.assert_close(se, ((1.5 * s1) ** 2 + (0.5 * s3) ** 2).sqrt())


# ------------------------------------------------------------------ noise-aware training
def test_the_noisy_layer_trains_the_models_weights_through_the_noise() -> None:
    arch = {**ARCH, "measurement": "zz"}
    net = HybridNet(arch, (2,), 3)
    setup = NoiseSetup("ibm-heron")
    nc, words = setup.circuit(arch, net.circuit)
    layer = NoisyLayer(net.quantum, nc, words, setup)
    x, _ = _inputs(arch)
    w = net.quantum.weights.detach().double().numpy()
    out = layer(x.double())
    assert out.dtype == torch.float64
    want = _heron_truth(arch, x.double().numpy(), w)
    np.testing.assert_allclose(out.detach().numpy(), want, atol=2e-5, rtol=0)
    # the gradient reaches the model's own weights and is the noisy circuit's
    out[:, 0].sum().backward()
    grad = net.quantum.weights.grad
    assert grad is not None
    h = 1e-3
    for i in (0, len(w) - 1):
        up, down = w.copy(), w.copy()
        up[i] += h
        down[i] -= h
        fd = (_heron_truth(arch, x.double().numpy(), up)[:, 0].sum()
              - _heron_truth(arch, x.double().numpy(), down)[:, 0].sum()) / (2 * h)  # fmt: skip
        assert float(grad[i]) == pytest.approx(fd, abs=2e-3)


def test_each_noisy_step_takes_the_next_seed(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, bool]] = []
    real = NoiseSetup.expvals

    def spy(self: NoiseSetup, *args: Any, seed: int = 0, grad: bool = False) -> Any:
        calls.append((seed, grad))
        return real(self, *args, seed=seed, grad=grad)

    monkeypatch.setattr(NoiseSetup, "expvals", spy)
    net = HybridNet(ARCH, (2,), 3)
    setup = NoiseSetup("ibm-heron")
    layer = NoisyLayer(net.quantum, *setup.circuit(ARCH, net.circuit), setup, seed=10)
    x, _ = _inputs(ARCH)
    layer(x)
    with torch.no_grad():
        layer(x)
    layer(x)
    NoisyLayer(net.quantum, *setup.circuit(ARCH, net.circuit), setup)(x)  # seed 0: step 1
    assert calls == [(11, True), (12, False), (13, True), (1, True)]


# ------------------------------------------------------------------ checks before a run
def test_the_memory_check_names_the_need_and_the_limit() -> None:
    # a density matrix of 12 qubits in complex64, as expvals runs it: 3 * 4**12 * 8 bytes
    # = 0.375 GiB exactly, which the simulator's own check accepts too (it was sized at 16
    # bytes, refusing half the widths that fit)
    check_memory(12, 1, torch.complex64, 0.375, "x")
    # each dtype by its own size: float32 (a real circuit's) 4 bytes, complex128 16
    sizes = {torch.float32: 4, torch.float64: 8, torch.complex64: 8, torch.complex128: 16}
    for dtype, size in sizes.items():
        fits = 3 * 4**12 * size / 2**30
        check_memory(12, 1, dtype, fits, "x")
        with pytest.raises(NoiseError, match="needs about"):
            check_memory(12, 1, dtype, fits * 0.99, "x")
        check_memory(11, 4, dtype, fits, "x")  # a batch of 4 at 11 qubits: the same need
        with pytest.raises(NoiseError, match="needs about"):
            check_memory(11, 4, dtype, fits * 0.99, "x")
    NoiseSetup("ibm-heron", max_density_qubits=12, memory_gb=0.375).check_width(12)
    with pytest.raises(ConfigError) as err:
        NoiseSetup("ibm-heron", max_density_qubits=12, memory_gb=0.3).check_width(12)
    assert str(err.value) == (
        "noise: a density matrix of 12 qubits needs about 0.4 GiB per sample; the limit is "
        "0.3 GiB. Lower noise_max_qubits (wider circuits then use trajectories) or max_qubits"
    )
    # 13 qubits past max_density_qubits: 16 trajectories (and a copy) of 2**13 amplitudes,
    # 8 bytes each, three times: 3 * 17 * 2**13 * 8 bytes
    need = 3 * 17 * 2**13 * 8 / 2**30
    NoiseSetup("ibm-heron", max_density_qubits=12, memory_gb=need).check_width(13)
    with pytest.raises(ConfigError) as err:
        NoiseSetup("ibm-heron", max_density_qubits=12, memory_gb=0.001).check_width(13)
    assert str(err.value) == (
        "noise: 16 trajectories of 13 qubits needs about 0.0 GiB per sample; the limit is "
        "0.0 GiB. Lower noise_max_qubits (wider circuits then use trajectories) or max_qubits"
    )
    # expvals checks the width before any work
    nc, words = NoiseSetup("ibm-heron").circuit(ARCH, build_circuit(ARCH))
    x, w = _inputs(ARCH)
    with pytest.raises(ConfigError, match="density matrix of 2 qubits"):
        NoiseSetup("ibm-heron", memory_gb=1e-9).expvals(nc, words, x, w)


def _check(opts: dict, memory_gb: float = 4.0, max_qubits: int = 3) -> NoiseSetup | None:
    return check_noise_options(
        opts, device_profile="ibm-manila", max_qubits=max_qubits, memory_gb=memory_gb
    )


def test_the_options_make_the_documented_setup() -> None:
    for off in (None, False, "", "none"):
        assert _check({"noise": off}) is None
    assert _check({}) is None
    for device in (True, "device", "true"):
        assert _check({"noise": device}) == NoiseSetup("ibm-manila", memory_gb=4.0)
    got = _check({
        "noise": "ibm-heron", "noise_max_qubits": "5", "noise_target_se": "0.02",
        "optimization_level": 1, "transpile_seed": 9,
    }, memory_gb=3.0)  # fmt: skip
    assert got == NoiseSetup("ibm-heron", max_density_qubits=5, target_se=0.02,
                             optimization_level=1, transpile_seed=9, memory_gb=3.0)  # fmt: skip
    assert _check({"noise": "device", "zne": True}) is not None
    assert _check({"noise": "device", "noise_aware": True}) is not None
    assert _check({"noise": "device", "supercircuit": True}) is not None
    assert NoiseSetup("ibm-manila") == NoiseSetup(
        "ibm-manila", max_density_qubits=8, target_se=0.01, optimization_level=2,
        transpile_seed=0, memory_gb=2.0,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"noise_aware": True}, "noise_aware needs a noise model: set noise (--noise DEVICE)"),
        ({"noise": "none", "zne": 1}, "zne needs a noise model: set noise (--noise DEVICE)"),
        ({"noise": "device", "noise_max_qubits": "many"},
         "a noise option is not a number: invalid literal for int() with base 10: 'many'"),
        ({"noise": "device", "noise_target_se": None},
         "a noise option is not a number: float() argument must be a string or a real "
         "number, not 'NoneType'"),
        ({"noise": "device", "noise_target_se": 1.0},
         "noise_target_se must be in (0, 1); got 1.0"),
        ({"noise": "device", "noise_target_se": 0}, "noise_target_se must be in (0, 1); got 0.0"),
        ({"noise": "ibm-heron", "zne": True},
         "zne folds the routed native circuit, so it needs a calibrated noise device; "
         "'ibm-heron' is a hand profile (use e.g. --noise ibm-fez)"),
        ({"noise": "device", "noise_aware": True, "supercircuit": True},
         "noise_aware trains each architecture under noise; with supercircuit the weights "
         "are inherited, not trained: use one or the other"),
        ({"noise": "device", "noise_max_qubits": 13},
         "noise: a density matrix of 13 qubits needs about 1.5 GiB per sample; the limit is "
         "0.5 GiB. Lower noise_max_qubits (wider circuits then use trajectories) or max_qubits"),
    ],
)  # fmt: skip
def test_every_refusal_is_one_line_naming_the_option(opts: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        _check(opts, memory_gb=0.5, max_qubits=13)
    assert str(err.value) == message


def test_an_unknown_noise_device_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^unknown quantum device profile 'ibm-mars'; known: "):
        _check({"noise": "ibm-mars"})


def test_machine_memory_is_the_kernels_total(monkeypatch: pytest.MonkeyPatch) -> None:
    with open("/proc/meminfo") as f:
        total_kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    assert machine_memory_gb() == pytest.approx(total_kib / 2**20, rel=1e-3)

    def broken(name: str) -> int:
        raise ValueError(name)

    monkeypatch.setattr(os, "sysconf", broken)
    assert machine_memory_gb() == 8.0
    assert hnoise.ZNE_SCALES == (1, 3, 5)
