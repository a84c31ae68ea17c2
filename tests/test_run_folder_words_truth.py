"""A path that is no folder, and a file given for a run folder, are said as such, in the
same words from the API and every command that reads a run (session 38's user audit).

Before, ``quarch trials nothere`` and ``quarch trials results.csv`` both said "'...' is
not a quarch run folder (config.json or run.json missing)"."""

from __future__ import annotations

from pathlib import Path

import pytest

from quarch._errors import RunError
from quarch.cli import main
from quarch.study import Run

_EXTRA = {
    "train": ["--trial", "0"],
    "export": ["--trial", "0", "--format", "torch", "--out", "m.pt"],
}


@pytest.mark.parametrize("command", ["trials", "report", "train", "export", "resume"])
def test_a_missing_path_and_a_file_are_told_apart(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    Path("results.csv").write_text("a,b\n")
    Path("empty").mkdir()
    lines = {
        "nothere": "'nothere': no such folder; pass the run folder (a search's out, --out)",
        "results.csv": "'results.csv' is a file, not a run folder; pass the run folder (a "
        "search's out, --out)",
        "empty": "'empty' is not a quarch run folder (config.json or run.json missing)",
    }
    for path, line in lines.items():
        with pytest.raises(RunError) as e:
            Run.open(path)
        assert str(e.value) == line
        argv = ["search", "--resume", path] if command == "resume" else [command, path]
        capsys.readouterr()
        assert main([*argv, *_EXTRA.get(command, [])]) == 2
        assert capsys.readouterr().err == f"error: {line}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "results.csv"]
