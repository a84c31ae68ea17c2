"""A quantum circuit Born machine as the architecture generator, trained by policy
gradient (Benedetti et al., npj Quantum Information 2019; REINFORCE, Williams 1992).

The generator is a variational circuit over the bits of the architecture register
(binary encoding by default): ``p_theta(x) = |<x|psi(theta)>|^2``, with the
hardware-efficient ansatz of :func:`quarch.search._circuits.hardware_efficient`. A
register wider than ``max_qubits`` is split into blocks of whole choices with an
entangler inside each block only, so the state is a product over blocks and each
block is simulated on its own (exactly the same distribution as the full circuit).

Training is REINFORCE with a baseline on the rewards of the architectures actually
evaluated: after batch ``b`` the parameters move along
``lr * mean_i (r_i - mean(r)) * grad log p_theta(arch_i)``, where ``r_i`` is the
normal score of trial ``i``'s rank among the completed trials (the same for one value,
a weighted cost and several objectives), and ``p_theta(arch)`` sums the codes that
decode to ``arch``. Gradients are parameter-shift gradients, one batched execution
per block. The circuit starts as the uniform superposition.

State: the parameters used by batch ``b`` are a pure function of the seed and the
trials, stored in the study's system attrs under ``"BornSampler:theta:<b>"`` and
rebuilt from the newest stored batch when missing.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch.search._circuits import (
    hardware_efficient,
    sample_codes,
    shift_gradient,
    shift_probs,
    split_blocks,
)
from quarch.search._common import History, PopulationSampler, Proposal, check_float, check_int
from quarch.search._surrogate import arch_ids, decode_codes, propose_batched, rank_targets

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import FrozenTrial

    from quarch.objectives import Objective
    from quarch.space import Space

__all__ = ["BornSampler", "make"]

_THETA_KEY = "BornSampler:theta:"


@functools.lru_cache(maxsize=32)
def _ansatz(n: int, layers: int) -> Any:
    return hardware_efficient(n, layers)


def _probs(plan: Any, theta: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        w = torch.as_tensor(theta[None], dtype=torch.float32)
        return plan.probs(weights=w)[0].double().numpy()


class BornSampler(PopulationSampler):
    """Quantum circuit Born machine trained by REINFORCE with a baseline.

    Args:
        layers (int): entangling layers of the ansatz, >= 0.
        lr (float): policy-gradient step, in ``(0, 100]``.
        steps (int): gradient steps per batch, >= 1.
        encoding (str): ``"binary"`` or ``"onehot"`` register.
        max_qubits (int): widest block simulated, in ``[1, 24]``.
        batch_size (int): architectures sampled per parameter update, >= 1.
        n_startup (int): uniform draws first (the uniform circuit's distribution), >= 1.
        seed (int | None): run seed.
        search_space (dict[str, CategoricalDistribution] | None): the space.

    Example:
        >>> import optuna
        >>> study = optuna.create_study(sampler=BornSampler(seed=0))
        >>> study.optimize(lambda t: t.suggest_categorical("k", [1, 2, 3]), n_trials=5)
    """

    def __init__(
        self,
        *,
        layers: int = 1,
        lr: float = 1.0,
        steps: int = 1,
        encoding: str = "binary",
        max_qubits: int = 12,
        batch_size: int = 10,
        n_startup: int = 10,
        seed: int | None = None,
        search_space: dict[str, CategoricalDistribution] | None = None,
    ) -> None:
        super().__init__(seed=seed, search_space=search_space)
        self._batch_size = check_int("batch_size", batch_size, 1)
        self._n_startup = check_int("n_startup", n_startup, 1)
        if encoding not in ("binary", "onehot"):
            raise ValueError(f"encoding must be one of ['binary', 'onehot']; got {encoding!r}")
        self._encoding = encoding
        self._layers = check_int("layers", layers, 0)
        self._lr = check_float("lr", lr, 0.0, 100.0, low_open=True)
        self._steps = check_int("steps", steps, 1)
        self._max_qubits = check_int("max_qubits", max_qubits, 1, 24)
        if search_space is not None:
            self._blocks([len(d.choices) for d in search_space.values()])

    def _blocks(self, sizes: list[int]) -> list[list[int]]:
        return split_blocks(
            sizes, self._encoding, self._max_qubits, decompose=True, strategy="born"
        )

    def _block_setup(self, sizes: list[int], block: list[int]) -> tuple[Any, np.ndarray, Any]:
        sub = [sizes[j] for j in block]
        dec = decode_codes(sub, self._encoding).astype(np.int64)
        n = dec.shape[0].bit_length() - 1
        plan, init = _ansatz(n, self._layers)
        return plan, init, (sub, dec, arch_ids(dec, sub))

    def _propose(self, study: Study, trial: FrozenTrial, hist: History) -> Proposal:
        return propose_batched(
            self,
            study,
            trial,
            hist,
            batch_size=self._batch_size,
            n_startup=self._n_startup,
            make_batch=self._batch,
            uses_torch=True,
        )

    def _start(self, b: int) -> int:
        return self._n_startup + b * self._batch_size

    # -- the parameter chain -----------------------------------------------------------
    def _update(self, hist: History, theta: list[np.ndarray], lo: int, hi: int) -> list[np.ndarray]:
        """One policy-gradient update on the trials numbered in ``[lo, hi)``."""
        known = [i for i, t in enumerate(hist.trials) if t.number < hi]
        window = [k for k, i in enumerate(known) if hist.trials[i].number >= lo]
        if not window:
            return theta
        r = -rank_targets([hist.trials[i] for i in known], hist.directions)[window]
        adv = r - r.mean()
        if not np.any(adv):
            return theta
        X = hist.X[[known[k] for k in window]]
        out = []
        for block, th in zip(self._blocks(hist.sizes), theta, strict=True):
            plan, _, (sub, _, ids) = self._block_setup(hist.sizes, block)
            target = arch_ids(X[:, block], sub)
            th = th.copy()
            for _ in range(self._steps):
                probs = shift_probs(plan, th)
                pa = np.stack(
                    [np.bincount(ids, weights=row, minlength=int(np.prod(sub))) for row in probs]
                )  # (2P+1, n_archs of the block)
                grad = shift_gradient(pa)[:, target] / np.maximum(pa[0, target], 1e-12)
                th = th + self._lr * (grad @ adv) / len(adv)
            out.append(th)
        return out

    def theta(self, study: Study, hist: History, b: int) -> list[np.ndarray]:
        """Circuit parameters (one array per block) used by batch ``b``."""
        prefix = self._state_key(_THETA_KEY, hist)
        attrs = study._storage.get_study_system_attrs(study._study_id)
        c = b
        while c >= 0 and f"{prefix}{c}" not in attrs:
            c -= 1
        if c >= 0:
            theta = [np.asarray(t, dtype=float) for t in attrs[f"{prefix}{c}"]]
        else:
            init = [self._block_setup(hist.sizes, blk)[1] for blk in self._blocks(hist.sizes)]
            theta = self._update(hist, init, 0, self._n_startup)
            c = 0
            study._storage.set_study_system_attr(
                study._study_id, f"{prefix}0", [t.tolist() for t in theta]
            )
        for k in range(c + 1, b + 1):
            theta = self._update(hist, theta, self._start(k - 1), self._start(k))
            study._storage.set_study_system_attr(
                study._study_id, f"{prefix}{k}", [t.tolist() for t in theta]
            )
        return theta

    def _batch(
        self, study: Study, hist: History, rng: np.random.Generator, size: int, start: int
    ) -> tuple[list[Proposal], dict[str, Any]]:
        b = (start - self._n_startup) // self._batch_size
        theta = self.theta(study, hist, b)
        shots = 8 * size + 32
        parts = []
        for block, th in zip(self._blocks(hist.sizes), theta, strict=True):
            plan, _, (_, dec, _) = self._block_setup(hist.sizes, block)
            probs = _probs(plan, th)
            codes = sample_codes(probs / probs.sum(), shots, int(rng.integers(2**31 - 1)))
            parts.append((block, dec[codes]))
        X = np.zeros((shots, len(hist.sizes)), dtype=np.int64)
        for block, vals in parts:
            X[:, block] = vals
        taken = set(hist.seen)
        props: list[Proposal] = []
        for x in X:
            key = tuple(int(v) for v in x)
            if key not in taken:
                props.append(list(key))
                taken.add(key)
            if len(props) == size:
                break
        return props, {}


def make(*, seed: int, space: Space, objective: Objective, **options: Any) -> BornSampler:
    """Registry factory: ``BornSampler`` over ``space`` (any objective: ranks are the reward)."""
    return BornSampler(seed=seed, search_space=space.distributions(), **options)
