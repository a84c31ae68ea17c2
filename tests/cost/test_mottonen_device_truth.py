"""Möttönen angles computed on the device of the features they are given.

``mottonen_angles`` runs inside a model's forward pass (the amplitude embedding's
input map of a routed circuit), so on a GPU its features are CUDA tensors and every
table it builds (the Walsh matrices) must be put beside them. Checked without a GPU as
``tests/quantum/test_device_placement.py`` does: under torch's ``FakeTensorMode`` the
``meta`` device plays the GPU and an operator given a host tensor beside a device one
raises ``FakeTensorDeviceMismatchError``, as CUDA would (plain meta tensors do not).
Truth: the angles' device, and their shape and dtype against the same call on the
host (fake tensors have no values).
"""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from quarch.cost.routing import mottonen_angles


@pytest.mark.parametrize("n", [2, 3])
def test_the_angles_are_computed_on_the_features_device(n: int) -> None:
    want = mottonen_angles(torch.rand(4, 2**n, dtype=torch.float64))
    with FakeTensorMode(allow_non_fake_inputs=True):
        got = mottonen_angles(torch.zeros(4, 2**n, dtype=torch.float64, device="meta"))
        assert got.device.type == "meta"
        assert got.shape == want.shape == (4, 2**n - 1)
        assert got.dtype == want.dtype
