"""MNIST and Fashion-MNIST from their IDX files: find, verify, download.

Files are looked for in ``data_dir/<name>/`` and then directly in ``data_dir``, each as
``<file>.gz`` or un-gzipped ``<file>``. Every file is checked by its IDX header, its
shape and the SHA-256 of its decompressed bytes (the published gzip wrappers differ by
header timestamps, the contents do not), so a wrong, truncated or swapped file is
reported before it can silently change a search's results.

Downloads go through :func:`_open_url`, a module-level function, so tests (and users
behind a proxy) can replace it with one that serves local bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from quarch._errors import DataError
from quarch.data._idx import decode_idx

__all__ = [
    "DOWNLOAD_TIMEOUT_S",
    "IDX_FILES",
    "MIRRORS",
    "SHA256",
    "find_files",
    "load_idx_set",
    "size_problem",
]

#: The four files of an IDX data set, by role.
IDX_FILES: dict[str, str] = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

#: SHA-256 of the decompressed files, as published with the shared data (public facts).
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
        ),
        "train-labels-idx1-ubyte": (
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
        ),
        "t10k-images-idx3-ubyte": (
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
        ),
        "t10k-labels-idx1-ubyte": (
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": (
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
        ),
        "train-labels-idx1-ubyte": (
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
        ),
        "t10k-images-idx3-ubyte": (
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"
        ),
        "t10k-labels-idx1-ubyte": (
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"
        ),
    },
}

#: Original mirrors, tried in order; each serves ``<mirror><file>.gz``.
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
}

#: Seconds a download waits on a silent connection before trying the next mirror.
DOWNLOAD_TIMEOUT_S = 10.0

_N_TRAIN = 60000
_N_TEST = 10000
_SIDE = 28


@dataclass(frozen=True)
class _Found:
    """Where the files of one data set are, or where they would be downloaded to."""

    files: dict[str, Path | None]  # file stem -> path, None when absent
    download_dir: Path

    @property
    def complete(self) -> bool:
        return _complete(self.files)

    @property
    def location(self) -> Path:
        return _location(self.files, self.download_dir)


def _complete(files: dict[str, Path | None]) -> bool:
    """Whether every file was found (undecorated, so that mutmut mutates it)."""
    return all(p is not None for p in files.values())


def _location(files: dict[str, Path | None], download_dir: Path) -> Path:
    """The folder of the first file found, else the download folder."""
    present = [p.parent for p in files.values() if p is not None]
    return present[0] if present else download_dir


def find_files(name: str, data_dir: Path) -> _Found:
    """Locate the four IDX files of ``name`` under ``data_dir`` (no reading, no checks).

    Args:
        name (str): ``"mnist"`` or ``"fashion-mnist"``.
        data_dir (Path): the data root.

    Returns:
        _Found: each file's path (or None) and the folder a download would write to.
    """
    folders = [data_dir / name, data_dir]
    files: dict[str, Path | None] = {}
    for stem in IDX_FILES.values():
        files[stem] = None
        for folder in folders:
            for candidate in (folder / f"{stem}.gz", folder / stem):
                if candidate.is_file():
                    files[stem] = candidate
                    break
            if files[stem] is not None:
                break
    return _Found(files=files, download_dir=data_dir / name)


def _expected_bytes(file_name: str) -> int:
    """Length of the decompressed IDX file ``file_name`` (header + payload), ``.gz`` or
    not: a name's prefix tells train from test, and ``images`` from labels."""
    n = _N_TRAIN if file_name.startswith("train") else _N_TEST
    return 16 + n * _SIDE * _SIDE if "images" in file_name else 8 + n


def size_problem(path: Path) -> str | None:
    """Why ``path`` cannot be the IDX file its name says, judged by its length alone, or
    ``None`` when the length is right.

    Reads at most the gzip header and trailer (whose last four bytes hold the
    decompressed length modulo 2**32), so ``quarch datasets`` can tell a truncated or
    half-downloaded file from a good one in microseconds; the full SHA-256 check
    still runs when the file is loaded.
    """
    want = _expected_bytes(path.name)
    try:
        size = path.stat().st_size
        if path.suffix != ".gz":
            return None if size == want else f"{path.name} has {size} bytes, expected {want}"
        with open(path, "rb") as fh:
            magic = fh.read(2)
            if magic != b"\x1f\x8b" or size < 18:
                return f"{path.name} is not a gzip file"
            fh.seek(-4, os.SEEK_END)
            isize = int.from_bytes(fh.read(4), "little")
    except OSError as exc:
        return f"{path.name} cannot be read ({exc.strerror or exc})"
    if isize != want % 2**32:
        return f"{path.name} is truncated or damaged (it unpacks to {isize} bytes, expected {want})"
    return None


def _open_url(url: str, timeout: float) -> bytes:
    """Fetch ``url`` and return its body; replaced in tests to serve local bytes.

    Shows a transient rich progress bar on stderr when stderr is a terminal, since the
    training images take a while on a slow link (stdout is left to the command's output).
    """
    from rich.console import Console
    from rich.progress import Progress

    chunks: list[bytes] = []
    bar = Progress(
        console=Console(file=sys.stderr), transient=True, disable=not sys.stderr.isatty()
    )
    with urllib.request.urlopen(url, timeout=timeout) as response, bar as progress:
        total = int(response.headers.get("Content-Length") or 0) or None
        task = progress.add_task(url.rsplit("/", 1)[-1], total=total)
        while chunk := response.read(1 << 16):
            chunks.append(chunk)
            progress.advance(task, len(chunk))
    return b"".join(chunks)


def _known_as(digest: str) -> str | None:
    """Name the published file whose decompressed SHA-256 is ``digest``, if any."""
    for set_name, table in SHA256.items():
        for stem, expected in table.items():
            if expected == digest:
                return f"{set_name}/{stem}"
    return None


def _download_one(name: str, stem: str, target_dir: Path) -> Path:
    """Download ``stem.gz`` from the first mirror that serves verified bytes."""
    expected = SHA256[name][stem]
    failures: list[str] = []
    for mirror in MIRRORS[name]:
        url = f"{mirror}{stem}.gz"
        try:
            body = _open_url(url, DOWNLOAD_TIMEOUT_S)
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            failures.append(f"{url}: {reason}")
            continue
        try:
            content = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
        except (OSError, EOFError, zlib.error) as exc:
            failures.append(f"{url}: not a valid gzip file ({exc})")
            continue
        digest = hashlib.sha256(content).hexdigest()
        if digest != expected:
            failures.append(f"{url}: SHA-256 of the content is {digest}, expected {expected}")
            continue
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / f"{stem}.gz"
            gz_body = body if body[:2] == b"\x1f\x8b" else gzip.compress(content, mtime=0)
            # Write beside the target and rename, so a killed download leaves no
            # half-written file that would later be reported as corrupt.
            fd, tmp_name = tempfile.mkstemp(prefix=f".{stem}.", dir=target_dir)
            with os.fdopen(fd, "wb") as fh:
                fh.write(gz_body)
            os.replace(tmp_name, target)
        except OSError as exc:
            raise DataError(
                f"cannot write {name} file {stem}.gz into {target_dir} ({exc}); pass "
                "--data-dir (or set QUARCH_DATA_DIR) to a writable folder"
            ) from exc
        return target
    tried = "; ".join(failures)
    raise DataError(
        f"{name}: file {stem}.gz is not in {target_dir} and could not be downloaded "
        f"({tried}); check the network connection, or download the four files by hand "
        f"into {target_dir} and pass --data-dir (or set QUARCH_DATA_DIR)"
    )


def _verify(name: str, path: Path, array: np.ndarray, digest: str, role: str) -> None:
    """Check one decoded file's element type, shape and SHA-256; raise a DataError if off.

    The labels' range needs no check of its own: a file with the published SHA-256 is
    the published file, whose labels are 0-9."""
    n = _N_TRAIN if role.startswith("train") else _N_TEST
    is_images = role.endswith("images")
    shape = (n, _SIDE, _SIDE) if is_images else (n,)
    fix = "delete it and re-download, or pass --data-dir pointing to a good copy"
    if array.dtype != np.uint8 or array.shape != shape:
        raise DataError(
            f"{path}: expected {name} {role.replace('_', ' ')} as uint8 IDX of shape "
            f"{shape}, found {array.dtype} of shape {array.shape}: {fix}"
        )
    expected = SHA256[name][IDX_FILES[role]]
    if digest != expected:
        other = _known_as(digest)
        which = f" (it is {other})" if other else ""
        raise DataError(
            f"{path}: SHA-256 of the decompressed bytes is {digest}{which}, expected "
            f"{expected} for {name}: the file is corrupt or a different data set; {fix}"
        )


def load_idx_set(
    name: str, data_dir: Path, *, download: bool
) -> tuple[dict[str, np.ndarray], list[dict[str, str]]]:
    """Load and verify the four files of an IDX data set, downloading absent ones.

    Args:
        name (str): ``"mnist"`` or ``"fashion-mnist"``.
        data_dir (Path): the data root.
        download (bool): fetch absent files from the original mirrors.

    Returns:
        tuple[dict[str, np.ndarray], list[dict[str, str]]]: read-only uint8 arrays by role
        (``train_images`` ``(60000, 28, 28)``, ``train_labels`` ``(60000,)``,
        ``test_images``, ``test_labels``) and, per file, its path and SHA-256.

    Raises:
        DataError: a file is absent (and not downloadable), corrupt or of the wrong set.
    """
    found = find_files(name, data_dir)
    missing = [stem for stem, p in found.files.items() if p is None]
    # QUARCH_OFFLINE=1 turns downloads off everywhere (air-gapped machines, CI).
    download = download and os.environ.get("QUARCH_OFFLINE", "") in ("", "0")
    if missing and not download:
        raise DataError(
            f"{name}: missing {', '.join(f'{s}.gz' for s in missing)} in "
            f"{data_dir / name} (or {data_dir}); expected the four standard IDX files: "
            "pass --data-dir (or set QUARCH_DATA_DIR) to a folder holding them, or allow "
            "downloading"
        )
    paths = dict(found.files)
    for stem in missing:
        paths[stem] = _download_one(name, stem, found.download_dir)
    arrays: dict[str, np.ndarray] = {}
    files: list[dict[str, str]] = []
    for role, stem in IDX_FILES.items():
        path = paths[stem]
        assert path is not None  # every missing file was downloaded or raised
        array, digest = decode_idx(path)
        _verify(name, path, array, digest, role)
        arrays[role] = array
        files.append({"path": str(path), "sha256": digest})
    return arrays, files
