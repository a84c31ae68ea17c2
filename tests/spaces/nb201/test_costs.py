"""NAS-Bench-201 parameter and MAC counts against the benchmark's network built in torch.

The skeleton below follows the NAS-Bench-201 paper (Dong & Yang, ICLR 2020, Sec. 2.1
and its released model code's structure): stem, 3 x 5 cells, two residual reduction
blocks, BN-ReLU-pool-linear head; cell edges ReLU-Conv-BN for the convolutions.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from quarch.cost import count_flops
from quarch.spaces.nb201.costs import nb201_macs, nb201_params
from quarch.spaces.nb201.space import NB201_EDGES, nb201_from_str, nb201_space


def _relu_conv_bn(cin: int, cout: int, k: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)
    )


class _Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


class _Cell(nn.Module):
    def __init__(self, arch: dict, c: int) -> None:
        super().__init__()
        ops = {
            "none": lambda: _Zero(),
            "skip_connect": lambda: nn.Identity(),
            "nor_conv_1x1": lambda: _relu_conv_bn(c, c, 1),
            "nor_conv_3x3": lambda: _relu_conv_bn(c, c, 3),
            "avg_pool_3x3": lambda: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
        }
        self.edges = nn.ModuleDict(
            {f"{t}_{f}": ops[arch[f"edge_{t}_{f}"]]() for t, f in NB201_EDGES}
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for t in (1, 2, 3):
            nodes.append(sum(self.edges[f"{t}_{f}"](nodes[f]) for f in range(t)))
        return nodes[-1]


class _Reduction(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.a = _relu_conv_bn(cin, cout, 3, 2)
        self.b = _relu_conv_bn(cout, cout, 3)
        self.short = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x)) + self.short(x)


def _network(arch: dict, n_classes: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16)]
    for i, c in enumerate((16, 32, 64)):
        if i:
            layers.append(_Reduction(c // 2, c))
        layers += [_Cell(arch, c) for _ in range(5)]
    layers += [
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, n_classes),
    ]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("n_classes", [10, 100])
def test_counts_equal_the_network_built_in_torch(n_classes: int) -> None:
    space = nb201_space()
    for seed in range(6):
        arch = space.sample(seed)
        net = _network(arch, n_classes)
        assert nb201_params(arch, n_classes) == sum(p.numel() for p in net.parameters())
        # torch's counter: 2 FLOPs per multiply-accumulate of convolutions and linears
        assert 2 * nb201_macs(arch, n_classes) == count_flops(net, (3, 32, 32))


def test_extremes_match_the_published_range() -> None:
    """Paper / API: 0.073 to 1.531 M parameters, 7.78 to 220.1 M FLOPs (CIFAR-10)."""
    empty = nb201_from_str("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    full = nb201_from_str(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|"
        "+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    assert round(nb201_params(empty) / 1e6, 3) == 0.073
    assert round(nb201_params(full) / 1e6, 2) == 1.53
    assert round(nb201_macs(empty) / 1e6, 2) == 7.78
    assert nb201_macs(full) / 1e6 == pytest.approx(220.11, abs=0.02)
