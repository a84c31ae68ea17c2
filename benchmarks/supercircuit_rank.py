"""How well a SuperCircuit ranks hybrid architectures (Kendall tau).

Trains one weight-shared SuperCircuit on a restricted ``hqnn`` space, scores N sampled
architectures with inherited weights (and after a few fine-tuning steps), trains each
of them standalone for a few epochs, and prints Kendall's tau between the two
validation accuracies.

    python benchmarks/supercircuit_rank.py [--dataset digits] [--archs 32] [--steps 3000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from scipy.stats import kendalltau, spearmanr

from quarch.data import load_dataset
from quarch.spaces.hqnn.evaluator import HQNNEvaluator, SuperCircuitEvaluator, prepare_data
from quarch.spaces.hqnn.space import hqnn_space


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="digits")
    p.add_argument("--archs", type=int, default=32)
    p.add_argument("--steps", type=int, default=3000, help="SuperCircuit training steps")
    p.add_argument("--epochs", type=int, default=5, help="standalone training epochs")
    p.add_argument("--finetune", type=int, default=20, help="fine-tuning steps")
    p.add_argument("--max-qubits", type=int, default=5)
    p.add_argument("--max-layers", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gates", default="cnot,cz,crz", help="entangling gates of the space")
    a = p.parse_args()
    torch.set_num_threads(int(os.environ.get("QUARCH_THREADS", "1")))
    space = hqnn_space(
        max_qubits=a.max_qubits,
        max_layers=a.max_layers,
        frontends=("linear", "pca"),
        heads=("linear",),
        learning_rates=(0.03,),
        entangling_gates=tuple(a.gates.split(",")),
    )
    data = prepare_data(load_dataset(a.dataset, seed=a.seed))
    rng = np.random.default_rng(a.seed + 1)
    archs = [space.sample(rng) for _ in range(a.archs)]
    t0 = time.perf_counter()
    sc_ev = SuperCircuitEvaluator(
        data, space, seed=a.seed, steps=a.steps, lr=0.03, finetune_steps=0
    )
    _ = sc_ev.supercircuit  # train it now, so its time is measured apart
    t_sc = time.perf_counter() - t0
    ft_ev = SuperCircuitEvaluator(
        data, space, seed=a.seed, steps=a.steps, lr=0.03, finetune_steps=a.finetune
    )
    ft_ev._sc = sc_ev.supercircuit
    alone = HQNNEvaluator(data, space, epochs=a.epochs, batch_size=32)
    inh, fin, ref = [], [], []
    t_inh = t_ft = t_ref = 0.0
    for i, arch in enumerate(archs):
        t = time.perf_counter()
        inh.append(1 - sc_ev.evaluate(arch, seed=i)["val_error"])
        t_inh += time.perf_counter() - t
        t = time.perf_counter()
        fin.append(1 - ft_ev.evaluate(arch, seed=i)["val_error"])
        t_ft += time.perf_counter() - t
        t = time.perf_counter()
        ref.append(1 - alone.evaluate(arch, seed=i)["val_error"])
        t_ref += time.perf_counter() - t
        print(
            f"{i:3d} {arch['embedding']:9s} q={arch['qubits']} L={arch['layers']} "
            f"fe={arch['frontend']:6s} inherited={inh[-1]:.3f} finetuned={fin[-1]:.3f} "
            f"standalone={ref[-1]:.3f}",
            flush=True,
        )
    print(
        f"\ndataset={a.dataset} archs={a.archs} space: qubits 2-{a.max_qubits}, "
        f"layers 1-{a.max_layers}, gates {a.gates}; SuperCircuit {a.steps} steps in {t_sc:.0f} s; "
        f"standalone {a.epochs} epochs"
    )
    print(f"{'scores':<28}{'Kendall tau':>12}{'p-value':>10}{'Spearman':>10}{'time (s)':>10}")
    for name, s, t in (
        ("inherited weights", inh, t_inh),
        (f"+ {a.finetune} fine-tuning steps", fin, t_ft),
    ):
        tau, pv = kendalltau(s, ref)
        rho = spearmanr(s, ref).statistic
        print(f"{name:<28}{tau:>12.3f}{pv:>10.2g}{rho:>10.3f}{t:>10.1f}")
    print(f"{'standalone training':<28}{'':>12}{'':>10}{'':>10}{t_ref:>10.1f}")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
