"""The ``nb201`` room: NAS-Bench-201's 15625 cells, scored from its tables.

``space.py`` (the cell's six edges), ``evaluator.py`` (the tables and the look-up),
``costs.py`` (params and MACs in closed form). Nothing is trained here, so there is no
model to export.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from quarch.spaces._spec import SpaceSpec
from quarch.spaces.nb201.space import nb201_arch_str, nb201_space

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.data import DatasetInfo
    from quarch.evaluate import Evaluator
    from quarch.evaluate.task import Task
    from quarch.space import Space

__all__ = ["SPEC", "NB201Spec", "nb201_arch_str", "nb201_space"]


class NB201Spec(SpaceSpec):
    """Spec of the ``nb201`` space: a look-up of the 12-epoch validation accuracy and
    the six devices' latencies (``--dataset cifar10`` or ``cifar100`` names the table)."""

    name = "nb201"
    default_dataset = "cifar10"
    evaluator_options: ClassVar[dict[str, str]] = {
        "latency": "also return the six latency columns (default true)",
    }
    flag_options = ("latency",)

    def space(self, **options: Any) -> Space:
        return nb201_space(**options)

    def metrics(self, config: SearchConfig) -> frozenset[str]:
        from quarch.spaces.nb201.evaluator import NB201_LATENCY_COLUMNS

        out = {"val_error", "val_accuracy", "params", "flops", "macs"}
        if config.evaluator_options.get("latency", True):
            out.update(NB201_LATENCY_COLUMNS)
        return frozenset(out)

    def resolve(self, config: SearchConfig) -> SearchConfig:
        """``config`` with its table named as the benchmark names it: ``CIFAR10`` and
        ``nb201-cifar10`` (which :func:`~quarch.spaces.nb201.evaluator.load_nb201` also
        reads) become ``cifar10``, one run folder name. The tables are this space's own
        data sets, so :mod:`quarch.data`'s names are not looked up."""
        from quarch.spaces.nb201.evaluator import NB201_DATASETS

        given = config.dataset
        name = given.strip().lower().removeprefix("nb201-") if given else None
        if name not in NB201_DATASETS or name == given:
            return config
        return dataclasses.replace(config, dataset=name)

    def make_evaluator(
        self, space: Space, config: SearchConfig, *, weights_dir: Path | None = None
    ) -> Evaluator:
        from quarch.spaces.nb201.evaluator import make_nb201_evaluator

        return make_nb201_evaluator(space, config)

    def datasets(self, data_dir: str | Path | None) -> list[DatasetInfo]:
        """The benchmark's tables, one per CIFAR set (``--space nb201 --dataset NAME``)."""
        from quarch.data import DatasetInfo, default_data_dir
        from quarch.spaces.nb201.evaluator import NB201_DATASETS, nb201_table_dir

        root = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
        found = nb201_table_dir(root)
        return [
            DatasetInfo(
                name=d,
                n_samples=15625,
                n_classes=10 if d == "cifar10" else 100,
                input_shape=(3, 32, 32),
                source=f"NAS-Bench-201 table: 15625 cells' {d} accuracies (no images)",
                available=found is not None,
                location=str(found or root / "nb201"),
                space=self.name,
            )
            for d in NB201_DATASETS
        ]

    def benchmark_tasks(self) -> dict[str, Callable[..., Task]]:
        from quarch.spaces.nb201.tasks import task_factories

        return task_factories()


SPEC = NB201Spec()
