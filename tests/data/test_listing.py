"""``quarch datasets``: a truncated file is not "available", and the spaces' own tables
(NAS-Bench-201) are listed beside the data sets (issue 20)."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from quarch.cli import main
from quarch.data import list_datasets
from quarch.data._mnist import IDX_FILES, size_problem

from .conftest import SHARED_DATA


def _copy_mnist(shared_data: Path, dest: Path) -> Path:
    folder = dest / "mnist"
    shutil.copytree(shared_data / "mnist", folder)
    return folder


def test_good_files_are_available(shared_data: Path) -> None:
    by_name = {d.name: d for d in list_datasets(shared_data)}
    assert by_name["mnist"].available and by_name["mnist"].problem is None
    for stem in IDX_FILES.values():
        assert size_problem(shared_data / "mnist" / f"{stem}.gz") is None


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_a_truncated_file_is_not_available(shared_data: Path, tmp_path: Path, keep: float) -> None:
    """A half-downloaded gzip (cut anywhere, even near its end) is reported with the
    file's name, judged by the gzip trailer, which a cut file does not end with."""
    folder = _copy_mnist(shared_data, tmp_path)
    f = folder / "t10k-labels-idx1-ubyte.gz"
    data = f.read_bytes()
    f.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(EOFError):  # the truth: gzip cannot read it
        gzip.decompress(f.read_bytes())
    info = {d.name: d for d in list_datasets(tmp_path)}["mnist"]
    assert not info.available
    assert info.problem is not None and "t10k-labels-idx1-ubyte.gz is truncated" in info.problem


def test_an_unpacked_file_of_the_wrong_length(shared_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem in IDX_FILES.values():
        (folder / stem).write_bytes(
            gzip.decompress((shared_data / "mnist" / f"{stem}.gz").read_bytes())
        )
    assert {d.name: d for d in list_datasets(tmp_path)}["mnist"].available
    short = folder / "train-labels-idx1-ubyte"
    short.write_bytes(short.read_bytes()[:-1])
    info = {d.name: d for d in list_datasets(tmp_path)}["mnist"]
    assert not info.available and "has 60007 bytes, expected 60008" in str(info.problem)


def test_cli_lists_the_nb201_tables(capsys: pytest.CaptureFixture[str]) -> None:
    if not (SHARED_DATA / "nb201" / "nb201_cifar.csv").is_file():
        pytest.skip("shared nb201 table absent")
    assert main(["datasets", "--data-dir", str(SHARED_DATA), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    for name, classes in (("cifar10", 10), ("cifar100", 100)):
        assert rows[name]["space"] == "nb201" and rows[name]["available"]
        assert rows[name]["classes"] == classes and rows[name]["samples"] == 15625
    assert rows["iris"]["space"] is None
    assert main(["datasets", "--data-dir", str(SHARED_DATA / "nowhere"), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert not rows["cifar10"]["available"]


def test_a_data_folder_that_is_a_file_is_refused_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """It was searched as a folder ("not in FILE/mnist") and a download into it was tried
    first, costing the network's timeouts; now one line naming where it came from."""
    from quarch import DataError
    from quarch.data import load_dataset

    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(DataError, match=r"^data folder '.*afile' \(--data-dir\) is a file"):
        load_dataset("mnist", data_dir=afile)

    def no_download(*args: object, **kwargs: object) -> None:
        raise AssertionError("a download was tried")

    monkeypatch.setattr("urllib.request.urlopen", no_download)
    monkeypatch.setenv("QUARCH_DATA_DIR", str(afile))
    assert main(["datasets"]) == 2
    err = capfd.readouterr().err
    assert err == f"error: data folder {str(afile)!r} ($QUARCH_DATA_DIR) is a file, not a folder\n"
