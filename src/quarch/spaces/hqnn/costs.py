"""The costs of an ``hqnn`` architecture: quantum costs of its circuit, FLOPs of the
whole network, measured simulation time and, optionally, its noisy validation error.

:func:`quantum_cost_metrics` needs no training (it reads the circuit only), so those
costs can also be budgets. :class:`HybridCosts` adds what needs the trained model; both
evaluators of the space (short training and the SuperCircuit) call it, so they return
the same metrics.

Metrics:

* ``qubits``, ``depth``, ``two_qubit_gates`` (native two-qubit gates after
  decomposition), ``runtime_proxy`` (seconds per sample on ``device_profile``);
* ``subcircuits`` and ``cut_overhead`` (``log10`` of the sampling overhead, since
  overheads of wide circuits overflow a float) for a device of ``qubit_budget`` qubits;
* ``flops`` = classical FLOPs of the front-end and head (torch's counter) + the
  circuit's simulation FLOPs (:func:`~quarch.cost.quantum.quantum_flops`), per sample;
* ``sim_time_ms``: measured wall time of one forward pass of the quantum layer on one
  batch. It is the only metric that is **not reproducible** (machine load, threads);
* on a calibrated ``device_profile`` (``ibm-fez``, ...; ``quarch devices``), the costs of
  the circuit routed on the region its ``layout`` choice names in the circuit's own
  order (:func:`~quarch.cost.routing.route`: layout 0 is the best success probability
  of the calibration's best regions; :mod:`quarch.cost.device_costs`):
  ``routed_depth``, ``routed_two_qubit_gates``, ``swaps``, ``duration_us`` (one shot),
  ``success_probability``, ``job_runtime_s`` (one job of one circuit) and
  ``train_runtime_s`` (training it on the device). A
  circuit wider than the device raises :class:`~quarch.cost.routing.DeviceFitError`
  before anything trains, so the trial fails with that reason;
* with them, in a trained trial's metrics, ``region_qubit_<i>``: the physical qubit of
  the region's wire ``i``, the qubits those costs are of, which the report, the export
  and a resume read back (:mod:`quarch.spaces.hqnn.provenance`: a layout index alone
  names other qubits once the region ranking or the calibration changes). A record,
  not a cost: no cheap metric (:meth:`HybridCosts.static`) and no objective;
* ``noisy_val_error`` and ``noisy_se`` when ``noise`` is set: the trained model
  re-scored with the device's noise (:mod:`quarch.spaces.hqnn.noise`) on the first
  ``noise_samples`` validation samples, exactly on density matrices up to
  ``noise_max_qubits`` wires, else on trajectories to a standard error of
  ``noise_target_se`` per expectation (``noisy_se``: the largest one; 0 when exact);
* ``zne_val_error`` with ``zne``: the same, its expectations zero-noise extrapolated.

Everything here except ``sim_time_ms`` is deterministic for the trial's seed (the
trajectories are seeded by it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from numbers import Integral
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from quarch._errors import ConfigError
from quarch.cost.classical import count_flops, count_params
from quarch.cost.cutting import estimate_cuts, find_cuts_qiskit
from quarch.cost.device_costs import JOB_OVERHEAD_S, TrainingLoad, device_metrics
from quarch.cost.devices import get_quantum_device, is_calibrated
from quarch.cost.quantum import native_two_qubit_gates, quantum_flops, runtime_proxy
from quarch.cost.routing import RoutedCircuit, route
from quarch.quantum import Circuit, resources
from quarch.spaces.hqnn.model import HybridNet, build_circuit, observables_of
from quarch.spaces.hqnn.noise import NoiseSetup, check_noise_options, machine_memory_gb, zne_expvals
from quarch.spaces.hqnn.provenance import region_metrics, route_on_region

if TYPE_CHECKING:
    from quarch.data import Dataset

__all__ = ["HybridCosts", "quantum_cost_metrics", "routing_device"]


#: A placement's key (:func:`_placement`): the circuit's width, weights, gates, layout.
_Placement = tuple[int, int, tuple[Any, ...], int]


def _placement(arch: Mapping[str, Any]) -> _Placement:
    """What names a region: the circuit and its ``layout`` choice. Not the width alone:
    a layout is an index into the circuit's own order of regions
    (:func:`~quarch.cost.routing.layout_regions`), so two circuits of one width may
    route one layout on other qubits."""
    c = build_circuit(arch)
    return c.n_qubits, c.n_weights, tuple(c.ops), int(arch.get("layout", 0))


def routing_device(device_profile: str, noise: bool | str | None) -> str | None:
    """The calibrated target circuits are routed on: the device profile when it is
    one, else the noise's device when that is one, else ``None`` (hand profiles have no
    coupling map)."""
    if is_calibrated(device_profile):
        return device_profile
    if isinstance(noise, str) and is_calibrated(noise):
        return noise
    return None


def quantum_cost_metrics(
    arch: Mapping[str, Any],
    *,
    qubit_budget: int | None = None,
    device_profile: str = "ibm-heron",
    cutter: str = "builtin",
    shots: int | None = None,
) -> dict[str, float]:
    """The deterministic quantum costs of ``arch`` (no training needed)."""
    circuit = build_circuit(arch)
    res = resources(circuit)
    out = {
        "qubits": float(circuit.n_qubits),
        "depth": float(res.depth),
        "two_qubit_gates": float(native_two_qubit_gates(circuit)),
        "runtime_proxy": runtime_proxy(circuit, device_profile, shots=shots),
        "quantum_flops": quantum_flops(circuit, len(observables_of(arch))),
    }
    if qubit_budget is None:
        out["subcircuits"], out["cut_overhead"] = 1.0, 0.0
    else:
        if cutter == "qiskit":
            cut = find_cuts_qiskit(circuit, int(qubit_budget))
        else:
            cut = estimate_cuts(circuit, int(qubit_budget))
        out["subcircuits"], out["cut_overhead"] = float(cut.subcircuits), cut.log10_overhead
    return out


class HybridCosts:
    """The cost metrics of a trained (or weight-inherited) :class:`HybridNet`.

    Args:
        data (Dataset): the prepared data set (validation split for timing and noise).
        batch_size (int): batch of the timed forward pass.
        qubit_budget (int | None): device size for ``subcircuits`` / ``cut_overhead``.
        device_profile (str): quantum device profile for ``runtime_proxy`` and noise; a
            calibrated target adds the routed costs.
        noise (bool | str | None): also compute ``noisy_val_error`` (a profile name
            picks that profile's noise).
        cutter (str): ``"builtin"`` (fast estimator) or ``"qiskit"`` (find_cuts).
        shots (int | None): shots per execution (default: the profile's).
        noise_samples (int): validation samples scored on the noisy path.
        noise_max_qubits (int): widest circuit simulated with density matrices; wider
            ones use trajectories.
        noise_target_se (float): standard error the trajectories reach per expectation.
        optimization_level (int): Qiskit optimisation level of the routing.
        transpile_seed (int): seed of the routing (fixed, so costs need no trial seed).
        job_overhead_s (float): fixed cost of one job on the device.
        zne (bool): also compute ``zne_val_error``.
        training (TrainingLoad | None): what ``train_runtime_s`` assumes is trained.
    """

    def __init__(
        self,
        data: Dataset,
        *,
        batch_size: int = 32,
        qubit_budget: int | None = None,
        device_profile: str = "ibm-heron",
        noise: bool | str | None = None,
        cutter: str = "builtin",
        shots: int | None = None,
        noise_samples: int = 200,
        noise_max_qubits: int = 8,
        noise_target_se: float = 0.01,
        optimization_level: int = 2,
        transpile_seed: int = 0,
        job_overhead_s: float = JOB_OVERHEAD_S,
        zne: bool = False,
        training: TrainingLoad | None = None,
    ) -> None:
        if qubit_budget is not None and (
            isinstance(qubit_budget, bool) or not isinstance(qubit_budget, int) or qubit_budget < 1
        ):
            raise ConfigError(f"qubit_budget must be an integer >= 1; got {qubit_budget!r}")
        if shots is not None:
            _at_least("shots", shots, 1)
        _at_least("noise_samples", noise_samples, 1)
        _at_least("noise_max_qubits", noise_max_qubits, 1)
        _at_least("transpile_seed", transpile_seed, 0)
        overhead = _finite_at_least_zero("job_overhead_s", job_overhead_s)
        if cutter not in ("builtin", "qiskit"):
            raise ConfigError(f"cutter must be 'builtin' or 'qiskit'; got {cutter!r}")
        if optimization_level not in (0, 1, 2, 3):
            raise ConfigError(
                f"optimization_level must be 0, 1, 2 or 3; got {optimization_level!r}"
            )
        get_quantum_device(device_profile)
        if isinstance(noise, str):
            get_quantum_device(noise)
        self.data = data
        self.batch_size = batch_size
        self.qubit_budget = qubit_budget
        self.device_profile = device_profile
        self.cutter = cutter
        self.shots = shots
        self.noise_samples = noise_samples
        self.optimization_level = optimization_level
        self.transpile_seed = transpile_seed
        self.job_overhead_s = overhead
        self.zne = bool(zne)
        self.training = training
        #: (circuit, layout) -> the physical qubits that layout is routed on here
        #: instead of the region the circuit's order names now (:meth:`place`)
        self.placed: dict[_Placement, tuple[int, ...]] = {}
        self.route_device = routing_device(device_profile, noise)
        opts: dict[str, Any] = {
            "noise": noise, "noise_max_qubits": noise_max_qubits,
            "noise_target_se": noise_target_se, "optimization_level": optimization_level,
            "transpile_seed": transpile_seed, "zne": zne,
        }  # fmt: skip
        # the widest circuit was checked against memory before the run (HQNNSpec.check);
        # each circuit is checked again when it is simulated
        self.noise_setup: NoiseSetup | None = check_noise_options(
            opts, device_profile=device_profile, max_qubits=1,
            memory_gb=0.5 * machine_memory_gb(),
        )  # fmt: skip

    def routed(
        self, arch: Mapping[str, Any], *, region: tuple[int, ...] | None = None
    ) -> RoutedCircuit | None:
        """``arch``'s circuit routed on the calibrated target (``None`` without one): on
        the region its ``layout`` names, or on the physical qubits ``region`` (what a
        trial recorded: :mod:`quarch.spaces.hqnn.provenance`).

        Raises:
            DeviceFitError: the circuit is wider than the device.
        """
        if self.route_device is None:
            return None
        if region is None:
            region = self.placed.get(_placement(arch))
        if region is not None:
            return route_on_region(
                build_circuit(arch), self.route_device, region, seed=self.transpile_seed,
                optimization_level=self.optimization_level,
            )  # fmt: skip
        return route(
            build_circuit(arch), self.route_device, layout=int(arch.get("layout", 0)),
            seed=self.transpile_seed, optimization_level=self.optimization_level,
        )  # fmt: skip

    def place(self, arch: Mapping[str, Any], region: tuple[int, ...]) -> None:
        """Route ``arch``'s circuit and ``layout`` on the physical qubits ``region`` from
        now on, for its costs and its noise alike: a trial trained again (``quarch
        train``) where it was scored, when the circuit's order of regions names other
        qubits now (:mod:`quarch.spaces.hqnn.provenance`). Another circuit of the same
        width and layout is not placed: its layout names a region of its own order."""
        self.placed[_placement(arch)] = tuple(region)

    def noisy_circuit(self, arch: Mapping[str, Any], circuit: Circuit) -> tuple[Any, list[Any]]:
        """The noise setup's noisy circuit of ``arch`` (see
        :meth:`~quarch.spaces.hqnn.noise.NoiseSetup.circuit`), on the placed region when
        the noise is the routed target's own.

        Raises:
            ConfigError: no noise model.
        """
        setup = self.noise_setup
        if setup is None:
            raise ConfigError("this evaluator has no noise model (set noise)")
        same = setup.profile == self.route_device
        return setup.circuit(
            arch, circuit, region=self.placed.get(_placement(arch)) if same else None
        )

    def static(self, arch: Mapping[str, Any], model: HybridNet) -> dict[str, float]:
        """The costs that need no training (``model`` may be untrained): the quantum
        costs, the routed device costs, ``flops`` and ``params``."""
        out = quantum_cost_metrics(
            arch, qubit_budget=self.qubit_budget, device_profile=self.device_profile,
            cutter=self.cutter, shots=self.shots,
        )  # fmt: skip
        routed = self.routed(arch)
        if routed is not None:
            shots = self.shots or get_quantum_device(self.route_device or "").shots
            out.update(
                device_metrics(
                    routed,
                    shots=shots,
                    job_overhead_s=self.job_overhead_s,
                    training=self.training,
                )
            )
        shape = tuple(self.data.input_shape)
        classical = count_flops(model.frontend, shape)
        classical += count_flops(model.head, (len(model.observables),))
        out["flops"] = float(classical) + out.pop("quantum_flops")
        out["params"] = float(count_params(model))
        return out

    def __call__(
        self, arch: Mapping[str, Any], model: HybridNet, *, seed: int = 0
    ) -> dict[str, float]:
        """Every cost metric of ``arch`` with its model ``model`` (see the module
        docstring); ``seed`` seeds the trajectories."""
        out = self.static(arch, model)
        routed = self.routed(arch)  # cached: the circuit static() costed
        if routed is not None:  # a record of where, not a cost: no cheap metric
            out.update(region_metrics(routed.region))
        out["sim_time_ms"] = self._sim_time(model)
        if self.noise_setup is not None:
            out.update(self.noisy_scores(arch, model, seed=seed))
        return out

    def _sim_time(self, model: HybridNet) -> float:
        X = torch.as_tensor(self.data.X_val[: self.batch_size], dtype=torch.float32)
        with torch.no_grad():
            feats = model.features(X.to(model.quantum.weights.device))
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                model.quantum(feats)
                times.append(time.perf_counter() - t0)
        return 1000.0 * float(np.median(times))

    def noisy_scores(
        self, arch: Mapping[str, Any], model: HybridNet, *, seed: int = 0, split: str = "val"
    ) -> dict[str, float]:
        """``noisy_<split>_error``, ``noisy_se`` (and ``zne_<split>_error`` with ZNE) of the
        trained model on the first ``noise_samples`` samples of ``split``."""
        nc, words = self.noisy_circuit(arch, model.circuit)
        setup = self.noise_setup
        assert setup is not None  # noisy_circuit refused none
        X = torch.as_tensor(
            getattr(self.data, f"X_{split}")[: self.noise_samples], dtype=torch.float32
        )
        y = torch.as_tensor(getattr(self.data, f"y_{split}")[: self.noise_samples])
        with torch.no_grad():
            feats = model.features(X).double()
            weights = model.quantum.weights.detach().double()
            q, se = setup.expvals(nc, words, feats, weights, seed=seed)
            out = {
                f"noisy_{split}_error": _error(model, q, y),
                "noisy_se": float(se.max()),  # splits hold a sample per class at least
            }
            if self.zne:
                qz, _ = zne_expvals(setup, nc, words, feats, weights, seed=seed)
                out[f"zne_{split}_error"] = _error(model, qz, y)
        return out

    def noisy_error(self, model: HybridNet, arch: Mapping[str, Any] | None = None) -> float:
        """Validation error of the trained model under the noise (see :meth:`noisy_scores`)."""
        return self.noisy_scores(arch if arch is not None else model.arch, model)["noisy_val_error"]


def _error(model: HybridNet, q: torch.Tensor, y: torch.Tensor) -> float:
    logits = model.head(q.float())
    return float((logits.argmax(1) != y).float().mean())


def _finite_at_least_zero(name: str, value: Any) -> float:
    """``value`` as a float; refused (one line, naming the option) unless a finite
    number >= 0: text that is not a number too, not with ``float``'s own error."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not 0 <= number < math.inf:
        raise ConfigError(f"{name} must be a number >= 0; got {value!r}")
    return number


def _at_least(name: str, value: Any, low: int) -> None:
    """Refuse (one line, naming the option) anything but an integer >= ``low``: checked
    when the evaluator is made, even where the option only matters with noise on."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
