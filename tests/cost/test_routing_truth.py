"""Routing against Qiskit's own objects: statevectors of the exported full-device circuit
(``qiskit.quantum_info.Statevector``) against the logical circuit
written directly in Qiskit, the layouts Qiskit's transpiler records, native gate lists
read from Qiskit circuits built by hand, Möttönen's preparation checked on Qiskit's
statevector, and the coupling graph of the fake backend's ``Target`` (``networkx``)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch

from quarch import ConfigError
from quarch._errors import QuarchError
from quarch.cost import routing
from quarch.cost.calibration import load_calibration
from quarch.cost.routing import DeviceFitError, expand_amplitude, mottonen_angles, route
from quarch.quantum import Circuit, Input, Weight, to_qiskit
from quarch.quantum.circuit import Op

pytest.importorskip("qiskit_ibm_runtime")


def _backend(name: str) -> Any:
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FakeProviderForBackendV2().backend(f"fake_{name}")


def _logical() -> tuple[Circuit, Any, list[float]]:
    """The same 3-qubit circuit in quarch (symbolic weights) and in Qiskit (bound)."""
    from qiskit import QuantumCircuit

    w = [0.4, -1.1, 2.3]
    c = Circuit(3).h(0).h(1).ry(2, Weight(0)).cnot(0, 2).rx(1, Weight(1)).cnot(2, 1)
    c.rz(0, Weight(2)).cz(1, 0)
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.h(1)
    qc.ry(w[0], 2)
    qc.cx(0, 2)
    qc.rx(w[1], 1)
    qc.cx(2, 1)
    qc.rz(w[2], 0)
    qc.cz(1, 0)
    return c, qc, w


class TestFullDevice:
    @pytest.mark.parametrize("device", ["ibm-manila", "ibm-lagos"])
    def test_statevector_with_phase_and_layout(self, device: str) -> None:
        from qiskit import QuantumCircuit
        from qiskit.quantum_info import Statevector

        c, logical, w = _logical()
        r = route(c, device, layout=1)
        full = r.full_device_qiskit(w)
        n_dev = _backend(device.removeprefix("ibm-")).target.num_qubits
        assert full.num_qubits == n_dev and not full.parameters
        lay = r.qiskit.layout  # Qiskit's own record of where the logical qubits went
        initial = lay.initial_index_layout(filter_ancillas=True)
        final = lay.final_index_layout(filter_ancillas=True)
        want = QuantumCircuit(n_dev)
        want.compose(logical, qubits=[r.region[final[i]] for i in range(3)], inplace=True)
        # equal with the global phase (the export once added the routed circuit's phase
        # twice: QuantumCircuit(global_phase=...) and compose both add it)
        assert r.qiskit.global_phase != 0  # the case that tells the two apart
        np.testing.assert_allclose(Statevector(full).data, Statevector(want).data, atol=1e-10)
        assert full.metadata == {
            "device": device,
            "region": list(r.region),
            "initial_layout": {str(i): r.region[initial[i]] for i in range(3)},
            "final_layout": {str(i): r.region[final[i]] for i in range(3)},
            "inputs": "features x[j]",
        }

    def test_unbound_weights_stay_parameters(self) -> None:
        c, _, _ = _logical()
        full = route(c, "ibm-manila").full_device_qiskit()
        assert {p.name for p in full.parameters} == {"w[0]", "w[1]", "w[2]"}

    def test_amplitude_inputs_are_named(self) -> None:
        r = route(Circuit(2).amplitude_embedding(4).cnot(0, 1), "ibm-manila")
        full = r.full_device_qiskit()
        assert full.metadata["inputs"] == "Mottonen angles of the amplitude embedding"
        assert {p.name for p in full.parameters} == {"x[0]", "x[1]", "x[2]"}

    def test_routed_circuit_as_a_quarch_circuit(self) -> None:
        c, _, _ = _logical()
        r = route(c, "ibm-manila")
        view = r.circuit()
        assert view.n_qubits == 3 and view.n_weights == 3
        assert view.ops == list(r.ops)
        counts = r.qiskit.count_ops()
        assert sum(op.name == "cx" for op in view.ops) == counts["cx"]
        assert sum(op.name == "sx" for op in view.ops) == counts.get("sx", 0)

    def test_allocated_weights_survive_routing(self) -> None:
        c = Circuit(2)
        a = c.new_weight()
        c.new_weight()  # allocated, read by no gate: the model still trains two weights
        c.ry(0, a).cnot(0, 1)
        r = route(c, "ibm-manila")
        assert c.n_weights == r.n_weights == r.circuit().n_weights == 2

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
    def test_mottonen_angles_on_the_gpu(self) -> None:
        x = torch.randn(5, 8, dtype=torch.float64)
        got = mottonen_angles(x.cuda())
        assert got.is_cuda and torch.allclose(got.cpu(), mottonen_angles(x), atol=1e-12)


class TestNativeOps:
    def test_a_hand_made_qiskit_circuit(self) -> None:
        from qiskit import QuantumCircuit
        from qiskit.circuit import ParameterVector

        w, x = ParameterVector("w", 2), ParameterVector("x", 1)
        qc = QuantumCircuit(2)
        qc.rz(0.0, 0)  # nothing to do
        qc.sx(0)
        qc.barrier()
        qc.delay(100, 1)
        qc.id(1)
        qc.rz(4 * math.pi, 1)  # the identity
        qc.rz(-4 * math.pi, 0)  # the identity
        qc.rz(0.5 * x[0] + 2 * w[1] + 0.25, 1)
        qc.x(0)
        qc.cz(0, 1)
        qc.ecr(1, 0)
        qc.cx(0, 1)
        qc.rz(4 * math.pi + x[0], 0)  # the constant term is dropped, the input kept
        ops = routing._native_ops(qc)
        assert ops[-1] == Op("rz", (0,), (Input(0),))
        ops = ops[:-1]
        rz = [op for op in ops if op.name == "rz"]
        rest = [op for op in ops if op.name != "rz"]
        assert rest == [Op("sx", (0,)), Op("x", (0,)), Op("cz", (0, 1)), Op("ecr", (1, 0)),
                        Op("cx", (0, 1))]  # fmt: skip
        assert {op.params[0] for op in rz} == {Input(0, scale=0.5), Weight(1, 2.0), 0.25}
        assert all(op.wires == (1,) for op in rz) and len(rz) == 3
        assert ops.index(rz[0]) == 1  # after the sx, before the x

    def test_a_gate_that_is_not_native(self) -> None:
        from qiskit import QuantumCircuit

        qc = QuantumCircuit(1)
        qc.h(0)
        with pytest.raises(QuarchError, match=r"holds 'h', which is not a native gate"):
            routing._native_ops(qc)

    def test_angles_quarch_cannot_express(self) -> None:
        from qiskit import QuantumCircuit
        from qiskit.circuit import Parameter, ParameterVector

        w, x = ParameterVector("w", 1), ParameterVector("x", 1)
        qc = QuantumCircuit(1)
        qc.rz(w[0] * x[0], 0)
        with pytest.raises(QuarchError, match="mixes weights and inputs"):
            routing._native_ops(qc)
        qc = QuantumCircuit(1)
        qc.rz(Parameter("theta"), 0)
        with pytest.raises(QuarchError, match="has a term quarch cannot express: theta"):
            routing._native_ops(qc)


class TestAmplitude:
    def test_reading_inputs_again_is_refused(self) -> None:
        c = Circuit(2).amplitude_embedding(4).ry(0, Input(0))
        with pytest.raises(
            QuarchError,
            match=r"^an amplitude-embedded circuit that reads inputs again cannot be routed$",
        ):
            expand_amplitude(c)

    def test_allocated_weights_are_kept(self) -> None:
        c = Circuit(2).amplitude_embedding(4)
        a = c.new_weight()
        c.new_weight()  # allocated, not read: still a trainable weight of the model
        c.ry(0, a).cnot(0, 1)
        e, expanded = expand_amplitude(c)
        assert expanded and c.n_weights == 2 and e.n_weights == 2

    def test_scale_free_preparation_on_qiskits_statevector(self) -> None:
        from qiskit.quantum_info import Statevector

        e, _ = expand_amplitude(Circuit(2).amplitude_embedding(4))
        qc = to_qiskit(e)
        rows = torch.tensor(
            [[0.3, -0.2, 0.5, 0.1], [3.0, 1.0, -2.0, 0.5], [0.7, 0.1, 0.2, -0.4]],
            dtype=torch.float64,
        )
        rows[0] *= 1e-20  # a tiny vector in the same batch as ordinary ones
        rows[2] *= 1e20
        angles = mottonen_angles(rows)
        for row, a in zip(rows, angles, strict=True):
            bound = qc.assign_parameters({p: float(a[int(p.name[2:-1])]) for p in qc.parameters})
            state = Statevector(bound).reverse_qargs().data  # wire 0 most significant
            want = (row / row.norm()).numpy()
            assert np.allclose(state, want, atol=1e-12)


class TestRouteOptions:
    @pytest.mark.parametrize("level", [0, 1, 3])
    def test_every_level_is_accepted(self, level: int) -> None:
        r = route(Circuit(2).h(0).cnot(0, 1), "ibm-manila", optimization_level=level)
        assert r.optimization_level == level and r.two_qubit_gates == 1

    def test_other_levels_are_refused(self) -> None:
        with pytest.raises(ConfigError, match=r"optimization_level must be 0, 1, 2 or 3; got 4"):
            route(Circuit(2).cnot(0, 1), "ibm-manila", optimization_level=4)

    def test_hand_profile_error_names_a_calibrated_target(self) -> None:
        with pytest.raises(ConfigError, match=r"marked calibrated, e\.g\. ibm-fez$"):
            route(Circuit(2).cnot(0, 1), "ibm-heron")


class TestRegionsFor:
    def test_a_circuit_as_wide_as_the_device(self) -> None:
        cal = load_calibration("ibm-manila")
        assert routing.regions_for(cal, 5) == [(0, 1, 2, 3, 4)]

    def test_at_most_64_regions_per_width(self) -> None:
        assert len(routing.regions_for(load_calibration("ibm-fez"), 3)) == 64

    def test_no_connected_group_that_large(self) -> None:
        import networkx as nx

        tg = _backend("manhattan").target
        assert "cx" in tg.operation_names and "ecr" not in tg.operation_names
        g = nx.Graph()
        g.add_nodes_from(range(tg.num_qubits))
        g.add_edges_from(q for q, p in tg["cx"].items() if p.error < 1)
        largest = max(len(part) for part in nx.connected_components(g))
        assert largest < tg.num_qubits  # broken couplers split the device that day
        with pytest.raises(DeviceFitError, match=f"no connected group of {largest + 1} working"):
            routing.regions_for(load_calibration("ibm-manhattan"), largest + 1)
