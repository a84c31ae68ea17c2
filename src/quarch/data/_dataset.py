"""The data set registry, seeded splits and the :class:`Dataset` record.

A search compares architectures on one fixed split, and a resumed or repeated run must
see exactly the same samples: so splits are seeded and stratified, and each loaded
data set carries a fingerprint over its name, split parameters and every array's bytes,
which a run folder stores and checks on resume.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from quarch._errors import DataError, did_you_mean
from quarch.data import _mnist

__all__ = ["Dataset", "DatasetInfo", "default_data_dir", "list_datasets", "load_dataset"]

_ENV_VAR = "QUARCH_DATA_DIR"


@dataclass(frozen=True, eq=False)
class Dataset:
    """A data set split into train, validation and test parts, ready for a search.

    Compare two data sets by :attr:`fingerprint`; ``==`` is identity because the fields
    are arrays.

    Attributes:
        name (str): canonical name, e.g. ``"breast-cancer"``.
        X_train (np.ndarray): float32 ``(n_train, *input_shape)``; images in ``[0, 1]``.
        y_train (np.ndarray): int64 ``(n_train,)`` labels in ``0 .. n_classes-1``.
        X_val (np.ndarray): float32 ``(n_val, *input_shape)``.
        y_val (np.ndarray): int64 ``(n_val,)``.
        X_test (np.ndarray): float32 ``(n_test, *input_shape)``.
        y_test (np.ndarray): int64 ``(n_test,)``.
        n_classes (int): number of classes.
        input_shape (tuple[int, ...]): per-sample shape: ``(4,)`` for iris,
            ``(1, 8, 8)`` for digits, ``(1, 28, 28)`` for MNIST.
        fingerprint (str): SHA-256 hex over the name, the split parameters and all
            arrays' bytes: equal fingerprints mean identical data.
        info (dict[str, object]): JSON-ready provenance: ``source``, ``files`` (path and
            SHA-256, for IDX sets), ``split_sizes``, ``seed``, ``val_fraction``,
            ``test_fraction``, ``max_train``, ``classes``.

    Example:
        >>> from quarch.data import load_dataset
        >>> ds = load_dataset("iris", seed=0)
        >>> ds.X_train.shape, ds.X_val.shape, ds.X_test.shape, ds.n_features
        ((90, 4), (30, 4), (30, 4), 4)
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    input_shape: tuple[int, ...]
    fingerprint: str
    info: dict[str, object] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """Number of scalar inputs per sample (the product of :attr:`input_shape`)."""
        return math.prod(self.input_shape)


@dataclass(frozen=True)
class DatasetInfo:
    """What :func:`list_datasets` reports about one data set, without loading it.

    Attributes:
        name (str): canonical name to pass to :func:`load_dataset`.
        n_samples (int): samples in the whole set (train and test together); for a
            space's table (:attr:`space` set: NAS-Bench-201's) the architectures it
            holds, since its rows are architectures, not images.
        n_classes (int): number of classes.
        input_shape (tuple[int, ...]): per-sample shape after loading.
        source (str): where the data come from.
        available (bool): whether it loads without a download: files present and of
            the right length (always true for the sets bundled with scikit-learn). The
            full SHA-256 check runs when the files are loaded.
        location (str): the folder holding the files, or the one a download would use.
        problem (str | None): why present files are unusable (truncated, damaged).
        space (str | None): the search space whose table this is (``nb201``), or
            ``None`` for a data set any space can train on.
    """

    name: str
    n_samples: int
    n_classes: int
    input_shape: tuple[int, ...]
    source: str
    available: bool
    location: str
    problem: str | None = None
    space: str | None = None


@dataclass(frozen=True)
class _Spec:
    """One registry entry: static facts about a data set and how to read it."""

    n_samples: int
    n_classes: int
    input_shape: tuple[int, ...]
    source: str
    kind: str  # "sklearn" or "idx"
    sklearn_loader: str = ""  # function name in sklearn.datasets
    sklearn_file: str = ""  # bundled file in sklearn/datasets/data
    image_scale: float | None = None  # divide pixel values by this to reach [0, 1]


_MNIST_CLASSES = [str(i) for i in range(10)]
_FASHION_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]

_REGISTRY: dict[str, _Spec] = {
    "iris": _Spec(150, 3, (4,), "sklearn.datasets.load_iris", "sklearn", "load_iris", "iris.csv"),
    "digits": _Spec(
        1797,
        10,
        (1, 8, 8),
        "sklearn.datasets.load_digits (UCI optical digits, 8x8, values 0-16)",
        "sklearn",
        "load_digits",
        "digits.csv.gz",
        image_scale=16.0,
    ),
    "wine": _Spec(
        178, 3, (13,), "sklearn.datasets.load_wine", "sklearn", "load_wine", "wine_data.csv"
    ),
    "breast-cancer": _Spec(
        569,
        2,
        (30,),
        "sklearn.datasets.load_breast_cancer",
        "sklearn",
        "load_breast_cancer",
        "breast_cancer.csv",
    ),
    "mnist": _Spec(
        70000,
        10,
        (1, 28, 28),
        "MNIST IDX files (LeCun, Cortes, Burges; CC BY-SA 3.0)",
        "idx",
        image_scale=255.0,
    ),
    "fashion-mnist": _Spec(
        70000,
        10,
        (1, 28, 28),
        "Fashion-MNIST IDX files (Zalando Research; MIT)",
        "idx",
        image_scale=255.0,
    ),
}


def registered_name(name: str) -> str | None:
    """The registry key of ``name`` given in any case, with dashes or underscores (as
    :func:`load_dataset` reads it), or ``None`` when no data set is registered so.

    A run saves this name (:meth:`quarch.spaces.SpaceSpec.resolve`), so ``Iris`` and
    ``iris`` make one run folder and get one data set's defaults.

    Example:
        >>> registered_name(" Fashion_MNIST"), registered_name("cifar10")
        ('fashion-mnist', None)
    """
    key = name.strip().lower().replace("_", "-")
    return key if key in _REGISTRY else None


def _canonical(name: str) -> str:
    """Map a user-given name (any case, dashes or underscores) to a registry key."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str; got {type(name).__name__}")
    key = registered_name(name)
    if key is None:
        raise DataError(
            f"unknown data set {name!r}; known: {', '.join(sorted(_REGISTRY))}"
            f"{did_you_mean([name.strip()], _REGISTRY)}"
        )
    return key


def default_data_dir() -> Path:
    """Return the data root: ``$QUARCH_DATA_DIR`` if set, else ``~/.cache/quarch/data``.

    Read at call time, so setting the variable after import takes effect.
    """
    env = os.environ.get(_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "quarch" / "data"


def _resolve_dir(data_dir: str | Path | None) -> Path:
    """The data root; a file there is refused at once (it was searched as a folder, then
    a download was tried into it, which costs the network's timeouts)."""
    root = default_data_dir() if data_dir is None else Path(data_dir).expanduser()
    if root.exists() and not root.is_dir():
        source = "$QUARCH_DATA_DIR" if data_dir is None else "--data-dir"
        raise DataError(f"data folder {str(root)!r} ({source}) is a file, not a folder")
    return root


def list_datasets(data_dir: str | Path | None = None) -> list[DatasetInfo]:
    """Describe every known data set and whether it can be loaded without a download.

    Cheap: it checks that files exist and have the right length (a gzip file's
    trailer), but decodes none of them.

    Args:
        data_dir (str | Path | None): data root for the IDX sets; None means
            :func:`default_data_dir`.

    Returns:
        list[DatasetInfo]: one entry per data set, sorted by name.

    Example:
        >>> from quarch.data import list_datasets
        >>> [d.name for d in list_datasets()]
        ['breast-cancer', 'digits', 'fashion-mnist', 'iris', 'mnist', 'wine']
    """
    root = _resolve_dir(data_dir)
    out = []
    for name in sorted(_REGISTRY):
        spec = _REGISTRY[name]
        if spec.kind == "sklearn":
            import sklearn.datasets

            location = Path(sklearn.datasets.__file__).parent / "data" / spec.sklearn_file
            available = location.is_file()
            problem = None
        else:
            found = _mnist.find_files(name, root)
            available, location = found.complete, found.location
            problems = [_mnist.size_problem(f) for f in found.files.values() if f is not None]
            problem = "; ".join(p for p in problems if p) or None
            available = available and problem is None
        out.append(
            DatasetInfo(
                name=name,
                n_samples=spec.n_samples,
                n_classes=spec.n_classes,
                input_shape=spec.input_shape,
                source=spec.source,
                available=available,
                location=str(location),
                problem=problem,
            )
        )
    return out


def _check_args(
    seed: int, val_fraction: float, test_fraction: float, max_train: int | None
) -> None:
    """Fail fast on split arguments, naming the argument, the range and the value."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    for arg, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
            raise ValueError(f"{arg} must be a number in (0, 1); got {value!r}")
    if val_fraction + test_fraction >= 1:
        raise ValueError(
            "val_fraction + test_fraction must be < 1 to leave training data; got "
            f"{val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    if max_train is not None and (
        isinstance(max_train, bool) or not isinstance(max_train, int | np.integer) or max_train < 1
    ):
        raise ValueError(f"max_train must be None or an integer >= 1; got {max_train!r}")


def _stratified_take(
    indices: np.ndarray, y: np.ndarray, n_take: int, seed: int, what: str, n_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``indices`` into ``n_take`` and the rest, stratified on ``y[indices]``."""
    from sklearn.model_selection import train_test_split

    n = len(indices)
    if not n_classes <= n_take <= n - n_classes:
        raise DataError(
            f"the {what} split would hold {n_take} of {n} samples; a stratified split "
            f"needs {n_classes} to {n - n_classes} (one per class on each side): change "
            "val_fraction, test_fraction or max_train"
        )
    rest, taken = train_test_split(
        indices, test_size=n_take, stratify=y[indices], random_state=seed, shuffle=True
    )
    return np.sort(taken), np.sort(rest)


def _fingerprint(name: str, params: dict[str, object], arrays: list[np.ndarray]) -> str:
    """SHA-256 over the name, split parameters, and each array's dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(json.dumps({"name": name, **params}, sort_keys=True).encode())
    for a in arrays:
        h.update(f"|{a.dtype.str}{a.shape}|".encode())
        h.update(np.ascontiguousarray(a).data)  # the buffer, without a copy
    return h.hexdigest()


def _load_sklearn(spec: _Spec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import sklearn.datasets

    loader: Callable[..., object] = getattr(sklearn.datasets, spec.sklearn_loader)
    bunch = loader()
    X = np.asarray(bunch.data, dtype=np.float64)  # type: ignore[attr-defined]
    y = np.asarray(bunch.target, dtype=np.int64)  # type: ignore[attr-defined]
    classes = [str(c) for c in bunch.target_names]  # type: ignore[attr-defined]
    return X, y, classes


def load_dataset(
    name: str,
    *,
    data_dir: str | Path | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    max_train: int | None = None,
    download: bool = True,
) -> Dataset:
    """Load a data set and split it into seeded, stratified train/validation/test parts.

    scikit-learn's bundled sets (iris, digits, wine, breast-cancer) are split from the
    whole set: ``round(n * test_fraction)`` test and ``round(n * val_fraction)``
    validation samples. MNIST and Fashion-MNIST keep the official 10000-image test set
    (``test_fraction`` is not used) and take validation as ``val_fraction`` of the
    official training set. ``max_train`` then subsamples training (and validation by the
    same ratio), seeded and stratified, for fast searches. Features are float32 and raw
    for tabular sets; images are float32 in ``[0, 1]`` with shape ``(n, 1, H, W)``.

    Args:
        name (str): one of ``list_datasets()`` names; underscores and case are accepted
            (``"breast_cancer"``, ``"Fashion_MNIST"``).
        data_dir (str | Path | None): root of the IDX files, searched as
            ``data_dir/<name>/`` then ``data_dir`` itself; None means
            :func:`default_data_dir`. Ignored for the scikit-learn sets.
        seed (int): split seed, ``>= 0``. Same seed, same arrays and fingerprint.
        val_fraction (float): validation share, in ``(0, 1)``.
        test_fraction (float): test share for the scikit-learn sets, in ``(0, 1)``;
            ``val_fraction + test_fraction < 1``.
        max_train (int | None): cap on training samples; None keeps all.
        download (bool): fetch absent IDX files from the original mirrors into
            ``data_dir/<name>/``, checking their SHA-256.

    Returns:
        Dataset: the split data with its fingerprint and provenance.

    Raises:
        DataError: unknown name; IDX files missing (with ``download=False``), corrupt,
            or not downloadable; a split too small to hold every class.
        ValueError: an argument is out of range.

    Example:
        >>> from quarch.data import load_dataset
        >>> ds = load_dataset("breast_cancer", seed=1)
        >>> ds.name, ds.n_classes, ds.input_shape
        ('breast-cancer', 2, (30,))
    """
    key = _canonical(name)
    _check_args(seed, val_fraction, test_fraction, max_train)
    spec = _REGISTRY[key]
    seeds = [int(s) for s in np.random.SeedSequence(int(seed)).generate_state(3)]
    info: dict[str, object] = {"source": spec.source}

    if spec.kind == "sklearn":
        X_all, y_all, classes = _load_sklearn(spec)
        idx = np.arange(len(y_all))
        n = len(idx)
        test_idx, rest = _stratified_take(
            idx, y_all, round(n * test_fraction), seeds[0], "test", spec.n_classes
        )
        val_idx, train_idx = _stratified_take(
            rest, y_all, round(n * val_fraction), seeds[1], "validation", spec.n_classes
        )
        X_tr, y_tr = X_all[train_idx], y_all[train_idx]
        X_va, y_va = X_all[val_idx], y_all[val_idx]
        X_te, y_te = X_all[test_idx], y_all[test_idx]
        used_test_fraction: float | None = float(test_fraction)
        info["files"] = []
    else:
        arrays, files = _mnist.load_idx_set(key, _resolve_dir(data_dir), download=download)
        X_off, y_off = arrays["train_images"], arrays["train_labels"].astype(np.int64)
        idx = np.arange(len(y_off))
        val_idx, train_idx = _stratified_take(
            idx, y_off, round(len(idx) * val_fraction), seeds[1], "validation", spec.n_classes
        )
        X_tr, y_tr = X_off[train_idx], y_off[train_idx]
        X_va, y_va = X_off[val_idx], y_off[val_idx]
        X_te, y_te = arrays["test_images"], arrays["test_labels"].astype(np.int64)
        classes = _FASHION_CLASSES if key == "fashion-mnist" else _MNIST_CLASSES
        used_test_fraction = None
        info["files"] = files

    if max_train is not None and max_train < len(y_tr):
        if max_train < spec.n_classes:
            raise ValueError(
                f"max_train must be >= {spec.n_classes} (one sample per class of {key}); "
                f"got {max_train}"
            )
        n_val = max(spec.n_classes, round(len(y_va) * max_train / len(y_tr)))
        keep, _ = _stratified_take(
            np.arange(len(y_tr)), y_tr, max_train, seeds[2], "training", spec.n_classes
        )
        X_tr, y_tr = X_tr[keep], y_tr[keep]
        if n_val < len(y_va):
            keep_val, _ = _stratified_take(
                np.arange(len(y_va)), y_va, n_val, seeds[2], "validation", spec.n_classes
            )
            X_va, y_va = X_va[keep_val], y_va[keep_val]

    def features(X: np.ndarray) -> np.ndarray:
        out = np.array(X, dtype=np.float32)  # always a copy: the IDX cache is shared
        if spec.image_scale is not None:
            np.divide(out, np.float32(spec.image_scale), out=out)
        return np.ascontiguousarray(out.reshape(len(out), *spec.input_shape), dtype=np.float32)

    split = [features(X_tr), y_tr, features(X_va), y_va, features(X_te), y_te]
    split[1::2] = [np.ascontiguousarray(y, dtype=np.int64) for y in split[1::2]]
    params: dict[str, object] = {
        "seed": int(seed),
        "val_fraction": float(val_fraction),
        "test_fraction": used_test_fraction,
        "max_train": None if max_train is None else int(max_train),
    }
    info.update(params)
    info["split_sizes"] = {"train": len(split[1]), "val": len(split[3]), "test": len(split[5])}
    info["classes"] = classes
    return Dataset(
        name=key,
        X_train=split[0],
        y_train=split[1],
        X_val=split[2],
        y_val=split[3],
        X_test=split[4],
        y_test=split[5],
        n_classes=spec.n_classes,
        input_shape=spec.input_shape,
        fingerprint=_fingerprint(key, params, split),
        info=info,
    )
