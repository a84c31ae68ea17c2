"""Tests of the single-path one-shot SuperNet and batch-norm recalibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from quarch.evaluate import torch_threads
from quarch.spaces.cnn.model import EdgeCNN, InvertedResidual
from quarch.spaces.cnn.space import cnn_space
from quarch.spaces.cnn.supernet import SuperNet, recalibrate_bn

from ..._scope import per_module

SPACE = cnn_space(n_stages=2, max_blocks=2)
SHAPE = (1, 8, 8)


@pytest.fixture(scope=per_module)
def net() -> SuperNet:
    torch.manual_seed(0)
    n = SuperNet(SPACE, SHAPE, 10)
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in n.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                assert m.running_mean is not None and m.running_var is not None
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return n.eval()


def _dw_weight(net: EdgeCNN, stage: int, block: int) -> torch.Tensor:
    """The weight of the depthwise convolution of ``block`` in ``stage``."""
    blocks = net.stages[stage]
    assert isinstance(blocks, torch.nn.ModuleList)
    b = blocks[block]
    assert isinstance(b, InvertedResidual)
    conv = b.dw[0]
    assert isinstance(conv, torch.nn.Conv2d)
    return conv.weight


class TestWeightSharing:
    def test_forward_equals_extracted_child(self, net: SuperNet) -> None:
        x = torch.randn(8, *SHAPE)
        for seed in range(5):
            arch = SPACE.sample(seed)
            with torch.no_grad():
                assert torch.allclose(net(x, arch), net.extract(arch).eval()(x), atol=1e-6)

    def test_small_kernel_is_centre_of_largest(self, net: SuperNet) -> None:
        arch = dict(SPACE.sample(0), kernel_0_0=3, expand_0_0=3, width_mult=0.5)
        child = net.extract(arch)
        w_child = _dw_weight(child, 0, 0)
        w_big = _dw_weight(net.weights, 0, 0)
        assert w_big.shape[-1] == 7
        assert torch.equal(w_child, w_big[: w_child.shape[0], :, 2:5, 2:5])

    def test_leading_channels_are_shared(self, net: SuperNet) -> None:
        arch = dict(SPACE.sample(1), width_mult=0.5)
        child = net.extract(arch)
        w = child.head.weight
        assert torch.equal(w, net.weights.head.weight[:, : w.shape[1]])

    def test_gradients_reach_only_the_sampled_path(self) -> None:
        n = SuperNet(SPACE, SHAPE, 10).train()
        arch = dict(SPACE.sample(2), depth_0=1, depth_1=1, kernel_0_0=3)
        n(torch.randn(4, *SHAPE), arch).sum().backward()
        unused = _dw_weight(n.weights, 0, 1).grad
        assert unused is None or torch.count_nonzero(unused) == 0
        g = _dw_weight(n.weights, 0, 0).grad
        assert g is not None
        assert torch.count_nonzero(g[:, :, :2, :]) == 0  # outside the 3x3 centre
        assert torch.count_nonzero(g[:, :, 2:5, 2:5]) > 0

    def test_fit_lowers_the_loss(self) -> None:
        from quarch.data import load_dataset

        data = load_dataset("digits", seed=0)
        torch.manual_seed(0)
        n = SuperNet(SPACE, SHAPE, data.n_classes)
        X, y = data.X_train[:320], data.y_train[:320]
        with torch_threads(1):
            losses = n.fit(X, y, epochs=3, seed=0, batch_size=64)
        assert losses[-1] < losses[0]

    def test_fit_rejects_zero_epochs(self) -> None:
        with pytest.raises(ValueError, match="epochs must be >= 1; got 0"):
            SuperNet(SPACE, SHAPE, 10).fit(np.zeros((2, *SHAPE)), np.zeros(2), epochs=0, seed=0)


class TestRecalibration:
    def test_statistics_equal_batch_moments(self, net: SuperNet) -> None:
        arch = SPACE.sample(3)
        child = net.extract(arch)
        X = np.random.default_rng(0).random((300, *SHAPE), dtype=np.float32)
        recalibrate_bn(child, X, batch_size=100, max_batches=3)
        # The stem's batch-norm sees conv(x): its mean over (N, H, W) is computable by hand.
        with torch.no_grad():
            pre = child.stem[0](torch.as_tensor(X))
        bn = child.stem[1]
        assert isinstance(bn, torch.nn.BatchNorm2d) and bn.running_mean is not None
        assert torch.allclose(bn.running_mean, pre.mean(dim=(0, 2, 3)), atol=1e-5)
        assert not child.training
