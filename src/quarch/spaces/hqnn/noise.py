"""The noisy path of the ``hqnn`` room: an architecture's circuit under a device's noise.

:class:`NoiseSetup` says which noise an evaluator scores with and how:

* a **calibrated target** (``ibm-fez``, ...): the circuit routed on the region its
  ``layout`` choice names in the circuit's own order of regions
  (:func:`quarch.cost.routing.route`, the region of its costs) with that device's
  noise gate by gate and its readout error per qubit
  (:func:`quarch.cost.device_costs.device_noise`);
* a **hand profile** (``ibm-heron``, ``ibm-eagle``): the logical circuit with the
  profile's median depolarising and readout rates (as quarch always did).

Circuits up to ``max_density_qubits`` wires are simulated exactly on density
matrices; wider ones on quantum trajectories until every expectation's standard error
is at most ``target_se`` (:func:`quarch.quantum.trajectories.trajectory_expval`).
Nothing is made up: a circuit that fits neither path raises, and the trial fails with
the reason.

**Noise-aware training** (:class:`NoisyLayer`) swaps the model's quantum layer for the
noisy simulation of the same weights while it trains, as QuantumNAS injects device
noise: exact on density matrices, or a few trajectories per step (an unbiased estimate
of the noisy output and its gradient).

**Zero-noise extrapolation** (:func:`zne_expvals`): global unitary folding of the
routed circuit at scales 1, 3, 5 (:meth:`~quarch.quantum.noisy_circuit.NoisyCircuit.folded`)
and Richardson extrapolation to zero noise. Written here, not taken from ``mitiq``:
mitiq 1.1 needs numpy < 2.3 and its Qiskit extra pins qiskit-aer 0.17 and
qiskit-ibm-runtime 0.41, which the locked environment (numpy 2.4, qiskit-aer 0.18,
qiskit-ibm-runtime 0.51) cannot install; and its executors run one circuit object per
call, where quarch evaluates a batch of samples in one torch pass. Folding native gates
and a three-point Richardson formula are a few lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from quarch._errors import ConfigError
from quarch.cost.devices import get_quantum_device
from quarch.cost.quantum import noise_model
from quarch.quantum import Circuit
from quarch.quantum.noisy_circuit import NoisyCircuit, noisy_circuit_expval
from quarch.quantum.trajectories import trajectory_expval, trajectory_memory_gb
from quarch.spaces.hqnn.model import observables_of

__all__ = [
    "ZNE_SCALES",
    "NoiseSetup",
    "NoisyLayer",
    "check_noise_options",
    "machine_memory_gb",
    "richardson",
    "zne_expvals",
]

#: Fold scales of zero-noise extrapolation.
ZNE_SCALES = (1, 3, 5)
#: Trajectories per training step of noise-aware training on the trajectory path.
TRAIN_TRAJECTORIES = 4
#: Memory a noisy evaluation's batch is split to fit (GiB).
WORKING_GB = 2.0


def machine_memory_gb() -> float:
    """Physical memory of this machine (GiB)."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        return 8.0


@dataclass(frozen=True)
class NoiseSetup:
    """Which noise an ``hqnn`` evaluator scores with, and how it simulates it.

    Attributes:
        profile (str): the noise's device (calibrated target or hand profile).
        max_density_qubits (int): widest circuit simulated on density matrices.
        target_se (float): standard error the trajectories reach per expectation.
        optimization_level (int): Qiskit level of the routing (calibrated targets).
        transpile_seed (int): seed of the routing.
        memory_gb (float): most memory one sample's simulation may need (the run is
            refused before it starts when the widest circuit needs more); batches are
            split to about :data:`WORKING_GB`.
    """

    profile: str
    max_density_qubits: int = 8
    target_se: float = 0.01
    optimization_level: int = 2
    transpile_seed: int = 0
    memory_gb: float = 2.0

    @property
    def calibrated(self) -> bool:
        """Whether the noise comes from a calibration snapshot (routed, per gate)."""
        return get_quantum_device(self.profile).calibration is not None

    def check_width(self, n_qubits: int) -> None:
        """Refuse a width neither path can simulate in :attr:`memory_gb` (before any work).

        Raises:
            ConfigError: with the memory it would need and the limit.
        """
        if n_qubits <= self.max_density_qubits:
            need = _density_gb(n_qubits)
            what = f"a density matrix of {n_qubits} qubits"
        else:
            need = trajectory_memory_gb(n_qubits, 1, 16)
            what = f"16 trajectories of {n_qubits} qubits"
        if need > self.memory_gb:
            raise ConfigError(
                f"noise: {what} needs about {need:.1f} GiB per sample; the limit is "
                f"{self.memory_gb:.1f} GiB. Lower noise_max_qubits (wider circuits then use "
                "trajectories) or max_qubits"
            )

    def circuit(
        self, arch: Mapping[str, Any], circuit: Circuit, *, region: tuple[int, ...] | None = None
    ) -> tuple[NoisyCircuit, list[Any]]:
        """The noisy circuit of ``arch`` and its observables on the circuit's wires; on a
        calibration, routed on the region ``arch``'s ``layout`` names, or on the physical
        qubits ``region``."""
        words = observables_of(arch)
        if not self.calibrated:
            return NoisyCircuit.from_circuit(circuit, noise_model(self.profile)), list(words)
        from quarch.cost.device_costs import device_noise, observables_on_device
        from quarch.cost.routing import route

        layout = None if region is not None else int(arch.get("layout", 0))
        routed = route(
            circuit, self.profile, layout=layout, region=region, seed=self.transpile_seed,
            optimization_level=self.optimization_level,
        )  # fmt: skip
        return device_noise(routed), observables_on_device(routed, words)

    def expvals(
        self,
        nc: NoisyCircuit,
        words: Sequence[Any],
        features: torch.Tensor,
        weights: torch.Tensor,
        *,
        seed: int = 0,
        grad: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Noisy expectations ``[batch, n_obs]`` (float32) and their standard errors
        (zero on the exact density-matrix path)."""
        self.check_width(nc.n_qubits)
        n = nc.n_qubits
        first = TRAIN_TRAJECTORIES if grad else 64
        one = _density_gb(n) if n <= self.max_density_qubits else trajectory_memory_gb(n, 1, first)
        # batches are split to about WORKING_GB (a shared machine), one sample may use more
        work = min(self.memory_gb, max(WORKING_GB, one))
        if n <= self.max_density_qubits:
            chunk = max(1, int(work // one))
            outs = [
                noisy_circuit_expval(
                    nc,
                    words,
                    inputs=features[i : i + chunk],
                    weights=weights,
                    dtype=torch.complex64,
                    max_memory_gb=work,
                )
                for i in range(0, len(features), chunk)
            ]
            out = torch.cat(outs).float()
            return out, torch.zeros_like(out)
        res = trajectory_expval(
            nc, words, inputs=features, weights=weights, target_se=self.target_se,
            trajectories=first, seed=seed, max_memory_gb=work, grad=grad,
        )  # fmt: skip
        return res.mean.float(), res.stderr.float()


def _density_gb(n_qubits: int) -> float:
    """GiB of one sample's density-matrix run: three live ``4**n`` matrices of complex64
    (what :meth:`NoiseSetup.expvals` runs; the width check sized them as complex128,
    refusing widths that fit)."""
    return 3 * 4**n_qubits * 8 / 2**30


def richardson(scales: Sequence[float]) -> list[float]:
    """Coefficients ``c_i`` with ``E(0) = sum c_i E(scale_i)`` for a polynomial of degree
    ``len(scales) - 1`` through the points (Lagrange at zero).

    Example:
        >>> richardson([1, 3, 5])
        [1.875, -1.25, 0.375]
    """
    out = []
    for i, si in enumerate(scales):
        c = 1.0
        for j, sj in enumerate(scales):
            if j != i:
                c *= sj / (sj - si)
        out.append(c)
    return out


def zne_expvals(
    setup: NoiseSetup,
    nc: NoisyCircuit,
    words: Sequence[Any],
    features: torch.Tensor,
    weights: torch.Tensor,
    *,
    seed: int = 0,
    scales: Sequence[int] = ZNE_SCALES,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-noise extrapolated expectations and their standard errors (the scales'
    errors combined with the Richardson coefficients)."""
    means, variances = [], []
    for k, c in enumerate(richardson(scales)):
        m, se = setup.expvals(nc.folded(int(scales[k])), words, features, weights, seed=seed + k)
        means.append(c * m)
        variances.append((c * se) ** 2)
    return torch.stack(means).sum(0), torch.stack(variances).sum(0).sqrt()


class NoisyLayer(nn.Module):
    """A quantum layer's weights run through the noisy simulation (noise-aware training).

    Args:
        layer (nn.Module): the model's :class:`~quarch.quantum.QuantumLayer`; its
            ``weights`` parameter is shared, so training this trains that.
        nc (NoisyCircuit): the noisy circuit of the same architecture.
        words (Sequence): observables on ``nc``'s wires.
        setup (NoiseSetup): how to simulate.
        seed (int): seed of the first step's trajectories (each step takes the next).
    """

    def __init__(
        self, layer: nn.Module, nc: NoisyCircuit, words: Sequence[Any], setup: NoiseSetup,
        seed: int = 0,
    ) -> None:  # fmt: skip
        super().__init__()
        self.layer = layer
        self.nc, self.words, self.setup = nc, list(words), setup
        self.step = seed

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Noisy expectations ``[batch, n_obs]``, differentiable in the weights."""
        self.step += 1
        weights = self.layer.weights
        assert isinstance(weights, torch.Tensor)
        out, _ = self.setup.expvals(
            self.nc, self.words, inputs, weights, seed=self.step, grad=torch.is_grad_enabled()
        )
        return out.to(inputs.dtype)


def check_noise_options(
    opts: Mapping[str, Any], *, device_profile: str, max_qubits: int, memory_gb: float
) -> NoiseSetup | None:
    """The :class:`NoiseSetup` that evaluator options ask for (``None`` without noise),
    checked before a run starts: the profile, the width of the space's widest circuit
    against this machine's memory, and ZNE's need for a calibrated target.

    Raises:
        ConfigError: one line naming the option and what is allowed.
    """
    noise = opts.get("noise")
    if noise in (None, False, "", "none"):
        for key in ("noise_aware", "zne"):
            if opts.get(key):
                raise ConfigError(f"{key} needs a noise model: set noise (--noise DEVICE)")
        return None
    profile = device_profile if noise in (True, "device", "true") else str(noise)
    get_quantum_device(profile)
    try:
        setup = NoiseSetup(
            profile,
            max_density_qubits=int(opts.get("noise_max_qubits", 8)),
            target_se=float(opts.get("noise_target_se", 0.01)),
            optimization_level=int(opts.get("optimization_level", 2)),
            transpile_seed=int(opts.get("transpile_seed", 0)),
            memory_gb=memory_gb,
        )
    except (TypeError, ValueError) as e:
        raise ConfigError(f"a noise option is not a number: {e}") from None
    if not 0 < setup.target_se < 1:
        raise ConfigError(f"noise_target_se must be in (0, 1); got {setup.target_se}")
    if opts.get("zne") and not setup.calibrated:
        raise ConfigError(
            f"zne folds the routed native circuit, so it needs a calibrated noise device; "
            f"{profile!r} is a hand profile (use e.g. --noise ibm-fez)"
        )
    if opts.get("noise_aware") and opts.get("supercircuit"):
        raise ConfigError(
            "noise_aware trains each architecture under noise; with supercircuit the "
            "weights are inherited, not trained: use one or the other"
        )
    setup.check_width(max_qubits)
    return setup
