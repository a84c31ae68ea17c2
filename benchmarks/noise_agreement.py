"""quarch's device noise against qiskit-aer on random routed circuits of 2-12 qubits.

Each circuit is a random ``hqnn`` architecture routed on a calibrated device (CZ and ECR
devices in turn) with random weights and inputs. Its noisy expectations (``<Z>`` or
``<ZZ>`` words, readout error included) are computed three ways:

* Aer: ``AerSimulator(method="density_matrix")`` with ``NoiseModel.from_backend`` of the
  fake backend itself, exact probabilities, Aer's readout matrices
  (:func:`quarch.testing.aer.aer_expvals`);
* quarch, density matrices (complex128): agreement should be at rounding level (1e-6);
* quarch, quantum trajectories (complex64) to a standard error of ``--target-se``:
  within 3 standard errors of Aer's exact value in about 99.7 % of values.

    python benchmarks/noise_agreement.py [--circuits 50] [--samples 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from quarch.cost.device_costs import device_noise, observables_on_device, success_probability
from quarch.cost.routing import route
from quarch.quantum.noisy_circuit import noisy_circuit_expval
from quarch.quantum.trajectories import trajectory_expval
from quarch.spaces.hqnn.model import build_circuit, observables_of
from quarch.spaces.hqnn.space import hqnn_space
from quarch.testing.aer import aer_expvals


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--circuits", type=int, default=50)
    p.add_argument("--min-qubits", type=int, default=2)
    p.add_argument("--max-qubits", type=int, default=12)
    p.add_argument("--samples", type=int, default=2, help="input rows per circuit")
    p.add_argument("--devices", default="ibm-fez,ibm-sherbrooke")
    p.add_argument("--target-se", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    devices = a.devices.split(",")
    rng = np.random.default_rng(a.seed)
    widths = list(range(a.min_qubits, a.max_qubits + 1))
    dm_err: list[float] = []
    zs: list[np.ndarray] = []
    t_dm = t_tr = t_aer = 0.0
    print(f"load average {os.getloadavg()}, torch threads {torch.get_num_threads()}")
    print(" #  device          n  gates  2q  ESP     |dm-aer|  traj: max|z|  in 3SE  T     "
          "time dm / traj / aer (s)")  # fmt: skip
    for i in range(a.circuits):
        n = widths[i % len(widths)]
        device = devices[i % len(devices)]
        embeddings = ["angle-x", "angle-y", "angle-z", "iqp"] + (["amplitude"] if n <= 5 else [])
        space = hqnn_space(min_qubits=n, max_qubits=n, max_layers=2, embeddings=embeddings)
        arch = space.sample(rng)
        c = build_circuit(arch)
        r = route(c, device, layout=int(rng.integers(0, 4)), seed=a.seed)
        nc = device_noise(r)
        words = observables_on_device(r, observables_of(arch))
        w = rng.uniform(-np.pi, np.pi, c.n_weights)
        width = 2**n if arch["embedding"] == "amplitude" else c.n_inputs
        x = rng.uniform(-1.5, 1.5, (a.samples, width))
        xt, wt = torch.tensor(x), torch.tensor(w)
        t0 = time.perf_counter()
        want = aer_expvals(r, w.tolist(), x, words)
        t1 = time.perf_counter()
        dm = noisy_circuit_expval(nc, words, inputs=xt, weights=wt, max_memory_gb=8.0).numpy()
        t2 = time.perf_counter()
        tr = trajectory_expval(nc, words, inputs=xt, weights=wt, target_se=a.target_se,
                               seed=a.seed + i)  # fmt: skip
        t3 = time.perf_counter()
        t_aer, t_dm, t_tr = t_aer + t1 - t0, t_dm + t2 - t1, t_tr + t3 - t2
        err = float(np.abs(dm - want).max())
        z = np.abs(tr.mean.double().numpy() - want) / np.maximum(tr.stderr.double().numpy(), 1e-12)
        dm_err.append(err)
        zs.append(z.ravel())
        print(
            f"{i:2d}  {device:14s} {n:2d}  {len(r.ops):5d} {r.two_qubit_gates:3d}  "
            f"{success_probability(r):.3f}  {err:8.1e}  {z.max():11.2f}  "
            f"{(z <= 3).mean():6.2f}  {tr.trajectories:5d} {t2 - t1:7.2f} {t3 - t2:7.2f} "
            f"{t1 - t0:7.2f}",
            flush=True,
        )
    allz = np.concatenate(zs)
    print()
    print(f"circuits: {len(dm_err)} ({a.min_qubits}-{a.max_qubits} qubits, {', '.join(devices)})")
    print(f"density matrix vs Aer: max |difference| {max(dm_err):.2e} over {allz.size} values")
    print(
        f"trajectories vs Aer: {100 * (allz <= 3).mean():.1f} % of {allz.size} values within "
        f"3 standard errors ({100 * (allz <= 2).mean():.1f} % within 2, "
        f"{100 * (allz <= 1).mean():.1f} % within 1; normal: 99.7, 95.4, 68.3)"
    )
    print(f"time: quarch density {t_dm:.1f} s, quarch trajectories {t_tr:.1f} s, Aer {t_aer:.1f} s")


if __name__ == "__main__":
    main()
