"""The nb201 space against the benchmark's own cell strings."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from quarch import SpaceError
from quarch.spaces import get_space
from quarch.spaces.nb201.space import NB201_OPS, nb201_arch_str, nb201_from_str, nb201_space

TABLE = Path(__file__).parents[3] / ".." / "shared" / "data" / "nb201" / "nb201_cifar.csv"


class TestCorrectness:
    def test_size_and_registry(self) -> None:
        s = get_space("nb201")
        assert s.size == 5**6 == 15625
        assert all(list(s[n].options) == list(NB201_OPS) for n in s.names)

    def test_known_string(self) -> None:
        text = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
        arch = nb201_from_str(text)
        assert arch["edge_1_0"] == "nor_conv_3x3"
        assert arch["edge_2_1"] == "avg_pool_3x3"
        assert arch["edge_3_2"] == "skip_connect"
        assert nb201_arch_str(arch) == text

    @pytest.mark.skipif(not TABLE.is_file(), reason="shared nb201 table absent")
    def test_strings_are_exactly_the_benchmark_cells(self) -> None:
        with open(TABLE) as f:
            table = {row["arch"] for row in csv.DictReader(f)}
        ours = {nb201_arch_str(a) for a in nb201_space()}
        assert ours == table
        for text in list(table)[:200]:
            assert nb201_arch_str(nb201_from_str(text)) == text


class TestInputs:
    def test_missing_edge(self) -> None:
        with pytest.raises(SpaceError, match="missing edge 'edge_3_0'"):
            nb201_arch_str({f"edge_{t}_{f}": "none" for t, f in [(1, 0), (2, 0), (2, 1)]})

    def test_bad_op(self) -> None:
        arch = dict(nb201_space().sample(0), edge_1_0="conv_5x5")
        with pytest.raises(SpaceError, match="edge_1_0='conv_5x5' is not an nb201 operation"):
            nb201_arch_str(arch)

    @pytest.mark.parametrize(
        ("text", "match"),
        [
            ("|none~0|+|none~0|none~1|", "expected 3 nodes"),
            ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 of .* has 1 inputs"),
            ("|none~1|+|none~0|none~1|+|none~0|none~1|none~2|", r"bad edge 'none~1'"),
        ],
    )
    def test_bad_strings(self, text: str, match: str) -> None:
        with pytest.raises(SpaceError, match=match):
            nb201_from_str(text)
