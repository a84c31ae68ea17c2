"""Which main modules a spawned worker can import again, and what it then cannot be
sent (``quarch.study._parallel._main_unimportable``, ``check_sendable``,
``check_main_guard``), in this process, where mutmut sees them.

The end-to-end cases (a real ``python -c``, ``python -`` and a kernel starting real
workers) are in ``tests/test_notebook_workers_truth.py``; here this process's
``__main__`` is replaced by a module with the attributes a real interpreter gives its
``__main__`` in each way of running Python.

Truth: those attributes (``__file__``, ``__spec__.name``), read from real
interpreters started each way (a script, ``-m``, ``-c``, ``-``), and Python's
multiprocessing docs (spawn "starts a fresh Python interpreter", which imports the
main module again by ``__spec__`` name or file).
"""

from __future__ import annotations

import ast
import importlib.machinery
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from quarch import ConfigError
from quarch.config import SearchConfig
from quarch.study import _parallel as par

_PROBE = (
    "import sys; m = sys.modules['__main__']; "
    "print(repr(getattr(m, '__file__', None))); "
    "print(repr(getattr(getattr(m, '__spec__', None), 'name', None)))"
)


def _real_main(how: str, folder: Path) -> tuple[str | None, str | None]:
    """``(__file__, __spec__.name)`` of ``__main__`` in a real interpreter run ``how``."""
    script = folder / "probe_main.py"
    script.write_text(_PROBE + "\n")
    args = {"script": [str(script)], "-m": ["-m", "probe_main"], "-c": ["-c", _PROBE],
            "-": ["-"]}[how]  # fmt: skip
    done = subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True,
                          input=_PROBE if how == "-" else None, timeout=60, check=True)  # fmt: skip
    file, name = (ast.literal_eval(line) for line in done.stdout.splitlines())
    return file, name


def _as_main(monkeypatch: pytest.MonkeyPatch, file: str | None, name: str | None) -> Any:
    """This process's ``__main__`` replaced by a module with ``file`` and ``name``."""
    main = types.ModuleType("__main__")
    if file is not None:
        main.__file__ = file
    main.__spec__ = None if name is None else importlib.machinery.ModuleSpec(name, None)  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", main)
    return main


@pytest.mark.parametrize(
    ("how", "want"), [("script", None), ("-m", None), ("-c", "session"), ("-", "<stdin>")]
)
def test_what_a_worker_cannot_import_again_in_each_way_of_running(
    how: str, want: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file, name = _real_main(how, tmp_path)
    _as_main(monkeypatch, file, name)
    assert par._main_unimportable() == want


def test_a_main_script_deleted_since_it_started_cannot_be_imported_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    file, name = _real_main("script", tmp_path)
    assert file is not None
    Path(file).unlink()
    _as_main(monkeypatch, file, name)
    assert par._main_unimportable() == file
    # run by module name, the file is not what the worker imports
    _as_main(monkeypatch, file, "probe_main")
    assert par._main_unimportable() is None


def test_no_main_module_is_nothing_to_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "__main__")
    assert par._main_unimportable() is None


def test_a_script_from_standard_input_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _as_main(monkeypatch, *_real_main("-", tmp_path))
    with pytest.raises(ConfigError) as info:
        par.check_main_guard(3)
    assert str(info.value) == (
        "workers=3 starts worker processes that import the main script again, and its "
        "file '<stdin>' does not exist (a script read from standard input, `python -`, "
        "has none); save the script in a file and run that, or use workers=1"
    )


def _main_with_class(monkeypatch: pytest.MonkeyPatch, file: str | None) -> type:
    """A session (no file) or script ``__main__`` defining a class ``SessionThing``
    (pickle finds it there by name)."""
    main = _as_main(monkeypatch, file, None)
    cls = type("SessionThing", (), {"__module__": "__main__", "__qualname__": "SessionThing"})
    main.SessionThing = cls
    return cls


@pytest.mark.parametrize("what", ["space", "evaluator"])
def test_an_object_of_a_session_class_is_refused_naming_the_class(
    what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cls = _main_with_class(monkeypatch, None)
    with pytest.raises(ConfigError) as info:
        par.check_main_guard(2, **{what: cls()})
    assert str(info.value) == (
        "workers=2 starts worker processes, and they cannot see SessionThing: defined in "
        "this notebook or interactive session (its __main__), which a worker process "
        "cannot import; move it into a module (a .py file beside the notebook), import it "
        "from there (register_space in that module), or use workers=1"
    )


def test_a_space_and_evaluator_of_one_session_class_name_it_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cls = _main_with_class(monkeypatch, None)
    other = type("Other", (), {"__module__": "__main__", "__qualname__": "Other"})
    setattr(sys.modules["__main__"], "Other", other)  # noqa: B010 (a module of no type)
    with pytest.raises(ConfigError, match=r"cannot see SessionThing, Other: defined"):
        par.check_main_guard(2, space=cls(), evaluator=[other(), cls()])  # type: ignore[arg-type]


def test_a_registered_spec_of_the_session_is_refused_by_its_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The config names a space whose spec class is the session's (the worker looks it
    up by name, in a table only an import fills)."""
    from quarch.spaces import get_spec

    _as_main(monkeypatch, None, None)
    spec_class = type(get_spec("mlp"))
    monkeypatch.setattr(spec_class, "__module__", "__main__")
    with pytest.raises(ConfigError, match=rf"cannot see {spec_class.__qualname__}: defined"):
        par.check_main_guard(2, config=SearchConfig(space="mlp"))


def test_the_same_objects_from_a_main_script_with_a_file_are_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker imports a script again: its classes and registrations are its own."""
    from quarch.spaces import get_spec

    file, _ = _real_main("script", tmp_path)
    cls = _main_with_class(monkeypatch, file)
    monkeypatch.setattr(type(get_spec("mlp")), "__module__", "__main__")
    par.check_main_guard(2, config=SearchConfig(space="mlp"), space=cls(), evaluator=cls())  # type: ignore[arg-type]


def test_a_session_sending_only_quarchs_own_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    from quarch.testing.evaluators import ArithmeticEvaluator

    _as_main(monkeypatch, None, None)
    par.check_main_guard(2, config=SearchConfig(space="mlp"), evaluator=ArithmeticEvaluator())


def test_a_benchmark_from_standard_input_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The benchmark's pool, spawned, asks the same (``_harness._check_main_guard``):
    its workers each failed to open ``<stdin>``, and the pool started others without
    end."""
    from quarch.benchmark import _harness

    _as_main(monkeypatch, *_real_main("-", tmp_path))
    with pytest.raises(ConfigError) as info:
        _harness._check_main_guard(5, "spawn")
    assert str(info.value).startswith(
        "workers=5 starts worker processes that import the main script again, and its "
        "file '<stdin>' does not exist"
    )
    _harness._check_main_guard(5, "fork")  # a forked worker imports nothing again


def _session_search(tmp_path: Path, **kw: Any) -> None:
    from quarch.study import run_search

    config = SearchConfig(space="mlp", dataset="iris", trials=2, workers=2,
                          out=str(tmp_path / "run"), objectives=["val_error", "params"])  # fmt: skip
    run_search(config, progress=False, **kw)


@pytest.mark.parametrize("what", ["space", "evaluator"])
def test_a_search_from_a_session_refuses_its_session_objects_before_writing(
    what: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_search`` asks with the space and evaluator the caller gave (a space of the
    session's class would not be seen by a worker), before any run folder exists."""
    from quarch.space import Choice, Space
    from quarch.testing.evaluators import ArithmeticEvaluator

    main = _as_main(monkeypatch, None, None)
    given: dict[str, Any] = {"evaluator": ArithmeticEvaluator()}
    if what == "space":
        cls = type("SessionSpace", (Space,), {"__module__": "__main__",
                                              "__qualname__": "SessionSpace"})  # fmt: skip
        main.SessionSpace = cls
        given["space"] = cls([Choice("n_layers", [1, 2]), Choice("width_0", [4, 8])],
                             name="mlp")  # fmt: skip
    else:
        cls = type("SessionEv", (ArithmeticEvaluator,), {"__module__": "__main__",
                                                         "__qualname__": "SessionEv"})  # fmt: skip
        main.SessionEv = cls
        given["evaluator"] = cls()
    with pytest.raises(ConfigError, match=rf"^workers=2 starts worker processes, and they "
                                          rf"cannot see {cls.__qualname__}: defined"):  # fmt: skip
        _session_search(tmp_path, **given)
    assert not (tmp_path / "run").exists()


def test_a_search_from_a_session_refuses_a_space_registered_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from quarch.spaces import get_spec
    from quarch.testing.evaluators import ArithmeticEvaluator

    _as_main(monkeypatch, None, None)
    spec_class = type(get_spec("mlp"))
    monkeypatch.setattr(spec_class, "__module__", "__main__")
    with pytest.raises(ConfigError, match=rf"^workers=2 .* cannot see {spec_class.__qualname__}:"):
        _session_search(tmp_path, evaluator=ArithmeticEvaluator())
    assert not (tmp_path / "run").exists()
