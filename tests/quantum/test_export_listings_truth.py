"""Exporter and reader cases that mutants once listed as equivalent told apart (session 38).

* ``pennylane_source``'s docstring: "A circuit with noise channels runs on
  ``default.mixed``, any other on ``default.qubit``" (a mutant wrote ``default.mixed``
  for every circuit: the same numbers, slower, and not what the docstring promises);
* ``to_pennylane``'s constant angles take the parameters' array type, dtype *and
  device* (the ``meta`` device plays a GPU: nothing is computed there); a mutant made
  them host tensors, which a GPU run mixes with device tensors inside one operation;
* ``from_qasm`` refuses what Qiskit's reader refuses: a gate definition without qubit
  arguments, and ``id`` / ``u0`` without exactly one qubit (read as nothing, they
  passed silently).
"""

from __future__ import annotations

import pytest
import torch

from quarch.quantum import Circuit, CircuitError, Input, from_qasm, pennylane_source, to_pennylane

HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\n'


def _device_line(src: str) -> str:
    (line,) = [ln for ln in src.splitlines() if ln.startswith("dev = qml.device(")]
    return line


def test_the_written_file_runs_a_noiseless_circuit_on_default_qubit() -> None:
    """The docstring's rule, read off the file: ``default.qubit`` without channels,
    ``default.mixed`` with one."""
    c = Circuit(2).ry(0, Input(0)).cnot(0, 1)
    assert '"default.qubit"' in _device_line(pennylane_source(c))
    assert '"default.mixed"' in _device_line(pennylane_source(c.copy().depolarizing(1, 0.1)))


@pytest.mark.parametrize("source", ["weights", "inputs"])
def test_constants_take_the_parameters_device(source: str) -> None:
    """Every angle of the recorded operations is a float64 torch tensor on the
    parameters' device (``meta``), constants included."""
    qml = pytest.importorskip("pennylane")
    c = Circuit(2)
    meta = torch.zeros(1, dtype=torch.float64, device="meta")
    if source == "weights":
        c.rx(0, 0.3).crz(0, 1, -1.2).rot(1, 0.4, -0.9, c.new_weight())
        tape = qml.tape.make_qscript(to_pennylane(c))(weights=meta)
    else:
        c.rx(0, 0.3).crz(0, 1, -1.2).rot(1, 0.4, -0.9, Input(0))
        tape = qml.tape.make_qscript(to_pennylane(c))(inputs=meta[None])
    params = [p for op in tape.operations for p in op.data]
    assert len(params) == 5
    for p in params:
        assert isinstance(p, torch.Tensor) and p.device.type == "meta", p
        assert p.dtype == torch.float64


NO_QUBIT = "gate g acts on no qubit; a gate needs at least one"


@pytest.mark.parametrize(
    ("program", "why"),
    [
        ("gate g { }\nh q[0];", NO_QUBIT),
        ("gate g() { }\ng;", NO_QUBIT),
        ("id;", "id acts on 1 qubit; got 0"),
        ("u0(0.5);", "u0 acts on 1 qubit; got 0"),
        ("id q[0], q[1];", "id acts on 1 qubit; got 2"),
        ("u0(0.5) q[0], q[1];", "u0 acts on 1 qubit; got 2"),
    ],
)
def test_what_qiskit_refuses_is_refused_in_one_line(program: str, why: str) -> None:
    """Qiskit's reader refuses each program; ours too, in one line with the QASM line."""
    qasm2 = pytest.importorskip("qiskit.qasm2")
    text = HEAD + program + "\n"
    with pytest.raises(qasm2.QASM2ParseError):
        qasm2.loads(text)
    with pytest.raises(CircuitError) as err:
        from_qasm(text)
    assert str(err.value) == f"QASM line 4: {why}"


def test_id_and_u0_on_one_qubit_or_a_register_are_nothing() -> None:
    """The programs Qiskit reads: ``id`` and ``u0`` on one qubit, or on a register (one
    application per qubit), inside a definition too, add no gate."""
    text = HEAD + "gate g a { id a; u0(0.1) a; }\nid q[0];\nu0(0.3) q;\ng q[1];\nid q;\n"
    assert from_qasm(text).ops == []
