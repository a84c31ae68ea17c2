"""The ``cnn`` space: edge CNNs of the MobileNetV2 / MCUNet family.

A network is a stem convolution, ``n_stages`` stages of inverted-residual blocks
(1x1 expansion, depthwise ``k x k``, optional squeeze-excite, 1x1 projection) and a
pooled linear classifier. The decisions are those MCUNet and ProxylessNAS search over
for microcontrollers, because those are what move latency, memory and energy on an
edge device:

* global: ``width_mult`` (scales every stage's channels), ``activation``
  (relu, relu6, hardswish), ``skip`` (residual connections where shapes match) and
  ``bits`` (8: trained with fake quantisation and exported int8; 32: float);
* per stage ``s``: ``depth_s``, the number of blocks used;
* per block ``s_b``: ``kernel_s_b`` (3, 5, 7), ``expand_s_b`` (1, 3, 6) and ``se_s_b``.

The space is fixed-length: block choices beyond a stage's depth are present and
ignored. Input size and class count come from the data set at build time, so the same
space serves 8x8 digits and 28x28 MNIST-size images (see :mod:`quarch.spaces.cnn.model`).
"""

from __future__ import annotations

from collections.abc import Sequence

from quarch.space._space import Choice, Space, option_list

__all__ = ["BASE_CHANNELS", "cnn_space", "stage_block_names"]

#: Output channels of each stage at width multiplier 1.0 (MCUNet-sized, MobileNetV2 ratios).
BASE_CHANNELS: tuple[int, ...] = (16, 24, 40, 64, 96)


def stage_block_names(stage: int, block: int) -> tuple[str, str, str]:
    """The choice names ``(kernel, expand, se)`` of block ``block`` of stage ``stage``."""
    return f"kernel_{stage}_{block}", f"expand_{stage}_{block}", f"se_{stage}_{block}"


def cnn_space(
    *,
    n_stages: int = 3,
    max_blocks: int = 3,
    kernels: Sequence[int] = (3, 5, 7),
    expansions: Sequence[int] = (1, 3, 6),
    width_mults: Sequence[float] = (0.5, 0.75, 1.0),
    activations: Sequence[str] = ("relu", "relu6", "hardswish"),
    bits: Sequence[int] = (8, 32),
) -> Space:
    """Build the edge CNN space.

    Args:
        n_stages (int): stages of inverted-residual blocks, 1 to 5; each after the first
            halves the resolution (three stages take 28x28 and 8x8 images to 2x2).
        max_blocks (int): most blocks per stage, 1 to 4; ``depth_s`` ranges over 1..max.
        kernels (Sequence[int]): odd depthwise kernel sizes.
        expansions (Sequence[int]): expansion ratios of the inverted residual.
        width_mults (Sequence[float]): channel multipliers in (0, 2].
        activations (Sequence[str]): subset of relu, relu6, hardswish.
        bits (Sequence[int]): subset of 8 and 32.

    Returns:
        Space: named ``"cnn"``.

    Raises:
        ValueError: an argument outside its allowed range (the message names it).

    Example:
        >>> s = cnn_space(n_stages=2, max_blocks=2)
        >>> len(s), s["kernel_0_0"].options
        (18, (3, 5, 7))
    """
    kernels, expansions, width_mults, activations, bits = (
        option_list(v) for v in (kernels, expansions, width_mults, activations, bits)
    )
    if not 1 <= n_stages <= len(BASE_CHANNELS):
        raise ValueError(f"n_stages must be in [1, {len(BASE_CHANNELS)}]; got {n_stages}")
    if not 1 <= max_blocks <= 4:
        raise ValueError(f"max_blocks must be in [1, 4]; got {max_blocks}")
    bad_k = [k for k in kernels if not (isinstance(k, int) and k >= 1 and k % 2 == 1)]
    if not kernels or bad_k:
        raise ValueError(f"kernels must be odd positive integers; got {list(kernels)}")
    bad_e = [e for e in expansions if not (isinstance(e, int) and e >= 1)]
    if not expansions or bad_e:
        raise ValueError(f"expansions must be integers >= 1; got {list(expansions)}")
    if not width_mults or any(not 0 < float(w) <= 2 for w in width_mults):
        raise ValueError(f"width_mults must lie in (0, 2]; got {list(width_mults)}")
    allowed_act = ("relu", "relu6", "hardswish")
    if not activations or any(a not in allowed_act for a in activations):
        raise ValueError(f"activations must be a subset of {list(allowed_act)}; got {activations}")
    if not bits or any(b not in (8, 32) for b in bits):
        raise ValueError(f"bits must be a subset of [8, 32]; got {list(bits)}")

    choices = [
        Choice("width_mult", [float(w) for w in width_mults]),
        Choice("activation", list(activations)),
        Choice("skip", [False, True]),
        Choice("bits", [int(b) for b in bits]),
    ]
    for s in range(n_stages):
        choices.append(Choice(f"depth_{s}", list(range(1, max_blocks + 1))))
        for b in range(max_blocks):
            k, e, se = stage_block_names(s, b)
            choices += [
                Choice(k, [int(x) for x in kernels]),
                Choice(e, [int(x) for x in expansions]),
                Choice(se, [False, True]),
            ]
    return Space(choices, name="cnn")
