"""Reading IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of
dimensions), one big-endian uint32 per dimension, then the values in C order. Files are
usually gzip-compressed; the compression is detected from the gzip magic bytes rather
than the file name, so a renamed file still reads.

Decoding is cached per process on ``(path, mtime, size)`` because a search loads the
same 47 MB of MNIST for every evaluation worker and every repeated ``load_dataset``
call; touching or replacing the file invalidates the entry.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import math
import zlib
from pathlib import Path

import numpy as np

from quarch._errors import DataError

__all__ = ["decode_idx", "read_idx"]

# IDX type code -> big-endian numpy dtype.
_IDX_DTYPES: dict[int, str] = {
    0x08: ">u1",
    0x09: ">i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_GZIP_MAGIC = b"\x1f\x8b"


def _decompress(raw: bytes, path: Path) -> bytes:
    """Return the decompressed content of ``raw`` (gzip detected by its magic bytes)."""
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(
            f"{path}: corrupt or truncated gzip file ({exc}); expected a complete "
            "gzip-compressed IDX file: delete it and re-download, or pass --data-dir "
            "pointing to a good copy"
        ) from exc


def _parse(data: bytes, path: Path) -> np.ndarray:
    """Parse IDX bytes into a native-endian array, checking header and length."""
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_DTYPES:
        head = data[:4].hex() or "<empty>"
        raise DataError(
            f"{path}: not an IDX file (magic bytes {head}); expected 0000 followed by a "
            f"type code in {sorted(f'{c:02x}' for c in _IDX_DTYPES)} and the number of "
            "dimensions: re-download the file or pass --data-dir pointing to a good copy"
        )
    dtype = np.dtype(_IDX_DTYPES[data[2]])
    ndim = data[3]
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(
            f"{path}: truncated IDX header ({len(data)} bytes, expected at least "
            f"{header_len} for {ndim} dimensions): re-download the file"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no int64 overflow
    actual = len(data) - header_len
    if actual != expected:
        what = "truncated" if actual < expected else "has trailing bytes"
        raise DataError(
            f"{path}: IDX file {what}: header says shape {shape} ({expected} bytes of "
            f"data) but {actual} bytes follow: re-download the file or pass --data-dir "
            "pointing to a good copy"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=False)


@functools.lru_cache(maxsize=8)  # the 8 files of MNIST and Fashion-MNIST
def _decode_cached(path: str, mtime_ns: int, size: int) -> tuple[np.ndarray, str]:
    """Decode one file; the key includes mtime and size so edits invalidate it."""
    del mtime_ns, size  # only part of the cache key
    return _decode(Path(path))


def _decode(p: Path) -> tuple[np.ndarray, str]:
    """The body of :func:`_decode_cached`, undecorated (mutmut mutates no decorated
    function)."""
    data = _decompress(p.read_bytes(), p)
    array = _parse(data, p)
    digest = hashlib.sha256(data).hexdigest()
    array.flags.writeable = False  # shared between callers through the cache
    return array, digest


def decode_idx(path: str | Path) -> tuple[np.ndarray, str]:
    """Decode an IDX file and hash its decompressed bytes, with a per-process cache.

    The array is shared between callers, so it is read-only; copy it before writing.

    Args:
        path (str | Path): a plain or gzip-compressed IDX file.

    Returns:
        tuple[np.ndarray, str]: the read-only array in native byte order, and the SHA-256
        hex digest of the decompressed bytes (the published checksums are over those,
        since gzip headers carry timestamps that differ between copies).

    Raises:
        DataError: the file is missing, not IDX, truncated or a broken gzip stream.
    """
    p = Path(path).expanduser().resolve()
    try:
        stat = p.stat()
    except OSError as exc:
        raise DataError(
            f"{p}: cannot read IDX file ({exc.strerror or exc}); pass a path to an existing file"
        ) from exc
    if not p.is_file():
        raise DataError(f"{p}: is not a file; pass a path to an IDX file")
    return _decode_cached(str(p), stat.st_mtime_ns, stat.st_size)


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (plain or gzip-compressed) into a numpy array.

    Args:
        path (str | Path): the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        np.ndarray: a writable array with the shape and element type the header
        declares (``uint8`` images of shape ``(60000, 28, 28)`` for MNIST training
        images), in native byte order.

    Raises:
        DataError: the file is missing, not IDX, truncated or a broken gzip stream.

    Example:
        >>> from quarch.data import read_idx
        >>> labels = read_idx("mnist/train-labels-idx1-ubyte.gz")  # doctest: +SKIP
        >>> labels[:5]  # doctest: +SKIP
        array([5, 0, 4, 1, 9], dtype=uint8)
    """
    array, _ = decode_idx(path)
    return array.copy()
