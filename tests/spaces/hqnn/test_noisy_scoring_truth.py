"""``noisy_val_error`` against qiskit-aer with the device's own noise model.

A range check (``0 <= noisy_val_error <= 1``) passes for scoring that ignores the
noise. Here a trained model's sample is scored by Aer (``NoiseModel.from_backend`` of
the calibrated target, :func:`quarch.testing.aer.aer_expvals`) and by the model's
noiseless quantum layer; the head is then set so that its decision lies exactly
between the two (a classifier on the direction in which noise moved the
expectations). The noisy error is then 0 or 1 depending only on whether the noise was
simulated right: Aer's answer is the truth, the noiseless answer is its opposite.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from quarch.config import SearchConfig
from quarch.spaces import get_spec, make_evaluator
from quarch.spaces.hqnn.evaluator import HQNNEvaluator
from quarch.spaces.hqnn.model import HybridNet

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")


def _setup(noise_max_qubits: int) -> tuple[HQNNEvaluator, dict[str, Any], HybridNet]:
    cfg = SearchConfig(
        space="hqnn", dataset="iris", epochs=1,
        space_options={"max_qubits": 3, "max_layers": 2},
        evaluator_options={
            "device_profile": "ibm-manila", "noise": "device", "noise_samples": 1,
            "noise_max_qubits": noise_max_qubits, "noise_target_se": 0.002,
        },
    )  # fmt: skip
    spec = get_spec("hqnn")
    space = spec.build_space(cfg)
    ev = make_evaluator(space, cfg)
    assert isinstance(ev, HQNNEvaluator)
    arch = dict(space.sample(4), qubits=3, layers=2)
    model, _ = ev.fit(arch, seed=0)
    return ev, arch, model


@pytest.mark.parametrize("path", ["density", "trajectories"])
def test_noisy_error_is_aers(path: str) -> None:
    from quarch.cost.device_costs import observables_on_device
    from quarch.spaces.hqnn.model import observables_of
    from quarch.testing.aer import aer_expvals

    ev, arch, model = _setup(8 if path == "density" else 2)
    costs = ev.costs
    routed = ev.routed_circuit(arch)
    assert routed is not None  # a device profile is set
    words = observables_on_device(routed, observables_of(arch))
    X = torch.as_tensor(costs.data.X_val[:1], dtype=torch.float32)
    y = int(costs.data.y_val[0])
    with torch.no_grad():
        feats = model.features(X).double()
        ideal = model.quantum(feats.float()).double().numpy()[0]
    w = model.quantum.weights.detach().double().numpy()
    noisy = aer_expvals(routed, w.tolist(), feats.numpy(), words)[0]
    shift = noisy - ideal
    k = int(np.argmax(np.abs(shift)))
    assert abs(shift[k]) > 0.02  # the noise moves this expectation measurably

    # class y wins iff q_k lies on the noisy side of the midpoint; the others never win
    n_obs, n_cls = len(ideal), 3
    head = nn.Linear(n_obs, n_cls).double()
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(-100.0)
        other = (y + 1) % n_cls
        head.weight[y, k] = float(np.sign(shift[k]))
        head.bias[y] = -float(np.sign(shift[k])) * (ideal[k] + noisy[k]) / 2
        head.bias[other] = 0.0
    model.head = head.float()

    got = costs.noisy_scores(arch, model, seed=0)
    assert got["noisy_val_error"] == 0.0  # Aer's expectation: the true class
    # and the model without noise gets it wrong: the check can tell them apart
    with torch.no_grad():
        assert int(model.head(torch.as_tensor(ideal[None], dtype=torch.float32)).argmax()) != y
    if path == "trajectories":
        assert 0 < got["noisy_se"] <= 0.002 * 1.05
