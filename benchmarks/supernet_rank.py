"""Ranking quality of the SuperNet evaluator: Kendall tau against short standalone training.

Trains one single-path one-shot SuperNet on the training split, then for ``--archs``
random architectures compares the validation accuracy of inherited weights (with
batch-norm recalibrated) against that of the same architecture trained from scratch
for ``--epochs`` epochs, and prints both, their Kendall tau and Spearman rho, and the
wall time of each side.

    python benchmarks/supernet_rank.py [--dataset fashion-mnist] [--data-dir ../shared/data]
        [--archs 20] [--max-train 5000] [--supernet-epochs 8] [--epochs 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import stats

from quarch.data import load_dataset
from quarch.spaces.cnn.evaluator import EdgeEvaluator, SuperNetEvaluator
from quarch.spaces.cnn.space import cnn_space


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--archs", type=int, default=20)
    ap.add_argument("--max-train", type=int, default=5000)
    ap.add_argument("--supernet-epochs", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = load_dataset(
        args.dataset, data_dir=args.data_dir, seed=args.seed, max_train=args.max_train
    )
    space = cnn_space()
    rng = np.random.default_rng(args.seed)
    archs = [space.sample(rng) for _ in range(args.archs)]
    sn = SuperNetEvaluator(
        space, data, supernet_epochs=args.supernet_epochs, seed=args.seed, latency="model"
    )
    t0 = time.perf_counter()
    _ = sn.supernet
    t_train = time.perf_counter() - t0
    alone = EdgeEvaluator(data, epochs=args.epochs, latency="model")
    shared, scratch, t_sn, t_sa = [], [], 0.0, 0.0
    print(f"{'#':>3} {'bits':>4} {'MACs':>9} {'supernet_acc':>12} {'standalone_acc':>14}")
    for i, arch in enumerate(archs):
        t = time.perf_counter()
        a = sn.evaluate(arch, seed=i)["val_accuracy"]
        t_sn += time.perf_counter() - t
        t = time.perf_counter()
        m = alone.evaluate(arch, seed=i)
        t_sa += time.perf_counter() - t
        shared.append(a)
        scratch.append(m["val_accuracy"])
        print(f"{i:>3} {arch['bits']:>4} {int(m['macs']):>9} {a:>12.4f} {m['val_accuracy']:>14.4f}")
    tau = stats.kendalltau(shared, scratch).statistic
    rho = stats.spearmanr(shared, scratch).statistic
    print(
        f"dataset={args.dataset} max_train={args.max_train} archs={len(archs)} "
        f"supernet_epochs={args.supernet_epochs} standalone_epochs={args.epochs}"
    )
    print(
        f"kendall_tau={tau:.3f} spearman={rho:.3f} supernet_train_s={t_train:.1f} "
        f"supernet_eval_s_per_arch={t_sn / len(archs):.2f} "
        f"standalone_s_per_arch={t_sa / len(archs):.2f}"
    )


if __name__ == "__main__":
    main()
