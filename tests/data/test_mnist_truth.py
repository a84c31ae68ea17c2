"""MNIST and Fashion-MNIST against the shared IDX files parsed here in a few lines of numpy.

The truth: the files themselves (IDX: a 4-byte magic whose last byte is the rank, one
big-endian uint32 per dimension, then the bytes), the SHA-256 table of the shared data's
README, the gzip format's trailer (RFC 1952: the last four bytes are the uncompressed
length modulo 2**32, little-endian), the class names Zalando publishes, and the
documented search order of the files. Every refusal is the whole line a user reads.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import http.server
import json
import re
import socket
import struct
import sys
import threading
import urllib.error
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.model_selection import train_test_split

from quarch import DataError
from quarch.data import _mnist, list_datasets, load_dataset

STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
# Saved before the autouse fixture replaces it with one that refuses to connect.
REAL_OPEN_URL = _mnist._open_url
FIX = "delete it and re-download, or pass --data-dir pointing to a good copy"
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}


def parse(path: Path) -> np.ndarray:
    """An IDX file of unsigned bytes, by the format's description."""
    raw = gzip.decompress(path.read_bytes())
    assert raw[:3] == b"\x00\x00\x08"
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def readme_hashes(shared: Path) -> dict[str, str]:
    text = (shared / "README.md").read_text()
    return dict(re.findall(r"\|\s*([\w-]+/[\w-]+)\s*\|\s*([0-9a-f]{64})\s*\|", text))


def link(shared: Path, name: str, dst: Path, skip: tuple[str, ...] = ()) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for stem in STEMS.values():
        if stem not in skip:
            (dst / f"{stem}.gz").symlink_to(shared / name / f"{stem}.gz")
    return dst


def refusal(**kwargs: Any) -> str:
    with pytest.raises(DataError) as info:
        load_dataset(**kwargs)
    return str(info.value)


class TestAgainstTheFiles:
    def test_mnist_by_hand(self, shared_data: Path) -> None:
        own = {role: parse(shared_data / "mnist" / f"{s}.gz") for role, s in STEMS.items()}
        ds = load_dataset("mnist", data_dir=shared_data, seed=2)
        # The test split is the official test set in file order, scaled by 1/255.
        assert np.array_equal(ds.X_test[:, 0], own["test_images"] / np.float32(255))
        assert np.array_equal(ds.y_test, own["test_labels"])
        # Validation and training partition the official training set, each in file order;
        # validation is a stratified 20 %, drawn with the documented seed.
        where = {row.tobytes(): i for i, row in enumerate(own["train_images"])}
        rows = {}
        for part, X, y in (("train", ds.X_train, ds.y_train), ("val", ds.X_val, ds.y_val)):
            pixels = np.rint(X[:, 0] * 255).astype(np.uint8)
            rows[part] = np.array([where[p.tobytes()] for p in pixels])
            assert np.array_equal(X[:, 0], own["train_images"][rows[part]] / np.float32(255))
            assert np.all(np.diff(rows[part]) > 0)
            assert np.array_equal(y, own["train_labels"][rows[part]])
        assert len(rows["train"]) + len(rows["val"]) == 60000
        assert len(np.union1d(rows["train"], rows["val"])) == 60000
        seed = int(np.random.SeedSequence(2).generate_state(3)[1])
        _, val = train_test_split(
            np.arange(60000), test_size=12000, stratify=own["train_labels"], random_state=seed
        )
        np.testing.assert_array_equal(rows["val"], np.sort(val))
        # Provenance: the files read, with the README's checksums, in role order.
        published = readme_hashes(shared_data)
        assert ds.info == {
            "source": "MNIST IDX files (LeCun, Cortes, Burges; CC BY-SA 3.0)",
            "files": [
                {"path": str(shared_data / "mnist" / f"{s}.gz"), "sha256": published[f"mnist/{s}"]}
                for s in STEMS.values()
            ],
            "seed": 2,
            "val_fraction": 0.2,
            "test_fraction": None,
            "max_train": None,
            "split_sizes": {"train": 48000, "val": 12000, "test": 10000},
            "classes": [str(i) for i in range(10)],
        }
        assert json.loads(json.dumps(ds.info)) == ds.info
        # The fingerprint: SHA-256 over the name, the split parameters and each array.
        params = {"seed": 2, "val_fraction": 0.2, "test_fraction": None, "max_train": None}
        h = hashlib.sha256(json.dumps({"name": "mnist", **params}, sort_keys=True).encode())
        for a in (ds.X_train, ds.y_train, ds.X_val, ds.y_val, ds.X_test, ds.y_test):
            assert a.flags.c_contiguous and a.flags.writeable
            h.update(f"|{a.dtype.str}{a.shape}|".encode() + a.tobytes())
        assert ds.fingerprint == h.hexdigest()

    def test_fashion_mnist_classes_and_test_set(self, shared_data: Path) -> None:
        ds = load_dataset("fashion-mnist", data_dir=shared_data, max_train=50)
        assert ds.info["classes"] == FASHION_CLASSES
        assert ds.info["source"] == "Fashion-MNIST IDX files (Zalando Research; MIT)"
        test = parse(shared_data / "fashion-mnist" / "t10k-images-idx3-ubyte.gz")
        np.testing.assert_array_equal(ds.X_test[:, 0] * 255, test.astype(np.float32))
        assert ds.info["split_sizes"] == {
            "train": 50,
            "val": round(12000 * 50 / 48000),
            "test": 10000,
        }

    def test_a_validation_share_too_small_for_the_classes(self, shared_data: Path) -> None:
        """The official test set stays whole; validation comes from the 60000 training
        images and must hold every class on both sides."""
        assert refusal(name="mnist", data_dir=shared_data, val_fraction=0.0001) == (
            "the validation split would hold 6 of 60000 samples; a stratified split needs 10 "
            "to 59990 (one per class on each side): change val_fraction, test_fraction or "
            "max_train"
        )

    def test_lengths_of_the_decompressed_files(self, shared_data: Path) -> None:
        """The IDX header (4 bytes and 4 per dimension) plus one byte per value."""
        for name in ("mnist", "fashion-mnist"):
            for stem in STEMS.values():
                n = 60000 if stem.startswith("train") else 10000
                want = 16 + n * 784 if "images" in stem else 8 + n
                raw = gzip.decompress((shared_data / name / f"{stem}.gz").read_bytes())
                assert len(raw) == want
                assert _mnist.size_problem(shared_data / name / f"{stem}.gz") is None


class TestFinding:
    def touch(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        return path

    def test_search_order(self, tmp_path: Path) -> None:
        sub = tmp_path / "mnist"
        stems = list(STEMS.values())
        # train images: in both folders, gzip and plain: the set's folder's .gz wins
        for p in (sub / f"{stems[0]}.gz", sub / stems[0], tmp_path / f"{stems[0]}.gz"):
            self.touch(p)
        # train labels: plain in the set's folder beats .gz in the root
        self.touch(sub / stems[1])
        self.touch(tmp_path / f"{stems[1]}.gz")
        # test images: only in the root, plain; a folder named like the .gz is skipped
        (sub / f"{stems[2]}.gz").mkdir()
        self.touch(tmp_path / stems[2])
        found = _mnist.find_files("mnist", tmp_path)
        assert found.files == {
            stems[0]: sub / f"{stems[0]}.gz",
            stems[1]: sub / stems[1],
            stems[2]: tmp_path / stems[2],
            stems[3]: None,
        }
        assert found.download_dir == sub
        assert not found.complete
        assert found.location == sub
        self.touch(tmp_path / f"{stems[3]}.gz")
        assert _mnist.find_files("mnist", tmp_path).complete

    def test_location_is_the_first_file_found(self, tmp_path: Path) -> None:
        stems = list(STEMS.values())
        self.touch(tmp_path / stems[1])
        self.touch(tmp_path / "mnist" / stems[3])
        found = _mnist.find_files("mnist", tmp_path)
        assert found.location == tmp_path
        assert {d.name: d for d in list_datasets(tmp_path)}["mnist"].location == str(tmp_path)

    def test_files_directly_in_the_folder(self, shared_data: Path, tmp_path: Path) -> None:
        link(shared_data, "fashion-mnist", tmp_path)
        ds = load_dataset("fashion_mnist", data_dir=tmp_path, max_train=50, download=False)
        assert [f["path"] for f in ds.info["files"]] == [  # type: ignore[attr-defined]
            str(tmp_path / f"{s}.gz") for s in STEMS.values()
        ]


class TestSizeProblem:
    @pytest.mark.parametrize("stem", list(STEMS.values()))
    def test_plain_files(self, tmp_path: Path, stem: str) -> None:
        n = 60000 if stem.startswith("train") else 10000
        want = 16 + n * 784 if "images" in stem else 8 + n
        path = tmp_path / stem
        with open(path, "wb") as fh:
            fh.truncate(want)
        assert _mnist.size_problem(path) is None
        with open(path, "wb") as fh:
            fh.truncate(want + 1)
        assert _mnist.size_problem(path) == f"{stem} has {want + 1} bytes, expected {want}"

    @pytest.mark.parametrize("stem", list(STEMS.values()))
    def test_gzip_trailer(self, tmp_path: Path, stem: str) -> None:
        """Only the magic and the trailer are read: an 18-byte file with the right
        trailer passes, one byte less is not a gzip file."""
        n = 60000 if stem.startswith("train") else 10000
        want = 16 + n * 784 if "images" in stem else 8 + n
        path = tmp_path / f"{stem}.gz"
        path.write_bytes(b"\x1f\x8b" + bytes(12) + struct.pack("<I", want))
        assert _mnist.size_problem(path) is None
        path.write_bytes(b"\x1f\x8b" + bytes(11) + struct.pack("<I", want))
        assert _mnist.size_problem(path) == f"{stem}.gz is not a gzip file"
        path.write_bytes(b"\x1f\x8b" + bytes(12) + struct.pack("<I", want - 1))
        assert _mnist.size_problem(path) == (
            f"{stem}.gz is truncated or damaged (it unpacks to {want - 1} bytes, expected {want})"
        )

    def test_not_gzip_and_unreadable(self, tmp_path: Path) -> None:
        path = tmp_path / "t10k-labels-idx1-ubyte.gz"
        path.write_bytes(b"\x1f\x8c" + bytes(40))
        assert _mnist.size_problem(path) == "t10k-labels-idx1-ubyte.gz is not a gzip file"
        path.unlink()
        path.symlink_to(tmp_path / "nowhere")
        assert _mnist.size_problem(path) == (
            "t10k-labels-idx1-ubyte.gz cannot be read (No such file or directory)"
        )

    def test_every_problem_is_listed(self, shared_data: Path, tmp_path: Path) -> None:
        folder = link(shared_data, "mnist", tmp_path / "mnist", skip=tuple(STEMS.values())[1:3])
        (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"nope")
        (folder / "t10k-images-idx3-ubyte").write_bytes(b"")
        info = {d.name: d for d in list_datasets(tmp_path)}["mnist"]
        assert not info.available
        assert info.location == str(folder)
        assert info.problem == (
            "train-labels-idx1-ubyte.gz is not a gzip file; "
            "t10k-images-idx3-ubyte has 0 bytes, expected 7840016"
        )


class TestVerify:
    def bad(self, shared: Path, tmp: Path, stem: str, raw: bytes) -> str:
        folder = link(shared, "mnist", tmp / "mnist", skip=(stem,))
        (folder / f"{stem}.gz").write_bytes(gzip.compress(raw, compresslevel=1))
        return refusal(name="mnist", data_dir=tmp, download=False)

    def test_labels_of_another_element_type(self, shared_data: Path, tmp_path: Path) -> None:
        stem = "train-labels-idx1-ubyte"
        raw = gzip.decompress((shared_data / "mnist" / f"{stem}.gz").read_bytes())
        as_int8 = raw[:2] + b"\x09" + raw[3:]
        assert self.bad(shared_data, tmp_path, stem, as_int8) == (
            f"{tmp_path}/mnist/{stem}.gz: expected mnist train labels as uint8 IDX of shape "
            f"(60000,), found int8 of shape (60000,): {FIX}"
        )

    def test_test_images_of_another_shape(self, shared_data: Path, tmp_path: Path) -> None:
        labels = gzip.decompress((shared_data / "mnist" / "t10k-labels-idx1-ubyte.gz").read_bytes())
        stem = "t10k-images-idx3-ubyte"
        assert self.bad(shared_data, tmp_path, stem, labels) == (
            f"{tmp_path}/mnist/{stem}.gz: expected mnist test images as uint8 IDX of shape "
            f"(10000, 28, 28), found uint8 of shape (10000,): {FIX}"
        )

    def test_train_images_of_another_shape(self, shared_data: Path, tmp_path: Path) -> None:
        test = gzip.decompress((shared_data / "mnist" / "t10k-images-idx3-ubyte.gz").read_bytes())
        stem = "train-images-idx3-ubyte"
        assert self.bad(shared_data, tmp_path, stem, test) == (
            f"{tmp_path}/mnist/{stem}.gz: expected mnist train images as uint8 IDX of shape "
            f"(60000, 28, 28), found uint8 of shape (10000, 28, 28): {FIX}"
        )

    def test_a_file_of_the_other_set(self, shared_data: Path, tmp_path: Path) -> None:
        stem = "train-labels-idx1-ubyte"
        raw = gzip.decompress((shared_data / "fashion-mnist" / f"{stem}.gz").read_bytes())
        hashes = readme_hashes(shared_data)
        assert self.bad(shared_data, tmp_path, stem, raw) == (
            f"{tmp_path}/mnist/{stem}.gz: SHA-256 of the decompressed bytes is "
            f"{hashes[f'fashion-mnist/{stem}']} (it is fashion-mnist/{stem}), expected "
            f"{hashes[f'mnist/{stem}']} for mnist: the file is corrupt or a different data "
            f"set; {FIX}"
        )

    def test_a_changed_test_label(self, shared_data: Path, tmp_path: Path) -> None:
        stem = "t10k-labels-idx1-ubyte"
        raw = bytearray(gzip.decompress((shared_data / "mnist" / f"{stem}.gz").read_bytes()))
        raw[-1] = (raw[-1] + 1) % 10
        digest = hashlib.sha256(bytes(raw)).hexdigest()
        expected = readme_hashes(shared_data)[f"mnist/{stem}"]
        assert self.bad(shared_data, tmp_path, stem, bytes(raw)) == (
            f"{tmp_path}/mnist/{stem}.gz: SHA-256 of the decompressed bytes is {digest}, "
            f"expected {expected} for mnist: the file is corrupt or a different data set; {FIX}"
        )


class TestDownload:
    @pytest.fixture(autouse=True)
    def _online(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("QUARCH_OFFLINE", raising=False)

    def serve(
        self, monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]
    ) -> list[tuple[str, float]]:
        """Replace the opener: ``answers[url]`` is bytes to return or an error to raise."""
        calls: list[tuple[str, float]] = []

        def opener(url: str, timeout: float) -> bytes:
            calls.append((url, timeout))
            answer = answers[url]
            if isinstance(answer, BaseException):
                raise answer
            return bytes(answer)

        monkeypatch.setattr(_mnist, "_open_url", opener)
        return calls

    def test_a_plain_body_is_verified_and_stored_gzipped(
        self, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stem = "t10k-labels-idx1-ubyte"
        content = gzip.decompress((shared_data / "mnist" / f"{stem}.gz").read_bytes())
        url = f"{MIRRORS['mnist'][0]}{stem}.gz"
        calls = self.serve(monkeypatch, {url: content})
        renames: list[tuple[str, Path]] = []
        replace = _mnist.os.replace

        def recording_replace(src: str, dst: Path) -> None:
            renames.append((src, dst))
            replace(src, dst)

        monkeypatch.setattr(_mnist.os, "replace", recording_replace)
        link(shared_data, "mnist", tmp_path / "mnist", skip=(stem,))
        ds = load_dataset("mnist", data_dir=tmp_path, max_train=50)
        assert calls == [(url, 10.0)]
        written = (tmp_path / "mnist" / f"{stem}.gz").read_bytes()
        assert written[:2] == b"\x1f\x8b" and written[4:8] == bytes(4)  # gzip, mtime 0
        assert gzip.decompress(written) == content
        assert ds.info["files"][3] == {  # type: ignore[index]
            "path": str(tmp_path / "mnist" / f"{stem}.gz"),
            "sha256": readme_hashes(shared_data)[f"mnist/{stem}"],
        }
        assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == sorted(
            f"{s}.gz" for s in STEMS.values()
        )
        # written beside the target under a hidden name, then renamed onto it
        assert [(Path(a).parent, Path(a).name[: len(stem) + 2], b) for a, b in renames] == [
            (tmp_path / "mnist", f".{stem}.", tmp_path / "mnist" / f"{stem}.gz")
        ]

    def test_a_gzip_body_is_stored_as_served(
        self, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stem = "train-labels-idx1-ubyte"
        body = gzip.compress(gzip.decompress((shared_data / "mnist" / f"{stem}.gz").read_bytes()))
        first, second = (f"{m}{stem}.gz" for m in MIRRORS["mnist"])
        calls = self.serve(
            monkeypatch, {first: b"\x1f\x8b" + b"\x08\x00" + bytes(20), second: body}
        )
        link(shared_data, "mnist", tmp_path / "mnist", skip=(stem,))
        load_dataset("mnist", data_dir=tmp_path, max_train=50)
        assert [c[0] for c in calls] == [first, second]
        assert (tmp_path / "mnist" / f"{stem}.gz").read_bytes() == body

    def test_a_mirror_with_other_bytes_is_passed_over(
        self, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stem = "t10k-labels-idx1-ubyte"
        good = (shared_data / "mnist" / f"{stem}.gz").read_bytes()
        other = (shared_data / "fashion-mnist" / f"{stem}.gz").read_bytes()
        first, second = (f"{m}{stem}.gz" for m in MIRRORS["mnist"])
        calls = self.serve(monkeypatch, {first: other, second: good})
        link(shared_data, "mnist", tmp_path / "mnist", skip=(stem,))
        load_dataset("mnist", data_dir=tmp_path, max_train=50)
        assert [c[0] for c in calls] == [first, second]
        assert (tmp_path / "mnist" / f"{stem}.gz").read_bytes() == good

    def test_every_mirror_failing_is_one_line(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stem = "train-images-idx3-ubyte"
        first, second = (f"{m}{stem}.gz" for m in MIRRORS["mnist"])
        not_found = urllib.error.HTTPError(first, 404, "Not Found", None, None)  # type: ignore[arg-type]
        self.serve(monkeypatch, {first: not_found, second: http.client.IncompleteRead(b"ab", 5)})
        where = tmp_path / "mnist"
        assert refusal(name="mnist", data_dir=tmp_path) == (
            f"mnist: file {stem}.gz is not in {where} and could not be downloaded ({first}: "
            f"Not Found; {second}: IncompleteRead(2 bytes read, 5 more expected)); check the "
            f"network connection, or download the four files by hand into {where} and pass "
            "--data-dir (or set QUARCH_DATA_DIR)"
        )
        assert not where.exists()

    @pytest.mark.parametrize(
        ("error", "shown"),
        [
            (ValueError("unknown url type: 'x'"), "unknown url type: 'x'"),
            (ConnectionResetError(104, "Connection reset by peer"),
             "[Errno 104] Connection reset by peer"),
            (urllib.error.URLError("timed out"), "timed out"),
        ],
    )  # fmt: skip
    def test_failures_of_the_one_fashion_mirror(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, shown: str
    ) -> None:
        stem = "train-images-idx3-ubyte"
        url = f"{MIRRORS['fashion-mnist'][0]}{stem}.gz"
        self.serve(monkeypatch, {url: error})
        assert f"could not be downloaded ({url}: {shown}); check" in refusal(
            name="fashion-mnist", data_dir=tmp_path
        )

    def test_bad_bodies(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        stem = "train-images-idx3-ubyte"
        first, second = (f"{m}{stem}.gz" for m in MIRRORS["mnist"])
        broken = gzip.compress(b"x" * 100)[:-12]
        with pytest.raises(EOFError) as truth:
            gzip.decompress(broken)
        plain = b"not the images"
        self.serve(monkeypatch, {first: broken, second: plain})
        digest = hashlib.sha256(plain).hexdigest()
        expected = _mnist.SHA256["mnist"][stem]
        assert f"could not be downloaded ({first}: not a valid gzip file ({truth.value}); " \
            f"{second}: SHA-256 of the content is {digest}, expected {expected}); check" in \
            refusal(name="mnist", data_dir=tmp_path)  # fmt: skip

    def test_an_unwritable_folder(
        self, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stem = "train-images-idx3-ubyte"
        body = (shared_data / "mnist" / f"{stem}.gz").read_bytes()
        self.serve(monkeypatch, {f"{MIRRORS['mnist'][0]}{stem}.gz": body})
        (tmp_path / "mnist").write_text("a file where the set's folder goes")
        with pytest.raises(FileExistsError) as truth:
            (tmp_path / "mnist").mkdir(parents=True, exist_ok=True)
        assert refusal(name="mnist", data_dir=tmp_path) == (
            f"cannot write mnist file {stem}.gz into {tmp_path / 'mnist'} ({truth.value}); pass "
            "--data-dir (or set QUARCH_DATA_DIR) to a writable folder"
        )

    @pytest.mark.parametrize(("value", "fetches"), [("0", True), ("", True), ("1", False),
                                                    ("true", False)])  # fmt: skip
    def test_quarch_offline(
        self,
        shared_data: Path,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        value: str,
        fetches: bool,
    ) -> None:
        stems = ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte")
        link(shared_data, "mnist", tmp_path / "mnist", skip=stems)
        answers = {
            f"{MIRRORS['mnist'][0]}{s}.gz": (shared_data / "mnist" / f"{s}.gz").read_bytes()
            for s in stems
        }
        calls = self.serve(monkeypatch, answers)
        monkeypatch.setenv("QUARCH_OFFLINE", value)
        if fetches:
            load_dataset("mnist", data_dir=tmp_path, max_train=50)
            assert [c[0] for c in calls] == list(answers)
            return
        assert refusal(name="mnist", data_dir=tmp_path) == (
            f"mnist: missing {stems[0]}.gz, {stems[1]}.gz in {tmp_path / 'mnist'} (or "
            f"{tmp_path}); expected the four standard IDX files: pass --data-dir (or set "
            "QUARCH_DATA_DIR) to a folder holding them, or allow downloading"
        )
        assert calls == []


class TestRealOpener:
    """The real opener against a local HTTP server (no outside network needed)."""

    def test_the_bar_is_drawn_on_stderr_only_when_it_is_a_terminal(
        self, tmp_path: Path, served_folder: str, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        """The bar went to stdout (rich's default console): with stderr a terminal and
        stdout a file (``quarch search --json > out.json``), the file got the bar."""
        body = bytes(range(256)) * 700  # more than one 64 KiB read
        (tmp_path / "blob.gz").write_bytes(body)
        url = served_folder + "blob.gz"
        assert REAL_OPEN_URL(url, 5.0) == body
        assert capfd.readouterr() == ("", "")
        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        assert REAL_OPEN_URL(url, 5.0) == body
        out, err = capfd.readouterr()
        assert out == ""
        # the file's name, a full bar (its length from Content-Length), then erased
        assert "\r\x1b[2Kblob.gz " in err and "100%" in err
        assert err.endswith("\x1b[1A\x1b[2K")

    def test_a_body_of_unknown_length(
        self, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without Content-Length the bar cannot know the end: it never shows 100 %."""
        body = bytes(200_000)

        class NoLength(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"  # the body ends when the connection closes

            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
        with http.server.ThreadingHTTPServer(("127.0.0.1", 0), NoLength) as server:
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                url = f"http://127.0.0.1:{server.server_address[1]}/x/blob.gz"
                assert REAL_OPEN_URL(url, 5.0) == body
            finally:
                server.shutdown()
        out, err = capfd.readouterr()
        assert out == "" and "\r\x1b[2Kblob.gz " in err and "%" not in err

    def test_a_silent_server_times_out(self) -> None:
        """A server that accepts and never answers: the timeout ends the wait."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/blob.gz"
            with pytest.raises((TimeoutError, urllib.error.URLError)) as info:
                REAL_OPEN_URL(url, 0.3)
        reason = getattr(info.value, "reason", info.value)
        assert isinstance(reason, TimeoutError)
