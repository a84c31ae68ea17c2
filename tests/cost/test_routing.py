"""Routing onto calibrated devices: the routed circuit computes what the logical one does
(quarch's state-vector simulator as the reference), SWAPs as Qiskit's router inserts
them, Möttönen's state preparation, and circuits that do not fit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.cost.device_costs import observables_on_device
from quarch.cost.routing import DeviceFitError, expand_amplitude, mottonen_angles, route
from quarch.quantum import Circuit, compile_circuit
from quarch.quantum.measurements import parse_observables
from quarch.quantum.noisy_circuit import NoisyCircuit, noisy_circuit_expval
from quarch.spaces.hqnn.model import build_circuit, observables_of

pytest.importorskip("qiskit_ibm_runtime")

BASE = {
    "embedding": "iqp", "qubits": 3, "layers": 2, "rotation_0": "rot", "rotation_1": "rx-ry-rz",
    "entanglement_0": "full", "entanglement_1": "ring", "entangler": "crz", "reupload": True,
    "measurement": "zz", "frontend": "linear", "head": "linear", "lr": 0.01,
}  # fmt: skip


def _noiseless(routed) -> NoisyCircuit:  # type: ignore[no-untyped-def]
    return NoisyCircuit(
        routed.n_qubits, routed.ops, (), routed.n_weights, routed.n_inputs, routed.input_map
    )


def _compare(arch: dict, device: str, layout: int = 0) -> float:
    c = build_circuit(arch)
    r = route(c, device, layout=layout)
    rng = np.random.default_rng(1)
    w = torch.tensor(rng.uniform(-3, 3, c.n_weights))
    width = 2**c.n_qubits if arch["embedding"] == "amplitude" else c.n_inputs
    x = torch.tensor(rng.uniform(-1, 1, (3, width)))
    words = observables_of(arch)
    want = compile_circuit(c, dtype=torch.complex128).expval(
        parse_observables(words, c.n_qubits), x, w
    )
    got = noisy_circuit_expval(_noiseless(r), observables_on_device(r, words), inputs=x, weights=w)
    assert r.final != r.initial or r.swaps == 0  # where SWAPs moved qubits, this is tested
    return float((got - want).abs().max())


class TestCorrectness:
    @pytest.mark.parametrize("device", ["ibm-prague", "ibm-peekskill", "ibm-manila"])
    @pytest.mark.parametrize("embedding", ["iqp", "amplitude", "angle-y"])
    def test_routed_circuit_computes_the_logical_one(self, device: str, embedding: str) -> None:
        # CZ, ECR and CX devices; input products (IQP), Möttönen angles, CRZ weights
        assert _compare(dict(BASE, embedding=embedding), device, layout=1) < 1e-10

    def test_mottonen_prepares_the_amplitudes(self) -> None:
        for n in (1, 2, 3):
            c = Circuit(n).amplitude_embedding(2**n, pad_with=0.0, normalize=True)
            e, expanded = expand_amplitude(c)
            assert expanded and e.n_inputs == 2**n - 1
            x = torch.randn(4, 2**n, dtype=torch.float64)
            x[0, 1:] = 0  # zero branches: angle 0, no NaN
            want = compile_circuit(c, dtype=torch.complex128).state(x)
            got = compile_circuit(e, dtype=torch.complex128).state(mottonen_angles(x))
            assert torch.allclose(got, want, atol=1e-12)

    def test_mottonen_gradient_is_finite_on_zero_branches(self) -> None:
        x = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.5, -0.5, 0.0, 0.0]], requires_grad=True)
        mottonen_angles(x).sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()

    def test_swaps_are_those_qiskits_router_inserts(self) -> None:
        from qiskit.transpiler import StagedPassManager, generate_preset_pass_manager

        from quarch.cost.devices import get_calibration
        from quarch.quantum import to_qiskit

        arch = dict(BASE, qubits=4, embedding="angle-y", entangler="cnot")
        r = route(build_circuit(arch), "ibm-fez", seed=3)
        cal = get_calibration("ibm-fez")
        assert cal is not None
        pm = generate_preset_pass_manager(
            optimization_level=2, target=cal.sub_target(r.region), seed_transpiler=3
        )
        upto = StagedPassManager(
            stages=["init", "layout", "routing"], init=pm.init, layout=pm.layout,
            routing=pm.routing,
        )  # fmt: skip
        routed = upto.run(to_qiskit(build_circuit(arch)))
        assert r.swaps == routed.count_ops().get("swap", 0) > 0  # full entanglement on heavy-hex
        line = dict(arch, entanglement_0="linear", entanglement_1="linear")
        assert route(build_circuit(line), "ibm-fez").swaps == 0  # a path fits a region's path

    def test_cached_and_deterministic(self) -> None:
        c = build_circuit(BASE)
        a = route(c, "ibm-fez", seed=7)
        assert route(build_circuit(BASE), "ibm-fez", seed=7) is a
        from quarch.cost import routing

        routing._route.cache_clear()
        b = route(c, "ibm-fez", seed=7)
        assert b.ops == a.ops and b.final == a.final and b.region == a.region

    def test_layout_index_wraps_on_a_small_device(self) -> None:
        c = build_circuit(dict(BASE, qubits=5, embedding="angle-x"))
        assert route(c, "ibm-manila", layout=3).region == (0, 1, 2, 3, 4)


class TestErrors:
    def test_wider_than_the_device(self) -> None:
        with pytest.raises(DeviceFitError, match="the circuit needs 6 qubits; ibm-manila has 5"):
            route(build_circuit(dict(BASE, qubits=6)), "ibm-manila")

    def test_hand_profile_cannot_route(self) -> None:
        from quarch import ConfigError

        with pytest.raises(ConfigError, match="routing needs a calibrated device"):
            route(Circuit(2).cnot(0, 1), "ibm-heron")
