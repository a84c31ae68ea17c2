"""OpenQASM 2.0 round trips against Qiskit's reader and ``Statevector``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, CircuitError, from_qasm, statevector, to_qasm, to_qiskit

from ._random import all_gates_circuit, random_circuit

qiskit = pytest.importorskip("qiskit")
from qiskit import qasm2  # noqa: E402
from qiskit.quantum_info import Statevector  # noqa: E402


def _bound(seed: int) -> Circuit:
    rng = np.random.default_rng(seed)
    c = random_circuit(int(rng.integers(1, 9)), rng)
    return c.bind(
        rng.uniform(-3, 3, c.n_weights).tolist(),
        rng.uniform(-3, 3, c.n_inputs).tolist() if c.n_inputs else None,
    )


class TestInputs:
    def test_unknown_gate(self) -> None:
        text = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfoo q[0];\n'
        with pytest.raises(CircuitError, match="QASM line 4: unknown gate 'foo'"):
            from_qasm(text)

    def test_symbolic_weights_need_values(self) -> None:
        c = Circuit(1)
        c.rx(0, c.new_weight())
        with pytest.raises(CircuitError, match="symbolic weight angle; pass weights="):
            to_qasm(c)

    def test_qubit_out_of_range(self) -> None:
        with pytest.raises(CircuitError, match=r"q\[5\] is out of range; q has 2 qubits"):
            from_qasm("OPENQASM 2.0; qreg q[2]; x q[5];")


class TestCorrectness:
    @pytest.mark.parametrize("seed", range(30))
    def test_to_qasm_read_by_qiskit(self, seed: int) -> None:
        c = _bound(seed)
        psi = statevector(c).numpy()
        exact = qasm2.loads(to_qasm(c), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        np.testing.assert_allclose(Statevector(exact).reverse_qargs().data, psi, rtol=0, atol=1e-10)
        # Plain qelib1 readers expand our gate definitions: equal up to a global phase.
        plain = Statevector(qasm2.loads(to_qasm(c))).reverse_qargs().data
        assert abs(abs(np.vdot(plain, psi)) - 1) < 1e-9

    @pytest.mark.parametrize("seed", range(30, 50))
    def test_qiskit_dumps_read_back(self, seed: int) -> None:
        c = _bound(seed)
        text = qasm2.dumps(to_qiskit(c))
        ref = Statevector.from_instruction(to_qiskit(c)).reverse_qargs().data
        np.testing.assert_allclose(statevector(from_qasm(text)).numpy(), ref, rtol=0, atol=1e-10)

    def test_every_gate_round_trip(self) -> None:
        c = all_gates_circuit(3)
        rng = np.random.default_rng(2)
        b = c.bind(
            rng.uniform(-3, 3, c.n_weights).tolist(), rng.uniform(-3, 3, c.n_inputs).tolist()
        )
        back = from_qasm(to_qasm(b))
        torch.testing.assert_close(statevector(back), statevector(b))

    def test_gate_definitions_registers_and_expressions(self) -> None:
        text = """OPENQASM 2.0;
        include "qelib1.inc";
        gate mygate(a, b) x, y { ry(a/2) x; cx x, y; rz(-b^2 + sin(pi/2)) y; }
        qreg a[1];
        qreg b[2];
        creg c[3];
        h b;
        mygate(0.3, 2*pi/3) a[0], b[1];
        barrier a[0], b;
        measure b[0] -> c[0];
        """
        c = from_qasm(text)
        qc = qasm2.loads(text)
        qc.remove_final_measurements()
        ref = Statevector(qc).reverse_qargs().data
        np.testing.assert_allclose(statevector(c).numpy(), ref, rtol=0, atol=1e-10)
