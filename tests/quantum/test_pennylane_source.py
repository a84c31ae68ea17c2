"""``pennylane_source``: the written file, run by PennyLane, against quarch's simulator.

The file is what ``quarch export --format pennylane`` hands to someone without quarch,
so the test runs it the way they would (``exec`` it, call ``expvals(inputs)``) and
compares with quarch's own state-vector simulator on random circuits over every gate,
random trained weights and random batched inputs, products of inputs and amplitude
embeddings included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from quarch.quantum import (
    CHANNELS,
    GATES,
    Circuit,
    CircuitError,
    Input,
    Param,
    Weight,
    compile_circuit,
    noisy_expval,
    pennylane_source,
    to_pennylane,
)
from quarch.quantum.export import _PENNYLANE

qml = pytest.importorskip("pennylane")

BATCH = 3


def _angle(c: Circuit, rng: np.random.Generator, n: int) -> object:
    r = rng.random()
    if r < 0.25:
        return float(rng.uniform(-3, 3))
    if r < 0.55:
        return c.new_weight(float(rng.choice([1.0, -0.5, 2.0])))
    if r < 0.8:
        return Input(int(rng.integers(n)), scale=float(rng.choice([1.0, 0.7])))
    k = int(rng.integers(2, 4))
    return Input(*rng.integers(n, size=k).tolist(), scale=float(rng.choice([1.0, -1.3])))


def _circuit(
    n: int, rng: np.random.Generator, names: list[str], amplitude: int | None = None
) -> Circuit:
    """``names`` in order on random wires; an amplitude embedding of ``amplitude``
    features first when given."""
    c = Circuit(n)
    if amplitude is not None:
        pad = None if amplitude == 2**n else float(rng.uniform(-1, 1))
        c.amplitude_embedding(amplitude, pad_with=pad, normalize=True)
    for name in names:
        spec = GATES[name]
        wires = rng.choice(n, spec.n_wires, replace=False).tolist()
        c.append(name, wires, [_angle(c, rng, n) for _ in range(spec.n_params)])
    return c


def _run_source(c: Circuit, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    src = pennylane_source(c, w.tolist())
    ns: dict[str, Any] = {}
    exec(compile(src, "<pennylane_source>", "exec"), ns)
    assert ns["N_WIRES"] == c.n_qubits
    out = ns["expvals"](x)
    return np.stack([np.broadcast_to(np.asarray(v, dtype=float), (x.shape[0],)) for v in out], -1)


def _quarch(c: Circuit, w: np.ndarray, x: np.ndarray) -> np.ndarray:
    plan = compile_circuit(c, dtype=torch.complex128)
    inputs = torch.as_tensor(x) if c.n_inputs else None
    out = plan.expval(None, inputs, torch.as_tensor(w))
    return out.expand(x.shape[0], -1).numpy()


def _check(c: Circuit, rng: np.random.Generator) -> None:
    w = rng.uniform(-np.pi, np.pi, c.n_weights)
    x = rng.uniform(-1.5, 1.5, (BATCH, max(c.n_inputs, 1)))
    np.testing.assert_allclose(_run_source(c, w, x), _quarch(c, w, x), atol=1e-5, rtol=0)


def _kind(p: object) -> str:
    if not isinstance(p, Param):
        return "const"
    return p.kind if len(p.index) == 1 else "product"


def _fitting(n: int) -> list[str]:
    return [g for g, spec in GATES.items() if spec.n_wires <= n]


def test_every_quarch_operation_has_a_pennylane_name() -> None:
    assert set(_PENNYLANE) == set(GATES) | set(CHANNELS)
    for pl_name, _ in _PENNYLANE.values():
        assert hasattr(qml, pl_name), pl_name


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
def test_every_gate_written_matches_the_simulator(n: int) -> None:
    rng = np.random.default_rng(100 + n)
    names = _fitting(n)
    c = _circuit(n, rng, [str(g) for g in rng.permutation(names)] * 2)
    assert {op.name for op in c.ops} == set(names)
    kinds = {_kind(p) for op in c.ops for p in op.params}
    assert kinds == {"const", "weight", "input", "product"}
    _check(c, rng)


@pytest.mark.parametrize("seed", range(40))
def test_random_circuits_match_the_simulator(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    names = _fitting(n)
    ops = [names[int(i)] for i in rng.integers(len(names), size=int(rng.integers(1, 25)))]
    amplitude = int(rng.integers(1, 2**n + 1)) if seed % 3 == 0 else None
    c = _circuit(n, rng, ops, amplitude)
    _check(c, rng)


@pytest.mark.parametrize(("n", "features"), [(1, 1), (2, 3), (3, 8), (4, 5)])
def test_amplitude_embedding_padding(n: int, features: int) -> None:
    rng = np.random.default_rng(features)
    c = _circuit(n, rng, ["ry", "cnot", "rz"] if n > 1 else ["ry", "rz"], amplitude=features)
    src = pennylane_source(c, rng.uniform(size=c.n_weights).tolist())
    pad = "None" if features == 2**n else repr(c.ops[0].meta[1])
    assert f"qml.AmplitudeEmbedding(inputs[..., :{features}]" in src
    assert f"pad_with={pad}, normalize=True)" in src
    _check(c, rng)


def test_adjoint_gates_and_input_products_are_written_as_expected() -> None:
    c = Circuit(2).sdg(0).tdg(1).sxdg(0)
    c.rzz(0, 1, Input(0, 1, scale=0.5)).ry(1, Input(1)).rx(0, c.new_weight())
    src = pennylane_source(c, [0.25])
    assert "qml.adjoint(qml.S)(wires=[0])" in src
    assert "qml.adjoint(qml.SX)(wires=[0])" in src
    assert "qml.IsingZZ(0.5 * inputs[..., 0] * inputs[..., 1], wires=[0, 1])" in src
    assert "qml.RY(inputs[..., 1], wires=[1])" in src
    assert "qml.RX(0.25, wires=[0])" in src
    _check(c, np.random.default_rng(0))


def test_trained_weights_are_bound_to_full_precision() -> None:
    c = Circuit(1).rx(0, Weight(0, scale=3.0))
    w = [1 / 3]
    src = pennylane_source(c, torch.tensor(w, dtype=torch.float64))
    assert f"qml.RX({3.0 * (1 / 3)!r}, wires=[0])" in src


def test_noise_channels_run_on_default_mixed() -> None:
    c = Circuit(2).ry(0, Input(0)).cnot(0, 1).depolarizing(0, 0.1).amplitude_damping(1, 0.2)
    c.rx(1, c.new_weight()).phase_damping(0, 0.05).bit_flip(1, 0.15)
    w = np.array([0.4])
    x = np.array([[0.3], [1.1]])
    src = pennylane_source(c, w.tolist())
    assert 'qml.device("default.mixed"' in src
    ref = noisy_expval(c, inputs=torch.as_tensor(x), weights=torch.as_tensor(w)).numpy()
    np.testing.assert_allclose(_run_source(c, w, x), ref, atol=1e-5, rtol=0)


def test_weights_are_required_and_counted() -> None:
    c = Circuit(1)
    c.rx(0, c.new_weight())
    with pytest.raises(CircuitError, match="1 trainable weight"):
        pennylane_source(c)
    with pytest.raises(CircuitError, match="weights must hold 1 value"):
        pennylane_source(c, [0.1, 0.2])


def test_live_quantum_function_uses_the_same_table() -> None:
    """``to_pennylane`` on the every-gate circuit gives the same expectations as the
    written file (both read ``_PENNYLANE``)."""
    rng = np.random.default_rng(7)
    c = _circuit(3, rng, _fitting(3))
    w = rng.uniform(-np.pi, np.pi, c.n_weights)
    x = rng.uniform(-1, 1, (BATCH, c.n_inputs))
    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=3))
    def live(w: np.ndarray, x: np.ndarray) -> list[Any]:
        f(w, x)
        return [qml.expval(qml.PauliZ(i)) for i in range(3)]

    np.testing.assert_allclose(np.stack(live(w, x), -1), _run_source(c, w, x), rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_expvals_returns_the_observables_asked_for(seed: int) -> None:
    """Random Pauli words (products of X, Y and Z on any wires, the identity too):
    PennyLane's ``expvals`` from the file against quarch's simulator measuring the same
    words, in order; ``OBSERVABLES`` names them as quarch writes them."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 5))
    c = _circuit(n, rng, [str(g) for g in rng.choice(sorted(GATES), 6)])
    words = ["I0"] if seed == 0 else []  # the identity (named "I" in the file)
    for _ in range(3):
        wires = sorted(rng.choice(n, int(rng.integers(1, n + 1)), replace=False).tolist())
        words.append(" ".join(f"{rng.choice(list('XYZ'))}{w}" for w in wires))
    w = rng.uniform(-np.pi, np.pi, c.n_weights)
    x = rng.uniform(-1.5, 1.5, (BATCH, max(c.n_inputs, 1)))
    ns: dict[str, Any] = {}
    exec(compile(pennylane_source(c, w.tolist(), words), "<pennylane_source>", "exec"), ns)
    assert ns["OBSERVABLES"] == ["I" if w == "I0" else w for w in words]
    out = ns["expvals"](x)
    got = np.stack([np.broadcast_to(np.asarray(v, dtype=float), (BATCH,)) for v in out], -1)
    plan = compile_circuit(c, dtype=torch.complex128)
    inputs = torch.as_tensor(x) if c.n_inputs else None
    want = plan.expval(words, inputs, torch.as_tensor(w)).expand(BATCH, -1).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_a_non_circuit_is_refused_by_name() -> None:
    """The line names the function the user called, and for a layer the call to make."""
    from quarch.quantum import QuantumLayer

    with pytest.raises(CircuitError) as e:
        pennylane_source("ry(0.1) q[0];")  # type: ignore[arg-type]
    assert str(e.value) == "pennylane_source takes a quarch Circuit; got str"
    layer = QuantumLayer(Circuit(1).ry(0, Weight(0)))
    with pytest.raises(CircuitError) as e:
        pennylane_source(layer)  # type: ignore[arg-type]
    assert str(e.value) == (
        "pennylane_source takes a quarch Circuit; got QuantumLayer; for a QuantumLayer call "
        "pennylane_source(layer.circuit, layer.weights)"
    )
