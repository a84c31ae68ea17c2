"""quarch.quantum as a torch user's library: what such a user passes, checked against
closed forms and PennyLane.

The circuit ``RY(x0) on wire 0, RY(x1) on wire 1, CNOT(0, 1)`` has ``<Z0> = cos x0`` and
``<Z1> = cos x0 cos x1`` (the CNOT puts the parity of both wires on wire 1), so values
and gradients of a :class:`QuantumLayer` have an answer written by hand. Each refusal
below used to be a deep traceback (``AttributeError``, ``TypeError``,
``unordered_map::at``), a line that contradicted itself, or a silent wrong circuit.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    BasicEntanglerLayers,
    Circuit,
    CircuitError,
    DataReuploading,
    Input,
    IQPEmbedding,
    Param,
    QuantumLayer,
    SimulationError,
    StronglyEntanglingLayers,
    Weight,
    from_qasm,
    statevector,
    to_qasm,
)


def _any(value: object) -> Any:
    """``value``, typed as anything: the calls below pass what the signatures refuse."""
    return value


def _layer(dtype: torch.dtype = torch.complex128) -> QuantumLayer:
    """``<Z0>, <Z1>`` of RY(x0) RY(x1) CNOT(0, 1) (no trainable weights)."""
    circuit = Circuit(2).ry(0, Input(0)).ry(1, Input(1)).cnot(0, 1)
    return QuantumLayer(circuit, ["Z0", "Z1"], dtype=dtype)


def _closed_form(x: torch.Tensor) -> torch.Tensor:
    """``[..., 2]`` features -> ``[..., 2]``: ``cos x0``, ``cos x0 cos x1``."""
    c0, c1 = torch.cos(x[..., 0]), torch.cos(x[..., 1])
    return torch.stack([c0, c0 * c1], dim=-1)


def _raises(kind: type[Exception], fn: Callable[[], object], *parts: str) -> None:
    """``fn()`` raises exactly ``kind`` (a quarch class, not a ValueError from torch),
    with every one of ``parts`` in its message."""
    with pytest.raises(kind) as info:
        fn()
    assert type(info.value) is kind, f"{type(info.value).__name__}: {info.value}"
    for part in parts:
        assert part in str(info.value), str(info.value)


# ---------------------------------------------------------------- QuantumLayer inputs


def test_inputs_with_extra_batch_dimensions_as_torch_nn_linear_takes_them() -> None:
    """``[a, b, n_inputs] -> [a, b, n_outputs]`` (a sequence model's [batch, time,
    features]), values and input gradients by the closed form; it was refused."""
    layer = _layer()
    x = torch.rand(3, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = (x * 3 - 1.5).requires_grad_(True)
    out = layer(x)
    assert out.shape == (3, 4, 2)
    torch.testing.assert_close(out, _closed_form(x.detach()), rtol=0, atol=1e-12)
    (grad,) = torch.autograd.grad(out[..., 1].sum(), x)
    c0, c1 = torch.cos(x.detach()[..., 0]), torch.cos(x.detach()[..., 1])
    s0, s1 = torch.sin(x.detach()[..., 0]), torch.sin(x.detach()[..., 1])
    torch.testing.assert_close(grad, torch.stack([-s0 * c1, -c0 * s1], -1), rtol=0, atol=1e-12)
    assert layer(torch.zeros(0, 5, 2, dtype=torch.float64)).shape == (0, 5, 2)


def test_extra_dimensions_of_a_circuit_without_inputs_and_the_wrong_width() -> None:
    """A circuit reading no features takes ``[a, b, 0]`` (one row each); a last axis of
    the wrong width is named as given, not as the rows it would have run as."""
    circuit = Circuit(1).ry(0, Weight(0))
    layer = QuantumLayer(circuit, dtype=torch.complex128)
    with torch.no_grad():
        layer.weights.fill_(0.7)
    out = layer(torch.zeros(2, 3, 0, dtype=torch.float64))
    torch.testing.assert_close(out, torch.full((2, 3, 1), math.cos(0.7), dtype=torch.float64))
    _raises(
        SimulationError,
        lambda: _layer()(torch.zeros(2, 5, 3, dtype=torch.float64)),
        "[..., 2]",
        "got (2, 5, 3)",
    )


def test_a_list_or_an_array_is_read_as_a_tensor_on_the_weights_device() -> None:
    """A list failed on ``.device``; a numpy array was refused as being "on cpu but the
    layer's weights are on cpu" (numpy's ``.device`` is a str)."""
    layer = _layer()
    rows = [[0.3, -1.2], [2.0, 0.5]]
    want = _closed_form(torch.tensor(rows, dtype=torch.float64))
    torch.testing.assert_close(layer(rows), want, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer(np.array(rows)), want, rtol=0, atol=1e-12)
    torch.testing.assert_close(layer(np.array(rows[0])), want[0], rtol=0, atol=1e-12)
    _raises(SimulationError, lambda: layer([["a", "b"]]), "inputs must be numbers", "list")
    # read on the weights' device: the meta device plays a GPU here
    on_meta = _layer().to("meta")
    assert on_meta(rows).device.type == "meta" and on_meta(rows).shape == (2, 2)
    # two axes of the wrong width keep the plan's own line
    _raises(
        SimulationError,
        lambda: layer([[0.1, 0.2, 0.3]]),
        "inputs must have shape [batch, 2] or [..., 2]; got (1, 3)",
    )


def test_complex_inputs_are_refused_not_cut_to_their_real_part() -> None:
    layer = _layer()
    x = torch.tensor([[0.3 + 2.0j, 0.1 - 1.0j]], dtype=torch.complex128)
    _raises(
        SimulationError,
        lambda: layer(x),
        "inputs are features, real numbers; got a torch.complex128 tensor: pass its .real "
        "(or .abs()) if that is what the circuit should read",
    )


def test_a_generator_that_is_not_one_and_jit_trace_are_one_line() -> None:
    circuit = Circuit(2).add(AngleEmbedding(2)).add(BasicEntanglerLayers(1, 2))
    _raises(
        SimulationError, lambda: QuantumLayer(circuit, generator=_any(5)), "torch.Generator", "int"
    )
    layer = QuantumLayer(circuit)
    _raises(
        SimulationError,
        lambda: torch.jit.trace(layer, torch.rand(3, 2)),
        "torch.jit.trace cannot record quarch's simulator (it picks its path from values at "
        "run time); use torch.compile, which runs the circuit eagerly",
    )


# ---------------------------------------------------------------- circuit IR


def test_a_fractional_index_is_refused_not_truncated() -> None:
    """``Weight(_any(1.5))`` was weight 1; ``AngleEmbedding(3, feature_offset=_any(1.5))`` read
    features 1, 2, 3 (``n_inputs`` 4)."""
    _raises(CircuitError, lambda: Weight(_any(1.5)), "Weight index", "1.5")
    _raises(CircuitError, lambda: Input(0, _any(1.5)), "Input index", "1.5")
    _raises(CircuitError, lambda: Input(_any("a")), "Input index", "'a'")
    _raises(
        CircuitError, lambda: Circuit(3).add(AngleEmbedding(3, feature_offset=_any(1.5))), "1.5"
    )
    assert Weight(_any(np.int64(2))).index == (2,)  # whole numbers of any type are taken
    assert Input(_any(2.0), 1).index == (2, 1)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Weight(0, float("nan")),
        lambda: Weight(0) * float("inf"),
        lambda: Circuit(1).new_weight(float("nan")),
        lambda: Circuit(3).add(AngleEmbedding(3, scale=float("nan"))),
        lambda: Input(0, scale=_any("a")),
        lambda: Param("weight", (0,), _any("2")),  # a str float() would read
        lambda: Param("weight", (0,), _any(True)),
        lambda: Param("input", (0,), _any(None)),
    ],
)
def test_a_scale_that_is_not_a_finite_number_is_refused(make: Callable[[], object]) -> None:
    """A NaN scale made every output of the circuit NaN, without a word."""
    with pytest.raises(CircuitError, match="scale must be a finite number"):
        make()


def test_a_scale_that_is_not_a_number_is_named_with_where_it_was_given() -> None:
    _raises(
        CircuitError,
        lambda: Input(0, scale=_any("a")),
        "Input scale must be a finite number; got 'a'",
    )
    _raises(
        CircuitError,
        lambda: Weight(0, scale=_any(None)),
        "Weight scale must be a finite number; got None",
    )


def test_bind_refuses_weights_that_are_not_finite_numbers() -> None:
    """``to_qasm`` wrote ``rx(nan)`` for a diverged model, which ``from_qasm`` and Qiskit
    refuse; a str or a number was a ``ValueError``/``TypeError`` from ``float``."""
    circuit = Circuit(2).rx(0, Weight(0)).ry(1, Weight(1)).cnot(0, 1)
    _raises(CircuitError, lambda: circuit.bind([0.1, float("nan")]), "weights[1] is nan")
    _raises(CircuitError, lambda: to_qasm(circuit, [float("inf"), 0.0]), "weights[0] is inf")
    _raises(CircuitError, lambda: circuit.bind(_any("ab")), "sequence of numbers", "str")
    _raises(CircuitError, lambda: circuit.bind(_any(5.0)), "sequence of numbers", "float")
    # what was given is named in full up to 60 characters, cut to 57 and "..." past them
    line = "weights must be a sequence of numbers; got "
    _raises(CircuitError, lambda: circuit.bind(_any("x" * 54)), line + "str '" + "x" * 54 + "'")
    with pytest.raises(CircuitError) as info:
        circuit.bind(_any("x" * 55))
    assert str(info.value) == line + "str '" + "x" * 52 + "..."
    reads = Circuit(1).rx(0, Input(0))
    _raises(CircuitError, lambda: reads.bind(None, [float("nan")]), "inputs[0] is nan")
    # the exported numbers still round-trip: RX(a) RY(b) on |00>, CNOT
    a, b = 0.4, -1.3
    psi = statevector(from_qasm(to_qasm(circuit, [a, b])))
    ca, sa, cb, sb = math.cos(a / 2), math.sin(a / 2), math.cos(b / 2), math.sin(b / 2)
    # wire 0 (MSB) RX(a)|0> = (ca, -i sa), wire 1 RY(b)|0> = (cb, sb); CNOT swaps |10>,|11>
    want = torch.tensor([ca * cb, ca * sb, -1j * sa * sb, -1j * sa * cb], dtype=torch.complex128)
    torch.testing.assert_close(psi, want, rtol=0, atol=1e-12)


def test_add_append_and_new_weights_refuse_what_is_not_theirs() -> None:
    _raises(CircuitError, lambda: Circuit(2).add(_any("AngleEmbedding")), "template instance")
    _raises(CircuitError, lambda: Circuit(2).add(_any(AngleEmbedding)), "the class AngleEmbedding")
    _raises(CircuitError, lambda: Circuit(2).append("rx", _any(0), [0.1]), "rx wires", "list")
    _raises(CircuitError, lambda: Circuit(2).append("rx", [0], _any(0.1)), "rx angles", "list")
    _raises(CircuitError, lambda: Circuit(2).append("cnot", _any("01")), "cnot wires")
    _raises(CircuitError, lambda: Circuit(2).new_weights(-1), "count", "-1")
    _raises(CircuitError, lambda: Circuit(2).new_weights(_any(1.5)), "count", "1.5")
    _raises(CircuitError, lambda: Circuit(2).add(_any(3)), "(anything with build(circuit)); got 3")
    c = Circuit(2)
    assert c.append("rx", _any(np.array([1])), _any(np.array([0.25]))).ops[0].wires == (1,)
    assert c.new_weights(0) == [] and c.n_weights == 0


def test_an_amplitude_embedding_of_a_bad_size_is_a_circuit_error() -> None:
    for n in (0, 9, 2.0):
        with pytest.raises(CircuitError, match="n_features"):
            Circuit(3).add(AmplitudeEmbedding(_any(n)))


# ---------------------------------------------------------------- templates


@pytest.mark.parametrize(
    "make",
    [
        lambda: BasicEntanglerLayers(_any(2.5), 3),
        lambda: BasicEntanglerLayers(_any("2"), 3),
        lambda: StronglyEntanglingLayers(0, 3),
        lambda: IQPEmbedding(3, n_repeats=_any("1")),
        lambda: DataReuploading(AngleEmbedding(2), (), n_repeats=0),
    ],
)
def test_counts_that_are_not_whole_numbers_from_one(make: Callable[[], object]) -> None:
    with pytest.raises(CircuitError, match=r"must be an integer >= 1"):
        make()


def test_template_wires_that_are_not_wire_indices() -> None:
    """``[0.5, 1]`` was wires (0, 1); ``"ab"``, ``2.5``: ``ValueError``/``TypeError``."""
    for bad in ([0.5, 1], "ab", 2.5, [True, 0], None):
        with pytest.raises(CircuitError, match="wires must be"):
            Circuit(3).add(AngleEmbedding(_any(bad)))
    good: list[tuple[object, tuple[int, ...]]] = [
        (np.array([2, 0]), (2, 0)),
        (torch.tensor([1, 2]), (1, 2)),
        (2.0, (0, 1)),
    ]
    for wires, want in good:
        ops = Circuit(3).add(AngleEmbedding(_any(wires))).ops
        assert tuple(op.wires[0] for op in ops) == want


def test_strongly_entangling_ranges_follow_pennylane() -> None:
    """PennyLane refuses a range that is 0 or a multiple of the wire count and reads
    any other modulo it; quarch failed on 0 or n with "the same wire appears twice"."""
    qml = pytest.importorskip("pennylane")
    for bad in ([0, 1], [1, 3], [1, 1.5]):
        with pytest.raises(CircuitError, match="ranges must be whole numbers"):
            StronglyEntanglingLayers(2, 3, ranges=_any(bad))
    with pytest.raises(CircuitError, match="multiple of the 2 wires"):
        StronglyEntanglingLayers(1, 2, ranges=[2])
    # one wire has no CNOT for a range to place (PennyLane refuses any range there):
    # the layer is its Rot, RZ(omega) RY(theta) RZ(phi), on |0>
    phi, theta, omega = 0.3, 1.1, -0.7
    one = statevector(
        Circuit(1).add(StronglyEntanglingLayers(1, 1, ranges=[0])), [phi, theta, omega]
    )
    want = torch.tensor(
        [
            math.cos(theta / 2) * cmath.exp(-0.5j * (phi + omega)),
            math.sin(theta / 2) * cmath.exp(-0.5j * (phi - omega)),
        ],
        dtype=torch.complex128,
    )
    torch.testing.assert_close(one, want, rtol=0, atol=1e-15)
    for pattern in ([(0, 1, 2)], [0, 1], [(0, 0.5)], ["01"]):
        with pytest.raises(CircuitError, match="pairs of wires"):
            IQPEmbedding(3, pattern=_any(pattern))
    weights = np.random.default_rng(3).uniform(0, 2 * np.pi, (2, 3, 3))
    dev = qml.device("default.qubit", wires=3)
    for ranges in ([5, -1], [2, 4]):

        @qml.qnode(dev)
        def state(r: list[int] = ranges) -> object:
            qml.StronglyEntanglingLayers(weights, wires=range(3), ranges=r)
            return qml.state()

        circuit = Circuit(3).add(StronglyEntanglingLayers(2, 3, ranges=ranges))
        np.testing.assert_allclose(
            statevector(circuit, _any(weights.reshape(-1))).numpy(), state(), atol=1e-12
        )


# ---------------------------------------------------------------- QASM files


def test_from_qasm_given_a_file_name_says_to_read_the_file(tmp_path: Path) -> None:
    """A file's name was parsed as a program: "QASM line 1: missing ';'"."""
    path = tmp_path / "bell.qasm"
    path.write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];\n')
    for given in (str(path), path, "bell.qasm"):
        with pytest.raises(CircuitError, match=r"not a file name; pass Path\(.*\)\.read_text\(\)"):
            from_qasm(_any(given))
    other = tmp_path / "bell.txt"  # an existing file of any name
    other.write_text(path.read_text())
    with pytest.raises(CircuitError, match="not a file name"):
        from_qasm(str(other))
    # text that is no file name keeps the parser's own line
    for text in ("h q[0]", "x\0y.txt", "qreg q[1]\nh q[0]"):
        with pytest.raises(CircuitError, match="QASM line 1: missing ';'"):
            from_qasm(text)
    # a one-line program whose comment ends in .qasm is a program
    one_line = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; x q[0]; // from a.qasm'
    torch.testing.assert_close(
        statevector(from_qasm(one_line)), torch.tensor([0, 1], dtype=torch.complex128)
    )
    bell = statevector(from_qasm(path.read_text()))
    r = 1 / math.sqrt(2)
    torch.testing.assert_close(
        bell, torch.tensor([r, 0, 0, r], dtype=torch.complex128), rtol=0, atol=1e-15
    )


def test_editing_layer_circuit_does_not_change_what_the_layer_runs() -> None:
    """``layer.circuit.h(0)`` before the first call changed the layer's outputs (the
    plan compiles lazily); after it, not. Either way the layer runs the circuit it was
    built with: ``<Z0> = cos x0`` here, whatever is appended to the copy."""
    layer = _layer()
    layer.circuit.h(0)
    x = torch.tensor([[0.4, -0.9]], dtype=torch.float64)
    torch.testing.assert_close(layer(x), _closed_form(x), rtol=0, atol=1e-12)
    layer.circuit.x(1)
    torch.testing.assert_close(layer(x), _closed_form(x), rtol=0, atol=1e-12)
    assert len(layer.circuit.ops) == 3
