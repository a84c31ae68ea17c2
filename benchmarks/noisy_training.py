"""One step of noise-aware training: a routed circuit's noisy expectations and gradient.

Noise-aware training (``--evaluator-option noise_aware=true``) runs every training step
through the noisy simulation of the circuit routed on a calibrated device, with that
device's noise gate by gate: density matrices
(:func:`quarch.quantum.noisy_circuit.noisy_circuit_expval`, complex64) up to the
evaluator's ``noise_max_qubits`` (8), a few trajectories per step past it
(:func:`quarch.quantum.trajectories.trajectory_expval`, ``--path trajectories``). This
times one step's quantum part (forward and backward, ``<Z>`` words of the architecture)
on random ``hqnn`` architectures routed on ``ibm-fez``, for a few widths and batch sizes,
and prints milliseconds per step.

With ``--baseline quarch_old`` (an older quarch importable under that name: a copy of
``src/quarch`` with its imports renamed, on ``PYTHONPATH``) both run in this process in
alternating rounds on the same circuits and arguments; it prints both medians, the
ratio of each round (robust to load that drifts between rounds) and checks the two
give the same values.

    python benchmarks/noisy_training.py [--widths 2,4,6] [--batches 1,32] [--rounds 7]
        [--path density|trajectories] [--baseline quarch_old] [--threads 1]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch


def _step(module: str, path: str, n: int, batch: int, seed: int) -> tuple[Callable[[], Any], int]:
    """A function running one step of ``module``'s noisy path, and the routed step count."""
    dc = importlib.import_module(f"{module}.cost.device_costs")
    routing = importlib.import_module(f"{module}.cost.routing")
    noisy = importlib.import_module(f"{module}.quantum.noisy_circuit")
    traj = importlib.import_module(f"{module}.quantum.trajectories")
    # the hqnn evaluator's own settings (spaces/hqnn/noise.py: complex64, 4 trajectories)
    hqnn_noise = importlib.import_module(f"{module}.spaces.hqnn.noise")
    model = importlib.import_module(f"{module}.spaces.hqnn.model")
    space = importlib.import_module(f"{module}.spaces.hqnn.space")
    rng = np.random.default_rng(seed + n)
    arch = space.hqnn_space(min_qubits=n, max_qubits=n, max_layers=2,
                            embeddings=["angle-y"]).sample(rng)  # fmt: skip
    circuit = model.build_circuit(arch)
    routed = routing.route(circuit, "ibm-fez", layout=0, seed=0)
    nc = dc.device_noise(routed)
    words = dc.observables_on_device(routed, model.observables_of(arch))
    x = torch.tensor(rng.uniform(-1.5, 1.5, (batch, circuit.n_inputs)))
    w = torch.tensor(rng.uniform(-np.pi, np.pi, circuit.n_weights), requires_grad=True)

    def step() -> torch.Tensor:
        w.grad = None
        if path == "density":
            out = noisy.noisy_circuit_expval(nc, words, inputs=x, weights=w, dtype=torch.complex64)
        else:
            out = traj.trajectory_expval(
                nc, words, inputs=x, weights=w, trajectories=hqnn_noise.TRAIN_TRAJECTORIES,
                seed=seed, grad=True,
            ).mean  # fmt: skip
        out.sum().backward()
        return out.detach()

    return step, len(routed.ops)


def _seconds(f: Callable[[], Any], reps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(reps):
        f()
    return (time.perf_counter() - t0) / reps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--path", choices=["density", "trajectories"], default="density")
    p.add_argument("--widths", default=None, help="qubits (default 2,4,6; 9,10 for trajectories)")
    p.add_argument("--batches", default="1,32")
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--baseline", default=None, help="an older quarch's module name")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: a laptop core)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    print(f"load average {os.getloadavg()}, torch threads {torch.get_num_threads()}, "
          f"path {a.path}")  # fmt: skip
    widths = a.widths or ("2,4,6" if a.path == "density" else "9,10")
    for n in (int(v) for v in widths.split(",")):
        for batch in (int(v) for v in a.batches.split(",")):
            new, ops = _step("quarch", a.path, n, batch, a.seed)
            old = _step(a.baseline, a.path, n, batch, a.seed)[0] if a.baseline else None
            if old is not None and not torch.allclose(new(), old(), atol=1e-5, rtol=0):
                raise SystemExit(f"n={n} batch={batch}: the two copies give other values")
            reps = max(2, int(0.2 / _seconds(new, 2)))
            times: dict[str, list[float]] = {"new": [], "old": []}
            for r in range(a.rounds):
                order = [("new", new), ("old", old)] if r % 2 else [("old", old), ("new", new)]
                for name, f in order:
                    if f is not None:
                        times[name].append(_seconds(f, reps))
            line = (f"n={n} batch={batch:3d} routed gates+channels={ops:4d}  "
                    f"{statistics.median(times['new']) * 1e3:8.2f} ms/step")  # fmt: skip
            if old is not None:
                ratios = [x / y for x, y in zip(times["new"], times["old"], strict=True)]
                line += (f"  baseline {statistics.median(times['old']) * 1e3:8.2f} ms/step  "
                         f"ratio median {statistics.median(ratios):.3f} "
                         f"[{min(ratios):.3f}, {max(ratios):.3f}]")  # fmt: skip
            print(line, flush=True)


if __name__ == "__main__":
    main()
