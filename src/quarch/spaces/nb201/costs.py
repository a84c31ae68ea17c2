"""Parameters and multiply-accumulates of NAS-Bench-201 networks, in closed form.

NAS-Bench-201 (Dong & Yang, ICLR 2020) trains every cell in one fixed skeleton: a 3x3
stem convolution to 16 channels; three stages of 5 copies of the cell at 16, 32 and 64
channels on 32x32, 16x16 and 8x8 pixels, joined by two residual reduction blocks
(ReLU-Conv3x3(stride 2)-BN, ReLU-Conv3x3-BN, and a 2x2 average pool + 1x1 convolution
shortcut); then BN, ReLU, global average pooling and a linear classifier. Inside a cell
only the convolution edges carry weights and work: ``nor_conv_kxk`` is
ReLU-Conv(C, C, k)-BN (bias-free convolution, affine batch-norm), while ``none``,
``skip_connect`` and ``avg_pool_3x3`` have no parameters. So both counts are the
skeleton's fixed part plus a per-edge term, and ``C^2 H^2`` is the same (2^18) in all
three stages, so an edge costs the same wherever its cell sits.

Why closed form and not a torch model: the search scores cells by table look-up and
never builds the network; these counts agree with the skeleton built in torch
(``tests/cost/test_nb201_cost.py``) and with the benchmark's published range, 0.073 to
1.531 million parameters and 7.78 to 220.11 million MACs on CIFAR-10 (the benchmark
calls them MB and MFLOPs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quarch.spaces.nb201.space import nb201_arch_str

__all__ = ["nb201_macs", "nb201_params"]

_WIDTHS = (16, 32, 64)
_CELLS_PER_STAGE = 5
_PIXELS_CC = 16 * 16 * 32 * 32  # C^2 H^2 of every stage: 16^2 32^2 = 32^2 16^2 = 64^2 8^2


def _conv_edges(arch: Mapping[str, Any]) -> tuple[int, int]:
    """Numbers of ``nor_conv_3x3`` and ``nor_conv_1x1`` edges in the cell."""
    text = nb201_arch_str(arch)  # validates the cell
    return text.count("nor_conv_3x3"), text.count("nor_conv_1x1")


def nb201_params(arch: Mapping[str, Any], n_classes: int = 10) -> int:
    """Trainable parameters of the NAS-Bench-201 network built around cell ``arch``.

    Example:
        >>> from quarch.spaces.nb201.space import nb201_from_str
        >>> nb201_params(nb201_from_str("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
        73306
    """
    n3, n1 = _conv_edges(arch)
    stem = 3 * 16 * 9 + 2 * 16
    reductions = sum(
        (cin * cout * 9 + 2 * cout) + (cout * cout * 9 + 2 * cout) + cin * cout
        for cin, cout in ((16, 32), (32, 64))
    )
    head = 2 * 64 + 64 * n_classes + n_classes
    cells = _CELLS_PER_STAGE * sum(n3 * (9 * c * c + 2 * c) + n1 * (c * c + 2 * c) for c in _WIDTHS)
    return stem + reductions + head + cells


def nb201_macs(arch: Mapping[str, Any], n_classes: int = 10) -> int:
    """Multiply-accumulates of one 32x32 image through the network around cell ``arch``
    (convolutions and the classifier; batch-norm, activations and pooling are not
    counted, as in the benchmark).

    Example:
        >>> from quarch.spaces.nb201.space import nb201_from_str
        >>> nb201_macs(nb201_from_str("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"))
        7783040
    """
    n3, n1 = _conv_edges(arch)
    stem = 3 * 16 * 9 * 32 * 32
    reductions = sum(
        cin * cout * 9 * hw + cout * cout * 9 * hw + cin * cout * hw
        for cin, cout, hw in ((16, 32, 16 * 16), (32, 64, 8 * 8))
    )
    cells = 3 * _CELLS_PER_STAGE * (9 * n3 + n1) * _PIXELS_CC
    return stem + reductions + 64 * n_classes + cells
