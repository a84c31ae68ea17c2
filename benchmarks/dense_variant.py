"""Where the small path's dense variant pays: it against the general method, per cell.

The dense variant (``quantum/_small_dense.py``) trades torch calls for arithmetic: it
builds ``1 + angles`` copies of the circuit's shared matrix (one per derivative) and
``n + 1`` product states per row. This script times one forward+backward of the
simulator benchmark's layer (``simulator.py``: RY embedding, L x (RY, RZ, CNOT ring),
``<Z>``) with the variant and without it (the same plan with ``rt.dense = False``:
the general method), in alternating rounds in one process, for n = 1..4, L = 1, 2, 4,
6 and batches 8 to 1024, and prints per cell the medians, their ratio and the
variant's extra work per call (:attr:`DenseTables.work`), then the largest work at which it
won and the smallest at which it lost; :data:`~quarch.quantum._small_dense.DENSE_WORK`
(with its per-row part) and ``DENSE_ROWS`` are set from the cells. The variant is
timed with its derivative chains (the trigonometric form off).

With ``--fourier`` it instead times the variant's trigonometric form
(``quantum/_dense_fourier.py``) against its derivative chains, the same plan both
ways, on the layer with one or two rotations per qubit and layer, n = 1..4, L = 1..6,
wherever the form can be built, batches 8, 32, 256 and 1024, and prints the form's work
(:attr:`SineTables.work`) per cell, then the largest work at which it won and the
smallest at which it lost; :data:`~quarch.quantum._dense_fourier.FOURIER_WORK` is set
from those cells.

With ``--product`` it times the product state built as a trigonometric polynomial of
the inputs (``_dense_fourier.product_tables``) against the gather, the same plan both
ways, on the layer (RX or RY embedding, L = 2) at n = 1..4, batches 8, 32, 256 and
1024, and prints the sines per cell; :data:`~quarch.quantum._dense_fourier.PRODUCT_TERMS`
is set from those cells.

With ``--no-grad`` it times the forward alone under ``torch.no_grad()`` (a training
loop's validation), where the variant makes ``U^T`` and the product state without
their derivatives and takes no account of the chains' work: the variant (its forms as
the plan takes them) against the general method, n = 1..4, L = 1, 2, 4, 6, batches 8,
32 and 256.

With ``--start`` it times the variant from a start state (an amplitude embedding of
``2^n`` features, then L x (RY, RZ or RX, RY, RZ on every wire, CNOT ring), ``<Z>``)
against the general method, the same plan both ways, forward+backward, n = 1..4, L =
1, 2, 3, 4, 6, batches 8, 32, 256 and 1024, wherever the program qualifies, and prints
the chains' work per cell, then the largest work at which it won and the smallest at
which it lost; :data:`~quarch.quantum._small_dense.DENSE_START_WORK` is set from them.

With ``--diagonal`` the same cells with an RY embedding and CRZ rings (trainable
diagonals in the segment), and with ``--phase`` with an IQP embedding (H, RZ(x_i),
RZZ(x_i x_j) on all pairs: a phase state times per-sample phases,
``quantum/_dense_diagonal.py``) and CNOT rings; with ``--reupload angle`` or
``--reupload iqp`` the RY or IQP embedding again before every layer after the first
(per-sample layers or phases between shared segments, ``quantum/_dense_reupload.py``),
L = 2, 3, 4, 6, CNOT rings; all are measured against
:data:`~quarch.quantum._small_dense.DENSE_WORK`.

Run: ``python benchmarks/dense_variant.py [--budget 1] [--fourier | --product |
--no-grad | --start | --diagonal | --phase | --reupload angle|iqp]``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import simulator as sim  # the layer and the alternating timer

from quarch.quantum import (
    AmplitudeEmbedding,
    AngleEmbedding,
    Circuit,
    EntanglingLayer,
    IQPEmbedding,
    QuantumLayer,
    RotationLayer,
    _dense_fourier,
    _small_dense,
)
from quarch.quantum._small_dense import DenseTables


def _small_layer(c: Circuit, batch: int) -> tuple[QuantumLayer, torch.Tensor, Any]:
    """A layer of ``c`` on the small path after one call (which makes its run time),
    its batch of inputs, and that run time."""
    layer = QuantumLayer(c, generator=torch.Generator().manual_seed(0), path="small")
    x = torch.rand(batch, c.n_inputs, requires_grad=True)
    layer(x)
    return layer, x, next(iter(layer.plan._small.values()))


def _timed(layer: QuantumLayer, x: torch.Tensor) -> sim.Step:
    def step() -> None:
        layer.zero_grad()
        x.grad = None
        layer(x).sum().backward()

    return step


def _circuit_step(c: Circuit, batch: int, dense: bool) -> tuple[sim.Step, DenseTables | None]:
    """A forward+backward of ``c`` on the small path; ``dense=False`` marks the plan's
    run time as not having the variant before its timed calls."""
    layer, x, rt = _small_layer(c, batch)
    tab = rt.dense if isinstance(rt.dense, DenseTables) else None
    if not dense:
        rt.dense = False
        rt.replays.entries.clear()
    return _timed(layer, x), tab


def _step(n: int, layers: int, batch: int, dense: bool) -> tuple[sim.Step, DenseTables | None]:
    """:func:`_circuit_step` of the simulator benchmark's layer."""
    return _circuit_step(sim.build(n, layers), batch, dense)


def _layer(n: int, layers: int, rotations: tuple[str, ...]) -> Circuit:
    c = Circuit(n).add(AngleEmbedding(n, rotation="Y"))
    for _ in range(layers):
        c.add(RotationLayer(n, rotations)).add(EntanglingLayer(n, "ring", "cnot"))
    return c


def _form_step(c: Circuit, batch: int, form: str, on: bool) -> tuple[sim.Step, Any]:
    """A forward+backward on the small path with the dense tables' ``form``
    (``"fourier"`` or ``"product"``) where they have it (``on``), or without it (the
    chains, the gather); also the form's tables (None: not built)."""
    layer, x, rt = _small_layer(c, batch)
    tab = rt.dense if isinstance(rt.dense, DenseTables) else None
    tables = None if tab is None else getattr(tab, form)
    if tab is not None and not on:
        setattr(tab, form, None)
        rt.replays.entries.clear()
    return _timed(layer, x), tables


def fourier_cells(budget: float) -> None:
    """The trigonometric form against the chains (see the module docstring)."""
    _dense_fourier.FOURIER_WORK = float("inf")  # wherever the form can be built
    print(
        f"{'n':>2} {'L':>2} {'rot':>4} {'batch':>5} {'work':>9} {'form':>8} {'chains':>8}", end=""
    )
    print(f" {'ratio':>6}")
    won: list[int] = []
    lost: list[int] = []
    for n in (1, 2, 3, 4):
        for layers in (1, 2, 3, 4, 5, 6):
            for rot in (("Y",), ("Y", "Z")):
                c = _layer(n, layers, rot)
                for batch in (8, 32, 256, 1024):
                    on, tables = _form_step(c, batch, "fourier", True)
                    if tables is None:  # too many terms to build
                        break
                    work = tables.work
                    off, _ = _form_step(c, batch, "fourier", False)
                    t = sim.rounds_of({"on": on, "off": off}, budget)
                    a, b = statistics.median(t["on"]) * 1e3, statistics.median(t["off"]) * 1e3
                    ratio = statistics.median(x / y for x, y in zip(t["on"], t["off"], strict=True))
                    (won if ratio < 1 else lost).append(work)
                    print(
                        f"{n:>2} {layers:>2} {''.join(rot):>4} {batch:>5} {work:>9} {a:>8.3f} "
                        f"{b:>8.3f} {ratio:>6.3f}",
                        flush=True,
                    )
    print(f"largest work where the form won: {max(won, default=0)}")
    print(f"smallest work where it lost: {min(lost, default=0)}")


def product_cells(budget: float) -> None:
    """The product state's polynomial against the gather (see the module docstring)."""
    _dense_fourier.PRODUCT_TERMS = 10**6
    print(f"{'n':>2} {'emb':>3} {'batch':>5} {'sines':>5} {'poly':>8} {'gather':>8} {'ratio':>6}")
    for n in (1, 2, 3, 4):
        for emb in ("X", "Y"):
            c = Circuit(n).add(AngleEmbedding(n, rotation=emb))
            for _ in range(2):
                c.add(RotationLayer(n, ("Y", "Z"))).add(EntanglingLayer(n, "ring", "cnot"))
            for batch in (8, 32, 256, 1024):
                on, tables = _form_step(c, batch, "product", True)
                sines = None if tables is None else tables.coef.shape[1]
                off, _ = _form_step(c, batch, "product", False)
                t = sim.rounds_of({"on": on, "off": off}, budget)
                a, b = statistics.median(t["on"]) * 1e3, statistics.median(t["off"]) * 1e3
                ratio = statistics.median(x / y for x, y in zip(t["on"], t["off"], strict=True))
                print(
                    f"{n:>2} {emb:>3} {batch:>5} {sines!s:>5} {a:>8.3f} {b:>8.3f} {ratio:>6.3f}",
                    flush=True,
                )


def _quiet_step(n: int, layers: int, batch: int, dense: bool) -> tuple[sim.Step, Any]:
    """A forward of the layer under ``no_grad`` on the small path, with the variant
    or (``dense=False``) the general method; also the variant's tables."""
    layer, x, rt = _small_layer(sim.build(n, layers), batch)
    tab = rt.dense if isinstance(rt.dense, DenseTables) else None
    if not dense:
        rt.dense = False
        rt.replays.entries.clear()
    quiet = x.detach()

    def step() -> None:
        with torch.no_grad():
            layer(quiet)

    return step, tab


def no_grad_cells(budget: float) -> None:
    """The variant's forward alone against the general method's (module docstring)."""
    print(f"{'n':>2} {'L':>2} {'batch':>5} {'form':>7} {'dense':>8} {'general':>8} {'ratio':>6}")
    ratios: list[float] = []
    for n in (1, 2, 3, 4):
        for layers in (1, 2, 4, 6):
            for batch in (8, 32, 256):
                on, tab = _quiet_step(n, layers, batch, True)
                off, _ = _quiet_step(n, layers, batch, False)
                if tab is None:
                    print(f"{n:>2} {layers:>2} {batch:>5}  (program does not qualify)")
                    continue
                form = "fourier" if tab.fourier is not None else "chains"
                t = sim.rounds_of({"on": on, "off": off}, budget)
                a, b = statistics.median(t["on"]) * 1e3, statistics.median(t["off"]) * 1e3
                ratio = statistics.median(x / y for x, y in zip(t["on"], t["off"], strict=True))
                ratios.append(ratio)
                print(
                    f"{n:>2} {layers:>2} {batch:>5} {form:>7} {a:>8.3f} {b:>8.3f} {ratio:>6.3f}",
                    flush=True,
                )
    print(f"ratios {min(ratios):.3f}-{max(ratios):.3f} over {len(ratios)} cells")


def start_cells(
    budget: float, embedding: str = "amplitude", entangler: str = "cnot", reupload: bool = False
) -> None:
    """The variant from a start state (``embedding="amplitude"``), after an RY
    (``"angle"``) or an IQP embedding (``"iqp"``) against the general method (module
    docstring); with ``reupload`` the embedding again before every layer after the
    first (L = 1 is then left out)."""
    _small_dense.DENSE_START_WORK = float("inf")  # wherever a program qualifies
    _small_dense.DENSE_WORK = float("inf")
    _small_dense.REUPLOAD_SPAN = 10**6
    _small_dense.REUPLOAD_NEEDS_PHASES = False
    print(
        f"{'n':>2} {'L':>2} {'rot':>4} {'batch':>5} {'work':>9} {'dense':>8} {'general':>8}", end=""
    )
    print(f" {'ratio':>6}")
    won: list[int] = []
    lost: list[int] = []
    for n in (1, 2, 3, 4):
        for layers in (1, 2, 3, 4, 6):
            for rot in (("Y", "Z"), ("X", "Y", "Z")):
                if reupload and layers == 1:
                    continue
                c = Circuit(n)
                for layer in range(layers):
                    if layer == 0 or reupload:
                        if embedding == "amplitude":
                            c.add(AmplitudeEmbedding(2**n, normalize=True))
                        elif embedding == "iqp":
                            c.add(IQPEmbedding(n))
                        else:
                            c.add(AngleEmbedding(n, rotation="Y"))
                    c.add(RotationLayer(n, rot)).add(EntanglingLayer(n, "ring", entangler))
                for batch in (8, 32, 256, 1024):
                    on, tab = _circuit_step(c, batch, True)
                    off, _ = _circuit_step(c, batch, False)
                    if tab is None:
                        print(f"{n:>2} {layers:>2} {batch:>5}  (program does not qualify)")
                        continue
                    t = sim.rounds_of({"on": on, "off": off}, budget)
                    a, b = statistics.median(t["on"]) * 1e3, statistics.median(t["off"]) * 1e3
                    ratio = statistics.median(x / y for x, y in zip(t["on"], t["off"], strict=True))
                    (won if ratio < 1 else lost).append(tab.work)
                    print(
                        f"{n:>2} {layers:>2} {''.join(rot):>4} {batch:>5} {tab.work:>9} "
                        f"{a:>8.3f} {b:>8.3f} {ratio:>6.3f}",
                        flush=True,
                    )
    print(f"largest work where the variant won: {max(won, default=0)}")
    print(f"smallest work where it lost: {min(lost, default=0)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per cell")
    parser.add_argument("--fourier", action="store_true", help="the trigonometric form")
    parser.add_argument("--product", action="store_true", help="the product state's polynomial")
    parser.add_argument("--no-grad", action="store_true", help="the forward under no_grad")
    parser.add_argument("--start", action="store_true", help="from a start state (amplitude)")
    parser.add_argument("--diagonal", action="store_true", help="trainable diagonals (CRZ)")
    parser.add_argument("--phase", action="store_true", help="per-sample phases (IQP)")
    parser.add_argument(
        "--reupload", choices=["angle", "iqp"], help="the embedding before every layer"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.reupload:
        print(f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()}")
        start_cells(args.budget, args.reupload, "cnot", reupload=True)
        print(f"load average at the end: {os.getloadavg()}")
        return
    if args.start or args.diagonal or args.phase:
        print(f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()}")
        if args.start:
            start_cells(args.budget, "amplitude", "cnot")
        else:
            start_cells(
                args.budget, "iqp" if args.phase else "angle", "cnot" if args.phase else "crz"
            )
        print(f"load average at the end: {os.getloadavg()}")
        return
    if args.no_grad:
        print(f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()}")
        no_grad_cells(args.budget)
        print(f"load average at the end: {os.getloadavg()}")
        return
    if args.product:
        print(f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()}")
        product_cells(args.budget)
        print(f"load average at the end: {os.getloadavg()}")
        return
    if args.fourier:
        print(f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()}")
        fourier_cells(args.budget)
        print(f"load average at the end: {os.getloadavg()}")
        return
    _dense_fourier.FOURIER_WORK = 0  # the variant with its chains
    # the variant wherever a program qualifies, to see where it should not be taken
    _small_dense.DENSE_WORK, _small_dense.DENSE_ROWS = float("inf"), 1  # (per row: moot)
    print(f"torch {torch.__version__}, 1 thread; load average {os.getloadavg()}")
    print(f"{'n':>2} {'L':>2} {'batch':>5} {'work':>9} {'dense':>8} {'general':>8} {'ratio':>6}")
    won: list[int] = []
    lost: list[int] = []
    for n in (1, 2, 3, 4):
        for layers in (1, 2, 4, 6):
            for batch in (8, 16, 32, 64, 256, 1024):
                on, tab = _step(n, layers, batch, True)
                off, _ = _step(n, layers, batch, False)
                if tab is None:
                    print(f"{n:>2} {layers:>2} {batch:>5}  (program does not qualify)")
                    continue
                t = sim.rounds_of({"on": on, "off": off}, args.budget)
                a, b = statistics.median(t["on"]) * 1e3, statistics.median(t["off"]) * 1e3
                ratio = statistics.median(x / y for x, y in zip(t["on"], t["off"], strict=True))
                work = tab.work
                (won if ratio < 1 else lost).append(work)
                print(
                    f"{n:>2} {layers:>2} {batch:>5} {work:>9} {a:>8.3f} {b:>8.3f} {ratio:>6.3f}",
                    flush=True,
                )
    print(f"largest work where the variant won: {max(won, default=0)}")
    print(f"smallest work where it lost: {min(lost, default=0)}")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
