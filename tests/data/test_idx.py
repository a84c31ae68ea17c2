"""read_idx against IDX bytes written here by hand from the format description."""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from quarch import DataError, QuarchError
from quarch.data import read_idx

# Type codes from the IDX format description (LeCun's MNIST page).
CODES = {
    np.uint8: (0x08, ">u1"),
    np.int8: (0x09, ">i1"),
    np.int16: (0x0B, ">i2"),
    np.int32: (0x0C, ">i4"),
    np.float32: (0x0D, ">f4"),
    np.float64: (0x0E, ">f8"),
}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX: 0, 0, type code, ndim, big-endian uint32 dims, data."""
    code, big = CODES[array.dtype.type]
    header = struct.pack(">BBBB", 0, 0, code, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(big).tobytes()


class TestCorrectness:
    @pytest.mark.parametrize("dtype", list(CODES))
    @pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4)])
    @pytest.mark.parametrize("compress", [False, True])
    def test_round_trip(
        self, tmp_path: Path, dtype: type, shape: tuple[int, ...], compress: bool
    ) -> None:
        rng = np.random.default_rng(0)
        array: np.ndarray = (rng.normal(size=shape) * 50).astype(dtype)
        raw = idx_bytes(array)
        path = tmp_path / "x.idx"
        path.write_bytes(gzip.compress(raw) if compress else raw)
        out = read_idx(path)
        assert out.dtype == np.dtype(dtype)
        assert out.dtype.isnative
        assert out.shape == shape
        np.testing.assert_array_equal(out, array)

    def test_returns_writable_copy(self, tmp_path: Path) -> None:
        path = tmp_path / "a.idx"
        path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8)))
        first = read_idx(path)
        first[0] = 99
        assert read_idx(path)[0] == 0

    def test_cache_sees_a_rewritten_file(self, tmp_path: Path) -> None:
        path = tmp_path / "a.idx"
        path.write_bytes(idx_bytes(np.arange(4, dtype=np.uint8)))
        np.testing.assert_array_equal(read_idx(path), [0, 1, 2, 3])
        path.write_bytes(idx_bytes(np.arange(10, 15, dtype=np.uint8)))
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        np.testing.assert_array_equal(read_idx(path), [10, 11, 12, 13, 14])


class TestInputs:
    def test_wrong_magic(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.idx"
        path.write_bytes(b"\x12\x34\x08\x01" + b"\x00" * 8)
        with pytest.raises(DataError, match=r"bad\.idx: not an IDX file \(magic bytes 12340801\)"):
            read_idx(path)

    def test_unknown_type_code(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.idx"
        path.write_bytes(b"\x00\x00\x07\x01" + b"\x00" * 8)
        with pytest.raises(DataError, match="not an IDX file"):
            read_idx(path)

    def test_truncated_data(self, tmp_path: Path) -> None:
        path = tmp_path / "short.idx"
        path.write_bytes(idx_bytes(np.zeros((4, 5), dtype=np.uint8))[:-3])
        with pytest.raises(
            DataError, match=r"short\.idx: IDX file truncated: header says shape \(4, 5\)"
        ):
            read_idx(path)

    def test_trailing_bytes(self, tmp_path: Path) -> None:
        path = tmp_path / "long.idx"
        path.write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)) + b"\x00")
        with pytest.raises(DataError, match="IDX file has trailing bytes"):
            read_idx(path)

    def test_truncated_header(self, tmp_path: Path) -> None:
        path = tmp_path / "head.idx"
        path.write_bytes(b"\x00\x00\x08\x03\x00\x00\x00\x02")
        with pytest.raises(DataError, match="truncated IDX header"):
            read_idx(path)

    def test_truncated_gzip(self, tmp_path: Path) -> None:
        path = tmp_path / "cut.idx.gz"
        blob = gzip.compress(idx_bytes(np.arange(1000, dtype=np.int32)))
        path.write_bytes(blob[: len(blob) // 2])
        with pytest.raises(DataError, match=r"cut\.idx\.gz: corrupt or truncated gzip file"):
            read_idx(path)

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match=r"nope\.idx: cannot read IDX file"):
            read_idx(tmp_path / "nope.idx")

    def test_errors_are_quarch_errors(self) -> None:
        assert issubclass(DataError, QuarchError)
