"""The ``nb201`` space: the NAS-Bench-201 cell (Dong & Yang, ICLR 2020).

A cell is a 4-node DAG; each of its 6 edges ``j <- i`` (node ``j`` reads node ``i``)
carries one of 5 operations, so the space has ``5**6 = 15625`` cells, every one of
them trained in the benchmark's tables. Choices are named ``edge_<j>_<i>`` in the order
of the benchmark's own string form ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``, which
:func:`nb201_arch_str` writes and :func:`nb201_from_str` reads, so a found cell can be
looked up in any NAS-Bench-201 API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quarch._errors import SpaceError
from quarch.space._space import Arch, Choice, Space

__all__ = ["NB201_EDGES", "NB201_OPS", "nb201_arch_str", "nb201_from_str", "nb201_space"]

#: The operations, in the benchmark's order.
NB201_OPS: tuple[str, ...] = (
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
)
#: The edges ``(to_node, from_node)`` in the order of the cell string.
NB201_EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


def _edge_name(to: int, frm: int) -> str:
    return f"edge_{to}_{frm}"


def nb201_space() -> Space:
    """The 15625-cell NAS-Bench-201 space: one 5-way choice per edge.

    Example:
        >>> s = nb201_space()
        >>> s.size, s.names[:2]
        (15625, ['edge_1_0', 'edge_2_0'])
    """
    return Space([Choice(_edge_name(t, f), list(NB201_OPS)) for t, f in NB201_EDGES], name="nb201")


def nb201_arch_str(arch: Mapping[str, Any]) -> str:
    """The benchmark's string of a cell, e.g. ``|nor_conv_3x3~0|+|...|``.

    Raises:
        SpaceError: a missing edge or an unknown operation.
    """
    nodes: list[str] = []
    for node in (1, 2, 3):
        parts = []
        for frm in range(node):
            key = _edge_name(node, frm)
            if key not in arch:
                raise SpaceError(f"nb201 architecture is missing edge {key!r}")
            op = arch[key]
            if op not in NB201_OPS:
                raise SpaceError(f"{key}={op!r} is not an nb201 operation; allowed: {NB201_OPS}")
            parts.append(f"{op}~{frm}")
        nodes.append("|" + "|".join(parts) + "|")
    return "+".join(nodes)


def nb201_from_str(text: str) -> Arch:
    """Parse the benchmark's cell string into an architecture of :func:`nb201_space`.

    Raises:
        SpaceError: the text is not a NAS-Bench-201 cell string.
    """
    nodes = text.strip().split("+")
    if len(nodes) != 3:
        raise SpaceError(f"not an nb201 cell string (expected 3 nodes joined by '+'): {text!r}")
    arch: Arch = {}
    for node, part in enumerate(nodes, start=1):
        ops = [p for p in part.strip("|").split("|") if p]
        if len(ops) != node:
            raise SpaceError(f"node {node} of {text!r} has {len(ops)} inputs; expected {node}")
        for frm, item in enumerate(ops):
            op, _, src = item.partition("~")
            if op not in NB201_OPS or src != str(frm):
                raise SpaceError(f"bad edge {item!r} in {text!r}; expected <op>~{frm}")
            arch[_edge_name(node, frm)] = op
    return arch
