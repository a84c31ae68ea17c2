"""An empty output path names nothing: refused as empty, not read as the working folder.

``Path('')`` is ``.``: ``quarch export --out ''`` (``--out "$FILE"`` with ``FILE``
unset) was refused as "export file '.' is a folder", which names a folder the user never
typed, and ``write_report(run, out_dir='')`` wrote the report's HTML and plots among the
user's files in the working folder. Truth: the one line names the option and the empty
text; nothing is written, and the refusal comes before the run is even looked at (the
run folder named here does not exist, whose own refusal would come next).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from quarch._errors import ConfigError, OutputError
from quarch._paths import check_file, check_folder, check_named
from quarch.cli import main


@pytest.mark.parametrize("blank", ["", "  "])
def test_export_with_an_empty_out_is_one_line_naming_the_option(
    blank: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["export", str(tmp_path / "no-run"), "--trial", "0", "--format", "torch"]
    code = main([*argv, "--out", blank])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    # the CLI writes its one line with runs of blanks collapsed (' ' for '  ')
    assert err.startswith("error: --out must name the file to write; got '")
    assert err.endswith("'\n") and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written, the working folder untouched


def test_export_with_a_named_out_still_reaches_the_run(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The check refuses only the empty text: a named file gets as far as the run
    folder (missing here, so that is the line), as it did before."""
    code = main(["export", str(tmp_path / "no-run"), "--trial", "0", "--format", "torch",
                 "--out", str(tmp_path / "m.pt")])  # fmt: skip
    _, err = capfd.readouterr()
    assert code == 2
    assert err.startswith(f"error: {str(tmp_path / 'no-run')!r}: no such folder")


def test_the_api_refuses_an_empty_export_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.finalize import export_trial

    monkeypatch.chdir(tmp_path)
    with pytest.raises(OutputError) as e:
        export_trial(tmp_path / "no-run", 0, "torch", "")
    assert str(e.value) == "the export file path is empty (''); name a file to write"
    assert list(tmp_path.iterdir()) == []


def test_the_api_refuses_an_empty_report_folder_instead_of_writing_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``write_report(run, out_dir='')`` wrote index.html and three plots into the
    working folder; it is refused, and nothing is written there or in the run."""
    from quarch.config import SearchConfig
    from quarch.report import write_report
    from quarch.study import run_search
    from quarch.testing.evaluators import ArithmeticEvaluator

    run = tmp_path / "run"
    cfg = SearchConfig(space="mlp", dataset="iris", trials=1, out=str(run))
    run_search(cfg, evaluator=ArithmeticEvaluator(), progress=False)
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(OutputError) as e:
        write_report(run, out_dir="")
    assert str(e.value) == (
        "the report folder path is empty (''); name a folder (the working folder is '.')"
    )
    assert list(here.iterdir()) == []
    assert sorted(p.name for p in run.iterdir()) == before


@pytest.mark.parametrize("path", ["", " ", "\t"])
def test_the_path_checks_refuse_blank_text_only(path: str, tmp_path: Path) -> None:
    """Blank text is refused by each check; ``Path('.')`` (the working folder named on
    purpose) and a real file name are not."""
    with pytest.raises(OutputError, match="path is empty"):
        check_file(path, "file")
    with pytest.raises(OutputError, match="path is empty"):
        check_folder(path, "folder")
    with pytest.raises(ConfigError) as e:
        check_named(path, "--out", "file to write")
    assert str(e.value) == f"--out must name the file to write; got {path!r}"
    assert check_folder(Path("."), "folder") == Path(".")
    assert check_file(str(tmp_path / "f.txt"), "file") == tmp_path / "f.txt"
    check_named(".", "--out", "file to write")
    check_named(None, "--out", "file to write")


@pytest.mark.parametrize(
    ("option", "what"),
    [("--out", "run folder"), ("--resume", "run folder to continue"),
     ("--config", "config file"), ("--data-dir", "data folder")],
)  # fmt: skip
def test_search_with_an_empty_path_option_is_one_line_naming_it(
    option: str, what: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``--resume ''`` was refused as "'.' is not a quarch run folder", ``--config ''``
    as "config file '.' is a folder", ``--out ''`` as "out must name the run folder"
    (no dashes), and ``--data-dir ''`` ran the search with ``data_dir=""``; each now
    names its option, before anything is written."""
    monkeypatch.chdir(tmp_path)
    code = main(["search", "--space", "mlp", "--dataset", "iris", "--trials", "1", option, ""])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err == f"error: {option} must name the {what}; got ''\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv",
    [["trials"], ["report"], ["export", "--trial", "0", "--format", "torch", "--out", "m.pt"],
     ["train", "--trial", "0", "--epochs", "1"]],
)  # fmt: skip
def test_a_blank_run_argument_is_refused_as_blank(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``quarch trials "$RUN"`` with ``RUN`` unset said "'.' is not a quarch run
    folder", naming the working folder; the line now says that RUN named nothing."""
    monkeypatch.chdir(tmp_path)
    code = main([argv[0], "", *argv[1:]])
    out, err = capfd.readouterr()
    assert (code, out) == (2, "")
    assert err == "error: Invalid value for 'RUN': must name the run folder; got ''\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "line"),
    [("--storage", "storage must name a database URL, 'sqlite' or 'journal' (or be left out "
                   "for the run folder's own); got ''"),
     ("--study-name", "study_name must name the study; got ''")],
)  # fmt: skip
def test_a_blank_storage_or_study_name_is_refused(
    option: str, line: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """``--storage "$DB"`` with ``DB`` unset ran on the run folder's own storage (a
    search meant to share a database with other machines shared nothing), and
    ``--study-name ''`` named the study ''; both are refused before anything is
    written, from the command line and from a config alike."""
    from quarch.config import SearchConfig

    monkeypatch.chdir(tmp_path)
    code = main(["search", "--space", "mlp", "--dataset", "iris", "--trials", "1", option, ""])
    out, err = capfd.readouterr()
    assert (code, out, err) == (2, "", f"error: {line}\n")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ConfigError) as e:
        kw: dict[str, Any] = {option[2:].replace("-", "_"): " "}
        SearchConfig(space="mlp", **kw)
    assert str(e.value) == line.replace("''", "' '")
