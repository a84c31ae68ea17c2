"""load_dataset on scikit-learn's bundled sets: sizes, stratification, determinism."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import sklearn.datasets

from quarch import DataError
from quarch.data import Dataset, default_data_dir, list_datasets, load_dataset

SKLEARN = {
    "iris": (sklearn.datasets.load_iris, (4,)),
    "digits": (sklearn.datasets.load_digits, (1, 8, 8)),
    "wine": (sklearn.datasets.load_wine, (13,)),
    "breast-cancer": (sklearn.datasets.load_breast_cancer, (30,)),
}


def sorted_rows(X: np.ndarray) -> np.ndarray:
    flat = X.reshape(len(X), -1)
    return flat[np.lexsort(flat.T[::-1])]


class TestCorrectness:
    @pytest.mark.parametrize("name", list(SKLEARN))
    def test_splits_partition_the_set(self, name: str) -> None:
        loader, shape = SKLEARN[name]
        ref = loader()
        n = len(ref.target)
        ds = load_dataset(name, seed=0)
        assert ds.input_shape == shape
        assert ds.n_features == ref.data.shape[1]
        assert ds.n_classes == len(np.unique(ref.target))
        sizes = (len(ds.y_train), len(ds.y_val), len(ds.y_test))
        assert sizes == (n - 2 * round(0.2 * n), round(0.2 * n), round(0.2 * n))
        assert ds.info["split_sizes"] == dict(zip(["train", "val", "test"], sizes, strict=True))
        for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test)):
            assert X.dtype == np.float32 and y.dtype == np.int64
            assert X.shape == (len(y), *shape)
        # Every sample lands in exactly one split, with its own label.
        scale = 16.0 if name == "digits" else 1.0
        ref_rows = np.column_stack([ref.data / scale, ref.target]).astype(np.float32)
        got = np.concatenate(
            [
                np.column_stack([X.reshape(len(X), -1), y]).astype(np.float32)
                for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test))
            ]
        )
        np.testing.assert_array_equal(sorted_rows(got), sorted_rows(ref_rows))

    @pytest.mark.parametrize("name", list(SKLEARN))
    def test_stratified(self, name: str) -> None:
        ref_counts = np.bincount(SKLEARN[name][0]().target)
        ds = load_dataset(name, seed=5, val_fraction=0.25, test_fraction=0.15)
        for y, frac in ((ds.y_val, 0.25), (ds.y_test, 0.15), (ds.y_train, 0.6)):
            counts = np.bincount(y, minlength=len(ref_counts))
            assert np.all(np.abs(counts - frac * ref_counts) <= 1.0), (counts, frac * ref_counts)

    def test_digits_are_images_in_unit_range(self) -> None:
        ref = sklearn.datasets.load_digits()
        ds = load_dataset("digits")
        assert ds.X_train.min() == 0.0 and ds.X_train.max() == 1.0
        # Rows are the 8x8 images, row-major, as sklearn's ``images`` holds them.
        all_images = {row.tobytes() for row in (ref.images / 16.0).astype(np.float32)}
        assert all(img[0].tobytes() in all_images for img in ds.X_test)

    def test_same_seed_same_data(self) -> None:
        a, b = load_dataset("wine", seed=7), load_dataset("wine", seed=7)
        assert a.fingerprint == b.fingerprint
        assert len(a.fingerprint) == 64 and int(a.fingerprint, 16) >= 0
        for f in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))

    def test_other_seed_or_fraction_other_data(self) -> None:
        a = load_dataset("wine", seed=7)
        b = load_dataset("wine", seed=8)
        c = load_dataset("wine", seed=7, val_fraction=0.3)
        assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3
        assert not np.array_equal(a.X_test, b.X_test)

    def test_max_train(self) -> None:
        ds = load_dataset("iris", max_train=30)
        assert len(ds.y_train) == 30 and len(ds.y_val) == 10 and len(ds.y_test) == 30
        assert np.bincount(ds.y_train).tolist() == [10, 10, 10]
        assert ds.fingerprint != load_dataset("iris").fingerprint

    def test_aliases(self) -> None:
        assert load_dataset("breast_cancer").name == "breast-cancer"
        assert (
            load_dataset("Breast-Cancer").fingerprint == load_dataset("breast-cancer").fingerprint
        )

    def test_info_is_json(self) -> None:
        info = load_dataset("iris", seed=2).info
        assert json.loads(json.dumps(info))["seed"] == 2
        assert info["classes"] == ["setosa", "versicolor", "virginica"]
        assert info["source"] == "sklearn.datasets.load_iris"

    def test_frozen(self) -> None:
        ds = load_dataset("iris")
        assert isinstance(ds, Dataset)
        with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field"):
            ds.name = "x"  # type: ignore[misc]

    def test_list_datasets(self) -> None:
        infos = list_datasets()
        assert [d.name for d in infos] == [
            "breast-cancer",
            "digits",
            "fashion-mnist",
            "iris",
            "mnist",
            "wine",
        ]
        by_name = {d.name: d for d in infos}
        for name, (loader, shape) in SKLEARN.items():
            assert by_name[name].n_samples == len(loader().target)
            assert by_name[name].input_shape == shape
            assert by_name[name].available

    def test_default_data_dir_reads_env(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: object
    ) -> None:
        monkeypatch.setenv("QUARCH_DATA_DIR", "/somewhere/data")
        assert str(default_data_dir()) == "/somewhere/data"
        monkeypatch.delenv("QUARCH_DATA_DIR")
        assert default_data_dir().parts[-3:] == (".cache", "quarch", "data")


class TestInputs:
    def test_unknown_name(self) -> None:
        with pytest.raises(
            DataError,
            match=(
                r"unknown data set 'cifar10'; known: breast-cancer, digits, fashion-mnist, "
                r"iris, mnist, wine"
            ),
        ):
            load_dataset("cifar10")

    def test_name_not_str(self) -> None:
        with pytest.raises(TypeError, match="name must be a str; got int"):
            load_dataset(3)  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"seed": -1}, r"seed must be an integer >= 0; got -1"),
            ({"seed": 1.5}, r"seed must be an integer >= 0; got 1\.5"),
            ({"val_fraction": 0.0}, r"val_fraction must be a number in \(0, 1\); got 0\.0"),
            ({"val_fraction": True}, r"val_fraction must be a number in \(0, 1\); got True"),
            ({"test_fraction": 1.0}, r"test_fraction must be a number in \(0, 1\); got 1\.0"),
            (
                {"val_fraction": 0.5, "test_fraction": 0.5},
                r"val_fraction \+ test_fraction must be < 1 .*; got 0\.5 \+ 0\.5 = 1\.0",
            ),
            ({"max_train": 0}, r"max_train must be None or an integer >= 1; got 0"),
            ({"max_train": 2}, r"max_train must be >= 3 \(one sample per class of iris\); got 2"),
        ],
    )
    def test_bad_arguments(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            load_dataset("iris", **kwargs)  # type: ignore[arg-type]

    def test_split_too_small_for_the_classes(self) -> None:
        with pytest.raises(
            DataError,
            match=(
                r"the validation split would hold 2 of 1438 samples; a stratified split "
                r"needs 10 to 1428"
            ),
        ):
            load_dataset("digits", val_fraction=0.001)
