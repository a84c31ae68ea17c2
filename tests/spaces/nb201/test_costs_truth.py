"""NAS-Bench-201 costs against independent truth: the skeleton in torch and the table.

``tests/spaces/nb201/test_costs.py`` builds whole networks for explicit class counts;
here the defaults are checked (CIFAR-10's ten classes) against the parameter-free cell's
network built in torch, and every cell of the benchmark's own table
(``../shared/data/nb201/nb201_cifar.csv``) against the published range.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from quarch._errors import SpaceError
from quarch.spaces.nb201.costs import nb201_macs, nb201_params
from quarch.spaces.nb201.space import nb201_from_str

TABLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nb201" / "nb201_cifar.csv"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"


def _relu_conv_bn(cin: int, cout: int, k: int, stride: int) -> nn.Module:
    return nn.Sequential(
        nn.ReLU(), nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)
    )


class _Reduction(nn.Module):
    """Residual reduction block: two ReLU-Conv-BN and a pooled 1x1 shortcut."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.a = _relu_conv_bn(cin, cout, 3, 2)
        self.b = _relu_conv_bn(cout, cout, 3, 1)
        self.short = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x)) + self.short(x)


def _empty_cell_network(n_classes: int) -> nn.Module:
    """The skeleton around a cell of ``none`` edges: cells carry no weights and no MACs.

    NAS-Bench-201 (Dong & Yang, ICLR 2020, Sec. 2.1): stem Conv3x3-BN to 16 channels,
    residual reduction blocks to 32 and 64 channels, then BN-ReLU-pool-linear.
    """
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 1, 1, bias=False),
        nn.BatchNorm2d(16),
        _Reduction(16, 32),
        _Reduction(32, 64),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, n_classes),
    )


def test_defaults_are_cifar10_ten_classes() -> None:
    arch = nb201_from_str(EMPTY)
    net = _empty_cell_network(10)
    assert nb201_params(arch) == sum(p.numel() for p in net.parameters())
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        net.eval()(torch.zeros(1, 3, 32, 32))
    # torch counts 2 FLOPs per multiply-accumulate of convolutions and linears
    assert 2 * nb201_macs(arch) == counter.get_total_flops()


def test_refuses_a_cell_that_is_not_nb201() -> None:
    arch = dict(nb201_from_str(EMPTY), edge_2_1="conv_5x5")
    with pytest.raises(SpaceError, match=r"^edge_2_1='conv_5x5' is not an nb201 operation"):
        nb201_params(arch)
    with pytest.raises(SpaceError, match=r"^edge_2_1='conv_5x5' is not an nb201 operation"):
        nb201_macs(arch)


@pytest.mark.skipif(not TABLE.exists(), reason=f"NAS-Bench-201 table not found: {TABLE}")
def test_the_benchmarks_cells_span_the_published_range() -> None:
    """Paper / API: 0.073 to 1.531 M parameters, 7.78 to 220.11 M FLOPs (CIFAR-10)."""
    with TABLE.open() as f:
        cells = [row["arch"] for row in csv.DictReader(f)]
    assert len(cells) == 15625
    params, macs = [], []
    for text in cells:
        arch = nb201_from_str(text)
        params.append(nb201_params(arch))
        macs.append(nb201_macs(arch))
    # the published figures are truncated: 0.073 and 1.531 M, 7.78 and 220.11 M
    assert (min(params) // 1000, max(params) // 1000) == (73, 1531)
    assert (min(macs) // 10_000, max(macs) // 10_000) == (778, 22011)
    # CIFAR-100's head: 90 more classes of 64 weights and a bias, 64 MACs each
    arch = nb201_from_str(cells[0])
    assert nb201_params(arch, 100) - nb201_params(arch, 10) == 90 * 65
    assert nb201_macs(arch, 100) - nb201_macs(arch, 10) == 90 * 64
