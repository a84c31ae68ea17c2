"""The software a run records (``run.json``'s ``software``) and what a resume with other
software says, against each library's own version attribute, ``pyproject.toml``'s
requirements, and files changed on disk."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import shutil
import sys
import tomllib
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy
import optuna
import pytest
import torch

import quarch
from quarch import _software
from quarch._warnings import QuarchWarning
from quarch.config import SearchConfig
from quarch.report import _software_rows
from quarch.study import run_search

ROOT = Path(__file__).resolve().parents[1]
#: Requirements that show or parse, and cannot change a number.
_PRESENTATION = {"typer", "rich"}


def _name(requirement: str) -> str:
    """A requirement's distribution name (``psycopg[binary]>=3`` is ``psycopg``)."""
    for i, c in enumerate(requirement):
        if not (c.isalnum() or c in "-_."):
            return requirement[:i].lower()
    return requirement.lower()


def test_the_recorded_packages_are_the_requirements_that_change_numbers() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = {_name(r) for r in project["dependencies"] + extras["qiskit"] + extras["annealing"]}
    assert set(_software.RESULT_PACKAGES) == wanted - _PRESENTATION
    assert len(_software.RESULT_PACKAGES) == len(set(_software.RESULT_PACKAGES))


def test_the_versions_are_each_librarys_own() -> None:
    got = _software.software()
    assert got["python"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert got["quarch"] == quarch.__version__
    assert got["torch"] == torch.__version__ and got["numpy"] == numpy.__version__
    assert got["optuna"] == optuna.__version__
    import qiskit
    import sklearn

    assert got["qiskit"] == qiskit.__version__ and got["scikit-learn"] == sklearn.__version__
    assert list(got)[3:] == list(_software.RESULT_PACKAGES)
    assert got["quarch_source"] == _software.source_hash()
    got["torch"] = "changed by a caller"
    assert _software.software()["torch"] == torch.__version__  # a copy each call


def test_an_absent_package_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "dimod":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    monkeypatch.setattr(_software, "_software", _software._software.__wrapped__)
    got = _software.software()
    assert got["dimod"] is None and got["dwave-samplers"] == real("dwave-samplers")


def _tree(root: Path) -> Path:
    (root / "pkg" / "sub").mkdir(parents=True)
    (root / "pkg" / "a.py").write_text("A = 1\n")
    (root / "pkg" / "sub" / "b.py").write_text("B = 2\n")
    (root / "pkg" / "sub" / "table.json").write_text("{}\n")
    return root / "pkg"


def test_the_source_hash_follows_the_files_and_only_them(tmp_path: Path) -> None:
    pkg = _tree(tmp_path / "one")
    first = _software.source_hash(pkg)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 16
    copy = shutil.copytree(pkg, tmp_path / "two" / "pkg")
    assert _software.source_hash(copy) == first  # where it lies does not count
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0compiled")
    (copy / "sub" / "b.cpython-311.pyc").write_bytes(b"\0compiled")
    assert _software.source_hash(copy) == first  # bytecode does not count
    (copy / "sub" / "table.json").write_text("{ }\n")
    assert _software.source_hash(copy) != first  # a data file counts
    (copy / "sub" / "table.json").write_text("{}\n")
    assert _software.source_hash(copy) == first
    (copy / "a.py").write_text("A = 2\n")
    changed = _software.source_hash(copy)
    assert changed != first
    (copy / "a.py").write_text("A = 1\n")
    (copy / "a.py").rename(copy / "c.py")  # the same bytes under another name
    assert _software.source_hash(copy) not in (first, changed)
    (copy / "c.py").rename(copy / "a.py")
    (copy / "sub" / "b.py").write_text("B = 2\n# a comment\n")
    assert _software.source_hash(copy) not in (first, changed)


def test_a_files_name_and_bytes_are_not_run_together(tmp_path: Path) -> None:
    """File ``a`` holding ``bc`` and file ``ab`` holding ``c`` are other packages."""
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a").write_text("bc")
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "ab").write_text("c")
    assert _software.source_hash(tmp_path / "one") != _software.source_hash(tmp_path / "two")


def test_quarchs_hash_is_its_package_folders() -> None:
    assert _software.source_hash() == _software.source_hash(Path(quarch.__file__).parent)


class _Evaluator:
    fingerprint = "software-truth"

    def evaluate(self, arch: Mapping[str, Any], *, seed: int) -> dict[str, float]:
        return {"val_error": 1.0 / (1 + int(arch["n_layers"])), "params": 1.0}


def _search(out: Path, trials: int, resume: bool = False) -> None:
    cfg = SearchConfig(space="mlp", strategy="random", trials=trials, seed=3, out=str(out))
    run_search(cfg, progress=False, evaluator=_Evaluator(), resume=resume)


def _upgraded(monkeypatch: pytest.MonkeyPatch, **versions: str) -> None:
    """This process now reports ``versions`` (``numpy="8.8.8"``) for those packages, as
    after an upgrade (the rest as it was: quarch's files are not hashed again)."""
    now = tuple((k, versions.get(k, v)) for k, v in _software._software())
    monkeypatch.setattr(_software, "_software", lambda: now)


def _meta(out: Path) -> dict[str, Any]:
    meta: dict[str, Any] = json.loads((out / "run.json").read_text())
    return meta


def test_a_resume_with_other_software_is_recorded_and_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    _search(out, 2)
    start = _meta(out)["software"]
    assert start == _software.software() and start["torch"] == torch.__version__
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuarchWarning)  # the same software: nothing said
        _search(out, 3, resume=True)
    assert "software_changes" not in _meta(out) and _meta(out)["software"] == start

    _upgraded(monkeypatch, torch="9.9.9", numpy="8.8.8")
    with pytest.warns(QuarchWarning) as said:
        _search(out, 4, resume=True)
    lines = [str(w.message) for w in said if "other software" in str(w.message)]
    assert lines == [
        f"resuming {str(out)!r} with other software than it started with (numpy "
        f"{numpy.__version__} -> 8.8.8; torch {torch.__version__} -> 9.9.9): its trials from "
        "before and after may not compare (run.json's software_changes records it)"
    ]
    meta = _meta(out)
    assert meta["software"] == start  # the start's, not the resume's
    (change,) = meta["software_changes"]
    assert change["changed"] == {
        "numpy": [numpy.__version__, "8.8.8"],
        "torch": [torch.__version__, "9.9.9"],
    }
    resumed_at = dt.datetime.fromisoformat(change["resumed"])
    assert resumed_at.utcoffset() == dt.timedelta(0)  # UTC, as "created"
    assert dt.datetime.fromisoformat(meta["created"]) <= resumed_at
    assert _software_rows(meta)[-1] == [
        f"resumed {change['resumed']} with",
        f"numpy {numpy.__version__} -> 8.8.8; torch {torch.__version__} -> 9.9.9",
    ]

    monkeypatch.undo()  # back to the software it started with: nothing more to record
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuarchWarning)
        _search(out, 5, resume=True)
    assert _meta(out)["software_changes"] == [change] and _meta(out)["software"] == start
    assert (
        len(optuna.load_study(study_name="quarch", storage=f"sqlite:///{out / 'study.db'}").trials)
        == 5
    )


def test_a_run_made_before_software_was_recorded_resumes_without_a_word(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    _search(out, 2)
    meta = _meta(out)
    del meta["software"]
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    _upgraded(monkeypatch, torch="9.9.9")
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuarchWarning)
        _search(out, 3, resume=True)
    assert "software" not in _meta(out) and "software_changes" not in _meta(out)


def test_a_package_the_start_did_not_record_counts_as_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run started by a quarch that recorded fewer packages (or by one without dimod
    installed, recorded as ``None``), resumed where it is installed."""
    out = tmp_path / "run"
    _search(out, 2)
    meta = _meta(out)
    dimod = meta["software"].pop("dimod")
    assert dimod == importlib.metadata.version("dimod")
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    with pytest.warns(QuarchWarning, match=f"dimod None -> {dimod}"):
        _search(out, 3, resume=True)
    (change,) = _meta(out)["software_changes"]
    assert change["changed"] == {"dimod": [None, dimod]}
    assert _software.changed({"a": "1", "b": "2"}, {"a": "1"}) == {"b": ["2", None]}
