"""The weight-sharing SuperNet and batch-norm recalibration against independent truth.

* A child is a freshly built :class:`EdgeCNN` whose every tensor is cut by hand from
  the shared one: the leading channels of each dimension and, for a 4-D (convolution)
  weight, the centre of each spatial dimension (Once-for-All's kernel sharing).
* Training is single-path one-shot (Guo et al., ECCV 2020), written out here as a plain
  loop: one uniformly sampled architecture per batch, Adam, cross-entropy.
* Recalibrated batch-norm statistics are the exact average of the per-batch moments.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from quarch.evaluate import torch_threads
from quarch.spaces.cnn.model import EdgeCNN
from quarch.spaces.cnn.space import cnn_space
from quarch.spaces.cnn.supernet import SuperNet, recalibrate_bn

from ..._scope import per_module
from ._batch_norm import randomise_batch_norm

SPACE = cnn_space(n_stages=2, max_blocks=2)
SHAPE = (1, 8, 8)


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread: on a shared 2-core machine, several times faster than two."""
    with torch_threads(1):
        yield


def _randomised(net: SuperNet, seed: int) -> SuperNet:
    randomise_batch_norm(net, torch.Generator().manual_seed(seed))
    return net


@pytest.fixture(scope=per_module)
def net() -> SuperNet:
    torch.manual_seed(0)
    return _randomised(SuperNet(SPACE, SHAPE, 10), 0).eval()


def _cut(big: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """Leading entries of every dimension; the centre of dims 2+ of a 4-D tensor."""
    idx = []
    for d, want in enumerate(shape):
        start = (big.shape[d] - want) // 2 if big.dim() == 4 and d >= 2 else 0
        idx.append(slice(start, start + want))
    return big[tuple(idx)]


class TestLargest:
    def test_largest_takes_every_maximum_whatever_the_order(self) -> None:
        space = cnn_space(n_stages=2, max_blocks=3, kernels=(5, 3), expansions=(6, 1, 3),
                          width_mults=(1.0, 0.5), activations=("hardswish", "relu"),
                          bits=(32, 8))  # fmt: skip
        big = SuperNet(space, SHAPE, 10).largest
        assert set(big) == set(space.names)
        for name, value in big.items():
            if name.startswith("kernel_"):
                assert value == 5
            elif name.startswith("expand_"):
                assert value == 6
            elif name.startswith("depth_"):
                assert value == 3
            elif name.startswith("se_"):
                assert value is True
        assert big["width_mult"] == 1.0
        space.validate(big)

    def test_single_option_choices(self) -> None:
        space = cnn_space(n_stages=1, max_blocks=1, kernels=(3,), expansions=(1,),
                          width_mults=(0.5,), activations=("relu",), bits=(8,))  # fmt: skip
        net = SuperNet(space, SHAPE, 3)
        space.validate(net.largest)
        assert net.largest["bits"] == 8 and net.largest["activation"] == "relu"
        arch = space.sample(0)
        x = torch.randn(2, *SHAPE)
        with torch.no_grad():
            assert torch.allclose(net.eval()(x, arch), net.extract(arch).eval()(x), atol=1e-6)

    def test_every_child_fits_in_the_shared_tensors(self) -> None:
        space = cnn_space(n_stages=2, max_blocks=2, kernels=(3, 7), expansions=(1, 6))
        net = SuperNet(space, SHAPE, 10)
        shared = net.weights.state_dict()
        for seed in range(20):
            child = EdgeCNN(space.sample(seed), SHAPE, 10)
            for name, t in child.state_dict().items():
                assert all(w <= h for w, h in zip(t.shape, shared[name].shape, strict=True))


class TestChildren:
    @pytest.mark.parametrize("seed", range(6))
    def test_extract_is_a_fresh_model_with_cut_weights(self, net: SuperNet, seed: int) -> None:
        arch = SPACE.sample(seed)
        shared = net.weights.state_dict()
        fresh = EdgeCNN(arch, SHAPE, 10)
        fresh.load_state_dict({k: _cut(shared[k], v.shape) for k, v in fresh.state_dict().items()})
        child = net.extract(arch)
        assert type(child) is EdgeCNN and child.arch == arch
        got = child.state_dict()
        assert list(got) == list(fresh.state_dict())
        for k, v in fresh.state_dict().items():
            assert got[k].shape == v.shape and torch.equal(got[k], v), k
        x = 2.0 * torch.randn(5, *SHAPE, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            want = fresh.eval()(x)
            assert torch.allclose(child.eval()(x), want, atol=1e-6)
            assert torch.allclose(net(x, arch), want, atol=1e-6)

    def test_kernels_are_cut_from_the_centre(self, net: SuperNet) -> None:
        for k in (3, 5, 7):
            arch = dict(SPACE.sample(1), kernel_0_0=k, kernel_1_0=k)
            child = net.extract(arch)
            for s in (0, 1):
                dw_c = child.stages[s][0].dw[0].weight  # type: ignore[index]
                dw_b = net.weights.stages[s][0].dw[0].weight  # type: ignore[index]
                lo = (7 - k) // 2
                assert dw_c.shape[-2:] == (k, k)
                assert torch.equal(dw_c, dw_b[: dw_c.shape[0], :, lo : lo + k, lo : lo + k])

    def test_training_mode_forward_uses_the_batch_and_the_shared_weights(self) -> None:
        torch.manual_seed(1)
        net = _randomised(SuperNet(SPACE, SHAPE, 10), 1)
        arch = dict(SPACE.sample(2), bits=32)
        x = torch.randn(6, *SHAPE)
        child = net.extract(arch).train()
        net.train()
        out = net(x, arch)
        assert torch.allclose(out, child(x), atol=1e-5)
        # the shared running statistics moved as the child's did
        for (name, buf), (cname, cbuf) in zip(
            net.extract(arch).named_buffers(), child.named_buffers(), strict=True
        ):
            assert name == cname
            assert torch.allclose(buf.float(), cbuf.float(), atol=1e-6), name
        net.eval()
        with torch.no_grad():
            assert torch.allclose(net(x, arch), child.eval()(x), atol=1e-5)

    def test_extract_copies_and_draws_nothing(self, net: SuperNet) -> None:
        arch = SPACE.sample(3)
        before = torch.get_rng_state()
        child = net.extract(arch)
        assert torch.equal(torch.get_rng_state(), before)
        shared = dict(net.weights.named_parameters())
        for name, p in child.named_parameters():
            assert p.data_ptr() != shared[name].data_ptr()
        head = net.weights.head.weight.detach().clone()
        with torch.no_grad():
            child.head.weight.add_(1.0)
        assert torch.equal(net.weights.head.weight, head)

    def test_an_architecture_outside_the_space_is_refused(self, net: SuperNet) -> None:
        arch = dict(SPACE.sample(0), kernel_0_0=9)
        hidden = EdgeCNN(arch, SHAPE, 10).plan.blocks[0].hidden
        big = net.weights.plan.blocks[0].hidden
        msg = f"cannot take ({hidden}, 1, 9, 9) from a super-tensor ({big}, 1, 7, 7)"
        with pytest.raises(ValueError, match=f"^{re.escape(msg)}$"):
            net.extract(arch)


class TestFit:
    def _hand_fit(self, net: SuperNet, X: np.ndarray, y: np.ndarray, epochs: int, seed: int,
                  batch_size: int, lr: float) -> list[float]:  # fmt: skip
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed)
        Xt, yt = torch.as_tensor(X, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        net.train()
        losses = []
        for _ in range(epochs):
            perm = torch.randperm(len(X), generator=gen)
            total = 0.0
            for i in range(0, len(X), batch_size):
                idx = perm[i : i + batch_size]
                opt.zero_grad()
                loss = F.cross_entropy(net(Xt[idx], SPACE.sample(rng)), yt[idx])
                loss.backward()
                opt.step()
                total += loss.item() * len(idx)
            losses.append(total / len(X))
        return losses

    def test_fit_is_single_path_one_shot_with_its_defaults(self) -> None:
        gen = np.random.default_rng(0)
        X = gen.random((200, *SHAPE))  # float64 on purpose: fit converts
        y = gen.integers(0, 10, 200)
        torch.manual_seed(3)
        a = SuperNet(SPACE, SHAPE, 10)
        b = copy.deepcopy(a)
        losses = a.fit(X, y, epochs=2, seed=5)  # batch_size 128 and lr 3e-3 by default
        want = self._hand_fit(b, X, y, epochs=2, seed=5, batch_size=128, lr=3e-3)
        assert len(losses) == 2
        assert losses == pytest.approx(want, rel=1e-5)
        assert not a.training and not a.weights.training
        for (n, p), q in zip(a.named_parameters(), b.parameters(), strict=True):
            assert torch.allclose(p, q, atol=1e-5), n

    def test_fit_with_other_settings(self) -> None:
        gen = np.random.default_rng(1)
        X = gen.random((70, *SHAPE)).astype(np.float32)
        y = gen.integers(0, 10, 70)
        torch.manual_seed(4)
        a = SuperNet(SPACE, SHAPE, 10)
        b = copy.deepcopy(a)
        losses = a.fit(X, y, epochs=1, seed=9, batch_size=32, lr=1e-2, device="cpu")
        want = self._hand_fit(b, X, y, epochs=1, seed=9, batch_size=32, lr=1e-2)
        assert losses == pytest.approx(want, rel=1e-5)
        for p, q in zip(a.parameters(), b.parameters(), strict=True):
            assert torch.allclose(p, q, atol=1e-5)

    def test_one_sample(self) -> None:
        X = np.random.default_rng(3).random((1, *SHAPE)).astype(np.float32)
        torch.manual_seed(6)
        a = SuperNet(SPACE, SHAPE, 10)
        b = copy.deepcopy(a)
        losses = a.fit(X, np.array([4]), epochs=1, seed=2)
        assert losses == pytest.approx(self._hand_fit(b, X, np.array([4]), 1, 2, 128, 3e-3))

    @pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
    def test_fit_on_the_gpu_equals_the_cpu(self) -> None:
        gen = np.random.default_rng(4)
        X = gen.random((60, *SHAPE)).astype(np.float32)
        y = gen.integers(0, 10, 60)
        torch.manual_seed(7)
        a = SuperNet(SPACE, SHAPE, 10)
        b = copy.deepcopy(a)
        la = a.fit(X, y, epochs=1, seed=3, batch_size=16, device="cuda")
        lb = b.fit(X, y, epochs=1, seed=3, batch_size=16)
        assert la == pytest.approx(lb, rel=1e-3)
        assert all(p.device.type == "cuda" for p in a.parameters())

    def test_labels_of_any_integer_type(self) -> None:
        gen = np.random.default_rng(2)
        X = gen.random((40, *SHAPE)).astype(np.float32)
        y = gen.integers(0, 10, 40)
        torch.manual_seed(5)
        a = SuperNet(SPACE, SHAPE, 10)
        b = copy.deepcopy(a)
        la = a.fit(X, y.astype(np.int32), epochs=1, seed=1, batch_size=16)
        lb = b.fit(X, y.astype(np.int64), epochs=1, seed=1, batch_size=16)
        assert la == lb


class _Recorder(nn.Module):
    """A model without batch-norm that records the batches it is given."""

    def __init__(self, device: str) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1, device=device))
        self.seen: list[tuple[torch.device, torch.dtype, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x.device, x.dtype, len(x)))
        return x


class TestRecalibration:
    def test_defaults_average_eight_batches_of_256(self, net: SuperNet) -> None:
        arch = dict(SPACE.sample(3), bits=32)
        child = net.extract(arch)
        X = np.random.default_rng(0).random((2600, *SHAPE))  # ten batches and more
        assert recalibrate_bn(child, X) is child
        with torch.no_grad():
            pre = child.stem[0](torch.as_tensor(X, dtype=torch.float32))
        batches = pre[: 8 * 256].reshape(8, 256, *pre.shape[1:])
        mean = batches.mean(dim=(1, 3, 4)).mean(0)
        var = batches.transpose(1, 2).flatten(2).var(dim=2, unbiased=True).mean(0)
        bn = child.stem[1]
        assert isinstance(bn, nn.BatchNorm2d)
        assert bn.running_mean is not None and bn.running_var is not None
        assert torch.allclose(bn.running_mean, mean, atol=1e-5)
        assert torch.allclose(bn.running_var, var, rtol=1e-4)
        assert bn.num_batches_tracked is not None and int(bn.num_batches_tracked) == 8
        assert not child.training
        assert all(m.momentum == 0.1 for m in child.modules() if isinstance(m, nn.BatchNorm2d))

    def test_batches_and_limit(self) -> None:
        rec = _Recorder("cpu")
        out = recalibrate_bn(rec, np.zeros((50, 3)), batch_size=20, max_batches=2)
        assert out is rec and not rec.training
        assert rec.seen == [(torch.device("cpu"), torch.float32, 20)] * 2
        rec = _Recorder("cpu")
        recalibrate_bn(rec, np.zeros((50, 3)), batch_size=20, max_batches=3)
        assert [n for _, _, n in rec.seen] == [20, 20, 10]

    def test_batches_go_to_the_models_device(self) -> None:
        rec = _Recorder("meta")
        recalibrate_bn(rec, np.zeros((10, 3)), batch_size=4)
        assert rec.seen == [
            (torch.device("meta"), torch.float32, 4),
            (torch.device("meta"), torch.float32, 4),
            (torch.device("meta"), torch.float32, 2),
        ]
