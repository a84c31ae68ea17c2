"""Sign tables of ``<Z-words>`` in the engine's stored layout (:mod:`quarch.quantum._measure`).

The engine leaves the final state in its own order (``sigma``: stored index -> true
basis index) and folds that order into the sign table, so the table's row ``s`` must
be the eigenvalue of the word on basis state ``sigma[s]``, written here from the bit
string. Words with X or Y have no sign table. The tables are cached (a layer asks for
the same words every call) and the caches are bounded.
"""

from __future__ import annotations

import numpy as np
import torch

from quarch.quantum import Circuit, compile_circuit
from quarch.quantum._measure import device_signs, sign_table
from quarch.quantum.measurements import parse_observables


def _engine(c: Circuit, k: int = 2) -> object:
    """The compiled engine and its runtime of ``c`` (block engine, width ``k``)."""
    plan = compile_circuit(c, dtype=torch.complex128, max_block_qubits=k, path="engine")
    return plan._runtime(True, False)


def _scrambled(n: int) -> Circuit:
    """CNOTs, SWAPs and X gates the engine defers into its layout (a non-trivial
    ``sigma``), around a trainable rotation."""
    c = Circuit(n)
    c.rx(0, c.new_weight())
    for q in range(n - 1):
        c.cnot(q, q + 1)
    c.swap(0, n - 1).x(1).cnot(n - 1, 1)
    return c


def test_signs_in_the_stored_layout() -> None:
    """Row ``s`` of the table is the eigenvalue of each word on basis state ``sigma[s]``
    (wire 0 = most significant bit), for a layout that is not the identity."""
    n = 4
    run = _engine(_scrambled(n))
    eng = run.eng  # type: ignore[attr-defined]
    assert not eng.identity_layout  # else this test could not see the layout folded in
    texts = ["Z0", "Z3", "Z1 Z2", "Z0 Z1 Z2 Z3"]
    words = tuple(parse_observables(texts, n))
    table = sign_table(eng, words)
    assert table is not None and table.shape == (2**n, len(texts))
    for s in range(2**n):
        b = int(eng.sigma[s])
        bits = [(b >> (n - 1 - q)) & 1 for q in range(n)]
        want = [(-1) ** bits[0], (-1) ** bits[3], (-1) ** (bits[1] + bits[2]), (-1) ** sum(bits)]
        np.testing.assert_array_equal(table[s], want)


def test_words_with_x_or_y_have_no_table() -> None:
    run = _engine(_scrambled(3))
    eng = run.eng  # type: ignore[attr-defined]
    assert sign_table(eng, tuple(parse_observables(["Z0", "X1"], 3))) is None
    assert sign_table(eng, tuple(parse_observables(["Y2"], 3))) is None


def test_tables_are_cached_and_the_cache_is_bounded() -> None:
    """The same words give the same array back (no rebuild per call); at most 64 word
    tuples are kept, and past that new tables are still right."""
    n = 7
    run = _engine(_scrambled(n))
    eng = run.eng  # type: ignore[attr-defined]
    first = tuple(parse_observables(["Z0 Z6"], n))
    table = sign_table(eng, first)
    assert sign_table(eng, first) is table
    # 2^7 - 1 distinct non-empty Z-words: far more than the cache holds
    many = [" ".join(f"Z{q}" for q in range(n) if (m >> q) & 1) for m in range(1, 2**n)]
    for text in many[:100]:
        words = tuple(parse_observables([text], n))
        got = sign_table(eng, words)
        assert got is not None
        assert len(eng.sign_cache) <= 64
    assert len(eng.sign_cache) == 64
    # a word past the bound is computed, not cached
    last = tuple(parse_observables([many[100]], n))
    got = sign_table(eng, last)
    assert got is not None and last not in eng.sign_cache
    wires = [int(t[1:]) for t in many[100].split()]
    for s in (0, 5, 77, 127):
        b = int(eng.sigma[s])
        assert got[s, 0] == (-1) ** sum((b >> (n - 1 - q)) & 1 for q in wires)


def test_device_tables_are_the_signs_in_both_forms() -> None:
    """The node's forward form repeats each row twice (``|psi|^2`` over interleaved
    (re, im) pairs) and the backward form is ``2 signs^T``; the same array gives the
    very same tensors back, another array its own."""
    run = _engine(_scrambled(3))
    eng = run.eng  # type: ignore[attr-defined]
    signs = sign_table(eng, tuple(parse_observables(["Z0", "Z1 Z2"], 3)))
    assert signs is not None
    cpu = torch.device("cpu")
    fwd, bwd = device_signs(run, signs, cpu)  # type: ignore[arg-type]
    t = torch.as_tensor(signs)
    assert fwd.dtype == bwd.dtype == torch.float64
    torch.testing.assert_close(fwd[0::2], t)
    torch.testing.assert_close(fwd[1::2], t)
    torch.testing.assert_close(bwd, 2 * t.T)
    again = device_signs(run, signs, cpu)  # type: ignore[arg-type]
    assert again[0] is fwd and again[1] is bwd
    other = sign_table(eng, tuple(parse_observables(["Z2"], 3)))
    assert other is not None
    fwd2, _ = device_signs(run, other, cpu)  # type: ignore[arg-type]
    torch.testing.assert_close(fwd2[0::2], torch.as_tensor(other))


def test_device_table_cache_is_bounded() -> None:
    """At most 64 device tables are kept (the cache is cleared when full), and each
    call still returns its own array's tables."""
    run = _engine(_scrambled(3))
    cpu = torch.device("cpu")
    # 70 distinct sign columns: the bits of i as +-1
    arrays = [1.0 - 2.0 * ((i >> np.arange(8)) & 1)[:, None] for i in range(70)]
    for a in arrays:
        fwd, _ = device_signs(run, a, cpu)  # type: ignore[arg-type]
        assert len(run.sign_cache) <= 64  # type: ignore[attr-defined]
        torch.testing.assert_close(fwd[0::2], torch.as_tensor(a))
