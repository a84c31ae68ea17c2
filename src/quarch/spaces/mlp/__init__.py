"""The ``mlp`` room: small fully connected classifiers (``space.py``, ``model.py``).

Trained from scratch by :class:`quarch.evaluate.TrainingEvaluator`; tabular features
are standardised on the training split first.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from quarch._errors import ConfigError
from quarch.spaces._spec import SpaceSpec
from quarch.spaces.mlp.space import mlp_space

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.evaluate import Evaluator
    from quarch.space import Space

__all__ = ["SPEC", "MLPSpec", "mlp_space"]


class MLPSpec(SpaceSpec):
    """Spec of the ``mlp`` space: short training of the MLP from scratch."""

    name = "mlp"
    default_dataset = "iris"
    # no ``lr``: every mlp architecture chooses its own (the space's ``lr`` choice, set
    # with the space option ``learning_rates``), so an evaluator's learning rate would
    # never be used; check_evaluator_option_names says so
    evaluator_options: ClassVar[dict[str, str]] = {
        "save_weights": "save each trial's trained weights in RUN/weights (default true)",
    }
    flag_options = ("save_weights",)
    export_formats = ("torch", "onnx", "onnx-int8")

    def space(self, **options: Any) -> Space:
        return mlp_space(**options)

    def metrics(self, config: SearchConfig) -> frozenset[str]:
        return frozenset({"val_error", "test_error", "val_accuracy", "params", "flops"})

    def used_params(self, arch: Mapping[str, Any]) -> dict[str, Any]:
        """Without the widths of layers beyond ``n_layers``."""
        n = int(arch.get("n_layers", 0))
        return {
            k: v for k, v in arch.items()
            if not (k.startswith("width_") and k[6:].isdigit() and int(k[6:]) >= n)
        }  # fmt: skip

    def check_evaluator_option_names(self, config: SearchConfig) -> None:
        """Also refuse ``lr``, saying why: the space chooses the learning rate."""
        if "lr" in config.evaluator_options:
            raise _lr_refusal(self.build_space(config))
        super().check_evaluator_option_names(config)

    def make_evaluator(
        self, space: Space, config: SearchConfig, *, weights_dir: Path | None = None
    ) -> Evaluator:
        from quarch.data import load_dataset, standardise
        from quarch.evaluate import TrainingEvaluator
        from quarch.spaces.mlp.model import MLP

        opts = dict(config.evaluator_options)
        if "lr" in opts and "lr" in space.names:  # the API's own space, not checked
            raise _lr_refusal(space)
        if not opts.pop("save_weights", True):
            weights_dir = None
        data = load_dataset(
            config.dataset or "", data_dir=config.data_dir, seed=config.seed,
            max_train=config.max_train,
        )  # fmt: skip
        if len(data.input_shape) == 1:  # tabular: standardise on the training split
            Xtr, Xva, Xte = standardise(data.X_train, data.X_val, data.X_test)
            data = dataclasses.replace(data, X_train=Xtr, X_val=Xva, X_test=Xte)
        return TrainingEvaluator(
            MLP, data, epochs=config.epochs or 60, batch_size=config.batch_size or 32,
            device=config.device, space=space, weights_dir=weights_dir, **opts,
        )  # fmt: skip


def _lr_refusal(space: Space) -> ConfigError:
    """Why ``lr`` is no evaluator option of the mlp space: its architectures choose one."""
    lrs = ", ".join(f"{v:g}" for v in space.choices[space.names.index("lr")].options)
    return ConfigError(
        f"space 'mlp' chooses the learning rate (lr among {lrs}), so "
        "--evaluator-option lr would have no effect; set the choices with "
        "--space-option learning_rates=0.05 (or 0.01,0.05)"
    )


SPEC = MLPSpec()
