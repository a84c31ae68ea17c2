"""The nb201 space and its cell strings against the benchmark's own table.

Every one of the 15625 cell strings of ``../shared/data/nb201/nb201_cifar.csv`` is read
by a regular expression written here from the benchmark's format
``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` and compared with :func:`nb201_from_str`;
strings that break the format in one place each must be refused.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from quarch import SpaceError
from quarch.spaces.nb201.space import (
    NB201_EDGES,
    NB201_OPS,
    nb201_arch_str,
    nb201_from_str,
    nb201_space,
)

TABLE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "nb201" / "nb201_cifar.csv"
_OP = "|".join(NB201_OPS)
_CELL = re.compile(
    rf"^\|({_OP})~0\|\+\|({_OP})~0\|({_OP})~1\|\+\|({_OP})~0\|({_OP})~1\|({_OP})~2\|$"
)
GOOD = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"


@pytest.mark.skipif(not TABLE.is_file(), reason=f"NAS-Bench-201 table not found: {TABLE}")
def test_every_benchmark_string_reads_as_the_format_says() -> None:
    with TABLE.open() as f:
        cells = [row["arch"] for row in csv.DictReader(f)]
    assert len(cells) == len(set(cells)) == 15625
    for text in cells:
        m = _CELL.match(text)
        assert m is not None, text
        arch = nb201_from_str(text)
        # the groups come in the order of the edges (1<-0), (2<-0), (2<-1), (3<-0), ...
        assert arch == {f"edge_{t}_{f}": op for (t, f), op in zip(NB201_EDGES, m.groups(),
                                                                   strict=True)}  # fmt: skip
        assert nb201_arch_str(arch) == text


def test_space() -> None:
    s = nb201_space()
    assert s.name == "nb201"
    assert s.names == [f"edge_{t}_{f}" for t, f in NB201_EDGES]
    assert NB201_EDGES == ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
    assert all(s[n].options == NB201_OPS for n in s.names)


def test_outer_whitespace_is_allowed() -> None:
    assert nb201_from_str(f"  {GOOD}\n") == nb201_from_str(GOOD)


@pytest.mark.parametrize(
    "text",
    [
        GOOD.replace("|+", "| +", 1),  # a space inside the string
        GOOD.replace("~0|+", "~0X|+", 1),  # a stray character after an index
        GOOD.replace("nor_conv_3x3~0", "Xnor_conv_3x3~0", 1),
        GOOD.replace("none~1", "none~1~1", 1),  # two indices
        GOOD.replace("none~1", "none-1", 1),  # no separator
        GOOD.replace("avg_pool_3x3~1", "avg_pool_3x3~0", 1),  # wrong index
    ],
)
def test_broken_strings_are_refused(text: str) -> None:
    with pytest.raises(SpaceError, match=r"^(bad edge|node)"):
        nb201_from_str(text)


def test_a_refusal_names_the_bad_edge_and_the_string() -> None:
    text = GOOD.replace("none~1", "none~1~1")
    msg = f"bad edge 'none~1~1' in {text!r}; expected <op>~1"
    with pytest.raises(SpaceError, match=f"^{re.escape(msg)}$"):
        nb201_from_str(text)
    msg = f"not an nb201 cell string (expected 3 nodes joined by '+'): {'|none~0|'!r}"
    with pytest.raises(SpaceError, match=f"^{re.escape(msg)}$"):
        nb201_from_str("|none~0|")
    bad = "|none~0|+|none~0|+|none~0|none~1|none~2|"
    msg = f"node 2 of {bad!r} has 1 inputs; expected 2"
    with pytest.raises(SpaceError, match=f"^{re.escape(msg)}$"):
        nb201_from_str(bad)
