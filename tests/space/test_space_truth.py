"""`Choice` and `Space` against brute force: every architecture of small spaces
enumerated with ``itertools.product``, bit layouts written out with ``format(i, "b")``
and one-hot lists, neighbours found by comparing every pair of architectures, a
chi-square test of :meth:`Space.sample` with a significance level fixed in advance, and
the exact text of every message the docstrings promise (one line naming the problem).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np
import optuna
import pytest
from scipy import stats

from quarch import SpaceError
from quarch.space import Choice, Encoding, Space, option_list

#: The chance that a correct sampler fails a chi-square test below: fixed before
#: looking at any seed, so a failure is evidence, not a tuned threshold.
ALPHA = 1e-3


def exactly(message: str) -> str:
    """A ``pytest.raises(match=...)`` pattern for the whole message and nothing else."""
    return f"^{re.escape(message)}$"


def space(counts: list[int], constraint: Callable[[dict[str, Any]], bool] | None = None) -> Space:
    """Choices ``c0, c1, ...`` whose options are strings (so no option equals its index)."""
    return Space(
        [Choice(f"c{j}", [f"o{j}{i}" for i in range(k)]) for j, k in enumerate(counts)],
        constraint,
    )


def brute(s: Space) -> list[dict[str, Any]]:
    """Every architecture of ``s`` meeting its constraint, last choice fastest."""
    every = (
        dict(zip(s.names, vals, strict=True))
        for vals in itertools.product(*(c.options for c in s.choices))
    )
    return [a for a in every if s.constraint is None or s.constraint(a)]


def onehot_ref(i: int, k: int) -> list[int]:
    return [1 if b == i else 0 for b in range(k)]


def binary_ref(i: int, k: int) -> list[int]:
    """``i`` in the fewest bits that count ``k`` codes, most significant first."""
    width = 0
    while 2**width < k:
        width += 1
    return [int(ch) for ch in format(i, f"0{width}b")] if width else []


def first_set_or_zero(bits: list[int]) -> int:
    return next((b for b, v in enumerate(bits) if v), 0)


def binary_value(bits: list[int]) -> int:
    return int("".join(map(str, bits)), 2) if bits else 0


#: Each encoding with its reference layout of one choice's option.
REFS: list[tuple[Encoding, Callable[[int, int], list[int]]]] = [
    ("onehot", onehot_ref),
    ("binary", binary_ref),
]
COUNTS = [[1], [2], [5], [1, 3], [3, 1, 2], [2, 4, 1, 3], [8, 1, 5]]
RULE = {"sum": lambda a: sum(int(v[2:]) for v in a.values()) % 3 != 1}


class TestChoiceMessages:
    def test_name(self) -> None:
        for bad in ["", 3, None]:
            with pytest.raises(
                SpaceError, match=exactly(f"a choice name must be a non-empty string; got {bad!r}")
            ):
                Choice(bad, [1])  # type: ignore[arg-type]

    @pytest.mark.parametrize("options", [b"ab", 5, None], ids=["bytes", "int", "none"])
    def test_options_that_are_no_list_get_no_hint(self, options: Any) -> None:
        """The ``(one option: [...])`` hint is for a string only."""
        with pytest.raises(
            SpaceError, match=exactly(f"choice 'k' takes a list of options; got {options!r}")
        ):
            Choice("k", options)

    def test_a_string_gets_the_hint(self) -> None:
        with pytest.raises(
            SpaceError,
            match=exactly(
                "choice 'act' takes a list of options; got 'relu' (one option: ['relu'])"
            ),
        ):
            Choice("act", "relu")

    def test_empty(self) -> None:
        with pytest.raises(
            SpaceError, match=exactly("choice 'k' needs at least one option; got none")
        ):
            Choice("k", iter([]))  # type: ignore[arg-type]

    def test_option_type(self) -> None:
        with pytest.raises(
            SpaceError,
            match=exactly(
                "choice 'k': option [1] has type list; allowed are None, bool, int, float and str"
            ),
        ):
            Choice("k", [3, [1]])

    def test_duplicates(self) -> None:
        with pytest.raises(
            SpaceError, match=exactly("choice 'k' has duplicate options: [3, 5, 3]")
        ):
            Choice("k", [3, 5, 3])

    def test_equal_under_eq_names_the_first_pair(self) -> None:
        with pytest.raises(
            SpaceError,
            match=exactly(
                "choice 'k': options 1 and True are equal under == (Optuna would only ever "
                "choose the first); keep one of them: [2, 1, True, 1.0]"
            ),
        ):
            Choice("k", [2, 1, True, 1.0])

    def test_every_allowed_type_and_any_iterable(self) -> None:
        c = Choice("k", (o for o in [None, False, 2, 2.5, "a", np.float64(0.25)]))  # type: ignore[arg-type]
        assert c.name == "k" and len(c) == 6
        assert c.options == (None, False, 2, 2.5, "a", 0.25) and isinstance(c.options, tuple)


class TestChoiceIndex:
    def test_type_exact_then_numeric(self) -> None:
        """``1 != True`` both ways; ints, floats and numpy scalars find equal numbers."""
        c = Choice("x", [0.5, 2, 3.0, True, "1"])
        want = [
            (0.5, 0), (np.float32(0.5), 0), (2, 1), (2.0, 1), (np.int64(2), 1), (3.0, 2),
            (3, 2), (np.int8(3), 2), (True, 3), (np.bool_(True), None), ("1", 4), (1, None),
            (False, None), ("2", None), (None, None),
        ]  # fmt: skip
        for value, i in want:
            if i is not None:
                assert c.index(value) == i, value
            else:
                with pytest.raises(
                    SpaceError,
                    match=exactly(
                        f"x={value!r} is not an allowed value; allowed: [0.5, 2, 3.0, True, '1']"
                    ),
                ):
                    c.index(value)

    def test_numbers_do_not_find_bools(self) -> None:
        c = Choice("b", [False, True])
        for value in (0, 1, 0.0, np.int64(1)):
            with pytest.raises(SpaceError, match="is not an allowed value"):
                c.index(value)

    @pytest.mark.parametrize("k", range(1, 18))
    def test_bits_per_choice(self, k: int) -> None:
        c = Choice("c", list(range(k)))
        assert c.n_bits() == c.n_bits("onehot") == k
        assert c.n_bits("binary") == len(binary_ref(0, k))

    def test_unknown_encoding(self) -> None:
        with pytest.raises(
            SpaceError, match=exactly("encoding must be one of ['onehot', 'binary']; got 'gray'")
        ):
            Choice("c", [1, 2]).n_bits("gray")  # type: ignore[arg-type]


class TestSpaceFacts:
    def test_messages(self) -> None:
        with pytest.raises(SpaceError, match=exactly("a space needs at least one choice")):
            Space([])
        with pytest.raises(
            SpaceError, match=exactly("duplicate choice names in space: ['a', 'b']")
        ):
            Space([Choice("b", [1]), Choice("a", [1]), Choice("b", [2]), Choice("c", [1]),
                   Choice("a", [3])])  # fmt: skip
        s = Space([Choice("a", [1, 2]), Choice("b", [1, 2, 3])])
        with pytest.raises(SpaceError, match=exactly("unknown choice 'z'; choices: ['a', 'b']")):
            s["z"]

    def test_attributes(self) -> None:
        def rule(a: dict[str, Any]) -> bool:
            return True

        s = Space(iter([Choice("a", [1, 2]), Choice("b", [1, 2, 3])]))  # type: ignore[arg-type]
        assert s.name == "custom" and s.constraint is None
        assert isinstance(s.choices, tuple) and [c.name for c in s.choices] == ["a", "b"]
        assert repr(s) == "Space(name='custom', choices=2, size=6)"
        named = Space([Choice("a", [1])], rule, name="mine")
        assert named.name == "mine" and named.constraint is rule
        assert repr(named) == "Space(name='mine', choices=1, size=1)"
        assert s["b"] is s.choices[1]

    @pytest.mark.parametrize("counts", COUNTS, ids=str)
    def test_sizes_and_slices(self, counts: list[int]) -> None:
        """``size`` counts the product's architectures; each choice's bits live in its
        own slice, in order, whatever the other choices hold."""
        s = space(counts)
        assert (
            s.size == len(brute(s))
            and len(s) == len(counts)
            and s.names == [f"c{j}" for j in range(len(counts))]
        )
        assert s.n_bits() == s.n_bits("onehot") and s.bit_slices() == s.bit_slices("onehot")
        for enc, ref in REFS:
            widths = [len(ref(0, k)) for k in counts]
            assert s.n_bits(enc) == sum(widths)
            starts = np.cumsum([0, *widths])
            assert s.bit_slices(enc) == [
                slice(int(a), int(b)) for a, b in itertools.pairwise(starts)
            ]

    def test_contains_other_things(self) -> None:
        s = space([2, 3])
        assert MappingProxyType({"c0": "o00", "c1": "o12"}) in s
        assert ["c0"] not in s and 3 not in s and None not in s and "o00" not in s


class TestValidate:
    def test_messages(self) -> None:
        s = Space([Choice("a", [1, 2]), Choice("b", [3]), Choice("c", [4])], name="nm")
        with pytest.raises(SpaceError, match=exactly("an architecture must be a dict; got list")):
            s.validate([("a", 1)])  # type: ignore[arg-type]
        with pytest.raises(
            SpaceError, match=exactly("architecture is missing choice(s) ['a', 'c']")
        ):
            s.validate({"b": 3})
        with pytest.raises(
            SpaceError, match=exactly("unknown choice(s) ['x', 'y']; choices: ['a', 'b', 'c']")
        ):
            s.validate({"y": 0, "a": 1, "b": 3, "c": 4, "x": 0})
        ruled = Space([Choice("a", [1, 2])], lambda a: a["a"] == 1, name="nm")
        with pytest.raises(
            SpaceError, match=exactly("architecture violates the constraint of space 'nm'")
        ):
            ruled.validate({"a": 2})
        assert not ruled.is_valid({"a": 2}) and ruled.is_valid({"a": 1})
        assert not ruled.is_valid({"a": 3}) and not ruled.is_valid({})

    def test_normalises_to_the_options_values_in_choice_order(self) -> None:
        """JSON and Optuna may hand back 5.0 for 5 or a numpy integer; the constraint
        and the caller see the option itself."""
        seen: list[dict[str, Any]] = []

        def rule(a: dict[str, Any]) -> bool:
            seen.append(dict(a))
            return True

        s = Space([Choice("k", [3, 5]), Choice("lr", [0.5, 1.0])], rule)
        out = s.validate({"lr": np.int64(1), "k": 5.0})
        assert out == {"k": 5, "lr": 1.0} and list(out) == ["k", "lr"]
        assert type(out["k"]) is int and type(out["lr"]) is float
        assert seen == [out] and [type(v) for v in seen[0].values()] == [int, float]


class TestSampling:
    def test_uniform_over_the_valid_architectures(self) -> None:
        """Counts of 3000 draws against equal frequencies over the architectures the
        constraint keeps (rejection sampling): a chi-square test at ALPHA."""
        s = space([3, 2, 4], RULE["sum"])
        archs = [tuple(a.values()) for a in brute(s)]
        assert 0 < len(archs) < s.size
        rng = np.random.default_rng(2024)
        draws = [tuple(s.sample(rng).values()) for _ in range(3000)]
        counts = [draws.count(a) for a in archs]
        assert sum(counts) == len(draws)  # nothing outside the valid set
        assert stats.chisquare(counts).pvalue > ALPHA

    def test_seeds(self) -> None:
        s = space([5, 5, 5])
        assert s.sample(7) == s.sample(np.random.default_rng(7)) == s.sample(7)
        assert len({tuple(s.sample(seed).values()) for seed in range(20)}) > 1
        assert s.is_valid(s.sample())

    def test_gives_up_after_max_tries(self) -> None:
        calls: list[int] = []

        def never(a: dict[str, Any]) -> bool:
            calls.append(1)
            return False

        s = Space([Choice("a", [1, 2])], never, name="nm")
        with pytest.raises(
            SpaceError,
            match=exactly("no architecture satisfying the constraint of 'nm' found in 7 samples"),
        ):
            s.sample(0, max_tries=7)
        assert len(calls) == 7
        calls.clear()
        with pytest.raises(SpaceError, match="found in 10000 samples"):
            s.sample(0)
        assert len(calls) == 10_000


class TestEncodingsAgainstBruteForce:
    @pytest.mark.parametrize("rule", [None, "sum"])
    @pytest.mark.parametrize("counts", COUNTS, ids=str)
    def test_iteration_indices_and_bits(self, counts: list[int], rule: str | None) -> None:
        s = space(counts, RULE[rule] if rule else None)
        assert list(s) == brute(s)
        for arch in brute(space(counts)):  # the encodings ignore the constraint
            idx = [int(arch[f"c{j}"][2:]) for j in range(len(counts))]
            assert s.from_indices(idx) == arch
            assert s.from_indices(np.array(idx, dtype=np.int32)) == arch
            if s.is_valid(arch):
                assert s.to_indices(arch) == idx
                for enc, ref in REFS:
                    want = [b for i, k in zip(idx, counts, strict=True) for b in ref(i, k)]
                    bits = s.to_bits(arch, enc)
                    assert bits.dtype == np.uint8 and bits.tolist() == want
            else:
                with pytest.raises(SpaceError, match="violates the constraint"):
                    s.to_indices(arch)
                with pytest.raises(SpaceError, match="violates the constraint"):
                    s.to_bits(arch)

    @pytest.mark.parametrize("counts", COUNTS, ids=str)
    def test_every_bit_vector_decodes_as_documented(self, counts: list[int]) -> None:
        """All ``2**n`` vectors: one-hot takes the first set bit (option 0 when none is),
        binary takes ``code mod k``; any shape is read flat."""
        s = space(counts)
        for enc, ref in REFS:
            widths = [len(ref(0, k)) for k in counts]
            n = sum(widths)
            if n > 10:  # 8 + 1 + 5 one-hot bits: 16384 vectors, slow and no new case
                continue
            for vec in itertools.product([0, 1], repeat=n):
                idx, start = [], 0
                for k, w in zip(counts, widths, strict=True):
                    group = list(vec[start : start + w])
                    start += w
                    idx.append(
                        first_set_or_zero(group) if enc == "onehot" else binary_value(group) % k
                    )
                want = {f"c{j}": f"o{j}{i}" for j, i in enumerate(idx)}
                assert s.from_bits(list(vec), enc) == want, (enc, vec)
                if n >= 2 and n % 2 == 0:  # a (2, n/2) array of bools or floats reads flat
                    shaped = np.array(vec).reshape(2, n // 2)
                    assert s.from_bits(shaped.astype(bool), enc) == want
                    assert s.from_bits(shaped.astype(np.float32), enc) == want

    def test_bit_messages(self) -> None:
        s = Space([Choice("a", [1, 2, 3]), Choice("b", [1, 2, 3, 4, 5])], name="nm")
        with pytest.raises(
            SpaceError, match=exactly("expected 5 binary bits for space 'nm'; got 4")
        ):
            s.from_bits([0, 1, 0, 1], "binary")
        with pytest.raises(
            SpaceError, match=exactly("expected 8 onehot bits for space 'nm'; got 9")
        ):
            s.from_bits([0] * 9)
        for call in (
            lambda: s.from_bits([0] * 5, "gray"),  # type: ignore[arg-type]
            lambda: s.to_bits({"a": 1, "b": 1}, "gray"),  # type: ignore[arg-type]
            lambda: s.n_bits("gray"),  # type: ignore[arg-type]
            lambda: s.bit_slices("gray"),  # type: ignore[arg-type]
        ):
            with pytest.raises(
                SpaceError,
                match=exactly("encoding must be one of ['onehot', 'binary']; got 'gray'"),
            ):
                call()

    @pytest.mark.parametrize(
        ("bad", "shown"),
        [(0.5, "0.5"), (2, "2"), (-1, "-1"), (math.nan, "nan"), (None, "None"), (0.25, "0.25")],
        ids=str,
    )
    def test_bits_are_zero_or_one(self, bad: Any, shown: str) -> None:
        """A value that is no bit is refused, naming it and its position: 0.7 was read
        as 0 (``astype(int64)``) and 2 as a set bit, without a word."""
        s = Space([Choice("a", [1, 2, 3]), Choice("b", [1, 2, 3, 4, 5])])
        for enc, n in ((REFS[0][0], 8), (REFS[1][0], 5)):
            bits: list[Any] = [0] * n
            bits[3] = bad
            with pytest.raises(
                SpaceError, match=exactly(f"bits must be 0 or 1; got {shown} at position 3")
            ):
                s.from_bits(bits, enc)  # type: ignore[arg-type]
        assert s.from_bits(np.array([0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0])) == {"a": 2, "b": 4}
        with pytest.raises(SpaceError, match=exactly("bits must be 0 or 1; got '0' at position 0")):
            s.from_bits(list("01000010"))  # type: ignore[arg-type]

    def test_index_messages(self) -> None:
        s = Space([Choice("a", [1, 2, 3]), Choice("b", [1, 2])], name="nm")
        with pytest.raises(SpaceError, match=exactly("expected 2 indices for space 'nm'; got 3")):
            s.from_indices([0, 0, 0])
        with pytest.raises(
            SpaceError, match=exactly("index -1 out of range for 'a': allowed 0..2")
        ):
            s.from_indices([-1, 0])
        with pytest.raises(SpaceError, match=exactly("index 2 out of range for 'b': allowed 0..1")):
            s.from_indices([2, 2])
        for bad, shown in [(np.bool_(True), "True"), (False, "False"), (None, "None"),
                           (np.float32(1.5), "1.5")]:  # fmt: skip
            with pytest.raises(
                SpaceError, match=exactly(f"index of 'a' must be a whole number; got {shown}")
            ):
                s.from_indices([bad, 0])  # type: ignore[list-item]
        assert s.from_indices(np.array([2.0, 1.0], dtype=np.float32)) == {"a": 3, "b": 2}


class TestNeighborsAgainstBruteForce:
    @pytest.mark.parametrize("rule", [None, "sum"])
    @pytest.mark.parametrize("counts", COUNTS, ids=str)
    def test_every_architecture(self, counts: list[int], rule: str | None) -> None:
        """The valid architectures at Hamming distance 1 over the choices, choice by
        choice and option by option."""
        s = space(counts, RULE[rule] if rule else None)
        valid = brute(s)
        for arch in valid:
            want = [
                b
                for j in range(len(counts))
                for b in valid
                if all((b[n] == arch[n]) == (n != f"c{j}") for n in s.names)
            ]
            assert s.neighbors(arch) == want

    def test_mixed_options_and_normalised_base(self) -> None:
        """An option of another type is a neighbour (None, False, 0.5 and "a" all
        differ); the base is normalised first (5.0 is option 5)."""
        s = Space([Choice("m", [None, False, 0.5, "a"]), Choice("k", [3, 5])])
        got = s.neighbors({"m": False, "k": 5.0})
        assert got == [{"m": None, "k": 5}, {"m": 0.5, "k": 5}, {"m": "a", "k": 5},
                       {"m": False, "k": 3}]  # fmt: skip
        assert all(type(g["k"]) is int for g in got)
        with pytest.raises(SpaceError, match="is not an allowed value"):
            s.neighbors({"m": 0, "k": 5})


class TestOptuna:
    def test_distributions(self) -> None:
        s = Space([Choice("k", [3, 5]), Choice("act", ["relu", None])])
        dists = s.distributions()
        assert list(dists) == ["k", "act"]
        assert all(isinstance(d, optuna.distributions.CategoricalDistribution)
                   for d in dists.values())  # fmt: skip
        assert dists["k"].choices == (3, 5) and dists["act"].choices == ("relu", None)

    def test_suggest_and_from_params(self) -> None:
        s = Space([Choice("k", [3, 5]), Choice("lr", [0.5, 1.0])], lambda a: a["k"] == 3)
        assert s.suggest(optuna.trial.FixedTrial({"k": 3, "lr": 1.0})) == {"k": 3, "lr": 1.0}
        with pytest.raises(SpaceError, match="violates the constraint"):
            s.suggest(optuna.trial.FixedTrial({"k": 5, "lr": 1.0}))
        assert s.from_params({"lr": 1, "k": 3, "other": 9}) == {"k": 3, "lr": 1.0}
        with pytest.raises(SpaceError, match=exactly("architecture is missing choice(s) ['lr']")):
            s.from_params({"k": 3, "other": 9})


class TestOptionList:
    @pytest.mark.parametrize(
        ("given", "want"),
        [
            ("angle-y, iqp", ["angle-y", "iqp"]),
            ("3,5,false", [3, 5, False]),
            (" 0.5 ,,null, ", [0.5, None]),
            ('"a",[1', ["a", "[1"]),
            ("", []),
            ((1, 2), [1, 2]),
            ([3], [3]),
            ({4}, [4]),
            (frozenset({5}), [5]),
            (0.03, [0.03]),
            (None, [None]),
            ({"a": 1}, [{"a": 1}]),
        ],
        ids=lambda v: repr(v),
    )
    def test_values(self, given: Any, want: list[Any]) -> None:
        got = option_list(given)
        assert got == want and isinstance(got, list)
        assert [type(g) for g in got] == [type(w) for w in want]


def test_the_references() -> None:
    """The bit references read back as Python reads binary and one-hot lists."""
    for k in range(1, 9):
        for i in range(k):
            assert binary_value(binary_ref(i, k)) == i and 2 ** len(binary_ref(i, k)) >= k
            assert first_set_or_zero(onehot_ref(i, k)) == i
    assert binary_ref(5, 6) == [1, 0, 1] and binary_ref(0, 1) == [] and binary_ref(1, 2) == [1]
