"""Forward+backward time per batch of 256 for a typical HQNN layer, quarch vs peers.

Layer: RY angle embedding of n features, then L x (trainable RY and RZ on each qubit +
a ring of CNOTs), <Z> on each qubit; gradients for weights and inputs. Prints medians
over repeated batches after warm-up, ratios to quarch, and a memory-bandwidth floor
computed from the bytes quarch's plan touches and a bandwidth measured here.

Run: ``python benchmarks/simulator.py [--quick] [--threads N]``.

``OMP_WAIT_POLICY=PASSIVE`` is set before torch loads (unless already set): on a shared
machine, spinning OpenMP workers cost 3.5-4.6x (DESIGN.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import importlib.util
import statistics
import time
from collections.abc import Callable

import torch

from quarch.quantum import (
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    QuantumLayer,
    RotationLayer,
)

BATCH = 256


def build(n: int, layers: int) -> Circuit:
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
    for _ in range(layers):
        c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
    return c


def timed(step: Callable[[], None], budget_s: float, min_reps: int = 5) -> float:
    step()  # warm-up (compilation, caches)
    step()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or (time.perf_counter() - start < budget_s and len(times) < 50):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def bandwidth_gbs() -> float:
    """Copy bandwidth (read + write) on arrays far larger than the caches."""
    a = torch.empty(64 * 2**20, dtype=torch.float32).fill_(1.0)
    b = torch.empty_like(a)
    b.copy_(a)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        b.copy_(a)
        best = min(best, time.perf_counter() - t0)
    return 2 * a.numel() * 4 / best / 1e9


def state_passes(layer: QuantumLayer) -> int:
    """State-sized reads plus writes of one forward+backward of the plan, as executed.

    Forward: write the product state (1); each block and each gather reads and writes
    the state (2); <Z> reads it and writes the squares (2). Backward (adjoint, on the
    stacked [state; gradient] pair): seed the gradient (3); each gather (4); each block
    (4, plus 2 reads for its matrix gradient); the product-state gradient reads 1.
    """
    blocks, gathers = layer.plan._runtime(True, False).eng.n_passes
    forward = 1 + 2 * (blocks + gathers) + 2
    backward = 3 + 4 * gathers + 6 * blocks + 1
    return forward + backward


def floor_ms(layer: QuantumLayer, n: int, bw: float) -> float:
    """Memory-bandwidth floor: bytes the plan moves / measured copy bandwidth."""
    state_bytes = BATCH * 2**n * 8
    return state_passes(layer) * state_bytes / (bw * 1e9) * 1e3


def bench_quarch(n: int, layers: int, budget: float) -> tuple[float, QuantumLayer]:
    layer = QuantumLayer(build(n, layers), generator=torch.Generator().manual_seed(0))
    x = torch.rand(BATCH, n, requires_grad=True)

    def step() -> None:
        layer.zero_grad()
        x.grad = None
        layer(x).sum().backward()

    return timed(step, budget), layer


def bench_pennylane(n: int, layers: int, budget: float) -> float:
    import pennylane as qml

    dev = qml.device("default.qubit", wires=n)

    @qml.qnode(dev, interface="torch", diff_method="backprop")
    def circuit(x: torch.Tensor, w: torch.Tensor) -> list:
        qml.AngleEmbedding(x, wires=range(n), rotation="Y")
        for layer in range(layers):
            for i in range(n):
                qml.RY(w[layer, i, 0], wires=i)
                qml.RZ(w[layer, i, 1], wires=i)
            for i in range(n):
                qml.CNOT(wires=[i, (i + 1) % n])
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    x = torch.rand(BATCH, n, requires_grad=True)
    w = torch.rand(layers, n, 2, requires_grad=True)

    def step() -> None:
        torch.stack(circuit(x, w)).sum().backward()

    return timed(step, budget, min_reps=3)


def bench_tensorcircuit(n: int, layers: int, budget: float) -> float:
    import jax
    import jax.numpy as jnp
    import tensorcircuit as tc

    tc.set_backend("jax")

    def loss(x: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
        c = tc.Circuit(n)
        for i in range(n):
            c.ry(i, theta=x[i])
        for layer in range(layers):
            for i in range(n):
                c.ry(i, theta=w[layer, i, 0])
                c.rz(i, theta=w[layer, i, 1])
            for i in range(n):
                c.cnot(i, (i + 1) % n)
        return jnp.real(jnp.stack([c.expectation_ps(z=[i]) for i in range(n)])).sum()

    grad = jax.jit(jax.vmap(jax.grad(loss, argnums=(0, 1)), in_axes=(0, None)))
    x = jnp.ones((BATCH, n)) * 0.3
    w = jnp.ones((layers, n, 2)) * 0.2

    def step() -> None:
        jax.block_until_ready(grad(x, w))

    return timed(step, budget)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only (CI smoke)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)"
    )
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}")
    bw = bandwidth_gbs()
    print(f"measured copy bandwidth: {bw:.1f} GB/s; batch {BATCH}; complex64; medians in ms")
    print(
        f"load average (1, 5, 15 min): {os.getloadavg()}; OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}"
    )
    have_pl = importlib.util.find_spec("pennylane") is not None
    have_tc = importlib.util.find_spec("tensorcircuit") is not None
    have_tq = importlib.util.find_spec("torchquantum") is not None
    sizes = [(4, 2), (8, 2)] if args.quick else [(n, k) for n in (4, 8, 12, 16) for k in (2, 6)]
    header = (
        f"{'n':>3} {'L':>2} {'passes':>6} {'quarch':>9} {'floor':>8} {'x floor':>7} "
        f"{'pennylane':>10} {'PL/q':>6} {'tc-ng':>9} {'tc/q':>6} {'torchq':>8}"
    )
    print(header)
    notes: list[str] = []
    # quarch first for every size, peers after: JAX's and PennyLane's thread pools,
    # once started, compete with the process for the 2 cores and slowed quarch's
    # n=8, L=6 row by 1.7x when the runs were interleaved.
    ours = {size: bench_quarch(*size, args.budget) for size in sizes}
    for n, layers in sizes:
        q_ms, layer = ours[(n, layers)]
        fl = floor_ms(layer, n, bw)
        pl = tcv = "-"
        pl_ratio = tc_ratio = "-"
        if not have_pl:
            pl = "n/a"
        elif n >= 16:
            pl = "skip"
            notes.append(f"n={n}: PennyLane skipped (backprop over batch 256 needs > 24 GiB)")
        elif n >= 12 and layers == 6 and args.budget < 2:
            pl = "skip"
        else:
            pl_ms = bench_pennylane(n, layers, args.budget)
            pl, pl_ratio = f"{pl_ms:.1f}", f"{pl_ms / q_ms:.1f}"
        if not have_tc:
            tcv = "n/a"
        elif n >= 16:
            tcv = "skip"
            notes.append(f"n={n}: tensorcircuit-ng skipped (jit compile time)")
        else:
            try:
                tc_ms = bench_tensorcircuit(n, layers, args.budget)
                tcv, tc_ratio = f"{tc_ms:.1f}", f"{tc_ms / q_ms:.2f}"
            except Exception as err:
                tcv = "error"
                notes.append(f"tensorcircuit-ng failed at n={n}: {err}")
        tq = "n/a"
        print(
            f"{n:>3} {layers:>2} {state_passes(layer):>6} {q_ms:>9.2f} {fl:>8.2f} "
            f"{q_ms / fl:>7.1f} {pl:>10} {pl_ratio:>6} {tcv:>9} {tc_ratio:>6} {tq:>8}",
            flush=True,
        )
    if have_tq:
        notes.append(
            "TorchQuantum is installed but not measured: this benchmark has no runner for "
            "it yet, because it could not be installed beside torch 2.13.0 to test one"
        )
    else:
        notes.append(
            "TorchQuantum not installed: its pip install replaces torch 2.13.0 and pins "
            "qiskit<1.0, so it cannot be measured here"
        )
    print(f"load average at the end: {os.getloadavg()}")
    for note in dict.fromkeys(notes):
        print("note:", note)


if __name__ == "__main__":
    main()
