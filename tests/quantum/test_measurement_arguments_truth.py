"""The measurement helpers given arguments of the wrong kind: one ``MeasurementError``
line naming the argument, what was given and what is allowed, raised before any work
(they failed with a bare ``TypeError``, ``ValueError`` or ``RuntimeError`` from Python,
torch or numpy, or returned an empty list). The forms that were taken, and numpy
integers, give what numpy computes from the state itself."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from quarch.quantum import (
    Circuit,
    MeasurementError,
    apply_diagonal,
    compile_circuit,
    estimate_expvals,
    expval,
    sample_bitstrings,
    statevector,
    z_each,
    zz_neighbors,
)

_BELL = Circuit(2).h(0).cnot(0, 1)
_PSI = statevector(_BELL)
_PLAN = compile_circuit(_BELL)
_WORDS = (
    "observables must be a Pauli word like 'Z0 Z1', a dict {wire: letter}, a PauliWord "
    "or a list of them (None: <Z> on each qubit); got "
)


@pytest.mark.parametrize(
    ("call", "line"),
    [
        (lambda: _PLAN.expval(5), _WORDS + "5"),  # type: ignore[arg-type]
        (lambda: expval(_PSI, 2.5), _WORDS + "2.5"),  # type: ignore[arg-type]
        (lambda: expval(_PSI, object), _WORDS + "type <class 'object'>"),  # type: ignore[arg-type]
        (
            lambda: expval(_PSI, {"a": "Z"}),  # type: ignore[dict-item]
            "observable {'a': 'Z'}: a wire must be an integer; got str 'a'",
        ),
        (
            lambda: expval(_PSI, {1.0: "Z"}),  # type: ignore[dict-item]
            "observable {1.0: 'Z'}: a wire must be an integer; got 1.0",
        ),
        (lambda: z_each("2"), "z_each: n_qubits must be an integer >= 1; got str '2'"),  # type: ignore[arg-type]
        (lambda: z_each(2.5), "z_each: n_qubits must be an integer >= 1; got 2.5"),  # type: ignore[arg-type]
        (lambda: z_each(0), "z_each: n_qubits must be an integer >= 1; got 0"),
        (lambda: z_each(True), "z_each: n_qubits must be an integer >= 1; got True"),
        (
            lambda: zz_neighbors("3"),  # type: ignore[arg-type]
            "zz_neighbors: n_qubits must be an integer >= 1; got str '3'",
        ),
        (lambda: zz_neighbors(-1), "zz_neighbors: n_qubits must be an integer >= 1; got -1"),
        (
            lambda: sample_bitstrings(_PSI, 10, seed="1"),  # type: ignore[arg-type]
            "seed must be an integer or None; got str '1'",
        ),
        (
            lambda: sample_bitstrings(_PSI, 10, seed=1.5),  # type: ignore[arg-type]
            "seed must be an integer or None; got 1.5",
        ),
        (
            lambda: sample_bitstrings(_PSI, "10"),  # type: ignore[arg-type]
            "shots must be an integer >= 1; got str '10'",
        ),
        (lambda: sample_bitstrings(_PSI, 10.0), "shots must be an integer >= 1; got 10.0"),  # type: ignore[arg-type]
        (lambda: sample_bitstrings(_PSI, 0), "shots must be an integer >= 1; got 0"),
        (
            lambda: estimate_expvals(_PSI, None, "5"),  # type: ignore[arg-type]
            "shots must be an integer >= 1; got str '5'",
        ),
        (
            lambda: estimate_expvals(_PSI, None, 5, seed="1"),  # type: ignore[arg-type]
            "seed must be an integer or None; got str '1'",
        ),
        (
            lambda: apply_diagonal(_PSI, "x"),  # type: ignore[arg-type]
            "apply_diagonal: diagonal must be 4 real numbers (a tensor, an array or a list); "
            "got str 'x'",
        ),
        (
            lambda: apply_diagonal(_PSI, [0.0, 1.0, 2.0, 3.0], "g"),  # type: ignore[arg-type]
            "apply_diagonal: gamma must be a number or one per state of the batch; got str 'g'",
        ),
    ],
)
def test_a_wrong_argument_is_one_line(call: object, line: str) -> None:
    with pytest.raises(MeasurementError) as e:
        call()  # type: ignore[operator]
    assert str(e.value) == line
    assert e.value.__cause__ is None


def test_the_counts_are_read_before_the_state() -> None:
    # refused at the entry: the bad count is named before the state is looked at
    with pytest.raises(MeasurementError, match=r"^shots must be an integer >= 1; got -3$"):
        sample_bitstrings("psi", -3)  # type: ignore[arg-type]


def test_a_long_value_is_shown_in_80_characters() -> None:
    # the value's part of the line, type and repr, is cut to 80 characters
    long = "x" * 200
    with pytest.raises(MeasurementError) as e:
        z_each(long)  # type: ignore[arg-type]
    assert str(e.value) == "z_each: n_qubits must be an integer >= 1; got " + f"str {long!r}"[:80]
    big = Fraction(10**90, 7)  # a number (no integer) whose repr is long
    with pytest.raises(MeasurementError) as e:
        z_each(big)  # type: ignore[arg-type]
    assert str(e.value) == "z_each: n_qubits must be an integer >= 1; got " + repr(big)[:80]
    assert len(repr(big)) > 81


def test_a_negative_json_wire_is_named_as_out_of_range() -> None:
    # "-1" is read as the wire -1, as int("-1") always did: the range check names it
    with pytest.raises(MeasurementError, match=r"^observable \{'-1': 'Z'\} acts on wire -1; "):
        expval(_PSI, {"-1": "Z"})  # type: ignore[dict-item]
    for key in (" 1-", "X1"):  # no digits after a sign: no wire
        with pytest.raises(MeasurementError) as e:
            expval(_PSI, {key: "Z"})  # type: ignore[dict-item]
        assert (
            str(e.value)
            == f"observable {{{key!r}: 'Z'}}: a wire must be an integer; got str {key!r}"
        )


def _z_numpy(psi: np.ndarray, wires: list[int], n: int) -> float:
    """<Z_w1 Z_w2 ...> from the amplitudes: each basis state's parity, wire 0 first."""
    probs = np.abs(psi) ** 2
    signs = [(-1) ** sum((k >> (n - 1 - w)) & 1 for w in wires) for k in range(2**n)]
    return float(probs @ np.array(signs))


def test_dict_wires_as_numpy_integers_or_json_keys() -> None:
    psi = statevector(Circuit(3).ry(0, 0.3).ry(1, 1.1).cnot(1, 2).rx(2, 0.4))
    want = [_z_numpy(psi.numpy(), [0, 2], 3), _z_numpy(psi.numpy(), [1], 3)]
    for words in (
        [{0: "Z", 2: "Z"}, {1: "Z"}],
        [{np.int64(0): "Z", np.int32(2): "Z"}, {np.int64(1): "Z"}],
        [{"0": "Z", "2": "Z"}, {"1": "z"}],  # read back from JSON: keys are str
    ):
        got = expval(psi, words).numpy()  # type: ignore[arg-type]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_counts_and_seeds_as_numpy_integers() -> None:
    assert z_each(np.int64(3)) == ["Z0", "Z1", "Z2"]  # type: ignore[arg-type]
    assert zz_neighbors(np.int64(3), ring=True) == ["Z0 Z1", "Z1 Z2", "Z2 Z0"]  # type: ignore[arg-type]
    assert zz_neighbors(1) == []  # one wire has no neighbour, as before
    bits = sample_bitstrings(_PSI, np.int64(400), seed=np.int64(7))  # type: ignore[arg-type]
    assert torch.equal(bits, sample_bitstrings(_PSI, 400, seed=7))
    assert bits.shape == (400, 2)
    assert bool((bits[:, 0] == bits[:, 1]).all())  # a Bell state: both bits agree
    est = estimate_expvals(_PSI, ["Z0 Z1", "X0 X1"], np.int64(200), seed=np.int64(3))  # type: ignore[arg-type]
    np.testing.assert_allclose(est.numpy(), [1.0, 1.0])  # both words are +1 on |Phi+>


def test_a_diagonal_in_a_list_or_array_and_gamma_as_a_number() -> None:
    psi = statevector(Circuit(2).h(0).ry(1, 0.7)).numpy()
    diag = [0.0, 1.5, -0.5, 2.0]
    want = np.exp(-1j * 0.4 * np.array(diag)) * psi
    for d, g in ((diag, 0.4), (np.array(diag), np.float64(0.4)), (torch.tensor(diag), 0.4)):
        got = apply_diagonal(torch.as_tensor(psi), d, g).numpy()  # type: ignore[arg-type]
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
