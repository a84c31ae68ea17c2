"""How ``run_benchmark(workers=N)`` starts its worker processes, and the refusal of a
call at a script's top level where they import the script again (session 36).

The harness forked its workers wherever the platform could fork, macOS included,
where Python stopped forking by default in 3.8 (its system libraries may run threads a
forked child lacks), and spawned them on Windows. There, a script that called the
benchmark at its top level ran it again in every worker; each died with
multiprocessing's bootstrapping ``RuntimeError`` and the pool started another in its
place, without end (84 workers and 83 tracebacks in 120 s, forced to spawn on Linux).
It now takes Python's start method (the default, or the program's
``set_start_method``) and refuses such a call in one line before the task is built, as
``run_search`` does. Each case runs a real script in a fresh interpreter.
"""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from pathlib import Path

import pytest

from quarch.benchmark import run_benchmark

_CALL = (
    'r = run_benchmark(task="synthetic-qubo", strategies=["random", "local"], seeds=2, '
    'trials=3, workers=2, out="b", progress=False)'
)
_ROWS = 'print(json.dumps(sorted([x["strategy"], x["seed"], x["score"]] for x in r.rows)))'


def _script(folder: Path, method: str, guarded: bool) -> Path:
    """A user's script: the start method set, then the benchmark called at its top level
    or under ``if __name__ == "__main__":``. It prints a line each time its body runs."""
    body = [
        "import json, multiprocessing, os",
        "from quarch.benchmark import run_benchmark",
        # one write(2) of a short line is atomic on a pipe: print's pieces of two workers
        # starting at once once came out interleaved (" SpawnPoolWorker-1")
        "os.write(1, f'body {multiprocessing.current_process().name}\\n'.encode())",
    ]
    main = [f"multiprocessing.set_start_method({method!r})", _CALL, _ROWS]
    if guarded:
        body += ['if __name__ == "__main__":', *("    " + line for line in main)]
    else:
        body += main
    path = folder / "bench_it.py"
    path.write_text("\n".join(body) + "\n")
    return path


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, path.name], cwd=path.parent, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_top_level_call_is_refused_where_workers_import_the_script(
    method: str, tmp_path: Path
) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {method} here")
    path = _script(tmp_path, method, guarded=False)
    done = _run(path)
    line = 1 + path.read_text().splitlines().index(_CALL)  # the call's own line
    assert done.returncode == 1
    assert done.stdout == "body MainProcess\n"  # no worker ran the script
    assert done.stderr.splitlines()[-1] == (
        f"quarch._errors.ConfigError: workers=2 starts worker processes that import the "
        f"main script again (Python's {method} start method), and a benchmark called at "
        f"its top level would start again in each; put the call under `if __name__ == "
        f'"__main__":` ({path}:{line})'
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench_it.py"]  # nothing written


def test_spawned_workers_give_the_rows_of_a_run_in_one_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the guard the spawned workers run (each re-imports the script: one body line
    per worker), and each (strategy, seed) scores as it does run here in one process."""
    done = _run(_script(tmp_path, "spawn", guarded=True))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "body MainProcess"
    assert sorted(lines[1:-1]) == ["body SpawnPoolWorker-1", "body SpawnPoolWorker-2"]
    monkeypatch.chdir(tmp_path)
    here = run_benchmark(task="synthetic-qubo", strategies=["random", "local"], seeds=2,
                         trials=3, workers=1, out="here", progress=False)  # fmt: skip
    truth = sorted([x["strategy"], x["seed"], x["score"]] for x in here.rows)
    assert json.loads(lines[-1]) == truth
    assert (tmp_path / "b" / "results.csv").is_file()


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork")
def test_forked_workers_need_no_guard(tmp_path: Path) -> None:
    """A forked worker does not import the script: a top-level call runs, the body once."""
    done = _run(_script(tmp_path, "fork", guarded=False))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "body MainProcess"
    assert len(done.stdout.splitlines()) == 2  # the body once, then the rows


def test_the_start_method_is_pythons_and_left_unset() -> None:
    """The program's choice, else the platform's default (the first of
    ``get_all_start_methods``, as Python documents); asking fixes nothing, so the
    program may still call ``set_start_method`` afterwards."""
    probe = (
        "import multiprocessing as mp\n"
        "from quarch.benchmark._harness import _start_method\n"
        "print(_start_method(), mp.get_all_start_methods()[0], mp.get_start_method(allow_none=True))\n"
        "mp.set_start_method('spawn')\n"
        "print(_start_method())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    first, then = done.stdout.splitlines()
    default = multiprocessing.get_all_start_methods()[0]
    assert first.split() == [default, default, "None"]
    assert then == "spawn"


def test_the_guard_is_asked_only_for_worker_processes_that_import_the_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In this process (pytest's main module is guarded), with the script's line faked:
    one process (``workers=1``) or forked workers run; spawned ones are refused, and a
    worker still importing the main script is refused whatever the line."""
    import types

    import quarch.study._parallel as parallel
    from quarch._errors import ConfigError
    from quarch.benchmark._harness import _check_main_guard

    monkeypatch.setattr(parallel, "unguarded_call", lambda: "my_script.py:7")
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "spawn")
    args = {"task": "synthetic-qubo", "strategies": ["random"], "seeds": 1, "trials": 2,
            "progress": False}  # fmt: skip
    run_benchmark(**args, workers=1, out=str(tmp_path / "one"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as e:
        run_benchmark(**args, workers=3, out=str(tmp_path / "three"))  # type: ignore[arg-type]
    assert str(e.value) == (
        "workers=3 starts worker processes that import the main script again (Python's "
        "spawn start method), and a benchmark called at its top level would start again in "
        'each; put the call under `if __name__ == "__main__":` (my_script.py:7)'
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one"]
    _check_main_guard(2, "fork")  # a forked worker imports nothing
    monkeypatch.setattr(parallel, "unguarded_call", lambda: None)
    _check_main_guard(2, "forkserver")  # the call is guarded
    importing = types.SimpleNamespace(_inheriting=True)
    monkeypatch.setattr(multiprocessing, "current_process", lambda: importing)
    with pytest.raises(ConfigError, match=r"forkserver start method.*\(this is a worker process"):
        _check_main_guard(2, "forkserver")
    _check_main_guard(2, "fork")


def test_a_strategy_registered_under_the_guard_is_named_in_spawned_workers(
    tmp_path: Path,
) -> None:
    """Spawned workers import the script but do not run its guarded block: a strategy
    registered there was "unknown strategy 'my-random'; choose from: ..." from a worker,
    after the caller had accepted it."""
    (tmp_path / "reg.py").write_text(
        "import multiprocessing\n"
        "import optuna\n"
        "from quarch.benchmark import run_benchmark\n"
        "from quarch.search import STRATEGIES\n"
        'if __name__ == "__main__":\n'
        "    STRATEGIES.add('my-random', lambda *, seed, space, objective: "
        "optuna.samplers.RandomSampler(seed=seed), 'mine')\n"
        "    multiprocessing.set_start_method('spawn')\n"
        "    run_benchmark(task='synthetic-qubo', strategies=['my-random'], seeds=2, trials=2,\n"
        "                  workers=2, out='b', progress=False)\n"
    )
    done = _run(tmp_path / "reg.py")
    line = (
        "strategy 'my-random' is not registered in the worker processes: they import the "
        'main script again, but not what runs under `if __name__ == "__main__":`; register '
        "it at the script's top level or in a module the script imports"
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == f"quarch._errors.ConfigError: {line}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reg.py"]
    from quarch._errors import ConfigError
    from quarch.benchmark._harness import _run_job
    from quarch.search import STRATEGIES

    assert "my-random" not in STRATEGIES  # as in such a worker
    with pytest.raises(ConfigError) as e:
        _run_job(("synthetic-qubo", "my-random", 0, 2, None, ()))
    assert str(e.value) == line


def test_the_start_method_is_asked_without_fixing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """In this process, with Python's answers faked: the program's choice first; without
    one, the first method listed; asked with ``allow_none=True`` (without it Python
    fixes its default, and a later ``set_start_method`` raises)."""
    from quarch.benchmark._harness import _start_method

    asked: list[object] = []

    def get_start_method(allow_none: bool = False) -> str | None:
        asked.append(allow_none)
        return None if allow_none else "fixed"

    monkeypatch.setattr(multiprocessing, "get_start_method", get_start_method)
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["forkserver", "spawn"])
    assert _start_method() == "forkserver"
    assert asked == [True]
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "spawn")
    assert _start_method() == "spawn"


def test_a_script_read_from_standard_input_is_refused_where_workers_import_it(
    tmp_path: Path,
) -> None:
    """``python -`` under ``spawn``: each worker failed to open ``<stdin>`` and the pool
    started another in its place without end (about a thousand tracebacks a minute, the
    benchmark never ending); now one line before anything is written."""
    script = "\n".join([
        "import multiprocessing",
        "from quarch.benchmark import run_benchmark",
        'if __name__ == "__main__":',
        '    multiprocessing.set_start_method("spawn")',
        f"    {_CALL}",
    ]) + "\n"  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-"], input=script, cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "quarch._errors.ConfigError: workers=2 starts worker processes that import the main "
        "script again, and its file '<stdin>' does not exist (a script read from standard "
        "input, `python -`, has none); save the script in a file and run that, or use "
        "workers=1"
    )
    assert "FileNotFoundError" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_the_guard_asks_whether_workers_can_import_the_main_script(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In this process (where mutmut sees it): a main module whose file is ``<stdin>``
    is refused for spawned workers and left alone for forked ones."""
    from quarch._errors import ConfigError
    from quarch.benchmark._harness import _check_main_guard

    main = sys.modules["__main__"]
    monkeypatch.setattr(main, "__spec__", None, raising=False)
    monkeypatch.setattr(main, "__file__", "<stdin>", raising=False)
    monkeypatch.setattr("quarch.study._parallel.unguarded_call", lambda: None)
    _check_main_guard(2, "fork")
    with pytest.raises(ConfigError, match=r"its file '<stdin>' does not exist"):
        _check_main_guard(2, "spawn")
