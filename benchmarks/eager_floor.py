"""How fast can eager PyTorch run the simulator benchmark's layer at all?

The simulator benchmark's acceptance asks quarch to beat tensorcircuit-ng (JAX, jit) at
batch 256 for every n, n = 2 included, and to stay within 1.5x of it at batch 32. At 2-4
qubits both codes do almost no arithmetic; an eager torch step costs its number of
torch calls times a per-call cost that depends on the machine, while a jitted JAX step
is one call. This script measures the floor eager torch can reach on the machine it
runs on, so a miss of that acceptance can be told apart from a slow quarch.

The floor is :class:`DenseLayer`: the benchmark layer (RY embedding, L x (RY and RZ on
every wire + a CNOT ring), ``<Z_i>``) written by hand with as few torch calls as this
author could make it, for this one circuit and nothing else: the product state in one
gather and product, every layer's Kronecker matrix (ring permutation folded into the
gather) in one more, the layers multiplied into ``U^T``, one real matmul for the batch
and one for the sign table; a hand-written backward of the same kind (leave-one-out
products for the Kronecker factors). It is checked against quarch (complex128, values
and gradients) before anything is timed. Its Kronecker gathers read ``n 4^n`` entries,
so it is for n <= 5 only: it is a measuring stick, not a simulator.

Printed per cell: medians (ms) of one forward+backward of quarch, the hand-written
floor and tensorcircuit-ng (if installed), timed in alternating rounds in one process as
``simulator.py`` does, and the number of torch operator calls per step of quarch and
the floor (views included).

Run: ``python benchmarks/eager_floor.py [--budget 3]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simulator as sim  # the benchmark this one measures the floor of

CELLS = ((2, 1), (2, 32), (2, 256), (4, 1), (4, 32), (4, 256))


def _bits(n: int) -> np.ndarray:
    """``bits[j, k]``: bit of wire ``j`` in basis state ``k`` (wire 0 most significant)."""
    return np.array([[(k >> (n - 1 - j)) & 1 for k in range(2**n)] for j in range(n)])


def _ring(n: int) -> np.ndarray:
    """``perm`` with ``(P psi)[k] = psi[perm[k]]`` for quarch's CNOT ring on ``n`` wires
    (none on one wire, one CNOT on two)."""
    pairs = [] if n == 1 else [(0, 1)] if n == 2 else [(i, (i + 1) % n) for i in range(n)]
    perm = np.arange(2**n)
    for c, t in pairs:
        flip = [k ^ (1 << (n - 1 - t)) if (k >> (n - 1 - c)) & 1 else k for k in range(2**n)]
        perm = perm[flip]
    return perm


class DenseLayer:
    """The benchmark layer, forward and backward by hand (see the module docstring);
    ``weights [L, n, 2]`` (RY, RZ angle per layer and wire), ``x [B, n]``."""

    def __init__(self, n: int, layers: int, dtype: torch.dtype = torch.float32) -> None:
        if not 1 <= n <= 5:
            raise ValueError("the dense floor is built for 1 <= n <= 5")
        self.n, self.layers = n, layers
        dim, bits = 2**n, _bits(n)
        others = [[i for i in range(n) if i != j] for j in range(n)]
        # product state: psi0[k] = prod_j v[j, bit_j(k)], v flat [n * 2]
        ent0 = np.arange(n)[:, None] * 2 + bits  # [n, dim]
        self.idx0 = torch.as_tensor(ent0.reshape(-1))
        self.lo0 = torch.as_tensor(np.stack([ent0[o] for o in others]).reshape(-1))
        sel0 = np.zeros((n * dim, n * 2))
        for j in range(n):
            sel0[j * dim + np.arange(dim), ent0[j]] = 1
        # a layer, transposed, ring folded in: A^T[c, r] = K[perm[r], c]
        perm = _ring(n)
        c_, r_ = np.meshgrid(np.arange(dim), np.arange(dim), indexing="ij")
        p_ = perm[r_]
        ent = np.stack(
            [j * 4 + ((p_ >> (n - 1 - j)) & 1) * 2 + ((c_ >> (n - 1 - j)) & 1) for j in range(n)]
        )  # [n, dim, dim]: which entry of wire j's 2x2 each A^T entry multiplies
        self.idx_k = torch.as_tensor(ent.reshape(-1))
        self.lo_k = torch.as_tensor(np.stack([ent[o] for o in others]).reshape(-1))
        sel_k = np.zeros((n * dim * dim, n * 4))
        for j in range(n):
            sel_k[j * dim * dim + np.arange(dim * dim), ent[j].reshape(-1)] = 1
        # RZ(b) RY(a) from p = [ca cb, ca sb, sa cb, sa sb]: [4, 4 entries x (re, im)]
        t = np.zeros((4, 4, 2))
        t[0, 0, 0], t[1, 0, 1] = 1, -1  # m00 = ca cb - i ca sb
        t[2, 1, 0], t[3, 1, 1] = -1, 1  # m01 = -sa cb + i sa sb
        t[2, 2, 0], t[3, 2, 1] = 1, 1  # m10 = sa cb + i sa sb
        t[0, 3, 0], t[1, 3, 1] = 1, 1  # m11 = ca cb + i ca sb
        z = np.repeat(1.0 - 2 * bits.T, 2, axis=0)  # [2 dim, n]: <Z_j> of (re, im) squares
        complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
        self.sel0 = torch.as_tensor(sel0, dtype=dtype)
        self.sel_k = torch.as_tensor(sel_k, dtype=complex_dtype)
        self.t = torch.as_tensor(t.reshape(4, 8), dtype=dtype)
        self.signs = torch.as_tensor(z, dtype=dtype)
        self.signs_t2 = (2 * self.signs.T).contiguous()
        self.apply = self._function()

    def _function(self) -> Any:
        d = self
        n, layers, dim = self.n, self.layers, 2**self.n

        class _Dense(torch.autograd.Function):
            @staticmethod
            def forward(ctx: Any, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
                rows = x.shape[0]
                hx = x * 0.5
                c, s = torch.cos(hx), torch.sin(hx)
                v = torch.stack([c, s], -1).view(rows, 2 * n)
                psi0 = v.index_select(1, d.idx0).view(rows, n, dim).prod(1)
                cs = torch.stack([torch.cos(w * 0.5), torch.sin(w * 0.5)], -1)  # [L, n, 2, 2]
                csa, csb = cs[:, :, 0], cs[:, :, 1]
                p = (csa.unsqueeze(-1) * csb.unsqueeze(-2)).view(layers * n, 4)
                m = torch.view_as_complex(torch.mm(p, d.t).view(layers, n * 4, 2))
                a = m.index_select(1, d.idx_k).view(layers, n, dim * dim).prod(1)
                a = a.view(layers, dim, dim)
                ut = a[0]
                for k in range(1, layers):
                    ut = torch.mm(ut, a[k])
                ut_r = torch.view_as_real(ut).view(dim, 2 * dim)
                psi_r = torch.mm(psi0, ut_r)
                ctx.save = (v, c, s, psi0, a, ut_r, psi_r, m, csa, csb, cs)
                return torch.mm(psi_r.square(), d.signs)

            @staticmethod
            @torch.autograd.function.once_differentiable
            def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                v, c, s, psi0, a, ut_r, psi_r, m, csa, csb, cs = ctx.save
                rows = psi0.shape[0]
                g_psi = torch.mm(g, d.signs_t2) * psi_r  # [B, 2 dim] (re, im)
                g_ut = torch.view_as_complex(torch.mm(psi0.mT, g_psi).view(dim, dim, 2))
                g_psi0 = torch.mm(g_psi, ut_r.mT)
                # inputs: leave-one-out products of the product state's factors
                if n > 1:
                    lo = v.index_select(1, d.lo0).view(rows, n, n - 1, dim).prod(2)
                    g_psi0 = (g_psi0.unsqueeze(1) * lo).view(rows, n * dim)
                g_v = torch.mm(g_psi0, d.sel0).view(rows, n, 2)
                g_x = (g_v[..., 1] * c - g_v[..., 0] * s) * 0.5
                # weights: through U^T = A_0^T A_1^T ..., then the Kronecker factors
                g_a: list[torch.Tensor] = []
                pre = [a[0]]
                for k in range(1, layers - 1):
                    pre.append(torch.mm(pre[-1], a[k]))
                suffix = g_ut
                for k in range(layers - 1, 0, -1):
                    g_a.append(torch.mm(pre[k - 1].mH, suffix))
                    suffix = torch.mm(suffix, a[k].mH)
                g_a.append(suffix)
                g_a_all = torch.stack(g_a[::-1]).view(layers, 1, dim * dim)
                if n > 1:
                    lo_k = m.index_select(1, d.lo_k).view(layers, n, n - 1, dim * dim).prod(2)
                    g_a_all = g_a_all * lo_k.conj()
                g_m = torch.view_as_real(torch.mm(g_a_all.view(layers, -1), d.sel_k))
                g_p = torch.mm(g_m.reshape(layers * n, 8), d.t.mT).view(layers, n, 2, 2)
                g_cs = torch.stack(
                    [(g_p * csb.unsqueeze(-2)).sum(-1), (g_p * csa.unsqueeze(-1)).sum(-2)], 2
                )
                g_w = (g_cs[..., 1] * cs[..., 0] - g_cs[..., 0] * cs[..., 1]) * 0.5
                return g_w, g_x

        return _Dense.apply


def check(n: int, layers: int) -> float:
    """Largest difference of values and gradients from quarch (complex128)."""
    gen = np.random.default_rng(n)
    w = torch.tensor(gen.uniform(-3, 3, (layers, n, 2)), requires_grad=True)
    x = torch.tensor(gen.uniform(-3, 3, (5, n)), requires_grad=True)
    layer = sim.QuantumLayer(sim.build(n, layers), dtype=torch.complex128)
    with torch.no_grad():
        layer.weights.copy_(w.detach().view(-1))
    scale = torch.arange(1, n + 1, dtype=torch.float64)
    ref = layer(x)
    g_ref = torch.autograd.grad((ref * scale).sum(), [layer.weights, x])
    out = DenseLayer(n, layers, torch.float64).apply(w, x)
    g_out = torch.autograd.grad((out * scale).sum(), [w, x])
    return max(
        (out - ref).abs().max().item(),
        (g_out[0].view(-1) - g_ref[0]).abs().max().item(),
        (g_out[1] - g_ref[1]).abs().max().item(),
    )


def dense_step(n: int, layers: int, batch: int) -> sim.Step:
    f = DenseLayer(n, layers).apply
    w = torch.nn.Parameter(torch.rand(layers, n, 2))
    x = torch.rand(batch, n, requires_grad=True)

    def step() -> None:
        w.grad = x.grad = None
        f(w, x).sum().backward()

    return step


class _Count(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls += 1
        return func(*args, **(kwargs or {}))


def calls_per_step(step: sim.Step) -> int:
    step()
    with _Count() as count:
        step()
    return count.calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per cell")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for n in (1, 2, 3, 4):
        err = check(n, 2)
        print(f"check n={n}: largest difference from quarch (complex128) {err:.1e}")
        if err > 1e-10:
            sys.exit("the hand-written layer disagrees with quarch; nothing timed")
    have_tc = importlib.util.find_spec("tensorcircuit") is not None
    print(f"torch {torch.__version__}, one thread, L = 2, medians in ms over alternating rounds")
    head = f"{'n':>2} {'batch':>5} {'quarch':>8} {'floor':>8} {'tc-ng':>8}"
    print(f"{head} {'floor/tc':>8} {'q/tc':>6} {'q calls':>7} {'floor calls':>11}")
    for n, batch in CELLS:
        steps = {"q": sim.quarch_step(n, 2, batch), "floor": dense_step(n, 2, batch)}
        if have_tc:
            steps["tc"] = sim.tc_step(n, 2, batch)
        med = sim.alternate(steps, args.budget)
        tc = med.get("tc", float("nan"))
        calls = {k: calls_per_step(steps[k]) for k in ("q", "floor")}
        print(
            f"{n:>2} {batch:>5} {med['q']:>8.3f} {med['floor']:>8.3f} {tc:>8.3f} "
            f"{med['floor'] / tc:>8.2f} {med['q'] / tc:>6.2f} {calls['q']:>7} {calls['floor']:>11}",
            flush=True,
        )
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
