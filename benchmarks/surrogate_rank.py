"""Which surrogate ranks held-out architectures better: the Bayesian quadratic model
(BOCS, quarch's default) or a factorisation-machine ensemble (FMQA)?

Both are fitted to the normal scores of the ranks of ``n`` random NAS-Bench-201 cells'
12-epoch CIFAR-10 validation accuracy (the signal a search sees; CIFAR-10 is the tuning
data set) and scored on every other cell by Kendall's tau (all cells, and the top 10 %
by validation accuracy, where a search spends its last queries), and by where the
model's best-predicted cell stands in the true order. Usage::

    python benchmarks/surrogate_rank.py --data-dir ../shared/data [--repeats 20]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--sizes", default="25,50,100")
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()

    from scipy.stats import kendalltau
    from threadpoolctl import threadpool_limits

    from quarch.search._fm import fit_fm
    from quarch.search._surrogate import QuadraticModel, fit_quadratic, rank_scores
    from quarch.spaces.nb201.evaluator import load_nb201
    from quarch.spaces.nb201.space import nb201_space

    table = load_nb201("cifar10", args.data_dir)
    space = nb201_space()
    sizes = [5] * 6
    X = np.array(list(itertools.product(range(5), repeat=6)))
    val = table.val_12ep[[table.row(space.from_indices(list(x))) for x in X]]
    true_rank = np.empty(len(val), dtype=int)
    true_rank[np.argsort(-val)] = np.arange(len(val))
    top = val >= np.quantile(val, 0.9)

    def score(pred: np.ndarray, held: np.ndarray) -> tuple[float, float, int]:
        h = np.zeros(len(val), dtype=bool)
        h[held] = True
        tau = kendalltau(-pred[h], val[h]).statistic
        tau_top = kendalltau(-pred[h & top], val[h & top]).statistic
        return float(tau), float(tau_top), int(true_rank[int(np.argmin(pred))])

    print(f"{'n':>4} {'model':>5} {'tau all':>16} {'tau top 10%':>16} {'rank of argmin':>16} "
          f"{'fit ms':>8}")  # fmt: skip
    with threadpool_limits(1):
        for n in (int(v) for v in args.sizes.split(",")):
            res: dict[str, list[tuple[float, float, int, float]]] = {"bocs": [], "fm": []}
            for rep in range(args.repeats):
                rng = np.random.default_rng([n, rep, 77])
                idx = rng.choice(len(X), n, replace=False)
                held = np.setdiff1d(np.arange(len(X)), idx)
                y = rank_scores(-val[idx])
                t = time.perf_counter()
                post = fit_quadratic(X[idx], y, sizes)
                ms = 1e3 * (time.perf_counter() - t)
                res["bocs"].append((*score(QuadraticModel(sizes, post.mean).energy(X), held), ms))
                t = time.perf_counter()
                ens = fit_fm(X[idx], y, sizes, rng=rng)
                ms = 1e3 * (time.perf_counter() - t)
                res["fm"].append((*score(QuadraticModel(sizes, ens.mean).energy(X), held), ms))
            for name, rows in res.items():
                a = np.array(rows, dtype=float)
                print(f"{n:>4} {name:>5} {a[:, 0].mean():>8.3f} ± {a[:, 0].std(ddof=1):.3f} "
                      f"{a[:, 1].mean():>8.3f} ± {a[:, 1].std(ddof=1):.3f} "
                      f"{np.median(a[:, 2]):>16.0f} {a[:, 3].mean():>8.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
