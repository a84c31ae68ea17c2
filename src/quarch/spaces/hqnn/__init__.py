"""The ``hqnn`` room: hybrid quantum-classical networks.

``space.py`` (embedding, qubits, layers, rotations, entanglement, measurement,
classical front-end and head), ``model.py`` (:class:`HybridNet`, its circuit and its
classical ablation), ``supercircuit.py`` (weight sharing), ``costs.py`` (quantum
costs, FLOPs, noisy error) and ``evaluator.py`` (short training or the SuperCircuit).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from quarch.spaces._spec import SpaceSpec
from quarch.spaces.hqnn.space import hqnn_space

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.evaluate import Evaluator
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
        "device_profile": "quantum device profile for runtime and noise (default ibm-heron)",
        "noise": "also score noisy: true (or 'device') for the device profile's noise, or a profile",
        "cutter": "builtin (fast estimator) or qiskit (find_cuts)",
        "shots": "shots per circuit execution (default: the profile's)",
        "supercircuit": "score with weights inherited from a trained SuperCircuit",
        "finetune_steps": "SuperCircuit: fine-tuning steps per architecture (default 20)",
        "supercircuit_steps": "SuperCircuit: training steps (default 20 epochs, >= 500)",
        "noise_samples": "validation samples scored on the noisy path (default 200)",
        "noise_max_qubits": "widest circuit simulated with density matrices (default 8)",
        "save_weights": "save each trial's trained weights in RUN/weights (default true)",
    }

    unreproducible = frozenset({"sim_time_ms"})

    def metrics(self, config: SearchConfig) -> frozenset[str]:
        out = {
            "val_error", "test_error", "val_accuracy", "params", "flops", "qubits", "depth",
            "two_qubit_gates", "runtime_proxy", "subcircuits", "cut_overhead", "sim_time_ms",
        }  # fmt: skip
        if config.evaluator_options.get("noise"):
            out.add("noisy_val_error")
        return frozenset(out)

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
        super().check(config)
        from quarch.cost.devices import check_device_profile

        for key in ("device_profile", "noise"):
            value = config.evaluator_options.get(key)
            if isinstance(value, str) and not (key == "noise" and value == "device"):
                check_device_profile(value, self.device_kinds)

    def make_evaluator(
        self, space: Space, config: SearchConfig, *, weights_dir: Path | None = None
    ) -> Evaluator:
        from quarch.spaces.hqnn.evaluator import make_hqnn_evaluator

        return make_hqnn_evaluator(space, config, weights_dir=weights_dir)


SPEC = HQNNSpec()
