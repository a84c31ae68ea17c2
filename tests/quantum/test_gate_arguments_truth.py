"""``gate_matrix`` and ``entangler_pairs`` given arguments of the wrong kind: one
``CircuitError`` line (they failed with a bare ``AssertionError``, ``KeyError``,
``AttributeError`` or ``TypeError``), and numbers in a list taken as a tensor is,
against PennyLane's own matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.quantum import GATES, CircuitError, entangler_pairs, gate_matrix

qml = pytest.importorskip("pennylane")


@pytest.mark.parametrize(
    ("call", "line"),
    [
        (lambda: gate_matrix("nope"), "unknown gate 'nope'; choose from: ccx, ch, cnot,"),
        (lambda: gate_matrix(None), "unknown gate None; choose from: ccx,"),  # type: ignore[arg-type]
        (lambda: gate_matrix(["rx"]), "unknown gate ['rx']; choose from: ccx,"),  # type: ignore[arg-type]
        (lambda: gate_matrix("rx"), "gate 'rx' needs params of shape (..., 1): 1 angle"),
        (
            lambda: gate_matrix("rx", "0.1"),  # type: ignore[arg-type]
            "gate 'rx': params must be numbers of shape (..., 1): 1 angle (a tensor, an "
            "array or a list); got str '0.1'",
        ),
        (
            lambda: gate_matrix("rot", [0.1, 0.2]),  # type: ignore[arg-type]
            "gate 'rot' needs params of shape (..., 3): 3 angles; got shape (2,)",
        ),
        (
            lambda: gate_matrix("crz", torch.tensor(0.3)),
            "gate 'crz' needs params of shape (..., 1): 1 angle; got shape ()",
        ),
        (lambda: entangler_pairs("3", "ring"), "n_wires must be a whole number; got '3'"),  # type: ignore[arg-type]
        (lambda: entangler_pairs(3.0, "ring"), "n_wires must be a whole number; got 3.0"),  # type: ignore[arg-type]
        (lambda: entangler_pairs(True, "ring"), "n_wires must be a whole number; got True"),
        (
            lambda: entangler_pairs(3, 5),  # type: ignore[arg-type]
            "unknown entanglement pattern '5'; allowed: none, linear, ring, full, odd, even, "
            "range-r; a pattern is a str, got 5",
        ),
    ],
)
def test_a_wrong_argument_is_one_line(call: object, line: str) -> None:
    with pytest.raises(CircuitError) as e:
        call()  # type: ignore[operator]
    assert str(e.value).startswith(line)
    assert e.value.__cause__ is None


@pytest.mark.parametrize(
    ("name", "op", "angles"),
    [("rx", qml.RX, [0.4]), ("rot", qml.Rot, [0.1, -0.7, 1.3]), ("crz", qml.CRZ, [2.1])],
)
def test_numbers_in_a_list_or_array_are_angles(name: str, op: object, angles: list) -> None:
    want = np.asarray(op.compute_matrix(*angles))  # type: ignore[attr-defined]
    for given in (angles, np.array(angles), torch.tensor(angles, dtype=torch.float64)):
        got = gate_matrix(name, given).numpy()  # type: ignore[arg-type]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)  # float64 angles
    batch = gate_matrix(name, [angles, angles])  # type: ignore[arg-type]
    assert batch.shape == (2, *want.shape)
    single = gate_matrix(name, angles, dtype=torch.complex64)  # type: ignore[arg-type]
    assert single.dtype == torch.complex64
    np.testing.assert_allclose(single.numpy(), want, rtol=0, atol=1e-6)


def test_numpy_whole_numbers_count_as_wires() -> None:
    assert entangler_pairs(np.int64(3), "ring") == entangler_pairs(3, "ring")  # type: ignore[arg-type]
    assert all(GATES[g].n_params == 0 for g in ("cnot", "cz"))
    assert gate_matrix("cz").shape == (4, 4)


def test_a_real_dtype_takes_real_constant_gates_exactly_and_refuses_complex_ones() -> None:
    """An all-real circuit may run in a float dtype: its constant gates are taken as their
    real matrices with no warning (torch warned and dropped the imaginary part); a gate
    with complex entries (Y, S, T) cannot be held, and is refused instead of silently
    losing them. Truth: PennyLane's matrices."""
    import warnings

    import pennylane as qml

    from quarch.quantum.gates import _constant_tensor

    cpu = torch.device("cpu")
    for name, op in (("x", qml.PauliX(0)), ("h", qml.Hadamard(0)), ("cnot", qml.CNOT([0, 1]))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = _constant_tensor(name, torch.float64, cpu)
        assert got.dtype == torch.float64
        np.testing.assert_array_equal(got.numpy(), np.real(qml.matrix(op)))
    for name in ("y", "s", "t"):
        with pytest.raises(CircuitError) as e:
            _constant_tensor(name, torch.float32, cpu)
        assert str(e.value) == (
            f"gate {name!r} has complex entries; a real dtype (torch.float32) cannot hold it"
        )
