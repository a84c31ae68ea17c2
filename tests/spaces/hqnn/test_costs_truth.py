"""The costs of an ``hqnn`` architecture against independent truth: depth and native
two-qubit gates of the same architecture written in Qiskit (``QuantumCircuit.depth``,
``transpile`` to CX), the classical FLOPs of a linear front-end and head by hand, the
routed costs against routing called with the documented settings, the timed forward
pass on a fake clock, and every refusal's whole line."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest
import torch

from quarch import ConfigError
from quarch.cost.cutting import estimate_cuts
from quarch.cost.device_costs import DEVICE_METRICS, TrainingLoad, device_metrics
from quarch.cost.devices import get_quantum_device
from quarch.cost.quantum import quantum_flops, runtime_proxy
from quarch.data import load_dataset
from quarch.spaces.hqnn import costs as costs_module
from quarch.spaces.hqnn.costs import HybridCosts, quantum_cost_metrics, routing_device
from quarch.spaces.hqnn.evaluator import prepare_data
from quarch.spaces.hqnn.model import HybridNet, build_circuit
from quarch.spaces.hqnn.space import hqnn_space

qiskit = pytest.importorskip("qiskit")
from qiskit import QuantumCircuit, transpile  # noqa: E402
from qiskit.circuit.library import StatePreparation, UGate  # noqa: E402

from ..._scope import per_module  # noqa: E402
from ._patterns import pairs as _pairs  # noqa: E402

SPACE = hqnn_space(max_qubits=5, max_layers=3)


def _qiskit(arch: dict, *, with_amplitude: bool = True) -> QuantumCircuit:
    """The architecture in Qiskit, one instruction per gate the docstring names (Rot as
    one ``U``, an amplitude embedding as one state preparation), angles arbitrary."""
    n, emb = arch["qubits"], arch["embedding"]
    qc = QuantumCircuit(n)

    def embed() -> None:
        if emb == "amplitude":
            if with_amplitude:
                qc.append(StatePreparation(np.ones(2**n) / 2 ** (n / 2)), range(n))
        elif emb == "iqp":
            for q in range(n):
                qc.h(q)
                qc.rz(0.3, q)
            for a in range(n):
                for b in range(a + 1, n):
                    qc.rzz(0.2, a, b)
        else:
            for q in range(n):
                if emb == "angle-z":
                    qc.h(q)
                getattr(qc, "r" + emb[-1])(0.4, q)

    embed()
    for layer in range(arch["layers"]):
        if layer and arch["reupload"] and emb != "amplitude":
            embed()
        rot = arch[f"rotation_{layer}"]
        for q in range(n):
            if rot == "ry":
                qc.ry(0.1, q)
            elif rot == "rx-ry-rz":
                qc.rx(0.1, q)
                qc.ry(0.2, q)
                qc.rz(0.3, q)
            else:
                qc.append(UGate(0.1, 0.2, 0.3), [q])
        for a, b in _pairs(n, arch[f"entanglement_{layer}"]):
            {"cnot": qc.cx, "cz": qc.cz}.get(arch["entangler"], lambda a, b: qc.crz(0.5, a, b))(
                a, b
            )
    return qc


def _cx_count(qc: QuantumCircuit) -> int:
    out = transpile(qc, basis_gates=["cx", "u"], optimization_level=0)
    return int(out.count_ops().get("cx", 0))


@pytest.mark.parametrize("seed", range(12))
def test_quantum_costs_against_qiskit(seed: int) -> None:
    arch = dict(SPACE.sample(seed))
    arch["embedding"] = ["angle-x", "angle-y", "angle-z", "amplitude", "iqp", "angle-z"][seed % 6]
    arch["entangler"] = ["cnot", "cz", "crz"][seed % 3]
    arch["measurement"] = ["z", "zz"][seed % 2]
    n = arch["qubits"]
    profile = ["ibm-heron", "ibm-eagle"][seed % 2]
    shots = [None, 1000, 300][seed % 3]
    got = quantum_cost_metrics(arch, device_profile=profile, shots=shots)
    assert set(got) == {"qubits", "depth", "two_qubit_gates", "runtime_proxy", "quantum_flops",
                        "subcircuits", "cut_overhead"}  # fmt: skip
    assert all(type(v) is float for v in got.values())
    assert got["qubits"] == n
    assert got["depth"] == _qiskit(arch).depth()
    # native two-qubit gates: CX after Qiskit's decomposition (CZ 1, CRZ 2, RZZ 2), and
    # the amplitude preparation's documented 2**n - 2
    amp = 2**n - 2 if arch["embedding"] == "amplitude" else 0
    assert got["two_qubit_gates"] == _cx_count(_qiskit(arch, with_amplitude=False)) + amp
    c = build_circuit(arch)
    assert got["runtime_proxy"] == runtime_proxy(c, profile, shots=shots)
    n_obs = n if arch["measurement"] == "z" else n - 1
    assert got["quantum_flops"] == quantum_flops(c, n_obs)
    assert (got["subcircuits"], got["cut_overhead"]) == (1.0, 0.0)  # no budget: no cuts


def test_shots_and_profile_reach_the_runtime_proxy() -> None:
    arch = dict(SPACE.sample(2), qubits=3)
    base = quantum_cost_metrics(arch)
    assert base["runtime_proxy"] == runtime_proxy(build_circuit(arch), "ibm-heron")
    assert quantum_cost_metrics(arch, shots=7)["runtime_proxy"] != base["runtime_proxy"]
    assert (
        quantum_cost_metrics(arch, device_profile="ibm-eagle")["runtime_proxy"]
        != base["runtime_proxy"]
    )


@pytest.mark.parametrize("cutter", ["builtin", "qiskit"])
def test_cut_costs_for_a_small_device(cutter: str) -> None:
    from quarch.cost.cutting import find_cuts_qiskit

    arch = dict(SPACE.sample(0))
    arch.update(qubits=4, layers=1, embedding="angle-y", entangler="cnot",
                entanglement_0="linear", reupload=False)  # fmt: skip
    c = build_circuit(arch)
    got = quantum_cost_metrics(arch, qubit_budget=2, cutter=cutter)
    want = find_cuts_qiskit(c, 2) if cutter == "qiskit" else estimate_cuts(c, 2)
    assert got["subcircuits"] == float(want.subcircuits) >= 2
    assert got["cut_overhead"] == want.log10_overhead > 0
    # a linear chain of 4 wires cut once into halves of 2: one CNOT cut, overhead 9
    if cutter == "builtin":
        assert got["cut_overhead"] == pytest.approx(math.log10(9))
    # an architecture the two cutters price differently
    other = dict(SPACE.sample(37))
    c = build_circuit(other)
    got = quantum_cost_metrics(other, qubit_budget=3, cutter=cutter)
    want = find_cuts_qiskit(c, 3) if cutter == "qiskit" else estimate_cuts(c, 3)
    assert got["cut_overhead"] == want.log10_overhead


def test_routing_device_prefers_the_profile_then_the_noise() -> None:
    assert routing_device("ibm-fez", None) == "ibm-fez"
    assert routing_device("ibm-fez", "ibm-manila") == "ibm-fez"
    assert routing_device("ibm-heron", "ibm-manila") == "ibm-manila"
    assert routing_device("ibm-heron", "ibm-eagle") is None  # a hand profile
    assert routing_device("ibm-heron", True) is None
    assert routing_device("ibm-heron", None) is None


# ------------------------------------------------------------------ HybridCosts
@pytest.fixture(scope=per_module)
def iris() -> Any:
    return prepare_data(load_dataset("iris", seed=0))


def _line(text: str) -> str:
    return f"^{re.escape(text)}$"


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        ({"qubit_budget": 0}, "qubit_budget must be an integer >= 1; got 0"),
        ({"qubit_budget": True}, "qubit_budget must be an integer >= 1; got True"),
        ({"qubit_budget": 2.0}, "qubit_budget must be an integer >= 1; got 2.0"),
        ({"shots": 0}, "shots must be an integer >= 1; got 0"),
        ({"shots": True}, "shots must be an integer >= 1; got True"),
        ({"shots": 1.5}, "shots must be an integer >= 1; got 1.5"),
        ({"noise_samples": 0}, "noise_samples must be an integer >= 1; got 0"),
        ({"noise_max_qubits": 0}, "noise_max_qubits must be an integer >= 1; got 0"),
        ({"transpile_seed": -1}, "transpile_seed must be an integer >= 0; got -1"),
        ({"job_overhead_s": -0.5}, "job_overhead_s must be a number >= 0; got -0.5"),
        ({"job_overhead_s": math.inf}, "job_overhead_s must be a number >= 0; got inf"),
        ({"job_overhead_s": True}, "job_overhead_s must be a number >= 0; got True"),
        ({"job_overhead_s": "abc"}, "job_overhead_s must be a number >= 0; got 'abc'"),
        ({"job_overhead_s": None}, "job_overhead_s must be a number >= 0; got None"),
        ({"job_overhead_s": math.nan}, "job_overhead_s must be a number >= 0; got nan"),
        ({"cutter": "cplex"}, "cutter must be 'builtin' or 'qiskit'; got 'cplex'"),
        ({"optimization_level": 4}, "optimization_level must be 0, 1, 2 or 3; got 4"),
        ({"optimization_level": -1}, "optimization_level must be 0, 1, 2 or 3; got -1"),
    ],
)  # fmt: skip
def test_each_refusal_is_its_whole_line(iris: Any, kwargs: dict, line: str) -> None:
    with pytest.raises(ConfigError, match=_line(line)):
        HybridCosts(iris, **kwargs)


def test_bounds_just_inside_are_accepted(iris: Any) -> None:
    hc = HybridCosts(iris, qubit_budget=1, shots=1, noise_samples=1, noise_max_qubits=1,
                     transpile_seed=0, job_overhead_s=0.0, optimization_level=0)  # fmt: skip
    assert (hc.qubit_budget, hc.shots, hc.noise_samples, hc.transpile_seed) == (1, 1, 1, 0)
    assert hc.job_overhead_s == 0.0 and hc.optimization_level == 0
    text: Any = "2.5"  # an option given as text
    assert HybridCosts(iris, job_overhead_s=text).job_overhead_s == 2.5
    assert HybridCosts(iris, optimization_level=3).optimization_level == 3
    assert HybridCosts(iris, cutter="qiskit").cutter == "qiskit"
    assert HybridCosts(iris).noise_setup is None and HybridCosts(iris).zne is False
    # the signature's defaults: a batch of 32 timed, 200 samples scored with noise
    plain = HybridCosts(iris)
    assert (plain.batch_size, plain.noise_samples, plain.qubit_budget) == (32, 200, None)
    assert (plain.device_profile, plain.cutter, plain.shots) == ("ibm-heron", "builtin", None)
    assert (plain.optimization_level, plain.transpile_seed, plain.training) == (2, 0, None)
    assert HybridCosts(iris, noise=True).noise_setup is not None


def test_unknown_profiles_are_refused(iris: Any) -> None:
    with pytest.raises(ConfigError, match=r"^unknown quantum device profile 'ibm-mars'; known: "):
        HybridCosts(iris, device_profile="ibm-mars")
    with pytest.raises(ConfigError, match=r"^unknown quantum device profile 'ibm-venus'; known: "):
        HybridCosts(iris, noise="ibm-venus")


def test_static_costs_by_hand(iris: Any) -> None:
    """Linear front-end and head: 2 d k + 2 n_obs C multiply-adds' FLOPs, plus the
    circuit's; parameters counted tensor by tensor."""
    arch = dict(SPACE.sample(1))
    arch.update(qubits=3, embedding="angle-x", measurement="zz", frontend="linear",
                head="linear", layers=2)  # fmt: skip
    net = HybridNet(arch, (4,), 3)
    hc = HybridCosts(iris, qubit_budget=2, device_profile="ibm-eagle", shots=500)
    got = hc.static(arch, net)
    want = quantum_cost_metrics(arch, qubit_budget=2, device_profile="ibm-eagle", shots=500)
    want["flops"] = 2 * 4 * 3 + 2 * 2 * 3 + want.pop("quantum_flops")
    want["params"] = float(sum(p.numel() for p in net.parameters()))
    assert got == want
    assert not set(DEVICE_METRICS) & set(got)  # a hand profile: nothing routed
    # an architecture the two cutters price differently: the evaluator's cutter is used
    wide = dict(SPACE.sample(37))
    assert wide["qubits"] == 4 and wide["embedding"] != "amplitude"
    wide_net = HybridNet(wide, (4,), 3)
    qwant = quantum_cost_metrics(wide, qubit_budget=3, cutter="qiskit")
    bwant = quantum_cost_metrics(wide, qubit_budget=3)
    assert qwant["cut_overhead"] != bwant["cut_overhead"]
    for cutter, w in (("qiskit", qwant), ("builtin", bwant)):
        qs = HybridCosts(iris, cutter=cutter, qubit_budget=3).static(wide, wide_net)
        assert (qs["subcircuits"], qs["cut_overhead"]) == (w["subcircuits"], w["cut_overhead"])
        assert "quantum_flops" not in qs


@pytest.mark.parametrize(("shots", "level", "seed", "layout"), [(None, 2, 0, None), (123, 0, 5, 1)])
def test_routed_costs_use_the_documented_settings(
    iris: Any, shots: int | None, level: int, seed: int, layout: int | None
) -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    from quarch.cost.routing import route

    arch = dict(SPACE.sample(4))
    arch.update(qubits=3, layers=2, entanglement_0="full", entanglement_1="ring",
                entangler="cnot", embedding="angle-y")  # fmt: skip
    if layout is not None:
        arch["layout"] = layout
    load = TrainingLoad(samples=90, epochs=3, batch_size=16) if layout else None
    hc = HybridCosts(iris, device_profile="ibm-torino", shots=shots, optimization_level=level,
                     transpile_seed=seed, job_overhead_s=1.5, training=load)  # fmt: skip
    routed = hc.routed(arch)
    want = route(build_circuit(arch), "ibm-torino", layout=layout or 0, seed=seed,
                 optimization_level=level)  # fmt: skip
    assert routed is not None
    assert (routed.region, routed.layout_index, routed.seed, routed.optimization_level) == (
        want.region, layout or 0, seed, level)  # fmt: skip
    assert routed.ops == want.ops and routed.depth == want.depth
    net = HybridNet(arch, (4,), 3)
    got = hc.static(arch, net)
    dev_shots = shots or get_quantum_device("ibm-torino").shots
    expect = device_metrics(want, shots=dev_shots, job_overhead_s=1.5, training=load)
    assert {k: got[k] for k in expect} == expect
    assert (got["train_runtime_s"] > 0) == (load is not None)  # 0 without a training load
    assert set(DEVICE_METRICS) <= set(got)


def test_routing_on_the_noise_s_device_and_none_without(iris: Any) -> None:
    pytest.importorskip("qiskit_ibm_runtime")
    arch = dict(SPACE.sample(4), qubits=2)
    hc = HybridCosts(iris, device_profile="ibm-heron", noise="ibm-manila")
    routed = hc.routed(arch)
    assert routed is not None and routed.device == "ibm-manila"
    assert hc.route_device == "ibm-manila"
    got = hc.static(arch, HybridNet(arch, (4,), 3))
    assert set(DEVICE_METRICS) <= set(got)
    assert HybridCosts(iris).routed(arch) is None


def test_the_timed_forward_pass_on_a_fake_clock(iris: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Median of three timed calls of the quantum layer on the first ``batch_size``
    validation samples, in milliseconds."""
    arch = dict(SPACE.sample(3), qubits=2)
    net = HybridNet(arch, (4,), 3)
    seen: list[tuple[int, bool]] = []
    forward = net.quantum.forward

    def counted(inputs: torch.Tensor) -> torch.Tensor:
        seen.append((len(inputs), torch.is_grad_enabled()))
        return forward(inputs)

    monkeypatch.setattr(net.quantum, "forward", counted)
    ticks = iter([10.0, 10.004, 20.0, 20.001, 30.0, 30.010])
    monkeypatch.setattr(costs_module.time, "perf_counter", lambda: next(ticks))
    hc = HybridCosts(iris, batch_size=7)
    assert hc._sim_time(net) == pytest.approx(4.0)  # median of 4, 1 and 10 ms
    assert seen == [(7, False)] * 3
    monkeypatch.undo()
    full = HybridCosts(iris).__call__(arch, net)
    assert full["sim_time_ms"] > 0 and "noisy_val_error" not in full
    assert {k: v for k, v in full.items() if k != "sim_time_ms"} == HybridCosts(iris).static(
        arch, net
    )


def _answering(cls: int) -> tuple[dict[str, Any], HybridNet]:
    """A 2-qubit network whose linear head always answers class ``cls`` (weights 0,
    that class's bias 5): its error on any samples is the share of other classes."""
    arch = dict(SPACE.sample(0))
    arch.update(qubits=2, layers=1, embedding="angle-y", measurement="z", head="linear")
    net = HybridNet(arch, (4,), 3)
    head: Any = net.head
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.nn.functional.one_hot(torch.tensor(cls), 3).float() * 5.0)
    return arch, net


def test_noisy_scores_on_the_split_and_samples_asked(iris: Any) -> None:
    """The error on the first ``noise_samples`` samples of the split asked, by the
    model's head on noisy expectations; a head that always answers one class scores
    exactly that class's share of those samples."""
    arch, net = _answering(1)
    for split, k in [("val", 7), ("test", 11)]:
        hc = HybridCosts(iris, noise=True, noise_samples=k, zne=False)
        got = hc.noisy_scores(arch, net, split=split)
        y = getattr(iris, f"y_{split}")[:k]
        assert got[f"noisy_{split}_error"] == pytest.approx(float(np.mean(y != 1)))
        assert got["noisy_se"] == 0.0  # exact density matrices
        assert set(got) == {f"noisy_{split}_error", "noisy_se"}
    assert hc.noisy_error(net) == pytest.approx(float(np.mean(iris.y_val[:11] != 1)))
    with pytest.raises(ConfigError, match=_line("this evaluator has no noise model (set noise)")):
        HybridCosts(iris).noisy_scores(arch, net)


def test_the_noise_options_reach_the_noise_setup(iris: Any) -> None:
    from quarch.spaces.hqnn.noise import NoiseSetup, machine_memory_gb

    hc = HybridCosts(iris, noise="ibm-eagle", noise_max_qubits=3, noise_target_se=0.2,
                     optimization_level=1, transpile_seed=4)  # fmt: skip
    want = NoiseSetup("ibm-eagle", max_density_qubits=3, target_se=0.2, optimization_level=1,
                      transpile_seed=4, memory_gb=0.5 * machine_memory_gb())  # fmt: skip
    assert hc.noise_setup == want
    assert HybridCosts(iris, noise=True, device_profile="ibm-eagle").noise_setup == NoiseSetup(
        "ibm-eagle", memory_gb=0.5 * machine_memory_gb()
    )
    with pytest.raises(ConfigError, match=_line("noise_target_se must be in (0, 1); got 1.5")):
        HybridCosts(iris, noise=True, noise_target_se=1.5)
    with pytest.raises(ConfigError, match="zne folds the routed native circuit"):
        HybridCosts(iris, noise=True, zne=True)


def test_trajectory_scores_are_seeded_and_reach_their_target(iris: Any) -> None:
    """Past ``noise_max_qubits`` the expectations come from trajectories: a standard
    error within the target, the same for one seed, another for another seed."""
    arch = dict(SPACE.sample(0))
    arch.update(qubits=2, layers=1, embedding="angle-y", measurement="z", head="linear")
    torch.manual_seed(0)
    net = HybridNet(arch, (4,), 3)
    hc = HybridCosts(iris, noise=True, noise_samples=4, noise_max_qubits=1, noise_target_se=0.05)
    a = hc.noisy_scores(arch, net, seed=1)
    assert 0 < a["noisy_se"] <= 0.05 * 1.05
    assert hc.noisy_scores(arch, net, seed=1) == a
    assert hc.noisy_scores(arch, net) == hc.noisy_scores(arch, net, seed=0) != a  # default 0
    full = hc(arch, net, seed=1)
    assert {k: full[k] for k in a} == a
    by_default = hc(arch, net)
    assert {k: by_default[k] for k in a} == hc.noisy_scores(arch, net, seed=0)  # seed 0
    ses = {hc.noisy_scores(arch, net, seed=s)["noisy_se"] for s in (1, 2, 3)}
    assert len(ses) > 1


def test_zne_scores_on_a_calibrated_noise(iris: Any) -> None:
    """With ZNE, ``zne_<split>_error`` is the head's error on the extrapolated
    expectations; a constant head scores the class share either way."""
    pytest.importorskip("qiskit_ibm_runtime")
    arch, net = _answering(2)
    hc = HybridCosts(iris, noise="ibm-manila", zne=True, noise_samples=5)
    got = hc.noisy_scores(arch, net, split="test")
    share = float(np.mean(iris.y_test[:5] != 2))
    assert got == {"noisy_test_error": pytest.approx(share), "noisy_se": 0.0,
                   "zne_test_error": pytest.approx(share)}  # fmt: skip


def test_noisy_error_scores_the_architecture_given_else_the_model_s(
    iris: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model can be scored at another layout than the one it was built with."""
    arch = dict(SPACE.sample(0), qubits=2)
    net = HybridNet(arch, (4,), 3)
    hc = HybridCosts(iris, noise=True)
    seen: list[Any] = []

    def scores(a: Any, model: Any, **kw: Any) -> dict[str, float]:
        seen.append((a, model, kw))
        return {"noisy_val_error": 0.25, "noisy_se": 0.0}

    monkeypatch.setattr(hc, "noisy_scores", scores)
    other = dict(arch, layout=3)
    assert hc.noisy_error(net, other) == 0.25
    assert hc.noisy_error(net) == 0.25
    assert seen == [(other, net, {}), (net.arch, net, {})]


def test_error_is_the_head_s_per_sample_mistakes() -> None:
    """The share of samples whose largest logit is not their label, row by row."""
    arch = dict(SPACE.sample(0), qubits=2, measurement="z", head="linear")
    net = HybridNet(arch, (4,), 3)
    head: Any = net.head
    with torch.no_grad():  # logits = (q0, q1, 0.5)
        head.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]))
        head.bias.copy_(torch.tensor([0.0, 0.0, 0.5]))
    q = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.2, 0.3], [0.8, 0.95]], dtype=torch.float64)
    predicted = [0, 1, 2, 1]
    y = torch.tensor([0, 0, 2, 2])
    want = float(np.mean([p != t for p, t in zip(predicted, y.tolist(), strict=True)]))
    assert costs_module._error(net, q, y) == want == 0.5
    assert costs_module._error(net, q, torch.tensor(predicted)) == 0.0


def test_zne_runs_on_the_device_s_words_with_the_trial_s_seed(
    iris: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ZNE extrapolates the routed circuit's own observables (ZZ here: one output, as
    the head reads), seeded by the trial's seed like the plain noisy scores."""
    pytest.importorskip("qiskit_ibm_runtime")
    real = costs_module.zne_expvals
    calls: list[tuple[Any, Any]] = []

    def spy(setup: Any, nc: Any, words: Any, feats: Any, weights: Any, **kw: Any) -> Any:
        calls.append((list(words), kw))
        return real(setup, nc, words, feats, weights, **kw)

    monkeypatch.setattr(costs_module, "zne_expvals", spy)
    arch = dict(SPACE.sample(0))
    arch.update(qubits=2, layers=1, embedding="angle-y", measurement="zz", head="linear")
    net = HybridNet(arch, (4,), 3)
    hc = HybridCosts(iris, noise="ibm-manila", zne=True, noise_samples=3)
    got = hc.noisy_scores(arch, net, seed=7)
    assert set(got) == {"noisy_val_error", "noisy_se", "zne_val_error"}
    assert hc.noise_setup is not None
    _, words = hc.noise_setup.circuit(arch, net.circuit)
    assert calls == [(list(words), {"seed": 7})] and len(words) == 1
