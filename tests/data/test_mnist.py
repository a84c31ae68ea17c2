"""MNIST / Fashion-MNIST: published facts, file checks and the download path.

Truth comes from outside the code: the published class counts and pixel statistics, the
first training labels, and the SHA-256 table in the shared data README.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from quarch import DataError
from quarch.data import _mnist, list_datasets, load_dataset, read_idx

STEMS = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]
# Saved before the autouse fixture replaces it with one that refuses to connect.
REAL_OPEN_URL = _mnist._open_url
MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def readme_hashes(shared: Path) -> dict[str, str]:
    """Parse 'set/file | sha256' rows from the shared data README."""
    text = (shared / "README.md").read_text()
    return dict(re.findall(r"\|\s*([\w-]+/[\w-]+)\s*\|\s*([0-9a-f]{64})\s*\|", text))


def link_set(src: Path, dst: Path, skip: str | None = None) -> None:
    """Symlink the four gzip files of ``src`` into ``dst``, except ``skip``."""
    dst.mkdir(parents=True, exist_ok=True)
    for stem in STEMS:
        if stem != skip:
            (dst / f"{stem}.gz").symlink_to(src / f"{stem}.gz")


def pixel_mean_std(*arrays: np.ndarray) -> tuple[float, float]:
    n = sum(a.size for a in arrays)
    total = sum(float(a.sum(dtype=np.float64)) for a in arrays)
    squares = sum(float(np.square(a, dtype=np.float64).sum()) for a in arrays)
    mean = total / n
    return mean, (squares / n - mean**2) ** 0.5


class TestPublishedFacts:
    def test_hash_table_matches_readme(self, shared_data: Path) -> None:
        published = readme_hashes(shared_data)
        assert len(published) == 8
        ours = {f"{s}/{f}": h for s, t in _mnist.SHA256.items() for f, h in t.items()}
        assert ours == published

    def test_mnist(self, shared_data: Path) -> None:
        ds = load_dataset("mnist", data_dir=shared_data)
        assert ds.name == "mnist"
        assert ds.input_shape == (1, 28, 28)
        assert ds.n_features == 784
        assert ds.n_classes == 10
        assert ds.X_train.shape == (48000, 1, 28, 28)
        assert ds.X_val.shape == (12000, 1, 28, 28)
        assert ds.X_test.shape == (10000, 1, 28, 28)
        assert ds.X_train.dtype == np.float32
        assert ds.y_train.dtype == np.int64
        assert ds.X_train.min() >= 0.0 and ds.X_train.max() <= 1.0
        official_train = np.bincount(np.concatenate([ds.y_train, ds.y_val]), minlength=10)
        assert official_train.tolist() == MNIST_TRAIN_COUNTS
        assert np.bincount(ds.y_test, minlength=10).tolist() == MNIST_TEST_COUNTS
        # Validation is a stratified 20% of each class of the official training set.
        val_counts = np.bincount(ds.y_val, minlength=10)
        assert np.all(np.abs(val_counts - 0.2 * np.array(MNIST_TRAIN_COUNTS)) <= 1)
        mean, std = pixel_mean_std(ds.X_train, ds.X_val)
        assert mean == pytest.approx(0.1307, abs=1e-4)
        assert std == pytest.approx(0.3081, abs=1e-4)
        # The test split is the official test set, in file order, scaled by 1/255.
        raw = read_idx(shared_data / "mnist" / "t10k-images-idx3-ubyte.gz")
        np.testing.assert_array_equal(ds.X_test[:, 0], raw.astype(np.float32) / 255)
        assert len(ds.info["files"]) == 4  # type: ignore[arg-type]

    def test_first_mnist_labels(self, shared_data: Path) -> None:
        labels = read_idx(shared_data / "mnist" / "train-labels-idx1-ubyte.gz")
        assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]

    def test_fashion_mnist(self, shared_data: Path) -> None:
        ds = load_dataset("fashion_mnist", data_dir=shared_data)
        assert ds.name == "fashion-mnist"
        assert np.bincount(np.concatenate([ds.y_train, ds.y_val])).tolist() == [6000] * 10
        assert np.bincount(ds.y_test).tolist() == [1000] * 10
        mean, std = pixel_mean_std(ds.X_train, ds.X_val)
        assert mean == pytest.approx(0.2860, abs=1e-4)
        assert std == pytest.approx(0.3530, abs=1e-4)
        assert ds.info["classes"][0] == "T-shirt/top"  # type: ignore[index]


class TestSplits:
    def test_seeded(self, shared_data: Path) -> None:
        a = load_dataset("mnist", data_dir=shared_data, seed=3, max_train=500)
        b = load_dataset("mnist", data_dir=shared_data, seed=3, max_train=500)
        c = load_dataset("mnist", data_dir=shared_data, seed=4, max_train=500)
        assert a.fingerprint == b.fingerprint
        np.testing.assert_array_equal(a.X_train, b.X_train)
        np.testing.assert_array_equal(a.y_val, b.y_val)
        assert a.fingerprint != c.fingerprint
        assert not np.array_equal(a.X_train, c.X_train)

    def test_arrays_are_writable_copies(self, shared_data: Path) -> None:
        a = load_dataset("mnist", data_dir=shared_data, max_train=100)
        a.X_test[0] = 5.0
        a.y_test[0] = 3  # the real first test label is 7
        b = load_dataset("mnist", data_dir=shared_data, max_train=100)
        assert a.fingerprint == b.fingerprint
        raw = read_idx(shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz")
        assert b.y_test[0] == raw[0]
        assert b.X_test[0].max() <= 1.0

    def test_max_train_subsamples_train_and_val(self, shared_data: Path) -> None:
        ds = load_dataset("mnist", data_dir=shared_data, max_train=1000)
        assert ds.X_train.shape == (1000, 1, 28, 28)
        assert ds.X_val.shape == (250, 1, 28, 28)  # 12000 * 1000 / 48000
        assert ds.X_test.shape == (10000, 1, 28, 28)
        expected = 1000 * np.array(MNIST_TRAIN_COUNTS) / 60000
        assert np.all(np.abs(np.bincount(ds.y_train, minlength=10) - expected) <= 1)
        assert ds.info["split_sizes"] == {"train": 1000, "val": 250, "test": 10000}


class TestFileLayout:
    def test_files_directly_in_data_dir(self, shared_data: Path, tmp_path: Path) -> None:
        link_set(shared_data / "mnist", tmp_path)
        ds = load_dataset("mnist", data_dir=tmp_path, max_train=100, download=False)
        assert (
            ds.fingerprint == load_dataset("mnist", data_dir=shared_data, max_train=100).fingerprint
        )

    def test_uncompressed_files(self, shared_data: Path, tmp_path: Path) -> None:
        folder = tmp_path / "mnist"
        link_set(shared_data / "mnist", folder, skip="t10k-images-idx3-ubyte")
        for stem in ("t10k-images-idx3-ubyte",):
            raw = gzip.decompress((shared_data / "mnist" / f"{stem}.gz").read_bytes())
            (folder / stem).write_bytes(raw)
        ds = load_dataset("mnist", data_dir=tmp_path, max_train=100, download=False)
        assert (
            ds.fingerprint == load_dataset("mnist", data_dir=shared_data, max_train=100).fingerprint
        )

    def test_list_datasets_availability(self, shared_data: Path, tmp_path: Path) -> None:
        absent = {d.name: d for d in list_datasets(tmp_path)}
        assert not absent["mnist"].available
        assert absent["mnist"].location == str(tmp_path / "mnist")
        assert absent["iris"].available
        present = {d.name: d for d in list_datasets(shared_data)}
        assert present["mnist"].available and present["fashion-mnist"].available
        assert present["mnist"].location == str(shared_data / "mnist")
        assert present["mnist"].n_samples == 70000


class TestCorruptFiles:
    """Each broken file is named in the error, with what was expected and what to do."""

    def _with(self, shared: Path, tmp: Path, stem: str, content: bytes) -> Path:
        link_set(shared / "mnist", tmp / "mnist", skip=stem)
        (tmp / "mnist" / f"{stem}.gz").write_bytes(content)
        return tmp

    def test_truncated_gzip(self, shared_data: Path, tmp_path: Path) -> None:
        good = (shared_data / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes()
        root = self._with(shared_data, tmp_path, "train-labels-idx1-ubyte", good[:5000])
        with pytest.raises(
            DataError,
            match=r"train-labels-idx1-ubyte\.gz: corrupt or truncated gzip file .*re-download",
        ):
            load_dataset("mnist", data_dir=root, download=False)

    def test_truncated_content(self, shared_data: Path, tmp_path: Path) -> None:
        raw = gzip.decompress((shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
        root = self._with(shared_data, tmp_path, "t10k-labels-idx1-ubyte", gzip.compress(raw[:-10]))
        with pytest.raises(
            DataError, match=r"t10k-labels-idx1-ubyte\.gz: IDX file truncated: header says shape"
        ):
            load_dataset("mnist", data_dir=root, download=False)

    def test_wrong_magic(self, shared_data: Path, tmp_path: Path) -> None:
        raw = gzip.decompress((shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
        bad = b"\x08\x01\x00\x00" + raw[4:]
        root = self._with(shared_data, tmp_path, "t10k-labels-idx1-ubyte", gzip.compress(bad))
        with pytest.raises(
            DataError, match=r"t10k-labels-idx1-ubyte\.gz: not an IDX file \(magic bytes 08010000\)"
        ):
            load_dataset("mnist", data_dir=root, download=False)

    def test_wrong_hash(self, shared_data: Path, tmp_path: Path) -> None:
        raw = bytearray(
            gzip.decompress((shared_data / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes())
        )
        raw[8] = 6  # the first label, 5 in the real file: still a valid label
        digest = hashlib.sha256(bytes(raw)).hexdigest()
        expected = readme_hashes(shared_data)["mnist/train-labels-idx1-ubyte"]
        root = self._with(shared_data, tmp_path, "train-labels-idx1-ubyte", gzip.compress(raw))
        with pytest.raises(
            DataError,
            match=(
                rf"train-labels-idx1-ubyte\.gz: SHA-256 of the decompressed bytes is {digest}, "
                rf"expected {expected} for mnist: .*re-download, or pass --data-dir"
            ),
        ):
            load_dataset("mnist", data_dir=root, download=False)

    def test_file_of_the_other_set(self, shared_data: Path, tmp_path: Path) -> None:
        fashion = (shared_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
        root = self._with(shared_data, tmp_path, "t10k-labels-idx1-ubyte", fashion)
        with pytest.raises(DataError, match=r"\(it is fashion-mnist/t10k-labels-idx1-ubyte\)"):
            load_dataset("mnist", data_dir=root, download=False)

    def test_wrong_shape(self, shared_data: Path, tmp_path: Path) -> None:
        test_labels = (shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes()
        root = self._with(shared_data, tmp_path, "train-labels-idx1-ubyte", test_labels)
        with pytest.raises(
            DataError,
            match=(
                r"train-labels-idx1-ubyte\.gz: expected mnist train labels as uint8 IDX of "
                r"shape \(60000,\), found uint8 of shape \(10000,\)"
            ),
        ):
            load_dataset("mnist", data_dir=root, download=False)


class TestDownload:
    @pytest.fixture(autouse=True)
    def _online(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """These tests fake the network; CI sets QUARCH_OFFLINE=1, which would skip it."""
        monkeypatch.delenv("QUARCH_OFFLINE", raising=False)

    def test_quarch_offline_fetches_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        urls: list[str] = []
        monkeypatch.setattr(_mnist, "_open_url", lambda url, timeout: urls.append(url))
        monkeypatch.setenv("QUARCH_OFFLINE", "1")
        with pytest.raises(DataError, match=r"mnist: missing train-images-idx3-ubyte\.gz"):
            load_dataset("mnist", data_dir=tmp_path)
        assert urls == []

    def test_missing_without_download(self, tmp_path: Path) -> None:
        with pytest.raises(
            DataError,
            match=(
                r"mnist: missing train-images-idx3-ubyte\.gz, train-labels-idx1-ubyte\.gz, "
                r"t10k-images-idx3-ubyte\.gz, t10k-labels-idx1-ubyte\.gz in .*pass --data-dir"
            ),
        ):
            load_dataset("mnist", data_dir=tmp_path, download=False)

    def test_download_writes_verified_files(
        self, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        urls: list[str] = []

        def serve(url: str, timeout: float) -> bytes:
            urls.append(url)
            if url.startswith("https://ossci-datasets.s3.amazonaws.com/"):
                raise urllib.error.URLError("first mirror down")
            return (shared_data / "mnist" / url.rsplit("/", 1)[-1]).read_bytes()

        monkeypatch.setattr(_mnist, "_open_url", serve)
        # Only one file is absent: the others must not be fetched.
        link_set(shared_data / "mnist", tmp_path / "mnist", skip="train-labels-idx1-ubyte")
        ds = load_dataset("mnist", data_dir=tmp_path, max_train=100)
        assert urls == [
            "https://ossci-datasets.s3.amazonaws.com/mnist/train-labels-idx1-ubyte.gz",
            "http://yann.lecun.com/exdb/mnist/train-labels-idx1-ubyte.gz",
        ]
        written = tmp_path / "mnist" / "train-labels-idx1-ubyte.gz"
        assert written.is_file() and not written.is_symlink()
        digest = hashlib.sha256(gzip.decompress(written.read_bytes())).hexdigest()
        assert digest == readme_hashes(shared_data)["mnist/train-labels-idx1-ubyte"]
        assert (
            ds.fingerprint == load_dataset("mnist", data_dir=shared_data, max_train=100).fingerprint
        )
        assert [p.name for p in (tmp_path / "mnist").iterdir() if p.name.startswith(".")] == []

    def test_download_all_into_default_dir(
        self, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def serve(url: str, timeout: float) -> bytes:
            assert url.startswith("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")
            return (shared_data / "fashion-mnist" / url.rsplit("/", 1)[-1]).read_bytes()

        monkeypatch.setattr(_mnist, "_open_url", serve)
        monkeypatch.setenv("QUARCH_DATA_DIR", str(tmp_path / "env"))
        ds = load_dataset("fashion-mnist", max_train=100)
        assert sorted(p.name for p in (tmp_path / "env" / "fashion-mnist").iterdir()) == sorted(
            f"{s}.gz" for s in STEMS
        )
        assert ds.X_test.shape == (10000, 1, 28, 28)

    def test_offline_gives_data_error(self, tmp_path: Path) -> None:
        with pytest.raises(
            DataError,
            match=(
                r"mnist: file train-images-idx3-ubyte\.gz is not in .* and could not be "
                r"downloaded \(https://ossci-datasets\.s3\.amazonaws\.com/mnist/"
                r"train-images-idx3-ubyte\.gz: network disabled in tests; "
                r"http://yann\.lecun\.com/.*check the network connection"
            ),
        ):
            load_dataset("mnist", data_dir=tmp_path)
        assert not (tmp_path / "mnist").exists() or not any((tmp_path / "mnist").iterdir())

    def test_bad_bytes_are_not_kept(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(_mnist, "_open_url", lambda url, timeout: gzip.compress(b"junk"))
        with pytest.raises(DataError, match=r"SHA-256 of the content is [0-9a-f]{64}, expected"):
            load_dataset("fashion-mnist", data_dir=tmp_path)
        assert not (tmp_path / "fashion-mnist").exists()


class TestRealOpener:
    def test_fetches_over_http(self, tmp_path: Path, served_folder: str) -> None:
        """The real opener, against a local HTTP server (no outside network needed)."""
        body = bytes(range(256)) * 1000
        (tmp_path / "blob.gz").write_bytes(body)
        url = served_folder + "blob.gz"
        assert REAL_OPEN_URL(url, 5.0) == body
        with pytest.raises(urllib.error.HTTPError, match="404"):
            REAL_OPEN_URL(url + ".missing", 5.0)
