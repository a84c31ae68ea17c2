"""The ``cnn`` room: edge CNNs of the MobileNetV2 / MCUNet family.

``space.py`` (kernel, expansion, width, blocks per stage, squeeze-excite, skip,
activation, bit-width), ``model.py`` (:class:`EdgeCNN` and its layer table),
``supernet.py`` (weight sharing), ``costs.py`` (memory, energy and modelled latency on
an edge device profile) and ``evaluator.py`` (short training or the SuperNet, plus the
costs; measured latency through ONNX Runtime).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from quarch.spaces._spec import SpaceSpec
from quarch.spaces.cnn.space import cnn_space

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.evaluate import Evaluator
    from quarch.space import Space

__all__ = ["SPEC", "CNNSpec", "cnn_space"]


class CNNSpec(SpaceSpec):
    """Spec of the ``cnn`` space. Its device profile's default budgets are filled in for
    every metric the run gives no budget of its own (:meth:`resolve`)."""

    name = "cnn"
    default_dataset = "digits"
    weight_sharing = "supernet"
    device_kinds = ("edge",)
    export_formats = ("torch", "onnx", "onnx-int8")

    evaluator_options: ClassVar[dict[str, str]] = {
        "device_profile": "edge device profile for latency, memory and energy (default local-cpu)",
        "latency": "auto (measure on local-cpu, model elsewhere), measured or model",
        "latency_repeats": "timed ONNX Runtime runs per architecture (default 50)",
        "threads": "ONNX Runtime threads for timing (default 1)",
        "torch_threads": "torch threads while training (default 1)",
        "lr": "Adam learning rate (default 0.003)",
        "supernet": "score with weights inherited from a trained SuperNet",
        "supercircuit": "the same as supernet (what --supercircuit wrote before 0.2)",
        "supernet_epochs": "SuperNet training epochs (default: --epochs, else 10)",
        "recalibration_batches": "batches of 256 images to recalibrate batch-norm (default 8)",
        "save_weights": "save each trial's trained weights in RUN/weights (default true)",
    }
    flag_options = ("supernet", "supercircuit", "save_weights")

    unreproducible = frozenset({"latency_ms"})  # measured when the profile is local-cpu

    def metrics(self, config: SearchConfig) -> frozenset[str]:
        return frozenset({
            "val_error", "test_error", "val_accuracy", "params", "flops", "macs",
            "weights_kb", "activation_kb", "memory_kb", "energy_mj", "latency_model_ms",
            "latency_ms",
        })  # fmt: skip

    def space(self, **options: Any) -> Space:
        return cnn_space(**options)

    def used_params(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """Without the blocks of a stage beyond its ``depth_<s>``."""
        import re

        out = {}
        for k, v in arch.items():
            m = re.fullmatch(r"[a-z]+_(\d+)_(\d+)", k)
            if m and int(m.group(2)) >= int(arch.get(f"depth_{m.group(1)}", 99)):
                continue
            out[k] = v
        return out

    def check_names(self, config: SearchConfig) -> None:
        """Also the device profile as :meth:`resolve` refuses it (the search resolves
        the profile's budgets before it checks the config, so that line is the one
        a search prints)."""
        self.check_option_names(config)
        self.check_evaluator_option_names(config)
        profile = config.evaluator_options.get("device_profile")
        if profile is not None:
            from quarch.cost.devices import get_device

            get_device(str(profile))
        super().check_names(config)

    def check(self, config: SearchConfig) -> None:
        super().check(config)  # the device profile's kind too (device_profiles)
        self._check_onnx(config)

    @staticmethod
    def _check_onnx(config: SearchConfig) -> None:
        """Measured latency runs the network in ONNX Runtime: without the ``onnx`` extra
        the first trial would train and then fail, so say so before anything runs."""
        import importlib.util

        from quarch._errors import ConfigError
        from quarch.cost.devices import get_device

        opts = config.evaluator_options
        latency = opts.get("latency", "auto")
        profile = str(opts.get("device_profile", "local-cpu"))
        if latency == "model" or (latency == "auto" and not get_device(profile).measured):
            return
        missing = [m for m in ("onnx", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            raise ConfigError(
                f"space 'cnn' measures latency_ms with ONNX Runtime on the {profile} profile, "
                f"which needs the onnx extra (missing: {', '.join(missing)}): "
                "pip install 'quarch[onnx]', or use the analytic latency model "
                '(evaluator_options.latency = "model" in a config file)'
            )

    def resolve(self, config: SearchConfig) -> SearchConfig:
        """The data set under its registered name (:meth:`SpaceSpec.resolve`), and a
        device profile's budgets for every metric the config gives none."""
        config = super().resolve(config)
        profile = config.evaluator_options.get("device_profile")
        if not profile:
            return config
        from quarch.spaces.cnn.evaluator import with_profile_budgets

        return dataclasses.replace(
            config, budgets=with_profile_budgets(list(config.budgets), str(profile))
        )

    def make_evaluator(
        self, space: Space, config: SearchConfig, *, weights_dir: Path | None = None
    ) -> Evaluator:
        from quarch.spaces.cnn.evaluator import make_cnn_evaluator

        return make_cnn_evaluator(space, config, weights_dir=weights_dir)


SPEC = CNNSpec()
