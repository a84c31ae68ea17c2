"""The ``hqnn`` room: hybrid quantum-classical networks.

``space.py`` (embedding, qubits, layers, rotations, entanglement, measurement,
classical front-end and head; a device layout with ``layouts``), ``model.py``
(:class:`HybridNet`, its circuit and its classical ablation), ``supercircuit.py`` (weight
sharing), ``costs.py`` (quantum and routed device costs, FLOPs, noisy error),
``noise.py`` (the noisy path: device noise, noise-aware training, zero-noise
extrapolation) and ``evaluator.py`` (short training or the SuperCircuit).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from quarch.spaces._spec import SpaceSpec
from quarch.spaces.hqnn.space import hqnn_space

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.cost.routing import RoutedCircuit
    from quarch.evaluate import Evaluator
    from quarch.evaluate.task import Task
    from quarch.space import Space

__all__ = ["SPEC", "HQNNSpec", "hqnn_space"]


class HQNNSpec(SpaceSpec):
    """Spec of the ``hqnn`` space. Its default qubit range depends on the data set (a
    tiny table gets fewer qubits), so it is :attr:`dataset_aware`."""

    name = "hqnn"
    default_dataset = "iris"
    dataset_aware = True
    weight_sharing = "supercircuit"
    device_kinds = ("quantum",)
    export_formats = ("torch", "qasm", "qasm3", "qiskit", "pennylane")
    evaluator_options: ClassVar[dict[str, str]] = {
        "qubit_budget": "largest device (qubits) for the circuit-cutting costs",
        "device_profile": "quantum device profile for runtime and noise (default ibm-heron); "
        "a calibrated target (ibm-fez, ...) adds the routed device costs",
        "noise": "also score noisy: true (or 'device') for the device profile's noise, or a profile",
        "cutter": "builtin (fast estimator) or qiskit (find_cuts)",
        "shots": "shots per circuit execution (default: the profile's)",
        "supercircuit": "score with weights inherited from a trained SuperCircuit",
        "finetune_steps": "SuperCircuit: fine-tuning steps per architecture (default 20)",
        "supercircuit_steps": "SuperCircuit: training steps (default 20 epochs, >= 500)",
        "noise_samples": "validation samples scored on the noisy path (default 200)",
        "noise_max_qubits": "widest circuit simulated exactly with density matrices; wider "
        "ones use quantum trajectories (default 8)",
        "noise_target_se": "standard error the trajectories reach per expectation (default 0.01)",
        "noise_aware": "train under the noise model (default false)",
        "zne": "also score with zero-noise extrapolation (zne_val_error; calibrated noise)",
        "optimization_level": "Qiskit optimisation level of the routing, 0-3 (default 2)",
        "transpile_seed": "seed of the routing (default 0)",
        "job_overhead_s": "fixed cost of one job on the device, seconds (default 3)",
        "save_weights": "save each trial's trained weights in RUN/weights (default true)",
        "record_epochs": "comma list of epoch counts: also record val_error_e<k> and "
        "test_error_e<k> after k epochs, and train_seconds (a multi-fidelity table)",
    }
    flag_options = ("supercircuit", "noise_aware", "zne", "save_weights")

    unreproducible = frozenset({"sim_time_ms"})

    def metrics(self, config: SearchConfig) -> frozenset[str]:
        from quarch.cost.device_costs import DEVICE_METRICS
        from quarch.spaces.hqnn.costs import routing_device

        opts = config.evaluator_options
        out = {
            "val_error", "test_error", "val_accuracy", "params", "flops", "qubits", "depth",
            "two_qubit_gates", "runtime_proxy", "subcircuits", "cut_overhead", "sim_time_ms",
        }  # fmt: skip
        from quarch.spaces.hqnn.evaluator import record_epochs

        epochs = record_epochs(opts)
        if epochs:
            out.add("train_seconds")
            out |= {f"{s}_error_e{e}" for e in epochs for s in ("val", "test")}
        noise = opts.get("noise")
        if noise:
            out |= {"noisy_val_error", "noisy_se"}
        if noise and opts.get("zne"):
            out.add("zne_val_error")
        profile = str(opts.get("device_profile", "ibm-heron"))
        if routing_device(profile, noise if isinstance(noise, str) else None) is not None:
            out |= set(DEVICE_METRICS)
        return frozenset(out)

    def device_profiles(self, config: SearchConfig) -> list[str]:
        """``device_profile``, and ``noise`` where it names a profile (not ``true`` or
        ``device``: the device profile's own noise)."""
        opts = config.evaluator_options
        named = [opts.get("device_profile")]
        if opts.get("noise") not in ("device", "true"):
            named.append(opts.get("noise"))
        return [v for v in named if isinstance(v, str)]

    def space(self, **options: Any) -> Space:
        return hqnn_space(**options)

    def used_params(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """Without the rotations and entanglement of layers beyond ``layers``."""
        n = int(arch.get("layers", 0))
        return {
            k: v for k, v in arch.items()
            if not (k.startswith(("rotation_", "entanglement_"))
                    and int(k.rsplit("_", 1)[1]) >= n)
        }  # fmt: skip

    def check(self, config: SearchConfig) -> None:
        """Also refuse, before any trial: ``record_epochs`` past the training's epochs,
        an unknown or non-quantum device (the message
        lists the known ones), a ``layout`` choice without a calibrated target, a noise
        model the space's widest circuit cannot be simulated with in this machine's
        memory, and ``noise_aware``/``zne`` without noise."""
        super().check(config)  # the profiles of device_profile and noise too
        from quarch._errors import ConfigError
        from quarch.spaces.hqnn.costs import routing_device
        from quarch.spaces.hqnn.evaluator import DEFAULTS, record_epochs
        from quarch.spaces.hqnn.noise import check_noise_options, machine_memory_gb

        opts = config.evaluator_options
        recorded = record_epochs(opts)
        epochs = config.epochs or DEFAULTS.get(config.dataset or "", (10,))[0]
        if recorded and max(recorded) > epochs:
            raise ConfigError(
                f"record_epochs {recorded} goes past the training's {epochs} epochs; "
                f"set --epochs {max(recorded)} or drop the larger counts"
            )
        if recorded and (opts.get("supercircuit") or opts.get("noise_aware")):
            raise ConfigError(
                "record_epochs needs standalone noiseless training, not the supercircuit "
                "or noise_aware"
            )
        profile = str(opts.get("device_profile", "ibm-heron"))
        noise = opts.get("noise")
        routed = routing_device(profile, noise if isinstance(noise, str) else None)
        space = self.build_space(config)
        if "layout" in space.names and routed is None:
            raise ConfigError(
                "a layout choice (space option layouts) needs a calibrated device: "
                "--device-profile ibm-fez (or another calibrated target in `quarch devices`)"
            )
        widest = max(space["qubits"].options)
        check_noise_options(
            opts, device_profile=profile, max_qubits=widest, memory_gb=0.5 * machine_memory_gb()
        )
        if routed is not None:
            from quarch.cost.devices import get_quantum_device

            cal = get_quantum_device(routed).calibration
            fewest = min(space["qubits"].options)
            if cal is not None and fewest > cal.n_qubits:
                raise ConfigError(
                    f"every circuit of this space needs at least {fewest} qubits; "
                    f"{routed} has {cal.n_qubits}"
                )

    def routed_trial(self, evaluator: Evaluator, trial: Any) -> RoutedCircuit | None:
        """``trial``'s circuit routed on the qubits it was scored on (its recorded region;
        a warning when its ``layout`` names others now), for the report and the export;
        ``None`` without a calibrated target. An evaluator of another kind (a custom
        one given to the search) routes it its own way, if it has one.
        (:mod:`quarch.spaces.hqnn.provenance`)"""
        if getattr(evaluator, "costs", None) is None:
            own = getattr(evaluator, "routed_circuit", None)
            return None if own is None else own(trial.params)
        from quarch.spaces.hqnn.provenance import routed_for_trial

        return routed_for_trial(evaluator, trial)

    def place_trial(self, evaluator: Evaluator, trial: Any) -> None:
        """Have the standalone ``evaluator`` train ``trial`` again on the qubits it was
        scored on (``quarch train`` with ``noise_aware``; a warning when its ``layout``
        names others now); nothing for an evaluator of another kind.
        (:func:`quarch.spaces.hqnn.provenance.place_trial`)"""
        if getattr(evaluator, "costs", None) is None or not hasattr(evaluator, "noise_aware"):
            return
        from quarch.spaces.hqnn.provenance import place_trial

        place_trial(evaluator, trial)

    def check_resumed(
        self, evaluator: Evaluator, trials: Sequence[Any], *, joining: bool = False
    ) -> None:
        """Refuse to resume a run (``joining``: a worker to join it) one of whose
        ``trials`` was scored on other physical qubits than its ``layout`` names now
        (before any training).

        Raises:
            RunError: naming the trial, its qubits, the current ones and what to do.
        """
        costs = getattr(evaluator, "costs", None)
        space = getattr(evaluator, "space", None)
        if costs is None or space is None:
            return
        from quarch.spaces.hqnn.provenance import check_resumed

        check_resumed(costs, space, trials, joining=joining)

    def benchmark_tasks(self) -> dict[str, Callable[..., Task]]:
        """``hqnn-bench-<data set>[-e<k>]`` (:mod:`quarch.spaces.hqnn.bench`)."""
        from quarch.spaces.hqnn.bench import task_factories

        return task_factories()

    def make_evaluator(
        self, space: Space, config: SearchConfig, *, weights_dir: Path | None = None
    ) -> Evaluator:
        from quarch.spaces.hqnn.evaluator import make_hqnn_evaluator

        return make_hqnn_evaluator(space, config, weights_dir=weights_dir)


SPEC = HQNNSpec()
