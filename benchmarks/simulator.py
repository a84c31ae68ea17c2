"""Forward+backward time of a typical HQNN layer, quarch vs peers, batch 1, 32 and 256.

Layer: RY angle embedding of n features, then L x (trainable RY and RZ on each qubit +
a ring of CNOTs), <Z> on each qubit; gradients of the summed outputs for weights and
inputs. Every measurement times the codes being compared in alternating rounds in one
process (a block of up to ``--block`` back-to-back calls of each per round, after
warm-up; see :func:`rounds_of` for why) and prints medians in ms per call:

* ``b1``, ``b32``, ``b256``: one forward+backward at that batch (steady state: JAX's
  compile excluded), quarch beside tensorcircuit-ng (JAX, jit) and, at batch 256,
  PennyLane ``default.qubit`` (backprop);
* ``train``: training one architecture from scratch, 1,000 Adam steps of batch 32,
  compile included (quarch: building the layer; tensorcircuit-ng: ``jax.jit``'s first
  call), in seconds; this is what a search pays per architecture;
* ``floor``: the memory-bandwidth floor of quarch's block engine at batch 256 (bytes
  its plan moves / a copy bandwidth measured here).

With ``--baseline MODULE`` (a copy of an older quarch importable as ``MODULE``) it
instead times that copy's ``QuantumLayer`` against this one, batch 1, 32 and 256, n = 4
and 8, L = 2, and prints the medians and their ratio (the fixed per-call cost is the
batch-1 column).

With ``--device cuda`` quarch's tensors live on that device and tensorcircuit-ng runs
on JAX's GPU backend (each block of calls ends with a synchronize, so the figures are
device time plus launch cost); PennyLane is left out there.

With ``--graphs`` (and ``--device cuda``) it times the small path with its CUDA graphs
(:mod:`quarch.quantum._cuda_graph`) against the same path without them and against the
block engine, n = 2..10, L = 2 and 6, batch 1, 32 and 256.

Run: ``python benchmarks/simulator.py [--quick] [--threads N] [--device DEV] [--baseline
MODULE] [--graphs] [--block K]``.

``OMP_WAIT_POLICY=PASSIVE`` is set before torch loads (unless already set): on a shared
machine, spinning OpenMP workers cost 3.5-4.6x (DESIGN.md). JAX is held to one thread
like torch.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse
import importlib
import importlib.util
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from quarch.quantum import QuantumLayer

BATCHES = (1, 32, 256)
TRAIN_STEPS = 1000
TRAIN_BATCH = 32
Step = Callable[[], None]
#: where quarch's tensors live (``--device``)
DEVICE = torch.device("cpu")


def _sync() -> None:
    """Wait for the device's queued work (a no-op on the CPU), so a timer reads it."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)


def build(n: int, layers: int, quantum: Any = None) -> Any:
    """The benchmark circuit, built with ``quantum`` (default: this quarch's)."""
    q = quantum or importlib.import_module("quarch.quantum")
    c = q.Circuit(n).add(q.AngleEmbedding(n, rotation="Y"))
    for _ in range(layers):
        c.add(q.RotationLayer(n, ("Y", "Z"))).add(q.EntanglingLayer(n, "ring", "cnot"))
    return c


#: Calls per timed block, at most (see :func:`rounds_of`); ``--block 1`` times single calls.
BLOCK = 20


def alternate(steps: dict[str, Step], budget_s: float, min_rounds: int = 5) -> dict[str, float]:
    """Median ms per call of each step, timed in alternating rounds after two warm-ups."""
    return {
        k: statistics.median(v) * 1e3 for k, v in rounds_of(steps, budget_s, min_rounds).items()
    }


def _block(step: Step) -> int:
    """Calls per block for ``step``: up to :data:`BLOCK`, about 50 ms of calls at most."""
    t0 = time.perf_counter()
    step()
    _sync()
    return max(1, min(BLOCK, int(0.05 / max(time.perf_counter() - t0, 1e-6))))


def rounds_of(
    steps: dict[str, Step], budget_s: float, min_rounds: int = 5
) -> dict[str, list[float]]:
    """Seconds per call of each step in every alternating round (after two warm-ups).

    A round times a *block* of back-to-back calls of each step in turn (up to
    :data:`BLOCK`, about 50 ms; see :func:`_block`) and records the mean per call.
    Why blocks: a training loop calls one step back to back, so its steady state is a
    call after a call of the same code; timing single calls in alternation makes every
    call follow another library's, whose code and data have evicted the caches, which
    adds more to a step made of a hundred small torch calls (quarch's) than to one
    compiled call (JAX's): at n = 4, L = 2, batch 32, quarch/tensorcircuit-ng was 1.73x
    timed call by call and 1.27x in blocks of 20 (quiet machine). Alternating the
    blocks still shares the machine's drifting load fairly. ``--block 1`` gives the
    call-by-call figures."""
    for step in steps.values():
        step()
        step()
    blocks = {k: _block(step) for k, step in steps.items()}
    times: dict[str, list[float]] = {k: [] for k in steps}
    start = time.perf_counter()
    rounds = 0
    while rounds < min_rounds or (time.perf_counter() - start < budget_s and rounds < 60):
        for name, step in steps.items():
            k = blocks[name]
            t0 = time.perf_counter()
            for _ in range(k):
                step()
            _sync()
            times[name].append((time.perf_counter() - t0) / k)
        rounds += 1
    return times


def bandwidth_gbs() -> float:
    """Copy bandwidth (read + write) on arrays far larger than the caches."""
    a = torch.empty(64 * 2**20, dtype=torch.float32, device=DEVICE).fill_(1.0)
    b = torch.empty_like(a)
    b.copy_(a)
    best = float("inf")
    for _ in range(5):
        _sync()
        t0 = time.perf_counter()
        b.copy_(a)
        _sync()
        best = min(best, time.perf_counter() - t0)
    return 2 * a.numel() * 4 / best / 1e9


def floor_ms(n: int, layers: int, bw: float) -> float:
    """Memory-bandwidth floor of the block engine at batch 256: state-sized reads and
    writes of one forward+backward of its plan / the measured copy bandwidth.

    Forward: write the product state (1); each block and each gather reads and writes
    the state (2); <Z> reads it and writes the squares (2). Backward (adjoint, on the
    stacked [state; gradient] pair): seed the gradient (3); each gather (4); each block
    (4, plus 2 reads for its matrix gradient); the product-state gradient reads 1.
    """
    plan = QuantumLayer(build(n, layers), path="engine").plan
    blocks, gathers = plan._runtime(True, False).eng.n_passes
    passes = 1 + 2 * (blocks + gathers) + 2 + 3 + 4 * gathers + 6 * blocks + 1
    return passes * 256 * 2**n * 8 / (bw * 1e9) * 1e3


def quarch_step(
    n: int, layers: int, batch: int, quantum: Any = None, path: str | None = None
) -> Step:
    """One forward+backward of the layer (``quantum``: another quarch copy's module;
    ``path``: force the small path or the block engine)."""
    q = quantum or importlib.import_module("quarch.quantum")
    forced = {} if path is None else {"path": path}
    layer = q.QuantumLayer(
        build(n, layers, q), generator=torch.Generator().manual_seed(0), device=DEVICE, **forced
    )
    x = torch.rand(batch, n).to(DEVICE).requires_grad_(True)

    def step() -> None:
        layer.zero_grad()
        x.grad = None
        layer(x).sum().backward()

    return step


def quarch_train(n: int, layers: int) -> float:
    """Seconds to build the layer and train it TRAIN_STEPS Adam steps of batch 32."""
    gen = torch.Generator().manual_seed(0)
    xs = torch.rand(TRAIN_STEPS, TRAIN_BATCH, n, generator=gen).to(DEVICE)
    _sync()
    t0 = time.perf_counter()
    layer = QuantumLayer(build(n, layers), generator=gen, device=DEVICE)
    opt = torch.optim.Adam(layer.parameters(), lr=0.01)
    for i in range(TRAIN_STEPS):
        opt.zero_grad()
        layer(xs[i]).square().mean().backward()
        opt.step()
    _sync()
    return time.perf_counter() - t0


def pennylane_step(n: int, layers: int, batch: int) -> Step:
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

    x = torch.rand(batch, n, requires_grad=True)
    w = torch.rand(layers, n, 2, requires_grad=True)

    def step() -> None:
        x.grad = w.grad = None
        torch.stack(circuit(x, w)).sum().backward()

    return step


def _tc_loss(n: int, layers: int) -> Callable[..., Any]:
    """tensorcircuit-ng's summed <Z> of the batch (vmap over samples, shared weights)."""
    import jax
    import jax.numpy as jnp
    import tensorcircuit as tc

    tc.set_backend("jax")

    def one(x: Any, w: Any) -> Any:
        c = tc.Circuit(n)
        for i in range(n):
            c.ry(i, theta=x[i])
        for layer in range(layers):
            for i in range(n):
                c.ry(i, theta=w[layer, i, 0])
                c.rz(i, theta=w[layer, i, 1])
            for i in range(n):
                c.cnot(i, (i + 1) % n)
        return jnp.real(jnp.stack([c.expectation_ps(z=[i]) for i in range(n)]))

    return jax.vmap(one, in_axes=(0, None))


def tc_step(n: int, layers: int, batch: int) -> Step:
    import jax
    import jax.numpy as jnp

    outs = _tc_loss(n, layers)
    grad = jax.jit(jax.grad(lambda x, w: outs(x, w).sum(), argnums=(0, 1)))
    x = jnp.ones((batch, n)) * 0.3
    w = jnp.ones((layers, n, 2)) * 0.2

    def step() -> None:
        jax.block_until_ready(grad(x, w))

    return step


def tc_train(n: int, layers: int) -> float:
    """Seconds to jit and train TRAIN_STEPS Adam steps of batch 32 (Adam written in JAX
    inside the jitted step: no optimizer library is installed here)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    outs = _tc_loss(n, layers)
    xs = jnp.asarray(np.random.default_rng(0).random((TRAIN_STEPS, TRAIN_BATCH, n)))

    def loss(w: Any, x: Any) -> Any:
        return jnp.mean(jnp.square(outs(x, w)))

    @jax.jit
    def update(w: Any, m: Any, v: Any, t: Any, x: Any) -> tuple[Any, Any, Any]:
        g = jax.grad(loss)(w, x)
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        mh, vh = m / (1 - 0.9**t), v / (1 - 0.999**t)
        return w - 0.01 * mh / (jnp.sqrt(vh) + 1e-8), m, v

    t0 = time.perf_counter()
    w = jnp.asarray(np.random.default_rng(1).random((layers, n, 2)) * 2 * np.pi)
    m, v = jnp.zeros_like(w), jnp.zeros_like(w)
    for i in range(TRAIN_STEPS):
        w, m, v = update(w, m, v, float(i + 1), xs[i])
    jax.block_until_ready(w)
    return time.perf_counter() - t0


def compare_baseline(module: str, budget: float) -> None:
    """This quarch against an older copy importable as ``module``, alternating rounds."""
    old = importlib.import_module(f"{module}.quantum")
    print(f"baseline: {module} ({old.__file__}); medians in ms over alternating rounds")
    print("(round ratio: the median over rounds of this/baseline within a round, robust to")
    print(" load that drifts between rounds)")
    head = f"{'n':>3} {'L':>2} {'batch':>5} {'baseline':>9} {'this':>9} {'this/base':>9}"
    print(f"{head} {'round ratio':>11}")
    for n in (2, 4, 8):
        for batch in BATCHES:
            t = rounds_of(
                {"old": quarch_step(n, 2, batch, old), "new": quarch_step(n, 2, batch)}, budget
            )
            mo, mn = statistics.median(t["old"]) * 1e3, statistics.median(t["new"]) * 1e3
            paired = statistics.median(b / a for a, b in zip(t["old"], t["new"], strict=True))
            print(
                f"{n:>3} {2:>2} {batch:>5} {mo:>9.3f} {mn:>9.3f} {mn / mo:>9.3f} {paired:>11.3f}",
                flush=True,
            )


def _plain_replay(step: Step) -> Step:
    """``step`` with CUDA graphs off (the small path's replays run call by call)."""
    from quarch.quantum import _cuda_graph

    def run() -> None:
        _cuda_graph.GRAPHS = False
        try:
            step()
        finally:
            _cuda_graph.GRAPHS = True

    return run


def compare_graphs(budget: float) -> None:
    """On CUDA: the small path with its CUDA graphs, the same without them, and the block
    engine, alternating rounds, n = 2..10, L = 2 and 6, batch 1, 32 and 256."""
    print("small path with CUDA graphs (graph), without (plain), block engine (engine);")
    print("medians in ms per forward+backward over alternating rounds")
    cols = ("graph", "plain", "engine", "plain/graph", "engine/graph")
    print(f"{'n':>3} {'L':>2} {'batch':>5} " + " ".join(f"{c:>12}" for c in cols))
    for n in (2, 4, 6, 8, 10):
        for layers in (2, 6):
            for batch in BATCHES:
                steps = {
                    "graph": quarch_step(n, layers, batch, path="small"),
                    "plain": _plain_replay(quarch_step(n, layers, batch, path="small")),
                    "engine": quarch_step(n, layers, batch, path="engine"),
                }
                for step in steps.values():  # past recording, check and capture
                    for _ in range(5):
                        step()
                med = alternate(steps, budget)
                g = med["graph"]
                vals = (g, med["plain"], med["engine"], med["plain"] / g, med["engine"] / g)
                print(
                    f"{n:>3} {layers:>2} {batch:>5} " + " ".join(f"{v:>12.3f}" for v in vals),
                    flush=True,
                )


def main() -> None:
    global BLOCK, DEVICE
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes only (CI smoke)")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1: the machine is shared)"
    )
    parser.add_argument("--budget", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--baseline", help="module name of an older quarch copy to time against")
    parser.add_argument(
        "--block", type=int, default=BLOCK,
        help="calls per timed block, at most (1: single calls in alternation; see rounds_of)",
    )  # fmt: skip
    parser.add_argument(
        "--device", default="cpu", help="torch device for quarch (cpu, cuda, cuda:1)"
    )
    parser.add_argument(
        "--graphs",
        action="store_true",
        help="on CUDA: the small path with and without CUDA graphs, and the block engine",
    )
    parser.add_argument(
        "--max-n", type=int, default=16, help="rows of the table up to this many qubits"
    )
    args = parser.parse_args()
    if args.block < 1:
        parser.error(f"--block must be >= 1; got {args.block}")
    BLOCK = args.block
    DEVICE = torch.device(args.device)
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this torch sees no CUDA device")
    if args.graphs and DEVICE.type != "cuda":
        parser.error("--graphs times CUDA graphs; give --device cuda")
    # JAX takes the platform quarch runs on (it would take a GPU whenever it sees one)
    os.environ.setdefault("JAX_PLATFORMS", "cuda" if DEVICE.type == "cuda" else "cpu")
    # and, on a GPU, only the memory it uses (by default it takes 75 % of the card)
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, torch.get_num_threads() = {torch.get_num_threads()}")
    if DEVICE.type == "cuda":
        print(f"device: {DEVICE} ({torch.cuda.get_device_name(DEVICE)})")
    print(
        f"load average (1, 5, 15 min): {os.getloadavg()}; OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}; "
        f"calls per timed block: up to {BLOCK}"
    )
    if args.graphs:
        compare_graphs(args.budget)
        print(f"load average at the end: {os.getloadavg()}")
        return
    if args.baseline:
        if DEVICE.type != "cpu":
            parser.error("--baseline times the CPU; leave --device out")
        compare_baseline(args.baseline, args.budget)
        print(f"load average at the end: {os.getloadavg()}")
        return
    # torch's first optimizer step imports torch._dynamo (seconds, once per process):
    # paid here, outside the training column, as JAX's backend start is
    warm = torch.zeros(1, requires_grad=True, device=DEVICE)
    warm.sum().backward()
    torch.optim.Adam([warm]).step()
    bw = bandwidth_gbs()
    print(f"measured copy bandwidth: {bw:.1f} GB/s; complex64; medians in ms, train in s")
    have_pl = importlib.util.find_spec("pennylane") is not None and DEVICE.type == "cpu"
    have_tc = importlib.util.find_spec("tensorcircuit") is not None
    sizes = (
        [(4, 2), (8, 2)]
        if args.quick
        else [(n, k) for n in (2, 4, 6, 8) for k in (2, 6)] + [(12, 2), (12, 6), (16, 2)]
    )
    sizes = [(n, k) for n, k in sizes if n <= args.max_n]
    cols = ["q b1", "tc b1", "q b32", "tc b32", "q b256", "tc b256", "PL b256", "PL/q"]
    cols += ["floor", "q train", "tc train"]
    print(f"{'n':>3} {'L':>2} " + " ".join(f"{c:>9}" for c in cols))
    notes: list[str] = []
    for n, layers in sizes:
        row: dict[str, str] = {}
        small = n <= 8
        for batch in BATCHES if small else (256,):
            steps = {"q": quarch_step(n, layers, batch)}
            if have_tc and n < 16:
                steps["tc"] = tc_step(n, layers, batch)
            if batch == 256 and have_pl and n <= 12:
                steps["PL"] = pennylane_step(n, layers, batch)
            budget = args.budget if n < 12 else args.budget / 2
            med = alternate(steps, budget, min_rounds=3 if n >= 12 else 5)
            for name, ms in med.items():
                row[f"{name} b{batch}"] = f"{ms:.3f}" if ms < 100 else f"{ms:.1f}"
            if "PL" in med:
                row["PL/q"] = f"{med['PL'] / med['q']:.1f}"
        row["floor"] = f"{floor_ms(n, layers, bw):.3f}"
        if small:
            row["q train"] = f"{quarch_train(n, layers):.2f}"
            if have_tc:
                row["tc train"] = f"{tc_train(n, layers):.2f}"
        print(f"{n:>3} {layers:>2} " + " ".join(f"{row.get(c, '-'):>9}" for c in cols), flush=True)
    if not have_tc:
        notes.append("tensorcircuit-ng not installed")
    if DEVICE.type != "cpu":
        notes.append("PennyLane not run on a device (default.qubit is a CPU simulator)")
    if have_tc:
        import jax

        notes.append(f"tensorcircuit-ng ran on JAX's {jax.default_backend()} backend")
    notes.append("n=16: tensorcircuit-ng not run (jit compile time); PennyLane needs > 24 GiB")
    notes.append("batch 1 and 32 and training: n <= 8 (where hybrid training lives)")
    print(f"load average at the end: {os.getloadavg()}")
    for note in notes:
        print("note:", note)


if __name__ == "__main__":
    main()
