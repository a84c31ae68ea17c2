"""Data sets for searches: scikit-learn's bundled sets and MNIST/Fashion-MNIST.

:func:`load_dataset` returns a :class:`Dataset` with seeded, stratified train,
validation and test splits and a fingerprint that a run stores to detect changed data.
The IDX loader verifies every file by header, shape and SHA-256, and downloads absent
files from the original mirrors into :func:`default_data_dir` (``$QUARCH_DATA_DIR`` or
``~/.cache/quarch/data``). :func:`standardise`, :func:`pca` and :func:`resize` fit on
the training split only, and shrink inputs to the few features a quantum model takes.

Example:
    >>> from quarch.data import load_dataset, pca, standardise
    >>> ds = load_dataset("wine", seed=0)
    >>> tr, va, te = standardise(ds.X_train, ds.X_val, ds.X_test)
    >>> tr4, va4, te4 = pca(tr, va, te, k=4)
    >>> tr4.shape
    (106, 4)
"""

from __future__ import annotations

from quarch.data._dataset import (
    Dataset,
    DatasetInfo,
    default_data_dir,
    list_datasets,
    load_dataset,
)
from quarch.data._idx import read_idx
from quarch.data._transforms import pca, resize, standardise

__all__ = [
    "Dataset",
    "DatasetInfo",
    "default_data_dir",
    "list_datasets",
    "load_dataset",
    "pca",
    "read_idx",
    "resize",
    "standardise",
]
