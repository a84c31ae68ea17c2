"""`Choice` and `Space`: a search space as plain data.

An architecture is a plain ``dict[str, value]`` over the space's choice names. Every
strategy sees the same fixed-length vector: a choice an architecture does not use
(layer 5 of a 3-layer net) is still present and simply ignored by the model builder.

Encodings:
    * indices: one integer per choice, the position of the value in ``Choice.options``.
    * one-hot bits: ``k`` bits per choice of ``k`` options.
    * binary bits: ``ceil(log2 k)`` bits per choice, most significant bit first (a choice
      with one option takes no bits). Codes ``>= k`` decode to no option and are repaired
      deterministically to ``code mod k``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from quarch._errors import SpaceError

if TYPE_CHECKING:
    import optuna

__all__ = ["Arch", "Choice", "Encoding", "Space"]

Arch = dict[str, Any]
Encoding = Literal["onehot", "binary"]
_ENCODINGS = ("onehot", "binary")
_OPTION_TYPES = (bool, int, float, str, type(None))


@dataclass(frozen=True, init=False)
class Choice:
    """One categorical decision of an architecture.

    Args:
        name (str): key of the decision in an architecture dict.
        options (Sequence): the allowed values, in a fixed order. Values are
            ``None``, ``bool``, ``int``, ``float`` or ``str`` so that they store in Optuna.

    Example:
        >>> Choice("kernel", [3, 5, 7]).n_bits("binary")
        2
    """

    name: str
    options: tuple[Any, ...]

    def __init__(self, name: str, options: Sequence[Any]) -> None:
        if not isinstance(name, str) or not name:
            raise SpaceError(f"a choice name must be a non-empty string; got {name!r}")
        if isinstance(options, str | bytes) or not isinstance(options, Iterable):
            raise SpaceError(  # a string is not split into its characters
                f"choice {name!r} takes a list of options; got {options!r}"
                + (f" (one option: [{options!r}])" if isinstance(options, str) else "")
            )
        opts = tuple(options)
        if not opts:
            raise SpaceError(f"choice {name!r} needs at least one option; got none")
        for o in opts:
            if not isinstance(o, _OPTION_TYPES):
                raise SpaceError(
                    f"choice {name!r}: option {o!r} has type {type(o).__name__}; "
                    "allowed are None, bool, int, float and str"
                )
            if isinstance(o, float) and math.isnan(o):  # equal to nothing: never chosen
                raise SpaceError(f"choice {name!r}: an option cannot be NaN; got {list(opts)}")
        if len({(type(o), o) for o in opts}) != len(opts):
            raise SpaceError(f"choice {name!r} has duplicate options: {list(opts)}")
        # Optuna finds an option by ==, so of 1 and 1.0 (or 1 and True) it would store and
        # return the first only: the second could never be chosen
        same = [(a, b) for i, a in enumerate(opts) for b in opts[i + 1 :] if a == b]
        if same:
            a, b = same[0]
            raise SpaceError(
                f"choice {name!r}: options {a!r} and {b!r} are equal under == (Optuna would "
                f"only ever choose the first); keep one of them: {list(opts)}"
            )
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "options", opts)

    def __len__(self) -> int:
        return len(self.options)

    def index(self, value: Any) -> int:
        """Position of ``value`` in the options (type-exact, so ``1 != True``)."""
        for i, o in enumerate(self.options):
            if type(o) is type(value) and o == value:
                return i
        # Accept ints for floats and numpy scalars, as JSON and Optuna may give them.
        numeric = (int, float, np.number)
        if not isinstance(value, bool) and isinstance(value, numeric):
            for i, o in enumerate(self.options):
                if not isinstance(o, bool) and isinstance(o, int | float) and o == value:
                    return i
        raise SpaceError(
            f"{self.name}={value!r} is not an allowed value; allowed: {list(self.options)}"
        )

    def n_bits(self, encoding: Encoding = "onehot") -> int:
        """Bits this choice takes in ``encoding``."""
        _check_encoding(encoding)
        if encoding == "onehot":
            return len(self.options)
        # ceil(log2 k) in integers: exact for any k >= 1 (0 bits for one option)
        return (len(self.options) - 1).bit_length()


def _index(raw: Any, name: str) -> int:
    """An option index as an ``int``: integers (numpy's too) and whole floats (``2.0``
    from a float array); ``int(1.7)`` used to pick option 1 without a word, and
    ``True`` option 1."""
    if not isinstance(raw, (bool, np.bool_)):
        if isinstance(raw, (int, np.integer)):
            return int(raw)
        if isinstance(raw, (float, np.floating)) and float(raw).is_integer():
            return int(raw)
    shown = raw.item() if isinstance(raw, np.generic) else raw  # 0.5, not np.float64(0.5)
    raise SpaceError(f"index of {name!r} must be a whole number; got {shown!r}")


def _check_encoding(encoding: str) -> None:
    if encoding not in _ENCODINGS:
        raise SpaceError(f"encoding must be one of {list(_ENCODINGS)}; got {encoding!r}")


class Space:
    """A fixed-length categorical search space.

    Args:
        choices (Sequence[Choice]): the decisions, in order. Names must be unique.
        constraint (Callable[[dict], bool] | None): optional validity rule over whole
            architectures; :meth:`sample` and :meth:`neighbors` only return architectures
            it accepts, and :meth:`validate` rejects the others.
        name (str): a label for messages and run folders.

    Example:
        >>> s = Space([Choice("k", [3, 5, 7, 9]), Choice("act", ["relu", "gelu"])])
        >>> s.size, s.to_bits({"k": 7, "act": "gelu"}, encoding="binary").tolist()
        (8, [1, 0, 1])
    """

    def __init__(
        self,
        choices: Sequence[Choice],
        constraint: Callable[[Arch], bool] | None = None,
        *,
        name: str = "custom",
    ) -> None:
        self.choices: tuple[Choice, ...] = tuple(choices)
        if not self.choices:
            raise SpaceError("a space needs at least one choice")
        for c in self.choices:
            if not isinstance(c, Choice):
                raise SpaceError(
                    f"a space is a list of Choice(name, options); got {type(c).__name__} {c!r}"
                )
        names = [c.name for c in self.choices]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise SpaceError(f"duplicate choice names in space: {dup}")
        self.constraint = constraint
        self.name = name
        self._by_name = {c.name: c for c in self.choices}

    # -- basic facts -------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """Choice names in order."""
        return [c.name for c in self.choices]

    @property
    def size(self) -> int:
        """Number of architectures, ignoring ``constraint`` (product of option counts)."""
        return math.prod(len(c) for c in self.choices)

    def __len__(self) -> int:
        return len(self.choices)

    def __contains__(self, item: object) -> bool:
        """A choice name (as for ``space[name]``) or an architecture :meth:`validate`
        accepts; without this, ``"lr" in space`` iterated every architecture."""
        if isinstance(item, str):
            return item in self._by_name
        return isinstance(item, Mapping) and self.is_valid(item)

    def __getitem__(self, name: str) -> Choice:
        try:
            return self._by_name[name]
        except KeyError:
            raise SpaceError(f"unknown choice {name!r}; choices: {self.names}") from None

    def __repr__(self) -> str:
        return f"Space(name={self.name!r}, choices={len(self.choices)}, size={self.size})"

    def n_bits(self, encoding: Encoding = "onehot") -> int:
        """Length of the bit vector in ``encoding``."""
        return sum(c.n_bits(encoding) for c in self.choices)

    def bit_slices(self, encoding: Encoding = "onehot") -> list[slice]:
        """The slice of the bit vector that encodes each choice, in order."""
        out, start = [], 0
        for c in self.choices:
            n = c.n_bits(encoding)
            out.append(slice(start, start + n))
            start += n
        return out

    # -- validity ----------------------------------------------------------------------
    def validate(self, arch: Mapping[str, Any]) -> Arch:
        """Check ``arch`` and return it normalised to the options' own values.

        Raises:
            SpaceError: a missing or unknown key, a value not among the options (the
                message names the key, the value and the allowed values), or an
                architecture the space's constraint rejects.
        """
        if not isinstance(arch, Mapping):
            raise SpaceError(f"an architecture must be a dict; got {type(arch).__name__}")
        missing = [n for n in self.names if n not in arch]
        if missing:
            raise SpaceError(f"architecture is missing choice(s) {missing}")
        extra = sorted(k for k in arch if k not in self._by_name)
        if extra:
            raise SpaceError(f"unknown choice(s) {extra}; choices: {self.names}")
        out = {c.name: c.options[c.index(arch[c.name])] for c in self.choices}
        if self.constraint is not None and not self.constraint(out):
            raise SpaceError(f"architecture violates the constraint of space {self.name!r}")
        return out

    def is_valid(self, arch: Mapping[str, Any]) -> bool:
        """Whether :meth:`validate` would accept ``arch``."""
        try:
            self.validate(arch)
        except SpaceError:
            return False
        return True

    # -- sampling ----------------------------------------------------------------------
    def sample(
        self, rng: np.random.Generator | int | None = None, *, max_tries: int = 10_000
    ) -> Arch:
        """Draw an architecture uniformly (rejection sampling under the constraint)."""
        gen = np.random.default_rng(rng)
        for _ in range(max_tries):
            arch = {c.name: c.options[int(gen.integers(len(c)))] for c in self.choices}
            if self.constraint is None or self.constraint(arch):
                return arch
        raise SpaceError(
            f"no architecture satisfying the constraint of {self.name!r} "
            f"found in {max_tries} samples"
        )

    def __iter__(self) -> Iterator[Arch]:
        """All architectures (that satisfy the constraint), in index order."""
        for idx in itertools.product(*(range(len(c)) for c in self.choices)):
            arch = self.from_indices(idx)
            if self.constraint is None or self.constraint(arch):
                yield arch

    # -- encodings ---------------------------------------------------------------------
    def to_indices(self, arch: Mapping[str, Any]) -> list[int]:
        """Option index of each choice, in choice order."""
        self.validate(arch)
        return [c.index(arch[c.name]) for c in self.choices]

    def from_indices(self, indices: Sequence[int] | np.ndarray) -> Arch:
        """Inverse of :meth:`to_indices` (does not check the constraint)."""
        if len(indices) != len(self.choices):
            raise SpaceError(
                f"expected {len(self.choices)} indices for space {self.name!r}; got {len(indices)}"
            )
        out: Arch = {}
        for c, raw in zip(self.choices, indices, strict=True):
            i = _index(raw, c.name)
            if not 0 <= i < len(c):
                raise SpaceError(f"index {i} out of range for {c.name!r}: allowed 0..{len(c) - 1}")
            out[c.name] = c.options[i]
        return out

    def to_bits(self, arch: Mapping[str, Any], encoding: Encoding = "onehot") -> np.ndarray:
        """Bit vector (uint8) of ``arch``; see the module docstring for the layouts."""
        _check_encoding(encoding)
        bits = np.zeros(self.n_bits(encoding), dtype=np.uint8)
        for sl, i in zip(self.bit_slices(encoding), self.to_indices(arch), strict=True):
            if encoding == "onehot":
                bits[sl.start + i] = 1
            else:
                n = sl.stop - sl.start
                for b in range(n):
                    bits[sl.start + b] = (i >> (n - 1 - b)) & 1
        return bits

    def from_bits(self, bits: Sequence[int] | np.ndarray, encoding: Encoding = "onehot") -> Arch:
        """Decode bits, repairing codes that name no option.

        Repair is deterministic: a one-hot group with no bit set takes option 0, and one
        with several takes the first set bit; a binary code ``>= k`` takes ``code mod k``.
        The constraint is not applied.

        Raises:
            SpaceError: the wrong number of bits, or a value other than 0 and 1 (``0.7``
                used to be read as 0, and ``2`` as 1, without a word).
        """
        _check_encoding(encoding)
        arr = np.asarray(bits).ravel()
        if arr.size != self.n_bits(encoding):
            raise SpaceError(
                f"expected {self.n_bits(encoding)} {encoding} bits for space {self.name!r}; "
                f"got {arr.size}"
            )
        values = arr.tolist()
        bad = next((i for i, b in enumerate(values) if b not in (0, 1)), None)
        if bad is not None:
            raise SpaceError(f"bits must be 0 or 1; got {values[bad]!r} at position {bad}")
        idx = []
        for c, sl in zip(self.choices, self.bit_slices(encoding), strict=True):
            group = arr[sl] != 0
            if encoding == "onehot":
                hits = np.flatnonzero(group)
                idx.append(int(hits[0]) if hits.size else 0)
            else:
                code = 0
                for b in group:
                    code = (code << 1) | int(b)
                idx.append(code % len(c))
        return self.from_indices(idx)

    # -- local moves -------------------------------------------------------------------
    def neighbors(self, arch: Mapping[str, Any]) -> list[Arch]:
        """Every valid architecture that differs from ``arch`` in exactly one choice."""
        base = self.validate(arch)
        out = []
        for c in self.choices:
            for o in c.options:
                if o == base[c.name] and type(o) is type(base[c.name]):
                    continue
                cand = dict(base)
                cand[c.name] = o
                if self.constraint is None or self.constraint(cand):
                    out.append(cand)
        return out

    # -- Optuna ------------------------------------------------------------------------
    def distributions(self) -> dict[str, optuna.distributions.CategoricalDistribution]:
        """One Optuna categorical distribution per choice, in choice order."""
        from optuna.distributions import CategoricalDistribution

        return {c.name: CategoricalDistribution(c.options) for c in self.choices}

    def suggest(self, trial: optuna.trial.BaseTrial) -> Arch:
        """Ask ``trial`` for every choice and return the architecture.

        A trial whose values violate the constraint raises :class:`SpaceError`, which the
        search loop records as a failed trial; strategies that know the space avoid it.
        """
        arch = {c.name: trial.suggest_categorical(c.name, c.options) for c in self.choices}
        return self.validate(arch)

    def from_params(self, params: Mapping[str, Any]) -> Arch:
        """The architecture of an Optuna trial's ``params`` (extra keys are ignored)."""
        return self.validate({n: params[n] for n in self.names if n in params})


def option_list(value: Any) -> list[Any]:
    """A space builder's list option as given by a user: a list, one value, or a
    comma-separated string whose items read as JSON where they can (``--space-option
    embeddings=angle-y,iqp``, ``kernels=3,5`` and a config file's ``embeddings =
    "angle-y"`` mean what they say, never a list of characters).

    Example:
        >>> option_list("angle-y,iqp"), option_list("3,5,false"), option_list(0.03)
        (['angle-y', 'iqp'], [3, 5, False], [0.03])
    """
    if isinstance(value, str):
        import json

        def item(text: str) -> Any:
            try:
                return json.loads(text)
            except ValueError:
                return text

        return [item(v.strip()) for v in value.split(",") if v.strip()]
    if isinstance(value, list | tuple | set | frozenset):
        return list(value)
    return [value]
