"""A path given for output that cannot be written costs one line, before the work.

``--out`` of ``search``, ``benchmark``, ``report`` and ``export`` named a file where a
folder is meant, a folder under a file, or a place the file system refuses (``/proc``):
each printed ``internal error (FileExistsError)`` with exit status 1, and ``benchmark``
did so after every run had finished. Each case here runs the command line as the
console script does and asserts exit status 2, one ``error:`` line naming the path,
nothing left behind, and, where the refusal can be known beforehand, no work spent
(the step that would do it is replaced by one that fails the test).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from quarch._errors import OutputError
from quarch._paths import check_file, check_folder, file_problem, folder_problem, writing
from quarch.cli import main
from quarch.study import Run

from ._scope import per_module


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("work was spent before the output path was checked")


@pytest.fixture(scope=per_module)
def run(tiny_hqnn_run: Path) -> Path:
    return tiny_hqnn_run


def _argv(command: str, run: Path, out: str) -> list[str]:
    trial = str(Run.open(run).result().complete[0].number)
    return {
        "search": ["search", "--space", "mlp", "--trials", "1", "--out", out],
        "benchmark": ["benchmark", "--task", "synthetic-qubo", "--seeds", "1", "--trials", "3",
                      "--quiet", "--out", out],
        "report": ["report", str(run), "--out", out],
        "export": ["export", str(run), "--trial", trial, "--format", "qasm", "--out", out],
    }[command]  # fmt: skip


#: the step each command must not reach when its output path is refused beforehand
WORK = {
    "search": "quarch.study._loop.make_evaluator",
    "benchmark": "quarch.benchmark._harness._run_job",
    "report": "quarch.report._write",
    "export": "quarch.finalize._open",
}
WHAT = {
    "search": "run folder",
    "benchmark": "benchmark folder",
    "report": "report folder",
    "export": "export file",
}


def _cases(tmp: Path) -> dict[str, tuple[str, str]]:
    """problem -> (the path to give, the line's start for a folder command)."""
    (tmp / "afile").write_text("x")
    return {
        "a-file": (str(tmp / "afile"), "is a file, not a folder"),
        "under-a-file": (str(tmp / "afile" / "sub"), f"{str(tmp / 'afile')!r} is a file"),
    }


@pytest.mark.parametrize("command", list(WORK))
@pytest.mark.parametrize("problem", ["a-file", "under-a-file", "not-writable"])
def test_a_path_that_cannot_be_written_is_refused_before_the_work(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    run: Path,
    command: str,
    problem: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    cases = _cases(tmp_path)
    if problem == "not-writable":  # root may write anywhere: the check is what is tested
        locked = tmp_path / "locked"
        locked.mkdir()
        real = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: False if Path(p) == locked else real(p, mode)
        )
        out, why = str(locked / "x"), f"{str(locked)!r} is not writable"
    else:
        out, why = cases[problem]
    if command == "export" and problem == "a-file":
        out, why = str(tmp_path), "is a folder; name a file to write"
    argv = _argv(command, run, out)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    monkeypatch.setattr(WORK[command], _never)
    code = main(argv)
    stdout, err = capfd.readouterr()
    assert code == 2, err
    assert stdout == "" and err.count("\n") == 1 and err.startswith("error: "), err
    assert WHAT[command] in err and why in err, err
    assert "Traceback" not in err and "internal error" not in err
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["afile", *(["locked"] if problem == "not-writable" else [])]
    )


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux's /proc")
@pytest.mark.parametrize("command", list(WORK))
def test_a_file_system_that_refuses_the_write_is_one_line(
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    run: Path,
    command: str,
) -> None:
    """``/proc`` looks writable to root (``os.access``) and refuses ``mkdir``: only the
    write can tell, and it says so in one line (the run folder a search began is gone)."""
    monkeypatch.chdir(tmp_path)
    target = f"/proc/quarch-test-{os.getpid()}"
    out = target + ("/m.qasm" if command == "export" else "")
    code = main(_argv(command, run, out))
    _, err = capfd.readouterr()
    if code == 0:  # pragma: no cover - a /proc that takes folders
        pytest.skip("this /proc accepted a folder")
    assert code == 2, err
    assert err.startswith(f"error: cannot write the {WHAT[command]} {out!r}: "), err
    assert err.count("\n") == 1 and "internal error" not in err, err
    assert not os.path.exists(target)
    assert list(tmp_path.iterdir()) == []


def test_folder_and_file_problems(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "d").mkdir()
    assert folder_problem(tmp_path / "d") is None
    assert folder_problem(tmp_path / "new" / "deeper") is None  # made with its parents
    assert folder_problem(tmp_path / "f", "run folder") == (
        f"run folder {str(tmp_path / 'f')!r} is a file, not a folder"
    )
    assert folder_problem(tmp_path / "f" / "a" / "b") == (
        f"cannot make the folder {str(tmp_path / 'f' / 'a' / 'b')!r}: "
        f"{str(tmp_path / 'f')!r} is a file"
    )
    assert file_problem(tmp_path / "f") is None  # replaced
    assert file_problem(tmp_path / "d" / "new.txt") is None
    assert file_problem(tmp_path / "new" / "x.txt") is None
    assert file_problem(tmp_path / "d", "export file") == (
        f"export file {str(tmp_path / 'd')!r} is a folder; name a file to write"
    )
    assert file_problem(tmp_path / "f" / "x.txt") == (
        f"cannot write the file {str(tmp_path / 'f' / 'x.txt')!r}: "
        f"folder {str(tmp_path / 'f')!r} is a file, not a folder"
    )
    real = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: False if Path(p).name == "f" else real(p, mode)
    )
    assert file_problem(tmp_path / "f") == (
        f"cannot write the file {str(tmp_path / 'f')!r}: it is not writable"
    )
    with pytest.raises(OutputError, match="is a folder"):
        check_file(tmp_path / "d")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        check_folder(tmp_path / "f")
    assert check_folder(str(tmp_path / "d")) == tmp_path / "d"
    assert check_file(str(tmp_path / "d" / "x")) == tmp_path / "d" / "x"


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
        (PermissionError("denied without an errno"), "denied without an errno"),
    ],
)
def test_writing_names_the_path_and_the_reason(error: OSError, reason: str) -> None:
    with pytest.raises(OutputError) as e, writing("/x/y", "report folder"):
        raise error
    assert str(e.value) == f"cannot write the report folder '/x/y': {reason}"
    assert e.value.__cause__ is None and e.value.__suppress_context__
    with pytest.raises(ValueError, match="not an OSError"), writing("/x/y"):
        raise ValueError("not an OSError")


@pytest.mark.parametrize(
    "name",
    ["/x/y", "/x/y.tmp", "/x/y/plots/a.png", "/x", "/", "/x/../x/y.data"],
)
def test_writing_turns_errors_about_the_output_into_one_line(name: str) -> None:
    """The file itself, a sidecar beside it, a file below it, a folder above it."""
    match = "cannot write the export file '/x/y'"
    with pytest.raises(OutputError, match=match), writing("/x/y", "export file"):
        raise OSError(errno.EACCES, "Permission denied", name)


@pytest.mark.parametrize("name", ["/elsewhere/model.pt", "/xy", "/w/y"])
def test_writing_passes_errors_about_other_files(name: str) -> None:
    """Reading a model or a data file while converting is not the user's output: the
    error passes as it is (a bug report, not a line blaming ``--out``)."""
    with pytest.raises(FileNotFoundError) as e, writing("/x/y", "export file"):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", name)
    assert e.value.filename == name
    # a rename into the output is about it
    with pytest.raises(OutputError, match="export file"), writing("/x/y", "export file"):
        raise OSError(errno.EXDEV, "Invalid cross-device link", name, None, "/x/y")


def test_train_refuses_a_result_file_it_cannot_write_before_training(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, run: Path
) -> None:
    """``quarch train`` saves ``RUN/train/trial_<N>.json`` after training every seed;
    a ``train`` that is a file was found only then."""
    blocker = run / "train"
    assert not blocker.exists()
    blocker.write_text("not a folder")
    try:
        monkeypatch.setattr("quarch.study._run.Run.evaluator", _never)
        trial = str(Run.open(run).result().complete[0].number)
        code = main(["train", str(run), "--trial", trial, "--seeds", "1", "--quiet"])
        _, err = capfd.readouterr()
    finally:
        blocker.unlink()
    assert code == 2, err
    assert err == (
        f"error: cannot write the result file '{blocker}/trial_{trial}.json': "
        f"folder '{blocker}' is a file, not a folder\n"
    )
