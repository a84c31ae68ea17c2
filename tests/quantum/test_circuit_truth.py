"""The circuit IR against independent truth: each builder method against the PennyLane
operation it names, bookkeeping and ``bind`` against arithmetic done here, and every
refusal against the input that must trigger it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    CHANNELS,
    GATES,
    AngleEmbedding,
    Circuit,
    CircuitError,
    Input,
    Op,
    Param,
    Weight,
    compile_circuit,
    density_matrix,
    statevector,
)
from quarch.quantum.circuit import require_circuit

qml = pytest.importorskip("pennylane")

N = 3
GATE_NAMES = list(GATES)


def _prep_pl(n: int) -> None:
    """A generic start state (no amplitude zero, no special phases), PennyLane side."""
    for k in range(n):
        qml.RY(0.3 + 0.4 * k, wires=k)
        qml.RZ(0.2 + 0.5 * k, wires=k)
        qml.RX(0.1 + 0.3 * k, wires=k)


def _prep(c: Circuit) -> Circuit:
    """The same start state, built with quarch's ``append`` by name."""
    for k in range(c.n_qubits):
        c.append("ry", [k], [0.3 + 0.4 * k])
        c.append("rz", [k], [0.2 + 0.5 * k])
        c.append("rx", [k], [0.1 + 0.3 * k])
    return c


def _pl_state(n: int, body: Callable[[], object]) -> np.ndarray:
    @qml.qnode(qml.device("default.qubit", wires=n))
    def run() -> object:
        _prep_pl(n)
        body()
        return qml.state()

    return np.asarray(run())


def _pl_density(n: int, body: Callable[[], object]) -> np.ndarray:
    @qml.qnode(qml.device("default.mixed", wires=n))
    def run() -> object:
        _prep_pl(n)
        body()
        return qml.density_matrix(wires=list(range(n)))

    return np.asarray(run())


# method name, its arguments, the PennyLane operation(s) it stands for; the wires are
# out of order (control last) so that swapped wires or angles show
A, B, C = 0.37, -1.21, 2.05
GATE_METHODS: list[tuple[str, tuple[Any, ...], Callable[[], object]]] = [
    ("h", (1,), lambda: qml.Hadamard(1)),
    ("x", (1,), lambda: qml.PauliX(1)),
    ("y", (1,), lambda: qml.PauliY(1)),
    ("z", (1,), lambda: qml.PauliZ(1)),
    ("s", (1,), lambda: qml.S(1)),
    ("sdg", (1,), lambda: qml.adjoint(qml.S(1))),
    ("t", (1,), lambda: qml.T(1)),
    ("tdg", (1,), lambda: qml.adjoint(qml.T(1))),
    ("sx", (1,), lambda: qml.SX(1)),
    ("sxdg", (1,), lambda: qml.adjoint(qml.SX(1))),
    ("rx", (1, A), lambda: qml.RX(A, 1)),
    ("ry", (1, A), lambda: qml.RY(A, 1)),
    ("rz", (1, A), lambda: qml.RZ(A, 1)),
    ("phase", (1, A), lambda: qml.PhaseShift(A, 1)),
    ("rot", (1, A, B, C), lambda: qml.Rot(A, B, C, 1)),
    ("u3", (1, A, B, C), lambda: qml.U3(A, B, C, 1)),
    ("cnot", (2, 0), lambda: qml.CNOT([2, 0])),
    ("cz", (2, 0), lambda: qml.CZ([2, 0])),
    ("cy", (2, 0), lambda: qml.CY([2, 0])),
    ("ch", (2, 0), lambda: qml.CH([2, 0])),
    ("swap", (2, 0), lambda: qml.SWAP([2, 0])),
    ("crx", (2, 0, A), lambda: qml.CRX(A, [2, 0])),
    ("cry", (2, 0, A), lambda: qml.CRY(A, [2, 0])),
    ("crz", (2, 0, A), lambda: qml.CRZ(A, [2, 0])),
    ("cphase", (2, 0, A), lambda: qml.ControlledPhaseShift(A, [2, 0])),
    ("rxx", (2, 0, A), lambda: qml.IsingXX(A, [2, 0])),
    ("ryy", (2, 0, A), lambda: qml.IsingYY(A, [2, 0])),
    ("rzz", (2, 0, A), lambda: qml.IsingZZ(A, [2, 0])),
    ("ccx", (2, 0, 1), lambda: qml.Toffoli([2, 0, 1])),
    ("cswap", (2, 0, 1), lambda: qml.CSWAP([2, 0, 1])),
]


class TestBuilders:
    @pytest.mark.parametrize(
        ("method", "args", "pl_op"), GATE_METHODS, ids=[m for m, _, _ in GATE_METHODS]
    )
    def test_gate_method_is_the_pennylane_gate(
        self, method: str, args: tuple[Any, ...], pl_op: Callable[[], object]
    ) -> None:
        c = _prep(Circuit(N))
        out = getattr(c, method)(*args)
        assert out is c  # chainable
        assert len(c.ops) == 3 * N + 1
        got = statevector(c).numpy()
        ref = _pl_state(N, pl_op)
        np.testing.assert_allclose(got, ref, atol=1e-10)

    def test_every_gate_has_a_method(self) -> None:
        assert sorted(GATE_NAMES) == sorted(m for m, _, _ in GATE_METHODS)

    @pytest.mark.parametrize(
        ("method", "pl_channel"),
        [
            ("depolarizing", "DepolarizingChannel"),
            ("amplitude_damping", "AmplitudeDamping"),
            ("phase_damping", "PhaseDamping"),
            ("bit_flip", "BitFlip"),
        ],
    )
    def test_channel_method_is_the_pennylane_channel(self, method: str, pl_channel: str) -> None:
        c = _prep(Circuit(2))
        assert not c.has_channels
        assert getattr(c, method)(1, 0.3) is c
        assert c.has_channels
        assert c.ops[-1].is_channel and not c.ops[0].is_channel
        got = density_matrix(c)[0].numpy()
        ref = _pl_density(2, lambda: getattr(qml, pl_channel)(0.3, wires=1))
        np.testing.assert_allclose(got, ref, atol=1e-10)

    def test_channel_names(self) -> None:
        assert CHANNELS == ("depolarizing", "amplitude_damping", "phase_damping", "bit_flip")
        for name in CHANNELS:
            assert Op(name, (0,), (0.1,)).is_channel
        assert not Op("amplitude_embedding", (0,), (), (2, 0.0, True)).is_channel

    @pytest.mark.parametrize("p", [0.0, 1.0], ids=["zero", "one"])
    def test_channel_probability_bounds_are_accepted(self, p: float) -> None:
        c = Circuit(1).bit_flip(0, p)
        assert c.ops[-1].params == (p,)

    @pytest.mark.parametrize("p", [-1e-9, 1.000001, 2.0], ids=["below", "just-above", "two"])
    def test_channel_probability_outside_the_unit_interval(self, p: float) -> None:
        with pytest.raises(
            CircuitError, match=r"bit_flip probability must be a number in \[0, 1\]"
        ):
            Circuit(1).bit_flip(0, p)

    def test_channel_probability_cannot_be_a_weight(self) -> None:
        with pytest.raises(CircuitError, match="depolarizing probability must be a number"):
            Circuit(1).append("depolarizing", [0], [Weight(0)])

    @pytest.mark.parametrize(
        ("n_features", "pad", "normalize"),
        [(8, None, True), (5, 0.25, True), (3, 0.0, False), (1, 0.5, True)],
        ids=["full", "padded", "unnormalized", "one-feature"],
    )
    def test_amplitude_embedding_is_pennylanes(
        self, n_features: int, pad: float | None, normalize: bool
    ) -> None:
        x = np.array([0.3, -0.2, 0.5, 0.1, -0.4, 0.6, 0.2, -0.1])[:n_features]
        if not normalize:  # PennyLane checks the norm itself when not normalising
            padded = np.concatenate([x, np.full(8 - n_features, pad or 0.0)])
            x = x / np.linalg.norm(padded)
        c = Circuit(N).amplitude_embedding(n_features, pad_with=pad, normalize=normalize)
        c.ry(0, 0.4).cnot(0, 2)
        assert c.n_inputs == n_features
        assert c.ops[0].wires == (0, 1, 2)
        got = (
            compile_circuit(c, dtype=torch.complex128)
            .state(inputs=torch.tensor(x)[None])[0]
            .numpy()
        )

        @qml.qnode(qml.device("default.qubit", wires=N))
        def run() -> object:
            qml.AmplitudeEmbedding(x, wires=range(N), pad_with=pad, normalize=normalize)
            qml.RY(0.4, 0)
            qml.CNOT([0, 2])
            return qml.state()

        np.testing.assert_allclose(got, np.asarray(run()), atol=1e-10)

    def test_amplitude_embedding_meta(self) -> None:
        c = Circuit(2).amplitude_embedding(3, pad_with=1, normalize=0)  # type: ignore[arg-type]
        (op,) = c.ops
        assert op.meta == (3, 1.0, False)
        assert type(op.meta[1]) is float and type(op.meta[2]) is bool
        assert op.params == ()
        full = Circuit(2).amplitude_embedding(4, pad_with=None)
        assert full.ops[0].meta == (4, 0.0, True)

    def test_amplitude_embedding_must_come_first(self) -> None:
        msg = "^amplitude_embedding must be the first operation of a circuit$"
        with pytest.raises(CircuitError, match=msg):
            Circuit(2).h(0).amplitude_embedding(4)

    @pytest.mark.parametrize(
        "n", [0, 9, True, 2.0, "4"], ids=["zero", "too-many", "bool", "float", "str"]
    )
    def test_amplitude_embedding_feature_count(self, n: object) -> None:
        with pytest.raises(ValueError, match=r"n_features must be an integer in \[1, 8\]"):
            Circuit(N).amplitude_embedding(n)  # type: ignore[arg-type]

    def test_amplitude_embedding_without_padding_needs_every_feature(self) -> None:
        with pytest.raises(CircuitError, match="of 7 features on 3 wires needs 8 features"):
            Circuit(N).amplitude_embedding(7, pad_with=None)


class TestParam:
    def test_weight_and_input(self) -> None:
        assert Weight(3) == Param("weight", (3,), 1.0)
        assert Weight(np.int64(2), 0.5) == Param("weight", (2,), 0.5)  # type: ignore[arg-type]
        assert Input(1, 4, scale=-2) == Param("input", (1, 4), -2.0)
        assert type(Weight(1, 2).scale) is float
        assert type(Input(1, scale=2).scale) is float
        assert all(type(i) is int for i in Input(np.int64(0), np.int64(5)).index)  # type: ignore[arg-type]
        assert type(Weight(np.int64(7)).index[0]) is int  # type: ignore[arg-type]

    def test_scaling(self) -> None:
        w = Weight(2, 1.5)
        assert w * 2 == Param("weight", (2,), 3.0)
        assert 2 * w == Param("weight", (2,), 3.0)
        assert -w == Param("weight", (2,), -1.5)
        assert -Input(0, 3) == Param("input", (0, 3), -1.0)
        assert type((w * np.float32(2)).scale) is float  # type: ignore[operator]

    @pytest.mark.parametrize(
        ("kind", "index", "match"),
        [
            ("bias", (0,), "Param kind must be 'weight' or 'input'; got 'bias'"),
            ("weight", (), "Param indices must be integers >= 0"),
            ("input", (), "Param indices must be integers >= 0"),
            ("input", (1, -1), r"Param indices must be integers >= 0; got \(1, -1\)"),
            ("weight", (0.5,), "Param indices must be integers >= 0"),
            ("weight", (0, 1), r"a weight Param has exactly one index; got \(0, 1\)"),
        ],
        ids=["kind", "no-index-weight", "no-index-input", "negative", "fraction", "two-weights"],
    )
    def test_malformed_params(self, kind: str, index: tuple[Any, ...], match: str) -> None:
        with pytest.raises(CircuitError, match=match):
            Param(kind, index)  # type: ignore[arg-type]

    def test_valid_edge_params(self) -> None:
        assert Param("input", (0, 0, 2)).index == (0, 0, 2)
        assert Param("weight", (0,)).index == (0,)
        assert Param("input", (2.0,)).index == (2.0,)  # type: ignore[arg-type]


class TestAngles:
    @pytest.mark.parametrize(
        "value",
        [np.float32(0.75), np.float64(-1.5), np.int64(2), torch.tensor(0.5), torch.tensor(3)],
        ids=["f32", "f64", "i64", "tensor-float", "tensor-int"],
    )
    def test_numeric_angles_become_python_floats(self, value: object) -> None:
        c = Circuit(1).rx(0, value)  # type: ignore[arg-type]
        (p,) = c.ops[0].params
        assert type(p) is float
        assert p == float(value)  # type: ignore[arg-type]

    def test_int_angle_becomes_float(self) -> None:
        (p,) = Circuit(1).rz(0, 2).ops[0].params
        assert type(p) is float and p == 2.0

    def test_param_angle_is_kept(self) -> None:
        w = Weight(4, 0.5)
        assert Circuit(1).ry(0, w).ops[0].params == (w,)

    @pytest.mark.parametrize(
        "value", ["x", None, [0.1], object()], ids=["str", "none", "list", "object"]
    )
    def test_non_numbers_are_refused(self, value: object) -> None:
        with pytest.raises(CircuitError, match="rx angle must be a number, Weight"):
            Circuit(1).rx(0, value)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        "value",
        [math.inf, -math.inf, math.nan, np.float64("nan"), torch.tensor(math.inf)],
        ids=["inf", "-inf", "nan", "np-nan", "tensor-inf"],
    )
    def test_non_finite_angles_are_refused(self, value: object) -> None:
        with pytest.raises(CircuitError, match="ry angle must be finite"):
            Circuit(1).ry(0, value)  # type: ignore[arg-type]


class TestWires:
    def test_integer_like_wires_are_read(self) -> None:
        c = Circuit(3).append("cnot", [np.int64(2), 1.0])  # type: ignore[list-item]
        assert c.ops[0].wires == (2, 1)
        assert all(type(w) is int for w in c.ops[0].wires)
        c.append("h", [torch.tensor(0)])  # type: ignore[list-item]
        assert c.ops[-1].wires == (0,) and type(c.ops[-1].wires[0]) is int

    @pytest.mark.parametrize(
        "wire",
        [1.5, "a", "1", None, np.float64(0.5)],
        ids=["fraction", "str", "digit", "none", "np"],
    )
    def test_non_integer_wires(self, wire: object) -> None:
        with pytest.raises(CircuitError, match="h: wires must be integers"):
            Circuit(3).h(wire)  # type: ignore[arg-type]

    @pytest.mark.parametrize("wire", [-1, 3, 10], ids=["negative", "n", "far"])
    def test_wire_out_of_range(self, wire: int) -> None:
        with pytest.raises(CircuitError, match=rf"x: wire {wire} is out of range; .* 0\.\.2$"):
            Circuit(3).x(wire)

    def test_every_wire_in_range_is_accepted(self) -> None:
        c = Circuit(3)
        for w in range(3):
            c.x(w)
        assert [op.wires for op in c.ops] == [(0,), (1,), (2,)]

    def test_same_wire_twice(self) -> None:
        with pytest.raises(CircuitError, match=r"ccx: the same wire appears twice in \(0, 2, 0\)"):
            Circuit(3).ccx(0, 2, 0)

    def test_wrong_wire_count(self) -> None:
        with pytest.raises(CircuitError, match=r"cnot acts on 2 wire\(s\); got wires \(0,\)"):
            Circuit(2).append("cnot", [0])
        with pytest.raises(CircuitError, match=r"depolarizing acts on 1 wire\(s\)"):
            Circuit(2).append("depolarizing", [0, 1], [0.1])

    def test_wrong_angle_count(self) -> None:
        with pytest.raises(CircuitError, match=r"rot takes 3 angle\(s\); got 2"):
            Circuit(1).append("rot", [0], [0.1, 0.2])
        with pytest.raises(CircuitError, match=r"h takes 0 angle\(s\); got 1"):
            Circuit(1).append("h", [0], [0.1])
        with pytest.raises(CircuitError, match=r"bit_flip takes 1 angle\(s\); got 0"):
            Circuit(1).append("bit_flip", [0])

    def test_unknown_gate_lists_known_ones(self) -> None:
        with pytest.raises(CircuitError, match=r"^unknown gate 'foo'; known gates: ") as err:
            Circuit(1).append("foo", [0])
        listed = str(err.value).split("known gates: ")[1].split(", ")
        assert sorted(listed) == sorted([*GATE_NAMES, *CHANNELS])


class TestCircuit:
    @pytest.mark.parametrize("n", [1, 30], ids=["one", "thirty"])
    def test_wire_count_bounds(self, n: int) -> None:
        assert Circuit(n).n_qubits == n

    @pytest.mark.parametrize(
        "n", [0, 31, -1, True, 2.0, "2"], ids=["zero", "31", "negative", "bool", "float", "str"]
    )
    def test_bad_wire_counts(self, n: object) -> None:
        with pytest.raises(CircuitError, match=r"n_qubits must be an integer in \[1, 30\]"):
            Circuit(n)  # type: ignore[arg-type]

    def test_repr(self) -> None:
        c = Circuit(2).ry(0, Input(3)).rx(1, Weight(4)).cnot(0, 1)
        assert repr(c) == "Circuit(n_qubits=2, ops=3, n_weights=5, n_inputs=4)"

    def test_counts_follow_the_largest_index(self) -> None:
        c = Circuit(2)
        assert (c.n_weights, c.n_inputs) == (0, 0)
        c.rx(0, Weight(2)).ry(1, Weight(0)).rz(0, 0.3)
        c.crx(0, 1, Input(1, 5)).ry(0, Input(2))
        assert (c.n_weights, c.n_inputs) == (3, 6)

    def test_amplitude_embedding_counts_as_inputs(self) -> None:
        c = Circuit(3).amplitude_embedding(5).ry(0, Input(1))
        assert c.n_inputs == 5
        c.rx(1, Input(6))
        assert c.n_inputs == 7
        assert c.n_weights == 0

    def test_new_weights_are_fresh(self) -> None:
        c = Circuit(2)
        assert c.new_weight() == Weight(0)
        assert c.n_weights == 1  # allocated, not yet used
        c.rx(0, Weight(4))
        assert c.new_weight(0.5) == Weight(5, 0.5)
        assert c.new_weights(3) == [Weight(6), Weight(7), Weight(8)]
        assert c.n_weights == 9
        assert c.new_weights(0) == []

    def test_copy_is_independent(self) -> None:
        c = Circuit(2).h(0)
        c.new_weight()
        d = c.copy()
        d.cnot(0, 1)
        assert len(c.ops) == 1 and len(d.ops) == 2
        assert d.n_qubits == 2 and d.n_weights == 1
        assert d.new_weight() == Weight(1)
        assert c.n_weights == 1

    def test_add_builds_a_block_and_chains(self) -> None:
        c = Circuit(2)
        assert c.add(AngleEmbedding(2)) is c
        assert [op.name for op in c.ops] == ["rx", "rx"]


class TestBind:
    def test_bound_angles_are_the_arithmetic(self) -> None:
        c = Circuit(2)
        c.rx(0, Weight(1, 2.0)).ry(1, Input(0, 2, scale=-0.5)).rz(0, 0.25)
        c.crz(0, 1, Weight(0)).rxx(0, 1, Input(1))
        w, x = [0.3, -0.7], [1.5, 2.0, -3.0]
        b = c.bind(w, x)
        assert b is not c and b.n_qubits == 2
        expected = [2.0 * -0.7, -0.5 * 1.5 * -3.0, 0.25, 0.3, 2.0]
        got = [op.params[0] for op in b.ops]
        assert got == pytest.approx(expected, abs=1e-15)
        assert all(type(p) is float for p in got)
        assert [op.name for op in b.ops] == [op.name for op in c.ops]
        assert [op.wires for op in b.ops] == [op.wires for op in c.ops]
        assert (b.n_weights, b.n_inputs) == (0, 0)
        assert len(c.ops[0].params) == 1 and isinstance(c.ops[0].params[0], Param)  # untouched

    def test_bound_circuit_has_the_same_state(self) -> None:
        c = _prep(Circuit(2))
        c.ry(0, Weight(0, 0.5)).cnot(0, 1).rz(1, Input(0, 1)).crx(1, 0, Weight(1))
        w = torch.tensor([0.8, -1.3], dtype=torch.float64)
        x = torch.tensor([[0.6, 0.9]], dtype=torch.float64)
        full = compile_circuit(c, dtype=torch.complex128).state(weights=w, inputs=x)[0].numpy()

        @qml.qnode(qml.device("default.qubit", wires=2))
        def run() -> object:
            _prep_pl(2)
            qml.RY(0.5 * 0.8, 0)
            qml.CNOT([0, 1])
            qml.RZ(0.6 * 0.9, 1)
            qml.CRX(-1.3, [1, 0])
            return qml.state()

        ref = np.asarray(run())
        np.testing.assert_allclose(full, ref, atol=1e-10)
        np.testing.assert_allclose(statevector(c.bind(w, x[0])).numpy(), ref, atol=1e-10)
        np.testing.assert_allclose(
            statevector(c.bind(w.numpy(), x.numpy()[0])).numpy(), ref, atol=1e-10
        )

    def test_weights_only_keep_inputs_symbolic(self) -> None:
        c = Circuit(2).rx(0, Weight(0, 3.0)).ry(1, Input(1))
        b = c.bind([0.5])
        assert b.ops[0].params == (1.5,)
        assert b.ops[1].params == (Input(1),)
        assert b.n_inputs == 2 and b.n_weights == 0

    def test_inputs_only_keep_weights_and_their_count(self) -> None:
        c = Circuit(2).rx(0, Weight(0)).ry(1, Input(0, scale=2.0))
        c.new_weights(2)  # allocated, unused
        b = c.bind(None, [0.25])
        assert b.ops[0].params == (Weight(0),)
        assert b.ops[1].params == (0.5,)
        assert b.n_weights == 3
        assert b.new_weight() == Weight(3)

    def test_nothing_bound_is_an_equal_copy(self) -> None:
        c = Circuit(2).amplitude_embedding(3).rx(0, Weight(0)).ry(1, Input(4))
        b = c.bind()
        assert b.ops == c.ops and b.ops is not c.ops
        assert b.ops[0].meta == (3, 0.0, True)

    def test_amplitude_embedding_with_weights_bound(self) -> None:
        c = Circuit(2).amplitude_embedding(4).ry(0, Weight(0))
        b = c.bind([0.5])
        assert b.ops[0] == c.ops[0]
        assert b.ops[1].params == (0.5,)

    def test_amplitude_embedding_cannot_bind_inputs(self) -> None:
        c = Circuit(2).amplitude_embedding(4)
        msg = "^bind: an amplitude embedding cannot be bound to numbers; keep inputs$"
        with pytest.raises(CircuitError, match=msg):
            c.bind(None, [0.1, 0.2, 0.3, 0.4])

    def test_other_fields_of_an_op_are_kept(self) -> None:
        # an op added by hand may carry meta data: the bound copy keeps it as it is
        c = Circuit(2)
        c.ops.append(Op("rx", (1,), (Weight(0, 2.0),), ("tag", 3)))
        c.ops.append(Op("cnot", (1, 0), (), ("other",)))
        b = c.bind([0.25])
        assert b.ops == [Op("rx", (1,), (0.5,), ("tag", 3)), Op("cnot", (1, 0), (), ("other",))]

    def test_value_counts(self) -> None:
        c = Circuit(2).rx(0, Weight(1)).ry(1, Input(0))
        with pytest.raises(
            CircuitError, match=r"weights must hold 2 value\(s\) for this circuit; got 1"
        ):
            c.bind([0.1])
        with pytest.raises(
            CircuitError, match=r"inputs must hold 1 value\(s\) for this circuit; got 2"
        ):
            c.bind([0.1, 0.2], np.array([0.1, 0.2]))

    def test_tensor_values_are_flattened_and_detached(self) -> None:
        c = Circuit(2).rx(0, Weight(0)).ry(1, Weight(3))
        w = torch.tensor([[0.1, 0.2], [0.3, 0.4]], requires_grad=True)
        b = c.bind(w)
        assert b.ops[0].params[0] == pytest.approx(0.1)
        assert b.ops[1].params[0] == pytest.approx(0.4)
        assert all(type(op.params[0]) is float for op in b.ops)


class TestRequireCircuit:
    def test_a_circuit_passes(self) -> None:
        c = Circuit(1)
        assert require_circuit(c, "f") is c

    def test_other_objects_name_their_type(self) -> None:
        with pytest.raises(CircuitError, match=r"^f takes a quarch Circuit; got list$"):
            require_circuit([], "f")

    def test_a_holder_of_a_circuit_gets_the_call_to_make(self) -> None:
        class Holder:
            circuit = Circuit(1)

        with pytest.raises(
            CircuitError,
            match=r"^g takes a quarch Circuit; got Holder; for a QuantumLayer call "
            r"g\(layer\.circuit, layer\.weights\)$",
        ):
            require_circuit(Holder(), "g")
        with pytest.raises(CircuitError, match=r"call g\(a, b\)$"):
            require_circuit(Holder(), "g", "a, b")

    def test_a_holder_of_something_else_gets_no_hint(self) -> None:
        class Holder:
            circuit = "not a circuit"

        with pytest.raises(CircuitError, match=r"got Holder$"):
            require_circuit(Holder(), "g")
