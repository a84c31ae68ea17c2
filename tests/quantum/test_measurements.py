"""Measurements, sampling and the diagonal-phase helper against closed forms."""

from __future__ import annotations

import math

import pytest
import torch

from quarch.quantum import (
    Circuit,
    MeasurementError,
    apply_diagonal,
    estimate_expvals,
    expval,
    sample_bitstrings,
    statevector,
)


class TestCorrectness:
    def test_diagonal_phase_equals_rz_circuit(self) -> None:
        # C = z_0 (the Z eigenvalue of wire 0): exp(-i g C) = RZ(2g) on wire 0.
        psi = statevector(Circuit(2).h(0).h(1))
        c = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)
        got = apply_diagonal(psi, c, 0.4)
        ref = statevector(Circuit(2).h(0).h(1).rz(0, 0.8))
        torch.testing.assert_close(got, ref)

    def test_samples_are_seeded_and_follow_probabilities(self) -> None:
        psi = statevector(Circuit(2).ry(0, 2 * math.acos(math.sqrt(0.8))))
        a = sample_bitstrings(psi, 4000, seed=1)
        assert torch.equal(a, sample_bitstrings(psi, 4000, seed=1))
        assert abs(a[:, 0].double().mean().item() - 0.2) < 0.03
        assert a[:, 1].sum() == 0

    def test_shot_estimates_close_to_exact(self) -> None:
        psi = statevector(Circuit(2).ry(0, 0.7).rx(1, 1.1).cnot(0, 1))
        exact = expval(psi, ["Z0", "X1", "Y1", "Z0 Z1"])
        est = estimate_expvals(psi, ["Z0", "X1", "Y1", "Z0 Z1"], 20000, seed=0)
        assert (est - exact).abs().max() < 0.03


class TestInputs:
    def test_bad_word(self) -> None:
        with pytest.raises(MeasurementError, match="cannot read Pauli term 'Q0'"):
            expval(statevector(Circuit(1)), "Q0")

    def test_wire_out_of_range(self) -> None:
        with pytest.raises(MeasurementError, match=r"acts on wire 4; wires are 0\.\.1"):
            expval(statevector(Circuit(2)), "Z4")
