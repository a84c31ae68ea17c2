"""The dense variant's shared matrix and product state as trigonometric polynomials (fewer torch calls).

Why: at two qubits the dense variant (:mod:`~quarch.quantum._small_dense`) spends
about half of its forward building ``U^T`` and its derivatives from the slots'
matrices (about twenty torch calls: slot matrices, the rows' products, the Kronecker
gather, the layers' products, the map to the weights), each a few microseconds for a
few hundred multiply-adds. But every slot is ``M(a) = A + cos(a) B + sin(a) C`` with its
own angle, so each entry of ``U^T`` is a trigonometric polynomial in the ``k`` slot
angles with frequencies in ``{-1, 0, 1}`` per angle:

    U^T(a) = X_0 + sum_e (P_e cos(e.a) + Q_e sin(e.a)),   P_e = X_e + X_-e,
    Q_e = i (X_e - X_-e),

over the frequency vectors ``e`` whose first nonzero entry is ``+1``, and its
derivative with respect to ``a_j`` is the same sum with ``(e_j Q_e, -e_j P_e)``. The
angles are linear in the weights (``a = S^T w``), so are the ``e.a``, and the derivative
with respect to the weights is linear in the ``dU^T/da_j``. Hence, with constant tables
made once per plan,

    m = bias + T sin(E w + shift),   m = [U^T | dU^T/dw_1 | ... ]  (reals)

is the whole of what the variant's forward needs from the weights: an ``addmv``, a
``sin`` and an ``addmv``, then views.

The coefficients ``X_e`` are exact, not fitted: ``U^T`` is evaluated (float64, by the
host copies of the tables the variant's forward reads, :class:`HostTables`)
on the grid of every angle at ``0, 2 pi/3, 4 pi/3`` and a ``k``-dimensional FFT of
size 3 per axis returns them (frequencies of at most 1 per angle do not alias on three
points). Terms whose coefficients vanish are dropped: rotations (``A = 0``) leave
``2^(k-1)`` pairs of the ``(3^k - 1)/2``.

The price is ``rows x sines`` multiply-adds per call, ``(1 + W) 2 d^2`` rows and up to
``3^k - 1`` sines, exponential in the angles: the form is taken only where that work is
at most :data:`FOURIER_WORK` (set by measurement, ``benchmarks/dense_variant.py``),
which in the simulator benchmark's layer means 1 qubit with up to five layers of two
rotations, 2 qubits with up to two (or five of one rotation), 3 qubits with one (or two
of one), 4 qubits with one layer of one rotation.

The same holds for the per-sample side: a real product state and its ``n``
derivatives are products of one ``alpha + beta cos a + gamma sin a`` per wire, so
:func:`product_tables` writes them as ``bias + coef sin(angles x^T + shift)`` (one
``addmm`` of ``2^n`` sines of the inputs' sums and differences for rotations) in place
of the variant's gather and product over the wires, up to :data:`PRODUCT_TERMS` sines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch


@dataclass(frozen=True)
class HostTables:
    """Host copies of the dense variant's tables that the builders here read
    (float64 and complex128, rounded as the device's dtype holds them, so the forms are
    built from exactly the numbers the chains multiply). Built from these, never by
    reading the device back, a plan costs no device-to-host copy on a GPU and can be
    built under a fake device (``tests/quantum/test_device_placement.py``)."""

    m_base: np.ndarray  # [16 A]: per slot (re, im) of A, then of B and C in m_mat
    m_mat: np.ndarray  # [16 A, 2 A]
    row_index: list[np.ndarray] | None
    kron_index: np.ndarray  # [n C L d d]
    kron_phase: np.ndarray | None  # [L, d, d]
    row_phase: np.ndarray | None  # [d, 1]
    conj_matrix: np.ndarray  # [2 d d]
    segment: list[tuple[str, Any]]  # ("k", layer), ("c", const^T), ("p", phases), ("d", gate)


class DenseTables(Protocol):
    """What the tables here read of :class:`~quarch.quantum._small_dense.DenseTables`
    (a protocol, so that this module does not import the one that imports it)."""

    n: int
    d: int
    n_chains: int
    n_layers: int
    slot_rows: int
    layer_rows: list[set[int]]
    real_state: bool
    m_mat: torch.Tensor  # the tables' dtype and device
    host: HostTables


__all__ = [
    "FOURIER_WORK",
    "PRODUCT_TERMS",
    "HostTables",
    "SineTables",
    "fourier_tables",
    "product_tables",
]

FOURIER_WORK = 4e5
"""Most multiply-adds per call (rows of the table x sines) for which the trigonometric
form replaces the chains. Measured against the chains, the same plan both ways in
alternating rounds (``python benchmarks/dense_variant.py --fourier --budget 0.7``:
the simulator benchmark's layer with one or two rotations per qubit and layer, n = 1-4,
L = 1-6 wherever the form can be built, batch 8, 32, 256, 1024; load average 1.0-1.9):
every cell up to work 90,112 took 0.79-0.93x the chains' time (n = 2, L = 2 with RY
and RZ, 73,728: 0.855-0.895x), 360,448 (n = 2, five RY layers) 0.944-0.950x, 655,360
(n = 3, three RY layers) 1.018-1.040x, and 1,179,648 and more 1.11-10.2x. The bound
sits between the last win and the first loss."""

_GRID_LIMIT = 2_000_000
"""Most complex entries of a layer's grid evaluated to build the tables."""

_MAX_TERMS = 4096
"""Most terms the tables are built for whatever :data:`FOURIER_WORK` says (its
benchmark sets that bound to infinity; at 4,096 terms the form already lost)."""


class SineTables:
    """``bias + coef @ sin(angles @ v + shift)``, the form both builders here return:

    * :func:`fourier_tables`: ``v = w``, ``angles [S, W]``, ``shift [S]``, ``coef [(1 +
      W) 2 d^2, S]``, ``bias [(1 + W) 2 d^2]``: ``U^T`` (rows of ``(re, im)`` pairs, with
      the real state's row phases) followed by ``dU^T/dw`` per weight, doubled and (for a
      complex state) signed as :attr:`DenseTables.chain_scale` and
      :attr:`DenseTables.conj_matrix` make them;
    * :func:`product_tables`: ``v = x^T`` (batch last), ``angles [S, I]``, ``shift [S,
      1]``, ``coef [(n + 1) d, S]``, ``bias [(n + 1) d, 1]``: a real product state and its
      ``n`` derivatives.

    ``work``: multiply-adds of the ``coef`` product per column of ``v``; ``value_coef``,
    ``value_bias``: the first ``value_rows`` rows (views), the value without its
    derivatives, for a call that wants no gradient of ``v``."""

    def __init__(
        self,
        angles: torch.Tensor,
        shift: torch.Tensor,
        coef: torch.Tensor,
        bias: torch.Tensor,
        value_rows: int,
    ) -> None:
        self.angles, self.shift, self.coef, self.bias = angles, shift, coef, bias
        self.work = int(coef.shape[0] * coef.shape[1])
        self.value_coef, self.value_bias = coef[:value_rows], bias[:value_rows]


def _kron_on_grid(tab: DenseTables, layer: int, a: np.ndarray) -> np.ndarray:
    """Kronecker layer ``layer`` of chain 0 (transposed, with its folded phases) at each
    row of slot angles ``a [G, A]``, as :func:`~quarch.quantum._dense_shared._chains`
    builds it: ``[G, d, d]`` complex128, on the host.

    Only the layer's own rows are made, and their products along the depth are written
    out: numpy's ``matmul`` of many 2x2 matrices costs about a hundred times their
    arithmetic (every row's products on one 729-point grid took 9.3 ms that way, most
    of the table's build)."""
    g, n_slots = a.shape
    n, d, h = tab.n, tab.d, tab.host
    nr = tab.slot_rows
    depth = n_slots // nr
    rows = sorted(tab.layer_rows[layer])
    mat = h.m_mat.reshape(n_slots, 16, 2 * n_slots)
    base = h.m_base.reshape(n_slots, 16)
    acc = None  # [G, rows, 2, 2]: each row's product, first slot applied first
    for p in range(depth):
        j = np.array([p * nr + r for r in rows])
        m = base[j, :8] + np.cos(a[:, j, None]) * mat[j, :8, j]  # M = A + cos B + sin C
        m = m + np.sin(a[:, j, None]) * mat[j, :8, n_slots + j]
        mj = m.reshape(g, len(rows), 2, 2, 2).view(np.complex128)[..., 0]
        acc = mj if acc is None else (mj[..., :, :, None] * acc[..., None, :, :]).sum(-2)
    assert acc is not None
    # chain 0's gather: entry 4 * (row variant) + 2 u + i, variant 0 of row r
    kidx = h.kron_index.reshape(n, tab.n_chains, tab.n_layers, d, d)[:, 0, layer]
    per_row = 2 if depth == 1 else depth + 1  # variants per row in the index
    where = np.zeros(nr, dtype=np.int64)  # row -> its place among the layer's rows
    where[rows] = np.arange(len(rows))
    flat = kidx.reshape(-1)
    col = 4 * where[flat // 4 // per_row] + flat % 4
    kt = acc.reshape(g, -1)[:, col].reshape(g, n, d, d).prod(1)
    if h.kron_phase is not None:
        kt = kt * h.kron_phase[layer]
    return kt  # type: ignore[no-any-return]


def _layer_terms(
    tab: DenseTables, layer: int, slots: list[int], n_slots: int
) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero Fourier terms ``(e [T, len(slots)], X [T, d, d])`` of Kronecker layer
    ``layer`` in its own angles ``slots``: the layer on the grid of each angle at ``0,
    2 pi/3, 4 pi/3`` (the others 0) and an FFT of size 3 per angle (frequencies of at
    most 1 do not alias on three points)."""
    k, d = len(slots), tab.d
    digits = np.indices((3,) * k).reshape(k, 3**k).T  # [3^k, k] (one empty row for k = 0)
    a = np.zeros((len(digits), n_slots))
    a[:, slots] = digits * (2 * math.pi / 3)
    kt = _kron_on_grid(tab, layer, a).reshape([3] * k + [d, d])
    x = (np.fft.fftn(kt, axes=tuple(range(k))) / 3**k).reshape(-1, d, d)
    return _nonzero(_frequencies(digits), x)


def _frequencies(digits: np.ndarray) -> np.ndarray:
    """Frequencies -1, 0, 1 from their FFT indices (``e mod 3``)."""
    return np.where(digits == 2, -1, digits)


def _nonzero(e: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The terms ``(e, x)`` whose coefficients are not rounding (1e-13 of the largest)."""
    flat = np.abs(x).reshape(len(x), -1).max(1)
    keep = flat > 1e-13 * max(1.0, float(flat.max()))
    return e[keep], x[keep]


def _terms(tab: DenseTables, chained: list[int], n_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """All Fourier terms of ``U^T`` in the chained angles, ``(e [T, k], X [T, d, d])``:
    per layer (:func:`_layer_terms`), multiplied in the segment's order. The layers'
    angles are disjoint (the plan registers new rows, so new slots, for every Kronecker
    layer), so a product's frequency is the concatenation of its factors'."""
    k, d = len(chained), tab.d
    pos = {j: i for i, j in enumerate(chained)}
    e_all = np.zeros((1, k), dtype=np.int64)
    x_all: np.ndarray | None = None
    for what, val in tab.host.segment:
        if what == "c":
            x_all = val[None] if x_all is None else x_all @ val
            continue
        if what == "p":  # a constant diagonal: its phases on the columns
            x_all = np.diag(val)[None] if x_all is None else x_all * val
            continue
        slots = [j for j in chained if j % tab.slot_rows in tab.layer_rows[val]]
        e_l, x_l = _layer_terms(tab, val, slots, n_slots)
        e_full = np.zeros((len(e_l), k), dtype=np.int64)
        e_full[:, [pos[j] for j in slots]] = e_l
        e_all = (e_all[:, None] + e_full[None]).reshape(-1, k)
        x_all = x_l if x_all is None else (x_all[:, None] @ x_l[None]).reshape(-1, d, d)
    assert x_all is not None  # a qualifying segment has a Kronecker layer
    if tab.host.row_phase is not None:
        x_all = x_all * tab.host.row_phase
    return e_all, x_all


def _pairs(e: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(e [T, k], P [T, ...], Q [T, ...], X_0)`` from the terms ``X_e`` (``x [N,
    ...]``): each pair ``X_e e^{i e.a} + X_-e e^{-i e.a} = P cos(e.a) + Q sin(e.a)``
    under its ``e`` with first nonzero entry +1 (either member may be missing: a phase
    gate's ``e^{i a}`` has no ``e^{-i a}``), and the constant term."""
    k = e.shape[1]
    place = 3 ** np.arange(k)
    where = {int(c): i for i, c in enumerate((e % 3) @ place)}
    zero = np.zeros(x.shape[1:], dtype=np.complex128)
    x0 = x[where[0]] if 0 in where else zero
    nonzero = np.flatnonzero((e != 0).any(1))
    first = e[nonzero, np.argmax(e[nonzero] != 0, axis=1)]
    canon = np.unique(e[nonzero] * first[:, None], axis=0).reshape(-1, k)  # first +1

    def at(codes: np.ndarray) -> np.ndarray:
        got = [x[where[int(c)]] if int(c) in where else zero for c in codes]
        return np.array(got, dtype=np.complex128).reshape(len(codes), *x.shape[1:])

    xp, xm = at((canon % 3) @ place), at((-canon % 3) @ place)
    return canon.astype(np.float64), xp + xm, 1j * (xp - xm), x0


def _sine_table(p: np.ndarray, q: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """``coef [1 + M, R, 2T]`` over the columns ``(cos, sin)`` of each of ``T`` pairs
    (``p, q [T, R]``, real): block 0 is the value ``P cos + Q sin``, block ``1 + m``
    its derivative along direction ``m``, ``rates[m, t] (Q cos - P sin)`` (``rates [M,
    T]``: ``d(e_t.a)/d`` that direction)."""
    coef = np.zeros((1 + len(rates), p.shape[1], 2 * len(p)))
    coef[0, :, 0::2], coef[0, :, 1::2] = p.T, q.T
    coef[1:, :, 0::2] = rates[:, None, :] * q.T[None]
    coef[1:, :, 1::2] = -rates[:, None, :] * p.T[None]
    return coef


def _tables(
    freq: np.ndarray, coef: np.ndarray, bias: np.ndarray, like: torch.Tensor, column: bool
) -> SineTables:
    """:class:`SineTables` of dtype and device ``like``: ``freq [T, V]`` the pairs'
    ``e.a`` per unit of the variables (each twice: cos, then sin), ``coef [1 + M, R,
    2T]`` and ``bias [1 + M, R]`` (block 0 the value) flattened to rows; ``column``:
    shift and bias as columns (``v`` a matrix)."""
    s = 2 * len(freq)
    shift = np.tile([math.pi / 2, 0.0], len(freq))  # cos = sin(. + pi/2)
    extra = (1,) if column else ()

    def t(v: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(v), dtype=like.dtype, device=like.device)

    return SineTables(
        t(np.repeat(freq, 2, axis=0)),
        t(shift.reshape(s, *extra)),
        t(coef.reshape(-1, s)),
        t(bias.reshape(-1, *extra)),
        value_rows=coef.shape[1],
    )


def _reals(z: np.ndarray) -> np.ndarray:
    """Complex matrices ``[T, d, d]`` as their ``(re, im)`` pairs, row-major ``[T, 2 d^2]``."""
    return np.stack([z.real, z.imag], -1).reshape(len(z), -1)


def fourier_tables(tab: DenseTables, scale: np.ndarray, chained: list[int]) -> SineTables | None:
    """The trigonometric form of ``tab``'s shared matrix, or None where it costs more
    than :data:`FOURIER_WORK` per call (or a layer's grid more than the build allows).

    ``scale [W, A]``: the shared angles' scale (``a = scale^T w``); ``chained``: the
    slots that read a source (the others keep the angle 0)."""
    k, d = len(chained), tab.d
    n_w = scale.shape[0]
    rows = (1 + n_w) * 2 * d * d
    # at most (3 or 2 per angle: 2 where the slot has no constant term) - 1 sines
    m_base = tab.host.m_base.reshape(-1, 16)
    terms = math.prod(3 if np.abs(m_base[j, :8]).max() > 1e-12 else 2 for j in chained)
    widest = max((sum(j % tab.slot_rows in r for j in chained) for r in tab.layer_rows), default=0)
    too_much = rows * (terms - 1) > FOURIER_WORK or terms > _MAX_TERMS
    if k == 0 or too_much or 3**widest * d * d > _GRID_LIMIT:
        return None
    es, ps, qs, x0 = _pairs(*_terms(tab, chained, m_base.shape[0]))
    if rows * 2 * len(es) > FOURIER_WORK:
        return None
    # rows: U^T, then dU^T/dw_m = 2 sum_j scale[m, j] e_j (Q cos - P sin) (the chains'
    # doubling), signed for a complex state as the chains' d_w is
    freq = es @ scale[:, chained].T  # [T, W]: e.a = (e @ scale^T) w
    coef = _sine_table(_reals(ps), _reals(qs), 2 * freq.T)
    if not tab.real_state:
        coef[1:] *= tab.host.conj_matrix[None, :, None]
    bias = np.zeros((1 + n_w, 2 * d * d))
    bias[0] = _reals(x0[None])[0]
    return _tables(freq, coef, bias, tab.m_mat, column=False)


PRODUCT_TERMS = 16
"""Most sine terms for which the product state is built as a trigonometric polynomial
of the inputs (see :func:`product_tables`): measured against the gather on the same
plan in alternating rounds (``python benchmarks/dense_variant.py --product --budget
0.7``, RX and RY embeddings, L = 2, batch 8-1024), it took 0.910-0.974x the time in
every cell, n = 1-4 (2, 4, 8, 16 sines; load average 2.0-3.5); an embedding gate with
a constant term (up to 3^n - 1 sines) beyond 16 stays on the gather, unmeasured."""


def product_tables(
    triples: np.ndarray, bits: np.ndarray, scale: np.ndarray, like: torch.Tensor
) -> SineTables | None:
    """The real product state ``phi_k = prod_q v_q[bit_q(k)](a_q)`` and its derivatives
    ``d phi / d a_q`` as trigonometric polynomials of the wires' angles ``a = x @ scale``
    (``scale [I, n]``), where that takes at most :data:`PRODUCT_TERMS` sines; None
    otherwise.

    Why: the gather and product over the wires is five torch calls per forward; with
    few wires the same numbers are one ``addmm`` of the sines of the angles' sums and
    differences (each ``v_q = alpha + beta cos a + gamma sin a`` per entry, ``triples
    [n, 2, 3]``, so a product of them has frequencies -1, 0, 1 per wire; the
    coefficients are products of the wires' own, exact). ``bits [n, d]``: each
    amplitude's bit per wire (leading permutations applied); ``like``: dtype and device
    of the tables."""
    n, d = bits.shape
    # per wire, entry and frequency (0, +1, -1): alpha, (beta - i gamma)/2, (beta + i gamma)/2
    c = np.stack(
        [
            triples[..., 0] + 0j,
            (triples[..., 1] - 1j * triples[..., 2]) / 2,
            (triples[..., 1] + 1j * triples[..., 2]) / 2,
        ],
        -1,
    )  # [n, 2, 3]
    digits = np.indices((3,) * n).reshape(n, 3**n).T  # [3^n, n]
    # X_e[k] = prod_q c[q, bit_q(k), e_q]: [3^n, d]
    x = np.ones((3**n, d), dtype=np.complex128)
    for q in range(n):
        x = x * c[q][bits[q]][:, digits[:, q]].T
    es, ps, qs, x0 = _pairs(*_nonzero(_frequencies(digits), x))
    if not len(es) or 2 * len(es) > PRODUCT_TERMS:
        return None
    # rows: the state, then its derivative in each wire's angle (rates e_w)
    coef = _sine_table(ps.real, qs.real, es.T)
    bias = np.zeros((n + 1, d))
    bias[0] = x0.real
    return _tables(es @ scale.T, coef, bias, like, column=True)
