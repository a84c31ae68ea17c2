"""Which op the small path's runtime runs for each instruction of a program.

:class:`~quarch.quantum._small_runtime.SmallRuntime` turns every
:class:`~quarch.quantum._small_plan.Instr` into one opcode. The instruction's docstring
says what each one is: ``"kron"``, ``"perm"``, ``"diag"`` (phases from angles, or
constant ones without angles) and ``"dense"`` (a constant matrix, or ``A + cos(a) B +
sin(a) C`` of its one angle). The runtime used to pick the dense ops by elimination:
an instruction of another name, or a dense one with both a constant and coefficients
or with two angles, or a diagonal with coefficients but no angles, ran silently as
some other op. Here each valid instruction gets its op (the constant dense matrix is
PennyLane's, and the whole program runs to PennyLane's state) and each malformed one
is refused by name.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from quarch.quantum import Circuit, Input, compile_circuit, to_pennylane
from quarch.quantum._small_cost import FOLD_ROWS, SINGLE_STATE
from quarch.quantum._small_plan import Instr, SmallProgram
from quarch.quantum._small_runtime import (
    _CDENSE,
    _CDIAG,
    _DENSE,
    _DIAG,
    _KRON,
    _PERM,
    SmallRuntime,
)

qml = pytest.importorskip("pennylane")

_D = 8  # three qubits


def _circuit() -> Circuit:
    """One instruction of every kind after the product state: CRX(w) (a dense matrix
    of one angle), CZ (constant phases: between two dense ops, nothing to fold it
    into), CH (a constant dense matrix), CRZ(w) (phases of one angle), an RX layer (a
    Kronecker layer), CNOT (a permutation)."""
    c = Circuit(3).ry(0, Input(0)).h(1).h(2)
    c.crx(1, 2, c.new_weight()).cz(0, 2).ch(0, 1).rx(1, c.new_weight())
    c.crz(2, 0, c.new_weight()).rx(0, c.new_weight()).cnot(0, 2)
    return c


def _program(c: Circuit) -> SmallProgram:
    return SmallProgram(c, with_prefix=True, weights_batched=False, whole_register=0)


def _runtime(prog: SmallProgram) -> SmallRuntime:
    return SmallRuntime(
        prog,
        torch.complex128,
        torch.device("cpu"),
        fold_rows=FOLD_ROWS,
        single_state=SINGLE_STATE,
    )


def _expected(ins: Instr) -> int:
    """The op the instruction's docstring defines, from its name and fields."""
    if ins.op == "dense":
        return _CDENSE if ins.const is not None else _DENSE
    if ins.op == "diag":
        return _DIAG if ins.angles else _CDIAG
    return {"kron": _KRON, "perm": _PERM}[ins.op]


def test_each_instruction_runs_as_its_own_op() -> None:
    c = _circuit()
    prog = _program(c)
    rt = _runtime(prog)
    ops = [code[0] for code in rt.code]
    assert ops == [_expected(ins) for ins in prog.instrs]
    assert set(ops) == {_KRON, _PERM, _DIAG, _CDIAG, _DENSE, _CDENSE}  # every kind met
    # the constant dense op carries CH on wires (0, 1) of three: PennyLane's matrix
    (cdense,) = [code for code in rt.code if code[0] == _CDENSE]
    want = qml.matrix(qml.CH(wires=[0, 1]), wire_order=[0, 1, 2])
    np.testing.assert_allclose(cdense[3].numpy(), want, rtol=0, atol=1e-15)
    np.testing.assert_allclose(cdense[4].numpy(), want.T, rtol=0, atol=1e-15)
    # and the program runs to PennyLane's state
    rng = np.random.default_rng(0)
    w = rng.uniform(-3, 3, c.n_weights)
    x = rng.uniform(-2, 2, (2, c.n_inputs))
    plan = compile_circuit(c, dtype=torch.complex128, path="small")
    got = plan.state(torch.tensor(x), torch.tensor(w)).numpy()
    f = to_pennylane(c)

    @qml.qnode(qml.device("default.qubit", wires=3))
    def run(w: np.ndarray, x: np.ndarray) -> object:
        f(w, x)
        return qml.state()

    for b in range(2):
        np.testing.assert_allclose(got[b], np.asarray(run(w, x[b])), rtol=0, atol=1e-12)


_COEF3 = np.zeros((3, _D, _D), dtype=np.complex128)
_MALFORMED = [
    # name, fields, what the old elimination did with it
    ("dense", {"const": np.eye(_D), "coef": _COEF3, "angles": [0]}, "coef, const and 1 angle"),
    ("dense", {"coef": _COEF3, "angles": [0, 1]}, "coef and 2 angle"),
    ("dense", {"coef": _COEF3}, "coef and 0 angle"),
    ("dense", {}, "no tables and 0 angle"),
    ("diag", {"coef": np.ones((1, _D)), "theta0": np.zeros(_D)}, "coef, theta0 and 0 angle"),
    ("swap", {"const": np.eye(_D)}, "const and 0 angle"),
]


@pytest.mark.parametrize(("op", "fields", "named"), _MALFORMED)
def test_an_instruction_no_op_fits_is_refused(op: str, fields: dict, named: str) -> None:
    """A dense instruction with both a constant and coefficients (ran as the constant,
    its angle dropped), with two angles (ran on the first), with none or no tables; a
    diagonal with coefficients but no angles (ran as constant phases); an unknown name
    (ran as a constant dense matrix): each is refused, naming what it holds."""
    prog = _program(_circuit())
    prog.instrs = [Instr(op, **fields)]
    want = (
        f"the small path cannot run a '{op}' instruction with {named}(s); a 'diag' without "
        "angles has no coefficients, a 'dense' one has either a constant or the "
        "coefficients of one angle"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(want)}$"):
        _runtime(prog)
