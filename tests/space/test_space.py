"""Tests of Choice and Space: validation messages, encodings, neighbours, Optuna glue."""

from __future__ import annotations

import itertools
import math

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quarch import SpaceError
from quarch.space import Choice, Space
from quarch.spaces import SPACES, get_space


def _space(counts: list[int]) -> Space:
    return Space([Choice(f"c{i}", list(range(k))) for i, k in enumerate(counts)])


counts_st = st.lists(st.integers(min_value=1, max_value=7), min_size=1, max_size=6)


class TestInputs:
    def test_empty_choice(self) -> None:
        with pytest.raises(SpaceError, match="needs at least one option"):
            Choice("k", [])

    def test_duplicate_options(self) -> None:
        with pytest.raises(SpaceError, match="duplicate options"):
            Choice("k", [3, 3])

    @pytest.mark.parametrize("options", [[1, 1.0, 2], [0, True, 1], [False, 0]])
    def test_options_equal_under_eq(self, options: list) -> None:
        """Optuna stores an option as the index of the first option equal to it, so
        1.0 beside 1 (or True beside 1) was a choice it could never make."""
        dist = optuna.distributions.CategoricalDistribution(options)
        later = [i for i, o in enumerate(options) if dist.to_internal_repr(o) != i]
        assert later  # the truth: Optuna loses these options
        with pytest.raises(SpaceError, match="are equal under =="):
            Choice("k", options)

    def test_bad_option_type(self) -> None:
        with pytest.raises(SpaceError, match="has type list"):
            Choice("k", [[1]])

    def test_a_string_is_not_a_list_of_options(self) -> None:
        """``Choice("act", "relu")`` was the four options r, e, l, u."""
        with pytest.raises(
            SpaceError,
            match=r"choice 'act' takes a list of options; got 'relu' \(one option: \['relu'\]\)",
        ):
            Choice("act", "relu")
        with pytest.raises(SpaceError, match="choice 'k' takes a list of options; got None"):
            Choice("k", None)  # type: ignore[arg-type]

    def test_nan_option(self) -> None:
        """NaN equals nothing, so no architecture could ever take it."""
        with pytest.raises(
            SpaceError, match=r"choice 'p': an option cannot be NaN; got \[nan, 0.5\]"
        ):
            Choice("p", [math.nan, 0.5])

    def test_space_of_something_else(self) -> None:
        with pytest.raises(
            SpaceError,
            match=r"a space is a list of Choice\(name, options\); got tuple \('k', \[3, 5\]\)",
        ):
            Space([("k", [3, 5])])  # type: ignore[list-item]

    def test_duplicate_names(self) -> None:
        with pytest.raises(SpaceError, match=r"duplicate choice names in space: \['a'\]"):
            Space([Choice("a", [1]), Choice("a", [2])])

    def test_validate_names_key_value_and_allowed(self) -> None:
        s = Space([Choice("kernel", [3, 5, 7])])
        with pytest.raises(
            SpaceError, match=r"kernel=4 is not an allowed value; allowed: \[3, 5, 7\]"
        ):
            s.validate({"kernel": 4})

    def test_validate_missing_and_unknown_keys(self) -> None:
        s = Space([Choice("kernel", [3, 5, 7])])
        with pytest.raises(SpaceError, match=r"missing choice\(s\) \['kernel'\]"):
            s.validate({})
        with pytest.raises(SpaceError, match=r"unknown choice\(s\) \['width'\]"):
            s.validate({"kernel": 3, "width": 1})

    def test_bool_is_not_int(self) -> None:
        s = Space([Choice("x", [0, 1])])
        with pytest.raises(SpaceError, match="not an allowed value"):
            s.validate({"x": True})

    def test_indices_are_whole_numbers(self) -> None:
        """numpy integers and whole floats name their option; a fraction, a bool or a
        string is refused (``int(1.7)`` used to pick option 1 without a word)."""
        s = _space([3, 2])
        want = {"c0": s.choices[0].options[2], "c1": s.choices[1].options[1]}
        assert s.from_indices([2, 1]) == want
        assert s.from_indices(np.array([2, 1])) == want
        assert s.from_indices(np.array([2.0, 1.0])) == want
        for bad, shown in [(1.7, "1.7"), (True, "True"), ("1", "'1'"), (np.float64(0.5), "0.5")]:
            with pytest.raises(
                SpaceError, match=rf"index of 'c0' must be a whole number; got {shown}$"
            ):
                s.from_indices([bad, 0])  # type: ignore[list-item]
        with pytest.raises(SpaceError, match=r"index 3 out of range for 'c0': allowed 0..2"):
            s.from_indices([3.0, 0])  # type: ignore[list-item]

    def test_wrong_bit_length(self) -> None:
        with pytest.raises(SpaceError, match="expected 3 onehot bits"):
            _space([3]).from_bits([1, 0])

    def test_unknown_encoding(self) -> None:
        with pytest.raises(SpaceError, match="encoding must be one of"):
            _space([3]).to_bits({"c0": 0}, encoding="gray")  # type: ignore[arg-type]

    def test_unknown_space(self) -> None:
        with pytest.raises(Exception, match="unknown space 'nope'; choose from: mlp, "):
            get_space("nope")


class TestContains:
    def test_names_and_architectures(self) -> None:
        """``name in space`` asks about a choice, as ``space[name]`` does, and an
        architecture is in a space that validates it; neither walks the architectures
        (``"lr" in space`` used to iterate all of them and answer False)."""
        walked = []

        def rule(arch: dict[str, object]) -> bool:
            walked.append(arch)
            return arch["k"] != 7

        s = Space([Choice("k", [3, 5, 7]), Choice("act", ["relu", "gelu"])], rule)
        assert "k" in s and "act" in s and "lr" not in s
        assert not walked
        assert {"k": 5, "act": "gelu"} in s
        assert {"k": 7, "act": "gelu"} not in s  # the constraint
        assert {"k": 4, "act": "gelu"} not in s and 3 not in s
        assert len(walked) == 2


class TestEncodings:
    def test_binary_uses_ceil_log2_bits(self) -> None:
        s = Space([Choice("k", [1, 3, 5, 7]), Choice("e", [1, 3, 6]), Choice("one", ["x"])])
        assert [c.n_bits("binary") for c in s.choices] == [2, 2, 0]
        assert s.to_bits({"k": 5, "e": 6, "one": "x"}, "binary").tolist() == [1, 0, 1, 0]

    def test_binary_repair_is_mod_k(self) -> None:
        s = Space([Choice("e", [1, 3, 6])])
        assert s.from_bits([1, 1], "binary") == {"e": 1}  # code 3 -> 3 mod 3 = 0

    def test_onehot_repair(self) -> None:
        s = Space([Choice("e", [1, 3, 6])])
        assert s.from_bits([0, 0, 0]) == {"e": 1}
        assert s.from_bits([0, 1, 1]) == {"e": 3}

    def test_size_is_product_and_iteration_enumerates(self) -> None:
        s = _space([2, 3, 4])
        archs = list(s)
        assert s.size == 24 == len(archs)
        assert len({tuple(a.values()) for a in archs}) == 24

    def test_binary_bits_match_python_binary_strings(self) -> None:
        # independent truth: format(i, 'b') zero-padded to ceil(log2 k) bits
        k = 6
        s = Space([Choice("c", list(range(k)))])
        width = math.ceil(math.log2(k))
        for i in range(k):
            want = [int(ch) for ch in format(i, f"0{width}b")]
            assert s.to_bits({"c": i}, "binary").tolist() == want


class TestNeighbors:
    def test_constraint_filters(self) -> None:
        s = Space(
            [Choice("a", [0, 1, 2]), Choice("b", [0, 1, 2])],
            constraint=lambda x: x["a"] + x["b"] <= 2,
        )
        assert all(x["a"] + x["b"] <= 2 for x in s.neighbors({"a": 1, "b": 1}))
        assert len(list(s)) == 6  # brute force: pairs with a+b<=2
        with pytest.raises(SpaceError, match="violates the constraint"):
            s.validate({"a": 2, "b": 2})
        rng = np.random.default_rng(0)
        assert all(s.is_valid(s.sample(rng)) for _ in range(50))


class TestSampling:
    def test_sample_is_seeded_and_covers(self) -> None:
        s = _space([3, 3])
        a = [s.sample(np.random.default_rng(5)) for _ in range(3)]
        assert a[0] == a[1] == a[2]
        rng = np.random.default_rng(0)
        seen = {tuple(s.sample(rng).values()) for _ in range(400)}
        assert seen == set(itertools.product(range(3), range(3)))


class TestOptuna:
    def test_distributions_and_suggest(self) -> None:
        s = get_space("mlp")
        dists = s.distributions()
        assert list(dists) == s.names
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        trial = study.ask(fixed_distributions=dict(dists))  # as Optuna's dict type
        arch = s.from_params(trial.params)
        assert s.validate(arch) == arch
        t2 = study.ask()
        arch2 = s.suggest(t2)
        assert s.is_valid(arch2) and set(t2.params) == set(s.names)


def test_registry_lists_mlp() -> None:
    assert "mlp" in SPACES
    assert get_space("mlp", max_layers=2).names[:3] == ["n_layers", "width_0", "width_1"]


# Hypothesis tests at module level: in a class, mutmut's two pytest runs in one
# process call them through two instances, which Hypothesis refuses
# (HealthCheck.differing_executors), so no mutant of the group could be run.
@settings(max_examples=60, deadline=None)
@given(counts=counts_st, data=st.data())
def test_round_trips(counts: list[int], data: st.DataObject) -> None:
    s = _space(counts)
    idx = [data.draw(st.integers(0, k - 1)) for k in counts]
    arch = s.from_indices(idx)
    assert s.to_indices(arch) == idx
    for enc in ("onehot", "binary"):
        bits = s.to_bits(arch, enc)
        assert bits.size == s.n_bits(enc)
        assert s.from_bits(bits, enc) == arch
    # one-hot has exactly one bit per choice
    assert int(s.to_bits(arch).sum()) == len(counts)


@settings(max_examples=60, deadline=None)
@given(counts=counts_st, data=st.data())
def test_from_bits_always_valid(counts: list[int], data: st.DataObject) -> None:
    s = _space(counts)
    for enc in ("onehot", "binary"):
        n = s.n_bits(enc)
        bits = data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n))
        arch = s.from_bits(bits, enc)
        assert s.validate(arch) == arch
        # decoding is deterministic
        assert s.from_bits(bits, enc) == arch


@settings(max_examples=60, deadline=None)
@given(counts=counts_st, data=st.data())
def test_differ_in_exactly_one_choice(counts: list[int], data: st.DataObject) -> None:
    s = _space(counts)
    arch = s.from_indices([data.draw(st.integers(0, k - 1)) for k in counts])
    nbrs = s.neighbors(arch)
    assert len(nbrs) == sum(k - 1 for k in counts)
    for nb in nbrs:
        assert sum(nb[n] != arch[n] for n in s.names) == 1
    assert len({tuple(nb.values()) for nb in nbrs}) == len(nbrs)
