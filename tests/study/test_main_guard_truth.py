"""Local workers from a script without ``if __name__ == "__main__":``
(``quarch.study._parallel.check_main_guard``).

Workers are spawned (``_parallel``'s docstring): each imports the main script again,
so a search called at the script's top level starts again in every worker. Before,
each worker ran the search again (with ``overwrite=True`` it replaced the run being
made) and then failed with Python's multiprocessing ``RuntimeError`` ("An attempt
has been made to start a new process before the current process has finished its
bootstrapping phase"), while the script itself went on and finished with exit 0. The
truth: Python's multiprocessing docs ("Safe importing of main module"): the call
belongs under the guard, and only there is it safe.

Each script here is a real file run by a fresh interpreter (``sys.executable``), with a
registered toy space that scores an architecture at once.
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from quarch import ConfigError

_TOY = """
from quarch.config import SearchConfig
from quarch.space import Choice, Space
from quarch.spaces import SpaceSpec, register_space
from quarch.study import run_search


class Ev:
    fingerprint = "toy"

    def __init__(self, space):
        self.space = space

    def evaluate(self, arch, *, seed):
        return {"val_error": 1 / arch["depth"], "params": float(arch["depth"])}


class Spec(SpaceSpec):
    name = "guard-toy"
    description = "toy"
    needs_dataset = False

    def space(self, **options):
        return Space([Choice("depth", [1, 2, 3, 4])], name="guard-toy")

    def make_evaluator(self, space, config, *, weights_dir=None):
        return Ev(space)


register_space(Spec(), replace=True)
CONFIG = SearchConfig(space="guard-toy", trials=2, workers=2, out="run")
"""


def _script(tmp_path: Path, body: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    script = tmp_path / "search.py"
    script.write_text(_TOY + body)
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    return done, script


def _line_of(script: Path, text: str) -> int:
    [n] = [i for i, line in enumerate(script.read_text().splitlines(), 1) if text in line]
    return n


def test_an_unguarded_search_with_workers_is_refused_in_one_line(tmp_path: Path) -> None:
    """The call at the script's top level: one line naming the script's line and the
    guard, exit 1, before anything is written (no run folder), no worker started (no
    multiprocessing ``RuntimeError``), and the script's own next line never reached."""
    done, script = _script(
        tmp_path, "result = run_search(CONFIG, progress=False)\nprint('finished')\n"
    )
    assert done.returncode == 1, done.stderr
    line = _line_of(script, "result = run_search(")
    assert done.stderr.splitlines()[-1] == (
        "quarch._errors.ConfigError: workers=2 starts worker processes that import the "
        "main script again (Python's spawn start method), and a search called at its top "
        "level would start again in each; put the call under "
        f'`if __name__ == "__main__":` ({script}:{line})'
    )
    assert "RuntimeError" not in done.stderr and done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.py"]


def test_a_guarded_search_with_workers_runs(tmp_path: Path) -> None:
    """The same search under the guard (in a function, as scripts write it) runs its
    two workers to the budget."""
    done, _ = _script(
        tmp_path,
        "def main():\n"
        "    result = run_search(CONFIG, progress=False)\n"
        "    print(result.done, result.stopped)\n\n\n"
        "if __name__ == '__main__':\n"
        "    main()\n",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2", "budget"]


_PROBE = """
import json
import sys

from quarch.study._parallel import unguarded_call

found = {}


def probe():
    return unguarded_call()


def inner():
    return probe()


found["top"] = probe()
found["via_function"] = inner()
if __name__ == "__main__":
    found["guarded"] = probe()
    found["guarded_comprehension"] = [probe() for _ in range(1)][0]
if "__main__" == __name__ and len(sys.argv) > 0:
    found["reversed_and"] = probe()
if __name__ != "__main__":
    pass
else:
    found["else_of_not_main"] = probe()
if __name__ == "__main__":
    found["guarded_second_line"] = (
        probe()
    )
if len(sys.argv) > 0:
    found["other_if"] = probe()
if __name__:
    found["name_only"] = probe()
if sys.argv[0] != "__main__":
    found["text_only"] = probe()
exec(compile("found['exec'] = probe()", "<generated>", "exec"))
"""


def _run_as_main(
    script: Path, monkeypatch: pytest.MonkeyPatch, *, file: bool = True
) -> dict[str, Any]:
    """Run ``script`` in this process as the main module (``python script.py`` does the
    same: its code, compiled with its path, run in ``sys.modules["__main__"]``'s
    namespace); return its ``found``."""
    module = types.ModuleType("__main__")
    if file:
        module.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", module)
    exec(compile(script.read_text(), str(script), "exec"), vars(module))
    found: dict[str, Any] = vars(module)["found"]
    return found


def test_which_top_level_statements_count_as_guarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The statement of the main script that led to the call is what a spawned worker
    would run again: a call through a function from an unguarded line is unguarded (at
    that line), a call in the guard's body (or the ``else`` of ``!=``) is not, one under
    any other ``if`` is; code whose source cannot be read (``exec`` of a string) cannot
    be told, and is not refused."""
    script = tmp_path / "probe.py"
    script.write_text(_PROBE)
    found = _run_as_main(script, monkeypatch)

    def at(text: str) -> str:
        return f"{script}:{_line_of(script, text)}"

    assert found == {
        "top": at('found["top"]'),
        "via_function": at('found["via_function"]'),
        "guarded": None,
        "guarded_comprehension": None,
        "reversed_and": None,
        "else_of_not_main": None,
        "guarded_second_line": None,
        "other_if": at('found["other_if"]'),
        "name_only": at('found["name_only"]'),
        "text_only": at('found["text_only"]'),
        "exec": None,
    }


def _call_as_main(
    script: Path, monkeypatch: pytest.MonkeyPatch, code: str, *, file: bool = True
) -> list[str | None]:
    """Run ``code`` compiled as ``script``'s in a main module (``script`` itself may be
    gone or changed since); return what its calls of ``unguarded_call`` said."""
    from quarch.study._parallel import unguarded_call

    module = types.ModuleType("__main__")
    if file:
        module.__file__ = str(script)
    said: list[str | None] = []
    vars(module).update(said=said, unguarded_call=unguarded_call)
    monkeypatch.setitem(sys.modules, "__main__", module)
    exec(compile(code, str(script), "exec"), vars(module))
    return said


def test_what_cannot_be_told_is_not_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No main script (``python -c``, a REPL, a notebook: ``__main__`` has no file), a
    script whose source is gone or no longer Python, a call off the main thread: the
    search is not refused (a spawned worker that does import it is still refused, see
    the last test)."""
    from quarch.study._parallel import unguarded_call

    script = tmp_path / "probe.py"
    call = "said.append(unguarded_call())\n"
    script.write_text(call)
    assert _call_as_main(script, monkeypatch, call) == [f"{script}:1"]
    assert _call_as_main(script, monkeypatch, call, file=False) == [None]
    threaded = (
        "import threading\n"
        "t = threading.Thread(target=lambda: said.append(unguarded_call()))\n"
        "t.start()\n"
        "t.join()\n"
    )
    script.write_text(threaded)
    assert _call_as_main(script, monkeypatch, threaded) == [None]
    script.write_text("this is not Python (\n")
    assert _call_as_main(script, monkeypatch, call) == [None]
    script.unlink()
    assert _call_as_main(script, monkeypatch, call) == [None]
    monkeypatch.delitem(sys.modules, "__main__")
    assert unguarded_call() is None


def test_a_worker_importing_its_main_script_refuses_the_search(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In a spawned process still importing its main script (multiprocessing's
    ``_inheriting``, what its own ``RuntimeError`` checks), the search is refused
    whatever the script's source says (the case the parent could not tell)."""
    from quarch.study._parallel import check_main_guard

    check_main_guard(2)  # pytest's own main calls it under its guard
    monkeypatch.setattr(multiprocessing.current_process(), "_inheriting", True, raising=False)
    with pytest.raises(ConfigError) as info:
        check_main_guard(3)
    assert str(info.value) == _GUARD.format(n=3, where="this is a worker process importing "
                                            "the main script")  # fmt: skip


_GUARD = (
    "workers={n} starts worker processes that import the main script again (Python's "
    "spawn start method), and a search called at its top level would start again in "
    'each; put the call under `if __name__ == "__main__":` ({where})'
)


def test_check_main_guard_refuses_a_main_scripts_unguarded_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check the search makes, at a main script's top level: refused with the line;
    under the guard: nothing to say."""
    from quarch.study._parallel import check_main_guard

    script = tmp_path / "search.py"
    code = "check_main_guard(4)\nif __name__ == '__main__':\n    check_main_guard(4)\n"
    script.write_text(code)
    module = types.ModuleType("__main__")
    module.__file__ = str(script)
    vars(module)["check_main_guard"] = check_main_guard
    monkeypatch.setitem(sys.modules, "__main__", module)
    with pytest.raises(ConfigError) as info:
        exec(compile(code, str(script), "exec"), vars(module))
    assert str(info.value) == _GUARD.format(n=4, where=f"{script}:1")
    guarded = code.split("\n", 1)[1]
    exec(compile("\n" + guarded, str(script), "exec"), vars(module))  # lines 2-3: no error
