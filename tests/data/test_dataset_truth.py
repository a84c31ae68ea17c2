"""load_dataset and list_datasets on scikit-learn's bundled sets, against sklearn itself.

The truth: the sets as ``sklearn.datasets`` loads them, the sizes the docstring gives
(``round(n * test_fraction)`` test, ``round(n * val_fraction)`` validation, ``max_train``
scaling validation by the same ratio), each split in the set's own order, and the
recipe a run's stored fingerprint depends on: ``SeedSequence(seed).generate_state(3)``
seeding scikit-learn's stratified ``train_test_split`` (test, then validation, then the
``max_train`` subsample of both), and SHA-256 over the name, the split parameters and
each array's dtype, shape and bytes. A change to that recipe would make every stored run
refuse to resume, so it is checked here in full. Every refusal is the whole line a user
reads.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sklearn.datasets
from sklearn.model_selection import train_test_split

from quarch import DataError
from quarch.data import DatasetInfo, default_data_dir, list_datasets, load_dataset

LOADERS = {
    "iris": (sklearn.datasets.load_iris, "iris.csv", (4,), None),
    "digits": (sklearn.datasets.load_digits, "digits.csv.gz", (1, 8, 8), 16.0),
    "wine": (sklearn.datasets.load_wine, "wine_data.csv", (13,), None),
    "breast-cancer": (sklearn.datasets.load_breast_cancer, "breast_cancer.csv", (30,), None),
}
KNOWN = "breast-cancer, digits, fashion-mnist, iris, mnist, wine"


def source(name: str) -> str:
    """The provenance line each set's info and listing carry."""
    loader = LOADERS[name][0].__name__
    extra = " (UCI optical digits, 8x8, values 0-16)" if name == "digits" else ""
    return f"sklearn.datasets.{loader}{extra}"


def take(idx: np.ndarray, y: np.ndarray, n_take: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rest, taken = train_test_split(
        idx, test_size=n_take, stratify=y[idx], random_state=seed, shuffle=True
    )
    return np.sort(taken), np.sort(rest)


def by_hand(
    name: str, seed: int, vf: float, tf: float, max_train: int | None = None
) -> dict[str, Any]:
    """The split, fingerprint and info of ``load_dataset``, from sklearn directly."""
    loader, _, shape, scale = LOADERS[name]
    bunch = loader()
    X = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    n, n_classes = len(y), len(bunch.target_names)
    seeds = [int(s) for s in np.random.SeedSequence(seed).generate_state(3)]
    test, rest = take(np.arange(n), y, round(n * tf), seeds[0])
    val, train = take(rest, y, round(n * vf), seeds[1])
    parts = [[X[train], y[train]], [X[val], y[val]], [X[test], y[test]]]
    if max_train is not None and max_train < len(train):
        n_val = max(n_classes, round(len(val) * max_train / len(train)))
        keep, _ = take(np.arange(len(train)), y[train], max_train, seeds[2])
        parts[0] = [X[train][keep], y[train][keep]]
        if n_val < len(val):
            keep_val, _ = take(np.arange(len(val)), y[val], n_val, seeds[2])
            parts[1] = [X[val][keep_val], y[val][keep_val]]
    arrays = []
    for Xp, yp in parts:
        Xf = Xp.astype(np.float32)
        if scale is not None:
            Xf = Xf / np.float32(scale)
        arrays += [Xf.reshape(len(Xf), *shape), yp]
    params = {"seed": seed, "val_fraction": vf, "test_fraction": tf, "max_train": max_train}
    h = hashlib.sha256(json.dumps({"name": name, **params}, sort_keys=True).encode())
    for a in arrays:
        h.update(f"|{a.dtype.str}{a.shape}|".encode() + a.tobytes())
    info = {
        "source": source(name),
        "files": [],
        **params,
        "split_sizes": {"train": len(arrays[1]), "val": len(arrays[3]), "test": len(arrays[5])},
        "classes": [str(c) for c in bunch.target_names],
    }
    return {"arrays": arrays, "fingerprint": h.hexdigest(), "info": info, "shape": shape}


def assert_matches(ds: Any, want: dict[str, Any]) -> None:
    got = [ds.X_train, ds.y_train, ds.X_val, ds.y_val, ds.X_test, ds.y_test]
    for g, w in zip(got, want["arrays"], strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert g.flags.c_contiguous and g.flags.writeable
        np.testing.assert_array_equal(g, w)
    assert ds.fingerprint == want["fingerprint"]
    assert ds.info == want["info"]
    assert json.loads(json.dumps(ds.info)) == want["info"]
    assert ds.input_shape == want["shape"]


class TestSplits:
    @pytest.mark.parametrize("name", list(LOADERS))
    def test_the_documented_recipe(self, name: str) -> None:
        ds = load_dataset(name.replace("-", "_").upper(), seed=3, val_fraction=0.25,
                          test_fraction=0.15)  # fmt: skip
        assert ds.name == name
        assert ds.n_classes == len(LOADERS[name][0]().target_names)
        assert_matches(ds, by_hand(name, 3, 0.25, 0.15))

    @pytest.mark.parametrize(("name", "max_train"), [("iris", 30), ("wine", 40), ("digits", 500)])
    def test_the_documented_subsample(self, name: str, max_train: int) -> None:
        ds = load_dataset(name, seed=11, max_train=max_train)
        assert_matches(ds, by_hand(name, 11, 0.2, 0.2, max_train))

    def test_the_defaults(self) -> None:
        """seed 0, 20 % validation and 20 % test, every training sample."""
        assert_matches(load_dataset("wine"), by_hand("wine", 0, 0.2, 0.2))

    def test_each_split_keeps_the_order_of_the_set(self) -> None:
        ref = sklearn.datasets.load_breast_cancer()
        where = {row.astype(np.float32).tobytes(): i for i, row in enumerate(ref.data)}
        ds = load_dataset("breast-cancer", seed=4, max_train=200)
        for X, y in ((ds.X_train, ds.y_train), (ds.X_val, ds.y_val), (ds.X_test, ds.y_test)):
            rows = [where[x.tobytes()] for x in X]
            assert rows == sorted(rows)
            assert y.tolist() == ref.target[rows].tolist()

    def test_tabular_features_are_raw_and_digits_scaled_to_one(self) -> None:
        wine = load_dataset("wine")
        top = max(wine.X_train.max(), wine.X_val.max(), wine.X_test.max())
        assert top == np.float32(sklearn.datasets.load_wine().data.max())
        digits = load_dataset("digits")
        assert set(np.unique(digits.X_train * 16).tolist()) == set(range(17))

    def test_numpy_integers_are_the_same_seed_and_cap(self) -> None:
        plain = load_dataset("iris", seed=5, max_train=30)
        numpy = load_dataset("iris", seed=np.int64(5), max_train=np.int64(30))  # type: ignore[arg-type]
        assert numpy.fingerprint == plain.fingerprint
        assert type(numpy.info["seed"]) is int and type(numpy.info["max_train"]) is int

    def test_fractions_are_stored_as_floats(self) -> None:
        ds = load_dataset("iris", val_fraction=np.float64(0.25), test_fraction=0.25)
        assert type(ds.info["val_fraction"]) is float


class TestMaxTrain:
    """iris at the defaults: 90 train, 30 validation, 30 test samples."""

    @pytest.mark.parametrize("max_train", [90, 1000])
    def test_at_or_above_the_training_size_nothing_is_dropped(self, max_train: int) -> None:
        full, capped = load_dataset("iris"), load_dataset("iris", max_train=max_train)
        for field in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test"):
            np.testing.assert_array_equal(getattr(capped, field), getattr(full, field))
        assert capped.info["max_train"] == max_train
        assert capped.fingerprint != full.fingerprint

    def test_one_per_class(self) -> None:
        ds = load_dataset("iris", max_train=3)
        assert sorted(ds.y_train.tolist()) == [0, 1, 2]
        assert sorted(ds.y_val.tolist()) == [0, 1, 2]  # at least one per class, not round(1)
        assert ds.info["split_sizes"] == {"train": 3, "val": 3, "test": 30}

    def test_the_largest_cap_that_a_stratified_validation_takes(self) -> None:
        ds = load_dataset("iris", max_train=82)
        assert (len(ds.y_train), len(ds.y_val)) == (82, 27)
        with pytest.raises(DataError) as info:
            load_dataset("iris", max_train=83)
        assert str(info.value) == (
            "the validation split would hold 28 of 30 samples; a stratified split needs 3 "
            "to 27 (one per class on each side): change val_fraction, test_fraction or "
            "max_train"
        )

    def test_validation_left_whole_when_its_share_rounds_to_all(self) -> None:
        """breast-cancer with 1 % validation: 6 samples, and 420 of 449 training ones
        scale them to round(5.6) = 6, so validation is kept as it is."""
        full = load_dataset("breast-cancer", val_fraction=0.01)
        ds = load_dataset("breast-cancer", val_fraction=0.01, max_train=420)
        assert len(ds.y_train) == 420
        np.testing.assert_array_equal(ds.X_val, full.X_val)

    def test_a_cap_too_close_to_the_training_size(self) -> None:
        with pytest.raises(DataError) as info:
            load_dataset("iris", max_train=88)
        assert str(info.value) == (
            "the training split would hold 88 of 90 samples; a stratified split needs 3 to "
            "87 (one per class on each side): change val_fraction, test_fraction or max_train"
        )


class TestRefusals:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"seed": True}, "seed must be an integer >= 0; got True"),
            ({"seed": "1"}, "seed must be an integer >= 0; got '1'"),
            ({"val_fraction": 1}, "val_fraction must be a number in (0, 1); got 1"),
            ({"val_fraction": "0.2"}, "val_fraction must be a number in (0, 1); got '0.2'"),
            ({"test_fraction": 0}, "test_fraction must be a number in (0, 1); got 0"),
            ({"test_fraction": False}, "test_fraction must be a number in (0, 1); got False"),
            (
                {"val_fraction": 0.75, "test_fraction": 0.5},
                "val_fraction + test_fraction must be < 1 to leave training data; got "
                "0.75 + 0.5 = 1.25",
            ),
            ({"max_train": True}, "max_train must be None or an integer >= 1; got True"),
            ({"max_train": 2.0}, "max_train must be None or an integer >= 1; got 2.0"),
            ({"max_train": 1}, "max_train must be >= 3 (one sample per class of iris); got 1"),
        ],
    )
    def test_arguments(self, kwargs: dict[str, object], message: str) -> None:
        with pytest.raises(ValueError) as info:
            load_dataset("iris", **kwargs)  # type: ignore[arg-type]
        assert str(info.value) == message

    def test_seed_zero_and_fractions_near_the_ends_are_accepted(self) -> None:
        ds = load_dataset("iris", seed=0, val_fraction=0.02, test_fraction=0.96)
        assert ds.info["split_sizes"] == {"train": 3, "val": 3, "test": 144}

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            (
                {"test_fraction": 0.013},
                "the test split would hold 2 of 150 samples; a stratified split needs 3 to 147",
            ),
            (
                {"test_fraction": 0.02, "val_fraction": 0.9634},
                "the validation split would hold 145 of 147 samples; a stratified split needs "
                "3 to 144",
            ),
        ],
    )
    def test_splits_too_small_for_the_classes(self, kwargs: dict[str, float], message: str) -> None:
        with pytest.raises(DataError) as info:
            load_dataset("iris", **kwargs)  # type: ignore[arg-type]
        assert str(info.value) == (
            f"{message} (one per class on each side): change val_fraction, test_fraction or "
            "max_train"
        )

    def test_the_extreme_splits_that_still_hold_every_class(self) -> None:
        ds = load_dataset("iris", test_fraction=0.02, val_fraction=0.96)
        assert ds.info["split_sizes"] == {"train": 3, "val": 144, "test": 3}

    @pytest.mark.parametrize(
        ("name", "message"),
        [
            ("mnsit", f"unknown data set 'mnsit'; known: {KNOWN} ('mnsit': did you mean 'mnist'?)"),
            ("cifar10", f"unknown data set 'cifar10'; known: {KNOWN}"),
            # trimmed for the suggestion, named as typed (difflib alone: ratio 6/11)
            (
                "  irs  ",
                f"unknown data set '  irs  '; known: {KNOWN} ('irs': did you mean 'iris'?)",
            ),
            (
                "Fashion_Mnst",
                f"unknown data set 'Fashion_Mnst'; known: {KNOWN} "
                "('Fashion_Mnst': did you mean 'fashion-mnist'?)",
            ),
        ],
    )
    def test_unknown_names(self, name: str, message: str) -> None:
        with pytest.raises(DataError) as info:
            load_dataset(name)
        assert str(info.value) == message

    def test_names_are_trimmed_and_any_case(self) -> None:
        assert load_dataset("  Breast_Cancer ", max_train=50).name == "breast-cancer"

    def test_a_name_that_is_not_a_string(self) -> None:
        for name, kind in ((None, "NoneType"), (3, "int")):
            with pytest.raises(TypeError) as info:
                load_dataset(name)  # type: ignore[arg-type]
            assert str(info.value) == f"name must be a str; got {kind}"


class TestDataFolder:
    def test_default_without_the_variable(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.setenv("QUARCH_DATA_DIR", "")
        assert default_data_dir() == tmp_path / ".cache" / "quarch" / "data"
        monkeypatch.setenv("QUARCH_DATA_DIR", "~/d")
        assert default_data_dir() == tmp_path / "d"

    def test_a_file_for_a_folder(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        (tmp_path / "f").write_text("")
        with pytest.raises(DataError) as info:
            list_datasets("~/f")
        assert str(info.value) == f"data folder '{tmp_path}/f' (--data-dir) is a file, not a folder"
        monkeypatch.setenv("QUARCH_DATA_DIR", "~/f")
        with pytest.raises(DataError) as info:
            load_dataset("mnist")
        assert str(info.value) == (
            f"data folder '{tmp_path}/f' ($QUARCH_DATA_DIR) is a file, not a folder"
        )

    def test_the_scikit_learn_sets_ignore_the_folder(self, tmp_path: Path) -> None:
        (tmp_path / "f").write_text("")
        assert load_dataset("wine", data_dir=tmp_path / "f").name == "wine"


class TestListing:
    def test_every_entry(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("QUARCH_DATA_DIR", str(tmp_path / "env"))
        data = Path(sklearn.datasets.__file__).parent / "data"
        want = [
            DatasetInfo(
                name=name,
                n_samples=len(loader().target),
                n_classes=len(loader().target_names),
                input_shape=shape,
                source=source(name),
                available=True,
                location=str(data / file),
            )
            for name, (loader, file, shape, _) in LOADERS.items()
        ]
        idx = [
            DatasetInfo(
                name=name,
                n_samples=70000,
                n_classes=10,
                input_shape=(1, 28, 28),
                source=source,
                available=False,
                location=str(tmp_path / "env" / name),
            )
            for name, source in (
                ("mnist", "MNIST IDX files (LeCun, Cortes, Burges; CC BY-SA 3.0)"),
                ("fashion-mnist", "Fashion-MNIST IDX files (Zalando Research; MIT)"),
            )
        ]
        got = list_datasets()
        assert got == sorted(want + idx, key=lambda d: d.name)
        assert all(Path(d.location).is_file() for d in got if d.name in LOADERS)
