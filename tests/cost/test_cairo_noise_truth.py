"""Device noise of a circuit routed on ``ibm-cairo``'s region that mixes ECR with a
one-way CX (:mod:`quarch.cost.one_way`): the ``sx`` gates of each reversed CX carry
their calibrated noise, as every other gate does.

Truth: qiskit-aer's density matrix of the same routed circuit under
``NoiseModel.from_backend`` of the fake backend (:func:`quarch.testing.aer.aer_expvals`),
at level 0 (no optimisation: every flip's four ``sx`` stay in the circuit) and level 2
(the search's default, the flip merged with the circuit's own gates). The noise of the
flip is seen at this tolerance: Aer without the noise of ``sx`` on the flipped pair's
qubits is told apart.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from quarch.cost import one_way
from quarch.cost.calibration import load_calibration
from quarch.cost.routing import route
from quarch.spaces.hqnn.model import build_circuit
from quarch.spaces.hqnn.noise import NoiseSetup
from quarch.spaces.hqnn.space import hqnn_space

DEVICE = "ibm-cairo"
SPACE = hqnn_space(max_qubits=3, max_layers=1, layouts=2)
ARCH: dict[str, Any] = {
    **SPACE.sample(0), "embedding": "angle-y", "qubits": 3, "layers": 1,
    "rotation_0": "ry", "entanglement_0": "ring", "entangler": "cnot", "reupload": False,
    "measurement": "z", "layout": 0,
}  # fmt: skip


def _without_sx_noise(qubits: tuple[int, ...]) -> Any:
    """Aer's noise model of the device with no error on ``sx`` of ``qubits``."""
    from qiskit_aer.noise import NoiseModel

    from quarch.cost.devices import get_calibration

    cal = get_calibration(DEVICE)
    assert cal is not None
    model = NoiseModel.from_backend(cal.backend)
    for q in qubits:
        del model._local_quantum_errors["sx"][(q,)]
    return model


@pytest.mark.parametrize("level", [0, 2])
def test_the_flips_gates_carry_the_devices_noise(
    level: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.testing import aer
    from quarch.testing.aer import aer_expvals

    circuit = build_circuit(ARCH)
    routed = route(circuit, DEVICE, layout=0, seed=0, optimization_level=level)
    pairs = one_way.flipped_pairs(load_calibration(DEVICE), routed.region)
    assert pairs == {(1, 0)}  # the case under test: CX 18 -> 15 beside ECR 21 -> 18
    assert [op.wires for op in routed.ops if op.name == "cx"]  # the CX is used
    setup = NoiseSetup(DEVICE, transpile_seed=0, optimization_level=level)
    nc, words = setup.circuit(ARCH, circuit)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.uniform(-1, 1, (3, circuit.n_inputs)))
    w = torch.tensor(rng.uniform(-3, 3, circuit.n_weights))
    got, se = setup.expvals(nc, words, x, w)
    want = aer_expvals(routed, w.numpy(), x.numpy(), words)
    np.testing.assert_allclose(got.numpy(), want, atol=2e-5, rtol=0)
    assert not se.any()
    if level == 0:  # every flip's sx kept: their noise is what the comparison sees
        flipped = tuple(routed.region[i] for i in sorted(next(iter(pairs))))
        monkeypatch.setattr(aer, "aer_noise_model", lambda device: _without_sx_noise(flipped))
        bare = aer_expvals(routed, w.numpy(), x.numpy(), words)
        assert np.abs(bare - want).max() > 1e-4
