"""The OpenQASM 2.0 reader (``quantum/qasm.py``) against Qiskit's ``qasm2`` loader.

Every program that quarch reads is read by Qiskit too and the two state vectors must
be equal (global phase included, since both give the qelib1 gates Qiskit's matrices):
each qelib1 name and alias, every angle function and operator, gate definitions that
call definitions, registers laid out one after another, broadcasting over registers
and comments. Each program quarch refuses is checked against the one-line message it
must print, naming the line, and, where Qiskit refuses it as well, against Qiskit's
refusal. The mutation benchmark (``benchmarks/mutation.py --module export``) found
these reader paths checked only by round trips of what quarch itself writes.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from quarch.quantum import CircuitError, from_qasm, statevector
from quarch.quantum.qasm import MAX_OPS

pytest.importorskip("qiskit")
from qiskit import qasm2
from qiskit.quantum_info import Statevector

_HEAD = 'OPENQASM 2.0;\ninclude "qelib1.inc";\n'


def _qiskit_state(text: str) -> np.ndarray:
    """Qiskit's state vector of ``text`` in quarch's order (first qubit most significant)."""
    qc = qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    qc.remove_final_measurements()
    return Statevector(qc).reverse_qargs().data


def _assert_same_state(text: str) -> None:
    got = statevector(from_qasm(text)).numpy().reshape(-1)
    np.testing.assert_allclose(got, _qiskit_state(text), rtol=0, atol=1e-12)


def _prepare(n: int) -> str:
    """A state with every amplitude non-zero and complex, so no gate acts trivially."""
    return "".join(
        f"u3({0.3 + 0.4 * i},{0.2 * i - 0.5},{0.7 - 0.3 * i}) q[{i}];\n" for i in range(n)
    )


@pytest.mark.parametrize(
    "stmt",
    [
        "u3(0.3,-1.2,2.5) q[1];", "u(0.3,-1.2,2.5) q[0];", "U(0.9,0.4,-0.3) q[2];",
        "u2(0.4,-2.1) q[1];", "u1(1.3) q[0];", "p(-0.8) q[2];", "id q[1];", "u0(5) q[0];",
        "cx q[0],q[2];", "CX q[2],q[1];", "cu1(0.7) q[1],q[0];", "cp(-1.9) q[0],q[1];",
        "x q[0];", "y q[1];", "z q[2];", "h q[0];", "s q[1];", "sdg q[2];", "t q[0];",
        "tdg q[1];", "sx q[2];", "sxdg q[0];", "rx(0.5) q[1];", "ry(-0.6) q[2];",
        "rz(2.2) q[0];", "cz q[1],q[2];", "cy q[2],q[0];", "ch q[0],q[1];", "swap q[0],q[2];",
        "crx(0.4) q[1],q[0];", "cry(-1.1) q[2],q[1];", "crz(2.8) q[0],q[2];",
        "rxx(0.6) q[0],q[1];", "rzz(-0.9) q[1],q[2];", "ccx q[2],q[0],q[1];",
        "cswap q[1],q[2],q[0];",
    ],
)  # fmt: skip
def test_every_qelib1_gate_equals_qiskits(stmt: str) -> None:
    _assert_same_state(f"{_HEAD}qreg q[3];\n{_prepare(3)}{stmt}\n")


@pytest.mark.parametrize(
    "expr",
    [
        "pi", "-pi/4", "+0.5", "2*pi/3", "pi-1.25", "3^2/7", "-2^2/5", "(1+2)*(3-1.5)/4",
        "sin(0.7)", "cos(pi/5)", "tan(0.3)", "exp(-0.4)", "ln(2.5)", "sqrt(3)", "1.5e-1",
        "2E0", "7", "-(-(0.3))", "sin(cos(tan(0.1)))", "pi^0.5", "10/4",
    ],
)  # fmt: skip
def test_angle_expressions_equal_qiskits(expr: str) -> None:
    _assert_same_state(f"{_HEAD}qreg q[1];\nh q[0];\nrz({expr}) q[0];\nry({expr}) q[0];\n")


@pytest.mark.parametrize(
    "stmt",
    ["u3((0.1+0.2),sin(0.4),-(0.3)) q[0];", "u2(cos(pi/3), (1-0.5)*2) q[0];",
     "u3(0.5, (0.25), sqrt((2))) q[0];"],
)  # fmt: skip
def test_several_angles_with_parentheses_equal_qiskits(stmt: str) -> None:
    """Commas inside parentheses do not split angles; those after them do."""
    _assert_same_state(f"{_HEAD}qreg q[1];\nh q[0];\n{stmt}\n")


def test_gate_definitions_that_call_definitions() -> None:
    text = (
        _HEAD
        + """
    gate inner(a) x { rx(a) x; barrier x; rz(2*a) x; }
    gate outer(a, b) x, y, z {
        inner(a + b) x;   // a definition inside a definition
        cx x, y; inner(-b) z; cu1(a/2) z, y;
    }
    gate plain x, y { h x; cz x, y; }
    qreg q[3];
    """
        + _prepare(3)
        + """
    outer(0.4, -1.3) q[2], q[0], q[1];
    plain q[1], q[2];
    outer(pi/3, 0.2) q[0], q[1], q[2];
    """
    )
    _assert_same_state(text)


def test_spacing_and_names_the_reader_must_not_depend_on() -> None:
    """No blank after ``{``, ``}`` or ``;``, a definition header over several lines,
    and a gate whose name starts with ``gate``."""
    text = (
        'OPENQASM 2.0;include "qelib1.inc";'
        "gate tight(a) x {rx(a) x;}gate gatex\n  (b)\n  x,\n  y {cx x,y;ry(b) y;}"
        "qreg q[3];h q[0];x q[1];tight(0.3) q[2];gatex(0.7) q[0],q[2];\n"
    )
    _assert_same_state(text)
    assert [op.name for op in from_qasm(text).ops] == ["h", "x", "rx", "cnot", "ry"]


def test_upper_case_names_of_registers_gates_and_arguments() -> None:
    """Identifiers that start with a capital (a register, a gate definition, its qubit
    and angle arguments) are read; the spec and Qiskit's reader want a lower-case
    initial, so Qiskit reads the same program with those names lower-cased."""
    names = {"Entangle": "entangle", "Theta": "theta", "A": "a", "B": "b", "Data": "data"}
    text = (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\n'
        "gate Entangle(Theta) A, B { h A; cx A, B; rz(Theta) B; }\n"
        "qreg Data[2];\nqreg anc[1];\nEntangle(0.4) Data[0], anc[0];\nx Data[1];\n"
    )
    lower = text
    for upper, low in names.items():
        lower = re.sub(rf"\b{upper}\b", low, lower)
    got = statevector(from_qasm(text)).numpy().reshape(-1)
    np.testing.assert_allclose(got, _qiskit_state(lower), rtol=0, atol=1e-12)
    assert [op.name for op in from_qasm(text).ops] == ["h", "cnot", "rz", "x"]


def test_registers_laid_out_in_order_and_broadcast() -> None:
    text = (
        _HEAD
        + """
    qreg a[2];
    qreg b[2];
    qreg c[1];
    creg m[5];
    u3(0.3,0.1,0.2) a[0]; u3(1.3,-0.4,0.9) a[1]; u3(0.7,0.5,-1.1) b[0];
    u3(2.1,0.3,0.4) b[1]; u3(1.7,-0.2,0.6) c[0];
    cx a, b;        // pairs a[0],b[0] and a[1],b[1]
    cz c[0], a;     // one control, a register of targets
    rx(0.25) b;     // one gate on each qubit of b
    crz(1.1) a[1], c;
    barrier a, b;
    measure a -> m[0:1];
    """.replace("measure a -> m[0:1];", "measure a[0] -> m[0];")
    )
    got = from_qasm(text)
    assert got.n_qubits == 5
    _assert_same_state(text)


def test_comments_and_line_breaks_inside_statements() -> None:
    text = (
        "// a comment before the header\nOPENQASM 2.0; // trailing\n"
        'include "qelib1.inc";\nqreg q[2];\n'
        "h q[0]; // cx q[0],q[1]; is commented out\nrx(\n  0.5\n) q[1]\n;\ncx q[1],\n q[0];\n"
    )
    _assert_same_state(text)
    assert [op.name for op in from_qasm(text).ops] == ["h", "rx", "cnot"]


@pytest.mark.parametrize(
    "text",
    [
        ';include "qelib1.inc";\nqreg q[1];\nh q[0];\n',
        _HEAD + ";;\nqreg q[2];\n;\nh q[0];;cx q[0],q[1];\n  ;  \nrx(0.3) q[1];\n;",
    ],
)
def test_empty_statements_are_read_as_nothing(text: str) -> None:
    """Qiskit's ``qasm2.loads`` reads a lone ``;`` as no statement; quarch did refuse it
    ("cannot read statement ''")."""
    _assert_same_state(text)
    got = [op.name for op in from_qasm(text).ops]
    assert got == (["h"] if text.startswith(";") else ["h", "cnot", "rx"])


def test_two_comment_markers_on_a_line() -> None:
    text = _HEAD + "qreg q[2];\nh q[0]; // first // second\ncx q[0],q[1]; // cx // h q[1];\n"
    _assert_same_state(text)
    assert [op.name for op in from_qasm(text).ops] == ["h", "cnot"]


def test_to_qasm_writes_gates_without_angles_without_parentheses() -> None:
    """The text itself: OpenQASM 2.0 writes ``h q[0];``, angles to full precision."""
    from quarch.quantum import Circuit, to_qasm

    c = Circuit(2).h(0).cnot(0, 1).rx(1, 0.1).sx(0)
    assert to_qasm(c) == (
        'OPENQASM 2.0;\ninclude "qelib1.inc";\ngate sx a { sdg a; h a; sdg a; }\nqreg q[2];\n'
        "h q[0];\ncx q[0],q[1];\nrx(0.1) q[1];\nsx q[0];\n"
    )


def test_a_native_gate_keeps_its_own_matrix_over_a_definition() -> None:
    """A ``gate`` definition of a gate quarch knows is ignored: the native matrix wins."""
    text = _HEAD + "gate sx a { x a; }\nqreg q[1];\nsx q[0];\n"
    psi = statevector(from_qasm(text)).numpy().reshape(-1)
    np.testing.assert_allclose(psi, [(1 + 1j) / 2, (1 - 1j) / 2], rtol=0, atol=1e-15)


def test_identity_gates_append_nothing() -> None:
    c = from_qasm(_HEAD + "qreg q[2];\nid q[0];\nu0(3) q[1];\nx q[1];\n")
    assert [op.name for op in c.ops] == ["x"]
    assert c.n_qubits == 2


def test_angles_reach_the_circuit_unchanged() -> None:
    c = from_qasm(_HEAD + "qreg q[1];\nu2(0.1,0.2) q[0];\nu1(0.3) q[0];\nU(0.4,0.5,0.6) q[0];\n")
    assert [(op.name, op.params) for op in c.ops] == [
        ("u3", (math.pi / 2, 0.1, 0.2)),
        ("phase", (0.3,)),
        ("u3", (0.4, 0.5, 0.6)),
    ]


#: refusals of programs that are valid OpenQASM 2.0 (quarch's limits), and one that Qiskit
#: 2.x reads although the specification forbids it (a defined gate called without its
#: parameter)
_VALID_QASM = (
    "declares no qubits", "quarch simulates at most", "is not supported", "got 0 and 1",
)  # fmt: skip
#: how Qiskit refuses: a parse error, or a TypeError from a gate class missing its angle
_QISKIT_REFUSES = (qasm2.QASM2ParseError, TypeError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_HEAD + "qreg q[2];\nfoo q[0];\n", "QASM line 4: unknown gate 'foo'; known qelib1 gates: "
         "CX, U, ccx, ch, cp, crx, cry, crz, cswap, cu1, cx, cy, cz, h, id, p, rx, rxx, ry, ryy, rz, "
         "rzz, s, sdg, swap, sx, sxdg, t, tdg, u, u0, u1, u2, u3, x, y, z (or define it with "
         "'gate')"),
        (_HEAD + "qreg q[2];\nx q[2];\n", "QASM line 4: q[2] is out of range; q has 2 qubits"),
        (_HEAD + "qreg q[2];\nx r[0];\n", "QASM line 4: unknown qubit register in 'r[0]'"),
        (_HEAD + "qreg q[2];\nx q[0\n", "QASM line 4: missing ';'"),
        (_HEAD + "qreg q[2];\nqreg q[1];\n", "QASM line 4: register 'q' declared twice"),
        (_HEAD + "qreg q;\n", "QASM line 3: bad qreg statement 'qreg q'"),
        (_HEAD + "qreg q[20];\nqreg r[11];\n",
         "QASM line 4: 31 qubits declared; quarch simulates at most 30"),
        (_HEAD + "creg c[1];\n", "QASM program declares no qubits (qreg)"),
        ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\n',
         "QASM line 1: only OpenQASM 2.0 is supported; got 'OPENQASM 3.0'"),
        (_HEAD + "qreg q[1];\nreset q[0];\n", "QASM line 4: 'reset' is not supported"),
        (_HEAD + "qreg q[1];\ncreg c[1];\nif(c==1) x q[0];\n",
         "QASM line 5: 'if(c==1)' is not supported"),
        (_HEAD + "opaque g q;\nqreg q[1];\n", "QASM line 3: 'opaque' is not supported"),
        (_HEAD + "qreg q[1];\nrx(theta) q[0];\n",
         "QASM line 4: unknown name 'theta' in 'theta'"),
        (_HEAD + "qreg q[1];\nrx(floor(1)) q[0];\n",
         "QASM line 4: cannot evaluate angle expression 'floor(1)'"),
        (_HEAD + "qreg q[1];\nrx(1+) q[0];\n", "QASM line 4: bad angle expression '1+'"),
        (_HEAD + "qreg q[1];\nrx(1/0) q[0];\n",
         "QASM line 4: cannot evaluate angle '1/0' (ZeroDivisionError: float division by zero)"),
        (_HEAD + "qreg q[2];\nrx(0.1, 0.2) q[0];\n",
         "QASM line 4: rx: rx takes 1 angle(s); got 2"),
        (_HEAD + "qreg q[1];\nu3(0.1,0.2) q[0];\n", "QASM line 4: u3 takes 3 parameter(s); got 2"),
        (_HEAD + "qreg q[1];\nu2(0.1) q[0];\n", "QASM line 4: u2 takes 2 parameter(s); got 1"),
        (_HEAD + "qreg q[1];\nid(0.1) q[0];\n", "QASM line 4: id takes 0 parameter(s); got 1"),
        (_HEAD + "qreg q[1];\nu0 q[0];\n", "QASM line 4: u0 takes 1 parameter(s); got 0"),
        (_HEAD + "qreg q[2];\ncu1 q[0],q[1];\n", "QASM line 4: cu1 takes 1 parameter(s); got 0"),
        (_HEAD + "qreg q[2];\ncx q[1],q[1];\n", None),
        (_HEAD + "qreg a[2];\nqreg b[3];\ncx a,b;\n",
         "QASM line 5: registers of different sizes in 'cx a,b'"),
        (_HEAD + "gate g(t) a { rx(t) a; }\nqreg q[2];\ng q[0];\n",
         "QASM line 5: gate g takes 1 parameter(s) and 1 qubit(s); got 0 and 1"),
        (_HEAD + "gate g(t) a { rx(t) a; }\nqreg q[2];\ng(1) q[0],q[1];\n",
         "QASM line 5: gate g takes 1 parameter(s) and 1 qubit(s); got 1 and 2"),
        (_HEAD + "gate g a { x b; }\nqreg q[1];\ng q[0];\n", "QASM line 3: unknown qubit 'b'"),
        (_HEAD + "gate g a { x a;\nqreg q[1];\n", "QASM line 3: unterminated gate definition"),
        (_HEAD + "qreg q[1];\nrx((1,2)) q[0];\n",  # a comma inside parentheses: one argument
         "QASM line 4: cannot evaluate angle expression '(1,2)'"),
        (_HEAD + "qreg q[1];\nrx(sin(1,2)) q[0];\n",
         "QASM line 4: cannot evaluate angle expression 'sin(1,2)'"),
        ("// a comment\n\n// another // with two markers\nqreg q[1];\nfoo q[0]; // x q[0];\n",
         "QASM line 5: unknown gate 'foo'; known qelib1 gates: CX, U, ccx, ch, cp, crx, cry, crz, "
         "cswap, cu1, cx, cy, cz, h, id, p, rx, rxx, ry, ryy, rz, rzz, s, sdg, swap, sx, sxdg, t, "
         "tdg, u, u0, u1, u2, u3, x, y, z (or define it with 'gate')"),
        (_HEAD + "qreg q[1];\n9x q[0];\n", "QASM line 4: cannot read statement '9x q[0]'"),
        (_HEAD + "qreg q[1];\nx;\n", "QASM line 4: x: x acts on 1 wire(s); got wires ()"),
        (_HEAD + "gate 9g a { x a; }\nqreg q[1];\n",
         "QASM line 3: bad gate definition '9g a'"),
    ],
)  # fmt: skip
def test_refusals_name_the_line_and_the_problem(text: str, message: str | None) -> None:
    if message is None:  # the circuit's own check, prefixed with the line and the gate
        with pytest.raises(
            CircuitError, match=r"^QASM line 4: cx: cnot: the same wire appears twice"
        ) as info:
            from_qasm(text)
        assert "\n" not in str(info.value)
        with pytest.raises(_QISKIT_REFUSES):
            qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
        return
    with pytest.raises(CircuitError) as info:
        from_qasm(text)
    assert str(info.value) == message
    if not any(k in message for k in _VALID_QASM):
        with pytest.raises(_QISKIT_REFUSES):
            qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("exp(1000)", r"\(OverflowError: math range error\)"),
        ("10.0^400", r"\(OverflowError: \(34, 'Numerical result out of range'\)\)"),
        ("(-8)^(1/3)", r"\(ValueError: the result is not a real number\)"),
        ("ln(0)", r"\(ValueError: math domain error\)"),
        ("sqrt(-1)", r"\(ValueError: math domain error\)"),
    ],
)
def test_angles_that_cannot_be_evaluated(expr: str, why: str) -> None:
    text = f"{_HEAD}qreg q[1];\nrx({expr}) q[0];\n"
    with pytest.raises(
        CircuitError, match=rf"^QASM line 4: cannot evaluate angle {re.escape(repr(expr))} {why}$"
    ):
        from_qasm(text)


def test_non_finite_and_long_and_deep_angles() -> None:
    with pytest.raises(
        CircuitError, match=r"^QASM line 3: angle '1e400' is not a finite number \(inf\)$"
    ):
        from_qasm("OPENQASM 2.0;\nqreg q[1];\nrx(1e400) q[0];\n")
    long = "2." + "0" * 1999  # 2001 characters
    with pytest.raises(
        CircuitError, match=r"^QASM line 2: angle expression longer than 2000 characters$"
    ):
        from_qasm(f"qreg q[1];\nrx({long}) q[0];\n")
    ok = "2." + "0" * 1998  # 2000 characters: read
    assert from_qasm(f"qreg q[1];\nrx({ok}) q[0];\n").ops[0].params == (2.0,)
    deep = "(" * 400 + "1" + ")" * 400  # Python's parser refuses 200 nested parentheses
    with pytest.raises(CircuitError, match=r"^QASM line 1: bad angle expression '\(\(\("):
        from_qasm(f"qreg q[1]; rx({deep}) q[0];")
    chain = "1" + "+1" * 999  # parsed, but evaluating it recurses past Python's limit
    with pytest.raises(
        CircuitError, match=r"^QASM line 1: angle expression '1\+1.* nests too deeply$"
    ):
        from_qasm(f"qreg q[1]; rx({chain}) q[0];")


def test_nesting_and_size_limits() -> None:
    defs = "gate g0 a { x a; }\n" + "".join(
        f"gate g{i} a {{ g{i - 1} a; }}\n" for i in range(1, 53)
    )
    assert len(from_qasm(f"{defs}qreg q[1];\ng50 q[0];\n").ops) == 1  # 50 levels: read
    # refused at the statement 51 levels down: g0's call in g1 (line 2), g1's in g2 (line 3)
    for deeper, line in ((51, 2), (52, 3)):
        with pytest.raises(
            CircuitError, match=rf"^QASM line {line}: gate definitions nest too deeply$"
        ):
            from_qasm(f"{defs}qreg q[1];\ng{deeper} q[0];\n")
    assert from_qasm("qreg q[30];\n").n_qubits == 30  # the limit itself is read
    # MAX_OPS gate applications, the definitions included, are read; one more is refused
    body = "x a; " * 1000
    text = f"gate k a {{ {body}}}\nqreg q[1];\n" + "k q[0];\n" * (MAX_OPS // 1001)
    rest = MAX_OPS - 1001 * (MAX_OPS // 1001)  # single gates up to exactly MAX_OPS
    exact = text + "x q[0];\n" * rest
    assert len(from_qasm(exact).ops) == 1000 * (MAX_OPS // 1001) + rest
    more = exact + "x q[0];\n"
    with pytest.raises(
        CircuitError,
        match=rf"^QASM line \d+: the program expands to more than {MAX_OPS} gate applications$",
    ):
        from_qasm(more)


def test_only_text_is_read() -> None:
    with pytest.raises(CircuitError, match=r"^from_qasm reads text \(str\); got bytes$"):
        from_qasm(b"OPENQASM 2.0;")  # type: ignore[arg-type]
