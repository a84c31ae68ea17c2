"""Tabular evaluation: look an NAS-Bench-201 cell up instead of training it.

The table ``nb201/nb201_cifar.csv`` holds, per cell, the 12-epoch validation and test
accuracy and the 200-epoch test accuracy on CIFAR-10 and CIFAR-100;
``nb201/nb201_latency.csv`` holds measured latencies on six devices. A search may only
see the cheap signal: :class:`NB201Evaluator` returns the 12-epoch validation accuracy
(as ``val_accuracy`` and ``val_error``), the latency columns, and the network's
``params``, ``flops`` and ``macs`` (counted in closed form by
:mod:`quarch.spaces.nb201.costs`; the table has no such columns). The 200-epoch test
accuracy, by which a search is judged, stays in :class:`NB201Table` for the benchmark
harness and never reaches a sampler.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from quarch._errors import ConfigError, DataError
from quarch.evaluate._base import Metrics
from quarch.spaces.nb201.costs import nb201_macs, nb201_params
from quarch.spaces.nb201.space import nb201_arch_str, nb201_space

if TYPE_CHECKING:
    from quarch.config import SearchConfig
    from quarch.space import Space

__all__ = [
    "NB201_DATASETS",
    "NB201_LATENCY_COLUMNS",
    "NB201Evaluator",
    "NB201Table",
    "load_nb201",
    "make_nb201_evaluator",
    "nb201_table_dir",
]

NB201_DATASETS: tuple[str, ...] = ("cifar10", "cifar100")
#: Latency columns (ms, batch 1), named as in the table and in ``quarch.objectives.METRICS``.
NB201_LATENCY_COLUMNS: tuple[str, ...] = (
    "raspi4",
    "pixel3",
    "eyeriss",
    "fpga",
    "gold_6226",
    "1080ti_1",
)
_CIFAR_FILE = "nb201_cifar.csv"
_LATENCY_FILE = "nb201_latency.csv"


@dataclass(frozen=True, eq=False)
class NB201Table:
    """All 15625 cells of one CIFAR data set, in the benchmark's index order.

    Attributes:
        dataset (str): ``cifar10`` or ``cifar100``.
        arch_strs (tuple[str, ...]): cell strings, shape ``(15625,)``.
        val_12ep (np.ndarray): 12-epoch validation accuracy (%), what a search sees.
        test_200ep (np.ndarray): 200-epoch test accuracy (%), what a search is judged by.
        latency (dict[str, np.ndarray]): latency (ms) per device column; empty when the
            latency file is absent.
        fingerprint (str): SHA-256 over the files read.
    """

    dataset: str
    arch_strs: tuple[str, ...]
    val_12ep: np.ndarray
    test_200ep: np.ndarray
    latency: dict[str, np.ndarray]
    fingerprint: str
    _row: dict[str, int] = field(repr=False)

    def __len__(self) -> int:
        return len(self.arch_strs)

    def row(self, arch: Mapping[str, Any]) -> int:
        """Index of ``arch`` (an :func:`nb201_space` architecture) in the table.

        Raises:
            SpaceError: ``arch`` is not a valid nb201 cell.
        """
        return self._row[nb201_arch_str(arch)]


def nb201_table_dir(root: Path) -> Path | None:
    """The folder under ``root`` (``root/nb201`` or ``root``) holding the tables."""
    for cand in (root / "nb201", root):
        if (cand / _CIFAR_FILE).is_file():
            return cand
    return None


def _find_dir(data_dir: str | Path | None) -> Path:
    if data_dir is None:
        from quarch.data import default_data_dir

        data_dir = default_data_dir()
    root = Path(data_dir).expanduser()
    found = nb201_table_dir(root)
    if found is not None:
        return found
    raise DataError(
        f"NAS-Bench-201 table not found: looked for {_CIFAR_FILE} in {str(root / 'nb201')!r} "
        f"and {str(root)!r}; pass --data-dir pointing at the folder that holds nb201/"
    )


def _read_csv(path: Path) -> tuple[list[str], list[list[str]], str]:
    raw = path.read_bytes()
    lines = raw.decode().splitlines()
    rows = list(csv.reader(lines))
    if not rows:
        raise DataError(f"{str(path)!r} is empty")
    return rows[0], rows[1:], hashlib.sha256(raw).hexdigest()


@functools.lru_cache(maxsize=8)
def _load_cached(folder: str, dataset: str, mtimes: tuple[float, ...]) -> NB201Table:
    """:func:`_read_table`, cached by folder, data set and the files' times."""
    return _read_table(Path(folder), dataset)


def _read_table(d: Path, dataset: str) -> NB201Table:
    """Read ``dataset``'s table (and the latency file when present) from folder ``d``."""
    header, rows, sha = _read_csv(d / _CIFAR_FILE)
    need = ["index", "arch", f"{dataset}_valid_12ep", f"{dataset}_test_200ep"]
    missing = [c for c in need if c not in header]
    if missing:
        raise DataError(f"{str(d / _CIFAR_FILE)!r} lacks column(s) {missing}; it has {header}")
    col = {c: header.index(c) for c in need}
    rows.sort(key=lambda r: int(r[col["index"]]))
    arch_strs = tuple(r[col["arch"]] for r in rows)
    val = np.array([float(r[col[need[2]]]) for r in rows])
    test = np.array([float(r[col[need[3]]]) for r in rows])
    latency: dict[str, np.ndarray] = {}
    shas = [sha]
    if (d / _LATENCY_FILE).is_file():
        lh, lrows, lsha = _read_csv(d / _LATENCY_FILE)
        shas.append(lsha)
        lmissing = [c for c in ("index", "arch", *NB201_LATENCY_COLUMNS) if c not in lh]
        if lmissing:
            raise DataError(f"{str(d / _LATENCY_FILE)!r} lacks column(s) {lmissing}")
        lrows.sort(key=lambda r: int(r[lh.index("index")]))
        if tuple(r[lh.index("arch")] for r in lrows) != arch_strs:
            raise DataError(f"{_LATENCY_FILE} and {_CIFAR_FILE} list different cells")
        for c in NB201_LATENCY_COLUMNS:
            latency[c] = np.array([float(r[lh.index(c)]) for r in lrows])
    for name, arr in (("val", val), ("test", test), *latency.items()):
        if not np.all(np.isfinite(arr)):
            raise DataError(f"the nb201 table has non-finite {name} values")
    fp = hashlib.sha256(("|".join([dataset, *shas])).encode()).hexdigest()
    return NB201Table(
        dataset=dataset,
        arch_strs=arch_strs,
        val_12ep=val,
        test_200ep=test,
        latency=latency,
        fingerprint=fp,
        _row={s: i for i, s in enumerate(arch_strs)},
    )


def load_nb201(dataset: str = "cifar10", data_dir: str | Path | None = None) -> NB201Table:
    """Read the NAS-Bench-201 table of ``dataset`` (cached per folder and file times).

    Args:
        dataset (str): ``cifar10`` or ``cifar100`` (an ``nb201-`` prefix is accepted).
        data_dir (str | Path | None): folder holding ``nb201/`` (or the ``nb201`` folder
            itself); ``None`` means :func:`quarch.data.default_data_dir`.

    Raises:
        ConfigError: an unknown data set.
        DataError: the files are missing or malformed.
    """
    name = dataset.removeprefix("nb201-")
    if name not in NB201_DATASETS:
        raise ConfigError(f"unknown nb201 data set {dataset!r}; choose from {list(NB201_DATASETS)}")
    d = _find_dir(data_dir)
    mtimes = tuple(
        (d / f).stat().st_mtime if (d / f).is_file() else 0.0 for f in (_CIFAR_FILE, _LATENCY_FILE)
    )
    return _load_cached(str(d.resolve()), name, mtimes)


class NB201Evaluator:
    """Score a cell by table look-up: 12-epoch validation accuracy and device latencies,
    with its parameters and FLOPs counted (so the default objectives
    ``val_error,params`` work in this space too).

    The table is already the average over the benchmark's training seeds, so the result
    does not depend on ``seed``; the 200-epoch test accuracy is deliberately not
    returned.

    Args:
        table (NB201Table): the loaded table (:func:`load_nb201`).
        latency (bool): also return the latency columns (ms) when the table has them.
        space (Space | None): validate each architecture against it first.

    Example:
        >>> ev = NB201Evaluator(load_nb201("cifar10", "../shared/data"))  # doctest: +SKIP
        >>> sorted(ev.evaluate(nb201_space().sample(0), seed=0))  # doctest: +SKIP
        ['1080ti_1', 'eyeriss', 'flops', 'fpga', 'gold_6226', 'macs', 'params', 'pixel3', 'raspi4', 'val_accuracy', 'val_error']
    """

    def __init__(
        self, table: NB201Table, *, latency: bool = True, space: Space | None = None
    ) -> None:
        self.table = table
        self.latency = latency
        self.space = space
        self.fingerprint = table.fingerprint

    def evaluate(self, arch: Mapping[str, Any], *, seed: int = 0) -> Metrics:
        """Metrics of ``arch``: ``val_accuracy`` (%), ``val_error`` (fraction),
        ``params``, ``flops`` (2 x ``macs``, as torch's counter gives for other spaces)
        and the latencies (ms)."""
        out = self.cheap_metrics(arch)
        acc = float(self.table.val_12ep[self.table.row(arch)])
        return {"val_error": 1.0 - acc / 100.0, "val_accuracy": acc, **out}

    def cheap_metrics(self, arch: Mapping[str, Any]) -> Metrics:
        """What needs no training: ``params``, ``flops`` and ``macs`` (closed form) and
        the measured latencies (a table of the devices, like a latency model), so a
        budget on them is checked before the cell is "trained" (its accuracy looked up).
        """
        if self.space is not None:
            arch = self.space.validate(arch)
        i = self.table.row(arch)
        n_classes = 100 if self.table.dataset == "cifar100" else 10
        macs = float(nb201_macs(arch, n_classes))
        out: Metrics = {
            "params": float(nb201_params(arch, n_classes)),
            "flops": 2.0 * macs,
            "macs": macs,
        }
        if self.latency:
            for c, arr in self.table.latency.items():
                out[c] = float(arr[i])
        return out


def make_nb201_evaluator(space: Space, config: SearchConfig) -> NB201Evaluator:
    """The ``nb201`` space's evaluator from a search config.

    ``config.dataset`` names the table (``cifar10`` or ``cifar100``), ``config.data_dir``
    the folder holding ``nb201/``; ``config.evaluator_options`` may set ``latency``.

    Raises:
        ConfigError: an unknown data set or a space that is not nb201.
        DataError: the table files are missing.
    """
    if space.names != nb201_space().names:
        raise ConfigError(f"the nb201 evaluator needs the nb201 space; got space {space.name!r}")
    table = load_nb201(config.dataset or "cifar10", config.data_dir)
    return NB201Evaluator(table, space=space, **config.evaluator_options)
