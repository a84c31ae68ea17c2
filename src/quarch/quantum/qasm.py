"""OpenQASM 2.0 reader and writer.

The reader takes text from anyone: whatever it is given, it returns a circuit or
raises :class:`~quarch.quantum.CircuitError` naming the line, never another exception
or a hang. Angles are evaluated safely (numbers, ``pi``, arithmetic, six functions;
overflow, division by zero and non-finite results are errors), registers are limited to
the simulator's 30 qubits and a program to :data:`MAX_OPS` operations after ``gate``
definitions are expanded.

The reader knows the qelib1 gates and expands ``gate`` definitions; ``measure``,
``barrier`` and ``creg`` are ignored (quarch circuits end in expectation values),
``reset``, ``if`` and ``opaque`` gates are refused with a clear error. Names may start
with a capital letter (the spec and Qiskit's reader want a lower-case one). A ``gate``
definition of a gate quarch knows natively is ignored (the native matrix keeps the
global phase that QASM 2 definitions drop). Several ``qreg``s are laid out one after
another. The writer emits the original qelib1 gates only, plus a ``gate`` definition
for each gate it lacks (``sx``, ``swap``, ``rxx``, ``ryy``, ``rot``, ...), with angles
written to full double precision.
"""

from __future__ import annotations

import ast
import math
import operator
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quarch.quantum.circuit import Circuit, CircuitError, Param, require_circuit

if TYPE_CHECKING:
    import torch

__all__ = ["MAX_OPS", "MAX_QUBITS", "from_qasm", "to_qasm"]

#: Most qubits a program may declare (the simulator's limit, :class:`Circuit`'s check).
MAX_QUBITS = 30
#: Most gate applications a program may expand to: nested ``gate`` definitions grow
#: exponentially, so a few lines could otherwise ask for 2**50 gates.
MAX_OPS = 200_000
#: Longest angle expression read (a longer one is refused before parsing).
_MAX_EXPR = 2_000

# qelib1 name -> (quarch gate, angle transform)
_NATIVE: dict[str, tuple[str | None, Callable[[list[float]], list[float]]]] = {
    "u3": ("u3", lambda p: p),
    "u": ("u3", lambda p: p),
    "U": ("u3", lambda p: p),
    "u2": ("u3", lambda p: [math.pi / 2, p[0], p[1]]),
    "u1": ("phase", lambda p: p),
    "p": ("phase", lambda p: p),
    "id": (None, lambda p: p),
    "u0": (None, lambda p: p),
    "cx": ("cnot", lambda p: p),
    "CX": ("cnot", lambda p: p),
    "cu1": ("cphase", lambda p: p),
    "cp": ("cphase", lambda p: p),
    **{
        g: (g, lambda p: p)
        for g in [
            "x",
            "y",
            "z",
            "h",
            "s",
            "sdg",
            "t",
            "tdg",
            "sx",
            "sxdg",
            "rx",
            "ry",
            "rz",
            "cz",
            "cy",
            "ch",
            "swap",
            "crx",
            "cry",
            "crz",
            "rxx",
            "ryy",
            "rzz",
            "ccx",
            "cswap",
        ]
    },
}
_NATIVE_ARITY = {
    "u3": 3,
    "u": 3,
    "U": 3,
    "u2": 2,
    "u1": 1,
    "p": 1,
    "id": 0,
    "u0": 1,
    "cu1": 1,
    "cp": 1,
}

_FUNCS: dict[str, Callable[[float], float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "exp": math.exp,
    "ln": math.log,
    "sqrt": math.sqrt,
}
_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}


def _eval(expr: str, env: dict[str, float], line: int) -> float:
    """Evaluate a QASM angle expression safely (numbers, pi, names, + - * / ^, functions)."""

    def ev(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id == "pi":
                return math.pi
            if node.id in env:
                return env[node.id]
            raise CircuitError(f"QASM line {line}: unknown name {node.id!r} in {expr!r}")
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            result = _BINOPS[type(node.op)](ev(node.left), ev(node.right))
            if isinstance(result, complex):  # (-8)^(1/3): no real angle
                raise ValueError("the result is not a real number")
            return float(result)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCS
            and len(node.args) == 1
        ):
            return _FUNCS[node.func.id](ev(node.args[0]))
        raise CircuitError(f"QASM line {line}: cannot evaluate angle expression {expr!r}")

    if len(expr) > _MAX_EXPR:
        raise CircuitError(f"QASM line {line}: angle expression longer than {_MAX_EXPR} characters")
    try:
        tree = ast.parse(expr.replace("^", "**"), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise CircuitError(f"QASM line {line}: bad angle expression {expr!r}") from None
    try:
        value = ev(tree)
    except (OverflowError, ZeroDivisionError, ValueError, TypeError) as e:
        if isinstance(e, CircuitError):
            raise
        raise CircuitError(
            f"QASM line {line}: cannot evaluate angle {expr!r} ({type(e).__name__}: {e})"
        ) from None
    except RecursionError:
        raise CircuitError(
            f"QASM line {line}: angle expression {expr!r} nests too deeply"
        ) from None
    if not isinstance(value, float) or not math.isfinite(value):
        raise CircuitError(f"QASM line {line}: angle {expr!r} is not a finite number ({value})")
    return value


def _split_args(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


@dataclass
class _GateDef:
    params: list[str]
    args: list[str]
    body: list[tuple[str, int]]


def _file_name(text: str) -> bool:
    """Whether ``text`` is a file name rather than a program: text without a ``;`` (no
    program has none) that ends in ``.qasm`` or names an existing file."""
    name = text.strip()
    # isfile answers False for any str it cannot stat ("", too long, a NUL byte)
    return ";" not in name and (name.lower().endswith(".qasm") or os.path.isfile(name))


_STMT = re.compile(r"^([A-Za-z_][\w]*)\s*(?:\((.*)\))?\s*(.*)$", re.S)


def from_qasm(text: str) -> Circuit:
    """Parse an OpenQASM 2.0 program into a :class:`Circuit`.

    Raises:
        CircuitError: unknown gate, bad syntax or an unsupported statement, naming
            the line.
    """
    if isinstance(text, os.PathLike) or (isinstance(text, str) and _file_name(text)):
        # a file name read as a program failed with "QASM line 1: missing ';'"
        raise CircuitError(
            "from_qasm reads a program's text, not a file name; pass "
            f"Path({os.fspath(text)!r}).read_text()"
        )
    if not isinstance(text, str):
        raise CircuitError(f"from_qasm reads text (str); got {type(text).__name__}")
    # Strip comments, keep line numbers for messages.
    src = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    pos = 0
    regs: dict[str, tuple[int, int]] = {}
    n_total = 0
    defs: dict[str, _GateDef] = {}
    program: list[tuple[str, int]] = []

    def line_of(i: int) -> int:
        return src.count("\n", 0, i) + 1

    while True:
        m = re.compile(r"\s*").match(src, pos)
        pos = m.end() if m else pos
        if pos >= len(src):
            break
        line = line_of(pos)
        if src.startswith("gate", pos) and re.match(r"gate\s", src[pos:]):
            lb = src.find("{", pos)
            rb = src.find("}", lb)
            if lb < 0 or rb < 0:
                raise CircuitError(f"QASM line {line}: unterminated gate definition")
            head = src[pos + 4 : lb].strip()
            hm = re.match(r"^([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*(.*)$", head, re.S)
            if hm is None:
                raise CircuitError(f"QASM line {line}: bad gate definition {head!r}")
            params = [p.strip() for p in (hm.group(2) or "").split(",") if p.strip()]
            args = [a.strip() for a in hm.group(3).split(",") if a.strip()]
            if not args:  # OpenQASM 2.0's grammar; Qiskit refuses it too
                raise CircuitError(
                    f"QASM line {line}: gate {hm.group(1)} acts on no qubit; a gate needs "
                    "at least one"
                )
            body = [(s.strip(), line) for s in src[lb + 1 : rb].split(";") if s.strip()]
            defs[hm.group(1)] = _GateDef(params, args, body)
            pos = rb + 1
            continue
        end = src.find(";", pos)
        if end < 0:
            raise CircuitError(f"QASM line {line}: missing ';'")
        stmt = " ".join(src[pos:end].split())
        pos = end + 1
        if not stmt:  # an empty statement ';', which Qiskit's qasm2 loader reads as nothing
            continue
        if stmt.startswith(("OPENQASM", "include", "barrier", "creg", "measure")):
            words = stmt.split()
            if words[0] == "OPENQASM" and (len(words) < 2 or not words[1].startswith("2")):
                raise CircuitError(
                    f"QASM line {line}: only OpenQASM 2.0 is supported; got {stmt!r}"
                )
            continue
        if stmt.startswith("qreg"):
            rm = re.match(r"qreg\s+([A-Za-z_]\w*)\s*\[\s*(\d{1,9})\s*\]$", stmt)
            if rm is None:
                raise CircuitError(f"QASM line {line}: bad qreg statement {stmt!r}")
            if rm.group(1) in regs:
                raise CircuitError(f"QASM line {line}: register {rm.group(1)!r} declared twice")
            regs[rm.group(1)] = (n_total, int(rm.group(2)))
            n_total += int(rm.group(2))
            if n_total > MAX_QUBITS:
                raise CircuitError(
                    f"QASM line {line}: {n_total} qubits declared; quarch simulates at most "
                    f"{MAX_QUBITS}"
                )
            continue
        if stmt.startswith(("reset", "if", "opaque")):
            raise CircuitError(f"QASM line {line}: {stmt.split()[0]!r} is not supported")
        program.append((stmt, line))
    if n_total == 0:
        raise CircuitError("QASM program declares no qubits (qreg)")
    circuit = Circuit(n_total)

    def apply(
        stmt: str, line: int, env: dict[str, float], wires_env: dict[str, int] | None, depth: int
    ) -> None:
        sm = _STMT.match(stmt)
        if sm is None:
            raise CircuitError(f"QASM line {line}: cannot read statement {stmt!r}")
        name, pexpr, aexpr = sm.group(1), sm.group(2), sm.group(3)
        params = [_eval(e, env, line) for e in _split_args(pexpr or "")]
        arg_tokens = [a.strip() for a in aexpr.split(",") if a.strip()]
        # Resolve arguments: inside a definition they are names; at top level reg[i] or reg.
        groups: list[list[int]] = []
        for tok in arg_tokens:
            if wires_env is not None:
                if tok not in wires_env:
                    raise CircuitError(f"QASM line {line}: unknown qubit {tok!r}")
                groups.append([wires_env[tok]])
                continue
            am = re.match(r"^([A-Za-z_]\w*)\s*(?:\[\s*(\d{1,9})\s*\])?$", tok)
            if am is None or am.group(1) not in regs:
                raise CircuitError(f"QASM line {line}: unknown qubit register in {tok!r}")
            off, size = regs[am.group(1)]
            if am.group(2) is None:
                groups.append([off + i for i in range(size)])
            else:
                idx = int(am.group(2))
                if idx >= size:
                    raise CircuitError(
                        f"QASM line {line}: {tok} is out of range; {am.group(1)} has {size} qubits"
                    )
                groups.append([off + idx])
        width = max((len(g) for g in groups), default=1)
        if any(len(g) not in (1, width) for g in groups):
            raise CircuitError(f"QASM line {line}: registers of different sizes in {stmt!r}")
        for k in range(width):
            wires = [g[k] if len(g) > 1 else g[0] for g in groups]
            _apply_one(name, params, wires, line, depth)

    expanded = [0]  # gate applications, definitions included: bounded, so nothing hangs

    def _apply_one(name: str, params: list[float], wires: list[int], line: int, depth: int) -> None:
        expanded[0] += 1
        if expanded[0] > MAX_OPS:
            raise CircuitError(
                f"QASM line {line}: the program expands to more than {MAX_OPS} gate applications"
            )
        if name in defs and name not in _NATIVE:
            d = defs[name]
            if len(params) != len(d.params) or len(wires) != len(d.args):
                raise CircuitError(
                    f"QASM line {line}: gate {name} takes {len(d.params)} parameter(s) and "
                    f"{len(d.args)} qubit(s); got {len(params)} and {len(wires)}"
                )
            if depth > 50:
                raise CircuitError(f"QASM line {line}: gate definitions nest too deeply")
            env = dict(zip(d.params, params, strict=True))
            wenv = dict(zip(d.args, wires, strict=True))
            for sub, sub_line in d.body:
                if sub.startswith("barrier"):
                    continue
                apply(sub, sub_line, env, wenv, depth + 1)
            return
        if name not in _NATIVE:
            known = ", ".join(sorted(_NATIVE))
            raise CircuitError(
                f"QASM line {line}: unknown gate {name!r}; known qelib1 gates: {known} "
                "(or define it with 'gate')"
            )
        target, transform = _NATIVE[name]
        if name in _NATIVE_ARITY and len(params) != _NATIVE_ARITY[name]:
            raise CircuitError(
                f"QASM line {line}: {name} takes {_NATIVE_ARITY[name]} parameter(s); "
                f"got {len(params)}"
            )
        if target is None:  # id, u0: nothing to apply, but one qubit as in qelib1
            if len(wires) != 1:
                raise CircuitError(f"QASM line {line}: {name} acts on 1 qubit; got {len(wires)}")
            return
        try:
            circuit.append(target, wires, transform(params))
        except (CircuitError, ValueError, TypeError, IndexError) as err:
            raise CircuitError(f"QASM line {line}: {name}: {err}") from None

    for stmt, line in program:
        apply(stmt, line, {}, None, 0)
    return circuit


_QASM_NAME = {"cnot": "cx", "phase": "u1", "cphase": "cu1"}
# Definitions of gates the original qelib1 lacks (Qiskit's own, exact up to global
# phase); readers that know the gate natively (quarch, Qiskit) ignore them.
_DEFS = {
    "sx": "gate sx a { sdg a; h a; sdg a; }",
    "sxdg": "gate sxdg a { s a; h a; s a; }",
    "swap": "gate swap a,b { cx a,b; cx b,a; cx a,b; }",
    "cswap": "gate cswap a,b,c { cx c,b; ccx a,b,c; cx c,b; }",
    "crx": "gate crx(lambda) a,b { u1(pi/2) b; cx a,b; u3(-lambda/2,0,0) b; cx a,b; "
    "u3(lambda/2,-pi/2,0) b; }",
    "cry": "gate cry(lambda) a,b { ry(lambda/2) b; cx a,b; ry(-lambda/2) b; cx a,b; }",
    "rxx": "gate rxx(theta) a,b { u3(pi/2,theta,0) a; h b; cx a,b; u1(-theta) b; cx a,b; "
    "h b; u2(-pi,pi-theta) a; }",
    "rzz": "gate rzz(theta) a,b { cx a,b; u1(theta) b; cx a,b; }",
    "ryy": "gate ryy(theta) a,b { rx(pi/2) a; rx(pi/2) b; cx a,b; rz(theta) b; cx a,b; "
    "rx(-pi/2) a; rx(-pi/2) b; }",
    "rot": "gate rot(phi,theta,omega) a { rz(phi) a; ry(theta) a; rz(omega) a; }",
}


def to_qasm(circuit: Circuit, weights: Sequence[float] | torch.Tensor | None = None) -> str:
    """Write ``circuit`` as OpenQASM 2.0 (one ``qreg q[n]``, wire i = ``q[i]``).

    Raises:
        CircuitError: trainable angles without ``weights``, input angles, channels or an
            amplitude embedding (OpenQASM 2.0 has no exact equivalent).
    """
    require_circuit(circuit, "to_qasm")
    c = circuit.bind(weights) if weights is not None else circuit
    used = sorted({op.name for op in c.ops if op.name in _DEFS})
    lines = ["OPENQASM 2.0;", 'include "qelib1.inc";', *[_DEFS[g] for g in used]]
    lines.append(f"qreg q[{c.n_qubits}];")
    for op in c.ops:
        if op.is_channel or op.name == "amplitude_embedding":
            raise CircuitError(f"to_qasm: {op.name} cannot be written in OpenQASM 2.0")
        vals = []
        for p in op.params:
            if isinstance(p, Param):
                what = "weights=" if p.kind == "weight" else "bind(inputs=...) first"
                raise CircuitError(f"to_qasm: {op.name} has a symbolic {p.kind} angle; pass {what}")
            vals.append(repr(float(p)))
        name = _QASM_NAME.get(op.name, op.name)
        head = f"{name}({','.join(vals)})" if vals else name
        lines.append(f"{head} {','.join(f'q[{w}]' for w in op.wires)};")
    return "\n".join(lines) + "\n"
