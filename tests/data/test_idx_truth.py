"""read_idx and decode_idx against IDX files written here from the format's description.

The IDX format (LeCun's MNIST page): two zero bytes, a type code (0x08 ubyte, 0x09 byte,
0x0B short, 0x0C int, 0x0D float, 0x0E double), the number of dimensions, one big-endian
uint32 per dimension, then the values, big-endian, in C order. Every refusal is checked
as the whole line a user reads (the CLI prints it after ``error:`` and exits with 2).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from quarch import DataError
from quarch.data import read_idx
from quarch.data._idx import decode_idx

# type code -> the big-endian element type the format description gives it
CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FIX = "re-download the file or pass --data-dir pointing to a good copy"
NOT_IDX = (
    "expected 0000 followed by a type code in ['08', '09', '0b', '0c', '0d', '0e'] and "
    f"the number of dimensions: {FIX}"
)


def header(code: int, shape: tuple[int, ...]) -> bytes:
    return struct.pack(">BBBB", 0, 0, code, len(shape)) + struct.pack(f">{len(shape)}I", *shape)


def values(code: int, shape: tuple[int, ...]) -> np.ndarray:
    """Values that use the type's range, in native order (what a reader must return)."""
    n = int(np.prod(shape))
    big = np.dtype(CODES[code])
    if big.kind == "f":
        out = np.linspace(-3.5e3, 7.25e3, n) * (1 + 1e-6 * np.arange(n))
    else:
        info = np.iinfo(big)
        out = np.linspace(info.min, info.max, n).round()
    return out.astype(big.newbyteorder("=")).reshape(shape)


def write(path: Path, data: bytes, *, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def refusal(path: Path) -> str:
    with pytest.raises(DataError) as info:
        read_idx(path)
    return str(info.value)


class TestFormat:
    @pytest.mark.parametrize("code", sorted(CODES))
    @pytest.mark.parametrize("shape", [(), (5,), (3, 1, 4), (2, 0, 3)])
    def test_every_type_and_rank(self, tmp_path: Path, code: int, shape: tuple[int, ...]) -> None:
        want = values(code, shape)
        raw = header(code, shape) + want.astype(CODES[code]).tobytes()
        for gz in (False, True):
            got = read_idx(write(tmp_path / f"f{gz}", raw, gz=gz))
            assert got.dtype == want.dtype and got.dtype.isnative
            assert got.shape == shape
            np.testing.assert_array_equal(got, want)

    def test_values_are_read_big_endian_in_c_order(self, tmp_path: Path) -> None:
        # 0x0102 and 0x0304 as big-endian shorts, by hand, in a (2, 1) array
        path = write(tmp_path / "s.idx", header(0x0B, (2, 1)) + b"\x01\x02\x03\x04")
        assert read_idx(path).tolist() == [[0x0102], [0x0304]]

    def test_compression_is_told_by_the_magic_bytes_not_the_name(self, tmp_path: Path) -> None:
        raw = header(0x08, (3,)) + b"\x07\x08\x09"
        plain_named_gz = write(tmp_path / "a.gz", raw)
        gz_named_plain = write(tmp_path / "a.idx", raw, gz=True)
        assert read_idx(plain_named_gz).tolist() == [7, 8, 9]
        assert read_idx(gz_named_plain).tolist() == [7, 8, 9]

    def test_huge_declared_shape_without_data_is_refused(self, tmp_path: Path) -> None:
        """Four dimensions of 65536 hold 2**64 values: an int64 product wrapped to 0, so
        the header alone passed the length check and numpy's reshape failed (a
        ValueError, an internal error at the command line)."""
        path = write(tmp_path / "huge.idx", header(0x08, (65536,) * 4))
        shape = (65536,) * 4
        assert refusal(path) == (
            f"{path}: IDX file truncated: header says shape {shape} ({2**64} bytes of "
            f"data) but 0 bytes follow: {FIX}"
        )


class TestDecode:
    def test_digest_is_of_the_decompressed_bytes(self, tmp_path: Path) -> None:
        raw = header(0x0C, (4,)) + np.arange(4, dtype=">i4").tobytes()
        want = hashlib.sha256(raw).hexdigest()
        for gz in (False, True):
            array, digest = decode_idx(write(tmp_path / f"d{gz}", raw, gz=gz))
            assert digest == want
            assert array.tolist() == [0, 1, 2, 3]
            assert not array.flags.writeable

    def test_cached_per_file(self, tmp_path: Path) -> None:
        path = write(tmp_path / "c.idx", header(0x08, (2,)) + b"\x01\x02")
        first, _ = decode_idx(path)
        again, _ = decode_idx(str(path))
        assert again is first

    def test_a_rewrite_of_another_length_is_seen_at_the_same_mtime(self, tmp_path: Path) -> None:
        path = write(tmp_path / "c.idx", header(0x08, (2,)) + b"\x01\x02")
        stat = path.stat()
        assert read_idx(path).tolist() == [1, 2]
        write(path, header(0x08, (3,)) + b"\x04\x05\x06")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        assert path.stat().st_mtime_ns == stat.st_mtime_ns
        assert read_idx(path).tolist() == [4, 5, 6]

    def test_a_rewrite_of_the_same_length_is_seen_by_its_mtime(self, tmp_path: Path) -> None:
        path = write(tmp_path / "c.idx", header(0x08, (2,)) + b"\x01\x02")
        stat = path.stat()
        assert read_idx(path).tolist() == [1, 2]
        write(path, header(0x08, (2,)) + b"\x07\x08")
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        assert read_idx(path).tolist() == [7, 8]

    def test_read_idx_gives_a_private_copy(self, tmp_path: Path) -> None:
        path = write(tmp_path / "w.idx", header(0x08, (2,)) + b"\x01\x02")
        shared, _ = decode_idx(path)
        mine = read_idx(path)
        assert mine.flags.writeable and not np.shares_memory(mine, shared)

    def test_home_is_expanded(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("HOME", str(tmp_path))
        write(tmp_path / "h.idx", header(0x08, (1,)) + b"\x2a")
        assert read_idx("~/h.idx").tolist() == [42]


class TestRefusals:
    @pytest.mark.parametrize(
        ("data", "shown"),
        [
            (b"", "<empty>"),
            (b"\x00\x00\x08", "000008"),
            (b"\x01\x00\x08\x01\x00\x00\x00\x00", "01000801"),
            (b"\x00\x01\x08\x01\x00\x00\x00\x00", "00010801"),
            (b"\x00\x00\x0a\x01\x00\x00\x00\x00", "00000a01"),
            (b"\x00\x00\x07\x01\x00\x00\x00\x00", "00000701"),
        ],
    )
    def test_not_idx(self, tmp_path: Path, data: bytes, shown: str) -> None:
        path = write(tmp_path / "n.idx", data)
        assert refusal(path) == f"{path}: not an IDX file (magic bytes {shown}); {NOT_IDX}"

    def test_truncated_header(self, tmp_path: Path) -> None:
        path = write(tmp_path / "h.idx", header(0x08, (2, 3, 4))[:-1])
        assert refusal(path) == (
            f"{path}: truncated IDX header (15 bytes, expected at least 16 for 3 "
            "dimensions): re-download the file"
        )

    def test_a_scalar_without_its_value(self, tmp_path: Path) -> None:
        """Rank 0: the 4-byte magic is the whole header, and one value must follow."""
        path = write(tmp_path / "s.idx", header(0x08, ()))
        assert refusal(path) == (
            f"{path}: IDX file truncated: header says shape () (1 bytes of data) but 0 bytes "
            f"follow: {FIX}"
        )

    def test_header_alone_of_exactly_its_length_reads(self, tmp_path: Path) -> None:
        path = write(tmp_path / "e.idx", header(0x0E, (0, 2)))
        assert read_idx(path).shape == (0, 2)

    @pytest.mark.parametrize(("extra", "what"), [(-1, "truncated"), (1, "has trailing bytes")])
    def test_wrong_length(self, tmp_path: Path, extra: int, what: str) -> None:
        body = np.zeros(6, dtype=">i2").tobytes()
        body = body[:extra] if extra < 0 else body + b"\x00" * extra
        path = write(tmp_path / "l.idx", header(0x0B, (2, 3)) + body, gz=True)
        assert refusal(path) == (
            f"{path}: IDX file {what}: header says shape (2, 3) (12 bytes of data) but "
            f"{12 + extra} bytes follow: {FIX}"
        )

    @pytest.mark.parametrize("damage", ["truncated", "crc", "deflate"])
    def test_broken_gzip(self, tmp_path: Path, damage: str) -> None:
        """EOFError, gzip's BadGzipFile (an OSError) and zlib.error, each one line."""
        blob = gzip.compress(header(0x08, (1000,)) + bytes(1000))
        if damage == "truncated":
            blob = blob[: len(blob) // 2]
        elif damage == "crc":
            blob = blob[:-8] + bytes([blob[-8] ^ 1]) + blob[-7:]
        else:
            blob = blob[:10] + b"\xff" * 20 + blob[-8:]
        with pytest.raises((EOFError, OSError, zlib.error)) as truth:
            gzip.decompress(blob)
        path = write(tmp_path / "b.gz", blob)
        assert refusal(path) == (
            f"{path}: corrupt or truncated gzip file ({truth.value}); expected a complete "
            "gzip-compressed IDX file: delete it and re-download, or pass --data-dir "
            "pointing to a good copy"
        )

    def test_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "absent.idx"
        assert refusal(path) == (
            f"{path}: cannot read IDX file (No such file or directory); pass a path to an "
            "existing file"
        )

    def test_a_folder(self, tmp_path: Path) -> None:
        assert refusal(tmp_path) == f"{tmp_path}: is not a file; pass a path to an IDX file"
