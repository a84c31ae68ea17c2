"""Where and in which precision :class:`SmallRuntime` keeps its tables, and what it shares.

The runtime's docstring: it holds, "for one device and dtype", the index tables and
constant matrices of a program. Every tensor it makes is then on that device, its
complex constants in the dtype (``complex64`` or ``complex128``), its real ones (scale
matrices, slot terms, phase coefficients) in the matching real dtype and its indices
in ``int64``; a table left on the CPU would fail (or copy) on a GPU, and one in the
other precision would fail a matmul or silently promote. The ``meta`` device plays the
GPU (nothing is computed on it). Its index tensors are "one object per content": the
backward groups the partial traces of equal index into one call by identity.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from quarch.quantum import AngleEmbedding, Circuit, Input, RotationLayer
from quarch.quantum._small_cost import FOLD_ROWS, SINGLE_STATE
from quarch.quantum._small_plan import SmallProgram
from quarch.quantum._small_runtime import (
    _CDENSE,
    _CDIAG,
    _DENSE,
    _DIAG,
    _KRON,
    _PERM,
    SmallRuntime,
    host_rounded,
)


def _circuit() -> Circuit:
    """Every kind of instruction and table: a per-sample product state, a product of
    inputs, a per-sample and a shared Kronecker layer, CRX (dense of one angle), CZ
    (constant phases), CH (a constant dense matrix), CRZ (phases of one angle), CNOT
    (a permutation) and a CZ folded into a shared whole-register layer."""
    c = Circuit(3).ry(0, Input(0)).ry(1, Input(0, 1)).h(2)
    c.crx(1, 2, c.new_weight()).cz(0, 2).ch(0, 1).rx(1, c.new_weight())
    c.crz(2, 0, c.new_weight()).rx(0, Input(1)).cnot(0, 2)
    c.ry(2, c.new_weight()).cz(1, 2).cnot(0, 1)
    return c


def _walk(x: object) -> Iterator[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, (list, tuple)):
        for y in x:
            yield from _walk(y)
    elif isinstance(x, dict):
        for y in x.values():
            yield from _walk(y)


def _runtime(
    dtype: torch.dtype, device: str, whole_register: int, weights_batched: bool = False
) -> SmallRuntime:
    prog = SmallProgram(
        _circuit(), with_prefix=True, weights_batched=weights_batched, whole_register=whole_register
    )
    return SmallRuntime(
        prog, dtype, torch.device(device), fold_rows=FOLD_ROWS, single_state=SINGLE_STATE
    )


@pytest.mark.parametrize("weights_batched", [False, True])
@pytest.mark.parametrize("whole_register", [0, 3])
@pytest.mark.parametrize(
    ("dtype", "real"), [(torch.complex64, torch.float32), (torch.complex128, torch.float64)]
)
def test_every_table_is_on_the_device_in_the_runtime_s_precision(
    dtype: torch.dtype, real: torch.dtype, whole_register: int, weights_batched: bool
) -> None:
    rt = _runtime(dtype, "meta", whole_register, weights_batched)
    assert rt.dtype is dtype and rt.real is real
    ops = {op[0] for op in rt.code}
    if whole_register and not weights_batched:  # CZ, CNOT folded into the shared layers
        assert rt.fold is not None and ops == {_KRON, _DIAG, _CDIAG, _DENSE, _CDENSE}
    else:
        assert rt.fold is None and ops == {_KRON, _PERM, _DIAG, _CDIAG, _DENSE, _CDENSE}
    rt.variant(1, False)
    rt.variant(FOLD_ROWS * 4, True)  # the variants' indices too
    trace = next(iter(rt.layer_trace.values()))[0]
    group = rt.trace_group((trace, trace), 2, True)  # the backward's grouped traces
    fwd, bwd = rt.signs(np.ones((8, 2)))  # a sign table
    assert group.device.type == fwd.device.type == bwd.device.type == "meta"
    assert group.dtype == torch.int64 and fwd.dtype is real and bwd.dtype is real
    tables = {k: v for k, v in vars(rt).items() if k not in ("prog", "replays", "_host")}
    tensors = list(_walk(tables))
    assert len(tensors) > 20
    for t in tensors:
        assert t.device.type == "meta"
        assert t.dtype in (torch.int64, real, dtype)
    assert {t.dtype for t in tensors} == {torch.int64, real, dtype}
    # the angle tables are real: scales, slot terms, phase coefficients
    if weights_batched:  # every angle is per sample
        assert rt.scale_s is None and rt.scale_sT is None
    else:
        assert rt.scale_s is not None and rt.scale_s.dtype is real
        assert rt.scale_sT is not None and rt.scale_sT.dtype is real
    for pair in rt.scale_b:
        assert pair is None or all(m.dtype is real for m in pair)
    assert all(t.dtype is real for k in rt.terms for t in rt.terms[k])
    assert all(g.dtype is dtype for g in rt.gens.values())
    (diag,) = [op for op in rt.code if op[0] == _DIAG]
    assert diag[4].dtype is real and diag[5].dtype is real
    (dense,) = [op for op in rt.code if op[0] == _DENSE]
    assert all(t.dtype is real for t in dense[4] + dense[6])
    assert rt.identity.dtype is dtype


@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128])
def test_the_tables_hold_the_program_s_values(dtype: torch.dtype) -> None:
    """On the CPU the same tables hold the program's scales and constants, rounded to
    the dtype as the host copies say (``host_rounded``)."""
    rt = _runtime(dtype, "cpu", 3)
    prog = rt.prog
    real = rt.real
    assert rt.scale_s is not None and rt.scale_sT is not None
    np.testing.assert_array_equal(rt.scale_s.numpy(), prog.scale["s"].T.astype(real_np(real)))
    np.testing.assert_array_equal(rt.scale_sT.numpy(), prog.scale["s"].astype(real_np(real)))
    (cdense,) = [op for op in rt.code if op[0] == _CDENSE]
    (ins,) = [i for i in prog.instrs if i.op == "dense" and i.const is not None]
    assert ins.const is not None
    want = host_rounded(ins.const, dtype)
    np.testing.assert_array_equal(cdense[3].numpy().astype(np.complex128), want)
    np.testing.assert_array_equal(rt.host(cdense[3]), want)


def real_np(real: torch.dtype) -> type:
    return np.float32 if real == torch.float32 else np.float64


def test_equal_indices_are_one_tensor() -> None:
    """Layers whose Kronecker output is traced the same way share one index object
    (two halves at three wires: no constants folded into any layer)."""
    rt = _runtime(torch.complex128, "cpu", 0)
    assert rt.fold is None
    traces = [idx for idx, _ in rt.layer_trace.values()]
    assert len(traces) >= 3
    assert all(t is traces[0] for t in traces)
    a = rt._lt(np.arange(6).reshape(2, 3))
    assert rt._lt(np.arange(6).reshape(2, 3)) is a
    assert rt._lt(np.arange(6)) is not a  # another shape: another index
    assert a.dtype == torch.int64
    np.testing.assert_array_equal(rt.host(a), np.arange(6).reshape(2, 3))


def _bare(c: Circuit, whole_register: int, one_row: bool = False) -> SmallRuntime:
    prog = SmallProgram(
        c, with_prefix=True, weights_batched=False, whole_register=whole_register, one_row=one_row
    )
    return SmallRuntime(
        prog, torch.complex128, torch.device("cpu"), fold_rows=FOLD_ROWS, single_state=SINGLE_STATE
    )


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_shared_layers_are_whole_up_to_whole_register(n: int) -> None:
    """``whole``: shared layers are one ``2^n`` matrix each (applied with one matmul)
    exactly when the register is at most ``whole_register`` wide."""
    c = Circuit(n).add(RotationLayer(n, ("Y",))).cnot(0, n - 1).add(RotationLayer(n, ("X",)))
    for whole_register in (n - 1, n):
        rt = _bare(c, whole_register)
        assert rt.whole is (n <= whole_register)
        assert rt.parts["s"][0].dim == (2**n if n <= whole_register else 2 ** (n - (n + 1) // 2))


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_parts_of_equal_width_share_one_gather(n: int) -> None:
    """The per-sample layers' two halves are built in one gather when they are equally
    wide (even ``n``), in two otherwise, each covering its parts in order."""
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y")).cnot(0, n - 1)
    c.add(AngleEmbedding(n, rotation="X")).cnot(0, 1).add(AngleEmbedding(n, rotation="Z"))
    rt = _bare(c, 0)
    h = (n + 1) // 2
    assert rt.prog.parts["b"] == [(h, n), (0, h)]
    groups = rt.kron["b"]
    layers = rt.layers["b"]
    assert layers == 2
    if n % 2 == 0:
        assert [js for *_, js in groups] == [[0, 1]]
        (_, factors, entries, _), d = groups[0], 2 ** (n // 2)
        assert (factors, entries) == (n // 2, 2 * layers * d * d)
    else:
        assert sorted(js for *_, js in groups) == [[0], [1]]
        for _, factors, entries, (j,) in groups:
            a, b = rt.prog.parts["b"][j]
            assert (factors, entries) == (b - a, layers * 4 ** (b - a))


def test_inputs_are_read_exactly_when_an_angle_reads_them() -> None:
    """``reads_inputs``: the simulator hands the node the inputs only when some angle
    reads them, as a feature or through a product of features."""
    only_weights = Circuit(3).add(RotationLayer(3, ("Y",))).cnot(0, 1)
    features = Circuit(3).add(AngleEmbedding(3, rotation="Y")).cnot(0, 1)
    products = Circuit(3).ry(0, Input(0, 1)).rz(1, Input(1, 2)).cnot(0, 1)
    products.add(RotationLayer(3, ("X",)))
    for c, reads in ((only_weights, False), (features, True), (products, True)):
        assert _bare(c, 3).reads_inputs is reads
        assert _bare(c, 3, one_row=True).reads_inputs is reads


def test_host_rounded_keeps_a_real_array_real() -> None:
    """A float64 array is rounded to float32 as the device holds it, kept real: no
    detour through complex numbers (numpy would warn that it drops their imaginary
    parts)."""
    a = np.array([0.1, -1 / 3, 2.0**-30])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = host_rounded(a, torch.complex64)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, a.astype(np.float32).astype(np.float64))
