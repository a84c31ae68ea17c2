"""Local workers (``workers > 1``) from a main module that a spawned worker cannot
import: a Jupyter kernel, ``python -c``, ``python -`` (``quarch.study._parallel``).

A spawned worker imports the main module again from its file. A kernel and
``python -c`` have none: the workers start, but nothing the session defined or
registered is theirs. Before, a space registered in the session (or in a module the
session imported, or one ``quarch search`` loaded from ``QUARCH_PLUGINS``) was unknown
to each worker, which stopped without a word, and the main process ran every trial
alone; an evaluator class of the session's killed each worker with a pickling
traceback on the kernel's terminal (not in the notebook); ``python -`` gave every worker
multiprocessing's ``FileNotFoundError`` for ``<stdin>``. Now what a worker cannot load
is refused in one line before anything is written, and the modules that registered
the run's space and strategy are imported by each worker.

The truth: Python's multiprocessing docs (spawn "starts a fresh Python interpreter";
"functionality within this package requires that the __main__ module be importable by
the children"), and the process ids that evaluated trials, recorded by the evaluator.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from quarch import ConfigError

#: A toy space whose evaluator records the process that evaluated each trial, and
#: holds its first trial until two processes have started one (at most 45 s): a
#: second worker that never evaluates shows as one process id, however slow it starts.
_SPACE = """
import os, time
from pathlib import Path
from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec, register_space

PIDS = Path(os.environ["PIDS_FILE"])
WAITED = []


class Ev:
    fingerprint = "nb-toy"

    def evaluate(self, arch, *, seed):
        with PIDS.open("a") as f:
            f.write(f"{os.getpid()}\\n")
        end = time.monotonic() + 45
        while not WAITED and len(set(PIDS.read_text().split())) < 2 and time.monotonic() < end:
            time.sleep(0.05)
        WAITED.append(1)  # a process waits in its first trial only
        return {"val_error": 1 / arch["depth"], "params": float(arch["depth"])}


class Spec(SpaceSpec):
    name = "nb-toy"
    description = "toy"
    needs_dataset = False

    def space(self, **options):
        return Space([Choice("depth", [1, 2, 3, 4, 5, 6])], name="nb-toy")

    def make_evaluator(self, space, config, *, weights_dir=None):
        return Ev()


register_space(Spec(), replace=True)
"""

_SEARCH = """
from quarch.config import SearchConfig
from quarch.study import run_search
r = run_search(SearchConfig(space="nb-toy", trials=6, workers=2, out="run"), progress=False)
print("done", r.done)
"""


def _run(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIDS_FILE": str(cwd / "pids.txt"), "PYTHONPATH": _pythonpath(cwd)}
    if env.get("MUTANT_UNDER_TEST") == "stats":
        # mutmut's stats run: its trampolines in a child outside the mutants folder
        # fail to find the code they record; under a mutant (or none) they do work
        del env["MUTANT_UNDER_TEST"]
    return subprocess.run(
        args, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=200, env=env
    )


def _pythonpath(cwd: Path) -> str:
    """This test's quarch first (a copy of the old code is tested this way), then the
    folder with the user's module."""
    import quarch

    src = str(Path(quarch.__file__).parents[1])
    return os.pathsep.join([src, str(cwd), os.environ.get("PYTHONPATH", "")])


def _pids(cwd: Path) -> set[str]:
    return set((cwd / "pids.txt").read_text().split())


def test_a_space_in_a_module_the_session_imported_runs_on_every_worker(tmp_path: Path) -> None:
    """``python -c`` (a kernel to multiprocessing: no main file) that imports the
    module registering the space: both workers evaluate trials."""
    (tmp_path / "nb_toy.py").write_text(_SPACE)
    done = _run([sys.executable, "-c", "import nb_toy\n" + _SEARCH], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "done 6" in done.stdout
    assert len(_pids(tmp_path)) == 2
    assert "Traceback" not in done.stderr


def test_a_space_from_quarch_plugins_runs_on_every_worker_of_the_command(
    tmp_path: Path,
) -> None:
    """``QUARCH_PLUGINS=module quarch search --workers 2`` (README: the command loads
    a space of your own this way): both workers evaluate trials."""
    (tmp_path / "nb_toy.py").write_text(_SPACE)
    env_args = [sys.executable, "-c", "import sys; from quarch.cli import main; sys.exit(main())"]
    done = subprocess.run(
        [*env_args, "search", "--space", "nb-toy", "--trials", "6", "--workers", "2",
         "--out", "run", "--quiet"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PIDS_FILE": str(tmp_path / "pids.txt"),
             "PYTHONPATH": _pythonpath(tmp_path), "QUARCH_PLUGINS": "nb_toy"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(_pids(tmp_path)) == 2


def test_a_space_defined_in_the_session_is_refused_before_anything_is_written(
    tmp_path: Path,
) -> None:
    """The space spec defined in ``python -c`` itself (a kernel's cell): one line naming
    it and what to do; no run folder. (``check_main_guard`` with the search's config,
    as the loop calls it.)"""
    code = _SPACE + (
        "from quarch.config import SearchConfig\n"
        "from quarch.study._parallel import check_main_guard\n"
        "from quarch import ConfigError\n"
        "cfg = SearchConfig(space='nb-toy', trials=6, workers=2, out='run')\n"
        "for kw in (dict(config=cfg), dict(evaluator=Ev())):\n"
        "    try:\n"
        "        check_main_guard(2, **kw)\n"
        "    except ConfigError as e:\n"
        "        print('refused:', e)\n"
        "    else:\n"
        "        print('taken')\n"
    )
    done = _run([sys.executable, "-c", code], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line, name in zip(lines, ["Spec", "Ev"], strict=True):
        assert line.startswith(
            f"refused: workers=2 starts worker processes, and they cannot see {name}:"
        )
        assert "notebook" in line and "module" in line and "workers=1" in line
    assert not (tmp_path / "run").exists()


def test_the_same_objects_from_a_module_or_a_script_file_are_taken(tmp_path: Path) -> None:
    """From a module the session imported, and from a main script with a file (the
    worker imports the script again), the same spec and evaluator are sendable."""
    (tmp_path / "nb_toy.py").write_text(_SPACE)
    check = (
        "from quarch.config import SearchConfig\n"
        "from quarch.study._parallel import check_main_guard\n"
        "if __name__ == '__main__':\n"
        "    cfg = SearchConfig(space='nb-toy', trials=6, workers=2, out='run')\n"
        "    check_main_guard(2, config=cfg, evaluator=Ev())\n"
        "    print('taken')\n"
    )
    done = _run([sys.executable, "-c", "from nb_toy import Ev\n" + check], tmp_path)
    assert done.stdout.strip() == "taken", done.stderr
    script = tmp_path / "search.py"
    script.write_text(_SPACE + check)
    done = _run([sys.executable, str(script)], tmp_path)
    assert done.stdout.strip() == "taken", done.stderr


def test_an_evaluator_that_cannot_be_pickled_is_refused_in_one_line() -> None:
    """Before, ``Process.start`` raised pickle's traceback after the run folder was
    written."""
    from quarch.study._parallel import check_main_guard

    class Local:  # a class inside a function: pickle cannot name it
        fingerprint = "x"

    with pytest.raises(ConfigError) as info:
        check_main_guard(3, evaluator=Local())  # type: ignore[arg-type]
    msg = str(info.value)
    assert msg.startswith("workers=3 sends the evaluator to each worker process, and it "
                          "cannot be pickled (")  # fmt: skip
    assert msg.endswith("make it picklable, or use workers=1") and "\n" not in msg


def test_a_script_read_from_stdin_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    """``python - < script.py``: its workers cannot read ``<stdin>`` again. Before,
    each printed multiprocessing's ``FileNotFoundError`` traceback, and the run ended
    with exit 0, every trial run by the main process."""
    done = _run([sys.executable, "-"], tmp_path, stdin=_SPACE + _SEARCH)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        "quarch._errors.ConfigError: workers=2 starts worker processes that import the "
        "main script again, and its file '<stdin>' does not exist (a script read from "
        "standard input, `python -`, has none); save the script in a file and run that, "
        "or use workers=1"
    )
    assert "FileNotFoundError" not in done.stderr
    assert not (tmp_path / "run").exists() and not (tmp_path / "pids.txt").exists()


_KERNEL = all(importlib.util.find_spec(m) for m in ("nbclient", "nbformat", "ipykernel"))


@pytest.mark.skipif(not _KERNEL, reason="needs nbclient, nbformat and ipykernel")
def test_in_a_real_kernel_a_space_from_a_module_runs_on_every_worker(tmp_path: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    (tmp_path / "nb_toy.py").write_text(_SPACE)
    cells = [
        f"import os, sys; os.environ['PIDS_FILE'] = {str(tmp_path / 'pids.txt')!r}\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\nimport nb_toy",
        _SEARCH,
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=240, resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[1].outputs[-1].text.strip() == "done 6"
    assert len(_pids(tmp_path)) == 2
    meta = json.loads((tmp_path / "run" / "run.json").read_text())
    assert meta["storage"] == "journal"  # several local workers share the journal file
