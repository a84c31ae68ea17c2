"""Observables and measurements on state vectors: Pauli words, probabilities, samples.

These helpers take a state ``[batch, 2**n]`` (or ``[2**n]``) in quarch's wire convention
(wire 0 = most significant bit) so that callers who build states themselves (QAOA,
Grover over a diagonal QUBO cost) use the same code as the circuit simulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from numbers import Integral, Real

import numpy as np
import torch

from quarch._errors import QuarchError

__all__ = [
    "MeasurementError",
    "PauliWord",
    "apply_diagonal",
    "estimate_expvals",
    "expval",
    "parse_observables",
    "probabilities",
    "sample_bitstrings",
    "z_each",
    "zz_neighbors",
]


class MeasurementError(QuarchError, ValueError):
    """An observable, a shot count or a state given to a measurement is invalid."""


def _given(value: object) -> str:
    """How a refused argument is shown at the end of its line: a number as itself
    (``0.7``), anything else with its type (``str '0.7'``), cut to 80 characters."""
    if isinstance(value, Real):
        return repr(value)[:80]
    return f"{type(value).__name__} {value!r}"[:80]


def _whole(value: object, what: str, least: int) -> int:
    """``value`` as an int if it is a whole number (a Python or numpy integer, not a
    bool) of at least ``least``, else one :class:`MeasurementError` line naming ``what``."""
    # type() first: a plain int skips the slower check against the Integral ABC
    if (type(value) is int or _integer(value)) and value >= least:  # type: ignore[operator]
        return int(value)  # type: ignore[call-overload]
    raise MeasurementError(f"{what} must be an integer >= {least}; got {_given(value)}")


def _integer(value: object) -> bool:
    """A Python or numpy integer that is not a bool."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def _seed_of(seed: object) -> int | None:
    """``seed`` as an int (``None`` stays ``None``), else one line."""
    if seed is None or type(seed) is int:
        return seed
    if not _integer(seed):
        raise MeasurementError(f"seed must be an integer or None; got {_given(seed)}")
    return int(seed)  # type: ignore[call-overload]


@dataclass(frozen=True)
class PauliWord:
    """A tensor product of Pauli operators, e.g. ``Z0 Z1`` or ``X0 Y2``.

    Attributes:
        terms (tuple[tuple[int, str], ...]): sorted ``(wire, "X" | "Y" | "Z")`` pairs;
            empty means the identity.
    """

    terms: tuple[tuple[int, str], ...]

    @property
    def is_diagonal(self) -> bool:
        """True when the word has only Z factors (measured from probabilities)."""
        return all(p == "Z" for _, p in self.terms)

    def __str__(self) -> str:
        return " ".join(f"{p}{w}" for w, p in self.terms) or "I"


ObservableLike = str | PauliWord | Mapping[int, str]

_TERM = re.compile(r"^([IXYZ])(\d+)$")


def _parse_one(obs: ObservableLike, n_qubits: int) -> PauliWord:
    if isinstance(obs, PauliWord):
        items = list(obs.terms)
    elif isinstance(obs, str):
        items = []
        for tok in obs.replace("@", " ").split():
            m = _TERM.match(tok.upper())
            if m is None:
                raise MeasurementError(
                    f"cannot read Pauli term {tok!r} in {obs!r}; write words like 'Z0 Z1' "
                    "or 'X0 Y2' (a letter I/X/Y/Z followed by a wire)"
                )
            if m.group(1) != "I":
                items.append((int(m.group(2)), m.group(1)))
    elif isinstance(obs, Mapping):
        items = [(_wire(w, obs), str(p).upper()) for w, p in obs.items() if str(p).upper() != "I"]
    else:
        raise MeasurementError(f"an observable must be a str like 'Z0 Z1' or a dict; got {obs!r}")
    wires = [w for w, _ in items]
    for w, p in items:
        if p not in ("X", "Y", "Z"):
            raise MeasurementError(f"Pauli letter must be I, X, Y or Z; got {p!r} in {obs!r}")
        if not 0 <= w < n_qubits:
            raise MeasurementError(
                f"observable {obs!r} acts on wire {w}; wires are 0..{n_qubits - 1}"
            )
    if len(set(wires)) != len(wires):
        raise MeasurementError(f"observable {obs!r} names a wire twice")
    return PauliWord(tuple(sorted(items)))


def _wire(w: object, obs: object) -> int:
    """A wire of a dict observable: an integer, or its digits in a str (a JSON key)."""
    if type(w) is int or _integer(w):
        return int(w)  # type: ignore[call-overload]
    if isinstance(w, str) and w.strip().lstrip("-").isdigit():
        return int(w)
    raise MeasurementError(f"observable {obs!r}: a wire must be an integer; got {_given(w)}")


def parse_observables(
    observables: ObservableLike | Sequence[ObservableLike] | None, n_qubits: int
) -> tuple[PauliWord, ...]:
    """Normalise observables; ``None`` means ``<Z>`` on every qubit."""
    if observables is None:
        return tuple(PauliWord(((w, "Z"),)) for w in range(n_qubits))
    if isinstance(observables, str | PauliWord | Mapping):
        observables = [observables]
    if isinstance(observables, tuple) and all(type(o) is PauliWord for o in observables):
        # already parsed (a QuantumLayer passes its words on every call): hashable, so
        # checked once per (words, n) instead of once per forward
        return _parse_cached(observables, n_qubits)
    if not isinstance(observables, Iterable):
        raise MeasurementError(
            "observables must be a Pauli word like 'Z0 Z1', a dict {wire: letter}, a "
            f"PauliWord or a list of them (None: <Z> on each qubit); got {_given(observables)}"
        )
    return _parse_all(observables, n_qubits)


def _parse_all(observables: Sequence[ObservableLike], n_qubits: int) -> tuple[PauliWord, ...]:
    out = tuple(_parse_one(o, n_qubits) for o in observables)
    if not out:
        raise MeasurementError("observables must name at least one Pauli word")
    return out


_parse_cached = lru_cache(maxsize=256)(_parse_all)


def z_each(n_qubits: int) -> list[str]:
    """``["Z0", "Z1", ...]``: <Z> on each qubit.

    Raises:
        MeasurementError: ``n_qubits`` is not an integer >= 1.
    """
    return [f"Z{w}" for w in range(_whole(n_qubits, "z_each: n_qubits", 1))]


def zz_neighbors(n_qubits: int, *, ring: bool = False) -> list[str]:
    """``["Z0 Z1", "Z1 Z2", ...]``: ZZ on neighbouring wires (closing the ring if asked).

    Raises:
        MeasurementError: ``n_qubits`` is not an integer >= 1.
    """
    n_qubits = _whole(n_qubits, "zz_neighbors: n_qubits", 1)
    pairs = [(i, i + 1) for i in range(n_qubits - 1)]
    if ring and n_qubits > 2:
        pairs.append((n_qubits - 1, 0))
    return [f"Z{a} Z{b}" for a, b in pairs]


@lru_cache(maxsize=512)
def _word_tables(
    word: PauliWord, layout: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Sign (diagonal part), flip index and phase of a word for a state in ``layout``."""
    return _word_tables_uncached(word, layout)


def _word_tables_uncached(
    word: PauliWord, layout: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    # _word_tables's body, undecorated: mutmut 3 mutates no decorated function
    n = len(layout)
    j = np.arange(2**n, dtype=np.int64)
    sign = np.ones(2**n)
    phase = np.ones(2**n, dtype=np.complex128)
    xmask = 0
    for w, p in word.terms:
        shift = n - 1 - layout.index(w)
        bit = (j >> shift) & 1
        if p in ("X", "Y"):
            xmask |= 1 << shift
        if p == "Z":
            sign *= 1 - 2 * bit
        if p == "Y":
            phase *= np.where(bit == 0, 1j, -1j)
    if xmask == 0:
        return sign, None, None
    return sign, j ^ xmask, phase * sign


def expval_in_layout(
    psi: torch.Tensor, words: Sequence[PauliWord], layout: tuple[int, ...]
) -> torch.Tensor:
    """Expectations of ``words`` for states ``psi [B, 2**n]`` stored in ``layout``."""
    dev = psi.device
    real = psi.real.dtype
    diag_idx = [i for i, w in enumerate(words) if w.is_diagonal]
    cols: list[torch.Tensor | None] = [None] * len(words)
    if diag_idx:
        probs = psi.real.square() + psi.imag.square()
        signs = np.stack([_word_tables(words[i], layout)[0] for i in diag_idx], axis=1)
        vals = probs @ torch.as_tensor(signs, dtype=real, device=dev)
        for k, i in enumerate(diag_idx):
            cols[i] = vals[:, k]
    for i, word in enumerate(words):
        if cols[i] is not None:
            continue
        _, flip, phase = _word_tables(word, layout)
        assert flip is not None and phase is not None
        flipped = psi[:, torch.as_tensor(flip, device=dev)]
        ph = torch.as_tensor(phase, dtype=psi.dtype, device=dev)
        cols[i] = (flipped.conj() * ph * psi).sum(-1).real
    return torch.stack([c for c in cols if c is not None], dim=-1)


def _batched(state: torch.Tensor, what: str) -> tuple[torch.Tensor, int]:
    if not isinstance(state, torch.Tensor) or state.dim() not in (1, 2):
        raise MeasurementError(f"{what} must be a tensor [2**n] or [batch, 2**n]")
    dim = state.shape[-1]
    n = dim.bit_length() - 1
    if dim != 2**n or n < 1:
        raise MeasurementError(f"{what} length must be a power of 2 (>= 2); got {dim}")
    return (state if state.dim() == 2 else state[None]), n


def expval(
    state: torch.Tensor, observables: ObservableLike | Sequence[ObservableLike] | None = None
) -> torch.Tensor:
    """Exact expectations of Pauli words: ``[batch, n_obs]`` (``[n_obs]`` for one state)."""
    psi, n = _batched(state, "state")
    words = parse_observables(observables, n)
    out = expval_in_layout(psi, words, tuple(range(n)))
    return out if state.dim() == 2 else out[0]


def probabilities(state: torch.Tensor) -> torch.Tensor:
    """Probabilities of basis states, same shape as ``state`` (real)."""
    _batched(state, "state")
    return state.real.square() + state.imag.square()


def apply_diagonal(
    state: torch.Tensor, diagonal: torch.Tensor, gamma: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """Apply the diagonal phase ``exp(-i * gamma * C)`` to a state.

    This is QAOA's cost layer (and Grover's oracle with ``gamma = pi`` and ``C`` a 0/1
    vector): a diagonal cost on ``n`` qubits costs one pass over the state, far less
    than a circuit of RZ/RZZ gates.

    Args:
        state (torch.Tensor): ``[2**n]`` or ``[batch, 2**n]`` complex amplitudes.
        diagonal (torch.Tensor): real ``C``, ``[2**n]`` (index order as the state).
        gamma (float | torch.Tensor): scalar, or ``[batch]`` for one angle per state.

    Returns:
        torch.Tensor: the new state, same shape; differentiable in ``gamma`` and ``C``.
    """
    _batched(state, "state")
    real = state.real.dtype
    # a Python sequence is read at the state's precision, not torch's float32 default
    seq = None if isinstance(diagonal, torch.Tensor) else real
    try:
        diagonal = torch.as_tensor(diagonal, dtype=seq, device=state.device)
    except (TypeError, ValueError, RuntimeError):
        raise MeasurementError(
            f"apply_diagonal: diagonal must be {state.shape[-1]} real numbers (a tensor, an "
            f"array or a list); got {_given(diagonal)}"
        ) from None
    if diagonal.shape != (state.shape[-1],):
        raise MeasurementError(
            f"diagonal must have shape ({state.shape[-1]},) to match the state; "
            f"got {tuple(diagonal.shape)}"
        )
    try:
        g = torch.as_tensor(gamma, dtype=real, device=state.device)
    except (TypeError, ValueError, RuntimeError):
        raise MeasurementError(
            f"apply_diagonal: gamma must be a number or one per state of the batch; got "
            f"{_given(gamma)}"
        ) from None
    if g.dim() == 1:
        if state.dim() != 2 or g.shape[0] != state.shape[0]:
            raise MeasurementError(
                f"gamma with shape {tuple(g.shape)} needs a state batch of that size; "
                f"got state shape {tuple(state.shape)}"
            )
        g = g[:, None]
    angle = -g * diagonal.to(real)
    return state * torch.polar(torch.ones_like(angle), angle)


def sample_bitstrings(
    state: torch.Tensor, shots: int, *, seed: int | None = None, probs: bool = False
) -> torch.Tensor:
    """Sample measurement outcomes in the computational basis.

    Args:
        state (torch.Tensor): amplitudes ``[2**n]`` (or probabilities when ``probs``).
        shots (int): number of samples, >= 1.
        seed (int | None): seed of the sampler, so repeated calls agree.
        probs (bool): ``state`` already holds probabilities.

    Returns:
        torch.Tensor: ``[shots, n]`` int64 bits, wire 0 first.

    Raises:
        MeasurementError: ``shots`` is not an integer >= 1, ``seed`` not an integer,
            or ``state`` not one state.
    """
    shots = _whole(shots, "shots", 1)
    seed = _seed_of(seed)
    _, n = _batched(state, "state")
    if state.dim() != 1:
        raise MeasurementError(
            f"sample_bitstrings takes one state [2**n]; got {tuple(state.shape)}"
        )
    p = state.detach() if probs else probabilities(state.detach())
    p = p.to(torch.float64).cpu().clamp_min(0)
    gen = torch.Generator()
    if seed is None:  # fresh entropy, without reseeding torch's global generator
        gen.seed()
    else:
        gen.manual_seed(seed)
    idx = torch.multinomial(p / p.sum(), shots, replacement=True, generator=gen)
    shifts = torch.arange(n - 1, -1, -1)
    return (idx[:, None] >> shifts) & 1


def estimate_expvals(
    state: torch.Tensor,
    observables: ObservableLike | Sequence[ObservableLike] | None,
    shots: int,
    *,
    seed: int | None = None,
) -> torch.Tensor:
    """Shot-sampled estimates of Pauli-word expectations for one state ``[2**n]``.

    Each word is measured in its own basis (H for X, S†H for Y) with ``shots`` samples,
    as hardware would; the estimate's standard error is about ``1/sqrt(shots)``.

    Returns:
        torch.Tensor: ``[n_obs]`` float64 estimates.

    Raises:
        MeasurementError: ``shots`` is not an integer >= 1, ``seed`` not an integer,
            or ``state`` not one state.
    """
    shots = _whole(shots, "shots", 1)
    seed = _seed_of(seed)
    _, n = _batched(state, "state")
    if state.dim() != 1:
        raise MeasurementError(f"estimate_expvals takes one state [2**n]; got {tuple(state.shape)}")
    words = parse_observables(observables, n)
    psi = state.detach().to(torch.complex128).cpu()
    h = torch.tensor([[1, 1], [1, -1]], dtype=torch.complex128) / 2**0.5
    hsdg = h @ torch.tensor([[1, 0], [0, -1j]], dtype=torch.complex128)
    out = []
    for k, word in enumerate(words):
        rot = psi.reshape([2] * n)
        for w, p in word.terms:
            if p == "Z":
                continue
            m = h if p == "X" else hsdg
            rot = torch.movedim(torch.tensordot(m, rot, dims=([1], [w])), 0, w)
        sub = None if seed is None else seed + k
        bits = sample_bitstrings(rot.reshape(-1), shots, seed=sub)
        cols = [w for w, _ in word.terms]
        parity = bits[:, cols].sum(-1) % 2 if cols else torch.zeros(shots, dtype=torch.int64)
        out.append((1 - 2 * parity).to(torch.float64).mean())
    return torch.stack(out)
