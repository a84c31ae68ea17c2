"""`SearchConfig`: everything a run needs, as plain data saved in the run folder.

It is the one object the CLI, config files and the Python API share, so a run can be
reproduced or resumed from its ``config.json`` alone.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from quarch._errors import ConfigError, did_you_mean

__all__ = [
    "MAX_SEED",
    "PRUNERS",
    "SearchConfig",
    "mask_secrets",
    "misplaced_keys_hint",
    "strip_password",
]

#: ``--pruner`` names: Optuna's median and Hyperband pruners, or none.
PRUNERS: tuple[str, ...] = ("none", "median", "hyperband")

#: File suffixes :meth:`SearchConfig.from_file` reads.
CONFIG_SUFFIXES: tuple[str, ...] = (".toml", ".json", ".yaml", ".yml")

# scheme://user:password@host -> the password group; a password holds no '@', '/' or
# whitespace unescaped (RFC 3986 percent-encodes them), so this finds it in any text.
_CREDENTIALS = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*):([^\s@/'\"]*)@")


def mask_secrets(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***``.

    Applied to whatever quarch prints or writes that may hold a storage URL (messages,
    the report), so a database password given in ``--storage`` is never shown.

    Example:
        >>> mask_secrets("cannot open postgresql+psycopg://ann:s3cret@db:5432/q")
        'cannot open postgresql+psycopg://ann:***@db:5432/q'
    """
    return _CREDENTIALS.sub(r"\1:***@", text)


def strip_password(url: str | None) -> str | None:
    """``url`` without its password (what a run folder stores), ``None`` unchanged.

    The study is then reopened with the password from ``PGPASSWORD`` or ``~/.pgpass``
    (which libpq, and so psycopg, reads), never from a file quarch wrote.

    Example:
        >>> strip_password("postgresql+psycopg://ann:s3cret@db/q")
        'postgresql+psycopg://ann@db/q'
    """
    if url is None:
        return None
    return _CREDENTIALS.sub(r"\1@", url)


# field -> (accepted types, what the message calls it); bool is refused where a number
# is meant (True is an int in Python, not a trial count)
_NUMBER = (int, float)
#: The largest run seed: numpy's ``RandomState`` (inside Optuna's TPE and NSGA-II samplers)
#: takes 32-bit seeds, and one range for every strategy keeps a seed portable between them.
MAX_SEED = 2**32 - 1
_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "space": ((str,), "a string"),
    "dataset": ((str, type(None)), "a string"),
    "strategy": ((str,), "a string"),
    "trials": ((int,), "an integer"),
    "seed": ((int,), "an integer"),
    "out": ((str, type(None)), "a string"),
    "objectives": ((list,), "a list of metric names"),
    "weights": ((list, type(None)), "a list of numbers"),
    "budgets": ((list,), "a list of budgets such as 'params<=100'"),
    "timeout": ((*_NUMBER, type(None)), "a number of seconds"),
    "data_dir": ((str, type(None)), "a folder"),
    "epochs": ((int, type(None)), "an integer"),
    "batch_size": ((int, type(None)), "an integer"),
    "max_train": ((int, type(None)), "an integer"),
    "device": ((str,), "a string"),
    "space_options": ((dict,), "a table of options"),
    "strategy_options": ((dict,), "a table of options"),
    "evaluator_options": ((dict,), "a table of options"),
    "workers": ((int,), "an integer"),
    "storage": ((str, type(None)), "a string"),
    "study_name": ((str,), "a string"),
    "trial_timeout": ((*_NUMBER, type(None)), "a number of seconds"),
    "ray": ((bool,), "true or false"),
    "ray_address": ((str, type(None)), "a string"),
    "pruner": ((str,), f"one of {', '.join(PRUNERS)}"),
    "pruner_options": ((dict,), "a table of options"),
}


def _comma_list(value: Any) -> Any:
    """A config file's ``"a,b"`` where a list is expected, as the list ``["a", "b"]``
    (the CLI's comma-separated flags read the same), never character by character."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def _check_types(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with comma-separated strings turned into lists; a value of the wrong
    type is one :class:`ConfigError` naming the key, what it takes and what it got."""
    out = dict(data)
    for key in ("objectives", "budgets", "weights"):
        if key in out:
            out[key] = _comma_list(out[key])
    weights = out.get("weights")
    if isinstance(weights, list):
        try:
            if any(isinstance(w, bool) for w in weights):
                raise TypeError
            out["weights"] = [float(w) for w in weights]
        except (TypeError, ValueError):
            raise ConfigError(
                f"config key 'weights' takes a list of numbers; got {weights!r}"
            ) from None
    for key, value in out.items():
        types, what = _TYPES[key]
        bad = not isinstance(value, types) or (
            isinstance(value, bool) and bool not in types and value is not None
        )
        if key in ("objectives", "budgets") and isinstance(value, list):
            bad = bad or not all(isinstance(v, str) for v in value)
        if bad:
            raise ConfigError(f"config key {key!r} takes {what}; got {value!r}")
    return out


@dataclass
class SearchConfig:
    """Configuration of one search run.

    Args:
        space: registered space name (``quarch.spaces.SPACES``; ``quarch spaces``).
            Required: a search names what it searches.
        dataset: data set name (``quarch.data``); tabular spaces name their table here.
            ``None``: the space's default (:attr:`SpaceSpec.default_dataset
            <quarch.spaces.SpaceSpec>`), filled in when the run starts.
        strategy: registered strategy name (``quarch.search.STRATEGIES``).
        trials: number of complete trials the run aims for (resume continues to it).
        seed: run seed; trial ``k`` is evaluated with a seed derived from (seed, k).
        out: run folder; ``None`` picks ``runs/<space>-<dataset>-<strategy>-s<seed>``.
        objectives: metric names; several give a multi-objective (Pareto) search.
        weights: one weight per objective for a single weighted cost.
        budgets: hard limits such as ``"latency_ms<=100"``.
        timeout: wall-clock budget in seconds for this invocation (``None``: none).
        data_dir: folder with IDX / table files (``--data-dir``); a run stores it as an
            absolute path, so it resumes from any folder. ``None``: ``$QUARCH_DATA_DIR``,
            else ``~/.cache/quarch/data``, read wherever the run is resumed.
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
        pruner: stop poor trials early by their validation error per epoch:
            ``"median"`` (Optuna's ``MedianPruner``), ``"hyperband"``
            (``HyperbandPruner``) or ``"none"``. Needs one objective or ``weights``.
        pruner_options: keyword options of the Optuna pruner.
    """

    space: str
    dataset: str | None = None
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
    pruner: str = "none"
    pruner_options: dict[str, Any] = field(default_factory=dict)

    #: Fields a resumed run may change; any other difference is refused.
    RESUMABLE_CHANGES: ClassVar[frozenset[str]] = frozenset(
        {"trials", "timeout", "out", "workers", "device", "trial_timeout", "ray", "ray_address",
         "data_dir", "pruner", "pruner_options"}
    )  # fmt: skip

    def __post_init__(self) -> None:
        # as Python callers write them: a Path for a folder, a tuple for a list
        for key in ("out", "data_dir"):
            if isinstance(getattr(self, key), os.PathLike):
                setattr(self, key, os.fspath(getattr(self, key)))
        for key in ("objectives", "budgets", "weights"):
            if isinstance(getattr(self, key), tuple):
                setattr(self, key, list(getattr(self, key)))
        # the types a config file is held to, so SearchConfig(epochs="5") is one line too
        checked = _check_types({f.name: getattr(self, f.name) for f in dataclasses.fields(self)})
        for key in ("objectives", "budgets", "weights"):  # "a,b" -> ["a", "b"]
            setattr(self, key, checked[key])
        if not isinstance(self.trials, int) or self.trials < 1:
            raise ConfigError(f"trials must be a positive integer; got {self.trials!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigError(f"timeout must be > 0 seconds; got {self.timeout!r}")
        if self.epochs is not None and self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1; got {self.epochs!r}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1; got {self.batch_size!r}")
        if self.max_train is not None and self.max_train < 2:
            raise ConfigError(f"max_train must be >= 2; got {self.max_train!r}")
        if not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(  # every strategy: Optuna's TPE and NSGA-II take no more
                f"seed must be an integer from 0 to {MAX_SEED} (2**32 - 1, the seeds numpy's "
                f"RandomState and Optuna's samplers take); got {self.seed!r}"
            )
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ConfigError(f"workers must be a positive integer; got {self.workers!r}")
        if self.trial_timeout is not None and not self.trial_timeout > 0:
            raise ConfigError(f"trial_timeout must be > 0 seconds; got {self.trial_timeout!r}")
        if isinstance(self.out, str) and not self.out.strip():  # an unset shell variable
            raise ConfigError(f"out must name the run folder; got {self.out!r}")
        if isinstance(self.storage, str) and not self.storage.strip():
            raise ConfigError(  # --storage "$DB" with DB unset ran on the run folder's own
                f"storage must name a database URL, 'sqlite' or 'journal' (or be left out "
                f"for the run folder's own); got {self.storage!r}"
            )
        if isinstance(self.study_name, str) and not self.study_name.strip():
            raise ConfigError(f"study_name must name the study; got {self.study_name!r}")
        if isinstance(self.ray_address, str) and not self.ray_address.strip():
            raise ConfigError(  # --ray-address "$HEAD" with HEAD unset ran without Ray
                f"ray_address must name a Ray cluster (host:port or 'auto'); got "
                f"{self.ray_address!r}"
            )
        if self.ray_address:
            self.ray = True
        if self.ray and self.workers > 1:
            raise ConfigError("use either --workers (local processes) or --ray, not both")
        if self.pruner not in PRUNERS:
            raise ConfigError(
                f"unknown pruner {self.pruner!r}; choose from: {', '.join(PRUNERS)}"
                f"{did_you_mean([self.pruner], PRUNERS)}"
            )

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
        """Build from a dict; an unknown key or a value of the wrong type is an error
        that names it."""
        if not isinstance(data, dict):
            raise ConfigError(f"a config is a table of keys; got {type(data).__name__}")
        _refuse_unknown_keys(data)
        if data.get("space") is None:
            raise ConfigError(
                "a search needs a space: give --space NAME (`quarch spaces` lists them)"
            )
        return cls(**_check_types(data))

    @staticmethod
    def read_file(path: str | Path) -> dict[str, Any]:
        """The keys of a ``.toml``, ``.json`` or ``.yaml`` config file, checked for
        unknown keys and types but not yet a config (flags may still add ``space``)."""
        p = Path(path)
        if p.is_dir():
            raise ConfigError(
                f"config file {str(p)!r} is a folder; name a .toml, .json or .yaml file"
            )
        if not p.exists():
            raise ConfigError(f"config file {str(p)!r} does not exist")
        if not p.is_file():  # `--config <(envsubst < c.toml)` was said not to exist
            raise ConfigError(
                f"config file {str(p)!r} is not a regular file (a pipe or a device); "
                "name a .toml, .json or .yaml file"
            )
        suffix = p.suffix.lower()
        if suffix not in CONFIG_SUFFIXES:
            raise ConfigError(
                f"config file {str(p)!r}: unknown format {p.suffix or '(no suffix)'!r}; "
                f"name it {', '.join(CONFIG_SUFFIXES)}"
            )
        try:
            text = p.read_text(encoding="utf-8-sig")  # a BOM, as Windows editors write
            if suffix == ".toml":
                data: Any = tomllib.loads(text)
            elif suffix == ".json":
                data = json.loads(text)
            else:
                import yaml  # PyYAML: an Optuna dependency, so always installed

                data = yaml.safe_load(text)
        except UnicodeDecodeError:
            raise ConfigError(
                f"cannot parse config file {str(p)!r}: it is not UTF-8 text"
            ) from None
        except Exception as e:  # TOML, JSON and YAML parse errors; each says where
            msg = " ".join(str(e).split())
            if isinstance(e, tomllib.TOMLDecodeError) and text.lstrip().startswith("{"):
                msg += " (it looks like JSON: name the file .json)"
            raise ConfigError(f"cannot parse config file {str(p)!r}: {msg}") from None
        if not isinstance(data, dict):
            raise ConfigError(
                f"config file {str(p)!r} must hold a table of keys; got {type(data).__name__}"
            )
        _refuse_unknown_keys(data)
        return _check_types(data)

    @classmethod
    def from_file(cls, path: str | Path) -> SearchConfig:
        """Read a ``.toml``, ``.json`` or ``.yaml`` config file."""
        return cls.from_dict(cls.read_file(path))

    def incompatible_with(self, other: SearchConfig) -> list[str]:
        """Fields that differ from ``other`` and may not change on resume."""
        a, b = self.to_dict(), other.to_dict()
        return sorted(k for k in a if k not in self.RESUMABLE_CHANGES and a[k] != b[k])

    def save(self, path: str | Path) -> None:
        """Write as JSON."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")


def _refuse_unknown_keys(data: dict[str, Any]) -> None:
    """One line naming the keys a config does not have, with the likely one for a typo
    (``trails``: ``trials``; ``budget``: ``budgets``), then every key there is."""
    names = {f.name for f in dataclasses.fields(SearchConfig)}
    unknown = sorted(str(k) for k in set(data) - names)
    if not unknown:
        return
    raise ConfigError(
        f"unknown config key(s) {unknown}{did_you_mean(unknown, sorted(names))}; "
        f"known: {sorted(names)}"
    )


def misplaced_keys_hint(keys: Any, table: str) -> str:
    """A hint to add to the line that refuses option ``keys`` of ``[table]``: which of
    them are top-level config keys. In a TOML file every key after a ``[table]`` header
    belongs to that table, so ``strategy = "qiea"`` written below ``[strategy_options]``
    arrives as a strategy option, and the refusal alone would not say why."""
    top = sorted(set(keys) & {f.name for f in dataclasses.fields(SearchConfig)})
    if not top:
        return ""
    which = ", ".join(repr(k) for k in top)
    verb = "is a config key" if len(top) == 1 else "are config keys"
    return (
        f" ({which} {verb}: in a TOML file, keys below [{table}] belong to it; put them above it)"
    )
