"""Exported circuits of trained weights compute what the trained model computes.

For each trial of a small ``hqnn`` search, the model is rebuilt from the weights the
search saved and run on a test sample; its quantum layer's expectations are the truth.
Each export of that trial (``qasm`` with the sample bound, ``qasm3`` and ``qiskit``
with the sample's features bound by hand, ``pennylane`` called on them) is run by
Qiskit's ``Statevector`` or PennyLane's ``default.qubit``, its observables are computed
from the exported circuit's probabilities, and they must equal the model's; so must the
class the model's head picks from them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from quarch.config import SearchConfig
from quarch.finalize import export_trial
from quarch.spaces.hqnn.evaluator import HQNNEvaluator
from quarch.study import Run, run_search

from ._scope import per_module

qiskit = pytest.importorskip("qiskit")
SAMPLE = 2


@pytest.fixture(scope=per_module)
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("exp") / "run"
    cfg = SearchConfig(
        space="hqnn", dataset="iris", strategy="random", trials=4, epochs=2, seed=1,
        out=str(out),
        space_options={"max_qubits": 3, "max_layers": 2,
                       "embeddings": ["angle-y", "angle-x", "iqp"]},
    )  # fmt: skip
    return out, run_search(cfg, progress=False)


def _expvals(probs: np.ndarray, words: list[str], n: int, *, big_endian: bool) -> np.ndarray:
    """``<Z...Z>`` of each word from basis-state probabilities ``(2**n,)``."""
    idx = np.arange(2**n)
    out = []
    for word in words:
        parity = np.zeros_like(idx)
        for w in (int(tok[1:]) for tok in word.split()):
            bit = n - 1 - w if big_endian else w
            parity ^= (idx >> bit) & 1
        out.append(float(np.sum(probs * (1 - 2 * parity))))
    return np.asarray(out)


def _model(out: Path, t: Any) -> tuple[Any, Any, torch.Tensor, np.ndarray, list[str]]:
    from quarch.spaces.hqnn.model import observables_of

    run = Run.open(out)
    ev = run.evaluator(standalone=True)
    assert isinstance(ev, HQNNEvaluator)
    model = ev.build(t.params, seed=t.seed)
    weights = run.saved_weights(t.seed)
    assert weights is not None
    model.load_state_dict(weights)
    model.eval()
    X = torch.as_tensor(ev.data.X_test[SAMPLE : SAMPLE + 1], dtype=torch.float32)
    with torch.no_grad():
        feats = model.features(X)
        q = model.quantum(feats).double().numpy()[0]
    return model, X, feats[0].double(), q, observables_of(t.params)


def _bind(qc: Any, feats: torch.Tensor) -> Any:
    """Bind Qiskit input parameters ``x[j]`` (qiskit) or ``_x_j_`` (qasm3) to features."""

    def index(name: str) -> int:
        return int(name[2:-1]) if name.startswith("x[") else int(name.strip("_").split("_")[1])

    return qc.assign_parameters({p: float(feats[index(p.name)]) for p in qc.parameters})


def _pennylane_probs(qml: Any, circuit: Any, x: np.ndarray, n: int) -> np.ndarray:
    """Basis-state probabilities of the exported ``circuit(inputs)`` on ``default.qubit``
    (PennyLane orders them big-endian: wire 0 is the most significant bit)."""

    @qml.qnode(qml.device("default.qubit", wires=n))
    def probs(inputs: Any) -> Any:
        circuit(inputs)
        return qml.probs(wires=range(n))

    return np.asarray(probs(x))


def _same_class(model: Any, X: torch.Tensor, q: np.ndarray) -> None:
    with torch.no_grad():
        want = int(model(X).argmax())
        got = int(model.head(torch.as_tensor(q[None], dtype=torch.float32)).argmax())
    assert got == want


def test_every_format_computes_the_trained_model(trained: tuple[Path, Any], tmp_path: Path) -> None:
    from qiskit import qpy
    from qiskit.quantum_info import Statevector

    out, res = trained
    assert len(res.complete) == 4
    embeddings = set()
    for t in res.complete:
        model, X, feats, q, words = _model(out, t)
        n = int(t.params["qubits"])
        embeddings.add(t.params["embedding"])
        assert np.abs(q).max() > 1e-3  # a circuit whose expectations say something

        qasm = export_trial(out, t.number, "qasm", tmp_path / "c.qasm", sample=SAMPLE)
        qc = qiskit.qasm2.loads(
            qasm.path.read_text(), custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS
        )
        got = _expvals(Statevector(qc).probabilities(), words, n, big_endian=False)
        assert np.allclose(got, q, atol=1e-5), ("qasm", t.number)
        _same_class(model, X, got)

        qk = export_trial(out, t.number, "qiskit", tmp_path / "c.qpy")
        with open(qk.path, "rb") as f:
            (circ,) = qpy.load(f)
        said = [w.replace(" ", "") for w in circ.metadata["observables"]]
        assert said == [w.replace(" ", "") for w in words], t.number
        got = _expvals(Statevector(_bind(circ, feats)).probabilities(), words, n, big_endian=False)
        assert np.allclose(got, q, atol=1e-5), ("qiskit", t.number)

        pytest.importorskip("qiskit_qasm3_import")
        q3 = export_trial(out, t.number, "qasm3", tmp_path / "c.qasm3")
        circ3 = qiskit.qasm3.loads(q3.path.read_text())
        got = _expvals(Statevector(_bind(circ3, feats)).probabilities(), words, n, big_endian=False)
        assert np.allclose(got, q, atol=1e-5), ("qasm3", t.number)

        qml = pytest.importorskip("pennylane")
        pl = export_trial(out, t.number, "pennylane", tmp_path / "c.py")
        ns: dict[str, Any] = {}
        exec(compile(pl.path.read_text(), str(pl.path), "exec"), ns)

        x = feats.numpy()
        got = _expvals(_pennylane_probs(qml, ns["circuit"], x, n), words, n, big_endian=True)
        assert np.allclose(got, q, atol=1e-5), ("pennylane", t.number)
        # the file's own QNode returns what the layer returns, whatever it measures
        assert [w.replace(" ", "") for w in ns["OBSERVABLES"]] == [
            w.replace(" ", "") for w in words
        ], t.number
        assert np.allclose(np.asarray(ns["expvals"](x), dtype=float), q, atol=1e-5)
    assert len(embeddings) >= 2


def test_scaled_angles_against_the_closed_form() -> None:
    """``RY(a)|0>`` has ``<Z> = cos(a)``: with ``a = 0.5 w0`` on wire 0 and
    ``a = -0.3 x0 x1`` on wire 1 (a scaled product of inputs, as IQP writes), every
    exporter must give ``cos(0.5 w0)`` and ``cos(0.3 x0 x1)``. The ``hqnn`` circuits
    above use scale 1 only."""
    from qiskit.quantum_info import Statevector

    from quarch.quantum import Circuit, Input, pennylane_source, to_qiskit
    from quarch.quantum.export import to_pennylane

    c = Circuit(2)
    c.ry(0, c.new_weight(0.5)).ry(1, Input(0, 1, scale=-0.3))
    w, x = 1.3, np.array([0.7, 1.9])
    want = np.array([np.cos(0.5 * w), np.cos(0.3 * x[0] * x[1])])

    def z(probs: np.ndarray, big_endian: bool) -> np.ndarray:
        return _expvals(probs, ["Z0", "Z1"], 2, big_endian=big_endian)

    free = to_qiskit(c)
    vals = {
        p.name: (w if p.name == "w[0]" else float(x[int(p.name[2:-1])])) for p in free.parameters
    }
    bound = free.assign_parameters({p: vals[p.name] for p in free.parameters})
    assert np.allclose(z(Statevector(bound).probabilities(), False), want)
    assert np.allclose(
        z(Statevector(_bind(to_qiskit(c, [w]), torch.tensor(x))).probabilities(), False), want
    )
    qml = pytest.importorskip("pennylane")
    ns: dict[str, Any] = {}
    exec(pennylane_source(c, [w]), ns)
    assert np.allclose(np.asarray(ns["expvals"](x), dtype=float), want)
    qfunc = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=2))
    def expvals() -> Any:
        qfunc(weights=np.array([w]), inputs=x)
        return [qml.expval(qml.PauliZ(i)) for i in range(2)]

    assert np.allclose(np.asarray(expvals(), dtype=float), want)


def test_amplitude_embedding_and_adjoint_gates_in_pennylane() -> None:
    """Both PennyLane exporters on ``|x>`` (padded with zeros, normalised) followed by
    S^dagger, T^dagger and SX^dagger; with H on wire 1 after them, Qiskit's state of the same gates is the
    truth."""
    qml = pytest.importorskip("pennylane")
    from qiskit.quantum_info import Statevector

    from quarch.quantum import Circuit, pennylane_source
    from quarch.quantum.export import to_pennylane

    x = np.array([0.3, -1.2, 0.5])
    c = Circuit(2).amplitude_embedding(3).sdg(0).tdg(1).sxdg(0).h(1)
    v = np.append(x, 0.0) / np.linalg.norm(x)
    # Qiskit from the amplitudes (quarch's wire 0 is the most significant bit)
    qc = qiskit.QuantumCircuit(2)
    qc.initialize(v, [1, 0])
    qc.sdg(0)
    qc.tdg(1)
    qc.sxdg(0)
    qc.h(1)
    want = Statevector(qc).probabilities([1, 0])  # big-endian order, as PennyLane's
    qfunc = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=2))
    def live() -> Any:
        qfunc(inputs=x)
        return qml.probs(wires=[0, 1])

    assert np.allclose(np.asarray(live()), want, atol=1e-10)
    ns: dict[str, Any] = {}
    exec(pennylane_source(c), ns)
    assert np.allclose(_pennylane_probs(qml, ns["circuit"], x, 2), want, atol=1e-10)


def test_exporter_errors_say_what_to_pass() -> None:
    pytest.importorskip("pennylane")
    import pennylane as qml

    from quarch.quantum import Circuit, CircuitError, Input, pennylane_source
    from quarch.quantum.export import _pennylane_name, to_pennylane

    c = Circuit(1)
    c.ry(0, c.new_weight()).rx(0, Input(0))
    with pytest.raises(CircuitError, match=r"has 1 trainable weight\(s\); pass weights"):
        pennylane_source(c)
    dev = qml.device("default.qubit", wires=1)
    with pytest.raises(CircuitError, match="this circuit has trainable weights; pass weights="):
        qml.QNode(lambda: (to_pennylane(c)(inputs=np.zeros(1)), qml.state())[1], dev)()
    with pytest.raises(CircuitError, match="this circuit reads inputs; pass inputs="):
        qml.QNode(lambda: (to_pennylane(c)(weights=np.zeros(1)), qml.state())[1], dev)()
    with pytest.raises(CircuitError, match="nope has no PennyLane operation"):
        _pennylane_name("nope")


def test_qasm_binds_weights_and_names_what_it_cannot_write() -> None:
    """``to_qasm(c, weights)`` writes ``RY(0.5 w)``: Qiskit reads ``<Z> = cos(0.5 w)``;
    what OpenQASM 2 cannot hold is refused with the fix in the message."""
    from qiskit.quantum_info import Statevector

    from quarch.quantum import Circuit, CircuitError, Input, to_qasm

    c = Circuit(1)
    c.ry(0, c.new_weight(0.5))
    text = to_qasm(c, [1.3])
    qc = qiskit.qasm2.loads(text, custom_instructions=qiskit.qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    z = _expvals(Statevector(qc).probabilities(), ["Z0"], 1, big_endian=False)
    assert np.allclose(z, [np.cos(0.65)])
    with pytest.raises(CircuitError, match="ry has a symbolic weight angle; pass weights="):
        to_qasm(c)
    with pytest.raises(CircuitError, match=r"symbolic input angle; pass bind\(inputs=...\) first"):
        to_qasm(Circuit(1).rx(0, Input(0)))
    with pytest.raises(
        CircuitError, match=r"amplitude_embedding cannot be written in OpenQASM 2\.0"
    ):
        to_qasm(Circuit(1).amplitude_embedding(2))
    with pytest.raises(CircuitError, match=r"depolarizing cannot be written in OpenQASM 2\.0"):
        to_qasm(Circuit(1).h(0).depolarizing(0, 0.1))


def test_a_torch_export_rebuilds_as_documented(trained: tuple[Path, Any], tmp_path: Path) -> None:
    """``export_trial``'s recipe: ``torch.load`` (weights only), build the trial's
    network from the run's evaluator, load the state: the test split is classified
    as the export's own metrics say, and every output equals the saved network's."""
    out, res = trained
    t = res.complete[0]
    path = export_trial(out, t.number, "torch", tmp_path / "m.pt").path
    d = torch.load(path)  # torch's default: weights only
    assert (d["space"], d["arch"]) == ("hqnn", t.params)
    ev = Run.open(out).evaluator(standalone=True)
    assert isinstance(ev, HQNNEvaluator)
    model = ev.build(d["arch"], seed=0)
    model.load_state_dict(d["state_dict"])
    X = torch.as_tensor(ev.data.X_test, dtype=torch.float32)
    with torch.no_grad():
        pred = model.eval()(X).argmax(1).numpy()
    assert np.mean(pred != ev.data.y_test) == pytest.approx(d["metrics"]["test_error"])
    assert (list(ev.data.input_shape), ev.data.n_classes) == (d["input_shape"], d["n_classes"])
    saved, _ = _model(out, t)[:2]
    with torch.no_grad():
        assert torch.equal(saved.eval()(X), model(X))
