"""`SearchConfig`: everything a run needs, as plain data saved in the run folder.

It is the one object the CLI, config files and the Python API share, so a run can be
reproduced or resumed from its ``config.json`` alone.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from quarch._errors import ConfigError

__all__ = ["SearchConfig"]


@dataclass
class SearchConfig:
    """Configuration of one search run.

    Args:
        space: registered space name (``quarch.spaces.SPACES``; ``quarch spaces``).
            Required: a search names what it searches.
        dataset: data set name (``quarch.data``); tabular spaces name their table here.
        strategy: registered strategy name (``quarch.search.STRATEGIES``).
        trials: number of complete trials the run aims for (resume continues to it).
        seed: run seed; trial ``k`` is evaluated with a seed derived from (seed, k).
        out: run folder; ``None`` picks ``runs/<space>-<dataset>-<strategy>-s<seed>``.
        objectives: metric names; several give a multi-objective (Pareto) search.
        weights: one weight per objective for a single weighted cost.
        budgets: hard limits such as ``"latency_ms<=100"``.
        timeout: wall-clock budget in seconds for this invocation (``None``: none).
        data_dir: folder with IDX / table files (``--data-dir``).
        epochs: training epochs per trial (``None``: the evaluator's default).
        batch_size: training batch size (``None``: the evaluator's default).
        max_train: subsample the training split to this many examples.
        device: torch device for training (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        space_options: keyword options of the space builder.
        strategy_options: keyword options of the strategy.
        evaluator_options: keyword options of the evaluator.
        workers: worker processes on this machine sharing the study (each gets
            ``cores // workers`` torch threads).
        storage: where the study lives: ``None`` (SQLite in the run folder; a journal
            file there when ``workers > 1``), ``"journal"``, or any SQLAlchemy URL Optuna
            accepts (``postgresql://...``) for workers on several machines.
        study_name: the study's name inside ``storage``.
        trial_timeout: seconds after which a trial is failed with a timeout reason.
        ray: dispatch evaluations as Ray tasks (``ray`` extra).
        ray_address: address of a running Ray cluster (implies ``ray``).
    """

    space: str
    dataset: str | None = "iris"
    strategy: str = "random"
    trials: int = 20
    seed: int = 0
    out: str | None = None
    objectives: list[str] = field(default_factory=lambda: ["val_error", "params"])
    weights: list[float] | None = None
    budgets: list[str] = field(default_factory=list)
    timeout: float | None = None
    data_dir: str | None = None
    epochs: int | None = None
    batch_size: int | None = None
    max_train: int | None = None
    device: str = "cpu"
    space_options: dict[str, Any] = field(default_factory=dict)
    strategy_options: dict[str, Any] = field(default_factory=dict)
    evaluator_options: dict[str, Any] = field(default_factory=dict)
    workers: int = 1
    storage: str | None = None
    study_name: str = "quarch"
    trial_timeout: float | None = None
    ray: bool = False
    ray_address: str | None = None

    #: Fields a resumed run may change; any other difference is refused.
    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = frozenset(
        {"trials", "timeout", "out", "workers", "device", "trial_timeout", "ray", "ray_address",
         "data_dir"}
    )  # fmt: skip

    def __post_init__(self) -> None:
        if not isinstance(self.trials, int) or self.trials < 1:
            raise ConfigError(f"trials must be a positive integer; got {self.trials!r}")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"timeout must be > 0 seconds; got {self.timeout!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1; got {self.epochs!r}")
        if self.max_train is not None and self.max_train < 2:
            raise ConfigError(f"max_train must be >= 2; got {self.max_train!r}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer; got {self.seed!r}")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"workers must be a positive integer; got {self.workers!r}")
        if self.trial_timeout is not None and self.trial_timeout <= 0:
            raise ConfigError(f"trial_timeout must be > 0 seconds; got {self.trial_timeout!r}")
        if self.ray_address:
            self.ray = True
        if self.ray and self.workers > 1:
            raise ConfigError("use either --workers (local processes) or --ray, not both")
        if isinstance(self.objectives, str):
            self.objectives = [m.strip() for m in self.objectives.split(",") if m.strip()]

    @property
    def run_dir(self) -> Path:
        """The run folder (``out`` or the default name)."""
        if self.out:
            return Path(self.out)
        return Path("runs") / f"{self.space}-{self.dataset or 'none'}-{self.strategy}-s{self.seed}"

    # -- (de)serialisation ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchConfig:
        """Build from a dict; unknown keys are an error that names them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; known: {sorted(names)}")
        if "space" not in data:
            raise ConfigError(
                "a search needs a space: give --space NAME (`quarch spaces` lists them)"
            )
        return cls(**data)

    @classmethod
    def from_file(cls, path: str | Path) -> SearchConfig:
        """Read a ``.toml`` or ``.json`` config file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file {str(p)!r} does not exist")
        try:
            text = p.read_text()
            data = tomllib.loads(text) if p.suffix == ".toml" else json.loads(text)
        except (tomllib.TOMLDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"cannot parse config file {str(p)!r}: {e}") from None
        return cls.from_dict(data)

    def incompatible_with(self, other: SearchConfig) -> list[str]:
        """Fields that differ from ``other`` and may not change on resume."""
        a, b = self.to_dict(), other.to_dict()
        return sorted(k for k in a if k not in self.RESUMABLE_CHANGES and a[k] != b[k])

    def save(self, path: str | Path) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")
