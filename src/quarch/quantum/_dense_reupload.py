"""Re-uploading programs in the dense variant: per-sample layers and phases between shared segments.

A re-uploading circuit applies its embedding again before every trainable layer:
``psi = phi(x) U_1^T E_2(x)^T U_2^T ...`` with ``E_l(x) = kron_q M_q(a_q)``, one
gate per wire whose angle ``a_q`` is read from the inputs (angle embeddings), or
per-sample phases ``e^{i theta_l(x)}`` where the embedding is diagonal after a
constant part that joins the segment before (H then RZ, IQP's RZZ: the plan merges
those into one diagonal instruction). Without this the dense variant
(:mod:`~quarch.quantum._small_dense`) took none of them (107 of 300 sampled ``hqnn``
architectures); it now takes those whose re-applied embedding has per-sample phases,
where that was measured to pay (:data:`~quarch.quantum._small_dense.REUPLOAD_SPAN`:
11 of the 29 IQP ones; the angle ones stay on the general method).

Each segment is a :class:`~quarch.quantum._dense_shared.SharedPart` with the chains
of its own angles only, and its ``dU^T/dw`` has rows for its own weights only
(:func:`segment_weights`). The segments use the chains, never the trigonometric form
(:mod:`~quarch.quantum._dense_fourier`): its tables took about 3 ms per segment to
build (an FFT over a grid of the segment's angles) for 0.05-0.1 ms saved per training
step, which pays back after 50-200 steps, while a search trains each architecture for
a few dozen (iris: three steps an epoch); 10-epoch iris trainings of two-qubit
re-uploading architectures took 1.05-1.14x the general method's time with the form
and 0.89-0.99x without. What is per sample is made for all layers at once, because at
these sizes a torch call costs more than its arithmetic and the general method
already makes its per-sample layers in a few calls for all of them:

* every ``E_l^T`` in one ``addmm`` for the wires' matrices, one ``sin``, one ``addmm``
  and one gather and product over the wires (batch first, ``[B, L, d, d]``), applied
  as one ``bmm`` per layer (``h_in = E^T h`` in the backward, one ``bmm`` too);
* every layer's phases in one ``addmm`` and one ``sin`` (a stacked
  :class:`~quarch.quantum._dense_diagonal.PhaseTables`), one product per layer;
* the inputs' gradient of all layers after the backward's sweep, in a few calls: the
  derivatives of ``E`` are not built, since every slot is ``C_1 exp(a X) C_0``, so
  ``dM/da = X' M`` with a constant ``X' = C_1 X C_1^-1`` (the plan's slot
  generator), hence ``dE/da_q psi = X'_q (E psi)`` with ``X'_q`` acting on wire ``q``,
  and

      dL/da_q = 2 Re sum_k h_k (X'_q psi_out)_k,

  one ``bmm`` of the stacked outputs by the stacked ``X'_q`` (constant), a product
  with the stacked ``h`` and a sum (``h = conj(dL/dpsi) / 2`` as the variant's
  backward computes it; the ``2`` is in the inputs' scale); the phases' part is
  :func:`~quarch.quantum._dense_diagonal.phase_input_grads` of the stacked blocks.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from quarch.quantum._dense_diagonal import PhaseTables, phase_factors, phase_input_grads
from quarch.quantum._dense_product import bit
from quarch.quantum._dense_shared import SharedPart, shared_matrix
from quarch.quantum._small_runtime import _DIAG, _KRON, SmallRuntime

__all__ = [
    "Reupload",
    "reupload_backward",
    "reupload_forward",
    "segment_weights",
]


def segment_weights(rt: SmallRuntime, head: int) -> list[np.ndarray]:
    """Per shared segment of ``rt.code[head:rt.tail]`` (runs between per-sample
    instructions), the weights its angles read, padded with -1 to one length: a
    segment's ``dU^T/dw`` gets those rows alone (with a row for every weight of the
    program, each segment's map from its chains to the weights and the backward's
    contraction with it did about as many times the work as there are segments)."""
    prog = rt.prog
    ss = prog.scale["s"]
    depth, nr = prog.slot_terms["s"].shape[:2]
    found: list[np.ndarray] = []
    i = head
    while i < rt.tail:
        if rt.code[i][1] == "b":
            i += 1
            continue
        angles: list[int] = []
        while i < rt.tail and rt.code[i][1] != "b":
            op = rt.code[i]
            if op[0] == _KRON:
                rows = prog.layers["s"][op[3]]
                angles += [p * nr + r for p in range(depth) for r in rows]
            elif op[0] == _DIAG:
                angles += list(range(*op[3]))
            i += 1
        found.append(np.flatnonzero(ss[:, angles].any(1)))
    most = max(len(f) for f in found)
    return [np.r_[f, np.full(most - len(f), -1)].astype(np.int64) for f in found]


class Reupload:
    """Device constants of what follows a re-uploading program's first segment,
    ``rt.code[lo:rt.tail]`` (built once per plan; ``first``: that segment, whose slot
    tables the others read; ``makers``: the real, index and complex table makers).

    * ``items``: in the program's order, ``("s", j)`` segment ``parts[j]``, ``("k",
      j)`` per-sample Kronecker layer ``j``, ``("p", j)`` phases block ``j``;
    * ``x_scale2 [I, 2nK]``, ``x_shift [2nK]``: ``sin(x @ x_scale2 + x_shift)`` is,
      per layer, ``[cos a | sin a]`` of its wires' angles; ``e_base [8nK]``, ``e_mat
      [2nK, 8nK]``: then ``e_base + sines @ e_mat`` is every wire's ``M = A + cos(a) B
      + sin(a) C`` (re, im interleaved); ``index [n K d d]``: the gather whose product
      over the wires is ``E_l^T[j, k] = prod_q M_q[bit_q(k), bit_q(j)]``;
    * ``gens_t [K, d, n d]``: per layer the ``X'_q`` on wire ``q`` as ``d x d`` matrices,
      stacked and transposed (zero for a wire whose gate reads no input);
      ``x_scaleT [nK, I]``: the angles' scale for the backward, doubled;
    * ``phase``: the phases' stacked tables (None without);
    * ``scatter [W, S w]``: segment ``s``'s ``dU^T/dw`` row ``t`` is weight
      ``weights[s][t]`` (:func:`segment_weights`; ``S`` segments, the first included);
    * ``work``: the segments' chains' work (:attr:`SharedPart.work`).
    """

    def __init__(
        self,
        rt: SmallRuntime,
        lo: int,
        makers: tuple[Any, Any, Any],
        first: SharedPart,
        weights: list[np.ndarray],
    ) -> None:
        rt_, lt, ct_ = makers
        prog = rt.prog
        n, d = prog.n, prog.d
        self.n, self.d = n, d
        self.items: list[tuple[str, int]] = []
        self.parts: list[SharedPart] = []
        krons: list[int] = []
        phases: list[int] = []
        i = lo
        while i < rt.tail:
            if rt.code[i][1] == "b":
                group = krons if rt.code[i][0] == _KRON else phases
                self.items.append(("k" if group is krons else "p", len(group)))
                group.append(i)
                i += 1
                continue
            j = i
            while j < rt.tail and rt.code[j][1] != "b":
                j += 1
            self.items.append(("s", len(self.parts)))
            part = SharedPart(
                rt, i, j, makers, first, False, (None, None), weights[1 + len(self.parts)], False
            )
            self.parts.append(part)
            i = j
        # segment s's dU^T/dw row t is weight weights[s][t]: scattered back by one mv
        scatter = np.zeros((prog.n_weights, len(weights) * len(weights[0])))
        for s, own in enumerate(weights):
            for t, wi in enumerate(own):
                if wi >= 0:
                    scatter[wi, s * len(own) + t] = 1.0
        self.scatter = rt_(scatter)
        self.work = sum(part.work for part in self.parts)
        self.phase = PhaseTables(rt, rt_, phases, None) if phases else None
        self.n_kron = k = len(krons)
        terms = prog.slot_terms["b"][0]  # [R, 3, 2, 2]: one slot deep
        sx = np.zeros((prog.n_inputs, k, n))  # per layer and wire, the angle's scale
        e_base = np.zeros((k, n, 8))
        e_mat = np.zeros((k, 2, n, k, n, 8))  # (layer, cos | sin, wire) -> its entries
        gens = np.zeros((k, n, d, d), dtype=np.complex128)

        def reals(m: np.ndarray) -> np.ndarray:
            return np.stack([m.real, m.imag], -1).reshape(-1)

        for layer, at in enumerate(krons):
            rows = prog.layers["b"][rt.code[at][3]]
            sx[:, layer] = prog.scale["b"][: prog.n_inputs, rows]  # the angle of row r is r
            for q, r in enumerate(rows):
                e_base[layer, q] = reals(terms[r, 0])
                e_mat[layer, 0, q, layer, q] = reals(terms[r, 1])
                e_mat[layer, 1, q, layer, q] = reals(terms[r, 2])
                if sx[:, layer, q].any():
                    x = prog.slot_generators["b"][0, r]
                    gens[layer, q] = np.kron(np.kron(np.eye(2**q), x), np.eye(2 ** (n - 1 - q)))
        self.x_scale2 = rt_(np.concatenate([sx, sx], 2).reshape(prog.n_inputs, 2 * n * k))
        self.x_shift = rt_(np.tile(np.r_[np.full(n, math.pi / 2), np.zeros(n)], k))
        self.e_base = rt_(e_base.reshape(-1))
        self.e_mat = rt_(e_mat.reshape(2 * n * k, 8 * n * k))
        kk = np.arange(d)
        index = np.empty((n, k, d, d), dtype=np.int64)
        for q in range(n):
            index[q] = (4 * n * np.arange(k))[:, None, None] + 4 * q
            index[q] += 2 * bit(kk, q, n)[None, None, :] + bit(kk, q, n)[None, :, None]
        self.index = lt(index.reshape(-1))
        self.gens_t = ct_(np.ascontiguousarray(gens.reshape(k, n * d, d).transpose(0, 2, 1)))
        self.x_scaleT = rt_(2 * sx.transpose(1, 2, 0).reshape(k * n, prog.n_inputs))


def reupload_forward(
    ru: Reupload,
    w: torch.Tensor,
    x: torch.Tensor,
    psi: torch.Tensor,
    mats: torch.Tensor | None,
    want_w: bool,
) -> tuple[torch.Tensor, tuple[Any, ...]]:
    """The state after ``ru``'s instructions, from the first segment's output ``psi
    [B, d]`` (``mats``: the rows' matrices it made, or None), and what
    :func:`reupload_backward` needs."""
    rows, d = x.shape[0], ru.d
    et = ph = None
    if ru.n_kron:  # every layer's E^T, batch first: [B, K, d, d]
        cs = torch.sin(torch.addmm(ru.x_shift, x, ru.x_scale2))
        m = torch.view_as_complex(torch.addmm(ru.e_base, cs, ru.e_mat).view(rows, -1, 2))
        et = m.index_select(1, ru.index).view(rows, ru.n, -1).prod(1).view(rows, -1, d, d)
    if ru.phase is not None:
        ph = phase_factors(ru.phase, x)  # [B, blocks d]
    ins, us, d_ws, outs_k, outs_p = [], [], [], [], []
    for what, j in ru.items:
        if what == "s":
            u, d_w, mats = shared_matrix(ru.parts[j], w, want_w, mats)
            ins.append(psi)
            us.append(u)
            d_ws.append(d_w)
            psi = torch.mm(psi, u)
        elif what == "k":
            assert et is not None
            psi = torch.bmm(psi.unsqueeze(1), et.select(1, j)).squeeze(1)
            outs_k.append(psi)
        else:
            assert ph is not None
            psi = psi * ph.narrow(1, j * d, d)
            outs_p.append(psi)
    return psi, (et, ph, ins, us, d_ws, outs_k, outs_p)


def reupload_backward(
    ru: Reupload,
    saved: tuple[Any, ...],
    h: torch.Tensor,
    x: torch.Tensor,
    first: tuple[torch.Tensor, torch.Tensor | None],
    want_w: bool,
    want_x: bool,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """``(h, g_w, g_x)``: ``h`` (at the program's end) back to the first segment's
    output, the weights' gradient of every segment, the first's included (``first``:
    its input state and ``dU^T/dw``), and the inputs' gradient of ``ru``'s part (None:
    not wanted).

    The weights' gradient is taken after the sweep, every segment at once: ``dL/dU_s^T
    = psi_in^T h_out`` of all of them in one ``bmm``, then one ``bmm`` with their
    stacked ``dU^T/dw`` (instead of three calls per segment)."""
    et, ph, ins, us, d_ws, outs_k, outs_p = saved
    rows, d = h.shape[0], ru.d
    hs_k: list[Any] = [None] * len(outs_k)
    hs_p: list[Any] = [None] * len(outs_p)
    hs_s: list[Any] = [None] * len(us)
    for what, j in reversed(ru.items):
        if what == "s":
            hs_s[j] = h
            h = torch.mm(h, us[j].mT)
        elif what == "k":
            hs_k[j] = h
            h = torch.bmm(et.select(1, j), h.unsqueeze(-1)).squeeze(-1)
        else:
            hs_p[j] = h
            h = h * ph.narrow(1, j * d, d)
    g_w = None
    if want_w:  # sum_s dU_s^T/dw . conj(dL/dU_s^T)
        assert first[1] is not None
        xg = torch.bmm(torch.stack([first[0], *ins]).mT, torch.stack([h, *hs_s]))
        d_w = torch.stack([first[1], *d_ws])  # [S, segment weights, 2 d^2]
        g_s = torch.bmm(d_w, torch.view_as_real(xg).view(len(us) + 1, -1, 1))
        g_w = torch.mv(ru.scatter, g_s.view(-1))
    g_x = None
    if want_x and outs_k:  # dL/da_q = 2 Re sum_k h_k (X'_q psi_out)_k, every layer at once
        k = len(outs_k)
        y = torch.bmm(torch.stack(outs_k), ru.gens_t).view(k, rows, ru.n, d)
        ga = (y * torch.stack(hs_k).unsqueeze(2)).sum(-1).real  # [K, B, n]
        g_x = torch.mm(ga.transpose(0, 1).reshape(rows, -1), ru.x_scaleT)
    if want_x and outs_p:
        assert ru.phase is not None
        g_x = phase_input_grads(ru.phase, torch.cat(hs_p, 1), torch.cat(outs_p, 1), x, g_x)
    return h, g_w, g_x
